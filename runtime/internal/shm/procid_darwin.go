package shm

import "golang.org/x/sys/unix"

// sZomb is p_stat of a zombie (sys/proc.h).
const sZomb = 5

// procInfo returns the start time (see startStamp) of process pid and
// whether it is a zombie, from sysctl kern.proc.pid. For a pid that no
// process has, the kernel returns no record and procInfo an error.
func procInfo(pid int) (start uint32, zombie bool, err error) {
	k, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil {
		return 0, false, err
	}
	if int(k.Proc.P_pid) != pid {
		return 0, false, unix.ESRCH
	}
	t := k.Proc.P_starttime
	return startStamp(int64(t.Sec), int64(t.Usec)), k.Proc.P_stat == sZomb, nil
}
