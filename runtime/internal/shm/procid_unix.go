//go:build unix && !linux

package shm

import (
	"errors"

	"golang.org/x/sys/unix"
)

// The identities of processes on macOS and the BSDs (Linux, with or
// without the tag mpgen_portable, reads /proc: procid_linux.go). The
// system tells a process's start time and whether it is a zombie through
// procInfo: sysctl kern.proc.pid on macOS and FreeBSD; elsewhere it
// cannot, and an identity is judged by its pid alone, as on a Linux
// without /proc.

// errNoProcInfo is procInfo's error where the system cannot tell.
var errNoProcInfo = errors.New("no process information on this system")

// startStamp folds a process's start time, given in seconds and
// microseconds, into the 32 bits a ProcID keeps: microseconds modulo 2^32
// (about 71 minutes), so that a pid reused by a process started even a
// microsecond apart gets another identity unless the two starts fall a
// multiple of 2^32 µs apart. 0 means unknown, so a start that folds to 0
// is taken as 1.
func startStamp(sec, usec int64) uint32 {
	if s := uint32(sec*1_000_000 + usec); s != 0 {
		return s
	}
	return 1
}

// ProcIDOf returns the identity of the running process pid, or 0 if there
// is none or it is a zombie. Where the system cannot tell the start time,
// the identity of an existing pid has none (0) and is judged by its pid.
func ProcIDOf(pid int) ProcID {
	if pid <= 0 {
		return 0
	}
	start, zombie, err := procInfo(pid)
	switch {
	case err != nil:
		if pidGone(pid) {
			return 0
		}
		return MakeProcID(pid, 0)
	case zombie:
		return 0
	}
	return MakeProcID(pid, start)
}

func (id ProcID) alive() bool {
	pid := id.Pid()
	if pid <= 0 {
		return false
	}
	start, zombie, err := procInfo(pid)
	if err != nil {
		// Gone, or the system cannot tell: then only the pid can be judged.
		kerr := unix.Kill(pid, 0)
		return kerr == nil || kerr == unix.EPERM
	}
	if zombie {
		return false
	}
	return id.Start() == 0 || start == id.Start()
}

func (id ProcID) gone() bool { return id.Pid() <= 0 || pidGone(id.Pid()) }

// pidGone reports whether no process has the pid.
func pidGone(pid int) bool { return unix.Kill(pid, 0) == unix.ESRCH }
