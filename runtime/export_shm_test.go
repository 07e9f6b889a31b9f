package mp

import "sync/atomic"

// Internals of the cross-process primitives for the external tests
// (package mp_test), which start targets from internal/targets.

// LockOwner returns the process id of l's holder, or 0.
func LockOwner(l *Lock) int { return l.owner() }

// RLockHeld reports whether some process holds l.
func RLockHeld(l *RLock) bool { return atomic.LoadUint64(&l.w.owner) != 0 }

// ErrCondNotHeld is the error of Wait or Notify without the lock.
var ErrCondNotHeld = errCondNotHeld
