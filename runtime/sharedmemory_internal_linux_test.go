package mp

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/mpgen/mpgen/runtime/internal/shm"
)

// shmPath is the file of the named block: in /dev/shm, or where the
// portable build keeps blocks.
func shmPath(name string) string {
	dir, err := shm.BlockDir()
	if err != nil {
		panic(err)
	}
	return filepath.Join(dir, shm.Prefix+name)
}

// removeBlock removes the block's file, whatever happened.
func removeBlock(name string) { os.Remove(shmPath(name)) }

// shmExists reports whether the block's file exists.
func shmExists(t *testing.T, name string) bool {
	t.Helper()
	_, err := os.Stat(shmPath(name))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}
