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

// TestSpawnFuture: a spawned child's Future reads as a pool call's: Get,
// Done, Ready, Successful; Cancel terminates a running child and Get then
// returns context.Canceled; a finished child is not cancelled.
func TestSpawnFuture(t *testing.T) {
	ctx := testCtx(t)
	f, err := mp.Spawn[int](ctx, targets.Square, 9)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.Done():
	case <-ctx.Done():
		t.Fatal("the child did not end")
	}
	if v, err := f.Get(); err != nil || v != 81 || !f.Ready() || !f.Successful() {
		t.Fatalf("Square(9) = %d, %v (ready %v, successful %v)", v, err, f.Ready(), f.Successful())
	}
	if f.Cancel() {
		t.Fatal("Cancel of an ended child returned true")
	}

	g, err := mp.Spawn[struct{}](ctx, targets.Sleep, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if g.Ready() || g.Successful() {
		t.Fatal("a sleeping child's Future is ready")
	}
	if !g.Cancel() {
		t.Fatal("Cancel of a running child returned false")
	}
	if _, err := g.GetContext(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get after Cancel: %v, want context.Canceled", err)
	}
	if !g.Ready() || g.Successful() {
		t.Fatalf("after Cancel: ready %v, successful %v", g.Ready(), g.Successful())
	}

	h, err := mp.Spawn[struct{}](ctx, targets.Fail, "spawned")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Get(); !errors.Is(err, targets.ErrBoom) || h.Successful() {
		t.Fatalf("a failing child's Get: %v", err)
	}
}

// TestSpawnFutureContext: a spawned child whose context ends reports as a
// pool call does: a *TimeoutError (Op "call of " and the target) once the
// deadline passed, context.Canceled once cancelled, whether or not the
// target takes a context (not an *ExitError, nor the target's own
// cancelled context).
func TestSpawnFutureContext(t *testing.T) {
	for _, target := range []any{targets.Sleep, targets.SleepNoCtx} {
		dctx, cancel := context.WithTimeout(testCtx(t), 300*time.Millisecond)
		f, err := mp.Spawn[struct{}](dctx, target, time.Hour)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		_, err = f.GetTimeout(30 * time.Second)
		cancel()
		var te *mp.TimeoutError
		if !errors.As(err, &te) || !strings.HasPrefix(te.Op, "call of ") || !strings.Contains(te.Op, "Sleep") ||
			!errors.Is(err, context.DeadlineExceeded) || te.After < 300*time.Millisecond {
			t.Errorf("%T: Get after the deadline = %T %v, want a *TimeoutError for the call", target, err, err)
		}

		cctx, cancel := context.WithCancel(testCtx(t))
		g, err := mp.Spawn[struct{}](cctx, target, time.Hour)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		cancel()
		if _, err := g.GetTimeout(30 * time.Second); err != context.Canceled {
			t.Errorf("%T: Get after cancel = %T %v, want context.Canceled", target, err, err)
		}
	}
}
