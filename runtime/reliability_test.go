//go:build linux

package mp_test

// Reliability tests with real processes: children die with their parent,
// inherit only the descriptors mpgen gives them, leak nothing in the parent,
// survive floods of output, and a child that breaks its control channel
// cannot hang its parent. They read /proc, so they run on Linux.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

// alive reports whether the process that had pid and start time start
// still exists and is not a zombie.
func alive(pid int, start uint64) bool {
	pi, ok := procStat(pid)
	return ok && pi.start == start && pi.state != 'Z'
}

// closeOnExec reports whether descriptor fd of this process has FD_CLOEXEC.
func closeOnExec(fd int) bool {
	flags, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0)
	return errno == 0 && flags&syscall.FD_CLOEXEC != 0
}

// readPids reads n lines "pid N" from r within d.
func readPids(t *testing.T, r *os.File, n int, d time.Duration) []int {
	t.Helper()
	if err := r.SetReadDeadline(time.Now().Add(d)); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(r)
	var pids []int
	for len(pids) < n && sc.Scan() {
		var pid int
		if _, err := fmt.Sscanf(sc.Text(), "pid %d", &pid); err != nil {
			t.Fatalf("unexpected output line %q", sc.Text())
		}
		pids = append(pids, pid)
	}
	if len(pids) < n {
		t.Fatalf("read %d of %d pids: %v", len(pids), n, sc.Err())
	}
	return pids
}

