//go:build linux

package mp_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

// The shared primitives travel as ordinary arguments of mpgen targets.

func closeLater(t *testing.T, c interface{ Close() error }) {
	t.Cleanup(func() { c.Close() })
}

func TestTargetsLockedCounter(t *testing.T) {
	noNewFDs(t)
	l, err := mp.NewLock()
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, l)
	a, err := mp.NewArray[int64](1)
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, a)
	const procs, n = 4, 5000
	var ps []*mp.Process
	for range procs {
		ps = append(ps, start(t, &mp.Process{Target: targets.LockedIncrements, Args: []any{l, a, n}}))
	}
	for _, p := range ps {
		if err := join(t, p); err != nil {
			t.Fatal(err)
		}
	}
	if got := a.Slice()[0]; got != procs*n {
		t.Fatalf("counter %d, want %d", got, procs*n)
	}
}

func TestTargetsArrayAndValue(t *testing.T) {
	a, err := mp.NewArray[float64](1 << 16)
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, a)
	if err := join(t, start(t, &mp.Process{Target: targets.FillHalves, Args: []any{a}})); err != nil {
		t.Fatal(err)
	}
	for i, v := range a.Slice() {
		if v != float64(i)/2 {
			t.Fatalf("a[%d] = %v", i, v)
		}
	}
	v, err := mp.NewValue[int64](100)
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, v)
	p1 := start(t, &mp.Process{Target: targets.AddUnderLock, Args: []any{v, int64(3), 2000}})
	p2 := start(t, &mp.Process{Target: targets.AddUnderLock, Args: []any{v, int64(-1), 2000}})
	if err := errors.Join(join(t, p1), join(t, p2)); err != nil {
		t.Fatal(err)
	}
	if got := v.Load(); got != 100+2*2000 {
		t.Fatalf("value %d, want %d", got, 100+2*2000)
	}
	// A Value of another type is refused at Start, in the parent.
	w, err := mp.NewValue[int32](1)
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, w)
	if err := (&mp.Process{Target: targets.AddUnderLock, Args: []any{w, int64(1), 1}}).Start(); err == nil {
		t.Fatal("a *Value[int32] was accepted for a *Value[int64] parameter")
	}
}

func TestTargetsBarrierOfFour(t *testing.T) {
	b, err := mp.NewBarrier(4)
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, b)
	const rounds = 10
	var ps []*mp.Process
	for range 4 {
		ps = append(ps, start(t, &mp.Process{Target: targets.MeetAtBarrier, Args: []any{b, rounds}}))
	}
	var all [rounds][]int
	for _, p := range ps {
		if err := join(t, p); err != nil {
			t.Fatal(err)
		}
		res, _ := p.Result()
		idx := res.([]int)
		for r, i := range idx {
			all[r] = append(all[r], i)
		}
	}
	for r, idx := range all {
		slices.Sort(idx)
		if !slices.Equal(idx, []int{0, 1, 2, 3}) {
			t.Fatalf("round %d: arrival indices %v", r, idx)
		}
	}
}

// A target killed while holding the lock: the parent's Acquire takes it
// over with ErrLockAbandoned.
func TestTargetsLockHolderKilled(t *testing.T) {
	l, err := mp.NewLock()
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, l)
	held, err := mp.NewEvent()
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, held)
	p := start(t, &mp.Process{Target: targets.HoldLock, Args: []any{l, held}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := held.WaitContext(ctx); err != nil {
		t.Fatal(err)
	}
	if l.TryAcquire() {
		t.Fatal("lock free while the child holds it")
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := l.AcquireContext(ctx); !errors.Is(err, mp.ErrLockAbandoned) {
		t.Fatalf("Acquire after the holder was killed: %v", err)
	}
	l.Unlock()
	join(t, p)
}

// A SharedMemory passed to a target shares the parent's hold; a target
// that attaches by name and exits without closing never removes it.
func TestTargetsSharedMemory(t *testing.T) {
	name := "test-targets-" + itoa(os.Getpid())
	path := "/dev/shm/mpgen-" + name
	t.Cleanup(func() { os.Remove(path) })
	m, err := mp.CreateSharedMemory(name, 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	p := start(t, &mp.Process{Target: targets.FillShared, Args: []any{m, byte(7)}})
	if err := join(t, p); err != nil {
		t.Fatal(err)
	}
	if res, _ := p.Result(); res != name || m.Bytes()[100] != 7 {
		t.Fatalf("result %v, byte %d", res, m.Bytes()[100])
	}
	for range 2 {
		if err := join(t, start(t, &mp.Process{Target: targets.AttachAndFill, Args: []any{name, byte(9)}})); err != nil {
			t.Fatal(err)
		}
		mp.SweepSharedMemory()
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("an attacher's exit removed the block: %v", err)
		}
	}
	if m.Bytes()[0] != 9 {
		t.Fatal("the attacher's write is not visible")
	}
	m.Close()
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("block left after the last holder closed it: %v", err)
	}
}

func TestTargetsSemaphoreTimeout(t *testing.T) {
	s, err := mp.NewSemaphore(0)
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, s)
	// Join, not join: the target's own error matches DeadlineExceeded.
	err = start(t, &mp.Process{Target: targets.WaitSemaphore, Args: []any{s, 50 * time.Millisecond}}).Join()
	var te *mp.TimeoutError
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &te) || te.After != 50*time.Millisecond {
		t.Fatalf("child's timeout error: %v", err)
	}
	s.Release()
	if err := join(t, start(t, &mp.Process{Target: targets.WaitSemaphore, Args: []any{s, 10 * time.Second}})); err != nil {
		t.Fatal(err)
	}
}

func itoa(i int) string { return string(appendInt(nil, i)) }

func appendInt(b []byte, i int) []byte {
	if i >= 10 {
		b = appendInt(b, i/10)
	}
	return append(b, byte('0'+i%10))
}
