//go:build linux || windows

package mp_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

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
	if code := joinCode(t, p); code != killCode {
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
