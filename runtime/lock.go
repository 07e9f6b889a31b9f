package mp

import (
	"context"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/mpgen/mpgen/runtime/internal/shm"
)

// lockWord is the shared state of a Lock, an RLock, a Condition's lock and
// the lock of a Value or Array: 16 bytes in the segment.
//
// The holder is recorded as its shm.ProcID (pid and start time), in the
// same atomic compare-and-swap that takes the lock, so a holder that dies
// leaves either no trace or its whole identity, and a process that later
// reuses its pid is not taken for it. Sleepers wait on seq, a separate
// 32-bit futex word (futexes are 32-bit), which an unlock bumps before it
// wakes one when the waiters flag says some process may be asleep.
type lockWord struct {
	owner uint64 // 0 when free, else the holder's shm.ProcID | lockWaiters
	seq   uint32 // the futex word
	_     uint32
}

// lockWaiters, in lockWord.owner, is set when some process may be
// sleeping on seq (a ProcID never has bit 63 set).
const lockWaiters = 1 << 63

// lockAt returns the lock word at off in s (off % 8 == 0, 16 bytes).
func lockAt(s *shm.Segment, off int) *lockWord {
	_ = s.Mem()[off+15]
	return (*lockWord)(unsafe.Pointer(s.Word64(off)))
}

// holder returns the identity of the lock's holder, 0 when free.
func (w *lockWord) holder() shm.ProcID {
	return shm.ProcID(atomic.LoadUint64(&w.owner) &^ lockWaiters)
}

// mine reports whether this process holds the lock.
func (w *lockWord) mine() bool { return w.holder() == shm.Self() }

// mutexTry takes the lock word if it is free.
func mutexTry(w *lockWord) bool {
	return atomic.CompareAndSwapUint64(&w.owner, 0, uint64(shm.Self()))
}

// mutexLock takes the lock word, waiting as long as ctx and timeout (< 0:
// none) allow. While it waits it looks, once per wait slice, at whether the
// holder is still alive; if the holder died it takes the lock over and
// returns ErrLockAbandoned (the caller then holds the lock). When c is not
// nil, it returns ErrHandleClosed as soon as it wakes to find c closed (the
// caller has entered c).
func mutexLock(ctx context.Context, w *lockWord, c *closer, op string, timeout time.Duration) error {
	self := uint64(shm.Self())
	if atomic.CompareAndSwapUint64(&w.owner, 0, self) { // mutexTry, without a call
		return nil
	}
	wt := newWaiter(ctx, &w.seq, op, timeout)
	defer wt.Done()
	for {
		// seq first: an unlock after this load changes it, so the sleep
		// below cannot miss that unlock's wake-up.
		seq := atomic.LoadUint32(&w.seq)
		v := atomic.LoadUint64(&w.owner)
		if v == 0 {
			// Taken with the waiters flag: others may still be asleep.
			if atomic.CompareAndSwapUint64(&w.owner, 0, self|lockWaiters) {
				return nil
			}
			continue
		}
		if v&lockWaiters == 0 {
			if !atomic.CompareAndSwapUint64(&w.owner, v, v|lockWaiters) {
				continue
			}
			v |= lockWaiters
		}
		err := wt.Sleep(&w.seq, seq)
		if c != nil && c.closed() {
			shm.Wake(&w.seq, 1) // pass on a wake-up we may have taken
			return ErrHandleClosed
		}
		if err == nil {
			continue
		}
		// A slice passed, or the wait is over: is the holder still there?
		if owner := shm.ProcID(v &^ lockWaiters); uint64(owner) != self && !owner.Alive() {
			if atomic.CompareAndSwapUint64(&w.owner, v, self|lockWaiters) {
				return ErrLockAbandoned
			}
			continue
		}
		if shm.Over(err) {
			// We may have swallowed an unlock's single wake-up: pass it on.
			shm.Wake(&w.seq, 1)
			return err
		}
	}
}

// mutexUnlock frees the lock word and wakes one sleeper if there may be
// one. It reports false when the word was not locked.
func mutexUnlock(w *lockWord) bool {
	old := atomic.SwapUint64(&w.owner, 0)
	if old&lockWaiters != 0 {
		mutexWake(w)
	}
	return old != 0
}

// mutexWake wakes one sleeper on a lock word just freed (out of line, so
// that mutexUnlock inlines).
//
//go:noinline
func mutexWake(w *lockWord) {
	atomic.AddUint32(&w.seq, 1)
	shm.Wake(&w.seq, 1)
}

