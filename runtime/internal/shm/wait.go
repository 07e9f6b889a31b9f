package shm

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/mpgen/mpgen/runtime/internal/israce"
)

// ErrTimeout is what Wait returns when its timeout passed.
var ErrTimeout = errors.New("mp: futex wait timed out")

// WaitSlice bounds each futex sleep of a Waiter: a waiter wakes at least
// this often to look at its context and, for locks, at whether the holder
// is still alive.
const WaitSlice = 100 * time.Millisecond

// ErrSlice is returned by Waiter.Sleep when one slice passed without news.
var ErrSlice = errors.New("wait slice passed")

// Waiter is one blocking wait on a futex word, bounded by a context and an
// optional timeout. A cancelled context wakes every sleeper on the word
// (they re-check and sleep again), so the waiter notices at once.
type Waiter struct {
	ctx      context.Context
	deadline time.Time // zero: none
	stop     func() bool
	over     func(ctxErr error) error
}

// NewWaiter starts a wait on w. timeout < 0 means none; timeout == 0 means
// do not sleep at all (the caller gets one look). When the wait is over,
// Sleep returns over(nil) once the timeout passed, or over(ctx.Err()) once
// ctx is done: over makes the caller's error. Call Done when finished.
func NewWaiter(ctx context.Context, w *uint32, timeout time.Duration, over func(ctxErr error) error) *Waiter {
	wt := &Waiter{ctx: ctx, over: over}
	if timeout >= 0 {
		wt.deadline = time.Now().Add(timeout)
	}
	if ctx.Done() != nil {
		wt.stop = context.AfterFunc(ctx, func() { Wake(w, 1<<30) })
	}
	return wt
}

// Done ends the wait: the context no longer wakes the word.
func (wt *Waiter) Done() {
	if wt.stop != nil {
		wt.stop()
	}
}

// Sleep sleeps while *w == val, for one slice at most. It returns nil when
// woken (or spuriously), ErrSlice when the slice passed, or over's error
// (see NewWaiter) when the wait is over.
func (wt *Waiter) Sleep(w *uint32, val uint32) error {
	if err := wt.ctx.Err(); err != nil {
		return wt.over(err)
	}
	d := WaitSlice
	if !wt.deadline.IsZero() {
		rem := time.Until(wt.deadline)
		if rem <= 0 {
			return wt.over(nil)
		}
		d = min(d, rem)
	}
	err := Wait(w, val, d)
	if err == ErrTimeout {
		return ErrSlice
	}
	return err
}

// Over reports whether err from Sleep ends the wait.
func Over(err error) bool { return err != nil && err != ErrSlice }

// RaceSync tells the race detector about the ordering a primitive gives
// between goroutines of this process. The detector does not see atomic
// operations on shared mappings, so without it every access guarded by a
// cross-process lock would be reported. It costs nothing without -race.
type RaceSync struct{ a atomic.Uint32 }

// Sync is called after acquiring and before releasing.
func (r *RaceSync) Sync() {
	if israce.Enabled {
		r.a.Add(1)
	}
}
