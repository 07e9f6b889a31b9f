//go:build linux && !mpgen_portable

package mp_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	"github.com/mpgen/mpgen/internal/targets/observe"
	mp "github.com/mpgen/mpgen/runtime"
)

// memoryCgroup makes a cgroup v1 memory cgroup of limit bytes, without
// swap, for the test, removed at its end; it skips the test where it
// cannot (not root, no cgroup v1 memory controller at
// /sys/fs/cgroup/memory). It returns the cgroup's directory and name.
func memoryCgroup(t *testing.T, limit int64) (dir, name string) {
	t.Helper()
	const root = "/sys/fs/cgroup/memory"
	if os.Geteuid() != 0 {
		t.Skip("an OOM kill is provoked in a memory cgroup of the test's own, which takes root")
	}
	if _, err := os.Stat(filepath.Join(root, "memory.limit_in_bytes")); err != nil {
		t.Skipf("no cgroup v1 memory controller at %s (%v): cannot confine the OOM kill", root, err)
	}
	name = "mpgen-oom-test-" + strconv.Itoa(os.Getpid())
	dir = filepath.Join(root, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot make a memory cgroup: %v", err)
	}
	t.Cleanup(func() {
		if err := os.Remove(dir); err != nil {
			t.Errorf("remove the test's cgroup: %v", err)
		}
	})
	write := func(file, v string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, file), []byte(v), 0o644); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	write("memory.limit_in_bytes", strconv.FormatInt(limit, 10))
	if _, err := os.Stat(filepath.Join(dir, "memory.memsw.limit_in_bytes")); err == nil {
		write("memory.memsw.limit_in_bytes", strconv.FormatInt(limit, 10)) // no swapping out of it
	}
	return dir, name
}

// The kernel's OOM killer, provoked by a memory cgroup's limit that the
// child exceeds, is told apart from any other SIGKILL: CauseOOMKill, with
// the child's peak memory and its stderr tail in the error.
func TestExitCauseOOMKill(t *testing.T) {
	const limit = 96 << 20
	dir, name := memoryCgroup(t, limit)
	var stderr targets.SyncBuffer
	p := start(t, &mp.Process{Target: observe.Hog, Args: []any{4096, name}, Stderr: &stderr})
	// Hog waits until it is in the cgroup before it allocates.
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(p.Pid())), 0o644); err != nil {
		t.Fatalf("move the child into the cgroup: %v", err)
	}
	err := join(t, p)
	var ee *mp.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("Join = %T %v, want an *ExitError (OOM kill)", err, err)
	}
	if ee.Cause != mp.CauseOOMKill || ee.Signal != "SIGKILL" {
		oc, _ := os.ReadFile(filepath.Join(dir, "memory.oom_control"))
		t.Fatalf("Cause %v, Signal %q: %v; want an OOM kill by SIGKILL (the cgroup's memory.oom_control:\n%s)", ee.Cause, ee.Signal, ee, oc)
	}
	if ee.MaxRSS < limit/2 || ee.MaxRSS > 2*limit {
		t.Errorf("MaxRSS = %d MiB, want near the limit of %d MiB", ee.MaxRSS>>20, limit>>20)
	}
	if ee.Stderr != "hogging" {
		t.Errorf("Stderr = %q, want \"hogging\"", ee.Stderr)
	}
	t.Logf("%v", ee)
}

// A grandchild that holds the child's stderr (a file here) keeps Join
// waiting no longer than a moment, and what it writes later still reaches
// the file, as when the child had the file itself.
func TestGrandchildHoldsStderr(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := &mp.Process{Target: targets.StartOrphan, Args: []any{"echo early >&2; sleep 1; echo late >&2"}, Stderr: f}
	start := time.Now()
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	if err := p.Join(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 900*time.Millisecond {
		t.Errorf("Start and Join took %v: Join waited for the grandchild that holds stderr", took)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(f.Name())
		if strings.Contains(string(b), "early\nlate\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the grandchild's output in the file: %q; want early and late", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
