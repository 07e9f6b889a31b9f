//go:build linux

package mp

import (
	"os"
	"testing"

	"github.com/mpgen/mpgen/runtime/internal/fdio"
)

// An exported handle imported as another kind, or with a damaged
// description, is an error in the importing process (a child), never a
// mapping. (A parent refuses to send the wrong kind in the first place:
// TestTargetsImportMismatch.)
func TestImportMismatch(t *testing.T) {
	a, err := NewArray[float64](10)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	meta, files, err := a.mpExport()
	if err != nil {
		t.Fatal(err)
	}
	// What a child does with the handle (mpImport of its duplicated
	// descriptor), here: only the right kind is mapped.
	dup := func() []*os.File {
		f, err := fdio.Dup(files[0])
		if err != nil {
			t.Fatal(err)
		}
		return []*os.File{f}
	}
	if err := new(Array[int64]).mpImport(meta, dup()); err == nil {
		t.Fatal("Array[float64] imported as Array[int64]")
	}
	if err := new(Lock).mpImport(meta, dup()); err == nil {
		t.Fatal("Array imported as Lock")
	}
	var ok Array[float64]
	if err := ok.mpImport(meta, dup()); err != nil || ok.Len() != 10 {
		t.Fatalf("Array[float64] imported as itself: %v, %d elements", err, ok.Len())
	}
	ok.Close()

	for i := range meta {
		bad := append([]byte(nil), meta...)
		bad[i] ^= 0xff
		f, err := fdio.Dup(files[0])
		if err != nil {
			t.Fatal(err)
		}
		var b Array[float64]
		if err := b.mpImport(bad, []*os.File{f}); err == nil {
			if len(b.Slice()) != 10 {
				t.Fatalf("damaged byte %d: imported %d elements", i, len(b.Slice()))
			}
			b.Close()
		}
	}
	var l Lock
	if err := l.mpImport(meta, nil); err == nil {
		t.Fatal("import without a descriptor")
	}
}

// A closed handle is unmapped by Close when no blocking call is inside,
// else by the last one to leave, and once only.
func TestCloserUnmapsLast(t *testing.T) {
	e, err := NewEvent()
	if err != nil {
		t.Fatal(err)
	}
	if !e.begin() || !e.begin() {
		t.Fatal("begin on an open handle failed")
	}
	woken := false
	if err := e.close(func() { woken = true }); err != nil || !woken {
		t.Fatalf("close: %v, woken %v", err, woken)
	}
	if !e.closed() || e.seg.Mem() == nil {
		t.Fatal("closed handle should stay mapped while calls are inside")
	}
	if e.begin() {
		t.Fatal("begin on a closed handle succeeded")
	}
	e.end()
	if e.seg.Mem() == nil {
		t.Fatal("unmapped with a call still inside")
	}
	e.end()
	if e.seg.Mem() != nil {
		t.Fatal("not unmapped after the last call left")
	}
	if e.begin() || e.Close() != nil || e.seg.Mem() != nil {
		t.Fatal("a closed, unmapped handle changed")
	}
	var zero Event
	if !zero.closed() || zero.begin() {
		t.Fatal("the zero handle is not closed")
	}
}
