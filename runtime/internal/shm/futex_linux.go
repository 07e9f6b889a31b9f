//go:build linux && !mpgen_portable

package shm

import (
	"syscall"
	"time"
	"unsafe"
)

// Futex operations. Not the _PRIVATE variants: the words live in shared
// mappings and the waiters are in other processes, so the kernel must key
// them by the mapped object rather than by this process's address space.
const (
	futexOpWait = 0 // FUTEX_WAIT
	futexOpWake = 1 // FUTEX_WAKE
)

// Wait sleeps while *addr == val, for at most timeout when timeout > 0 (a
// timeout <= 0 waits until woken): a futex wait on a word in shared memory.
// It returns nil when woken, when *addr was not val on entry, or when
// interrupted by a signal: callers always re-check their condition, as
// spurious returns are allowed. It returns ErrTimeout when the timeout
// passed, and another error only when the kernel refused the call (a bad
// address).
func Wait(addr *uint32, val uint32, timeout time.Duration) error {
	var ts *syscall.Timespec
	if timeout > 0 {
		t := syscall.NsecToTimespec(int64(timeout))
		ts = &t
	}
	_, _, errno := syscall.Syscall6(syscall.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexOpWait, uintptr(val), uintptr(unsafe.Pointer(ts)), 0, 0)
	switch errno {
	case 0, syscall.EAGAIN, syscall.EINTR:
		return nil
	case syscall.ETIMEDOUT:
		return ErrTimeout
	}
	return errno
}

// Wake wakes up to n processes (or threads) sleeping in Wait on addr, in
// any process that maps the same memory.
func Wake(addr *uint32, n int) {
	if n <= 0 {
		return
	}
	if n > 1<<30 {
		n = 1 << 30
	}
	_, _, _ = syscall.RawSyscall6(syscall.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexOpWake, uintptr(n), 0, 0, 0)
}
