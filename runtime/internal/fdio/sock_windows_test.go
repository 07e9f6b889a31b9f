//go:build windows

package fdio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

func pair(t *testing.T) (a, b *Sock) {
	t.Helper()
	a, b, err := SeqpacketPair()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func pipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

// share returns another Sock of s's end, as another process that holds
// the end has: its own handle, turns and events.
func share(t *testing.T, s *Sock) *Sock {
	t.Helper()
	d, err := Dup(s.File())
	if err != nil {
		t.Fatal(err)
	}
	c := NewSock(d)
	t.Cleanup(func() { c.Close() })
	return c
}

// inheritable reports whether f's handle would be inherited by a child.
func inheritable(t *testing.T, f *os.File) bool {
	t.Helper()
	h, err := rawHandle(f)
	if err != nil {
		t.Fatal(err)
	}
	var flags uint32
	if r, _, err := kernel32.NewProc("GetHandleInformation").Call(uintptr(h), uintptr(unsafe.Pointer(&flags))); r == 0 {
		t.Fatal(err)
	}
	return flags&windows.HANDLE_FLAG_INHERIT != 0
}

// A message travels whole with a handle beside it: the received file is
// another handle of the same pipe, not inheritable, and reads what is
// written into the sender's pipe.
func TestSockRoundTripWithHandle(t *testing.T) {
	a, b := pair(t)
	r, w := pipe(t)
	ctx := context.Background()
	if err := a.Send(ctx, []byte("hello"), []*os.File{r}); err != nil {
		t.Fatal(err)
	}
	r.Close() // the message holds a handle of its own
	buf, n, files, err := b.Recv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer PutBuf(buf)
	if got := string((*buf)[:n]); got != "hello" {
		t.Fatalf("message %q, want %q", got, "hello")
	}
	if len(files) != 1 {
		t.Fatalf("%d files arrived, want 1", len(files))
	}
	got := files[0]
	defer got.Close()
	if inheritable(t, got) {
		t.Error("a received handle is inheritable")
	}
	if _, err := w.Write([]byte("through the passed pipe")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	data, err := io.ReadAll(got)
	if err != nil || string(data) != "through the passed pipe" {
		t.Fatalf("read from the received file: %q, %v", data, err)
	}
}

// Each send is one message, received whole and in order; a message longer
// than MaxMsg is refused by its sender, so that no receiver gets part of
// it.
func TestSockMessageBoundaries(t *testing.T) {
	a, b := pair(t)
	ctx := context.Background()
	msgs := [][]byte{[]byte("one"), bytes.Repeat([]byte{'x'}, MaxMsg), []byte("three"), {}}
	for _, m := range msgs {
		if err := a.Send(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
	}
	for i, m := range msgs {
		buf, n, files, err := b.Recv(ctx)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if !bytes.Equal((*buf)[:n], m) || len(files) != 0 {
			t.Fatalf("message %d: %d bytes and %d files, want %d bytes", i, n, len(files), len(m))
		}
		PutBuf(buf)
	}
	if err := a.Send(ctx, make([]byte, MaxMsg+1), nil); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("Send of a message longer than MaxMsg: %v, want a refusal", err)
	}
	if ok, err := a.TrySend(make([]byte, MaxMsg+1), nil); ok || err == nil {
		t.Fatalf("TrySend of a message longer than MaxMsg: %v, %v", ok, err)
	}
	if _, _, _, ok, err := b.TryRecv(); ok || err != nil {
		t.Fatalf("something arrived of the refused messages: %v, %v", ok, err)
	}
}

// The non-blocking forms report false when there is nothing to receive or
// no room to send, and Readable sees a message without taking it.
func TestSockTryAndReadable(t *testing.T) {
	a, b := pair(t)
	if _, _, _, ok, err := b.TryRecv(); ok || err != nil {
		t.Fatalf("TryRecv on an empty pipe: %v, %v", ok, err)
	}
	if ok, err := b.Readable(context.Background(), 0); ok || err != nil {
		t.Fatalf("Readable(0) on an empty pipe: %v, %v", ok, err)
	}
	if ok, err := b.Readable(context.Background(), 20*time.Millisecond); ok || err != nil {
		t.Fatalf("Readable(20ms) on an empty pipe: %v, %v", ok, err)
	}
	fill := bytes.Repeat([]byte("fill"), 256)
	sent := 0
	for ; sent < 1<<16; sent++ {
		ok, err := a.TrySend(fill, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
	}
	if sent == 0 || sent == 1<<16 {
		t.Fatalf("TrySend sent %d messages before the buffer was full", sent)
	}
	if ok, err := b.Readable(context.Background(), -1); !ok || err != nil {
		t.Fatalf("Readable on a full pipe: %v, %v", ok, err)
	}
	for i := 0; i < sent; i++ {
		buf, n, _, ok, err := b.TryRecv()
		if !ok || err != nil || !bytes.Equal((*buf)[:n], fill) {
			t.Fatalf("TryRecv %d of %d: %v, %v", i, sent, ok, err)
		}
		PutBuf(buf)
	}
	if _, _, _, ok, _ := b.TryRecv(); ok {
		t.Fatal("TryRecv received more than was sent: a TrySend that reported false sent its message")
	}
	// Readable waits for a message that comes later.
	time.AfterFunc(20*time.Millisecond, func() { a.Send(context.Background(), []byte("late"), nil) })
	if ok, err := b.Readable(context.Background(), 10*time.Second); !ok || err != nil {
		t.Fatalf("Readable while a message comes: %v, %v", ok, err)
	}
	buf, n, _, ok, err := b.TryRecv()
	if !ok || err != nil || string((*buf)[:n]) != "late" {
		t.Fatalf("TryRecv after Readable: %v, %v", ok, err)
	}
	PutBuf(buf)
}

// A context ends a blocked Recv or Send with the context's error; the
// pipe stays usable.
func TestSockContext(t *testing.T) {
	a, b := pair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, _, _, err := b.Recv(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Recv past its deadline: %v", err)
	}
	for _, size := range []int{4096, 64, 1} { // big ones first, then what room is left
		for {
			if ok, err := a.TrySend(make([]byte, size), nil); err != nil {
				t.Fatal(err)
			} else if !ok {
				break
			}
		}
	}
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	if err := a.Send(ctx, []byte("no room"), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send on a full pipe, cancelled: %v", err)
	}
	buf, _, _, err := b.Recv(context.Background())
	if err != nil {
		t.Fatalf("Recv after a cancelled Send: %v", err)
	}
	PutBuf(buf)
}

// ShutdownSend ends the stream: the other end drains what was sent, then
// gets io.EOF, and sends on the shut end fail with EPIPE in every holder.
// Operations on a closed pipe end fail with os.ErrClosed.
func TestSockShutdownAndClose(t *testing.T) {
	a, b := pair(t)
	ctx := context.Background()
	if err := a.Send(ctx, []byte("last"), nil); err != nil {
		t.Fatal(err)
	}
	if err := a.ShutdownSend(); err != nil {
		t.Fatal(err)
	}
	buf, n, _, err := b.Recv(ctx)
	if err != nil || string((*buf)[:n]) != "last" {
		t.Fatalf("Recv before the end: %v", err)
	}
	PutBuf(buf)
	for range 2 {
		if _, _, _, err := b.Recv(ctx); err != io.EOF {
			t.Fatalf("Recv after ShutdownSend: %v, want io.EOF", err)
		}
	}
	if ok, err := b.Readable(ctx, -1); !ok || err != nil {
		t.Fatalf("Readable at the end: %v, %v", ok, err)
	}
	if err := share(t, a).Send(ctx, []byte("more"), nil); !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("Send on another holder of the shut end: %v, want EPIPE", err)
	}
	if err := b.Send(ctx, []byte("back"), nil); err != nil {
		t.Fatalf("Send the other way after ShutdownSend: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if !b.Closed() {
		t.Error("Closed is false after Close")
	}
	if _, _, _, err := b.Recv(ctx); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Recv on a closed pipe end: %v, want os.ErrClosed", err)
	}
}

// ShutdownSend wakes every receiver waiting at the other end, in every
// holder of it (here: Socks of their own, as other processes have), and
// each gets io.EOF.
func TestSockShutdownWakesEveryReceiver(t *testing.T) {
	a, b := pair(t)
	holders := []*Sock{b, share(t, b), share(t, b)}
	errs := make(chan error, len(holders))
	for _, h := range holders {
		go func() {
			_, _, _, err := h.Recv(context.Background())
			errs <- err
		}()
	}
	time.Sleep(20 * time.Millisecond) // let them block (not needed for the outcome)
	if err := a.ShutdownSend(); err != nil {
		t.Fatal(err)
	}
	for range holders {
		select {
		case err := <-errs:
			if err != io.EOF {
				t.Fatalf("a waiting receiver after ShutdownSend: %v, want io.EOF", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a waiting receiver did not wake at ShutdownSend")
		}
	}
}

// Close wakes a receiver of the same Sock waiting in another goroutine:
// it fails with os.ErrClosed.
func TestSockCloseWakesReceiver(t *testing.T) {
	_, b := pair(t)
	errs := make(chan error, 1)
	go func() {
		_, _, _, err := b.Recv(context.Background())
		errs <- err
	}()
	time.Sleep(20 * time.Millisecond)
	b.Close()
	select {
	case err := <-errs:
		if !errors.Is(err, os.ErrClosed) {
			t.Fatalf("Recv when Close came: %v, want os.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not wake a waiting Recv")
	}
}

// The other end sees io.EOF once every handle of this end is closed, not
// before; a send to an end nobody holds fails with EPIPE.
func TestSockEOFWhenEveryHolderCloses(t *testing.T) {
	a, b := pair(t)
	a2 := share(t, a)
	a.Close()
	if ok, err := b.Readable(context.Background(), 20*time.Millisecond); ok || err != nil {
		t.Fatalf("Readable while another holder keeps the end: %v, %v", ok, err)
	}
	if err := a2.Send(context.Background(), []byte("still here"), nil); err != nil {
		t.Fatal(err)
	}
	a2.Close()
	buf, n, _, err := b.Recv(context.Background())
	if err != nil || string((*buf)[:n]) != "still here" {
		t.Fatalf("Recv of what was sent before the close: %v", err)
	}
	PutBuf(buf)
	if _, _, _, err := b.Recv(context.Background()); err != io.EOF {
		t.Fatalf("Recv after every holder closed: %v, want io.EOF", err)
	}
	if err := b.Send(context.Background(), []byte("to nobody"), nil); !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("Send to an end nobody holds: %v, want EPIPE", err)
	}
}

// Several holders of one end receiving at once each get whole messages,
// every message exactly once.
func TestSockManyReceivers(t *testing.T) {
	a, b := pair(t)
	holders := []*Sock{b, share(t, b), share(t, b), share(t, b)}
	const n = 400
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for _, h := range holders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				buf, k, _, err := h.Recv(context.Background())
				if err != nil {
					if err != io.EOF {
						t.Error(err)
					}
					return
				}
				mu.Lock()
				seen[string((*buf)[:k])]++
				mu.Unlock()
				PutBuf(buf)
			}
		}()
	}
	for i := range n {
		if err := a.Send(context.Background(), fmt.Appendf(nil, "message %d %s", i, strings.Repeat("x", i%300)), nil); err != nil {
			t.Fatal(err)
		}
	}
	a.ShutdownSend()
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d distinct messages arrived, want %d", len(seen), n)
	}
	for i := range n {
		m := fmt.Sprintf("message %d %s", i, strings.Repeat("x", i%300))
		if seen[m] != 1 {
			t.Fatalf("message %d arrived %d times", i, seen[m])
		}
	}
}

