//go:build unix || windows

package mp_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io/fs"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

func TestResultTravelsBack(t *testing.T) {
	p := start(t, &mp.Process{Target: targets.Echo, Args: []any{"héllo\x00world"}})
	if err := join(t, p); err != nil {
		t.Fatalf("Join: %v", err)
	}
	res, err := p.Result()
	if err != nil || res != "héllo\x00world" {
		t.Fatalf("Result = %q, %v", res, err)
	}
	if c := exitCode(t, p); c != 0 {
		t.Fatalf("exit code %d, want 0", c)
	}
}

func TestKwargsAndPositional(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []any
		kwargs map[string]any
		want   int
	}{
		{"positional", []any{2, 3}, nil, 5},
		{"keywords", nil, map[string]any{"b": 10, "a": 1}, 11},
		{"mixed", []any{7}, map[string]any{"b": 1}, 8},
		{"lossless conversion", []any{int64(4), uint8(5)}, nil, 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := start(t, &mp.Process{Target: targets.Add, Args: tc.args, Kwargs: tc.kwargs})
			if err := join(t, p); err != nil {
				t.Fatal(err)
			}
			if res, _ := p.Result(); res != tc.want {
				t.Fatalf("Add = %v, want %d", res, tc.want)
			}
		})
	}
}

func TestVariadic(t *testing.T) {
	for _, tc := range []struct {
		args []any
		want string
	}{
		{[]any{"none"}, "none=0"},
		{[]any{"three", 1, 2, 3}, "three=6"},
	} {
		p := start(t, &mp.Process{Target: targets.Sum, Args: tc.args})
		if err := join(t, p); err != nil {
			t.Fatal(err)
		}
		if res, _ := p.Result(); res != tc.want {
			t.Fatalf("Sum%v = %v, want %s", tc.args, res, tc.want)
		}
	}
	p := start(t, &mp.Process{Target: targets.Sum, Kwargs: map[string]any{"label": "kw", "xs": []int{4, 5}}})
	if err := join(t, p); err != nil {
		t.Fatal(err)
	}
	if res, _ := p.Result(); res != "kw=9" {
		t.Fatalf("Sum kwargs = %v", res)
	}
}

// Bad arguments are refused at Start, before any process exists.
func TestBadArgumentsRefusedAtStart(t *testing.T) {
	for _, tc := range []struct {
		name   string
		p      *mp.Process
		substr string
	}{
		{"too many", &mp.Process{Target: targets.Add, Args: []any{1, 2, 3}}, "takes 2 positional arguments but 3 were given"},
		{"missing", &mp.Process{Target: targets.Add, Args: []any{1}}, "missing 1 required argument(s): b"},
		{"unknown kwarg", &mp.Process{Target: targets.Add, Args: []any{1}, Kwargs: map[string]any{"c": 2}}, "argument c: unexpected keyword argument (parameters: a, b)"},
		{"duplicate", &mp.Process{Target: targets.Add, Args: []any{1, 2}, Kwargs: map[string]any{"a": 2}}, "argument a: given both by position and by keyword"},
		{"wrong type", &mp.Process{Target: targets.Add, Args: []any{1, "2"}}, "argument b: must be int, got string"},
		{"lossy", &mp.Process{Target: targets.Add, Args: []any{1, 2.5}}, "float64(2.5) does not fit in int"},
		{"nil for int", &mp.Process{Target: targets.Add, Args: []any{1, nil}}, "nil cannot be used as int"},
		{"args to type target", &mp.Process{Target: &targets.Greeter{}, Args: []any{1}}, "a type target takes no Args or Kwargs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Start()
			var ae *mp.ArgError
			if !errors.As(err, &ae) || !strings.Contains(err.Error(), tc.substr) {
				t.Fatalf("Start error = %v, want *ArgError containing %q", err, tc.substr)
			}
			if tc.p.Pid() != 0 || tc.p.IsAlive() {
				t.Fatalf("a process was made: pid %d", tc.p.Pid())
			}
			if err := tc.p.Join(); !errors.Is(err, mp.ErrNotStarted) {
				t.Fatalf("Join after failed Start = %v, want ErrNotStarted", err)
			}
		})
	}
}

