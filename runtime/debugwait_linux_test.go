//go:build linux

package mp_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

// MPGEN_DEBUG_WAIT=<target> makes the child running that target say
// where it is and wait, its target not started, until a debugger attaches:
// here the test itself, with PTRACE_SEIZE, as dlv attach would. The target
// then runs; the tracer detaches and Terminate ends the child as usual.
func TestDebugWait(t *testing.T) {
	t.Setenv("MPGEN_DEBUG_WAIT", "targets.Announce")
	out, ready := readyPipe(t)
	er, ew, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { er.Close(); ew.Close() })
	p := start(t, &mp.Process{Target: targets.Announce, Args: []any{"the target runs", time.Hour}, Stdout: out, Stderr: ew})
	errLines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(er)
		for sc.Scan() {
			errLines <- sc.Text()
		}
		close(errLines)
	}()
	nextErr := func() string {
		t.Helper()
		select {
		case l := <-errLines:
			return l
		case <-time.After(30 * time.Second):
			t.Fatal("no line on the child's stderr within 30 s")
			return ""
		}
	}
	want := fmt.Sprintf("mpgen: %s (target github.com/mpgen/mpgen/internal/targets.Announce) pid %d waiting for a debugger: dlv attach %d", p.Name, p.Pid(), p.Pid())
	if l := nextErr(); l != want {
		t.Fatalf("the child said %q, want %q", l, want)
	}
	if st := procStatus(t, p.Pid()); !strings.Contains(st, "TracerPid:\t0\n") {
		t.Fatalf("the child is traced before the test attached:\n%s", st)
	}

	// The tracer is a process of its own, as a debugger is: this test
	// binary again, running TestHelperTracer.
	tracer := exec.Command(os.Args[0], "-test.run=^TestHelperTracer$")
	tracer.Env = append(os.Environ(), envTracePid+"="+strconv.Itoa(p.Pid()))
	tracer.Stderr = os.Stderr
	stdin, err := tracer.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	tout, err := tracer.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := tracer.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); _ = tracer.Wait() })
	if l, _ := bufio.NewReader(tout).ReadString('\n'); l != "attached\n" {
		t.Skipf("the tracer could not attach to the child: %q", l)
	}
	if l := nextErr(); l != fmt.Sprintf("mpgen: pid %d: debugger attached", p.Pid()) {
		t.Fatalf("the child said %q after the attach, want that a debugger attached", l)
	}
	ready(1, 30*time.Second) // the target's own line on stdout
	stdin.Close()            // the tracer quits: the kernel detaches it
	if err := tracer.Wait(); err != nil {
		t.Fatalf("tracer: %v", err)
	}
	if err := p.Terminate(); err != nil {
		t.Fatal(err)
	}
	if c := joinCode(t, p); c != -15 {
		t.Errorf("exit code %d after Terminate, want -15", c)
	}
}

// envTracePid tells TestHelperTracer which process to trace.
const envTracePid = "MPGEN_TEST_TRACE_PID"

// TestHelperTracer is TestDebugWait's debugger, in a process of its own:
// it attaches to the process envTracePid names with PTRACE_SEIZE, says
// "attached" on stdout, passes on every signal that stops the tracee (the
// Go runtime's own SIGURG among them) until its stdin closes, and exits,
// which detaches it. Without the variable it does nothing.
func TestHelperTracer(t *testing.T) {
	pid, err := strconv.Atoi(os.Getenv(envTracePid))
	if err != nil {
		t.Skip("TestDebugWait's helper")
	}
	runtime.LockOSThread() // ptrace's tracer is a thread
	if err := unix.PtraceSeize(pid); err != nil {
		fmt.Printf("PTRACE_SEIZE: %v\n", err)
		return
	}
	fmt.Println("attached")
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	var ws unix.WaitStatus
	for {
		select {
		case <-done:
			return
		default:
		}
		wpid, err := unix.Wait4(pid, &ws, unix.WALL|unix.WNOHANG, nil)
		if err != nil {
			t.Fatalf("wait4: %v", err)
		}
		if wpid == pid && ws.Stopped() {
			sig := ws.StopSignal()
			if sig == unix.SIGTRAP || sig == unix.SIGSTOP {
				sig = 0 // an event stop, not a signal to deliver
			}
			if err := unix.PtraceCont(pid, int(sig)); err != nil {
				t.Fatalf("PTRACE_CONT: %v", err)
			}
			continue
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func procStatus(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
