//go:build linux || windows

package mp_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

func TestPoolApplyAndFutures(t *testing.T) {
	ctx := testCtx(t)
	p := newPool(t, mp.Workers(2))
	if p.Size() != 2 || len(p.Pids()) != 2 {
		t.Fatalf("pool size %d", p.Size())
	}
	res, err := p.Apply(ctx, targets.Add, []any{2}, map[string]any{"b": 40})
	if err != nil || res != 42 {
		t.Fatalf("Apply = %v, %v", res, err)
	}
	f := mp.Submit[string](ctx, p, targets.Echo, "async")
	if v, err := f.GetContext(ctx); err != nil || v != "async" || !f.Ready() || !f.Successful() {
		t.Fatalf("Submit.Get = %q, %v", v, err)
	}
	bad := mp.Submit[int](ctx, p, targets.Echo, "x")
	var ae *mp.ArgError
	if _, err := bad.GetContext(ctx); !errors.As(err, &ae) {
		t.Fatalf("Submit with the wrong result type = %v", err)
	}
	fe := p.ApplyAsync(ctx, targets.Fail, []any{"in pool"}, nil)
	<-fe.Done()
	if _, err := fe.GetContext(ctx); !errors.Is(err, targets.ErrBoom) || fe.Successful() {
		t.Fatalf("pool error = %v", err)
	}
	fp := p.ApplyAsync(ctx, targets.Panic, []any{"in pool"}, nil)
	var pe *mp.PanicError
	if _, err := fp.GetContext(ctx); !errors.As(err, &pe) || !strings.Contains(pe.Stack, "targets.Panic") {
		t.Fatalf("pool panic = %v", err)
	}
	// A panic is an error result, not a crash: the workers are the same.
	if p.Size() != 2 {
		t.Fatalf("pool size after panic %d", p.Size())
	}
}

func TestPoolMapFamily(t *testing.T) {
	ctx := testCtx(t)
	p := newPool(t, mp.Workers(2))
	items := make([]int, 1000)
	for i := range items {
		items[i] = i * 3
	}
	for _, chunk := range []int{0, 1, 7, 5000} {
		var last atomic.Int64
		got, err := mp.Map[int, int](ctx, p, targets.Identity, items, mp.Chunksize(chunk), mp.Progress(func(done, total int) {
			if total != len(items) || done < int(last.Load()) {
				t.Errorf("progress %d/%d after %d", done, total, last.Load())
			}
			last.Store(int64(done))
		}))
		if err != nil || !slices.Equal(got, items) {
			t.Fatalf("Map chunk %d: err %v, equal %v", chunk, err, slices.Equal(got, items))
		}
		if last.Load() != int64(len(items)) {
			t.Fatalf("progress ended at %d", last.Load())
		}
	}

	var ordered []int
	for o := range mp.IMap[int, int](ctx, p, targets.Identity, items, mp.Chunksize(10), mp.InFlight(3)) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		ordered = append(ordered, o.Value)
	}
	if !slices.Equal(ordered, items) {
		t.Fatal("IMap out of order or incomplete")
	}
	seen := make([]bool, len(items))
	for o := range mp.IMapUnordered[int, int](ctx, p, targets.Identity, items, mp.Chunksize(10)) {
		if o.Err != nil || o.Value != items[o.Index] || seen[o.Index] {
			t.Fatalf("IMapUnordered outcome %+v", o)
		}
		seen[o.Index] = true
	}
	if slices.Contains(seen, false) {
		t.Fatal("IMapUnordered lost items")
	}
	// Stopping early is fine.
	n := 0
	for range mp.IMap[int, int](ctx, p, targets.Identity, items, mp.Chunksize(1)) {
		if n++; n == 5 {
			break
		}
	}

	sums, err := mp.Starmap[int](ctx, p, targets.Add, [][]any{{1, 2}, {3, 4}, {5, 6}}, mp.Chunksize(2))
	if err != nil || !slices.Equal(sums, []int{3, 7, 11}) {
		t.Fatalf("Starmap = %v, %v", sums, err)
	}

	got, err := mp.Map[int, int](ctx, p, targets.FailOdd, []int{0, 2, 3, 4, 5})
	var te *mp.TaskError
	if !errors.As(err, &te) || te.Index != 2 || !errors.Is(err, targets.ErrBoom) {
		t.Fatalf("Map with failures = %v", err)
	}
	if got[1] != 2 || got[3] != 4 {
		t.Fatalf("results of the items that passed are lost: %v", got)
	}
	if _, err := mp.Map[string, string](ctx, p, targets.Identity, []string{"x"}); !errors.As(err, new(*mp.ArgError)) {
		t.Fatalf("Map with the wrong item type = %v", err)
	}
}

