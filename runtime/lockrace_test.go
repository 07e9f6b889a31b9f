//go:build linux

package mp

import (
	"sync"
	"testing"
)

// Goroutines of one process guarding a Go variable with a Lock: -race sees
// the ordering the lock gives (it does not see atomics on shared mappings).
func TestLockGoroutinesRace(t *testing.T) {
	l := mustLock(t)
	counter := 0
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 2000 {
				l.Lock()
				counter++
				l.Unlock()
			}
		})
	}
	wg.Wait()
	if counter != 8000 {
		t.Fatal(counter)
	}
}

// The same for Array's lock, a Semaphore of 1, and an Event handing over
// a Go variable: -race sees the ordering the primitives give.
func TestPrimitivesGoroutinesRace(t *testing.T) {
	a, err := NewArray[int64](1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	sem, err := NewSemaphore(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sem.Close() })
	ev, err := NewEvent()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ev.Close() })
	var x, y int
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 500 {
				a.Lock()
				x++
				a.Unlock()
				if err := sem.AcquireContext(t.Context()); err != nil {
					t.Error(err)
					return
				}
				y++
				sem.Release()
			}
		})
	}
	wg.Wait()
	var msg string
	go func() { msg = "hi"; ev.Set() }()
	if err := ev.WaitContext(t.Context()); err != nil || msg != "hi" || x != 2000 || y != 2000 {
		t.Fatal(err, msg, x, y)
	}
}
