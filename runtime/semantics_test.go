//go:build linux || windows

package mp_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

// TestPythonSemantics: where Python's multiprocessing says what happens,
// mpgen does the same (issue 10, item 14).
func TestPythonSemantics(t *testing.T) {
	t.Run("Join after Close", func(t *testing.T) {
		// Python: ValueError("process object is closed").
		p := start(t, &mp.Process{Target: targets.Echo, Args: []any{"x"}})
		if err := join(t, p); err != nil {
			t.Fatal(err)
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		for _, err := range []error{p.Join(), p.JoinTimeout(time.Second), p.JoinContext(context.Background())} {
			if !errors.Is(err, mp.ErrClosed) {
				t.Fatalf("Join after Close: %v, want ErrClosed", err)
			}
		}
	})

	t.Run("JoinTimeout of an ended child", func(t *testing.T) {
		// Python: join(timeout) with any timeout returns at once once
		// the child has ended; a negative timeout behaves like 0.
		p := start(t, &mp.Process{Target: targets.Echo, Args: []any{"x"}})
		if err := join(t, p); err != nil {
			t.Fatal(err)
		}
		for i := range 50 {
			for _, d := range []time.Duration{0, -time.Nanosecond, -time.Hour} {
				if err := p.JoinTimeout(d); err != nil {
					t.Fatalf("round %d: JoinTimeout(%v) of an ended child: %v", i, d, err)
				}
			}
		}
	})

	t.Run("second Close of a Queue or Conn", func(t *testing.T) {
		// Python: closing again is not an error.
		q, err := mp.NewQueue[int](0)
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Put(1); err != nil {
			t.Fatal(err)
		}
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		if err := q.Close(); err != nil {
			t.Fatalf("second Queue.Close: %v", err)
		}
		a, b, err := mp.Pipe[int](true)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []*mp.Conn[int]{a, b} {
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if err := c.Close(); err != nil {
				t.Fatalf("second Conn.Close: %v", err)
			}
		}
	})

	t.Run("SharedMemory.Unlink after Close", func(t *testing.T) {
		skipOnWindows(t, "Unlink does nothing there, as Python's: a name lives while a holder holds it (TestSharedMemoryGoneWithLastHolder)")
		// Python: unlink() after close() unlinks, or says the name does
		// not exist.
		name := fmt.Sprintf("semantics-%d", os.Getpid())
		m, err := mp.CreateSharedMemory(name, 4096)
		if err != nil {
			t.Fatal(err)
		}
		other, err := mp.AttachSharedMemory(name)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		if err := m.Unlink(); err != nil {
			t.Fatalf("Unlink after Close, with another holder: %v", err)
		}
		if _, err := mp.AttachSharedMemory(name); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Attach after Unlink: %v, want fs.ErrNotExist", err)
		}
		if err := m.Unlink(); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("second Unlink after Close: %v, want fs.ErrNotExist", err)
		}
		other.Bytes()[0] = 1 // the other holder keeps its memory

		// The last holder's Close removed the block: the name is gone.
		solo, err := mp.CreateSharedMemory(name+"-solo", 4096)
		if err != nil {
			t.Fatal(err)
		}
		if err := solo.Close(); err != nil {
			t.Fatal(err)
		}
		if err := solo.Unlink(); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Unlink after the last Close: %v, want fs.ErrNotExist", err)
		}
	})

	t.Run("MaxTasksPerChild below 0", func(t *testing.T) {
		// Python: ValueError("maxtasksperchild must be a positive int or None").
		p, err := mp.NewPool(context.Background(), mp.Workers(1), mp.MaxTasksPerChild(-1))
		if err == nil {
			p.Terminate()
			_ = p.Join()
			t.Fatal("NewPool with MaxTasksPerChild(-1) succeeded")
		}
	})

	t.Run("Barrier timeout breaks it for all", func(t *testing.T) {
		// Python: the waiter that times out raises BrokenBarrierError, and
		// so do the others; here its error matches both.
		b, err := mp.NewBarrier(3)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		var wg sync.WaitGroup
		other := make(chan error, 1)
		wg.Go(func() { _, err := b.Wait(); other <- err })
		for b.NWaiting() != 1 {
			time.Sleep(time.Millisecond)
		}
		_, err = b.WaitTimeout(30 * time.Millisecond)
		var te *mp.TimeoutError
		if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, mp.ErrBrokenBarrier) {
			t.Fatalf("the waiter that timed out: %v, want a *TimeoutError matching ErrBrokenBarrier", err)
		}
		wg.Wait()
		if err := <-other; !errors.Is(err, mp.ErrBrokenBarrier) {
			t.Fatalf("the other waiter: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		b.Reset()
		if _, err := b.WaitContext(ctx); !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, mp.ErrBrokenBarrier) {
			t.Fatalf("WaitContext past its deadline: %v, want a timeout matching ErrBrokenBarrier", err)
		}
	})
}
