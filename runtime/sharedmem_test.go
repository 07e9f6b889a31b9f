//go:build linux

package mp

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/mpgen/mpgen/runtime/internal/fdio"
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

func shmPath(name string) string { return filepath.Join(shmDir, shmPrefix+name) }

func shmExists(t *testing.T, name string) bool {
	t.Helper()
	_, err := os.Stat(shmPath(name))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

func TestSharedMemoryBasics(t *testing.T) {
	name := shmName(t)
	m, err := CreateSharedMemory(name, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name() != name || m.Size() != 10000 || len(m.Bytes()) != 10000 {
		t.Fatalf("name %q size %d", m.Name(), m.Size())
	}
	st, err := os.Stat(shmPath(name))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("/dev/shm file: %v %v", st, err)
	}
	if _, err := CreateSharedMemory(name, 10); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second create: %v", err)
	}
	copy(m.Bytes(), "hello")
	m2, err := AttachSharedMemory(name)
	if err != nil {
		t.Fatal(err)
	}
	if string(m2.Bytes()[:5]) != "hello" || m2.Size() != 10000 {
		t.Fatal("attached block differs")
	}
	// The creator closes: the attacher still holds it, so it stays.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if !shmExists(t, name) {
		t.Fatal("block removed while attached")
	}
	if n, _ := SweepSharedMemory(); !shmExists(t, name) {
		t.Fatalf("sweep (removed %d) removed a held block", n)
	}
	// The last holder closes: it is gone.
	if err := m2.Close(); err != nil {
		t.Fatal(err)
	}
	if shmExists(t, name) {
		t.Fatal("block left after its last holder closed it")
	}
	for _, bad := range []string{"", ".x", "a/b", "a b", string(make([]byte, 201))} {
		if _, err := CreateSharedMemory(bad, 1); err == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
	if _, err := CreateSharedMemory(shmName(t), 0); err == nil {
		t.Error("size 0 accepted")
	}
}

// Unlink removes the name early; holders keep their memory; attaching fails
// with fs.ErrNotExist.
func TestSharedMemoryUnlink(t *testing.T) {
	name := shmName(t)
	m, err := CreateSharedMemory(name, 4096)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	m2, err := AttachSharedMemory(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m2.Close() })
	if err := m.Unlink(); err != nil {
		t.Fatal(err)
	}
	if shmExists(t, name) {
		t.Fatal("name left after Unlink")
	}
	if _, err := AttachSharedMemory(name); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("attach after Unlink: %v", err)
	}
	if err := m2.Unlink(); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("second Unlink: %v", err)
	}
	m.Bytes()[7] = 42
	if m2.Bytes()[7] != 42 {
		t.Fatal("holders lost their shared memory after Unlink")
	}
	// The name can be used again, and the old holders' Unlink leaves the
	// new block alone.
	m3, err := CreateSharedMemory(name, 100)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m3.Close() })
	if err := m.Unlink(); !errors.Is(err, fs.ErrNotExist) || !shmExists(t, name) {
		t.Fatalf("stale Unlink: %v", err)
	}
}

// The creator crashes (SIGKILL, or exit without Close) while this process
// is attached: the block stays, with its data. Once this process closes
// too, it is gone.
func TestSharedMemoryCreatorCrash(t *testing.T) {
	for _, how := range []string{"SIGKILL", "exit"} {
		t.Run(how, func(t *testing.T) {
			name := shmName(t)
			h := startHelper(t, "shm-create", name)
			h.expect(t, "ready")
			m, err := AttachSharedMemory(name)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { m.Close() })
			if how == "SIGKILL" {
				h.cmd.Process.Signal(syscall.SIGKILL)
			}
			code := h.wait(t)
			if (how == "SIGKILL" && code != -9) || (how == "exit" && code != 3) {
				t.Fatalf("creator exit code %d", code)
			}
			SweepSharedMemory()
			if !shmExists(t, name) {
				t.Fatal("block removed after its creator died while another process holds it")
			}
			m2, err := AttachSharedMemory(name)
			if err != nil {
				t.Fatalf("attach after the creator died: %v", err)
			}
			for i, b := range m2.Bytes() {
				if b != 0xA5 {
					t.Fatalf("byte %d is %#x, want 0xa5", i, b)
				}
			}
			m2.Close()
			m.Close()
			if shmExists(t, name) {
				t.Fatal("block left after the last holder closed it")
			}
		})
	}
}

