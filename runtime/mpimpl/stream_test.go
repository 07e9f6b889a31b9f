package mpimpl_test

import (
	"context"
	"errors"
	"iter"
	"testing"
	"time"

	mp "github.com/mpgen/mpgen/runtime"
)

// endless is an endless sequence of item(0), item(1), ... that counts the
// items taken from it, the most taken ahead of *yielded (the loop's count
// of outcomes), and whether its consumer stopped it. The counts are the
// loop goroutine's: seq runs inside the loop.
type endless[T any] struct {
	item            func(i int) T
	yielded         *int
	taken, maxAhead int
	stopped         bool
}

func (e *endless[T]) seq() iter.Seq[T] {
	return func(yield func(T) bool) {
		for i := 0; ; i++ {
			e.taken++
			e.maxAhead = max(e.maxAhead, e.taken-*e.yielded)
			if !yield(e.item(i)) {
				e.stopped = true
				return
			}
		}
	}
}

// A stream runs on a remote pool as on a local one: in order, with the
// items taken ahead bounded by InFlight*Chunksize, and a loop that stops
// early, or whose context is cancelled, cancels the calls running in the
// transport's workers.
func TestRemoteIMapSeq(t *testing.T) {
	f := newFake(2)
	p := newRemotePool(t, f)
	const chunk, window = 2, 3

	yielded := 0
	e := &endless[int]{item: func(i int) int { return i }, yielded: &yielded}
	for o := range mp.IMapSeq[int, int](context.Background(), p, remoteDouble, e.seq(), mp.Chunksize(chunk), mp.InFlight(window)) {
		if o.Index != yielded || o.Err != nil || o.Value != 2*o.Index {
			t.Fatalf("outcome %d: %+v", yielded, o)
		}
		if yielded++; yielded == 300 {
			break
		}
	}
	if !e.stopped || e.maxAhead > chunk*window || e.taken > yielded+chunk*window {
		t.Errorf("after the break: stopped %v, %d items taken for %d outcomes, at most %d ahead (bound %d)", e.stopped, e.taken, yielded, e.maxAhead, chunk*window)
	}
	// The remote workers' time is accounted as a local worker's.
	in := p.Insights()
	for _, r := range in.Workers {
		if r.Pid != 0 || r.Starting+r.Idle+r.Working+r.Sending != r.Lifetime {
			t.Errorf("remote worker's insights: %+v", r)
		}
	}
	if len(in.Workers) != 2 || in.Total.Items < yielded {
		t.Errorf("remote pool's insights: %d workers, %d items answered for %d outcomes\n%v", len(in.Workers), in.Total.Items, yielded, in)
	}

	for _, stop := range []string{"break", "cancel"} {
		t.Run(stop, func(t *testing.T) {
			open, shut := newGate(t, stop+"-open"), newGate(t, stop+"-shut")
			open.open()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if stop == "cancel" {
				go func() { // once both slots run a call that cannot end
					<-shut.started
					<-shut.started
					cancel()
				}()
			}
			yielded := 0
			// Item 0 ends at once; the others wait for ever.
			e := &endless[string]{item: func(i int) string { return map[bool]string{true: stop + "-open", false: stop + "-shut"}[i == 0] }, yielded: &yielded}
			for o := range mp.IMapSeq[string, string](ctx, p, remoteHold, e.seq(), mp.Chunksize(1), mp.InFlight(window)) {
				switch {
				case o.Index != yielded:
					t.Fatalf("outcome %d is item %d's", yielded, o.Index)
				case o.Index == 0 && (o.Err != nil || o.Value != stop+"-open"):
					t.Fatalf("item 0: %+v", o)
				case o.Index > 0 && !errors.Is(o.Err, context.Canceled):
					t.Fatalf("item %d: %+v; want context.Canceled", o.Index, o)
				}
				yielded++
				if stop == "break" {
					break
				}
			}
			if !e.stopped || e.maxAhead > window {
				t.Errorf("stopped %v, %d taken, at most %d ahead (bound %d)", e.stopped, e.taken, e.maxAhead, window)
			}
			if stop == "cancel" && yielded != e.taken {
				t.Errorf("%d outcomes for %d items taken", yielded, e.taken)
			}
			// Every waiting call that started was cancelled where it ran.
			deadline := time.After(10 * time.Second)
			for f.inFlight.Load() > 0 {
				select {
				case <-deadline:
					t.Fatalf("%d calls still run in the transport's workers", f.inFlight.Load())
				case <-time.After(time.Millisecond):
				}
			}
			for range len(shut.ended) {
				if err := <-shut.ended; !errors.Is(err, context.Canceled) {
					t.Errorf("a waiting call ended with %v; want context.Canceled", err)
				}
			}
		})
	}
	f.checkSlots(t)
}