// Lock is a mutual-exclusion lock shared by processes: Python's
// multiprocessing.Lock. It lives in a shared memory segment (a memfd on
// Linux, an unlinked file on macOS and the BSDs, an anonymous file mapping
// on Windows), so passing it to a child process gives the child the same
// lock. The zero
// value is not usable: make one with NewLock. *Lock is a sync.Locker.
//
// The lock is held by a process, not by a goroutine: any goroutine of the
// holding process may unlock it, as with sync.Mutex, and Python allows a
// process to release a multiprocessing.Lock another one acquired.
//
// When a process dies while holding the lock, a process waiting for it
// notices within about 100 ms, takes the lock over and is told so:
// Acquire, AcquireTimeout and AcquireContext return ErrLockAbandoned with the lock held, and
// Lock takes it silently. The lock records its holder by process id and
// start time, taken in one atomic step with the lock, so a waiter checks
// that a live, non-zombie process with that id and that start time still
// exists: a dead holder whose id was reused by another process is seen as
// dead too. A process that dies while the lock is free leaves nothing
// behind. All processes sharing a lock must be in one PID namespace
// (containers sharing a memfd would compare ids from different namespaces).
//
// A goroutine blocked waiting (here and in the other primitives) sleeps in
// a futex system call (on Windows, in a wait on a named event) and so occupies an OS thread meanwhile, as a
// goroutine blocked in a file read does; it wakes at least every 100 ms to
// look at its context and at the holder. macOS and the BSDs have no futex
// shared by processes: there a waiter looks at the lock for 20 µs, then
// sleeps between looks, from 20 µs up to 1 ms apart (holding no OS thread
// once the sleeps reach 1 ms), so it sees a release by another process up
// to about 1 ms late and wakes about 1000 times a second while it waits; a
// release by a goroutine of its own process wakes it at once.
//
// On systems other than Unix and Windows NewLock returns an error wrapping
// errors.ErrUnsupported.
type Lock struct {
	closer
	w    *lockWord
	race raceSync
}

// NewLock returns a new, unlocked Lock.
func NewLock() (*Lock, error) {
	s, err := shm.New(shm.KindLock, shm.DataOffset)
	if err != nil {
		return nil, err
	}
	return newLockOn(s), nil
}

func newLockOn(s *shm.Segment) *Lock {
	l := &Lock{w: lockAt(s, shm.OffWords)}
	l.open(s)
	return l
}

// Lock acquires the lock, waiting as long as it takes. If the previous
// holder died holding it, Lock takes it over without saying so; use Acquire
// to be told (ErrLockAbandoned). It panics if l is closed, or is closed
// while Lock waits (it cannot return without the lock). Lock and Unlock
// make *Lock a sync.Locker; Acquire and Release are Python's names, with
// errors.
func (l *Lock) Lock() {
	if l.closed() {
		panic("mp: Lock of a Lock that is closed or was not made by NewLock")
	}
	if l.race.synced(l.mutexLock(context.Background(), l.w, "Lock.Lock", -1)) == ErrHandleClosed {
		panic("mp: Lock of a Lock closed while Lock waited")
	}
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
	if l.closed() {
		return ErrHandleClosed
	}
	return l.race.synced(l.mutexLock(ctx, l.w, "Lock.Acquire", timeout))
}

// TryAcquire acquires the lock if it is free and reports whether it did
// (Python's acquire(block=False)). It never takes over an abandoned lock.
func (l *Lock) TryAcquire() bool {
	if !l.closed() && mutexTry(l.w) {
		l.race.Sync()
		return true
	}
	return false
}

// Release releases the lock (Python's release()). It returns ErrNotLocked
// if the lock was not held.
func (l *Lock) Release() error {
	if l.closed() {
		return ErrHandleClosed
	}
	l.race.Sync()
	if !mutexUnlock(l.w) {
		return ErrNotLocked
	}
	return nil
}

// Locked reports whether some process holds the lock.
func (l *Lock) Locked() bool { return !l.closed() && atomic.LoadUint64(&l.w.owner) != 0 }

// owner returns the holder's process id, or 0.
func (l *Lock) owner() int { return l.w.holder().Pid() }

