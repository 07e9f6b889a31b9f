//go:build unix || windows

package mp_test

// Helpers shared by the external tests of package mp: each is used by more
// than one test file (a helper used by one file stays in it). The ones here
// build on Unix and Windows; those that send signals or read /proc are in
// helpers_unix_test.go, and helpers_windows_test.go has their Windows
// counterparts (or stubs that fail a test that should not call them).
//
// The tests that run on Windows are those of the files built there
// (process_test.go, reliability_windows_test.go and the files tagged
// linux || windows); a test of those files that cannot run there calls
// skipOnWindows, so that `grep -n skipOnWindows *_test.go` lists them all.
// A failure that is Wine's and not Windows' would skip when underWine
// reports true, saying so; none does yet.
//
// The files of tests that read /proc or send signals build on Linux only;
// those of Pipe, Queue, shared memory and the primitives built on it (the
// locks, Value, Array) build on Windows too.

import (
	"bufio"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

// skipOnWindows skips t on Windows, saying why.
func skipOnWindows(t *testing.T, why string) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("not on Windows: " + why)
	}
}

// tempDir is t.TempDir, except under Wine, where os.RemoveAll fails
// ("unlinkat ...: Invalid function") and with it t.TempDir's cleanup: there
// the directory is made with os.MkdirTemp and removed entry by entry with
// os.Remove, which Wine supports, best-effort.
func tempDir(t *testing.T) string {
	t.Helper()
	if !underWine() {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp("", "mp-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var paths []string
		_ = filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
			paths = append(paths, path)
			return nil
		})
		for _, p := range slices.Backward(paths) { // children before their directory
			_ = os.Remove(p)
		}
	})
	return dir
}

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

// readyPipe returns a pipe whose write end children get as stdout, and a
// function that reads n lines from it within d. It needs read deadlines,
// which an anonymous pipe does not have on Windows.
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
