package mp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mpgen/mpgen/runtime/internal/fdio"
	"github.com/mpgen/mpgen/runtime/internal/proc"
	"github.com/mpgen/mpgen/runtime/internal/registry"
	"github.com/mpgen/mpgen/runtime/internal/sandbox"
	"github.com/mpgen/mpgen/runtime/internal/wire"
	"github.com/mpgen/mpgen/runtime/internal/worker"
)

// Pool is a set of warm worker processes that run many calls of any
// registered target (Python's multiprocessing.Pool). Each worker is a child
// serving calls over its control channel, one at a time. A worker that
// crashes fails exactly the call it was running, with an *ExitError, and is
// replaced; calls queued behind it go to other workers. A Pool is safe for
// concurrent use.
type Pool struct {
	cfg  poolConfig
	quit chan struct{} // closed by Terminate

	mu       sync.Mutex
	queue    []*task // calls no worker has taken yet, oldest first
	workers  []*poolWorker
	closed   bool
	ended    chan struct{} // closed when the last worker exits after Close/Terminate
	spawnErr error

	initCall      wire.Payload // the encoded initializer call, if any
	initFiles     []*os.File   // its handles' descriptors, sent to every worker
	ids           atomic.Uint64
	wseq          atomic.Int64
	pendingStarts atomic.Int64  // workers being started in the background
	sandbox       *sandbox.Spec // what confines every worker, or nil
	ins           poolInsights  // under mu
}

type poolConfig struct {
	workers  int
	init     any
	initArgs []any
	maxTasks int
	idle     time.Duration
	maxRSS   int64
	codec    Codec
	stdout   io.Writer
	stderr   io.Writer
	prefix   OutputPrefix
	start    workerStarter // how a worker starts: startLocal, or a test's
	// remote is the transport of a pool whose workers are not its
	// children (see worker.Transport), or nil.
	remote  *worker.Transport
	sandbox *Sandbox
	set     map[string]bool // the options given, by name
}

func init() {
	worker.RemotePool = func(t worker.Transport) any {
		return PoolOption(func(c *poolConfig) { c.remote = &t })
	}
}

// localOnly are the options of local worker processes, which a remote
// pool refuses: its workers are configured where they run.
var localOnly = []string{"Workers", "Initializer", "MaxTasksPerChild", "IdleTimeout", "MaxRSS", "PoolOutput", "PoolOutputPrefix", "PoolSandbox"}

func (c *poolConfig) mark(name string) {
	if c.set == nil {
		c.set = map[string]bool{}
	}
	c.set[name] = true
}

// PoolOption configures NewPool.
type PoolOption func(*poolConfig)

// Workers sets the number of worker processes (default: the CPUs this
// process may use, runtime.GOMAXPROCS(0), which honours cgroup limits).
func Workers(n int) PoolOption {
	return func(c *poolConfig) { c.workers = n; c.mark("Workers") }
}

// Initializer runs target with args once in each worker when it starts
// (Python's initializer/initargs). A worker whose initializer fails is not
// used; NewPool returns the error.
func Initializer(target any, args ...any) PoolOption {
	return func(c *poolConfig) { c.init, c.initArgs = target, args; c.mark("Initializer") }
}

// MaxTasksPerChild replaces a worker after it has served n calls or
// chunks (Python's maxtasksperchild). 0 means never; below 0 NewPool
// returns an error.
func MaxTasksPerChild(n int) PoolOption {
	return func(c *poolConfig) { c.maxTasks = n; c.mark("MaxTasksPerChild") }
}

// IdleTimeout stops a worker that has had nothing to do for d; the pool
// starts workers again when work arrives. 0 means never.
func IdleTimeout(d time.Duration) PoolOption {
	return func(c *poolConfig) { c.idle = d; c.mark("IdleTimeout") }
}

// MaxRSS replaces a worker, after the call it is running, once its resident
// memory exceeds bytes (Linux; ignored elsewhere). 0 means no limit.
func MaxRSS(bytes int64) PoolOption {
	return func(c *poolConfig) { c.maxRSS = bytes; c.mark("MaxRSS") }
}

// PoolCodec sets the codec of the pool's calls (default Gob).
func PoolCodec(codec Codec) PoolOption { return func(c *poolConfig) { c.codec = codec } }

// PoolOutput redirects the workers' stdout and stderr (default: inherited).
func PoolOutput(stdout, stderr io.Writer) PoolOption {
	return func(c *poolConfig) { c.stdout, c.stderr = stdout, stderr; c.mark("PoolOutput") }
}

