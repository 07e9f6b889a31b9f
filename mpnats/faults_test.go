package mpnats_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	"github.com/mpgen/mpgen/mpnats"
	mp "github.com/mpgen/mpgen/runtime"
)

// Cancelling a call's context cancels it on its worker within 50 ms, and
// a deadline ends it there too, with the same *mp.TimeoutError as a local
// pool gives; in both delivery modes.
func TestCancelAndDeadline(t *testing.T) {
	s := runServer(t, nil)
	for _, durable := range []bool{false, true} {
		app := "cancel-" + strconv.FormatBool(durable)
		t.Run(app, func(t *testing.T) {
			serveHere(t, s, app, mpnats.Durable(durable), mpnats.Slots(1))
			pool := dial(t, s, app, mpnats.Durable(durable))

			ctx, cancel := context.WithCancel(context.Background())
			f := pool.ApplyAsync(ctx, watched, []any{5 * time.Second}, nil)
			time.Sleep(100 * time.Millisecond) // let it start on the worker
			cancelled := time.Now()
			cancel()
			if _, err := f.Get(); !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled call: %v, want context.Canceled", err)
			}
			if d := workerEnd(t).Sub(cancelled); d > 50*time.Millisecond {
				t.Errorf("the worker's call ended %v after the cancel, want within 50ms", d)
			}

			ctx, cancel = context.WithTimeout(context.Background(), 150*time.Millisecond)
			defer cancel()
			deadline, _ := ctx.Deadline()
			_, err := pool.Apply(ctx, watched, []any{5 * time.Second}, nil)
			var te *mp.TimeoutError
			if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) || te.After <= 0 {
				t.Fatalf("call past its deadline: %#v, want a *mp.TimeoutError with After", err)
			}
			if d := workerEnd(t).Sub(deadline); d > 50*time.Millisecond {
				t.Errorf("the worker's call ended %v after the deadline, want within 50ms", d)
			}
			// The slot is free again.
			if got, err := mp.Submit[int](context.Background(), pool, targets.Add, 1, 1).Get(); err != nil || got != 2 {
				t.Fatalf("after: %v, %v", got, err)
			}
		})
	}
}

// workerEnd is when the last call of watched ended on the (in-process)
// worker.
func workerEnd(t *testing.T) time.Time {
	t.Helper()
	select {
	case at := <-ended:
		return at
	case <-time.After(5 * time.Second):
		t.Fatal("the worker's call did not end")
		return time.Time{}
	}
}

// With no worker for the app, a direct call fails at once with
// ErrNoWorkers, naming the target and its subject; so does a durable call
// when no worker has made the work queue.
func TestNoWorkers(t *testing.T) {
	s := runServer(t, nil)
	for _, durable := range []bool{false, true} {
		pool := dial(t, s, "nobody", mpnats.Durable(durable))
		start := time.Now()
		_, err := mp.Submit[int](context.Background(), pool, targets.Add, 1, 2).Get()
		took := time.Since(start)
		if !errors.Is(err, mpnats.ErrNoWorkers) {
			t.Fatalf("durable=%v: %v, want ErrNoWorkers", durable, err)
		}
		for _, want := range []string{"targets.Add", ".nobody.", "start a worker"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("durable=%v: %q does not say %q", durable, err, want)
			}
		}
		if took > 100*time.Millisecond {
			t.Errorf("durable=%v: ErrNoWorkers after %v, want under 100ms", durable, took)
		}
	}
}

// A worker built from code whose target changed its parameter type is not
// reached: the call fails with ErrNoWorkers, not with a decode error on
// the worker; in the durable mode too, where that worker takes the call
// off the queue and says so.
func TestSignatureMismatch(t *testing.T) {
	s := runServer(t, nil)
	for _, durable := range []bool{false, true} {
		app := "sig-" + strconv.FormatBool(durable)
		opts := []string{"variant", "slots=1"}
		if durable {
			opts = append(opts, "durable")
		}
		startWorker(t, s, app, opts...)
		pool := dial(t, s, app, mpnats.Durable(durable))
		start := time.Now()
		_, err := mp.Submit[int](context.Background(), pool, versioned, 3).Get()
		if !errors.Is(err, mpnats.ErrNoWorkers) || !strings.Contains(err.Error(), "mpnats_test.versioned") {
			t.Fatalf("durable=%v: %v, want ErrNoWorkers naming the target", durable, err)
		}
		if took := time.Since(start); took > 100*time.Millisecond {
			t.Errorf("durable=%v: ErrNoWorkers after %v, want under 100ms", durable, took)
		}
		// The same worker serves the targets that did not change.
		if got, err := mp.Submit[int](context.Background(), pool, targets.Add, 2, 2).Get(); err != nil || got != 4 {
			t.Fatalf("durable=%v: Add: %v, %v", durable, got, err)
		}
	}
}