func TestPoolInitializerAndRecycling(t *testing.T) {
	ctx := testCtx(t)
	p := newPool(t, mp.Workers(1), mp.Initializer(targets.InitWorker, "ready"), mp.MaxTasksPerChild(2))
	var pids []string
	for range 5 {
		v, err := mp.Submit[string](ctx, p, targets.WorkerTag).GetContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tag, pid, _ := strings.Cut(v, "@")
		if tag != "ready" {
			t.Fatalf("initializer did not run in worker: %q", v)
		}
		pids = append(pids, pid)
	}
	if pids[0] != pids[1] || pids[1] == pids[2] || pids[2] != pids[3] || pids[3] == pids[4] {
		t.Fatalf("maxtasksperchild 2 should recycle every 2 calls: %v", pids)
	}

	_, err := mp.NewPool(ctx, mp.Workers(1), mp.Initializer(targets.InitWorker, ""))
	if err == nil || !strings.Contains(err.Error(), "empty tag") {
		t.Fatalf("NewPool with a failing initializer = %v", err)
	}
}

// NewPool gives up at once when its context is done while the workers'
// initializers run: cancelled, it returns ctx.Err(); past its deadline, a
// *TimeoutError matching context.DeadlineExceeded (issue 10, item 11: it
// used to wait for the initializers, for ever when only cancelled).
func TestNewPoolContextDuringInitializer(t *testing.T) {
	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"cancelled", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(300*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 300*time.Millisecond)
		}, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := tc.ctx()
			defer cancel()
			done := make(chan error, 1)
			go func() {
				p, err := mp.NewPool(ctx, mp.Workers(2), mp.Initializer(targets.SleepNoCtx, time.Hour))
				if p != nil {
					p.Terminate()
				}
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, tc.want) {
					t.Fatalf("NewPool = %v, want an error matching %v", err, tc.want)
				}
				var te *mp.TimeoutError
				if (tc.want == context.DeadlineExceeded) != errors.As(err, &te) {
					t.Fatalf("NewPool = %v (%T): a passed deadline, and only it, is a *TimeoutError", err, err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("NewPool did not return 30 s after its context was done")
			}
		})
	}
}

func TestPoolSurvivesCrashes(t *testing.T) {
	ctx := testCtx(t)
	p := newPool(t, mp.Workers(2))
	for _, tc := range []struct {
		target any
		args   []any
		code   int
	}{
		{targets.Exit, []any{7}, 7},
		{targets.Overflow, []any{0}, 2},
	} {
		_, err := p.Apply(ctx, tc.target, tc.args, nil)
		var ee *mp.ExitError
		if !errors.As(err, &ee) || ee.Code != tc.code {
			t.Fatalf("crash = %v, want exit code %d", err, tc.code)
		}
	}
	// Kill a worker from outside while it runs a call.
	f := p.ApplyAsync(ctx, targets.SleepNoCtx, []any{time.Hour}, nil)
	time.Sleep(300 * time.Millisecond)
	killed := p.Pids()
	for _, pid := range killed {
		kill9(t, pid)
	}
	var ee *mp.ExitError
	if _, err := f.GetContext(ctx); !errors.As(err, &ee) || ee.Code != outsideKillCode || ee.Signal != outsideKillSignal {
		t.Fatalf("call on a killed worker = %v", err)
	}
	// A worker killed while idle is noticed at once and replaced; a call
	// sent in the instant before that would count as the one it ran.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && (p.Size() != 2 || slices.ContainsFunc(p.Pids(), func(pid int) bool { return slices.Contains(killed, pid) })) {
		time.Sleep(20 * time.Millisecond)
	}
	// The pool replaced its workers and still works.
	if v, err := p.Apply(ctx, targets.Echo, []any{"still here"}, nil); err != nil || v != "still here" {
		t.Fatalf("pool after crashes: %v, %v", v, err)
	}
	got, err := mp.Map[int, int](ctx, p, targets.Identity, []int{1, 2, 3})
	if err != nil || !slices.Equal(got, []int{1, 2, 3}) {
		t.Fatalf("Map after crashes: %v %v", got, err)
	}
}

