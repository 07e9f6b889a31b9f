//go:build windows

package fdio

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf16"
	"weak"

	"golang.org/x/sys/windows"
)

// Sock is one end of a message-mode named pipe of one instance under a
// random name, both of whose ends this process opened: each send is one
// message, delivered whole to exactly one receiver however many processes
// share the end (they share one file object, whose reads the pipe
// serves in turn), and in order. Conn and Queue are built on it.
//
// Each message starts with a prefix: the number of handles that travel
// with it, and if there are any their transit record (transitHandles),
// which the receiver takes them out of their transit host with. A
// message longer than MaxMsg is refused by its sender, not cut short at
// its receiver: the rest of a message read in part waits for the next
// read, whichever process makes it.
//
// A pipe has no half-close, and the end of the stream must reach every
// receiver in every process, however many wait: each direction of the
// pair has a named manual-reset event, "Local\<the pipe's name>-s" for
// what the server end sends and "-c" for the client end's, which every
// holder of either end opens. ShutdownSend sets the sending side's event,
// for good: from then on sends on that end fail with EPIPE in every
// process, and a receiver at the other end that finds the pipe empty
// while the event is set gets io.EOF. Receivers wait on the event beside
// their read, so all of them wake. The event is a flag, not a message in
// the stream, so a send that checked it just before another process shut
// the end down can still land after a receiver saw the end: that value is
// not lost, the next Recv returns it.
//
// Operations are overlapped reads and writes waited for on events
// (WaitForMultipleObjects with the context's, Close's and the shutdown
// event), so a blocked Recv or Send holds an OS thread while it waits.
// Receivers take turns (rx) and senders take turns (tx), so that at most
// one of each waits per Sock in a process.
//
// Closing an os.File of a pipe cancels every operation of this process
// on the pipe's end (Go's poll.FD.Close calls CancelIoEx with no
// OVERLAPPED), and every handle of an end shares one file object:
// closing a duplicate, say one sent to a child and closed, or another
// Sock of the same end, cancels this Sock's operations too. A cancelled
// operation moved nothing, so one that none of ours cancelled is started
// again.
type Sock struct {
	f      *os.File
	h      windows.Handle
	rx, tx chan struct{}
	r, w   *side // the operations of the receiver and the sender whose turn it is, made on first use
	ev     *sockEvents
	closed atomic.Bool
	bad    error // why the Sock cannot work (NewSock of something else)

	// mu is held for reading by every operation that uses h or the events,
	// and for writing by Close, which frees them.
	mu sync.RWMutex
}

// side is the operation of one direction, and the event its context sets.
type side struct {
	*op
	cancel windows.Handle
}

// sockEvents are a Sock's events, which a cleanup closes if the Sock is
// dropped without Close.
type sockEvents struct {
	mu       sync.Mutex // for handles, which the two sides add to
	once     sync.Once
	close    windows.Handle // set by Close
	sendShut windows.Handle // this end's sending side was shut down
	recvShut windows.Handle // the other end's sending side was shut down
	handles  []windows.Handle
}

func (e *sockEvents) add(hs ...windows.Handle) {
	e.mu.Lock()
	e.handles = append(e.handles, hs...)
	e.mu.Unlock()
}

func (e *sockEvents) free() {
	e.once.Do(func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, h := range e.handles {
			windows.CloseHandle(h)
		}
	})
}

// pipeBuffer is each direction's buffer: the bytes that may wait in the
// pipe before senders wait (TrySend reports false). It holds one message
// of MaxMsg bytes, so that one fits an empty pipe, and no more: a pipe
// counts only its messages' bytes, where a socket also counts each
// message's overhead, so small values fill a larger buffer only after
// tens of thousands of sends, each a system call, which a queue's feeder
// would rather have batched.
const pipeBuffer = recvBufSize

// maxPrefix is the longest message prefix: the count and the transit
// record of MaxFiles handles.
const maxPrefix = 1 + 4 + 8 + 8*MaxFiles

// recvBufSize is the size of the buffers Recv reads into: a message of
// MaxMsg bytes and its prefix.
const recvBufSize = MaxMsg + maxPrefix

