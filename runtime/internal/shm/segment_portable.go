//go:build unix && (mpgen_portable || !linux)

package shm

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// The portable segments: what macOS and the BSDs run, and Linux with the
// build tag mpgen_portable. There is no memfd on macOS, and shm_open is
// reached there only through libc (x/sys/unix does not offer it), so a
// segment is a regular file made in BlockDir and unlinked at once, sized
// with ftruncate and mapped MAP_SHARED; its descriptor travels like any
// other. A crash between the file's creation and its unlink leaves a
// temporary name that Sweep removes (nobody holds it).
//
// Unlike a memfd, such a file cannot be sealed: a process holding its
// descriptor could shrink it, and every process mapping it would then
// fault on the lost pages. Only the processes a handle was given to hold
// it, as on Linux, but the kernel does not enforce what they do with it.
// The file lives in the temporary directory's file system, which on macOS
// is the disk: the kernel may write its dirty pages back from time to
// time, though nobody will ever read them there.

// newSegment makes a zero-filled shared segment of size bytes, mapped
// read-write into this process.
func newSegment(size int) (*Segment, error) {
	if size <= 0 {
		return nil, fmt.Errorf("mp: shared segment size %d must be positive", size)
	}
	f, err := anonFile()
	if err != nil {
		return nil, err
	}
	if err := f.Truncate(int64(size)); err != nil {
		f.Close()
		return nil, fmt.Errorf("mp: size shared segment: %w", err)
	}
	s, err := mapSegment(f, size)
	if err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// anonFile makes a new, empty file that no name reaches: created in
// BlockDir under a temporary name, and unlinked at once.
func anonFile() (*os.File, error) {
	dir, err := BlockDir()
	if err != nil {
		return nil, fmt.Errorf("mp: shared segment: %w", err)
	}
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	path := filepath.Join(dir, tempPrefix+"seg~"+hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("mp: shared segment: %w", err)
	}
	os.Remove(path)
	return f, nil
}

// mapSegment maps the first size bytes of f, shared and read-write. The
// segment takes ownership of f (Close closes it); on error f is left open.
// The file must be at least size bytes long. It maps with package
// syscall, as Linux's build does: syscall and x/sys/unix each keep a table
// of their own mappings, and only the package that mapped a slice can
// unmap it (the tests unmap blocks with syscall.Munmap).
func mapSegment(f *os.File, size int) (*Segment, error) {
	if size <= 0 {
		return nil, fmt.Errorf("mp: shared segment size %d must be positive", size)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil, fmt.Errorf("mp: shared segment: %w", err)
	}
	if uint32(st.Mode)&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("mp: shared segment is not a regular file (mode %#o)", st.Mode)
	}
	if st.Size < int64(size) {
		return nil, fmt.Errorf("mp: shared segment is %d bytes, want at least %d", st.Size, size)
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mp: map shared segment: %w", err)
	}
	return &Segment{f: f, mem: mem}, nil
}

// checkSealed accepts any file: regular files cannot be sealed here (see
// above), and mapSegment refuses what is not one.
func checkSealed(f *os.File) error { return nil }
