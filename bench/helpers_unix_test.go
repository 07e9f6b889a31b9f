//go:build unix

package bench

import (
	"fmt"
	"os"
	"syscall"
)

// canSpawn reports whether this platform can start children: the runtime
// needs a Unix socketpair, and so does the socketpair floor.
const canSpawn = true

// socketpair returns the two ends of a new Unix stream socketpair, both
// close-on-exec (exec.Cmd clears the flag on the descriptors it passes):
// the parent's end is non-blocking, so the returned *os.File uses Go's
// poller as a net.Conn would, and the child's end is a plain file for
// ExtraFiles. It does without package net, so that this test binary links
// it only through the runtime.
func socketpair() (parent, child *os.File, err error) {
	return socketpairOf(syscall.SOCK_STREAM)
}

// seqpacketpair is socketpair with SOCK_SEQPACKET, the socket type of the
// runtime's Pipe and Queue: each write is one message.
func seqpacketpair() (parent, child *os.File, err error) {
	return socketpairOf(syscall.SOCK_SEQPACKET)
}

func socketpairOf(typ int) (parent, child *os.File, err error) {
	syscall.ForkLock.RLock()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, typ, 0)
	if err == nil {
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	if err := syscall.SetNonblock(fds[0], true); err != nil {
		syscall.Close(fds[0])
		syscall.Close(fds[1])
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "floor-parent"), os.NewFile(uintptr(fds[1]), "floor-child"), nil
}
