//go:build unix || windows

package mp_test

// The hooks of hooks.go in real children: a Propagator carries each call's
// value into its target's context, in a child, a reused pool worker and
// every item of a Map; AtChildExit functions run when a child ends.

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	"github.com/mpgen/mpgen/internal/tempdir"
	mp "github.com/mpgen/mpgen/runtime"
)

// carriedPropagator carries the value under targets.CarriedKey, if any.
type carriedPropagator struct{}

func (carriedPropagator) Inject(ctx context.Context) map[string]string {
	if v, ok := ctx.Value(targets.CarriedKey{}).(string); ok {
		return map[string]string{"carried": v}
	}
	return nil
}

func (carriedPropagator) Extract(ctx context.Context, carrier map[string]string) context.Context {
	return context.WithValue(ctx, targets.CarriedKey{}, carrier["carried"])
}

// exitDirEnv names a directory where each child of this test binary, as it
// ends, writes a file named by its pid holding what its AtChildExit
// functions wrote, in order.
const exitDirEnv = "MPGEN_TEST_EXIT_DIR"

// In an init function, as a program would: a child runs inits, not main
// (nor, here, TestMain past its guard).
func init() {
	mp.SetPropagator(carriedPropagator{})
	for _, s := range []string{"first", "second"} {
		mp.AtChildExit(func(context.Context) {
			dir := os.Getenv(exitDirEnv)
			if dir == "" {
				return
			}
			f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(os.Getpid())), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
			if err == nil {
				f.WriteString(s + "\n")
				f.Close()
			}
		})
	}
}

func carrying(ctx context.Context, v string) context.Context {
	return context.WithValue(ctx, targets.CarriedKey{}, v)
}

func TestPropagatorCarriesEachCallsContext(t *testing.T) {
	ctx := testCtx(t)

	p := &mp.Process{Target: targets.Carried}
	if err := p.StartContext(carrying(ctx, "process")); err != nil {
		t.Fatal(err)
	}
	join(t, p)
	if res, err := p.Result(); err != nil || res.(targets.Carry).Value != "process" {
		t.Errorf("Process: %+v, %v; want the value process", res, err)
	}
	f, err := mp.Spawn[targets.Carry](carrying(ctx, "spawn"), targets.Carried)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := f.Get(); err != nil || c.Value != "spawn" {
		t.Errorf("Spawn: %+v, %v; want the value spawn", c, err)
	}

	// One worker runs every call: each gets its own call's value, and a
	// call whose context has none gets none from the call before.
	pool := newPool(t, mp.Workers(1))
	var pids []int
	for _, v := range []string{"a", "", "b"} {
		cctx := ctx
		if v != "" {
			cctx = carrying(ctx, v)
		}
		c, err := mp.Submit[targets.Carry](cctx, pool, targets.Carried).Get()
		if err != nil || c.Value != v {
			t.Errorf("Submit with %q: %+v, %v", v, c, err)
		}
		pids = append(pids, c.Pid)
	}
	res, err := pool.Apply(carrying(ctx, "apply"), targets.Carried, nil, nil)
	if err != nil || res.(targets.Carry).Value != "apply" {
		t.Errorf("Apply: %+v, %v", res, err)
	}
	pids = append(pids, res.(targets.Carry).Pid)
	if len(slices.Compact(slices.Clone(pids))) != 1 {
		t.Fatalf("the calls ran in workers %v, want one", pids)
	}

	got, err := mp.Map[int, string](carrying(ctx, "m"), pool, targets.CarriedItem, []int{1, 2, 3}, mp.Chunksize(2))
	if want := []string{"1=m", "2=m", "3=m"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("Map: %q, %v; want %q", got, err, want)
	}
	got, err = mp.Starmap[string](carrying(ctx, "s"), pool, targets.CarriedItem, [][]any{{1}, {2}})
	if want := []string{"1=s", "2=s"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("Starmap: %q, %v; want %q", got, err, want)
	}
	got, err = mp.Map[int, string](ctx, pool, targets.CarriedItem, []int{4})
	if want := []string{"4="}; err != nil || !slices.Equal(got, want) {
		t.Errorf("Map without a value: %q, %v; want %q", got, err, want)
	}
}

