//go:build linux

package mp_test

// Fault tests with real processes: a target that dies of a fatal runtime
// error, of a signal sent from outside, of an allocation beyond its memory
// limit, or hangs past a timeout; a parent that cancels many children at
// once, whose binary is deleted or replaced on disk while it runs, or that
// has run out of file descriptors. Each fault must end in a typed error,
// within a bound, with nothing left behind in the parent. They read /proc,
// so they run on Linux.
//
// The scenarios that need a process of their own (to delete its binary, or
// to lower its descriptor limit without disturbing the other tests) are
// targets (internal/targets/parents.go) that run in a child and start
// children and pools of their own from there; runScenario relays what they
// report.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

// wantExit fails the test unless err is an *ExitError with code and
// signal (as Process.ExitCode and the signal's name report them).
func wantExit(t *testing.T, err error, code int, signal string) *mp.ExitError {
	t.Helper()
	var ee *mp.ExitError
	if !errors.As(err, &ee) || ee.Code != code || ee.Signal != signal {
		t.Fatalf("Join = %T %v; want *ExitError with code %d and signal %q", err, err, code, signal)
	}
	return ee
}

// A fatal error of the Go runtime (here: concurrent map writes, which no
// recover can catch) kills the child with exit code 2; the parent gets an
// *ExitError and the runtime's message is on the child's stderr.
func TestFaultConcurrentMapWrites(t *testing.T) {
	var stderr targets.SyncBuffer
	t0 := time.Now()
	p := start(t, &mp.Process{Target: targets.MapRace, Args: []any{20 * time.Second}, Stderr: &stderr})
	err := join(t, p)
	wantExit(t, err, 2, "")
	if c := exitCode(t, p); c != 2 {
		t.Fatalf("exit code %d, want 2", c)
	}
	if !strings.Contains(stderr.String(), "fatal error: concurrent map") {
		t.Fatalf("the child's stderr does not hold the runtime's fatal error:\n%.2000s", stderr.String())
	}
	t.Logf("ended in %v: %v", time.Since(t0).Round(time.Millisecond), err)
}

