package mp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/mpgen/mpgen/runtime/internal/shm"
)

// Condition is a condition variable shared by processes: Python's
// multiprocessing.Condition. It is always used with its Lock, which a
// process must hold to Wait, Notify or NotifyAll.
//
// Notify(n) wakes the n processes (or goroutines) that have waited longest
// among those waiting when it is called, as Python's notify does: a wait
// that starts afterwards never takes their place. A waiter whose timeout
// passes or whose context is done re-takes the lock and only then leaves;
// if it was notified meanwhile it returns nil, so no notification is lost.
// A waiter whose process died is skipped, or, if it is not yet reaped or
// its pid was reused (waiters are known by pid and start time), its
// notification is passed on within about 100 ms by another waiter, which
// looks once per wait slice; the same for a waiter that dies after being
// notified, before it re-took the lock. A passed-on notification goes to
// the longest waiting of those that were waiting when Notify was called,
// if any is left. Up to 4096 waits (processes or goroutines) can be in
// progress at once; one more gets ErrTooManyWaiters at once, with the lock
// still held. Off Unix and Windows NewCondition returns an error wrapping
// errors.ErrUnsupported.
type Condition struct {
	closer
	ticket   *uint32 // the order number of the next wait
	hi       *uint32 // the slots in use are below hi
	l        *Lock
	ownsLock bool
}

// The condition's segment: the ticket and hi words, then one slot per wait
// in progress. Every change to the slots is made with the lock held, except
// that the waiter reads its own slot's state (its futex word) without it.
const (
	condOffTicket  = shm.OffWords
	condOffHi      = shm.OffWords + 4
	condOffSlots   = 64
	condSlotSize   = 16
	condMaxWaiters = 4096
	condSize       = condOffSlots + condMaxWaiters*condSlotSize
)

// condSlot is one wait in progress.
type condSlot struct {
	state uint32 // slotFree, slotWaiting or slotNotified; the waiter's futex word
	order uint32 // waiting: its ticket; notified: the last ticket given before the Notify
	id    uint64 // the waiter's shm.ProcID
}

const (
	slotFree uint32 = iota
	slotWaiting
	slotNotified
)

// NewCondition returns a condition variable using l as its lock, or a new
// Lock of its own when l is nil (then Close closes it too).
func NewCondition(l *Lock) (*Condition, error) {
	own := l == nil
	if own {
		var err error
		if l, err = NewLock(); err != nil {
			return nil, err
		}
	} else if l.closed() {
		return nil, ErrHandleClosed
	}
	s, err := shm.New(shm.KindCondition, condSize)
	if err != nil {
		if own {
			l.Close()
		}
		return nil, err
	}
	return newConditionOn(s, l, own), nil
}

func newConditionOn(s *shm.Segment, l *Lock, own bool) *Condition {
	c := &Condition{ticket: s.Word(condOffTicket), hi: s.Word(condOffHi), l: l, ownsLock: own}
	c.open(s)
	return c
}

// slot returns slot i (0 <= i < condMaxWaiters).
func (c *Condition) slot(i int) *condSlot {
	return (*condSlot)(unsafe.Pointer(c.seg.Word64(condOffSlots + i*condSlotSize)))
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
	if c.closed() || c.l.closed() {
		return ErrHandleClosed
	}
	if !c.l.w.mine() {
		return errCondNotHeld
	}
	return nil
}

// enter takes a free slot for a new wait, with the lock held, and returns
// its index. When every slot is taken, it takes one of a dead waiter.
func (c *Condition) enter() (int, error) {
	hi := int(atomic.LoadUint32(c.hi))
	i := -1
	for j := range hi {
		if atomic.LoadUint32(&c.slot(j).state) == slotFree {
			i = j
			break
		}
	}
	if i < 0 && hi < condMaxWaiters {
		i = hi
	}
	if i < 0 {
		// Full: pass on the notifications of dead waiters, then take the
		// first slot free or of a dead waiter.
		c.rescue()
		for j := range hi {
			sl := c.slot(j)
			if st := atomic.LoadUint32(&sl.state); st == slotFree || (st == slotWaiting && !shm.ProcID(atomic.LoadUint64(&sl.id)).Alive()) {
				i = j
				break
			}
		}
		if i < 0 {
			return 0, ErrTooManyWaiters
		}
		atomic.StoreUint32(&c.slot(i).state, slotFree)
	}
	if uint32(i) >= atomic.LoadUint32(c.hi) {
		atomic.StoreUint32(c.hi, uint32(i+1))
	}
	// The state last: a waiter that dies before it leaves a free slot.
	sl := c.slot(i)
	atomic.StoreUint64(&sl.id, uint64(shm.Self()))
	atomic.StoreUint32(&sl.order, atomic.AddUint32(c.ticket, 1))
	atomic.StoreUint32(&sl.state, slotWaiting)
	return i, nil
}

