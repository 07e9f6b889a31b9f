package shm

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"
)

// Segment is a shared memory object mapped into this process: on Linux an
// anonymous memfd (or, where memfd_create is missing, a /dev/shm file
// unlinked at once; on the portable path an unlinked file in BlockDir)
// sized with ftruncate and mapped MAP_SHARED. Its size is sealed
// where the kernel allows it, so no process holding it can shrink it under
// another's mapping (which would make that process fault). The file travels
// to other processes as a descriptor; each maps it itself. On Windows it is
// an anonymous file mapping, whose handle travels (segment_windows.go).
//
// A segment made by New or Import starts with a header: a magic word and
// its Kind. The object's own words start at OffWords.
type Segment struct {
	f   *os.File
	mem []byte
}

// The header of every segment: a magic word and the kind, so a descriptor
// of one kind is never mapped as another.
const (
	segMagic uint32 = 0x5367706d // "mpgS"
	offMagic        = 0
	offKind         = 4
	// OffWords is the offset of the first word of the object's state.
	OffWords = 8
	// DataOffset is where Value and Array data start, and the smallest
	// size of a segment.
	DataOffset = 64
)

// Mem returns the mapped memory, header included. It is nil once the
// segment is closed.
func (s *Segment) Mem() []byte { return s.mem }

// File returns the segment's file: the descriptor (on Windows, the
// section handle) that travels to other processes. The segment owns it.
func (s *Segment) File() *os.File { return s.f }

// Word returns a pointer to the 32-bit word at off in the segment.
func (s *Segment) Word(off int) *uint32 { return (*uint32)(unsafe.Pointer(&s.mem[off])) }

// Word64 returns a pointer to the 64-bit word at off in the segment
// (off % 8 == 0).
func (s *Segment) Word64(off int) *uint64 { return (*uint64)(unsafe.Pointer(&s.mem[off])) }

// pageRound rounds n up to whole pages.
func pageRound(n int) int {
	p := os.Getpagesize()
	return (n + p - 1) / p * p
}

// New makes a zero-filled segment of at least size bytes (whole pages)
// holding an object of the given kind, with its header written.
func New(kind Kind, size int) (*Segment, error) {
	s, err := newSegment(pageRound(size))
	if err != nil {
		return nil, err
	}
	atomic.StoreUint32(s.Word(offKind), uint32(kind))
	atomic.StoreUint32(s.Word(offMagic), segMagic)
	return s, nil
}

// Import maps f, received from another process, as a segment of the given
// kind and size, checking that the size is sealed and that the header
// matches. The segment takes ownership of f; on error f is left open.
func Import(f *os.File, kind Kind, size int) (*Segment, error) {
	if f == nil {
		return nil, errors.New("mp: import: missing descriptor")
	}
	if err := checkSealed(f); err != nil {
		return nil, err
	}
	s, err := mapSegment(f, size)
	if err != nil {
		return nil, err
	}
	if m, k := atomic.LoadUint32(s.Word(offMagic)), atomic.LoadUint32(s.Word(offKind)); m != segMagic || k != uint32(kind) {
		s.Unmap()
		return nil, fmt.Errorf("mp: import: segment is not an mpgen %s (magic %#x, kind %d)", kind, m, k)
	}
	return s, nil
}

// CheckFiles reports an error unless there are exactly n files, the number
// an object of the given kind travels with.
func CheckFiles(files []*os.File, n int, kind Kind) error {
	if len(files) != n {
		return fmt.Errorf("mp: import: a %s travels with %d descriptor(s), got %d", kind, n, len(files))
	}
	return nil
}

// closeFiles closes files, ignoring errors: they are descriptors nobody
// will use any more.
func closeFiles(files []*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}
