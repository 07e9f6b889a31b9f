package mp

import (
	"context"
	"fmt"
	"reflect"
)

// Job is a child process whose result has the static type R. The typed
// constructors Go0..Go3 check the target's signature at compile time; Spawn
// checks R against the target's registered result type at Start.
type Job[R any] struct {
	*Process
}

// Wait joins the child and returns its result as R, or its error.
func (j *Job[R]) Wait(ctx context.Context) (R, error) {
	var zero R
	if err := j.JoinContext(ctx); err != nil {
		return zero, err
	}
	res, err := j.Result()
	if err != nil {
		return zero, err
	}
	if res == nil {
		return zero, nil
	}
	return res.(R), nil
}

// Spawn starts target in a child process with positional args and returns
// a Job typed by the target's result. The arguments are checked at Start as
// for Process; R must be the target's result type (any, or struct{} for a
// target without a result, also fit). ctx terminates the child when done.
func Spawn[R any](ctx context.Context, target any, args ...any) (*Job[R], error) {
	spec, err := resolve(target)
	if err != nil {
		return nil, err
	}
	rt := reflect.TypeFor[R]()
	switch {
	case spec.Result == nil && (rt == reflect.TypeFor[struct{}]() || rt.Kind() == reflect.Interface):
	case spec.Result != nil && spec.Result.AssignableTo(rt):
	default:
		return nil, &ArgError{Target: spec.Name, Msg: fmt.Sprintf("result type is %v, not %v", typeName(spec.Result), rt)}
	}
	p := &Process{Target: target, Args: args}
	if err := p.StartContext(ctx); err != nil {
		return nil, err
	}
	return &Job[R]{Process: p}, nil
}

func typeName(t reflect.Type) string {
	if t == nil {
		return "none"
	}
	return t.String()
}

// Go0 starts fn, a //mp:target function of no arguments, in a child process.
// The compiler checks fn's signature and the result type.
func Go0[R any](ctx context.Context, fn func(context.Context) (R, error)) (*Job[R], error) {
	return Spawn[R](ctx, fn)
}

// Go1 starts fn(ctx, a) in a child process; see Go0.
func Go1[A, R any](ctx context.Context, fn func(context.Context, A) (R, error), a A) (*Job[R], error) {
	return Spawn[R](ctx, fn, a)
}

// Go2 starts fn(ctx, a, b) in a child process; see Go0.
func Go2[A, B, R any](ctx context.Context, fn func(context.Context, A, B) (R, error), a A, b B) (*Job[R], error) {
	return Spawn[R](ctx, fn, a, b)
}

// Go3 starts fn(ctx, a, b, c) in a child process; see Go0.
func Go3[A, B, C, R any](ctx context.Context, fn func(context.Context, A, B, C) (R, error), a A, b B, c C) (*Job[R], error) {
	return Spawn[R](ctx, fn, a, b, c)
}
