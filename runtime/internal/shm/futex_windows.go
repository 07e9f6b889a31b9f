//go:build windows

package shm

import (
	"encoding/hex"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Windows has no futex between processes (WaitOnAddress wakes threads of
// one process only), so Wait and Wake are built from the segment's prefix
// (segment_windows.go) and named events, as an event count:
//
// Each word of a segment belongs to one of its nSlots wake slots, chosen
// by its offset. A slot holds, in the shared prefix, a generation that
// every Wake of one of its words bumps, and the number of Waits in
// progress on its words in all processes. A Wait counts itself in, reads
// the generation g, checks the word, and sleeps on the manual-reset event
// named after the segment's id, the slot and g, which it creates (or
// opens, when another waiter of that generation made it); it checks the
// generation again after creating the event and before sleeping. A Wake
// bumps the generation and, if some Wait is in progress on the slot,
// opens the event of the generation it ended and sets it, which wakes
// every sleeper of that generation; a later Wait sleeps on the next
// generation's event, which nobody has set. The event object is freed by
// the kernel when its last sleeper closes it.
//
// No wake-up is lost: a Wake whose bump comes after a Wait read g either
// comes before the Wait's second look at the generation, which sees the
// change and returns, or after it, and then the event exists (the Wait
// holds it) and the Wake sees the Wait counted in (counted before g was
// read) and sets it. All are sequentially consistent atomics on the shared
// words, in every process.
//
// A Wake wakes every sleeper of the slot, not n of them: the others see
// their word unchanged and sleep again, which futex callers handle as
// spurious wake-ups. A process that dies inside Wait leaves its count in
// the slot, which only costs Wakes of that slot a failing OpenEvent.
//
// A word that lies in no segment of this process (never the case in the
// runtime) is polled, as where there is no futex at all.

// eventName is the name of the event of generation gen of slot k of the
// segment id.
func eventName(id *[16]byte, k int, gen uint32) *uint16 {
	var b [80]byte
	n := append(b[:0], `Local\mpgen-futex-`...)
	n = hex.AppendEncode(n, id[:])
	n = append(n, '-')
	n = strconv.AppendInt(n, int64(k), 10)
	n = append(n, '-')
	n = strconv.AppendUint(n, uint64(gen), 10)
	p, _ := windows.UTF16PtrFromString(string(n))
	return p
}

// slotOf returns the wake slot of the word at off.
func slotOf(off uintptr) int { return int(off/4) % nSlots }

// pollSlice is how long Wait sleeps on a word outside any segment, or
// when it cannot make its event, before returning as a spurious wake-up.
const pollSlice = time.Millisecond

// Wait sleeps while *addr == val, for at most timeout when timeout > 0 (a
// timeout <= 0 waits until woken). It returns nil when woken (or
// spuriously: callers always re-check their condition), and ErrTimeout
// when the timeout passed.
func Wait(addr *uint32, val uint32, timeout time.Duration) error {
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	pre, off := segments.find(uintptr(unsafe.Pointer(addr)))
	if pre == nil {
		return poll(addr, val, deadline)
	}
	k := slotOf(off)
	sl := &pre.slots[k]
	atomic.AddUint32(&sl.waiters, 1)
	defer atomic.AddUint32(&sl.waiters, ^uint32(0))
	g := atomic.LoadUint32(&sl.gen)
	if atomic.LoadUint32(addr) != val {
		return nil
	}
	ev, err := windows.CreateEvent(nil, 1, 0, eventName(&pre.id, k, g))
	if err != nil && err != windows.ERROR_ALREADY_EXISTS {
		// No event (out of handles, or its name taken by an object we may
		// not use): poll once, which a caller sees as a spurious wake-up.
		return poll(addr, val, deadline)
	}
	defer windows.CloseHandle(ev)
	if atomic.LoadUint32(&sl.gen) != g {
		return nil
	}
	for {
		ms := uint32(windows.INFINITE)
		if !deadline.IsZero() {
			rem := time.Until(deadline)
			if rem <= 0 {
				return ErrTimeout
			}
			// Rounded up, so the wait never ends before the deadline.
			ms = uint32(min((rem+time.Millisecond-1)/time.Millisecond, windows.INFINITE-1))
		}
		r, err := windows.WaitForSingleObject(ev, ms)
		switch r {
		case windows.WAIT_OBJECT_0:
			return nil
		case uint32(windows.WAIT_TIMEOUT):
			continue // the loop returns ErrTimeout once the deadline passed
		}
		return err
	}
}

// poll sleeps once while *addr == val, pollSlice at most or until the
// deadline (zero: none), and returns ErrTimeout if the deadline passed.
func poll(addr *uint32, val uint32, deadline time.Time) error {
	if atomic.LoadUint32(addr) != val {
		return nil
	}
	d := pollSlice
	if !deadline.IsZero() {
		d = min(d, time.Until(deadline))
	}
	time.Sleep(d)
	if !deadline.IsZero() && !time.Now().Before(deadline) {
		return ErrTimeout
	}
	return nil
}

// Wake wakes the processes (or threads) sleeping in Wait on addr, in any
// process that maps the same segment: all of those sleeping on its slot,
// and so at least min(n, the sleepers on addr). n <= 0 wakes none.
func Wake(addr *uint32, n int) {
	if n <= 0 {
		return
	}
	pre, off := segments.find(uintptr(unsafe.Pointer(addr)))
	if pre == nil {
		return
	}
	k := slotOf(off)
	sl := &pre.slots[k]
	g := atomic.AddUint32(&sl.gen, 1) - 1
	if atomic.LoadUint32(&sl.waiters) == 0 {
		return
	}
	ev, err := windows.OpenEvent(windows.EVENT_MODIFY_STATE, false, eventName(&pre.id, k, g))
	if err != nil {
		return // nobody sleeps on generation g: its waiters see the bump
	}
	windows.SetEvent(ev)
	windows.CloseHandle(ev)
}
