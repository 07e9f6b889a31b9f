package mp

import (
	"encoding"
	"encoding/binary"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"reflect"
	"sync"

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

// Small structs of basic fields (struct{S string; I int; F float64}) and
// arrays of basic values ([3]int) travel in the basic form too: the kind
// byte, the field or element count, then each field's kind and value (an
// array's element kind once). A codec's per-message cost would dwarf them,
// as it does basic values. Only types whose every field is exported,
// untagged and basic qualify, and none that marshals itself, so that the
// basic form carries exactly what gob and JSON would.

var compositeOK sync.Map // reflect.Type -> bool

// fastComposite reports whether struct or array type t travels in the
// basic form.
func fastComposite(t reflect.Type) bool {
	if ok, found := compositeOK.Load(t); found {
		return ok.(bool)
	}
	ok := compositeQualifies(t)
	compositeOK.Store(t, ok)
	return ok
}

var (
	gobEncoderType  = reflect.TypeFor[gob.GobEncoder]()
	binMarshalType  = reflect.TypeFor[encoding.BinaryMarshaler]()
	textMarshalType = reflect.TypeFor[encoding.TextMarshaler]()
	jsonMarshalType = reflect.TypeFor[json.Marshaler]()
)

func compositeQualifies(t reflect.Type) bool {
	for _, m := range []reflect.Type{gobEncoderType, binMarshalType, textMarshalType, jsonMarshalType} {
		if t.Implements(m) || reflect.PointerTo(t).Implements(m) {
			return false
		}
	}
	switch t.Kind() {
	case reflect.Array:
		return t.Len() > 0 && basicKind(t.Elem().Kind()) && !implementsAny(t.Elem())
	case reflect.Struct:
		if t.NumField() == 0 || t.NumField() > 64 {
			return false
		}
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() || f.Tag != "" || f.Anonymous || !basicKind(f.Type.Kind()) || implementsAny(f.Type) {
				return false
			}
		}
		return true
	}
	return false
}

// implementsAny reports whether t marshals itself in a way a codec honours.
func implementsAny(t reflect.Type) bool {
	for _, m := range []reflect.Type{gobEncoderType, binMarshalType, textMarshalType, jsonMarshalType} {
		if t.Implements(m) || reflect.PointerTo(t).Implements(m) {
			return true
		}
	}
	return false
}

// encodeComposite encodes a struct or array that passed fastComposite.
func encodeComposite(v reflect.Value) []byte {
	b := make([]byte, 0, 16)
	b = append(b, byte(v.Kind()))
	if v.Kind() == reflect.Array {
		b = append(b, byte(v.Type().Elem().Kind()))
		b = binary.AppendUvarint(b, uint64(v.Len()))
		for i := range v.Len() {
			b = appendBasic(b, v.Index(i))
		}
		return b
	}
	b = binary.AppendUvarint(b, uint64(v.NumField()))
	for i := range v.NumField() {
		f := v.Field(i)
		b = appendBasic(append(b, byte(f.Kind())), f)
	}
	return b
}

// decodeComposite decodes a struct or array (after its kind byte) into v.
func decodeComposite(kind reflect.Kind, data []byte, v reflect.Value) error {
	if v.Kind() != kind {
		return fmt.Errorf("a %v value cannot be stored in %v", kind, v.Type())
	}
	if kind == reflect.Array {
		if len(data) < 1 || reflect.Kind(data[0]) != v.Type().Elem().Kind() {
			return fmt.Errorf("array elements do not fit %v", v.Type())
		}
		n, k := binary.Uvarint(data[1:])
		if k <= 0 || n != uint64(v.Len()) {
			return fmt.Errorf("an array of another length cannot be stored in %v", v.Type())
		}
		data = data[1+k:]
		for i := range v.Len() {
			var err error
			if data, err = readBasic(data, v.Index(i)); err != nil {
				return err
			}
		}
		return trailing(data)
	}
	n, k := binary.Uvarint(data)
	if k <= 0 || n != uint64(v.NumField()) {
		return fmt.Errorf("a struct of another shape cannot be stored in %v", v.Type())
	}
	data = data[k:]
	for i := range v.NumField() {
		f := v.Field(i)
		if len(data) < 1 || reflect.Kind(data[0]) != f.Kind() || !f.CanSet() {
			return fmt.Errorf("field %d does not fit %v", i, v.Type())
		}
		var err error
		if data, err = readBasic(data[1:], f); err != nil {
			return err
		}
	}
	return trailing(data)
}
