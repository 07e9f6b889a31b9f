package targets

import (
	"context"
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
