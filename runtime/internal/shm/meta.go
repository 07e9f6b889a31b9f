package shm

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Export metadata: what travels beside a segment's descriptor to describe
// it: a version byte, the kind and the segment's size as uvarints, then the
// object's own fields.
const (
	metaVersion  byte = 1
	maxMetaBytes      = 4096
)

// MetaWriter builds export metadata: version, kind, size, then fields.
type MetaWriter struct{ b []byte }

// NewMeta starts the metadata of an object of the given kind in a segment
// of size bytes.
func NewMeta(kind Kind, size int) *MetaWriter {
	m := &MetaWriter{b: []byte{metaVersion}}
	m.Uint(uint64(kind))
	m.Uint(uint64(size))
	return m
}

// Uint appends an unsigned field.
func (m *MetaWriter) Uint(v uint64) { m.b = binary.AppendUvarint(m.b, v) }

// Str appends a string field.
func (m *MetaWriter) Str(s string) {
	m.Uint(uint64(len(s)))
	m.b = append(m.b, s...)
}

// Bytes returns the metadata built so far.
func (m *MetaWriter) Bytes() []byte { return m.b }

// MetaReader parses the fields of export metadata; the first error sticks
// (see Err), and reads after it return zero values.
type MetaReader struct {
	b   []byte
	err error
}

// Uint reads an unsigned field.
func (m *MetaReader) Uint() uint64 {
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

// Str reads a string field.
func (m *MetaReader) Str() string {
	n := m.Uint()
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

// Err returns the first error of the reads so far.
func (m *MetaReader) Err() error { return m.err }

// ReadMeta checks the version and kind of export metadata and returns the
// segment size and a reader for the rest.
func ReadMeta(meta []byte, kind Kind) (int, *MetaReader, error) {
	if len(meta) == 0 || len(meta) > maxMetaBytes {
		return 0, nil, fmt.Errorf("mp: import: metadata of %d bytes", len(meta))
	}
	if meta[0] != metaVersion {
		return 0, nil, fmt.Errorf("mp: import: metadata version %d, this runtime reads %d (parent and child must be the same program)", meta[0], metaVersion)
	}
	m := &MetaReader{b: meta[1:]}
	k := m.Uint()
	size := m.Uint()
	if m.err != nil {
		return 0, nil, fmt.Errorf("mp: import: %w", m.err)
	}
	if k != uint64(kind) {
		return 0, nil, fmt.Errorf("mp: import: descriptor is a %s, not a %s", Kind(k), kind)
	}
	if size < DataOffset || size > 1<<46 {
		return 0, nil, fmt.Errorf("mp: import: segment size %d out of range", size)
	}
	return int(size), m, nil
}
