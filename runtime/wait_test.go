//go:build linux

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
