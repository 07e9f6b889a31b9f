package mp

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
)

// CreateSharedMemory creates the block name of size bytes, zero-filled, and
// attaches this process to it. It fails with an error matching fs.ErrExist
// if a block of that name exists. The name appears only once the block is
// complete and held, so no other process can see a half-made block or sweep
// it away.
func CreateSharedMemory(name string, size int) (*SharedMemory, error) {
	if err := validShmName(name); err != nil {
		return nil, err
	}
	if size <= 0 {
		return nil, fmt.Errorf("mp: CreateSharedMemory %q: size %d must be positive", name, size)
	}
	_, _ = SweepSharedMemory()
	final := filepath.Join(shmDir, shmPrefix+name)
	for attempt := 0; ; attempt++ {
		f, tmp, err := createTemp(size)
		if err != nil {
			return nil, fmt.Errorf("mp: CreateSharedMemory %q: %w", name, err)
		}
		err = os.Link(tmp, final)
		os.Remove(tmp)
		if err == nil {
			return mapShm(name, f, size)
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
	tmp := filepath.Join(shmDir, shmTempPrefix+hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, "", err
	}
	if err = flock(f, syscall.LOCK_SH); err == nil {
		err = f.Truncate(int64(size))
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, "", err
	}
	return f, tmp, nil
}

// AttachSharedMemory attaches this process to the existing block name. It
// fails with an error matching fs.ErrNotExist if there is no such block (or
// it was unlinked).
func AttachSharedMemory(name string) (*SharedMemory, error) {
	if err := validShmName(name); err != nil {
		return nil, err
	}
	_, _ = SweepSharedMemory()
	path := filepath.Join(shmDir, shmPrefix+name)
	for attempt := 0; ; attempt++ {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return nil, fmt.Errorf("mp: AttachSharedMemory %q: %w", name, err)
		}
		if err := flock(f, syscall.LOCK_SH); err != nil {
			f.Close()
			return nil, fmt.Errorf("mp: AttachSharedMemory %q: %w", name, err)
		}
		// A sweep may have removed the name between our open and our lock
		// (the block was garbage), and someone may have made a new block
		// of the same name since.
		same, err := sameFile(f, path)
		if same {
			var st syscall.Stat_t
			if err := syscall.Fstat(int(f.Fd()), &st); err != nil || st.Size <= 0 {
				f.Close()
				return nil, fmt.Errorf("mp: AttachSharedMemory %q: empty or unreadable block: %v", name, err)
			}
			return mapShm(name, f, int(st.Size))
		}
		f.Close()
		if err == nil && attempt < 3 {
			continue
		}
		return nil, fmt.Errorf("mp: AttachSharedMemory %q: %w", name, fs.ErrNotExist)
	}
}

func mapShm(name string, f *os.File, size int) (*SharedMemory, error) {
	mem, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("mp: map shared memory %q: %w", name, err)
	}
	return &SharedMemory{name: name, f: f, mem: mem}, nil
}

// sameFile reports whether path still names f's file. It returns false
// and nil when path names another file, false and an error when it names
// none.
func sameFile(f *os.File, path string) (bool, error) {
	var a, b syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &a); err != nil {
		return false, err
	}
	if err := syscall.Stat(path, &b); err != nil {
		return false, err
	}
	return a.Dev == b.Dev && a.Ino == b.Ino, nil
}

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			return err
		}
	}
}

// Close detaches this process: it unmaps the block and drops this
// process's hold on it. If no process holds it any more, Close removes it
// (its name too). Bytes must not be used afterwards. Close must not be
// called while other goroutines use the block.
func (m *SharedMemory) Close() error {
	if m.f == nil {
		return nil
	}
	var st syscall.Stat_t
	if syscall.Fstat(int(m.f.Fd()), &st) == nil {
		m.closed = [2]uint64{uint64(st.Dev), uint64(st.Ino)}
	}
	err := syscall.Munmap(m.mem)
	m.mem = nil
	if cerr := m.f.Close(); err == nil {
		err = cerr
	}
	m.f = nil
	sweepOne(filepath.Join(shmDir, shmPrefix+m.name))
	return err
}

