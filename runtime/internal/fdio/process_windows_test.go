//go:build windows

package fdio

// Handles that travel between processes: in Sock messages and beside the
// frames of a control channel, to a child and back. The test binary is
// its own child, in the mode childEnv names.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/windows"

	"github.com/mpgen/mpgen/runtime/internal/wire"
)

const (
	childEnv   = "FDIO_TEST_CHILD"
	handlesEnv = "FDIO_TEST_HANDLES"
)

func TestMain(m *testing.M) {
	if mode, ok := os.LookupEnv(childEnv); ok {
		if err := child(mode); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child runs the test binary's life as a child in mode, on the handles
// it inherited.
func child(mode string) error {
	var files []*os.File
	for _, v := range strings.Split(os.Getenv(handlesEnv), ",") {
		h, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return err
		}
		files = append(files, os.NewFile(uintptr(h), "inherited"))
	}
	ctx := context.Background()
	switch mode {
	case "sock-echo":
		// Answers each message; writes into a pipe that came with one;
		// sends a pipe of its own back when asked.
		s := NewSock(files[0])
		for {
			buf, n, got, err := s.Recv(ctx)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			msg := string((*buf)[:n])
			PutBuf(buf)
			for _, f := range got {
				fmt.Fprintf(f, "from child: %s", msg)
				f.Close()
			}
			var back []*os.File
			if msg == "send me one" {
				r, w, err := os.Pipe()
				if err != nil {
					return err
				}
				fmt.Fprint(w, "the child's pipe")
				w.Close()
				defer r.Close()
				back = append(back, r)
			}
			if err := s.Send(ctx, []byte("got "+msg), back); err != nil {
				return err
			}
		}
	case "sock-send-exit":
		// Sends a pipe and exits at once, before anyone takes it: it holds
		// the handle in transit itself.
		s := NewSock(files[0])
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		fmt.Fprint(w, "lost")
		return s.Send(ctx, []byte("bye"), []*os.File{r})
	case "send-sock":
		// Sends one end of a pipe of its own, with a message in it, and
		// exits at once unless FDIO_TEST_WAIT is true, holding the other
		// end. Its parent holds the handles it sends in transit.
		if err := SetTransitHost(uint32(os.Getppid())); err != nil {
			return err
		}
		s := NewSock(files[0])
		a, b, err := SeqpacketPair()
		if err != nil {
			return err
		}
		if err := s.Send(ctx, []byte("a sock"), []*os.File{b.File()}); err != nil {
			return err
		}
		b.Close()
		if err := a.Send(ctx, []byte("via the passed sock"), nil); err != nil {
			return err
		}
		if os.Getenv("FDIO_TEST_WAIT") == "true" {
			s.Recv(ctx) // until the parent shuts its end down
		}
		return nil
	case "sock-consume":
		// Prints every message it receives, one a line, until the end.
		s := NewSock(files[0])
		out := bufio.NewWriter(os.Stdout)
		defer out.Flush()
		for {
			buf, n, _, err := s.Recv(ctx)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "%s\n", (*buf)[:n])
			PutBuf(buf)
		}
	case "control":
		// Takes a pipe that came beside a frame and writes into it; then
		// sends a pipe of its own beside a frame and exits at once.
		conn := files[0]
		rd := NewReader(conn)
		f, err := wire.ReadFrame(rd, 1<<20)
		if err != nil {
			return err
		}
		got, err := rd.Take(1)
		if err != nil {
			return err
		}
		fmt.Fprintf(got[0], "via control: %s", f.Body)
		got[0].Close()
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		fmt.Fprint(w, "from the exiting child")
		w.Close()
		return wire.WriteFrame(NewRightsWriter(conn, []*os.File{r}), wire.KindKept, 9, []byte("kept"))
	}
	return fmt.Errorf("no mode %q", mode)
}

