//go:build unix || windows

package shm

import (
	"os"
	"strings"
	"sync/atomic"
	"testing"
)

func TestNewSegment(t *testing.T) {
	s := segment(t, KindSemaphore, 1)
	if len(s.Mem()) != os.Getpagesize() {
		t.Fatalf("%d bytes, want one page", len(s.Mem()))
	}
	if m, k := atomic.LoadUint32(s.Word(offMagic)), atomic.LoadUint32(s.Word(offKind)); m != segMagic || Kind(k) != KindSemaphore {
		t.Fatalf("header: magic %#x, kind %d", m, k)
	}
	for i, b := range s.Mem()[OffWords:] {
		if b != 0 {
			t.Fatalf("byte %d is %d, want zero", OffWords+i, b)
		}
	}
	if err := s.Close(); err != nil || s.Mem() != nil || s.File() != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := New(KindLock, 0); err == nil {
		t.Fatal("a segment of 0 bytes")
	}
}

// A segment mapped twice (as by two processes) shows the same bytes.
func TestSegmentMappedTwice(t *testing.T) {
	s := segment(t, KindArray, 3*os.Getpagesize())
	s2, err := Import(dup(t, s.File()), KindArray, len(s.Mem()))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if &s.Mem()[0] == &s2.Mem()[0] {
		t.Fatal("one mapping, not two")
	}
	last := len(s.Mem()) - 1
	s.Mem()[last] = 7
	atomic.StoreUint64(s2.Word64(DataOffset), 1<<40+3)
	if s2.Mem()[last] != 7 || atomic.LoadUint64(s.Word64(DataOffset)) != 1<<40+3 {
		t.Fatal("the two mappings differ")
	}
	// A smaller mapping of the same file is allowed; a larger one is not.
	s3, err := Import(dup(t, s.File()), KindArray, DataOffset)
	if err != nil {
		t.Fatal(err)
	}
	s3.Close()
	f := dup(t, s.File())
	defer f.Close()
	if _, err := Import(f, KindArray, len(s.Mem())+1); err == nil || !strings.Contains(err.Error(), "want at least") {
		t.Fatalf("a mapping beyond the file: %v", err)
	}
}

// Import maps only a segment of the kind it expects.
func TestImportRefuses(t *testing.T) {
	s := segment(t, KindArray, DataOffset)
	f := dup(t, s.File())
	defer f.Close()
	if _, err := Import(f, KindLock, len(s.Mem())); err == nil || !strings.Contains(err.Error(), "not an mpgen Lock") {
		t.Fatalf("an Array imported as a Lock: %v", err)
	}
	if _, err := Import(nil, KindLock, DataOffset); err == nil {
		t.Fatal("Import without a descriptor")
	}
}

func TestCheckFiles(t *testing.T) {
	if err := CheckFiles([]*os.File{nil, nil}, 2, KindCondition); err != nil {
		t.Fatal(err)
	}
	if err := CheckFiles(nil, 1, KindValue); err == nil || !strings.Contains(err.Error(), "a Value travels with 1 descriptor(s), got 0") {
		t.Fatalf("CheckFiles: %v", err)
	}
}
