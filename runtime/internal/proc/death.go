package proc

import "time"

// Death describes how a child ended, beyond its exit status: what the
// parent can tell from the kernel and from the child's stderr.
type Death struct {
	Code   int    // ExitStatus's code: -N for signal N
	Signal string // ExitStatus's signal name, or ""
	// MaxRSS is the child's peak resident memory in bytes, from the
	// rusage of its wait (Unix), or 0 where unknown (Windows).
	MaxRSS int64
	// CPU is the user and system time the child used (Unix).
	CPU time.Duration
	// OOMKill is true when the child died of SIGKILL that this process
	// did not send while the system's count of OOM-killer kills rose
	// (Linux's /proc/vmstat oom_kill, which counts the kills of a memory
	// cgroup's limit too). Elsewhere it is always false.
	OOMKill bool
	// Stderr is the tail of what the child wrote to stderr (see
	// TailLines and TailBytes), and Crash its last line that began
	// "fatal error: " or "panic: ".
	Stderr, Crash string
}
