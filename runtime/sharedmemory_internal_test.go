//go:build linux

package mp

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/mpgen/mpgen/runtime/internal/fdio"
	"github.com/mpgen/mpgen/runtime/internal/shm"
)

// shmName returns a name no other test (or engineer) uses, and removes its
// file when the test ends, whatever happened.
func shmName(t *testing.T) string {
	var b [6]byte
	rand.Read(b[:])
	name := "test-" + hex.EncodeToString(b[:])
	t.Cleanup(func() { os.Remove(shmPath(name)) })
	return name
}

func shmPath(name string) string {
	dir, err := shm.BlockDir()
	if err != nil {
		panic(err)
	}
	return filepath.Join(dir, shm.Prefix+name)
}

func shmExists(t *testing.T, name string) bool {
	t.Helper()
	_, err := os.Stat(shmPath(name))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// A SharedMemory sent to another process as a descriptor shares the
// sender's hold.
func TestSharedMemoryExportImport(t *testing.T) {
	name := shmName(t)
	m, err := CreateSharedMemory(name, 4096)
	if err != nil {
		t.Fatal(err)
	}
	meta, files, err := m.mpExport()
	if err != nil {
		t.Fatal(err)
	}
	f, err := fdio.Dup(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var m2 SharedMemory
	if err := m2.mpImport(meta, []*os.File{f}); err != nil {
		t.Fatal(err)
	}
	m.Bytes()[1] = 9
	if m2.Bytes()[1] != 9 || m2.Name() != name {
		t.Fatal("imported block differs")
	}
	m.Close()
	if !shmExists(t, name) {
		t.Fatal("removed while the imported copy holds it")
	}
	m2.Close()
	if shmExists(t, name) {
		t.Fatal("left after both closed")
	}
	// A closed handle keeps its name and refuses the rest; its Unlink, as
	// Python's, finds the block gone with its last holder.
	if m2.Name() != name || m2.Size() != 0 || m2.Bytes() != nil || m2.Close() != nil {
		t.Fatal("closed block: name, size, bytes or a second Close")
	}
	if err := m2.Unlink(); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Unlink of a closed block that is gone: %v", err)
	}
	if _, _, err := m2.mpExport(); !errors.Is(err, ErrHandleClosed) {
		t.Fatalf("export of a closed block: %v", err)
	}
}