// A pipe end received from another process (here: the same one) works as
// the original did, its end of the stream included.
func TestNewSockOfPassedFile(t *testing.T) {
	a, b := pair(t)
	c, d := pair(t)
	ctx := context.Background()
	if err := a.Send(ctx, []byte("a pipe end"), []*os.File{c.File()}); err != nil {
		t.Fatal(err)
	}
	buf, _, files, err := b.Recv(ctx)
	if err != nil || len(files) != 1 {
		t.Fatalf("%d files, %v", len(files), err)
	}
	PutBuf(buf)
	c2 := NewSock(files[0])
	defer c2.Close()
	if err := c2.Send(ctx, []byte("via the copy"), nil); err != nil {
		t.Fatal(err)
	}
	buf, n, _, err := d.Recv(ctx)
	if err != nil || string((*buf)[:n]) != "via the copy" {
		t.Fatalf("Recv: %q, %v", (*buf)[:n], err)
	}
	PutBuf(buf)
	if err := c2.ShutdownSend(); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := d.Recv(ctx); err != io.EOF {
		t.Fatalf("Recv after the copy's ShutdownSend: %v, want io.EOF", err)
	}
}

// Dup makes an independent handle of the same file, not inheritable.
func TestDup(t *testing.T) {
	r, w := pipe(t)
	d, err := Dup(w)
	if err != nil {
		t.Fatal(err)
	}
	if inheritable(t, d) {
		t.Error("a duplicate is inheritable")
	}
	w.Close()
	if _, err := d.Write([]byte("dup")); err != nil {
		t.Fatalf("write to the duplicate after the original closed: %v", err)
	}
	d.Close()
	data, err := io.ReadAll(r)
	if err != nil || string(data) != "dup" {
		t.Fatalf("read %q, %v", data, err)
	}
}