// startSleepers starts SpawnSleepers(n) with stdout on a pipe and returns
// the child and its grandchildren's pids and start times. A cleanup kills
// any grandchild still alive, so a failing test leaves no sleeper behind.
func startSleepers(t *testing.T, n int, stdout io.Writer) (*mp.Process, map[int]uint64, *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	// Grandchildren orphaned before their handshake say so on stderr:
	// keep that out of the test's output, in a file (not a pipe).
	stderr, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stderr.Close() })
	p := &mp.Process{Target: targets.SpawnSleepers, Args: []any{n}, Stdout: w, Stderr: stderr}
	if stdout != nil {
		// Print the pids through a writer that is not a file, so the
		// child's stdout is a pipe that os/exec copies from.
		p.Stdout = io.MultiWriter(stdout, w)
	}
	start(t, p)
	if stdout == nil {
		w.Close() // the child and its children hold the write end now
	} else {
		t.Cleanup(func() { w.Close() })
	}
	pids := readPids(t, r, n, 60*time.Second)
	grand := map[int]uint64{}
	for _, pid := range pids {
		pi, ok := procStat(pid)
		if !ok || pi.ppid != p.Pid() {
			t.Fatalf("grandchild %d: exists %v, parent %d, want %d", pid, ok, pi.ppid, p.Pid())
		}
		grand[pid] = pi.start
	}
	t.Cleanup(func() {
		for pid, st := range grand {
			if alive(pid, st) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	return p, grand, r
}

// A child never outlives its parent: when a child that has children of its
// own is killed, every grandchild is gone (or a zombie waiting for whoever
// adopted it) within 2 s of the child's death, and nothing holds the
// grandchildren's stdout any longer; also when the grandchildren are
// stopped (SIGSTOP) and cannot watch their control channels (issue 10,
// item 12).
func TestGrandchildrenDieWithTheirParent(t *testing.T) {
	for _, tc := range []struct {
		name    string
		kill    func(t *testing.T, p *mp.Process, grand map[int]uint64)
		code    int
		stopped bool // the grandchildren are stopped: only PR_SET_PDEATHSIG ends them
	}{
		{"SIGKILL from outside", func(t *testing.T, p *mp.Process, _ map[int]uint64) {
			if err := syscall.Kill(p.Pid(), syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}, -9, false},
		{"SIGKILL from outside, its children stopped", func(t *testing.T, p *mp.Process, grand map[int]uint64) {
			for pid := range grand {
				if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
					t.Fatal(err)
				}
			}
			for pid := range grand {
				if !targets.Eventually(10*time.Second, func() bool { pi, _ := procStat(pid); return pi.state == 'T' }) {
					t.Fatalf("grandchild %d did not stop", pid)
				}
			}
			if err := syscall.Kill(p.Pid(), syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}, -9, true},
		{"Process.Kill", func(t *testing.T, p *mp.Process, _ map[int]uint64) {
			if err := p.Kill(); err != nil {
				t.Fatal(err)
			}
		}, -9, false},
		{"Process.Terminate", func(t *testing.T, p *mp.Process, _ map[int]uint64) {
			if err := p.Terminate(); err != nil {
				t.Fatal(err)
			}
		}, -15, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.stopped {
				skipOnPortable(t, "without PR_SET_PDEATHSIG a stopped child sees its parent's end only once it continues")
			}
			p, grand, r := startSleepers(t, 3, nil)
			tc.kill(t, p, grand)
			_ = join(t, p)
			if c := exitCode(t, p); c != tc.code {
				t.Fatalf("child exit code %d, want %d", c, tc.code)
			}
			if !targets.Eventually(2*time.Second, func() bool {
				for pid, st := range grand {
					if alive(pid, st) {
						return false
					}
				}
				return true
			}) {
				for pid, st := range grand {
					pi, _ := procStat(pid)
					t.Errorf("grandchild %d still alive 2 s after its parent died: state %c parent %d (started %d)", pid, pi.state, pi.ppid, st)
				}
			}
			// Every writer of the stdout pipe is gone: EOF, not a timeout.
			_ = r.SetReadDeadline(time.Now().Add(10 * time.Second))
			if rest, err := io.ReadAll(r); err != nil || len(rest) != 0 {
				t.Fatalf("stdout after the family died: %q, %v", rest, err)
			}
		})
	}
}

// A process that outlives the child (any program the target started
// without mp, which nothing kills with its parent) and still holds the
// child's stdout must not keep Join from returning once the child is dead,
// when Stdout is not a file (os/exec then copies from a pipe until every
// writer has closed it). The test stands for that process: it opens the
// pipe through the grandchild's /proc entry and holds it.
func TestJoinDoesNotWaitForGrandchildOutput(t *testing.T) {
	var out targets.SyncBuffer
	p, grand, _ := startSleepers(t, 1, &out)
	for pid := range grand {
		w, err := os.OpenFile(fmt.Sprintf("/proc/%d/fd/1", pid), os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	err := join(t, p) // fails the test after 30 s
	var ee *mp.ExitError
	if !errors.As(err, &ee) || ee.Code != -9 {
		t.Fatalf("Join = %v, want the child killed by SIGKILL", err)
	}
	if !strings.HasPrefix(out.String(), "pid ") {
		t.Fatalf("stdout %q lost the grandchild's pid line", out.String())
	}
}

// childFDs runs targets.FDs in a child with stdout and stderr on the given
// files and returns what it saw.
func childFDs(t *testing.T, stdout, stderr *os.File) []targets.FD {
	t.Helper()
	p := start(t, &mp.Process{Target: targets.FDs, Stdout: stdout, Stderr: stderr})
	if err := join(t, p); err != nil {
		t.Fatal(err)
	}
	res, _ := p.Result()
	return res.([]targets.FD)
}

// runtimeFD reports whether a descriptor is one the Go runtime opens for
// itself in every process: the network poller's epoll instance and its
// wake-up eventfd, and (Go 1.25+, in a cgroup with a CPU limit) the cgroup
// files it re-reads to keep GOMAXPROCS current.
func runtimeFD(link string) bool {
	return link == "anon_inode:[eventpoll]" || link == "anon_inode:[eventfd]" ||
		strings.HasPrefix(link, "/sys/fs/cgroup/")
}

// checkChildFDs asserts that a child has exactly: 0 on /dev/null, 1 on
// the file given, 2 on a pipe (copied to the stderr file given), one
// socket (the control channel), the Go runtime's own descriptors, and
// nothing else; and that every descriptor above 2 is
// close-on-exec, so none was inherited (an inherited descriptor never has
// the flag) and none reaches the child's own children. skip lists
// descriptors to leave out of the checks (see TestChildDescriptors).
func checkChildFDs(t *testing.T, fds []targets.FD, stdout, stderr string, skip map[string]bool) {
	t.Helper()
	sockets := 0
	for _, fd := range fds {
		if skip[fd.Link] && fd.Num > 2 && !fd.CloExec {
			continue
		}
		switch {
		case fd.Num == 0:
			if fd.Link != os.DevNull {
				t.Errorf("child's stdin is %q, want %s", fd.Link, os.DevNull)
			}
		case fd.Num == 1:
			if fd.Link != stdout {
				t.Errorf("child's stdout is %q, want %q", fd.Link, stdout)
			}
		case fd.Num == 2:
			// Stderr goes through a pipe whose copier writes to the
			// file and keeps the tail an *ExitError carries.
			if !strings.HasPrefix(fd.Link, "pipe:") {
				t.Errorf("child's stderr is %q, want a pipe to %q", fd.Link, stderr)
			}
		case !fd.CloExec:
			t.Errorf("child inherited descriptor %d (%s): it is not close-on-exec", fd.Num, fd.Link)
		case strings.HasPrefix(fd.Link, "socket:"):
			sockets++
		case runtimeFD(fd.Link):
		default:
			t.Errorf("child has unexpected descriptor %d (%s)", fd.Num, fd.Link)
		}
	}
	if sockets != 1 {
		t.Errorf("child has %d sockets, want exactly 1 (its control channel)", sockets)
	}
	if t.Failed() {
		t.Logf("child's descriptors: %+v", fds)
	}
}

// Children inherit only stdin, stdout, stderr and their control channel:
// not the files, pipes and sockets the parent has open (Go opens them all
// close-on-exec), and not the control channels of siblings started at the
// same time.
func TestChildDescriptors(t *testing.T) {
	dir := t.TempDir()
	stdout, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()

	// Descriptors of the parent that must not reach the child.
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(secret)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	// Descriptors without close-on-exec that this process itself
	// inherited from whoever started it are TestNonCloexecDescriptors's
	// subject; leave them out here.
	inherited := map[string]bool{}
	for fd, link := range openFDs(t) {
		if fd > 2 && !closeOnExec(fd) {
			inherited[link] = true
			t.Logf("this process inherited descriptor %d (%s) without close-on-exec; not checked here", fd, link)
		}
	}

	t.Run("one child", func(t *testing.T) {
		fds := childFDs(t, stdout, stderr)
		checkChildFDs(t, fds, stdout.Name(), stderr.Name(), inherited)
		for _, fd := range fds {
			if fd.Link == secret || fd.Link == dir {
				t.Errorf("child inherited the parent's %s as descriptor %d", fd.Link, fd.Num)
			}
		}
	})

	t.Run("siblings started together", func(t *testing.T) {
		// Start sleepers and FDs children at once: no child may hold a
		// sibling's end of a control channel.
		const n = 8
		var wg sync.WaitGroup
		results := make([][]targets.FD, n)
		errs := make([]error, n)
		for i := 0; i < n; i++ {
			s := start(t, &mp.Process{Target: targets.SleepNoCtx, Args: []any{time.Hour}})
			defer s.Kill()
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := &mp.Process{Target: targets.FDs, Stdout: stdout, Stderr: stderr}
				if errs[i] = p.Start(); errs[i] != nil {
					return
				}
				if errs[i] = p.JoinTimeout(60 * time.Second); errs[i] != nil {
					_ = p.Kill()
					return
				}
				res, _ := p.Result()
				results[i] = res.([]targets.FD)
			}()
		}
		wg.Wait()
		for i := 0; i < n; i++ {
			if errs[i] != nil {
				t.Fatalf("child %d: %v", i, errs[i])
			}
			checkChildFDs(t, results[i], stdout.Name(), stderr.Name(), inherited)
		}
	})
}

// A descriptor this process has without close-on-exec (one it inherited
// from a shell or a supervisor, or made with syscall.Dup, or opened from C)
// must not reach a child either: Python's spawn passes only the descriptors
// it means to (close_fds), and a leaked pipe end held by a long-lived child
// keeps a reader from ever seeing EOF.
func TestNonCloexecDescriptorsDoNotLeak(t *testing.T) {
	f, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dup, err := syscall.Dup(int(f.Fd())) // dup(2) does not copy close-on-exec
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(dup)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	pipeDup, err := syscall.Dup(int(pw.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(pipeDup)

	p := start(t, &mp.Process{Target: targets.FDs})
	if err := join(t, p); err != nil {
		t.Fatal(err)
	}
	res, _ := p.Result()
	var leaked []string
	for _, fd := range res.([]targets.FD) {
		if fd.Num > 2 && !fd.CloExec {
			leaked = append(leaked, fmt.Sprintf("%d=%s", fd.Num, fd.Link))
		}
	}
	if len(leaked) > 0 {
		t.Errorf("the child inherited descriptors mpgen did not mean to pass (our dups are %d and %d): %s",
			dup, pipeDup, strings.Join(leaked, " "))
	}
}

// The authkey and the call's payload travel on the control channel only,
// never in the child's argv or environment (which other processes of the
// same user can read in /proc).
func TestAuthKeyNotInArgvOrEnviron(t *testing.T) {
	custom := []byte("0123456789abcdef-custom-authkey!")
	for _, tc := range []struct {
		name string
		key  []byte // nil: the inherited key
	}{{"inherited key", nil}, {"custom key", custom}} {
		t.Run(tc.name, func(t *testing.T) {
			key := tc.key
			if key == nil {
				key = mp.CurrentProcess().AuthKey
			}
			name := "Process-with-a-distinctive-name-" + hex.EncodeToString(key[:4])
			p := start(t, &mp.Process{Target: targets.Whoami, Name: name, AuthKey: tc.key})
			if err := join(t, p); err != nil {
				t.Fatal(err)
			}
			res, _ := p.Result()
			if w := res.(targets.Who); w.AuthKeySum != sha256.Sum256(key) || w.Name != name {
				t.Fatalf("the child did not get the key and name: %+v", w)
			}

			// Now a child that stays alive long enough to be inspected.
			s := start(t, &mp.Process{Target: targets.SleepNoCtx, Args: []any{time.Hour}, Name: name, AuthKey: tc.key})
			// Start returns once execve has begun; the new image's argv
			// and environment show in /proc a moment later.
			var cmdline []byte
			for deadline := time.Now().Add(5 * time.Second); len(cmdline) == 0 && time.Now().Before(deadline); {
				var err error
				if cmdline, err = os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", s.Pid())); err != nil {
					t.Fatal(err)
				}
				if len(cmdline) == 0 {
					time.Sleep(5 * time.Millisecond)
				}
			}
			environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", s.Pid()))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00"), []string{os.Args[0], "mp:" + sleepNoCtxName}; !slices.Equal(got, want) {
				t.Errorf("child's argv = %q, want %q", got, want)
			}
			env := strings.Split(strings.TrimSuffix(string(environ), "\x00"), "\x00")
			if n := slices.Index(env, "MPGEN_CHILD=fd=3"); n < 0 || slices.Index(env[n+1:], "MPGEN_CHILD=fd=3") >= 0 {
				t.Errorf("child's environment holds MPGEN_CHILD=fd=3 %d times, want once", strings.Count(string(environ), "MPGEN_CHILD="))
			}
			for _, enc := range []string{
				string(key), hex.EncodeToString(key), strings.ToUpper(hex.EncodeToString(key)),
				base64.StdEncoding.EncodeToString(key), base64.RawStdEncoding.EncodeToString(key),
				base64.URLEncoding.EncodeToString(key), base64.RawURLEncoding.EncodeToString(key),
				string(key[:12]), hex.EncodeToString(key[:8]), name,
			} {
				if bytes.Contains(cmdline, []byte(enc)) || bytes.Contains(environ, []byte(enc)) {
					t.Errorf("the child's argv or environment contains %q", enc)
				}
			}
			for _, kv := range env {
				k, _, _ := strings.Cut(kv, "=")
				if k == "MPGEN_CHILD" || k == "GORACE" && os.Getenv("GORACE") == "" {
					continue
				}
				if v, ok := os.LookupEnv(k); !ok || k+"="+v != kv {
					t.Errorf("child's environment has %q, which the parent's has not", kv)
				}
			}
		})
	}
}

// sleepNoCtxName is the registered name of targets.SleepNoCtx.
const sleepNoCtxName = "github.com/mpgen/mpgen/internal/targets.SleepNoCtx"

// cmdlineOf waits until process pid shows its argv in /proc (Start returns
// once execve has begun; the new image's argv shows a moment later) and
// returns it, with its command name.
func cmdlineOf(t *testing.T, pid int) (argv []string, comm string) {
	t.Helper()
	var cmdline []byte
	for deadline := time.Now().Add(5 * time.Second); len(cmdline) == 0 && time.Now().Before(deadline); {
		var err error
		if cmdline, err = os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err != nil {
			t.Fatal(err)
		}
		if len(cmdline) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00"), strings.TrimSuffix(string(b), "\n")
}

// Children show under the program's name in ps, top and pgrep (their
// command name is the parent's, not "exe"), and their argv says which
// target each runs: the program's argv[0], then "mp:" and the target's
// name ("mp:pool:worker" for a pool worker), nothing else. The target
// sees os.Args as the program's argv[0] alone. (Issue 10, item 15; the
// deleted or replaced binary, where children start from /proc/self/exe,
// is in TestFaultBinaryDeletedOrReplaced.)
func TestChildShowsProgramAndTarget(t *testing.T) {
	parentComm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.TrimSuffix(string(parentComm), "\n")

	p := start(t, &mp.Process{Target: targets.SleepNoCtx, Args: []any{time.Hour}})
	argv, comm := cmdlineOf(t, p.Pid())
	if comm != want {
		t.Errorf("the child's command name is %q, want its parent's %q", comm, want)
	}
	if w := []string{os.Args[0], "mp:" + sleepNoCtxName}; !slices.Equal(argv, w) {
		t.Errorf("the child's argv is %q, want %q", argv, w)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = join(t, p)

	pool := newPool(t, mp.Workers(1))
	argv, comm = cmdlineOf(t, pool.Pids()[0])
	if comm != want {
		t.Errorf("the pool worker's command name is %q, want its parent's %q", comm, want)
	}
	if w := []string{os.Args[0], "mp:pool:worker"}; !slices.Equal(argv, w) {
		t.Errorf("the pool worker's argv is %q, want %q", argv, w)
	}

	w := start(t, &mp.Process{Target: targets.Whoami})
	if err := join(t, w); err != nil {
		t.Fatal(err)
	}
	res, _ := w.Result()
	if got := res.(targets.Who).Args; !slices.Equal(got, os.Args[:1]) {
		t.Errorf("the target sees os.Args %q, want %q", got, os.Args[:1])
	}
}

// Many start/join cycles, one after another and all at once, leave no
// descriptor, zombie or goroutine behind in the parent.
func TestNoLeaksAfterManyChildren(t *testing.T) {
	seq, conc := 1000, 100
	if testing.Short() {
		seq, conc = 200, 50
	}
	goroutinesBefore := goroutineIDs()
	before := openFDs(t)
	if kids := childrenOf(os.Getpid()); len(kids) != 0 {
		t.Logf("children before the test: %v", kids) // left by earlier tests; they must not grow
	}
	kidsBefore := len(childrenOf(os.Getpid()))

	for i := 0; i < seq; i++ {
		p := &mp.Process{Target: targets.Noop}
		if err := p.Start(); err != nil {
			t.Fatalf("cycle %d: Start: %v", i, err)
		}
		if err := p.JoinTimeout(60 * time.Second); err != nil {
			_ = p.Kill()
			t.Fatalf("cycle %d: Join: %v", i, err)
		}
		if c, ok := p.ExitCode(); !ok || c != 0 {
			t.Fatalf("cycle %d: exit code %d, %v", i, c, ok)
		}
		if err := p.Close(); err != nil {
			t.Fatalf("cycle %d: Close: %v", i, err)
		}
	}

	ps := make([]*mp.Process, conc)
	for i := range ps {
		ps[i] = &mp.Process{Target: targets.Noop}
		if err := ps[i].Start(); err != nil {
			t.Fatalf("concurrent %d: Start: %v", i, err)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, conc)
	for i, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.JoinTimeout(120 * time.Second)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			_ = ps[i].Kill()
			t.Fatalf("concurrent %d: Join: %v", i, err)
		}
	}
	if n := len(mp.ActiveChildren()); n != 0 {
		t.Errorf("%d active children after every Join", n)
	}

	// Descriptors: the same set as before (after Join everything the
	// parent held for a child is closed: its end of the channel, pidfd,
	// output pipes).
	var after map[int]string
	if !targets.Eventually(5*time.Second, func() bool { after = openFDs(t); return len(after) <= len(before) }) {
		var extra []string
		for fd, link := range after {
			if before[fd] != link {
				extra = append(extra, fmt.Sprintf("%d=%s", fd, link))
			}
		}
		slices.Sort(extra)
		t.Errorf("%d descriptors before, %d after; new: %v", len(before), len(after), extra)
	}
	// Zombies and stray children: every child was reaped.
	var kids map[int]byte
	if !targets.Eventually(5*time.Second, func() bool { kids = childrenOf(os.Getpid()); return len(kids) <= kidsBefore }) {
		t.Errorf("children of this process after every Join (pid: state): %v", kids)
	}
	// Goroutines: none left that was not there before (they may take a
	// moment to wind down after Join returns).
	var extra []string
	if !targets.Eventually(10*time.Second, func() bool { extra = newGoroutines(goroutinesBefore); return len(extra) == 0 }) {
		t.Errorf("%d goroutines leaked:\n%s", len(extra), strings.Join(extra, "\n\n"))
	}
}

// A child that writes megabytes to stdout and stderr while the parent
// waits delivers every byte, in order, with no deadlock.
func TestLargeOutput(t *testing.T) {
	const n = 8 << 20
	wantOut, wantErr := targets.SpewPattern("stdout", n), targets.SpewPattern("stderr", n)

	t.Run("to buffers", func(t *testing.T) {
		var out, errs bytes.Buffer
		p := start(t, &mp.Process{Target: targets.Spew, Args: []any{n}, Stdout: &out, Stderr: &errs})
		if err := join(t, p); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), wantOut) || !bytes.Equal(errs.Bytes(), wantErr) {
			t.Fatalf("output differs: stdout %d bytes (want %d), stderr %d bytes (want %d)", out.Len(), n, errs.Len(), n)
		}
	})

	// With an os.Pipe as stdout the child writes straight into the pipe,
	// as os/exec does for an *os.File: while nobody reads, it blocks once
	// the pipe is full, so Join waits (a deadlock of the caller's making,
	// as with os/exec); JoinTimeout still returns, and once a reader
	// drains the pipe the child finishes with its output intact.
	t.Run("to a pipe read only after a first Join", func(t *testing.T) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		var errs bytes.Buffer
		p := start(t, &mp.Process{Target: targets.Spew, Args: []any{n}, Stdout: w, Stderr: &errs})
		w.Close()
		if err := p.JoinTimeout(time.Second); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("JoinTimeout with an unread pipe = %v, want DeadlineExceeded", err)
		}
		if !p.IsAlive() {
			t.Fatal("the child ended although its stdout pipe was full")
		}
		got := make(chan []byte)
		go func() { b, _ := io.ReadAll(r); got <- b }()
		if err := join(t, p); err != nil {
			t.Fatal(err)
		}
		if b := <-got; !bytes.Equal(b, wantOut) || !bytes.Equal(errs.Bytes(), wantErr) {
			t.Fatalf("output differs: stdout %d bytes, stderr %d bytes, want %d each", len(b), errs.Len(), n)
		}
	})

	t.Run("kill while blocked on a full pipe", func(t *testing.T) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		p := start(t, &mp.Process{Target: targets.Spew, Args: []any{n}, Stdout: w, Stderr: io.Discard})
		w.Close()
		_ = p.JoinTimeout(time.Second)
		if err := p.Kill(); err != nil {
			t.Fatal(err)
		}
		var ee *mp.ExitError
		if err := join(t, p); !errors.As(err, &ee) || ee.Code != -9 {
			t.Fatalf("Join after Kill = %v, want killed by SIGKILL", err)
		}
	})

	// When Stdout is a writer that blocks (an io.Pipe nobody reads, a
	// stalled network logger), the child blocks too once the pipe
	// between them is full; that is the caller's deadlock, as with
	// os/exec. But once the child has been killed there is nothing left to
	// wait for: Join must return (at most a WaitDelay later), not wait for
	// the caller's writer forever.
	t.Run("kill while the Stdout writer blocks", func(t *testing.T) {
		pr, pw := io.Pipe()
		defer pr.Close() // unblocks the writer when the test ends
		p := start(t, &mp.Process{Target: targets.Spew, Args: []any{n}, Stdout: pw, Stderr: io.Discard})
		if err := p.JoinTimeout(time.Second); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("JoinTimeout with a blocked writer = %v, want DeadlineExceeded", err)
		}
		if err := p.Kill(); err != nil {
			t.Fatal(err)
		}
		var ee *mp.ExitError
		if err := join(t, p); !errors.As(err, &ee) || ee.Code != -9 {
			t.Fatalf("Join after Kill = %v, want killed by SIGKILL", err)
		}
	})
}

