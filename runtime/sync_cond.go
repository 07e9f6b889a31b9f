package mp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"
)

// Condition is a condition variable shared by processes: Python's
// multiprocessing.Condition. It is always used with its Lock, which a
// process must hold to Wait, Notify or NotifyAll.
//
// Notify(n) wakes up to n of the processes waiting at that moment; a
// process that starts waiting before a woken one has run may take its
// place (both then see the change under the lock, so loops over a
// predicate, as WaitFor runs, stay correct). A process that dies while
// waiting can cause one later spurious wake-up. Off Linux NewCondition
// returns an error wrapping errors.ErrUnsupported.
type Condition struct {
	seg      *segment
	seq      *uint32 // bumped by every notify; the futex word
	state    *uint64 // waiting processes << 32 | notifications not yet taken
	l        *Lock
	ownsLock bool
}

// NewCondition returns a condition variable using l as its lock, or a new
// Lock of its own when l is nil (then Close closes it too).
func NewCondition(l *Lock) (*Condition, error) {
	own := l == nil
	if own {
		var err error
		if l, err = NewLock(); err != nil {
			return nil, err
		}
	} else if l.seg == nil {
		return nil, ErrHandleClosed
	}
	s, err := newKindSegment(kindCondition, dataOffset)
	if err != nil {
		if own {
			l.Close()
		}
		return nil, err
	}
	return newConditionOn(s, l, own), nil
}

func newConditionOn(s *segment, l *Lock, own bool) *Condition {
	return &Condition{seg: s, seq: word(s.mem, offWords), state: word64(s.mem, offWords+8), l: l, ownsLock: own}
}

// L returns the condition's lock.
func (c *Condition) L() *Lock { return c.l }

// Lock acquires the condition's lock (see Lock.Lock).
func (c *Condition) Lock() { c.l.Lock() }

// Unlock releases the condition's lock (see Lock.Unlock).
func (c *Condition) Unlock() { c.l.Unlock() }

// Acquire acquires the condition's lock (see Lock.Acquire).
func (c *Condition) Acquire() error { return c.l.Acquire() }

// AcquireTimeout acquires the condition's lock, waiting at most d (see
// Lock.AcquireTimeout).
func (c *Condition) AcquireTimeout(d time.Duration) error { return c.l.AcquireTimeout(d) }

// AcquireContext acquires the condition's lock, waiting until ctx is done
// (see Lock.AcquireContext).
func (c *Condition) AcquireContext(ctx context.Context) error { return c.l.AcquireContext(ctx) }

// Release releases the condition's lock (see Lock.Release).
func (c *Condition) Release() error { return c.l.Release() }

// errCondNotHeld: Wait or Notify without holding the lock.
var errCondNotHeld = errors.New("mp: Condition used without holding its lock")

func (c *Condition) held() error {
	if c.seg == nil || c.l.seg == nil {
		return ErrHandleClosed
	}
	if c.l.owner() != int(selfPid) {
		return errCondNotHeld
	}
	return nil
}

// take consumes one notification, if there is one.
func (c *Condition) take() bool {
	for {
		v := atomic.LoadUint64(c.state)
		if uint32(v) == 0 {
			return false
		}
		if atomic.CompareAndSwapUint64(c.state, v, v-(1<<32)-1) {
			return true
		}
	}
}

// giveUp removes a waiter that timed out. If every remaining waiter is
// owed a notification, one of them was meant for this one: it takes it and
// reports true (it was notified after all).
func (c *Condition) giveUp() bool {
	for {
		v := atomic.LoadUint64(c.state)
		w, t := uint32(v>>32), uint32(v)
		if t > 0 && t >= w {
			if atomic.CompareAndSwapUint64(c.state, v, v-(1<<32)-1) {
				return true
			}
			continue
		}
		if atomic.CompareAndSwapUint64(c.state, v, v-(1<<32)) {
			return false
		}
	}
}

