package mp

import (
	"context"
	"fmt"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/mpgen/mpgen/runtime/internal/wire"
)

// Spawn starts target in a child process of its own with positional args
// and returns the Future of its result, typed R: Python's Process with the
// target's return value kept. The arguments are checked at Start as for
// Process; R must be the target's result type (any, or struct{} for a
// target without a result, also fit). ctx is the child's: when it is done
// before the child ends, the child is terminated as by Process.Terminate,
// and Get reports it as for a pool call: a *TimeoutError once ctx's
// deadline passed, else ctx.Err() (context.Canceled).
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
	since := time.Now()
	if err := p.StartContext(ctx); err != nil {
		return nil, err
	}
	return &Future[R]{p: p, since: since}, nil
}

func typeName(t reflect.Type) string {
	if t == nil {
		return "none"
	}
	return t.String()
}

// Future is the pending result of a call: a call submitted to a Pool
// (ApplyAsync, Submit; Python's AsyncResult, concurrent.futures.Future) or
// a target started in a child process of its own (Spawn). Both read alike:
// Get waits for the result, Done, Ready and Successful look at it, Cancel
// gives up on it.
type Future[R any] struct {
	t         *task     // a pool call, or
	p         *Process  // a spawned child
	since     time.Time // when the child was started
	cancelled atomic.Bool
}

// Get waits for the call and returns its result (Python's get): the
// target's result, or its error, panic (*PanicError) or abnormal end.
func (f *Future[R]) Get() (R, error) { return f.GetContext(context.Background()) }

// GetTimeout is Get that gives up after d with a *TimeoutError; the call
// goes on.
func (f *Future[R]) GetTimeout(d time.Duration) (R, error) {
	ctx, cancel := timeoutCtx(d)
	defer cancel()
	v, err := f.GetContext(ctx)
	return v, within(d, err)
}

// GetContext is Get that gives up when ctx is done: with a *TimeoutError
// once its deadline passed, else with ctx.Err(); the call goes on (the
// context given when the call started is the one that stops it).
func (f *Future[R]) GetContext(ctx context.Context) (R, error) {
	var zero R
	start := startOf(ctx)
	if !ended(ctx, f.Done()) {
		return zero, giveUp(ctx, "Future.Get", start)
	}
	res, err := f.outcome()
	if err != nil {
		return zero, err
	}
	if res == nil {
		return zero, nil
	}
	return res.(R), nil
}

// outcome returns the finished call's result and error.
func (f *Future[R]) outcome() (any, error) {
	if f.p == nil {
		return f.t.result, f.t.err
	}
	if f.cancelled.Load() {
		return nil, context.Canceled
	}
	res, err := f.p.Result()
	if err == nil {
		return res, nil
	}
	// A child its context terminated fails as a pool call does, whatever
	// the signal or its target's cancelled context made it report.
	if cause, name := f.p.stoppedBy(); cause != nil {
		return nil, asTimeout(cause, "call of "+name, f.since, nil)
	}
	return nil, err
}

// Done returns a channel closed when the call has finished.
func (f *Future[R]) Done() <-chan struct{} {
	if f.p != nil {
		return f.p.Sentinel()
	}
	return f.t.done
}

// Ready reports whether the call has finished (Python's ready).
func (f *Future[R]) Ready() bool {
	select {
	case <-f.Done():
		return true
	default:
		return false
	}
}

// Successful reports whether the call finished without error (Python's
// successful; false while it runs).
func (f *Future[R]) Successful() bool {
	if !f.Ready() {
		return false
	}
	_, err := f.outcome()
	return err == nil
}

// Submit is ApplyAsync with a result typed R, checked against the target's
// registered result type before anything is sent.
func Submit[R any](ctx context.Context, p *Pool, target any, args ...any) *Future[R] {
	spec, body, files, err := p.prepare(ctx, target, args, nil)
	if err == nil {
		err = checkResult[R](spec)
	}
	if err != nil {
		closeFiles(files)
		return failed[R](err)
	}
	t := newTask(ctx, spec, p.cfg.codec, wire.KindCall, body, 1)
	t.files = files
	p.submit(t)
	return &Future[R]{t: t}
}

// Cancel gives up on the call and reports whether it did; Get then returns
// context.Canceled. A pool call is cancelled only if no worker has taken
// it yet (Python's Future.cancel; cancel its context to stop a running
// one). A spawned child that is still running is terminated, as by
// Process.Terminate. A finished call is not cancelled.
func (f *Future[R]) Cancel() bool {
	if f.p != nil {
		if !f.p.IsAlive() {
			return false
		}
		f.cancelled.Store(true)
		_ = f.p.Terminate()
		return true
	}
	f.t.mu.Lock()
	queued := f.t.worker == nil && !f.t.finished()
	if queued {
		f.t.dropped = true // before the lock is let go: start skips it
	}
	f.t.mu.Unlock()
	if !queued {
		return false
	}
	f.t.finish(nil, context.Canceled)
	return f.t.err == context.Canceled
}