// Unlink removes the block's name (Python's unlink()): processes attached
// keep their memory, and the block is freed when the last closes it or
// ends; AttachSharedMemory fails from now on. If the name already names
// another block (the original was unlinked and created again), Unlink
// leaves it alone and returns an error matching fs.ErrNotExist. After
// Close, Unlink still removes the block's name if it names the same block,
// as Python's does (a block whose last holder closed it is gone already).
func (m *SharedMemory) Unlink() error {
	path := filepath.Join(shmDir, shmPrefix+m.name)
	var same bool
	var err error
	if m.f != nil {
		same, err = sameFile(m.f, path)
	} else {
		var st syscall.Stat_t
		if err = syscall.Stat(path, &st); err == nil {
			same = m.closed != [2]uint64{} && m.closed == [2]uint64{uint64(st.Dev), uint64(st.Ino)}
		}
	}
	if !same {
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("mp: Unlink shared memory %q: already unlinked: %w", m.name, fs.ErrNotExist)
		}
		return fmt.Errorf("mp: Unlink shared memory %q: %w", m.name, err)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("mp: Unlink shared memory %q: %w", m.name, err)
	}
	return nil
}

// SweepSharedMemory removes the blocks (and half-made temporary files) in
// /dev/shm that no process holds any more: their holders all closed them
// or died. It returns how many it removed. It is cheap enough to call
// whenever a child process ends; CreateSharedMemory and AttachSharedMemory
// call it too. Blocks of other users are left alone.
func SweepSharedMemory() (removed int, err error) {
	d, err := os.Open(shmDir)
	if err != nil {
		return 0, fmt.Errorf("mp: SweepSharedMemory: %w", err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return 0, fmt.Errorf("mp: SweepSharedMemory: %w", err)
	}
	for _, n := range names {
		if strings.HasPrefix(n, shmPrefix) || strings.HasPrefix(n, shmTempPrefix) {
			if sweepOne(filepath.Join(shmDir, n)) {
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
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	var st syscall.Stat_t
	if syscall.Fstat(int(f.Fd()), &st) != nil || st.Mode&syscall.S_IFMT != syscall.S_IFREG || int(st.Uid) != os.Getuid() {
		return false
	}
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return false
	}
	if same, _ := sameFile(f, path); !same {
		return false
	}
	return os.Remove(path) == nil
}

func (m *SharedMemory) mpExport() ([]byte, []*os.File, error) {
	if m.f == nil {
		return nil, nil, ErrHandleClosed
	}
	meta := newMeta(kindSharedMemory, len(m.mem))
	meta.str(m.name)
	return meta.b, []*os.File{m.f}, nil
}

// mpImport attaches to the block the descriptor refers to. The received
// descriptor shares the sender's open file, and so its hold.
func (m *SharedMemory) mpImport(meta []byte, files []*os.File) error {
	err := func() error {
		if len(meta) == 0 || meta[0] != metaVersion {
			return errors.New("mp: import SharedMemory: bad metadata version")
		}
		r := &metaReader{b: meta[1:]}
		kind, size, name := r.uint(), r.uint(), r.str()
		if r.err != nil || kind != uint64(kindSharedMemory) {
			return fmt.Errorf("mp: import: descriptor is a %s, not a SharedMemory", kindName(uint32(kind)))
		}
		if err := validShmName(name); err != nil {
			return err
		}
		if err := checkFiles(files, 1, kindSharedMemory); err != nil {
			return err
		}
		var st syscall.Stat_t
		if err := syscall.Fstat(int(files[0].Fd()), &st); err != nil {
			return err
		}
		if size == 0 || size > uint64(st.Size) {
			return fmt.Errorf("mp: import SharedMemory %q: %d bytes described, file has %d", name, size, st.Size)
		}
		if err := flock(files[0], syscall.LOCK_SH); err != nil {
			return err
		}
		mem, err := syscall.Mmap(int(files[0].Fd()), 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
		if err != nil {
			return fmt.Errorf("mp: map shared memory %q: %w", name, err)
		}
		*m = SharedMemory{name: name, f: files[0], mem: mem}
		return nil
	}()
	if err != nil {
		closeFiles(files)
	}
	return err
}