// SeqpacketPair makes a connected pair of message pipes (see Sock).
func SeqpacketPair() (a, b *Sock, err error) {
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	name := `\\.\pipe\mpgen-msg-` + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(rnd[:])
	name16, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return nil, nil, err
	}
	srv, err := windows.CreateNamedPipe(name16,
		windows.PIPE_ACCESS_DUPLEX|windows.FILE_FLAG_OVERLAPPED|windows.FILE_FLAG_FIRST_PIPE_INSTANCE,
		windows.PIPE_TYPE_MESSAGE|windows.PIPE_READMODE_MESSAGE|windows.PIPE_WAIT|windows.PIPE_REJECT_REMOTE_CLIENTS,
		1, pipeBuffer, pipeBuffer, 0, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("mp: CreateNamedPipe: %w", err)
	}
	// Nobody can take the client's place: the pipe has one instance, so a
	// second client finds it busy, and if one came first our open fails.
	cli, err := windows.CreateFile(name16, windows.GENERIC_READ|windows.GENERIC_WRITE, 0, nil,
		windows.OPEN_EXISTING, windows.FILE_FLAG_OVERLAPPED, 0)
	if err != nil {
		windows.CloseHandle(srv)
		return nil, nil, fmt.Errorf("mp: open a message pipe: %w", err)
	}
	mode := uint32(windows.PIPE_READMODE_MESSAGE)
	if err := windows.SetNamedPipeHandleState(cli, &mode, nil, nil); err != nil {
		windows.CloseHandle(srv)
		windows.CloseHandle(cli)
		return nil, nil, fmt.Errorf("mp: SetNamedPipeHandleState: %w", err)
	}
	a, err = newSock(os.NewFile(uintptr(srv), "mpgen-msg"))
	if err != nil {
		windows.CloseHandle(srv)
		windows.CloseHandle(cli)
		return nil, nil, err
	}
	b, err = newSock(os.NewFile(uintptr(cli), "mpgen-msg"))
	if err != nil {
		a.Close()
		windows.CloseHandle(cli)
		return nil, nil, err
	}
	return a, b, nil
}

// NewSock adopts f, an end of a message pipe (from SeqpacketPair or
// received from another process). If its events cannot be made, every
// operation fails with the reason.
func NewSock(f *os.File) *Sock {
	s, err := newSock(f)
	if err != nil {
		return &Sock{f: f, rx: make(chan struct{}, 1), tx: make(chan struct{}, 1), ev: &sockEvents{}, bad: err}
	}
	return s
}