// Every holder crashes: the block is garbage, and a sweep removes it.
func TestSharedMemorySweepAfterCrashes(t *testing.T) {
	name := shmName(t)
	h := startHelper(t, "shm-create", name)
	h.expect(t, "ready")
	a := startHelper(t, "shm-attach", name)
	a.expect(t, "ready")
	h.cmd.Process.Signal(syscall.SIGKILL)
	h.wait(t)
	SweepSharedMemory()
	if !shmExists(t, name) {
		t.Fatal("block removed while the attacher holds it")
	}
	a.cmd.Process.Signal(syscall.SIGKILL)
	a.wait(t)
	if !shmExists(t, name) {
		t.Fatal("who removed it? nobody swept yet")
	}
	n, err := SweepSharedMemory()
	if err != nil || n < 1 {
		t.Fatalf("sweep removed %d: %v", n, err)
	}
	if shmExists(t, name) {
		t.Fatal("garbage block left after the sweep")
	}
}

// An attacher that exits, even cleanly and without Close, never removes the
// block from under its creator (Python's resource tracker does:
// cpython#82300).
func TestSharedMemoryAttacherExit(t *testing.T) {
	name := shmName(t)
	m, err := CreateSharedMemory(name, 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	for range 3 {
		a := startHelper(t, "shm-attach", name)
		a.expect(t, "ready")
		a.mustOK(t)
		SweepSharedMemory()
		if !shmExists(t, name) {
			t.Fatal("an attacher's exit removed the block")
		}
	}
	if m.Bytes()[0] != 0x5A {
		t.Fatal("the attacher's write is not visible")
	}
}

// A stale temporary file (a creator that died mid-create) is swept; a
// temporary file being created (held) is not.
func TestSharedMemorySweepTemp(t *testing.T) {
	stale := filepath.Join(shmDir, shmTempPrefix+"test-stale-"+shmName(t))
	if err := os.WriteFile(stale, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(stale) })
	f, held, err := createTemp(100)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close(); os.Remove(held) })
	SweepSharedMemory()
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stale temporary file: %v", err)
	}
	if _, err := os.Stat(held); err != nil {
		t.Fatalf("held temporary file: %v", err)
	}
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
}

// Creators racing for one name: exactly one wins, the others get
// fs.ErrExist; attachers and sweepers running meanwhile never see a
// half-made block nor remove a held one.
func TestSharedMemoryRacingCreators(t *testing.T) {
	for round := range 20 {
		name := shmName(t)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var won []*SharedMemory
		var exist int
		for range 4 {
			wg.Go(func() {
				m, err := CreateSharedMemory(name, 8192)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won = append(won, m)
				case errors.Is(err, fs.ErrExist):
					exist++
				default:
					t.Error(err)
				}
			})
			wg.Go(func() { SweepSharedMemory() })
			wg.Go(func() {
				if m, err := AttachSharedMemory(name); err == nil {
					if m.Size() != 8192 {
						t.Errorf("attached a block of %d bytes", m.Size())
					}
					m.Close()
				} else if !errors.Is(err, fs.ErrNotExist) {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if len(won) != 1 || exist != 3 {
			t.Fatalf("round %d: %d creators won, %d saw ErrExist", round, len(won), exist)
		}
		if !shmExists(t, name) {
			t.Fatalf("round %d: the winner's block is gone", round)
		}
		won[0].Close()
		if shmExists(t, name) {
			t.Fatalf("round %d: block left after its only holder closed it", round)
		}
	}
}