// NewPool starts the workers and returns once they are started; calls
// submitted before a worker has initialised wait for it. With an
// Initializer, NewPool returns only after every worker's initializer has
// run, and returns its error if one fails. ctx bounds the start only: once
// it is done, NewPool stops the workers it started and returns at once, with
// a *TimeoutError when ctx's deadline passed and ctx.Err() when it was
// cancelled.
func NewPool(ctx context.Context, opts ...PoolOption) (*Pool, error) {
	cfg := poolConfig{workers: runtime.GOMAXPROCS(0), codec: gobCodec{}, start: startLocal}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.remote != nil {
		return newRemotePool(ctx, cfg)
	}
	if cfg.workers < 1 {
		return nil, fmt.Errorf("mp: NewPool: Workers(%d): need at least one worker", cfg.workers)
	}
	if cfg.maxTasks < 0 {
		return nil, fmt.Errorf("mp: NewPool: MaxTasksPerChild(%d): need 0 (never) or more", cfg.maxTasks)
	}
	if !guardInstalled.Load() {
		return nil, ErrNoGuard
	}
	if CurrentProcess().Daemon {
		return nil, ErrDaemonChildren
	}
	sp, err := cfg.sandbox.spec()
	if err != nil {
		return nil, fmt.Errorf("mp: NewPool: %w", err)
	}
	p := &Pool{
		cfg:     cfg,
		quit:    make(chan struct{}),
		ended:   make(chan struct{}),
		sandbox: sp,
		ins:     poolInsights{born: time.Now()},
	}
	var initCall wire.Payload
	if cfg.init != nil {
		spec, err := resolve(cfg.init)
		if err != nil {
			return nil, fmt.Errorf("mp: Initializer: %w", err)
		}
		vals, err := bind(spec, cfg.init, cfg.initArgs, nil)
		if err != nil {
			return nil, err
		}
		args, err := encodeArgs(spec, cfg.codec, vals, nil)
		if err != nil {
			return nil, err
		}
		initCall = (&wire.Call{Target: spec.Name, Codec: cfg.codec.Name(), Args: args}).Payload()
		p.initFiles = argFiles(args)
	}
	p.initCall = initCall
	type started struct {
		w   *poolWorker
		err error
	}
	start := startOf(ctx)
	ch := make(chan started, cfg.workers)
	for i := 0; i < cfg.workers; i++ {
		go func() {
			w, err := p.startWorker(ctx)
			ch <- started{w, err}
		}()
	}
	var errs []error
	for i := 0; i < cfg.workers; i++ {
		s := <-ch
		if s.err != nil {
			errs = append(errs, s.err)
			continue
		}
		p.addWorker(s.w, false)
	}
	if len(errs) > 0 {
		p.Terminate()
		_ = p.Join()
		if ctx.Err() != nil { // the start was given up: say so as every XContext does
			return nil, fmt.Errorf("mp: NewPool: %w", giveUp(ctx, "NewPool", start))
		}
		return nil, fmt.Errorf("mp: NewPool: %w", errors.Join(errs...))
	}
	return p, nil
}

// newRemotePool makes a pool whose workers are a transport's (see
// worker.Transport): it starts no process, so it needs no main guard, and
// it refuses the options of local workers, which are set where the workers
// run. It starts one Conn, so that a transport that cannot serve fails
// here; the others start as work arrives.
func newRemotePool(ctx context.Context, cfg poolConfig) (*Pool, error) {
	for _, name := range localOnly {
		if cfg.set[name] {
			return nil, fmt.Errorf("mp: NewPool: %s is an option of local worker processes; the workers of a %s pool are configured where they run", name, cfg.remote.Name)
		}
	}
	t := cfg.remote
	cfg.start = func(ctx context.Context, _ workerStart) (worker.Conn, error) { return t.Start(ctx) }
	p := &Pool{cfg: cfg, quit: make(chan struct{}), ended: make(chan struct{}), ins: poolInsights{born: time.Now()}}
	w, err := p.startWorker(ctx)
	if err != nil {
		return nil, fmt.Errorf("mp: NewPool: %w", err)
	}
	p.addWorker(w, false)
	return p, nil
}

// size is how many workers the pool keeps: Workers, or the slots of a
// remote pool's transport now.
func (p *Pool) size() int {
	if p.cfg.remote != nil {
		return max(1, p.cfg.remote.Slots())
	}
	return p.cfg.workers
}

// Size returns the number of live workers; for a pool of remote workers,
// the calls they run at once.
func (p *Pool) Size() int {
	if p.cfg.remote != nil {
		return p.size()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.workers)
}

// Pids returns the process ids of the live workers.
func (p *Pool) Pids() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	pids := make([]int, 0, len(p.workers))
	for _, w := range p.workers {
		if pid := w.conn.Pid(); pid > 0 { // a remote pool's have none
			pids = append(pids, pid)
		}
	}
	return pids
}

// Close stops the pool from taking new work (Python's close()); queued and
// running calls complete, then the workers exit. Join waits for that.
func (p *Pool) Close() { p.close(false) }

// close closes the pool; with cancelQueued, the calls no worker has taken
// yet fail with context.Canceled.
func (p *Pool) close(cancelQueued bool) {
	p.mu.Lock()
	p.closed = true
	var dropped []*task
	if cancelQueued {
		dropped = p.takeQueue()
	}
	idle := p.retireIdleLocked()
	p.checkEnded()
	p.mu.Unlock()
	for _, t := range dropped {
		t.finish(nil, context.Canceled)
	}
	for _, w := range idle {
		w.closeWrite()
	}
}

