package shm

import (
	"fmt"
	"hash/fnv"
	"os"
	"reflect"
	"strconv"
	"sync/atomic"
)

// The header of a Value or Array segment, after the magic and kind.
const (
	// OffDataLock is the offset of the 16 bytes of a Value's or Array's
	// optional lock.
	OffDataLock = OffWords
	offElemSize = 24
	offLen      = 32
	offLayout   = 40
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

// NewData makes a Value or Array segment (kind) for n elements of type t,
// which must be plain data: numbers, bools, and arrays and structs of them.
// The elements start at DataOffset, zeroed.
func NewData(kind Kind, t reflect.Type, n int) (*Segment, error) {
	if err := plainType(t); err != nil {
		return nil, fmt.Errorf("mp: New%s[%v]: %w; only numbers, bools, and arrays and structs of them can be shared", kind, t, err)
	}
	if t.Align() > DataOffset {
		return nil, fmt.Errorf("mp: New%s[%v]: alignment %d is too large", kind, t, t.Align())
	}
	es := t.Size()
	if n < 0 || n > maxArray || (es > 0 && uint64(n) > maxArray/uint64(es)) {
		return nil, fmt.Errorf("mp: New%s[%v]: length %d out of range", kind, t, n)
	}
	s, err := New(kind, DataOffset+n*int(es))
	if err != nil {
		return nil, err
	}
	atomic.StoreUint64(s.Word64(offElemSize), uint64(es))
	atomic.StoreUint64(s.Word64(offLen), uint64(n))
	atomic.StoreUint64(s.Word64(offLayout), layout(t))
	return s, nil
}

// DataMeta describes a segment made by NewData(kind, t, n) for another
// process.
func DataMeta(kind Kind, s *Segment, t reflect.Type, n int) []byte {
	m := NewMeta(kind, len(s.mem))
	m.Uvarint(uint64(t.Size()))
	m.Uvarint(uint64(n))
	m.Uvarint(layout(t))
	m.Str(t.String())
	return m
}

// ImportData maps a Value or Array segment described by meta and checks
// that it holds elements of type t, as this process's t is laid out. It
// returns the segment and the number of elements. It takes ownership of
// files: it closes them if it fails.
func ImportData(meta []byte, files []*os.File, kind Kind, t reflect.Type) (*Segment, int, error) {
	s, n, err := func() (*Segment, int, error) {
		size, m, err := ReadMeta(meta, kind)
		if err != nil {
			return nil, 0, err
		}
		es, n, lay, name := m.Uvarint(), m.Uvarint(), m.Uvarint(), m.Str()
		if err := m.Err(); err != nil {
			return nil, 0, fmt.Errorf("mp: import %s: %w", kind, err)
		}
		if name != t.String() || es != uint64(t.Size()) || lay != layout(t) {
			return nil, 0, fmt.Errorf("mp: import: a %s[%s] (element size %d) was sent where a %s[%v] (element size %d) is expected, or the two programs lay the type out differently", kind, name, es, kind, t, t.Size())
		}
		if n > maxArray || es > 0 && n > maxArray/es || uint64(size) < DataOffset+n*es {
			return nil, 0, fmt.Errorf("mp: import: %s of %d elements does not fit its %d-byte segment", kind, n, size)
		}
		if err := CheckFiles(files, 1, kind); err != nil {
			return nil, 0, err
		}
		s, err := Import(files[0], kind, size)
		if err != nil {
			return nil, 0, err
		}
		if atomic.LoadUint64(s.Word64(offElemSize)) != es || atomic.LoadUint64(s.Word64(offLen)) != n || atomic.LoadUint64(s.Word64(offLayout)) != lay {
			s.Unmap()
			return nil, 0, fmt.Errorf("mp: import: %s segment header does not match its description", kind)
		}
		return s, int(n), nil
	}()
	if err != nil {
		closeFiles(files)
	}
	return s, n, err
}
