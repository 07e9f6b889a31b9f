//go:build unix || windows

package mp_test

// Observing children: the attributes of a child's default slog logger,
// and the profiles MPGEN_PROFILE asks for.

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	"github.com/mpgen/mpgen/internal/targets/observe"
	"github.com/mpgen/mpgen/internal/tempdir"
	mp "github.com/mpgen/mpgen/runtime"
)

// In a child running observe.Log, an init function of the program sets a
// JSON default logger, as a user's program may: the attributes mpgen adds
// must go into it, not replace it.
func init() {
	if len(os.Args) > 1 && os.Args[1] == "mp:github.com/mpgen/mpgen/internal/targets/observe.Log" {
		slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, nil)))
	}
}

// A child's default slog logger carries mp.process, mp.pid and mp.target,
// and keeps the handler the program set in an init function; a pool
// worker's carries mp.process and mp.pid, on the standard default handler.
func TestChildSlogAttributes(t *testing.T) {
	var stderr targets.SyncBuffer
	p := start(t, &mp.Process{Target: observe.Log, Args: []any{"hello from a child"}, Stderr: &stderr})
	if err := join(t, p); err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(stderr.String())), &rec); err != nil {
		t.Fatalf("the child's log is not one JSON record (%v):\n%s", err, stderr.String())
	}
	want := map[string]any{
		"msg": "hello from a child", "k": "v", "level": "INFO",
		"mp.process": p.Name, "mp.pid": float64(p.Pid()),
		"mp.target": "github.com/mpgen/mpgen/internal/targets/observe.Log",
	}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("%s = %v, want %v (record %v)", k, rec[k], v, rec)
		}
	}

	var werr targets.SyncBuffer
	pool := newPool(t, mp.Workers(1), mp.PoolOutput(nil, &werr))
	if _, err := getBounded(t, pool.ApplyAsync(testCtx(t), observe.Log, []any{"hello from a worker"}, nil), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	pids := pool.Pids()
	pool.Close()
	if err := pool.Join(); err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(werr.String())
	if len(pids) != 1 || !strings.Contains(line, "INFO hello from a worker mp.process=PoolWorker-") ||
		!strings.HasSuffix(line, fmt.Sprintf(" mp.pid=%d k=v", pids[0])) {
		t.Errorf("the worker's log line is %q, want the message with mp.process=PoolWorker-N mp.pid=%v", line, pids)
	}
}

// MPGEN_PROFILE=dir makes each child, a pool worker that retires too,
// write a CPU and a heap profile named by its name and pid, in pprof's
// gzipped protobuf format; go tool pprof reads and merges them, and the
// CPU profiles show the target's work.
func TestChildProfiles(t *testing.T) {
	dir := tempdir.New(t)
	t.Setenv("MPGEN_PROFILE", dir)
	p := start(t, &mp.Process{Target: observe.Burn, Args: []any{300 * time.Millisecond}})
	if err := join(t, p); err != nil {
		t.Fatal(err)
	}
	pool := newPool(t, mp.Workers(1))
	if _, err := getBounded(t, pool.ApplyAsync(testCtx(t), observe.Burn, []any{300 * time.Millisecond}, nil), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	wpid := pool.Pids()[0]
	pool.Close()
	if err := pool.Join(); err != nil {
		t.Fatal(err)
	}
	var cpus []string
	for _, name := range []string{
		fmt.Sprintf("cpu-%s-%d.pprof", p.Name, p.Pid()), fmt.Sprintf("heap-%s-%d.pprof", p.Name, p.Pid()),
		fmt.Sprintf("cpu-PoolWorker-*-%d.pprof", wpid), fmt.Sprintf("heap-PoolWorker-*-%d.pprof", wpid),
	} {
		m, _ := filepath.Glob(filepath.Join(dir, name))
		if len(m) != 1 {
			ls, _ := filepath.Glob(filepath.Join(dir, "*"))
			t.Fatalf("no profile %s; the directory holds %q", name, ls)
		}
		if strings.HasPrefix(name, "cpu-") {
			checkProfile(t, m[0], "nanoseconds")
			cpus = append(cpus, m[0])
		} else {
			checkProfile(t, m[0], "inuse_space")
		}
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to run go tool pprof on the profiles")
	}
	out, err := exec.Command(gobin, append([]string{"tool", "pprof", "-top"}, cpus...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool pprof -top (merging both CPU profiles): %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("observe.Burn")) {
		t.Errorf("the merged CPU profiles do not show observe.Burn:\n%s", out)
	}
}

// checkProfile checks that the file is a profile as runtime/pprof writes
// one: gzipped, a protocol buffer whose first key is a field of the
// Profile message (1 to 14) of a varint or length-delimited type, and whose
// string table names the kind of profile: "nanoseconds" of CPU time, or
// the heap's "inuse_space".
func checkProfile(t *testing.T, path string, want string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s is not gzipped: %v", path, err)
	}
	body, err := io.ReadAll(zr)
	if err != nil || len(body) < 16 || body[0]>>3 < 1 || body[0]>>3 > 14 || (body[0]&7 != 0 && body[0]&7 != 2) || !bytes.Contains(body, []byte(want)) {
		t.Fatalf("%s does not hold a pprof profile with %q (%d bytes, %v)", path, want, len(body), err)
	}
}