func TestPoolTimeoutAndCancel(t *testing.T) {
	ctx := testCtx(t)
	p := newPool(t, mp.Workers(1))
	before := p.Pids()
	tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err := p.Apply(tctx, targets.SleepNoCtx, []any{time.Hour}, nil)
	var te *mp.TimeoutError
	if !errors.As(err, &te) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timed-out call = %v", err)
	}
	if v, err := p.Apply(ctx, targets.Echo, []any{"after timeout"}, nil); err != nil || v != "after timeout" {
		t.Fatalf("pool after a timeout: %v, %v", v, err)
	}
	if after := p.Pids(); slices.Equal(before, after) {
		t.Fatalf("the timed-out worker was not replaced: %v", after)
	}

	// A call's context deadline (what TaskTimeout was) fails it with a
	// *TimeoutError, and the pool serves on.
	q := newPool(t, mp.Workers(1))
	dctx, dcancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer dcancel()
	if _, err := q.Apply(dctx, targets.SleepNoCtx, []any{time.Hour}, nil); !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a call past its deadline = %v", err)
	}
	if v, err := q.Apply(ctx, targets.Add, []any{1, 1}, nil); err != nil || v != 2 {
		t.Fatalf("after a call's deadline: %v, %v", v, err)
	}

	// Cancelling a call's context cancels it in its worker.
	cctx, ccancel := context.WithCancel(ctx)
	f := p.ApplyAsync(cctx, targets.Sleep, []any{time.Hour}, nil)
	time.Sleep(200 * time.Millisecond)
	pids := p.Pids()
	ccancel()
	if _, err := f.GetContext(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call = %v", err)
	}
	if v, err := p.Apply(ctx, targets.Echo, []any{"after cancel"}, nil); err != nil || v != "after cancel" {
		t.Fatalf("pool after cancel: %v, %v", v, err)
	}
	if !slices.Equal(pids, p.Pids()) {
		t.Fatal("a cancelled call should not cost the worker")
	}
}

func TestPoolCloseTerminateIdle(t *testing.T) {
	ctx := testCtx(t)
	p := newPool(t, mp.Workers(2))
	fs := make([]*mp.Future[any], 6)
	for i := range fs {
		fs[i] = p.ApplyAsync(ctx, targets.Add, []any{i, i}, nil)
	}
	p.Close()
	if _, err := p.Apply(ctx, targets.Noop, nil, nil); !errors.Is(err, mp.ErrPoolClosed) {
		t.Fatalf("Apply after Close = %v", err)
	}
	if err := p.Join(); err != nil {
		t.Fatal(err)
	}
	for i, f := range fs {
		if v, err := f.GetContext(ctx); err != nil || v != 2*i {
			t.Fatalf("call %d queued before Close: %v, %v", i, v, err)
		}
	}
	if p.Size() != 0 {
		t.Fatalf("%d workers left after Join", p.Size())
	}

	q := newPool(t, mp.Workers(1))
	f := q.ApplyAsync(ctx, targets.SleepNoCtx, []any{time.Hour}, nil)
	time.Sleep(100 * time.Millisecond)
	q.Terminate()
	if _, err := f.GetContext(ctx); err == nil {
		t.Fatal("a running call survived Terminate")
	}
	if err := q.Join(); err != nil {
		t.Fatal(err)
	}

	r := newPool(t, mp.Workers(1), mp.IdleTimeout(200*time.Millisecond))
	deadline := time.Now().Add(10 * time.Second)
	for r.Size() != 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if r.Size() != 0 {
		t.Fatal("idle worker did not retire")
	}
	if v, err := r.Apply(ctx, targets.Echo, []any{"woken"}, nil); err != nil || v != "woken" {
		t.Fatalf("pool after idle retirement: %v, %v", v, err)
	}
}

func TestPoolMaxRSS(t *testing.T) {
	skipOnWindows(t, "a worker's resident memory is read from /proc (Linux only)")
	skipOnPortable(t, "a worker's resident memory is read from /proc (Linux only)")
	ctx := testCtx(t)
	p := newPool(t, mp.Workers(1), mp.MaxRSS(64<<20))
	first, err := mp.Submit[int](ctx, p, targets.Grow, 128).GetContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	second, err := mp.Submit[int](ctx, p, targets.Grow, 1).GetContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if first == second {
		t.Fatalf("worker %d passed the RSS cap but was not replaced", first)
	}
}