// A durable call whose worker is SIGKILLed while running it is delivered
// again to another worker, and succeeds there: it ran twice.
func TestDurableWorkerKilled(t *testing.T) {
	s := runServer(t, nil)
	const app = "killed-durable"
	a := startWorker(t, s, app, "durable", "slots=1", "ackwait=1s")
	pool := dial(t, s, app, mpnats.Durable(true))
	runs := filepath.Join(t.TempDir(), "runs")
	start := time.Now()
	f := mp.Submit[int](context.Background(), pool, record, runs, 1500*time.Millisecond)
	waitRuns(t, runs, 1)
	b := startWorker(t, s, app, "durable", "slots=1", "ackwait=1s")
	a.kill()
	pid, err := f.Get()
	if err != nil {
		t.Fatalf("redelivered call: %v", err)
	}
	if pid != b.cmd.Process.Pid {
		t.Errorf("the call's result came from pid %d, want the second worker's %d", pid, b.cmd.Process.Pid)
	}
	if n := len(readRuns(t, runs)); n != 2 {
		t.Errorf("the call ran %d times, want 2", n)
	}
	t.Logf("redelivered and done after %v", time.Since(start))
}

// A direct call whose worker is SIGKILLed fails with *WorkerLostError
// within three heartbeats, not at the caller's own deadline.
func TestDirectWorkerKilled(t *testing.T) {
	s := runServer(t, nil)
	const app = "killed-direct"
	a := startWorker(t, s, app, "slots=1")
	pool := dial(t, s, app, mpnats.Heartbeat(100*time.Millisecond))
	runs := filepath.Join(t.TempDir(), "runs")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := mp.Submit[int](ctx, pool, record, runs, 20*time.Second)
	waitRuns(t, runs, 1)
	time.Sleep(250 * time.Millisecond) // heartbeats flow: the call is alive
	killed := time.Now()
	a.kill()
	_, err := f.Get()
	var lost *mpnats.WorkerLostError
	if !errors.As(err, &lost) || lost.Target != "mpnats_test.record" {
		t.Fatalf("call on a killed worker: %v, want a *WorkerLostError", err)
	}
	if d := time.Since(killed); d > 2*time.Second {
		t.Errorf("WorkerLostError %v after the kill, want within about 3 heartbeats (300ms)", d)
	}
}

func waitRuns(t *testing.T, path string, n int) {
	t.Helper()
	if !targets.Eventually(10*time.Second, func() bool { return len(readRuns(t, path)) >= n }) {
		t.Fatalf("the target did not run %d times", n)
	}
}

