//go:build unix && !linux && !darwin && !freebsd

package shm

// procInfo cannot tell a process's start time here (NetBSD, OpenBSD,
// DragonFly, Solaris...): identities are judged by their pid alone.
func procInfo(pid int) (start uint32, zombie bool, err error) {
	return 0, false, errNoProcInfo
}
