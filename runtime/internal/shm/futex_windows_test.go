package shm

import (
	"sync/atomic"
	"testing"
	"time"
)

// Two words of one wake slot: a Wake of one wakes the sleepers of both
// (the other's sleeper sees its word unchanged and sleeps again), and
// neither wake-up is lost.
func TestWaitSharedSlot(t *testing.T) {
	s := segment(t, KindEvent, DataOffset+4*nSlots)
	a, b := s.Word(OffWords), s.Word(OffWords+4*nSlots)
	if slotOf(OffWords) != slotOf(OffWords+4*nSlots) {
		t.Fatal("the two words are in different slots")
	}
	done := make(chan *uint32, 2)
	sleep := func(w *uint32) {
		for atomic.LoadUint32(w) == 0 {
			if err := Wait(w, 0, 0); err != nil {
				t.Error(err)
				break
			}
		}
		done <- w
	}
	go sleep(a)
	go sleep(b)
	for _, w := range []*uint32{b, a} {
		atomic.StoreUint32(w, 1)
		Wake(w, 1)
		select {
		case got := <-done:
			if got != w {
				t.Fatal("the sleeper of the other word left, its word unchanged")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a Wake did not wake the sleeper of its word")
		}
	}
}

// A word outside every segment is polled: Wait returns as a spurious
// wake-up, or ErrTimeout once the timeout passed.
func TestWaitOutsideSegments(t *testing.T) {
	var w uint32
	start := time.Now()
	for {
		rem := 5*time.Millisecond - time.Since(start)
		if rem <= 0 {
			t.Fatal("no ErrTimeout by the deadline")
		}
		err := Wait(&w, 0, rem)
		if err == ErrTimeout {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if time.Since(start) < 5*time.Millisecond {
		t.Fatal("ErrTimeout before the timeout")
	}
	Wake(&w, 1) // nothing to wake, nothing to fail
}
