package mp

import (
	"context"
	"errors"
	"iter"
	"slices"
)

// IMapSeq is IMap over a sequence: an input too large to hold, or one that
// never ends (Python 3.14's imap with buffersize). It takes items from seq
// only as room frees up: at most InFlight*Chunksize items (by default 4 per
// worker, one to a chunk) have been taken and not yet yielded, so memory
// stays bounded however long seq is and however slowly the loop consumes
// the outcomes. Results come in order; Outcome.Index counts the items taken
// before the item.
//
// Stopping the loop early stops taking items and cancels the chunks in
// flight. When ctx ends, IMapSeq takes no more items: the loop yields the
// outcomes of the items already taken, those unfinished with ctx's error
// (context.Canceled, or a *TimeoutError), and ends. seq itself must return
// promptly when its yield returns false; IMapSeq cannot interrupt a seq
// that blocks before yielding its next item. A pool closed or terminated
// under the loop fails the chunk it meets, and the loop ends there.
//
// The outcomes are yielded between the items seq gives: a seq that waits
// long for its next item (a source of events, say) delays the outcomes
// that finished meanwhile until it gives one, or ends.
func IMapSeq[T, R any](ctx context.Context, p *Pool, target any, seq iter.Seq[T], opts ...MapOption) iter.Seq[Outcome[R]] {
	return imap[T, R](ctx, p, target, seq, -1, opts, true)
}

// IMapSeqUnordered is IMapSeq in completion order (Python's imap_unordered
// with buffersize); Outcome.Index tells which item each result belongs to.
func IMapSeqUnordered[T, R any](ctx context.Context, p *Pool, target any, seq iter.Seq[T], opts ...MapOption) iter.Seq[Outcome[R]] {
	return imap[T, R](ctx, p, target, seq, -1, opts, false)
}

// imap is the IMap family: n is the number of items in seq, or -1 when it
// is unknown.
func imap[T, R any](ctx context.Context, p *Pool, target any, seq iter.Seq[T], n int, opts []MapOption, ordered bool) iter.Seq[Outcome[R]] {
	return func(yield func(Outcome[R]) bool) {
		// The chunks run under a context of the loop's own, so that a loop
		// that stops early cancels what is still in flight.
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		m, err := newMapper[T, R](ctx, p, target, n, opts)
		if err != nil {
			yield(Outcome[R]{Index: -1, Err: err})
			return
		}
		s := &streamer[T, R]{m: m, yield: yield, ordered: ordered}
		s.run(seq)
	}
}

// streamer runs one loop of the IMap family. The loop's goroutine does
// everything: it takes items from seq, submits full chunks and, whenever
// InFlight chunks are in flight, yields outcomes until one chunk's room is
// free before it takes the next item. Taking items from inside seq's own
// loop needs no goroutine (as iter.Pull would), so nothing is left running
// when the loop ends.
type streamer[T, R any] struct {
	m        *mapper[T, R]
	yield    func(Outcome[R]) bool
	ordered  bool
	inflight []chunk // submitted, oldest first, not yet yielded
	buf      []T     // items taken and not yet submitted
	next     int     // the index of buf[0]
	stopped  bool    // the loop stopped, or a chunk could not be submitted
}

func (s *streamer[T, R]) run(seq iter.Seq[T]) {
	ctx, cfg := s.m.ctx, s.m.cfg
	for v := range seq {
		s.buf = append(s.buf, v)
		if ctx.Err() != nil {
			break
		}
		if len(s.buf) < cfg.chunk {
			continue
		}
		// After submitting, at most InFlight-1 chunks stay in flight
		// before seq is asked for another item: items taken and not yet
		// yielded stay within InFlight*Chunksize.
		if !s.submit() || !s.settle(cfg.window-1) || ctx.Err() != nil {
			break
		}
	}
	if s.stopped {
		return
	}
	if len(s.buf) > 0 && ctx.Err() == nil && !s.submit() {
		return
	}
	if !s.settle(0) {
		return
	}
	// Items taken after ctx ended were never submitted: they are
	// reported, so that every item taken from seq has an outcome.
	err := ctxFailure(ctx, s.m.spec.Name)
	for i := range s.buf {
		if !s.yield(Outcome[R]{Index: s.next + i, Err: err}) {
			return
		}
	}
}

// submit sends the items in buf as one chunk.
func (s *streamer[T, R]) submit() bool {
	t, err := s.m.submit(s.buf, s.next)
	if err != nil {
		s.stopped = true
		s.yield(Outcome[R]{Index: s.next, Err: err})
		return false
	}
	s.inflight = append(s.inflight, chunk{t, s.next})
	s.next += len(s.buf)
	s.buf = nil // the next chunk's own: this one's encoding may share its memory
	return true
}

// settle yields the outcomes of the chunks that have finished (in order,
// for the ordered form: only while the oldest has), then waits for more
// until at most limit chunks are in flight. It reports false once the loop
// has stopped.
func (s *streamer[T, R]) settle(limit int) bool {
	for len(s.inflight) > 0 {
		i := s.finished()
		if i < 0 {
			if len(s.inflight) <= limit {
				return true
			}
			i = 0
			if !s.ordered {
				i = firstDone(s.inflight, func(c chunk) <-chan struct{} { return c.t.done })
			}
		}
		c := s.inflight[i]
		s.inflight = slices.Delete(s.inflight, i, i+1)
		for _, o := range s.m.collect(c.t, c.lo) {
			if !s.yield(o) {
				s.stopped = true
				return false
			}
		}
		if poolGone(c.t.err) {
			// Every chunk after this one would fail the same way: the
			// loop ends rather than take the rest of an endless seq.
			s.stopped = true
			return false
		}
	}
	return true
}

// poolGone reports whether err is a pool's that will take no more work.
func poolGone(err error) bool {
	return errors.Is(err, ErrPoolClosed) || errors.Is(err, ErrPoolTerminated)
}

// finished returns the index of a chunk that may be yielded now, or -1.
func (s *streamer[T, R]) finished() int {
	if s.ordered {
		if s.inflight[0].t.finished() {
			return 0
		}
		return -1
	}
	return slices.IndexFunc(s.inflight, func(c chunk) bool { return c.t.finished() })
}

// ctxFailure is the error of a call that ctx ended before it was sent, as
// a queued call's (see task.watch).
func ctxFailure(ctx context.Context, target string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &TimeoutError{Op: "call of " + target}
	}
	return ctx.Err()
}
