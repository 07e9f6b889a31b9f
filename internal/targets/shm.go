package targets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	mp "github.com/mpgen/mpgen/runtime"
)

// The targets in this file serve the tests of the cross-process locks and
// shared memory: they take them as ordinary parameters.

// LockedIncrements adds 1 to a[0] n times, each time under l.
//
//mp:target
func LockedIncrements(l *mp.Lock, a *mp.Array[int64], n int) error {
	s := a.Slice()
	for range n {
		l.Lock()
		s[0]++
		l.Unlock()
	}
	return nil
}

// FillHalves sets a[i] = i/2 for every element.
//
//mp:target
func FillHalves(a *mp.Array[float64]) error {
	for i := range a.Slice() {
		a.Slice()[i] = float64(i) / 2
	}
	return nil
}

// AddUnderLock adds d to v n times, under v's own lock.
//
//mp:target
func AddUnderLock(v *mp.Value[int64], d int64, n int) error {
	p := v.Pointer()
	for range n {
		v.Lock()
		*p += d
		v.Unlock()
	}
	return nil
}

// MeetAtBarrier waits at b rounds times and returns the arrival indices.
//
//mp:target
func MeetAtBarrier(ctx context.Context, b *mp.Barrier, rounds int) ([]int, error) {
	var idx []int
	for range rounds {
		i, err := b.WaitContext(ctx)
		if err != nil {
			return idx, err
		}
		idx = append(idx, i)
	}
	return idx, nil
}

// HoldLock acquires l, sets held, and keeps l until its context ends (the
// test kills the process meanwhile).
//
//mp:target
func HoldLock(ctx context.Context, l *mp.Lock, held *mp.Event) error {
	if err := l.AcquireContext(ctx); err != nil {
		return err
	}
	held.Set()
	<-ctx.Done()
	return ctx.Err()
}

// FillShared writes b into every byte of m, and reports m's name.
//
//mp:target
func FillShared(m *mp.SharedMemory, b byte) (string, error) {
	for i := range m.Bytes() {
		m.Bytes()[i] = b
	}
	return m.Name(), nil
}

// AttachAndFill attaches to the named block, writes b into its first
// byte, and returns without closing it (its process ends soon after).
//
//mp:target
func AttachAndFill(name string, b byte) error {
	m, err := mp.AttachSharedMemory(name)
	if err != nil {
		return err
	}
	m.Bytes()[0] = b
	return nil
}

// WaitSemaphore takes a unit of s within d, then gives it back.
//
//mp:target
func WaitSemaphore(s *mp.Semaphore, d time.Duration) error {
	if err := s.AcquireTimeout(d); err != nil {
		return fmt.Errorf("semaphore: %w", err)
	}
	return s.Release()
}

// FillOnRequest serves the shared-array benchmark: for each unit released
// on req it fills a with ctl[0]+i, stores the time the fill took (ns) in
// ctl[1] and releases done; ctl[0] == 0 ends it. Every byte stays in the
// shared mapping and the coordination is the shared semaphores.
//
//mp:target
func FillOnRequest(ctx context.Context, a *mp.Array[uint64], ctl *mp.Array[int64], req, done *mp.Semaphore) error {
	s, c := a.Slice(), ctl.Slice()
	for {
		if err := req.AcquireContext(ctx); err != nil {
			return err
		}
		v := uint64(c[0])
		if v == 0 {
			return nil
		}
		start := time.Now()
		for i := range s {
			s[i] = v + uint64(i)
		}
		c[1] = int64(time.Since(start))
		if err := done.Release(); err != nil {
			return err
		}
	}
}

// SpinLock locks and unlocks l until stop is set, and returns how many
// times it did.
//
//mp:target
func SpinLock(l *mp.Lock, started, stop *mp.Event) (int, error) {
	started.Set()
	n := 0
	for ; n%1024 != 0 || !stop.IsSet(); n++ {
		l.Lock()
		l.Unlock()
	}
	return n, nil
}

// CreateAndCrash creates the named shared-memory block name, writes to it
// and exits with code 3 without closing or unlinking it.
//
//mp:target
func CreateAndCrash(name string) error {
	m, err := mp.CreateSharedMemory(name, 4096)
	if err != nil {
		return err
	}
	m.Bytes()[0] = 1
	os.Exit(3)
	return nil
}

// HoldLockThenExit acquires l, sets held, and keeps l until exit is set,
// then ends its process with code 3, still holding the lock (the test may
// kill the process before).
//
//mp:target
func HoldLockThenExit(l *mp.Lock, held, exit *mp.Event) error {
	if err := l.AcquireContext(context.Background()); err != nil {
		return err
	}
	held.Set()
	if err := exit.WaitContext(context.Background()); err != nil {
		return err
	}
	os.Exit(3)
	return nil
}

