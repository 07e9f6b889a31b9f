//go:build linux || windows

package mp_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

func TestTargetsSemaphoreTimeout(t *testing.T) {
	s, err := mp.NewSemaphore(0)
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, s)
	// Join, not join: the target's own error matches DeadlineExceeded.
	err = start(t, &mp.Process{Target: targets.WaitSemaphore, Args: []any{s, 50 * time.Millisecond}}).Join()
	var te *mp.TimeoutError
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &te) || te.After != 50*time.Millisecond {
		t.Fatalf("child's timeout error: %v", err)
	}
	s.Release()
	if err := join(t, start(t, &mp.Process{Target: targets.WaitSemaphore, Args: []any{s, 10 * time.Second}})); err != nil {
		t.Fatal(err)
	}
}

// Four processes share a semaphore of 2: never more than 2 hold a unit.
func TestSemaphoreProcesses(t *testing.T) {
	s := made(mp.NewSemaphore(2))(t)
	a := made(mp.NewArray[int64](2))(t)
	l := made(mp.NewLock())(t)
	var ps []*mp.Process
	for range 4 {
		ps = append(ps, start(t, &mp.Process{Target: targets.CountSemaphoreHolders, Args: []any{s, a, l, 30}}))
	}
	for _, p := range ps {
		if err := join(t, p); err != nil {
			t.Fatal(err)
		}
	}
	if cur, most := a.Slice()[0], a.Slice()[1]; cur != 0 || most < 1 || most > 2 {
		t.Fatalf("holders now %d, at most %d: want 0 and 1..2", cur, most)
	}
	if s.Value() != 2 {
		t.Fatalf("Value %d after all released", s.Value())
	}
}

// A bounded semaphore of 0 units refuses every Release, as Python's
// BoundedSemaphore(0).release() raises ValueError; an unbounded semaphore
// at its largest count says so rather than calling itself bounded.
func TestSemaphoreReleaseLimits(t *testing.T) {
	b, err := mp.NewBoundedSemaphore(0)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Release(); err != mp.ErrTooManyReleases {
		t.Fatalf("BoundedSemaphore(0).Release: %v, want ErrTooManyReleases", err)
	}
	if b.Value() != 0 || b.TryAcquire() {
		t.Fatalf("BoundedSemaphore(0) has %d units after a refused Release", b.Value())
	}

	s, err := mp.NewSemaphore(1<<31 - 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Release()
	if !errors.Is(err, mp.ErrTooManyReleases) || strings.Contains(err.Error(), "bounded") || !strings.Contains(err.Error(), "maximum") {
		t.Fatalf("Release at the maximum count: %v, want an error naming the maximum that matches ErrTooManyReleases", err)
	}
	if s.Value() != 1<<31-1 {
		t.Fatalf("count %d after a refused Release", s.Value())
	}
	if !s.TryAcquire() || s.Release() != nil {
		t.Fatal("Release below the maximum failed")
	}
}
