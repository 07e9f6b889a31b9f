//go:build unix || windows

package shm

import "testing"

// segment makes a segment that is closed when the test ends.
func segment(t testing.TB, kind Kind, size int) *Segment {
	t.Helper()
	s, err := New(kind, size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// point is plain data of several field kinds, as a Value or Array holds.
type point struct {
	X, Y int64
	Ok   bool
	F    [3]float32
}