// Poll reports which pipe ends are readable, waits for one to become so,
// and wakes for the wake file without reporting it.
func TestPoll(t *testing.T) {
	var rs []*os.File
	var ws []*Sock
	for range 3 {
		a, b := pair(t)
		rs, ws = append(rs, b.File()), append(ws, a)
	}
	if ready, err := Poll(rs, nil, 0); err != nil || len(ready) != 3 || ready[0] || ready[1] || ready[2] {
		t.Fatalf("Poll(0) with nothing sent: %v, %v", ready, err)
	}
	time.AfterFunc(20*time.Millisecond, func() { ws[1].Send(context.Background(), []byte{1}, nil) })
	if ready, err := Poll(rs, nil, -1); err != nil || ready[0] || !ready[1] || ready[2] {
		t.Fatalf("Poll with the second readable: %v, %v", ready, err)
	}
	ws[2].Close() // the end of a stream is readable too
	if ready, err := Poll(rs, nil, 0); err != nil || ready[0] || !ready[1] || !ready[2] {
		t.Fatalf("Poll with the second readable and the third at its end: %v, %v", ready, err)
	}
	ws[0].ShutdownSend() // and so is a shut-down stream
	if ready, err := Poll(rs[:1], nil, 0); err != nil || !ready[0] {
		t.Fatalf("Poll of a shut-down stream: %v, %v", ready, err)
	}
	c, _ := pair(t)
	wr, ww := pipe(t)
	time.AfterFunc(20*time.Millisecond, func() { ww.Write([]byte{1}); ww.Close() })
	t0 := time.Now()
	if ready, err := Poll([]*os.File{c.File()}, wr, -1); err != nil || len(ready) != 1 || ready[0] {
		t.Fatalf("Poll woken by the wake file: %v, %v", ready, err)
	}
	if d := time.Since(t0); d < 10*time.Millisecond {
		t.Fatalf("Poll returned after %v, before the wake file was written", d)
	}
	if ready, err := Poll([]*os.File{c.File()}, nil, 30); err != nil || ready[0] {
		t.Fatalf("Poll(30ms) of an empty pipe: %v, %v", ready, err)
	}
	if ready, err := Poll(nil, nil, -1); ready != nil || err != nil {
		t.Fatalf("Poll of nothing: %v, %v", ready, err)
	}
}