func TestUnregisteredTargetRefused(t *testing.T) {
	closure := func() {}
	for _, target := range []any{closure, strings.ToUpper, nil, 42} {
		p := &mp.Process{Target: target}
		if err := p.Start(); !errors.Is(err, mp.ErrNotRegistered) {
			t.Fatalf("Start(%T) = %v, want ErrNotRegistered", target, err)
		}
		if p.Pid() != 0 {
			t.Fatal("a process was made")
		}
	}
}

func TestReturnedErrorKeepsIdentity(t *testing.T) {
	p := start(t, &mp.Process{Target: targets.Fail, Args: []any{"now"}})
	err := join(t, p)
	var re *mp.RemoteError
	if !errors.As(err, &re) {
		t.Fatalf("Join = %T %v, want *RemoteError", err, err)
	}
	if re.Message != "fail now: boom" || re.Type != "*fmt.wrapError" || re.Target != "github.com/mpgen/mpgen/internal/targets.Fail" {
		t.Fatalf("RemoteError = %+v", re)
	}
	if !errors.Is(err, targets.ErrBoom) {
		t.Fatal("errors.Is(err, ErrBoom) = false")
	}
	if c := exitCode(t, p); c != 1 {
		t.Fatalf("exit code %d, want 1", c)
	}

	p = start(t, &mp.Process{Target: targets.FailTyped, Args: []any{42}})
	err = join(t, p)
	var ce *targets.CodeError
	if !errors.As(err, &ce) || ce.Code != 42 || ce.Op != "frob" {
		t.Fatalf("errors.As(%v) = %+v", err, ce)
	}
	if errors.Is(err, targets.ErrBoom) {
		t.Fatal("errors.Is matched a sentinel the error does not wrap")
	}
}

// TestSentinelsCrossTheBoundary: the standard library's sentinels and
// package mp's own, returned (wrapped) by a target, match errors.Is in the
// parent, as the target package's own sentinels do (issue 10, item 13).
func TestSentinelsCrossTheBoundary(t *testing.T) {
	for name, want := range targets.Sentinels {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := join(t, start(t, &mp.Process{Target: targets.WrapSentinel, Args: []any{name}}))
			if !errors.Is(err, want) {
				t.Fatalf("errors.Is(%v, %s) = false", err, name)
			}
			if err.Error() != "target wraps: "+want.Error() {
				t.Fatalf("message %q", err)
			}
		})
	}
	t.Run("ENOENT", func(t *testing.T) {
		err := join(t, start(t, &mp.Process{Target: targets.OpenMissing, Args: []any{filepath.Join(tempDir(t), "missing")}}))
		if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrExist) {
			t.Fatalf("os.Open of a missing file: %v, want fs.ErrNotExist only", err)
		}
	})
	t.Run("Terminate", func(t *testing.T) {
		// A context-aware target returns its cancelled context's error.
		p := start(t, &mp.Process{Target: targets.Sleep, Args: []any{time.Hour}})
		waitRunning(t, p)
		if err := p.Terminate(); err != nil {
			t.Fatal(err)
		}
		if err := join(t, p); !errors.Is(err, context.Canceled) {
			t.Fatalf("a terminated context-aware target: %v, want context.Canceled", err)
		}
	})
}

func TestPanicCarriesStack(t *testing.T) {
	for _, tc := range []struct {
		target any
		args   []any
		value  string
		frame  string
	}{
		{targets.Panic, []any{"ouch"}, "target says ouch", "targets.Panic("},
		{targets.NilDeref, nil, "runtime error: invalid memory address or nil pointer dereference", "targets.NilDeref("},
	} {
		p := start(t, &mp.Process{Target: tc.target, Args: tc.args})
		err := join(t, p)
		var pe *mp.PanicError
		if !errors.As(err, &pe) {
			t.Fatalf("Join = %T %v, want *PanicError", err, err)
		}
		if pe.Value != tc.value || !strings.Contains(pe.Stack, tc.frame) {
			t.Fatalf("PanicError value %q, stack:\n%s", pe.Value, pe.Stack)
		}
		if c := exitCode(t, p); c != 1 {
			t.Fatalf("exit code %d, want 1", c)
		}
	}
}

