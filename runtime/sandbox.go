package mp

import (
	"errors"
	"fmt"
	"math"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mpgen/mpgen/runtime/internal/proc"
	"github.com/mpgen/mpgen/runtime/internal/sandbox"
)

// Sandbox confines a child process (Linux): what it may read and write,
// what network it has, how much memory, CPU time, files and processes it
// may use, and which user it runs as. Set it on Process.Sandbox, or on
// every worker of a pool with PoolSandbox. A non-nil Sandbox denies by
// default: a child with the zero Sandbox may read no file, has no network,
// may gain no privilege and has no capability, even as root; only the
// limits are off until set.
//
// The sandbox is applied in the child before its handshake, so no target
// code ever runs outside it, and to every thread of the child (see package
// internal/sandbox). A restriction the kernel cannot apply makes Start and
// NewPool return a *SandboxError naming it, unless BestEffort is set; on
// other systems than Linux they return one that matches
// errors.ErrUnsupported. A child ended by the kernel for going over a limit
// fails with an *ExitError that wraps a *LimitError.
//
// What it does not protect against: bugs in the kernel, side channels
// (timing, caches), and what it does not name: the child keeps the
// descriptors it is given (its arguments, stdout and stderr, the control
// channel), may use the CPUs and memory bandwidth the limits allow, and may
// read any file under the paths it is allowed. See the README.
type Sandbox struct {
	// ReadOnly are files and directories the child may read and execute
	// (a directory with everything beneath it). Landlock.
	ReadOnly []string
	// ReadWrite are files and directories the child may also write,
	// create, remove, rename and truncate in.
	ReadWrite []string
	// Network is what network the child has; the zero value, none.
	Network Network

	// Memory is the most memory in bytes the child may allocate
	// (RLIMIT_DATA: its heap, stacks and private mappings, the Go
	// runtime's own included; a Go program starts with about 40 MiB of
	// it, a race-detector build with about 300 MiB more). 0: no limit.
	Memory int64
	// CPUTime is the most CPU time the child may use in its life (a pool
	// worker: over all its calls; with MaxTasksPerChild(1), per call),
	// in whole seconds, rounded up (RLIMIT_CPU). 0: no limit.
	CPUTime time.Duration
	// OpenFiles is one more than the highest descriptor the child may
	// open (RLIMIT_NOFILE). 0: the parent's limit.
	OpenFiles int
	// FileSize is the largest file in bytes the child may write
	// (RLIMIT_FSIZE): a write past it fails with EFBIG. 0: no limit.
	FileSize int64
	// Processes is how many processes and threads the child and its
	// descendants may have at once (RLIMIT_NPROC, counted in a user
	// namespace of the child's own, so other processes of the same user
	// do not count). A Go program needs a few threads more than
	// GOMAXPROCS; values under 16 leave it none to start with. 0: no
	// limit.
	Processes int

	// User and Group are the user and group the child runs as, by name
	// or number; the parent must run as root. "" keeps the parent's (for
	// Group: User's primary group when User is set). The child has no
	// supplementary groups.
	User, Group string

	// BestEffort runs the child with what the kernel can apply when it
	// cannot apply all: without Landlock (before Linux 5.13), without
	// TCP port rules (before 6.7), without the system call filter (on an
	// architecture it has none for). Off, Start fails instead.
	BestEffort bool
}

// Network is the network of a sandboxed child. The zero value gives it
// none: a network namespace of its own, where nothing is up (no loopback,
// no abstract Unix sockets of other namespaces).
type Network struct {
	// All gives the child the parent's network, unrestricted.
	All bool
	// ConnectTCP and BindTCP, when All is false and either is set, give
	// the child the parent's network for TCP connections to these ports
	// and listeners on these ports only (Landlock ABI 4, Linux 6.7); it
	// may open no other socket of the internet families (no UDP, no
	// DNS: give addresses) and none of other families but Unix.
	ConnectTCP []uint16
	BindTCP    []uint16
}

// SandboxError reports a restriction of a Sandbox that could not be
// applied: Start and NewPool return it, and no child has run.
type SandboxError struct {
	Restriction string // the Sandbox field, or the mechanism, e.g. "Network"
	Err         error
}

func (e *SandboxError) Error() string {
	return "mp: sandbox: " + e.Restriction + ": " + e.Err.Error()
}

func (e *SandboxError) Unwrap() error { return e.Err }

// Limit names a limit of a Sandbox that the kernel enforces by ending the
// child.
type Limit string

const (
	LimitMemory  Limit = "Memory"
	LimitCPUTime Limit = "CPUTime"
)

// LimitError reports a sandboxed child that went over one of its limits
// and was ended for it; the *ExitError of the child wraps it (errors.As).
// The other limits do not end the child: past OpenFiles, an open fails
// with EMFILE, past FileSize a write with EFBIG, past Processes a fork or
// thread start with EAGAIN, each an error in the target.
type LimitError struct {
	Limit Limit
	Value string // the limit as set, e.g. "64 MiB" or "1s"
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("mp: over its sandbox's %s limit (%s)", e.Limit, e.Value)
}

