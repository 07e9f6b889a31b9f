//go:build unix && (mpgen_portable || !linux)

package shm

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// The portable Wait and Wake: what macOS and the BSDs run, and Linux with
// the build tag mpgen_portable. macOS has no futex that works across
// processes except through private APIs (__ulock_wait's shared variants),
// and FreeBSD's (_umtx_op) is its own, so nothing here sleeps in the
// kernel on the word itself. Instead:
//
//   - A waiter polls the word: it looks and yields its processor for
//     pollSpin (20 µs), then sleeps between looks, from pollFirst (20 µs)
//     doubling up to pollMax (1 ms), until the word no longer holds its
//     value or the timeout passes. It sleeps only while the word holds the
//     value, and looks at it again after every sleep, so a change made by
//     any process, before or during the wait, is seen within pollMax: no
//     wake-up is lost, whoever makes it. A change that is undone before
//     the waiter looks (a semaphore's unit given and taken again) goes
//     unseen, which is what a futex waiter woken late sees too.
//   - Wake wakes at once the waiters of this process on the same address
//     (through a channel per address, below): other goroutines of the
//     process need not wait for their next look, and the wakes that change
//     no word (a handle's Close, a Waiter's cancelled context, both in the
//     waiter's own process) are not missed. Waiters in other processes see
//     the change at their next look.
//
// Waiters leave no trace in the shared memory, so one that dies leaves
// nothing behind. Wake's n is not honoured: every waiter of this process
// on the address wakes, and every waiter elsewhere looks; the callers
// handle such spurious wake-ups as they handle a futex's. A wake that
// changes no word reaches waiters in other processes only at the end of
// their wait slice (WaitSlice): Queue.ShutDown's wake of the putters
// waiting for room is the one such wake package mp sends across processes.
//
// The cost: a waiter burns up to pollSpin of CPU before it first sleeps,
// then wakes up to about 1000 times a second while it waits (a Go timer at
// pollMax: no OS thread is held meanwhile, except during the
// sub-millisecond sleeps, which are system calls because Go's timers on
// Linux round up to 1 ms); a wake-up from another process that comes after
// the spin is seen up to pollMax late instead of within microseconds.
// BENCHMARKS.md has the figures.
const (
	// pollSpin is how long a waiter looks at the word, yielding to other
	// goroutines between looks, before it first sleeps: a hand-off between
	// processes that takes a few microseconds is seen without sleeping
	// (sleeping at once made a round trip between two processes 150 µs
	// instead of 10 on Linux, where the shortest sleep lasts about 80 µs).
	pollSpin = 20 * time.Microsecond
	// pollFirst is the first sleep; each next one is twice as long, up to
	// pollMax.
	pollFirst = 20 * time.Microsecond
	// pollMax bounds every sleep, and so the delay before a waiter sees a
	// change made by another process.
	pollMax = time.Millisecond
)

// localWaits holds, per word address, the goroutines of this process in
// Wait on it: Wake closes the channel they select on. nlocal counts them
// all, so that Wake costs one atomic load when nobody of this process
// waits (the common case when the waiters are other processes).
var (
	localMu    sync.Mutex
	localWaits = map[*uint32]*localWait{}
	nlocal     atomic.Int32
)

type localWait struct {
	n    int           // goroutines in Wait on the word
	wake chan struct{} // closed by Wake, then replaced
}

// Wait sleeps while *addr == val, for at most timeout when timeout > 0 (a
// timeout <= 0 waits until woken). It returns nil when the word no longer
// holds val (on entry, or seen at a look), when Wake was called on addr in
// this process, or spuriously: callers always re-check their condition.
// It returns ErrTimeout when the timeout passed.
func Wait(addr *uint32, val uint32, timeout time.Duration) error {
	if atomic.LoadUint32(addr) != val {
		return nil
	}
	now := time.Now()
	spinUntil := now.Add(pollSpin)
	var deadline time.Time
	if timeout > 0 {
		deadline = now.Add(timeout)
		if deadline.Before(spinUntil) {
			spinUntil = deadline
		}
	}
	// Registered before the next look at the word: a Wake from this
	// process after that look closes the channel we hold.
	wake := localEnter(addr)
	defer localLeave(addr)
	var timer *time.Timer
	d := pollFirst
	for {
		if atomic.LoadUint32(addr) != val {
			return nil
		}
		select {
		case <-wake:
			return nil
		default:
		}
		if time.Now().Before(spinUntil) {
			runtime.Gosched()
			continue
		}
		step := d
		d = min(2*d, pollMax)
		if !deadline.IsZero() {
			rem := time.Until(deadline)
			if rem <= 0 {
				return ErrTimeout
			}
			step = min(step, rem)
		}
		if step < pollMax {
			// Blocks the thread for less than a millisecond; the channel
			// is looked at right after. select with no descriptors is
			// the sleep every Unix has (x/sys/unix has no nanosleep on
			// macOS).
			tv := unix.NsecToTimeval(int64(step))
			_, _ = unix.Select(0, nil, nil, nil, &tv)
			continue
		}
		if timer == nil {
			timer = time.NewTimer(step)
			defer timer.Stop()
		} else {
			timer.Reset(step)
		}
		select {
		case <-wake:
			return nil
		case <-timer.C:
		}
	}
}

// localEnter counts a goroutine of this process in Wait on addr and
// returns the channel that Wake closes.
func localEnter(addr *uint32) <-chan struct{} {
	localMu.Lock()
	defer localMu.Unlock()
	lw := localWaits[addr]
	if lw == nil {
		lw = &localWait{wake: make(chan struct{})}
		localWaits[addr] = lw
	}
	lw.n++
	nlocal.Add(1)
	return lw.wake
}

// localLeave counts a goroutine out of Wait on addr.
func localLeave(addr *uint32) {
	localMu.Lock()
	defer localMu.Unlock()
	nlocal.Add(-1)
	lw := localWaits[addr]
	if lw.n--; lw.n == 0 {
		delete(localWaits, addr)
	}
}

// Wake wakes the goroutines of this process sleeping in Wait on addr (all
// of them, whatever n > 0 is). Waiters in other processes, which poll,
// see at their next look the change the caller made to the word before
// calling Wake.
func Wake(addr *uint32, n int) {
	if n <= 0 || nlocal.Load() == 0 {
		return
	}
	localMu.Lock()
	defer localMu.Unlock()
	if lw := localWaits[addr]; lw != nil {
		close(lw.wake)
		lw.wake = make(chan struct{})
	}
}
