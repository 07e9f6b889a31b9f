//go:build unix

package fdio

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Poll reports which files are readable (or at their end), waiting up
// to timeout milliseconds (-1: until one is, or wake is). wake, if not nil,
// is watched too but not reported.
func Poll(files []*os.File, wake *os.File, timeout int) ([]bool, error) {
	if len(files) == 0 && wake == nil {
		return nil, nil
	}
	fds := make([]unix.PollFd, 0, len(files)+1)
	for _, f := range append(files, wake) {
		if f == nil {
			continue
		}
		fd, err := rawFD(f)
		if err != nil {
			return nil, fmt.Errorf("mp: Wait: %w", err)
		}
		fds = append(fds, unix.PollFd{Fd: int32(fd), Events: unix.POLLIN})
	}
	for {
		_, err := unix.Poll(fds, timeout)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("mp: Wait: poll: %w", err)
		}
		break
	}
	ready := make([]bool, len(files))
	for i := range files {
		ready[i] = fds[i].Revents != 0
	}
	return ready, nil
}
