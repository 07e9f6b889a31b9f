//go:build !linux

package mp

import (
	"errors"
	"fmt"
	"os"
)

// errNoShm says what is missing off Linux: the shared segments and futexes
// behind Lock, Value, Array and the other cross-process primitives.
var errNoShm = fmt.Errorf("mp: cross-process shared memory is implemented on Linux only so far: %w", errors.ErrUnsupported)

type segment struct {
	f   *os.File
	mem []byte
}

func newSegment(size int) (*segment, error) { return nil, errNoShm }

func mapSegment(f *os.File, size int) (*segment, error) { return nil, errNoShm }

func checkSealed(f *os.File) error { return errNoShm }

func (s *segment) Close() error { return nil }

func pidAlive(pid int) bool { return true }

func (s *segment) unmap() {}