// retireIdleLocked marks the workers with nothing to do as retiring once
// the pool is closed and nothing is queued, and returns them: the caller
// closes their channels. p.mu must be held.
func (p *Pool) retireIdleLocked() []*poolWorker {
	if !p.closed || len(p.queue) > 0 {
		return nil
	}
	var idle []*poolWorker
	for _, w := range p.workers {
		if w.busy == 0 && !w.retiring && !w.gone {
			w.retiring = true
			w.clock.ask(EndClosed)
			idle = append(idle, w)
		}
	}
	return idle
}

// takeQueue empties the queue and returns what it held. p.mu must be held.
func (p *Pool) takeQueue() []*task {
	q := p.queue
	p.queue = nil
	return q
}

// Terminate stops every worker now (Python's terminate()); calls still
// pending fail with ErrPoolTerminated.
func (p *Pool) Terminate() {
	p.mu.Lock()
	p.closed = true
	select {
	case <-p.quit:
	default:
		close(p.quit)
	}
	ws := slices.Clone(p.workers)
	queued := p.takeQueue()
	p.checkEnded()
	p.mu.Unlock()
	for _, t := range queued { // fail what was never sent
		t.finish(nil, ErrPoolTerminated)
	}
	for _, w := range ws {
		w.kill()
	}
}

// Join waits until every worker has exited (Python's join); call Close,
// Shutdown or Terminate first.
func (p *Pool) Join() error { return p.JoinContext(context.Background()) }

// JoinTimeout is Join that gives up after d with a *TimeoutError.
func (p *Pool) JoinTimeout(d time.Duration) error {
	ctx, cancel := timeoutCtx(d)
	defer cancel()
	return within(d, p.JoinContext(ctx))
}

// JoinContext is Join that gives up when ctx is done: with a *TimeoutError
// once its deadline passed, else with ctx.Err().
func (p *Pool) JoinContext(ctx context.Context) error {
	start := startOf(ctx)
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if !closed {
		return errors.New("mp: Pool.Join before Close or Terminate")
	}
	if !ended(ctx, p.ended) {
		return giveUp(ctx, "Pool.Join", start)
	}
	return nil
}

// checkEnded closes p.ended once the pool is closed and has no workers.
// p.mu must be held.
func (p *Pool) checkEnded() {
	if p.closed && len(p.workers) == 0 && p.starting() == 0 {
		select {
		case <-p.ended:
		default:
			closeFiles(p.initFiles) // no worker will start again
			p.initFiles = nil
			close(p.ended)
		}
	}
}

// submit hands t to a worker with a free slot, writing its frame from the
// caller's goroutine, or queues it when every slot is taken; it fails t
// when the pool is closed.
func (p *Pool) submit(t *task) {
	t.watch()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		t.finish(nil, ErrPoolClosed)
		return
	}
	p.ensureWorkers()
	p.queue = append(p.queue, t)
	sends := p.dispatchLocked(nil)
	// A replacement that failed before the call was queued drained an
	// empty queue: whichever of this check and replace's runs last sees it.
	stranded := len(p.workers) == 0 && p.starting() == 0 && p.spawnErr != nil
	err := p.spawnErr
	p.mu.Unlock()
	p.runSends(sends, false)
	if stranded {
		p.drainWith(fmt.Errorf("mp: pool cannot start a worker: %w", err))
	}
}

// assignment is a queued task given to a worker, to be sent once p.mu is
// released.
type assignment struct {
	w *poolWorker
	t *task
}

// dispatchLocked gives queued tasks, oldest first, to the workers with a
// free slot, and returns them for runSends. p.mu must be held.
func (p *Pool) dispatchLocked(sends []assignment) []assignment {
	select {
	case <-p.quit:
		return sends
	default:
	}
	n := 0
	for n < len(p.queue) {
		t := p.queue[n]
		if t.finished() { // cancelled while queued
			p.queue[n] = nil
			n++
			continue
		}
		w := p.freeWorkerLocked(t)
		if w == nil {
			break
		}
		w.take(t)
		p.queue[n] = nil
		n++
		sends = append(sends, assignment{w, t})
	}
	if n == len(p.queue) {
		p.queue = p.queue[:0]
	} else if n > 0 {
		p.queue = p.queue[n:]
	}
	return sends
}

// freeWorkerLocked returns the least busy worker that can take a task, or
// nil. p.mu must be held.
func (p *Pool) freeWorkerLocked(t *task) *poolWorker {
	var best *poolWorker
	for _, w := range p.workers {
		if w.gone || w.retiring || w.busy >= w.limit(t) || (p.cfg.maxTasks > 0 && w.assigned >= p.cfg.maxTasks) {
			continue
		}
		if best == nil || w.busy < best.busy {
			best = w
			if w.busy == 0 {
				break
			}
		}
	}
	return best
}

