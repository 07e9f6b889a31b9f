//go:build unix

package shm

import "syscall"

// Close unmaps the segment and closes its file. Memory obtained from the
// segment must not be used afterwards. Closing a nil or closed segment
// does nothing.
func (s *Segment) Close() error {
	if s == nil || s.f == nil {
		return nil
	}
	err := syscall.Munmap(s.mem)
	s.mem = nil
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	return err
}

// Unmap unmaps the segment but leaves its file open: for an import that
// failed after mapping, whose caller closes the file.
func (s *Segment) Unmap() {
	_ = syscall.Munmap(s.mem)
	s.mem = nil
}
