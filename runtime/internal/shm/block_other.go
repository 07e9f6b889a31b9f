//go:build !unix && !windows

package shm

import "os"

// Create creates a named block. Linux only so far: here it returns an
// error wrapping errors.ErrUnsupported.
func Create(name string, size int) (*Block, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	return nil, errNoShm
}

// Attach attaches to a named block. Linux only so far: here it returns an
// error wrapping errors.ErrUnsupported.
func Attach(name string) (*Block, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	return nil, errNoShm
}

// Sweep removes blocks nobody holds. Linux only so far: here it returns an
// error wrapping errors.ErrUnsupported.
func Sweep() (removed int, err error) { return 0, errNoShm }

// Close does nothing: off Linux no block is ever made.
func (b *Block) Close() error { return nil }

// Unlink returns an error wrapping errors.ErrUnsupported.
func (b *Block) Unlink() error { return errNoShm }

// Export describes nothing: off Linux no block is ever made.
func (b *Block) Export() ([]byte, []*os.File) { return nil, nil }

// ImportBlock closes files and returns an error wrapping
// errors.ErrUnsupported.
func ImportBlock(meta []byte, files []*os.File) (*Block, error) {
	closeFiles(files)
	return nil, errNoShm
}