func newSock(f *os.File) (*Sock, error) {
	h, err := rawHandle(f)
	if err != nil {
		return nil, err
	}
	var flags uint32
	if err := windows.GetNamedPipeInfo(h, &flags, nil, nil, nil); err != nil {
		return nil, fmt.Errorf("mp: not a message pipe: %w", err)
	}
	// The pipe's name names its shutdown events. A pipe end whose other
	// end every holder has closed has lost its name (the server end holds
	// it); such an end needs no events of the other end's holders, since
	// its reads end (ERROR_BROKEN_PIPE) and its writes fail by themselves,
	// so it makes events of its own.
	name := pipeName(h)
	s := &Sock{f: f, h: h, rx: make(chan struct{}, 1), tx: make(chan struct{}, 1), ev: &sockEvents{}}
	ev := s.ev
	fail := func(err error) (*Sock, error) {
		ev.free()
		return nil, err
	}
	mk := func(name string) (windows.Handle, error) {
		var n *uint16
		if name != "" {
			if n, err = windows.UTF16PtrFromString(name); err != nil {
				return 0, err
			}
		}
		e, err := windows.CreateEvent(nil, 1, 0, n)
		if e == 0 {
			return 0, fmt.Errorf("mp: CreateEvent: %w", err)
		}
		ev.add(e)
		return e, nil // ERROR_ALREADY_EXISTS: another holder made it
	}
	mine, theirs := "-c", "-s"
	if flags&windows.PIPE_SERVER_END != 0 {
		mine, theirs = theirs, mine
	}
	if ev.close, err = mk(""); err != nil {
		return fail(err)
	}
	if name != "" {
		mine, theirs = `Local\`+name+mine, `Local\`+name+theirs
	} else {
		mine, theirs = "", ""
	}
	if ev.sendShut, err = mk(mine); err != nil {
		return fail(err)
	}
	if ev.recvShut, err = mk(theirs); err != nil {
		return fail(err)
	}
	runtime.AddCleanup(s, func(e *sockEvents) { e.free() }, ev)
	register(s)
	return s, nil
}

// pipeName returns the name of the pipe h without \\.\pipe\, or "".
func pipeName(h windows.Handle) string {
	var buf [4 + 2*windows.MAX_PATH]byte
	if err := windows.GetFileInformationByHandleEx(h, windows.FileNameInfo, &buf[0], uint32(len(buf))); err != nil {
		return ""
	}
	n := binary.LittleEndian.Uint32(buf[:4]) / 2 // FILE_NAME_INFO: its length in bytes, then UTF-16
	if int(n) > (len(buf)-4)/2 {
		return ""
	}
	u := make([]uint16, n)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(buf[4+2*i:])
	}
	return strings.TrimPrefix(string(utf16.Decode(u)), `\`)
}

// socks finds the Sock of a file for Poll, which is given files.
var socks = struct {
	sync.Mutex
	m map[windows.Handle]weak.Pointer[Sock]
}{m: map[windows.Handle]weak.Pointer[Sock]{}}

func register(s *Sock) {
	socks.Lock()
	socks.m[s.h] = weak.Make(s)
	socks.Unlock()
	runtime.AddCleanup(s, unregister, s.h)
}

// unregister forgets the Sock of h, if it is gone.
func unregister(h windows.Handle) {
	socks.Lock()
	if w, ok := socks.m[h]; ok && w.Value() == nil {
		delete(socks.m, h)
	}
	socks.Unlock()
}

// sockOf returns the open Sock whose file is f, or nil.
func sockOf(f *os.File) *Sock {
	h, err := rawHandle(f)
	if err != nil {
		return nil
	}
	socks.Lock()
	s := socks.m[h].Value()
	socks.Unlock()
	if s == nil || s.f != f {
		return nil
	}
	return s
}

// makeSide makes *sd, the operation of one direction, on first use: many
// Socks (a handle passed to each call of a pool) never receive, or never
// send. The direction's turn is held, and s entered.
func (s *Sock) makeSide(sd **side) error {
	if *sd != nil {
		return nil
	}
	o, err := newOp()
	if err != nil {
		return err
	}
	c, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		o.close()
		return fmt.Errorf("mp: CreateEvent: %w", err)
	}
	s.ev.add(o.ev, c)
	*sd = &side{op: o, cancel: c}
	return nil
}

// enter begins an operation: it fails when the Sock is closed.
func (s *Sock) enter() error {
	s.mu.RLock()
	if s.closed.Load() {
		s.mu.RUnlock()
		return fmt.Errorf("mp: %w", os.ErrClosed)
	}
	if s.bad != nil {
		s.mu.RUnlock()
		return s.bad
	}
	return nil
}

// Send sends msg as one message, with files beside it. It blocks while the
// pipe's buffer is full. A message longer than MaxMsg is refused here: a
// receiver would get it in pieces, which another process's receiver could
// take part of.
func (s *Sock) Send(ctx context.Context, msg []byte, files []*os.File) error {
	if err := TakeTurn(ctx, s.tx); err != nil {
		return err
	}
	defer func() { <-s.tx }()
	if err := s.enter(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	if err := s.makeSide(&s.w); err != nil {
		return err
	}
	stop := watch(ctx, s.w.cancel)
	defer stop()
	return s.send(ctx, msg, files, true)
}

// errFull is send's report that a TrySend found no room.
var errFull = errors.New("full")

// ctxErr is the error of an operation that its context's event stopped.
// Only Send, Recv and Readable watch a context; the others pass nil, and
// their event stays unset.
func ctxErr(ctx context.Context) error {
	if ctx == nil || ctx.Err() == nil {
		return errors.New("mp: an operation stopped by a context that is not done")
	}
	return ctx.Err()
}

// TrySend sends msg if the pipe has room now; it reports false if not.
func (s *Sock) TrySend(msg []byte, files []*os.File) (bool, error) {
	select {
	case s.tx <- struct{}{}:
	default:
		return false, nil
	}
	defer func() { <-s.tx }()
	if err := s.enter(); err != nil {
		return false, err
	}
	defer s.mu.RUnlock()
	if err := s.makeSide(&s.w); err != nil {
		return false, err
	}
	err := s.send(nil, msg, files, false)
	if err == errFull {
		return false, nil
	}
	return err == nil, err
}

func (s *Sock) send(ctx context.Context, msg []byte, files []*os.File, wait bool) error {
	if len(msg) > MaxMsg {
		return fmt.Errorf("mp: a %d-byte message is longer than the %d bytes a message pipe delivers whole", len(msg), MaxMsg)
	}
	if len(files) > MaxFiles {
		return fmt.Errorf("mp: %d handles in one message, at most %d", len(files), MaxFiles)
	}
	if signalled(s.ev.sendShut) {
		return epipe("WriteFile")
	}
	buf := make([]byte, 0, 1+transitSize(len(files))+len(msg))
	buf = append(buf, byte(len(files)))
	undo := func() {}
	if len(files) > 0 {
		var err error
		if buf, undo, err = transitHandles(buf, files); err != nil {
			return err
		}
	}
	buf = append(buf, msg...)
	var err error
	for again := true; again; {
		again = false
		var pending bool
		_, err, pending = s.w.write(s.h, buf)
		if !pending {
			break
		}
		timeout := uint32(windows.INFINITE)
		if !wait {
			timeout = 0
		}
		var stopped int
		_, err, stopped = s.w.await(s.h, []windows.Handle{s.ev.close, s.w.cancel, s.ev.sendShut}, timeout)
		if err == windows.ERROR_OPERATION_ABORTED {
			switch stopped {
			case -1:
				again = true // cancelled by someone else (see Sock): nothing went
			case 0:
				err = fmt.Errorf("mp: %w", os.ErrClosed)
			case 1:
				err = ctxErr(ctx)
			case 2:
				err = epipe("WriteFile")
			default:
				err = errFull
			}
		}
	}
	runtime.KeepAlive(buf)
	if err != nil {
		// A message that was not sent takes no handles out of us: the
		// transit handles are ours to close.
		undo()
		if isPipeEnd(err) {
			return epipe("WriteFile")
		}
		if _, ok := err.(windows.Errno); ok {
			return &os.SyscallError{Syscall: "WriteFile", Err: err}
		}
		return err
	}
	return nil
}

// Recv receives one message into a pooled buffer, which the caller returns
// with PutBuf, and the files that came with it. io.EOF means every
// sender has gone (or the sending side was shut down) and nothing is left.
// Files whose transit host exited before they could be taken make Recv
// fail with an error that matches ErrHandleLost; the message is lost too.
func (s *Sock) Recv(ctx context.Context) (*[]byte, int, []*os.File, error) {
	if err := TakeTurn(ctx, s.rx); err != nil {
		return nil, 0, nil, err
	}
	defer func() { <-s.rx }()
	if err := s.enter(); err != nil {
		return nil, 0, nil, err
	}
	defer s.mu.RUnlock()
	if err := s.makeSide(&s.r); err != nil {
		return nil, 0, nil, err
	}
	stop := watch(ctx, s.r.cancel)
	defer stop()
	buf, n, files, _, err := s.recv(ctx, true)
	return buf, n, files, err
}

// TryRecv is Recv that does not wait: ok is false when nothing is there.
func (s *Sock) TryRecv() (buf *[]byte, n int, files []*os.File, ok bool, err error) {
	select {
	case s.rx <- struct{}{}:
	default:
		return nil, 0, nil, false, nil
	}
	defer func() { <-s.rx }()
	if err := s.enter(); err != nil {
		return nil, 0, nil, false, err
	}
	defer s.mu.RUnlock()
	if err := s.makeSide(&s.r); err != nil {
		return nil, 0, nil, false, err
	}
	return s.recv(nil, false)
}

// ready reports whether a receiver would not wait: a message is there,
// or the end (the other end's sending side was shut down and nothing is
// left), or peek fails, which it does once every handle of the other end
// is closed and which the read then reports. avail is what peek saw.
func (s *Sock) ready() (avail uint32, ready bool) {
	avail, err := peek(s.h)
	return avail, err != nil || avail > 0 || signalled(s.ev.recvShut)
}

func (s *Sock) recv(ctx context.Context, wait bool) (*[]byte, int, []*os.File, bool, error) {
	buf := recvBufs.Get().(*[]byte)
	fail := func(err error) (*[]byte, int, []*os.File, bool, error) {
		recvBufs.Put(buf)
		return nil, 0, nil, err != nil, err
	}
	for {
		// TryRecv looks first: a read it would cancel costs more. Recv
		// reads at once; a read that waits also waits for the end.
		if !wait {
			if avail, err := peek(s.h); err == nil && avail == 0 {
				if signalled(s.ev.recvShut) {
					return fail(io.EOF)
				}
				return fail(nil)
			}
		}
		n, err, pending := s.r.read(s.h, *buf)
		if pending {
			timeout := uint32(windows.INFINITE)
			if !wait {
				timeout = 0 // another process took what peek saw
			}
			var stopped int
			n, err, stopped = s.r.await(s.h, []windows.Handle{s.ev.close, s.r.cancel, s.ev.recvShut}, timeout)
			if err == windows.ERROR_OPERATION_ABORTED {
				switch stopped {
				case -1:
					continue // cancelled by someone else (see Sock): again
				case 0:
					return fail(fmt.Errorf("mp: %w", os.ErrClosed))
				case 1:
					return fail(ctxErr(ctx))
				case 2:
					// The other end was shut down: the end, once nothing is
					// left (a value that came meanwhile is read first).
					if avail, err := peek(s.h); err == nil && avail == 0 {
						return fail(io.EOF)
					}
					continue
				default:
					return fail(nil)
				}
			}
		}
		if isPipeEnd(err) {
			return fail(io.EOF)
		}
		if err == windows.ERROR_MORE_DATA {
			// Only a sender of ours' refuses such a message; drain the
			// rest of it, so that no receiver takes it for a message.
			for err == windows.ERROR_MORE_DATA || err == windows.ERROR_OPERATION_ABORTED {
				_, err, pending = s.r.read(s.h, *buf)
				if pending {
					_, err, _ = s.r.await(s.h, nil, windows.INFINITE)
				}
			}
			return fail(errors.New("mp: a message was larger than its buffer and was cut short"))
		}
		if err != nil {
			return fail(&os.SyscallError{Syscall: "ReadFile", Err: err})
		}
		b := (*buf)[:n]
		if len(b) == 0 || int(b[0]) > MaxFiles || len(b) < 1+prefixFiles(int(b[0])) {
			return fail(errors.New("mp: a malformed message on a message pipe"))
		}
		nf := int(b[0])
		k := 1 + prefixFiles(nf)
		var files []*os.File
		if nf > 0 {
			files, err = takeHandles(b[1:k], nf)
			if err != nil {
				closeFiles(files)
				return fail(fmt.Errorf("mp: receive: %w", err))
			}
		}
		m := copy(*buf, b[k:])
		return buf, m, files, true, nil
	}
}

// prefixFiles is the length of the transit record of n handles (none
// without handles).
func prefixFiles(n int) int {
	if n == 0 {
		return 0
	}
	return transitSize(n)
}

// ShutdownSend ends sending on this end for every process that shares
// it: receivers at the other end get io.EOF once they have drained it.
func (s *Sock) ShutdownSend() error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	return windows.SetEvent(s.ev.sendShut)
}

// Readable waits until a message (or the end) can be received, or timeout
// passes (a negative timeout waits for ever). It waits with a zero-byte
// read, which a message pipe completes when a message arrives without
// taking it.
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
	if err := s.enter(); err != nil {
		return false, err
	}
	defer s.mu.RUnlock()
	if _, ready := s.ready(); ready {
		return true, nil
	}
	if timeout == 0 {
		return false, nil
	}
	if err := s.makeSide(&s.r); err != nil {
		return false, err
	}
	stop := watch(outer, s.r.cancel)
	defer stop()
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		_, err, pending := s.r.read(s.h, nil)
		if !pending {
			return err == nil || err == windows.ERROR_MORE_DATA || isPipeEnd(err), ioErr(err)
		}
		ms := uint32(windows.INFINITE)
		if !deadline.IsZero() {
			ms = uint32(max(0, (time.Until(deadline)+time.Millisecond-1)/time.Millisecond))
		}
		_, err, stopped := s.r.await(s.h, []windows.Handle{s.ev.close, s.r.cancel, s.ev.recvShut}, ms)
		if err != windows.ERROR_OPERATION_ABORTED {
			return true, nil // a message (ERROR_MORE_DATA) or the end
		}
		switch stopped {
		case -1:
			continue // cancelled by someone else (see Sock): again
		case 0:
			return false, fmt.Errorf("mp: %w", os.ErrClosed)
		case 1:
			return false, outer.Err()
		case 2:
			if _, ready := s.ready(); ready {
				return true, nil
			}
		default:
			return false, nil // the timeout passed
		}
	}
}

// ioErr is the error of a zero-byte read that did not wait: none when it
// saw a message or the end.
func ioErr(err error) error {
	if err == nil || err == windows.ERROR_MORE_DATA || isPipeEnd(err) {
		return nil
	}
	return &os.SyscallError{Syscall: "ReadFile", Err: err}
}

// Close closes the pipe end in this process; operations on it then fail
// with os.ErrClosed. Operations waiting in other goroutines are woken and
// fail so too, and Close returns once they have left.
func (s *Sock) Close() error {
	if s.closed.Swap(true) {
		return s.f.Close() // os.ErrClosed
	}
	if s.ev.close != 0 {
		windows.SetEvent(s.ev.close)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	socks.Lock()
	if socks.m[s.h].Value() == s {
		delete(socks.m, s.h)
	}
	socks.Unlock()
	err := s.f.Close()
	s.ev.free()
	return err
}
