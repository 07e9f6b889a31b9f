package mp

import (
	"context"
	"fmt"
	"reflect"
)

// Spawn starts target in a child process of its own with positional args
// and returns the Future of its result, typed R: Python's Process with the
// target's return value kept. The arguments are checked at Start as for
// Process; R must be the target's result type (any, or struct{} for a
// target without a result, also fit). ctx is the child's: when it is done
// before the child ends, the child is terminated as by Process.Terminate.
// For the other fields of a Process (Name, Daemon, Stdout, ...), start a
// &Process{...} and read Process.Result.
func Spawn[R any](ctx context.Context, target any, args ...any) (*Future[R], error) {
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
	return &Future[R]{p: p}, nil
}

func typeName(t reflect.Type) string {
	if t == nil {
		return "none"
	}
	return t.String()
}
