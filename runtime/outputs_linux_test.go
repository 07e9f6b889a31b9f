package mp_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	"github.com/mpgen/mpgen/internal/targets/observe"
	mp "github.com/mpgen/mpgen/runtime"
)

// A child's stdout and stderr sent to one file (2>&1) keep the order the
// child wrote its lines in, as when the child had the file itself.
func TestStdoutStderrOneFileKeepOrder(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := &mp.Process{Target: observe.Flood, Args: []any{"t", 2000, 20}, Stdout: f, Stderr: f}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	if err := p.Join(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(f.Name())
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2000 {
		t.Fatalf("%d lines, want 2000", len(lines))
	}
	for i, l := range lines {
		var n int
		if _, err := fmt.Sscanf(l, "t %d ", &n); err != nil || n != i {
			t.Fatalf("line %d is %q: stdout and stderr were reordered", i, l)
		}
	}
}

// A labelled writer that never returns holds up only the children that
// write to it: another child's labelled lines to another writer arrive,
// and its Join does not wait.
func TestLabelledStuckWriterHoldsUpOnlyItself(t *testing.T) {
	pr, pw := io.Pipe() // nobody reads pr
	defer pr.Close()
	stuck := &mp.Process{Target: targets.Print, Args: []any{"to the stuck writer\n", ""}, Stdout: pw, Prefix: mp.PrefixLines}
	if err := stuck.Start(); err != nil {
		t.Fatal(err)
	}
	_ = stuck.Join() // gives up on its copier after OutputWait

	var good bytes.Buffer
	other := &mp.Process{Target: targets.Print, Args: []any{"hello from other\n", ""}, Stdout: &good, Prefix: mp.PrefixLines}
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if err := other.Join(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(t0); took > 2*time.Second {
		t.Errorf("the other child's Join took %v", took)
	}
	if want := fmt.Sprintf("%s[%d] | hello from other\n", other.Name, other.Pid()); good.String() != want {
		t.Errorf("the other child's output: %q, want %q", good.String(), want)
	}
}

// A program that exits right after Join, its stderr a pipe to a slow
// reader, has written all of its child's stderr: Join waited for the
// copier that was still writing.
func TestExitAfterJoinKeepsChildStderr(t *testing.T) {
	if os.Getenv("MPGEN_TEST_EXIT_AFTER_JOIN") == "1" {
		p := &mp.Process{Target: targets.Print, Args: []any{"", strings.Repeat(strings.Repeat("x", 99)+"\n", 4096) + "END\n"}}
		if err := p.Start(); err != nil {
			panic(err)
		}
		if err := p.Join(); err != nil {
			panic(err)
		}
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestExitAfterJoinKeepsChildStderr$")
	cmd.Env = append(os.Environ(), "MPGEN_TEST_EXIT_AFTER_JOIN=1")
	r, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var b []byte
	buf := make([]byte, 4096)
	for { // a slow reader: 4 KiB every 10 ms
		n, err := r.Read(buf)
		b = append(b, buf[:n]...)
		if err != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = cmd.Wait()
	if !bytes.HasSuffix(b, []byte("END\n")) {
		t.Errorf("the child's stderr was cut: %d bytes of %d reached the parent's", len(b), 4096*100+4)
	}
}
