//go:build windows

package proc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/windows"

	"github.com/mpgen/mpgen/runtime/internal/wire"
)

// childEnv makes this test binary a child of the tests below, in the mode
// it names; markerEnv is the marker Spawn sets.
const (
	childEnv  = "PROC_TEST_CHILD"
	markerEnv = "PROC_TEST_CHANNEL"
)

func TestMain(m *testing.M) {
	if mode, ok := os.LookupEnv(childEnv); ok {
		os.Exit(child(mode))
	}
	os.Exit(m.Run())
}

// child opens the control channel the marker names, greets the parent on
// it and on its outputs, and then, as mode says: waits for the end of the
// stream and exits 7 ("exit"), or starts a grandchild, prints its pid and
// waits ("parent").
func child(mode string) int {
	fd, err := ParseMarker(os.Getenv(markerEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: marker:", err)
		return 3
	}
	conn, err := ControlConn(fd)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: control channel:", err)
		return 3
	}
	fmt.Fprintf(conn, "hello from %d", os.Getpid())
	fmt.Fprintln(os.Stdout, "child stdout")
	fmt.Fprintln(os.Stderr, "child stderr")
	if mode == "parent" {
		cmd, gconn, _, err := Spawn("", nil, markerEnv, []string{childEnv + "=exit"}, io.Discard, io.Discard, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, "child: grandchild:", err)
			return 5
		}
		defer gconn.Close()
		fmt.Fprintf(os.Stdout, "grandchild %d\n", cmd.Process.Pid)
	}
	if _, err := wire.ReadFrame(conn, 1<<20); err != io.EOF {
		fmt.Fprintln(os.Stderr, "child: want the end of the stream, got", err)
		return 4
	}
	return 7
}

// Spawn starts the program's own binary with the control channel a
// handle named in the marker variable; ShutdownWrite ends the stream as a
// socket's half-close does; ExitStatus reports the exit code.
func TestSpawn(t *testing.T) {
	var stdout, stderr bytes.Buffer
	cmd, conn, outs, err := Spawn("", nil, markerEnv, []string{childEnv + "=exit"}, &stdout, &stderr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 64)
	n, err := conn.Read(buf)
	if want := fmt.Sprintf("hello from %d", cmd.Process.Pid); err != nil || string(buf[:n]) != want {
		t.Fatalf("on the control channel: %q, %v; want %q (stderr %q)", buf[:n], err, want, stderr.String())
	}
	ShutdownWrite(conn)
	_ = cmd.Wait()
	outs.Wait(OutputWait)
	if code, sig := ExitStatus(cmd.ProcessState); code != 7 || sig != "" {
		t.Errorf("ExitStatus = %d, %q; want 7 (stderr %q)", code, sig, stderr.String())
	}
	if stdout.String() != "child stdout\r\n" && stdout.String() != "child stdout\n" {
		t.Errorf("stdout %q", stdout.String())
	}
}

// The parent's end of the channel is overlapped: a read deadline ends a
// read that nothing answers.
func TestChannelDeadline(t *testing.T) {
	cmd, conn, outs, err := Spawn("", nil, markerEnv, []string{childEnv + "=exit"}, io.Discard, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		conn.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		outs.Wait(OutputWait)
	}()
	buf := make([]byte, 64)
	if _, err := conn.Read(buf); err != nil { // the greeting
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := conn.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a read past its deadline: %v, want os.ErrDeadlineExceeded", err)
	}
}

// Terminate ends a child at once, and ExitStatus reports it as Python
// does on Windows: -15, SIGTERM.
func TestTerminate(t *testing.T) {
	cmd, conn, outs, err := Spawn("", nil, markerEnv, []string{childEnv + "=exit"}, io.Discard, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Read(make([]byte, 64)); err != nil {
		t.Fatal(err)
	}
	if err := Terminate(cmd.Process, nil); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	outs.Wait(OutputWait)
	if code, sig := ExitStatus(cmd.ProcessState); code != -15 || sig != "SIGTERM" {
		t.Errorf("ExitStatus after Terminate = %d, %q; want -15, SIGTERM", code, sig)
	}
}

// A child ends with its parent, however the parent ends: a grandchild
// whose parent is killed dies too (the job object).
func TestEndsWithParent(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	cmd, conn, outs, err := Spawn("", nil, markerEnv, []string{childEnv + "=parent"}, pw, io.Discard, nil)
	pw.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	lines := bufio.NewScanner(pr)
	var grandchild int
	for lines.Scan() {
		if pid, ok := strings.CutPrefix(strings.TrimSpace(lines.Text()), "grandchild "); ok {
			grandchild, _ = strconv.Atoi(pid)
			break
		}
	}
	if grandchild == 0 {
		t.Fatal("the child started no grandchild")
	}
	h, err := windows.OpenProcess(windows.SYNCHRONIZE, false, uint32(grandchild))
	if err != nil {
		t.Fatalf("open the grandchild: %v", err)
	}
	defer windows.CloseHandle(h)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	outs.Wait(OutputWait)
	if ev, err := windows.WaitForSingleObject(h, 10_000); err != nil || ev != windows.WAIT_OBJECT_0 {
		t.Fatalf("the grandchild outlived its killed parent by 10s (%#x, %v)", ev, err)
	}
}

// ControlConn refuses a handle this process opened itself: only an
// inherited one is a control channel.
func TestControlConnRefusesOwnHandle(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if _, err := ControlConn(int(r.Fd())); err == nil || !strings.Contains(err.Error(), "inherited") {
		t.Fatalf("ControlConn of our own pipe: %v, want a refusal", err)
	}
	if _, err := ParseMarker("fd=x"); err == nil {
		t.Fatal(`ParseMarker("fd=x") succeeded`)
	}
}

// Exited tells a live child from one that ended, before and after Wait.
func TestExited(t *testing.T) {
	cmd, conn, outs, err := Spawn("", nil, markerEnv, []string{childEnv + "=exit"}, io.Discard, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if Exited(cmd.Process) {
		t.Fatal("a live child counts as exited")
	}
	ShutdownWrite(conn) // it exits
	deadline := time.Now().Add(10 * time.Second)
	for !Exited(cmd.Process) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !Exited(cmd.Process) {
		t.Fatal("an ended child (not yet waited for) does not count as exited")
	}
	_ = cmd.Wait()
	outs.Wait(OutputWait)
	if !Exited(cmd.Process) {
		t.Fatal("a waited-for child does not count as exited")
	}
}
