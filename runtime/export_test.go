package mp

import "sync/atomic"

// Internals of package mp for its external tests (package mp_test), which
// start targets from internal/targets.

// StartChildrenFrom makes the children started from now on run the image
// exe (a copy of the test binary) instead of the program's own, until the
// returned function restores the default. Tests set it only while no other
// child starts.
func StartChildrenFrom(exe string) (restore func()) {
	childExe = exe
	return func() { childExe = "" }
}

// LockOwner returns the process id of l's holder, or 0.
func LockOwner(l *Lock) int { return l.owner() }

// RLockHeld reports whether some process holds l.
func RLockHeld(l *RLock) bool { return atomic.LoadUint64(&l.w.owner) != 0 }

// ErrCondNotHeld is the error of Wait or Notify without the lock.
var ErrCondNotHeld = errCondNotHeld
