package shm

import (
	"os"
	"testing"

	"golang.org/x/sys/windows"
)

// dup returns a duplicate of f's handle: what another process receives.
func dup(t testing.TB, f *os.File) *os.File {
	t.Helper()
	h, err := rawHandle(f)
	if err != nil {
		t.Fatal(err)
	}
	var d windows.Handle
	if err := windows.DuplicateHandle(windows.CurrentProcess(), h, windows.CurrentProcess(), &d, 0, false, windows.DUPLICATE_SAME_ACCESS); err != nil {
		t.Fatal(err)
	}
	return os.NewFile(uintptr(d), f.Name())
}
