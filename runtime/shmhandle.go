package mp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"time"

	"github.com/mpgen/mpgen/runtime/internal/registry"
	"github.com/mpgen/mpgen/runtime/internal/shm"
)

// Errors of the cross-process primitives (Lock, Value, Array, ...).
var (
	// ErrLockAbandoned: the lock's holder died while holding it. The caller
	// now holds the lock, as after a successful acquire, but the state the
	// lock protects may be half-updated: repair or check it, then unlock.
	// It is pthread's EOWNERDEAD and Windows' WAIT_ABANDONED.
	ErrLockAbandoned = errors.New("mp: lock abandoned: its holder died while holding it; the caller now holds the lock, but the state it protects may be inconsistent")
	// ErrNotOwner: an RLock was released by a process that does not hold it.
	ErrNotOwner = errors.New("mp: lock released by a process that does not hold it")
	// ErrNotLocked: a lock was released while not held (Python raises
	// RuntimeError or ValueError).
	ErrNotLocked = errors.New("mp: release of an unlocked lock")
	// ErrTooManyReleases: a BoundedSemaphore was released more often than
	// acquired (Python's ValueError "semaphore or lock released too many
	// times").
	ErrTooManyReleases = errors.New("mp: bounded semaphore released too many times")
	// ErrBrokenBarrier: the barrier was aborted, reset, or a waiter gave up
	// (timeout or cancelled context) while others waited (Python's
	// threading.BrokenBarrierError).
	ErrBrokenBarrier = errors.New("mp: barrier is broken")
	// ErrHandleClosed: the shared object was closed in this process.
	ErrHandleClosed = errors.New("mp: shared object is closed")
)

// The errors of the shared primitives travel back from a child's target:
// errors.Is and errors.As work on them in the parent.
func init() {
	const pkg = "github.com/mpgen/mpgen/runtime."
	for name, err := range map[string]error{
		"ErrLockAbandoned": ErrLockAbandoned, "ErrNotOwner": ErrNotOwner, "ErrNotLocked": ErrNotLocked,
		"ErrTooManyReleases": ErrTooManyReleases, "ErrBrokenBarrier": ErrBrokenBarrier, "ErrHandleClosed": ErrHandleClosed,
	} {
		registry.RegisterError(pkg+name, err)
	}
	registry.RegisterErrorType(pkg+"WaitTimeoutError", reflect.TypeFor[*WaitTimeoutError]())
}

// WaitTimeoutError reports a wait on a cross-process primitive (a lock,
// semaphore, event, condition or barrier) that ran out of time. It matches
// context.DeadlineExceeded and os.ErrDeadlineExceeded with errors.Is.
type WaitTimeoutError struct {
	Op    string        // what was waited for, e.g. "Lock.Acquire"
	After time.Duration // the timeout
}

func (e *WaitTimeoutError) Error() string {
	return fmt.Sprintf("mp: %s timed out after %v", e.Op, e.After)
}

// Timeout reports true, as net.Error does for a timeout.
func (e *WaitTimeoutError) Timeout() bool { return true }

// Is makes errors.Is(err, context.DeadlineExceeded) and errors.Is(err,
// os.ErrDeadlineExceeded) true.
func (e *WaitTimeoutError) Is(target error) bool {
	return target == context.DeadlineExceeded || target == os.ErrDeadlineExceeded
}

// newWaiter starts a shm.Waiter on w that reports a timeout as a
// *WaitTimeoutError.
func newWaiter(ctx context.Context, w *uint32, op string, timeout time.Duration) *shm.Waiter {
	return shm.NewWaiter(ctx, w, op, timeout, waitTimedOut)
}

func waitTimedOut(op string, after time.Duration) error {
	return &WaitTimeoutError{Op: op, After: after}
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
