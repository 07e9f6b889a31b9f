//go:build unix

package proc

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	if mode, ok := os.LookupEnv(childEnv); ok {
		os.Exit(child(mode))
	}
	os.Exit(m.Run())
}

// child is the life of a process started by TestSpawn: it opens the
// control channel, greets the parent on it and on its outputs, and ends as
// mode says once the parent has shut its side down.
func child(mode string) int {
	conn, err := ControlConn(ControlFD)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: control channel:", err)
		return 3
	}
	fmt.Fprintf(conn, "hello from %d", os.Getpid())
	fmt.Fprintln(os.Stdout, "child stdout")
	fmt.Fprintln(os.Stderr, "child stderr")
	if _, err := io.Copy(io.Discard, conn); err != nil {
		return 4
	}
	switch mode {
	case "die":
		DieOfTerminate()
	case "interrupt":
		// SIGINT, as Ctrl-C sends it, cancels the context; the child then
		// dies of it.
		ctx, cancel := context.WithCancel(context.Background())
		OnTerminate(cancel, true)
		_ = syscall.Kill(os.Getpid(), syscall.SIGINT)
		<-ctx.Done()
		fmt.Fprintln(os.Stdout, "cancelled")
		DieOfTerminate()
	}
	return 7
}

// Spawn starts the program's own binary with the control channel on
// ControlFD and the outputs copied to the given writers; ExitStatus reports
// how it ended, and DieOfTerminate ends a child as SIGTERM would, or as
// SIGINT would when that is what OnTerminate caught.
func TestSpawn(t *testing.T) {
	for _, tc := range []struct {
		mode string
		code int
		sig  string
		out  string
	}{{"exit", 7, "", ""}, {"die", -15, "SIGTERM", ""}, {"interrupt", -2, "SIGINT", "cancelled\n"}} {
		t.Run(tc.mode, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cmd, conn, outs, err := Spawn("", nil, "", []string{childEnv + "=" + tc.mode}, &stdout, &stderr, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			buf := make([]byte, 64)
			n, err := conn.Read(buf)
			if want := fmt.Sprintf("hello from %d", cmd.Process.Pid); err != nil || string(buf[:n]) != want {
				t.Fatalf("on the control channel: %q, %v; want %q", buf[:n], err, want)
			}
			ShutdownWrite(conn)
			_ = cmd.Wait()
			outs.Wait(OutputWait)
			if code, sig := ExitStatus(cmd.ProcessState); code != tc.code || sig != tc.sig {
				t.Errorf("ExitStatus = %d, %q; want %d, %q (stderr %q)", code, sig, tc.code, tc.sig, stderr.String())
			}
			if stdout.String() != "child stdout\n"+tc.out || stderr.String() != "child stderr\n" {
				t.Errorf("outputs %q and %q", stdout.String(), stderr.String())
			}
		})
	}
}

// ExitStatus follows Python: an exit code, or minus the killing signal and
// its name.
func TestExitStatus(t *testing.T) {
	if code, sig := ExitStatus(nil); code != -1 || sig != "" {
		t.Errorf("ExitStatus(nil) = %d, %q", code, sig)
	}
	sh := exec.Command("/bin/sh", "-c", "exit 3")
	_ = sh.Run()
	if code, sig := ExitStatus(sh.ProcessState); code != 3 || sig != "" {
		t.Errorf("exit 3: ExitStatus = %d, %q", code, sig)
	}
	for _, tc := range []struct {
		stop func(*os.Process) error
		code int
		sig  string
	}{
		{(*os.Process).Kill, -9, "SIGKILL"},
		{func(p *os.Process) error { return Terminate(p, nil) }, -15, "SIGTERM"},
		{func(p *os.Process) error { return p.Signal(syscall.SIGUSR1) }, -int(syscall.SIGUSR1), syscall.SIGUSR1.String()},
	} {
		cmd := exec.Command("/bin/sh", "-c", "sleep 60")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if err := tc.stop(cmd.Process); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if code, sig := ExitStatus(cmd.ProcessState); code != tc.code || sig != tc.sig {
			t.Errorf("ExitStatus = %d, %q; want %d, %q", code, sig, tc.code, tc.sig)
		}
	}
}

