//go:build windows

package shm

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// On Windows a named block is a file mapping named `Local\mpgen-`+name in
// the session's namespace, backed by the paging file, with the prefix page
// of segments (segment_windows.go) before its memory, which records its
// exact size. Every holder has a handle to it, and the kernel frees it,
// memory and name, when the last handle and view are gone, however the
// holders end: Close needs to remove nothing, and there is never anything
// for Sweep to do. A name cannot be removed while the object lives, so
// Unlink does nothing, as Python's SharedMemory.unlink does on Windows:
// the block stays attachable while some process holds it.

// blockNamespace is where the names of blocks live.
const blockNamespace = `Local\` + Prefix

// attachPatience bounds how long Attach waits for a block's creator to
// write its prefix: the name exists from the moment the section does,
// just before.
const attachPatience = time.Second

// Create creates the block name of size bytes, zero-filled, and attaches
// this process to it. It fails with an error matching fs.ErrExist if a
// block of that name exists. An Attach that comes while the block is
// being made waits for it to be complete.
func Create(name string, size int) (*Block, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	if size <= 0 {
		return nil, fmt.Errorf("mp: CreateSharedMemory %q: size %d must be positive", name, size)
	}
	h, err := createSection(prefixSize+size, blockNamespace+name)
	if err == windows.ERROR_ALREADY_EXISTS {
		return nil, fmt.Errorf("mp: CreateSharedMemory %q: a block of that name exists (attach to it, or close it everywhere first): %w", name, fs.ErrExist)
	}
	if err != nil {
		return nil, fmt.Errorf("mp: CreateSharedMemory %q: %w", name, err)
	}
	v, err := mapView(h, size)
	if err != nil {
		windows.CloseHandle(h)
		return nil, fmt.Errorf("mp: CreateSharedMemory %q: %w", name, err)
	}
	v.pre.size = uint64(size)
	atomic.StoreUint32(&v.pre.magic, prefixMagic)
	return &Block{name: name, f: os.NewFile(uintptr(h), blockNamespace+name), mem: v.mem}, nil
}

// Attach attaches this process to the existing block name. It fails with
// an error matching fs.ErrNotExist if there is no such block: none was
// made, or every holder closed it or ended.
func Attach(name string) (*Block, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	np, err := windows.UTF16PtrFromString(blockNamespace + name)
	if err != nil {
		return nil, err
	}
	r, _, err := procOpenFileMapW.Call(windows.FILE_MAP_READ|windows.FILE_MAP_WRITE|sectionQuery, 0, uintptr(unsafe.Pointer(np)))
	if r == 0 {
		if err == windows.ERROR_FILE_NOT_FOUND {
			err = fs.ErrNotExist
		}
		return nil, fmt.Errorf("mp: AttachSharedMemory %q: %w", name, err)
	}
	h := windows.Handle(r)
	mem, err := mapBlock(h, 0)
	if err != nil {
		windows.CloseHandle(h)
		return nil, fmt.Errorf("mp: AttachSharedMemory %q: %w", name, err)
	}
	return &Block{name: name, f: os.NewFile(uintptr(h), blockNamespace+name), mem: mem}, nil
}

// mapBlock maps the first size bytes of the block whose section is h, or
// all of it when size is 0, and returns its memory.
func mapBlock(h windows.Handle, size uint64) ([]byte, error) {
	v, err := mapView(h, 1) // the prefix, to learn the size
	if err != nil {
		return nil, err
	}
	var whole uint64
	for start := time.Now(); ; time.Sleep(time.Millisecond) {
		if atomic.LoadUint32(&v.pre.magic) == prefixMagic {
			whole = atomic.LoadUint64(&v.pre.size)
			break
		}
		if time.Since(start) > attachPatience {
			windows.UnmapViewOfFile(v.base)
			return nil, fmt.Errorf("the block was never completed: %w", fs.ErrNotExist)
		}
	}
	windows.UnmapViewOfFile(v.base)
	if size == 0 {
		size = whole
	}
	if size == 0 || size > whole || size > 1<<46 {
		return nil, fmt.Errorf("%d bytes described, the block has %d", size, whole)
	}
	if v, err = mapView(h, int(size)); err != nil {
		return nil, err
	}
	return v.mem, nil
}

// Sweep does nothing on Windows, and returns 0 and nil: the kernel frees a
// block with its last handle (see above), so no block outlives its
// holders.
func Sweep() (removed int, err error) { return 0, nil }

// Close detaches this process: it unmaps the block and closes this
// process's handle to it. The kernel frees the block, and its name, when
// no process holds it any more. Mem must not be used afterwards. Closing a
// nil or closed block does nothing.
func (b *Block) Close() error {
	if b == nil || b.f == nil {
		return nil
	}
	err := unmap(b.mem)
	b.mem = nil
	if cerr := b.f.Close(); err == nil {
		err = cerr
	}
	b.f = nil
	return err
}

// Unlink does nothing on Windows and returns nil, as Python's does there:
// a block's name lasts as long as the block, which the kernel frees when
// its last holder closes it or ends (see above).
func (b *Block) Unlink() error { return nil }

// Export describes the open block for another process: metadata, and the
// block's section handle, which the receiver maps (and holds the block by).
func (b *Block) Export() ([]byte, []*os.File) {
	meta := NewMeta(KindSharedMemory, len(b.mem))
	meta.Str(b.name)
	return meta, []*os.File{b.f}
}

// ImportBlock attaches to the block that meta and files (from Export in
// another process) describe. It takes ownership of files: it closes them
// if it fails.
func ImportBlock(meta []byte, files []*os.File) (*Block, error) {
	b, err := func() (*Block, error) {
		size, name, err := readBlockMeta(meta)
		if err != nil {
			return nil, err
		}
		if err := CheckFiles(files, 1, KindSharedMemory); err != nil {
			return nil, err
		}
		if size == 0 {
			return nil, errors.New("mp: import SharedMemory: a block of 0 bytes")
		}
		h, err := rawHandle(files[0])
		if err != nil {
			return nil, err
		}
		mem, err := mapBlock(h, size)
		if err != nil {
			return nil, fmt.Errorf("mp: import SharedMemory %q: %w", name, err)
		}
		return &Block{name: name, f: files[0], mem: mem}, nil
	}()
	if err != nil {
		closeFiles(files)
	}
	return b, err
}
