//go:build linux

package mp

import (
	"os"
	"testing"

	"github.com/mpgen/mpgen/runtime/internal/fdio"
)

// FuzzImportMeta feeds damaged descriptions of real segments to every
// importer: each must refuse or build a value that fits its mapping, never
// panic or fault.
func FuzzImportMeta(f *testing.F) {
	arr, err := NewArray[float64](100)
	if err != nil {
		f.Fatal(err)
	}
	defer arr.Close()
	cond, err := NewCondition(nil)
	if err != nil {
		f.Fatal(err)
	}
	defer cond.Close()
	val, err := NewValue(point{})
	if err != nil {
		f.Fatal(err)
	}
	defer val.Close()
	bar, err := NewBarrier(3)
	if err != nil {
		f.Fatal(err)
	}
	defer bar.Close()
	for _, h := range []handle{arr, cond, val, bar} {
		meta, _, err := h.mpExport()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(meta)
	}
	f.Add([]byte{1, 9, 64, 3, 100})
	dups := func(hs ...handle) []*os.File {
		var out []*os.File
		for _, h := range hs {
			_, files, _ := h.mpExport()
			for _, fl := range files {
				d, err := fdio.Dup(fl)
				if err != nil {
					f.Fatal(err)
				}
				out = append(out, d)
			}
		}
		return out
	}
	f.Fuzz(func(t *testing.T, meta []byte) {
		var a Array[float64]
		if a.mpImport(meta, dups(arr)) == nil {
			s := a.Slice()
			for i := range s {
				_ = s[i]
			}
			a.Close()
		}
		var v Value[point]
		if v.mpImport(meta, dups(val)) == nil {
			_ = v.Load()
			v.Close()
		}
		var c Condition
		if c.mpImport(meta, dups(cond)) == nil {
			c.Close()
		}
		var b Barrier
		if b.mpImport(meta, dups(bar)) == nil {
			b.Close()
		}
		var l Lock
		if l.mpImport(meta, dups(arr)) == nil {
			t.Fatal("an Array's segment was imported as a Lock")
		}
	})
}
