package mpnats_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	"github.com/mpgen/mpgen/mpnats"
	mp "github.com/mpgen/mpgen/runtime"
)

// Calls, Map, errors and panics come back over NATS as they do from a
// local pool, in both delivery modes.
func TestDirectAndDurable(t *testing.T) {
	s := runServer(t, nil)
	for _, durable := range []bool{false, true} {
		t.Run(map[bool]string{false: "direct", true: "durable"}[durable], func(t *testing.T) {
			app := map[bool]string{false: "direct", true: "durable"}[durable]
			serveHere(t, s, app, mpnats.Durable(durable), mpnats.Slots(2))
			pool := dial(t, s, app, mpnats.Durable(durable))
			ctx := context.Background()
			if got, err := mp.Submit[int](ctx, pool, targets.Add, 2, 3).Get(); err != nil || got != 5 {
				t.Fatalf("Add(2, 3) = %v, %v", got, err)
			}
			in := make([]int, 100)
			for i := range in {
				in[i] = i
			}
			out, err := mp.Map[int, int](ctx, pool, targets.Identity, in)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range out {
				if v != i {
					t.Fatalf("Map: item %d = %d", i, v)
				}
			}
			_, err = pool.Apply(ctx, targets.Fail, []any{"x"}, nil)
			if !errors.Is(err, targets.ErrBoom) {
				t.Fatalf("Fail: %v, want ErrBoom in its chain", err)
			}
			_, err = mp.Submit[int](ctx, pool, targets.FailTyped, 7).Get()
			var ce *targets.CodeError
			if !errors.As(err, &ce) || ce.Code != 7 {
				t.Fatalf("FailTyped(7): %v, want a *CodeError of code 7", err)
			}
			_, err = pool.Apply(ctx, targets.Panic, []any{"p"}, nil)
			var pe *mp.PanicError
			if !errors.As(err, &pe) || pe.Stack == "" {
				t.Fatalf("Panic: %#v, want a *mp.PanicError with the worker's stack", err)
			}
		})
	}
}

// A handle cannot travel to another host: the call fails before it is
// sent, with *mp.ArgError.
func TestHandleRefused(t *testing.T) {
	s := runServer(t, nil)
	serveHere(t, s, "handles", mpnats.Slots(1))
	pool := dial(t, s, "handles")
	a, b, err := mp.Pipe[string](true)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	_, err = pool.Apply(context.Background(), targets.Upper, []any{b}, nil)
	var ae *mp.ArgError
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "remote worker") {
		t.Fatalf("a call with a Conn: %v, want an *mp.ArgError saying it cannot travel", err)
	}
}

// The pool's size is the slots of the workers running: it grows when one
// more starts (counted again every few seconds), and Pids is empty.
func TestSlotsFollowWorkers(t *testing.T) {
	s := runServer(t, nil)
	const app = "slots"
	serveHere(t, s, app, mpnats.Slots(2))
	pool := dial(t, s, app)
	if n := pool.Size(); n != 2 {
		t.Fatalf("Size with one worker of 2 slots: %d", n)
	}
	if pids := pool.Pids(); len(pids) != 0 {
		t.Errorf("Pids of a remote pool: %v, want none", pids)
	}
	serveHere(t, s, app, mpnats.Slots(3))
	if !targets.Eventually(15*time.Second, func() bool { return pool.Size() == 5 }) {
		t.Fatalf("Size after a second worker of 3 slots started: %d, want 5", pool.Size())
	}
	ws, err := mpnats.Workers(context.Background(), connect(t, s, app), mpnats.App(app))
	if err != nil || len(ws) != 2 || ws[0].Pid != os.Getpid() {
		t.Fatalf("Workers: %+v, %v", ws, err)
	}
}

// A worker's work-queue slots are its own: a worker of one slot that also
// serves the work queue, whose puller waits for a call, runs direct calls
// at once.
func TestDurableSlotsApart(t *testing.T) {
	s := runServer(t, nil)
	const app = "apart"
	serveHere(t, s, app, mpnats.Durable(true), mpnats.Slots(1))
	direct := dial(t, s, app)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for i := range 50 {
		if got, err := mp.Submit[int](ctx, direct, targets.Add, i, 1).Get(); err != nil || got != i+1 {
			t.Fatalf("direct call %d beside an idle puller: %v, %v", i, got, err)
		}
	}
}

// A worker given Targets serves those alone: a call of another target
// finds no worker.
func TestServeOnly(t *testing.T) {
	s := runServer(t, nil)
	serveHere(t, s, "only", mpnats.Slots(1), mpnats.Targets(targets.Add))
	pool := dial(t, s, "only")
	if got, err := mp.Submit[int](context.Background(), pool, targets.Add, 1, 2).Get(); err != nil || got != 3 {
		t.Fatalf("Add: %v, %v", got, err)
	}
	if _, err := pool.Apply(context.Background(), targets.Echo, []any{"x"}, nil); !errors.Is(err, mpnats.ErrNoWorkers) {
		t.Fatalf("Echo on a worker serving only Add: %v, want ErrNoWorkers", err)
	}
	nc := connect(t, s, "only2")
	err := mpnats.Serve(context.Background(), nc, mpnats.App("only2"), mpnats.Targets(func() {}))
	if !errors.Is(err, mp.ErrNotRegistered) {
		t.Fatalf("Serve with an unregistered target: %v, want mp.ErrNotRegistered", err)
	}
}

// An option of the other side is refused, not silently ignored.
func TestOptionsOfTheOtherSide(t *testing.T) {
	s := runServer(t, nil)
	nc := connect(t, s, "sides")
	if _, err := mpnats.Dial(context.Background(), nc, mpnats.Slots(4)); err == nil || !strings.Contains(err.Error(), "Slots") {
		t.Errorf("Dial with Slots: %v, want an error naming it", err)
	}
	if err := mpnats.Serve(context.Background(), nc, mpnats.Heartbeat(time.Second)); err == nil || !strings.Contains(err.Error(), "Heartbeat") {
		t.Errorf("Serve with Heartbeat: %v, want an error naming it", err)
	}
	if _, err := mpnats.Dial(context.Background(), nc, mpnats.App("no.dots")); err == nil || !strings.Contains(err.Error(), "App") {
		t.Errorf("Dial with a bad app name: %v, want an error naming App", err)
	}
}
