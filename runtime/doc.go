// Package mp runs Go functions in child processes: Go's answer to Python's
// multiprocessing. Import it under the name mp, so it never shadows the
// standard runtime package:
//
//	import mp "github.com/mpgen/mpgen/runtime"
//
// A target is an ordinary top-level function annotated with //mp:target, or
// a named type annotated with //mp:target whose Run method is the body and
// whose exported fields travel to the child (Python's "subclass Process and
// override run"). The mpgen command (go generate) writes, per package, a
// zz_mpgen.go file that registers the package's targets with this package
// and, in package main, installs the main guard.
//
// A child is the program's own binary started again. Every package of the
// binary is initialised in the child, as Python re-imports the main module;
// then the guard, from the init function of package main, authenticates the
// parent's handshake on an inherited socket, runs the target, sends back
// its result, error or panic, and exits before main runs. Without the guard,
// Start refuses to spawn (ErrNoGuard): a missing guard is an error, never a
// fork bomb.
//
// The Python way:
//
//	p := &mp.Process{Target: work, Args: []any{"work_1"}}
//	q := &mp.Process{Target: work, Kwargs: map[string]any{"name": "work_2"}}
//	_ = p.Start()
//	err := p.Join()
//
// The Go way, with the result typed:
//
//	f, err := mp.Spawn[int](ctx, square, 7) // square: func(context.Context, int) (int, error)
//	n, err := f.Get()
//
// Blocking calls come in net's three forms: X blocks until done, XTimeout(d)
// gives up after d and XContext(ctx) when ctx is done, both with a
// *TimeoutError when the time runs out; a non-blocking form is TryX. Calls
// that start work (NewPool, Spawn, Process.StartContext, a pool's calls)
// take a context first and bind it to that work, as exec.CommandContext
// does.
//
// Errors keep their identity: a sentinel error of the target's package
// matches errors.Is in the parent, and an error type of that package is
// rebuilt for errors.As. A panic arrives as a *PanicError with the child's
// stack; a child that dies without a result as an *ExitError with its exit
// code or signal. Exit codes follow Python: 0 success, 1 error or panic,
// the code given to os.Exit, -N for signal N.
//
// A child never outlives its parent: it watches its control channel and
// exits when the parent is gone.
//
// Generated code imports package mpimpl, not this package: every name here
// is for user code.
package mp
