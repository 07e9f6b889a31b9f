package mp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"reflect"
	"strings"
	"syscall"
	"time"

	"github.com/mpgen/mpgen/runtime/internal/proc"
	"github.com/mpgen/mpgen/runtime/internal/registry"
	"github.com/mpgen/mpgen/runtime/internal/sandbox"
)

// The sentinel errors of package mp. Each travels back from a child's
// target: errors.Is matches it in the parent.
var (
	// ErrNoGuard: the program has no mpgen main guard, so a child would
	// run main again (Python's missing `if __name__ == "__main__"`).
	// Start refuses to spawn.
	ErrNoGuard = errors.New("mp: this program has no mpgen main guard: add //go:generate go tool mpgen to package main (after go get -tool github.com/mpgen/mpgen/cmd/mpgen) and run go generate (in a test binary, call mp.Guard() first thing in TestMain)")
	// ErrNotRegistered: the target is not in the dispatch table.
	ErrNotRegistered = registry.ErrNotRegistered
	// ErrStarted: Start was called twice (a process can be started once).
	ErrStarted = errors.New("mp: process already started")
	// ErrNotStarted: the method needs a started process.
	ErrNotStarted = errors.New("mp: process not started")
	// ErrRunning: Close was called on a process that is still running.
	ErrRunning = errors.New("mp: process is still running: Join, Terminate or Kill it before Close")
	// ErrClosed: the process was closed.
	ErrClosed = errors.New("mp: process is closed")
	// ErrDaemonChildren: a daemon process tried to start a child, which
	// Python forbids too (its children would be orphaned when it is
	// terminated).
	ErrDaemonChildren = errors.New("mp: a daemon process cannot start child processes")

	// ErrPoolClosed: work was submitted after Close or Terminate.
	ErrPoolClosed = errors.New("mp: pool is closed")
	// ErrPoolTerminated: the call was pending when Terminate stopped the pool.
	ErrPoolTerminated = errors.New("mp: pool terminated")

	// ErrWrongEnd is returned by Send on the receiving end of a one-way
	// pipe, and by Recv and Poll on its sending end.
	ErrWrongEnd = errors.New("mp: this end of a one-way pipe cannot do that")
	// ErrQueueShutDown is returned by Get once a shut-down queue is empty,
	// and by Put on a shut-down queue (Python's queue.ShutDown).
	ErrQueueShutDown = errors.New("mp: queue is shut down")
	// ErrQueueFull is matched by the *TimeoutError of PutTimeout and
	// PutContext when a bounded queue had no room in time (Python's
	// queue.Full).
	ErrQueueFull = errors.New("mp: queue is full")
	// ErrQueueEmpty is returned by TryGet when the queue has nothing ready,
	// and matched by the *TimeoutError of GetTimeout and GetContext when
	// nothing came in time (Python's queue.Empty).
	ErrQueueEmpty = errors.New("mp: queue is empty")
	// ErrTaskDoneTooOften is returned by TaskDone called more times than
	// values were put (Python's ValueError: task_done() called too many
	// times).
	ErrTaskDoneTooOften = errors.New("mp: Queue.TaskDone called more times than values were put")

	// ErrLockAbandoned: the lock's holder died while holding it. The caller
	// now holds the lock, as after a successful acquire, but the state the
	// lock protects may be half-updated: repair or check it, then unlock.
	// It is pthread's EOWNERDEAD and Windows' WAIT_ABANDONED.
	ErrLockAbandoned = errors.New("mp: lock abandoned: its holder died while holding it; the caller now holds the lock, but the state it protects may be inconsistent")
	// ErrNotOwner: an RLock was released by a process that does not hold it.
	ErrNotOwner = errors.New("mp: lock released by a process that does not hold it")
	// ErrNotLocked: a lock was released while not held (Python raises
	// RuntimeError or ValueError).
	ErrNotLocked = errors.New("mp: release of an unlocked lock")
	// ErrTooManyReleases: a BoundedSemaphore was released more often than
	// acquired (Python's ValueError "semaphore or lock released too many
	// times").
	ErrTooManyReleases = errors.New("mp: bounded semaphore released too many times")
	// ErrBrokenBarrier: the barrier was aborted, reset, or a waiter gave up
	// (timeout or cancelled context) while others waited (Python's
	// threading.BrokenBarrierError).
	ErrBrokenBarrier = errors.New("mp: barrier is broken")
	// ErrHandleClosed: the shared object was closed in this process.
	ErrHandleClosed = errors.New("mp: shared object is closed")
	// ErrTooManyWaiters: a Condition's Wait found 4096 waits already in
	// progress (processes or goroutines); it returns at once, with the lock
	// still held.
	ErrTooManyWaiters = errors.New("mp: too many waiters: a Condition has room for 4096 waits at once")

	// ErrTooLarge: a value would not fit the frame limit its receiver
	// applies (SetMaxFrameSize; a child has its parent's). The sender finds
	// out before anything is sent: Start, a pool call, NewPool's initializer
	// and a Map or Starmap chunk fail with an *ArgError that wraps it, and
	// nothing is spawned or sent; Queue.Put and Conn.Send return an error
	// that wraps it, and the value stays with the caller; a target whose
	// result (or error) is too large fails with it in the parent instead,
	// and a pool worker lives on.
	ErrTooLarge = errors.New("mp: over the frame limit")
)

