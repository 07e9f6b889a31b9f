package worker

import (
	"context"
	"os"
	"time"

	"github.com/mpgen/mpgen/runtime/internal/registry"
	"github.com/mpgen/mpgen/runtime/internal/wire"
)

// Frame is one frame for a worker: a call or a batch with the descriptors
// its handles travel with, or a cancel of call ID.
type Frame struct {
	Kind  wire.Kind
	ID    uint64
	Body  wire.Payload
	Files []*os.File // sent beside the frame; they stay the caller's
	// Spec is the target of a call or batch, and Deadline its context's
	// deadline (zero if none): a remote transport routes and bounds the
	// call by them.
	Spec     *registry.Spec
	Deadline time.Time
}

// Conn is the parent's side of one worker, started and ready for calls
// (its initializer, if any, has run). The pool calls Send and CloseWrite
// from one goroutine at a time and Recv from one reader; Kill, Pid and RSS
// may be called at any time.
type Conn interface {
	// Send writes frames in order, small ones together in as few writes
	// as it can; it keeps neither the frames nor their descriptors once it
	// returns. An error means the worker cannot take calls any more.
	Send(fs ...Frame) error
	// Recv returns the next outcome: a result, error, panic, batch result
	// or refused frame, whose ID is the call's. When the worker has ended
	// it returns io.EOF (or another error of a channel's end: a reset, a
	// closed file); any other error is a protocol failure.
	Recv() (wire.Frame, error)
	// TakeFiles takes n descriptors that arrived with the frames Recv
	// returned (a worker's kept frame carries its queue's: see
	// wire.KindKept). A worker that cannot pass descriptors returns an
	// error.
	TakeFiles(n int) ([]*os.File, error)
	// Buffered reports whether a whole outcome has already arrived, so
	// that Recv returns without waiting.
	Buffered() bool
	// CloseWrite tells the worker that no more calls come: it finishes
	// the calls it has, and ends.
	CloseWrite()
	// Kill stops the worker now; Recv then ends.
	Kill()
	// Wait waits until the worker has ended, releases what it holds and
	// returns how it ended: its exit code, or a negative signal number
	// and the signal's name (proc.ExitStatus). Calling it again returns
	// the same.
	Wait() (code int, signal string)
	// Pid identifies the worker: its process id.
	Pid() int
	// RSS returns the worker's resident memory in bytes; ok is false
	// where that is unknown.
	RSS() (bytes int64, ok bool)
}

// Handler runs one encoded call: f is a call or batch frame, with the
// descriptors that arrived for its handles (which it consumes). It returns
// the encoded outcome: the kind of a result, error, panic or batch result
// frame and its body, in pieces to be written in order.
type Handler func(ctx context.Context, f wire.Frame) (wire.Kind, wire.Payload)

var handler Handler

// SetHandler installs the program's Handler. Package mp calls it from an
// init function, before any call can arrive.
func SetHandler(h Handler) { handler = h }

// Handle runs f with the installed Handler. Without one (package mp is
// not linked in), it returns an error outcome.
func Handle(ctx context.Context, f wire.Frame) (wire.Kind, wire.Payload) {
	if handler == nil {
		closeFiles(f.Files)
		return wire.KindError, wire.Payload{(&wire.ErrorMsg{Message: "mp: no call handler is installed in this process", Type: "*errors.errorString"}).Encode()}
	}
	return handler(ctx, f)
}

func closeFiles(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}