func TestAbnormalExits(t *testing.T) {
	for _, tc := range []struct {
		name   string
		target any
		args   []any
		code   int
	}{
		{"os.Exit", targets.Exit, []any{3}, 3},
		{"os.Exit(0)", targets.Exit, []any{0}, 0},
		{"fatal stack overflow", targets.Overflow, []any{0}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			p := start(t, &mp.Process{Target: tc.target, Args: tc.args, Stderr: &stderr})
			err := join(t, p)
			if c := exitCode(t, p); c != tc.code {
				t.Fatalf("exit code %d, want %d", c, tc.code)
			}
			if tc.code == 0 {
				if err != nil {
					t.Fatalf("Join = %v, want nil", err)
				}
				return
			}
			var ee *mp.ExitError
			if !errors.As(err, &ee) || ee.Code != tc.code || ee.Signal != "" {
				t.Fatalf("Join = %#v, want *ExitError code %d", err, tc.code)
			}
		})
	}
}

func TestKillAndTerminate(t *testing.T) {
	t.Run("kill", func(t *testing.T) {
		p := start(t, &mp.Process{Target: targets.SleepNoCtx, Args: []any{time.Hour}})
		if err := p.Kill(); err != nil {
			t.Fatal(err)
		}
		err := join(t, p)
		var ee *mp.ExitError
		if !errors.As(err, &ee) || ee.Code != killCode || ee.Signal != killSignal {
			t.Fatalf("Join = %v, want killed by %s", err, killSignal)
		}
		if c := exitCode(t, p); c != killCode {
			t.Fatalf("exit code %d, want %d", c, killCode)
		}
	})
	t.Run("terminate without context", func(t *testing.T) {
		p := start(t, &mp.Process{Target: targets.SleepNoCtx, Args: []any{time.Hour}, KillDelay: time.Hour})
		waitRunning(t, p)
		t0 := time.Now()
		if err := p.Terminate(); err != nil {
			t.Fatal(err)
		}
		_ = join(t, p)
		if c := exitCode(t, p); c != -15 {
			t.Fatalf("exit code %d, want -15", c)
		}
		if d := time.Since(t0); d > 10*time.Second {
			t.Fatalf("terminate took %v", d)
		}
	})
	t.Run("terminate cancels the context", func(t *testing.T) {
		p := start(t, &mp.Process{Target: targets.Sleep, Args: []any{time.Hour}, KillDelay: time.Hour})
		waitRunning(t, p)
		if err := p.Terminate(); err != nil {
			t.Fatal(err)
		}
		err := join(t, p)
		var re *mp.RemoteError
		if !errors.As(err, &re) || !errors.Is(err, context.Canceled) && !strings.Contains(re.Message, "context canceled") {
			t.Fatalf("Join = %v, want the target's context error", err)
		}
		if c := exitCode(t, p); c != -15 {
			t.Fatalf("exit code %d, want -15", c)
		}
	})
	t.Run("terminate escalates to kill", func(t *testing.T) {
		// Stop the child so it cannot act on the request to terminate:
		// only the kill ends it.
		p := start(t, &mp.Process{Target: targets.SleepNoCtx, Args: []any{time.Hour}, KillDelay: 200 * time.Millisecond})
		waitRunning(t, p)
		stop(t, p.Pid())
		if err := p.Terminate(); err != nil {
			t.Fatal(err)
		}
		_ = join(t, p)
		if c := exitCode(t, p); c != killCode {
			t.Fatalf("exit code %d, want %d after the kill delay", c, killCode)
		}
	})
	t.Run("start context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		p := &mp.Process{Target: targets.SleepNoCtx, Args: []any{time.Hour}}
		if err := p.StartContext(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Kill(); _ = p.Join() })
		waitRunning(t, p)
		cancel()
		_ = join(t, p)
		if c := exitCode(t, p); c != -15 {
			t.Fatalf("exit code %d, want -15", c)
		}
	})
}