// Package mp's sentinels, the standard library's, and *TimeoutError travel
// back from a child's target: errors.Is and errors.As work on them in the
// parent as they would have in the child (a target's own package registers
// its errors from generated code).
func init() {
	const pkg = "github.com/mpgen/mpgen/runtime."
	for name, err := range map[string]error{
		"ErrNoGuard": ErrNoGuard, "ErrNotRegistered": ErrNotRegistered, "ErrStarted": ErrStarted,
		"ErrNotStarted": ErrNotStarted, "ErrRunning": ErrRunning, "ErrClosed": ErrClosed,
		"ErrDaemonChildren": ErrDaemonChildren, "ErrPoolClosed": ErrPoolClosed, "ErrPoolTerminated": ErrPoolTerminated,
		"ErrWrongEnd": ErrWrongEnd, "ErrQueueShutDown": ErrQueueShutDown, "ErrQueueFull": ErrQueueFull,
		"ErrQueueEmpty": ErrQueueEmpty, "ErrTaskDoneTooOften": ErrTaskDoneTooOften,
		"ErrLockAbandoned": ErrLockAbandoned, "ErrNotOwner": ErrNotOwner, "ErrNotLocked": ErrNotLocked,
		"ErrTooManyReleases": ErrTooManyReleases, "ErrBrokenBarrier": ErrBrokenBarrier, "ErrHandleClosed": ErrHandleClosed,
		"ErrTooManyWaiters": ErrTooManyWaiters, "ErrTooLarge": ErrTooLarge,
	} {
		registry.RegisterError(pkg+name, err)
	}
	for name, err := range map[string]error{
		"context.Canceled": context.Canceled, "context.DeadlineExceeded": context.DeadlineExceeded,
		"errors.ErrUnsupported": errors.ErrUnsupported,
		"io.EOF":                io.EOF, "io.ErrUnexpectedEOF": io.ErrUnexpectedEOF, "io.ErrClosedPipe": io.ErrClosedPipe,
		"io.ErrShortWrite": io.ErrShortWrite, "io.ErrShortBuffer": io.ErrShortBuffer, "io.ErrNoProgress": io.ErrNoProgress,
		"io/fs.ErrInvalid": fs.ErrInvalid, "io/fs.ErrPermission": fs.ErrPermission, "io/fs.ErrExist": fs.ErrExist,
		"io/fs.ErrNotExist": fs.ErrNotExist, "io/fs.ErrClosed": fs.ErrClosed,
		"os.ErrDeadlineExceeded": os.ErrDeadlineExceeded, "os.ErrNoDeadline": os.ErrNoDeadline,
		"os.ErrProcessDone": os.ErrProcessDone,
	} {
		registry.RegisterError(name, err)
	}
	registry.RegisterErrorType(pkg+"TimeoutError", reflect.TypeFor[*TimeoutError]())
	// A system call's error number travels as itself: errors.Is(err,
	// syscall.EACCES) holds in the parent as in the child, as Python's
	// OSError keeps its errno.
	registry.RegisterErrorType("syscall.Errno", reflect.TypeFor[syscall.Errno]())
	registry.RegisterErrorType(pkg+"LimitError", reflect.TypeFor[*LimitError]())
}

