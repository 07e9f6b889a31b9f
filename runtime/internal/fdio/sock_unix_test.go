//go:build unix

package fdio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fdFlags returns f's descriptor flags (FD_CLOEXEC).
func fdFlags(t *testing.T, f *os.File) int {
	t.Helper()
	fd, err := rawFD(f)
	if err != nil {
		t.Fatal(err)
	}
	r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	return int(r)
}

func pair(t testing.TB) (a, b *Sock) {
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

// A message travels whole with a descriptor beside it (SCM_RIGHTS): the
// received file is another descriptor of the same pipe, close-on-exec, and
// reads what is written into the sender's pipe.
func TestSockRoundTripWithDescriptor(t *testing.T) {
	a, b := pair(t)
	r, w := pipe(t)
	ctx := context.Background()
	if err := a.Send(ctx, []byte("hello"), []*os.File{r}); err != nil {
		t.Fatal(err)
	}
	r.Close() // the receiver has its own duplicate
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
	if fdFlags(t, got)&syscall.FD_CLOEXEC == 0 {
		t.Error("a received descriptor is not close-on-exec")
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
// than MaxMsg fails instead of arriving cut short.
func TestSockMessageBoundaries(t *testing.T) {
	a, b := pair(t)
	ctx := context.Background()
	msgs := [][]byte{[]byte("one"), bytes.Repeat([]byte{'x'}, MaxMsg), []byte("three"), bytes.Repeat([]byte{'y'}, MaxInline), bytes.Repeat([]byte{'z'}, min(MaxInline+1, MaxMsg))}
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
	if err := a.Send(ctx, make([]byte, MaxMsg+1), nil); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := b.Recv(ctx); err == nil || !strings.Contains(err.Error(), "cut short") {
		t.Fatalf("a message longer than MaxMsg: %v, want it reported cut short", err)
	}
}

// The non-blocking forms report false when there is nothing to receive or
// no room to send, and Readable sees a message without taking it.
func TestSockTryAndReadable(t *testing.T) {
	a, b := pair(t)
	if _, _, _, ok, err := b.TryRecv(); ok || err != nil {
		t.Fatalf("TryRecv on an empty socket: %v, %v", ok, err)
	}
	if ok, err := b.Readable(context.Background(), 0); ok || err != nil {
		t.Fatalf("Readable(0) on an empty socket: %v, %v", ok, err)
	}
	if ok, err := b.Readable(context.Background(), 20*time.Millisecond); ok || err != nil {
		t.Fatalf("Readable(20ms) on an empty socket: %v, %v", ok, err)
	}
	sent := 0
	for ; sent < 1<<20; sent++ {
		ok, err := a.TrySend([]byte("fill"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
	}
	if sent == 0 || sent == 1<<20 {
		t.Fatalf("TrySend sent %d messages before the buffer was full", sent)
	}
	if ok, err := b.Readable(context.Background(), -1); !ok || err != nil {
		t.Fatalf("Readable on a full socket: %v, %v", ok, err)
	}
	for i := 0; i < sent; i++ {
		buf, n, _, ok, err := b.TryRecv()
		if !ok || err != nil || string((*buf)[:n]) != "fill" {
			t.Fatalf("TryRecv %d of %d: %v, %v", i, sent, ok, err)
		}
		PutBuf(buf)
	}
	if _, _, _, ok, _ := b.TryRecv(); ok {
		t.Fatal("TryRecv received more than was sent")
	}
}

// A context ends a blocked Recv or Send with the context's error; the
// socket stays usable.
func TestSockContext(t *testing.T) {
	a, b := pair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, _, _, err := b.Recv(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Recv past its deadline: %v", err)
	}
	for {
		if ok, err := a.TrySend([]byte("fill"), nil); err != nil {
			t.Fatal(err)
		} else if !ok {
			break
		}
	}
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	if err := a.Send(ctx, []byte("no room"), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send on a full socket, cancelled: %v", err)
	}
	buf, _, _, err := b.Recv(context.Background())
	if err != nil {
		t.Fatalf("Recv after a cancelled Send: %v", err)
	}
	PutBuf(buf)
}

// ShutdownSend ends the stream: the other end drains what was sent, then
// gets io.EOF. Operations on a closed socket fail with os.ErrClosed.
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
	if _, _, _, err := b.Recv(ctx); err != io.EOF {
		t.Fatalf("Recv after ShutdownSend: %v, want io.EOF", err)
	}
	if ok, err := b.Readable(ctx, -1); !ok || err != nil {
		t.Fatalf("Readable at the end: %v, %v", ok, err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if !b.Closed() {
		t.Error("Closed is false after Close")
	}
	if _, _, _, err := b.Recv(ctx); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Recv on a closed socket: %v, want os.ErrClosed", err)
	}
}

// A socket received from another process (here: the same one) works as
// the original did.
func TestNewSockOfPassedFile(t *testing.T) {
	a, b := pair(t)
	c, d := pair(t)
	ctx := context.Background()
	if err := a.Send(ctx, []byte("a socket"), []*os.File{c.File()}); err != nil {
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
}

// streamPair makes a connected pair of stream sockets.
func streamPair(t *testing.T) (a, b *os.File) {
	t.Helper()
	fds, err := Socketpair(syscall.SOCK_STREAM)
	if err != nil {
		t.Fatal(err)
	}
	a, b = os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b")
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// On a stream, the files go beside the first bytes a RightsWriter writes;
// the Reader keeps them in arrival order until they are taken.
func TestRightsWriterAndReader(t *testing.T) {
	a, b := streamPair(t)
	r1, w1 := pipe(t)
	r2, w2 := pipe(t)
	if _, err := NewRightsWriter(a, []*os.File{r1, r2}).Write([]byte("frame")); err != nil {
		t.Fatal(err)
	}
	if _, err := NewRightsWriter(a, nil).Write([]byte("plain")); err != nil {
		t.Fatal(err)
	}
	rd := NewReader(b)
	if rd.Pending() {
		t.Fatal("descriptors pending before any read")
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(rd, buf); err != nil || string(buf) != "frame" {
		t.Fatalf("read %q, %v", buf, err)
	}
	if !rd.Pending() {
		t.Fatal("no descriptors pending after the frame's bytes were read")
	}
	if _, err := rd.Take(3); err == nil {
		t.Fatal("Take(3) of 2 descriptors succeeded")
	}
	files, err := rd.Take(2)
	if err != nil || len(files) != 2 {
		t.Fatalf("Take(2): %d files, %v", len(files), err)
	}
	for i, w := range []*os.File{w1, w2} {
		if _, err := w.Write([]byte{byte('0' + i)}); err != nil {
			t.Fatal(err)
		}
		one := make([]byte, 1)
		if _, err := files[i].Read(one); err != nil || one[0] != byte('0'+i) {
			t.Fatalf("file %d read %q, %v: out of order?", i, one, err)
		}
		files[i].Close()
	}
	if _, err := io.ReadFull(rd, buf); err != nil || string(buf) != "plain" {
		t.Fatalf("read %q, %v", buf, err)
	}
	if rd.Pending() {
		t.Fatal("descriptors pending after all were taken")
	}
	a.Close()
	if _, err := rd.Read(buf); err != io.EOF {
		t.Fatalf("read at the end: %v, want io.EOF", err)
	}
}

// More descriptors than MaxFiles at once: the Reader says some were lost.
func TestReaderTooManyFiles(t *testing.T) {
	a, b := streamPair(t)
	r, _ := pipe(t)
	files := make([]*os.File, MaxFiles+1)
	for i := range files {
		files[i] = r
	}
	if _, err := NewRightsWriter(a, files).Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	rd := NewReader(b)
	_, err := rd.Read(make([]byte, 1))
	if err == nil || !strings.Contains(err.Error(), "some were lost") {
		t.Fatalf("read with %d descriptors: %v", len(files), err)
	}
	got, _ := rd.Take(MaxFiles)
	for _, f := range got {
		f.Close()
	}
}

// Dup makes an independent close-on-exec descriptor of the same file.
func TestDup(t *testing.T) {
	r, w := pipe(t)
	d, err := Dup(w)
	if err != nil {
		t.Fatal(err)
	}
	if fdFlags(t, d)&syscall.FD_CLOEXEC == 0 {
		t.Error("a duplicate is not close-on-exec")
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

// Poll reports which of several descriptors are readable, waits for one
// to become so, and wakes for the wake file without reporting it.
func TestPoll(t *testing.T) {
	var rs, ws []*os.File
	for range 3 {
		r, w := pipe(t)
		rs, ws = append(rs, r), append(ws, w)
	}
	if ready, err := Poll(rs, nil, 0); err != nil || len(ready) != 3 || ready[0] || ready[1] || ready[2] {
		t.Fatalf("Poll(0) with nothing written: %v, %v", ready, err)
	}
	if _, err := ws[1].Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	if ready, err := Poll(rs, nil, -1); err != nil || ready[0] || !ready[1] || ready[2] {
		t.Fatalf("Poll with the second readable: %v, %v", ready, err)
	}
	ws[2].Close() // the end of a stream is readable too
	if ready, err := Poll(rs, nil, 0); err != nil || ready[0] || !ready[1] || !ready[2] {
		t.Fatalf("Poll with the second readable and the third at its end: %v, %v", ready, err)
	}
	wr, ww := pipe(t)
	time.AfterFunc(20*time.Millisecond, func() { ww.Write([]byte{1}) })
	t0 := time.Now()
	if ready, err := Poll(rs[:1], wr, -1); err != nil || len(ready) != 1 || ready[0] {
		t.Fatalf("Poll woken by the wake file: %v, %v", ready, err)
	}
	if d := time.Since(t0); d < 10*time.Millisecond {
		t.Fatalf("Poll returned after %v, before the wake file was written", d)
	}
	if ready, err := Poll(nil, nil, -1); ready != nil || err != nil {
		t.Fatalf("Poll of nothing: %v, %v", ready, err)
	}
}
