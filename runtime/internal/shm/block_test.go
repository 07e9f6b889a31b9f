//go:build unix

package shm

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
	dir, err := BlockDir()
	if err != nil {
		panic(err)
	}
	return filepath.Join(dir, Prefix+name)
}

func shmExists(t *testing.T, name string) bool {
	t.Helper()
	_, err := os.Stat(shmPath(name))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

func TestBlockBasics(t *testing.T) {
	name := shmName(t)
	m, err := Create(name, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name() != name || len(m.Mem()) != 10000 || len(m.Mem()) != 10000 {
		t.Fatalf("name %q size %d", m.Name(), len(m.Mem()))
	}
	st, err := os.Stat(shmPath(name))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("block file: %v %v", st, err)
	}
	if _, err := Create(name, 10); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second create: %v", err)
	}
	copy(m.Mem(), "hello")
	m2, err := Attach(name)
	if err != nil {
		t.Fatal(err)
	}
	if string(m2.Mem()[:5]) != "hello" || len(m2.Mem()) != 10000 {
		t.Fatal("attached block differs")
	}
	// The creator closes: the attacher still holds it, so it stays.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if !shmExists(t, name) {
		t.Fatal("block removed while attached")
	}
	if n, _ := Sweep(); !shmExists(t, name) {
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
		if _, err := Create(bad, 1); err == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
	if _, err := Create(shmName(t), 0); err == nil {
		t.Error("size 0 accepted")
	}
}

// Unlink removes the name early; holders keep their memory; attaching fails
// with fs.ErrNotExist.
func TestBlockUnlink(t *testing.T) {
	name := shmName(t)
	m, err := Create(name, 4096)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	m2, err := Attach(name)
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
	if _, err := Attach(name); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("attach after Unlink: %v", err)
	}
	if err := m2.Unlink(); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("second Unlink: %v", err)
	}
	m.Mem()[7] = 42
	if m2.Mem()[7] != 42 {
		t.Fatal("holders lost their shared memory after Unlink")
	}
	// The name can be used again, and the old holders' Unlink leaves the
	// new block alone.
	m3, err := Create(name, 100)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m3.Close() })
	if err := m.Unlink(); !errors.Is(err, fs.ErrNotExist) || !shmExists(t, name) {
		t.Fatalf("stale Unlink: %v", err)
	}
}

// A stale temporary file (a creator that died mid-create) is swept; a
// temporary file being created (held) is not.
func TestBlockSweepTemp(t *testing.T) {
	stale := filepath.Join(filepath.Dir(shmPath("x")), tempPrefix+"test-stale-"+shmName(t))
	if err := os.WriteFile(stale, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(stale) })
	f, held, err := createTemp(100)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close(); os.Remove(held) })
	Sweep()
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stale temporary file: %v", err)
	}
	if _, err := os.Stat(held); err != nil {
		t.Fatalf("held temporary file: %v", err)
	}
}

// Creators racing for one name: exactly one wins, the others get
// fs.ErrExist; attachers and sweepers running meanwhile never see a
// half-made block nor remove a held one.
func TestBlockRacingCreators(t *testing.T) {
	for round := range 20 {
		name := shmName(t)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var won []*Block
		var exist int
		for range 4 {
			wg.Go(func() {
				m, err := Create(name, 8192)
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
			wg.Go(func() { Sweep() })
			wg.Go(func() {
				if m, err := Attach(name); err == nil {
					if len(m.Mem()) != 8192 {
						t.Errorf("attached a block of %d bytes", len(m.Mem()))
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

// A block sent as a descriptor shares the sender's hold: the receiver's
// copy keeps it alive after the sender closes.
func TestBlockExportImport(t *testing.T) {
	name := shmName(t)
	m, err := Create(name, 4096)
	if err != nil {
		t.Fatal(err)
	}
	meta, files := m.Export()
	m2, err := ImportBlock(meta, []*os.File{dup(t, files[0])})
	if err != nil {
		t.Fatal(err)
	}
	m.Mem()[1] = 9
	if m2.Mem()[1] != 9 || m2.Name() != name || len(m2.Mem()) != 4096 {
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
	if !m2.Closed() || m2.Name() != name || m2.Mem() != nil {
		t.Fatal("a closed block")
	}
	var nilb *Block
	if !nilb.Closed() || nilb.Name() != "" || nilb.Mem() != nil || nilb.Close() != nil {
		t.Fatal("a nil block")
	}

	// Damaged descriptions are refused, and the descriptors closed.
	other := NewMeta(KindSharedMemory, 1<<20)
	other.Str(name)
	for _, bad := range [][]byte{nil, {2}, []byte(NewMeta(KindValue, 4096)), meta[:len(meta)-1], []byte(other)} {
		b, err := Create(shmName(t), 4096)
		if err != nil {
			t.Fatal(err)
		}
		f := dup(t, b.f)
		if _, err := ImportBlock(bad, []*os.File{f}); err == nil {
			t.Errorf("ImportBlock(%x) succeeded", bad)
		}
		if _, err := f.Stat(); err == nil {
			t.Error("a refused descriptor was left open")
		}
		b.Close()
	}
}

// A block whose holders all went without Close (their mappings and
// descriptors gone, as when a process dies) is garbage: Sweep removes it,
// and only it.
func TestSweepAfterHoldersVanish(t *testing.T) {
	name, kept := shmName(t), shmName(t)
	m, err := Create(name, 4096)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := Attach(name)
	if err != nil {
		t.Fatal(err)
	}
	k, err := Create(kept, 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	vanish := func(b *Block) {
		// The mapping holds the open file too (and so its flock).
		if err := syscall.Munmap(b.mem); err != nil {
			t.Fatal(err)
		}
		b.f.Close()
	}
	vanish(m)
	n, err := Sweep()
	if err != nil || !shmExists(t, name) {
		t.Fatalf("sweep (removed %d, %v) removed a block that is still held", n, err)
	}
	vanish(m2)
	if n, err := Sweep(); err != nil || n < 1 || shmExists(t, name) {
		t.Fatalf("sweep removed %d (%v); block left: %v", n, err, shmExists(t, name))
	}
	if !shmExists(t, kept) {
		t.Fatal("sweep removed a held block")
	}
}
