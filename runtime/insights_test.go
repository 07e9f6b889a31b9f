//go:build linux || windows

package mp_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

// checkRows fails t unless each worker's states add up to its lifetime,
// its lifetime lies within [lo, hi], and the totals are the rows' sums (when
// every worker the pool had is a row).
//
// The tolerance of the sum is zero: each change of state ends one interval
// at the very clock reading that begins the next (a reading older than the
// state's start counts as its start), so the durations telescope to the
// lifetime in whole nanoseconds. lo and hi are the test's own clock
// readings around the worker's life: they check the pool's readings, not
// anyone's speed.
func checkRows(t *testing.T, in mp.PoolInsights, lo, hi time.Duration) {
	t.Helper()
	var total mp.WorkerInsights
	for _, r := range in.Workers {
		if sum := r.Starting + r.Idle + r.Working + r.Sending; sum != r.Lifetime {
			t.Errorf("%s: starting %v + idle %v + working %v + sending %v = %v, its lifetime is %v",
				r.Name, r.Starting, r.Idle, r.Working, r.Sending, sum, r.Lifetime)
		}
		if r.Lifetime < lo || r.Lifetime > hi || r.Starting <= 0 || min(r.Idle, r.Working, r.Sending, r.Receiving) < 0 {
			t.Errorf("%s: lifetime %v outside [%v, %v], or a state's time is not positive: %+v", r.Name, r.Lifetime, lo, hi, r)
		}
		total.Tasks += r.Tasks
		total.Items += r.Items
		total.Lifetime += r.Lifetime
		total.Working += r.Working
	}
	if in.Total.Tasks != total.Tasks || in.Total.Items != total.Items || in.Total.Lifetime != total.Lifetime || in.Total.Working != total.Working {
		t.Errorf("the totals %+v are not the sums of the rows %+v", in.Total, total)
	}
}

