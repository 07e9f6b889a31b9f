//go:build unix

package worker

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"testing"

	"github.com/mpgen/mpgen/runtime/internal/fdio"
	"github.com/mpgen/mpgen/runtime/internal/proc"
	"github.com/mpgen/mpgen/runtime/internal/wire"
)

// childEnv makes this test binary an echo worker (see TestMain): Proc's
// mechanics need a child on the other end of the socketpair.
const childEnv = "WORKER_TEST_CHILD"

func TestMain(m *testing.M) {
	if _, ok := os.LookupEnv(childEnv); ok {
		os.Exit(echo())
	}
	os.Exit(m.Run())
}

// echo sends every frame it reads back with its kind and id, its body
// followed by one byte: how many descriptors arrived with it. It exits 0 at
// the end of the channel.
func echo() int {
	conn, err := proc.ControlConn(proc.ControlFD)
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		return 3
	}
	rd := fdio.NewReader(conn)
	for {
		f, err := wire.ReadPeerFrame(rd, 1<<30)
		if errors.Is(err, io.EOF) {
			return 0
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "echo:", err)
			return 4
		}
		n := 0
		for rd.Pending() {
			files, _ := rd.Take(1)
			files[0].Close()
			n++
		}
		if err := wire.WriteFrame(conn, f.Kind, f.ID, append(f.Body, byte(n))); err != nil {
			return 5
		}
	}
}

// startEcho starts an echo worker as a Proc.
func startEcho(t *testing.T, maxFrame int64) *Proc {
	t.Helper()
	cmd, conn, outs, err := proc.Spawn("", nil, "", []string{childEnv + "=1"}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := NewProc(cmd, conn, outs, func() int64 { return maxFrame })
	t.Cleanup(func() {
		c.Kill()
		c.Wait()
	})
	return c
}

// Send writes frames in order, small ones together, big pieces on their
// own and descriptors with their frame; Recv returns what the worker sent;
// CloseWrite ends the worker's calls and Wait reports its clean exit.
func TestProcSendRecv(t *testing.T) {
	c := startEcho(t, 1<<30)
	if c.Pid() <= 0 || c.Pid() == os.Getpid() {
		t.Fatalf("Pid() = %d", c.Pid())
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	big := bytes.Repeat([]byte("b"), 3*wire.BigPiece)
	fs := []Frame{
		{Kind: wire.KindCall, ID: 1, Body: wire.Payload{[]byte("one"), []byte("-two")}},
		{Kind: wire.KindCancel, ID: 1},
		{Kind: wire.KindBatch, ID: 2, Body: wire.Payload{[]byte("head"), big, []byte("tail")}},
		{Kind: wire.KindCall, ID: 3, Body: wire.Payload{[]byte("with files")}, Files: []*os.File{r, w}},
	}
	for i := range 200 { // more small frames than one write gathers
		fs = append(fs, Frame{Kind: wire.KindCall, ID: uint64(10 + i), Body: wire.Payload{bytes.Repeat([]byte{byte(i)}, 2000)}})
	}
	sent := make(chan error, 1)
	go func() { sent <- c.Send(fs...) }()
	for _, f := range fs {
		got, err := c.Recv()
		if err != nil {
			t.Fatalf("Recv after frame %d: %v", f.ID, err)
		}
		want := append(f.Body.Bytes(), byte(len(f.Files)))
		if got.Kind != f.Kind || got.ID != f.ID || !bytes.Equal(got.Body, want) {
			t.Fatalf("echo of %v %d: %v %d with %d bytes, want %d", f.Kind, f.ID, got.Kind, got.ID, len(got.Body), len(want))
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	c.CloseWrite()
	if f, err := c.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("Recv after CloseWrite: %v %d, %v; want io.EOF", f.Kind, f.ID, err)
	}
	for range 2 {
		if code, sig := c.Wait(); code != 0 || sig != "" {
			t.Fatalf("Wait() = %d, %q; want a clean exit", code, sig)
		}
	}
	if err := c.Send(Frame{Kind: wire.KindCall, ID: 99}); err == nil {
		t.Fatal("Send to an ended worker succeeded")
	}
}

// Kill stops the worker: Recv ends and Wait reports the signal. RSS reads
// the worker's memory where the platform tells it.
func TestProcKill(t *testing.T) {
	c := startEcho(t, 1<<30)
	if err := c.Send(Frame{Kind: wire.KindCall, ID: 1, Body: wire.Payload{[]byte("x")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Recv(); err != nil { // the worker is up
		t.Fatal(err)
	}
	// Where this process's RSS reads (Linux, but not the portable build),
	// the worker's must too.
	rss, ok := c.RSS()
	if _, readable := proc.RSS(os.Getpid()); readable && (!ok || rss <= 0) {

		t.Fatalf("RSS() = %d, %v", rss, ok)
	}
	c.Kill()
	if _, err := c.Recv(); err == nil {
		t.Fatal("Recv from a killed worker returned a frame")
	}
	if code, sig := c.Wait(); code != -int(syscall.SIGKILL) || sig != "SIGKILL" {
		t.Fatalf("Wait() = %d, %q; want -9, SIGKILL", code, sig)
	}
}

// Buffered reports a frame that Recv can return without reading the
// channel, and only a whole one; Recv refuses a frame over maxFrame.
func TestProcBuffered(t *testing.T) {
	fds, err := fdio.Socketpair(syscall.SOCK_STREAM)
	if err != nil {
		t.Fatal(err)
	}
	mine, peer := os.NewFile(uintptr(fds[0]), "mine"), os.NewFile(uintptr(fds[1]), "peer")
	defer mine.Close()
	defer peer.Close()
	limit := int64(100)
	c := NewProc(nil, mine, nil, func() int64 { return limit })
	if c.Buffered() {
		t.Fatal("Buffered before anything arrived")
	}
	two := wire.AppendFrame(wire.AppendFrame(nil, wire.KindResult, 1, []byte("a")), wire.KindError, 2, []byte("bb"))
	third := wire.AppendFrame(nil, wire.KindResult, 3, []byte("ccc"))
	if _, err := peer.Write(append(two, third[:len(third)-1]...)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		id       uint64
		buffered bool
	}{{1, true}, {2, false}} {
		f, err := c.Recv()
		if err != nil || f.ID != want.id {
			t.Fatalf("Recv = %d, %v; want frame %d", f.ID, err, want.id)
		}
		if c.Buffered() != want.buffered {
			t.Fatalf("after frame %d: Buffered() = %v with the next frame %s", f.ID, !want.buffered, map[bool]string{true: "whole", false: "cut short"}[want.buffered])
		}
	}
	if _, err := peer.Write(third[len(third)-1:]); err != nil {
		t.Fatal(err)
	}
	if f, err := c.Recv(); err != nil || f.ID != 3 || string(f.Body) != "ccc" {
		t.Fatalf("Recv = %d %q, %v", f.ID, f.Body, err)
	}
	if _, err := peer.Write(wire.AppendFrame(nil, wire.KindResult, 4, make([]byte, limit))); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Recv(); !errors.Is(err, wire.ErrFrameTooLarge) {
		t.Fatalf("Recv of a frame over the limit: %v", err)
	}
}
