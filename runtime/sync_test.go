//go:build linux

package mp

import (
	"context"
	"errors"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func mustLock(t *testing.T) *Lock {
	t.Helper()
	l, err := NewLock()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestLockBasics(t *testing.T) {
	l := mustLock(t)
	var _ sync.Locker = l
	if !l.TryAcquire() || l.TryAcquire() || !l.Locked() {
		t.Fatal("TryAcquire on a free lock, then on a held one")
	}
	if l.owner() != os.Getpid() {
		t.Fatalf("owner %d, want %d", l.owner(), os.Getpid())
	}
	start := time.Now()
	err := l.AcquireTimeout(50 * time.Millisecond)
	var te *TimeoutError
	if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) < 50*time.Millisecond {
		t.Fatalf("AcquireTimeout on a held lock: %v after %v", err, time.Since(start))
	}
	if err := l.AcquireTimeout(0); !errors.As(err, &te) {
		t.Fatalf("AcquireTimeout(0) on a held lock: %v", err)
	}
	l.Unlock()
	if err := l.Release(); !errors.Is(err, ErrNotLocked) {
		t.Fatalf("Release of a free lock: %v", err)
	}
	if err := l.AcquireTimeout(0); err != nil {
		t.Fatalf("AcquireTimeout(0) on a free lock: %v", err)
	}
	l.Unlock()
}

// A context cancelled while Acquire sleeps in the kernel ends the wait
// promptly, and no goroutine is left behind.
func TestLockContextCancel(t *testing.T) {
	l := mustLock(t)
	l.Lock()
	defer l.Unlock()
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- l.AcquireContext(ctx) }()
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire after cancel: %v", err)
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("cancel took %v to end the wait", d)
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines before, %d after", before, n)
	}
}

// Four processes increment one shared counter under the lock: the sum is
// exact.
func TestLockFourProcessesCounter(t *testing.T) {
	l := mustLock(t)
	a, err := NewArray[int64](1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	const procs, n = 4, 5000
	var hs []*helper
	for range procs {
		hs = append(hs, startHelper(t, "lock-counter", "5000", l, a))
	}
	for _, h := range hs {
		h.mustOK(t)
	}
	if got := a.Slice()[0]; got != procs*n {
		t.Fatalf("counter %d, want %d", got, procs*n)
	}
}

// The crash semantics: a process that dies holding the lock (killed, or
// exiting without unlocking) leaves it to the next acquirer, which is told
// with ErrLockAbandoned and holds the lock. The dead holder is still a
// zombie (not reaped) while the waiter notices: zombies hold nothing.
func TestLockHolderCrash(t *testing.T) {
	for _, how := range []string{"SIGKILL", "exit"} {
		t.Run(how, func(t *testing.T) {
			l := mustLock(t)
			h := startHelper(t, "lock-hold", "", l)
			h.expect(t, "held")
			if l.owner() != h.cmd.Process.Pid {
				t.Fatalf("owner %d, want the helper %d", l.owner(), h.cmd.Process.Pid)
			}
			if l.TryAcquire() {
				t.Fatal("TryAcquire took a held lock")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- l.AcquireContext(ctx) }()
			time.Sleep(30 * time.Millisecond)
			select {
			case err := <-done:
				t.Fatalf("Acquire returned while the holder lives: %v", err)
			default:
			}
			start := time.Now()
			if how == "SIGKILL" {
				h.cmd.Process.Signal(syscall.SIGKILL)
			} else {
				h.stdin.Close() // the helper exits 3, still holding the lock
			}
			err := <-done
			if !errors.Is(err, ErrLockAbandoned) {
				t.Fatalf("Acquire after the holder died: %v", err)
			}
			t.Logf("abandonment noticed after %v", time.Since(start))
			if l.owner() != os.Getpid() {
				t.Fatalf("owner %d after takeover, want %d", l.owner(), os.Getpid())
			}
			if code := h.wait(t); (how == "SIGKILL" && code != -9) || (how == "exit" && code != 3) {
				t.Fatalf("helper exit code %d", code)
			}
			l.Unlock()
			if err := l.AcquireTimeout(0); err != nil {
				t.Fatalf("the lock after recovery: %v", err)
			}
			l.Unlock()
		})
	}
}

// AcquireTimeout(0) and Lock (which takes over silently) also recover a lock
// whose holder is already dead and reaped.
func TestLockAbandonedBeforeAcquire(t *testing.T) {
	l := mustLock(t)
	h := startHelper(t, "lock-hold", "", l)
	h.expect(t, "held")
	if code := h.wait(t); code != 3 {
		t.Fatalf("helper exit %d", code)
	}
	if l.TryAcquire() {
		t.Fatal("TryAcquire took over an abandoned lock")
	}
	if err := l.AcquireTimeout(0); !errors.Is(err, ErrLockAbandoned) {
		t.Fatalf("AcquireTimeout(0): %v", err)
	}
	l.Unlock()

	h = startHelper(t, "lock-hold", "", l)
	h.expect(t, "held")
	h.wait(t)
	l.Lock() // returns: takes it over silently
	l.Unlock()
}

func TestRLock(t *testing.T) {
	l, err := NewRLock()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	l.Lock()
	if err := l.Acquire(); err != nil {
		t.Fatal(err)
	}
	if !l.TryAcquire() {
		t.Fatal("the holder could not re-acquire")
	}
	for range 3 {
		if err := l.Release(); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Release(); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("extra Release: %v", err)
	}
	// Another process holds it: this one cannot take it.
	atomic32Store(l.w, 1) // pid 1 (init) is alive and is not us
	if err := l.AcquireTimeout(20 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("AcquireTimeout while another process holds it: %v", err)
	}
	if err := l.Release(); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("Release while another process holds it: %v", err)
	}
}

