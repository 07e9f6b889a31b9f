//go:build linux || windows

package mp_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

func TestTargetsArrayAndValue(t *testing.T) {
	a, err := mp.NewArray[float64](1 << 16)
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, a)
	if err := join(t, start(t, &mp.Process{Target: targets.FillHalves, Args: []any{a}})); err != nil {
		t.Fatal(err)
	}
	for i, v := range a.Slice() {
		if v != float64(i)/2 {
			t.Fatalf("a[%d] = %v", i, v)
		}
	}
	v, err := mp.NewValue[int64](100)
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, v)
	p1 := start(t, &mp.Process{Target: targets.AddUnderLock, Args: []any{v, int64(3), 2000}})
	p2 := start(t, &mp.Process{Target: targets.AddUnderLock, Args: []any{v, int64(-1), 2000}})
	if err := errors.Join(join(t, p1), join(t, p2)); err != nil {
		t.Fatal(err)
	}
	if got := v.Load(); got != 100+2*2000 {
		t.Fatalf("value %d, want %d", got, 100+2*2000)
	}
	// A Value of another type is refused at Start, in the parent.
	w, err := mp.NewValue[int32](1)
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, w)
	if err := (&mp.Process{Target: targets.AddUnderLock, Args: []any{w, int64(1), 1}}).Start(); err == nil {
		t.Fatal("a *Value[int32] was accepted for a *Value[int64] parameter")
	}
}

// An Array a child writes is seen by the parent, in place.
func TestArrayWrittenByChild(t *testing.T) {
	a := made(mp.NewArray[float64](100000))(t)
	s := a.Slice()
	if a.Len() != 100000 || len(s) != 100000 {
		t.Fatalf("Len %d", a.Len())
	}
	if err := join(t, start(t, &mp.Process{Target: targets.FillHalves, Args: []any{a}})); err != nil {
		t.Fatal(err)
	}
	for i, v := range s {
		if v != float64(i)/2 {
			t.Fatalf("a[%d] = %v after the child wrote it", i, v)
		}
	}
}

// A struct Value changed by four processes under its own lock.
func TestValueLockedProcesses(t *testing.T) {
	v := made(mp.NewValue(targets.Particle{X: 10, Ok: true, F: [3]float32{1, 2, 3}}))(t)
	var ps []*mp.Process
	for range 4 {
		ps = append(ps, start(t, &mp.Process{Target: targets.MoveParticle, Args: []any{v, 3000}}))
	}
	for _, p := range ps {
		if err := join(t, p); err != nil {
			t.Fatal(err)
		}
	}
	got := v.Load()
	want := targets.Particle{X: 10 + 4*3000, Y: -2 * 4 * 3000, Ok: true, F: [3]float32{1, 2, 3}}
	if got != want {
		t.Fatalf("value %+v, want %+v", got, want)
	}
	v.Store(targets.Particle{})
	if *v.Pointer() != (targets.Particle{}) {
		t.Fatal("Store then Pointer")
	}
}

// A Value used after Close panics with a message that says so (it was a
// nil-pointer dereference), as its Lock does; an Array's Slice after Close
// is nil and its Len 0, and its lock's Acquire returns ErrHandleClosed.
func TestValueAndArrayAfterClose(t *testing.T) {
	v, err := mp.NewValue[int64](7)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	for name, use := range map[string]func(){
		"Load":    func() { v.Load() },
		"Store":   func() { v.Store(1) },
		"Pointer": func() { v.Pointer() },
		"Lock":    func() { v.Lock() },
	} {
		func() {
			defer func() {
				if r := recover(); fmt.Sprint(r) != "mp: Value used after Close" {
					t.Errorf("Value.%s after Close: panic %v, want \"mp: Value used after Close\"", name, r)
				}
			}()
			use()
		}()
	}
	if err := v.Acquire(); !errors.Is(err, mp.ErrHandleClosed) {
		t.Errorf("Value.Acquire after Close: %v, want ErrHandleClosed", err)
	}

	a, err := mp.NewArray[int64](3)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if s := a.Slice(); s != nil || a.Len() != 0 {
		t.Errorf("Array after Close: Slice %v, Len %d, want nil and 0", s, a.Len())
	}
	if err := a.Acquire(); !errors.Is(err, mp.ErrHandleClosed) {
		t.Errorf("Array.Acquire after Close: %v, want ErrHandleClosed", err)
	}
}
