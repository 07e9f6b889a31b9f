//go:build linux || windows

package mp_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

// blocking is one blocking call of the API in its three forms, set up so
// that it cannot complete.
type blocking struct {
	name    string
	op      string // the TimeoutError's Op
	also    error  // what the timeout matches besides the deadline, if anything
	timeout func(d time.Duration) error
	context func(ctx context.Context) error
}

// blockingCalls makes one of every blocking call that cannot complete.
func blockingCalls(t *testing.T) []blocking {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	closeLater := func(c interface{ Close() error }) { t.Cleanup(func() { _ = c.Close() }) }

	lock, err := mp.NewLock()
	must(err)
	closeLater(lock)
	lock.Lock() // held: nobody gets it
	t.Cleanup(lock.Unlock)

	sem, err := mp.NewSemaphore(0)
	must(err)
	closeLater(sem)
	ev, err := mp.NewEvent()
	must(err)
	closeLater(ev)
	cond, err := mp.NewCondition(nil)
	must(err)
	closeLater(cond)
	val, err := mp.NewValue[int64](0)
	must(err)
	closeLater(val)
	val.Lock()
	t.Cleanup(val.Unlock)

	empty := newQueue[int](t, 0)
	full := newQueue[int](t, 1)
	must(full.Put(1))
	unfinished := newQueue[int](t, 0)
	must(unfinished.Put(1))

	r, w, err := mp.Pipe[int](false)
	must(err)
	closeLater(r)
	closeLater(w)

	pool := newPool(t, mp.Workers(1))
	slow := mp.Submit[struct{}](context.Background(), pool, targets.Sleep, 10*time.Second)
	t.Cleanup(func() { slow.Cancel() })
	child, err := mp.Spawn[struct{}](context.Background(), targets.Sleep, 10*time.Second)
	must(err)
	t.Cleanup(func() { child.Cancel(); _, _ = child.Get() })
	proc := &mp.Process{Target: targets.Sleep, Args: []any{10 * time.Second}}
	must(proc.Start())
	t.Cleanup(func() { _ = proc.Kill(); _ = proc.Join() })

	withLock := func(f func() error) error {
		cond.Lock()
		defer cond.Unlock()
		return f()
	}
	never := func() bool { return false }
	return []blocking{
		{"Lock", "Lock.Acquire", nil, lock.AcquireTimeout, lock.AcquireContext},
		{"Value", "Value.Acquire", nil, val.AcquireTimeout, val.AcquireContext},
		{"Semaphore", "Semaphore.Acquire", nil, sem.AcquireTimeout, sem.AcquireContext},
		{"Event", "Event.Wait", nil, ev.WaitTimeout, ev.WaitContext},
		{"Condition.Wait", "Condition.Wait", nil,
			func(d time.Duration) error { return withLock(func() error { return cond.WaitTimeout(d) }) },
			func(ctx context.Context) error { return withLock(func() error { return cond.WaitContext(ctx) }) }},
		{"Condition.WaitFor", "Condition.WaitFor", nil,
			func(d time.Duration) error { return withLock(func() error { return cond.WaitForTimeout(never, d) }) },
			func(ctx context.Context) error {
				return withLock(func() error { return cond.WaitForContext(ctx, never) })
			}},
		{"Barrier", "Barrier.Wait", mp.ErrBrokenBarrier,
			func(d time.Duration) error {
				b, err := mp.NewBarrier(2)
				must(err)
				defer b.Close()
				_, err = b.WaitTimeout(d)
				return err
			},
			func(ctx context.Context) error {
				b, err := mp.NewBarrier(2)
				must(err)
				defer b.Close()
				_, err = b.WaitContext(ctx)
				return err
			}},
		{"Queue.Get", "Queue.Get", mp.ErrQueueEmpty,
			func(d time.Duration) error { _, err := empty.GetTimeout(d); return err },
			func(ctx context.Context) error { _, err := empty.GetContext(ctx); return err }},
		{"Queue.Put", "Queue.Put", mp.ErrQueueFull,
			func(d time.Duration) error { return full.PutTimeout(2, d) },
			func(ctx context.Context) error { return full.PutContext(ctx, 2) }},
		{"Queue.Join", "Queue.Join", nil, unfinished.JoinTimeout, unfinished.JoinContext},
		{"Conn.Recv", "Conn.Recv", nil,
			func(d time.Duration) error { _, err := r.RecvTimeout(d); return err },
			func(ctx context.Context) error { _, err := r.RecvContext(ctx); return err }},
		{"Wait", "Wait", nil,
			func(d time.Duration) error { _, err := mp.WaitTimeout(d, r, empty, proc); return err },
			func(ctx context.Context) error { _, err := mp.WaitContext(ctx, r, empty, proc); return err }},
		{"Process.Join", "Process.Join", nil, proc.JoinTimeout, proc.JoinContext},
		{"Future.Get of a pool call", "Future.Get", nil,
			func(d time.Duration) error { _, err := slow.GetTimeout(d); return err },
			func(ctx context.Context) error { _, err := slow.GetContext(ctx); return err }},
		{"Future.Get of a spawned child", "Future.Get", nil,
			func(d time.Duration) error { _, err := child.GetTimeout(d); return err },
			func(ctx context.Context) error { _, err := child.GetContext(ctx); return err }},
	}
}

