package shm

import (
	"os"
	"sync/atomic"
)

// ProcID names a process so that a reused process id cannot pass for it:
// the pid in the high 32 bits, and in the low 32 the low bits of the
// process's start time (on Linux field 22 of /proc/<pid>/stat, in clock
// ticks since boot; on Windows its creation time, in 100 ns units). A
// process that ends and whose pid is given to a new one leaves a ProcID
// that no live process has, until the start times coincide modulo 2^32
// ticks (about 497 days at 100 ticks a second on Linux; on Windows a
// chance of one in 2^32 for each reuse).
//
// The shared primitives record their holders and waiters as ProcIDs, in
// one atomic store, so a crash never leaves a half-written identity. The
// zero ProcID names no process, and bit 63 is never set (pids are below
// 2^31), so a primitive may use it as a flag in the same word. A start
// time of 0 means it was unknown (no /proc): such an identity is judged by
// its pid alone, as before.
type ProcID uint64

// MakeProcID returns the identity of process pid started at start.
func MakeProcID(pid int, start uint32) ProcID {
	return ProcID(uint64(uint32(pid)&(1<<31-1))<<32 | uint64(start))
}

// Pid returns the process id.
func (id ProcID) Pid() int { return int(id >> 32) }

// Start returns the low 32 bits of the process's start time, 0 if unknown.
func (id ProcID) Start() uint32 { return uint32(id) }

// self caches Self: 0 until first asked.
var self atomic.Uint64

// Self returns this process's identity. Computing it reads /proc once; the
// later calls are one atomic load.
func Self() ProcID {
	if id := self.Load(); id != 0 {
		return ProcID(id)
	}
	return initSelf()
}

func initSelf() ProcID {
	pid := os.Getpid()
	id := ProcIDOf(pid)
	if id == 0 {
		id = MakeProcID(pid, 0) // no /proc: judged by the pid alone
	}
	self.Store(uint64(id))
	return id
}

// Alive reports whether the process id names is still running: a process
// with its pid and its start time exists and is not a zombie (a process
// that ended but was not reaped yet holds nothing any more). This process
// is always alive. Where /proc/<pid> cannot be read (not mounted, or
// hidden by hidepid), it falls back to asking whether the pid exists.
func (id ProcID) Alive() bool {
	if id == Self() {
		return true
	}
	return id.alive()
}

// Gone reports whether no process has id's pid any more: one cheap system
// call, sure when true. False says nothing of a zombie or of a pid reused
// by another process; Alive tells those.
func (id ProcID) Gone() bool {
	if id == Self() {
		return false
	}
	return id.gone()
}
