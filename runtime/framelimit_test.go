//go:build linux || windows

package mp_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

// testFrameLimit is the frame limit these tests lower to, so that values
// just over it are small: above the 64 KiB a Queue or Conn carries inline.
const testFrameLimit = 256 << 10

// lowerFrameLimit sets the frame limit to testFrameLimit until the test
// ends. Children started meanwhile inherit it.
func lowerFrameLimit(t *testing.T) {
	prev := mp.SetMaxFrameSize(testFrameLimit)
	t.Cleanup(func() { mp.SetMaxFrameSize(prev) })
}

// isTooLarge fails the test unless err is an *ArgError (when wantArg) that
// matches mp.ErrTooLarge and names the limit.
func isTooLarge(t *testing.T, what string, err error, wantArg bool) *mp.ArgError {
	t.Helper()
	var ae *mp.ArgError
	switch {
	case !errors.Is(err, mp.ErrTooLarge):
		t.Fatalf("%s: %T %v, want an error matching ErrTooLarge", what, err, err)
	case wantArg && !errors.As(err, &ae):
		t.Fatalf("%s: %T %v, want an *ArgError", what, err, err)
	case !strings.Contains(err.Error(), fmt.Sprint(testFrameLimit)):
		t.Fatalf("%s: %v does not name the limit %d", what, err, testFrameLimit)
	}
	return ae
}

// Start refuses arguments whose call frame would be over the limit the
// child applies, with an *ArgError naming the argument, and spawns
// nothing; a call frame of exactly the limit runs.
func TestStartRefusesArgumentsOverTheFrameLimit(t *testing.T) {
	lowerFrameLimit(t)
	before := len(mp.ActiveChildren())
	p := &mp.Process{Target: targets.ByteLen, Args: []any{make([]byte, testFrameLimit)}}
	ae := isTooLarge(t, "Start", p.Start(), true)
	if ae.Param != "data" {
		t.Errorf("ArgError.Param = %q, want data", ae.Param)
	}
	if n := len(mp.ActiveChildren()); n != before {
		t.Fatalf("%d children after a refused Start, %d before", n, before)
	}
	if err := p.Join(); !errors.Is(err, mp.ErrNotStarted) {
		t.Fatalf("Join after a refused Start: %v, want ErrNotStarted", err)
	}

	// The message says how large the frame would be: shrink the argument
	// by the excess and the call is exactly the limit, which the child
	// accepts; one byte more is refused.
	var frame int
	if i := strings.Index(ae.Msg, "would be a "); i < 0 {
		t.Fatalf("the message %q does not give the frame's size", ae.Msg)
	} else if _, err := fmt.Sscanf(ae.Msg[i:], "would be a %d-byte frame", &frame); err != nil {
		t.Fatalf("the message %q: %v", ae.Msg, err)
	}
	fits := testFrameLimit - (frame - testFrameLimit)
	isTooLarge(t, "Start one byte over", (&mp.Process{Target: targets.ByteLen, Args: []any{make([]byte, fits+1)}}).Start(), true)
	p = start(t, &mp.Process{Target: targets.ByteLen, Args: []any{make([]byte, fits)}})
	if err := join(t, p); err != nil {
		t.Fatalf("a call of exactly the frame limit: %v", err)
	}
	if res, _ := p.Result(); res != fits {
		t.Fatalf("the child got %v bytes, want %d", res, fits)
	}
}

// Pool calls, Map and Starmap chunks and initializer arguments over the
// limit fail alone, before they are sent: the worker that would have
// refused them (and died) serves on.
func TestPoolRefusesCallsOverTheFrameLimit(t *testing.T) {
	lowerFrameLimit(t)
	ctx := testCtx(t)
	big := make([]byte, testFrameLimit)

	_, err := mp.NewPool(ctx, mp.Workers(1), mp.Initializer(targets.InitWorker, strings.Repeat("t", testFrameLimit)))
	isTooLarge(t, "NewPool with an Initializer", err, true)

	p := newPool(t, mp.Workers(1))
	pid, err := mp.Submit[string](ctx, p, targets.WorkerTag).Get()
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Apply(ctx, targets.ByteLen, []any{big}, nil)
	isTooLarge(t, "Apply", err, true)
	_, err = mp.Submit[int](ctx, p, targets.ByteLen, big).Get()
	isTooLarge(t, "Submit", err, true)
	_, err = p.ApplyAsync(ctx, targets.ByteLen, nil, map[string]any{"data": big}).Get()
	isTooLarge(t, "ApplyAsync", err, true)
	half := make([]byte, testFrameLimit/2)
	_, err = mp.Map[[]byte, int](ctx, p, targets.ByteLen, [][]byte{half, half}, mp.Chunksize(2))
	isTooLarge(t, "Map", err, true)
	_, err = mp.Starmap[int](ctx, p, targets.ByteLen, [][]any{{half}, {half}}, mp.Chunksize(2))
	isTooLarge(t, "Starmap", err, true)

	// The same values in chunks of one fit.
	got, err := mp.Map[[]byte, int](ctx, p, targets.ByteLen, [][]byte{half, half}, mp.Chunksize(1))
	if err != nil || len(got) != 2 || got[0] != len(half) {
		t.Fatalf("Map in chunks of one = %v, %v", got, err)
	}
	if again, err := mp.Submit[string](ctx, p, targets.WorkerTag).Get(); err != nil || again != pid {
		t.Fatalf("the worker after refused calls: %q, %v; want the same worker %q", again, err, pid)
	}
}

