//go:build !unix && !windows

package shm

import (
	"sync/atomic"
	"time"
)

// futexPoll is how long Wait sleeps between looks at the word where the OS
// has no futex. Shared segments cannot be made on these platforms yet (see
// New), so nothing blocks here in practice.
const futexPoll = time.Millisecond

// Wait sleeps while *addr == val, for at most timeout when timeout > 0.
// Without futexes it polls: it returns after one short sleep, which callers
// treat as the spurious wakeup they must handle anyway.
func Wait(addr *uint32, val uint32, timeout time.Duration) error {
	if atomic.LoadUint32(addr) != val {
		return nil
	}
	d := futexPoll
	if timeout > 0 && timeout <= d {
		time.Sleep(timeout)
		return ErrTimeout
	}
	time.Sleep(d)
	return nil
}

// Wake does nothing: waiters poll.
func Wake(addr *uint32, n int) {}
