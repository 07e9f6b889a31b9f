// Package registry is the program's dispatch table: every target the
// generated code registers, and the errors of the targets' packages that
// must keep their identity across the process boundary.
//
// It sits below package mp and package mpimpl: generated code reaches it
// through mpimpl's aliases, the runtime through its lookups. It imports
// nothing of mpgen's.
package registry

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"runtime/debug"
	"sort"
	"sync"
)

// Param describes one serialized parameter of a target: its name (used to
// bind keyword arguments) and its Go type.
type Param struct {
	Name string
	Type reflect.Type
}

// Args decodes the serialized arguments of one call: Decode(i, v) decodes
// argument i into the pointer v.
type Args interface {
	Decode(i int, v any) error
}

// Spec describes one target, as the generator found it.
type Spec struct {
	// Name is the registered name, unique in the program.
	Name string
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
	// Call decodes the arguments and runs the body. A target of one
	// parameter leaves it nil and gives Batch, which serves single calls too.
	Call func(ctx context.Context, args Args) (any, error)
	// Batch runs the body of a target of one parameter without boxing each
	// value (see One); nil for other targets.
	Batch Batcher
}

// Panic describes a panic recovered from a target's body.
type Panic struct {
	Value, Type, Stack string
}

// Batcher runs the body of a target of one parameter: on one encoded call,
// or typed over the items of a chunk of Map. One makes it.
type Batcher interface {
	// Call decodes argument 0 of args and runs the body on it.
	Call(ctx context.Context, args Args) (any, error)
	// RunBatch runs the body on every element of items (a []T) and stores
	// the results in results (a []R of the same length, or nil when the
	// target has no result). It reports each failed item to fail, with its
	// error or its panic, and returns false when items or results are not
	// of its types.
	RunBatch(ctx context.Context, items, results any, fail func(i int, err error, p *Panic)) bool
}

// One returns the Batcher of a target whose one parameter is of type T and
// whose result is of type R (struct{} when it has none): body runs the
// target on one value.
func One[T, R any](body func(ctx context.Context, a T) (R, error)) Batcher {
	return oneBatch[T, R]{body}
}

type oneBatch[T, R any] struct {
	body func(context.Context, T) (R, error)
}

func (b oneBatch[T, R]) Call(ctx context.Context, args Args) (any, error) {
	var a T
	if err := args.Decode(0, &a); err != nil {
		return nil, err
	}
	r, err := b.body(ctx, a)
	return r, err
}

func (b oneBatch[T, R]) RunBatch(ctx context.Context, items, results any, fail func(int, error, *Panic)) bool {
	in, ok := items.([]T)
	if !ok {
		return false
	}
	out, _ := results.([]R)
	if results != nil && len(out) != len(in) {
		return false
	}
	for i := range in {
		r, err, p := b.one(ctx, in[i])
		switch {
		case p != nil || err != nil:
			fail(i, err, p)
		case out != nil:
			out[i] = r
		}
	}
	return true
}

// one runs the body on a, turning a panic into a *Panic.
func (b oneBatch[T, R]) one(ctx context.Context, a T) (r R, err error, p *Panic) {
	defer func() {
		if v := recover(); v != nil {
			p = Recovered(v)
		}
	}()
	r, err = b.body(ctx, a)
	return r, err, nil
}

// Recovered describes v, a value recover returned, with the stack of the
// goroutine that panicked. Call it in the deferred function that recovered.
func Recovered(v any) *Panic {
	return &Panic{Value: fmt.Sprint(v), Type: fmt.Sprintf("%T", v), Stack: string(debug.Stack())}
}

type table struct {
	mu     sync.RWMutex
	byName map[string]*Spec
	byFunc map[uintptr]*Spec
	byType map[reflect.Type]*Spec
	errs   map[string]error        // sentinel errors by name
	errTs  map[string]reflect.Type // error types by name
}

var reg = table{
	byName: map[string]*Spec{},
	byFunc: map[uintptr]*Spec{},
	byType: map[reflect.Type]*Spec{},
	errs:   map[string]error{},
	errTs:  map[string]reflect.Type{},
}

