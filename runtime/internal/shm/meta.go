package shm

import (
	"fmt"

	"github.com/mpgen/mpgen/runtime/internal/wire"
)

// Export metadata: what travels beside a segment's descriptor to describe
// it: a version byte, the kind and the segment's size as uvarints, then the
// object's own fields, all in the wire's encoding.
const (
	metaVersion  byte = 1
	maxMetaBytes      = 4096
)

// NewMeta starts the metadata of an object of the given kind in a segment
// of size bytes; the object appends its own fields.
func NewMeta(kind Kind, size int) wire.Encoder {
	m := wire.Encoder{metaVersion}
	m.Uvarint(uint64(kind))
	m.Uvarint(uint64(size))
	return m
}

// ReadMeta checks the version and kind of export metadata and returns the
// segment size and a reader for the rest.
func ReadMeta(meta []byte, kind Kind) (int, *wire.Decoder, error) {
	if len(meta) == 0 || len(meta) > maxMetaBytes {
		return 0, nil, fmt.Errorf("mp: import: metadata of %d bytes", len(meta))
	}
	if meta[0] != metaVersion {
		return 0, nil, fmt.Errorf("mp: import: metadata version %d, this runtime reads %d (parent and child must be the same program)", meta[0], metaVersion)
	}
	m := wire.NewDecoder(meta[1:])
	k := m.Uvarint()
	size := m.Uvarint()
	if err := m.Err(); err != nil {
		return 0, nil, fmt.Errorf("mp: import: truncated metadata: %w", err)
	}
	if k != uint64(kind) {
		return 0, nil, fmt.Errorf("mp: import: descriptor is a %s, not a %s", Kind(k), kind)
	}
	if size < DataOffset || size > 1<<46 {
		return 0, nil, fmt.Errorf("mp: import: segment size %d out of range", size)
	}
	return int(size), m, nil
}
