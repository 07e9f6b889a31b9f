package mp

import (
	"context"
	"os"
	"time"

	"github.com/mpgen/mpgen/runtime/internal/shm"
)

// newWaiter starts a shm.Waiter on w for op: a timeout that passes is a
// *TimeoutError, and so is a context whose deadline passes (a cancelled
// context gives its error).
func newWaiter(ctx context.Context, w *uint32, op string, timeout time.Duration) *shm.Waiter {
	start := startOf(ctx)
	return shm.NewWaiter(ctx, w, timeout, func(ctxErr error) error {
		if ctxErr == nil {
			return &TimeoutError{Op: op, After: timeout}
		}
		return asTimeout(ctxErr, op, start, nil)
	})
}

// raceSync is shm.RaceSync with synced, which knows ErrLockAbandoned.
type raceSync struct{ shm.RaceSync }

// synced calls Sync when err is nil or ErrLockAbandoned and returns err.
func (r *raceSync) synced(err error) error {
	if err == nil || err == ErrLockAbandoned {
		r.Sync()
	}
	return err
}

// takeSegment detaches the segment *p from its handle and closes it: the
// Close of a handle made of one segment.
func takeSegment(p **shm.Segment) error {
	s := *p
	*p = nil
	return s.Close()
}

// exportSegment describes a handle made of one segment of the given kind
// for another process.
func exportSegment(s *shm.Segment, kind shm.Kind) ([]byte, []*os.File, error) {
	if s == nil {
		return nil, nil, ErrHandleClosed
	}
	return shm.NewMeta(kind, len(s.Mem())), []*os.File{s.File()}, nil
}
