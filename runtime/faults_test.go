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
// The tests that need a process of their own (to delete its binary, or to
// lower its descriptor limit without disturbing the other tests) run this
// test binary again with -test.run=^TestFaultsHelper$ and the helper's name
// in MPGEN_FAULTS_HELPER; TestFaultsHelper does nothing without it.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

// leakSnapshot is what the parent holds at one moment: its descriptors,
// goroutines and child processes.
type leakSnapshot struct {
	fds        map[int]string
	goroutines map[string]bool
	kids       map[int]byte
}

// snapshot records the parent's descriptors, goroutines and children.
func snapshot(t *testing.T) *leakSnapshot {
	t.Helper()
	return &leakSnapshot{fds: openFDs(t), goroutines: goroutineIDs(), kids: childrenOf(os.Getpid())}
}

// leaks is what a check found beyond a snapshot.
type leaks struct {
	fds        []string // "fd=link" of descriptors not in the snapshot
	goroutines []string // stacks of goroutines not in the snapshot
	kids       []string // "pid:state" of children not in the snapshot (zombies included)
}

func (l leaks) String() string {
	return fmt.Sprintf("%d descriptors, %d goroutines, %d child processes", len(l.fds), len(l.goroutines), len(l.kids))
}

// check waits up to settle for the parent to be back to the snapshot (the
// goroutines of an ended child may take a moment to wind down), then fails
// the test for anything left over, and returns what it found.
func (s *leakSnapshot) check(t *testing.T, settle time.Duration) leaks {
	t.Helper()
	var l leaks
	eventually(settle, func() bool {
		l = leaks{}
		for fd, link := range openFDs(t) {
			if s.fds[fd] != link {
				l.fds = append(l.fds, fmt.Sprintf("%d=%s", fd, link))
			}
		}
		for pid, state := range childrenOf(os.Getpid()) {
			if _, ok := s.kids[pid]; !ok {
				l.kids = append(l.kids, fmt.Sprintf("%d:%c", pid, state))
			}
		}
		l.goroutines = newGoroutines(s.goroutines)
		return len(l.fds) == 0 && len(l.kids) == 0 && len(l.goroutines) == 0
	})
	slices.Sort(l.fds)
	slices.Sort(l.kids)
	if len(l.fds) > 0 {
		t.Errorf("descriptors left open: %v", l.fds)
	}
	if len(l.kids) > 0 {
		t.Errorf("child processes left (pid:state, Z is a zombie): %v", l.kids)
	}
	if len(l.goroutines) > 0 {
		t.Errorf("%d goroutines leaked:\n%s", len(l.goroutines), strings.Join(l.goroutines, "\n\n"))
	}
	return l
}

// readyPipe returns a pipe whose write end children get as stdout, and a
// function that reads n lines from it within d.
func readyPipe(t *testing.T) (w *os.File, read func(n int, d time.Duration) []string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	br := bufio.NewReader(r)
	return w, func(n int, d time.Duration) []string {
		t.Helper()
		if err := r.SetReadDeadline(time.Now().Add(d)); err != nil {
			t.Fatal(err)
		}
		var lines []string
		for len(lines) < n {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("read %d of %d lines from the children within %v: %v", len(lines), n, d, err)
			}
			lines = append(lines, strings.TrimSuffix(line, "\n"))
		}
		return lines
	}
}

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
	var stderr syncBuffer
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
			var stderr syncBuffer
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

// runHelper runs this test binary (or exe, a copy of it) as a process of
// its own running TestFaultsHelper in the given mode, and fails the test
// unless the helper passes within a bound.
func runHelper(t *testing.T, exe, mode string, env ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-test.run=^TestFaultsHelper$", "-test.v", "-test.timeout=150s")
	cmd.Env = append(os.Environ(), append([]string{"MPGEN_FAULTS_HELPER=" + mode}, env...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	if err != nil || !strings.Contains(out.String(), "--- PASS: TestFaultsHelper") {
		t.Fatalf("helper %s: %v\n%s", mode, err, out.String())
	}
	return out.String()
}

// relayHelperLog logs the lines that the helper's tests in file logged,
// without the helper's own prefix.
func relayHelperLog(t *testing.T, out, file string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, file+":") {
			t.Log("helper: " + line)
		}
	}
}

