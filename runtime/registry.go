package mp

import (
	"context"
	"fmt"
	"reflect"
	"runtime/debug"
	"sort"
	"sync"
)

// This file is the contract between the code mpgen generates and the runtime.
// The names in it are meant for generated code; user code should not call them.

// EnforceVersion is used by generated code to make a skew between mpgen and
// the runtime a compile error. A generated file contains
//
//	const _ = mp.EnforceVersion(GenVersion - mp.MinVersion)
//	const _ = mp.EnforceVersion(mp.MaxVersion - GenVersion)
//
// where GenVersion is the version of the generator that wrote it. If the
// runtime linked into the program cannot run that generated code, one of the
// constants underflows and the build fails: re-run `go generate` with the mpgen
// of the same module version as the runtime.
type EnforceVersion uint

// The generated-code versions this runtime supports.
const (
	// MinVersion is the oldest generated-code version this runtime accepts.
	MinVersion = 1
	// MaxVersion is the newest generated-code version this runtime accepts.
	MaxVersion = 1
)

// Param describes one serialized parameter of a target: its name (used to
// bind keyword arguments) and its Go type. It is for generated code.
type Param struct {
	Name string
	Type reflect.Type
}

// P returns the Param named name of type T. It is for generated code.
func P[T any](name string) Param { return Param{Name: name, Type: reflect.TypeFor[T]()} }

// TypeOf returns the reflect.Type of T. It is for generated code.
func TypeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

// ArgDecoder decodes the serialized arguments of one call. Decode(i, v)
// decodes argument i into the pointer v. It is for generated code.
type ArgDecoder interface {
	Decode(i int, v any) error
}

// Spec describes one target, as the generator found it. It is for generated
// code, which registers one Spec per target from an init function.
type Spec struct {
	// Name is the registered name, unique in the program.
	Name string
	// Pos is the declaration's position (file:line), for messages.
	Pos string
	// Func is the target function value (function targets), or nil.
	Func any
	// Type is the target's named type (type targets, whose Run method is the
	// body), or nil. The value itself is argument 0.
	Type reflect.Type
	// Context reports whether the body takes a leading context.Context.
	Context bool
	// Params are the serialized parameters, in order. For a type target
	// there is exactly one, the value whose exported fields travel.
	Params []Param
	// Variadic reports whether the last parameter is variadic (its Type is
	// the slice type).
	Variadic bool
	// Result is the type of the value result, or nil when there is none.
	Result reflect.Type
	// Error reports whether the body returns an error.
	Error bool
	// Call decodes the arguments and runs the body.
	Call func(ctx context.Context, args ArgDecoder) (any, error)
	// Batch, optional, runs the body of a function target of one parameter
	// over a chunk of Map without boxing each value (see One). Without it,
	// a chunk runs through Call, one item at a time.
	Batch Batcher
}

// Batcher runs a target over the items of a chunk of Map; it is made by
// One, for generated code.
type Batcher interface {
	// runBatch runs the body on every element of items (a []T) and
	// stores the results in results (a []R of the same length, or nil
	// when the target has no result). It reports each failed item to fail,
	// and false when items or results are not of its types.
	runBatch(ctx context.Context, codec Codec, items, results any, fail func(i int, kind frameKind, body []byte)) bool
}

// One returns the Batcher of a function target whose one parameter is of
// type T and whose result is of type R (struct{} when it has none): body
// calls the target on one value. It is for generated code.
func One[T, R any](body func(ctx context.Context, a T) (R, error)) Batcher {
	return oneBatch[T, R]{body}
}

type oneBatch[T, R any] struct {
	body func(context.Context, T) (R, error)
}

func (b oneBatch[T, R]) runBatch(ctx context.Context, codec Codec, items, results any, fail func(int, frameKind, []byte)) bool {
	in, ok := items.([]T)
	if !ok {
		return false
	}
	out, _ := results.([]R)
	if results != nil && len(out) != len(in) {
		return false
	}
	for i := range in {
		r, err, panicked := b.one(ctx, in[i])
		switch {
		case panicked != nil:
			fail(i, kindPanic, panicked)
		case err != nil:
			fail(i, kindError, describeError(codec, err).encode())
		case out != nil:
			out[i] = r
		}
	}
	return true
}

// one runs the body on a, turning a panic into a panic frame body.
func (b oneBatch[T, R]) one(ctx context.Context, a T) (r R, err error, panicked []byte) {
	defer func() {
		if v := recover(); v != nil {
			panicked = (&panicMsg{value: fmt.Sprint(v), typ: fmt.Sprintf("%T", v), stack: string(debug.Stack())}).encode()
		}
	}()
	r, err = b.body(ctx, a)
	return r, err, nil
}

type registry struct {
	mu     sync.RWMutex
	byName map[string]*Spec
	byFunc map[uintptr]*Spec
	byType map[reflect.Type]*Spec
	errs   map[string]error        // sentinel errors by name
	errTs  map[string]reflect.Type // error types by name
	errTn  map[reflect.Type]string
}

var reg = registry{
	byName: map[string]*Spec{},
	byFunc: map[uintptr]*Spec{},
	byType: map[reflect.Type]*Spec{},
	errs:   map[string]error{},
	errTs:  map[string]reflect.Type{},
	errTn:  map[reflect.Type]string{},
}

// Register adds a target to the program's dispatch table. It is called from
// the init function of generated code and panics on a malformed Spec or a
// duplicate name, function or type, as a duplicate registration is a build
// mistake that no caller can recover from.
func Register(s Spec) {
	if s.Name == "" || s.Call == nil || (s.Func == nil) == (s.Type == nil) {
		panic(fmt.Sprintf("mp: Register: malformed spec %q (re-run go generate)", s.Name))
	}
	sp := &s
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if old, ok := reg.byName[s.Name]; ok {
		panic(fmt.Sprintf("mp: target name %q registered twice (%s and %s): give one of them another name with //mp:target <name>", s.Name, old.Pos, s.Pos))
	}
	if s.Func != nil {
		v := reflect.ValueOf(s.Func)
		if v.Kind() != reflect.Func {
			panic(fmt.Sprintf("mp: Register %q: Func is %T, not a function", s.Name, s.Func))
		}
		pc := v.Pointer()
		if old, ok := reg.byFunc[pc]; ok {
			panic(fmt.Sprintf("mp: function of target %q already registered as %q", s.Name, old.Name))
		}
		reg.byFunc[pc] = sp
	} else {
		if old, ok := reg.byType[s.Type]; ok {
			panic(fmt.Sprintf("mp: type %v of target %q already registered as %q", s.Type, s.Name, old.Name))
		}
		reg.byType[s.Type] = sp
	}
	reg.byName[s.Name] = sp
}

// RegisterError records a sentinel error of a target's package under name, so
// that errors.Is works in the parent on an error a child returned. It is for
// generated code.
func RegisterError(name string, err error) {
	if err == nil {
		return
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	reg.errs[name] = err
}

// RegisterErrorType records an error type of a target's package under name,
// so that errors.As works in the parent on an error a child returned: a value
// of that type found in the child's error chain is serialized and rebuilt in
// the parent. It is for generated code.
func RegisterErrorType[E error](name string) {
	t := reflect.TypeFor[E]()
	reg.mu.Lock()
	defer reg.mu.Unlock()
	reg.errTs[name] = t
	reg.errTn[t] = name
}

func lookupName(name string) *Spec {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	return reg.byName[name]
}

// Targets returns the names of every registered target, sorted.
func Targets() []string {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	names := make([]string, 0, len(reg.byName))
	for n := range reg.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
