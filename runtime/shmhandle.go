package mp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/mpgen/mpgen/runtime/internal/israce"
)

// Kinds of shared objects, in segment headers and export metadata.
const (
	kindLock uint32 = iota + 1
	kindRLock
	kindSemaphore
	kindEvent
	kindCondition
	kindBarrier
	kindValue
	kindArray
	kindSharedMemory
	kindQueue
)

// The header of every segment: a magic word and the kind, so a descriptor
// of one kind is never mapped as another.
const (
	segMagic     uint32 = 0x5367706d // "mpgS"
	metaVersion  byte   = 1
	offMagic            = 0
	offKind             = 4
	offWords            = 8  // first word of the primitive's state
	dataOffset          = 64 // where Value and Array data start
	maxMetaBytes        = 4096
)

// selfPid is this process's id as the lock words store it.
var selfPid = uint32(os.Getpid()) & lockPidMask

// word returns a pointer to the 32-bit word at off in mem.
func word(mem []byte, off int) *uint32 { return (*uint32)(unsafe.Pointer(&mem[off])) }

// word64 returns a pointer to the 64-bit word at off in mem (off % 8 == 0).
func word64(mem []byte, off int) *uint64 { return (*uint64)(unsafe.Pointer(&mem[off])) }

// pageRound rounds n up to whole pages.
func pageRound(n int) int {
	p := os.Getpagesize()
	return (n + p - 1) / p * p
}

// newKindSegment makes a segment of at least size bytes with its header.
func newKindSegment(kind uint32, size int) (*segment, error) {
	s, err := newSegment(pageRound(size))
	if err != nil {
		return nil, err
	}
	atomic.StoreUint32(word(s.mem, offKind), kind)
	atomic.StoreUint32(word(s.mem, offMagic), segMagic)
	return s, nil
}

// metaWriter builds export metadata: version, kind, then fields.
type metaWriter struct{ b []byte }

func newMeta(kind uint32, size int) *metaWriter {
	m := &metaWriter{b: []byte{metaVersion}}
	m.uint(uint64(kind))
	m.uint(uint64(size))
	return m
}

func (m *metaWriter) uint(v uint64) { m.b = binary.AppendUvarint(m.b, v) }
func (m *metaWriter) str(s string) {
	m.uint(uint64(len(s)))
	m.b = append(m.b, s...)
}

// metaReader parses export metadata; the first error sticks.
type metaReader struct {
	b   []byte
	err error
}

func (m *metaReader) uint() uint64 {
	if m.err != nil {
		return 0
	}
	v, n := binary.Uvarint(m.b)
	if n <= 0 {
		m.err = errors.New("truncated metadata")
		return 0
	}
	m.b = m.b[n:]
	return v
}

func (m *metaReader) str() string {
	n := m.uint()
	if m.err != nil {
		return ""
	}
	if n > uint64(len(m.b)) {
		m.err = errors.New("truncated metadata")
		return ""
	}
	s := string(m.b[:n])
	m.b = m.b[n:]
	return s
}

// readMeta checks the version and kind and returns the segment size and
// a reader for the rest.
func readMeta(meta []byte, kind uint32) (int, *metaReader, error) {
	if len(meta) == 0 || len(meta) > maxMetaBytes {
		return 0, nil, fmt.Errorf("mp: import: metadata of %d bytes", len(meta))
	}
	if meta[0] != metaVersion {
		return 0, nil, fmt.Errorf("mp: import: metadata version %d, this runtime reads %d (parent and child must be the same program)", meta[0], metaVersion)
	}
	m := &metaReader{b: meta[1:]}
	k := m.uint()
	size := m.uint()
	if m.err != nil {
		return 0, nil, fmt.Errorf("mp: import: %w", m.err)
	}
	if k != uint64(kind) {
		return 0, nil, fmt.Errorf("mp: import: descriptor is a %s, not a %s", kindName(uint32(k)), kindName(kind))
	}
	if size < dataOffset || size > 1<<46 {
		return 0, nil, fmt.Errorf("mp: import: segment size %d out of range", size)
	}
	return int(size), m, nil
}

func kindName(k uint32) string {
	switch k {
	case kindLock:
		return "Lock"
	case kindRLock:
		return "RLock"
	case kindSemaphore:
		return "Semaphore"
	case kindEvent:
		return "Event"
	case kindCondition:
		return "Condition"
	case kindBarrier:
		return "Barrier"
	case kindValue:
		return "Value"
	case kindArray:
		return "Array"
	case kindSharedMemory:
		return "SharedMemory"
	case kindQueue:
		return "Queue"
	}
	return fmt.Sprintf("kind %d", k)
}

