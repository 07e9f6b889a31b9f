//go:build unix

package fdio

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// Sock is one end of a connected pair of message sockets: each send is
// one message, delivered whole to exactly one receiver however many
// processes share the end, and in order. Conn and Queue are built on it.
// How the pair carries messages depends on the build: SOCK_SEQPACKET on
// Linux (sock_seqpacket_linux.go), fixed-size records on a SOCK_STREAM
// elsewhere and in the portable build (sock_stream.go).
//
// Receivers take turns (rx) and senders take turns (tx), so that the one
// whose turn it is may move the file's deadline to honour its context
// without disturbing the others.
type Sock struct {
	f      *os.File
	rc     syscall.RawConn
	rx     chan struct{}
	tx     chan struct{}
	oob    []byte // the control-message buffer of the receiver whose turn it is
	closed atomic.Bool
}

// recvBufSize is the size of the buffers Recv reads into.
const recvBufSize = MaxMsg

// NewSock adopts f, a message socket (from SeqpacketPair or received
// from another process).
func NewSock(f *os.File) *Sock {
	// One descriptor more than MaxFiles: a record's spill file (sock_stream.go).
	s := &Sock{f: f, rx: make(chan struct{}, 1), tx: make(chan struct{}, 1), oob: make([]byte, syscall.CmsgSpace(4*(MaxFiles+1)))}
	s.rc, _ = f.SyscallConn() // nil only for a nil file; every use checks
	return s
}

// rawConn is the socket's RawConn, or os.ErrClosed.
func (s *Sock) rawConn() (syscall.RawConn, error) {
	if s.rc == nil {
		return nil, os.ErrClosed
	}
	return s.rc, nil
}

// interrupt makes the blocked operation on f return when ctx is done, by
// moving f's deadline (set) into the past. The returned stop undoes it.
func interrupt(ctx context.Context, set func(time.Time) error) (stop func() bool) {
	if ctx.Done() == nil {
		return func() bool { return false }
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = set(dl)
	}
	fired := make(chan struct{})
	after := context.AfterFunc(ctx, func() {
		_ = set(time.Unix(1, 0))
		close(fired)
	})
	return func() bool {
		stopped := after()
		if !stopped {
			<-fired // it ran or is running: let it finish before the reset
		}
		_ = set(time.Time{})
		return !stopped
	}
}

// ctxErr turns a deadline error caused by ctx into ctx's error. The file's
// deadline may pass a moment before ctx's own timer fires.
func ctxErr(ctx context.Context, err error) error {
	if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return err
}

// opErr reports an operation on a socket this process closed as
// os.ErrClosed, whatever the poller said.
func (s *Sock) opErr(err error) error {
	if err != nil && s.closed.Load() {
		return fmt.Errorf("mp: %w", os.ErrClosed)
	}
	return err
}

// Send sends msg as one message, with files beside it. It blocks while the
// socket's buffer is full.
func (s *Sock) Send(ctx context.Context, msg []byte, files []*os.File) error {
	if err := TakeTurn(ctx, s.tx); err != nil {
		return err
	}
	defer func() { <-s.tx }()
	stop := interrupt(ctx, s.f.SetWriteDeadline)
	err := s.sendNow(msg, files, true)
	stop()
	return s.opErr(ctxErr(ctx, err))
}

// TrySend sends msg if the socket has room now; it reports false if not.
func (s *Sock) TrySend(msg []byte, files []*os.File) (bool, error) {
	select {
	case s.tx <- struct{}{}:
	default:
		return false, nil
	}
	defer func() { <-s.tx }()
	err := s.sendNow(msg, files, false)
	if errors.Is(err, syscall.EAGAIN) {
		return false, nil
	}
	return err == nil, s.opErr(err)
}

// Recv receives one message into a pooled buffer, which the caller returns
// with PutBuf, and the files that came with it. io.EOF means every
// sender has gone (or the sending side was shut down) and nothing is left.
func (s *Sock) Recv(ctx context.Context) (*[]byte, int, []*os.File, error) {
	if err := TakeTurn(ctx, s.rx); err != nil {
		return nil, 0, nil, err
	}
	defer func() { <-s.rx }()
	if _, timed := ctx.Deadline(); timed {
		if buf, n, files, ok, err := s.recvFirst(); ok {
			return buf, n, files, err
		}
	}
	stop := interrupt(ctx, s.f.SetReadDeadline)
	buf, n, files, err := s.recvNow(true)
	stop()
	return buf, n, files, s.opErr(ctxErr(ctx, err))
}

