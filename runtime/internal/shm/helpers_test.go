//go:build unix

package shm

import (
	"os"
	"syscall"
	"testing"
)

// dup returns a duplicate of f's descriptor: what another process receives.
func dup(t testing.TB, f *os.File) *os.File {
	t.Helper()
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	syscall.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), f.Name())
}

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
