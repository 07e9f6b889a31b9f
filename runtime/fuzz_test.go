package mp

// Native fuzz tests of what a child or a Conn decodes with a codec: the
// arguments of a call and the messages of a Conn or Queue. None may panic on
// any input. (Frames and the hello, call, error and panic bodies are fuzzed
// in runtime/internal/wire.)
//
// Run one for a while with, for instance,
//
//	go test -run '^$' -fuzz '^FuzzArgsDecode$' -fuzztime 20s ./runtime

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/mpgen/mpgen/runtime/internal/wire"
)

// Types a child decodes arguments into in FuzzArgsDecode.
type (
	fuzzPoint struct{ X, Y int }
	fuzzTree  struct {
		Name  string
		Kids  []*fuzzTree
		Attrs map[string][]byte
	}
	fuzzPayload struct {
		When  time.Time
		Data  []byte
		Tags  map[string][]int
		At    *fuzzPoint
		Pts   []fuzzPoint
		Ratio float64
		C     complex128
		Arr   [3]uint8
		Dur   time.Duration
		Any   any
	}
)

// fuzzArgTypes makes a fresh pointer to each type FuzzArgsDecode tries.
var fuzzArgTypes = []func() any{
	func() any { return new(int) },
	func() any { return new(string) },
	func() any { return new([]byte) },
	func() any { return new([]int) },
	func() any { return new(map[string][]int) },
	func() any { return new(*fuzzPoint) },
	func() any { return new(fuzzTree) },
	func() any { return new(fuzzPayload) },
	func() any { return new([][]map[int]*fuzzPoint) },
	func() any { return new(time.Time) },
	func() any { return new(any) },
}

func FuzzArgsDecode(f *testing.F) {
	gob, json := Gob, JSON
	seeds := []any{
		42, "hello", []byte{0, 1, 2}, []int{1, 2, 3}, map[string][]int{"a": {1}, "b": nil},
		&fuzzPoint{X: 1, Y: -2},
		fuzzTree{Name: "root", Kids: []*fuzzTree{{Name: "kid", Attrs: map[string][]byte{"k": []byte("v")}}}},
		fuzzPayload{When: time.Date(2026, 11, 25, 20, 0, 0, 123, time.UTC), Data: []byte{9}, At: &fuzzPoint{1, 2}, Dur: time.Minute},
		[][]map[int]*fuzzPoint{{{1: {3, 4}}}},
		time.Unix(0, 0),
	}
	for _, s := range seeds {
		for _, c := range []Codec{gob, json} {
			data, err := c.Marshal(s)
			if err != nil {
				continue // JSON has no complex numbers
			}
			f.Add(data, c.Name() == "json", true)
		}
	}
	f.Add([]byte{}, false, true)
	f.Add([]byte{}, false, false)
	f.Add([]byte{0x03, 0x04, 0x00, 0xff}, false, true)
	f.Add([]byte("\xff\xff\xff\xff\xff\xff\xff\xff"), false, true)
	f.Add([]byte("null"), true, true)
	f.Add([]byte(`{"Kids":[{"Kids":[{"Kids":[]}]}]}`), true, true)
	f.Fuzz(func(t *testing.T, data []byte, useJSON, present bool) {
		var c Codec = gob
		if useJSON {
			c = json
		}
		w := &wireArgs{codec: c, args: []wire.Value{{Present: present, Data: data}}}
		for _, mk := range fuzzArgTypes {
			v := mk()
			err := w.Decode(0, v) // must not panic
			if !present && err != nil {
				t.Fatalf("an absent argument failed to decode into %T: %v", v, err)
			}
			if err == nil && present && !useJSON {
				// gob accepted it: the value re-encodes and decodes
				// to an equal value.
				enc, err := gob.Marshal(reflect.ValueOf(v).Elem().Interface())
				if err != nil {
					continue // e.g. a nil pointer or an untyped nil any
				}
				v2 := mk()
				if err := gob.Unmarshal(enc, v2); err != nil {
					t.Fatalf("%T: re-encoded value does not decode: %v", v, err)
				}
			}
		}
		if err := w.Decode(1, new(int)); err == nil {
			t.Fatal("argument 1 of 1 decoded")
		}
		if err := w.Decode(-1, new(int)); err == nil {
			t.Fatal("argument -1 decoded")
		}
	})
}

// FuzzDecodeMsg: a Conn or Queue message from another process decodes into
// a value or an error, never a panic; descriptors it names but that did not
// arrive are an error.
func FuzzDecodeMsg(f *testing.F) {
	for _, v := range []any{42, "text", []byte("raw"), []int{1, 2}, map[string]int{"a": 1}} {
		msg, files, err := encodeMsg(Gob, reflect.ValueOf(v))
		if err != nil || len(files) != 0 {
			f.Fatalf("encodeMsg(%v): %v, %d files", v, err, len(files))
		}
		f.Add(msg, uint8(0))
	}
	f.Add([]byte{}, uint8(1))
	f.Add([]byte{wire.FormHandle, 1, 2, 3}, uint8(2))
	f.Add([]byte{formSpilled | wire.FormRaw}, uint8(3))
	f.Fuzz(func(t *testing.T, msg []byte, kind uint8) {
		switch kind % 4 {
		case 0:
			var v int
			_ = decodeMsg(Gob, msg, nil, &v)
		case 1:
			var v string
			_ = decodeMsg(Gob, msg, nil, &v)
		case 2:
			var v []byte
			if err := decodeMsg(Gob, msg, nil, &v); err == nil && len(msg) > 0 && msg[0] == wire.FormRaw && !bytes.Equal(v, msg[1:]) {
				t.Fatalf("raw message decoded to %q, want %q", v, msg[1:])
			}
		case 3:
			var v *Conn[int]
			if err := decodeMsg(Gob, msg, nil, &v); err == nil && len(msg) > 0 && msg[0] == wire.FormHandle {
				t.Fatalf("a handle without descriptors was accepted")
			}
		}
	})
}