// TestFaultsHelper is the body of a helper process (see runHelper); run
// directly, it does nothing.
func TestFaultsHelper(t *testing.T) {
	mode := os.Getenv("MPGEN_FAULTS_HELPER")
	switch mode {
	case "":
		t.Skip("helper process of the fault tests; runs only when MPGEN_FAULTS_HELPER is set")
	case "deleted", "replaced":
		helperBinaryGone(t, mode)
	case "fds":
		helperFDExhaustion(t)
	case "pool-fds":
		helperPoolFDExhaustion(t)
	case "pool-nostart":
		helperPoolNoWorker(t)
	default:
		t.Fatalf("unknown helper %q", mode)
	}
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
// image the parent runs, both as Processes and as Pool workers. A helper
// process, a copy of this test binary in a temporary directory, does it to
// itself.
func TestFaultBinaryDeletedOrReplaced(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	want := fileSum(t, exe)
	for _, mode := range []string{"deleted", "replaced"} {
		t.Run(mode, func(t *testing.T) {
			cp := filepath.Join(t.TempDir(), "mp-copy.test")
			copyFile(t, exe, cp, 0o755)
			relayHelperLog(t, runHelper(t, cp, mode, "MPGEN_FAULTS_WANT_SUM="+want), "faults_test.go")
		})
	}
}

// helperBinaryGone deletes or replaces this process's own file, then
// starts children and a pool and checks which image they run.
func helperBinaryGone(t *testing.T, mode string) {
	want := os.Getenv("MPGEN_FAULTS_WANT_SUM")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if got := fileSum(t, self); got != want {
		t.Fatalf("this helper's binary %s has sum %s, want %s", self, got, want)
	}
	switch mode {
	case "deleted":
		if err := os.Remove(self); err != nil {
			t.Fatal(err)
		}
	case "replaced":
		// Another program, executable, takes the file's name (a new inode,
		// as an upgrade by rename does). Were a child started from the
		// path, it would run this script and exit 97.
		script := self + ".new"
		if err := os.WriteFile(script, []byte("#!/bin/sh\necho 'mpgen test: wrong image' >&2\nexit 97\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(script, self); err != nil {
			t.Fatal(err)
		}
		if fileSum(t, self) == want {
			t.Fatal("the replacement has the same sum")
		}
	}
	t.Logf("%s %s; starting children", self, mode)

	check := func(who string, img targets.Image) {
		t.Helper()
		if img.Sum != want {
			t.Errorf("%s runs image %s from %q, want %s", who, img.Sum, img.Path, want)
		} else {
			t.Logf("%s runs the right image, from %q", who, img.Path)
		}
	}
	for i := 0; i < 3; i++ {
		p := start(t, &mp.Process{Target: targets.ExeImage})
		if err := join(t, p); err != nil {
			t.Fatalf("child %d: %v", i, err)
		}
		res, _ := p.Result()
		check(fmt.Sprintf("child %d", i), res.(targets.Image))
	}
	ctx := testCtx(t)
	pool := newPool(t, mp.Workers(2))
	got, err := mp.Map[int, int](ctx, pool, targets.Identity, []int{1, 2, 3, 4})
	if err != nil || !slices.Equal(got, []int{1, 2, 3, 4}) {
		t.Fatalf("pool Map: %v, %v", got, err)
	}
	img, err := mp.Submit[targets.Image](ctx, pool, targets.ExeImage).GetContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	check("a pool worker", img)
	// A worker killed now is replaced from the same image.
	for _, pid := range pool.Pids() {
		kill9(t, pid)
	}
	img, err = mp.Submit[targets.Image](ctx, pool, targets.ExeImage).GetContext(ctx)
	var ee *mp.ExitError
	for errors.As(err, &ee) { // the call may have gone to a worker as it died
		img, err = mp.Submit[targets.Image](ctx, pool, targets.ExeImage).GetContext(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	check("a replacement pool worker", img)
}

// fdLister lists this process's descriptors through a directory handle
// opened beforehand, so that it works with the descriptor table full.
type fdLister struct{ dir *os.File }

func newFDLister(t *testing.T) *fdLister {
	t.Helper()
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return &fdLister{d}
}

// list returns the open descriptors but the lister's own, as "fd=link".
func (l *fdLister) list(t *testing.T) []string {
	t.Helper()
	if _, err := l.dir.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	names, err := l.dir.Readdirnames(-1)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, name := range names {
		if name == fmt.Sprint(l.dir.Fd()) {
			continue
		}
		if link, err := os.Readlink("/proc/self/fd/" + name); err == nil {
			out = append(out, name+"="+link)
		}
	}
	slices.Sort(out)
	return out
}

// lowerFDLimit sets this process's soft RLIMIT_NOFILE to n (children
// inherit it) and fills every free descriptor below it with /dev/null. It
// returns the files it opened, most recent last.
func lowerFDLimit(t *testing.T, n uint64) []*os.File {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	lim.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	var hoard []*os.File
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			if !errors.Is(err, syscall.EMFILE) {
				t.Fatalf("filling the descriptor table: %v", err)
			}
			break
		}
		hoard = append(hoard, f)
	}
	t.Cleanup(func() {
		for _, f := range hoard {
			f.Close()
		}
	})
	return hoard
}

// startBounded runs p.Start and fails the test if it does not return
// within d.
func startBounded(t *testing.T, p *mp.Process, d time.Duration) error {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- p.Start() }()
	select {
	case err := <-errc:
		if err == nil {
			t.Cleanup(func() { _ = p.Kill(); _ = p.Join() })
		}
		return err
	case <-time.After(d):
		t.Fatalf("Start did not return within %v with the descriptor table full", d)
		return nil
	}
}

// The parent runs out of file descriptors (here: a low RLIMIT_NOFILE,
// filled up): Start returns a clear error that matches syscall.EMFILE, at
// once, makes no process, and leaks no descriptor; with one, two, ... free
// descriptors the same, until there are enough; and once descriptors free
// up, children start again. Run in a helper process, whose limit can be
// lowered without disturbing the other tests.
func TestFaultFDExhaustion(t *testing.T) {
	relayHelperLog(t, runHelper(t, os.Args[0], "fds"), "faults_test.go")
}

func helperFDExhaustion(t *testing.T) {
	fds := newFDLister(t)
	hoard := lowerFDLimit(t, 256)
	if len(hoard) < 20 {
		t.Fatalf("only %d descriptors free under the limit", len(hoard))
	}
	free := 0
	release := func(k int) { // close k more files of the hoard
		for ; k > 0; k-- {
			hoard[len(hoard)-1].Close()
			hoard = hoard[:len(hoard)-1]
			free++
		}
	}
	for _, stdout := range []string{"inherited", "buffer"} {
		t.Run("stdout "+stdout, func(t *testing.T) {
			started := false
			for !started && free <= 16 {
				p := &mp.Process{Target: targets.Echo, Args: []any{"fd"}}
				var buf syncBuffer
				if stdout == "buffer" {
					p.Stdout, p.Stderr = &buf, &buf
				}
				fdsBefore := fds.list(t)
				t0 := time.Now()
				err := startBounded(t, p, 20*time.Second)
				took := time.Since(t0)
				if err != nil {
					if !errors.Is(err, syscall.EMFILE) || !strings.Contains(err.Error(), "too many open files") {
						t.Fatalf("%d free: Start = %v; want an error matching EMFILE", free, err)
					}
					if p.Pid() != 0 || p.IsAlive() {
						t.Fatalf("%d free: Start failed but made process %d", free, p.Pid())
					}
					if after := fds.list(t); !slices.Equal(after, fdsBefore) {
						t.Fatalf("%d free: a failed Start changed the open descriptors from\n%v\nto\n%v", free, fdsBefore, after)
					}
					t.Logf("free descriptors: %d: Start failed in %v: %v", free, took.Round(time.Microsecond), err)
					release(1)
					continue
				}
				started = true
				if err := join(t, p); err != nil {
					t.Fatalf("%d free: Start succeeded, Join = %v (output %q)", free, err, buf.String())
				}
				if res, _ := p.Result(); res != "fd" {
					t.Fatalf("%d free: result %v", free, res)
				}
				if !eventually(5*time.Second, func() bool { return slices.Equal(fds.list(t), fdsBefore) }) {
					t.Fatalf("%d free: descriptors after Join\n%v\ndiffer from before Start\n%v", free, fds.list(t), fdsBefore)
				}
				t.Logf("free descriptors: %d: the child started and ran", free)
			}
			if !started {
				t.Fatalf("no child started with %d free descriptors", free)
			}
			// Fill the table again for the next case.
			for ; free > 0; free-- {
				f, err := os.Open(os.DevNull)
				if err != nil {
					t.Fatal(err)
				}
				hoard = append(hoard, f)
			}
		})
	}
	// Descriptors free up: everything works again, many times over.
	release(len(hoard))
	for i := 0; i < 5; i++ {
		p := start(t, &mp.Process{Target: targets.Echo, Args: []any{"again"}})
		if err := join(t, p); err != nil {
			t.Fatalf("after the descriptors were freed: %v", err)
		}
	}
}
