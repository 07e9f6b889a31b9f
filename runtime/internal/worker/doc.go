// Package worker is the seam between the pool's scheduler and the workers
// that run its calls, so that another transport (a remote worker) or
// another operating system's process layer plugs in without touching the
// scheduling.
//
// On the parent's side, Conn is one worker: it takes encoded calls (call,
// batch and cancel frames, with the descriptors of the calls' handles) and
// gives back encoded outcomes. Proc is the local implementation: a child
// process on a socketpair. On the worker's side, Handle runs one encoded
// call and returns its encoded outcome, whatever carried the call there:
// package mp installs the handler with SetHandler, and transports reach it
// through package mpimpl.
//
// It sits below package mp: it imports the wire, fdio and proc layers and
// never imports package mp or mpimpl.
package worker
