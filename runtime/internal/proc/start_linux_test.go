package proc

import (
	"fmt"
	"os"
	"os/exec"
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
	exe, err := SelfExe()
	if err != nil {
		t.Fatal(err)
	}
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
			cmd, conn, outs, err := Spawn(exe, []string{childEnv + "=exit"}, nil, nil)
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
