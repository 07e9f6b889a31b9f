//go:build windows

package fdio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/windows"

	"github.com/mpgen/mpgen/runtime/internal/wire"
)

// On Windows a control channel (a byte pipe of runtime/internal/proc's)
// carries handles in a frame of its own, wire.KindRights, written just
// before the frame they belong to, in the same write; the Reader, which
// knows the frame header, consumes it and keeps the handles for Take, so
// the frames above it are those of Unix.
//
// Its body is a mode byte and then:
//   - rightsPushed: the handles, already in the receiver. A child's end of
//     the channel is the pipe's client and its parent made the pipe, so a
//     child puts the handles it sends straight into its parent
//     (DuplicateHandle into the pipe's server process). A handle that a
//     child sends just before it exits is thus never lost.
//   - rightsTransit: a transit record (transitHandles), which the receiver
//     takes the handles out of the sender's transit host with. A parent
//     sends so: it cannot tell its child from the pipe, and it (or its
//     transit host) outlives its children's reads, since they end with it.
const (
	rightsTransit = 0
	rightsPushed  = 1
)

// maxRights bounds a rights frame's body.
const maxRights = 1 + 4 + 8 + 8*MaxFiles

// RightsWriter sends files beside the first bytes written through it (in
// a rights frame before them), then writes plainly. The receiver gets
// duplicates; the sender keeps its files.
type RightsWriter struct {
	f     *os.File
	files []*os.File
}

// NewRightsWriter returns a writer to the control pipe f that sends files
// beside the first bytes written.
func NewRightsWriter(f *os.File, files []*os.File) *RightsWriter {
	return &RightsWriter{f: f, files: files}
}

// Write writes b, with the files before it if they have not gone yet.
func (w *RightsWriter) Write(b []byte) (int, error) {
	if len(w.files) == 0 || len(b) == 0 {
		return w.f.Write(b)
	}
	if len(w.files) > MaxFiles {
		return 0, fmt.Errorf("mp: %d handles beside one frame, at most %d", len(w.files), MaxFiles)
	}
	body, undo, err := rightsBody(w.f, w.files)
	if err != nil {
		return 0, err
	}
	frame := wire.AppendFrame(nil, wire.KindRights, 0, body)
	n, err := w.f.Write(append(frame, b...))
	if n == 0 && err != nil {
		undo() // nothing went: the handles are still ours to close
	}
	n = max(0, n-len(frame))
	if err != nil {
		return n, err
	}
	w.files = nil
	return n, nil
}

// rightsBody duplicates files for the peer of the control pipe f: into
// the peer itself when f is the client end of a pipe another process made
// (a child writing to its parent), else into transit handles. undo closes
// the duplicates, for a body that was not sent.
func rightsBody(f *os.File, files []*os.File) (body []byte, undo func(), err error) {
	h, err := rawHandle(f)
	if err != nil {
		return nil, nil, err
	}
	var flags, server uint32
	if windows.GetNamedPipeInfo(h, &flags, nil, nil, nil) == nil && flags&windows.PIPE_SERVER_END == 0 &&
		windows.GetNamedPipeServerProcessId(h, &server) == nil && server != self().pid {
		return pushHandles(server, files)
	}
	body, undo, err = transitHandles([]byte{rightsTransit}, files)
	return body, undo, err
}

// pushHandles duplicates files into the process pid. undo takes them
// back out of it (closes them there).
func pushHandles(pid uint32, files []*os.File) (body []byte, undo func(), err error) {
	p, err := windows.OpenProcess(windows.PROCESS_DUP_HANDLE, false, pid)
	if err != nil {
		return nil, nil, fmt.Errorf("mp: open process %d to send it handles: %w", pid, err)
	}
	defer windows.CloseHandle(p)
	var sent []windows.Handle
	closeIn := func(p windows.Handle) {
		for _, t := range sent {
			_ = windows.DuplicateHandle(p, t, 0, nil, 0, false, windows.DUPLICATE_CLOSE_SOURCE)
		}
	}
	body = []byte{rightsPushed}
	for _, f := range files {
		h, err := rawHandle(f)
		var t windows.Handle
		if err == nil {
			err = windows.DuplicateHandle(windows.CurrentProcess(), h, p, &t, 0, false, windows.DUPLICATE_SAME_ACCESS)
		}
		if err != nil {
			closeIn(p)
			return nil, nil, fmt.Errorf("mp: duplicate a handle into process %d: %w", pid, err)
		}
		sent = append(sent, t)
		body = binary.LittleEndian.AppendUint64(body, uint64(t))
	}
	undo = func() {
		if p, err := windows.OpenProcess(windows.PROCESS_DUP_HANDLE, false, pid); err == nil {
			closeIn(p)
			windows.CloseHandle(p)
		}
	}
	return body, undo, nil
}