func (c *Condition) wait(ctx context.Context, op string, timeout time.Duration) error {
	if err := c.held(); err != nil {
		return err
	}
	atomic.AddUint64(c.state, 1<<32)
	c.l.race.sync()
	mutexUnlock(c.l.w)
	wt := newWaiter(ctx, c.seq, op, timeout)
	var werr error
	for {
		s := atomic.LoadUint32(c.seq)
		if c.take() {
			break
		}
		if err := wt.sleep(c.seq, s); over(err) {
			if !c.giveUp() {
				werr = err
			}
			break
		}
	}
	wt.done()
	// Like Python, reacquire the lock however the wait ended.
	lerr := c.l.race.synced(mutexLock(context.Background(), c.l.w, op, -1))
	if werr != nil {
		return werr
	}
	return lerr
}

// Wait releases the lock, waits for a notification, then reacquires the
// lock (Python's wait()). It returns nil when notified, or
// ErrLockAbandoned if the lock's holder died meanwhile.
func (c *Condition) Wait() error { return c.wait(context.Background(), "Condition.Wait", -1) }

// WaitTimeout is Wait that gives up after d (Python's wait(timeout=d)),
// with a *TimeoutError; it reacquires the lock in every case, as Python
// does.
func (c *Condition) WaitTimeout(d time.Duration) error {
	return c.wait(context.Background(), "Condition.Wait", max(d, 0))
}

// WaitContext is Wait that gives up when ctx is done: with a *TimeoutError
// once its deadline passed, else with ctx.Err(). It reacquires the lock in
// every case, as Python does.
func (c *Condition) WaitContext(ctx context.Context) error {
	return c.wait(ctx, "Condition.Wait", -1)
}

// WaitFor waits until pred returns true, calling it with the lock held
// (Python's wait_for). It returns nil once pred is true (ErrLockAbandoned
// if the lock was taken over from a dead holder on the way), or Wait's
// error.
func (c *Condition) WaitFor(pred func() bool) error {
	return c.waitFor(context.Background(), pred, -1)
}

// WaitForTimeout is WaitFor that gives up after d in all (Python's
// wait_for(predicate, timeout=d)), with a *TimeoutError.
func (c *Condition) WaitForTimeout(pred func() bool, d time.Duration) error {
	return within(d, c.waitFor(context.Background(), pred, max(d, 0)))
}

// WaitForContext is WaitFor that gives up when ctx is done, with
// WaitContext's error.
func (c *Condition) WaitForContext(ctx context.Context, pred func() bool) error {
	return c.waitFor(ctx, pred, -1)
}

// waitFor runs WaitFor's loop; timeout >= 0 bounds the whole of it.
func (c *Condition) waitFor(ctx context.Context, pred func() bool, timeout time.Duration) error {
	var deadline time.Time
	if timeout >= 0 {
		deadline = time.Now().Add(timeout)
	}
	var abandoned error
	for !pred() {
		t := time.Duration(-1)
		if timeout >= 0 {
			t = max(time.Until(deadline), 0)
		}
		switch err := c.wait(ctx, "Condition.WaitFor", t); err {
		case nil:
		case ErrLockAbandoned:
			abandoned = err
		default:
			return err
		}
	}
	return abandoned
}

// Notify wakes up to n waiting processes. The caller must hold the lock.
func (c *Condition) Notify(n int) error {
	if err := c.held(); err != nil {
		return err
	}
	if n <= 0 {
		return nil
	}
	for {
		v := atomic.LoadUint64(c.state)
		w, t := uint32(v>>32), uint32(v)
		k := uint64(min(uint64(n), uint64(w-t)))
		if w <= t || k == 0 {
			return nil
		}
		if atomic.CompareAndSwapUint64(c.state, v, v+k) {
			atomic.AddUint32(c.seq, 1)
			futexWake(c.seq, int(k))
			return nil
		}
	}
}

// NotifyAll wakes every waiting process. The caller must hold the lock.
func (c *Condition) NotifyAll() error { return c.Notify(1 << 30) }

// Close unmaps the condition in this process, and its lock if
// NewCondition made it (or the condition was received from another
// process).
func (c *Condition) Close() error {
	s := c.seg
	c.seg = nil
	err := s.Close()
	if c.ownsLock && c.l != nil {
		if lerr := c.l.Close(); err == nil {
			err = lerr
		}
	}
	return err
}

func (c *Condition) mpExport() ([]byte, []*os.File, error) {
	if c.seg == nil || c.l.seg == nil {
		return nil, nil, ErrHandleClosed
	}
	m := newMeta(kindCondition, len(c.seg.mem))
	m.uint(uint64(len(c.l.seg.mem)))
	return m.b, []*os.File{c.seg.f, c.l.seg.f}, nil
}