// Start does not change this process's own descriptors: a descriptor it
// holds without close-on-exec (inherited on purpose, say a jobserver pipe
// or a socket-activation listener that it passes on to programs it runs
// with os/exec) keeps its flags. Keeping such descriptors out of mpgen's
// children must happen in the child, not by rewriting the parent.
func TestStartLeavesParentDescriptorsAlone(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	dup, err := syscall.Dup(int(pw.Fd())) // no close-on-exec
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(dup)
	p := start(t, &mp.Process{Target: targets.Noop})
	if err := join(t, p); err != nil {
		t.Fatal(err)
	}
	if closeOnExec(dup) {
		t.Errorf("starting a child set close-on-exec on this process's descriptor %d", dup)
	}
}

// A Name or AuthKey too large for the handshake is refused at Start, in
// the parent, with a clear error: not by a child that then exits with code
// 2 and claims it was "not started by mpgen".
func TestOversizedHandshakeRefusedAtStart(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    *mp.Process
	}{
		{"long name", &mp.Process{Target: targets.Noop, Name: strings.Repeat("n", 70000)}},
		{"long authkey", &mp.Process{Target: targets.Noop, AuthKey: bytes.Repeat([]byte{1}, 70000)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr targets.SyncBuffer
			tc.p.Stderr = &stderr
			if err := tc.p.Start(); err != nil {
				if tc.p.Pid() != 0 {
					t.Fatalf("Start failed (%v) after making process %d", err, tc.p.Pid())
				}
				return // refused at Start: fine
			}
			t.Cleanup(func() { _ = tc.p.Kill(); _ = tc.p.Join() })
			if err := join(t, tc.p); err != nil {
				t.Fatalf("Start accepted it, then Join = %v (child's stderr %q)", err, stderr.String())
			}
		})
	}
}

