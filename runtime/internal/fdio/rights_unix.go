//go:build unix

package fdio

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// RightsWriter sends files beside the first bytes written through it
// (SCM_RIGHTS), then writes plainly. The receiver gets duplicates; the
// sender keeps its files.
type RightsWriter struct {
	f     *os.File
	files []*os.File
}

// NewRightsWriter returns a writer to the stream socket f that sends files
// beside the first bytes written.
func NewRightsWriter(f *os.File, files []*os.File) *RightsWriter {
	return &RightsWriter{f: f, files: files}
}

// Write writes b, with the files beside it if they have not gone yet.
func (w *RightsWriter) Write(b []byte) (int, error) {
	if len(w.files) == 0 || len(b) == 0 {
		return w.f.Write(b)
	}
	rc, err := w.f.SyscallConn()
	if err != nil {
		return 0, err
	}
	fds := make([]int, len(w.files))
	for i, f := range w.files {
		if fds[i], err = rawFD(f); err != nil {
			return 0, err
		}
	}
	oob := syscall.UnixRights(fds...)
	var n int
	var serr error
	err = rc.Write(func(fd uintptr) bool {
		n, serr = syscall.SendmsgN(int(fd), b, oob, nil, 0)
		return serr != syscall.EAGAIN
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return 0, &os.PathError{Op: "sendmsg", Path: w.f.Name(), Err: err}
	}
	w.files = nil
	if n < len(b) {
		m, err := w.f.Write(b[n:])
		return n + m, err
	}
	return n, nil
}

// Reader reads a stream socket and keeps, in arrival order, the
// descriptors that came beside its bytes. A frame's descriptors have arrived
// once the frame's bytes have been read.
type Reader struct {
	f   *os.File
	oob []byte

	mu    sync.Mutex
	files []*os.File
}

// NewReader returns a Reader of the stream socket f.
func NewReader(f *os.File) *Reader {
	return &Reader{f: f, oob: make([]byte, syscall.CmsgSpace(4*MaxFiles))}
}

// Read reads bytes into p and keeps the descriptors that came beside them.
func (r *Reader) Read(p []byte) (int, error) {
	rc, err := r.f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n, oobn, flags int
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		n, oobn, flags, rerr = recvmsg(int(fd), p, r.oob, 0)
		return rerr != syscall.EAGAIN
	})
	if err == nil {
		err = rerr
	}
	if oobn > 0 {
		if perr := r.keep(r.oob[:oobn]); perr != nil && err == nil {
			err = perr
		}
	}
	if err == nil && flags&syscall.MSG_CTRUNC != 0 {
		err = fmt.Errorf("more than %d descriptors arrived at once; some were lost", MaxFiles)
	}
	if err != nil {
		if n < 0 {
			n = 0
		}
		return n, &os.PathError{Op: "recvmsg", Path: r.f.Name(), Err: err}
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

// keep adopts the descriptors in a control message.
func (r *Reader) keep(oob []byte) error {
	files, err := takeRights(oob)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.files = append(r.files, files...)
	return nil
}

// Pending reports whether descriptors are waiting to be taken.
func (r *Reader) Pending() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.files) > 0
}

// Take hands over the n oldest descriptors.
func (r *Reader) Take(n int) ([]*os.File, error) {
	if n == 0 {
		return nil, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.files) < n {
		return nil, errors.New("a frame names more descriptors than arrived with it")
	}
	out := r.files[:n:n]
	r.files = r.files[n:]
	return out, nil
}

// rawFD returns f's descriptor number without f.Fd's side effect of making
// it blocking, which would change the mode for every process sharing the
// open file. The number is valid while f is open.
func rawFD(f *os.File) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return -1, err
	}
	n := -1
	if err := rc.Control(func(fd uintptr) { n = int(fd) }); err != nil {
		return -1, err
	}
	return n, nil
}

// Dup duplicates f close-on-exec, so that a call owns descriptors its
// caller may close at once.
func Dup(f *os.File) (*os.File, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var nfd int
	var derr error
	if err := rc.Control(func(fd uintptr) {
		nfd, derr = dupCloexec(int(fd))
	}); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, fmt.Errorf("dup: %w", derr)
	}
	return os.NewFile(uintptr(nfd), f.Name()), nil
}

func dupCloexec(fd int) (int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	nfd, err := syscall.Dup(fd)
	if err != nil {
		return -1, err
	}
	syscall.CloseOnExec(nfd)
	return nfd, nil
}

// recvmsg receives into p and oob; see receiving.
func recvmsg(fd int, p, oob []byte, flags int) (n, oobn, rflags int, err error) {
	return receiving(oob, func() (int, int, int, error) {
		n, oobn, rflags, _, err := syscall.Recvmsg(fd, p, oob, flags|recvFlags)
		return n, oobn, rflags, err
	})
}

// recvmsgBuffers receives into bufs, one after the other, and oob; see
// receiving.
func recvmsgBuffers(fd int, bufs [][]byte, oob []byte, flags int) (n, oobn, rflags int, err error) {
	return receiving(oob, func() (int, int, int, error) {
		n, oobn, rflags, _, err := unix.RecvmsgBuffers(fd, bufs, oob, flags|recvFlags)
		return n, oobn, rflags, err
	})
}

// receiving runs recv, a recvmsg into oob, so that every descriptor that
// arrives is close-on-exec before a child can be forked: the kernel makes
// it so where it has MSG_CMSG_CLOEXEC (recvFlags); elsewhere (macOS) recv
// and the marking happen under syscall.ForkLock, as package net's accept
// does without accept4, so that no child started meanwhile inherits a
// descriptor (which would keep a socket's end open in it, and its peer
// from ever seeing the end of the stream).
func receiving(oob []byte, recv func() (n, oobn, rflags int, err error)) (n, oobn, rflags int, err error) {
	if recvFlags != 0 {
		return recv()
	}
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	n, oobn, rflags, err = recv()
	if oobn > 0 {
		if msgs, perr := syscall.ParseSocketControlMessage(oob[:oobn]); perr == nil {
			for _, m := range msgs {
				if fds, err := syscall.ParseUnixRights(&m); err == nil {
					for _, fd := range fds {
						syscall.CloseOnExec(fd)
					}
				}
			}
		}
	}
	return n, oobn, rflags, err
}

// adoptFD wraps a received descriptor (close-on-exec already: recvmsg).
func adoptFD(fd int) *os.File { return os.NewFile(uintptr(fd), "mpgen-passed") }

// takeRights adopts the descriptors in the control messages oob.
func takeRights(oob []byte) ([]*os.File, error) {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var files []*os.File
	for _, m := range msgs {
		fds, err := syscall.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			files = append(files, adoptFD(fd))
		}
	}
	return files, nil
}
