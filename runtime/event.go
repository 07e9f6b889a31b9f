package mp

import (
	"context"
	"os"
	"sync/atomic"
	"time"

	"github.com/mpgen/mpgen/runtime/internal/shm"
)

// Event is a flag shared by processes that waiters can block on: Python's
// multiprocessing.Event. Off Unix and Windows NewEvent returns an error
// wrapping errors.ErrUnsupported.
type Event struct {
	closer
	w    *uint32 // generation << 1 | set bit
	race raceSync
}

// NewEvent returns a new, clear Event.
func NewEvent() (*Event, error) {
	s, err := shm.New(shm.KindEvent, shm.DataOffset)
	if err != nil {
		return nil, err
	}
	return newEventOn(s), nil
}

func newEventOn(s *shm.Segment) *Event {
	e := &Event{w: s.Word(shm.OffWords)}
	e.open(s)
	return e
}

// Set sets the flag and wakes every waiter. A waiter that was waiting when
// Set was called returns even if the flag is cleared again at once.
func (e *Event) Set() {
	if e.closed() {
		return
	}
	e.race.Sync()
	for {
		v := atomic.LoadUint32(e.w)
		if v&1 != 0 {
			return
		}
		if atomic.CompareAndSwapUint32(e.w, v, (v+2)|1) {
			shm.Wake(e.w, 1<<30)
			return
		}
	}
}

// Clear clears the flag.
func (e *Event) Clear() {
	if e.closed() {
		return
	}
	for {
		v := atomic.LoadUint32(e.w)
		if v&1 == 0 || atomic.CompareAndSwapUint32(e.w, v, v&^1) {
			return
		}
	}
}

// IsSet reports whether the flag is set.
func (e *Event) IsSet() bool {
	if !e.closed() && atomic.LoadUint32(e.w)&1 != 0 {
		e.race.Sync()
		return true
	}
	return false
}

func (e *Event) wait(ctx context.Context, op string, timeout time.Duration) error {
	return e.race.synced(e.wait1(ctx, op, timeout))
}

func (e *Event) wait1(ctx context.Context, op string, timeout time.Duration) error {
	if e.closed() {
		return ErrHandleClosed
	}
	v := atomic.LoadUint32(e.w)
	if v&1 != 0 {
		return nil
	}
	if !e.begin() {
		return ErrHandleClosed
	}
	defer e.end()
	wt := newWaiter(ctx, e.w, op, timeout)
	defer wt.Done()
	for {
		err := wt.Sleep(e.w, v)
		if atomic.LoadUint32(e.w) != v {
			return nil // set, even if cleared since
		}
		if e.closed() {
			return ErrHandleClosed
		}
		if shm.Over(err) {
			return err
		}
	}
}

// Wait blocks until the flag is set (Python's wait()).
func (e *Event) Wait() error { return e.wait(context.Background(), "Event.Wait", -1) }

// WaitTimeout blocks until the flag is set or d passed (Python's
// wait(timeout=d)); it returns a *TimeoutError in the second case.
func (e *Event) WaitTimeout(d time.Duration) error {
	return e.wait(context.Background(), "Event.Wait", max(d, 0))
}

// WaitContext blocks until the flag is set or ctx is done. It returns nil
// once set, else a *TimeoutError once ctx's deadline passed, or ctx.Err().
func (e *Event) WaitContext(ctx context.Context) error { return e.wait(ctx, "Event.Wait", -1) }

// Close unmaps the event in this process. A goroutine of this process
// blocked in Wait, WaitTimeout or WaitContext wakes at once and returns
// ErrHandleClosed; the event is unmapped once they have left. Set, Clear
// and IsSet must not be called concurrently with Close: they may touch the
// memory Close unmaps.
func (e *Event) Close() error { return e.close(func() { shm.Wake(e.w, 1<<30) }) }

func (e *Event) mpExport() ([]byte, []*os.File, error) {
	return exportSegment(&e.closer, shm.KindEvent)
}

func (e *Event) mpImport(meta []byte, files []*os.File) error {
	s, err := importSimple(meta, files, shm.KindEvent)
	if err != nil {
		return err
	}
	*e = *newEventOn(s)
	return nil
}
