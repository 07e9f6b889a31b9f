//go:build unix

package mp_test

// Helpers shared by the external tests of package mp: each is used by more
// than one test file (a helper used by one file stays in it). Most of the
// tests that use them run on Linux only; the file builds on every Unix for
// process_test.go, which uses start, join and exitCode.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

// start starts p and registers a cleanup that kills and reaps it.
func start(t *testing.T, p *mp.Process) *mp.Process {
	t.Helper()
	if err := p.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		_ = p.Kill()
		_ = p.Join()
	})
	return p
}

func join(t *testing.T, p *mp.Process) error {
	t.Helper()
	err := p.JoinTimeout(30 * time.Second)
	if _, ended := p.ExitCode(); !ended { // err may be the child's own timeout
		t.Fatalf("child did not end within 30 s")
	}
	return err
}

func exitCode(t *testing.T, p *mp.Process) int {
	t.Helper()
	code, ok := p.ExitCode()
	if !ok {
		t.Fatalf("ExitCode: not ended")
	}
	return code
}

// joinCode joins p and returns its exit code (-N for signal N).
func joinCode(t *testing.T, p *mp.Process) int {
	t.Helper()
	join(t, p)
	return exitCode(t, p)
}

func kill9(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newPool(t *testing.T, opts ...mp.PoolOption) *mp.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := mp.NewPool(ctx, opts...)
	if err != nil {
		t.Fatalf("NewPool: %v", err)
	}
	t.Cleanup(func() {
		p.Terminate()
		if err := p.Join(); err != nil {
			t.Errorf("Join: %v", err)
		}
	})
	return p
}

// endPool terminates and joins p within a bound.
func endPool(t *testing.T, p *mp.Pool) {
	t.Helper()
	p.Terminate()
	if err := p.JoinTimeout(30 * time.Second); err != nil {
		t.Fatalf("Pool.Join within 30 s of Terminate: %v", err)
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

// warmPool runs a pool once, so that whatever the first use of the pool
// code sets up for good is in place before a snapshot.
func warmPool(t *testing.T) {
	t.Helper()
	p := newPool(t, mp.Workers(1))
	stillServes(t, testCtx(t), p)
	endPool(t, p)
}

// stillServes fails the test unless the pool runs calls correctly.
func stillServes(t *testing.T, ctx context.Context, p *mp.Pool) {
	t.Helper()
	items := []int{1, 2, 3, 4, 5, 6, 7, 8}
	got, err := mp.Map[int, int](ctx, p, targets.Identity, items, mp.Chunksize(1))
	if err != nil || !slices.Equal(got, items) {
		t.Fatalf("Map on the pool after the fault: %v, %v", got, err)
	}
}

// getBounded waits for f within d and fails the test if it does not end.
func getBounded[R any](t *testing.T, f *mp.Future[R], d time.Duration) (R, error) {
	t.Helper()
	select {
	case <-f.Done():
	case <-time.After(d):
		t.Fatalf("call still pending after %v", d)
	}
	return f.Get()
}

// newQueue makes a queue that is closed when the test ends.
func newQueue[T any](t *testing.T, maxsize int) *mp.Queue[T] {
	t.Helper()
	q, err := mp.NewQueue[T](maxsize)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

func closeLater(t *testing.T, c interface{ Close() error }) {
	t.Cleanup(func() { c.Close() })
}

// made fails the test (given to the function it returns) on err, and
// closes c when that test ends: l := made(mp.NewLock())(t).
func made[C interface{ Close() error }](c C, err error) func(*testing.T) C {
	return func(t *testing.T) C {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
}

// waitSet waits (at most 20 s) until a target sets e.
func waitSet(t *testing.T, e *mp.Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.WaitContext(ctx); err != nil {
		t.Fatalf("the target did not set the event: %v", err)
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

// goroutineStacks returns the stack of every goroutine by its id.
func goroutineStacks() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		// "goroutine 123 [state]:\n..."
		if f := strings.Fields(g); len(f) > 1 && f[0] == "goroutine" {
			out[f[1]] = g
		}
	}
	return out
}

// goroutineIDs returns the ids of the goroutines that exist now.
func goroutineIDs() map[string]bool {
	ids := map[string]bool{}
	for id := range goroutineStacks() {
		ids[id] = true
	}
	return ids
}

// newGoroutines returns the stacks of goroutines not in before, leaving
// out the calling one.
func newGoroutines(before map[string]bool) []string {
	var out []string
	for id, stack := range goroutineStacks() {
		if !before[id] && !strings.Contains(stack, "newGoroutines") {
			out = append(out, stack)
		}
	}
	slices.Sort(out)
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

// runScenario runs a scenario target (internal/targets/parents.go) in a
// child of its own and relays its report, failing the test unless the
// child passes within a bound. start, if not nil, starts p instead of
// Start.
func runScenario(t *testing.T, p *mp.Process, start func(*mp.Process) error) {
	t.Helper()
	if start == nil {
		start = (*mp.Process).Start
	}
	if err := start(p); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = p.Kill(); _ = p.Join() })
	err := p.JoinTimeout(3 * time.Minute)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("the scenario did not end within 3 minutes")
	}
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Result()
	if err != nil {
		t.Fatal(err)
	}
	rep := res.(targets.Report)
	for _, line := range rep.Log {
		t.Log("child: " + line)
	}
	for _, e := range rep.Errors {
		t.Error(e)
	}
}

// putInts puts the integers from lo to hi in q and returns their sum. A
// failed test gets what is left before q is closed, which would wait for
// room for ever.
func putInts(t *testing.T, q *mp.Queue[int], lo, hi int) int {
	t.Helper()
	t.Cleanup(func() {
		for t.Failed() {
			if _, err := q.GetTimeout(time.Second); err != nil {
				return
			}
		}
	})
	sum := 0
	for i := lo; i < hi; i++ {
		if err := q.Put(i); err != nil {
			t.Fatal(err)
		}
		sum += i
	}
	return sum
}

// fillUp puts the integers from lo to hi in q through a second handle of
// it, which tries the socket at once where q's own puts wait behind its
// backlog, and checks that some still wait: q's socket is full to the
// brim, and stays full until the test gets. (q's own feeder would leave a
// hole: once the socket is full it waits until it is three quarters
// empty.) It returns their sum.
func fillUp(t *testing.T, q *mp.Queue[int], lo, hi int) int {
	t.Helper()
	a, b, err := mp.Pipe[*mp.Queue[int]](false)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	if err := b.Send(q); err != nil {
		t.Fatal(err)
	}
	q2, err := a.RecvTimeout(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q2.Close() }) // once q is drained
	sum := putInts(t, q2, lo, hi)
	if err := q2.FlushTimeout(10 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush = %v: the queue's socket took every value", err)
	}
	return sum
}

// getInts gets n integers from q, checks that no more wait, and returns
// their sum.
func getInts(t *testing.T, q *mp.Queue[int], n int) int {
	t.Helper()
	sum := 0
	for i := range n {
		v, err := q.GetTimeout(10 * time.Second)
		if err != nil {
			t.Fatalf("after %d values: %v", i, err)
		}
		sum += v
	}
	if v, err := q.TryGet(); !errors.Is(err, mp.ErrQueueEmpty) {
		t.Fatalf("a value too many: %v, %v", v, err)
	}
	return sum
}
