//go:build unix

package targets

import "syscall"

// Raw descriptor operations for Garble: they act on the descriptor under
// the runtime's feet, as a misbehaving target would.

func closeFD(fd int) error { return syscall.Close(fd) }

func shutdownFD(fd int) error { return syscall.Shutdown(fd, syscall.SHUT_RDWR) }

func writeFD(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := syscall.Write(fd, b)
		if err == syscall.EINTR || err == syscall.EAGAIN {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}