// TestBlockingCallsTimeOutAlike: every XTimeout(d) and every XContext(ctx)
// whose deadline passes returns a *TimeoutError naming the operation, which
// matches context.DeadlineExceeded and os.ErrDeadlineExceeded and reports
// Timeout(); an XContext whose context is cancelled returns
// context.Canceled, not a timeout.
func TestBlockingCallsTimeOutAlike(t *testing.T) {
	for _, c := range blockingCalls(t) {
		t.Run(c.name, func(t *testing.T) {
			check := func(form string, err error, after time.Duration) {
				t.Helper()
				var te *mp.TimeoutError
				if !errors.As(err, &te) {
					t.Fatalf("%s: %v (%T), want a *TimeoutError", form, err, err)
				}
				if te.Op != c.op || !te.Timeout() || !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Errorf("%s: %#v (%v), want Op %q matching both deadline errors", form, te, err, c.op)
				}
				if after >= 0 && te.After != after {
					t.Errorf("%s: After = %v, want %v", form, te.After, after)
				}
				if c.also != nil && !errors.Is(err, c.also) {
					t.Errorf("%s: %v does not match %v", form, err, c.also)
				}
			}
			start := time.Now()
			check("XTimeout(30ms)", c.timeout(30*time.Millisecond), 30*time.Millisecond)
			if d := time.Since(start); d < 30*time.Millisecond || d > 10*time.Second {
				t.Errorf("XTimeout(30ms) returned after %v", d)
			}
			check("XTimeout(0)", c.timeout(0), 0)
			check("XTimeout(-1s)", c.timeout(-time.Second), 0)

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			defer cancel()
			check("XContext(deadline)", c.context(ctx), -1)

			cctx, ccancel := context.WithCancel(context.Background())
			time.AfterFunc(20*time.Millisecond, ccancel)
			err := c.context(cctx)
			var te *mp.TimeoutError
			if !errors.Is(err, context.Canceled) || errors.As(err, &te) {
				t.Errorf("XContext(cancelled): %v, want context.Canceled", err)
			}
		})
	}
}

