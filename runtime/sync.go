package mp

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"time"
)

// The lock word of Lock, RLock, Condition's lock, Value and Array: 0 when
// free, else the holder's process id, with lockWaiters set when some
// process may be sleeping on the word.
const (
	lockWaiters = 1 << 31
	lockPidMask = 1<<30 - 1
)

// mutexTry takes the lock word if it is free.
func mutexTry(w *uint32) bool { return atomic.CompareAndSwapUint32(w, 0, selfPid) }

// mutexLock takes the lock word, waiting as long as ctx and timeout (< 0:
// none) allow. While it waits it looks, once per wait slice, at whether the
// holder is still alive; if the holder died it takes the lock over and
// returns ErrLockAbandoned (the caller then holds the lock).
func mutexLock(ctx context.Context, w *uint32, op string, timeout time.Duration) error {
	if mutexTry(w) {
		return nil
	}
	wt := newWaiter(ctx, w, op, timeout)
	defer wt.done()
	for {
		v := atomic.LoadUint32(w)
		if v == 0 {
			// Taken with the waiters bit: others may still be asleep.
			if atomic.CompareAndSwapUint32(w, 0, selfPid|lockWaiters) {
				return nil
			}
			continue
		}
		if v&lockWaiters == 0 {
			if !atomic.CompareAndSwapUint32(w, v, v|lockWaiters) {
				continue
			}
			v |= lockWaiters
		}
		err := wt.sleep(w, v)
		if err == nil {
			continue
		}
		// A slice passed, or the wait is over: is the holder still there?
		if owner := v & lockPidMask; owner != selfPid && !pidAlive(int(owner)) {
			if atomic.CompareAndSwapUint32(w, v, selfPid|lockWaiters) {
				return ErrLockAbandoned
			}
			continue
		}
		if over(err) {
			// We may have swallowed an unlock's single wake-up: pass it on.
			futexWake(w, 1)
			return err
		}
	}
}

// mutexUnlock frees the lock word and wakes one sleeper if there may be
// one. It reports false when the word was not locked.
func mutexUnlock(w *uint32) bool {
	old := atomic.SwapUint32(w, 0)
	if old&lockWaiters != 0 {
		futexWake(w, 1)
	}
	return old != 0
}

// Lock is a mutual-exclusion lock shared by processes: Python's
// multiprocessing.Lock. It lives in a shared memory segment (a memfd), so
// passing it to a child process gives the child the same lock. The zero
// value is not usable: make one with NewLock. *Lock is a sync.Locker.
//
// The lock is held by a process, not by a goroutine: any goroutine of the
// holding process may unlock it, as with sync.Mutex, and Python allows a
// process to release a multiprocessing.Lock another one acquired.
//
// When a process dies while holding the lock, a process waiting for it
// notices within about 100 ms (it checks that the holder's process id still
// names a live, non-zombie process), takes the lock over and is told so:
// Acquire, AcquireTimeout and AcquireContext return ErrLockAbandoned with
// the lock held, and Lock takes it silently. A process that dies while the
// lock is free leaves nothing behind. The check cannot see a crashed holder whose process id
// was already reused by another process; on Linux ids are reused only after
// the pid space (pid_max, by default 4194304 on 64-bit systems) wraps.
// All processes sharing a lock must be in one PID namespace (containers
// sharing a memfd would compare ids from different namespaces).
//
// A goroutine blocked waiting (here and in the other primitives) sleeps in
// a futex system call and so occupies an OS thread meanwhile, as a
// goroutine blocked in a file read does; it wakes at least every 100 ms to
// look at its context and at the holder.
//
// On platforms other than Linux NewLock returns an error wrapping
// errors.ErrUnsupported.
type Lock struct {
	seg  *segment
	w    *uint32
	race raceSync
}

// NewLock returns a new, unlocked Lock.
func NewLock() (*Lock, error) {
	s, err := newKindSegment(kindLock, dataOffset)
	if err != nil {
		return nil, err
	}
	return newLockOn(s), nil
}

func newLockOn(s *segment) *Lock {
	l := &Lock{seg: s, w: word(s.mem, offWords)}
	return l
}

// Lock acquires the lock, waiting as long as it takes. If the previous
// holder died holding it, Lock takes it over without saying so; use Acquire
// to be told (ErrLockAbandoned). It panics if l is closed. Lock and Unlock
// make *Lock a sync.Locker; Acquire and Release are Python's names, with
// errors.
func (l *Lock) Lock() {
	if l.seg == nil {
		panic("mp: Lock of a Lock that is closed or was not made by NewLock")
	}
	_ = l.race.synced(mutexLock(context.Background(), l.w, "Lock.Lock", -1))
}

