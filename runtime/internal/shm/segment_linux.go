//go:build linux && !mpgen_portable

package shm

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"unsafe"
)

// memfd_create's system call number, which package syscall does not define.
// On an architecture missing here newSegment falls back to an unlinked file
// in /dev/shm.
var sysMemfdCreate = map[string]uintptr{
	"amd64": 319, "arm64": 279, "386": 356, "arm": 385, "riscv64": 279,
	"loong64": 279, "ppc64": 360, "ppc64le": 360, "s390x": 350,
}[runtime.GOARCH]

const (
	mfdCloexec      = 0x1 // MFD_CLOEXEC
	mfdAllowSealing = 0x2 // MFD_ALLOW_SEALING
	fAddSeals       = 1033
	fGetSeals       = 1034
	fSealShrink     = 0x2
	fSealGrow       = 0x4
)

// newSegment makes a zero-filled shared segment of size bytes, mapped
// read-write into this process.
func newSegment(size int) (*Segment, error) {
	if size <= 0 {
		return nil, fmt.Errorf("mp: shared segment size %d must be positive", size)
	}
	f, sealed, err := memfd("mpgen")
	if err != nil {
		return nil, err
	}
	if err := f.Truncate(int64(size)); err != nil {
		f.Close()
		return nil, fmt.Errorf("mp: size shared segment: %w", err)
	}
	if sealed {
		if _, _, errno := syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), fAddSeals, fSealShrink|fSealGrow); errno != 0 {
			f.Close()
			return nil, fmt.Errorf("mp: seal shared segment: %w", errno)
		}
	}
	s, err := mapSegment(f, size)
	if err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// memfd opens a new anonymous shared-memory file and reports whether its
// size can be sealed.
func memfd(name string) (*os.File, bool, error) {
	if sysMemfdCreate != 0 {
		p, err := syscall.BytePtrFromString(name)
		if err != nil {
			return nil, false, err
		}
		fd, _, errno := syscall.Syscall(sysMemfdCreate, uintptr(unsafe.Pointer(p)), mfdCloexec|mfdAllowSealing, 0)
		if errno == 0 {
			return os.NewFile(fd, "memfd:"+name), true, nil
		}
		if errno != syscall.ENOSYS {
			return nil, false, fmt.Errorf("mp: memfd_create: %w", errno)
		}
	}
	// No memfd: a file in /dev/shm, unlinked at once (a crash in between
	// leaves a file that Sweep does not know; it is tiny).
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	path := "/dev/shm/mpgen~anon~" + hex.EncodeToString(rnd[:])
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("mp: shared segment: %w", err)
	}
	os.Remove(path)
	return f, false, nil
}

// mapSegment maps the first size bytes of f, shared and read-write. The
// segment takes ownership of f (Close closes it); on error f is left open.
// The file must be at least size bytes long; when its size can be changed
// by another process (it is not sealed), a shrink later makes access fault,
// so segments received from other processes are mapped only when sealed
// (see checkSealed).
func mapSegment(f *os.File, size int) (*Segment, error) {
	if size <= 0 {
		return nil, fmt.Errorf("mp: shared segment size %d must be positive", size)
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return nil, fmt.Errorf("mp: shared segment: %w", err)
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

// checkSealed reports an error unless f's size is sealed against shrinking,
// or f is not a memfd (a file that cannot be sealed at all).
func checkSealed(f *os.File) error {
	r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), fGetSeals, 0)
	if errno == syscall.EINVAL {
		return nil // not sealable: a /dev/shm file from the fallback
	}
	if errno != 0 {
		return fmt.Errorf("mp: shared segment seals: %w", errno)
	}
	if r&fSealShrink == 0 {
		return errors.New("mp: shared segment is not sealed against shrinking: refusing to map it")
	}
	return nil
}
