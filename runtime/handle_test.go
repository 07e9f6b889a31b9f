//go:build linux || windows

package mp_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

// A handle passed where a target takes another kind is refused; the right
// kind is accepted. (The importer's own refusal, which a child runs, is
// TestImportMismatch in package mp.)
func TestTargetsImportMismatch(t *testing.T) {
	a := made(mp.NewArray[float64](10))(t)
	if err := (&mp.Process{Target: targets.LockedIncrements, Args: []any{a, a, 1}}).Start(); err == nil {
		t.Fatal("an Array was accepted for a *Lock parameter")
	}
	i := made(mp.NewArray[int64](10))(t)
	l := made(mp.NewLock())(t)
	if err := (&mp.Process{Target: targets.LockedIncrements, Args: []any{l, a, 1}}).Start(); err == nil {
		t.Fatal("an Array[float64] was accepted for an *Array[int64] parameter")
	}
	if err := join(t, start(t, &mp.Process{Target: targets.LockedIncrements, Args: []any{l, i, 1}})); err != nil || i.Slice()[0] != 1 {
		t.Fatalf("the right kinds: %v, a[0] = %d", err, i.Slice()[0])
	}
}

// TestFailedStartsCloseTheirDuplicates: a Start refused after the handles
// were encoded leaves no descriptor behind.
func TestFailedStartsCloseTheirDuplicates(t *testing.T) {
	noNewFDs(t)
	_, b, err := mp.Pipe[string](true)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	in := newQueue[int](t, 0)
	out, err := mp.NewQueue[[3]int](0)
	if err != nil {
		t.Fatal(err)
	}
	out.Close()
	for range 10 {
		if err := (&mp.Process{Target: targets.Upper, Args: []any{b}, Name: strings.Repeat("x", 5000)}).Start(); err == nil {
			t.Fatal("a 5000-byte name was accepted")
		}
		err := (&mp.Process{Target: targets.Consume, Args: []any{in, out}}).Start()
		if !errors.Is(err, mp.ErrHandleClosed) && !strings.Contains(fmt.Sprint(err), "closed handle") {
			var ae *mp.ArgError
			if !errors.As(err, &ae) {
				t.Fatalf("Start with a closed queue: %v, want an *ArgError", err)
			}
		}
	}
	runtime.GC() // descriptors left to the collector would show up as leaks anyway
}
