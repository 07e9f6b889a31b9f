//go:build unix || windows

package mp_test

// Labelled output: every line a child writes says who wrote it, and lines
// stay whole under a flood from several children into one writer.

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	"github.com/mpgen/mpgen/internal/targets/observe"
	mp "github.com/mpgen/mpgen/runtime"
)

// exclusiveWriter is a writer shared by many children's copiers that
// fails the test if two Writes ever overlap, and keeps every line.
type exclusiveWriter struct {
	busy    atomic.Bool
	overlap atomic.Bool
	mu      sync.Mutex
	buf     strings.Builder
}

func (w *exclusiveWriter) Write(p []byte) (int, error) {
	if !w.busy.CompareAndSwap(false, true) {
		w.overlap.Store(true)
	}
	defer w.busy.Store(false)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *exclusiveWriter) lines() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Split(strings.TrimSuffix(w.buf.String(), "\n"), "\n")
}

var labelRE = regexp.MustCompile(`^([A-Za-z]+-\d+)\[(\d+)\] ([|+]) (.*)$`)

// Four children flood one writer with long lines on stdout and stderr at
// once, some written in pieces and the last without a newline; a fifth
// writes one line of 200 000 bytes. Every line arrives whole with its
// writer's name and pid; the long line arrives as 64 KiB pieces marked
// as continuations.
func TestPrefixFlood(t *testing.T) {
	const n, size = 300, 3000
	var w exclusiveWriter
	procs := map[string]*mp.Process{}
	for i := range 4 {
		tag := fmt.Sprintf("tag%d", i)
		procs[tag] = &mp.Process{Target: observe.Flood, Args: []any{tag, n, size}, Stdout: &w, Stderr: &w, Prefix: mp.PrefixLines}
	}
	long := &mp.Process{Target: observe.LongLine, Args: []any{200000}, Stdout: &w, Stderr: &w, Prefix: mp.PrefixLines}
	for _, p := range procs {
		start(t, p)
	}
	start(t, long)
	for _, p := range procs {
		if err := join(t, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := join(t, long); err != nil {
		t.Fatal(err)
	}
	if w.overlap.Load() {
		t.Error("two Writes to the shared writer overlapped")
	}
	seen := map[string]int{}
	var pieces []string
	for _, line := range w.lines() {
		m := labelRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("a line without a label: %.100q", line)
		}
		name, pid, mark, text := m[1], m[2], m[3], m[4]
		if name == long.Name {
			if pid != strconv.Itoa(long.Pid()) {
				t.Fatalf("line of %s labelled pid %s, want %d", name, pid, long.Pid())
			}
			pieces = append(pieces, mark+strconv.Itoa(len(text)))
			if strings.Trim(text, "y") != "" {
				t.Fatalf("a piece of the long line holds other bytes: %.100q", text)
			}
			continue
		}
		tag, _, _ := strings.Cut(text, " ")
		p := procs[tag]
		if p == nil || name != p.Name || pid != strconv.Itoa(p.Pid()) || mark != "|" {
			t.Fatalf("line %.60q... is labelled %s[%s] %s; want the writer of %s with |", text, name, pid, mark, tag)
		}
		if len(text) != size {
			t.Fatalf("a line of %s is %d bytes, want %d: split or merged", tag, len(text), size)
		}
		seen[tag]++
	}
	for tag := range procs {
		if seen[tag] != n {
			t.Errorf("%s: %d lines arrived, want %d", tag, seen[tag], n)
		}
	}
	if want := []string{"|65536", "+65536", "+65536", "+3392"}; strings.Join(pieces, ",") != strings.Join(want, ",") {
		t.Errorf("the long line arrived as %v, want %v", pieces, want)
	}
}

// PrefixLinesKeepJSON labels plain lines and passes JSON lines untouched;
// MPGEN_PREFIX turns labelling on without a change to the code; a pool
// labels its workers' lines with their names.
func TestPrefixModes(t *testing.T) {
	t.Run("keep JSON", func(t *testing.T) {
		var out targets.SyncBuffer
		p := start(t, &mp.Process{Target: targets.Print, Args: []any{"{\"a\":1}\nplain\n", "{\"err\":2}\n"}, Stdout: &out, Stderr: &out, Prefix: mp.PrefixLinesKeepJSON})
		if err := join(t, p); err != nil {
			t.Fatal(err)
		}
		got := strings.Split(strings.TrimSpace(out.String()), "\n")
		label := fmt.Sprintf("%s[%d] | ", p.Name, p.Pid())
		want := []string{`{"a":1}`, label + "plain", `{"err":2}`}
		if len(got) != 3 || !hasLines(got, want) {
			t.Errorf("output %q, want the lines %q in some order", got, want)
		}
	})
	t.Run("MPGEN_PREFIX", func(t *testing.T) {
		t.Setenv("MPGEN_PREFIX", "1")
		var out targets.SyncBuffer
		p := start(t, &mp.Process{Target: targets.Print, Args: []any{"x\n", ""}, Stdout: &out})
		if err := join(t, p); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("%s[%d] | x\n", p.Name, p.Pid()); out.String() != want {
			t.Errorf("output %q, want %q", out.String(), want)
		}
		var plain targets.SyncBuffer
		p = start(t, &mp.Process{Target: targets.Print, Args: []any{"x\n", ""}, Stdout: &plain, Prefix: mp.PrefixOff})
		if err := join(t, p); err != nil {
			t.Fatal(err)
		}
		if plain.String() != "x\n" {
			t.Errorf("PrefixOff with MPGEN_PREFIX=1: output %q, want \"x\\n\"", plain.String())
		}
	})
	t.Run("pool", func(t *testing.T) {
		var out targets.SyncBuffer
		p := newPool(t, mp.Workers(1), mp.PoolOutput(&out, &out), mp.PoolOutputPrefix(mp.PrefixLines))
		if _, err := getBounded(t, p.ApplyAsync(testCtx(t), targets.Print, []any{"from a worker\n", ""}, nil), 30*time.Second); err != nil {
			t.Fatal(err)
		}
		p.Close()
		if err := p.Join(); err != nil {
			t.Fatal(err)
		}
		m := labelRE.FindStringSubmatch(strings.TrimSpace(out.String()))
		if m == nil || !strings.HasPrefix(m[1], "PoolWorker-") || m[4] != "from a worker" {
			t.Errorf("output %q, want \"PoolWorker-N[pid] | from a worker\"", out.String())
		}
	})
}

func hasLines(got, want []string) bool {
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			return false
		}
	}
	return true
}
