package mp

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/mpgen/mpgen/runtime/internal/shm"
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
// Off Unix and Windows NewBarrier returns an error wrapping
// errors.ErrUnsupported.
type Barrier struct {
	closer
	w       *uint32
	parties int
	race    raceSync
}

// NewBarrier returns a barrier for parties processes (1 to 16383).
func NewBarrier(parties int) (*Barrier, error) {
	if parties < 1 || parties > maxBarParties {
		return nil, fmt.Errorf("mp: barrier parties %d out of range [1, %d]", parties, maxBarParties)
	}
	s, err := shm.New(shm.KindBarrier, shm.DataOffset)
	if err != nil {
		return nil, err
	}
	atomic.StoreUint32(s.Word(shm.OffWords+4), uint32(parties))
	b := &Barrier{w: s.Word(shm.OffWords), parties: parties}
	b.open(s)
	return b, nil
}

// Parties returns the number of processes needed to pass the barrier.
func (b *Barrier) Parties() int { return b.parties }

// NWaiting returns the number of processes waiting (Python's n_waiting).
func (b *Barrier) NWaiting() int {
	if b.closed() {
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
	return !b.closed() && atomic.LoadUint32(b.w)&(barBroken|barResetting) != 0
}

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
	b.race.Sync()
	i, err := b.wait1(ctx, op, timeout)
	b.race.Sync()
	return i, err
}

func (b *Barrier) wait1(ctx context.Context, op string, timeout time.Duration) (int, error) {
	if !b.begin() {
		return 0, ErrHandleClosed
	}
	defer b.end()
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
				shm.Wake(b.w, 1<<30)
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
	defer wt.Done()
	for {
		v := atomic.LoadUint32(b.w)
		if v>>barGenShift != gen {
			return idx, nil
		}
		if v&barBroken != 0 {
			b.leave(gen, 0)
			return 0, ErrBrokenBarrier
		}
		err := wt.Sleep(b.w, v)
		if b.closed() && atomic.LoadUint32(b.w)>>barGenShift == gen {
			err = ErrHandleClosed // gives up, breaking the barrier as a timeout does
		}
		if shm.Over(err) {
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
			shm.Wake(b.w, 1<<30)
			return false
		}
	}
}

// Abort breaks the barrier: waiting processes, and every later Wait until
// Reset, get ErrBrokenBarrier.
func (b *Barrier) Abort() {
	if b.closed() {
		return
	}
	for {
		v := atomic.LoadUint32(b.w)
		if atomic.CompareAndSwapUint32(b.w, v, v|barBroken) {
			shm.Wake(b.w, 1<<30)
			return
		}
	}
}

// Reset returns the barrier to its empty, unbroken state. Processes
// waiting get ErrBrokenBarrier; the barrier is usable once they have left.
func (b *Barrier) Reset() {
	if b.closed() {
		return
	}
	for {
		v := atomic.LoadUint32(b.w)
		nv := nextGen(v)
		if v&barCountMask != 0 {
			nv = v | barBroken | barResetting
		}
		if atomic.CompareAndSwapUint32(b.w, v, nv) {
			shm.Wake(b.w, 1<<30)
			return
		}
	}
}

// Close unmaps the barrier in this process. A goroutine of this process
// blocked in Wait, WaitTimeout or WaitContext wakes at once and gives up as
// a timed-out waiter does, breaking the barrier for the others: it returns
// ErrHandleClosed (or its index, if the round completed just then). The
// barrier is unmapped once they have left. NWaiting, Broken, Abort and
// Reset must not be called concurrently with Close: they may touch the
// memory Close unmaps.
func (b *Barrier) Close() error { return b.close(func() { shm.Wake(b.w, 1<<30) }) }

func (b *Barrier) mpExport() ([]byte, []*os.File, error) {
	return exportSegment(&b.closer, shm.KindBarrier)
}

func (b *Barrier) mpImport(meta []byte, files []*os.File) error {
	s, err := importSimple(meta, files, shm.KindBarrier)
	if err != nil {
		return err
	}
	p := int(atomic.LoadUint32(s.Word(shm.OffWords + 4)))
	if p < 1 || p > maxBarParties {
		s.Close()
		return fmt.Errorf("mp: import: barrier of %d parties", p)
	}
	b.w, b.parties = s.Word(shm.OffWords), p
	b.open(s)
	return nil
}