// runSends sends assigned tasks. The reader of a worker's outcomes sends
// small frames itself; it hands a large one to a goroutine, so that it
// never blocks writing to a worker that is blocked writing to it.
func (p *Pool) runSends(sends []assignment, fromReader bool) {
	for len(sends) > 0 {
		w, n, size := sends[0].w, 1, sends[0].t.body.Size()
		for n < len(sends) && sends[n].w == w {
			size += sends[n].t.body.Size()
			n++
		}
		ts := make([]*task, n)
		for i := range ts {
			ts[i] = sends[i].t
		}
		sends = sends[n:]
		if !fromReader {
			w.start(ts...)
			continue
		}
		// A reader never waits to write: another goroutine may be
		// writing to the same worker, blocked until that worker reads,
		// and the worker may be blocked writing outcomes that only this
		// reader reads.
		if size > inlineSendMax || !w.wmu.TryLock() {
			go w.start(ts...)
			continue
		}
		w.startLocked(ts...)
	}
}

// inlineSendMax is the largest call frame a worker's reader writes itself.
const inlineSendMax = 16 << 10

// ensureWorkers starts workers up to the configured number (after idle
// retirements or crashes). p.mu must be held.
func (p *Pool) ensureWorkers() {
	for n := len(p.workers) + p.starting(); n < p.size(); n++ {
		p.pendingStarts.Add(1)
		go p.replace()
	}
}

func (p *Pool) starting() int { return int(p.pendingStarts.Load()) }

// addWorker puts a started worker to work. started says that ensureWorkers
// counted it as starting (see replace).
func (p *Pool) addWorker(w *poolWorker, started bool) {
	p.mu.Lock()
	if started {
		// It stops counting as starting as it starts counting as a
		// worker, under one lock: in between, ensureWorkers would start
		// one worker too many (a remote pool would exceed its Slots).
		p.pendingStarts.Add(-1)
		p.spawnErr = nil
	}
	p.workers = append(p.workers, w)
	sends := p.dispatchLocked(nil)
	idle := p.retireIdleLocked()
	if len(sends) == 0 && len(idle) == 0 {
		w.idleLocked()
	}
	p.mu.Unlock()
	for _, w := range idle {
		w.closeWrite()
	}
	p.runSends(sends, false)
}

// replace starts one worker in the background.
func (p *Pool) replace() {
	w, err := p.startWorker(context.Background())
	if err != nil {
		p.mu.Lock()
		p.pendingStarts.Add(-1)
		p.spawnErr = err
		p.ins.failedStarts++
		if len(p.workers) == 0 && p.starting() == 0 {
			// Nobody will serve the queue: fail what waits in it.
			go p.drainWith(fmt.Errorf("mp: pool cannot start a worker: %w", err))
		}
		p.checkEnded()
		p.mu.Unlock()
		return
	}
	p.addWorker(w, true) // after Close, it serves what is queued and retires
}

func (p *Pool) drainWith(err error) {
	p.mu.Lock()
	q := p.takeQueue()
	p.mu.Unlock()
	for _, t := range q {
		t.finish(nil, err)
	}
}

// removeWorker forgets w and replaces it unless the pool is closing (or
// closed with calls still queued).
func (p *Pool) removeWorker(w *poolWorker, replace bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w.gone = true
	if i := slices.Index(p.workers, w); i >= 0 {
		p.workers = slices.Delete(p.workers, i, i+1)
		p.workerEnded(w)
	}
	if replace && (!p.closed || len(p.queue) > 0) {
		p.ensureWorkers()
	}
	p.checkEnded()
}

// startWorker starts a worker, with the pool's initializer, and returns it
// ready for calls.
func (p *Pool) startWorker(ctx context.Context) (*poolWorker, error) {
	n := p.wseq.Add(1)
	name := fmt.Sprintf("PoolWorker-%d", n)
	born := time.Now()
	conn, err := p.cfg.start(ctx, workerStart{
		name:      name,
		init:      p.initCall,
		initFiles: p.initFiles,
		codec:     p.cfg.codec,
		stdout:    p.cfg.stdout,
		stderr:    p.cfg.stderr,
		sandbox:   p.sandbox,
		prefix:    p.cfg.prefix,
	})
	if err != nil {
		return nil, err
	}
	w := &poolWorker{pool: p, conn: conn, pending: map[uint64]*task{}, dead: make(chan struct{})}
	w.clock.started(name, conn.Pid(), born, time.Now())
	w.slots = 4
	if p.cfg.remote != nil {
		w.slots = 1 // a Conn is one slot of the remote workers
	}
	go w.read()
	return w, nil
}

// task is one call or chunk sent to a worker.
type task struct {
	spec  *registry.Spec
	codec Codec
	kind  wire.Kind // wire.KindCall or wire.KindBatch
	body  wire.Payload
	n     int // items in a batch
	ctx   context.Context

	once   sync.Once
	done   chan struct{}
	result any // a call's result, or a batch's *batchOutcome
	err    error
	stop   func() bool
	mu     sync.Mutex
	worker *poolWorker
	id     uint64
	sentAt time.Time
	// files are the call's duplicates of its handles' descriptors, sent
	// beside its frame (again if it is retried elsewhere) and closed when
	// it finishes.
	files []*os.File
	// dropped (under mu) marks a call given up while queued (Cancel, its
	// context), which finish is about to end: start skips it, so a call
	// that Cancel reports cancelled never runs.
	dropped bool
}