// TestBlockingCallsComplete: the plain form X() blocks until done, and an
// XTimeout or XContext call that can complete does, also with d <= 0 when
// it is ready at once.
func TestBlockingCallsComplete(t *testing.T) {
	ctx := testCtx(t)
	q := newQueue[int](t, 0)
	for i := range 3 {
		if err := q.Put(i); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Flush(); err != nil {
		t.Fatal(err)
	}
	if v, err := q.GetTimeout(0); err != nil || v != 0 {
		t.Fatalf("GetTimeout(0) with a value ready: %v, %v", v, err)
	}
	if v, err := q.GetTimeout(-time.Second); err != nil || v != 1 {
		t.Fatalf("GetTimeout(-1s) with a value ready: %v, %v", v, err)
	}
	if v, err := q.Get(); err != nil || v != 2 {
		t.Fatalf("Get: %v, %v", v, err)
	}
	for range 3 {
		if err := q.TaskDone(); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.JoinTimeout(0); err != nil {
		t.Fatalf("JoinTimeout(0) with every task done: %v", err)
	}
	if err := q.FlushTimeout(0); err != nil {
		t.Fatalf("FlushTimeout(0) with nothing waiting: %v", err)
	}

	a, b, err := mp.Pipe[string](true)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	if err := a.SendTimeout("now", 0); err != nil {
		t.Fatalf("SendTimeout(0) with room: %v", err)
	}
	if v, err := b.RecvTimeout(0); err != nil || v != "now" {
		t.Fatalf("RecvTimeout(0) with a value ready: %q, %v", v, err)
	}
	if err := b.SendTimeout("back", time.Second); err != nil {
		t.Fatal(err)
	}
	if ready, err := mp.WaitTimeout(0, a); err != nil || len(ready) != 1 {
		t.Fatalf("WaitTimeout(0) with a value ready: %v, %v", ready, err)
	}
	if v, err := a.Recv(); err != nil || v != "back" {
		t.Fatalf("Recv: %q, %v", v, err)
	}

	p := &mp.Process{Target: targets.Echo, Args: []any{"x"}}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	if err := p.JoinContext(ctx); err != nil {
		t.Fatal(err)
	}
	for _, d := range []time.Duration{0, -time.Second} {
		if err := p.JoinTimeout(d); err != nil {
			t.Fatalf("JoinTimeout(%v) of an ended child: %v", d, err)
		}
	}

	pool := newPool(t, mp.Workers(1))
	f := mp.Submit[int](ctx, pool, targets.Add, 1, 2)
	if v, err := f.Get(); err != nil || v != 3 || !f.Ready() || !f.Successful() {
		t.Fatalf("Submit then Get: %v, %v", v, err)
	}
	if v, err := f.GetTimeout(0); err != nil || v != 3 {
		t.Fatalf("GetTimeout(0) of a finished call: %v, %v", v, err)
	}
	pool.Shutdown(false)
	if err := pool.JoinTimeout(30 * time.Second); err != nil {
		t.Fatalf("JoinTimeout after Shutdown: %v", err)
	}
	if err := pool.JoinTimeout(0); err != nil {
		t.Fatalf("JoinTimeout(0) of an ended pool: %v", err)
	}
}

// TestZeroTimeoutsSeeWaitingValues: Poll(0) and GetTimeout(0) look before
// any deadline, as Python's poll() and get(timeout=0) do.
func TestZeroTimeoutsSeeWaitingValues(t *testing.T) {
	a, b, err := mp.Pipe[int](true)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	if err := a.Send(1); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.Poll(0); !ok || err != nil {
		t.Fatalf("Poll(0) with a value waiting = %v, %v", ok, err)
	}
	q := newQueue[int](t, 0)
	if err := q.Put(5); err != nil {
		t.Fatal(err)
	}
	if v, err := q.GetTimeout(0); v != 5 || err != nil {
		t.Fatalf("GetTimeout(0) with a value waiting = %v, %v", v, err)
	}
	// Poll's timeout holds even while another goroutine waits in Recv.
	go func() { _, _ = b.Recv() }() // takes the 1 sent above, then waits
	time.Sleep(20 * time.Millisecond)
	polled := make(chan bool, 1)
	go func() { ok, _ := b.Poll(50 * time.Millisecond); polled <- ok }()
	select {
	case <-polled:
	case <-time.After(5 * time.Second):
		t.Fatal("Poll(50ms) behind a blocked Recv did not return")
	}
}

// TestCloseWakesBlockedCalls closes each primitive while a goroutine of
// this process is blocked on it: the blocked call returns ErrHandleClosed
// at once, and nothing reads the memory Close unmaps (before, the waiter
// woke after its wait slice and faulted on the unmapped word).
func TestCloseWakesBlockedCalls(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T) (block func() error, close func() error)
	}{
		{"Event.Wait", func(t *testing.T) (func() error, func() error) {
			e := made(mp.NewEvent())(t)
			return e.Wait, e.Close
		}},
		{"Semaphore.Acquire", func(t *testing.T) (func() error, func() error) {
			s := made(mp.NewSemaphore(0))(t)
			return s.Acquire, s.Close
		}},
		{"Barrier.Wait", func(t *testing.T) (func() error, func() error) {
			b := made(mp.NewBarrier(2))(t)
			return func() error { _, err := b.Wait(); return err }, b.Close
		}},
		{"Condition.Wait", func(t *testing.T) (func() error, func() error) {
			c := made(mp.NewCondition(nil))(t)
			return func() error { c.Lock(); return c.Wait() }, c.Close
		}},
		{"Lock.Acquire", func(t *testing.T) (func() error, func() error) {
			l := made(mp.NewLock())(t)
			l.Lock()
			return l.Acquire, l.Close
		}},
		{"Value.Acquire", func(t *testing.T) (func() error, func() error) {
			v := made(mp.NewValue[int64](0))(t)
			v.Lock()
			return v.Acquire, v.Close
		}},
		{"Array.AcquireContext", func(t *testing.T) (func() error, func() error) {
			a := made(mp.NewArray[int64](4))(t)
			a.Lock()
			return func() error { return a.AcquireContext(context.Background()) }, a.Close
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			block, closeIt := tc.setup(t)
			done := make(chan error, 1)
			go func() { done <- block() }()
			select {
			case err := <-done:
				t.Fatalf("returned before Close: %v", err)
			case <-time.After(50 * time.Millisecond):
			}
			if err := closeIt(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			select {
			case err := <-done:
				if !errors.Is(err, mp.ErrHandleClosed) {
					t.Fatalf("blocked call after Close: %v, want ErrHandleClosed", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("blocked call still blocked 5 s after Close")
			}
			if err := closeIt(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			time.Sleep(150 * time.Millisecond) // past a wait slice: nothing faults
		})
	}
}
