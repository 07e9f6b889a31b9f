package mp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sync"
	"syscall"
	"time"
)

// Queue is a first-in first-out queue of T shared by many producer and
// consumer processes (Python's multiprocessing.Queue). Each value is one
// message on a SOCK_SEQPACKET socket that every holder of the queue shares,
// so the kernel hands each value to exactly one consumer, whole, and a
// crashed process cannot leave half a value behind. A Queue passed to a
// target travels as descriptors beside the call.
//
// Put never waits for room: when the socket's buffer is full, values wait
// in this process, in order, and a goroutine feeds them in as consumers make
// room (Python's feeder thread). Flush waits for them; a child process
// flushes its queues after its target returns, before it reports, so a
// value put by a target is never lost to its exit.
//
// Shutdown ends the queue for everyone, like closing a channel: consumers
// drain what was put and then get ErrQueueShutDown.
type Queue[T any] struct {
	put, get *msgSock // the two ends of the socketpair: values go in at put, out at get
	codec    Codec

	mu      sync.Mutex
	backlog []queued // values waiting for room, oldest first
	feeding bool
	flushed chan struct{} // closed when the backlog empties, if anyone waits
	err     error         // the feeder's first error, reported by the next Put or Flush
}

type queued struct {
	msg   []byte
	files []*os.File
}

// ErrQueueShutDown is returned by Get once a shut-down queue is empty, and
// by Put on a shut-down queue (Python's queue.ShutDown).
var ErrQueueShutDown = errors.New("mp: queue is shut down")

// ErrQueueEmpty is returned by TryGet when the queue has nothing ready, and
// wrapped by GetTimeout when nothing came in time (Python's queue.Empty).
var ErrQueueEmpty = errors.New("mp: queue is empty")

// NewQueue makes a queue.
func NewQueue[T any]() (*Queue[T], error) {
	a, b, err := seqpacketPair()
	if err != nil {
		return nil, err
	}
	q := &Queue[T]{put: a, get: b, codec: GobCodec{}}
	return q, nil
}

// Put adds v to the queue. It does not wait for room (see Queue).
func (q *Queue[T]) Put(v T) error {
	msg, files, err := encodeMsg(q.codec, reflect.ValueOf(&v).Elem())
	if err != nil {
		return fmt.Errorf("mp: put %T: %w", v, err)
	}
	q.mu.Lock()
	if err := q.err; err != nil {
		q.mu.Unlock()
		closeFiles(files)
		return err
	}
	if len(q.backlog) == 0 {
		sent, err := q.put.trySend(msg, files)
		if sent || err != nil {
			q.mu.Unlock()
			closeFiles(files)
			return queueErr(err)
		}
	}
	q.backlog = append(q.backlog, queued{msg, files})
	if !q.feeding {
		q.feeding = true
		feeders.Add(1)
		go q.feed()
	}
	q.mu.Unlock()
	return nil
}

// feeders counts the queues whose values wait in this process.
var feeders sync.WaitGroup

// feed sends the backlog as room appears.
func (q *Queue[T]) feed() {
	defer feeders.Done()
	for {
		q.mu.Lock()
		if len(q.backlog) == 0 || q.err != nil {
			for _, b := range q.backlog {
				closeFiles(b.files)
			}
			q.backlog = nil
			q.feeding = false
			if q.flushed != nil {
				close(q.flushed)
				q.flushed = nil
			}
			q.mu.Unlock()
			return
		}
		next := q.backlog[0]
		q.mu.Unlock()
		err := q.put.send(context.Background(), next.msg, next.files)
		closeFiles(next.files)
		q.mu.Lock()
		q.backlog = q.backlog[1:]
		if err != nil && q.err == nil {
			q.err = queueErr(err)
		}
		q.mu.Unlock()
	}
}

