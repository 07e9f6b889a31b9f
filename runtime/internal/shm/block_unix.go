//go:build unix

package shm

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Create creates the block name of size bytes, zero-filled, and attaches
// this process to it. It fails with an error matching fs.ErrExist if a
// block of that name exists. The name appears only once the block is
// complete and held, so no other process can see a half-made block or sweep
// it away.
func Create(name string, size int) (*Block, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	if size <= 0 {
		return nil, fmt.Errorf("mp: CreateSharedMemory %q: size %d must be positive", name, size)
	}
	_, _ = Sweep()
	final, err := blockPath(name)
	if err != nil {
		return nil, fmt.Errorf("mp: CreateSharedMemory %q: %w", name, err)
	}
	for attempt := 0; ; attempt++ {
		f, tmp, err := createTemp(size)
		if err != nil {
			return nil, fmt.Errorf("mp: CreateSharedMemory %q: %w", name, err)
		}
		err = os.Link(tmp, final)
		os.Remove(tmp)
		if err == nil {
			return mapBlock(name, f, size)
		}
		f.Close()
		if errors.Is(err, fs.ErrNotExist) && attempt < 3 {
			continue // a sweep removed the temporary name before we held it
		}
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("mp: CreateSharedMemory %q: a block of that name exists (attach to it, or Unlink it first): %w", name, fs.ErrExist)
		}
		return nil, fmt.Errorf("mp: CreateSharedMemory %q: %w", name, err)
	}
}

// createTemp makes a held, sized block under a temporary name.
func createTemp(size int) (*os.File, string, error) {
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	dir, err := BlockDir()
	if err != nil {
		return nil, "", err
	}
	tmp := filepath.Join(dir, tempPrefix+hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, "", err
	}
	if err = flock(f, unix.LOCK_SH); err == nil {
		err = f.Truncate(int64(size))
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, "", err
	}
	return f, tmp, nil
}

// Attach attaches this process to the existing block name. It fails with
// an error matching fs.ErrNotExist if there is no such block (or it was
// unlinked).
func Attach(name string) (*Block, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	_, _ = Sweep()
	path, err := blockPath(name)
	if err != nil {
		return nil, fmt.Errorf("mp: AttachSharedMemory %q: %w", name, err)
	}
	for attempt := 0; ; attempt++ {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return nil, fmt.Errorf("mp: AttachSharedMemory %q: %w", name, err)
		}
		if err := flock(f, unix.LOCK_SH); err != nil {
			f.Close()
			return nil, fmt.Errorf("mp: AttachSharedMemory %q: %w", name, err)
		}
		// A sweep may have removed the name between our open and our lock
		// (the block was garbage), and someone may have made a new block
		// of the same name since.
		same, err := sameFile(f, path)
		if same {
			var st unix.Stat_t
			if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Size <= 0 {
				f.Close()
				return nil, fmt.Errorf("mp: AttachSharedMemory %q: empty or unreadable block: %v", name, err)
			}
			return mapBlock(name, f, int(st.Size))
		}
		f.Close()
		if err == nil && attempt < 3 {
			continue
		}
		return nil, fmt.Errorf("mp: AttachSharedMemory %q: %w", name, fs.ErrNotExist)
	}
}

func mapBlock(name string, f *os.File, size int) (*Block, error) {
	mem, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("mp: map shared memory %q: %w", name, err)
	}
	return &Block{name: name, f: f, mem: mem}, nil
}

// sameFile reports whether path still names f's file. It returns false
// and nil when path names another file, false and an error when it names
// none.
func sameFile(f *os.File, path string) (bool, error) {
	var a, b unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &a); err != nil {
		return false, err
	}
	if err := unix.Stat(path, &b); err != nil {
		return false, err
	}
	return a.Dev == b.Dev && a.Ino == b.Ino, nil
}

func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			return err
		}
	}
}

// Close detaches this process: it unmaps the block and drops this
// process's hold on it. If no process holds it any more, Close removes it
// (its name too). Mem must not be used afterwards. Closing a nil or closed
// block does nothing.
func (b *Block) Close() error {
	if b == nil || b.f == nil {
		return nil
	}
	var st unix.Stat_t
	if unix.Fstat(int(b.f.Fd()), &st) == nil {
		b.closed = [2]uint64{uint64(st.Dev), uint64(st.Ino)}
	}
	err := syscall.Munmap(b.mem)
	b.mem = nil
	if cerr := b.f.Close(); err == nil {
		err = cerr
	}
	b.f = nil
	if path, perr := blockPath(b.name); perr == nil {
		sweepOne(path)
	}
	return err
}

