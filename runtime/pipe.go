package mp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"syscall"
	"time"

	"github.com/mpgen/mpgen/runtime/internal/fdio"
	"github.com/mpgen/mpgen/runtime/internal/wire"
)

// Conn is one end of a Pipe (Python's multiprocessing.connection.Connection):
// values of type T sent whole, in order, between processes. A Conn passed to
// a target as an argument travels as a descriptor beside the call, never as
// a serialized number, and the child's Conn is connected to the same peer.
//
// A Conn's methods may be called from many goroutines; receivers take turns,
// as do senders. Like Python's, an end shared by several processes delivers
// each message to exactly one receiver.
type Conn[T any] struct {
	sock    *fdio.Sock
	codec   Codec
	canSend bool
	canRecv bool
}

// closedError is the error of a Queue or Conn method called after Close
// in this process, or waiting in one when Close came: it matches
// ErrHandleClosed and os.ErrClosed.
type closedError struct{ op string }

func (e *closedError) Error() string {
	return "mp: " + e.op + ": " + strings.TrimPrefix(ErrHandleClosed.Error(), "mp: ")
}

// Is makes errors.Is(err, ErrHandleClosed) and errors.Is(err, os.ErrClosed)
// true.
func (e *closedError) Is(target error) bool {
	return target == ErrHandleClosed || target == os.ErrClosed
}

// closedAs turns the os.ErrClosed of a closed descriptor into op's
// *closedError; other errors pass unchanged.
func closedAs(err error, op string) error {
	if err != nil && errors.Is(err, os.ErrClosed) {
		return &closedError{op}
	}
	return err
}

// Pipe returns the two ends of a pipe (Python's Pipe(duplex)). With duplex
// each end sends to and receives from the other; without, a only receives
// and b only sends (Python's (r, w)).
func Pipe[T any](duplex bool) (a, b *Conn[T], err error) {
	sa, sb, err := fdio.SeqpacketPair()
	if err != nil {
		return nil, nil, err
	}
	return newConn[T](sa, duplex, true), newConn[T](sb, true, duplex), nil
}

func newConn[T any](s *fdio.Sock, send, recv bool) *Conn[T] {
	return &Conn[T]{sock: s, codec: gobCodec{}, canSend: send, canRecv: recv}
}

// Send sends v to the other end. It blocks only while the pipe's buffer is
// full. A value too large to travel inline rides in an anonymous memory
// file. Sending to an end nobody holds any more fails with an error that
// wraps io.ErrClosedPipe.
func (c *Conn[T]) Send(v T) error { return c.SendContext(context.Background(), v) }

// SendTimeout is Send that gives up after d, with a *TimeoutError.
func (c *Conn[T]) SendTimeout(v T, d time.Duration) error {
	ctx, cancel := timeoutCtx(d)
	defer cancel()
	return within(d, c.SendContext(ctx, v))
}

// SendContext is Send that gives up when ctx is done: with a *TimeoutError
// once its deadline passed, else with ctx.Err().
func (c *Conn[T]) SendContext(ctx context.Context, v T) error {
	if !c.canSend {
		return ErrWrongEnd
	}
	if c.sock.Closed() {
		return &closedError{"Conn.Send"}
	}
	start := startOf(ctx)
	msg, files, err := encodeMsg(c.codec, reflect.ValueOf(&v).Elem())
	if err != nil {
		return fmt.Errorf("mp: send %T: %w", v, err)
	}
	sent := false
	if _, timed := ctx.Deadline(); timed {
		// Try once first: the poller does not even try a write whose
		// deadline has passed, so SendTimeout(v, 0) would never send.
		sent, err = c.sock.TrySend(msg, files)
	}
	if !sent && err == nil {
		err = c.sock.Send(ctx, msg, files)
	}
	closeFiles(files)
	return asTimeout(closedAs(sendErr(err), "Conn.Send"), "Conn.Send", start, nil)
}

// sendErr says plainly that the peer is gone.
func sendErr(err error) error {
	if errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) {
		return fmt.Errorf("mp: send: the other end is closed: %w", io.ErrClosedPipe)
	}
	return err
}