func newTask(ctx context.Context, spec *registry.Spec, codec Codec, kind wire.Kind, body wire.Payload, n int) *task {
	return &task{spec: spec, codec: codec, kind: kind, body: body, n: n, ctx: ctx, done: make(chan struct{})}
}

// finish settles t with its outcome, once: it reports whether this was
// the call that did.
func (t *task) finish(res any, err error) (won bool) {
	t.once.Do(func() {
		won = true
		t.result, t.err = res, err
		t.mu.Lock()
		closeFiles(t.files) // under t.mu: start duplicates them under it
		t.files = nil
		stop := t.stop
		t.mu.Unlock()
		if stop != nil {
			stop()
		}
		close(t.done)
	})
	return won
}

func (t *task) finished() bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

// watch arranges for the task's context to cancel or time it out.
func (t *task) watch() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ctx.Done() == nil {
		return
	}
	ctx := t.ctx
	t.stop = context.AfterFunc(ctx, func() {
		t.mu.Lock()
		w, id, sent := t.worker, t.id, t.sentAt
		if w == nil {
			t.dropped = true
		}
		t.mu.Unlock()
		if w == nil { // still queued: start will skip it
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				t.finish(nil, &TimeoutError{Op: "call of " + t.spec.Name})
			} else {
				t.finish(nil, ctx.Err())
			}
			return
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			if !t.finish(nil, &TimeoutError{Op: "call of " + t.spec.Name, After: time.Since(sent)}) {
				return // its outcome came first: the worker is free again
			}
			if w.pool.cfg.remote != nil {
				// A remote worker stops the call at the same deadline,
				// and the cancel makes sure: it is not killed.
				w.send(wire.KindCancel, id, nil)
			} else {
				w.timedOut(id)
			}
			return
		}
		t.finish(nil, ctx.Err())
		w.send(wire.KindCancel, id, nil)
	})
}

// poolWorker is the scheduler's side of one worker; conn is the worker.
type poolWorker struct {
	pool *Pool
	conn worker.Conn

	wmu sync.Mutex     // serializes writes, and the order of pending with them
	out []worker.Frame // under wmu: the frames start is sending

	// Under pool.mu: the scheduler's view.
	slots     int  // tasks it may hold at once
	busy      int  // tasks taken and not yet settled
	assigned  int  // tasks ever taken (MaxTasksPerChild)
	quick     bool // its last outcomes came close together (see limit)
	retiring  bool // takes no more tasks; its channel closes once it is idle
	recycle   bool // retiring to be replaced (MaxTasksPerChild, MaxRSS)
	gone      bool // its reader has ended
	idleGen   int  // invalidates an armed idle timer
	idleTimer *time.Timer

	mu         sync.Mutex
	pending    map[uint64]*task // nil once the worker has ended
	order      []uint64         // pending ids, oldest first, as written
	served     int
	timedOutID uint64
	dead       chan struct{}
	lastRSS    time.Time

	clock workerClock // where its time goes (Pool.Insights)
}

// limit is how many tasks w may hold when it is given t: its slots, or,
// for a small chunk of a Map while w's outcomes come back quickly, more,
// so that tiny items keep it busy between round trips and their frames
// travel together. Slow items keep the shallow pipeline, so that no more
// than a few wait behind a slow one while another worker idles.
// pool.mu must be held.
func (w *poolWorker) limit(t *task) int {
	if t.kind == wire.KindBatch && w.quick && w.slots > 1 && t.body.Size() <= inlineSendMax {
		return batchSlots
	}
	return w.slots
}

// batchSlots is how many small chunks a quick worker may hold at once.
const batchSlots = 64

// quickGap is the longest time between two outcomes of a worker for it to
// count as quick (see limit).
const quickGap = 200 * time.Microsecond

// take counts a task given to w. pool.mu must be held.
func (w *poolWorker) take(t *task) {
	w.busy++
	w.assigned++
	w.idleGen++
	if w.idleTimer != nil {
		w.idleTimer.Stop()
	}
}

// idleLocked arms the idle timeout of a worker that has nothing to do.
// pool.mu must be held.
func (w *poolWorker) idleLocked() {
	p := w.pool
	if p.cfg.idle <= 0 || w.retiring || w.gone {
		return
	}
	w.idleGen++
	gen := w.idleGen
	if w.idleTimer != nil {
		w.idleTimer.Stop()
	}
	w.idleTimer = time.AfterFunc(p.cfg.idle, func() {
		p.mu.Lock()
		retire := w.idleGen == gen && w.busy == 0 && !w.retiring && !w.gone
		if retire {
			w.retiring = true
			w.clock.ask(EndIdle)
		}
		p.mu.Unlock()
		if retire {
			w.closeWrite()
		}
	})
}

func (w *poolWorker) kill() { w.conn.Kill() }

// start sends tasks the scheduler gave to w, in one write when they are
// small. A task cancelled meanwhile is not sent, and one that finds the
// worker ended is queued again.
func (w *poolWorker) start(ts ...*task) {
	w.wmu.Lock()
	w.startLocked(ts...)
}

