//go:build linux && (amd64 || arm64)

package sandbox

import (
	"fmt"
	"slices"
	"unsafe"

	"golang.org/x/sys/unix"
)

// denied are the system calls a sandboxed child may not make, besides the
// arch's own (deniedArch): they reach past the process (ptrace, other
// processes' memory and descriptors), change the system (mounts, modules,
// clocks, swap, reboot, keys), make new namespaces (the sandbox's could be
// left for fresh ones), escape the filter (io_uring runs system calls that
// seccomp never sees; bpf and perf programs), or change or watch files
// where Landlock does not look (modes, owners, times, extended attributes:
// a root child without capabilities still owns root's files; inotify sees
// names in any directory). Each fails with EPERM.
var denied = []uintptr{
	unix.SYS_PTRACE, unix.SYS_PROCESS_VM_READV, unix.SYS_PROCESS_VM_WRITEV, unix.SYS_PIDFD_GETFD,
	unix.SYS_MOUNT, unix.SYS_UMOUNT2, unix.SYS_PIVOT_ROOT, unix.SYS_CHROOT, unix.SYS_MOUNT_SETATTR,
	unix.SYS_MOVE_MOUNT, unix.SYS_OPEN_TREE, unix.SYS_FSOPEN, unix.SYS_FSCONFIG, unix.SYS_FSMOUNT, unix.SYS_FSPICK,
	unix.SYS_SETNS, unix.SYS_UNSHARE,
	unix.SYS_KEXEC_LOAD, unix.SYS_KEXEC_FILE_LOAD, unix.SYS_INIT_MODULE, unix.SYS_FINIT_MODULE, unix.SYS_DELETE_MODULE,
	unix.SYS_BPF, unix.SYS_PERF_EVENT_OPEN, unix.SYS_USERFAULTFD,
	unix.SYS_IO_URING_SETUP, unix.SYS_IO_URING_ENTER, unix.SYS_IO_URING_REGISTER,
	unix.SYS_KEYCTL, unix.SYS_ADD_KEY, unix.SYS_REQUEST_KEY,
	unix.SYS_SWAPON, unix.SYS_SWAPOFF, unix.SYS_REBOOT, unix.SYS_ACCT, unix.SYS_QUOTACTL,
	unix.SYS_OPEN_BY_HANDLE_AT, unix.SYS_NAME_TO_HANDLE_AT, unix.SYS_FANOTIFY_INIT,
	unix.SYS_SETTIMEOFDAY, unix.SYS_CLOCK_SETTIME, unix.SYS_CLOCK_ADJTIME, unix.SYS_ADJTIMEX,
	unix.SYS_SYSLOG, unix.SYS_VHANGUP,
	unix.SYS_FCHMOD, unix.SYS_FCHMODAT, unix.SYS_FCHMODAT2, unix.SYS_FCHOWN, unix.SYS_FCHOWNAT, unix.SYS_UTIMENSAT,
	unix.SYS_SETXATTR, unix.SYS_LSETXATTR, unix.SYS_FSETXATTR, unix.SYS_SETXATTRAT,
	unix.SYS_REMOVEXATTR, unix.SYS_LREMOVEXATTR, unix.SYS_FREMOVEXATTR, unix.SYS_REMOVEXATTRAT,
	unix.SYS_INOTIFY_ADD_WATCH,
}

// nsFlags are clone's flags that make a namespace.
const nsFlags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWUSER |
	unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP

// Offsets in struct seccomp_data (both arches here are little-endian: an
// argument's low half comes first).
const (
	offNr   = 0
	offArch = 4
	offArg0 = 16
)

func offArg(i int) uint32 { return offArg0 + 8*uint32(i) }

const (
	ldAbs = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	jeq   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	jset  = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
	jge   = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
	andK  = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K
	ret   = unix.BPF_RET | unix.BPF_K

	retAllow = unix.SECCOMP_RET_ALLOW
	retKill  = unix.SECCOMP_RET_KILL_PROCESS
)

func retErrno(e unix.Errno) uint32 { return unix.SECCOMP_RET_ERRNO | uint32(e)&unix.SECCOMP_RET_DATA }

func op(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }

func br(code uint16, k uint32, jt, jf uint8) unix.SockFilter {
	return unix.SockFilter{Code: code, Jt: jt, Jf: jf, K: k}
}