// Join, Kill, Terminate and the accessors may be called from many
// goroutines at once while children start and end (run with -race).
func TestConcurrentControl(t *testing.T) {
	const n = 12
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		p := &mp.Process{Target: targets.SleepNoCtx, Args: []any{time.Duration(i%3) * 50 * time.Millisecond}, KillDelay: 100 * time.Millisecond}
		if i%2 == 0 {
			p.Target, p.Args = targets.Sleep, []any{time.Duration(i%4) * 50 * time.Millisecond}
		}
		start(t, p)
		for g := 0; g < 6; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				switch g {
				case 0:
					_ = p.JoinTimeout(60 * time.Second)
				case 1:
					if i%3 == 0 {
						_ = p.Terminate()
					}
					_ = p.JoinTimeout(60 * time.Second)
				case 2:
					if i%4 == 1 {
						_ = p.Kill()
					}
				case 3:
					for k := 0; k < 20; k++ {
						_ = p.IsAlive()
						_, _ = p.ExitCode()
						_ = p.String()
						_ = p.Info()
						_ = p.Pid()
						_ = mp.ActiveChildren()
						time.Sleep(time.Millisecond)
					}
				case 4:
					<-p.Sentinel()
					_, _ = p.Result()
				case 5:
					_ = p.JoinTimeout(time.Millisecond)
					_ = p.Close() // ErrRunning or nil
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.JoinTimeout(60 * time.Second); errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("child %d did not end", i)
				return
			}
			if p.IsAlive() {
				t.Errorf("child %d alive after Join", i)
			}
			if _, ok := p.ExitCode(); !ok {
				t.Errorf("child %d has no exit code after Join", i)
			}
		}()
	}
	wg.Wait()
}

