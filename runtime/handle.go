package mp

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"sync/atomic"
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

// closer is the open or closed state of a handle made of shared segments,
// and the count of this process's blocking calls inside it. Close marks the
// handle closed at once and wakes the calls asleep on it; the segment is
// unmapped by whichever comes last, Close or the last blocking call to
// leave, so no waiter ever reads unmapped memory. A blocking call calls
// begin before it sleeps and end after, and looks at closed on every
// wake-up.
//
// The non-blocking calls (Lock, Unlock, TryAcquire, Set, Release...) only
// look at closed: they must not race with Close, which may unmap as soon as
// they looked.
type closer struct {
	seg   *shm.Segment
	state atomic.Uint32 // closerOpen | closerUnmapped | calls * closerCall
}

const (
	closerOpen     = 1 // set by open, cleared by Close
	closerUnmapped = 2 // the segment is unmapped (or being unmapped)
	closerCall     = 4 // one blocking call inside
)

// open makes the handle open on s.
func (c *closer) open(s *shm.Segment) {
	c.seg = s
	c.state.Store(closerOpen)
}

// closed reports whether the handle is closed (or was never opened).
func (c *closer) closed() bool { return c.state.Load()&closerOpen == 0 }

// begin counts a blocking call in; it reports false, leaving nothing, when
// the handle is closed.
func (c *closer) begin() bool {
	if c.state.Add(closerCall)&closerOpen == 0 {
		c.end()
		return false
	}
	return true
}

// end counts a blocking call out, unmapping the segment if the handle is
// closed and this was the last one.
func (c *closer) end() {
	if c.state.Add(^uint32(closerCall-1)) == 0 {
		_ = c.unmap()
	}
}

// unmap closes the segment once: the first caller to find the handle
// closed with no call inside does it.
func (c *closer) unmap() error {
	if c.state.CompareAndSwap(0, closerUnmapped) {
		return c.seg.Close()
	}
	return nil
}

// close marks the handle closed and calls wake, which wakes every sleeper
// of this process (the memory is still mapped while it runs); the segment
// is unmapped now, or by the last blocking call to leave. Closing a closed
// handle does nothing.
func (c *closer) close(wake func()) error {
	c.state.Add(closerCall) // keep the memory mapped while wake runs
	for {
		v := c.state.Load()
		if v&closerOpen == 0 {
			c.end()
			return nil
		}
		if c.state.CompareAndSwap(v, v&^closerOpen) {
			break
		}
	}
	if wake != nil {
		wake()
	}
	if c.state.Add(^uint32(closerCall-1)) == 0 {
		return c.unmap()
	}
	return nil
}

// mutexLock is the package-level mutexLock for a lock word in c's segment:
// a blocked wait returns ErrHandleClosed once c is closed.
func (c *closer) mutexLock(ctx context.Context, w *lockWord, op string, timeout time.Duration) error {
	if mutexTry(w) {
		return nil
	}
	if !c.begin() {
		return ErrHandleClosed
	}
	defer c.end()
	return mutexLock(ctx, w, c, op, timeout)
}

// exportSegment describes a handle made of one segment of the given kind
// for another process.
func exportSegment(c *closer, kind shm.Kind) ([]byte, []*os.File, error) {
	if c.closed() {
		return nil, nil, ErrHandleClosed
	}
	return shm.NewMeta(kind, len(c.seg.Mem())), []*os.File{c.seg.File()}, nil
}
