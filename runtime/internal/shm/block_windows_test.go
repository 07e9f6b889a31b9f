package shm

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// shmName returns a name no other test uses.
func shmName(t *testing.T) string {
	var b [6]byte
	rand.Read(b[:])
	return "test-" + hex.EncodeToString(b[:])
}

// attachable reports whether a block of that name exists, attaching to it
// and closing it again.
func attachable(t *testing.T, name string) bool {
	t.Helper()
	b, err := Attach(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	return true
}

// A block keeps its exact size, lives while some process holds it, and is
// gone, name and all, when the last holder closes it.
func TestBlockBasics(t *testing.T) {
	name := shmName(t)
	m, err := Create(name, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name() != name || len(m.Mem()) != 10000 {
		t.Fatalf("name %q size %d", m.Name(), len(m.Mem()))
	}
	if uintptr(unsafe.Pointer(&m.Mem()[0]))%uintptr(os.Getpagesize()) != 0 {
		t.Fatal("block memory is not page-aligned")
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
	if err := m.Close(); err != nil || m.Mem() != nil || !m.Closed() {
		t.Fatalf("Close: %v", err)
	}
	if !attachable(t, name) {
		t.Fatal("block gone while attached")
	}
	if n, err := Sweep(); n != 0 || err != nil {
		t.Fatalf("Sweep = %d, %v; it has nothing to do on Windows", n, err)
	}
	// The last holder closes: it is gone.
	if err := m2.Close(); err != nil {
		t.Fatal(err)
	}
	if attachable(t, name) {
		t.Fatal("block left after its last holder closed it")
	}
	if err := m2.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, bad := range []string{"", ".x", "a/b", `a\b`, "a b", string(make([]byte, 201))} {
		if _, err := Create(bad, 1); err == nil {
			t.Errorf("name %q accepted", bad)
		}
		if _, err := Attach(bad); err == nil || errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Attach(%q): %v", bad, err)
		}
	}
	if _, err := Create(shmName(t), 0); err == nil {
		t.Error("size 0 accepted")
	}
}

// Unlink does nothing on Windows, as Python's: the block stays attachable
// while held, and goes with its last holder.
func TestBlockUnlink(t *testing.T) {
	name := shmName(t)
	m, err := Create(name, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Unlink(); err != nil {
		t.Fatal(err)
	}
	if !attachable(t, name) {
		t.Fatal("Unlink made the block unattachable")
	}
	m.Close()
	if err := m.Unlink(); err != nil {
		t.Fatalf("Unlink after Close: %v", err)
	}
	if attachable(t, name) {
		t.Fatal("block left after its only holder closed it")
	}
}

// Creators racing for one name: exactly one wins, the others get
// fs.ErrExist; attachers running meanwhile see the complete block or
// none.
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
		won[0].Close()
		if attachable(t, name) {
			t.Fatalf("round %d: block left after its only holder closed it", round)
		}
	}
}

// An Attach that finds the name before its creator wrote the block's
// prefix waits for it; one whose creator never does gives up with
// fs.ErrNotExist.
func TestAttachWaitsForCreator(t *testing.T) {
	name := shmName(t)
	h, err := createSection(prefixSize+100, blockNamespace+name)
	if err != nil {
		t.Fatal(err)
	}
	creator := os.NewFile(uintptr(h), "creator")
	defer creator.Close()
	v, err := mapView(h, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer unmap(v.mem)
	got := make(chan error, 1)
	go func() {
		b, err := Attach(name)
		if err == nil {
			if len(b.Mem()) != 100 {
				err = errors.New("the attached block has the wrong size")
			}
			b.Close()
		}
		got <- err
	}()
	time.Sleep(20 * time.Millisecond) // most likely, Attach is waiting now
	v.pre.size = 100
	atomic.StoreUint32(&v.pre.magic, prefixMagic)
	if err := <-got; err != nil {
		t.Fatal(err)
	}

	never := shmName(t)
	h2, err := createSection(prefixSize+100, blockNamespace+never)
	if err != nil {
		t.Fatal(err)
	}
	defer os.NewFile(uintptr(h2), "never").Close()
	if _, err := Attach(never); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Attach of a block never completed: %v", err)
	}
}

// A block sent as a handle holds it in the receiver: the receiver's copy
// keeps it alive after the sender closes. Damaged descriptions are
// refused, and the handles closed.
func TestBlockExportImport(t *testing.T) {
	name := shmName(t)
	m, err := Create(name, 5000)
	if err != nil {
		t.Fatal(err)
	}
	meta, files := m.Export()
	m2, err := ImportBlock(meta, []*os.File{dup(t, files[0])})
	if err != nil {
		t.Fatal(err)
	}
	m.Mem()[4999] = 9
	if m2.Mem()[4999] != 9 || m2.Name() != name || len(m2.Mem()) != 5000 {
		t.Fatal("imported block differs")
	}
	m.Close()
	if !attachable(t, name) {
		t.Fatal("gone while the imported copy holds it")
	}
	m2.Close()
	if attachable(t, name) {
		t.Fatal("left after both closed")
	}
	if !m2.Closed() || m2.Name() != name || m2.Mem() != nil {
		t.Fatal("a closed block")
	}
	var nilb *Block
	if !nilb.Closed() || nilb.Name() != "" || nilb.Mem() != nil || nilb.Close() != nil {
		t.Fatal("a nil block")
	}

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
			t.Error("a refused handle was left open")
		}
		b.Close()
	}
}