func (c *Condition) mpImport(meta []byte, files []*os.File) error {
	size, m, err := readMeta(meta, kindCondition)
	var lsize uint64
	if err == nil {
		lsize = m.uint()
		if m.err != nil || lsize < dataOffset || lsize > 1<<20 {
			err = fmt.Errorf("mp: import: bad Condition metadata")
		}
	}
	if err == nil {
		err = checkFiles(files, 2, kindCondition)
	}
	var s, ls *segment
	if err == nil {
		s, err = importSegment(files[0], kindCondition, size)
	}
	if err == nil {
		if ls, err = importSegment(files[1], kindLock, int(lsize)); err != nil {
			s.unmap()
		}
	}
	if err != nil {
		closeFiles(files)
		return err
	}
	*c = *newConditionOn(s, &Lock{seg: ls, w: word(ls.mem, offWords)}, true)
	return nil
}

// The barrier word: arrivals in the current generation, the broken and
// resetting flags, and the generation.
const (
	barCountMask  = 1<<14 - 1
	barBroken     = 1 << 14
	barResetting  = 1 << 15
	barGenShift   = 16
	maxBarParties = barCountMask
)

// Barrier makes a fixed number of processes wait for each other: Python's
// multiprocessing.Barrier. Each Wait blocks until parties processes (or
// goroutines) have called it, then all return together and the barrier is
// ready for the next round.
//
// A waiter that gives up (timeout, cancelled context) breaks the barrier,
// as in Python: the others get ErrBrokenBarrier, and so does every Wait
// until Reset. Reset while processes wait breaks the round for them; the
// barrier is usable again once they have all left (Wait meanwhile returns
// ErrBrokenBarrier, where Python would block until then). A process that
// dies while waiting still counts as arrived, and after Reset the barrier
// stays broken because it never leaves; a process that dies before
// arriving makes the others wait until their timeout breaks the barrier.
// Off Linux NewBarrier returns an error wrapping errors.ErrUnsupported.
type Barrier struct {
	seg     *segment
	w       *uint32
	parties int
	race    raceSync
}

// NewBarrier returns a barrier for parties processes (1 to 16383).
func NewBarrier(parties int) (*Barrier, error) {
	if parties < 1 || parties > maxBarParties {
		return nil, fmt.Errorf("mp: barrier parties %d out of range [1, %d]", parties, maxBarParties)
	}
	s, err := newKindSegment(kindBarrier, dataOffset)
	if err != nil {
		return nil, err
	}
	atomic.StoreUint32(word(s.mem, offWords+4), uint32(parties))
	return &Barrier{seg: s, w: word(s.mem, offWords), parties: parties}, nil
}

// Parties returns the number of processes needed to pass the barrier.
func (b *Barrier) Parties() int { return b.parties }

// NWaiting returns the number of processes waiting (Python's n_waiting).
func (b *Barrier) NWaiting() int {
	if b.seg == nil {
		return 0
	}
	v := atomic.LoadUint32(b.w)
	if v&(barBroken|barResetting) != 0 {
		return 0
	}
	return int(v & barCountMask)
}

// Broken reports whether the barrier is broken.
func (b *Barrier) Broken() bool {
	return b.seg != nil && atomic.LoadUint32(b.w)&(barBroken|barResetting) != 0
}

func nextGen(v uint32) uint32 { return ((v>>barGenShift + 1) & 0xffff) << barGenShift }

// Wait waits until parties processes have called Wait (Python's wait()).
// It returns the arrival index, 0 for the first to arrive up to parties-1
// for the last, different for each (Python uses it to choose one process
// to do something). When the barrier is or becomes broken, it returns
// ErrBrokenBarrier.
func (b *Barrier) Wait() (int, error) { return b.wait(context.Background(), "Barrier.Wait", -1) }

// WaitTimeout is Wait that gives up after d (Python's wait(timeout=d)):
// the barrier breaks, for the other waiters too, and WaitTimeout returns a
// *TimeoutError that also matches ErrBrokenBarrier.
func (b *Barrier) WaitTimeout(d time.Duration) (int, error) {
	return b.wait(context.Background(), "Barrier.Wait", max(d, 0))
}

