package mp

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/mpgen/mpgen/runtime/internal/shm"
)

// A Queue's shared words, in a segment of its own that travels with it:
// the count of unfinished tasks (JoinableQueue's), and for a bounded queue
// the free room and a shut-down flag that wakes putters waiting for room.
const (
	offUnfinished = shm.OffWords
	offRoom       = shm.OffWords + 4
	offShutDown   = shm.OffWords + 8
)

// makeCounts makes the queue's shared words. Off Unix and Windows there are none: the
// queue works, unbounded, but TaskDone and Join report errors.ErrUnsupported.
func (q *Queue[T]) makeCounts() error {
	s, err := shm.New(shm.KindQueue, shm.OffWords+12)
	if err != nil {
		if errors.Is(err, errors.ErrUnsupported) && q.max == 0 {
			return nil
		}
		return err
	}
	q.counts = s
	atomic.StoreUint32(q.word(offRoom), uint32(q.max))
	return nil
}

func (q *Queue[T]) word(off int) *uint32 { return q.counts.Word(off) }

// takeRoom waits for room in a bounded queue and takes it.
func (q *Queue[T]) takeRoom(ctx context.Context, timeout time.Duration) error {
	if q.max == 0 || q.counts == nil {
		return nil
	}
	defer runtime.KeepAlive(q) // the words are q's mapping
	room := q.word(offRoom)
	var wt *shm.Waiter
	for {
		if q.closed.Load() {
			return &closedError{"Queue.Put"}
		}
		if atomic.LoadUint32(q.word(offShutDown)) != 0 {
			return ErrQueueShutDown
		}
		r := atomic.LoadUint32(room)
		if r > 0 {
			if atomic.CompareAndSwapUint32(room, r, r-1) {
				return nil
			}
			continue
		}
		if wt == nil {
			wt = newWaiter(ctx, room, "Queue.Put", timeout)
			defer wt.Done()
		}
		if timeout == 0 {
			return &TimeoutError{Op: "Queue.Put", err: ErrQueueFull}
		}
		if err := wt.Sleep(room, 0); err != nil && err != shm.ErrSlice {
			if te, ok := err.(*TimeoutError); ok {
				te.err = ErrQueueFull
			}
			return err
		}
	}
}

// giveRoom returns the room of a value got from a bounded queue.
func (q *Queue[T]) giveRoom() {
	if q.max == 0 || q.counts == nil {
		return
	}
	atomic.AddUint32(q.word(offRoom), 1)
	shm.Wake(q.word(offRoom), 1)
}

// addTask counts a value put as an unfinished task.
func (q *Queue[T]) addTask() {
	if q.counts != nil {
		atomic.AddUint32(q.word(offUnfinished), 1)
	}
}

// undoPut takes back the task and the room of a value that was not put.
func (q *Queue[T]) undoPut() {
	if q.counts == nil {
		return
	}
	q.taskDone()
	q.giveRoom()
}

// TaskDone tells the queue that a value got from it has been dealt with
// (Python's JoinableQueue.task_done). Join returns once every value put has
// been marked done.
func (q *Queue[T]) TaskDone() error {
	if q.closed.Load() {
		return &closedError{"Queue.TaskDone"}
	}
	if q.counts == nil {
		return fmt.Errorf("mp: Queue.TaskDone: %w", errors.ErrUnsupported)
	}
	if !q.taskDone() {
		return ErrTaskDoneTooOften
	}
	return nil
}

func (q *Queue[T]) taskDone() bool {
	defer runtime.KeepAlive(q)
	w := q.word(offUnfinished)
	for {
		n := atomic.LoadUint32(w)
		if n == 0 {
			return false
		}
		if atomic.CompareAndSwapUint32(w, n, n-1) {
			if n == 1 {
				shm.Wake(w, 1<<30)
			}
			return true
		}
	}
}

// Join waits until every value put in the queue, by any process, has been
// marked done with TaskDone (Python's JoinableQueue.join).
func (q *Queue[T]) Join() error { return q.join(context.Background(), -1) }

// JoinTimeout is Join that gives up after d, with a *TimeoutError.
func (q *Queue[T]) JoinTimeout(d time.Duration) error { return q.join(context.Background(), max(d, 0)) }

// JoinContext is Join that gives up when ctx is done: with a *TimeoutError
// once its deadline passed, else with ctx.Err().
func (q *Queue[T]) JoinContext(ctx context.Context) error { return q.join(ctx, -1) }

func (q *Queue[T]) join(ctx context.Context, timeout time.Duration) error {
	if q.closed.Load() {
		return &closedError{"Queue.Join"}
	}
	if q.counts == nil {
		return fmt.Errorf("mp: Queue.Join: %w", errors.ErrUnsupported)
	}
	defer runtime.KeepAlive(q)
	w := q.word(offUnfinished)
	wt := newWaiter(ctx, w, "Queue.Join", timeout)
	defer wt.Done()
	for {
		if q.closed.Load() {
			return &closedError{"Queue.Join"}
		}
		n := atomic.LoadUint32(w)
		if n == 0 {
			return nil
		}
		if err := wt.Sleep(w, n); err != nil && err != shm.ErrSlice {
			return err
		}
	}
}

// Unfinished returns how many values put have not been marked done yet: the
// values in the queue and those being dealt with. Like Python's qsize, it
// is a snapshot that other processes may change at once.
func (q *Queue[T]) Unfinished() int {
	if q.counts == nil {
		return 0
	}
	return int(atomic.LoadUint32(q.word(offUnfinished)))
}

// markShutDown wakes putters waiting for room; they fail.
func (q *Queue[T]) markShutDown() {
	if q.counts == nil {
		return
	}
	atomic.StoreUint32(q.word(offShutDown), 1)
	shm.Wake(q.word(offRoom), 1<<30)
}

// wakeCounts wakes the goroutines of this process waiting on the shared
// words, after Close: they find the queue closed. (Other processes' waiters
// wake too, look again, and sleep on.)
func (q *Queue[T]) wakeCounts() {
	if q.counts != nil {
		shm.Wake(q.word(offRoom), 1<<30)
		shm.Wake(q.word(offUnfinished), 1<<30)
		// The descriptor goes now; the mapping stays until q is garbage.
		q.counts.File().Close()
	}
}

// unmapWhenUnreachable unmaps the shared words once q is garbage: not at
// Close, where a goroutine may still be reading them.
func (q *Queue[T]) unmapWhenUnreachable() {
	if q.counts != nil {
		runtime.AddCleanup(q, func(s *shm.Segment) { s.Close() }, q.counts)
	}
}
