//go:build windows

package shm

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/windows"
)

// On Windows a segment is an anonymous file mapping backed by the paging
// file (CreateFileMapping of INVALID_HANDLE_VALUE), mapped with
// MapViewOfFile. Its handle travels to other processes as any handle does
// (runtime/internal/fdio); each maps it itself. The kernel frees the
// memory when the last handle and the last view are gone, however the
// processes end. A section's size is fixed when it is made: nothing
// shrinks it under a view, so there is nothing to seal.
//
// The mapping starts with a prefix page that the segment's users never
// see (Mem starts after it): the size the segment was made with, and the
// state behind Wait and Wake (futex_windows.go): a random id that names
// the segment's wake events, and a table of wake slots. Named blocks
// (block_windows.go) have the prefix too, for their exact size.

// prefixSize is the size of the prefix page; Mem starts this far into the
// view, so it stays page-aligned.
const prefixSize = 4096

// prefixMagic marks a mapping whose prefix was written: "mpgW".
const prefixMagic uint32 = 0x5767706d

// nSlots is the number of wake slots of a segment; a word's slot is
// chosen by its offset (slotOf).
const nSlots = 256

// prefix is the layout of the prefix page.
type prefix struct {
	magic uint32
	_     uint32
	size  uint64   // the bytes after the prefix that belong to the segment or block
	id    [16]byte // random: names the segment's wake events
	slots [nSlots]wakeSlot
}

// wakeSlot is the shared state of one wake slot: see futex_windows.go.
type wakeSlot struct {
	gen     uint32 // bumped by every Wake of a word of the slot
	waiters uint32 // the Waits in progress on words of the slot, in all processes
}

// The prefix fits its page.
var _ [prefixSize - unsafe.Sizeof(prefix{})]byte

var (
	ntdll              = windows.NewLazySystemDLL("ntdll.dll")
	procNtQuerySection = ntdll.NewProc("NtQuerySection")
	kernel32           = windows.NewLazySystemDLL("kernel32.dll")
	procOpenFileMapW   = kernel32.NewProc("OpenFileMappingW")
)

// Section access rights and attributes that package windows does not
// define.
const (
	sectionQuery = 0x0001    // SECTION_QUERY
	secReserve   = 0x4000000 // SEC_RESERVE
)

// sectionInfo is SECTION_BASIC_INFORMATION.
type sectionInfo struct {
	base  uintptr
	attrs uint32
	size  int64
}

// querySection returns the size and allocation attributes of the section
// h (which needs SECTION_QUERY access).
func querySection(h windows.Handle) (sectionInfo, error) {
	var si sectionInfo
	var n uintptr
	r, _, _ := procNtQuerySection.Call(uintptr(h), 0 /* SectionBasicInformation */, uintptr(unsafe.Pointer(&si)), unsafe.Sizeof(si), uintptr(unsafe.Pointer(&n)))
	if r != 0 {
		return si, fmt.Errorf("NtQuerySection: %w", windows.NTStatus(r))
	}
	return si, nil
}

// createSection makes a pagefile-backed section of size bytes, named
// (in the session's namespace) when name is not "". It returns
// windows.ERROR_ALREADY_EXISTS, with no handle, when the name is taken.
func createSection(size int, name string) (windows.Handle, error) {
	var np *uint16
	if name != "" {
		var err error
		if np, err = windows.UTF16PtrFromString(name); err != nil {
			return 0, err
		}
	}
	n := uint64(size)
	h, err := windows.CreateFileMapping(windows.InvalidHandle, nil, windows.PAGE_READWRITE, uint32(n>>32), uint32(n), np)
	if err == windows.ERROR_ALREADY_EXISTS {
		windows.CloseHandle(h) // the existing section's handle
		return 0, err
	}
	if err != nil {
		return 0, fmt.Errorf("CreateFileMapping: %w", err)
	}
	return h, nil
}

// view is a mapped view of a section: the prefix, and the size bytes
// after it.
type view struct {
	base uintptr
	pre  *prefix
	mem  []byte
}

// mapView maps the prefix and the first size bytes after it of the
// section h, read-write, after checking that the section holds them and
// that its pages are committed (a section made with SEC_RESERVE would
// fault where a peer never committed).
func mapView(h windows.Handle, size int) (view, error) {
	if size <= 0 {
		return view{}, fmt.Errorf("mp: shared segment size %d must be positive", size)
	}
	si, err := querySection(h)
	if err != nil {
		return view{}, fmt.Errorf("mp: shared segment: %w", err)
	}
	if si.attrs&secReserve != 0 {
		return view{}, errors.New("mp: shared segment's pages are reserved, not committed: refusing to map it")
	}
	if si.size < int64(prefixSize+size) {
		return view{}, fmt.Errorf("mp: shared segment is %d bytes, want at least %d", max(si.size-prefixSize, 0), size)
	}
	base, err := windows.MapViewOfFile(h, windows.FILE_MAP_READ|windows.FILE_MAP_WRITE, 0, 0, uintptr(prefixSize+size))
	if err != nil {
		return view{}, fmt.Errorf("mp: map shared segment: %w", err)
	}
	// The view is memory the Go heap knows nothing of, at an address the
	// kernel chose: a uintptr that becomes a pointer once.
	p := *(*unsafe.Pointer)(unsafe.Pointer(&base))
	return view{
		base: base,
		pre:  (*prefix)(p),
		mem:  unsafe.Slice((*byte)(unsafe.Add(p, prefixSize)), size),
	}, nil
}

