package shm

import (
	"errors"
	"fmt"
	"os"

	"github.com/mpgen/mpgen/runtime/internal/wire"
)

// Dir is where named blocks live, and the prefixes of its names: finished
// blocks are Prefix+name, blocks being created are tempPrefix+random.
const (
	Dir        = "/dev/shm"
	Prefix     = "mpgen-"
	tempPrefix = "mpgen~tmp~"
	maxName    = 200
)

// Block is a named block of shared memory: a file Dir/Prefix+name, created
// with permissions 0600 and mapped MAP_SHARED, that any process knowing the
// name can attach to (package mp's SharedMemory).
//
// Every holder keeps a shared flock on the block's file, which the kernel
// drops when the process ends, however it ends. A block that nobody holds
// any more is garbage: Close removes it when the last holder closes it,
// and Sweep (run by Create and Attach too) removes blocks whose holders
// all crashed. Unlink removes the name early, as in POSIX.
//
// On Windows a block is a named file mapping, which the kernel frees with
// its last holder; Sweep and Unlink do nothing there (block_windows.go).
// A nil *Block is a closed one. Elsewhere Create and Attach return an
// error wrapping errors.ErrUnsupported.
type Block struct {
	name   string
	f      *os.File
	mem    []byte
	closed [2]uint64 // after Close: the block file's device and inode, for Unlink
}

// validName checks a block name: 1 to 200 letters, digits, '.', '_' or
// '-', not starting with '.'.
func validName(name string) error {
	if name == "" || len(name) > maxName || name[0] == '.' {
		return fmt.Errorf("mp: shared memory name %q: want 1 to %d characters, not starting with '.'", name, maxName)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("mp: shared memory name %q: only letters, digits, '.', '_' and '-' are allowed", name)
		}
	}
	return nil
}

// Name returns the block's name, as given to Create ("" for a nil block).
func (b *Block) Name() string {
	if b == nil {
		return ""
	}
	return b.name
}

// Mem returns the block's memory, aliasing the shared mapping. It is valid
// until Close, and nil afterwards.
func (b *Block) Mem() []byte {
	if b == nil {
		return nil
	}
	return b.mem
}

// Closed reports whether the block is nil or closed in this process.
func (b *Block) Closed() bool { return b == nil || b.f == nil }

// readBlockMeta reads the metadata of a block that Export described: its
// size and its name.
func readBlockMeta(meta []byte) (size uint64, name string, err error) {
	if len(meta) == 0 || meta[0] != metaVersion {
		return 0, "", errors.New("mp: import SharedMemory: bad metadata version")
	}
	r := wire.NewDecoder(meta[1:])
	kind, size, name := r.Uvarint(), r.Uvarint(), r.Str()
	if r.Err() != nil || kind != uint64(KindSharedMemory) {
		return 0, "", fmt.Errorf("mp: import: descriptor is a %s, not a SharedMemory", Kind(kind))
	}
	if err := validName(name); err != nil {
		return 0, "", err
	}
	return size, name, nil
}