// Flush waits until every value this process put is in the queue, where
// other processes can get it (Python's join_thread).
func (q *Queue[T]) Flush(ctx context.Context) error {
	q.mu.Lock()
	if !q.feeding {
		err := q.err
		q.mu.Unlock()
		return err
	}
	if q.flushed == nil {
		q.flushed = make(chan struct{})
	}
	ch := q.flushed
	q.mu.Unlock()
	select {
	case <-ch:
		q.mu.Lock()
		defer q.mu.Unlock()
		return q.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// flushQueues waits for the backlog of every queue of this process.
func flushQueues() { feeders.Wait() }

// queueErr says that a queue was shut down when its socket says so.
func queueErr(err error) error {
	if errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) {
		return ErrQueueShutDown
	}
	return err
}

// Get removes and returns the oldest value, waiting for one (Python's get).
func (q *Queue[T]) Get() (T, error) { return q.GetContext(context.Background()) }

// GetTimeout is Get that gives up after d with an error that wraps
// ErrQueueEmpty (Python's get(timeout=d) raising queue.Empty).
func (q *Queue[T]) GetTimeout(d time.Duration) (T, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	v, err := q.GetContext(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("mp: queue get: nothing arrived within %v: %w", d, ErrQueueEmpty)
	}
	return v, err
}

// GetContext is Get that gives up when ctx is done, with ctx's error.
func (q *Queue[T]) GetContext(ctx context.Context) (T, error) {
	buf, n, files, err := q.get.recv(ctx)
	return q.decode(buf, n, files, err)
}

// TryGet returns the oldest value if one is ready, or ErrQueueEmpty
// (Python's get_nowait).
func (q *Queue[T]) TryGet() (T, error) {
	buf, n, files, ok, err := q.get.tryRecv()
	if err == nil && !ok {
		var zero T
		return zero, ErrQueueEmpty
	}
	return q.decode(buf, n, files, err)
}

func (q *Queue[T]) decode(buf *[]byte, n int, files []*os.File, err error) (T, error) {
	var v T
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = ErrQueueShutDown
		}
		return v, err
	}
	err = decodeMsg(q.codec, (*buf)[:n], files, &v)
	recvBufs.Put(buf)
	return v, err
}

// Shutdown ends the queue in every process that holds it: further puts fail
// and, once what was put has been got, Get returns ErrQueueShutDown.
// Values still waiting in this process are sent first.
func (q *Queue[T]) Shutdown() error {
	_ = q.Flush(context.Background())
	return q.put.shutdownSend()
}

// Close releases this process's hold on the queue after flushing what it
// put (Python's close and join_thread). Other processes keep using it.
func (q *Queue[T]) Close() error {
	ferr := q.Flush(context.Background())
	err := errors.Join(q.put.close(), q.get.close())
	if errors.Is(ferr, ErrQueueShutDown) {
		ferr = nil
	}
	return errors.Join(ferr, err)
}

// waitFile is the descriptor Wait watches: readable when a value is ready.
func (q *Queue[T]) waitFile() *os.File { return q.get.f }

const queueMeta = "queue/1"

func (q *Queue[T]) mpExport() ([]byte, []*os.File, error) {
	var b wbuf
	b.string(queueMeta)
	b.string(q.codec.Name())
	return b, []*os.File{q.put.f, q.get.f}, nil
}

func (q *Queue[T]) mpImport(meta []byte, files []*os.File) error {
	r := rbuf{b: meta}
	kind, codecName := r.string(), r.string()
	err := r.done()
	if err == nil && kind != queueMeta {
		err = fmt.Errorf("a %q handle cannot become a Queue", kind)
	}
	if err == nil && len(files) != 2 {
		err = fmt.Errorf("a Queue travels with 2 descriptors, got %d", len(files))
	}
	codec, ok := lookupCodec(codecName)
	if err == nil && !ok {
		err = fmt.Errorf("codec %q is not registered", codecName)
	}
	if err != nil {
		closeFiles(files)
		return fmt.Errorf("mp: import Queue: %w", err)
	}
	*q = Queue[T]{put: newMsgSock(files[0]), get: newMsgSock(files[1]), codec: codec}
	return nil
}
