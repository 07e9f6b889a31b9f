package shm

import (
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"
)

// FreeBSD's struct kinfo_proc (sys/user.h), which sysctl kern.proc.pid
// returns and x/sys/unix does not describe: its size and the offsets of
// the fields read here on the 64-bit architectures (amd64, arm64, riscv64,
// powerpc64), whose layout is the same. The fields up to ki_stat have not
// moved since FreeBSD 7: new fields take spare room at the end.
const (
	kinfoSize     = 1088 // KINFO_PROC_SIZE; ki_structsize
	kinfoOffPid   = 72   // ki_pid, an int32
	kinfoOffStart = 336  // ki_start, a struct timeval of two int64
	kinfoOffStat  = 388  // ki_stat, a char
	sZomb         = 5    // ki_stat of a zombie (sys/proc.h)
)

// procInfo returns the start time (see startStamp) of process pid and
// whether it is a zombie, from sysctl kern.proc.pid. On a 32-bit FreeBSD,
// whose layout differs, or for a record that does not look like the one
// described above, it returns an error: the pid alone is then judged.
func procInfo(pid int) (start uint32, zombie bool, err error) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		return 0, false, errNoProcInfo
	}
	b, err := unix.SysctlRaw("kern.proc.pid", pid)
	if err != nil {
		return 0, false, err
	}
	if len(b) == 0 {
		return 0, false, unix.ESRCH
	}
	e := binary.NativeEndian
	if len(b) < kinfoSize || e.Uint32(b) != kinfoSize || int32(e.Uint32(b[kinfoOffPid:])) != int32(pid) {
		return 0, false, errNoProcInfo
	}
	sec, usec := int64(e.Uint64(b[kinfoOffStart:])), int64(e.Uint64(b[kinfoOffStart+8:]))
	return startStamp(sec, usec), b[kinfoOffStat] == sZomb, nil
}