// An RLock held twice by a process that dies is taken over with count 1.
func TestRLockHolderCrash(t *testing.T) {
	l, err := NewRLock()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	h := startHelper(t, "rlock-hold", "", l)
	h.expect(t, "held")
	if l.TryAcquire() {
		t.Fatal("TryAcquire took an RLock another process holds")
	}
	h.cmd.Process.Signal(syscall.SIGKILL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.AcquireContext(ctx); !errors.Is(err, ErrLockAbandoned) {
		t.Fatalf("Acquire after the holder died: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if atomic.LoadUint32(l.w) != 0 {
		t.Fatal("still held after one Release: the dead holder's count was kept")
	}
	h.wait(t)
}

func TestSemaphoreInProcess(t *testing.T) {
	s, err := NewBoundedSemaphore(2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if !s.TryAcquire() || !s.TryAcquire() || s.TryAcquire() {
		t.Fatal("a semaphore of 2 gave out a number of units other than 2")
	}
	if err := s.AcquireTimeout(20 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("AcquireTimeout on an empty semaphore: %v", err)
	}
	got := make(chan error)
	go func() { got <- s.Acquire() }()
	time.Sleep(10 * time.Millisecond)
	if err := s.Release(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	s.Release()
	s.Release()
	if err := s.Release(); !errors.Is(err, ErrTooManyReleases) {
		t.Fatalf("Release beyond the bound: %v", err)
	}
	if s.Value() != 2 {
		t.Fatalf("Value %d", s.Value())
	}
	if _, err := NewSemaphore(-1); err == nil {
		t.Fatal("NewSemaphore(-1) succeeded")
	}
}

// Four processes share a semaphore of 2: never more than 2 hold a unit.
func TestSemaphoreProcesses(t *testing.T) {
	s, err := NewSemaphore(2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	a, err := NewArray[int64](2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	l := mustLock(t)
	var hs []*helper
	for range 4 {
		hs = append(hs, startHelper(t, "sem", "30", s, a, l))
	}
	for _, h := range hs {
		h.mustOK(t)
	}
	if cur, most := a.Slice()[0], a.Slice()[1]; cur != 0 || most < 1 || most > 2 {
		t.Fatalf("holders now %d, at most %d: want 0 and 1..2", cur, most)
	}
	if s.Value() != 2 {
		t.Fatalf("Value %d after all released", s.Value())
	}
}

func TestEventProcesses(t *testing.T) {
	e, err := NewEvent()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	done, err := NewEvent()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { done.Close() })
	if err := e.WaitTimeout(10 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitTimeout on a clear event: %v", err)
	}
	h := startHelper(t, "event-wait", "", e, done)
	time.Sleep(50 * time.Millisecond)
	if done.IsSet() {
		t.Fatal("the helper went on before the event was set")
	}
	e.Set()
	if !e.IsSet() {
		t.Fatal("IsSet after Set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := done.WaitContext(ctx); err != nil {
		t.Fatal(err)
	}
	h.mustOK(t)
	e.Clear()
	if e.IsSet() {
		t.Fatal("IsSet after Clear")
	}
}

// A waiter that was waiting when Set was called returns even if the event
// is cleared at once.
func TestEventSetClear(t *testing.T) {
	e, err := NewEvent()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	got := make(chan error)
	go func() { got <- e.WaitTimeout(5 * time.Second) }()
	time.Sleep(20 * time.Millisecond)
	e.Set()
	e.Clear()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

// Three processes wait on a condition; NotifyAll releases them all and each
// sees the change made under the lock.
func TestConditionProcesses(t *testing.T) {
	c, err := NewCondition(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	a, err := NewArray[int64](3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	s := a.Slice()
	var hs []*helper
	for range 3 {
		hs = append(hs, startHelper(t, "cond-wait", "", c, a))
	}
	// Wait until all three are waiting (they count themselves under the lock).
	deadline := time.Now().Add(20 * time.Second)
	for {
		c.Lock()
		n := s[2]
		c.Unlock()
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d helpers waiting", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := c.Notify(1); !errors.Is(err, errCondNotHeld) {
		t.Fatalf("Notify without the lock: %v", err)
	}
	c.Lock()
	s[0] = 7
	if err := c.NotifyAll(); err != nil {
		t.Fatal(err)
	}
	c.Unlock()
	for _, h := range hs {
		h.mustOK(t)
	}
	if s[1] != 21 {
		t.Fatalf("a[1] = %d, want 21", s[1])
	}
}

// Notify(1) wakes exactly one waiter; a timed-out waiter does not eat a
// notification meant for another.
func TestConditionNotifyOne(t *testing.T) {
	c, err := NewCondition(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	woke := make(chan error, 2)
	for range 2 {
		go func() {
			c.Lock()
			err := c.WaitTimeout(time.Second)
			c.Unlock()
			woke <- err
		}()
	}
	time.Sleep(50 * time.Millisecond)
	c.Lock()
	c.Notify(1)
	c.Unlock()
	var ok, timedOut int
	for range 2 {
		switch err := <-woke; {
		case err == nil:
			ok++
		case errors.Is(err, context.DeadlineExceeded):
			timedOut++
		default:
			t.Fatal(err)
		}
	}
	if ok != 1 || timedOut != 1 {
		t.Fatalf("%d woken, %d timed out; want 1 and 1", ok, timedOut)
	}
	if st := atomic64Load(c.state); st != 0 {
		t.Fatalf("condition state %#x after all left, want 0", st)
	}
}

// Four processes pass a barrier together, round after round; each round's
// arrival indices are 0..3.
func TestBarrierFourProcesses(t *testing.T) {
	const parties, rounds = 4, 20
	b, err := NewBarrier(parties)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	a, err := NewArray[int32](4 + rounds*4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	var hs []*helper
	for id := range parties {
		hs = append(hs, startHelper(t, "barrier", itoa(id)+" "+itoa(rounds), b, a))
	}
	for _, h := range hs {
		h.mustOK(t)
	}
	s := a.Slice()
	for r := range rounds {
		seen := map[int32]bool{}
		for id := range parties {
			seen[s[4+r*4+id]] = true
		}
		if len(seen) != parties || !seen[0] || !seen[parties-1] {
			t.Fatalf("round %d: arrival indices %v", r, s[4+r*4:8+r*4])
		}
	}
	if b.Broken() || b.NWaiting() != 0 {
		t.Fatalf("after the rounds: broken %v, waiting %d", b.Broken(), b.NWaiting())
	}
}

func TestBarrierBrokenAndReset(t *testing.T) {
	b, err := NewBarrier(3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	// A waiter that times out breaks the barrier for the other one.
	other := make(chan error, 1)
	go func() { _, err := b.Wait(); other <- err }()
	time.Sleep(20 * time.Millisecond)
	if b.NWaiting() != 1 {
		t.Fatalf("NWaiting %d", b.NWaiting())
	}
	if _, err := b.WaitTimeout(30 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitTimeout: %v", err)
	}
	if err := <-other; !errors.Is(err, ErrBrokenBarrier) {
		t.Fatalf("the other waiter: %v", err)
	}
	if _, err := b.Wait(); !errors.Is(err, ErrBrokenBarrier) {
		t.Fatalf("Wait on a broken barrier: %v", err)
	}
	b.Reset()
	if b.Broken() {
		t.Fatal("broken after Reset")
	}
	// Usable again; Abort breaks it for a waiter.
	go func() { _, err := b.Wait(); other <- err }()
	time.Sleep(20 * time.Millisecond)
	b.Abort()
	if err := <-other; !errors.Is(err, ErrBrokenBarrier) {
		t.Fatalf("after Abort: %v", err)
	}
	b.Reset()
	// Reset while someone waits: they get ErrBrokenBarrier, then it is clean.
	go func() { _, err := b.Wait(); other <- err }()
	time.Sleep(20 * time.Millisecond)
	b.Reset()
	if err := <-other; !errors.Is(err, ErrBrokenBarrier) {
		t.Fatalf("waiter during Reset: %v", err)
	}
	if b.Broken() {
		t.Fatal("broken after the reset drained")
	}
	var wg sync.WaitGroup
	idx := make(chan int, 3)
	for range 3 {
		wg.Go(func() {
			i, err := b.Wait()
			if err != nil {
				t.Error(err)
			}
			idx <- i
		})
	}
	wg.Wait()
	close(idx)
	sum := 0
	for i := range idx {
		sum += i
	}
	if sum != 0+1+2 {
		t.Fatalf("indices sum %d", sum)
	}
}

// An exported handle imported as another kind, or with a damaged
// description, is an error in the child, never a mapping.
func TestImportMismatch(t *testing.T) {
	a, err := NewArray[float64](10)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if code := startHelper(t, "import", "array-int64", a).wait(t); code != 2 {
		t.Fatalf("Array[float64] imported as Array[int64]: exit %d", code)
	}
	if code := startHelper(t, "import", "lock", a).wait(t); code != 2 {
		t.Fatalf("Array imported as Lock: exit %d", code)
	}
	startHelper(t, "import", "array-float64", a).mustOK(t)

	meta, files, err := a.mpExport()
	if err != nil {
		t.Fatal(err)
	}
	for i := range meta {
		bad := append([]byte(nil), meta...)
		bad[i] ^= 0xff
		f, err := dupFile(files[0])
		if err != nil {
			t.Fatal(err)
		}
		var b Array[float64]
		if err := b.mpImport(bad, []*os.File{f}); err == nil {
			if len(b.Slice()) != 10 {
				t.Fatalf("damaged byte %d: imported %d elements", i, len(b.Slice()))
			}
			b.Close()
		}
	}
	var l Lock
	if err := l.mpImport(meta, nil); err == nil {
		t.Fatal("import without a descriptor")
	}
}