// filter is the Spec's seccomp program.
func filter(s *Spec) []unix.SockFilter {
	p := []unix.SockFilter{
		// A system call of another ABI (int 0x80 on x86-64) would be
		// checked against the wrong numbers: the process dies.
		op(ldAbs, offArch),
		br(jeq, auditArch, 1, 0),
		op(ret, retKill),
		op(ldAbs, offNr),
	}
	if x32Bit != 0 {
		p = append(p, br(jge, x32Bit, 0, 1), op(ret, retKill))
	}
	for _, nr := range append(denied, deniedArch...) {
		p = append(p, br(jeq, uint32(nr), 0, 1), op(ret, retErrno(unix.EPERM)))
	}
	eperm, eacces := op(ret, retErrno(unix.EPERM)), op(ret, retErrno(unix.EACCES))
	p = slices.Concat(p,
		// clone3 passes its flags in memory the filter cannot read: it
		// answers ENOSYS, and the C library and Go fall back to clone.
		block(unix.SYS_CLONE3, op(ret, retErrno(unix.ENOSYS))),
		// clone: no namespace flags. (Go and the C library start threads
		// and processes with clone and none of them.)
		block(unix.SYS_CLONE, op(ldAbs, offArg(0)), br(jset, nsFlags, 0, 1), eperm),
		// prlimit64 on another process (of the same user) could lower
		// its limits, to death: only its own (pid 0).
		block(unix.SYS_PRLIMIT64, op(ldAbs, offArg(0)), br(jeq, 0, 1, 0), eperm),
		// Typing into a terminal the child shares (TIOCSTI) or reading a
		// console's screen (TIOCLINUX).
		block(unix.SYS_IOCTL, op(ldAbs, offArg(1)), br(jeq, unix.TIOCSTI, 1, 0), br(jeq, unix.TIOCLINUX, 0, 1), eperm),
	)
	switch s.Network {
	case NetNone:
		// Nothing of the internet families is up in the child's own
		// network namespace; every other family is refused: Unix
		// sockets with a path are not the namespace's (socketpair is
		// another call, and stays), nor are vsock, netlink's audit,
		// and the rest.
		p = slices.Concat(p, block(unix.SYS_SOCKET, op(ldAbs, offArg(0)), br(jeq, unix.AF_INET, 2, 0), br(jeq, unix.AF_INET6, 1, 0), eacces))
	case NetPorts:
		// Landlock rules TCP's connect and bind only: every other
		// socket (UDP, raw, SCTP, MPTCP, Unix, vsock, netlink, ...) is
		// refused, and so are the ways around connect and bind: data
		// sent with MSG_FASTOPEN connects without connect(), and
		// listen() without bind() takes an ephemeral port.
		p = slices.Concat(p,
			block(unix.SYS_SOCKET,
				op(ldAbs, offArg(0)),
				br(jeq, unix.AF_INET, 1, 0),
				br(jeq, unix.AF_INET6, 0, 6),
				op(ldAbs, offArg(1)),
				op(andK, 0xf), // without SOCK_NONBLOCK and SOCK_CLOEXEC
				br(jeq, unix.SOCK_STREAM, 0, 3),
				op(ldAbs, offArg(2)),
				br(jeq, 0, 2, 0),
				br(jeq, unix.IPPROTO_TCP, 1, 0),
				eacces),
			block(unix.SYS_SENDTO, op(ldAbs, offArg(3)), br(jset, unix.MSG_FASTOPEN, 0, 1), eacces),
			block(unix.SYS_SENDMSG, op(ldAbs, offArg(2)), br(jset, unix.MSG_FASTOPEN, 0, 1), eacces),
			block(unix.SYS_SENDMMSG, op(ldAbs, offArg(3)), br(jset, unix.MSG_FASTOPEN, 0, 1), eacces),
		)
		if len(s.BindTCP) == 0 {
			p = slices.Concat(p, block(unix.SYS_LISTEN, eacces))
		}
	}
	return append(p, op(ret, retAllow))
}

// block is the instructions that run body for the system call nr and skip
// it for the others. body loads what it needs (the call's number is loaded
// again first) and either returns or falls through to what follows.
func block(nr uintptr, body ...unix.SockFilter) []unix.SockFilter {
	return append([]unix.SockFilter{op(ldAbs, offNr), br(jeq, uint32(nr), 0, uint8(len(body)))}, body...)
}

// seccompAvailable reports why filters cannot be installed, or nil.
func seccompAvailable() error {
	action := uint32(unix.SECCOMP_RET_ERRNO)
	if _, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_GET_ACTION_AVAIL, 0, uintptr(unsafe.Pointer(&action))); e != 0 {
		return fmt.Errorf("seccomp filters are not available in this kernel: %w", e)
	}
	return nil
}

// installFilter installs the Spec's filter on every thread of the process
// (SECCOMP_FILTER_FLAG_TSYNC), which also sets no_new_privs on each.
func installFilter(s *Spec) error {
	prog := filter(s)
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	r, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	if e != 0 {
		return fmt.Errorf("seccomp: %w", e)
	}
	if r != 0 {
		return fmt.Errorf("seccomp: thread %d could not take the filter", r)
	}
	return nil
}
