//go:build unix || windows

package shm

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// A data segment's elements, described by DataMeta, are imported only as
// the same element type laid out the same way.
func TestDataImport(t *testing.T) {
	pt := reflect.TypeFor[point]()
	s, err := NewData(KindArray, pt, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.Mem()) < DataOffset+10*int(pt.Size()) {
		t.Fatalf("%d bytes for 10 points", len(s.Mem()))
	}
	p := unsafe.Slice((*point)(unsafe.Pointer(&s.Mem()[DataOffset])), 10)
	p[9] = point{X: 1, Y: 2, Ok: true, F: [3]float32{3}}
	meta := DataMeta(KindArray, s, pt, 10)

	s2, n, err := ImportData(meta, []*os.File{dup(t, s.File())}, KindArray, pt)
	if err != nil || n != 10 {
		t.Fatalf("ImportData: %d elements, %v", n, err)
	}
	defer s2.Close()
	if q := unsafe.Slice((*point)(unsafe.Pointer(&s2.Mem()[DataOffset])), n); q[9] != p[9] {
		t.Fatalf("imported %+v, want %+v", q[9], p[9])
	}

	type shuffled struct {
		Y, X int64
		Ok   bool
		F    [3]float32
	}
	for _, c := range []struct {
		kind Kind
		t    reflect.Type
		want string
	}{
		{KindArray, reflect.TypeFor[int64](), "was sent where"},
		{KindArray, reflect.TypeFor[shuffled](), "was sent where"},
		{KindValue, pt, "descriptor is a Array, not a Value"},
	} {
		f := dup(t, s.File())
		if _, _, err := ImportData(meta, []*os.File{f}, c.kind, c.t); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("import as %s of %v: %v, want %q", c.kind, c.t, err, c.want)
		}
		if _, err := f.Stat(); err == nil {
			t.Error("ImportData left a refused descriptor open")
		}
	}
	if _, _, err := ImportData(meta, nil, KindArray, pt); err == nil {
		t.Error("ImportData without a descriptor")
	}
}

func TestNewDataRefuses(t *testing.T) {
	type inner struct{ S string }
	type outer struct {
		N int
		I [2]inner
	}
	for _, c := range []struct {
		t    reflect.Type
		n    int
		want string
	}{
		{reflect.TypeFor[*int](), 1, "*int is a ptr"},
		{reflect.TypeFor[[]int](), 1, "slice"},
		{reflect.TypeFor[outer](), 1, "field I: [2]shm.inner: field S: string"},
		{reflect.TypeFor[int](), -1, "length -1 out of range"},
		{reflect.TypeFor[[1 << 20]byte](), 1 << 30, "out of range"},
	} {
		if _, err := NewData(KindValue, c.t, c.n); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewData(%v, %d): %v, want %q", c.t, c.n, err, c.want)
		}
	}
	s, err := NewData(KindArray, reflect.TypeFor[struct{}](), 5)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// The layout fingerprint tells apart types of one size whose bytes mean
// different things.
func TestLayout(t *testing.T) {
	type a struct{ X, Y int32 }
	type b struct{ Y, X int32 }
	type c struct{ X int64 }
	la := layout(reflect.TypeFor[a]())
	if la != layout(reflect.TypeFor[a]()) {
		t.Fatal("layout is not deterministic")
	}
	if la == layout(reflect.TypeFor[b]()) || la == layout(reflect.TypeFor[c]()) || layout(reflect.TypeFor[[2]int32]()) == layout(reflect.TypeFor[[4]int16]()) {
		t.Fatal("two layouts have one fingerprint")
	}
}