// Unlock releases the lock. It panics if the lock is not held, as
// sync.Mutex does; Release returns an error instead.
func (l *Lock) Unlock() {
	if err := l.Release(); err != nil {
		panic(err)
	}
}

// Acquire acquires the lock, waiting as long as it takes (Python's
// acquire()). It returns nil, or ErrLockAbandoned with the lock held.
func (l *Lock) Acquire() error { return l.acquire(context.Background(), -1) }

// AcquireTimeout acquires the lock, waiting at most d (Python's
// acquire(timeout=d)). It returns nil or ErrLockAbandoned with the lock
// held, or a *TimeoutError without it. With d <= 0 it does not wait,
// but still takes over a lock whose holder died.
func (l *Lock) AcquireTimeout(d time.Duration) error {
	return l.acquire(context.Background(), max(d, 0))
}

// AcquireContext acquires the lock, waiting until ctx is done. It returns
// nil or ErrLockAbandoned with the lock held, or without it a *TimeoutError
// once ctx's deadline passed, else ctx.Err().
func (l *Lock) AcquireContext(ctx context.Context) error { return l.acquire(ctx, -1) }

func (l *Lock) acquire(ctx context.Context, timeout time.Duration) error {
	if l.seg == nil {
		return ErrHandleClosed
	}
	return l.race.synced(mutexLock(ctx, l.w, "Lock.Acquire", timeout))
}

// TryAcquire acquires the lock if it is free and reports whether it did
// (Python's acquire(block=False)). It never takes over an abandoned lock.
func (l *Lock) TryAcquire() bool {
	if l.seg != nil && mutexTry(l.w) {
		l.race.sync()
		return true
	}
	return false
}

// Release releases the lock (Python's release()). It returns ErrNotLocked
// if the lock was not held.
func (l *Lock) Release() error {
	if l.seg == nil {
		return ErrHandleClosed
	}
	l.race.sync()
	if !mutexUnlock(l.w) {
		return ErrNotLocked
	}
	return nil
}

// Locked reports whether some process holds the lock.
func (l *Lock) Locked() bool { return l.seg != nil && atomic.LoadUint32(l.w) != 0 }

// owner returns the holder's process id, or 0.
func (l *Lock) owner() int { return int(atomic.LoadUint32(l.w) & lockPidMask) }

// Close unmaps the lock in this process. Other processes holding it are not
// affected; the lock itself is gone once every process closed it or ended.
// Close must not be called while other goroutines use l.
func (l *Lock) Close() error { return takeSegment(&l.seg) }

func (l *Lock) mpExport() ([]byte, []*os.File, error) { return exportSegment(l.seg, kindLock) }

func (l *Lock) mpImport(meta []byte, files []*os.File) error {
	s, err := importSimple(meta, files, kindLock)
	if err != nil {
		return err
	}
	*l = *newLockOn(s)
	return nil
}

// importSimple imports a one-segment primitive without extra metadata.
func importSimple(meta []byte, files []*os.File, kind uint32) (*segment, error) {
	size, _, err := readMeta(meta, kind)
	if err == nil {
		err = checkFiles(files, 1, kind)
	}
	var s *segment
	if err == nil {
		s, err = importSegment(files[0], kind, size)
	}
	if err != nil {
		closeFiles(files)
		return nil, err
	}
	return s, nil
}

// RLock is a reentrant lock shared by processes: Python's
// multiprocessing.RLock. The process that holds it may acquire it again;
// it is free once released as often as acquired.
//
// Ownership is per process, not per goroutine: Go has no goroutine
// identity, so two goroutines of the holding process both count as the
// holder and do not exclude each other. Use it to exclude other processes;
// guard goroutines of one process with a sync.Mutex as well. A holder that
// dies is handled as for Lock (ErrLockAbandoned; the new holder's count is
// 1). Off Linux, NewRLock returns an error wrapping errors.ErrUnsupported.
type RLock struct {
	seg   *segment
	w     *uint32 // owner word, as Lock's
	count *uint32 // recursion depth, changed only by the owner
	race  raceSync
}

// NewRLock returns a new, unlocked RLock.
func NewRLock() (*RLock, error) {
	s, err := newKindSegment(kindRLock, dataOffset)
	if err != nil {
		return nil, err
	}
	return newRLockOn(s), nil
}

func newRLockOn(s *segment) *RLock {
	l := &RLock{seg: s, w: word(s.mem, offWords), count: word(s.mem, offWords+4)}
	return l
}

