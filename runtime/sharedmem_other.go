//go:build !linux

package mp

import "os"

// CreateSharedMemory creates a named shared memory block. Linux only so
// far: here it returns an error wrapping errors.ErrUnsupported.
func CreateSharedMemory(name string, size int) (*SharedMemory, error) {
	if err := validShmName(name); err != nil {
		return nil, err
	}
	return nil, errNoShm
}

// AttachSharedMemory attaches to a named shared memory block. Linux only
// so far: here it returns an error wrapping errors.ErrUnsupported.
func AttachSharedMemory(name string) (*SharedMemory, error) {
	if err := validShmName(name); err != nil {
		return nil, err
	}
	return nil, errNoShm
}

// SweepSharedMemory removes blocks nobody holds. Linux only so far: here it
// returns an error wrapping errors.ErrUnsupported.
func SweepSharedMemory() (removed int, err error) { return 0, errNoShm }

// Close detaches this process from the block.
func (m *SharedMemory) Close() error { return nil }

// Unlink removes the block's name.
func (m *SharedMemory) Unlink() error { return errNoShm }

func (m *SharedMemory) mpExport() ([]byte, []*os.File, error) { return nil, nil, errNoShm }

func (m *SharedMemory) mpImport(meta []byte, files []*os.File) error {
	closeFiles(files)
	return errNoShm
}