// spawn starts the test binary as a child in mode, inheriting (duplicates
// of) files; the child's output goes to stdout.
func spawn(t *testing.T, mode string, stdout io.Writer, files ...*os.File) *exec.Cmd {
	t.Helper()
	var hs []syscall.Handle
	var vals []string
	for _, f := range files {
		h, err := rawHandle(f)
		if err != nil {
			t.Fatal(err)
		}
		var d windows.Handle
		if err := windows.DuplicateHandle(windows.CurrentProcess(), h, windows.CurrentProcess(), &d, 0, true, windows.DUPLICATE_SAME_ACCESS); err != nil {
			t.Fatal(err)
		}
		defer windows.CloseHandle(d)
		hs = append(hs, syscall.Handle(d))
		vals = append(vals, strconv.FormatUint(uint64(d), 10))
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childEnv+"="+mode, handlesEnv+"="+strings.Join(vals, ","))
	cmd.Stdout, cmd.Stderr = stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{AdditionalInheritedHandles: hs}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("child %s's stderr: %s", mode, stderr.String())
		}
	})
	return cmd
}

// wait waits for cmd to exit and fails t unless it succeeded.
func wait(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("child: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the child did not exit")
	}
}

// readAll reads f to its end, or fails t after a while.
func readAll(t *testing.T, f *os.File) string {
	t.Helper()
	done := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(f)
		done <- string(b)
	}()
	select {
	case s := <-done:
		return s
	case <-time.After(30 * time.Second):
		t.Fatal("reading a passed pipe did not end")
		return ""
	}
}

