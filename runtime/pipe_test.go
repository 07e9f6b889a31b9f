//go:build linux || windows

package mp_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

func TestPipeToChild(t *testing.T) {
	noNewFDs(t)
	a, b, err := mp.Pipe[string](true)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	p := start(t, &mp.Process{Target: targets.Upper, Args: []any{b}})
	b.Close() // the child has its own end now: closing ours loses nothing
	for _, s := range []string{"one", "two", ""} {
		if err := a.Send(s); err != nil {
			t.Fatalf("Send(%q): %v", s, err)
		}
		got, err := a.Recv()
		if err != nil || got != strings.ToUpper(s) {
			t.Fatalf("Recv = %q, %v; want %q", got, err, strings.ToUpper(s))
		}
	}
	if ok, err := a.Poll(50 * time.Millisecond); ok || err != nil {
		t.Fatalf("Poll with nothing sent = %v, %v; want false, nil", ok, err)
	}
	a.Close()
	if err := join(t, p); err != nil {
		t.Fatalf("child: %v", err)
	}
}

func TestPipeLargeValueAndEOF(t *testing.T) {
	noNewFDs(t)
	r, w, err := mp.Pipe[[]byte](false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	const n = 8 << 20 // far beyond a socket's buffer: it rides in a memfd
	p := start(t, &mp.Process{Target: targets.SendBytes, Args: []any{w, n, byte(7)}})
	w.Close()
	ok, err := r.Poll(-1)
	if !ok || err != nil {
		t.Fatalf("Poll(-1) = %v, %v", ok, err)
	}
	got, err := r.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n || !bytes.Equal(got, bytes.Repeat([]byte{7}, n)) {
		t.Fatalf("got %d bytes, want %d sevens", len(got), n)
	}
	if _, err := r.Recv(); err != io.EOF {
		t.Fatalf("Recv after the sender closed: %v, want io.EOF", err)
	}
	if err := r.Send(nil); !errors.Is(err, mp.ErrWrongEnd) {
		t.Fatalf("Send on the read end: %v, want ErrWrongEnd", err)
	}
	if err := join(t, p); err != nil {
		t.Fatalf("child: %v", err)
	}
}

func TestPipeContextAndClosedPeer(t *testing.T) {
	noNewFDs(t)
	a, b, err := mp.Pipe[int](true)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := a.RecvContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("RecvContext with nothing sent: %v, want DeadlineExceeded", err)
	}
	// The deadline used to interrupt is gone: the next Recv works.
	if err := b.Send(5); err != nil {
		t.Fatal(err)
	}
	if v, err := a.Recv(); v != 5 || err != nil {
		t.Fatalf("Recv = %v, %v", v, err)
	}
	b.Close()
	if err := a.Send(1); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("Send to a closed end: %v, want io.ErrClosedPipe", err)
	}
	a.Close()
	if _, err := a.Recv(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Recv on a closed Conn: %v, want os.ErrClosed", err)
	}
}
