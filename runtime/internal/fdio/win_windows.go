//go:build windows

package fdio

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// The Windows plumbing shared by Sock, the control channel's Reader and
// RightsWriter, and Poll: overlapped operations waited for with events of
// their own, and handles that travel between processes.

// op is one overlapped operation at a time on a handle, signalled through
// its own event. The event's handle goes into the OVERLAPPED with its low
// bit set, which keeps the completion off any completion port the file is
// associated with: os.NewFile associates an overlapped handle with the Go
// runtime's port, and a Sock's file is shared by processes whose ports
// must never see another address space's OVERLAPPED.
type op struct {
	ov windows.Overlapped
	ev windows.Handle // manual-reset
}

func newOp() (*op, error) {
	ev, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		return nil, fmt.Errorf("CreateEvent: %w", err)
	}
	return &op{ev: ev}, nil
}

func (o *op) close() { windows.CloseHandle(o.ev) }

// begin readies o for a new operation. (ReadFile and WriteFile reset the
// event as they start.)
func (o *op) begin() *windows.Overlapped {
	o.ov = windows.Overlapped{HEvent: o.ev | 1}
	return &o.ov
}

// read starts a read of h into buf, or a zero-byte read that waits for data
// without taking it (a message pipe answers ERROR_MORE_DATA and keeps the
// message). It returns as finish does when the read ended at once, else
// pending.
func (o *op) read(h windows.Handle, buf []byte) (n uint32, err error, pending bool) {
	return o.started(h, windows.ReadFile(h, buf, nil, o.begin()))
}

// write starts a write of buf to h; see read.
func (o *op) write(h windows.Handle, buf []byte) (n uint32, err error, pending bool) {
	return o.started(h, windows.WriteFile(h, buf, nil, o.begin()))
}

func (o *op) started(h windows.Handle, err error) (uint32, error, bool) {
	switch err {
	case windows.ERROR_IO_PENDING:
		return 0, nil, true
	case nil, windows.ERROR_MORE_DATA:
		n, err := o.finish(h)
		return n, err, false
	}
	return 0, err, false // failed without starting: no completion follows
}

// finish returns the outcome of o's completed operation.
func (o *op) finish(h windows.Handle) (uint32, error) {
	var n uint32
	err := windows.GetOverlappedResult(h, &o.ov, &n, false)
	return n, err
}

// await waits for o's pending operation on h, or until one of stops is
// signalled or timeout (milliseconds, or windows.INFINITE) passes; then it
// cancels the operation and waits for it to end. It returns the
// operation's outcome (one that completed despite the cancel is a success)
// and which stop ended the wait: its index, len(stops) for the timeout, or
// -1 when the operation completed first. If the wait itself fails, it
// returns that error (and stopped -1) unless the operation succeeded.
func (o *op) await(h windows.Handle, stops []windows.Handle, timeout uint32) (n uint32, err error, stopped int) {
	var handles [8]windows.Handle
	hs := append(append(handles[:0], o.ev), stops...)
	ev, werr := windows.WaitForMultipleObjects(hs, false, timeout)
	stopped = -1
	if ev != windows.WAIT_OBJECT_0 {
		switch {
		case ev == uint32(windows.WAIT_TIMEOUT):
			stopped = len(stops)
		case ev > windows.WAIT_OBJECT_0 && ev < windows.WAIT_OBJECT_0+uint32(len(hs)):
			stopped = int(ev-windows.WAIT_OBJECT_0) - 1
		default: // the wait itself failed: do not leave the operation behind
			werr = fmt.Errorf("WaitForMultipleObjects: %w", werr)
		}
		_ = windows.CancelIoEx(h, &o.ov) // ERROR_NOT_FOUND: it has just completed
		if _, err := windows.WaitForSingleObject(o.ev, windows.INFINITE); err != nil {
			panic("fdio: wait for a cancelled operation: " + err.Error()) // its buffer would be written after we return
		}
	}
	n, err = o.finish(h)
	if err != nil && ev != windows.WAIT_OBJECT_0 && stopped == -1 {
		err = werr
	}
	return n, err, stopped
}

// signalled reports whether the event ev is set (false for no event).
func signalled(ev windows.Handle) bool {
	if ev == 0 {
		return false
	}
	r, _ := windows.WaitForSingleObject(ev, 0)
	return r == windows.WAIT_OBJECT_0
}