func (l *RLock) acquire(ctx context.Context, op string, timeout time.Duration) error {
	if l.seg == nil {
		return ErrHandleClosed
	}
	if atomic.LoadUint32(l.w)&lockPidMask == selfPid {
		atomic.AddUint32(l.count, 1)
		l.race.sync()
		return nil
	}
	err := mutexLock(ctx, l.w, op, timeout)
	if err == nil || err == ErrLockAbandoned {
		atomic.StoreUint32(l.count, 1)
	}
	return l.race.synced(err)
}

// Lock acquires the lock, waiting as long as it takes; see Lock.Lock.
func (l *RLock) Lock() {
	if l.seg == nil {
		panic("mp: Lock of an RLock that is closed or was not made by NewRLock")
	}
	_ = l.acquire(context.Background(), "RLock.Lock", -1)
}

// Unlock releases the lock once. It panics if this process does not hold
// it; Release returns an error instead.
func (l *RLock) Unlock() {
	if err := l.Release(); err != nil {
		panic(err)
	}
}

// Acquire acquires the lock, waiting as long as it takes; see
// Lock.Acquire.
func (l *RLock) Acquire() error { return l.acquire(context.Background(), "RLock.Acquire", -1) }

// AcquireTimeout acquires the lock, waiting at most d; see
// Lock.AcquireTimeout.
func (l *RLock) AcquireTimeout(d time.Duration) error {
	return l.acquire(context.Background(), "RLock.Acquire", max(d, 0))
}

// AcquireContext acquires the lock, waiting until ctx is done; see
// Lock.AcquireContext.
func (l *RLock) AcquireContext(ctx context.Context) error {
	return l.acquire(ctx, "RLock.Acquire", -1)
}

// TryAcquire acquires the lock if it is free or held by this process, and
// reports whether it did. It never takes over an abandoned lock.
func (l *RLock) TryAcquire() bool {
	if l.seg == nil {
		return false
	}
	if atomic.LoadUint32(l.w)&lockPidMask == selfPid {
		atomic.AddUint32(l.count, 1)
	} else if mutexTry(l.w) {
		atomic.StoreUint32(l.count, 1)
	} else {
		return false
	}
	l.race.sync()
	return true
}

// Release releases the lock once (Python's release()). It returns
// ErrNotOwner if this process does not hold it.
func (l *RLock) Release() error {
	if l.seg == nil {
		return ErrHandleClosed
	}
	if atomic.LoadUint32(l.w)&lockPidMask != selfPid {
		return ErrNotOwner
	}
	l.race.sync()
	if atomic.AddUint32(l.count, ^uint32(0)) == 0 {
		mutexUnlock(l.w)
	}
	return nil
}

// Close unmaps the lock in this process; see Lock.Close.
func (l *RLock) Close() error { return takeSegment(&l.seg) }

func (l *RLock) mpExport() ([]byte, []*os.File, error) { return exportSegment(l.seg, kindRLock) }

func (l *RLock) mpImport(meta []byte, files []*os.File) error {
	s, err := importSimple(meta, files, kindRLock)
	if err != nil {
		return err
	}
	*l = *newRLockOn(s)
	return nil
}

// Semaphore is a counting semaphore shared by processes: Python's
// multiprocessing.Semaphore and, made by NewBoundedSemaphore,
// BoundedSemaphore. A unit held by a process that dies is not given back:
// a semaphore does not know who holds its units, so it cannot tell (use a
// Lock where a crash must be detected). Off Linux the constructors return
// an error wrapping errors.ErrUnsupported.
type Semaphore struct {
	seg     *segment
	count   *uint32 // free units
	waiters *uint32 // processes that may be sleeping on count
	bound   *uint32 // maximum count for a bounded semaphore, else 0
	race    raceSync
}

// NewSemaphore returns a semaphore with n free units.
func NewSemaphore(n int) (*Semaphore, error) { return newSemaphore(n, false) }

// NewBoundedSemaphore returns a semaphore with n free units whose Release
// fails with ErrTooManyReleases if it would make more than n free.
func NewBoundedSemaphore(n int) (*Semaphore, error) { return newSemaphore(n, true) }

func newSemaphore(n int, bounded bool) (*Semaphore, error) {
	if n < 0 || n > 1<<31-1 {
		return nil, fmt.Errorf("mp: semaphore value %d out of range [0, 2^31-1]", n)
	}
	s, err := newKindSegment(kindSemaphore, dataOffset)
	if err != nil {
		return nil, err
	}
	sem := newSemaphoreOn(s)
	atomic.StoreUint32(sem.count, uint32(n))
	if bounded {
		atomic.StoreUint32(sem.bound, uint32(n))
	}
	return sem, nil
}