// leave frees slot i, with the lock held.
func (c *Condition) leave(i int) {
	atomic.StoreUint32(&c.slot(i).state, slotFree)
	hi := atomic.LoadUint32(c.hi)
	for hi > 0 && atomic.LoadUint32(&c.slot(int(hi-1)).state) == slotFree {
		hi--
	}
	atomic.StoreUint32(c.hi, hi)
}

func (c *Condition) wait(ctx context.Context, op string, timeout time.Duration) error {
	if err := c.held(); err != nil {
		return err
	}
	if !c.begin() {
		return ErrHandleClosed
	}
	defer c.end()
	if !c.l.begin() {
		return ErrHandleClosed
	}
	defer c.l.end()
	i, err := c.enter()
	if err != nil {
		return err
	}
	sl := c.slot(i)
	c.l.race.Sync()
	mutexUnlock(c.l.w)
	wt := newWaiter(ctx, &sl.state, op, timeout)
	var werr error
	abandoned := false
	for atomic.LoadUint32(&sl.state) == slotWaiting {
		err := wt.Sleep(&sl.state, slotWaiting)
		if c.closed() || c.l.closed() {
			break
		}
		if shm.Over(err) {
			werr = err
			break
		}
		if err == shm.ErrSlice && c.orphaned() {
			// A notified waiter died before it took its notification:
			// pass it on, under the lock (given up after one slice).
			switch err := mutexLock(ctx, c.l.w, &c.l.closer, op, shm.WaitSlice); err {
			case nil, ErrLockAbandoned:
				abandoned = abandoned || err != nil
				c.l.race.Sync()
				c.rescue()
				c.l.race.Sync()
				mutexUnlock(c.l.w)
			}
		}
	}
	wt.Done()
	if c.closed() || c.l.closed() {
		c.abandon(sl)
		return ErrHandleClosed
	}
	// Like Python, reacquire the lock however the wait ended; then leave
	// the slot. A notification that came after the timeout still counts.
	lerr := c.l.race.synced(mutexLock(context.Background(), c.l.w, &c.l.closer, op, -1))
	if lerr == ErrHandleClosed {
		c.abandon(sl)
		return lerr
	}
	if atomic.LoadUint32(&sl.state) == slotNotified {
		werr = nil
	}
	c.leave(i)
	if werr != nil {
		return werr
	}
	if abandoned {
		return ErrLockAbandoned
	}
	return lerr
}

// abandon gives up a wait closed under it, without the lock: the slot
// takes the identity of no process, so the others treat it as a waiter that
// died (a Notify skips and frees it; a notification it already had is
// passed on by a waiter's rescue).
func (c *Condition) abandon(sl *condSlot) { atomic.StoreUint64(&sl.id, 0) }

// orphaned reports whether some notified waiter of another process died,
// looking without the lock.
func (c *Condition) orphaned() bool {
	self := shm.Self()
	for i := range int(atomic.LoadUint32(c.hi)) {
		sl := c.slot(i)
		if atomic.LoadUint32(&sl.state) != slotNotified {
			continue
		}
		if id := shm.ProcID(atomic.LoadUint64(&sl.id)); id != self && !id.Alive() {
			return true
		}
	}
	return false
}