func readRuns(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// Durable calls go to whichever worker slot is free: 40 calls of 50 ms on
// 2 workers of 1 slot finish close to the ideal 1 s, 20 on each.
func TestDurableBalance(t *testing.T) {
	s := runServer(t, nil)
	const app = "balance"
	a := startWorker(t, s, app, "durable", "slots=1")
	b := startWorker(t, s, app, "durable", "slots=1")
	pool := dial(t, s, app, mpnats.Durable(true))
	in := make([]time.Duration, 40)
	for i := range in {
		in[i] = 50 * time.Millisecond
	}
	start := time.Now()
	pids, err := mp.Map[time.Duration, int](context.Background(), pool, sleepWho, in, mp.Chunksize(1))
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	count := map[int]int{}
	for _, p := range pids {
		count[p]++
	}
	na, nb := count[a.cmd.Process.Pid], count[b.cmd.Process.Pid]
	t.Logf("makespan %v (ideal 1s), split %d/%d", took, na, nb)
	if na+nb != 40 || na < 18 || nb < 18 {
		t.Errorf("split %d/%d over the two workers, want 20/20 ± 2", na, nb)
	}
}

// A worker reports ready only once served: a call sent the moment
// OnReady runs reaches it, every time.
func TestReadyMeansServed(t *testing.T) {
	s := runServer(t, nil)
	caller := connect(t, s, "ready")
	for i := range 100 {
		app := "ready-" + strconv.Itoa(i)
		nc := connect(t, s, app)
		stop := startServe(t, nc, app, mpnats.Slots(1))
		pool, err := mpnats.Dial(context.Background(), caller, mpnats.App(app))
		if err != nil {
			t.Fatal(err)
		}
		got, err := mp.Submit[int](context.Background(), pool, targets.Add, i, 1).Get()
		pool.Close()
		if serr := stop(); serr != nil {
			t.Fatal(serr)
		}
		if err != nil || got != i+1 {
			t.Fatalf("call %d right after OnReady: %v, %v", i, got, err)
		}
		if err := pool.JoinTimeout(5 * time.Second); err != nil {
			t.Fatal(err)
		}
		nc.Close()
	}
}

// A worker that stops (its Serve's context ends) while running a direct
// call cancels it, and its caller gets a *WorkerLostError at once.
func TestWorkerStops(t *testing.T) {
	s := runServer(t, nil)
	const app = "stops"
	stop := startServe(t, connect(t, s, app), app, mpnats.Slots(1))
	pool := dial(t, s, app)
	f := pool.ApplyAsync(context.Background(), watched, []any{10 * time.Second}, nil)
	time.Sleep(100 * time.Millisecond) // running on the worker
	stopped := time.Now()
	serr := make(chan error, 1)
	go func() { serr <- stop() }()
	_, err := f.Get()
	var lost *mpnats.WorkerLostError
	if !errors.As(err, &lost) || lost.Silent != 0 {
		t.Fatalf("call on a stopping worker: %v, want a *WorkerLostError saying it stopped", err)
	}
	if d := time.Since(stopped); d > time.Second {
		t.Errorf("the caller heard %v after the worker stopped", d)
	}
	if err := <-serr; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	<-ended
}

// A worker that stops while running a durable call gives it back to the
// queue, and another worker runs it.
func TestDurableWorkerStops(t *testing.T) {
	s := runServer(t, nil)
	const app = "stops-durable"
	stop := startServe(t, connect(t, s, app), app, mpnats.Durable(true), mpnats.Slots(1))
	pool := dial(t, s, app, mpnats.Durable(true))
	runs := filepath.Join(t.TempDir(), "runs")
	f := mp.Submit[int](context.Background(), pool, record, runs, 500*time.Millisecond)
	waitRuns(t, runs, 1)
	b := startWorker(t, s, app, "durable", "slots=1")
	stopped := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if d := time.Since(stopped); d > 300*time.Millisecond {
		t.Errorf("Serve took %v to stop: it must cancel its durable call, not wait for it", d)
	}
	pid, err := f.Get()
	if err != nil || pid != b.cmd.Process.Pid {
		t.Fatalf("the call given back: pid %d, %v; want the second worker's %d", pid, err, b.cmd.Process.Pid)
	}
	if n := len(readRuns(t, runs)); n != 2 {
		t.Errorf("the call ran %d times, want 2", n)
	}
}

// A durable call whose deliveries run out (its workers keep dying) fails
// with ErrMaxDeliver: its caller does not wait for ever.
func TestDurableMaxDeliver(t *testing.T) {
	s := runServer(t, nil)
	const app = "max-deliver"
	a := startWorker(t, s, app, "durable", "slots=1", "ackwait=500ms", "maxdeliver=1")
	pool := dial(t, s, app, mpnats.Durable(true))
	runs := filepath.Join(t.TempDir(), "runs")
	f := mp.Submit[int](context.Background(), pool, record, runs, 10*time.Second)
	waitRuns(t, runs, 1)
	a.kill()
	_, err := f.GetTimeout(10 * time.Second)
	if !errors.Is(err, mpnats.ErrMaxDeliver) || !strings.Contains(err.Error(), "mpnats_test.record") {
		t.Fatalf("a call whose one delivery died: %v, want ErrMaxDeliver naming the target", err)
	}
}

// A cancel that overtakes its call (they travel on different
// subscriptions) still cancels it on the worker.
func TestCancelOvertakes(t *testing.T) {
	s := runServer(t, nil)
	const app = "overtake"
	serveHere(t, s, app, mpnats.Slots(1))
	pool := dial(t, s, app)
	for i := range 20 {
		ctx, cancel := context.WithCancel(context.Background())
		f := pool.ApplyAsync(ctx, watched, []any{5 * time.Second}, nil)
		cancel()
		if _, err := f.Get(); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled call: %v", err)
		}
		// The worker's one slot is free again only once the cancelled
		// call has ended there (or never started).
		ctx, cancel = context.WithTimeout(context.Background(), 2*time.Second)
		got, err := mp.Submit[int](ctx, pool, targets.Add, i, 1).Get()
		cancel()
		if err != nil || got != i+1 {
			t.Fatalf("call %d after a cancelled one: %v, %v (the cancel did not reach the worker)", i, got, err)
		}
	}
	for len(ended) > 0 {
		<-ended
	}
}

// Durable workers serving different targets share one work queue: each
// call reaches a worker that serves its target.
func TestDurableMixedTargets(t *testing.T) {
	s := runServer(t, nil)
	const app = "mixed"
	serveHere(t, s, app, mpnats.Durable(true), mpnats.Slots(1), mpnats.Targets(targets.Add))
	serveHere(t, s, app, mpnats.Durable(true), mpnats.Slots(1), mpnats.Targets(targets.Echo))
	pool := dial(t, s, app, mpnats.Durable(true))
	ctx := context.Background()
	for i := range 10 {
		if got, err := mp.Submit[int](ctx, pool, targets.Add, i, 1).Get(); err != nil || got != i+1 {
			t.Fatalf("Add %d: %v, %v", i, got, err)
		}
		if got, err := mp.Submit[string](ctx, pool, targets.Echo, "x").Get(); err != nil || got != "x" {
			t.Fatalf("Echo %d: %v, %v", i, got, err)
		}
	}
}
