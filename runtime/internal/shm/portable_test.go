//go:build unix && (mpgen_portable || !linux)

package shm

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The tests of what only the portable build does: Wait polls, Wake reaches
// this process's waiters only, segments are unlinked files in BlockDir.

// waitDone runs Wait(w, 0, timeout) until it returns something other than
// a spurious nil while *w is still 0, and sends its result.
func waitDone(w *uint32, timeout time.Duration) <-chan error {
	done := make(chan error, 1)
	go func() {
		for {
			err := Wait(w, 0, timeout)
			if err != nil || atomic.LoadUint32(w) != 0 {
				done <- err
				return
			}
		}
	}()
	return done
}

// localIdle reports whether no goroutine of this process is registered in
// Wait, and no word is left in the table.
func localIdle() bool {
	localMu.Lock()
	defer localMu.Unlock()
	return nlocal.Load() == 0 && len(localWaits) == 0
}

// awaitRegistered waits until n goroutines of this process are in Wait on
// w, past their first look at it.
func awaitRegistered(t *testing.T, w *uint32, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		localMu.Lock()
		got := 0
		if lw := localWaits[w]; lw != nil {
			got = lw.n
		}
		localMu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d waiters registered, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// A waiter sees a change made through another mapping with no Wake at all,
// which is what a change by another process is here.
func TestPortableWaitSeesChangeWithoutWake(t *testing.T) {
	s := segment(t, KindEvent, DataOffset)
	s2, err := Import(dup(t, s.File()), KindEvent, len(s.Mem()))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	done := waitDone(s.Word(OffWords), 0)
	awaitRegistered(t, s.Word(OffWords), 1)
	atomic.StoreUint32(s2.Word(OffWords), 1)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter did not see the word change")
	}
	if !localIdle() {
		t.Fatal("a waiter that left is still registered")
	}
}

// Wake wakes this process's waiters on the address even when the word did
// not change (a handle's Close, a cancelled context), long before their
// timeout; Wake with n <= 0 does not.
func TestPortableWakeWithoutChange(t *testing.T) {
	s := segment(t, KindEvent, DataOffset)
	w := s.Word(OffWords)
	var dones []<-chan error
	for range 3 {
		done := make(chan error, 1)
		go func() { done <- Wait(w, 0, time.Hour) }()
		dones = append(dones, done)
	}
	awaitRegistered(t, w, 3) // so that the Wake reaches them
	Wake(w, 0)               // no-op
	Wake(w, 1)               // every waiter of this process on w
	for _, done := range dones {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Wake did not wake a waiter of this process")
		}
	}
	if !localIdle() {
		t.Fatal("waiters that left are still registered")
	}
	// A timeout still ends a wait nobody wakes.
	if err := Wait(w, 0, 30*time.Millisecond); err != ErrTimeout {
		t.Fatalf("Wait nobody woke: %v", err)
	}
}

// A segment is a file no name reaches, made in BlockDir, whose descriptor
// another process can map; Import refuses what is not a regular file.
func TestPortableSegmentFile(t *testing.T) {
	s := segment(t, KindLock, DataOffset)
	var st syscall.Stat_t
	if err := syscall.Fstat(int(s.File().Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if st.Nlink != 0 || st.Mode&syscall.S_IFMT != syscall.S_IFREG || st.Mode&0o777 != 0o600 {
		t.Fatalf("segment file: %d links, mode %#o", st.Nlink, st.Mode)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if _, err := Import(r, KindLock, DataOffset); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("Import of a pipe: %v", err)
	}
}

// BlockDir makes a directory of the user's own in $TMPDIR, and refuses one
// that others could write to, or a symbolic link in its place.
func TestPortableBlockDir(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	want := filepath.Join(tmp, "mpgen-"+strconv.Itoa(os.Getuid()))
	dir, err := BlockDir()
	if err != nil || dir != want {
		t.Fatalf("BlockDir = %q, %v; want %q", dir, err, want)
	}
	if st, err := os.Lstat(dir); err != nil || !st.IsDir() || st.Mode().Perm() != 0o700 {
		t.Fatalf("%s: %v %v", dir, st.Mode(), err)
	}
	// Segments and blocks are made there.
	b, err := Create("test-blockdir", 100)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, Prefix+"test-blockdir")); err != nil {
		t.Fatal(err)
	}
	b.Close()

	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := BlockDir(); err == nil || !strings.Contains(err.Error(), "alone") {
		t.Fatalf("BlockDir with mode 0755: %v", err)
	}
	if _, err := New(KindLock, DataOffset); err == nil {
		t.Fatal("a segment made in a directory others may read")
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	if err := os.Symlink(other, dir); err != nil {
		t.Fatal(err)
	}
	if _, err := BlockDir(); err == nil {
		t.Fatal("BlockDir accepted a symbolic link")
	}
	if _, err := Create("test-blockdir", 100); err == nil {
		t.Fatal("a block made through a symbolic link")
	}
}
