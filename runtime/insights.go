package mp

import (
	"fmt"
	"github.com/mpgen/mpgen/runtime/internal/proc"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// PoolInsights is where a pool's time went (like mpire's insights): a row
// per worker and the pool's totals. Pool.Insights returns it. The figures
// are kept always: they cost a clock read per write to a worker and one per
// outcome, beside the reads the pool takes anyway, and no system call.
type PoolInsights struct {
	Uptime time.Duration // since NewPool returned
	// Workers are the live workers and the last ended ones (at most
	// keptEnded of those), in the order they started.
	Workers []WorkerInsights
	// Total sums every worker the pool has had, live or ended, including
	// ended ones no longer in Workers: its durations are worker-time.
	Total WorkerInsights
	// Ended counts the workers that ended, by cause.
	Ended map[EndCause]int
	// Restarts counts the workers that ended unasked or were recycled,
	// each replaced by a new one: the causes crash, timeout, max tasks,
	// max rss and protocol error.
	Restarts int
	// FailedStarts counts the workers that failed to start after NewPool
	// (a replacement, or a worker started as work arrived).
	FailedStarts int
	Queued       int // calls and chunks no worker has taken yet
}

// WorkerInsights is one worker's figures. Starting, Idle, Working and
// Sending divide its Lifetime between them, as the pool sees the worker:
// starting until it is ready for calls (its initializer included; without
// one, a worker is ready once spawned, and its boot shows in the working
// time of its first call), then
// sending while the pool writes calls to it, working while it holds calls
// sent and not yet answered, and idle while it holds none (a retired
// worker's exit included). Their sum is Lifetime exactly: each change of
// state ends one interval at the clock reading that begins the next.
type WorkerInsights struct {
	Name    string    // the process name, PoolWorker-N
	Pid     int       // 0 for a remote pool's worker
	Started time.Time // when its start began
	Tasks   int       // calls and Map chunks it answered
	Items   int       // the items of those: 1 per call, a chunk's items

	Starting time.Duration
	Idle     time.Duration
	Working  time.Duration
	Sending  time.Duration
	Lifetime time.Duration // from Started until it ended, or until now
	// Receiving is the time the pool's reader spent taking in the
	// worker's outcomes (reading and decoding them): it overlaps the
	// other states, as the worker runs its next call meanwhile.
	Receiving time.Duration

	End  EndCause // why it ended; "" while it lives
	Exit string   // how its process ended ("exit code 2", "signal SIGKILL"), once it has
}

// EndCause is why a pool worker ended.
type EndCause string

// The causes of a worker's end.
const (
	EndCrash      EndCause = "crash"          // it died unasked: a crash, a signal, os.Exit in a target
	EndLimit      EndCause = "limit"          // the kernel ended it for a limit of its Sandbox
	EndTimeout    EndCause = "timeout"        // killed because a call ran past its deadline
	EndMaxTasks   EndCause = "max tasks"      // recycled by MaxTasksPerChild
	EndMaxRSS     EndCause = "max rss"        // recycled by MaxRSS
	EndProtocol   EndCause = "protocol error" // killed because it broke the protocol
	EndIdle       EndCause = "idle"           // retired by IdleTimeout
	EndClosed     EndCause = "closed"         // retired by Close or Shutdown
	EndTerminated EndCause = "terminated"     // killed by Terminate
)

// restarts reports whether a worker that ended of c is replaced: it ended
// unasked or was recycled.
func (c EndCause) restarts() bool {
	switch c {
	case EndCrash, EndLimit, EndTimeout, EndMaxTasks, EndMaxRSS, EndProtocol:
		return true
	}
	return false
}

// keptEnded is how many ended workers' rows a pool keeps for Insights;
// the totals count every one.
const keptEnded = 64

// Insights returns where the pool's time went until now, per worker and in
// total.
func (p *Pool) Insights() PoolInsights {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	in := PoolInsights{
		Uptime:       now.Sub(p.ins.born),
		Workers:      slices.Clone(p.ins.ended),
		Total:        p.ins.endedTotal,
		Ended:        map[EndCause]int{},
		Restarts:     p.ins.restarts,
		FailedStarts: p.ins.failedStarts,
		Queued:       len(p.queue),
	}
	for c, n := range p.ins.ends {
		in.Ended[c] = n
	}
	for _, w := range p.workers {
		r := w.clock.row(now)
		in.Workers = append(in.Workers, r)
		in.Total.add(r)
	}
	slices.SortStableFunc(in.Workers, func(a, b WorkerInsights) int { return a.Started.Compare(b.Started) })
	in.Total.Name = "total"
	return in
}

func (r *WorkerInsights) add(o WorkerInsights) {
	r.Tasks += o.Tasks
	r.Items += o.Items
	r.Starting += o.Starting
	r.Idle += o.Idle
	r.Working += o.Working
	r.Sending += o.Sending
	r.Lifetime += o.Lifetime
	r.Receiving += o.Receiving
}

// String prints the figures as a table, a row per worker and one of
// totals, with each worker's share of its lifetime spent working.
func (in PoolInsights) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pool up %v: %d tasks (%d items), %d queued; %d restarts", round(in.Uptime), in.Total.Tasks, in.Total.Items, in.Queued, in.Restarts)
	if len(in.Ended) > 0 {
		causes := make([]string, 0, len(in.Ended))
		for c, n := range in.Ended {
			causes = append(causes, fmt.Sprintf("%s %d", c, n))
		}
		slices.Sort(causes)
		fmt.Fprintf(&b, "; ended: %s", strings.Join(causes, ", "))
	}
	if in.FailedStarts > 0 {
		fmt.Fprintf(&b, "; %d failed starts", in.FailedStarts)
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "worker\tpid\ttasks\titems\tstarting\tidle\tworking\tsending\treceiving\tlifetime\tworking%\tend\t")
	for _, r := range append(slices.Clone(in.Workers), in.Total) {
		pid, end := strconv.Itoa(r.Pid), string(r.End)
		if r.Pid == 0 {
			pid = "-"
		}
		if r.Name == "total" {
			pid = ""
		}
		if r.Exit != "" {
			end += " (" + r.Exit + ")"
		}
		share := 0.0
		if r.Lifetime > 0 {
			share = 100 * float64(r.Working) / float64(r.Lifetime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%v\t%v\t%v\t%v\t%v\t%v\t%.1f\t%s\t\n", r.Name, pid, r.Tasks, r.Items,
			round(r.Starting), round(r.Idle), round(r.Working), round(r.Sending), round(r.Receiving), round(r.Lifetime), share, end)
	}
	tw.Flush()
	return b.String()
}

// round shortens a duration for the table: three significant digits.
func round(d time.Duration) time.Duration {
	for unit := time.Duration(1); unit < time.Hour; unit *= 10 {
		if d < 1000*unit {
			return d.Round(unit)
		}
	}
	return d.Round(time.Second)
}

// poolInsights is a pool's record of its ended workers. p.mu guards it.
type poolInsights struct {
	born         time.Time
	ended        []WorkerInsights // the last keptEnded
	endedTotal   WorkerInsights
	ends         map[EndCause]int
	restarts     int
	failedStarts int
}

// workerEnded records w's final figures; p.mu must be held.
func (p *Pool) workerEnded(w *poolWorker) {
	r := w.clock.row(time.Time{})
	in := &p.ins
	if len(in.ended) == keptEnded {
		in.ended = slices.Delete(in.ended, 0, 1)
	}
	in.ended = append(in.ended, r)
	in.endedTotal.add(r)
	if in.ends == nil {
		in.ends = map[EndCause]int{}
	}
	in.ends[r.End]++
	if r.End.restarts() {
		in.restarts++
	}
}

// workerState is what a worker is doing, as the pool sees it.
type workerState int

const (
	stateStarting workerState = iota
	stateIdle
	stateWorking
	stateSending
	nStates
)

// workerClock divides a worker's lifetime between the states it passes
// through, from clock readings its callers take. Its lock is taken last:
// none of its methods calls out.
type workerClock struct {
	mu    sync.Mutex
	r     WorkerInsights // the figures but the state durations
	state workerState
	since time.Time // when the state began
	spent [nStates]time.Duration
	held  int  // calls sent and not yet answered
	ended bool // r and spent are final
	asked EndCause
}

// started records that the worker's start began at born and ended, ready,
// at ready.
func (c *workerClock) started(name string, pid int, born, ready time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.r.Name, c.r.Pid, c.r.Started = name, pid, born
	c.state, c.since = stateStarting, born
	c.enterLocked(stateIdle, ready)
}

// enterLocked ends the current state at now and begins s. A reading taken
// before the current state began (by another goroutine, which got the lock
// later) counts as the moment it began, so that the states stay a
// partition of the lifetime.
func (c *workerClock) enterLocked(s workerState, now time.Time) {
	if c.ended {
		return
	}
	if now.Before(c.since) {
		now = c.since
	}
	c.spent[c.state] += now.Sub(c.since)
	c.state, c.since = s, now
}

// sending records that n calls began to be written to the worker at now.
func (c *workerClock) sending(n int, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.held += n
	c.enterLocked(stateSending, now)
}

// sent records that the write ended at now.
func (c *workerClock) sent(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.enterLocked(c.holding(), now)
}

// holding is the state of a worker that is not being written to.
func (c *workerClock) holding() workerState {
	if c.held > 0 {
		return stateWorking
	}
	return stateIdle
}

// answered records an outcome, which arrived at at, of a call of items
// items; a call that was given up (refused, or failed by a transport) has
// answered false and counts as no task.
func (c *workerClock) answered(items int, answered bool, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.held--
	if answered {
		c.r.Tasks++
		c.r.Items += items
	}
	if c.state != stateSending {
		c.enterLocked(c.holding(), at)
	}
}

// received records that an outcome that arrived at at was taken in by
// done.
func (c *workerClock) received(at, done time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.r.Receiving += done.Sub(at)
}

// ask records why the pool retires the worker, the first reason given.
func (c *workerClock) ask(cause EndCause) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.asked == "" {
		c.asked = cause
	}
}