// A Map of sleeping calls on two workers: each worker's time is divided
// between starting, idle, working and sending, adding up to its lifetime;
// the calls and items it answered add up to the Map's; each worker held
// its calls at least as long as they slept. After Close, every worker has
// ended, of that cause.
func TestPoolInsights(t *testing.T) {
	ctx := testCtx(t)
	const nap, n = 10 * time.Millisecond, 16
	t0 := time.Now()
	p := newPool(t, mp.Workers(2))
	t1 := time.Now()
	naps := slices.Repeat([]time.Duration{nap}, n)
	if _, err := mp.Map[time.Duration, struct{}](ctx, p, targets.Sleep, naps, mp.Chunksize(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := mp.Map[time.Duration, struct{}](ctx, p, targets.Sleep, naps, mp.Chunksize(4)); err != nil {
		t.Fatal(err)
	}
	t2 := time.Now()
	in := p.Insights()
	t3 := time.Now()
	t.Logf("\n%v", in)

	if len(in.Workers) != 2 || in.Total.Tasks != n+n/4 || in.Total.Items != 2*n || in.Restarts != 0 || len(in.Ended) != 0 {
		t.Fatalf("%d workers, %d tasks, %d items, %d restarts, ended %v; want 2 live workers, %d tasks of %d items",
			len(in.Workers), in.Total.Tasks, in.Total.Items, in.Restarts, in.Ended, n+n/4, 2*n)
	}
	// Each worker started within NewPool, and lived at least from then
	// until Insights was called.
	checkRows(t, in, t2.Sub(t1), t3.Sub(t0))
	pids := p.Pids()
	for _, r := range in.Workers {
		if !slices.Contains(pids, r.Pid) || !strings.HasPrefix(r.Name, "PoolWorker-") || r.End != "" || r.Exit != "" {
			t.Errorf("row %+v: not one of the live workers %v", r, pids)
		}
		if r.Starting > t1.Sub(t0) {
			t.Errorf("%s: starting %v, longer than NewPool took (%v)", r.Name, r.Starting, t1.Sub(t0))
		}
		// Calls run one at a time in a worker, each for at least nap, and
		// the worker holds each while it runs.
		if held := r.Working + r.Sending; held < time.Duration(r.Items)*nap {
			t.Errorf("%s: held calls for %v, less than its %d items slept (%v)", r.Name, held, r.Items, time.Duration(r.Items)*nap)
		}
	}
	if s := in.String(); !strings.Contains(s, in.Workers[0].Name) || !strings.Contains(s, "total") || !strings.Contains(s, "working%") {
		t.Errorf("String():\n%s", s)
	}

	p.Close()
	if err := p.JoinTimeout(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	t4 := time.Now()
	end := p.Insights()
	t.Logf("\n%v", end)
	checkRows(t, end, t3.Sub(t1), t4.Sub(t0))
	if len(end.Workers) != 2 || end.Ended[mp.EndClosed] != 2 || end.Restarts != 0 || end.Total.Tasks != in.Total.Tasks {
		t.Errorf("after Close: %d rows, ended %v, %d restarts, %d tasks", len(end.Workers), end.Ended, end.Restarts, end.Total.Tasks)
	}
	for _, r := range end.Workers {
		if r.End != mp.EndClosed || r.Exit != "exit code 0" {
			t.Errorf("%s after Close: end %q, %q", r.Name, r.End, r.Exit)
		}
	}
}

// A worker killed from outside in the middle of a call shows as a crash,
// with how its process died; a worker recycled by MaxTasksPerChild shows
// as a restart of cause "max tasks". Both are restarts, and the calls
// answered still add up.
func TestPoolInsightsRestarts(t *testing.T) {
	t.Run("crash", func(t *testing.T) {
		skipOnWindows(t, "readyPipe needs read deadlines")
		ctx := testCtx(t)
		out, ready := readyPipe(t)
		p := newPool(t, mp.Workers(1), mp.PoolOutput(out, nil))
		if _, err := p.Apply(ctx, targets.Identity, []any{1}, nil); err != nil {
			t.Fatal(err)
		}
		f := p.ApplyAsync(ctx, targets.Announce, []any{"running", time.Hour}, nil)
		ready(1, 30*time.Second)
		pid := p.Pids()[0]
		kill9(t, pid)
		if _, err := getBounded(t, f, 30*time.Second); err == nil {
			t.Fatal("the call of the killed worker succeeded")
		}
		stillServes(t, ctx, p) // on the replacement
		in := p.Insights()
		t.Logf("\n%v", in)
		checkRows(t, in, 0, time.Minute)
		if len(in.Workers) != 2 || in.Ended[mp.EndCrash] != 1 || in.Restarts != 1 || in.Total.Tasks != 1+8 {
			t.Fatalf("%d rows, ended %v, %d restarts, %d tasks; want the crashed worker and its replacement, 9 tasks", len(in.Workers), in.Ended, in.Restarts, in.Total.Tasks)
		}
		dead := in.Workers[0]
		if dead.Pid != pid || dead.End != mp.EndCrash || dead.Tasks != 1 {
			t.Errorf("the killed worker's row: %+v", dead)
		}
		want := "exit code " + strconv.Itoa(outsideKillCode)
		if outsideKillSignal != "" {
			want = "signal " + outsideKillSignal
		}
		if dead.Exit != want {
			t.Errorf("the killed worker's exit: %q, want %q", dead.Exit, want)
		}
		if in.Workers[1].End != "" || in.Workers[1].Tasks != 8 {
			t.Errorf("the replacement's row: %+v", in.Workers[1])
		}
	})

	t.Run("max tasks", func(t *testing.T) {
		ctx := testCtx(t)
		p := newPool(t, mp.Workers(1), mp.MaxTasksPerChild(2))
		for i := range 5 {
			if _, err := p.Apply(ctx, targets.Identity, []any{i}, nil); err != nil {
				t.Fatal(err)
			}
		}
		// The recycled workers end after their last outcome: wait for the
		// pool to see both ends.
		var in mp.PoolInsights
		if !targets.Eventually(30*time.Second, func() bool {
			in = p.Insights()
			return in.Ended[mp.EndMaxTasks] == 2
		}) {
			t.Fatalf("ended %v; want 2 workers recycled", in.Ended)
		}
		t.Logf("\n%v", in)
		checkRows(t, in, 0, time.Minute)
		if len(in.Workers) != 3 || in.Restarts != 2 || len(in.Ended) != 1 || in.Total.Tasks != 5 {
			t.Errorf("%d rows, %d restarts, ended %v, %d tasks; want 3 workers, 2 recycled, 5 tasks", len(in.Workers), in.Restarts, in.Ended, in.Total.Tasks)
		}
		for i, r := range in.Workers {
			want := map[bool]mp.EndCause{true: mp.EndMaxTasks, false: ""}[i < 2]
			if r.End != want || r.Tasks != map[bool]int{true: 2, false: 1}[i < 2] {
				t.Errorf("worker %d: end %q, %d tasks", i, r.End, r.Tasks)
			}
		}
	})
}
