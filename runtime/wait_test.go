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

func TestWaitOverConnsQueuesAndProcesses(t *testing.T) {
	noNewFDs(t)
	a, b, err := mp.Pipe[int](true)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	q := newQueue[int](t, 0)
	p := start(t, &mp.Process{Target: targets.SleepNoCtx, Args: []any{300 * time.Millisecond}})

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if got, err := mp.WaitContext(ctx, a, q, p); !errors.Is(err, context.DeadlineExceeded) || got != nil {
		t.Fatalf("Wait with nothing ready = %v, %v; want DeadlineExceeded", got, err)
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		_ = b.Send(1)
	}()
	got, err := mp.Wait(a, q, p)
	if err != nil || len(got) != 1 || got[0] != mp.Waitable(a) {
		t.Fatalf("Wait after a send = %v, %v; want [a]", got, err)
	}
	if _, err := a.Recv(); err != nil {
		t.Fatal(err)
	}
	if err := q.Put(2); err != nil {
		t.Fatal(err)
	}
	got, err = mp.Wait(a, q)
	if err != nil || len(got) != 1 || got[0] != mp.Waitable(q) {
		t.Fatalf("Wait after a put = %v, %v; want [q]", got, err)
	}
	if _, err := q.Get(); err != nil {
		t.Fatal(err)
	}
	got, err = mp.Wait(a, q, p) // the process ends
	if err != nil || len(got) != 1 || got[0] != mp.Waitable(p) {
		t.Fatalf("Wait for the process = %v, %v; want [p]", got, err)
	}
}

// TestWaitOverProcesses: Wait returns the processes that have ended, and
// only those; WaitTimeout gives up with a *TimeoutError while none has.
func TestWaitOverProcesses(t *testing.T) {
	long := start(t, &mp.Process{Target: targets.SleepNoCtx, Args: []any{time.Hour}})
	short := start(t, &mp.Process{Target: targets.SleepNoCtx, Args: []any{300 * time.Millisecond}})
	var te *mp.TimeoutError
	if got, err := mp.WaitTimeout(50*time.Millisecond, long, short); !errors.As(err, &te) || got != nil {
		t.Fatalf("WaitTimeout with both running = %v, %v; want a *TimeoutError", got, err)
	}
	got, err := mp.Wait(long, short)
	if err != nil || len(got) != 1 || got[0] != mp.Waitable(short) {
		t.Fatalf("Wait = %v, %v; want [short]", got, err)
	}
	if err := long.Kill(); err != nil {
		t.Fatal(err)
	}
	got, err = mp.Wait(long)
	if err != nil || len(got) != 1 || got[0] != mp.Waitable(long) {
		t.Fatalf("Wait after Kill = %v, %v; want [long]", got, err)
	}
	got, err = mp.WaitTimeout(0, long, short)
	if err != nil || len(got) != 2 {
		t.Fatalf("WaitTimeout(0) with both ended = %v, %v; want both", got, err)
	}
}
