package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Encoder builds a frame body, or any other short description (a handle's
// metadata), by appending to itself: uvarints (encoding/binary's), byte
// strings and strings prefixed with their length as a uvarint, and bools as
// one byte. An Encoder is a []byte: the zero value is empty, and the
// encoding is the slice itself.
type Encoder []byte

// Uvarint appends v as a uvarint.
func (b *Encoder) Uvarint(v uint64) { *b = binary.AppendUvarint(*b, v) }

// Bytes appends p, prefixed with its length.
func (b *Encoder) Bytes(p []byte) { b.Uvarint(uint64(len(p))); *b = append(*b, p...) }

// Str appends s, prefixed with its length.
func (b *Encoder) Str(s string) { b.Uvarint(uint64(len(s))); *b = append(*b, s...) }

// Bool appends v as one byte, 0 or 1.
func (b *Encoder) Bool(v bool) {
	if v {
		*b = append(*b, 1)
	} else {
		*b = append(*b, 0)
	}
}

// Decoder reads what an Encoder wrote. The first error sticks; every later
// read returns zero values, so decoders check Err or Done once at the end.
// Input that ends early fails with ErrShortBody.
type Decoder struct {
	b   []byte
	err error
}

// NewDecoder returns a Decoder reading b. Byte strings it returns alias b.
func NewDecoder(b []byte) *Decoder { return &Decoder{b: b} }

// ErrShortBody is the error of a read past the end of the input (or of a
// uvarint that does not end within it).
var ErrShortBody = errors.New("input ends early")

// Fail records err unless an error is already recorded.
func (r *Decoder) Fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// Err is the first error recorded.
func (r *Decoder) Err() error { return r.err }

// Len is the number of bytes not read yet.
func (r *Decoder) Len() int { return len(r.b) }

// Uvarint reads a uvarint.
func (r *Decoder) Uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.Fail(ErrShortBody)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Bytes reads a length-prefixed byte string, which aliases the input (with
// its capacity cut at its length, so appending to it copies).
func (r *Decoder) Bytes() []byte {
	n := r.Uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.Fail(ErrShortBody)
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

// Str reads a length-prefixed string.
func (r *Decoder) Str() string { return string(r.Bytes()) }

// Bool reads a bool; a byte other than 0 or 1 is an error.
func (r *Decoder) Bool() bool {
	if r.err != nil {
		return false
	}
	if len(r.b) == 0 {
		r.Fail(ErrShortBody)
		return false
	}
	v := r.b[0]
	r.b = r.b[1:]
	if v > 1 {
		r.Fail(fmt.Errorf("bad bool byte %d", v))
	}
	return v == 1
}

// Count reads a uvarint element count and bounds it by what the rest of the
// input could hold (each element takes at least min bytes), so that a
// decoder may allocate for it.
func (r *Decoder) Count(min int) int {
	n := r.Uvarint()
	if r.err != nil {
		return 0
	}
	if n > uint64(len(r.b)/min) {
		r.Fail(fmt.Errorf("count %d exceeds the frame body", n))
		return 0
	}
	return int(n)
}

// Done reports the sticky error, or an error if bytes are left over.
func (r *Decoder) Done() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d unexpected bytes at the end of the frame body", len(r.b))
	}
	return r.err
}