// A child that allocates far beyond the address-space limit it set itself
// dies of the Go runtime's "fatal error: out of memory" (exit code 2) at
// once: the parent gets an *ExitError, not a hang or a half-read result.
// (Under -race the race runtime fails first, with a fatal error of its own
// about its address space: the same exit code 2.)
func TestFaultOutOfMemory(t *testing.T) {
	for _, tc := range []struct{ limit, alloc int }{{64, 1024}, {256, 16 << 10}} {
		t.Run(fmt.Sprintf("%dMiB over a %dMiB limit", tc.alloc, tc.limit), func(t *testing.T) {
			var stderr targets.SyncBuffer
			t0 := time.Now()
			p := start(t, &mp.Process{Target: targets.AllocBeyondLimit, Args: []any{tc.limit, tc.alloc}, Stderr: &stderr})
			err := join(t, p)
			wantExit(t, err, 2, "")
			if d := time.Since(t0); d > 20*time.Second {
				t.Errorf("the child took %v to die", d)
			}
			out := stderr.String()
			if !strings.Contains(out, "fatal error: out of memory") && !strings.Contains(out, "fatal error: too many address space collisions for -race mode") {
				t.Fatalf("the child's stderr does not say it ran out of memory:\n%.2000s", out)
			}
			t.Logf("ended in %v: %v; stderr: %q", time.Since(t0).Round(time.Millisecond), err, firstLine(out))
		})
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// SIGTERM sent from outside (not by Terminate) ends a child as Terminate
// would: a target without a context dies of the signal (exit code -15); a
// target with one sees its context cancelled, reports that, and the child
// then dies of the signal; a target that ignores SIGTERM keeps running
// until Terminate's kill delay or Kill ends it with SIGKILL.
func TestFaultSIGTERMFromOutside(t *testing.T) {
	t.Run("target without context", func(t *testing.T) {
		out, ready := readyPipe(t)
		p := start(t, &mp.Process{Target: targets.AnnounceNoCtx, Args: []any{"ready", time.Hour}, Stdout: out})
		ready(1, 30*time.Second)
		t0 := time.Now()
		if err := syscall.Kill(p.Pid(), syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		wantExit(t, join(t, p), -15, "SIGTERM")
		if d := time.Since(t0); d > 10*time.Second {
			t.Errorf("the child took %v to die of SIGTERM", d)
		}
		t.Logf("died of SIGTERM %v after it was sent", time.Since(t0).Round(time.Microsecond))
	})
	t.Run("target with context", func(t *testing.T) {
		out, ready := readyPipe(t)
		p := start(t, &mp.Process{Target: targets.Announce, Args: []any{"ready", time.Hour}, Stdout: out})
		ready(1, 30*time.Second)
		if err := syscall.Kill(p.Pid(), syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		err := join(t, p)
		var re *mp.RemoteError
		if !errors.As(err, &re) || !strings.Contains(re.Message, "context canceled") {
			t.Fatalf("Join = %T %v; want the target's *RemoteError about its cancelled context", err, err)
		}
		if c := exitCode(t, p); c != -15 {
			t.Fatalf("exit code %d, want -15", c)
		}
	})
	t.Run("target that ignores SIGTERM", func(t *testing.T) {
		out, ready := readyPipe(t)
		p := start(t, &mp.Process{Target: targets.Stubborn, Args: []any{"ready", time.Hour}, Stdout: out, KillDelay: 300 * time.Millisecond})
		ready(1, 30*time.Second)
		if err := syscall.Kill(p.Pid(), syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := p.JoinTimeout(time.Second); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("JoinTimeout after an ignored SIGTERM = %v, want DeadlineExceeded", err)
		}
		if !p.IsAlive() {
			t.Fatal("the child died of a SIGTERM it ignores")
		}
		t0 := time.Now()
		if err := p.Terminate(); err != nil { // SIGTERM again, then SIGKILL after 300 ms
			t.Fatal(err)
		}
		wantExit(t, join(t, p), -9, "SIGKILL")
		if d := time.Since(t0); d > 10*time.Second {
			t.Errorf("Terminate with a 300 ms kill delay took %v", d)
		}
		t.Logf("alive 1 s after an ignored SIGTERM; Terminate (kill delay 300 ms) ended it in %v", time.Since(t0).Round(time.Millisecond))
	})
}

// SIGINT, which Ctrl-C in a terminal sends to every process of the
// foreground group, is treated as SIGTERM is (issue 10, item 16): a target
// with a context sees it cancelled, winds down and reports, and the child
// then dies of the signal (-2, as Python reports it); a target without a
// context dies of the signal at once.
func TestFaultSIGINTFromOutside(t *testing.T) {
	t.Run("target without context", func(t *testing.T) {
		out, ready := readyPipe(t)
		p := start(t, &mp.Process{Target: targets.AnnounceNoCtx, Args: []any{"ready", time.Hour}, Stdout: out})
		ready(1, 30*time.Second)
		if err := syscall.Kill(p.Pid(), syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		wantExit(t, join(t, p), -2, "SIGINT")
	})
	t.Run("target with context", func(t *testing.T) {
		out, ready := readyPipe(t)
		p := start(t, &mp.Process{Target: targets.Announce, Args: []any{"ready", time.Hour}, Stdout: out})
		ready(1, 30*time.Second)
		if err := syscall.Kill(p.Pid(), syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		err := join(t, p)
		var re *mp.RemoteError
		if !errors.As(err, &re) || !strings.Contains(re.Message, "announce ready interrupted: context canceled") {
			t.Fatalf("Join = %T %v; want the target's *RemoteError about its cancelled context", err, err)
		}
		if c := exitCode(t, p); c != -2 {
			t.Fatalf("exit code %d, want -2", c)
		}
	})
}

// A pool worker treats SIGINT as SIGTERM too: the running call's context
// is cancelled and the call reports it; the calls queued behind it never
// ran and go to the replacement worker.
func TestFaultSIGINTToPoolWorker(t *testing.T) { signalBusyWorker(t, syscall.SIGINT) }

// A target that hangs past the caller's patience: JoinTimeout returns
// context.DeadlineExceeded on time and leaves the child running; Kill then
// ends it within a bound, with an *ExitError for SIGKILL, and the child is
// reaped (no zombie).
func TestFaultHangPastTimeout(t *testing.T) {
	p := start(t, &mp.Process{Target: targets.SleepNoCtx, Args: []any{time.Hour}})
	pid := p.Pid()
	const patience = 300 * time.Millisecond
	t0 := time.Now()
	err := p.JoinTimeout(patience)
	waited := time.Since(t0)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("JoinTimeout = %v, want DeadlineExceeded", err)
	}
	if waited < patience || waited > patience+5*time.Second {
		t.Errorf("JoinTimeout(%v) returned after %v", patience, waited)
	}
	if !p.IsAlive() {
		t.Fatal("JoinTimeout ended the child")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.JoinContext(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("JoinContext with a cancelled context = %v", err)
	}
	t1 := time.Now()
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	wantExit(t, join(t, p), -9, "SIGKILL")
	killed := time.Since(t1)
	if killed > 5*time.Second {
		t.Errorf("Kill then Join took %v", killed)
	}
	if pi, ok := procStat(pid); ok && pi.ppid == os.Getpid() {
		t.Errorf("child %d is still our child after Join, state %c", pid, pi.state)
	}
	t.Logf("JoinTimeout(%v) returned after %v; Kill+Join took %v", patience, waited.Round(time.Millisecond), killed.Round(time.Millisecond))
}

// One context cancelled under twenty running children (started with
// StartContext) ends them all within a bound: those without a context die
// of SIGTERM, those with one report their cancelled context and then die of
// SIGTERM, and those that ignore SIGTERM are killed after their kill delay.
// Afterwards the parent holds no descriptor, goroutine or zombie more than
// before.
func TestFaultCancelManyChildren(t *testing.T) {
	const n = 20
	out, ready := readyPipe(t)
	before := snapshot(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ps := make([]*mp.Process, n)
	for i := range ps {
		msg := fmt.Sprintf("ready %d", i)
		switch i % 3 {
		case 0:
			ps[i] = &mp.Process{Target: targets.AnnounceNoCtx, Args: []any{msg, time.Hour}}
		case 1:
			ps[i] = &mp.Process{Target: targets.Announce, Args: []any{msg, time.Hour}}
		case 2:
			ps[i] = &mp.Process{Target: targets.Stubborn, Args: []any{msg, time.Hour}, KillDelay: 500 * time.Millisecond}
		}
		ps[i].Stdout = out
		if err := ps[i].StartContext(ctx); err != nil {
			t.Fatalf("child %d: %v", i, err)
		}
		p := ps[i]
		t.Cleanup(func() { _ = p.Kill(); _ = p.Join() })
	}
	ready(n, 60*time.Second) // every target is running, its signal handling in place
	t0 := time.Now()
	cancel()
	const bound = 20 * time.Second
	for i, p := range ps {
		select {
		case <-p.Sentinel():
		case <-time.After(bound - time.Since(t0)):
			t.Fatalf("child %d still running %v after the cancel", i, bound)
		}
	}
	took := time.Since(t0)
	for i, p := range ps {
		err := p.Join()
		switch i % 3 {
		case 0:
			wantExit(t, err, -15, "SIGTERM")
		case 1:
			var re *mp.RemoteError
			if !errors.As(err, &re) || !strings.Contains(re.Message, "context canceled") {
				t.Errorf("child %d: Join = %T %v, want its cancelled context", i, err, err)
			}
			if c := exitCode(t, p); c != -15 {
				t.Errorf("child %d: exit code %d, want -15", i, c)
			}
		case 2:
			wantExit(t, err, -9, "SIGKILL")
		}
	}
	if got := len(mp.ActiveChildren()); got != 0 {
		t.Errorf("%d active children after the cancel", got)
	}
	l := before.check(t, 10*time.Second)
	t.Logf("%d children ended %v after the cancel; left behind: %v", n, took.Round(time.Millisecond), l)
}

func fileSum(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, mode); err != nil {
		t.Fatal(err)
	}
}

// The program's file is deleted, or replaced by another program, while it
// runs: its children (started from /proc/self/exe on Linux) still run the
// image the parent runs, both as Processes and as Pool workers. A child
// started from a copy of this test binary in a temporary directory does it
// to itself (targets.ImageGone).
func TestFaultBinaryDeletedOrReplaced(t *testing.T) {
	skipOnPortable(t, "children start from the program's file; only Linux has /proc/self/exe to start a deleted or replaced one's image")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	want := fileSum(t, exe)
	for _, mode := range []string{"deleted", "replaced"} {
		t.Run(mode, func(t *testing.T) {
			cp := filepath.Join(t.TempDir(), "mp-copy.test")
			copyFile(t, exe, cp, 0o755)
			fromCopy := func(p *mp.Process) error {
				defer mp.StartChildrenFrom(cp)()
				return p.Start()
			}
			runScenario(t, &mp.Process{Target: targets.ImageGone, Args: []any{mode, want}}, fromCopy)
		})
	}
}

// The parent runs out of file descriptors (here: a low RLIMIT_NOFILE,
// filled up): Start returns a clear error that matches syscall.EMFILE, at
// once, makes no process, and leaks no descriptor; with one, two, ... free
// descriptors the same, until there are enough; and once descriptors free
// up, children start again. The parent is a child of the test
// (targets.FDExhaustion), whose limit can be lowered without disturbing the
// other tests.
func TestFaultFDExhaustion(t *testing.T) {
	runScenario(t, &mp.Process{Target: targets.FDExhaustion}, nil)
}