// Unlink removes the block's name: processes attached keep their memory,
// and the block is freed when the last closes it or ends; Attach fails
// from now on. If the name already names
// another block (the original was unlinked and created again), Unlink
// leaves it alone and returns an error matching fs.ErrNotExist. After
// Close, Unlink still removes the block's name if it names the same block,
// as Python's does (a block whose last holder closed it is gone already).
func (b *Block) Unlink() error {
	path, err := blockPath(b.name)
	if err != nil {
		return fmt.Errorf("mp: Unlink shared memory %q: %w", b.name, err)
	}
	var same bool
	if b.f != nil {
		same, err = sameFile(b.f, path)
	} else {
		var st unix.Stat_t
		if err = unix.Stat(path, &st); err == nil {
			same = b.closed != [2]uint64{} && b.closed == [2]uint64{uint64(st.Dev), uint64(st.Ino)}
		}
	}
	if !same {
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("mp: Unlink shared memory %q: already unlinked: %w", b.name, fs.ErrNotExist)
		}
		return fmt.Errorf("mp: Unlink shared memory %q: %w", b.name, err)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("mp: Unlink shared memory %q: %w", b.name, err)
	}
	return nil
}

// Sweep removes the blocks (and half-made temporary files) in BlockDir that no
// process holds any more: their holders all closed them or died. It
// returns how many it removed. Blocks of other users are left alone.
func Sweep() (removed int, err error) {
	dir, err := BlockDir()
	if err != nil {
		return 0, fmt.Errorf("mp: SweepSharedMemory: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return 0, fmt.Errorf("mp: SweepSharedMemory: %w", err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return 0, fmt.Errorf("mp: SweepSharedMemory: %w", err)
	}
	for _, n := range names {
		if strings.HasPrefix(n, Prefix) || strings.HasPrefix(n, tempPrefix) {
			if sweepOne(filepath.Join(dir, n)) {
				removed++
			}
		}
	}
	return removed, nil
}

// sweepOne removes path if no process holds its file, and reports whether
// it did. An exclusive lock that succeeds at once proves there is no
// holder; holding it while removing keeps an attacher from holding the file
// meanwhile (an attacher that opened it waits, then finds the name gone).
func sweepOne(path string) bool {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil || uint32(st.Mode)&unix.S_IFMT != unix.S_IFREG || int(st.Uid) != os.Getuid() {
		return false
	}
	if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		return false
	}
	if same, _ := sameFile(f, path); !same {
		return false
	}
	return os.Remove(path) == nil
}

// Export describes the open block for another process: metadata, and the
// file that carries this process's hold (the receiver shares it).
func (b *Block) Export() ([]byte, []*os.File) {
	meta := NewMeta(KindSharedMemory, len(b.mem))
	meta.Str(b.name)
	return meta, []*os.File{b.f}
}

// ImportBlock attaches to the block that meta and files (from Export in
// another process) describe. The received descriptor shares the sender's
// open file, and so its hold. It takes ownership of files: it closes them
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
		var st unix.Stat_t
		if err := unix.Fstat(int(files[0].Fd()), &st); err != nil {
			return nil, err
		}
		if size == 0 || size > uint64(st.Size) {
			return nil, fmt.Errorf("mp: import SharedMemory %q: %d bytes described, file has %d", name, size, st.Size)
		}
		if err := flock(files[0], unix.LOCK_SH); err != nil {
			return nil, err
		}
		mem, err := syscall.Mmap(int(files[0].Fd()), 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
		if err != nil {
			return nil, fmt.Errorf("mp: map shared memory %q: %w", name, err)
		}
		return &Block{name: name, f: files[0], mem: mem}, nil
	}()
	if err != nil {
		closeFiles(files)
	}
	return b, err
}

// blockPath returns the file of the block name.
func blockPath(name string) (string, error) {
	dir, err := BlockDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, Prefix+name), nil
}