// TimeoutError reports a blocking call that gave up because its time ran
// out: an XTimeout call (Lock.AcquireTimeout, Queue.GetTimeout,
// Process.JoinTimeout, ...) whose duration passed, an XContext call whose
// context's deadline passed, or a pool call whose context's deadline passed
// (if it was running, its worker was killed and replaced). A call whose
// context is cancelled returns ctx.Err() instead.
//
// It matches context.DeadlineExceeded and os.ErrDeadlineExceeded with
// errors.Is and reports Timeout() true, as net's timeouts do. The timeouts
// of Queue.Get and Queue.Put also match ErrQueueEmpty and ErrQueueFull
// (Python raises queue.Empty and queue.Full), and a Barrier wait that timed
// out, which breaks the barrier, matches ErrBrokenBarrier.
type TimeoutError struct {
	// Op is what timed out: "Lock.Acquire", "Queue.Get", "Process.Join",
	// ..., or "call of " and the target's name for a pool call.
	Op string
	// After is how long the call waited: the duration given to an XTimeout
	// call, the time waited by an XContext call, or how long a pool call
	// had been running (0 if no worker had taken it yet).
	After time.Duration

	err error // ErrQueueEmpty, ErrQueueFull or ErrBrokenBarrier, or nil
}

func (e *TimeoutError) Error() string {
	s := "mp: " + e.Op + " timed out"
	if e.After > 0 {
		s += " after " + e.After.Round(time.Millisecond).String()
	}
	if e.err != nil {
		s += ": " + strings.TrimPrefix(e.err.Error(), "mp: ")
	}
	return s
}

// Timeout reports true, as net.Error does for a timeout.
func (e *TimeoutError) Timeout() bool { return true }

// Is makes errors.Is(err, context.DeadlineExceeded) and errors.Is(err,
// os.ErrDeadlineExceeded) true.
func (e *TimeoutError) Is(target error) bool {
	return target == context.DeadlineExceeded || target == os.ErrDeadlineExceeded
}

// Unwrap returns ErrQueueEmpty, ErrQueueFull or ErrBrokenBarrier for the
// timeouts that also mean those, else nil.
func (e *TimeoutError) Unwrap() error { return e.err }

// startOf returns when an XContext call started, to report how long it
// waited; a context that can never be done needs no clock.
func startOf(ctx context.Context) time.Time {
	if ctx.Done() == nil {
		return time.Time{}
	}
	return time.Now()
}

// giveUp is the error of an XContext call for op that started at start and
// whose ctx is done: a *TimeoutError once the deadline passed, else
// ctx.Err().
func giveUp(ctx context.Context, op string, start time.Time) error {
	return asTimeout(ctx.Err(), op, start, nil)
}

// asTimeout turns context.DeadlineExceeded, the error of a wait for op
// that started at start, into a *TimeoutError that also matches also (when
// not nil). Other errors pass unchanged.
func asTimeout(err error, op string, start time.Time, also error) error {
	if err != context.DeadlineExceeded {
		return err
	}
	var after time.Duration
	if !start.IsZero() {
		after = time.Since(start)
	}
	return &TimeoutError{Op: op, After: after, err: also}
}

// ended waits until done is closed, and reports true, or until ctx is
// done, and reports false. A closed done wins over a done ctx, so an
// XTimeout call with d <= 0 looks once.
func ended[T any](ctx context.Context, done <-chan T) bool {
	select {
	case <-done:
		return true
	default:
	}
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

// within gives the *TimeoutError of an XTimeout call the duration d it was
// given, and returns err.
func within(d time.Duration, err error) error {
	if te, ok := err.(*TimeoutError); ok {
		te.After = max(d, 0)
	}
	return err
}

// timeoutCtx is the context of an XTimeout call: done after d (at once
// when d <= 0).
func timeoutCtx(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), max(d, 0))
}

