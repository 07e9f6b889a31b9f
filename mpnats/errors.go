package mpnats

import (
	"errors"
	"fmt"
	"time"
)

// ErrNoWorkers is matched (errors.Is) by the error of a call that no
// worker serves: none is running for the app, or none was built from code
// whose target has the same signature (see Signature).
var ErrNoWorkers = errors.New("mpnats: no worker serves this target")

// ErrMaxDeliver is matched by the error of a durable call that the work
// queue gave up on: it was delivered MaxDeliver times and no worker
// finished it, because its workers died or stopped while running it.
var ErrMaxDeliver = errors.New("mpnats: the work queue gave up on the call after MaxDeliver deliveries")

// noWorkers is the error of a call of target to subject that nobody
// serves.
func noWorkers(target, subject, hint string) error {
	return fmt.Errorf("%w: %s (subject %s): %s", ErrNoWorkers, target, subject, hint)
}

const (
	hintDirect  = "start a worker built from the same code (mpnats.Serve with the same App)"
	hintDurable = "start a worker with Durable(true), built from the same code, for the same App"
)

// WorkerLostError is the error of a direct call whose worker went silent:
// it sent no heartbeat for three periods (see Heartbeat), or it stopped
// while running the call. Direct calls are at most once: the call may or
// may not have run, in part or in full; it is not retried.
type WorkerLostError struct {
	Target string        // the call's target
	Silent time.Duration // how long nothing was heard (0 if the worker said it stopped)
}

func (e *WorkerLostError) Error() string {
	if e.Silent == 0 {
		return fmt.Sprintf("mpnats: the worker running a call of %s stopped before it ended; the call may have run in part", e.Target)
	}
	return fmt.Sprintf("mpnats: the worker running a call of %s was silent for %v (it died or lost its connection); the call may have run in part", e.Target, e.Silent.Round(time.Millisecond))
}

// TransportError is the error of a call that NATS could not carry: a
// publish that failed or that the server refused (the connection's
// permissions do not allow the call's subject: Err matches
// nats.ErrPermissionViolation), a message that did not decode, an object
// that could not be stored or fetched.
type TransportError struct {
	Op  string // what failed
	Err error
}

func (e *TransportError) Error() string { return "mpnats: " + e.Op + ": " + e.Err.Error() }

func (e *TransportError) Unwrap() error { return e.Err }