// importSegment maps f as a segment of the given kind and size, checking
// that the size is sealed and that the header matches. It does not close
// f on error.
func importSegment(f *os.File, kind uint32, size int) (*segment, error) {
	if f == nil {
		return nil, errors.New("mp: import: missing descriptor")
	}
	if err := checkSealed(f); err != nil {
		return nil, err
	}
	s, err := mapSegment(f, size)
	if err != nil {
		return nil, err
	}
	if m, k := atomic.LoadUint32(word(s.mem, offMagic)), atomic.LoadUint32(word(s.mem, offKind)); m != segMagic || k != kind {
		s.unmap()
		return nil, fmt.Errorf("mp: import: segment is not an mpgen %s (magic %#x, kind %d)", kindName(kind), m, k)
	}
	return s, nil
}

// checkFiles reports an error unless there are exactly n files.
func checkFiles(files []*os.File, n int, kind uint32) error {
	if len(files) != n {
		return fmt.Errorf("mp: import: a %s travels with %d descriptor(s), got %d", kindName(kind), n, len(files))
	}
	return nil
}

// waitSlice bounds each futex sleep: a waiter wakes at least this often to
// look at its context and, for locks, at whether the holder is still alive.
const waitSlice = 100 * time.Millisecond

// errSlice is returned by waiter.sleep when one slice passed without news.
var errSlice = errors.New("wait slice passed")

// waiter is one blocking wait on a futex word, bounded by a context and an
// optional timeout. A cancelled context wakes every sleeper on the word
// (they re-check and sleep again), so the waiter notices at once.
type waiter struct {
	ctx      context.Context
	op       string
	timeout  time.Duration
	deadline time.Time // zero: none
	start    time.Time // zero when ctx can never be done
	stop     func() bool
}

// newWaiter starts a wait on w. timeout < 0 means none; timeout == 0 means
// do not sleep at all (the caller gets one look). Call done when finished.
func newWaiter(ctx context.Context, w *uint32, op string, timeout time.Duration) *waiter {
	wt := &waiter{ctx: ctx, op: op, timeout: timeout, start: startOf(ctx)}
	if timeout >= 0 {
		wt.deadline = time.Now().Add(timeout)
	}
	if ctx.Done() != nil {
		wt.stop = context.AfterFunc(ctx, func() { futexWake(w, 1<<30) })
	}
	return wt
}

func (wt *waiter) done() {
	if wt.stop != nil {
		wt.stop()
	}
}

// sleep sleeps while *w == val, for one slice at most. It returns nil when
// woken (or spuriously), errSlice when the slice passed, or a
// *TimeoutError or the context's error when the wait is over.
func (wt *waiter) sleep(w *uint32, val uint32) error {
	if wt.ctx.Err() != nil {
		return giveUp(wt.ctx, wt.op, wt.start)
	}
	d := waitSlice
	if !wt.deadline.IsZero() {
		rem := time.Until(wt.deadline)
		if rem <= 0 {
			return &TimeoutError{Op: wt.op, After: wt.timeout}
		}
		d = min(d, rem)
	}
	err := futexWait(w, val, d)
	if err == errFutexTimeout {
		return errSlice
	}
	return err
}

// raceSync tells the race detector about the ordering a primitive gives
// between goroutines of this process. The detector does not see atomic
// operations on shared mappings, so without it every access guarded by a
// Lock would be reported. It costs nothing without -race.
type raceSync struct{ a atomic.Uint32 }

// sync is called after acquiring and before releasing.
func (r *raceSync) sync() {
	if israce.Enabled {
		r.a.Add(1)
	}
}

// synced calls sync when err is nil or ErrLockAbandoned and returns err.
func (r *raceSync) synced(err error) error {
	if err == nil || err == ErrLockAbandoned {
		r.sync()
	}
	return err
}

// over reports whether err from sleep ends the wait.
func over(err error) bool { return err != nil && err != errSlice }

// takeSegment detaches the segment *p from its handle and closes it: the
// Close of a handle made of one segment.
func takeSegment(p **segment) error {
	s := *p
	*p = nil
	return s.Close()
}

// exportSegment describes a handle made of one segment of the given kind
// for another process.
func exportSegment(s *segment, kind uint32) ([]byte, []*os.File, error) {
	if s == nil {
		return nil, nil, ErrHandleClosed
	}
	return newMeta(kind, len(s.mem)).b, []*os.File{s.f}, nil
}
