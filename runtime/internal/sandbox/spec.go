// Package sandbox confines a child process: resource limits, a Landlock
// domain (files, TCP ports, signals and abstract sockets), a seccomp filter,
// no new privileges, its own network and user namespaces, and another user.
//
// It applies a Spec in two stages, because Landlock and the thread
// attributes it needs act on one thread while a Go program has several
// before its first init runs:
//
//   - Enter, in the child at its guard, restricts the thread it runs on
//     (limits, capabilities, no_new_privs, Landlock) and executes the
//     program again from that thread. Every thread of the new image
//     descends from the restricted one, so none is left out.
//   - Seal, in the re-executed image, installs the seccomp filter on all
//     its threads at once (SECCOMP_FILTER_FLAG_TSYNC) and checks that the
//     restrictions hold before the handshake, so no target ever runs in a
//     child that is not confined.
//
// The parent checks a Spec first (Check), so a restriction the kernel
// cannot apply fails Start with an error naming it, and sets the
// namespaces and user at the fork (Prepare).
package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Env names the environment variable that carries a Spec to a child that
// has yet to Enter it; EnvSealed carries it to the re-executed image.
const (
	Env       = "MPGEN_SANDBOX"
	EnvSealed = "MPGEN_SANDBOX_SEALED"
)

// Spec is a sandbox as the child applies it. Paths are absolute and clean.
type Spec struct {
	Memory    int64 `json:"mem,omitempty"`    // RLIMIT_DATA, bytes
	CPU       int64 `json:"cpu,omitempty"`    // RLIMIT_CPU, seconds
	OpenFiles int64 `json:"nofile,omitempty"` // RLIMIT_NOFILE
	FileSize  int64 `json:"fsize,omitempty"`  // RLIMIT_FSIZE, bytes
	Processes int64 `json:"nproc,omitempty"`  // RLIMIT_NPROC, in a user namespace of its own

	ReadOnly  []string `json:"ro,omitempty"`
	ReadWrite []string `json:"rw,omitempty"`

	// Network: NetAll leaves the parent's network; NetNone gives the
	// child a network namespace of its own with nothing up; NetPorts
	// keeps the parent's network for TCP to and on the listed ports only.
	Network    Network  `json:"net"`
	ConnectTCP []uint16 `json:"connect,omitempty"`
	BindTCP    []uint16 `json:"bind,omitempty"`

	UID *uint32 `json:"uid,omitempty"` // run as this user (parent is root)
	GID *uint32 `json:"gid,omitempty"`

	// What the kernel offers, as Check found it: the Landlock ABI to
	// use (0: none) and whether to install the seccomp filter. With
	// BestEffort, Check lowers these instead of failing.
	LandlockABI int  `json:"ll"`
	Seccomp     bool `json:"sc"`
	BestEffort  bool `json:"best,omitempty"`
}

// Network is what network a sandboxed child has.
type Network uint8

const (
	NetNone  Network = iota // no network at all
	NetPorts                // TCP to and on the listed ports only
	NetAll                  // the parent's network, unrestricted
)

// Encode is the Spec as an environment variable's value.
func (s *Spec) Encode() string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // a Spec always encodes
	}
	return string(b)
}

// Decode reads a Spec that Encode wrote.
func Decode(v string) (*Spec, error) {
	var s Spec
	if err := json.Unmarshal([]byte(v), &s); err != nil {
		return nil, fmt.Errorf("sandbox: bad spec in the environment: %w", err)
	}
	return &s, nil
}

// Error is a restriction that could not be applied. What names it as the
// user wrote it (a field of mp.Sandbox).
type Error struct {
	What string
	Err  error
}

func (e *Error) Error() string { return e.What + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func fail(what string, err error) error { return &Error{What: what, Err: err} }

// errUnsupported is the reason of every restriction where the platform has
// none of the mechanisms.
var errUnsupported = fmt.Errorf("sandboxed children need Linux: %w", errors.ErrUnsupported)

// A Fault is a limit the kernel ended a child for.
type Fault int

const (
	FaultNone Fault = iota
	FaultCPU
	FaultMemory
)

// outOfMemory reports whether a child's last words are the Go runtime's,
// the C library's (a thread's stack is data too) or the race detector's on
// memory the kernel refused. threads says whether a thread that could not
// start counts: not when the child has a limit on processes, which also
// stops threads.
func outOfMemory(stderr string, threads bool) bool {
	for _, s := range []string{
		"fatal error: runtime: out of memory", "fatal error: out of memory",
		"ThreadSanitizer failed to allocate", "ThreadSanitizer: out of memory",
	} {
		if strings.Contains(stderr, s) {
			return true
		}
	}
	return threads && (strings.Contains(stderr, "pthread_create failed: Resource temporarily unavailable") ||
		strings.Contains(stderr, "runtime: failed to create new OS thread"))
}

// runtimeCrash reports whether a child's last words are a crash of the Go
// runtime in its own code (not a panic): what an allocation the kernel
// refused can also end in, when the runtime does not check for it (a
// SIGSEGV on the nil it got).
func runtimeCrash(stderr string) bool {
	for _, s := range []string{"\nfatal error: ", "\nSIGSEGV: ", "\nSIGBUS: ", "\nunexpected fault address"} {
		if strings.Contains("\n"+stderr, s) {
			return true
		}
	}
	return false
}
