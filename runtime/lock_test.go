//go:build linux || windows

package mp_test

import (
	"context"
	"errors"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

func TestTargetsLockedCounter(t *testing.T) {
	if runtime.GOOS != "windows" {
		noNewFDs(t) // it reads /proc/self/fd
	}
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

// The crash semantics: a process that dies holding the lock (killed, or
// exiting without unlocking) leaves it to the next acquirer, which is told
// with ErrLockAbandoned and holds the lock. The dead holder may still be a
// zombie (not reaped; on Windows, an exited process whose handle is open)
// while the waiter notices: zombies hold nothing.
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
			if code := joinCode(t, p); (how == "SIGKILL" && code != killCode) || (how == "exit" && code != 3) {
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
