package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Check returns the Spec to apply: s with what the kernel offers filled in
// (and, with BestEffort, what it lacks dropped), or an *Error naming the
// first restriction it cannot apply. It tries the Landlock rules in full
// (every path is opened), so a missing path fails here, not in the child.
func Check(s *Spec) (*Spec, error) {
	eff := *s
	abi := landlockABI()
	switch {
	case abi == 0 && !s.BestEffort:
		return nil, fail("ReadOnly and ReadWrite (Landlock)", errors.New("Landlock is not enabled in this kernel (it needs Linux 5.13 with landlock in the lsm= boot list): set BestEffort to run without it"))
	case s.Network == NetPorts && abi < 4 && !s.BestEffort:
		return nil, fail("ConnectTCP and BindTCP (Landlock)", fmt.Errorf("TCP port rules need Landlock ABI 4 (Linux 6.7); this kernel has ABI %d", abi))
	}
	if abi > 0 && abi < 6 && !s.BestEffort {
		return nil, fail("Sandbox (Landlock)", fmt.Errorf("this kernel has Landlock ABI %d; the sandbox needs 6 (Linux 6.12) for all it denies: truncation (3), device ioctls (5), signals and abstract Unix sockets outside it (6): set BestEffort to run without what is missing", abi))
	}
	eff.LandlockABI = abi
	if s.Network == NetPorts && abi < 4 {
		eff.Network = NetAll // BestEffort: nothing can restrict the ports
	}
	if err := seccompAvailable(); err != nil {
		if !s.BestEffort {
			return nil, fail("the system call filter (seccomp)", err)
		}
	} else {
		eff.Seccomp = true
	}
	if (s.UID != nil || s.GID != nil) && os.Geteuid() != 0 {
		return nil, fail("User and Group", fmt.Errorf("running a child as another user needs a parent running as root (this one is uid %d): %w", os.Geteuid(), syscall.EPERM))
	}
	if s.Processes > 0 && (s.UID == nil && os.Geteuid() == 0 || s.UID != nil && *s.UID == 0) {
		return nil, fail("Processes", errors.New("the kernel does not count root's processes against RLIMIT_NPROC: set User to another user for a child that runs as root"))
	}
	if eff.LandlockABI > 0 {
		if err := eff.tryRuleset(); err != nil {
			return nil, err
		}
	}
	return &eff, nil
}

// tryRuleset makes the Spec's ruleset and closes it: every path opens, as
// the child's user when it has another (a path only root may reach fails
// here, not in the child).
func (s *Spec) tryRuleset() error {
	if s.UID == nil && s.GID == nil {
		fd, err := s.ruleset(nil)
		if err == nil {
			unix.Close(fd)
		}
		return err
	}
	errc := make(chan error, 1)
	go func() {
		// setfsuid and setfsgid act on this thread alone; a thread that
		// cannot be given back its own ids ends with this goroutine.
		runtime.LockOSThread()
		uid, gid := os.Getuid(), os.Getgid()
		if s.GID != nil {
			unix.Setfsgid(int(*s.GID))
		}
		if s.UID != nil {
			unix.Setfsuid(int(*s.UID))
		}
		fd, err := s.ruleset(nil)
		if err == nil {
			unix.Close(fd)
		}
		unix.Setfsuid(uid)
		unix.Setfsgid(gid)
		if fsuid, _ := unix.SetfsuidRetUid(-1); fsuid == uid {
			if fsgid, _ := unix.SetfsgidRetGid(-1); fsgid == gid {
				runtime.UnlockOSThread()
			}
		}
		errc <- err
	}()
	return <-errc
}

