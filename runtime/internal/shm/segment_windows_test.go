package shm

import (
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"unsafe"

	"golang.org/x/sys/windows"
)

// A segment's memory starts after its prefix page, page-aligned, and
// outlives its creator's handle as long as another holds it: the kernel
// frees a section with its last handle and view.
func TestSegmentLifetime(t *testing.T) {
	s, err := New(KindValue, DataOffset)
	if err != nil {
		t.Fatal(err)
	}
	if uintptr(unsafe.Pointer(&s.Mem()[0]))%uintptr(os.Getpagesize()) != 0 {
		t.Fatal("segment memory is not page-aligned")
	}
	s2, err := Import(dup(t, s.File()), KindValue, len(s.Mem()))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	atomic.StoreUint64(s.Word64(DataOffset), 42)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if atomic.LoadUint64(s2.Word64(DataOffset)) != 42 {
		t.Fatal("the holder lost the segment when its creator closed it")
	}
	s3, err := Import(dup(t, s2.File()), KindValue, len(s2.Mem()))
	if err != nil {
		t.Fatalf("import from the remaining holder: %v", err)
	}
	defer s3.Close()
	atomic.StoreUint64(s3.Word64(DataOffset), 7)
	if atomic.LoadUint64(s2.Word64(DataOffset)) != 7 {
		t.Fatal("the two holders' mappings differ")
	}
}

// Import refuses sections that are not mpgen segments: one without the
// prefix, and one whose pages are only reserved (touching them would
// fault).
func TestImportRefusesForeignSections(t *testing.T) {
	section := func(attrs uint32) *os.File {
		h, err := windows.CreateFileMapping(windows.InvalidHandle, nil, windows.PAGE_READWRITE|attrs, 0, 2*prefixSize, nil)
		if err != nil {
			t.Fatal(err)
		}
		return os.NewFile(uintptr(h), "section")
	}
	plain := section(0)
	defer plain.Close()
	if _, err := Import(plain, KindLock, DataOffset); err == nil || !strings.Contains(err.Error(), "not an mpgen segment") {
		t.Fatalf("a section without the prefix: %v", err)
	}
	reserved := section(secReserve)
	defer reserved.Close()
	if _, err := Import(reserved, KindLock, DataOffset); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Fatalf("a reserved section: %v", err)
	}
	if _, err := Import(plain, KindLock, 2*prefixSize); err == nil || !strings.Contains(err.Error(), "want at least") {
		t.Fatalf("a mapping beyond the section: %v", err)
	}
}