// WaitContext is Wait that gives up when ctx is done: the barrier breaks,
// for the other waiters too, and WaitContext returns a *TimeoutError that
// also matches ErrBrokenBarrier once ctx's deadline passed, else
// ctx.Err().
func (b *Barrier) WaitContext(ctx context.Context) (int, error) {
	return b.wait(ctx, "Barrier.Wait", -1)
}

func (b *Barrier) wait(ctx context.Context, op string, timeout time.Duration) (int, error) {
	b.race.sync()
	i, err := b.wait1(ctx, op, timeout)
	b.race.sync()
	return i, err
}

func (b *Barrier) wait1(ctx context.Context, op string, timeout time.Duration) (int, error) {
	if b.seg == nil {
		return 0, ErrHandleClosed
	}
	var idx int
	var gen uint32
	for {
		v := atomic.LoadUint32(b.w)
		if v&(barBroken|barResetting) != 0 {
			return 0, ErrBrokenBarrier
		}
		c := int(v & barCountMask)
		if c+1 >= b.parties {
			if atomic.CompareAndSwapUint32(b.w, v, nextGen(v)) {
				futexWake(b.w, 1<<30)
				return c, nil
			}
			continue
		}
		if atomic.CompareAndSwapUint32(b.w, v, v+1) {
			idx, gen = c, v>>barGenShift
			break
		}
	}
	wt := newWaiter(ctx, b.w, op, timeout)
	defer wt.done()
	for {
		v := atomic.LoadUint32(b.w)
		if v>>barGenShift != gen {
			return idx, nil
		}
		if v&barBroken != 0 {
			b.leave(gen, 0)
			return 0, ErrBrokenBarrier
		}
		if err := wt.sleep(b.w, v); over(err) {
			if b.leave(gen, barBroken) {
				return idx, nil // the round completed just now
			}
			if te, ok := err.(*TimeoutError); ok {
				te.err = ErrBrokenBarrier // it broke the barrier, for itself too
			}
			return 0, err
		}
	}
}

// leave takes a waiter of generation gen out of its round, setting flags
// too; it reports true, leaving nothing, if the round has completed. The
// last waiter out of a round being reset starts the next generation.
func (b *Barrier) leave(gen, flags uint32) bool {
	for {
		v := atomic.LoadUint32(b.w)
		if v>>barGenShift != gen {
			return true
		}
		nv := (v - 1) | flags
		if nv&barCountMask == 0 && nv&barResetting != 0 {
			nv = nextGen(v)
		}
		if atomic.CompareAndSwapUint32(b.w, v, nv) {
			futexWake(b.w, 1<<30)
			return false
		}
	}
}

// Abort breaks the barrier: waiting processes, and every later Wait until
// Reset, get ErrBrokenBarrier.
func (b *Barrier) Abort() {
	if b.seg == nil {
		return
	}
	for {
		v := atomic.LoadUint32(b.w)
		if atomic.CompareAndSwapUint32(b.w, v, v|barBroken) {
			futexWake(b.w, 1<<30)
			return
		}
	}
}

// Reset returns the barrier to its empty, unbroken state. Processes
// waiting get ErrBrokenBarrier; the barrier is usable once they have left.
func (b *Barrier) Reset() {
	if b.seg == nil {
		return
	}
	for {
		v := atomic.LoadUint32(b.w)
		nv := nextGen(v)
		if v&barCountMask != 0 {
			nv = v | barBroken | barResetting
		}
		if atomic.CompareAndSwapUint32(b.w, v, nv) {
			futexWake(b.w, 1<<30)
			return
		}
	}
}

// Close unmaps the barrier in this process.
func (b *Barrier) Close() error { return takeSegment(&b.seg) }

func (b *Barrier) mpExport() ([]byte, []*os.File, error) { return exportSegment(b.seg, kindBarrier) }

func (b *Barrier) mpImport(meta []byte, files []*os.File) error {
	s, err := importSimple(meta, files, kindBarrier)
	if err != nil {
		return err
	}
	p := int(atomic.LoadUint32(word(s.mem, offWords+4)))
	if p < 1 || p > maxBarParties {
		s.Close()
		return fmt.Errorf("mp: import: barrier of %d parties", p)
	}
	b.seg, b.w, b.parties = s, word(s.mem, offWords), p
	return nil
}