func TestPoolExecutorForm(t *testing.T) {
	ctx := testCtx(t)
	p := newPool(t, mp.Workers(1))
	running := p.ApplyAsync(ctx, targets.SleepNoCtx, []any{300 * time.Millisecond}, nil)
	time.Sleep(100 * time.Millisecond) // the worker takes the first call
	var queued []*mp.Future[any]
	for i := range 20 {
		queued = append(queued, p.ApplyAsync(ctx, targets.Add, []any{i, 1}, nil))
	}
	if !queued[19].Cancel() {
		t.Fatal("Cancel of a queued call returned false")
	}
	if _, err := queued[19].GetContext(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled future: %v", err)
	}
	if running.Cancel() {
		t.Fatal("Cancel of a running call returned true")
	}
	p.Shutdown(true)
	if err := p.JoinContext(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := running.GetContext(ctx); err != nil {
		t.Fatalf("the running call was lost by Shutdown: %v", err)
	}
	cancelled, done := 0, 0
	for _, f := range queued {
		v, err := f.GetContext(ctx)
		switch {
		case errors.Is(err, context.Canceled):
			cancelled++
		case err == nil && v != nil:
			done++
		default:
			t.Fatalf("future after Shutdown: %v, %v", v, err)
		}
	}
	if cancelled == 0 || cancelled+done != len(queued) {
		t.Fatalf("Shutdown(cancel pending): %d cancelled, %d done of %d", cancelled, done, len(queued))
	}
	if _, err := p.Apply(ctx, targets.Noop, nil, nil); !errors.Is(err, mp.ErrPoolClosed) {
		t.Fatalf("Apply after Shutdown = %v", err)
	}
}

// A chunk of Map runs through the target's generated Batch: an item that
// panics or fails is reported as its own *TaskError, and the items around
// it still run.
func TestPoolMapTypedBatchFailures(t *testing.T) {
	ctx := testCtx(t)
	p := newPool(t, mp.Workers(1))
	_, err := mp.Map[string, struct{}](ctx, p, targets.Panic, []string{"a", "b", "c"}, mp.Chunksize(3))
	var te *mp.TaskError
	var pe *mp.PanicError
	if !errors.As(err, &te) || te.Index != 0 || !errors.As(err, &pe) || !strings.Contains(pe.Value, "target says a") {
		t.Fatalf("Map over a panicking target = %v, want a *TaskError for item 0 wrapping its *PanicError", err)
	}
	got, err := mp.Map[int, int](ctx, p, targets.FailOdd, []int{1, 2, 4, 6, 8, 9}, mp.Chunksize(6))
	if !errors.As(err, &te) || te.Index != 0 || !errors.Is(err, targets.ErrBoom) {
		t.Fatalf("Map with failures = %v", err)
	}
	if !slices.Equal(got, []int{0, 2, 4, 6, 8, 0}) {
		t.Fatalf("results around the failed items: %v", got)
	}
	stillServes(t, ctx, p)
}

// TestPoolHandles: handles reach pool workers beside a call and through the
// initializer, also in a worker that replaced a crashed one; Map refuses
// them with an error instead of losing them.
func TestPoolHandles(t *testing.T) {
	noNewFDs(t)
	ctx := context.Background()
	q := newQueue[int](t, 0)
	pool, err := mp.NewPool(ctx, mp.Workers(2), mp.Initializer(targets.SetSink, q))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		pool.Close()
		_ = pool.Join()
	}()
	emit := func(from, to int) {
		t.Helper()
		var fs []*mp.Future[any]
		for i := from; i < to; i++ {
			fs = append(fs, pool.ApplyAsync(ctx, targets.Emit, []any{i}, nil))
		}
		for _, f := range fs {
			if _, err := f.GetContext(ctx); err != nil {
				t.Fatalf("Emit: %v", err)
			}
		}
	}
	emit(0, 50)
	if _, err := pool.Apply(ctx, targets.Exit, []any{3}, nil); err == nil {
		t.Fatal("a crashing call succeeded")
	}
	emit(50, 100) // the replacement worker got the queue from its initializer
	sum := 0
	for range 100 {
		v, err := q.GetTimeout(10 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		sum += v
	}
	if sum != 99*100/2 {
		t.Fatalf("sum of emitted values = %d, want %d", sum, 99*100/2)
	}

	a, b, err := mp.Pipe[string](true)
	if err != nil {
		t.Fatal(err)
	}
	f := pool.ApplyAsync(ctx, targets.Upper, []any{b}, nil)
	b.Close()
	if err := a.Send("pool"); err != nil {
		t.Fatal(err)
	}
	if s, err := a.Recv(); s != "POOL" || err != nil {
		t.Fatalf("Recv = %q, %v", s, err)
	}
	a.Close()
	if _, err := f.GetContext(ctx); err != nil {
		t.Fatalf("Upper on a worker: %v", err)
	}

	if _, err := mp.Starmap[any](ctx, pool, targets.SetSink, [][]any{{q}}); !errors.As(err, new(*mp.ArgError)) {
		t.Fatalf("Starmap with a handle: %v, want an *ArgError", err)
	}
}

// TestPoolWorkerDeliversItsBacklog: values a pool call put that still wait
// in the worker when the pool closes are delivered before the worker exits.
func TestPoolWorkerDeliversItsBacklog(t *testing.T) {
	ctx := context.Background()
	q := newQueue[int](t, 0)
	pool, err := mp.NewPool(ctx, mp.Workers(1))
	if err != nil {
		t.Fatal(err)
	}
	const n = 20000 // far more than the socket holds
	if _, err := pool.Apply(ctx, targets.Produce, []any{q, 0, n}, nil); err != nil {
		t.Fatal(err)
	}
	got := make(chan int)
	go func() {
		c := 0
		for {
			if _, err := q.GetTimeout(2 * time.Second); err != nil {
				got <- c
				return
			}
			c++
		}
	}()
	pool.Close()
	if err := pool.Join(); err != nil {
		t.Fatal(err)
	}
	if c := <-got; c != n {
		t.Fatalf("the parent got %d of the %d values the call put", c, n)
	}
}

// TestPoolCancelledHandleCallsKeepTheirWorker: cancelling calls that carry
// handles, at any moment of their sending, never costs the worker.
func TestPoolCancelledHandleCallsKeepTheirWorker(t *testing.T) {
	ctx := context.Background()
	q := newQueue[int](t, 0)
	pool, err := mp.NewPool(ctx, mp.Workers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { pool.Terminate(); _ = pool.Join() }()
	pid := pool.Pids()[0]
	for i := range 20000 {
		cctx, cancel := context.WithCancel(ctx)
		spin := i % 2000
		go func() {
			for j := 0; j < spin; j++ {
				_ = j
			}
			cancel()
		}()
		_, _ = pool.ApplyAsync(cctx, targets.SetSink, []any{q}, nil).GetContext(ctx)
	}
	if p := pool.Pids(); len(p) != 1 || p[0] != pid {
		t.Fatalf("worker %d was replaced by %v: a cancel broke its channel", pid, p)
	}
}

// TestPoolKeptValuesNeverHangJoin: a worker that retires holding values
// from a batch exits even while the pool's parent, waiting in Join, keeps
// the queue's socket full (as TestQueueKeptValuesNeverHangAnExit).
func TestPoolKeptValuesNeverHangJoin(t *testing.T) {
	noNewFDs(t)
	ctx := testCtx(t)
	q := newQueue[int](t, 0)
	const n, more, k = 20000, 40000, 1000
	want := putInts(t, q, 0, n)
	p := newPool(t, mp.Workers(1))
	taken, err := p.Apply(ctx, targets.TakeSome, []any{q, k}, nil)
	if err != nil {
		t.Fatalf("TakeSome: %v", err)
	}
	want += fillUp(t, q, n, n+more)
	p.Close()
	if err := p.JoinTimeout(30 * time.Second); err != nil {
		t.Fatalf("Join of a pool whose worker retired holding values from a batch, the queue kept full: %v", err)
	}
	if got := getInts(t, q, n+more-k); taken.(int)+got != want {
		t.Fatalf("sum of every value got = %d, want %d", taken.(int)+got, want)
	}
}

// TestPoolMapOptionsRange: a negative Chunksize or InFlight fails the call
// with an *ArgError naming the option (Python's ValueError "Chunksize must
// be 1+"); 0 means the default.
func TestPoolMapOptionsRange(t *testing.T) {
	ctx := testCtx(t)
	p := newPool(t, mp.Workers(1))
	items := []int{1, 2, 3}
	check := func(what string, err error, option string) {
		t.Helper()
		var ae *mp.ArgError
		if !errors.As(err, &ae) || !strings.Contains(err.Error(), option) {
			t.Errorf("%s: %v, want an *ArgError about %s", what, err, option)
		}
	}
	_, err := mp.Map[int, int](ctx, p, targets.Identity, items, mp.Chunksize(-1))
	check("Map with Chunksize(-1)", err, "Chunksize")
	_, err = mp.Starmap[int](ctx, p, targets.Add, [][]any{{1, 2}}, mp.Chunksize(-2))
	check("Starmap with Chunksize(-2)", err, "Chunksize")
	for name, seq := range map[string]func(yield func(mp.Outcome[int]) bool){
		"IMap with InFlight(-1)":           mp.IMap[int, int](ctx, p, targets.Identity, items, mp.InFlight(-1)),
		"IMapUnordered with Chunksize(-1)": mp.IMapUnordered[int, int](ctx, p, targets.Identity, items, mp.Chunksize(-1)),
		"IMapUnordered with InFlight(-5)":  mp.IMapUnordered[int, int](ctx, p, targets.Identity, items, mp.InFlight(-5)),
	} {
		var errs []error
		for o := range seq {
			errs = append(errs, o.Err)
		}
		option := "InFlight"
		if strings.Contains(name, "Chunksize") {
			option = "Chunksize"
		}
		if len(errs) != 1 {
			t.Errorf("%s: %d outcomes, want one error", name, len(errs))
			continue
		}
		check(name, errs[0], option)
	}
	if got, err := mp.Map[int, int](ctx, p, targets.Identity, items, mp.Chunksize(0), mp.InFlight(0)); err != nil || len(got) != 3 {
		t.Errorf("Map with Chunksize(0), InFlight(0) = %v, %v", got, err)
	}
}

// waitReplaced waits until the pool has n workers, none of them in gone.
func waitReplaced(t *testing.T, p *mp.Pool, n int, gone []int) {
	t.Helper()
	if !targets.Eventually(20*time.Second, func() bool {
		pids := p.Pids()
		return len(pids) == n && !slices.ContainsFunc(pids, func(pid int) bool { return slices.Contains(gone, pid) })
	}) {
		t.Fatalf("workers %v, want %d new ones (the old were %v)", p.Pids(), n, gone)
	}
}

// An initializer that kills its worker (os.Exit, a crash) makes NewPool
// fail with an *ExitError carrying the worker's exit code, like every
// other death of a child. (Regression test: before f533d32 it said
// "worker initializer: EOF".)
func TestPoolInitializerCrashIsTyped(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := mp.NewPool(ctx, mp.Workers(1), mp.Initializer(targets.Exit, 5))
	if err == nil {
		endPool(t, p)
		t.Fatal("NewPool with an initializer that exits succeeded")
	}
	var ee *mp.ExitError
	if !errors.As(err, &ee) || ee.Code != 5 {
		t.Fatalf("NewPool = %v; want an *ExitError with code 5", err)
	}
}

// A worker that crashes fails exactly the call it was running, and the
// calls it had finished keep their results. (Regression test of a bug
// fixed in f533d32: the worker buffered the results of finished calls
// while more were queued behind them, so a crash lost them; the parent
// blamed the oldest finished call and sent the crashing one to another
// worker, which it crashed too: 177 innocent calls of 10,000 in the soak.)
func TestPoolCrashBlamesTheRightCall(t *testing.T) {
	ctx := testCtx(t)
	var stderr targets.SyncBuffer
	p := newPool(t, mp.Workers(1), mp.PoolOutput(nil, &stderr))
	first := p.Pids()
	// The sleep keeps the worker busy while the other calls arrive, so
	// they queue behind it in the worker (it takes four at a time).
	sleep := p.ApplyAsync(ctx, targets.SleepNoCtx, []any{200 * time.Millisecond}, nil)
	two := p.ApplyAsync(ctx, targets.Identity, []any{2}, nil)
	crash := p.ApplyAsync(ctx, targets.Exit, []any{7}, nil)
	four := p.ApplyAsync(ctx, targets.Identity, []any{4}, nil)
	if _, err := getBounded(t, sleep, 30*time.Second); err != nil {
		t.Errorf("the call that finished before the crash: %v", err)
	}
	if v, err := getBounded(t, two, 30*time.Second); err != nil || v != 2 {
		t.Errorf("the second call, finished before the crash: %v, %v", v, err)
	}
	var ee *mp.ExitError
	if _, err := getBounded(t, crash, 30*time.Second); !errors.As(err, &ee) || ee.Code != 7 || !strings.HasSuffix(ee.Target, ".Exit") {
		t.Errorf("the crashing call: %v, want its *ExitError with code 7", err)
	}
	if v, err := getBounded(t, four, 30*time.Second); err != nil || v != 4 {
		t.Errorf("the call queued behind the crash: %v, %v", v, err)
	}
	waitReplaced(t, p, 1, first)
}
