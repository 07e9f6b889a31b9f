package mp

import (
	"errors"
	"fmt"
	"strings"
)

// Errors returned by Process methods before or instead of running a child.
var (
	// ErrNoGuard: the program has no mpgen main guard, so a child would
	// run main again (Python's missing `if __name__ == "__main__"`).
	// Start refuses to spawn.
	ErrNoGuard = errors.New("mp: this program has no mpgen main guard: add //go:generate go run github.com/mpgen/mpgen/cmd/mpgen to package main and run go generate (in a test binary, call mp.Guard() first thing in TestMain)")
	// ErrNotRegistered: the target is not in the dispatch table.
	ErrNotRegistered = errors.New("mp: target is not registered")
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
)

// ArgError reports arguments that do not fit the target's signature. Start
// returns it before any process is made.
type ArgError struct {
	Target string // registered target name
	Param  string // parameter concerned, if any
	Msg    string
}

func (e *ArgError) Error() string {
	if e.Param != "" {
		return fmt.Sprintf("mp: %s: argument %s: %s", e.Target, e.Param, e.Msg)
	}
	return fmt.Sprintf("mp: %s: %s", e.Target, e.Msg)
}

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

// ExitError reports a child that ended without sending an outcome: it
// called os.Exit, crashed in the Go runtime, or was killed by a signal.
type ExitError struct {
	Target string // registered target name
	Code   int    // exit code as Process.ExitCode reports it: -N for signal N
	Signal string // the signal's name when killed by one, else ""
}

func (e *ExitError) Error() string {
	if e.Signal != "" {
		return fmt.Sprintf("mp: child running %s was killed by signal %s (exit code %d)", e.Target, e.Signal, e.Code)
	}
	return fmt.Sprintf("mp: child running %s exited with code %d without a result", e.Target, e.Code)
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
