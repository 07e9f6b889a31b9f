package mp

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Propagator carries request-scoped values, such as a trace context, from
// the context of a call in one process into the context of its target in
// another: Inject runs in the caller, once per call, and Extract in the
// child or pool worker that runs the call, on the call's own context. It
// mirrors OpenTelemetry's TextMapPropagator without depending on it (the
// module github.com/mpgen/mpgen/mpotel adapts one).
//
// Inject returns the values to carry, or nil for none: a nil or empty map
// costs the call nothing. The map travels inside the call's frame (so a
// call that a transport such as mpnats carries has it too), and Extract
// receives it as it was, in a process that must have the same Propagator:
// set it from an init function, since a child runs the program's package
// inits but not its main.
type Propagator interface {
	Inject(ctx context.Context) map[string]string
	Extract(ctx context.Context, carrier map[string]string) context.Context
}

// propagator is the Propagator SetPropagator set; nil when none is.
var propagator atomic.Pointer[Propagator]

// SetPropagator makes p carry the values of each call's context into its
// target's context: that of Process.StartContext (and Spawn), of a pool's
// Apply, ApplyAsync and Submit, and of Map, IMap and Starmap, whose every
// item runs in a context with the values of the Map call's. A pool's
// Initializer runs outside any call and gets none. A nil p removes the
// Propagator; with none set, calls carry nothing.
//
// Call it from an init function, so that every process of the program,
// the children included, has the same Propagator.
func SetPropagator(p Propagator) {
	if p == nil {
		propagator.Store(nil)
		return
	}
	propagator.Store(&p)
}

// inject returns the values the Propagator takes from ctx, or nil when no
// Propagator is set: then a call costs one atomic load more.
func inject(ctx context.Context) map[string]string {
	p := propagator.Load()
	if p == nil || ctx == nil {
		return nil
	}
	return (*p).Inject(ctx)
}

// extract returns ctx with the values a call carried, as the Propagator
// restores them; ctx itself when the call carried none or no Propagator is
// set here.
func extract(ctx context.Context, carrier map[string]string) context.Context {
	if len(carrier) == 0 {
		return ctx
	}
	p := propagator.Load()
	if p == nil {
		return ctx
	}
	return (*p).Extract(ctx, carrier)
}

// childExitTimeout bounds the AtChildExit functions: a child whose parent
// is gone, or whose exporter hangs, still ends.
const childExitTimeout = 5 * time.Second

var childExit struct {
	sync.Mutex
	fs   []func(context.Context)
	once sync.Once
}

// AtChildExit registers f to run when this process, a child that mpgen
// started, ends of its own accord: a Process's child after its target has
// reported its outcome; a pool worker when it is retired (Close,
// MaxTasksPerChild, IdleTimeout, MaxRSS) or finds its parent gone; and a
// child stopped by Terminate (or SIGTERM) once its target has returned,
// before it dies of the signal (a target without a context dies of the
// signal at once, as in Python, and runs none). It is where a child
// flushes what it buffers, such as a tracer's spans: a child ends by
// os.Exit, which runs no deferred function.
//
// The functions run once, the last registered first, with a context whose
// deadline (5 seconds) bounds them all: the child ends then even if they
// have not returned. A child that is killed (Kill, a call's timeout, the
// kernel's OOM killer) runs none. In the parent, which is no child, they
// never run: its own main is the place for that. Register from an init
// function, since a child runs the program's package inits but not main.
func AtChildExit(f func(ctx context.Context)) {
	if f == nil {
		return
	}
	childExit.Lock()
	defer childExit.Unlock()
	childExit.fs = append(childExit.fs, f)
}

// runChildExit runs the AtChildExit functions, once: a second caller (a
// goroutine that finds the parent gone while the child ends anyway) waits
// for the first to finish, within the same bound, before it exits.
func runChildExit() { childExit.once.Do(runChildExitOnce) }

func runChildExitOnce() {
	childExit.Lock()
	fs := childExit.fs
	childExit.fs = nil
	childExit.Unlock()
	if len(fs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), childExitTimeout)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := len(fs) - 1; i >= 0; i-- {
			runExitFunc(ctx, fs[i])
		}
	}()
	select {
	case <-done:
	case <-ctx.Done():
		fmt.Fprintf(os.Stderr, "mpgen: AtChildExit functions still running after %v: exiting anyway\n", childExitTimeout)
	}
}

// runExitFunc runs one AtChildExit function; its panic is reported, not
// allowed to end the child before the others have run.
func runExitFunc(ctx context.Context, f func(context.Context)) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "mpgen: an AtChildExit function panicked: %v\n", r)
		}
	}()
	f(ctx)
}
