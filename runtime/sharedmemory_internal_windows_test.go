package mp

import (
	"errors"
	"io/fs"
	"testing"

	"github.com/mpgen/mpgen/runtime/internal/shm"
)

// removeBlock does nothing: on Windows the kernel frees a block with its
// last holder, so a test leaves none behind.
func removeBlock(name string) {}

// shmExists reports whether a block of that name exists: whether it can
// be attached to (the attachment is closed at once).
func shmExists(t *testing.T, name string) bool {
	t.Helper()
	b, err := shm.Attach(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	return true
}