func TestSignalName(t *testing.T) {
	for s, want := range map[syscall.Signal]string{
		syscall.SIGKILL: "SIGKILL", syscall.SIGTERM: "SIGTERM", syscall.SIGINT: "SIGINT",
		syscall.SIGSEGV: "SIGSEGV", syscall.SIGABRT: "SIGABRT", syscall.SIGHUP: "SIGHUP",
		syscall.SIGUSR2: syscall.SIGUSR2.String(),
	} {
		if got := signalName(s); got != want {
			t.Errorf("signalName(%d) = %q, want %q", s, got, want)
		}
	}
}

// InheritableFDs lists a descriptor without close-on-exec and not one
// with it; CloseInherited closes the listed ones that are still
// inheritable.
func TestInheritableFDs(t *testing.T) {
	var p [2]int
	if err := syscall.Pipe(p[:]); err != nil { // no close-on-exec
		t.Fatal(err)
	}
	defer syscall.Close(p[0])
	defer syscall.Close(p[1])
	r, w, err := os.Pipe() // close-on-exec
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	fds := InheritableFDs()
	if !slices.Contains(fds, p[0]) || !slices.Contains(fds, p[1]) {
		t.Fatalf("InheritableFDs = %v, lacks the pipe %v", fds, p)
	}
	if slices.Contains(fds, int(r.Fd())) || slices.Contains(fds, int(w.Fd())) {
		t.Fatalf("InheritableFDs = %v lists a close-on-exec descriptor", fds)
	}
	syscall.CloseOnExec(p[1])
	CloseInherited([]int{p[0], p[1]})
	if _, err := fdFlags(p[0]); err != syscall.EBADF {
		t.Errorf("descriptor %d still open after CloseInherited: %v", p[0], err)
	}
	if _, err := fdFlags(p[1]); err != nil {
		t.Errorf("CloseInherited closed the close-on-exec descriptor %d: %v", p[1], err)
	}
}

// ControlConn accepts only an inherited socket (no close-on-exec), and
// makes it close-on-exec and non-blocking.
func TestControlConn(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "file")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if _, err := ControlConn(fd); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("ControlConn of a file: %v", err)
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fds[1])
	syscall.CloseOnExec(fds[1])
	if _, err := ControlConn(fds[1]); err == nil || !strings.Contains(err.Error(), "opened itself") {
		t.Errorf("ControlConn of a close-on-exec socket: %v", err)
	}
	conn, err := ControlConn(fds[0])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if flags, err := fdFlags(fds[0]); err != nil || flags&syscall.FD_CLOEXEC == 0 {
		t.Errorf("the control channel is not close-on-exec: %#x, %v", flags, err)
	}
	// Non-blocking, so deadlines work.
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Millisecond)); err != nil {
		t.Fatalf("SetReadDeadline: %v", err)
	}
	if _, err := conn.Read(make([]byte, 1)); !os.IsTimeout(err) {
		t.Fatalf("read past the deadline: %v", err)
	}
}

// OnTerminate turns SIGTERM into a cancelled context when the target takes
// one.
func TestOnTerminate(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := OnTerminate(cancel, true)
	if got.Load() {
		t.Fatal("terminated before any signal")
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("SIGTERM did not cancel the context")
	}
	if !got.Load() {
		t.Fatal("the flag is not set after SIGTERM")
	}
}

// Exited tells a live process from one that ended and was reaped.
func TestExited(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", "sleep 60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if Exited(cmd.Process) {
		t.Fatal("a live process counts as exited")
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if !Exited(cmd.Process) {
		t.Fatal("a reaped process does not count as exited")
	}
}