// waitRunning waits until the child has installed its signal handlers,
// which it does before running the target: Whoami-style probing is not
// possible from outside, so wait until /proc shows the child blocked.
func waitRunning(t *testing.T, p *mp.Process) {
	t.Helper()
	// The child runs its target within milliseconds of starting; a short
	// pause keeps the signal from arriving while the runtime initialises
	// (when Go would still die of SIGTERM, which the test accepts too).
	time.Sleep(300 * time.Millisecond)
	if !p.IsAlive() {
		t.Fatalf("child ended early: %v", p.Join())
	}
}

func TestJoinTimeoutAndStates(t *testing.T) {
	p := &mp.Process{Target: targets.SleepNoCtx, Args: []any{time.Hour}}
	if _, ok := p.ExitCode(); ok {
		t.Fatal("ExitCode before Start reported ok")
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close of a new process: %v", err)
	}
	if err := p.Start(); !errors.Is(err, mp.ErrClosed) {
		t.Fatalf("Start after Close = %v", err)
	}

	p = start(t, &mp.Process{Target: targets.SleepNoCtx, Args: []any{time.Hour}})
	if err := p.Start(); !errors.Is(err, mp.ErrStarted) {
		t.Fatalf("second Start = %v, want ErrStarted", err)
	}
	if err := p.JoinTimeout(50 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("JoinTimeout = %v, want DeadlineExceeded", err)
	}
	if !p.IsAlive() {
		t.Fatal("IsAlive = false for a running child")
	}
	if _, ok := p.ExitCode(); ok {
		t.Fatal("ExitCode reported ok while running")
	}
	if _, err := p.Result(); !errors.Is(err, mp.ErrRunning) {
		t.Fatalf("Result while running = %v", err)
	}
	if err := p.Close(); !errors.Is(err, mp.ErrRunning) {
		t.Fatalf("Close while running = %v, want ErrRunning", err)
	}
	if !strings.Contains(p.String(), " started") {
		t.Fatalf("String = %s", p)
	}
	select {
	case <-p.Sentinel():
		t.Fatal("sentinel closed while running")
	default:
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Sentinel():
	case <-time.After(30 * time.Second):
		t.Fatal("sentinel not closed after Kill")
	}
	if p.IsAlive() {
		t.Fatal("IsAlive after end")
	}
	if err := p.Kill(); err != nil {
		t.Fatalf("Kill of an ended process = %v", err)
	}
	if err := p.Terminate(); err != nil {
		t.Fatalf("Terminate of an ended process = %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close after end = %v", err)
	}
	if err := p.Kill(); !errors.Is(err, mp.ErrClosed) {
		t.Fatalf("Kill after Close = %v", err)
	}
	if c, ok := p.ExitCode(); !ok || c != killCode {
		t.Fatalf("ExitCode after Close = %d, %v", c, ok)
	}
}

func TestIdentityNamesAndAuthKey(t *testing.T) {
	p := start(t, &mp.Process{Target: targets.Whoami, Daemon: true})
	if err := join(t, p); err != nil {
		t.Fatal(err)
	}
	res, _ := p.Result()
	w := res.(targets.Who)
	me := mp.CurrentProcess()
	if me.Name != "MainProcess" || mp.ParentProcess() != nil {
		t.Fatalf("main process: %v parent %v", me, mp.ParentProcess())
	}
	if w.Name != p.Name || !strings.HasPrefix(w.Name, "Process-") || w.Pid != p.Pid() || !w.Daemon {
		t.Fatalf("child saw %+v; process %s", w, p)
	}
	if w.ParentName != "MainProcess" || w.ParentPid != me.Pid {
		t.Fatalf("child's parent = %q %d", w.ParentName, w.ParentPid)
	}
	if w.AuthKeySum != sha256.Sum256(me.AuthKey) {
		t.Fatal("child's authkey differs from the parent's")
	}
	if w.Marker {
		t.Fatal("the child marker is visible to the target's environment")
	}

	key := bytes.Repeat([]byte{7}, 32)
	p = start(t, &mp.Process{Target: targets.Whoami, Name: "custom", AuthKey: key})
	if err := join(t, p); err != nil {
		t.Fatal(err)
	}
	res, _ = p.Result()
	if w := res.(targets.Who); w.Name != "custom" || w.AuthKeySum != sha256.Sum256(key) {
		t.Fatalf("custom name/key: %+v", w)
	}
}