// rescue frees the slots of notified waiters that died, with the lock
// held, and passes each one's notification on to a waiter that was waiting
// when it was given, if one is left.
func (c *Condition) rescue() {
	self := shm.Self()
	for i := range int(atomic.LoadUint32(c.hi)) {
		sl := c.slot(i)
		if atomic.LoadUint32(&sl.state) != slotNotified {
			continue
		}
		if id := shm.ProcID(atomic.LoadUint64(&sl.id)); id == self || id.Alive() {
			continue
		}
		given := atomic.LoadUint32(&sl.order)
		c.leave(i)
		c.notify(1, given)
	}
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

// Notify wakes the n processes (or goroutines) that have waited longest,
// or all if fewer are waiting. The caller must hold the lock.
func (c *Condition) Notify(n int) error {
	if err := c.held(); err != nil {
		return err
	}
	c.notify(n, atomic.LoadUint32(c.ticket))
	return nil
}

// notify wakes the n longest waiting of the waiters whose ticket is not
// after given, with the lock held. A waiter whose process is gone is
// skipped and its slot freed; one that died otherwise (a zombie, a reused
// pid) is notified, and rescue passes it on.
func (c *Condition) notify(n int, given uint32) {
	if n <= 0 {
		return
	}
	type waiting struct{ age, i uint32 }
	var buf [16]waiting
	ws := buf[:0]
	for i := range int(atomic.LoadUint32(c.hi)) {
		sl := c.slot(i)
		if atomic.LoadUint32(&sl.state) != slotWaiting {
			continue
		}
		if age := given - atomic.LoadUint32(&sl.order); int32(age) >= 0 {
			ws = append(ws, waiting{age: age, i: uint32(i)})
		}
	}
	if len(ws) > n {
		slices.SortFunc(ws, func(a, b waiting) int { return cmp.Compare(b.age, a.age) })
	}
	for _, w := range ws {
		if n == 0 {
			break
		}
		sl := c.slot(int(w.i))
		if shm.ProcID(atomic.LoadUint64(&sl.id)).Gone() {
			c.leave(int(w.i))
			continue
		}
		atomic.StoreUint32(&sl.order, given)
		atomic.StoreUint32(&sl.state, slotNotified)
		shm.Wake(&sl.state, 1)
		n--
	}
}

// NotifyAll wakes every waiting process. The caller must hold the lock.
func (c *Condition) NotifyAll() error { return c.Notify(1 << 30) }

// Close unmaps the condition in this process, and its lock if
// NewCondition made it (or the condition was received from another
// process). A goroutine of this process blocked in a Wait wakes at once and
// returns ErrHandleClosed without re-taking the lock; a notification it had
// been given is passed on, as for a waiter that died. The condition is
// unmapped once they have left. Notify, NotifyAll and the lock's
// non-blocking calls must not be called concurrently with Close: they may
// touch the memory Close unmaps.
func (c *Condition) Close() error {
	err := c.close(c.wakeMine)
	if c.ownsLock && c.l != nil {
		if lerr := c.l.Close(); err == nil {
			err = lerr
		}
	}
	return err
}

// wakeMine wakes the waits of this process, for Close.
func (c *Condition) wakeMine() {
	self := uint64(shm.Self())
	for i := range int(atomic.LoadUint32(c.hi)) {
		if sl := c.slot(i); atomic.LoadUint64(&sl.id) == self {
			shm.Wake(&sl.state, 1)
		}
	}
}

func (c *Condition) mpExport() ([]byte, []*os.File, error) {
	if c.closed() || c.l.closed() {
		return nil, nil, ErrHandleClosed
	}
	m := shm.NewMeta(shm.KindCondition, len(c.seg.Mem()))
	m.Uvarint(uint64(len(c.l.seg.Mem())))
	return m, []*os.File{c.seg.File(), c.l.seg.File()}, nil
}

func (c *Condition) mpImport(meta []byte, files []*os.File) error {
	size, m, err := shm.ReadMeta(meta, shm.KindCondition)
	var lsize uint64
	if err == nil {
		lsize = m.Uvarint()
		if m.Err() != nil || lsize < shm.DataOffset || lsize > 1<<20 {
			err = fmt.Errorf("mp: import: bad Condition metadata")
		}
	}
	if err == nil && size < condSize {
		err = fmt.Errorf("mp: import: Condition segment of %d bytes, want %d", size, condSize)
	}
	if err == nil {
		err = shm.CheckFiles(files, 2, shm.KindCondition)
	}
	var s, ls *shm.Segment
	if err == nil {
		s, err = shm.Import(files[0], shm.KindCondition, size)
	}
	if err == nil {
		if ls, err = shm.Import(files[1], shm.KindLock, int(lsize)); err != nil {
			s.Unmap()
		}
	}
	if err != nil {
		closeFiles(files)
		return err
	}
	*c = *newConditionOn(s, newLockOn(ls), true)
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

func nextGen(v uint32) uint32 { return ((v>>barGenShift + 1) & 0xffff) << barGenShift }