// Handles travel in Sock messages to a child and back: the child writes
// into a pipe it received, and sends a pipe of its own that reads here
// after the child has exited (the receiver took it out of the child while
// it ran).
func TestSockHandlesToChildAndBack(t *testing.T) {
	a, b := pair(t)
	cmd := spawn(t, "sock-echo", nil, b.File())
	b.Close()
	ctx := context.Background()
	r, w := pipe(t)
	if err := a.Send(ctx, []byte("hello"), []*os.File{w}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	buf, n, files, err := a.Recv(ctx)
	if err != nil || string((*buf)[:n]) != "got hello" || len(files) != 0 {
		t.Fatalf("the child's answer: %v, %d files", err, len(files))
	}
	PutBuf(buf)
	if got := readAll(t, r); got != "from child: hello" {
		t.Fatalf("the passed pipe read %q", got)
	}
	if err := a.Send(ctx, []byte("send me one"), nil); err != nil {
		t.Fatal(err)
	}
	buf, n, files, err = a.Recv(ctx)
	if err != nil || string((*buf)[:n]) != "got send me one" || len(files) != 1 {
		t.Fatalf("the child's answer: %v, %d files", err, len(files))
	}
	PutBuf(buf)
	a.ShutdownSend()
	wait(t, cmd)
	if got := readAll(t, files[0]); got != "the child's pipe" {
		t.Fatalf("the child's pipe read %q", got)
	}
	files[0].Close()
	if _, _, _, err := a.Recv(ctx); err != io.EOF {
		t.Fatalf("Recv after the child exited: %v, want io.EOF", err)
	}
}

// A handle whose transit host (here: its sender, which has none other)
// exits before the receiver takes it is lost: the receiver gets an error
// that says so, at once, and then the end of the stream.
func TestSockHandleOfExitedSender(t *testing.T) {
	a, b := pair(t)
	cmd := spawn(t, "sock-send-exit", nil, b.File())
	b.Close()
	wait(t, cmd)
	_, _, files, err := a.Recv(context.Background())
	if !errors.Is(err, ErrHandleLost) || files != nil {
		t.Fatalf("Recv of a message whose sender exited: %d files, %v; want ErrHandleLost", len(files), err)
	}
	if _, _, _, err := a.Recv(context.Background()); err != io.EOF {
		t.Fatalf("Recv after the lost message: %v, want io.EOF", err)
	}
}

// Several processes receiving from one end each get whole messages, every
// message exactly once, and all of them see the end when it is shut down.
func TestSockReceiversInManyProcesses(t *testing.T) {
	a, b := pair(t)
	const procs, n = 3, 300
	outs := make([]*bytes.Buffer, procs)
	cmds := make([]*exec.Cmd, procs)
	for i := range procs {
		outs[i] = new(bytes.Buffer)
		cmds[i] = spawn(t, "sock-consume", outs[i], b.File())
	}
	b.Close()
	var want []string
	for i := range n {
		m := fmt.Sprintf("m%d-%s", i, strings.Repeat("y", i%200))
		want = append(want, m)
		if err := a.Send(context.Background(), []byte(m), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.ShutdownSend(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, cmd := range cmds {
		wait(t, cmd) // every consumer saw the end
		got = append(got, strings.Fields(outs[i].String())...)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("the consumers got %d messages (%d distinct), want each of %d once", len(got), len(slices.Compact(slices.Clone(got))), n)
	}
}

// controlPair makes a control channel as runtime/internal/proc does: a
// byte-mode duplex pipe whose server end is the parent's; the client end
// is the child's.
func controlPair(t *testing.T) (parent, childEnd *os.File) {
	t.Helper()
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	name16, err := windows.UTF16PtrFromString(`\\.\pipe\mpgen-fdio-test-` + hex.EncodeToString(rnd[:]))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := windows.CreateNamedPipe(name16,
		windows.PIPE_ACCESS_DUPLEX|windows.FILE_FLAG_OVERLAPPED|windows.FILE_FLAG_FIRST_PIPE_INSTANCE,
		windows.PIPE_TYPE_BYTE|windows.PIPE_READMODE_BYTE|windows.PIPE_WAIT, 1, 64<<10, 64<<10, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := windows.CreateFile(name16, windows.GENERIC_READ|windows.GENERIC_WRITE, 0, nil,
		windows.OPEN_EXISTING, windows.FILE_FLAG_OVERLAPPED, 0)
	if err != nil {
		windows.CloseHandle(srv)
		t.Fatal(err)
	}
	parent, childEnd = os.NewFile(uintptr(srv), "parent"), os.NewFile(uintptr(cli), "child")
	t.Cleanup(func() { parent.Close(); childEnd.Close() })
	return parent, childEnd
}

// Handles travel beside control frames: to a child (which takes them out
// of its parent) and back (where the child puts them into its parent, so a
// handle it sends just before it exits arrives all the same).
func TestControlHandlesToChildAndBack(t *testing.T) {
	conn, childEnd := controlPair(t)
	cmd := spawn(t, "control", nil, childEnd)
	childEnd.Close()
	r, w := pipe(t)
	if err := wire.WriteFrame(NewRightsWriter(conn, []*os.File{w}), wire.KindCall, 1, []byte("the call")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if got := readAll(t, r); got != "via control: the call" {
		t.Fatalf("the passed pipe read %q", got)
	}
	wait(t, cmd)
	rd := NewReader(conn)
	f, err := wire.ReadFrame(rd, 1<<20)
	if err != nil || f.Kind != wire.KindKept || string(f.Body) != "kept" {
		t.Fatalf("the child's frame: %v, %v", f.Kind, err)
	}
	files, err := rd.Take(1)
	if err != nil {
		t.Fatalf("Take after the child exited: %v", err)
	}
	if got := readAll(t, files[0]); got != "from the exiting child" {
		t.Fatalf("the child's pipe read %q", got)
	}
	files[0].Close()
	if _, err := wire.ReadFrame(rd, 1<<20); err != io.EOF {
		t.Fatalf("read after the child's frame: %v, want io.EOF", err)
	}
}

// On a control channel the handles go in a rights frame before the first
// bytes a RightsWriter writes, which the Reader consumes: it hands on the
// other frames alone, and keeps the handles in arrival order until they
// are taken.
func TestRightsWriterAndReader(t *testing.T) {
	a, b := controlPair(t)
	r1, w1 := pipe(t)
	r2, w2 := pipe(t)
	frame := wire.AppendFrame(nil, wire.KindCall, 1, []byte("frame"))
	plain := wire.AppendFrame(nil, wire.KindResult, 2, bytes.Repeat([]byte("p"), 100<<10))
	if _, err := NewRightsWriter(a, []*os.File{r1, r2}).Write(frame); err != nil {
		t.Fatal(err)
	}
	go func() { NewRightsWriter(a, nil).Write(plain) }() // more than the pipe's buffer
	rd := NewReader(b)
	if rd.Pending() {
		t.Fatal("handles pending before any read")
	}
	buf := make([]byte, len(frame))
	if _, err := io.ReadFull(rd, buf); err != nil || !bytes.Equal(buf, frame) {
		t.Fatalf("read %q, %v", buf, err)
	}
	if !rd.Pending() {
		t.Fatal("no handles pending after the frame's bytes were read")
	}
	if _, err := rd.Take(3); err == nil {
		t.Fatal("Take(3) of 2 handles succeeded")
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
	buf = make([]byte, len(plain))
	if _, err := io.ReadFull(rd, buf); err != nil || !bytes.Equal(buf, plain) {
		t.Fatalf("read %d bytes, %v", len(buf), err)
	}
	if rd.Pending() {
		t.Fatal("handles pending after all were taken")
	}
	a.Close()
	if _, err := rd.Read(buf); err != io.EOF {
		t.Fatalf("read at the end: %v, want io.EOF", err)
	}
}

// Handles in transit from a process that has exited are lost: Take says
// so and the frames around them read on.
func TestReaderTakeLost(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	a, b := controlPair(t)
	body := []byte{rightsTransit}
	body = binary.LittleEndian.AppendUint32(body, uint32(cmd.Process.Pid))
	body = binary.LittleEndian.AppendUint64(body, 1)
	body = binary.LittleEndian.AppendUint64(body, 0x1234)
	data := wire.AppendFrame(nil, wire.KindRights, 0, body)
	data = wire.AppendFrame(data, wire.KindCall, 1, []byte("x"))
	if _, err := a.Write(data); err != nil {
		t.Fatal(err)
	}
	rd := NewReader(b)
	f, err := wire.ReadFrame(rd, 1<<20)
	if err != nil || f.Kind != wire.KindCall {
		t.Fatalf("the frame after the rights: %v, %v", f.Kind, err)
	}
	if files, err := rd.Take(1); !errors.Is(err, ErrHandleLost) || files != nil {
		t.Fatalf("Take of a lost handle: %v, %v; want ErrHandleLost", files, err)
	}
	if rd.Pending() {
		t.Fatal("the lost handle is still pending")
	}
}

// A pipe end that arrives from a child works, whether the child still
// holds its other end or has exited: its parent held the handle in
// transit, and the end delivers what is in it, and then the end of the
// stream.
func TestSockEndFromChild(t *testing.T) {
	for _, waits := range []bool{true, false} {
		a, b := pair(t)
		t.Setenv("FDIO_TEST_WAIT", strconv.FormatBool(waits))
		cmd := spawn(t, "send-sock", nil, b.File())
		b.Close()
		if !waits {
			wait(t, cmd)
		}
		buf, _, files, err := a.Recv(context.Background())
		if err != nil || len(files) != 1 {
			t.Fatalf("waits=%v: %d files, %v", waits, len(files), err)
		}
		PutBuf(buf)
		c := NewSock(files[0])
		defer c.Close()
		buf, n, _, err := c.Recv(context.Background())
		if err != nil || string((*buf)[:n]) != "via the passed sock" {
			t.Fatalf("waits=%v: Recv from the passed end: %v", waits, err)
		}
		PutBuf(buf)
		a.ShutdownSend()
		if waits {
			wait(t, cmd)
		}
		if _, _, _, err := c.Recv(context.Background()); err != io.EOF {
			t.Fatalf("waits=%v: Recv after the child exited: %v, want io.EOF", waits, err)
		}
	}
}