// Prepare sets what the child gets at the fork: a network namespace of its
// own for NetNone, a user namespace of its own when it needs one (NetNone
// without root, where it is what lets an unprivileged process have a
// network namespace; and Processes, which RLIMIT_NPROC then counts in that
// namespace alone, not among every process of the user), and the user and
// group it runs as.
func Prepare(s *Spec, cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	attr := cmd.SysProcAttr
	// A session of its own: no controlling terminal, so none to type
	// into (TIOCSTI) even through an inherited descriptor of it.
	attr.Setsid = true
	uid, gid := uint32(os.Geteuid()), uint32(os.Getegid())
	if s.UID != nil {
		uid = *s.UID
	}
	if s.GID != nil {
		gid = *s.GID
	}
	userNS := s.Processes > 0 || (s.Network == NetNone && os.Geteuid() != 0)
	if s.Network == NetNone {
		attr.Cloneflags |= syscall.CLONE_NEWNET
	}
	if userNS {
		attr.Cloneflags |= syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: int(uid), HostID: int(uid), Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: int(gid), HostID: int(gid), Size: 1}}
		attr.GidMappingsEnableSetgroups = false
	}
	if s.UID != nil || s.GID != nil {
		// No supplementary groups: root's would follow the child otherwise.
		attr.Credential = &syscall.Credential{Uid: uid, Gid: gid, NoSetGroups: userNS}
	}
	return nil
}

// Enter confines the thread it runs on and executes the program again from
// it, keeping the descriptors keep open; it returns only on failure. The
// limits are the process's, the rest the thread's, which the new image
// inherits whole: its every thread starts from this one.
func Enter(s *Spec, keep []int) error {
	runtime.LockOSThread() // never unlocked: the thread becomes the program
	if err := setLimits(s); err != nil {
		return err
	}
	if err := dropCapabilities(); err != nil {
		return fail("no capabilities", err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fail("no new privileges", err)
	}
	if s.LandlockABI > 0 {
		fd, err := s.ruleset(mappedFiles())
		if err != nil {
			return err
		}
		err = landlockRestrictSelf(fd)
		unix.Close(fd)
		if err != nil {
			return fail("ReadOnly and ReadWrite (Landlock)", err)
		}
	}
	// Only the descriptors kept cross into the new image.
	if err := unix.CloseRange(0, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fail("Sandbox", fmt.Errorf("close_range: %w", err))
	}
	for _, fd := range keep {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
			return fail("Sandbox", fmt.Errorf("keep descriptor %d: %w", fd, err))
		}
	}
	// The new image must find this Spec alone: an EnvSealed inherited
	// from further up would be found first.
	env := make([]string, 0, len(os.Environ()))
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, Env+"=") && !strings.HasPrefix(kv, EnvSealed+"=") {
			env = append(env, kv)
		}
	}
	env = append(env, EnvSealed+"="+s.Encode())
	err := unix.Exec("/proc/self/exe", os.Args, env)
	return fail("Sandbox", fmt.Errorf("execute the program again inside the sandbox: %w", err))
}

// Seal installs the system call filter on every thread and checks what
// Enter did before any target runs.
func Seal(s *Spec) error {
	os.Unsetenv(EnvSealed)
	if nnp, err := unix.PrctlRetInt(unix.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0); err != nil || nnp != 1 {
		return fail("no new privileges", fmt.Errorf("not set after the sandbox's start (%d, %v)", nnp, err))
	}
	if perm, eff, err := capabilities(); err != nil || perm != 0 || eff != 0 {
		return fail("no capabilities", fmt.Errorf("capabilities left after the sandbox's start: permitted %#x, effective %#x (%v)", perm, eff, err))
	}
	if s.CPU > 0 {
		// The Go runtime ignores SIGXCPU; the kernel's default action
		// ends the process, so the parent sees the limit's own signal.
		var dfl [4]uint64 // struct sigaction: SIG_DFL, no flags, no mask
		if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGXCPU), uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0); e != 0 {
			return fail("CPUTime", fmt.Errorf("rt_sigaction SIGXCPU: %w", e))
		}
	}
	if s.Seccomp {
		if err := installFilter(s); err != nil {
			return fail("the system call filter (seccomp)", err)
		}
	}
	return nil
}

