//go:build windows

package fdio

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/windows"
)

// maxWaitSocks is how many Socks Poll watches with events: each takes
// three of WaitForMultipleObjects' 64 handles (its zero-byte read's, the
// end of its stream's and Close's), and the wake file one.
const maxWaitSocks = (64 - 1) / 3 // MAXIMUM_WAIT_OBJECTS

// Poll reports which files are readable (or at their end), waiting up
// to timeout milliseconds (-1: until one is, or wake is). wake, if not nil,
// is watched too but not reported.
//
// On Windows the files of Socks are watched as their Readable does, with a
// zero-byte read each, all at once; other files (pipes: peek only), and
// more than maxWaitSocks Socks, are looked at every few milliseconds
// instead. wake must be a pipe that nothing else reads: Poll reads its
// first byte from a goroutine of its own, which goes on reading it, if no
// byte came, until its writer closes it.
func Poll(files []*os.File, wake *os.File, timeout int) ([]bool, error) {
	if len(files) == 0 && wake == nil {
		return nil, nil
	}
	socks := make([]*Sock, len(files))
	gone := make([]bool, len(files)) // a Sock closed meanwhile: ready, as poll(2) reports a closed descriptor
	event := len(files) <= maxWaitSocks
	for i, f := range files {
		if s := sockOf(f); s != nil {
			if s.enter() != nil {
				gone[i] = true
				continue
			}
			defer s.mu.RUnlock()
			socks[i] = s
		} else {
			event = false
		}
	}
	var deadline time.Time
	if timeout >= 0 {
		deadline = time.Now().Add(time.Duration(timeout) * time.Millisecond)
	}
	var wakeEv windows.Handle
	if wake != nil && timeout != 0 {
		ev, err := windows.CreateEvent(nil, 1, 0, nil)
		if err != nil {
			return nil, fmt.Errorf("mp: Wait: CreateEvent: %w", err)
		}
		if err := windows.DuplicateHandle(windows.CurrentProcess(), ev, windows.CurrentProcess(), &wakeEv, 0, false, windows.DUPLICATE_SAME_ACCESS); err != nil {
			windows.CloseHandle(ev)
			return nil, fmt.Errorf("mp: Wait: DuplicateHandle: %w", err)
		}
		defer windows.CloseHandle(wakeEv)
		// ev is the reading goroutine's, which may outlive this call.
		go func() {
			var b [1]byte
			_, _ = wake.Read(b[:])
			windows.SetEvent(ev)
			windows.CloseHandle(ev)
		}()
	}
	ready := make([]bool, len(files))
	for sleep := time.Millisecond; ; sleep = min(2*sleep, 16*time.Millisecond) {
		any := false
		for i, f := range files {
			switch {
			case gone[i]:
				ready[i] = true
			case socks[i] != nil:
				_, ready[i] = socks[i].ready()
			default:
				h, err := rawHandle(f)
				if err != nil {
					return nil, fmt.Errorf("mp: Wait: %w", err)
				}
				avail, err := peek(h)
				ready[i] = err != nil || avail > 0
			}
			any = any || ready[i]
		}
		if any || timeout == 0 || signalled(wakeEv) {
			return ready, nil
		}
		ms := uint32(windows.INFINITE)
		if !deadline.IsZero() {
			left := time.Until(deadline)
			if left <= 0 {
				return ready, nil
			}
			ms = uint32((left + time.Millisecond - 1) / time.Millisecond)
		}
		if event {
			if err := waitSocks(socks, wakeEv, ms); err != nil {
				return nil, err
			}
			continue
		}
		ms = min(ms, uint32(sleep/time.Millisecond))
		if wakeEv != 0 {
			_, _ = windows.WaitForSingleObject(wakeEv, ms)
		} else {
			time.Sleep(time.Duration(ms) * time.Millisecond)
		}
	}
}

// waitSocks waits until one of socks may be readable, wake is set or ms
// milliseconds pass, with a zero-byte read on each Sock.
func waitSocks(socks []*Sock, wake windows.Handle, ms uint32) error {
	var handles []windows.Handle
	if wake != 0 {
		handles = append(handles, wake)
	}
	type started struct {
		s *Sock
		o *op
	}
	var ops []started
	defer func() {
		for _, st := range ops {
			_, _, _ = st.o.await(st.s.h, nil, 0) // cancel it, and wait until it ends
			st.o.close()
		}
	}()
	for _, s := range socks {
		if s == nil {
			continue // one closed meanwhile, which the caller reports
		}
		o, err := newOp()
		if err != nil {
			return fmt.Errorf("mp: Wait: %w", err)
		}
		_, _, pending := o.read(s.h, nil)
		if !pending {
			o.close()
			return nil // readable, or the end: the caller looks again
		}
		ops = append(ops, started{s, o})
		handles = append(handles, o.ev, s.ev.close, s.ev.recvShut)
	}
	if _, err := windows.WaitForMultipleObjects(handles, false, ms); err != nil {
		return fmt.Errorf("mp: Wait: WaitForMultipleObjects: %w", err)
	}
	return nil
}
