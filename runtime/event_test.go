//go:build linux || windows

package mp_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

func TestEventProcesses(t *testing.T) {
	e := made(mp.NewEvent())(t)
	done := made(mp.NewEvent())(t)
	if err := e.WaitTimeout(10 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitTimeout on a clear event: %v", err)
	}
	p := start(t, &mp.Process{Target: targets.WaitThenSet, Args: []any{e, done}})
	time.Sleep(50 * time.Millisecond)
	if done.IsSet() {
		t.Fatal("the child went on before the event was set")
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
	if err := join(t, p); err != nil {
		t.Fatal(err)
	}
	e.Clear()
	if e.IsSet() {
		t.Fatal("IsSet after Clear")
	}
}