func TestNestedChildren(t *testing.T) {
	p := start(t, &mp.Process{Target: targets.Nested, Args: []any{2}})
	if err := join(t, p); err != nil {
		t.Fatal(err)
	}
	res, _ := p.Result()
	ws := res.([]targets.Who)
	if len(ws) != 2 {
		t.Fatalf("got %d grandchildren", len(ws))
	}
	for i, w := range ws {
		want := p.Name + ":" + string(rune('1'+i))
		if w.Name != want || w.ParentName != p.Name || w.ParentPid != p.Pid() {
			t.Fatalf("grandchild %d = %+v, want name %s under %s", i, w, want, p)
		}
	}
}

func TestDaemonCannotHaveChildren(t *testing.T) {
	p := start(t, &mp.Process{Target: targets.Nested, Args: []any{1}, Daemon: true})
	err := join(t, p)
	if err == nil || !strings.Contains(err.Error(), mp.ErrDaemonChildren.Error()) {
		t.Fatalf("Join = %v, want the daemon error", err)
	}
	if !errors.Is(err, mp.ErrDaemonChildren) {
		t.Fatalf("errors.Is(%v, ErrDaemonChildren) = false across the boundary", err)
	}
}

func TestTypeTarget(t *testing.T) {
	for _, target := range []any{targets.Greeter{Name: "Ada", Times: 2}, &targets.Greeter{Name: "Ada", Times: 2}} {
		p := start(t, &mp.Process{Target: target})
		if err := join(t, p); err != nil {
			t.Fatal(err)
		}
		if res, _ := p.Result(); res != "hello Ada; hello Ada; " {
			t.Fatalf("Greeter = %q", res)
		}
	}
	p := start(t, &mp.Process{Target: &targets.Greeter{Times: -1}})
	if err := join(t, p); !errors.Is(err, targets.ErrBoom) {
		t.Fatalf("Greeter error = %v", err)
	}
}

func TestRoundtripTypes(t *testing.T) {
	in := targets.Payload{
		When:  time.Date(2026, 11, 25, 20, 0, 0, 123, time.UTC),
		Data:  []byte{0, 1, 2, 255},
		Tags:  map[string][]int{"a": {1, 2}, "b": nil},
		At:    &targets.Point{X: -1, Y: 2},
		Pts:   []targets.Point{{X: 1, Y: 2}, {X: 3, Y: 4}},
		Ratio: 0.1,
		C:     complex(1, -2),
		Arr:   [3]uint8{9, 8, 7},
		Dur:   time.Minute,
	}
	p := start(t, &mp.Process{Target: targets.Roundtrip, Args: []any{in}})
	if err := join(t, p); err != nil {
		t.Fatal(err)
	}
	res, _ := p.Result()
	out := res.(targets.Payload)
	// gob drops nil/empty map entries' slices to nil; compare field by field.
	if !out.When.Equal(in.When) || !bytes.Equal(out.Data, in.Data) || *out.At != *in.At ||
		!reflect.DeepEqual(out.Pts, in.Pts) || out.Ratio != in.Ratio || out.C != in.C ||
		out.Arr != in.Arr || out.Dur != in.Dur || !reflect.DeepEqual(out.Tags["a"], in.Tags["a"]) {
		t.Fatalf("roundtrip changed the payload:\n in %+v\nout %+v", in, out)
	}
}

func TestOutputRedirectAndInherit(t *testing.T) {
	var out, errs bytes.Buffer
	p := start(t, &mp.Process{Target: targets.Print, Args: []any{"to stdout\n", "to stderr\n"}, Stdout: &out, Stderr: &errs})
	if err := join(t, p); err != nil {
		t.Fatal(err)
	}
	if out.String() != "to stdout\n" || errs.String() != "to stderr\n" {
		t.Fatalf("stdout %q stderr %q", out.String(), errs.String())
	}
}

func TestActiveChildren(t *testing.T) {
	p := start(t, &mp.Process{Target: targets.SleepNoCtx, Args: []any{time.Hour}})
	found := false
	for _, c := range mp.ActiveChildren() {
		found = found || c == p
	}
	if !found {
		t.Fatal("running child missing from ActiveChildren")
	}
	_ = p.Kill()
	_ = join(t, p)
	for _, c := range mp.ActiveChildren() {
		if c == p {
			t.Fatal("ended child still in ActiveChildren")
		}
	}
}

