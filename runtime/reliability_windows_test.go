//go:build windows

package mp_test

// The Windows counterpart of reliability_test.go's parent-death test: a
// child's children end with it, through the job object each parent puts
// its children in (it kills them when the parent's handle to it closes,
// however the parent ends).

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/windows"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

// startSleepers starts SpawnSleepers(n) with stdout on a pipe and returns
// the child, handles to its n children (which keep their pids from being
// reused), and the pipe's read end, whose write end only the family holds.
// A cleanup ends any grandchild still running.
func startSleepers(t *testing.T, n int) (*mp.Process, []windows.Handle, *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	// Grandchildren orphaned before their handshake say so on stderr:
	// keep that out of the test's output, in a file.
	stderr, err := os.Create(filepath.Join(tempDir(t), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stderr.Close() })
	p := start(t, &mp.Process{Target: targets.SpawnSleepers, Args: []any{n}, Stdout: w, Stderr: stderr})
	w.Close() // the child and its children hold the write end now
	var grand []windows.Handle
	t.Cleanup(func() {
		for _, h := range grand {
			_ = windows.TerminateProcess(h, 1)
			windows.CloseHandle(h)
		}
	})
	// An anonymous pipe has no deadlines on Windows: the lines are read
	// beside the test, which waits for them within a bound.
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(r)
		for i := 0; i < n && sc.Scan(); i++ {
			lines <- sc.Text()
		}
	}()
	timeout := time.After(60 * time.Second)
	for len(grand) < n {
		var line string
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("read %d of %d pids: the pipe ended", len(grand), n)
			}
			line = l
		case <-timeout:
			t.Fatalf("read %d of %d pids within 60 s", len(grand), n)
		}
		var pid int
		if _, err := fmt.Sscanf(line, "pid %d", &pid); err != nil {
			t.Fatalf("unexpected output line %q", line)
		}
		h, err := windows.OpenProcess(windows.SYNCHRONIZE|windows.PROCESS_TERMINATE|windows.PROCESS_SUSPEND_RESUME, false, uint32(pid))
		if err != nil {
			t.Fatalf("grandchild %d: OpenProcess: %v", pid, err)
		}
		grand = append(grand, h)
	}
	for i, h := range grand {
		if ev, err := windows.WaitForSingleObject(h, 0); ev != uint32(windows.WAIT_TIMEOUT) {
			t.Fatalf("grandchild %d is not running: WaitForSingleObject = %#x, %v", i, ev, err)
		}
	}
	return p, grand, r
}

// ntSuspendProcess stops every thread of a process (what SIGSTOP does on
// Unix); x/sys/windows does not wrap it.
var ntSuspendProcess = windows.NewLazySystemDLL("ntdll.dll").NewProc("NtSuspendProcess")

// A child never outlives its parent: when a child that has children of its
// own is ended, from outside or by Kill or Terminate, every grandchild ends
// too, and nothing holds the grandchildren's stdout any longer; also when
// the grandchildren are suspended and cannot watch their control channels.
func TestGrandchildrenDieWithTheirParent(t *testing.T) {
	for _, tc := range []struct {
		name string
		kill func(t *testing.T, p *mp.Process, grand []windows.Handle)
		code int
	}{
		{"TerminateProcess from outside", func(t *testing.T, p *mp.Process, _ []windows.Handle) { kill9(t, p.Pid()) }, outsideKillCode},
		{"TerminateProcess from outside, its children suspended", func(t *testing.T, p *mp.Process, grand []windows.Handle) {
			// Suspended, the grandchildren cannot see their control
			// channels close: only the job object ends them.
			for i, h := range grand {
				if st, _, _ := ntSuspendProcess.Call(uintptr(h)); st != 0 {
					t.Fatalf("NtSuspendProcess of grandchild %d: NTSTATUS %#x", i, st)
				}
			}
			kill9(t, p.Pid())
		}, outsideKillCode},
		{"Process.Kill", func(t *testing.T, p *mp.Process, _ []windows.Handle) {
			if err := p.Kill(); err != nil {
				t.Fatal(err)
			}
		}, killCode},
		{"Process.Terminate", func(t *testing.T, p *mp.Process, _ []windows.Handle) {
			if err := p.Terminate(); err != nil {
				t.Fatal(err)
			}
		}, -15},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, grand, r := startSleepers(t, 3)
			tc.kill(t, p, grand)
			_ = join(t, p)
			if c := exitCode(t, p); c != tc.code {
				t.Fatalf("child exit code %d, want %d", c, tc.code)
			}
			// A bound against a hang, not a measure: the job object
			// ends them at once.
			for i, h := range grand {
				if ev, err := windows.WaitForSingleObject(h, 10_000); ev != windows.WAIT_OBJECT_0 {
					t.Errorf("grandchild %d still running 10 s after its parent ended: WaitForSingleObject = %#x, %v", i, ev, err)
				}
			}
			// Every writer of the stdout pipe is gone: EOF, not a hang.
			rest := make(chan string, 1)
			go func() { b, _ := io.ReadAll(r); rest <- string(b) }()
			select {
			case b := <-rest:
				if b != "" {
					t.Fatalf("stdout after the family ended: %q", b)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("stdout still open 10 s after the family ended")
			}
		})
	}
}