// recvFirst tries once, before Recv sets a deadline: the poller does not
// even try a read whose deadline has passed, so GetTimeout(0) would never
// see a value. ok is false when nothing is there.
func (s *Sock) recvFirst() (buf *[]byte, n int, files []*os.File, ok bool, err error) {
	buf, n, files, err = s.recvNow(false)
	if errors.Is(err, syscall.EAGAIN) {
		return nil, 0, nil, false, nil
	}
	return buf, n, files, true, s.opErr(err)
}

// TryRecv is Recv that does not wait: ok is false when nothing is there.
func (s *Sock) TryRecv() (buf *[]byte, n int, files []*os.File, ok bool, err error) {
	select {
	case s.rx <- struct{}{}:
	default:
		return nil, 0, nil, false, nil
	}
	defer func() { <-s.rx }()
	buf, n, files, err = s.recvNow(false)
	if errors.Is(err, syscall.EAGAIN) {
		return nil, 0, nil, false, nil
	}
	return buf, n, files, err == nil, s.opErr(err)
}

// errCutShort reports a message longer than MaxMsg, which is dropped.
var errCutShort = errors.New("mp: a message was larger than its buffer and was cut short")

// ShutdownSend ends sending on this socket for every process that shares
// it: receivers at the other end get io.EOF once they have drained it.
func (s *Sock) ShutdownSend() error {
	rc, err := s.rawConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = syscall.Shutdown(int(fd), syscall.SHUT_WR) }); err != nil {
		return err
	}
	return serr
}

// Readable waits until a message (or the end) can be received, or timeout
// passes (a negative timeout waits for ever).
func (s *Sock) Readable(ctx context.Context, timeout time.Duration) (bool, error) {
	outer := ctx
	if timeout >= 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	if err := TakeTurn(ctx, s.rx); err != nil {
		if outer.Err() == nil && timeout >= 0 {
			return false, nil // the timeout passed while another receiver had the turn
		}
		return false, err
	}
	defer func() { <-s.rx }()
	rc, err := s.rawConn()
	if err != nil {
		return false, s.opErr(err)
	}
	var one [1]byte
	var perr error
	peek := func(fd uintptr) bool {
		_, _, perr = syscall.Recvfrom(int(fd), one[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return perr != syscall.EAGAIN
	}
	// Look once before any deadline is set: the poller does not even try
	// a read whose deadline has passed, so Poll(0) would never see a value.
	ready := false
	if err := rc.Control(func(fd uintptr) { ready = peek(fd) }); err != nil {
		return false, s.opErr(err)
	}
	if ready || timeout == 0 {
		return ready, nil
	}
	stop := interrupt(ctx, s.f.SetReadDeadline)
	err = rc.Read(peek)
	stop()
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if err := ctxErr(outer, err); !errors.Is(err, os.ErrDeadlineExceeded) {
				return false, err
			}
			if timeout >= 0 {
				return false, nil // the timeout passed
			}
		}
		return false, s.opErr(err)
	}
	return true, nil
}

// Close closes the socket in this process; operations on it then fail with
// os.ErrClosed.
func (s *Sock) Close() error {
	s.closed.Store(true)
	return s.f.Close()
}

// Socketpair makes a pair of connected Unix sockets of type typ, both
// close-on-exec (set under ForkLock, so no child started meanwhile inherits
// them). It exists on Unix only, where children can be
// started (see runtime/internal/proc).
func Socketpair(typ int) ([2]int, error) {
	syscall.ForkLock.RLock()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, typ, 0)
	if err == nil {
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return fds, fmt.Errorf("socketpair: %w", err)
	}
	return fds, nil
}

// rightsOOB is the SCM_RIGHTS control message that carries files, or nil.
func rightsOOB(files []*os.File) ([]byte, error) {
	if len(files) == 0 {
		return nil, nil
	}
	fds := make([]int, len(files))
	for i, f := range files {
		fd, err := rawFD(f)
		if err != nil {
			return nil, err
		}
		fds[i] = fd
	}
	return syscall.UnixRights(fds...), nil
}
