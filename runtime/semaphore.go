package mp

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/mpgen/mpgen/runtime/internal/shm"
)

// Semaphore is a counting semaphore shared by processes: Python's
// multiprocessing.Semaphore and, made by NewBoundedSemaphore,
// BoundedSemaphore. A unit held by a process that dies is not given back:
// a semaphore does not know who holds its units, so it cannot tell (use a
// Lock where a crash must be detected). Off Unix and Windows the
// constructors return an error wrapping errors.ErrUnsupported.
type Semaphore struct {
	closer
	count   *uint32 // free units
	waiters *uint32 // processes that may be sleeping on count
	bound   *uint32 // 1 + the maximum count for a bounded semaphore, else 0
	race    raceSync
}

// NewSemaphore returns a semaphore with n free units.
func NewSemaphore(n int) (*Semaphore, error) { return newSemaphore(n, false) }

// NewBoundedSemaphore returns a semaphore with n free units whose Release
// fails with ErrTooManyReleases if it would make more than n free (with n
// = 0, every Release fails, as Python's BoundedSemaphore(0) does).
func NewBoundedSemaphore(n int) (*Semaphore, error) { return newSemaphore(n, true) }

func newSemaphore(n int, bounded bool) (*Semaphore, error) {
	if n < 0 || n > 1<<31-1 {
		return nil, fmt.Errorf("mp: semaphore value %d out of range [0, 2^31-1]", n)
	}
	s, err := shm.New(shm.KindSemaphore, shm.DataOffset)
	if err != nil {
		return nil, err
	}
	sem := newSemaphoreOn(s)
	atomic.StoreUint32(sem.count, uint32(n))
	if bounded {
		atomic.StoreUint32(sem.bound, uint32(n)+1)
	}
	return sem, nil
}

func newSemaphoreOn(s *shm.Segment) *Semaphore {
	sem := &Semaphore{count: s.Word(shm.OffWords), waiters: s.Word(shm.OffWords + 4), bound: s.Word(shm.OffWords + 8)}
	sem.open(s)
	return sem
}

func (s *Semaphore) try() bool {
	for {
		v := atomic.LoadUint32(s.count)
		if v == 0 {
			return false
		}
		if atomic.CompareAndSwapUint32(s.count, v, v-1) {
			return true
		}
	}
}

func (s *Semaphore) acquire(ctx context.Context, op string, timeout time.Duration) error {
	return s.race.synced(s.acquire1(ctx, op, timeout))
}

func (s *Semaphore) acquire1(ctx context.Context, op string, timeout time.Duration) error {
	if s.closed() {
		return ErrHandleClosed
	}
	if s.try() {
		return nil
	}
	if !s.begin() {
		return ErrHandleClosed
	}
	defer s.end()
	wt := newWaiter(ctx, s.count, op, timeout)
	defer wt.Done()
	for {
		atomic.AddUint32(s.waiters, 1)
		if s.try() {
			atomic.AddUint32(s.waiters, ^uint32(0))
			return nil
		}
		err := wt.Sleep(s.count, 0)
		atomic.AddUint32(s.waiters, ^uint32(0))
		if s.closed() {
			err = ErrHandleClosed
		}
		if shm.Over(err) {
			if atomic.LoadUint32(s.count) > 0 {
				shm.Wake(s.count, 1) // pass on a wake-up we may have taken
			}
			return err
		}
	}
}

// Acquire takes one unit, waiting as long as it takes (Python's
// acquire()).
func (s *Semaphore) Acquire() error {
	return s.acquire(context.Background(), "Semaphore.Acquire", -1)
}

// AcquireTimeout takes one unit, waiting at most d; it returns a
// *TimeoutError when none came free in time.
func (s *Semaphore) AcquireTimeout(d time.Duration) error {
	return s.acquire(context.Background(), "Semaphore.Acquire", max(d, 0))
}

// AcquireContext takes one unit, waiting until ctx is done. It returns
// nil, or without a unit a *TimeoutError once ctx's deadline passed, else
// ctx.Err().
func (s *Semaphore) AcquireContext(ctx context.Context) error {
	return s.acquire(ctx, "Semaphore.Acquire", -1)
}

// TryAcquire takes a unit if one is free and reports whether it did.
func (s *Semaphore) TryAcquire() bool {
	if !s.closed() && s.try() {
		s.race.Sync()
		return true
	}
	return false
}

// errSemaphoreMax is Release's error on a semaphore whose count is at the
// largest it can hold.
// It matches ErrTooManyReleases (errors.Is).
var errSemaphoreMax error = semaphoreMaxError{}

type semaphoreMaxError struct{}

func (semaphoreMaxError) Error() string {
	return "mp: semaphore released with its count at the maximum, 2^31-1"
}

func (semaphoreMaxError) Is(target error) bool { return target == ErrTooManyReleases }

// Release gives back one unit, waking a waiter. A bounded semaphore
// returns ErrTooManyReleases instead of going above its initial value; any
// semaphore returns an error matching it instead of going above 2^31-1.
func (s *Semaphore) Release() error {
	if s.closed() {
		return ErrHandleClosed
	}
	s.race.Sync()
	bound := atomic.LoadUint32(s.bound)
	for {
		v := atomic.LoadUint32(s.count)
		if bound != 0 && v >= bound-1 {
			return ErrTooManyReleases
		}
		if v >= 1<<31-1 {
			return errSemaphoreMax
		}
		if atomic.CompareAndSwapUint32(s.count, v, v+1) {
			break
		}
	}
	if atomic.LoadUint32(s.waiters) > 0 {
		shm.Wake(s.count, 1)
	}
	return nil
}

// Value returns the number of free units (Python's get_value()).
func (s *Semaphore) Value() int {
	if s.closed() {
		return 0
	}
	return int(atomic.LoadUint32(s.count))
}

// Close unmaps the semaphore in this process. A goroutine of this process
// blocked in Acquire, AcquireTimeout or AcquireContext wakes at once and
// returns ErrHandleClosed without a unit; the semaphore is unmapped once
// they have left. TryAcquire, Release and Value must not be called
// concurrently with Close: they may touch the memory Close unmaps.
func (s *Semaphore) Close() error { return s.close(func() { shm.Wake(s.count, 1<<30) }) }

func (s *Semaphore) mpExport() ([]byte, []*os.File, error) {
	return exportSegment(&s.closer, shm.KindSemaphore)
}

func (s *Semaphore) mpImport(meta []byte, files []*os.File) error {
	seg, err := importSimple(meta, files, shm.KindSemaphore)
	if err != nil {
		return err
	}
	*s = *newSemaphoreOn(seg)
	return nil
}
