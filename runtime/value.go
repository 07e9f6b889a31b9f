package mp

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"time"
	"unsafe"

	"github.com/mpgen/mpgen/runtime/internal/shm"
)

// Value is one value of type T in shared memory: Python's
// multiprocessing.Value. Every process that holds it reads and writes the
// same memory, with no copying. T must be plain data: numbers, bools, and
// arrays and structs of them (NewValue refuses anything holding pointers,
// strings, slices, maps, interfaces, channels or functions).
//
// Load and Store are plain, unsynchronized memory accesses: a T larger than
// a machine word can be read half-written. The optional lock (Lock, Unlock,
// Acquire; Python's get_lock()) is a cross-process Lock in the same
// segment, with the same crash semantics (see Lock). For atomic operations
// on a single integer, use Pointer with sync/atomic. Off Unix and Windows
// NewValue returns an error wrapping errors.ErrUnsupported.
type Value[T any] struct {
	dataLock
	p *T // nil once closed
}

// NewValue returns a new shared Value holding v.
func NewValue[T any](v T) (*Value[T], error) {
	s, err := shm.NewData(shm.KindValue, reflect.TypeFor[T](), 1)
	if err != nil {
		return nil, err
	}
	x := newValueOn[T](s)
	*x.p = v
	return x, nil
}

func newValueOn[T any](s *shm.Segment) *Value[T] {
	x := &Value[T]{dataLock: dataLock{lock: lockAt(s, shm.OffDataLock), what: "Value"}, p: (*T)(unsafe.Pointer(&s.Mem()[shm.DataOffset]))}
	x.open(s)
	return x
}

// errValueClosed is the panic of a Value used after Close.
const errValueClosed = "mp: Value used after Close"

// Load returns the value (an unsynchronized read). It panics if x is
// closed.
func (x *Value[T]) Load() T {
	if x.p == nil {
		panic(errValueClosed)
	}
	return *x.p
}

// Store sets the value (an unsynchronized write). It panics if x is
// closed.
func (x *Value[T]) Store(v T) {
	if x.p == nil {
		panic(errValueClosed)
	}
	*x.p = v
}

// Pointer returns a pointer to the shared value. It is valid until Close,
// and panics if x is closed.
func (x *Value[T]) Pointer() *T {
	if x.p == nil {
		panic(errValueClosed)
	}
	return x.p
}

// Close unmaps the value in this process; the pointer from Pointer must not
// be used afterwards, and Load, Store, Pointer and Lock panic. A goroutine
// of this process blocked in Acquire, AcquireTimeout or AcquireContext
// returns ErrHandleClosed (one blocked in Lock panics); the value is
// unmapped once they have left. Load, Store, Pointer and the lock's
// non-blocking calls must not be called concurrently with Close. The memory
// is freed once every process closed it or ended.
func (x *Value[T]) Close() error {
	x.p = nil
	return x.closeData()
}

func (x *Value[T]) mpExport() ([]byte, []*os.File, error) {
	if x.closed() {
		return nil, nil, ErrHandleClosed
	}
	return shm.DataMeta(shm.KindValue, x.seg, reflect.TypeFor[T](), 1), []*os.File{x.seg.File()}, nil
}

func (x *Value[T]) mpImport(meta []byte, files []*os.File) error {
	s, n, err := shm.ImportData(meta, files, shm.KindValue, reflect.TypeFor[T]())
	if err != nil {
		return err
	}
	if n != 1 {
		s.Close()
		return fmt.Errorf("mp: import: Value segment holds %d elements", n)
	}
	*x = *newValueOn[T](s)
	return nil
}

// Array is a fixed-length array of T in shared memory: Python's
// multiprocessing.Array. Slice returns a Go slice aliasing the shared
// memory, so writes by any process are seen by all with no copying. T must
// be plain data, as for Value. Element accesses are unsynchronized; the
// optional lock (Lock, Unlock, Acquire) is a cross-process Lock in the same
// segment (see Lock for its crash semantics). Off Unix and Windows
// NewArray returns an error wrapping errors.ErrUnsupported.
type Array[T any] struct {
	dataLock
	s []T // nil once closed
}

