//go:build linux || windows

package mp_test

import (
	"context"
	"errors"
	"iter"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

// counter is an endless sequence of items made by item(0), item(1), ...
// It records how many items were taken from it, how far they ran ahead of
// the outcomes the test's loop has seen (the loop counts them in yielded),
// and whether its consumer stopped it.
type counter[T any] struct {
	item     func(i int) T
	taken    atomic.Int64 // read by the test's other goroutines
	yielded  int          // the loop's count; seq runs in the loop's goroutine
	maxAhead int          // the most items taken and not yet yielded
	stopped  bool         // yield returned false
}

func (c *counter[T]) seq() iter.Seq[T] {
	return func(yield func(T) bool) {
		for i := 0; ; i++ {
			c.taken.Add(1)
			c.maxAhead = max(c.maxAhead, int(c.taken.Load())-c.yielded)
			if !yield(c.item(i)) {
				c.stopped = true
				return
			}
		}
	}
}

// noLeak fails t unless every goroutine not in before has ended within a
// bound (goroutines that finish a cancel may take a moment).
func noLeak(t *testing.T, before map[string]bool) {
	t.Helper()
	var left []string
	if !targets.Eventually(10*time.Second, func() bool {
		left = newGoroutines(before)
		return len(left) == 0
	}) {
		t.Errorf("%d goroutines left after the stream ended:\n%s", len(left), strings.Join(left, "\n\n"))
	}
}

// An endless sequence consumed for some items, then stopped by breaking
// the loop or by cancelling its context: the items taken never run ahead of
// the outcomes yielded by more than InFlight*Chunksize, the outcomes come
// in order, the sequence is stopped, nothing is left running, and the pool
// serves on.
func TestIMapSeqEndless(t *testing.T) {
	const chunk, window, want = 3, 4, 500
	const bound = window * chunk
	p := newPool(t, mp.Workers(2))
	stillServes(t, testCtx(t), p) // the pool's own goroutines exist before the snapshot
	for _, ordered := range []bool{true, false} {
		for _, stop := range []string{"break", "cancel"} {
			name := map[bool]string{true: "ordered", false: "unordered"}[ordered] + "/" + stop
			t.Run(name, func(t *testing.T) {
				before := goroutineIDs()
				ctx, cancel := context.WithCancel(testCtx(t))
				defer cancel()
				c := &counter[int]{item: func(i int) int { return 10 * i }}
				imap := mp.IMapSeqUnordered[int, int]
				if ordered {
					imap = mp.IMapSeq[int, int]
				}
				seen := map[int]bool{}
				cancelled := 0
				for o := range imap(ctx, p, targets.Identity, c.seq(), mp.Chunksize(chunk), mp.InFlight(window)) {
					c.yielded++
					switch {
					case ordered && o.Index != c.yielded-1:
						t.Fatalf("outcome %d is item %d's", c.yielded-1, o.Index)
					case o.Index < 0 || o.Index >= int(c.taken.Load()) || seen[o.Index]:
						t.Fatalf("outcome of item %d, with %d taken, seen before: %v", o.Index, c.taken.Load(), seen[o.Index])
					case errors.Is(o.Err, context.Canceled) && c.yielded > want:
						cancelled++
					case o.Err != nil || o.Value != 10*o.Index:
						t.Fatalf("item %d: %v, %v", o.Index, o.Value, o.Err)
					}
					seen[o.Index] = true
					if c.yielded == want {
						if stop == "break" {
							break
						}
						cancel()
					}
					if c.yielded > want+bound {
						t.Fatalf("%d outcomes after the cancel, more than the %d items that may be in flight", c.yielded-want, bound)
					}
				}
				taken := int(c.taken.Load())
				t.Logf("%d items taken, %d outcomes (%d cancelled), at most %d ahead", taken, c.yielded, cancelled, c.maxAhead)
				if c.maxAhead > bound {
					t.Errorf("%d items were taken before their outcomes were yielded, over InFlight*Chunksize = %d", c.maxAhead, bound)
				}
				if !c.stopped {
					t.Error("the sequence was not stopped")
				}
				switch stop {
				case "break":
					if c.yielded != want || taken > want+bound {
						t.Errorf("after the break: %d outcomes, %d items taken", c.yielded, taken)
					}
				case "cancel":
					// Every item taken has its outcome: the items in
					// flight when ctx ended report it.
					if c.yielded != taken {
						t.Errorf("after the cancel: %d outcomes for %d items taken", c.yielded, taken)
					}
				}
				noLeak(t, before)
				stillServes(t, testCtx(t), p)
			})
		}
	}
}

// A stream whose calls cannot finish fills exactly InFlight chunks and
// then takes no more items; cancelling its context ends every call in
// flight with context.Canceled, and the loop with them.
func TestIMapSeqBlockedThenCancelled(t *testing.T) {
	const chunk, window = 2, 3
	p := newPool(t, mp.Workers(2))
	stillServes(t, testCtx(t), p)
	before := goroutineIDs()
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	c := &counter[time.Duration]{item: func(int) time.Duration { return time.Hour }}
	// The cancel comes once the window is full: the loop is blocked waiting
	// for the oldest chunk, and takes nothing more until it finishes.
	go func() {
		targets.Eventually(30*time.Second, func() bool { return c.taken.Load() >= window*chunk })
		cancel()
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for o := range mp.IMapSeq[time.Duration, struct{}](ctx, p, targets.Sleep, c.seq(), mp.Chunksize(chunk), mp.InFlight(window)) {
			if o.Index != c.yielded || !errors.Is(o.Err, context.Canceled) {
				t.Errorf("outcome %d: item %d, %v; want context.Canceled", c.yielded, o.Index, o.Err)
			}
			c.yielded++
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the loop did not end after its context was cancelled")
	}
	if n := c.taken.Load(); n != window*chunk || c.yielded != window*chunk || c.maxAhead != window*chunk || !c.stopped {
		t.Errorf("%d items taken (at most %d ahead), %d outcomes, stopped %v; want exactly InFlight*Chunksize = %d",
			n, c.maxAhead, c.yielded, c.stopped, window*chunk)
	}
	noLeak(t, before)
	stillServes(t, testCtx(t), p)
}

// Every item of a stream has its own outcome, in order, the failed ones
// with their error; the default options bound the items ahead to
// 4 per worker, one item to a chunk.
func TestIMapSeqOutcomes(t *testing.T) {
	ctx := testCtx(t)
	const workers, n = 2, 203
	p := newPool(t, mp.Workers(workers))
	for _, tc := range []struct {
		opts          []mp.MapOption
		chunk, window int
	}{
		{nil, 1, 4 * workers},
		{[]mp.MapOption{mp.Chunksize(4)}, 4, 4 * workers},
		{[]mp.MapOption{mp.Chunksize(7), mp.InFlight(1)}, 7, 1},
	} {
		c := &counter[int]{item: func(i int) int { return i }}
		finite := func(yield func(int) bool) {
			for x := range c.seq() {
				if x == n || !yield(x) {
					return
				}
			}
		}
		var last int
		opts := append(tc.opts, mp.Progress(func(done, total int) {
			if total != -1 || done <= last {
				t.Errorf("progress %d/%d after %d", done, total, last)
			}
			last = done
		}))
		for o := range mp.IMapSeq[int, int](ctx, p, targets.FailOdd, finite, opts...) {
			if o.Index != c.yielded {
				t.Fatalf("outcome %d is item %d's", c.yielded, o.Index)
			}
			if o.Index%2 == 1 {
				if !errors.Is(o.Err, targets.ErrBoom) {
					t.Errorf("odd item %d: %v, %v", o.Index, o.Value, o.Err)
				}
			} else if o.Err != nil || o.Value != o.Index {
				t.Errorf("even item %d: %v, %v", o.Index, o.Value, o.Err)
			}
			c.yielded++
		}
		if c.yielded != n || last != n || c.maxAhead > tc.chunk*tc.window {
			t.Errorf("chunk %d, window %d: %d outcomes of %d items, progress %d, %d items ahead at most", tc.chunk, tc.window, c.yielded, n, last, c.maxAhead)
		}
	}
	// A call that cannot run at all is one outcome, and takes nothing.
	c := &counter[string]{item: func(int) string { return "x" }}
	for o := range mp.IMapSeq[string, int](ctx, p, targets.Identity, c.seq()) {
		if o.Index != -1 || !errors.As(o.Err, new(*mp.ArgError)) {
			t.Errorf("IMapSeq with the wrong item type: %+v", o)
		}
		c.yielded++
	}
	if c.yielded != 1 || c.taken.Load() != 0 {
		t.Errorf("IMapSeq with the wrong item type: %d outcomes, %d items taken", c.yielded, c.taken.Load())
	}
}

// An endless stream on a pool that is closed or terminated ends at the
// first chunk the pool refuses, with its error, rather than take the
// endless rest.
func TestIMapSeqPoolGone(t *testing.T) {
	for _, stop := range []string{"Close", "Terminate"} {
		t.Run(stop, func(t *testing.T) {
			p := newPool(t, mp.Workers(1))
			if stop == "Close" {
				p.Close()
			} else {
				p.Terminate()
			}
			endless := func(yield func(int) bool) {
				for i := 0; ; i++ {
					if !yield(i) {
						return
					}
				}
			}
			n := 0
			var last error
			for o := range mp.IMapSeq[int, int](testCtx(t), p, targets.Identity, endless, mp.InFlight(2)) {
				n++
				last = o.Err
				if n > 100 {
					t.Fatalf("%d outcomes and counting from a pool after %s", n, stop)
				}
			}
			if n == 0 || !(errors.Is(last, mp.ErrPoolClosed) || errors.Is(last, mp.ErrPoolTerminated)) {
				t.Fatalf("after %s: %d outcomes, the last %v; want the pool's error", stop, n, last)
			}
		})
	}
}