// ArgError reports arguments that do not fit the target's signature, or
// that are too large to send (it then wraps ErrTooLarge). Start returns it
// before any process is made.
type ArgError struct {
	Target string // registered target name
	Param  string // parameter concerned, if any
	Msg    string

	err error // ErrTooLarge, or nil
}

func (e *ArgError) Error() string {
	if e.Param != "" {
		return fmt.Sprintf("mp: %s: argument %s: %s", e.Target, e.Param, e.Msg)
	}
	return fmt.Sprintf("mp: %s: %s", e.Target, e.Msg)
}

// Unwrap returns ErrTooLarge for arguments over the frame limit, else nil.
func (e *ArgError) Unwrap() error { return e.err }

// RemoteError is an error a target returned in a child process. Its chain
// (Unwrap) holds the registered sentinel errors the original matched and the
// registered error types found in the original chain, rebuilt in this
// process, so errors.Is and errors.As work as they would have in the child.
type RemoteError struct {
	Target  string // registered target name
	Message string // the error's Error() text
	Type    string // the error's dynamic Go type, e.g. "*fs.PathError"
	wrapped []error
}

func (e *RemoteError) Error() string { return e.Message }

// Unwrap returns the sentinel errors and typed errors rebuilt from the child.
func (e *RemoteError) Unwrap() []error { return e.wrapped }

// PanicError reports a panic in a target, with the child's stack.
type PanicError struct {
	Target string // registered target name
	Value  string // the panic value, formatted with %v
	Type   string // the panic value's Go type
	Stack  string // the child's goroutine stack at the panic
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("mp: target %s panicked: %s", e.Target, e.Value)
}

// ExitCause says why a child ended without sending an outcome.
type ExitCause int

// The causes of an *ExitError.
const (
	// CauseExit: the child exited with a code of its own (os.Exit,
	// log.Fatal, a failed startup).
	CauseExit ExitCause = iota
	// CauseSignal: a signal killed it (Process.Kill, Terminate, another
	// process, a crash in C code), and nothing says it was the OOM
	// killer.
	CauseSignal
	// CauseOOMKill: the kernel's OOM killer killed it. Linux only, and an
	// inference: the child died of a SIGKILL this process did not send
	// while the kernel's count of OOM kills (/proc/vmstat oom_kill, which
	// counts the kills of a memory cgroup's limit too) rose during the
	// child's life. A SIGKILL sent by someone else to a child during
	// whose life the OOM killer killed any other process is taken for
	// one; elsewhere an OOM kill is a CauseSignal, and MaxRSS is the
	// clue.
	CauseOOMKill
	// CauseFatal: the Go runtime stopped the child with a fatal error
	// (exit code 2 and a "fatal error: " line on its stderr: concurrent
	// map writes, the Go heap out of memory, all goroutines asleep, ...),
	// or with its report of a signal in its own code or in C
	// ("SIGSEGV: segmentation violation", "runtime/cgo: ...").
	CauseFatal
	// CausePanic: a panic outside the target's own goroutine crashed the
	// child (exit code 2 and a "panic: " line on its stderr). A panic in
	// the target itself is reported as a *PanicError instead.
	CausePanic
	// CauseLimit: the child exceeded a limit set on it; Err says which.
	CauseLimit
)

var causeNames = [...]string{"exit", "signal", "oom-kill", "fatal", "panic", "limit"}

// String returns the cause's short name: "exit", "signal", "oom-kill",
// "fatal", "panic" or "limit".
func (c ExitCause) String() string {
	if c >= 0 && int(c) < len(causeNames) {
		return causeNames[c]
	}
	return fmt.Sprintf("ExitCause(%d)", int(c))
}

// ExitError reports a child that ended without sending an outcome: it
// called os.Exit, crashed in the Go runtime, or was killed by a signal.
// Cause says which, and Stderr holds the last lines the child wrote to its
// stderr, so that a crash can be debugged from the error alone.
type ExitError struct {
	Target string // registered target name
	Code   int    // exit code as Process.ExitCode reports it: -N for signal N
	Signal string // the signal's name when killed by one, else ""
	// Cause classifies the end (see ExitCause).
	Cause ExitCause
	// Stderr is the end of what the child wrote to its stderr: its last
	// 16 lines, 4 KiB at most, without the final newline. When the
	// line that starts a Go crash report ("fatal error: ..." or "panic:
	// ...") came before those lines, it is kept, first, followed by a line
	// "[...]".
	Stderr string
	// MaxRSS is the child's peak resident memory in bytes (Unix; 0 where
	// unknown).
	MaxRSS int64
	// Err is a more specific cause, when one is known (for CauseLimit,
	// the limit's error), else nil.
	Err error
}

