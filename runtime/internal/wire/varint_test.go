package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
)

// encodeSample writes one of each field; decodeSample reads them back.
func encodeSample() Encoder {
	var b Encoder
	for _, v := range []uint64{0, 1, 127, 128, 300, math.MaxUint32, math.MaxUint64} {
		b.Uvarint(v)
	}
	b.Bytes(nil)
	b.Bytes([]byte{0, 1, 2})
	b.Str("")
	b.Str("日本 and more")
	b.Bool(true)
	b.Bool(false)
	return b
}

func decodeSample(t *testing.T, r *Decoder) {
	t.Helper()
	for _, want := range []uint64{0, 1, 127, 128, 300, math.MaxUint32, math.MaxUint64} {
		if got := r.Uvarint(); got != want {
			t.Fatalf("uvarint %d, want %d (err %v)", got, want, r.Err())
		}
	}
	if p := r.Bytes(); len(p) != 0 {
		t.Fatalf("empty bytes read as %q", p)
	}
	if p := r.Bytes(); !bytes.Equal(p, []byte{0, 1, 2}) {
		t.Fatalf("bytes read as %q", p)
	}
	if s := r.Str(); s != "" {
		t.Fatalf("empty string read as %q", s)
	}
	if s := r.Str(); s != "日本 and more" {
		t.Fatalf("string read as %q", s)
	}
	if !r.Bool() || r.Bool() {
		t.Fatalf("bools read wrong (err %v)", r.Err())
	}
}

func TestEncoderDecoderRoundTrip(t *testing.T) {
	b := encodeSample()
	r := NewDecoder(b)
	decodeSample(t, r)
	if r.Len() != 0 {
		t.Fatalf("%d bytes left", r.Len())
	}
	if err := r.Done(); err != nil {
		t.Fatal(err)
	}
}

// The encoding is encoding/binary's uvarint, length prefixes and one byte
// per bool, nothing else.
func TestEncoderLayout(t *testing.T) {
	var b Encoder
	b.Uvarint(300)
	b.Str("ab")
	b.Bytes([]byte{9})
	b.Bool(true)
	want := binary.AppendUvarint(nil, 300)
	want = append(want, 2, 'a', 'b', 1, 9, 1)
	if !bytes.Equal(b, want) {
		t.Fatalf("encoded % x, want % x", []byte(b), want)
	}
	// An Encoder appends to what it holds: a prefix written by hand stays.
	c := Encoder{7}
	c.Uvarint(1)
	if !bytes.Equal(c, []byte{7, 1}) {
		t.Fatalf("encoded % x after a prefix", []byte(c))
	}
}

// Every input cut short fails with ErrShortBody, whichever field it cuts.
func TestDecoderShortInput(t *testing.T) {
	b := encodeSample()
	for n := 0; n < len(b); n++ {
		r := NewDecoder(b[:n])
		for range 7 {
			r.Uvarint()
		}
		r.Bytes()
		r.Bytes()
		r.Str()
		r.Str()
		r.Bool()
		r.Bool()
		if err := r.Done(); !errors.Is(err, ErrShortBody) {
			t.Fatalf("input cut at %d of %d: err %v, want ErrShortBody", n, len(b), err)
		}
	}
	// A uvarint whose continuation bits run past the end, and one of more
	// than ten bytes.
	for _, in := range [][]byte{{0x80}, {0xff, 0xff}, bytes.Repeat([]byte{0xff}, 11)} {
		r := NewDecoder(in)
		if v := r.Uvarint(); v != 0 || !errors.Is(r.Err(), ErrShortBody) {
			t.Fatalf("% x: %d, %v", in, v, r.Err())
		}
	}
	// A length prefix larger than what follows.
	r := NewDecoder([]byte{5, 'a', 'b'})
	if p := r.Bytes(); p != nil || !errors.Is(r.Err(), ErrShortBody) {
		t.Fatalf("long length prefix: %q, %v", p, r.Err())
	}
}

// The first error sticks: later reads return zero values and consume
// nothing, and Fail does not replace it.
func TestDecoderStickyError(t *testing.T) {
	r := NewDecoder([]byte{2, 1, 'x', 'y', 1})
	if r.Bool() {
		t.Fatal("bad bool byte read as true")
	}
	first := r.Err()
	if first == nil || !strings.Contains(first.Error(), "bad bool byte 2") {
		t.Fatalf("bad bool byte: err %v", first)
	}
	if v, p, s, ok := r.Uvarint(), r.Bytes(), r.Str(), r.Bool(); v != 0 || p != nil || s != "" || ok {
		t.Fatalf("reads after an error: %d %q %q %v", v, p, s, ok)
	}
	if n := r.Count(1); n != 0 {
		t.Fatalf("count after an error: %d", n)
	}
	if v := r.Value(); v.Present {
		t.Fatalf("value after an error: %+v", v)
	}
	if r.Len() != 4 {
		t.Fatalf("reads after an error consumed input: %d bytes left, want 4", r.Len())
	}
	r.Fail(errors.New("second"))
	if r.Err() != first || r.Done() != first {
		t.Fatalf("error replaced: %v, %v", r.Err(), r.Done())
	}
}

func TestDecoderDoneLeftover(t *testing.T) {
	r := NewDecoder([]byte{1, 2, 3})
	r.Uvarint()
	err := r.Done()
	if err == nil || !strings.Contains(err.Error(), "2 unexpected bytes") {
		t.Fatalf("leftover bytes: err %v", err)
	}
	if r.Err() != err {
		t.Fatalf("Done's error does not stick: %v", r.Err())
	}
}

// Count refuses a count the rest of the input cannot hold, so that a
// decoder may allocate for it.
func TestDecoderCount(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		min  int
		want int
		ok   bool
	}{
		{[]byte{3, 'a', 'b', 'c'}, 1, 3, true},
		{[]byte{4, 'a', 'b', 'c'}, 1, 0, false},
		{[]byte{2, 'a', 'b', 'c', 'd'}, 2, 2, true},
		{[]byte{2, 'a', 'b', 'c'}, 2, 0, false},
		{[]byte{0}, 3, 0, true},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x0f}, 1, 0, false},
	} {
		r := NewDecoder(tc.in)
		n := r.Count(tc.min)
		if n != tc.want || (r.Err() == nil) != tc.ok {
			t.Errorf("Count(%d) of % x: %d, %v; want %d, ok %v", tc.min, tc.in, n, r.Err(), tc.want, tc.ok)
		}
	}
}

// Bytes aliases the input, with the capacity cut so that appending to the
// result cannot overwrite what follows.
func TestDecoderBytesAlias(t *testing.T) {
	in := []byte{2, 'a', 'b', 1, 'z'}
	r := NewDecoder(in)
	p := r.Bytes()
	if &p[0] != &in[1] || cap(p) != 2 {
		t.Fatalf("bytes do not alias the input with a cut capacity: cap %d", cap(p))
	}
	_ = append(p, 'X')
	if q := r.Bytes(); string(q) != "z" {
		t.Fatalf("append to a read byte string changed the input: %q", q)
	}
}