// watch sets ev when ctx is done, until the returned stop is called, which
// resets ev if it was set.
func watch(ctx context.Context, ev windows.Handle) (stop func()) {
	if ctx == nil || ctx.Done() == nil {
		return func() {}
	}
	fired := make(chan struct{})
	after := context.AfterFunc(ctx, func() {
		windows.SetEvent(ev)
		close(fired)
	})
	return func() {
		if !after() {
			<-fired
			windows.ResetEvent(ev)
		}
	}
}

var (
	kernel32          = windows.NewLazySystemDLL("kernel32.dll")
	procPeekNamedPipe = kernel32.NewProc("PeekNamedPipe")
)

// peek returns the bytes waiting to be read from the pipe h (all its
// messages'), without taking any.
func peek(h windows.Handle) (uint32, error) {
	var avail uint32
	if r, _, err := procPeekNamedPipe.Call(uintptr(h), 0, 0, 0, uintptr(unsafe.Pointer(&avail)), 0); r == 0 {
		return 0, err
	}
	return avail, nil
}

// isPipeEnd reports whether err says that the other end of a pipe is gone.
func isPipeEnd(err error) bool {
	return err == windows.ERROR_BROKEN_PIPE || err == windows.ERROR_NO_DATA || err == windows.ERROR_PIPE_NOT_CONNECTED
}

// rawHandle returns f's handle without f.Fd's side effect (which takes the
// handle off the Go runtime's completion port). It is valid while f is
// open.
func rawHandle(f *os.File) (windows.Handle, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var h windows.Handle
	if err := rc.Control(func(fd uintptr) { h = windows.Handle(fd) }); err != nil {
		return 0, err
	}
	return h, nil
}

// self is this process's id and creation time, which tell it from a later
// process that reuses the id.
var self = sync.OnceValue(func() processID {
	id := processID{pid: windows.GetCurrentProcessId()}
	var c, e, k, u windows.Filetime
	if windows.GetProcessTimes(windows.CurrentProcess(), &c, &e, &k, &u) == nil {
		id.created = uint64(c.HighDateTime)<<32 | uint64(c.LowDateTime)
	}
	return id
})

type processID struct {
	pid     uint32
	created uint64
}

// Handles travel by the receiver copying them out of the process that
// holds them in transit: the sender duplicates each into a transit handle
// of the transit host (transitHandles), names them with the host's
// processID, and the receiver duplicates them into itself with
// DUPLICATE_CLOSE_SOURCE, which closes the transit handles (takeHandles).
// The host is this process, or the one SetTransitHost named: a child
// names the first process of its program (runtime/internal/proc passes
// it down), which every child ends with, so a handle a child sends just
// before it exits is not lost with it. A handle is lost (ErrHandleLost)
// only when its host exits before the receiver takes it; an in-flight
// descriptor on Unix is not. A transit handle that nobody receives stays
// in its host until the host exits.

// host is the transit host when it is not this process.
var host struct {
	sync.Mutex
	h  windows.Handle // with PROCESS_DUP_HANDLE
	id processID
}

// SetTransitHost makes the process pid hold the handles this process
// sends until their receivers take them (see transitHandles). pid must
// outlive this process's receivers: a child names the first process of
// its program.
func SetTransitHost(pid uint32) error {
	if pid == self().pid {
		return nil
	}
	h, err := windows.OpenProcess(windows.PROCESS_DUP_HANDLE|windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		return fmt.Errorf("open the transit host %d: %w", pid, err)
	}
	var c, e, k, u windows.Filetime
	if err := windows.GetProcessTimes(h, &c, &e, &k, &u); err != nil {
		windows.CloseHandle(h)
		return fmt.Errorf("the transit host %d: %w", pid, err)
	}
	host.Lock()
	defer host.Unlock()
	if host.h != 0 {
		windows.CloseHandle(host.h)
	}
	host.h, host.id = h, processID{pid: pid, created: uint64(c.HighDateTime)<<32 | uint64(c.LowDateTime)}
	return nil
}

// TransitHost returns the id of the process that holds this process's
// handles in transit: the one SetTransitHost named, or this one.
func TransitHost() uint32 {
	host.Lock()
	defer host.Unlock()
	if host.h != 0 {
		return host.id.pid
	}
	return self().pid
}

// transitSize is the size of a transit record of n handles: the host's
// processID, then the handles.
func transitSize(n int) int { return 4 + 8 + 8*n }