// setLimits sets each limit given, soft and hard alike, which the child
// cannot raise again (it has no CAP_SYS_RESOURCE once Enter drops the
// capabilities); and no core dumps, which would put the child's memory on
// a disk. The CPU time's hard limit is a second past its soft one: at the
// soft one the kernel sends SIGXCPU, which kills the child (Seal), and a
// child that blocked it gets the hard one's SIGKILL.
func setLimits(s *Spec) error {
	for _, l := range []struct {
		what      string
		res       int
		soft, max int64
	}{
		{"Memory", unix.RLIMIT_DATA, s.Memory, s.Memory},
		{"CPUTime", unix.RLIMIT_CPU, s.CPU, s.CPU + 1},
		{"OpenFiles", unix.RLIMIT_NOFILE, s.OpenFiles, s.OpenFiles},
		{"FileSize", unix.RLIMIT_FSIZE, s.FileSize, s.FileSize},
		{"Processes", unix.RLIMIT_NPROC, s.Processes, s.Processes},
		{"Sandbox (no core dumps)", unix.RLIMIT_CORE, 0, 0},
	} {
		if l.soft <= 0 && l.res != unix.RLIMIT_CORE {
			continue
		}
		lim := unix.Rlimit{Cur: uint64(l.soft), Max: uint64(l.max)}
		if err := unix.Setrlimit(l.res, &lim); err != nil {
			return fail(l.what, fmt.Errorf("setrlimit: %w", err))
		}
	}
	return nil
}

// dropCapabilities empties the thread's capability sets, which with
// no_new_privs (set next) the image it executes cannot regain, even as root
// (the kernel gives an executed image no more than it had); and, as far as
// it may, the bounding and ambient sets. Emptying the sets always works.
func dropCapabilities() error {
	last := 63
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		fmt.Sscan(string(b), &last)
	}
	for c := 0; c <= last; c++ {
		if unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0) != nil {
			break // not CAP_SETPCAP: the empty sets are what holds
		}
	}
	_ = unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var none [2]unix.CapUserData
	if err := unix.Capset(&hdr, &none[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	return nil
}

// capabilities returns the thread's permitted and effective capability
// sets.
func capabilities() (permitted, effective uint64, err error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, 0, err
	}
	return uint64(data[1].Permitted)<<32 | uint64(data[0].Permitted), uint64(data[1].Effective)<<32 | uint64(data[0].Effective), nil
}

// mappedFiles lists the files mapped executable into this process: the
// program and, when it is linked dynamically, its interpreter and
// libraries. The new image needs them to start.
func mappedFiles() []string {
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	var files []string
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 6 || !strings.Contains(f[1], "x") || !strings.HasPrefix(f[5], "/") {
			continue
		}
		p := strings.Join(f[5:], " ")
		if !seen[p] && !strings.HasSuffix(p, " (deleted)") {
			seen[p] = true
			files = append(files, p)
		}
	}
	return files
}

// Fault tells whether a child that ran in the sandbox s and ended with
// code (-N for signal N) was ended by the kernel for one of its limits;
// cpu is the CPU time it used, maxRSS its peak resident memory and stderr
// the end of what it wrote there.
//
// The memory limit is told from the runtime's words when it says it is
// out of memory; when it crashed otherwise (a SIGSEGV on an allocation it
// did not check, as Go's runtime does under RLIMIT_DATA), from the crash
// together with a peak resident memory of at least a quarter of the
// limit: an inference, like the OOM killer's.
func (s *Spec) Fault(code int, cpu time.Duration, maxRSS int64, stderr string) Fault {
	switch {
	case s.CPU > 0 && code == -int(unix.SIGXCPU):
		return FaultCPU
	case s.CPU > 0 && code == -int(unix.SIGKILL):
		// A child that blocked SIGXCPU gets the hard limit's SIGKILL a
		// second later; another SIGKILL before the limit leaves the CPU
		// time under it (wait4's times are split from ticks, which were
		// seen 15% short of the kernel's count: half a second is safe).
		if cpu >= time.Duration(s.CPU)*time.Second+time.Second/2 {
			return FaultCPU
		}
	case s.Memory > 0 && crashCode(code) && outOfMemory(stderr, s.Processes == 0):
		return FaultMemory
	case s.Memory > 0 && crashCode(code) && runtimeCrash(stderr) && maxRSS >= s.Memory/4:
		return FaultMemory
	}
	return FaultNone
}

// crashCode reports whether code is the exit code of a crash: the Go
// runtime's (2) or the race detector's (66).
func crashCode(code int) bool { return code == 2 || code == 66 }
