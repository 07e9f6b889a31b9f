package mp

import (
	"fmt"
	"os"
)

// shmDir is where named shared memory lives, and the prefixes of its names:
// finished segments are shmPrefix+name, segments being created are
// shmTempPrefix+random.
const (
	shmDir        = "/dev/shm"
	shmPrefix     = "mpgen-"
	shmTempPrefix = "mpgen~tmp~"
	maxShmName    = 200
)

// SharedMemory is a named block of shared memory: Python's
// multiprocessing.shared_memory.SharedMemory. Any process that knows the
// name can attach to it; each maps the same memory.
//
// Its lifetime is tied to the processes holding it, unlike Python's
// (cpython#82300): a block lives while some process has it open (created or
// attached, and not closed), whether or not its creator is still there.
// Every holder keeps a shared flock on the block's file, which the kernel
// drops when the process ends, however it ends. A block that nobody holds
// any more is garbage: Close removes it when the last holder closes it, and
// SweepSharedMemory (run by CreateSharedMemory and AttachSharedMemory too)
// removes blocks whose holders all crashed. Unlink removes the name early,
// as in POSIX: processes still attached keep their memory, new ones cannot
// attach. So a process that attaches and exits never destroys the block for
// the others, and a crash never leaks one beyond the next sweep.
//
// The hold is this process's descriptor: keep the *SharedMemory reachable
// (or Close it) for as long as the block should stay attachable. If it is
// garbage collected, the descriptor is closed and the hold ends, though
// the mapping behind Bytes stays valid in this process.
//
// A block is a file in /dev/shm named "mpgen-" + name, created with
// permissions 0600. Linux only: elsewhere the functions return an error
// wrapping errors.ErrUnsupported.
type SharedMemory struct {
	name   string
	f      *os.File
	mem    []byte
	closed [2]uint64 // after Close: the block file's device and inode, for Unlink
}

// validShmName checks a block name: 1 to 200 letters, digits, '.', '_' or
// '-', not starting with '.'.
func validShmName(name string) error {
	if name == "" || len(name) > maxShmName || name[0] == '.' {
		return fmt.Errorf("mp: shared memory name %q: want 1 to %d characters, not starting with '.'", name, maxShmName)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("mp: shared memory name %q: only letters, digits, '.', '_' and '-' are allowed", name)
		}
	}
	return nil
}

// Name returns the block's name, as given to CreateSharedMemory.
func (m *SharedMemory) Name() string { return m.name }

// Size returns the block's size in bytes.
func (m *SharedMemory) Size() int { return len(m.mem) }

// Bytes returns the block's memory, aliasing the shared mapping. It is
// valid until Close.
func (m *SharedMemory) Bytes() []byte { return m.mem }
