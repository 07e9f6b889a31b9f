//go:build linux

package mp

import (
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

func itoa(i int) string                 { return strconv.Itoa(i) }
func atomic32Store(w *uint32, v uint32) { atomic.StoreUint32(w, v) }
func atomic64Load(w *uint64) uint64     { return atomic.LoadUint64(w) }

// An Array a child writes is seen by the parent, in place.
func TestArrayWrittenByChild(t *testing.T) {
	a, err := NewArray[float64](100000)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	s := a.Slice()
	if a.Len() != 100000 || len(s) != 100000 {
		t.Fatalf("Len %d", a.Len())
	}
	startHelper(t, "array-write", "", a).mustOK(t)
	for i, v := range s {
		if v != float64(i)*1.5 {
			t.Fatalf("a[%d] = %v after the child wrote it", i, v)
		}
	}
}

// A struct Value incremented by four processes under its own lock.
func TestValueLockedProcesses(t *testing.T) {
	v, err := NewValue(point{X: 10, Ok: true, F: [3]float32{1, 2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	var hs []*helper
	for range 4 {
		hs = append(hs, startHelper(t, "value-counter", "3000", v))
	}
	for _, h := range hs {
		h.mustOK(t)
	}
	got := v.Load()
	want := point{X: 10 + 4*3000, Y: -2 * 4 * 3000, Ok: true, F: [3]float32{1, 2, 3}}
	if got != want {
		t.Fatalf("value %+v, want %+v", got, want)
	}
	v.Store(point{})
	if *v.Pointer() != (point{}) {
		t.Fatal("Store then Pointer")
	}
}

// Types holding addresses are refused with a message naming the culprit.
func TestValueRefusesPointers(t *testing.T) {
	type inner struct{ S string }
	type outer struct {
		N int
		I [2]inner
	}
	cases := []struct {
		err  error
		want string
	}{
		{err2(NewValue[*int](nil)), "*int is a ptr"},
		{err2(NewValue("x")), "string"},
		{err2(NewArray[[]int](1)), "slice"},
		{err2(NewArray[map[int]int](1)), "map"},
		{err2(NewValue[any](nil)), "interface"},
		{err2(NewValue[chan int](nil)), "chan"},
		{err2(NewValue[func()](nil)), "func"},
		{err2(NewValue(outer{})), "field I: [2]mp.inner: field S: string"},
	}
	for _, c := range cases {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("got %v, want an error mentioning %q", c.err, c.want)
		}
	}
	if _, err := NewArray[int](-1); err == nil {
		t.Error("NewArray(-1) succeeded")
	}
	a, err := NewArray[struct{}](5)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	z, err := NewArray[uint8](0)
	if err != nil || z.Len() != 0 {
		t.Fatal(err)
	}
	z.Close()
}

func err2[T any](_ T, err error) error { return err }
