package mp

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"reflect"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"
)

// The header of a Value or Array segment, after the magic and kind.
const (
	offDataLock = offWords // the optional lock's word
	offElemSize = 16
	offLen      = 24
	offLayout   = 32
	maxArray    = 1 << 44 // bytes
)

// plainType reports an error unless values of t are plain data that mean
// the same in every process: numbers, bools, and arrays and structs of
// them. Pointers, strings, slices, maps, interfaces, channels and functions
// hold addresses of one process's memory and are refused.
func plainType(t reflect.Type) error {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return nil
	case reflect.Array:
		if err := plainType(t.Elem()); err != nil {
			return fmt.Errorf("%v: %w", t, err)
		}
		return nil
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if err := plainType(f.Type); err != nil {
				return fmt.Errorf("field %s: %w", f.Name, err)
			}
		}
		return nil
	}
	return fmt.Errorf("%v is a %v, which holds addresses of one process's memory", t, t.Kind())
}

// layout fingerprints t's memory layout (kinds, sizes, offsets), so that
// two processes agree on the bytes, not only on a type name.
func layout(t reflect.Type) uint64 {
	h := fnv.New64a()
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		h.Write([]byte(t.Kind().String() + ":" + strconv.FormatUint(uint64(t.Size()), 10) + ";"))
		switch t.Kind() {
		case reflect.Array:
			h.Write([]byte(strconv.Itoa(t.Len()) + "["))
			walk(t.Elem())
			h.Write([]byte("]"))
		case reflect.Struct:
			h.Write([]byte("{"))
			for i := range t.NumField() {
				f := t.Field(i)
				h.Write([]byte(f.Name + "@" + strconv.FormatUint(uint64(f.Offset), 10) + "="))
				walk(f.Type)
			}
			h.Write([]byte("}"))
		}
	}
	walk(t)
	return h.Sum64()
}

// dataSegment makes a Value or Array segment for n elements of type t.
func dataSegment(kind uint32, t reflect.Type, n int) (*segment, error) {
	if err := plainType(t); err != nil {
		return nil, fmt.Errorf("mp: New%s[%v]: %w; only numbers, bools, and arrays and structs of them can be shared", kindName(kind), t, err)
	}
	if t.Align() > dataOffset {
		return nil, fmt.Errorf("mp: New%s[%v]: alignment %d is too large", kindName(kind), t, t.Align())
	}
	es := t.Size()
	if n < 0 || n > maxArray || (es > 0 && uint64(n) > maxArray/uint64(es)) {
		return nil, fmt.Errorf("mp: New%s[%v]: length %d out of range", kindName(kind), t, n)
	}
	s, err := newKindSegment(kind, dataOffset+n*int(es))
	if err != nil {
		return nil, err
	}
	atomic.StoreUint64(word64(s.mem, offElemSize), uint64(es))
	atomic.StoreUint64(word64(s.mem, offLen), uint64(n))
	atomic.StoreUint64(word64(s.mem, offLayout), layout(t))
	return s, nil
}

func dataMeta(kind uint32, s *segment, t reflect.Type, n int) []byte {
	m := newMeta(kind, len(s.mem))
	m.uint(uint64(t.Size()))
	m.uint(uint64(n))
	m.uint(layout(t))
	m.str(t.String())
	return m.b
}

// importData maps a Value or Array segment and checks that it holds n
// elements of type t, as this process's t is laid out. It returns n.
func importData(meta []byte, files []*os.File, kind uint32, t reflect.Type) (*segment, int, error) {
	s, n, err := func() (*segment, int, error) {
		size, m, err := readMeta(meta, kind)
		if err != nil {
			return nil, 0, err
		}
		es, n, lay, name := m.uint(), m.uint(), m.uint(), m.str()
		if m.err != nil {
			return nil, 0, fmt.Errorf("mp: import %s: %w", kindName(kind), m.err)
		}
		if name != t.String() || es != uint64(t.Size()) || lay != layout(t) {
			return nil, 0, fmt.Errorf("mp: import: a %s[%s] (element size %d) was sent where a %s[%v] (element size %d) is expected, or the two programs lay the type out differently", kindName(kind), name, es, kindName(kind), t, t.Size())
		}
		if n > maxArray || es > 0 && n > maxArray/es || uint64(size) < dataOffset+n*es {
			return nil, 0, fmt.Errorf("mp: import: %s of %d elements does not fit its %d-byte segment", kindName(kind), n, size)
		}
		if err := checkFiles(files, 1, kind); err != nil {
			return nil, 0, err
		}
		s, err := importSegment(files[0], kind, size)
		if err != nil {
			return nil, 0, err
		}
		if atomic.LoadUint64(word64(s.mem, offElemSize)) != es || atomic.LoadUint64(word64(s.mem, offLen)) != n || atomic.LoadUint64(word64(s.mem, offLayout)) != lay {
			s.unmap()
			return nil, 0, fmt.Errorf("mp: import: %s segment header does not match its description", kindName(kind))
		}
		return s, int(n), nil
	}()
	if err != nil {
		closeFiles(files)
	}
	return s, n, err
}

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
// on a single integer, use Pointer with sync/atomic. Off Linux NewValue
// returns an error wrapping errors.ErrUnsupported.
type Value[T any] struct {
	dataLock
	seg *segment
	p   *T
}

