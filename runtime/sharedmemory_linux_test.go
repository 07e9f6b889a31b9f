package mp_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
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

// Every holder ends without Close: the block is garbage, and a sweep
// removes it. (The creator is killed, and the parent sweeps after it: the
// attacher still holds the block. The attacher then exits 0, after which
// the parent does not sweep on its own.)
func TestSharedMemorySweepAfterCrashes(t *testing.T) {
	name := shmName(t)
	ready := made(mp.NewEvent())(t)
	exit := made(mp.NewEvent())(t)
	h := start(t, &mp.Process{Target: targets.CreateFillHold, Args: []any{name, ready, exit}})
	waitSet(t, ready)
	attached := made(mp.NewEvent())(t)
	a := start(t, &mp.Process{Target: targets.AttachHold, Args: []any{name, attached, exit}})
	waitSet(t, attached)
	h.Kill()
	if code := joinCode(t, h); code != -9 {
		t.Fatalf("creator exit code %d", code)
	}
	mp.SweepSharedMemory()
	if !shmExists(t, name) {
		t.Fatal("block removed while the attacher holds it")
	}
	exit.Set()
	if err := join(t, a); err != nil {
		t.Fatal(err)
	}
	if !shmExists(t, name) {
		t.Fatal("who removed it? nobody swept yet")
	}
	n, err := mp.SweepSharedMemory()
	if err != nil || n < 1 {
		t.Fatalf("sweep removed %d: %v", n, err)
	}
	if shmExists(t, name) {
		t.Fatal("garbage block left after the sweep")
	}
}
