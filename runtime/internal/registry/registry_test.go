package registry

import (
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func double(n int) int { return 2 * n }

func halve(n int) int { return n / 2 }

type job struct{ N int }

// decoded is an Args holding already-decoded values.
type decoded []any

func (d decoded) Decode(i int, v any) error {
	reflect.ValueOf(v).Elem().Set(reflect.ValueOf(d[i]))
	return nil
}

// mustPanic runs f and returns what it panicked with.
func mustPanic(t *testing.T, f func()) string {
	t.Helper()
	var got any
	func() {
		defer func() { got = recover() }()
		f()
	}()
	if got == nil {
		t.Fatal("no panic")
	}
	return got.(string)
}

func TestRegisterAndLookups(t *testing.T) {
	Register(Spec{
		Name: "registry_test.double", Func: double,
		Params: []Param{{Name: "n", Type: reflect.TypeFor[int]()}}, Result: reflect.TypeFor[int](),
		Batch: One(func(_ context.Context, n int) (int, error) { return double(n), nil }),
	})
	s := ByName("registry_test.double")
	if s == nil || ByFunc(reflect.ValueOf(double).Pointer()) != s {
		t.Fatalf("lookups: ByName %v, ByFunc %v", s, ByFunc(reflect.ValueOf(double).Pointer()))
	}
	// A Spec with only Batch gets a Call that serves single calls.
	r, err := s.Call(context.Background(), decoded{21})
	if r != 42 || err != nil {
		t.Fatalf("Call = %v, %v; want 42, nil", r, err)
	}
	if ByName("registry_test.nothing") != nil || ByType(reflect.TypeFor[job]()) != nil {
		t.Fatal("lookups of unregistered targets found something")
	}
	found := false
	for _, n := range Names() {
		found = found || n == "registry_test.double"
	}
	if !found {
		t.Fatalf("Names() = %v, lacks registry_test.double", Names())
	}
}

func TestCallDropsTheResultOfATargetWithoutOne(t *testing.T) {
	ran := 0
	Register(Spec{
		Name: "registry_test.job", Type: reflect.TypeFor[job](),
		Params: []Param{{Type: reflect.TypeFor[job]()}},
		Batch: One(func(_ context.Context, j job) (struct{}, error) {
			ran = j.N
			return struct{}{}, io.EOF
		}),
	})
	s := ByType(reflect.TypeFor[job]())
	r, err := s.Call(context.Background(), decoded{job{N: 7}})
	if r != nil || err != io.EOF || ran != 7 {
		t.Fatalf("Call = %v, %v (ran %d); want nil, EOF, 7", r, err, ran)
	}
}

func TestRegisterRefusesDuplicatesNamingBothDeclarations(t *testing.T) {
	spec := func(name string, fn any) Spec {
		return Spec{Name: name, Func: fn, Call: func(context.Context, Args) (any, error) { return nil, nil }}
	}
	Register(spec("registry_test.dup", halve))
	msg := mustPanic(t, func() { Register(spec("registry_test.dup", strings.ToUpper)) })
	for _, want := range []string{`"registry_test.dup" registered twice`, "func github.com/mpgen/mpgen/runtime/internal/registry.halve", "func strings.ToUpper", "//mp:target <name>"} {
		if !strings.Contains(msg, want) {
			t.Errorf("panic %q lacks %q", msg, want)
		}
	}
	msg = mustPanic(t, func() { Register(spec("registry_test.dup2", halve)) })
	if !strings.Contains(msg, `registered as target "registry_test.dup" and as "registry_test.dup2"`) {
		t.Errorf("second registration of one function: %q", msg)
	}
	for _, bad := range []Spec{{}, {Name: "x", Func: halve}, {Name: "x", Call: spec("", nil).Call}} {
		if msg := mustPanic(t, func() { Register(bad) }); !strings.Contains(msg, "malformed spec") {
			t.Errorf("Register(%+v): %q", bad, msg)
		}
	}
}

func TestRunBatch(t *testing.T) {
	var errOdd = errors.New("odd")
	b := One(func(_ context.Context, n int) (int, error) {
		switch {
		case n < 0:
			panic("negative")
		case n%2 == 1:
			return 0, errOdd
		}
		return n * 10, nil
	})
	out := make([]int, 4)
	failed := map[int]string{}
	ok := b.RunBatch(context.Background(), []int{2, 3, -1, 4}, out, func(i int, err error, p *Panic) {
		switch {
		case p != nil:
			failed[i] = "panic " + p.Value + " " + p.Type
			if !strings.Contains(p.Stack, "registry.TestRunBatch") {
				t.Errorf("panic stack lacks the body's frame:\n%s", p.Stack)
			}
		default:
			failed[i] = err.Error()
		}
	})
	if !ok || !reflect.DeepEqual(out, []int{20, 0, 0, 40}) {
		t.Fatalf("RunBatch = %v, results %v", ok, out)
	}
	if want := map[int]string{1: "odd", 2: "panic negative string"}; !reflect.DeepEqual(failed, want) {
		t.Fatalf("failures %v, want %v", failed, want)
	}
	if b.RunBatch(context.Background(), []string{"x"}, nil, nil) || b.RunBatch(context.Background(), []int{1}, make([]int, 2), nil) {
		t.Fatal("RunBatch accepted items or results of the wrong type or length")
	}
}

type codeError struct{ Code int }

func (e *codeError) Error() string { return "code" }

func TestErrors(t *testing.T) {
	errA := errors.New("a")
	RegisterError("registry_test.ErrA", errA)
	RegisterError("registry_test.Nil", nil)
	RegisterErrorType("registry_test.codeError", reflect.TypeFor[*codeError]())
	if err, ok := Sentinel("registry_test.ErrA"); !ok || err != errA {
		t.Fatalf("Sentinel = %v, %v", err, ok)
	}
	if _, ok := Sentinel("registry_test.Nil"); ok {
		t.Fatal("a nil sentinel was registered")
	}
	got := SentinelsIn(errors.Join(io.EOF, errA))
	if !strings.Contains(strings.Join(got, ","), "registry_test.ErrA") {
		t.Fatalf("SentinelsIn = %v", got)
	}
	if typ, ok := ErrorType("registry_test.codeError"); !ok || typ != reflect.TypeFor[*codeError]() {
		t.Fatalf("ErrorType = %v, %v", typ, ok)
	}
	names, types := ErrorTypes()
	for i, n := range names {
		if n == "registry_test.codeError" && types[i] == reflect.TypeFor[*codeError]() {
			return
		}
	}
	t.Fatalf("ErrorTypes = %v, %v", names, types)
}