// startLocked is start with w.wmu held; it releases it.
func (w *poolWorker) startLocked(ts ...*task) {
	var skipped int
	var orphans []*task
	now := time.Now() // the calls' sentAt, and the start of the write
	for _, t := range ts {
		t.mu.Lock()
		if t.finished() || t.dropped {
			t.mu.Unlock()
			skipped++
			continue
		}
		w.mu.Lock()
		if w.pending == nil { // ended: its reader has settled everything
			w.mu.Unlock()
			t.mu.Unlock()
			orphans = append(orphans, t)
			continue
		}
		id := w.pool.ids.Add(1)
		w.pending[id] = t
		w.order = append(w.order, id)
		w.mu.Unlock()
		t.worker, t.id, t.sentAt = w, id, now
		// The send gets its own duplicates of the call's descriptors:
		// the call may finish (a cancel, a deadline) and close its own
		// while the frame is being written.
		sendFiles := dupFiles(t.files)
		t.mu.Unlock()
		deadline, _ := t.ctx.Deadline()
		w.out = append(w.out, worker.Frame{Kind: t.kind, ID: id, Body: t.body, Files: sendFiles, Spec: t.spec, Deadline: deadline})
	}
	var err error
	if len(w.out) > 0 {
		w.clock.sending(len(w.out), now)
		err = w.conn.Send(w.out...)
		w.clock.sent(time.Now())
		for _, f := range w.out {
			closeFiles(f.Files)
		}
		clear(w.out) // keep no bodies alive
		w.out = w.out[:0]
	}
	w.wmu.Unlock()
	if err != nil {
		w.kill() // the reader sees the end and settles the pending calls
	}
	for _, t := range orphans {
		w.pool.requeue(t)
	}
	if skipped > 0 {
		p := w.pool
		p.mu.Lock()
		quick := w.quick
		p.mu.Unlock()
		w.settled(skipped, false, quick)
	}
}

func (w *poolWorker) send(kind wire.Kind, id uint64, body wire.Payload) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	return w.conn.Send(worker.Frame{Kind: kind, ID: id, Body: body})
}

// settled frees the slot of a task w took, and gives w (and, after a
// refusal, the others) what is queued. With recycle, w retires to be
// replaced. It closes w's channel once w is retiring and idle.
func (w *poolWorker) settled(n int, recycle bool, quick bool) {
	p := w.pool
	p.mu.Lock()
	w.busy -= n
	w.quick = quick
	if recycle {
		w.retiring, w.recycle = true, true
	}
	sends := p.dispatchLocked(nil)
	idle := p.retireIdleLocked()
	closeNow := w.retiring && w.busy == 0 && !slices.Contains(idle, w)
	if w.busy == 0 && !w.retiring {
		w.idleLocked()
	}
	p.mu.Unlock()
	p.runSends(sends, true)
	for _, x := range idle {
		x.closeWrite()
	}
	if closeNow {
		w.closeWrite()
	}
}

func (w *poolWorker) closeWrite() {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	w.conn.CloseWrite()
}

// failed fails the call a transport could not run (see worker.CallError),
// and reports whether it was one of w's.
func (w *poolWorker) failed(ce *worker.CallError) bool {
	w.mu.Lock()
	t := w.pending[ce.ID]
	delete(w.pending, ce.ID)
	if i := slices.Index(w.order, ce.ID); i >= 0 {
		w.order = slices.Delete(w.order, i, i+1)
	}
	w.mu.Unlock()
	if t == nil {
		return false
	}
	t.finish(nil, ce.Err)
	return true
}

// timedOut kills the worker because call id ran past its deadline.
func (w *poolWorker) timedOut(id uint64) {
	w.mu.Lock()
	w.timedOutID = id
	w.mu.Unlock()
	w.kill()
}