// HoldRLockTwice acquires l twice, sets held, and keeps l until its
// context ends (the test kills the process meanwhile).
//
//mp:target
func HoldRLockTwice(ctx context.Context, l *mp.RLock, held *mp.Event) error {
	if err := errors.Join(l.AcquireContext(ctx), l.AcquireContext(ctx)); err != nil {
		return err
	}
	held.Set()
	<-ctx.Done()
	return ctx.Err()
}

// CountSemaphoreHolders takes a unit of sem n times, holding it briefly
// each time while it counts the holders: a[0] is the number holding a unit
// now, a[1] the most there ever were, both changed under l.
//
//mp:target
func CountSemaphoreHolders(ctx context.Context, sem *mp.Semaphore, a *mp.Array[int64], l *mp.Lock, n int) error {
	s := a.Slice()
	for range n {
		if err := sem.AcquireContext(ctx); err != nil {
			return err
		}
		l.Lock()
		s[0]++
		if s[0] > s[1] {
			s[1] = s[0]
		}
		l.Unlock()
		time.Sleep(time.Millisecond)
		l.Lock()
		s[0]--
		l.Unlock()
		if err := sem.Release(); err != nil {
			return err
		}
	}
	return nil
}

// WaitThenSet waits for e, then sets done.
//
//mp:target
func WaitThenSet(ctx context.Context, e, done *mp.Event) error {
	if err := e.WaitContext(ctx); err != nil {
		return err
	}
	done.Set()
	return nil
}

// WaitForCondition counts itself as a waiter in a[2], waits on c until
// a[0] != 0, then adds a[0] to a[1], all under c's lock.
//
//mp:target
func WaitForCondition(ctx context.Context, c *mp.Condition, a *mp.Array[int64]) error {
	s := a.Slice()
	c.Lock()
	defer c.Unlock()
	s[2]++ // one more waiter ready
	if err := c.WaitForContext(ctx, func() bool { return s[0] != 0 }); err != nil {
		return err
	}
	s[1] += s[0]
	return nil
}

// NotifyThenWait is the notifier of issue 10's lost wake-up: rounds
// times, under c's lock, it stores 0 in v, notifies one waiter and waits
// until v is 4.
//
//mp:target
func NotifyThenWait(ctx context.Context, c *mp.Condition, v *mp.Value[int64], rounds int) error {
	for r := range rounds {
		c.Lock()
		v.Store(0)
		err := c.Notify(1)
		if err == nil {
			err = c.WaitForContext(ctx, func() bool { return v.Load() == 4 })
		}
		c.Unlock()
		if err != nil {
			return fmt.Errorf("round %d: %w", r, err)
		}
	}
	return nil
}

// BarrierRounds passes b rounds times as party id of four: before each
// round it sets a[id] to the round reached, and after it checks that every
// party arrived and records its arrival index in a[4+round*4+id].
//
//mp:target
func BarrierRounds(ctx context.Context, b *mp.Barrier, a *mp.Array[int32], id, rounds int) error {
	s := a.Slice()
	for r := range rounds {
		s[id] = int32(r + 1)
		idx, err := b.WaitContext(ctx)
		if err != nil {
			return err
		}
		for j := range b.Parties() {
			if s[j] < int32(r+1) {
				return fmt.Errorf("round %d: process %d passed the barrier before process %d arrived", r, id, j)
			}
		}
		s[4+r*4+id] = int32(idx)
		// A second barrier so nobody starts round r+1 (and writes s[id])
		// before everyone checked round r.
		if _, err := b.WaitContext(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Particle is plain data of several fields, shared in a Value.
type Particle struct {
	X, Y int64
	Ok   bool
	F    [3]float32
}

// MoveParticle adds 1 to X and -2 to Y n times, under v's own lock.
//
//mp:target
func MoveParticle(v *mp.Value[Particle], n int) error {
	p := v.Pointer()
	for range n {
		v.Lock()
		p.X++
		p.Y -= 2
		v.Unlock()
	}
	return nil
}

// CreateFillHold creates the block name of 64 KiB, fills it with 0xA5,
// sets ready, and waits until exit is set: then it ends its process with
// code 3, still holding the block (the test may kill the process before).
//
//mp:target
func CreateFillHold(name string, ready, exit *mp.Event) error {
	m, err := mp.CreateSharedMemory(name, 1<<16)
	if err != nil {
		return err
	}
	for i := range m.Bytes() {
		m.Bytes()[i] = 0xA5
	}
	ready.Set()
	if err := exit.WaitContext(context.Background()); err != nil {
		return err
	}
	os.Exit(3)
	return nil
}

// AttachHold attaches to the block name, writes 0x5A into its first byte,
// sets ready, holds the block until exit is set and then returns without
// closing it (its process ends soon after; the test may kill it before).
//
//mp:target
func AttachHold(name string, ready, exit *mp.Event) error {
	m, err := mp.AttachSharedMemory(name)
	if err != nil {
		return err
	}
	m.Bytes()[0] = 0x5A
	ready.Set()
	return exit.WaitContext(context.Background())
}