// A child that breaks its control channel (closes it, shuts it down, or
// writes garbage into it) gets its parent a *ProtocolError or an
// *ExitError in bounded time, never a hang, and never a success.
func TestGarbledControlChannel(t *testing.T) {
	for _, tc := range []struct {
		mode  string
		exit  bool   // the child exits 0 right after garbling instead of sleeping an hour
		want  string // "protocol" or "exit"
		inErr string // text of the error
	}{
		{"too-large", false, "protocol", "frame too large"},
		{"short", false, "protocol", "shorter than its header"},
		{"junk-kind", false, "protocol", "unexpected kind(88) frame"},
		{"bad-result", false, "protocol", "bad value form 7"},
		{"too-large", true, "protocol", "frame too large"},
		{"junk-kind", true, "protocol", "unexpected kind(88) frame"},
		{"shutdown", false, "exit", "exited with code 1"},
		{"truncated", true, "", ""},
		{"close", false, "", ""},
	} {
		t.Run(fmt.Sprintf("%s exit=%v", tc.mode, tc.exit), func(t *testing.T) {
			var stderr targets.SyncBuffer
			p := start(t, &mp.Process{Target: targets.Garble, Args: []any{tc.mode, time.Hour, tc.exit}, Stderr: &stderr})
			err := join(t, p) // fails the test after 30 s
			var pe *mp.ProtocolError
			var ee *mp.ExitError
			switch {
			case err == nil:
				t.Fatalf("Join = nil after the child garbled its channel (stderr %q)", stderr.String())
			case tc.want == "protocol" && !errors.As(err, &pe):
				t.Fatalf("Join = %T %v, want *ProtocolError", err, err)
			case tc.want == "exit" && !errors.As(err, &ee):
				t.Fatalf("Join = %T %v, want *ExitError", err, err)
			case !errors.As(err, &pe) && !errors.As(err, &ee):
				t.Fatalf("Join = %T %v, want *ProtocolError or *ExitError", err, err)
			}
			if !strings.Contains(err.Error(), tc.inErr) {
				t.Fatalf("Join = %v, want it to say %q", err, tc.inErr)
			}
			if p.IsAlive() {
				t.Fatal("the child is still alive after Join")
			}
		})
	}
}