// read delivers the worker's outcomes; when the worker ends it settles
// every pending call: the oldest one (the call that was running) fails with
// the worker's exit status, the others never started and are queued again.
func (w *poolWorker) read() {
	p := w.pool
	var protoErr error
	// Slots freed by outcomes are given out again once no further outcome
	// is already buffered, so outcomes that arrived together free their
	// slots, and their successors leave, together.
	freed, recycle := 0, false
	var last time.Time // when the previous outcome arrived
	quick := false
	for {
		if freed > 0 && !w.conn.Buffered() {
			w.settled(freed, recycle, quick)
			freed, recycle = 0, false
		}
		f, err := w.conn.Recv()
		if ce, ok := err.(*worker.CallError); ok { // a transport's: the call failed, the Conn goes on
			if w.failed(ce) {
				w.clock.answered(0, false, time.Now())
				freed++
			}
			continue
		}
		if err == nil && f.Kind == wire.KindKept { // a retiring worker's
			if err = takeKept(f.Body, w.conn.TakeFiles); err == nil {
				continue
			}
		}
		if err == nil {
			now := time.Now()
			quick = now.Sub(last) < quickGap
			last = now
		}
		if err != nil {
			if !isEOF(err) {
				protoErr = err
				w.kill()
			}
			break
		}
		w.mu.Lock()
		t := w.pending[f.ID]
		delete(w.pending, f.ID)
		if len(w.order) > 0 && w.order[0] == f.ID {
			w.order = w.order[1:]
		} else if i := slices.Index(w.order, f.ID); i >= 0 {
			w.order = slices.Delete(w.order, i, i+1)
		}
		if t == nil { // not ours (a protocol slip): ignore
			w.mu.Unlock()
			continue
		}
		if f.Kind == wire.KindRefused { // never started: run it elsewhere
			w.mu.Unlock()
			p.mu.Lock()
			w.retiring, w.recycle = true, true // it is dying of SIGTERM
			p.mu.Unlock()
			t.mu.Lock()
			t.worker = nil
			t.mu.Unlock()
			p.requeue(t)
			w.clock.answered(t.n, false, last)
			freed++
			continue
		}
		w.served++
		if p.cfg.maxTasks > 0 && w.served >= p.cfg.maxTasks {
			recycle = true
			w.clock.ask(EndMaxTasks)
		}
		w.mu.Unlock()
		// Counted before the caller can see the outcome, so that figures
		// read once it has are whole; last is when f arrived.
		w.clock.answered(t.n, true, last)
		t.settle(f)
		w.clock.received(last, time.Now())
		if !recycle && p.cfg.maxRSS > 0 && w.overRSS() {
			recycle = true
			w.clock.ask(EndMaxRSS)
		}
		freed++
	}
	w.mu.Lock()
	close(w.dead)
	pend := w.pending
	order := w.order
	w.pending = nil
	timedOut := w.timedOutID
	w.mu.Unlock()
	p.mu.Lock()
	w.gone = true // the scheduler gives it nothing more
	p.mu.Unlock()

	death := connDeath(w.conn)
	w.clock.end(time.Now(), w.endCause(death, protoErr, timedOut != 0), death.Code, death.Signal)
	for i, id := range order {
		t := pend[id]
		if t == nil {
			continue
		}
		switch {
		case id == timedOut || t.finished():
		case i == 0 && protoErr != nil:
			t.finish(nil, &ProtocolError{Op: "read from worker", Err: protoErr})
		case i == 0 && p.cfg.remote != nil:
			// A remote Conn ends with calls pending only when Terminate
			// gives up on them: no process died here.
			t.finish(nil, ErrPoolTerminated)
		case i == 0:
			t.finish(nil, exitErrorOf(t.spec.Name, death, p.sandbox))
		default:
			t.mu.Lock()
			t.worker = nil
			t.mu.Unlock()
			p.requeue(t)
		}
	}
	p.mu.Lock()
	replace := !w.retiring || w.recycle // crashed, or recycled (not idle)
	p.mu.Unlock()
	p.removeWorker(w, replace)
}

// requeue puts a task that never ran back in the queue, or fails it when
// the pool has closed.
func (p *Pool) requeue(t *task) {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.quit:
		t.finish(nil, ErrPoolTerminated)
		return
	default:
	}
	if p.closed {
		// The pool is closed to new work and its workers retire as the
		// queue empties, but this call was accepted: run it on a fresh
		// worker of its own.
		go p.runOrphan(t)
		return
	}
	p.queue = append(p.queue, t)
	sends := p.dispatchLocked(nil)
	if len(sends) > 0 {
		go p.runSends(sends, false)
	}
}

// runOrphan runs a requeued call after Close on a dedicated worker.
func (p *Pool) runOrphan(t *task) {
	w, err := p.startWorker(context.Background())
	if err != nil {
		t.finish(nil, err)
		return
	}
	p.mu.Lock()
	p.workers = append(p.workers, w)
	w.take(t)
	w.retiring = true // it takes nothing else, and closes once t is done
	w.clock.ask(EndClosed)
	p.mu.Unlock()
	w.start(t)
}

// timeout is the error of a call whose deadline passed while it ran.
func (t *task) timeout() error {
	t.mu.Lock()
	sent := t.sentAt
	t.mu.Unlock()
	return &TimeoutError{Op: "call of " + t.spec.Name, After: time.Since(sent)}
}

// pastDeadline reports whether ctx's deadline has passed by the clock,
// which may be before ctx's timer has fired and ended it.
func pastDeadline(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// settle decodes a task's outcome frame.
func (t *task) settle(f wire.Frame) {
	t.mu.Lock()
	ctx := t.ctx
	t.mu.Unlock()
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		// Cancelled before its outcome arrived: the caller asked for the
		// call to stop, whatever the worker managed meanwhile (the
		// context's own callback may not have run yet).
		t.finish(nil, context.Canceled)
		return
	case ctx.Err() != nil || pastDeadline(ctx):
		// Past its deadline: a timeout, as when the deadline's callback
		// wins, though the worker's own context (a remote worker is
		// given the same deadline) ended the call first. The clock is
		// asked too: the worker's timer may fire, and its outcome
		// arrive, before ctx's own timer has fired.
		t.finish(nil, t.timeout())
		return
	}
	if f.Kind == wire.KindBatchResult {
		m, err := wire.DecodeBatchResult(f.Body)
		if err != nil {
			t.finish(nil, &ProtocolError{Op: "decode batch result", Err: err})
			return
		}
		t.finish(m, nil)
		return
	}
	res, err, perr := outcomeOf(t.spec, t.codec, f.Kind, f.Body)
	if perr != nil {
		err = &ProtocolError{Op: "decode outcome of " + t.spec.Name, Err: perr}
	}
	t.finish(res, err)
}