// unmap unmaps the view whose memory (after the prefix) is mem.
func unmap(mem []byte) error {
	if len(mem) == 0 {
		return nil
	}
	return windows.UnmapViewOfFile(uintptr(unsafe.Pointer(&mem[0])) - prefixSize)
}

// newSegment makes a zero-filled shared segment of size bytes, mapped
// read-write into this process, with its prefix written.
func newSegment(size int) (*Segment, error) {
	if size <= 0 {
		return nil, fmt.Errorf("mp: shared segment size %d must be positive", size)
	}
	h, err := createSection(prefixSize+size, "")
	if err != nil {
		return nil, fmt.Errorf("mp: shared segment: %w", err)
	}
	v, err := mapView(h, size)
	if err != nil {
		windows.CloseHandle(h)
		return nil, err
	}
	_, _ = rand.Read(v.pre.id[:])
	v.pre.size = uint64(size)
	atomic.StoreUint32(&v.pre.magic, prefixMagic)
	return registered(os.NewFile(uintptr(h), "mpgen-segment"), v), nil
}

// mapSegment maps the first size bytes of the segment whose section
// handle f holds. The segment takes ownership of f (Close closes it); on
// error f is left open.
func mapSegment(f *os.File, size int) (*Segment, error) {
	h, err := rawHandle(f)
	if err != nil {
		return nil, err
	}
	v, err := mapView(h, size)
	if err != nil {
		return nil, err
	}
	if m := atomic.LoadUint32(&v.pre.magic); m != prefixMagic {
		windows.UnmapViewOfFile(v.base)
		return nil, fmt.Errorf("mp: import: section is not an mpgen segment (prefix magic %#x)", m)
	}
	return registered(f, v), nil
}

// checkSealed does nothing: a section cannot shrink (see above).
func checkSealed(f *os.File) error { return nil }

// registered makes the segment of f and v, and records it so that Wait
// and Wake find the wake slots of its words.
func registered(f *os.File, v view) *Segment {
	s := &Segment{f: f, mem: v.mem}
	segments.add(v)
	return s
}

// Close unmaps the segment and closes its handle. Memory obtained from the
// segment must not be used afterwards. Closing a nil or closed segment
// does nothing.
func (s *Segment) Close() error {
	if s == nil || s.f == nil {
		return nil
	}
	s.Unmap()
	err := s.f.Close()
	s.f = nil
	return err
}

// Unmap unmaps the segment but leaves its handle open: for an import that
// failed after mapping, whose caller closes the handle.
func (s *Segment) Unmap() {
	if s.mem == nil {
		return
	}
	segments.remove(s.mem)
	_ = unmap(s.mem)
	s.mem = nil
}

// segments are the segments mapped in this process, for Wait and Wake,
// which are given only the address of a word.
var segments viewSet

// viewSet is a set of views, sorted by address.
type viewSet struct {
	mu sync.RWMutex
	vs []view
}

func (s *viewSet) add(v view) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lo := uintptr(unsafe.Pointer(&v.mem[0]))
	i := sort.Search(len(s.vs), func(i int) bool { return uintptr(unsafe.Pointer(&s.vs[i].mem[0])) >= lo })
	s.vs = append(s.vs, view{})
	copy(s.vs[i+1:], s.vs[i:])
	s.vs[i] = v
}

func (s *viewSet) remove(mem []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lo := uintptr(unsafe.Pointer(&mem[0]))
	i := sort.Search(len(s.vs), func(i int) bool { return uintptr(unsafe.Pointer(&s.vs[i].mem[0])) >= lo })
	if i < len(s.vs) && uintptr(unsafe.Pointer(&s.vs[i].mem[0])) == lo {
		s.vs = append(s.vs[:i], s.vs[i+1:]...)
	}
}

// find returns the prefix of the segment whose memory holds addr, and
// addr's offset in it; nil when no segment of this process holds it.
func (s *viewSet) find(addr uintptr) (*prefix, uintptr) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	i := sort.Search(len(s.vs), func(i int) bool { return uintptr(unsafe.Pointer(&s.vs[i].mem[0])) > addr })
	if i == 0 {
		return nil, 0
	}
	v := s.vs[i-1]
	lo := uintptr(unsafe.Pointer(&v.mem[0]))
	if addr-lo >= uintptr(len(v.mem)) {
		return nil, 0
	}
	return v.pre, addr - lo
}

// rawHandle returns f's handle without f.Fd's side effect (which takes the
// handle off the Go runtime's completion port). It is valid while f is
// open.
func rawHandle(f *os.File) (windows.Handle, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var h windows.Handle
	if err := rc.Control(func(fd uintptr) { h = windows.Handle(fd) }); err != nil {
		return 0, err
	}
	return h, nil
}