// A target whose result (or error) would be a frame over the limit fails
// with an error matching ErrTooLarge, in a child of its own and in a pool,
// whose worker serves on; a result of exactly the limit arrives.
func TestChildResultOverTheFrameLimit(t *testing.T) {
	lowerFrameLimit(t)
	ctx := testCtx(t)
	// A result frame is its kind and call id (9 bytes), the value's form
	// (1) and length (3 bytes for these sizes), then its bytes.
	const fits = testFrameLimit - 13

	p := start(t, &mp.Process{Target: targets.Blob, Args: []any{fits + 1}})
	err := join(t, p)
	var re *mp.RemoteError
	if isTooLarge(t, "a result over the limit", err, false); !errors.As(err, &re) {
		t.Fatalf("Join = %T %v, want a *RemoteError", err, err)
	}
	if code := exitCode(t, p); code != 1 {
		t.Fatalf("exit code %d, want 1 (the call failed)", code)
	}
	p = start(t, &mp.Process{Target: targets.FailLong, Args: []any{testFrameLimit}})
	isTooLarge(t, "an error over the limit", join(t, p), false)
	p = start(t, &mp.Process{Target: targets.Blob, Args: []any{fits}})
	if err := join(t, p); err != nil {
		t.Fatalf("a result of exactly the limit: %v", err)
	}
	if res, _ := p.Result(); len(res.([]byte)) != fits {
		t.Fatalf("result of %d bytes, want %d", len(res.([]byte)), fits)
	}

	pool := newPool(t, mp.Workers(1))
	pid, err := mp.Submit[string](ctx, pool, targets.WorkerTag).Get()
	if err != nil {
		t.Fatal(err)
	}
	_, err = mp.Submit[[]byte](ctx, pool, targets.Blob, fits+1).Get()
	isTooLarge(t, "a pool call's result", err, false)
	_, err = mp.Map[int, []byte](ctx, pool, targets.Blob, []int{testFrameLimit / 2, testFrameLimit / 2}, mp.Chunksize(2))
	var te *mp.TaskError
	if isTooLarge(t, "a Map chunk's results", err, false); !errors.As(err, &te) {
		t.Fatalf("Map = %T %v, want a *TaskError", err, err)
	}
	if res, err := mp.Submit[[]byte](ctx, pool, targets.Blob, fits).Get(); err != nil || len(res) != fits {
		t.Fatalf("a pool result of exactly the limit: %d bytes, %v", len(res), err)
	}
	if again, err := mp.Submit[string](ctx, pool, targets.WorkerTag).Get(); err != nil || again != pid {
		t.Fatalf("the worker after results over the limit: %q, %v; want the same worker %q", again, err, pid)
	}
}

// Put and Send refuse a value over the limit the receiver applies, and
// nothing of it travels: the next value is the next one received. A value
// of exactly the limit travels.
func TestPutAndSendRefuseValuesOverTheFrameLimit(t *testing.T) {
	noNewFDs(t)
	lowerFrameLimit(t)
	over, exact := make([]byte, testFrameLimit+1), bytes.Repeat([]byte{7}, testFrameLimit)

	q := newQueue[[]byte](t, 0)
	isTooLarge(t, "Queue.Put", q.Put(over), false)
	isTooLarge(t, "Queue.PutTimeout", q.PutTimeout(over, time.Second), false)
	if err := q.Put(exact); err != nil {
		t.Fatalf("Put of exactly the limit: %v", err)
	}
	if got, err := q.GetTimeout(10 * time.Second); err != nil || !bytes.Equal(got, exact) {
		t.Fatalf("Get = %d bytes, %v; want the value of exactly the limit", len(got), err)
	}
	if _, err := q.TryGet(); !errors.Is(err, mp.ErrQueueEmpty) {
		t.Fatalf("TryGet after the refused puts: %v, want ErrQueueEmpty", err)
	}

	a, b, err := mp.Pipe[[]byte](true)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	isTooLarge(t, "Conn.Send", a.Send(over), false)
	isTooLarge(t, "Conn.SendTimeout", a.SendTimeout(over, time.Second), false)
	if err := a.Send(exact); err != nil {
		t.Fatalf("Send of exactly the limit: %v", err)
	}
	if got, err := b.RecvTimeout(10 * time.Second); err != nil || !bytes.Equal(got, exact) {
		t.Fatalf("Recv = %d bytes, %v; want the value of exactly the limit", len(got), err)
	}
	if ok, err := b.Poll(0); ok || err != nil {
		t.Fatalf("Poll after the refused sends = %v, %v; want nothing", ok, err)
	}
}