// transitHandles duplicates files into transit handles of the transit
// host and appends their record to dst. undo closes the transit handles:
// the sender calls it when the record was not sent.
func transitHandles(dst []byte, files []*os.File) (rec []byte, undo func(), err error) {
	host.Lock()
	into, id := host.h, host.id
	if into == 0 {
		into, id = windows.CurrentProcess(), self()
	} else {
		// Keep our own handle to the host: SetTransitHost may close the
		// shared one meanwhile.
		var own windows.Handle
		if err := windows.DuplicateHandle(windows.CurrentProcess(), into, windows.CurrentProcess(), &own, 0, false, windows.DUPLICATE_SAME_ACCESS); err != nil {
			host.Unlock()
			return nil, nil, fmt.Errorf("mp: duplicate the transit host's handle: %w", err)
		}
		into = own
		defer windows.CloseHandle(own)
	}
	host.Unlock()
	hs := make([]windows.Handle, 0, len(files))
	closeIn := func(p windows.Handle) {
		for _, t := range hs {
			_ = windows.DuplicateHandle(p, t, 0, nil, 0, false, windows.DUPLICATE_CLOSE_SOURCE)
		}
	}
	dst = binary.LittleEndian.AppendUint32(dst, id.pid)
	dst = binary.LittleEndian.AppendUint64(dst, id.created)
	for _, f := range files {
		h, err := rawHandle(f)
		var t windows.Handle
		if err == nil {
			err = windows.DuplicateHandle(windows.CurrentProcess(), h, into, &t, 0, false, windows.DUPLICATE_SAME_ACCESS)
		}
		if err != nil {
			closeIn(into)
			return nil, nil, fmt.Errorf("mp: duplicate a handle to send it: %w", err)
		}
		hs = append(hs, t)
		dst = binary.LittleEndian.AppendUint64(dst, uint64(t))
	}
	undo = func() {
		if id == self() {
			closeIn(windows.CurrentProcess())
		} else if p, err := windows.OpenProcess(windows.PROCESS_DUP_HANDLE, false, id.pid); err == nil {
			closeIn(p)
			windows.CloseHandle(p)
		}
	}
	return dst, undo, nil
}

// ErrHandleLost says that handles sent to this process could not be
// taken: the process that held them in transit (their sender, or its
// transit host) exited before the receiver took them out of it (see
// transitHandles). Whatever came with them is lost with them.
var ErrHandleLost = errors.New("a handle sent to this process was lost: the process that held it in transit exited before it arrived")

// takeHandles takes the n handles of a transit record (transitHandles)
// into this process. On failure it returns the handles it took (nil where
// one could not be taken) and an error; every transit handle that could be
// reached is closed either way.
func takeHandles(rec []byte, n int) ([]*os.File, error) {
	if len(rec) != transitSize(n) {
		return nil, fmt.Errorf("a transit record of %d bytes for %d handles", len(rec), n)
	}
	from := processID{pid: binary.LittleEndian.Uint32(rec), created: binary.LittleEndian.Uint64(rec[4:])}
	vals := make([]windows.Handle, n)
	for i := range vals {
		vals[i] = windows.Handle(binary.LittleEndian.Uint64(rec[12+8*i:]))
	}
	files := make([]*os.File, n)
	if from == self() {
		for i, v := range vals {
			files[i] = os.NewFile(uintptr(v), "mpgen-passed")
		}
		return files, nil
	}
	lost := fmt.Errorf("%d handles held by process %d: %w", n, from.pid, ErrHandleLost)
	p, err := windows.OpenProcess(windows.PROCESS_DUP_HANDLE|windows.PROCESS_QUERY_LIMITED_INFORMATION, false, from.pid)
	if err != nil {
		return files, lost
	}
	defer windows.CloseHandle(p)
	var c, e, k, u windows.Filetime
	if windows.GetProcessTimes(p, &c, &e, &k, &u) != nil || uint64(c.HighDateTime)<<32|uint64(c.LowDateTime) != from.created {
		return files, lost // another process has the sender's id now: never touch its handles
	}
	var ferr error
	for i, v := range vals {
		var h windows.Handle
		if err := windows.DuplicateHandle(p, v, windows.CurrentProcess(), &h, 0, false, windows.DUPLICATE_SAME_ACCESS|windows.DUPLICATE_CLOSE_SOURCE); err != nil {
			ferr = lost
			continue
		}
		files[i] = os.NewFile(uintptr(h), "mpgen-passed")
	}
	return files, ferr
}

// epipe is the error of a send whose receivers are all gone (or whose
// sending side was shut down): it matches syscall.EPIPE, as on Unix.
func epipe(op string) error { return &os.SyscallError{Syscall: op, Err: syscall.EPIPE} }
