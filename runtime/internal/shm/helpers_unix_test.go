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
