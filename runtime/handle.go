package mp

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"time"

	"github.com/mpgen/mpgen/runtime/internal/fdio"
	"github.com/mpgen/mpgen/runtime/internal/shm"
	"github.com/mpgen/mpgen/runtime/internal/wire"
)

// A handle is a runtime value that travels to another process as open
// descriptors plus a short description, never through a codec: Conn, Queue,
// the locks, Value, Array and SharedMemory. The descriptors are sent beside
// the frame that names them (SCM_RIGHTS on the control channel), so the
// receiver gets its own duplicates and no descriptor number is ever
// serialized.
type handle interface {
	// mpExport describes the value for another process. meta is opaque to
	// the transport; files are sent beside the frame, and the sender keeps
	// ownership of them.
	mpExport() (meta []byte, files []*os.File, err error)
}

// importer is implemented by a pointer to each handle type. mpImport
// rebuilds the value in the receiving process from meta and the received
// files, and takes ownership of the files (it closes them if it fails).
type importer interface {
	mpImport(meta []byte, files []*os.File) error
}

// closeFiles closes files, ignoring errors: they are descriptors nobody
// will use any more.
func closeFiles(files []*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}

// exportHandle encodes h for a call: the call gets its own duplicates of
// h's descriptors, so that the caller may close h as soon as Start returns.
func exportHandle(h handle) (wire.Value, error) {
	meta, files, err := h.mpExport()
	if err != nil {
		return wire.Value{Handle: true}, err
	}
	if len(files) > maxPassedFiles {
		return wire.Value{}, fmt.Errorf("%d descriptors, at most %d", len(files), maxPassedFiles)
	}
	dups := make([]*os.File, 0, len(files))
	for _, f := range files {
		d, err := fdio.Dup(f)
		if err != nil {
			closeFiles(dups)
			return wire.Value{}, err
		}
		dups = append(dups, d)
	}
	return wire.Value{Present: true, Handle: true, Data: meta, NFiles: len(dups), Files: dups}, nil
}

// importHandle rebuilds the handle that ptr (a **T) points to from meta and
// files, which it takes over. The receiver should Close a handle it no
// longer needs: the garbage collector closes an unreachable handle's
// descriptors (os.File does) and a Queue's shared words, but the mapping of
// a Lock, Value, Array or other shared primitive lasts until Close or the
// process's end, which matters in a long-lived pool worker that receives
// many.
func importHandle(meta []byte, files []*os.File, ptr any) error {
	pv := reflect.ValueOf(ptr)
	if pv.Kind() != reflect.Pointer || pv.IsNil() || pv.Elem().Kind() != reflect.Pointer {
		closeFiles(files)
		return fmt.Errorf("a handle cannot be stored in %T", ptr)
	}
	nv := reflect.New(pv.Elem().Type().Elem())
	imp, ok := nv.Interface().(importer)
	if !ok {
		closeFiles(files)
		return fmt.Errorf("%v is not a handle type", pv.Elem().Type())
	}
	if err := imp.mpImport(meta, files); err != nil {
		return err
	}
	pv.Elem().Set(nv)
	return nil
}

// argFiles lists the descriptors of encoded arguments, in order.
func argFiles(args []wire.Value) []*os.File {
	var out []*os.File
	for _, a := range args {
		out = append(out, a.Files...)
	}
	return out
}

// maxPassedFiles bounds the descriptors one frame or message may carry:
// the wire's limit.
const maxPassedFiles = wire.MaxFiles

// dupFiles duplicates files for one send, all or none: if one cannot be
// duplicated (out of descriptors), none travel and the receiver reports the
// call's handles incomplete.
func dupFiles(files []*os.File) []*os.File {
	if len(files) == 0 {
		return nil
	}
	out := make([]*os.File, 0, len(files))
	for _, f := range files {
		d, err := fdio.Dup(f)
		if err != nil {
			closeFiles(out)
			return nil
		}
		out = append(out, d)
	}
	return out
}

// newWaiter starts a shm.Waiter on w for op: a timeout that passes is a
// *TimeoutError, and so is a context whose deadline passes (a cancelled
// context gives its error).
func newWaiter(ctx context.Context, w *uint32, op string, timeout time.Duration) *shm.Waiter {
	start := startOf(ctx)
	return shm.NewWaiter(ctx, w, timeout, func(ctxErr error) error {
		if ctxErr == nil {
			return &TimeoutError{Op: op, After: timeout}
		}
		return asTimeout(ctxErr, op, start, nil)
	})
}

// raceSync is shm.RaceSync with synced, which knows ErrLockAbandoned.
type raceSync struct{ shm.RaceSync }

// synced calls Sync when err is nil or ErrLockAbandoned and returns err.
func (r *raceSync) synced(err error) error {
	if err == nil || err == ErrLockAbandoned {
		r.Sync()
	}
	return err
}

// takeSegment detaches the segment *p from its handle and closes it: the
// Close of a handle made of one segment.
func takeSegment(p **shm.Segment) error {
	s := *p
	*p = nil
	return s.Close()
}

// exportSegment describes a handle made of one segment of the given kind
// for another process.
func exportSegment(s *shm.Segment, kind shm.Kind) ([]byte, []*os.File, error) {
	if s == nil {
		return nil, nil, ErrHandleClosed
	}
	return shm.NewMeta(kind, len(s.Mem())), []*os.File{s.File()}, nil
}
