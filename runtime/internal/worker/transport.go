package worker

import (
	"context"
	"fmt"
)

// Transport is how a pool whose workers are not its own children (remote
// workers reached through a message broker, say) gets its Conns. Such a
// pool starts no process: each Conn it starts is one slot of the
// transport's workers and holds one call at a time, and the pool keeps as
// many Conns as Slots says.
type Transport struct {
	// Name names the transport in errors ("mpnats").
	Name string
	// Start returns a new Conn, ready for calls. Its Pid is 0, its RSS
	// unknown, its TakeFiles an error. Its Send reports a call it could
	// not send as a CallError from Recv, not as an error. Kill gives up on
	// its call (the transport cancels it where it runs; the pool fails it
	// with ErrPoolTerminated, as Terminate alone kills a remote Conn), and
	// Wait then reports what a killed child's would: -9, "SIGKILL".
	Start func(ctx context.Context) (Conn, error)
	// Slots returns how many calls the transport's workers run at once
	// now; the pool grows to that many Conns as work arrives. It is read
	// often and must return quickly; below 1 counts as 1.
	Slots func() int
}

// CallError is what a Transport's Conn returns from Recv when one call
// failed in the transport (no worker serves its target, the worker
// running it was lost) while the Conn itself goes on: the pool fails call
// ID with Err and reads on.
type CallError struct {
	ID  uint64
	Err error
}

func (e *CallError) Error() string { return fmt.Sprintf("call %d: %v", e.ID, e.Err) }

func (e *CallError) Unwrap() error { return e.Err }

// RemotePool makes the pool option that gives a pool a Transport: package
// mp sets it from an init function, and package mpimpl hands it to
// transports (the option's type is mp's, which this package cannot name).
var RemotePool func(t Transport) any