// end records that the worker ended at now: of cause, unless cause is ""
// (it ended as the pool asked, or unasked with a clean exit).
func (c *workerClock) end(now time.Time, cause EndCause, code int, sig string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.enterLocked(c.state, now)
	switch {
	case cause != "":
	case c.asked != "":
		cause = c.asked
	default:
		cause = EndCrash
	}
	c.r.End, c.r.Exit = cause, "exit code "+strconv.Itoa(code)
	if sig != "" {
		c.r.Exit = "signal " + sig
	}
	c.ended = true
}

// row returns the figures until now; a zero now is the worker's end (or
// its last change of state).
func (c *workerClock) row(now time.Time) WorkerInsights {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, spent := c.r, c.spent
	end := c.since
	if !c.ended && !now.IsZero() && now.After(c.since) {
		spent[c.state] += now.Sub(c.since)
		end = now
	}
	r.Starting, r.Idle, r.Working, r.Sending = spent[stateStarting], spent[stateIdle], spent[stateWorking], spent[stateSending]
	r.Lifetime = end.Sub(r.Started)
	return r
}

// endCause is why w ended, when the pool's own doing says so: Terminate,
// a protocol error or a timeout killed it, or it died with an unclean exit
// (whatever the pool had asked). It is "" otherwise.
func (w *poolWorker) endCause(death proc.Death, protoErr error, timedOut bool) EndCause {
	code, sig := death.Code, death.Signal
	select {
	case <-w.pool.quit:
		return EndTerminated
	default:
	}
	switch {
	case protoErr != nil:
		return EndProtocol
	case timedOut:
		return EndTimeout
	case limitFault(w.pool.sandbox, death) != nil:
		return EndLimit
	case code != 0 || sig != "":
		return EndCrash
	}
	return ""
}
