package sandbox

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// denied are the system calls a sandboxed child may not make, besides the
// arch's own (deniedArch): they reach past the process (ptrace, other
// processes' memory and descriptors), change the system (mounts, modules,
// clocks, swap, reboot, keys), make new namespaces (the sandbox's could be
// left for fresh ones), or escape the filter (io_uring runs system calls
// that seccomp never sees; bpf and perf programs). Each fails with EPERM.
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
	// clone3 passes its flags in memory the filter cannot read: it
	// answers ENOSYS, and the C library and Go fall back to clone.
	p = append(p, br(jeq, unix.SYS_CLONE3, 0, 1), op(ret, retErrno(unix.ENOSYS)))
	// clone: no namespace flags. (Go and the C library start threads and
	// processes with clone and none of them.)
	p = append(p,
		br(jeq, unix.SYS_CLONE, 0, 3),
		op(ldAbs, offArg(0)),
		br(jset, nsFlags, 0, 1),
		op(ret, retErrno(unix.EPERM)),
	)
	if s.Network == NetPorts {
		// Landlock rules TCP only: every other socket of the internet
		// families (UDP, raw, SCTP) and every other family but Unix
		// (netlink, packet, ...) is refused, so the ports are the only
		// way out. A Unix socket reaches only what the filesystem rules
		// (paths) and the scope (abstract names) allow.
		p = append(p,
			op(ldAbs, offNr), // clone's branch may have loaded an argument
			br(jeq, unix.SYS_SOCKET, 0, 11),
			op(ldAbs, offArg(0)),
			br(jeq, unix.AF_UNIX, 9, 0),
			br(jeq, unix.AF_INET, 1, 0),
			br(jeq, unix.AF_INET6, 0, 6),
			op(ldAbs, offArg(1)),
			op(andK, 0xf), // without SOCK_NONBLOCK and SOCK_CLOEXEC
			br(jeq, unix.SOCK_STREAM, 0, 3),
			op(ldAbs, offArg(2)),
			br(jeq, 0, 2, 0),
			br(jeq, unix.IPPROTO_TCP, 1, 0),
			op(ret, retErrno(unix.EACCES)),
		)
	}
	return append(p, op(ret, retAllow))
}

// seccompAvailable reports why filters cannot be installed, or nil.
func seccompAvailable() error {
	if auditArch == 0 {
		return fmt.Errorf("no system call filter for %s yet: %w", archName, errors.ErrUnsupported)
	}
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
