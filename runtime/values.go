package mp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"reflect"

	"github.com/mpgen/mpgen/runtime/internal/wire"
)

// Basic values (booleans, integers, floats, strings) and slices of them
// travel in mpgen's own compact binary form, whatever the codec: these are
// the arguments and results of most tiny tasks, and a codec's per-message
// set-up (gob compiles a decoder for every message) would cost far more
// than the work. Both ends are the same binary with the same types, so the
// form needs no type description: one kind byte (with 0x80 for a slice and
// then the element count), then the values.

const fastSlice = 0x80

// fastKind reports whether values of type t travel in the basic form.
func fastKind(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Slice:
		return basicKind(t.Elem().Kind()) && t.Elem().Kind() != reflect.Uint8
	case reflect.Struct, reflect.Array:
		return fastComposite(t)
	}
	return basicKind(t.Kind())
}

func basicKind(k reflect.Kind) bool {
	switch k {
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// encodeFast encodes v, whose type passed fastKind.
func encodeFast(v reflect.Value) []byte {
	if k := v.Kind(); k == reflect.Struct || k == reflect.Array {
		return encodeComposite(v)
	}
	if v.Kind() != reflect.Slice {
		return appendBasic([]byte{byte(v.Kind())}, v)
	}
	n := v.Len()
	ek := v.Type().Elem().Kind()
	head := func(size int) []byte {
		b := make([]byte, 0, 1+binary.MaxVarintLen64+size)
		return binary.AppendUvarint(append(b, fastSlice|byte(ek)), uint64(n))
	}
	switch s := v.Interface().(type) { // the common unnamed slices, without reflection
	case []int:
		size := 0
		for _, x := range s {
			size += varintLen(int64(x))
		}
		b := head(size)
		for _, x := range s {
			b = binary.AppendVarint(b, int64(x))
		}
		return b
	case []int64:
		size := 0
		for _, x := range s {
			size += varintLen(x)
		}
		b := head(size)
		for _, x := range s {
			b = binary.AppendVarint(b, x)
		}
		return b
	}
	b := head(n)
	switch s := v.Interface().(type) {
	case []float64:
		for _, x := range s {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
		}
		return b
	case []string:
		for _, x := range s {
			b = binary.AppendUvarint(b, uint64(len(x)))
			b = append(b, x...)
		}
		return b
	}
	for i := 0; i < n; i++ {
		b = appendBasic(b, v.Index(i))
	}
	return b
}

func appendBasic(b []byte, v reflect.Value) []byte {
	switch v.Kind() {
	case reflect.Bool:
		if v.Bool() {
			return append(b, 1)
		}
		return append(b, 0)
	case reflect.String:
		s := v.String()
		b = binary.AppendUvarint(b, uint64(len(s)))
		return append(b, s...)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return binary.AppendVarint(b, v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return binary.AppendUvarint(b, v.Uint())
	default: // Float32, Float64
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(v.Float()))
	}
}

// varintLen is the length of x as a zig-zag varint.
func varintLen(x int64) int {
	ux := uint64(x) << 1
	if x < 0 {
		ux = ^ux
	}
	return (bits.Len64(ux|1) + 6) / 7
}

// decodeFastInto decodes a basic-form slice of n ints into dst (of length
// n), without allocating; false when data is not such a slice.
func decodeFastInto(data []byte, dst []int) (bool, error) {
	if len(data) == 0 || data[0] != fastSlice|byte(reflect.Int) {
		return false, nil
	}
	data = data[1:]
	n, k := binary.Uvarint(data)
	if k <= 0 || n != uint64(len(dst)) {
		return false, nil
	}
	data = data[k:]
	for i := range dst {
		x, k := binary.Varint(data)
		if k <= 0 {
			return true, errFastShort
		}
		dst[i], data = int(x), data[k:]
	}
	return true, trailing(data)
}

var errFastShort = errors.New("basic value ends early")

// decodeFast decodes data into the value ptr points to.
func decodeFast(data []byte, ptr any) error {
	rv := reflect.ValueOf(ptr)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || len(data) == 0 {
		return fmt.Errorf("cannot decode a basic value into %T", ptr)
	}
	v := rv.Elem()
	tag, data := data[0], data[1:]
	if k := reflect.Kind(tag); k == reflect.Struct || k == reflect.Array {
		return decodeComposite(k, data, v)
	}
	if tag&fastSlice == 0 {
		if v.Kind() != reflect.Kind(tag) {
			return fmt.Errorf("a %v value cannot be stored in %v", reflect.Kind(tag), v.Type())
		}
		rest, err := readBasic(data, v)
		if err == nil && len(rest) != 0 {
			err = fmt.Errorf("%d bytes after a basic value", len(rest))
		}
		return err
	}
	ek := reflect.Kind(tag &^ fastSlice)
	if v.Kind() != reflect.Slice || v.Type().Elem().Kind() != ek {
		return fmt.Errorf("a slice of %v cannot be stored in %v", ek, v.Type())
	}
	n, k := binary.Uvarint(data)
	if k <= 0 || n > uint64(len(data)-k) { // every element takes a byte at least
		return fmt.Errorf("bad slice length in a basic value")
	}
	data = data[k:]
	switch p := ptr.(type) { // the common unnamed slices, without reflection
	case *[]int:
		s := make([]int, n)
		for i := range s {
			x, k := binary.Varint(data)
			if k <= 0 {
				return errFastShort
			}
			s[i], data = int(x), data[k:]
		}
		*p = s
		return trailing(data)
	case *[]float64:
		if uint64(len(data)) < 8*n {
			return errFastShort
		}
		s := make([]float64, n)
		for i := range s {
			s[i] = math.Float64frombits(binary.LittleEndian.Uint64(data[8*i:]))
		}
		*p = s
		return trailing(data[8*n:])
	}
	s := reflect.MakeSlice(v.Type(), int(n), int(n))
	for i := 0; i < int(n); i++ {
		var err error
		if data, err = readBasic(data, s.Index(i)); err != nil {
			return err
		}
	}
	v.Set(s)
	return trailing(data)
}

func trailing(data []byte) error {
	if len(data) != 0 {
		return fmt.Errorf("%d bytes after a basic value", len(data))
	}
	return nil
}

// readBasic decodes one value of v's kind into v and returns the rest.
func readBasic(data []byte, v reflect.Value) ([]byte, error) {
	switch v.Kind() {
	case reflect.Bool:
		if len(data) < 1 || data[0] > 1 {
			return nil, errFastShort
		}
		v.SetBool(data[0] == 1)
		return data[1:], nil
	case reflect.String:
		n, k := binary.Uvarint(data)
		if k <= 0 || n > uint64(len(data)-k) {
			return nil, errFastShort
		}
		v.SetString(string(data[k : k+int(n)]))
		return data[k+int(n):], nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		x, k := binary.Varint(data)
		if k <= 0 || v.OverflowInt(x) {
			return nil, errFastShort
		}
		v.SetInt(x)
		return data[k:], nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		x, k := binary.Uvarint(data)
		if k <= 0 || v.OverflowUint(x) {
			return nil, errFastShort
		}
		v.SetUint(x)
		return data[k:], nil
	case reflect.Float32, reflect.Float64:
		if len(data) < 8 {
			return nil, errFastShort
		}
		v.SetFloat(math.Float64frombits(binary.LittleEndian.Uint64(data)))
		return data[8:], nil
	}
	return nil, fmt.Errorf("%v is not a basic kind", v.Kind())
}

// decodeValue decodes an encoded value into the value ptr points to: the
// zero value when absent, raw bytes, the basic form, or the codec's.
func decodeValue(codec Codec, ev wire.Value, ptr any) error {
	switch {
	case !ev.Present:
		return nil
	case ev.Raw:
		return setRaw(ptr, ev.Data)
	case ev.Fast:
		return decodeFast(ev.Data, ptr)
	}
	return codec.Unmarshal(ev.Data, ptr)
}