func TestRunInProcess(t *testing.T) {
	p := &mp.Process{Target: targets.Add, Kwargs: map[string]any{"a": 20, "b": 22}}
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	if res, _ := p.Result(); res != 42 || p.Pid() != 0 {
		t.Fatalf("Run result %v pid %d", res, p.Pid())
	}
	p = &mp.Process{Target: targets.Fail, Args: []any{"here"}}
	if err := p.Run(); !errors.Is(err, targets.ErrBoom) {
		t.Fatalf("Run error = %v", err)
	}
}

func TestTypedForms(t *testing.T) {
	ctx := context.Background()
	j, err := mp.Spawn[int](ctx, targets.Square, 7)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Cancel(); _, _ = j.Get() })
	if v, err := j.GetContext(ctx); err != nil || v != 49 {
		t.Fatalf("Square(7) = %d, %v", v, err)
	}
	s, err := mp.Spawn[string](ctx, targets.Echo, "typed")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Cancel(); _, _ = s.Get() })
	if v, err := s.GetContext(ctx); err != nil || v != "typed" {
		t.Fatalf("Echo = %q, %v", v, err)
	}
	var ae *mp.ArgError
	if _, err := mp.Spawn[int](ctx, targets.Echo, "x"); !errors.As(err, &ae) {
		t.Fatalf("Spawn[int] of a string target = %v, want *ArgError", err)
	}
}

// TestResultAfterRunWithoutResult: Result works after a Run whose target
// has no result, or returned only a nil error (it said ErrNotStarted).
func TestResultAfterRunWithoutResult(t *testing.T) {
	for _, p := range []*mp.Process{
		{Target: targets.SleepNoCtx, Args: []any{time.Duration(0)}},
		{Target: targets.Sleep, Args: []any{time.Duration(0)}},
	} {
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
		if res, err := p.Result(); res != nil || err != nil {
			t.Errorf("Result after Run = %v, %v; want nil, nil", res, err)
		}
	}
	if _, err := (&mp.Process{Target: targets.SleepNoCtx}).Result(); err != mp.ErrNotStarted {
		t.Errorf("Result before Start or Run = %v, want ErrNotStarted", err)
	}
}

// TestStartContextDone: a context already done starts nothing, and says so
// as every XContext call does: a *TimeoutError once its deadline passed,
// else ctx.Err().
func TestStartContextDone(t *testing.T) {
	dctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	p := &mp.Process{Target: targets.SleepNoCtx, Args: []any{time.Duration(0)}}
	var te *mp.TimeoutError
	if err := p.StartContext(dctx); !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) || p.Pid() != 0 {
		t.Fatalf("StartContext after the deadline = %T %v (pid %d), want a *TimeoutError", err, err, p.Pid())
	}
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.StartContext(cctx); err != context.Canceled || p.Pid() != 0 {
		t.Fatalf("StartContext with a cancelled context = %T %v, want context.Canceled", err, err)
	}
}

// TestSetMaxFrameSizeClamps: a limit over what the wire's 32-bit length
// allows becomes that largest frame, not the 1 GiB default; n <= 0 restores
// the default.
func TestSetMaxFrameSizeClamps(t *testing.T) {
	prev := mp.SetMaxFrameSize(1 << 40)
	defer mp.SetMaxFrameSize(prev)
	if got := mp.SetMaxFrameSize(math.MaxUint32 + 1); got != math.MaxUint32 {
		t.Fatalf("SetMaxFrameSize(1<<40) set %d, want math.MaxUint32", got)
	}
	if got := mp.SetMaxFrameSize(-1); got != math.MaxUint32 {
		t.Fatalf("SetMaxFrameSize(MaxUint32+1) set %d, want math.MaxUint32", got)
	}
	if got := mp.SetMaxFrameSize(prev); got != mp.DefaultMaxFrameSize {
		t.Fatalf("SetMaxFrameSize(-1) set %d, want DefaultMaxFrameSize", got)
	}
}
