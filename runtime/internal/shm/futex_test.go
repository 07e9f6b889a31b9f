//go:build unix || windows

package shm

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// A goroutine sleeping in Wait (without a timeout) is woken by Wake from
// another goroutine, through another mapping of the same segment: the
// kernel keys the futex by the mapped object.
func TestWaitWokenThroughAnotherMapping(t *testing.T) {
	s := segment(t, KindEvent, DataOffset)
	s2, err := Import(dup(t, s.File()), KindEvent, len(s.Mem()))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	w, w2 := s.Word(OffWords), s2.Word(OffWords)
	if w == w2 {
		t.Fatal("the two mappings share an address")
	}
	var entered atomic.Bool
	done := make(chan error, 1)
	go func() {
		entered.Store(true)
		for atomic.LoadUint32(w) == 0 {
			if err := Wait(w, 0, 0); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for !entered.Load() {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Wait returned before the word changed: %v", err)
	default:
	}
	atomic.StoreUint32(w2, 1)
	Wake(w2, 1)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wake did not wake the sleeper")
	}
}

// Two goroutines hand a word back and forth through two mappings, each
// sleeping without a timeout until it is its turn: a lost wake-up would
// leave both asleep.
func TestWaitWakePingPong(t *testing.T) {
	s := segment(t, KindEvent, DataOffset)
	s2, err := Import(dup(t, s.File()), KindEvent, len(s.Mem()))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	const rounds = 300
	turn := func(w *uint32, parity uint32, done chan<- error) {
		for i := uint32(0); i < rounds; i++ {
			want := 2*i + parity
			for v := atomic.LoadUint32(w); v != want; v = atomic.LoadUint32(w) {
				if err := Wait(w, v, 0); err != nil {
					done <- err
					return
				}
			}
			atomic.StoreUint32(w, want+1)
			Wake(w, 1)
		}
		done <- nil
	}
	done := make(chan error, 2)
	go turn(s.Word(OffWords), 0, done)
	go turn(s2.Word(OffWords), 1, done)
	for range 2 {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("stuck at %d: a wake-up was lost", atomic.LoadUint32(s.Word(OffWords)))
		}
	}
}

// A Wait whose timeout passes returns ErrTimeout, not before the timeout.
func TestWaitTimesOut(t *testing.T) {
	s := segment(t, KindEvent, DataOffset)
	w := s.Word(OffWords)
	const d = 50 * time.Millisecond
	start := time.Now()
	for {
		rem := d - time.Since(start)
		if rem <= 0 {
			t.Fatal("no ErrTimeout by the deadline")
		}
		err := Wait(w, 0, rem)
		if err == ErrTimeout {
			break
		}
		if err != nil {
			t.Fatal(err) // nil is a spurious return (a signal): wait on
		}
	}
	if e := time.Since(start); e < d {
		t.Fatalf("ErrTimeout after %v, before the %v timeout", e, d)
	}
}

