//go:build !linux

package mp

import (
	"errors"
	"sync/atomic"
	"time"
)

var errFutexTimeout = errors.New("mp: futex wait timed out")

// futexPoll is how long futexWait sleeps between looks at the word where
// the OS has no futex. Shared segments cannot be made on these platforms
// yet (see newSegment), so nothing blocks here in practice.
const futexPoll = time.Millisecond

// futexWait sleeps while *addr == val, for at most timeout when timeout > 0.
// Without futexes it polls: it returns after one short sleep, which callers
// treat as the spurious wakeup they must handle anyway.
func futexWait(addr *uint32, val uint32, timeout time.Duration) error {
	if atomic.LoadUint32(addr) != val {
		return nil
	}
	d := futexPoll
	if timeout > 0 && timeout <= d {
		time.Sleep(timeout)
		return errFutexTimeout
	}
	time.Sleep(d)
	return nil
}

// futexWake does nothing: waiters poll.
func futexWake(addr *uint32, n int) {}