func newSemaphoreOn(s *segment) *Semaphore {
	sem := &Semaphore{seg: s, count: word(s.mem, offWords), waiters: word(s.mem, offWords+4), bound: word(s.mem, offWords+8)}
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
	if s.seg == nil {
		return ErrHandleClosed
	}
	if s.try() {
		return nil
	}
	wt := newWaiter(ctx, s.count, op, timeout)
	defer wt.done()
	for {
		atomic.AddUint32(s.waiters, 1)
		if s.try() {
			atomic.AddUint32(s.waiters, ^uint32(0))
			return nil
		}
		err := wt.sleep(s.count, 0)
		atomic.AddUint32(s.waiters, ^uint32(0))
		if over(err) {
			if atomic.LoadUint32(s.count) > 0 {
				futexWake(s.count, 1) // pass on a wake-up we may have taken
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
	if s.seg != nil && s.try() {
		s.race.sync()
		return true
	}
	return false
}

// Release gives back one unit, waking a waiter. A bounded semaphore
// returns ErrTooManyReleases instead of going above its initial value.
func (s *Semaphore) Release() error {
	if s.seg == nil {
		return ErrHandleClosed
	}
	s.race.sync()
	bound := atomic.LoadUint32(s.bound)
	for {
		v := atomic.LoadUint32(s.count)
		if (bound != 0 && v >= bound) || v == 1<<31-1 {
			return ErrTooManyReleases
		}
		if atomic.CompareAndSwapUint32(s.count, v, v+1) {
			break
		}
	}
	if atomic.LoadUint32(s.waiters) > 0 {
		futexWake(s.count, 1)
	}
	return nil
}

// Value returns the number of free units (Python's get_value()).
func (s *Semaphore) Value() int {
	if s.seg == nil {
		return 0
	}
	return int(atomic.LoadUint32(s.count))
}

// Close unmaps the semaphore in this process.
func (s *Semaphore) Close() error { return takeSegment(&s.seg) }

func (s *Semaphore) mpExport() ([]byte, []*os.File, error) {
	return exportSegment(s.seg, kindSemaphore)
}

func (s *Semaphore) mpImport(meta []byte, files []*os.File) error {
	seg, err := importSimple(meta, files, kindSemaphore)
	if err != nil {
		return err
	}
	*s = *newSemaphoreOn(seg)
	return nil
}

// Event is a flag shared by processes that waiters can block on: Python's
// multiprocessing.Event. Off Linux NewEvent returns an error wrapping
// errors.ErrUnsupported.
type Event struct {
	seg  *segment
	w    *uint32 // generation << 1 | set bit
	race raceSync
}

// NewEvent returns a new, clear Event.
func NewEvent() (*Event, error) {
	s, err := newKindSegment(kindEvent, dataOffset)
	if err != nil {
		return nil, err
	}
	return newEventOn(s), nil
}

func newEventOn(s *segment) *Event {
	e := &Event{seg: s, w: word(s.mem, offWords)}
	return e
}

// Set sets the flag and wakes every waiter. A waiter that was waiting when
// Set was called returns even if the flag is cleared again at once.
func (e *Event) Set() {
	if e.seg == nil {
		return
	}
	e.race.sync()
	for {
		v := atomic.LoadUint32(e.w)
		if v&1 != 0 {
			return
		}
		if atomic.CompareAndSwapUint32(e.w, v, (v+2)|1) {
			futexWake(e.w, 1<<30)
			return
		}
	}
}

// Clear clears the flag.
func (e *Event) Clear() {
	if e.seg == nil {
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
	if e.seg != nil && atomic.LoadUint32(e.w)&1 != 0 {
		e.race.sync()
		return true
	}
	return false
}

func (e *Event) wait(ctx context.Context, op string, timeout time.Duration) error {
	return e.race.synced(e.wait1(ctx, op, timeout))
}

func (e *Event) wait1(ctx context.Context, op string, timeout time.Duration) error {
	if e.seg == nil {
		return ErrHandleClosed
	}
	v := atomic.LoadUint32(e.w)
	if v&1 != 0 {
		return nil
	}
	wt := newWaiter(ctx, e.w, op, timeout)
	defer wt.done()
	for {
		if err := wt.sleep(e.w, v); over(err) {
			return err
		}
		if atomic.LoadUint32(e.w) != v {
			return nil // set, even if cleared since
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

// Close unmaps the event in this process.
func (e *Event) Close() error { return takeSegment(&e.seg) }

func (e *Event) mpExport() ([]byte, []*os.File, error) { return exportSegment(e.seg, kindEvent) }

func (e *Event) mpImport(meta []byte, files []*os.File) error {
	s, err := importSimple(meta, files, kindEvent)
	if err != nil {
		return err
	}
	*e = *newEventOn(s)
	return nil
}
