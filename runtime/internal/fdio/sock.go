package fdio

import "os"

// File is the socket's file: to send it to another process, or to wait on
// it with Poll.
func (s *Sock) File() *os.File { return s.f }

// Closed reports whether Close was called in this process.
func (s *Sock) Closed() bool { return s.closed.Load() }
