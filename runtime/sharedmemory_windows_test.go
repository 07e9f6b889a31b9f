package mp_test

import (
	"errors"
	"io/fs"
	"testing"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

// removeBlock does nothing: on Windows the kernel frees a block with its
// last holder, so a test leaves none behind.
func removeBlock(name string) {}

// shmExists reports whether a block of that name exists: whether it can
// be attached to (the attachment is closed at once).
func shmExists(t *testing.T, name string) bool {
	t.Helper()
	m, err := mp.AttachSharedMemory(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	return true
}

// Every holder ends without Close: on Windows the block goes with the
// last of them, with nothing to sweep. (The creator is killed while the
// attacher holds the block; then the attacher exits 0.)
func TestSharedMemoryGoneWithLastHolder(t *testing.T) {
	name := shmName(t)
	ready := made(mp.NewEvent())(t)
	exit := made(mp.NewEvent())(t)
	h := start(t, &mp.Process{Target: targets.CreateFillHold, Args: []any{name, ready, exit}})
	waitSet(t, ready)
	attached := made(mp.NewEvent())(t)
	a := start(t, &mp.Process{Target: targets.AttachHold, Args: []any{name, attached, exit}})
	waitSet(t, attached)
	h.Kill()
	if code := joinCode(t, h); code != killCode {
		t.Fatalf("creator exit code %d", code)
	}
	if !shmExists(t, name) {
		t.Fatal("block gone while the attacher holds it")
	}
	exit.Set()
	if err := join(t, a); err != nil {
		t.Fatal(err)
	}
	if shmExists(t, name) {
		t.Fatal("block left after every holder ended")
	}
	if n, err := mp.SweepSharedMemory(); n != 0 || err != nil {
		t.Fatalf("SweepSharedMemory = %d, %v; it has nothing to do on Windows", n, err)
	}
}