// Recv waits for the next value (Python's recv). It returns io.EOF when the
// other end is closed (by every process that held it) and nothing is left.
func (c *Conn[T]) Recv() (T, error) { return c.RecvContext(context.Background()) }

// RecvTimeout is Recv that gives up after d, with a *TimeoutError.
func (c *Conn[T]) RecvTimeout(d time.Duration) (T, error) {
	ctx, cancel := timeoutCtx(d)
	defer cancel()
	v, err := c.RecvContext(ctx)
	return v, within(d, err)
}

// RecvContext is Recv that gives up when ctx is done: with a *TimeoutError
// once its deadline passed, else with ctx.Err().
func (c *Conn[T]) RecvContext(ctx context.Context) (T, error) {
	var v T
	if !c.canRecv {
		return v, ErrWrongEnd
	}
	if c.sock.Closed() {
		return v, &closedError{"Conn.Recv"}
	}
	start := startOf(ctx)
	buf, n, files, err := c.sock.Recv(ctx)
	if err != nil {
		if errors.Is(err, syscall.ECONNRESET) {
			err = io.EOF
		}
		return v, asTimeout(closedAs(err, "Conn.Recv"), "Conn.Recv", start, nil)
	}
	err = decodeMsg(c.codec, (*buf)[:n], files, &v)
	fdio.PutBuf(buf)
	return v, err
}

// Poll reports whether a value (or the end of the stream) can be received
// without waiting, waiting up to timeout for one; a negative timeout waits
// for ever (Python's poll(None)). It keeps Python's poll(timeout) shape
// rather than the Recv, RecvTimeout, RecvContext triple: it asks whether
// the end is ready, and a timeout is its answer false, not an error.
func (c *Conn[T]) Poll(timeout time.Duration) (bool, error) {
	if !c.canRecv {
		return false, ErrWrongEnd
	}
	if c.sock.Closed() {
		return false, &closedError{"Conn.Poll"}
	}
	ok, err := c.sock.Readable(context.Background(), timeout)
	return ok, closedAs(err, "Conn.Poll")
}

// Close closes this process's end (Python's close). The other end sees
// io.EOF once every process holding this end has closed it or exited.
//
// After Close, Send, Recv and Poll on this end (and those waiting in them)
// return an error that matches ErrHandleClosed and os.ErrClosed. Closing a
// closed end does nothing and returns nil, as in Python.
func (c *Conn[T]) Close() error {
	if err := c.sock.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return err
	}
	return nil
}

// waitFile is the descriptor Wait watches.
func (c *Conn[T]) waitFile() *os.File { return c.sock.File() }

const connMeta = "conn/1"

func (c *Conn[T]) mpExport() ([]byte, []*os.File, error) {
	if c.sock.Closed() {
		return nil, nil, ErrHandleClosed
	}
	var b wire.Encoder
	b.Str(connMeta)
	b.Str(c.codec.Name())
	b.Uvarint(boolBits(c.canSend, c.canRecv))
	return b, []*os.File{c.sock.File()}, nil
}

func (c *Conn[T]) mpImport(meta []byte, files []*os.File) error {
	r := wire.NewDecoder(meta)
	kind, codecName, bits := r.Str(), r.Str(), r.Uvarint()
	err := r.Done()
	if err == nil && kind != connMeta {
		err = fmt.Errorf("a %q handle cannot become a Conn", kind)
	}
	if err == nil && len(files) != 1 {
		err = fmt.Errorf("a Conn travels with 1 descriptor, got %d", len(files))
	}
	codec, ok := lookupCodec(codecName)
	if err == nil && !ok {
		err = fmt.Errorf("codec %q is not registered", codecName)
	}
	if err != nil {
		closeFiles(files)
		return fmt.Errorf("mp: import Conn: %w", err)
	}
	*c = Conn[T]{sock: fdio.NewSock(files[0]), codec: codec, canSend: bits&1 != 0, canRecv: bits&2 != 0}
	return nil
}

func boolBits(a, b bool) uint64 {
	var n uint64
	if a {
		n |= 1
	}
	if b {
		n |= 2
	}
	return n
}