// overRSS reports whether the worker's resident memory passed the cap; it
// asks at most every 100 ms.
func (w *poolWorker) overRSS() bool {
	if time.Since(w.lastRSS) < 100*time.Millisecond {
		return false
	}
	w.lastRSS = time.Now()
	rss, ok := w.conn.RSS()
	return ok && rss > w.pool.cfg.maxRSS
}

// workerStarter starts one worker of a pool and returns it ready for calls:
// with an initializer, only once the initializer has run in it.
type workerStarter func(ctx context.Context, s workerStart) (worker.Conn, error)

// workerStart is what a workerStarter is given.
type workerStart struct {
	name      string       // the worker's process name
	init      wire.Payload // the encoded initializer call, or nil
	initFiles []*os.File   // its handles' descriptors; they stay the pool's
	codec     Codec        // the pool's codec, the initializer's outcome's
	stdout    io.Writer    // where the worker's output goes (nil: ours)
	stderr    io.Writer
	sandbox   *sandbox.Spec // what confines the worker, or nil
	prefix    OutputPrefix  // how its lines are labelled
}

// startLocal is the pool's default workerStarter: a child process of this
// program on a socketpair, sent the hello and the initializer call in one
// write.
func startLocal(ctx context.Context, s workerStart) (worker.Conn, error) {
	cmd, conn, outs, msg, err := launch(childSpec{
		name:    s.name,
		ident:   nextIdent(),
		daemon:  true,
		authkey: authKey(),
		stdout:  s.stdout,
		stderr:  s.stderr,
		prefix:  s.prefix,
		worker:  true,
		sandbox: s.sandbox,
	})
	if err != nil {
		return nil, err
	}
	c := worker.NewProc(cmd, conn, outs, maxFrameSize.Load)
	if s.init != nil {
		err = wire.WriteFrames(fdio.NewRightsWriter(conn, s.initFiles), msg, wire.KindCall, 0, s.init)
	} else {
		_, err = conn.Write(msg)
	}
	if err != nil {
		c.Kill()
		c.Wait()
		return nil, fmt.Errorf("start worker: %w", err)
	}
	if s.init != nil {
		if err := awaitInit(ctx, conn, c, s.codec, s.sandbox); err != nil {
			c.Kill()
			c.Wait()
			return nil, err
		}
	}
	return c, nil
}

// awaitInit reads the outcome of the initializer of the local worker c,
// whose channel is conn and whose sandbox is sp.
// A done ctx (cancelled, or past its deadline) ends the wait at once with
// ctx's error.
func awaitInit(ctx context.Context, conn *os.File, c worker.Conn, codec Codec, sp *sandbox.Spec) error {
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer func() {
		if !stop() {
			_ = conn.SetReadDeadline(time.Time{})
		}
	}()
	f, err := wire.ReadPeerFrame(conn, maxFrameSize.Load())
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("worker initializer: %w", ctx.Err())
		}
		if isEOF(err) { // the worker died: say how
			return fmt.Errorf("worker initializer: %w", deathOf(c, "initializer", sp))
		}
		return fmt.Errorf("worker initializer: %w", err)
	}
	return initOutcome(f, codec)
}

// initOutcome is the error an initializer's outcome frame reports, or nil.
func initOutcome(f wire.Frame, codec Codec) error {
	if f.Kind == wire.KindResult {
		return nil
	}
	spec := &registry.Spec{Name: "initializer"}
	_, terr, perr := outcomeOf(spec, codec, f.Kind, f.Body)
	if perr != nil {
		return &ProtocolError{Op: "worker initializer", Err: perr}
	}
	return fmt.Errorf("worker initializer failed: %w", terr)
}

// deathOf waits briefly for a worker whose channel ended and describes its
// end as an *ExitError; a worker still alive after the wait is killed.
func deathOf(c worker.Conn, target string, sp *sandbox.Spec) error {
	var death proc.Death
	done := make(chan struct{})
	go func() {
		death = connDeath(c)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(channelLossGrace):
		c.Kill()
		<-done
	}
	if death.Code != 0 {
		_, _ = SweepSharedMemory() // blocks the dead worker alone held
	}
	return exitErrorOf(target, death, sp)
}

// connDeath waits for the worker c to end and says how it did: with the
// tail of its stderr and the rest of proc.Death when it is a local
// process, with its exit status alone otherwise.
func connDeath(c worker.Conn) proc.Death {
	code, sig := c.Wait()
	if d, ok := c.(interface{ Death() proc.Death }); ok {
		return d.Death()
	}
	return proc.Death{Code: code, Signal: sig}
}
