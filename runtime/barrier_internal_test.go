//go:build linux || windows

package mp

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

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