func (e *ExitError) Error() string {
	var s string
	switch e.Cause {
	case CauseOOMKill:
		s = fmt.Sprintf("mp: child running %s was killed by the kernel's OOM killer (signal %s, exit code %d, peak RSS %d MiB)", e.Target, e.Signal, e.Code, e.MaxRSS>>20)
	case CauseFatal:
		s = fmt.Sprintf("mp: child running %s died of a fatal Go runtime error (exit code %d)", e.Target, e.Code)
	case CausePanic:
		s = fmt.Sprintf("mp: child running %s crashed with a panic outside the target (exit code %d)", e.Target, e.Code)
	case CauseLimit:
		s = fmt.Sprintf("mp: child running %s exceeded a limit (exit code %d)", e.Target, e.Code)
	default:
		if e.Signal != "" {
			s = fmt.Sprintf("mp: child running %s was killed by signal %s (exit code %d)", e.Target, e.Signal, e.Code)
		} else {
			s = fmt.Sprintf("mp: child running %s exited with code %d without a result", e.Target, e.Code)
		}
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	if l := e.stderrLine(); l != "" {
		s += "; stderr: " + l
	}
	return s
}

// stderrLine is the line of Stderr that Error quotes: the crash report's
// first line for a crash, else the last line, cut to 200 bytes.
func (e *ExitError) stderrLine() string {
	l := strings.TrimSpace(e.Stderr)
	if c := crashLine(e.Stderr); c != "" && (e.Cause == CauseFatal || e.Cause == CausePanic) {
		l = c
	} else if i := strings.LastIndexByte(l, '\n'); i >= 0 {
		l = strings.TrimSpace(l[i+1:])
	}
	if len(l) > 200 {
		l = l[:200] + "..."
	}
	return l
}

// crashLine returns the first line of s that starts a Go crash report, or
// "".
func crashLine(s string) string {
	for l := range strings.Lines(s) {
		if strings.HasPrefix(l, "fatal error: ") || strings.HasPrefix(l, "panic: ") {
			return strings.TrimRight(l, "\r\n")
		}
	}
	return ""
}

// Unwrap returns Err, the more specific cause, or nil.
func (e *ExitError) Unwrap() error { return e.Err }

// exitErrorOf is the *ExitError of a child running target that ended as d
// says, in the sandbox sp (nil: none).
func exitErrorOf(target string, d proc.Death, sp *sandbox.Spec) *ExitError {
	e := &ExitError{Target: target, Code: d.Code, Signal: d.Signal, Stderr: d.Stderr, MaxRSS: d.MaxRSS}
	crashed := d.Code == 2 || d.Signal == "SIGABRT" // GOTRACEBACK=crash aborts
	switch le := limitFault(sp, d); {
	case le != nil:
		e.Cause, e.Err = CauseLimit, le
	case d.OOMKill:
		e.Cause = CauseOOMKill
	case crashed && strings.HasPrefix(d.Crash, "panic: "):
		e.Cause = CausePanic
	case crashed && d.Crash != "": // "fatal error: ", or a signal in the runtime or in C
		e.Cause = CauseFatal
	case d.Signal != "":
		e.Cause = CauseSignal
	}
	return e
}

// ProtocolError reports a broken conversation with a child: a garbled,
// truncated or oversized frame, or a failed handshake.
type ProtocolError struct {
	Op  string // what was going on, e.g. "read result"
	Err error
}

func (e *ProtocolError) Error() string { return "mp: protocol error: " + e.Op + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *ProtocolError) Unwrap() error { return e.Err }

// joinLines formats a list of names for messages.
func joinLines(names []string) string { return strings.Join(names, ", ") }