// NewValue returns a new shared Value holding v.
func NewValue[T any](v T) (*Value[T], error) {
	s, err := dataSegment(kindValue, reflect.TypeFor[T](), 1)
	if err != nil {
		return nil, err
	}
	x := newValueOn[T](s)
	*x.p = v
	return x, nil
}

func newValueOn[T any](s *segment) *Value[T] {
	return &Value[T]{dataLock: dataLock{lock: word(s.mem, offDataLock), what: "Value"}, seg: s, p: (*T)(unsafe.Pointer(&s.mem[dataOffset]))}
}

// Load returns the value (an unsynchronized read).
func (x *Value[T]) Load() T { return *x.p }

// Store sets the value (an unsynchronized write).
func (x *Value[T]) Store(v T) { *x.p = v }

// Pointer returns a pointer to the shared value. It is valid until Close.
func (x *Value[T]) Pointer() *T { return x.p }

// Close unmaps the value in this process; the pointer from Pointer must not
// be used afterwards. The memory is freed once every process closed it or
// ended.
func (x *Value[T]) Close() error {
	s := x.seg
	x.seg, x.p = nil, nil
	return s.Close()
}

func (x *Value[T]) mpExport() ([]byte, []*os.File, error) {
	if x.seg == nil {
		return nil, nil, ErrHandleClosed
	}
	return dataMeta(kindValue, x.seg, reflect.TypeFor[T](), 1), []*os.File{x.seg.f}, nil
}

func (x *Value[T]) mpImport(meta []byte, files []*os.File) error {
	s, n, err := importData(meta, files, kindValue, reflect.TypeFor[T]())
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
// segment (see Lock for its crash semantics). Off Linux NewArray returns an
// error wrapping errors.ErrUnsupported.
type Array[T any] struct {
	dataLock
	seg *segment
	s   []T
}

// NewArray returns a new shared Array of n zero elements.
func NewArray[T any](n int) (*Array[T], error) {
	s, err := dataSegment(kindArray, reflect.TypeFor[T](), n)
	if err != nil {
		return nil, err
	}
	return newArrayOn[T](s, n), nil
}

func newArrayOn[T any](s *segment, n int) *Array[T] {
	return &Array[T]{dataLock: dataLock{lock: word(s.mem, offDataLock), what: "Array"}, seg: s, s: unsafe.Slice((*T)(unsafe.Pointer(&s.mem[dataOffset])), n)}
}

// Slice returns the shared elements as a slice aliasing the shared memory
// (not a copy). It is valid until Close; do not append to it.
func (a *Array[T]) Slice() []T { return a.s[:len(a.s):len(a.s)] }

// Len returns the number of elements.
func (a *Array[T]) Len() int { return len(a.s) }

// Close unmaps the array in this process; slices from Slice must not be
// used afterwards. The memory is freed once every process closed it or
// ended.
func (a *Array[T]) Close() error {
	s := a.seg
	a.seg, a.s = nil, nil
	return s.Close()
}

func (a *Array[T]) mpExport() ([]byte, []*os.File, error) {
	if a.seg == nil {
		return nil, nil, ErrHandleClosed
	}
	return dataMeta(kindArray, a.seg, reflect.TypeFor[T](), len(a.s)), []*os.File{a.seg.f}, nil
}

func (a *Array[T]) mpImport(meta []byte, files []*os.File) error {
	s, n, err := importData(meta, files, kindArray, reflect.TypeFor[T]())
	if err != nil {
		return err
	}
	*a = *newArrayOn[T](s, n)
	return nil
}

// dataLock is the optional lock of a Value or Array: a cross-process Lock
// in the same segment as the data.
type dataLock struct {
	lock *uint32
	what string // "Value" or "Array", for errors
	race raceSync
}

// Lock acquires the lock that guards the data; see Lock.Lock.
func (d *dataLock) Lock() {
	_ = d.race.synced(mutexLock(context.Background(), d.lock, d.what+".Lock", -1))
}

// Unlock releases the lock that guards the data. It panics if the lock is
// not held.
func (d *dataLock) Unlock() {
	d.race.sync()
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
	return d.race.synced(mutexLock(ctx, d.lock, d.what+".Acquire", timeout))
}
