//go:build linux

package mp_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

// The shared primitives travel as ordinary arguments of mpgen targets.

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

// The tests below were run by helper processes of the test binary before
// handles travelled as target arguments: they start targets now.

// The crash semantics: a process that dies holding the lock (killed, or
// exiting without unlocking) leaves it to the next acquirer, which is told
// with ErrLockAbandoned and holds the lock. The dead holder may still be a
// zombie (not reaped) while the waiter notices: zombies hold nothing.
func TestLockHolderCrash(t *testing.T) {
	for _, how := range []string{"SIGKILL", "exit"} {
		t.Run(how, func(t *testing.T) {
			l := made(mp.NewLock())(t)
			held := made(mp.NewEvent())(t)
			exit := made(mp.NewEvent())(t)
			p := start(t, &mp.Process{Target: targets.HoldLockThenExit, Args: []any{l, held, exit}})
			waitSet(t, held)
			if mp.LockOwner(l) != p.Pid() {
				t.Fatalf("owner %d, want the child %d", mp.LockOwner(l), p.Pid())
			}
			if l.TryAcquire() {
				t.Fatal("TryAcquire took a held lock")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- l.AcquireContext(ctx) }()
			time.Sleep(30 * time.Millisecond)
			select {
			case err := <-done:
				t.Fatalf("Acquire returned while the holder lives: %v", err)
			default:
			}
			start := time.Now()
			if how == "SIGKILL" {
				p.Kill()
			} else {
				exit.Set() // the child exits 3, still holding the lock
			}
			err := <-done
			if !errors.Is(err, mp.ErrLockAbandoned) {
				t.Fatalf("Acquire after the holder died: %v", err)
			}
			t.Logf("abandonment noticed after %v", time.Since(start))
			if mp.LockOwner(l) != os.Getpid() {
				t.Fatalf("owner %d after takeover, want %d", mp.LockOwner(l), os.Getpid())
			}
			if code := joinCode(t, p); (how == "SIGKILL" && code != -9) || (how == "exit" && code != 3) {
				t.Fatalf("child exit code %d", code)
			}
			l.Unlock()
			if err := l.AcquireTimeout(0); err != nil {
				t.Fatalf("the lock after recovery: %v", err)
			}
			l.Unlock()
		})
	}
}

// AcquireTimeout(0) and Lock (which takes over silently) also recover a lock
// whose holder is already dead and reaped.
func TestLockAbandonedBeforeAcquire(t *testing.T) {
	l := made(mp.NewLock())(t)
	holdAndExit := func() {
		t.Helper()
		held := made(mp.NewEvent())(t)
		exit := made(mp.NewEvent())(t)
		p := start(t, &mp.Process{Target: targets.HoldLockThenExit, Args: []any{l, held, exit}})
		waitSet(t, held)
		exit.Set()
		if code := joinCode(t, p); code != 3 {
			t.Fatalf("child exit %d", code)
		}
	}
	holdAndExit()
	if l.TryAcquire() {
		t.Fatal("TryAcquire took over an abandoned lock")
	}
	if err := l.AcquireTimeout(0); !errors.Is(err, mp.ErrLockAbandoned) {
		t.Fatalf("AcquireTimeout(0): %v", err)
	}
	l.Unlock()

	holdAndExit()
	l.Lock() // returns: takes it over silently
	l.Unlock()
}

