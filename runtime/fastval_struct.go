package mp

import (
	"encoding"
	"encoding/binary"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
)

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