// NewArray returns a new shared Array of n zero elements.
func NewArray[T any](n int) (*Array[T], error) {
	s, err := shm.NewData(shm.KindArray, reflect.TypeFor[T](), n)
	if err != nil {
		return nil, err
	}
	return newArrayOn[T](s, n), nil
}

func newArrayOn[T any](s *shm.Segment, n int) *Array[T] {
	a := &Array[T]{dataLock: dataLock{lock: lockAt(s, shm.OffDataLock), what: "Array"}, s: unsafe.Slice((*T)(unsafe.Pointer(&s.Mem()[shm.DataOffset])), n)}
	a.open(s)
	return a
}

// Slice returns the shared elements as a slice aliasing the shared memory
// (not a copy). It is valid until Close; do not append to it. After Close
// it returns nil (an empty slice, so indexing it panics with an index out
// of range), as Len returns 0.
func (a *Array[T]) Slice() []T { return a.s[:len(a.s):len(a.s)] }

// Len returns the number of elements, 0 once closed.
func (a *Array[T]) Len() int { return len(a.s) }

// Close unmaps the array in this process; slices from Slice must not be
// used afterwards, and Slice returns nil. A goroutine of this process
// blocked in Acquire, AcquireTimeout or AcquireContext returns
// ErrHandleClosed (one blocked in Lock panics); the array is unmapped once
// they have left. Slice and the lock's non-blocking calls must not be
// called concurrently with Close. The memory is freed once every process
// closed it or ended.
func (a *Array[T]) Close() error {
	a.s = nil
	return a.closeData()
}

func (a *Array[T]) mpExport() ([]byte, []*os.File, error) {
	if a.closed() {
		return nil, nil, ErrHandleClosed
	}
	return shm.DataMeta(shm.KindArray, a.seg, reflect.TypeFor[T](), len(a.s)), []*os.File{a.seg.File()}, nil
}

func (a *Array[T]) mpImport(meta []byte, files []*os.File) error {
	s, n, err := shm.ImportData(meta, files, shm.KindArray, reflect.TypeFor[T]())
	if err != nil {
		return err
	}
	*a = *newArrayOn[T](s, n)
	return nil
}

// dataLock is the optional lock of a Value or Array: a cross-process Lock
// in the same segment as the data.
type dataLock struct {
	closer
	lock *lockWord
	what string // "Value" or "Array", for errors
	race raceSync
}

// closeData closes the segment holding the data and its lock.
func (d *dataLock) closeData() error { return d.close(func() { wakeAll(d.lock) }) }

// Lock acquires the lock that guards the data; see Lock.Lock. It panics
// if the Value or Array is closed.
func (d *dataLock) Lock() {
	if d.closed() {
		panic("mp: " + d.what + " used after Close")
	}
	if d.race.synced(d.mutexLock(context.Background(), d.lock, d.what+".Lock", -1)) == ErrHandleClosed {
		panic("mp: " + d.what + " closed while Lock waited")
	}
}

// Unlock releases the lock that guards the data. It panics if the lock is
// not held, or if the Value or Array is closed.
func (d *dataLock) Unlock() {
	if d.closed() {
		panic("mp: " + d.what + " used after Close")
	}
	d.race.Sync()
	if !mutexUnlock(d.lock) {
		panic(ErrNotLocked)
	}
}

// Acquire acquires the lock that guards the data, waiting as long as it
// takes; see Lock.Acquire for ErrLockAbandoned.
func (d *dataLock) Acquire() error { return d.acquire(context.Background(), -1) }

// AcquireTimeout acquires the lock that guards the data, waiting at most
// d; see Lock.AcquireTimeout.
func (d *dataLock) AcquireTimeout(dur time.Duration) error {
	return d.acquire(context.Background(), max(dur, 0))
}

// AcquireContext acquires the lock that guards the data, waiting until ctx
// is done; see Lock.AcquireContext.
func (d *dataLock) AcquireContext(ctx context.Context) error { return d.acquire(ctx, -1) }

func (d *dataLock) acquire(ctx context.Context, timeout time.Duration) error {
	if d.closed() {
		return ErrHandleClosed
	}
	return d.race.synced(d.mutexLock(ctx, d.lock, d.what+".Acquire", timeout))
}