// An RLock held twice by a process that dies is taken over with count 1.
func TestRLockHolderCrash(t *testing.T) {
	l := made(mp.NewRLock())(t)
	held := made(mp.NewEvent())(t)
	p := start(t, &mp.Process{Target: targets.HoldRLockTwice, Args: []any{l, held}})
	waitSet(t, held)
	if l.TryAcquire() {
		t.Fatal("TryAcquire took an RLock another process holds")
	}
	p.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.AcquireContext(ctx); !errors.Is(err, mp.ErrLockAbandoned) {
		t.Fatalf("Acquire after the holder died: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if mp.RLockHeld(l) {
		t.Fatal("still held after one Release: the dead holder's count was kept")
	}
	join(t, p)
}

// Four processes share a semaphore of 2: never more than 2 hold a unit.
func TestSemaphoreProcesses(t *testing.T) {
	s := made(mp.NewSemaphore(2))(t)
	a := made(mp.NewArray[int64](2))(t)
	l := made(mp.NewLock())(t)
	var ps []*mp.Process
	for range 4 {
		ps = append(ps, start(t, &mp.Process{Target: targets.CountSemaphoreHolders, Args: []any{s, a, l, 30}}))
	}
	for _, p := range ps {
		if err := join(t, p); err != nil {
			t.Fatal(err)
		}
	}
	if cur, most := a.Slice()[0], a.Slice()[1]; cur != 0 || most < 1 || most > 2 {
		t.Fatalf("holders now %d, at most %d: want 0 and 1..2", cur, most)
	}
	if s.Value() != 2 {
		t.Fatalf("Value %d after all released", s.Value())
	}
}

func TestEventProcesses(t *testing.T) {
	e := made(mp.NewEvent())(t)
	done := made(mp.NewEvent())(t)
	if err := e.WaitTimeout(10 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitTimeout on a clear event: %v", err)
	}
	p := start(t, &mp.Process{Target: targets.WaitThenSet, Args: []any{e, done}})
	time.Sleep(50 * time.Millisecond)
	if done.IsSet() {
		t.Fatal("the child went on before the event was set")
	}
	e.Set()
	if !e.IsSet() {
		t.Fatal("IsSet after Set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := done.WaitContext(ctx); err != nil {
		t.Fatal(err)
	}
	if err := join(t, p); err != nil {
		t.Fatal(err)
	}
	e.Clear()
	if e.IsSet() {
		t.Fatal("IsSet after Clear")
	}
}

// Three processes wait on a condition; NotifyAll releases them all and each
// sees the change made under the lock.
func TestConditionProcesses(t *testing.T) {
	c := made(mp.NewCondition(nil))(t)
	a := made(mp.NewArray[int64](3))(t)
	s := a.Slice()
	var ps []*mp.Process
	for range 3 {
		ps = append(ps, start(t, &mp.Process{Target: targets.WaitForCondition, Args: []any{c, a}}))
	}
	// Wait until all three are waiting (they count themselves under the lock).
	deadline := time.Now().Add(20 * time.Second)
	for {
		c.Lock()
		n := s[2]
		c.Unlock()
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d children waiting", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := c.Notify(1); !errors.Is(err, mp.ErrCondNotHeld) {
		t.Fatalf("Notify without the lock: %v", err)
	}
	c.Lock()
	s[0] = 7
	if err := c.NotifyAll(); err != nil {
		t.Fatal(err)
	}
	c.Unlock()
	for _, p := range ps {
		if err := join(t, p); err != nil {
			t.Fatal(err)
		}
	}
	if s[1] != 21 {
		t.Fatalf("a[1] = %d, want 21", s[1])
	}
}

// The lost wake-up of issue 10, item 10, across processes. Parent: Lock;
// WaitFor(state == 0). Child: Lock; Store(0); Notify(1); WaitFor(state ==
// 4). The parent was waiting at the Notify, so it wakes; the child's own
// wait, which started afterwards, must not take that notification.
func TestConditionNotifierKeepsNoToken(t *testing.T) {
	c := made(mp.NewCondition(nil))(t)
	v := made(mp.NewValue[int64](1))(t)
	const rounds = 5
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c.Lock()
	p := start(t, &mp.Process{Target: targets.NotifyThenWait, Args: []any{c, v, rounds}})
	for r := range rounds {
		if err := c.WaitForContext(ctx, func() bool { return v.Load() == 0 }); err != nil {
			c.Unlock()
			t.Fatalf("round %d: the parent, waiting at the child's Notify(1), was not woken: %v", r, err)
		}
		v.Store(4)
		if err := c.Notify(1); err != nil {
			t.Fatal(err)
		}
	}
	c.Unlock()
	if err := join(t, p); err != nil {
		t.Fatal(err)
	}
}

// A waiter process killed while it waits does not swallow a notification:
// Notify(1) skips it and wakes the waiter behind it.
func TestConditionDeadWaiterProcess(t *testing.T) {
	c := made(mp.NewCondition(nil))(t)
	a := made(mp.NewArray[int64](3))(t)
	s := a.Slice()
	waiting := func(n int64) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			c.Lock()
			k := s[2]
			c.Unlock()
			if k == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d waiting, want %d", k, n)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	p := start(t, &mp.Process{Target: targets.WaitForCondition, Args: []any{c, a}})
	waiting(1)
	p.Kill()
	if code := joinCode(t, p); code != -9 {
		t.Fatalf("child exit code %d", code)
	}
	res := make(chan error, 1)
	go func() {
		c.Lock()
		s[2]++
		err := c.WaitTimeout(20 * time.Second)
		c.Unlock()
		res <- err
	}()
	waiting(2)
	c.Lock()
	if err := c.Notify(1); err != nil {
		t.Fatal(err)
	}
	c.Unlock()
	select {
	case err := <-res:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Notify(1) went to the dead waiter: the live one was not woken")
	}
}

// Four processes pass a barrier together, round after round; none passes
// before all arrived, and each round's arrival indices are 0..3.
func TestBarrierFourProcesses(t *testing.T) {
	const parties, rounds = 4, 20
	b := made(mp.NewBarrier(parties))(t)
	a := made(mp.NewArray[int32](4 + rounds*4))(t)
	var ps []*mp.Process
	for id := range parties {
		ps = append(ps, start(t, &mp.Process{Target: targets.BarrierRounds, Args: []any{b, a, id, rounds}}))
	}
	for _, p := range ps {
		if err := join(t, p); err != nil {
			t.Fatal(err)
		}
	}
	s := a.Slice()
	for r := range rounds {
		seen := map[int32]bool{}
		for id := range parties {
			seen[s[4+r*4+id]] = true
		}
		if len(seen) != parties || !seen[0] || !seen[parties-1] {
			t.Fatalf("round %d: arrival indices %v", r, s[4+r*4:8+r*4])
		}
	}
	if b.Broken() || b.NWaiting() != 0 {
		t.Fatalf("after the rounds: broken %v, waiting %d", b.Broken(), b.NWaiting())
	}
}

// A handle passed where a target takes another kind is refused; the right
// kind is accepted. (The importer's own refusal, which a child runs, is
// TestImportMismatch in package mp.)
func TestTargetsImportMismatch(t *testing.T) {
	a := made(mp.NewArray[float64](10))(t)
	if err := (&mp.Process{Target: targets.LockedIncrements, Args: []any{a, a, 1}}).Start(); err == nil {
		t.Fatal("an Array was accepted for a *Lock parameter")
	}
	i := made(mp.NewArray[int64](10))(t)
	l := made(mp.NewLock())(t)
	if err := (&mp.Process{Target: targets.LockedIncrements, Args: []any{l, a, 1}}).Start(); err == nil {
		t.Fatal("an Array[float64] was accepted for an *Array[int64] parameter")
	}
	if err := join(t, start(t, &mp.Process{Target: targets.LockedIncrements, Args: []any{l, i, 1}})); err != nil || i.Slice()[0] != 1 {
		t.Fatalf("the right kinds: %v, a[0] = %d", err, i.Slice()[0])
	}
}

// An Array a child writes is seen by the parent, in place.
func TestArrayWrittenByChild(t *testing.T) {
	a := made(mp.NewArray[float64](100000))(t)
	s := a.Slice()
	if a.Len() != 100000 || len(s) != 100000 {
		t.Fatalf("Len %d", a.Len())
	}
	if err := join(t, start(t, &mp.Process{Target: targets.FillHalves, Args: []any{a}})); err != nil {
		t.Fatal(err)
	}
	for i, v := range s {
		if v != float64(i)/2 {
			t.Fatalf("a[%d] = %v after the child wrote it", i, v)
		}
	}
}

// A struct Value changed by four processes under its own lock.
func TestValueLockedProcesses(t *testing.T) {
	v := made(mp.NewValue(targets.Particle{X: 10, Ok: true, F: [3]float32{1, 2, 3}}))(t)
	var ps []*mp.Process
	for range 4 {
		ps = append(ps, start(t, &mp.Process{Target: targets.MoveParticle, Args: []any{v, 3000}}))
	}
	for _, p := range ps {
		if err := join(t, p); err != nil {
			t.Fatal(err)
		}
	}
	got := v.Load()
	want := targets.Particle{X: 10 + 4*3000, Y: -2 * 4 * 3000, Ok: true, F: [3]float32{1, 2, 3}}
	if got != want {
		t.Fatalf("value %+v, want %+v", got, want)
	}
	v.Store(targets.Particle{})
	if *v.Pointer() != (targets.Particle{}) {
		t.Fatal("Store then Pointer")
	}
}

// shmName returns a name no other test (or engineer) uses, and removes its
// file when the test ends, whatever happened.
func shmName(t *testing.T) string {
	name := "test-" + itoa(os.Getpid()) + "-" + strings.ReplaceAll(t.Name(), "/", "-")
	t.Cleanup(func() { os.Remove(shmPath(name)) })
	return name
}

func shmPath(name string) string { return "/dev/shm/mpgen-" + name }

func shmExists(t *testing.T, name string) bool {
	t.Helper()
	_, err := os.Stat(shmPath(name))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// The creator crashes (SIGKILL, or exit without Close) while this process
// is attached: the block stays, with its data. Once this process closes
// too, it is gone.
func TestSharedMemoryCreatorCrash(t *testing.T) {
	for _, how := range []string{"SIGKILL", "exit"} {
		t.Run(how, func(t *testing.T) {
			name := shmName(t)
			ready := made(mp.NewEvent())(t)
			exit := made(mp.NewEvent())(t)
			p := start(t, &mp.Process{Target: targets.CreateFillHold, Args: []any{name, ready, exit}})
			waitSet(t, ready)
			m, err := mp.AttachSharedMemory(name)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { m.Close() })
			if how == "SIGKILL" {
				p.Kill()
			} else {
				exit.Set()
			}
			code := joinCode(t, p)
			if (how == "SIGKILL" && code != -9) || (how == "exit" && code != 3) {
				t.Fatalf("creator exit code %d", code)
			}
			mp.SweepSharedMemory()
			if !shmExists(t, name) {
				t.Fatal("block removed after its creator died while another process holds it")
			}
			m2, err := mp.AttachSharedMemory(name)
			if err != nil {
				t.Fatalf("attach after the creator died: %v", err)
			}
			for i, b := range m2.Bytes() {
				if b != 0xA5 {
					t.Fatalf("byte %d is %#x, want 0xa5", i, b)
				}
			}
			m2.Close()
			m.Close()
			if shmExists(t, name) {
				t.Fatal("block left after the last holder closed it")
			}
		})
	}
}

// Every holder ends without Close: the block is garbage, and a sweep
// removes it. (The creator is killed, and the parent sweeps after it: the
// attacher still holds the block. The attacher then exits 0, after which
// the parent does not sweep on its own.)
func TestSharedMemorySweepAfterCrashes(t *testing.T) {
	name := shmName(t)
	ready := made(mp.NewEvent())(t)
	exit := made(mp.NewEvent())(t)
	h := start(t, &mp.Process{Target: targets.CreateFillHold, Args: []any{name, ready, exit}})
	waitSet(t, ready)
	attached := made(mp.NewEvent())(t)
	a := start(t, &mp.Process{Target: targets.AttachHold, Args: []any{name, attached, exit}})
	waitSet(t, attached)
	h.Kill()
	if code := joinCode(t, h); code != -9 {
		t.Fatalf("creator exit code %d", code)
	}
	mp.SweepSharedMemory()
	if !shmExists(t, name) {
		t.Fatal("block removed while the attacher holds it")
	}
	exit.Set()
	if err := join(t, a); err != nil {
		t.Fatal(err)
	}
	if !shmExists(t, name) {
		t.Fatal("who removed it? nobody swept yet")
	}
	n, err := mp.SweepSharedMemory()
	if err != nil || n < 1 {
		t.Fatalf("sweep removed %d: %v", n, err)
	}
	if shmExists(t, name) {
		t.Fatal("garbage block left after the sweep")
	}
}

// An attacher that exits, even cleanly and without Close, never removes the
// block from under its creator (Python's resource tracker does:
// cpython#82300).
func TestSharedMemoryAttacherExit(t *testing.T) {
	name := shmName(t)
	m := made(mp.CreateSharedMemory(name, 1<<16))(t)
	for range 3 {
		if err := join(t, start(t, &mp.Process{Target: targets.AttachAndFill, Args: []any{name, byte(0x5A)}})); err != nil {
			t.Fatal(err)
		}
		mp.SweepSharedMemory()
		if !shmExists(t, name) {
			t.Fatal("an attacher's exit removed the block")
		}
	}
	if m.Bytes()[0] != 0x5A {
		t.Fatal("the attacher's write is not visible")
	}
}

func itoa(i int) string { return string(appendInt(nil, i)) }

func appendInt(b []byte, i int) []byte {
	if i >= 10 {
		b = appendInt(b, i/10)
	}
	return append(b, byte('0'+i%10))
}
