//go:build linux || windows

package mp

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpgen/mpgen/runtime/internal/fdio"
	"github.com/mpgen/mpgen/runtime/internal/shm"
)

func mustCondition(t *testing.T) *Condition {
	t.Helper()
	c, err := NewCondition(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// slotsInUse counts the condition's slots not free.
func slotsInUse(c *Condition) int {
	n := 0
	for i := range condMaxWaiters {
		if atomic.LoadUint32(&c.slot(i).state) != slotFree {
			n++
		}
	}
	return n
}

// waitUntil polls cond under c's lock until it holds, for at most 10 s.
func waitUntil(t *testing.T, c *Condition, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.Lock()
		ok := cond()
		c.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still not %s after 10s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// The lost wake-up of issue 10, item 10, between goroutines: the notifier
// waits on the same condition right after its Notify(1) and must not take
// that notification itself; the waiter that was waiting gets it.
func TestConditionNotifierDoesNotTakeItsOwn(t *testing.T) {
	c := mustCondition(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const rounds = 20
	state := 1 // guarded by c's lock
	child := make(chan error, 1)
	c.Lock()
	go func() {
		for range rounds {
			c.Lock()
			state = 0
			if err := c.Notify(1); err != nil {
				c.Unlock()
				child <- err
				return
			}
			err := c.WaitForContext(ctx, func() bool { return state == 4 })
			c.Unlock()
			if err != nil {
				child <- err
				return
			}
		}
		child <- nil
	}()
	for r := range rounds {
		if err := c.WaitForContext(ctx, func() bool { return state == 0 }); err != nil {
			c.Unlock()
			t.Fatalf("round %d: the waiter was never woken: %v", r, err)
		}
		state = 4
		if err := c.Notify(1); err != nil {
			t.Fatal(err)
		}
	}
	c.Unlock()
	if err := <-child; err != nil {
		t.Fatalf("notifier: %v", err)
	}
	if n := slotsInUse(c); n != 0 {
		t.Fatalf("%d slots in use after all left", n)
	}
}

// Notify(n) wakes exactly n of the waiters present, the n that waited
// longest; a wait that starts after the Notify is not woken by it, and
// NotifyAll wakes the rest.
func TestConditionNotifyN(t *testing.T) {
	c := mustCondition(t)
	const waiters = 5
	var entered int // guarded by c's lock
	woken := make(chan int, waiters+1)
	var wg sync.WaitGroup
	t.Cleanup(func() { // before Close, also when the test fails
		c.Lock()
		c.NotifyAll()
		c.Unlock()
		wg.Wait()
	})
	for i := range waiters {
		wg.Go(func() {
			c.Lock()
			me := entered
			entered++
			err := c.WaitTimeout(20 * time.Second)
			c.Unlock()
			if err != nil {
				t.Errorf("waiter %d: %v", me, err)
			}
			woken <- me
		})
		// One at a time, so that their order is known.
		waitUntil(t, c, "entered", func() bool { return entered == i+1 })
	}
	c.Lock()
	if err := c.Notify(2); err != nil {
		t.Fatal(err)
	}
	c.Unlock()
	// A waiter that starts now was not waiting at the Notify.
	wg.Go(func() {
		c.Lock()
		err := c.WaitTimeout(300 * time.Millisecond)
		c.Unlock()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("a wait started after Notify(2): %v, want a timeout", err)
		}
		woken <- -1
	})
	got := map[int]bool{<-woken: true, <-woken: true}
	if !got[0] || !got[1] {
		t.Fatalf("Notify(2) woke %v, want the two that waited longest (0 and 1)", got)
	}
	if w := <-woken; w != -1 {
		t.Fatalf("waiter %d woke: more than 2 for Notify(2)", w)
	}
	select {
	case w := <-woken:
		t.Fatalf("waiter %d woke: more than 2 for Notify(2)", w)
	case <-time.After(100 * time.Millisecond):
	}
	c.Lock()
	if err := c.NotifyAll(); err != nil {
		t.Fatal(err)
	}
	c.Unlock()
	for range waiters - 2 {
		<-woken
	}
	if n := slotsInUse(c); n != 0 {
		t.Fatalf("%d slots in use after all left", n)
	}
}

// A waiter that timed out and left does not swallow a notification: it
// goes to the one still waiting. A waiter whose timeout passed but that was
// notified before it could re-take the lock counts as notified: it returns
// nil, and the other is not woken.
func TestConditionTimedOutWaiter(t *testing.T) {
	c := mustCondition(t)
	var entered int
	wait := func(d time.Duration, res chan<- error) {
		c.Lock()
		entered++
		err := c.WaitTimeout(d)
		c.Unlock()
		res <- err
	}
	short, long := make(chan error, 1), make(chan error, 1)
	go wait(30*time.Millisecond, short)
	waitUntil(t, c, "entered", func() bool { return entered == 1 })
	go wait(20*time.Second, long)
	waitUntil(t, c, "entered", func() bool { return entered == 2 })
	if err := <-short; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("short wait: %v", err)
	}
	c.Lock()
	c.Notify(1)
	c.Unlock()
	if err := <-long; err != nil {
		t.Fatalf("the waiter left after the timed-out one left: %v", err)
	}

	entered = 0
	go wait(30*time.Millisecond, short)
	waitUntil(t, c, "entered", func() bool { return entered == 1 })
	go wait(20*time.Second, long)
	waitUntil(t, c, "entered", func() bool { return entered == 2 })
	c.Lock()
	time.Sleep(100 * time.Millisecond) // the short wait times out, and waits for the lock
	c.Notify(1)                        // the oldest: the one that timed out
	c.Unlock()
	if err := <-short; err != nil {
		t.Fatalf("a waiter notified after its timeout, before it re-took the lock: %v, want nil", err)
	}
	select {
	case err := <-long:
		t.Fatalf("Notify(1) woke a second waiter: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	c.Lock()
	c.Notify(1)
	c.Unlock()
	if err := <-long; err != nil {
		t.Fatal(err)
	}
	if n := slotsInUse(c); n != 0 {
		t.Fatalf("%d slots in use after all left", n)
	}
}

// fakeWaiter puts in a slot, with c's lock held, a wait of a process
// known as id that is not running here: a waiter that died.
func fakeWaiter(t *testing.T, c *Condition, id shm.ProcID) int {
	t.Helper()
	i, err := c.enter()
	if err != nil {
		t.Fatal(err)
	}
	atomic.StoreUint64(&c.slot(i).id, uint64(id))
	return i
}

// A dead waiter's slot does not swallow a notification. A waiter whose
// process is gone is skipped at once and its slot freed. One whose pid now
// names another live process (judged by start time; a zombie is the same
// case) gets the notification, and a live waiter that was waiting then
// passes it on to itself within the wait slice. A notification passed on
// never goes to a wait that started after the Notify.
func TestConditionDeadWaiter(t *testing.T) {
	c := mustCondition(t)
	gone := shm.MakeProcID(endedProcess(t), 1)
	other := otherProcess(t)
	reused := shm.MakeProcID(other.Pid(), other.Start()+1)

	var entered int
	live := make(chan error, 1)
	wait := func() {
		c.Lock()
		entered++
		err := c.WaitTimeout(20 * time.Second)
		c.Unlock()
		live <- err
	}

	// Gone: skipped by Notify itself.
	c.Lock()
	dead := fakeWaiter(t, c, gone)
	c.Unlock()
	go wait()
	waitUntil(t, c, "entered", func() bool { return entered == 1 })
	c.Lock()
	c.Notify(1)
	if st := atomic.LoadUint32(&c.slot(dead).state); st != slotFree {
		t.Fatalf("the gone waiter's slot is in state %d after Notify, want free", st)
	}
	c.Unlock()
	if err := <-live; err != nil {
		t.Fatalf("the live waiter behind a gone one: %v", err)
	}

	// Reused pid: notified, then passed on by the live waiter.
	c.Lock()
	dead = fakeWaiter(t, c, reused)
	c.Unlock()
	entered = 0
	go wait()
	waitUntil(t, c, "entered", func() bool { return entered == 1 })
	c.Lock()
	c.Notify(1)
	if st := atomic.LoadUint32(&c.slot(dead).state); st != slotNotified {
		t.Fatalf("the longest waiting (dead) slot is in state %d after Notify(1), want notified", st)
	}
	c.Unlock()
	start := time.Now()
	if err := <-live; err != nil {
		t.Fatalf("the live waiter behind a dead one: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the notification was passed on after %v, want about one wait slice (%v)", d, shm.WaitSlice)
	}

	// A notification given to a dead waiter while nobody else waited goes
	// to nobody: not to a wait that starts afterwards.
	c.Lock()
	dead = fakeWaiter(t, c, reused)
	c.Notify(1)
	err := c.WaitTimeout(400 * time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a wait started after the Notify: %v, want a timeout", err)
	}
	if st := atomic.LoadUint32(&c.slot(dead).state); st != slotFree {
		t.Fatalf("the dead waiter's slot is in state %d, want freed by the live waiter", st)
	}
	c.Unlock()
	if n := slotsInUse(c); n != 0 {
		t.Fatalf("%d slots in use after all left", n)
	}
}

// At most condMaxWaiters waits at once: one more is refused at once with
// ErrTooManyWaiters, the lock still held; a slot of a dead waiter is taken
// back for a new one.
func TestConditionTooManyWaiters(t *testing.T) {
	c := mustCondition(t)
	c.Lock()
	defer c.Unlock()
	for range condMaxWaiters {
		if _, err := c.enter(); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	if err := c.WaitTimeout(5 * time.Second); !errors.Is(err, ErrTooManyWaiters) || time.Since(start) > time.Second {
		t.Fatalf("Wait with every slot taken: %v after %v", err, time.Since(start))
	}
	if !c.l.w.mine() {
		t.Fatal("the lock is not held after ErrTooManyWaiters")
	}
	other := otherProcess(t)
	atomic.StoreUint64(&c.slot(1234).id, uint64(shm.MakeProcID(other.Pid(), other.Start()+1)))
	if err := c.WaitTimeout(10 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait with a dead waiter's slot to take: %v", err)
	}
	if st := atomic.LoadUint32(&c.slot(1234).state); st != slotFree {
		t.Fatalf("the slot taken back is in state %d after its new waiter left", st)
	}
	for i := range condMaxWaiters {
		c.leave(i)
	}
	if hi := atomic.LoadUint32(c.hi); hi != 0 {
		t.Fatalf("hi %d after every slot left", hi)
	}
}

// A Condition described as smaller than its slots need is refused on
// import, never mapped short.
func TestConditionImportTooSmall(t *testing.T) {
	c := mustCondition(t)
	_, files, err := c.mpExport()
	if err != nil {
		t.Fatal(err)
	}
	m := shm.NewMeta(shm.KindCondition, os.Getpagesize())
	m.Uvarint(uint64(len(c.l.seg.Mem())))
	var dups []*os.File
	for _, f := range files {
		d, err := fdio.Dup(f)
		if err != nil {
			t.Fatal(err)
		}
		dups = append(dups, d)
	}
	var got Condition
	if err := got.mpImport(m, dups); err == nil || !strings.Contains(err.Error(), "Condition segment of") {
		got.Close()
		t.Fatalf("import of a one-page Condition: %v", err)
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
	if hi := atomic.LoadUint32(c.hi); hi != 0 {
		t.Fatalf("slots below %d in use after all left, want none", hi)
	}
}