// Close unmaps the lock in this process. Other processes holding it are not
// affected; the lock itself is gone once every process closed it or ended.
// A goroutine of this process blocked in Acquire, AcquireTimeout or
// AcquireContext wakes at once and returns ErrHandleClosed without the lock
// (one blocked in Lock panics); the lock is unmapped once they have left.
// The non-blocking calls (Lock and Acquire when the lock is free, Unlock,
// Release, TryAcquire, Locked) must not be called concurrently with Close:
// they may touch the memory Close unmaps.
func (l *Lock) Close() error { return l.close(func() { wakeAll(l.w) }) }

// wakeAll wakes every sleeper on a lock word, for Close.
func wakeAll(w *lockWord) {
	atomic.AddUint32(&w.seq, 1)
	shm.Wake(&w.seq, 1<<30)
}

func (l *Lock) mpExport() ([]byte, []*os.File, error) { return exportSegment(&l.closer, shm.KindLock) }

func (l *Lock) mpImport(meta []byte, files []*os.File) error {
	s, err := importSimple(meta, files, shm.KindLock)
	if err != nil {
		return err
	}
	*l = *newLockOn(s)
	return nil
}

// importSimple imports a one-segment primitive without extra metadata.
func importSimple(meta []byte, files []*os.File, kind shm.Kind) (*shm.Segment, error) {
	size, _, err := shm.ReadMeta(meta, kind)
	if err == nil {
		err = shm.CheckFiles(files, 1, kind)
	}
	var s *shm.Segment
	if err == nil {
		s, err = shm.Import(files[0], kind, size)
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
// 1). Off Unix and Windows, NewRLock returns an error wrapping
// errors.ErrUnsupported.
type RLock struct {
	closer
	w     *lockWord // as Lock's
	count *uint32   // recursion depth, changed only by the owner
	race  raceSync
}

// NewRLock returns a new, unlocked RLock.
func NewRLock() (*RLock, error) {
	s, err := shm.New(shm.KindRLock, shm.DataOffset)
	if err != nil {
		return nil, err
	}
	return newRLockOn(s), nil
}

func newRLockOn(s *shm.Segment) *RLock {
	l := &RLock{w: lockAt(s, shm.OffWords), count: s.Word(shm.OffWords + 16)}
	l.open(s)
	return l
}

func (l *RLock) acquire(ctx context.Context, op string, timeout time.Duration) error {
	if l.closed() {
		return ErrHandleClosed
	}
	if l.w.mine() {
		atomic.AddUint32(l.count, 1)
		l.race.Sync()
		return nil
	}
	err := l.mutexLock(ctx, l.w, op, timeout)
	if err == nil || err == ErrLockAbandoned {
		atomic.StoreUint32(l.count, 1)
	}
	return l.race.synced(err)
}

// Lock acquires the lock, waiting as long as it takes; see Lock.Lock.
func (l *RLock) Lock() {
	if l.closed() {
		panic("mp: Lock of an RLock that is closed or was not made by NewRLock")
	}
	if l.acquire(context.Background(), "RLock.Lock", -1) == ErrHandleClosed {
		panic("mp: Lock of an RLock closed while Lock waited")
	}
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
	if l.closed() {
		return false
	}
	if l.w.mine() {
		atomic.AddUint32(l.count, 1)
	} else if mutexTry(l.w) {
		atomic.StoreUint32(l.count, 1)
	} else {
		return false
	}
	l.race.Sync()
	return true
}

// Release releases the lock once (Python's release()). It returns
// ErrNotOwner if this process does not hold it.
func (l *RLock) Release() error {
	if l.closed() {
		return ErrHandleClosed
	}
	if !l.w.mine() {
		return ErrNotOwner
	}
	l.race.Sync()
	if atomic.AddUint32(l.count, ^uint32(0)) == 0 {
		mutexUnlock(l.w)
	}
	return nil
}

// Close unmaps the lock in this process; see Lock.Close for the calls
// blocked meanwhile and for those that must not race with it.
func (l *RLock) Close() error { return l.close(func() { wakeAll(l.w) }) }

func (l *RLock) mpExport() ([]byte, []*os.File, error) {
	return exportSegment(&l.closer, shm.KindRLock)
}

func (l *RLock) mpImport(meta []byte, files []*os.File) error {
	s, err := importSimple(meta, files, shm.KindRLock)
	if err != nil {
		return err
	}
	*l = *newRLockOn(s)
	return nil
}
