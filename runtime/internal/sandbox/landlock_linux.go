package sandbox

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The Landlock rights this package hands out. Read-only is what
// go-landlock and bubblewrap's --ro-bind give: read files and directories,
// execute files. Read-write is every right the kernel handles.
const (
	fsABI1 = unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_WRITE_FILE | unix.LANDLOCK_ACCESS_FS_READ_FILE |
		unix.LANDLOCK_ACCESS_FS_READ_DIR | unix.LANDLOCK_ACCESS_FS_REMOVE_DIR | unix.LANDLOCK_ACCESS_FS_REMOVE_FILE |
		unix.LANDLOCK_ACCESS_FS_MAKE_CHAR | unix.LANDLOCK_ACCESS_FS_MAKE_DIR | unix.LANDLOCK_ACCESS_FS_MAKE_REG |
		unix.LANDLOCK_ACCESS_FS_MAKE_SOCK | unix.LANDLOCK_ACCESS_FS_MAKE_FIFO | unix.LANDLOCK_ACCESS_FS_MAKE_BLOCK |
		unix.LANDLOCK_ACCESS_FS_MAKE_SYM
	// fileRights are the rights that mean something on a file (the
	// kernel refuses the others in a rule for one).
	fileRights = unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_WRITE_FILE | unix.LANDLOCK_ACCESS_FS_READ_FILE |
		unix.LANDLOCK_ACCESS_FS_TRUNCATE | unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
	readOnly = unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_READ_DIR
	netTCP   = unix.LANDLOCK_ACCESS_NET_BIND_TCP | unix.LANDLOCK_ACCESS_NET_CONNECT_TCP
	scopes   = unix.LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | unix.LANDLOCK_SCOPE_SIGNAL

	rulePathBeneath = 1
	ruleNetPort     = 2
)

// rulesetAttr is struct landlock_ruleset_attr up to its scoped field (ABI
// 6). The kernel accepts a larger struct than it knows when the rest is
// zero, so one size serves every ABI.
type rulesetAttr struct {
	fs, net, scoped uint64
}

type netPortAttr struct {
	access, port uint64
}

// landlockABI is the kernel's Landlock ABI version, 0 without Landlock (a
// variable: tests play older kernels).
var landlockABI = kernelLandlockABI

// PlayLandlockABI makes Check see a kernel with Landlock ABI abi, until
// restore is called: tests run the paths of older kernels with it.
func PlayLandlockABI(abi int) (restore func()) {
	old := landlockABI
	landlockABI = func() int { return abi }
	return func() { landlockABI = old }
}

func kernelLandlockABI() int {
	v, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if e != 0 {
		return 0
	}
	return int(v)
}

// handledFS is every filesystem right of the ABI: all are denied but
// where a rule allows them.
func handledFS(abi int) uint64 {
	h := uint64(fsABI1)
	if abi >= 2 {
		h |= unix.LANDLOCK_ACCESS_FS_REFER
	}
	if abi >= 3 {
		h |= unix.LANDLOCK_ACCESS_FS_TRUNCATE
	}
	if abi >= 5 {
		h |= unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
	}
	return h
}

// ruleset creates the Spec's Landlock ruleset, with read and execute on
// the files given besides the Spec's paths.
func (s *Spec) ruleset(exec []string) (int, error) {
	const what = "ReadOnly and ReadWrite (Landlock)"
	attr := rulesetAttr{fs: handledFS(s.LandlockABI)}
	if s.Network == NetPorts {
		attr.net = netTCP
	}
	if s.LandlockABI >= 6 {
		attr.scoped = scopes
	}
	fd, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr), 0)
	if e != 0 {
		return -1, fail(what, fmt.Errorf("landlock_create_ruleset: %w", e))
	}
	add := func(path string, access uint64, what string) error {
		pfd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return fail(what, &os.PathError{Op: "open", Path: path, Err: err})
		}
		defer unix.Close(pfd)
		var st unix.Stat_t
		if err := unix.Fstat(pfd, &st); err != nil {
			return fail(what, &os.PathError{Op: "stat", Path: path, Err: err})
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			access &= fileRights
		}
		rule := struct {
			access uint64
			fd     int32
		}{access & attr.fs, int32(pfd)}
		// struct landlock_path_beneath_attr is packed: 12 bytes.
		if _, _, e := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, fd, rulePathBeneath, uintptr(unsafe.Pointer(&rule)), 0, 0, 0); e != 0 {
			return fail(what, fmt.Errorf("landlock_add_rule %s: %w", path, e))
		}
		return nil
	}
	var err error
	for _, p := range s.ReadOnly {
		if err = add(p, readOnly, "ReadOnly"); err != nil {
			break
		}
	}
	for _, p := range s.ReadWrite {
		if err == nil {
			err = add(p, attr.fs, "ReadWrite")
		}
	}
	for _, p := range exec {
		if err == nil {
			err = add(p, unix.LANDLOCK_ACCESS_FS_READ_FILE|unix.LANDLOCK_ACCESS_FS_EXECUTE, "Sandbox")
		}
	}
	if err == nil && exec != nil {
		// The dynamic loader looks here first; without it, it searches
		// the default directories, which the rules above allow.
		_ = add("/etc/ld.so.cache", unix.LANDLOCK_ACCESS_FS_READ_FILE, "Sandbox")
		// The devices every program may count on, which hold nothing:
		// os/exec gives a child /dev/null where it has no file.
		for _, d := range devices {
			_ = add(d.path, d.access, "Sandbox")
		}
	}
	if s.Network == NetPorts {
		for _, r := range []struct {
			ports  []uint16
			access uint64
		}{{s.ConnectTCP, unix.LANDLOCK_ACCESS_NET_CONNECT_TCP}, {s.BindTCP, unix.LANDLOCK_ACCESS_NET_BIND_TCP}} {
			for _, p := range r.ports {
				if err != nil {
					break
				}
				rule := netPortAttr{r.access, uint64(p)}
				if _, _, e := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, fd, ruleNetPort, uintptr(unsafe.Pointer(&rule)), 0, 0, 0); e != 0 {
					err = fail("ConnectTCP and BindTCP (Landlock)", fmt.Errorf("landlock_add_rule port %d: %w", p, e))
				}
			}
		}
	}
	if err != nil {
		unix.Close(int(fd))
		return -1, err
	}
	return int(fd), nil
}

// devices are the character devices a sandboxed child may always use.
var devices = []struct {
	path   string
	access uint64
}{
	{"/dev/null", unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_WRITE_FILE | unix.LANDLOCK_ACCESS_FS_TRUNCATE},
	{"/dev/zero", unix.LANDLOCK_ACCESS_FS_READ_FILE},
	{"/dev/random", unix.LANDLOCK_ACCESS_FS_READ_FILE},
	{"/dev/urandom", unix.LANDLOCK_ACCESS_FS_READ_FILE},
}

// landlockRestrictSelf puts the calling thread in the ruleset's domain.
func landlockRestrictSelf(fd int) error {
	if _, _, e := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, uintptr(fd), 0, 0); e != 0 {
		return fmt.Errorf("landlock_restrict_self: %w", e)
	}
	return nil
}
