//go:build linux || windows

package mp

import (
	"strings"
	"testing"
)

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