// Wait returns at once when the word does not hold the value.
func TestWaitValueChanged(t *testing.T) {
	s := segment(t, KindEvent, DataOffset)
	w := s.Word(OffWords)
	atomic.StoreUint32(w, 7)
	start := time.Now()
	if err := Wait(w, 0, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if e := time.Since(start); e > 5*time.Second {
		t.Fatalf("Wait slept %v on a word that did not hold its value", e)
	}
	Wake(w, 0) // no-op
}

var errTimedOut = errors.New("timed out")

// over is the Waiters' error maker of these tests: errTimedOut for a
// timeout, the context's error wrapped otherwise.
func over(ctxErr error) error {
	if ctxErr == nil {
		return errTimedOut
	}
	return fmt.Errorf("Test.Op: %w", ctxErr)
}

// A Waiter with a timeout sleeps in slices no longer than what remains and
// then returns the error its caller chose.
func TestWaiterTimeout(t *testing.T) {
	s := segment(t, KindEvent, DataOffset)
	w := s.Word(OffWords)
	wt := NewWaiter(context.Background(), w, 30*time.Millisecond, over)
	defer wt.Done()
	start := time.Now()
	var err error
	for err = wt.Sleep(w, 0); !Over(err); err = wt.Sleep(w, 0) {
	}
	if err != errTimedOut {
		t.Fatalf("Sleep after the timeout: %v", err)
	}
	if e := time.Since(start); e < 30*time.Millisecond || e > 30*time.Millisecond+WaitSlice {
		t.Fatalf("timed out after %v", e)
	}
	// Timeout 0: one look, no sleep.
	wt0 := NewWaiter(context.Background(), w, 0, over)
	defer wt0.Done()
	if err := wt0.Sleep(w, 0); !errors.Is(err, errTimedOut) {
		t.Fatalf("Sleep with timeout 0: %v", err)
	}
	// Without a timeout, a slice passes.
	wtn := NewWaiter(context.Background(), w, -1, over)
	defer wtn.Done()
	for err = wtn.Sleep(w, 0); err == nil; err = wtn.Sleep(w, 0) {
	}
	if err != ErrSlice || Over(err) {
		t.Fatalf("Sleep without a timeout: %v", err)
	}
}

// A cancelled context wakes the Waiter's sleep at once (not at the end of
// a slice), with an error wrapping the context's.
func TestWaiterCancel(t *testing.T) {
	s := segment(t, KindEvent, DataOffset)
	w := s.Word(OffWords)
	ctx, cancel := context.WithCancel(context.Background())
	wt := NewWaiter(ctx, w, -1, over)
	defer wt.Done()
	time.AfterFunc(20*time.Millisecond, cancel)
	var err error
	slices := 0
	for {
		err = wt.Sleep(w, 0)
		if err == ErrSlice {
			slices++
		}
		if Over(err) {
			break
		}
	}
	if !errors.Is(err, context.Canceled) || err.Error() != "Test.Op: context canceled" {
		t.Fatalf("Sleep after cancel: %v", err)
	}
	if slices != 0 {
		t.Errorf("%d slices passed before the cancel was noticed", slices)
	}
}

// RaceSync gives -race the ordering of the words it cannot see.
func TestRaceSync(t *testing.T) {
	var r RaceSync
	s := segment(t, KindLock, DataOffset)
	w := s.Word(OffWords)
	x := 0
	go func() {
		x = 1
		r.Sync()
		atomic.StoreUint32(w, 1)
		Wake(w, 1)
	}()
	for atomic.LoadUint32(w) == 0 {
		Wait(w, 0, WaitSlice)
	}
	r.Sync()
	if x != 1 {
		t.Fatal("the write before the wake is not seen")
	}
}

// BenchmarkWaitWakeHandoff is one hand-off of a word between two
// goroutines through two mappings, each sleeping until its turn: a Wake,
// and a Wait that sleeps (or finds the word changed already).
func BenchmarkWaitWakeHandoff(b *testing.B) {
	s := segment(b, KindEvent, DataOffset)
	s2, err := Import(dup(b, s.File()), KindEvent, len(s.Mem()))
	if err != nil {
		b.Fatal(err)
	}
	defer s2.Close()
	n := uint32(b.N)
	turn := func(w *uint32, parity uint32, done chan<- struct{}) {
		for i := uint32(0); 2*i+parity < n; i++ {
			want := 2*i + parity
			for v := atomic.LoadUint32(w); v != want; v = atomic.LoadUint32(w) {
				Wait(w, v, 0)
			}
			atomic.StoreUint32(w, want+1)
			Wake(w, 1)
		}
		done <- struct{}{}
	}
	done := make(chan struct{}, 2)
	b.ResetTimer()
	go turn(s.Word(OffWords), 0, done)
	go turn(s2.Word(OffWords), 1, done)
	<-done
	<-done
}
