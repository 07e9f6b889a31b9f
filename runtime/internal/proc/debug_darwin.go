package proc

import (
	"os"

	"golang.org/x/sys/unix"
)

// pTraced is the P_TRACED flag of a process's p_flag.
const pTraced = 0x800

// traced reports whether a debugger is attached: the kernel has marked
// this process P_TRACED.
func traced() bool {
	kp, err := unix.SysctlKinfoProc("kern.proc.pid", os.Getpid())
	return err == nil && kp.Proc.P_flag&pTraced != 0
}