// Register adds a target to the dispatch table. It panics on a malformed
// Spec or a duplicate name, function or type: a duplicate registration is a
// build mistake that no caller can recover from.
func Register(s Spec) {
	if s.Name == "" || (s.Call == nil && s.Batch == nil) || (s.Func == nil) == (s.Type == nil) {
		panic(fmt.Sprintf("mp: Register: malformed spec %q (re-run go generate)", s.Name))
	}
	if s.Call == nil {
		b, hasResult := s.Batch, s.Result != nil
		s.Call = func(ctx context.Context, args Args) (any, error) {
			r, err := b.Call(ctx, args)
			if !hasResult {
				r = nil
			}
			return r, err
		}
	}
	sp := &s
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if old, ok := reg.byName[s.Name]; ok {
		panic(fmt.Sprintf("mp: target name %q registered twice, by %s and by %s: give one of them another name with //mp:target <name>", s.Name, old.Decl(), s.Decl()))
	}
	if s.Func != nil {
		v := reflect.ValueOf(s.Func)
		if v.Kind() != reflect.Func {
			panic(fmt.Sprintf("mp: Register %q: Func is %T, not a function", s.Name, s.Func))
		}
		pc := v.Pointer()
		if old, ok := reg.byFunc[pc]; ok {
			panic(fmt.Sprintf("mp: %s is registered as target %q and as %q", s.Decl(), old.Name, s.Name))
		}
		reg.byFunc[pc] = sp
	} else {
		if old, ok := reg.byType[s.Type]; ok {
			panic(fmt.Sprintf("mp: %s is registered as target %q and as %q", s.Decl(), old.Name, s.Name))
		}
		reg.byType[s.Type] = sp
	}
	reg.byName[s.Name] = sp
}

// Decl names the target's declaration in full: the function's or type's
// import path and identifier.
func (s *Spec) Decl() string {
	if s.Type != nil {
		return "type " + s.Type.PkgPath() + "." + s.Type.Name()
	}
	v := reflect.ValueOf(s.Func)
	if v.Kind() == reflect.Func {
		if f := runtime.FuncForPC(v.Pointer()); f != nil {
			return "func " + f.Name()
		}
	}
	return fmt.Sprintf("%T", s.Func)
}

// ByName returns the target registered under name, or nil.
func ByName(name string) *Spec {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	return reg.byName[name]
}

// ByFunc returns the function target whose code pointer is pc, or nil.
func ByFunc(pc uintptr) *Spec {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	return reg.byFunc[pc]
}

// ByType returns the type target of type t, or nil.
func ByType(t reflect.Type) *Spec {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	return reg.byType[t]
}

// Names returns the names of every registered target, sorted.
func Names() []string {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	names := make([]string, 0, len(reg.byName))
	for n := range reg.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// RegisterError records a sentinel error under name, so that errors.Is
// works in the parent on an error a child returned.
func RegisterError(name string, err error) {
	if err == nil {
		return
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	reg.errs[name] = err
}

// RegisterErrorType records the error type t under name, so that errors.As
// works in the parent on an error a child returned.
func RegisterErrorType(name string, t reflect.Type) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	reg.errTs[name] = t
}

// Sentinel returns the sentinel error registered under name.
func Sentinel(name string) (error, bool) {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	err, ok := reg.errs[name]
	return err, ok
}

// ErrorType returns the error type registered under name.
func ErrorType(name string) (reflect.Type, bool) {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	t, ok := reg.errTs[name]
	return t, ok
}

// SentinelsIn returns the names of the registered sentinels that err
// matches with errors.Is, sorted.
func SentinelsIn(err error) []string {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	var names []string
	for name, s := range reg.errs {
		if errors.Is(err, s) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// ErrorTypes returns the registered error types, sorted by name.
func ErrorTypes() (names []string, types []reflect.Type) {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	names = make([]string, 0, len(reg.errTs))
	for name := range reg.errTs {
		names = append(names, name)
	}
	sort.Strings(names)
	types = make([]reflect.Type, len(names))
	for i, name := range names {
		types[i] = reg.errTs[name]
	}
	return names, types
}

// ErrNotRegistered is matched by the error of a call whose target is not
// registered (package mp exports it).
var ErrNotRegistered = errors.New("mp: target is not registered")

// Resolve finds the registered Spec for a target: a function value found by
// its code pointer, or a value (or pointer to a value) of a type target.
func Resolve(target any) (*Spec, error) {
	if target == nil {
		return nil, fmt.Errorf("%w: Target is nil", ErrNotRegistered)
	}
	v := reflect.ValueOf(target)
	if v.Kind() == reflect.Func {
		if v.IsNil() {
			return nil, fmt.Errorf("%w: Target is a nil function", ErrNotRegistered)
		}
		if s := ByFunc(v.Pointer()); s != nil {
			return s, nil
		}
		name := "a function literal or method value"
		if f := runtime.FuncForPC(v.Pointer()); f != nil {
			name = f.Name()
		}
		return nil, fmt.Errorf("%w: %s is not an mpgen target: annotate the top-level function with //mp:target and run go generate in its package", ErrNotRegistered, name)
	}
	t := v.Type()
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if s := ByType(t); s != nil {
		return s, nil
	}
	return nil, fmt.Errorf("%w: type %v is not an mpgen target: annotate its declaration with //mp:target (it needs a Run method) and run go generate in its package", ErrNotRegistered, reflect.TypeOf(target))
}