// Reader reads a control pipe and keeps, in arrival order, the handles
// that came in its rights frames, which it does not hand on. A frame's
// handles have arrived once the frame's bytes have been read.
type Reader struct {
	f    *os.File
	buf  []byte // read from f, not yet handed on: buf[r:w]
	r, w int
	left int64 // bytes of the current frame still to hand on

	mu    sync.Mutex
	files []pending
}

// pending is a handle that arrived, or why one could not be taken.
type pending struct {
	f   *os.File
	err error
}

// NewReader returns a Reader of the control pipe f.
func NewReader(f *os.File) *Reader { return &Reader{f: f} }

// Read reads the bytes of the frames other than rights frames into p, and
// keeps the handles that rights frames carry.
func (r *Reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for r.left == 0 {
		// At a frame's start: a rights frame is consumed here, any other
		// is handed on whole.
		if err := r.fill(wire.HeaderLen); err != nil {
			if r.w > r.r {
				r.left = int64(r.w - r.r) // a cut header: the frame reader says so
				break
			}
			return 0, err
		}
		hdr := r.buf[r.r : r.r+wire.HeaderLen]
		n := int64(binary.BigEndian.Uint32(hdr))
		if wire.Kind(hdr[4]) != wire.KindRights || n < 9 {
			r.left = max(4+n, wire.HeaderLen)
			break
		}
		if n-9 > maxRights {
			return 0, fmt.Errorf("a rights frame of %d bytes", n)
		}
		if err := r.fill(int(4 + n)); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, fmt.Errorf("truncated rights frame: %w", err)
		}
		err := r.keep(r.buf[r.r+wire.HeaderLen : r.r+int(4+n)])
		r.r += int(4 + n)
		if err != nil {
			return 0, err
		}
	}
	p = p[:min(int64(len(p)), r.left)]
	if r.w > r.r {
		k := copy(p, r.buf[r.r:r.w])
		r.r += k
		r.left -= int64(k)
		return k, nil
	}
	k, err := r.f.Read(p) // a large body goes straight to the caller
	r.left -= int64(k)
	return k, err
}

// readAhead is how much the Reader reads at once while it looks for
// frames' starts.
const readAhead = 64 << 10

// fill reads until n bytes are buffered.
func (r *Reader) fill(n int) error {
	for r.w-r.r < n {
		if r.r > 0 {
			r.w = copy(r.buf, r.buf[r.r:r.w])
			r.r = 0
		}
		if len(r.buf) < max(n, readAhead) {
			r.buf = append(r.buf, make([]byte, max(n, readAhead)-len(r.buf))...)
		}
		k, err := r.f.Read(r.buf[r.w:])
		r.w += k
		if err != nil && r.w-r.r < n {
			return err
		}
	}
	return nil
}

// keep takes the handles of a rights frame's body.
func (r *Reader) keep(body []byte) error {
	if len(body) < 1 {
		return errors.New("an empty rights frame")
	}
	var got []*os.File
	var err error
	switch body[0] {
	case rightsPushed:
		if (len(body)-1)%8 != 0 {
			return errors.New("a malformed rights frame")
		}
		for i := 1; i < len(body); i += 8 {
			got = append(got, os.NewFile(uintptr(binary.LittleEndian.Uint64(body[i:])), "mpgen-passed"))
		}
	case rightsTransit:
		n := (len(body) - 1 - transitSize(0)) / 8
		if n < 0 || len(body)-1 != transitSize(n) {
			return errors.New("a malformed rights frame")
		}
		got, err = takeHandles(body[1:], n)
	default:
		return fmt.Errorf("a rights frame of mode %d", body[0])
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range got {
		p := pending{f: f}
		if f == nil {
			p.err = err
		}
		r.files = append(r.files, p)
	}
	return nil
}

// Pending reports whether handles are waiting to be taken.
func (r *Reader) Pending() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.files) > 0
}

// Take hands over the n oldest handles. If one of them was lost (see
// ErrHandleLost), it closes the others and says so; the n are taken
// either way.
func (r *Reader) Take(n int) ([]*os.File, error) {
	if n == 0 {
		return nil, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.files) < n {
		return nil, errors.New("a frame names more descriptors than arrived with it")
	}
	out := make([]*os.File, n)
	var err error
	for i, p := range r.files[:n] {
		out[i] = p.f
		if p.err != nil && err == nil {
			err = p.err
		}
	}
	r.files = r.files[n:]
	if err != nil {
		closeFiles(out)
		return nil, err
	}
	return out, nil
}

// Dup duplicates f's handle, not inheritable, so that a call owns handles
// its caller may close at once.
func Dup(f *os.File) (*os.File, error) {
	h, err := rawHandle(f)
	if err != nil {
		return nil, err
	}
	var d windows.Handle
	if err := windows.DuplicateHandle(windows.CurrentProcess(), h, windows.CurrentProcess(), &d, 0, false, windows.DUPLICATE_SAME_ACCESS); err != nil {
		return nil, fmt.Errorf("DuplicateHandle: %w", err)
	}
	return os.NewFile(uintptr(d), f.Name()), nil
}
