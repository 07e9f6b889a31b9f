//go:build unix || windows

package shm

import (
	"os"
	"reflect"
	"strconv"
	"testing"
)

// FuzzImportMeta feeds damaged descriptions of real segments and of a real
// named block to every importer: each must refuse, or map memory that
// holds what the description promises, never panic or fault.
func FuzzImportMeta(f *testing.F) {
	ft, pt := reflect.TypeFor[float64](), reflect.TypeFor[point]()
	arr, err := NewData(KindArray, ft, 100)
	if err != nil {
		f.Fatal(err)
	}
	defer arr.Close()
	val, err := NewData(KindValue, pt, 1)
	if err != nil {
		f.Fatal(err)
	}
	defer val.Close()
	bar, err := New(KindBarrier, DataOffset)
	if err != nil {
		f.Fatal(err)
	}
	defer bar.Close()
	cond, err := New(KindCondition, DataOffset)
	if err != nil {
		f.Fatal(err)
	}
	defer cond.Close()
	blk, err := Create("fuzz-"+strconv.Itoa(os.Getpid()), 8192)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { blk.Close() })

	f.Add(DataMeta(KindArray, arr, ft, 100))
	f.Add(DataMeta(KindValue, val, pt, 1))
	f.Add([]byte(NewMeta(KindBarrier, len(bar.Mem()))))
	cm := NewMeta(KindCondition, len(cond.Mem()))
	cm.Uvarint(uint64(len(bar.Mem()))) // a Condition also describes its lock
	f.Add([]byte(cm))
	bm, _ := blk.Export()
	f.Add(bm)
	f.Add([]byte{1, 9, 64, 3, 100})

	dups := func(t *testing.T, s *Segment) []*os.File { return []*os.File{dup(t, s.File())} }
	f.Fuzz(func(t *testing.T, meta []byte) {
		if s, n, err := ImportData(meta, dups(t, arr), KindArray, ft); err == nil {
			if DataOffset+n*8 > len(s.Mem()) {
				t.Fatalf("%d float64s in %d bytes", n, len(s.Mem()))
			}
			if n > 0 {
				_ = s.Mem()[DataOffset+n*8-1]
			}
			s.Close()
		}
		if s, n, err := ImportData(meta, dups(t, val), KindValue, pt); err == nil {
			if n < 1 || DataOffset+n*int(pt.Size()) > len(s.Mem()) {
				t.Fatalf("%d points in %d bytes", n, len(s.Mem()))
			}
			s.Close()
		}
		// The one-segment importers: the metadata, then the segment.
		for _, c := range []struct {
			kind Kind
			seg  *Segment
		}{{KindBarrier, bar}, {KindCondition, cond}, {KindLock, arr}} {
			size, r, err := ReadMeta(meta, c.kind)
			if err != nil {
				continue
			}
			r.Uvarint() // a Condition's lock size, or nothing
			files := dups(t, c.seg)
			s, err := Import(files[0], c.kind, size)
			if err != nil {
				files[0].Close()
				continue
			}
			if c.kind == KindLock {
				t.Fatal("an Array's segment was imported as a Lock")
			}
			_ = s.Mem()[size-1]
			s.Close()
		}
		if b, err := ImportBlock(meta, []*os.File{dup(t, blk.f)}); err == nil {
			if len(b.Mem()) > 8192 {
				t.Fatalf("imported block %q of %d bytes", b.Name(), len(b.Mem()))
			}
			_ = b.Mem()[len(b.Mem())-1]
			b.Close()
		}
	})
}
