package mp

import (
	"os"

	"github.com/mpgen/mpgen/runtime/internal/shm"
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
// A block is a file named "mpgen-" + name, created with permissions 0600:
// in /dev/shm on Linux; on macOS and the BSDs in os.TempDir()/mpgen-<uid>,
// a directory of the user's own (mode 0700), so that processes share block
// names only if they share $TMPDIR (children do).
//
// On Windows a block is a file mapping named `Local\mpgen-` + name (in the
// session's namespace), backed by the paging file. Every holder has a
// handle to it and a view of it, and the kernel frees it, name and all,
// when the last holder closes it or ends: the lifetime above, with nothing
// to sweep (SweepSharedMemory does nothing there and returns 0). A name
// cannot be removed while its object lives, so Unlink does nothing there,
// as Python's SharedMemory.unlink on Windows: a block stays attachable
// while some process holds it, and its name can be created again only
// once every holder closed it or ended. The view holds the block as well
// as the handle, so a *SharedMemory that is garbage collected holds it
// until the process ends.
//
// Elsewhere the functions return an error wrapping errors.ErrUnsupported.
type SharedMemory struct{ b *shm.Block }

// CreateSharedMemory creates the block name of size bytes, zero-filled, and
// attaches this process to it. It fails with an error matching fs.ErrExist
// if a block of that name exists. The name appears only once the block is
// complete and held, so no other process can see a half-made block or sweep
// it away.
func CreateSharedMemory(name string, size int) (*SharedMemory, error) {
	b, err := shm.Create(name, size)
	if err != nil {
		return nil, err
	}
	return &SharedMemory{b}, nil
}

// AttachSharedMemory attaches this process to the existing block name. It
// fails with an error matching fs.ErrNotExist if there is no such block (or
// it was unlinked).
func AttachSharedMemory(name string) (*SharedMemory, error) {
	b, err := shm.Attach(name)
	if err != nil {
		return nil, err
	}
	return &SharedMemory{b}, nil
}

// SweepSharedMemory removes the blocks (and half-made temporary files) in
// their directory that no process holds any more: their holders all closed them
// or died. It returns how many it removed. It is cheap enough to call
// whenever a child process ends; CreateSharedMemory and AttachSharedMemory
// call it too. Blocks of other users are left alone. On Windows it does
// nothing and returns 0 and nil: the kernel frees a block with its last
// holder.
func SweepSharedMemory() (removed int, err error) { return shm.Sweep() }

// Name returns the block's name, as given to CreateSharedMemory.
func (m *SharedMemory) Name() string { return m.b.Name() }

// Size returns the block's size in bytes.
func (m *SharedMemory) Size() int { return len(m.b.Mem()) }

// Bytes returns the block's memory, aliasing the shared mapping. It is
// valid until Close.
func (m *SharedMemory) Bytes() []byte { return m.b.Mem() }

// Close detaches this process: it unmaps the block and drops this
// process's hold on it. If no process holds it any more, Close removes it
// (its name too). Bytes must not be used afterwards. Close must not be
// called while other goroutines use the block.
func (m *SharedMemory) Close() error { return m.b.Close() }

// Unlink removes the block's name (Python's unlink()): processes attached
// keep their memory, and the block is freed when the last closes it or
// ends; AttachSharedMemory fails from now on. On Windows it does nothing
// and returns nil, as Python's there (see SharedMemory). If the name already names
// another block (the original was unlinked and created again), Unlink
// leaves it alone and returns an error matching fs.ErrNotExist. After
// Close, Unlink still removes the block's name if it names the same block,
// as Python's does (a block whose last holder closed it is gone already).
func (m *SharedMemory) Unlink() error {
	if m.b == nil {
		return ErrHandleClosed
	}
	return m.b.Unlink()
}

func (m *SharedMemory) mpExport() ([]byte, []*os.File, error) {
	if m.b.Closed() {
		return nil, nil, ErrHandleClosed
	}
	meta, files := m.b.Export()
	return meta, files, nil
}

// mpImport attaches to the block the descriptor refers to. The received
// descriptor shares the sender's open file, and so its hold.
func (m *SharedMemory) mpImport(meta []byte, files []*os.File) error {
	b, err := shm.ImportBlock(meta, files)
	if err != nil {
		return err
	}
	m.b = b
	return nil
}
