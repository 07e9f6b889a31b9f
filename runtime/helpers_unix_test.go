//go:build unix

package mp_test

// The helpers of helpers_test.go that send signals or read /proc: the
// tests that use them build on Linux (process_test.go, on every Unix, uses
// stop).

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

// killCode and killSignal are how a child ended by Process.Kill reports.
const killCode, killSignal = -9, "SIGKILL"

// outsideKillCode and outsideKillSignal are how a child ended by kill9
// reports.
const outsideKillCode, outsideKillSignal = -9, "SIGKILL"

// underWine reports false: Wine runs Windows programs.
func underWine() bool { return false }

// kill9 sends SIGKILL to pid.
func kill9(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
}

// stop sends SIGSTOP to pid.
func stop(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
}

// signalBusyWorker sends sig to the one worker of a pool while it runs a
// call with another queued behind it: the running call's context is
// cancelled and the call reports it; the call queued behind never ran and
// goes to the replacement worker.
func signalBusyWorker(t *testing.T, sig syscall.Signal) {
	t.Helper()
	ctx := testCtx(t)
	out, ready := readyPipe(t)
	p := newPool(t, mp.Workers(1), mp.PoolOutput(out, nil))
	f := p.ApplyAsync(ctx, targets.Announce, []any{"ready", time.Hour}, nil)
	queued := p.ApplyAsync(ctx, targets.Echo, []any{"queued behind"}, nil)
	ready(1, 30*time.Second)
	if err := syscall.Kill(p.Pids()[0], sig); err != nil {
		t.Fatal(err)
	}
	if _, err := getBounded(t, f, 30*time.Second); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("the running call: %v, want its cancelled context", err)
	}
	if v, err := getBounded(t, queued, 30*time.Second); err != nil || v != "queued behind" {
		t.Fatalf("the call queued behind, which never ran: %v, %v; want it run by the replacement worker", v, err)
	}
}

// openFDs lists this process's open descriptors and what they point to.
func openFDs(t *testing.T) map[int]string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]string{}
	for _, e := range ents {
		n, _ := strconv.Atoi(e.Name())
		if link, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil {
			out[n] = link
		}
	}
	return out
}

// noNewFDs fails the test if it ends with descriptors open that it did not
// start with.
func noNewFDs(t *testing.T) {
	t.Helper()
	before := openFDs(t)
	t.Cleanup(func() {
		var extra []string
		ok := targets.Eventually(2*time.Second, func() bool {
			extra = extra[:0]
			for fd, link := range openFDs(t) {
				if _, had := before[fd]; !had {
					extra = append(extra, link)
				}
			}
			return len(extra) <= 1 // the /proc/self/fd directory being read
		})
		if !ok {
			t.Errorf("descriptors left open: %v", extra)
		}
	})
}

// procInfo is what /proc/<pid>/stat says about a process.
type procInfo struct {
	state byte   // R, S, D, Z, T, ...
	ppid  int    // parent pid
	start uint64 // start time in clock ticks since boot: tells a pid's reuse
}

// procStat reads /proc/<pid>/stat; ok is false when no such process exists.
func procStat(pid int) (procInfo, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procInfo{}, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces and parentheses
	if i < 0 || i+2 >= len(s) {
		return procInfo{}, false
	}
	f := strings.Fields(s[i+2:]) // f[0] is field 3 (state)
	if len(f) < 20 {
		return procInfo{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	start, _ := strconv.ParseUint(f[19], 10, 64) // field 22
	return procInfo{state: f[0][0], ppid: ppid, start: start}, true
}

// childrenOf lists the processes whose parent is pid, with their state.
func childrenOf(pid int) map[int]byte {
	out := map[int]byte{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pi, ok := procStat(n); ok && pi.ppid == pid {
			out[n] = pi.state
		}
	}
	return out
}

// leakSnapshot is what the parent holds at one moment: its descriptors,
// goroutines and child processes.
type leakSnapshot struct {
	fds        map[int]string
	goroutines map[string]bool
	kids       map[int]byte
}

// check waits up to settle for the parent to be back to the snapshot (the
// goroutines of an ended child may take a moment to wind down), then fails
// the test for anything left over, and returns what it found.
func (s *leakSnapshot) check(t *testing.T, settle time.Duration) leaks {
	t.Helper()
	var l leaks
	targets.Eventually(settle, func() bool {
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
