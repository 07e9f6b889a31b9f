//go:build unix || windows

package mp_test

// Why a child died: the *ExitError of a child that ended without an
// outcome says which of exit, signal, Go fatal error, panic outside the
// target or OOM kill it was (ExitCause), and carries the tail of the
// child's stderr.

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	"github.com/mpgen/mpgen/internal/targets/observe"
	mp "github.com/mpgen/mpgen/runtime"
)

// wantCause fails the test unless err is an *ExitError of cause.
func wantCause(t *testing.T, err error, cause mp.ExitCause) *mp.ExitError {
	t.Helper()
	var ee *mp.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("err = %T %v; want an *ExitError", err, err)
	}
	if ee.Cause != cause {
		t.Fatalf("Cause = %v, want %v; err: %v\nstderr tail:\n%s", ee.Cause, cause, ee, ee.Stderr)
	}
	return ee
}

// A child that exits with a code of its own is CauseExit; its error holds
// the last 16 lines it wrote to stderr, and Error quotes the last one.
func TestExitCauseExit(t *testing.T) {
	var stderr targets.SyncBuffer
	p := start(t, &mp.Process{Target: observe.StderrThenExit, Args: []any{40, 3}, Stderr: &stderr})
	ee := wantCause(t, join(t, p), mp.CauseExit)
	if ee.Code != 3 || ee.Signal != "" {
		t.Errorf("Code, Signal = %d, %q; want 3, \"\"", ee.Code, ee.Signal)
	}
	lines := strings.Split(ee.Stderr, "\n")
	if len(lines) != 16 || lines[0] != "line 25 of 40" || lines[15] != "line 40 of 40" {
		t.Errorf("Stderr = %q; want the lines 25 to 40 of 40", ee.Stderr)
	}
	if msg := ee.Error(); !strings.Contains(msg, "line 40 of 40") || strings.Contains(msg, "line 39") {
		t.Errorf("Error() = %q; want the last stderr line alone", msg)
	}
	// The tail is a copy: the writer still got everything.
	if !strings.Contains(stderr.String(), "line 1 of 40\n") {
		t.Errorf("the child's Stderr writer lost the head of the output:\n%.500s", stderr.String())
	}
}

// The tail is bounded in bytes too: long lines leave at most 4 KiB.
func TestExitCauseTailBounded(t *testing.T) {
	p := start(t, &mp.Process{Target: targets.Print, Args: []any{"", strings.Repeat(strings.Repeat("z", 1000)+"\n", 50)}, Stderr: new(targets.SyncBuffer)})
	if err := join(t, p); err != nil {
		t.Fatalf("Print: %v", err)
	}
	p = start(t, &mp.Process{Target: observe.StderrThenExit, Args: []any{3000, 4}, Stderr: new(targets.SyncBuffer)})
	ee := wantCause(t, join(t, p), mp.CauseExit)
	if len(ee.Stderr) > 4<<10 || !strings.HasSuffix(ee.Stderr, "line 3000 of 3000") {
		t.Errorf("Stderr holds %d bytes ending %q; want at most 4 KiB ending with the last line", len(ee.Stderr), ee.Stderr[max(0, len(ee.Stderr)-40):])
	}
}

// A fatal error of the Go runtime is CauseFatal, and the error quotes the
// runtime's "fatal error:" line even though the goroutine dump after it
// fills the tail.
func TestExitCauseFatal(t *testing.T) {
	p := start(t, &mp.Process{Target: targets.MapRace, Args: []any{20 * time.Second}, Stderr: new(targets.SyncBuffer)})
	ee := wantCause(t, join(t, p), mp.CauseFatal)
	if !strings.Contains(ee.Stderr, "fatal error: concurrent map") || !strings.Contains(ee.Error(), "fatal error: concurrent map") {
		t.Errorf("the error does not carry the fatal error:\n%v\n%s", ee, ee.Stderr)
	}
	t.Logf("%v", ee)
}

// A panic in a goroutine the target started crashes the child: CausePanic
// (a panic in the target itself is a *PanicError, as before).
func TestExitCausePanicOutsideTarget(t *testing.T) {
	p := start(t, &mp.Process{Target: observe.GoPanic, Args: []any{"boom"}, Stderr: new(targets.SyncBuffer)})
	ee := wantCause(t, join(t, p), mp.CausePanic)
	if !strings.Contains(ee.Error(), "panic: boom") || !strings.Contains(ee.Stderr, "about to panic") {
		t.Errorf("err = %v; stderr tail:\n%s", ee, ee.Stderr)
	}
	p = start(t, &mp.Process{Target: targets.Panic, Args: []any{"in the target"}})
	if err := join(t, p); !errors.As(err, new(*mp.PanicError)) {
		t.Errorf("a panic in the target: %T %v, want a *PanicError", err, err)
	}
}

// A child killed by a signal that is not the OOM killer's is CauseSignal.
func TestExitCauseSignal(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no signals on Windows")
	}
	p := start(t, &mp.Process{Target: observe.KillSelf, Args: []any{"dying now"}, Stderr: new(targets.SyncBuffer)})
	ee := wantCause(t, join(t, p), mp.CauseSignal)
	if ee.Signal != "SIGKILL" || ee.Code != -9 || !strings.Contains(ee.Error(), "dying now") {
		t.Errorf("err = %v (Signal %q, Code %d); want SIGKILL, -9 and the stderr line", ee, ee.Signal, ee.Code)
	}
	if ee.MaxRSS <= 0 {
		t.Errorf("MaxRSS = %d, want the child's peak memory", ee.MaxRSS)
	}
}

// A pool worker's crash carries its cause and stderr tail too.
func TestExitCausePoolWorker(t *testing.T) {
	ctx := testCtx(t)
	p := newPool(t, mp.Workers(1), mp.PoolOutput(nil, new(targets.SyncBuffer)))
	for _, tc := range []struct {
		target any
		args   []any
		cause  mp.ExitCause
		want   string
	}{
		{observe.StderrThenExit, []any{3, 5}, mp.CauseExit, "line 3 of 3"},
		{targets.MapRace, []any{20 * time.Second}, mp.CauseFatal, "fatal error: concurrent map"},
		{observe.GoPanic, []any{"pool boom"}, mp.CausePanic, "panic: pool boom"},
	} {
		t.Run(fmt.Sprintf("%v", tc.cause), func(t *testing.T) {
			_, err := getBounded(t, p.ApplyAsync(ctx, tc.target, tc.args, nil), 30*time.Second)
			ee := wantCause(t, err, tc.cause)
			if !strings.Contains(ee.Error(), tc.want) {
				t.Errorf("err = %v; want it to quote %q", ee, tc.want)
			}
		})
	}
}