// PoolSandbox confines every worker of the pool, the ones that replace
// others included, with s: see Sandbox. A worker keeps its sandbox across
// calls; MaxTasksPerChild(1) gives each call a fresh sandboxed process.
func PoolSandbox(s *Sandbox) PoolOption {
	return func(c *poolConfig) { c.sandbox = s; c.mark("PoolSandbox") }
}

// spec checks s and returns what the child applies, or a *SandboxError.
func (s *Sandbox) spec() (*sandbox.Spec, error) {
	if s == nil {
		return nil, nil
	}
	sp := &sandbox.Spec{
		Memory:     s.Memory,
		OpenFiles:  int64(s.OpenFiles),
		FileSize:   s.FileSize,
		Processes:  int64(s.Processes),
		BestEffort: s.BestEffort,
	}
	for name, v := range map[string]int64{"Memory": s.Memory, "CPUTime": int64(s.CPUTime), "OpenFiles": int64(s.OpenFiles), "FileSize": s.FileSize, "Processes": int64(s.Processes)} {
		if v < 0 {
			return nil, &SandboxError{name, fmt.Errorf("%d is negative: use 0 for no limit", v)}
		}
	}
	if s.CPUTime > 0 {
		sp.CPU = int64(math.Ceil(s.CPUTime.Seconds()))
	}
	var err error
	if sp.ReadOnly, err = absPaths("ReadOnly", s.ReadOnly); err != nil {
		return nil, err
	}
	if sp.ReadWrite, err = absPaths("ReadWrite", s.ReadWrite); err != nil {
		return nil, err
	}
	switch n := s.Network; {
	case n.All:
		sp.Network = sandbox.NetAll
	case len(n.ConnectTCP) > 0 || len(n.BindTCP) > 0:
		sp.Network, sp.ConnectTCP, sp.BindTCP = sandbox.NetPorts, n.ConnectTCP, n.BindTCP
	}
	if sp.UID, sp.GID, err = lookupIDs(s.User, s.Group); err != nil {
		return nil, err
	}
	eff, err := sandbox.Check(sp)
	if err != nil {
		return nil, sandboxError(err)
	}
	return eff, nil
}

// sandboxStartError describes a start of a child in the sandbox sp that
// failed: the fork is where the namespaces and the user are applied, so a
// refusal there is theirs.
func sandboxStartError(sp *sandbox.Spec, err error) error {
	var what []string
	if sp.Network == sandbox.NetNone {
		what = append(what, "Network (a network namespace of its own)")
	}
	if sp.Processes > 0 || (sp.Network == sandbox.NetNone && os.Geteuid() != 0) {
		what = append(what, "Processes (a user namespace of its own)")
	}
	if sp.UID != nil || sp.GID != nil {
		what = append(what, "User and Group")
	}
	if len(what) == 0 || !(errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EUSERS)) {
		return err
	}
	return &SandboxError{Restriction: strings.Join(what, ", "), Err: err}
}

// sandboxError makes a *SandboxError of what the sandbox layer returned.
func sandboxError(err error) error {
	var se *sandbox.Error
	if errors.As(err, &se) {
		return &SandboxError{Restriction: se.What, Err: se.Err}
	}
	return &SandboxError{Restriction: "Sandbox", Err: err}
}

func absPaths(field string, paths []string) ([]string, error) {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		if p == "" {
			return nil, &SandboxError{field, errors.New("an empty path")}
		}
		a, err := filepath.Abs(p)
		if err != nil {
			return nil, &SandboxError{field, err}
		}
		out = append(out, a)
	}
	return out, nil
}

// lookupIDs resolves User and Group, by name or number.
func lookupIDs(name, group string) (uid, gid *uint32, err error) {
	id := func(s string) (*uint32, bool) {
		n, err := strconv.ParseUint(s, 10, 32)
		v := uint32(n)
		return &v, err == nil
	}
	if name != "" {
		var ok bool
		if uid, ok = id(name); !ok {
			u, err := user.Lookup(name)
			if err != nil {
				return nil, nil, &SandboxError{"User", err}
			}
			uid, _ = id(u.Uid)
			if group == "" {
				gid, _ = id(u.Gid)
			}
		} else if group == "" {
			if u, err := user.LookupId(name); err == nil {
				gid, _ = id(u.Gid)
			} else {
				gid = uid // a user unknown to the system: its own group
			}
		}
	}
	if group != "" {
		var ok bool
		if gid, ok = id(group); !ok {
			g, err := user.LookupGroup(group)
			if err != nil {
				return nil, nil, &SandboxError{"Group", err}
			}
			gid, _ = id(g.Gid)
		}
	}
	return uid, gid, nil
}

// limitFault tells whether a child that ran in the sandbox sp (nil: none)
// and ended as d says was ended by the kernel for one of its limits.
func limitFault(sp *sandbox.Spec, d proc.Death) *LimitError {
	if sp == nil {
		return nil
	}
	switch sp.Fault(d.Code, d.CPU, d.MaxRSS, d.Stderr) {
	case sandbox.FaultCPU:
		return &LimitError{Limit: LimitCPUTime, Value: (time.Duration(sp.CPU) * time.Second).String()}
	case sandbox.FaultMemory:
		return &LimitError{Limit: LimitMemory, Value: formatBytes(sp.Memory)}
	}
	return nil
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
