//go:build linux || windows

package mp

import (
	"context"
	"errors"
	"testing"
	"time"
)

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
