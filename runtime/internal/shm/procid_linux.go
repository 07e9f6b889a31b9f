package shm

import (
	"bytes"
	"strconv"
	"syscall"
)

// procStat reads the state letter and the start time (clock ticks since
// boot) of process pid from /proc/<pid>/stat.
func procStat(pid int) (state byte, start uint64, err error) {
	// Plain system calls: this runs once per wait slice of a blocked
	// waiter, and /proc files need nothing of os.File.
	fd, err := syscall.Open("/proc/"+strconv.Itoa(pid)+"/stat", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return 0, 0, err
	}
	var buf [1024]byte // the fields up to the start time fit in ~600 bytes
	n, err := syscall.Read(fd, buf[:])
	syscall.Close(fd)
	if err != nil {
		return 0, 0, err
	}
	return parseStat(buf[:max(n, 0)])
}

// parseStat parses the contents of /proc/<pid>/stat: the state is field 3
// and the start time field 22, counting from 1; the command name (field 2)
// is in parentheses and may itself contain spaces and ") ".
func parseStat(b []byte) (state byte, start uint64, err error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, syscall.EINVAL
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 20 || len(f[0]) != 1 {
		return 0, 0, syscall.EINVAL
	}
	start, err = strconv.ParseUint(string(f[19]), 10, 64)
	if err != nil {
		return 0, 0, syscall.EINVAL
	}
	return f[0][0], start, nil
}

// ProcIDOf returns the identity of the running process pid, or 0 if there
// is none, it is a zombie, or /proc cannot tell.
func ProcIDOf(pid int) ProcID {
	if pid <= 0 {
		return 0
	}
	state, start, err := procStat(pid)
	if err != nil || state == 'Z' || state == 'X' {
		return 0
	}
	return MakeProcID(pid, uint32(start))
}

func (id ProcID) alive() bool {
	pid := id.Pid()
	if pid <= 0 {
		return false
	}
	state, start, err := procStat(pid)
	if err != nil {
		// Gone, or /proc hidden or missing: then only the pid can be judged.
		kerr := syscall.Kill(pid, 0)
		return kerr == nil || kerr == syscall.EPERM
	}
	if state == 'Z' || state == 'X' {
		return false
	}
	return id.Start() == 0 || uint32(start) == id.Start()
}

func (id ProcID) gone() bool {
	return id.Pid() <= 0 || syscall.Kill(id.Pid(), 0) == syscall.ESRCH
}
