//go:build !unix && !windows

package shm

import (
	"errors"
	"fmt"
	"os"
)

// errNoShm says what is missing off Linux: the shared segments and futexes
// behind Lock, Value, Array and the other cross-process primitives.
var errNoShm = fmt.Errorf("mp: cross-process shared memory is implemented on Linux only so far: %w", errors.ErrUnsupported)

func newSegment(size int) (*Segment, error) { return nil, errNoShm }

func mapSegment(f *os.File, size int) (*Segment, error) { return nil, errNoShm }

func checkSealed(f *os.File) error { return errNoShm }

// Close does nothing: off Linux no segment is ever made.
func (s *Segment) Close() error { return nil }

// Unmap does nothing: off Linux no segment is ever made.
func (s *Segment) Unmap() {}
