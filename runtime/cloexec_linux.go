package mp

import (
	"os"
	"strconv"
	"syscall"
)

// closeOnExecAll marks every descriptor above stderr close-on-exec, so a
// child inherits only stdio and its control channel (what Python's
// close_fds=True gives). Go opens everything close-on-exec already; this
// catches descriptors made by raw system calls or inherited from our own
// parent. Called with syscall.ForkLock held for writing.
func closeOnExecAll() {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, name := range names {
		fd, err := strconv.Atoi(name)
		if err != nil || fd <= 2 {
			continue
		}
		flags, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0)
		if errno == 0 && flags&syscall.FD_CLOEXEC == 0 {
			syscall.CloseOnExec(fd)
		}
	}
}