// exitRecord waits up to 30 s for the file the AtChildExit functions of
// the child pid write and returns it.
func exitRecord(t *testing.T, dir string, pid int) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(dir, strconv.Itoa(pid)))
		if err == nil {
			return string(b)
		}
		if !errors.Is(err, os.ErrNotExist) || time.Now().After(deadline) {
			t.Fatalf("no record of the exit of child %d: %v", pid, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAtChildExit(t *testing.T) {
	dir := tempDir(t)
	t.Setenv(exitDirEnv, dir)
	const ran = "second\nfirst\n" // the last registered first, each once
	ctx := testCtx(t)

	// A Process's child: it has ended by the time Join returns.
	p := &mp.Process{Target: targets.Carried}
	if err := p.StartContext(ctx); err != nil {
		t.Fatal(err)
	}
	join(t, p)
	if b, err := os.ReadFile(filepath.Join(dir, strconv.Itoa(p.Pid()))); err != nil || string(b) != ran {
		t.Errorf("after Join, the child's exit functions wrote %q, %v; want %q", b, err, ran)
	}

	// A worker recycled after one call runs them before it goes, while the
	// pool lives on; the others when the pool closes.
	pool, err := mp.NewPool(ctx, mp.Workers(1), mp.MaxTasksPerChild(1))
	if err != nil {
		t.Fatal(err)
	}
	first, err := mp.Submit[targets.Carry](ctx, pool, targets.Carried).Get()
	if err != nil {
		t.Fatal(err)
	}
	if got := exitRecord(t, dir, first.Pid); got != ran {
		t.Errorf("the recycled worker's exit functions wrote %q; want %q", got, ran)
	}
	second, err := mp.Submit[targets.Carry](ctx, pool, targets.Carried).Get()
	if err != nil || second.Pid == first.Pid {
		t.Fatalf("second call: %+v, %v (the first ran in %d)", second, err, first.Pid)
	}
	pool.Close()
	if err := pool.JoinTimeout(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pool.Pids() {
		t.Errorf("worker %d still listed after Join", pid)
	}
	if b, err := os.ReadFile(filepath.Join(dir, strconv.Itoa(second.Pid))); err != nil || string(b) != ran {
		t.Errorf("after Join, the last worker's exit functions wrote %q, %v; want %q", b, err, ran)
	}
}

// A child that Terminate stops runs the AtChildExit functions once its
// target has returned, before it dies of the signal.
func TestAtChildExitTerminated(t *testing.T) {
	skipOnWindows(t, "readyPipe sets a read deadline, which a Windows os.Pipe does not support")
	dir := tempDir(t)
	t.Setenv(exitDirEnv, dir)
	out, ready := readyPipe(t)
	p := start(t, &mp.Process{Target: targets.Announce, Args: []any{"ready", time.Hour}, Stdout: out})
	ready(1, 30*time.Second)
	if err := p.Terminate(); err != nil {
		t.Fatal(err)
	}
	join(t, p)
	if b, err := os.ReadFile(filepath.Join(dir, strconv.Itoa(p.Pid()))); err != nil || string(b) != "second\nfirst\n" {
		t.Errorf("after Terminate, the child's exit functions wrote %q, %v; want second, first", b, err)
	}
}

// A process that has a child's marker but no parent's handshake runs
// nothing, its exit functions included.
func TestAtChildExitNotWithoutHandshake(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := tempdir.New(t)
	for _, marker := range []string{"bogus", "fd=3"} {
		cmd := exec.Command(exe, "-test.run", "^$")
		cmd.Env = append(os.Environ(), "MPGEN_CHILD="+marker, exitDirEnv+"="+dir)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
			t.Fatalf("MPGEN_CHILD=%s: %v, want exit code 2; output %s", marker, err, out)
		}
	}
	if files, _ := os.ReadDir(dir); len(files) != 0 {
		t.Fatalf("the exit functions ran in a process without a handshake: %v", files)
	}
}
