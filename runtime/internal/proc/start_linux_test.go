//go:build !mpgen_portable

package proc

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A child is killed by the kernel when its parent ends (PR_SET_PDEATHSIG),
// but not when the goroutine that started it ends while locked to its
// thread, which makes the Go runtime end that thread: the kernel sends the
// signal on the death of the forking thread, so Spawn forks from a thread
// that never exits.
func TestChildOutlivesTheStartersThread(t *testing.T) {
	type started struct {
		cmd  *exec.Cmd
		conn *os.File
		outs *Outputs
		err  error
		tid  int
	}
	// The Go runtime ends a thread whose locked goroutine ends, except the
	// main thread, which it parks instead: start from another thread.
	ch := make(chan started, 1)
	var s started
	for s.cmd == nil {
		go func() {
			runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
			if syscall.Gettid() == os.Getpid() {
				runtime.UnlockOSThread()
				ch <- started{}
				return
			}
			cmd, conn, outs, err := Spawn("", nil, "", []string{childEnv + "=exit"}, nil, nil, nil)
			ch <- started{cmd, conn, outs, err, syscall.Gettid()}
		}()
		if s = <-ch; s.err != nil {
			t.Fatal(s.err)
		}
	}
	defer s.conn.Close()
	// Wait until the starter's thread is gone, then a little more for a
	// signal in flight.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", s.tid)); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("thread %d that started the child did not exit", s.tid)
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	_ = s.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 64)
	if n, err := s.conn.Read(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "hello") {
		t.Fatalf("on the control channel: %q, %v", buf[:n], err)
	}
	ShutdownWrite(s.conn)
	_ = s.cmd.Wait()
	s.outs.Wait(OutputWait)
	if code, sig := ExitStatus(s.cmd.ProcessState); code != 7 {
		t.Fatalf("the child ended with %d %s after the thread that started it exited, want 7", code, sig)
	}
}

// A child starts from the program's file, so that it shows under the
// program's name, while that file is the image that runs; when the check
// passed but another program took the file's name before the start, the
// child that started from it is killed and a child is started from
// /proc/self/exe instead.
func TestSpawnFromOwnFile(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if path, err := ownImage(); err != nil || path != exe {
		t.Fatalf("ownImage = %q, %v; want the test binary's file %q", path, err, exe)
	}
	other := exec.Command("/bin/sh", "-c", "sleep 60")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = other.Process.Kill(); _ = other.Wait() }()
	if runsOwnImage(other.Process.Pid) {
		t.Fatal("runsOwnImage says a shell runs this test binary's image")
	}

	// The file "changes" between the check and the start.
	script := filepath.Join(t.TempDir(), "impostor")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho impostor ran\nexec sleep 60\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	defer func(f func() (string, error)) { ownImage = f }(ownImage)
	ownImage = func() (string, error) { return script, nil }
	var stdout bytes.Buffer
	cmd, conn, outs, err := Spawn("", nil, "", []string{childEnv + "=exit"}, &stdout, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if !runsOwnImage(cmd.Process.Pid) {
		t.Fatalf("the child %d does not run this test binary's image", cmd.Process.Pid)
	}
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 64)
	n, err := conn.Read(buf)
	if want := fmt.Sprintf("hello from %d", cmd.Process.Pid); err != nil || string(buf[:n]) != want {
		t.Fatalf("on the control channel: %q, %v; want %q", buf[:n], err, want)
	}
	ShutdownWrite(conn)
	_ = cmd.Wait()
	outs.Wait(OutputWait)
	if code, sig := ExitStatus(cmd.ProcessState); code != 7 {
		t.Fatalf("the child ended with %d %s, want 7", code, sig)
	}
	// The impostor may have had time to print, before the real child.
	if s := stdout.String(); s != "child stdout\n" && s != "impostor ran\nchild stdout\n" {
		t.Fatalf("stdout %q", s)
	}
}
