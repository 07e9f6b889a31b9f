package mp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mpgen/mpgen/runtime/internal/fdio"
	"github.com/mpgen/mpgen/runtime/internal/shm"
	"github.com/mpgen/mpgen/runtime/internal/wire"
)

// Queue is a first-in first-out queue of T shared by many producer and
// consumer processes (Python's multiprocessing.Queue). Each value is one
// message on a socket that every holder of the queue shares (SOCK_SEQPACKET
// on Linux; fixed-size records on a stream socket on macOS and the BSDs,
// see runtime/internal/fdio), so the kernel hands each value to exactly one
// consumer, whole, and a crashed process cannot leave half a value behind.
// A Queue passed to a target travels as descriptors beside the call.
//
// Put never waits for room: when the socket's buffer is full, values wait
// in this process, in order, and a goroutine feeds them in as consumers make
// room (Python's feeder thread). Flush waits for them; a child process
// flushes its queues after its target returns, before it reports, so a
// value put by a target is never lost to its exit. While values wait, the
// feeder sends up to batchMax small ones per message, and the consumer that
// receives such a batch keeps the rest for its next Gets: consumers that
// cannot keep up then pay one system call per batch, not per value. The
// values of a batch belong to the consumer that received it: its next Gets
// return them before anything else (and before ErrQueueShutDown), a Close
// puts back those it did not get, and a child's exit hands them to its
// parent, which puts them back (so the exit of a child that only got never
// waits for room in the queue, which a parent that keeps the queue full
// while it waits for the child would never make; from then on they wait
// in the parent like values it put), but a consumer that crashes loses
// them, up to batchMax values (they stop counting as unfinished tasks only
// if they are put back). A pool worker flushes its queues when it retires,
// not after each call, as Python's workers do: a pool whose queue nobody
// reads waits in Join.
//
// Shutdown ends the queue for everyone, like closing a channel: consumers
// drain what was put and then get ErrQueueShutDown.
type Queue[T any] struct {
	put, get *fdio.Sock // the two ends of the socketpair: values go in at put, out at get
	codec    Codec

	mu      sync.Mutex
	backlog []queued // values waiting for room, oldest first
	feeding bool
	flushed chan struct{} // closed when the backlog empties, if anyone waits
	err     error         // the feeder's first error, reported by the next Put or Flush

	rx    chan struct{} // the turn to receive, taken before looking at ahead
	ahead [][]byte      // values that came in a batch and wait to be got here

	// counts is the queue's shared words (tasks.go): unfinished tasks, and
	// for a bounded queue its free room; nil off Unix and Windows.
	counts *shm.Segment
	max    int
	closed atomic.Bool
}

type queued struct {
	msg   []byte
	files []*os.File
}

// NewQueue makes a queue (Python's Queue(maxsize)). With maxsize > 0 it
// holds at most maxsize values: Put then waits for room (PutContext and
// PutTimeout bound the wait). maxsize <= 0 means no bound; maxsize over
// 2^31-1 is refused with an error.
func NewQueue[T any](maxsize int) (*Queue[T], error) {
	if maxsize > 1<<31-1 {
		return nil, fmt.Errorf("mp: queue maxsize %d out of range [0, 2^31-1]", maxsize)
	}
	a, b, err := fdio.SeqpacketPair()
	if err != nil {
		return nil, err
	}
	q := &Queue[T]{put: a, get: b, codec: gobCodec{}, rx: make(chan struct{}, 1), max: max(maxsize, 0)}
	if err := q.makeCounts(); err != nil {
		a.Close()
		b.Close()
		return nil, err
	}
	q.unmapWhenUnreachable()
	return q, nil
}

// Put adds v to the queue. An unbounded queue never waits for room (see
// Queue); a bounded one waits until a value is got.
func (q *Queue[T]) Put(v T) error { return q.PutContext(context.Background(), v) }

// PutTimeout is Put that gives up after d with a *TimeoutError that
// matches ErrQueueFull (Python's put(timeout=d) raising queue.Full); with
// d <= 0 it does not wait (Python's put_nowait).
func (q *Queue[T]) PutTimeout(v T, d time.Duration) error {
	return q.put1(context.Background(), v, max(d, 0))
}

// PutContext is Put that gives up when ctx is done: with a *TimeoutError
// matching ErrQueueFull once its deadline passed, else with ctx.Err().
func (q *Queue[T]) PutContext(ctx context.Context, v T) error { return q.put1(ctx, v, -1) }

func (q *Queue[T]) put1(ctx context.Context, v T, timeout time.Duration) error {
	if q.closed.Load() {
		return &closedError{"Queue.Put"}
	}
	msg, files, err := encodeMsg(q.codec, reflect.ValueOf(&v).Elem())
	if err != nil {
		return fmt.Errorf("mp: put %T: %w", v, err)
	}
	if err := q.takeRoom(ctx, timeout); err != nil {
		closeFiles(files)
		return err
	}
	q.addTask()
	if err := q.send(msg, files); err != nil {
		q.undoPut()
		return closedAs(err, "Queue.Put")
	}
	return nil
}

// send sends one encoded value, or leaves it to the feeder.
func (q *Queue[T]) send(msg []byte, files []*os.File) error {
	q.mu.Lock()
	if err := q.err; err != nil {
		q.mu.Unlock()
		closeFiles(files)
		return err
	}
	if len(q.backlog) == 0 {
		sent, err := q.put.TrySend(msg, files)
		if sent || err != nil {
			q.mu.Unlock()
			closeFiles(files)
			return queueErr(err)
		}
	}
	q.backlog = append(q.backlog, queued{msg, files})
	q.startFeeder()
	q.mu.Unlock()
	return nil
}

// startFeeder starts the goroutine that feeds the backlog in, unless it
// runs (q.mu held).
func (q *Queue[T]) startFeeder() {
	if !q.feeding {
		q.feeding = true
		feeders.add(1)
		go q.feed()
	}
}

// feeders counts the feeder goroutines of this process, so that a child can
// wait for them before it reports. (A sync.WaitGroup would not do: a put
// from a goroutine the target left running may start one while the child
// waits.)
var feeders = newCounter()

type counter struct {
	mu   sync.Mutex
	n    int
	zero *sync.Cond
}

func newCounter() *counter {
	c := &counter{}
	c.zero = sync.NewCond(&c.mu)
	return c
}

func (c *counter) add(d int) {
	c.mu.Lock()
	c.n += d
	if c.n == 0 {
		c.zero.Broadcast()
	}
	c.mu.Unlock()
}

// wait waits until the count is zero.
func (c *counter) wait() {
	c.mu.Lock()
	for c.n != 0 {
		c.zero.Wait()
	}
	c.mu.Unlock()
}

// feed sends the backlog as room appears. Values it cannot send (the queue
// was shut down) are dropped, and no longer count as tasks or take room.
func (q *Queue[T]) feed() {
	defer feeders.add(-1)
	for {
		q.mu.Lock()
		if len(q.backlog) == 0 || q.err != nil {
			for _, b := range q.backlog {
				closeFiles(b.files)
				q.undoPut()
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
		msg, files, n := q.nextMessage()
		q.mu.Unlock()
		err := q.put.Send(context.Background(), msg, files)
		closeFiles(files)
		q.mu.Lock()
		q.backlog = q.backlog[n:]
		if err != nil {
			for range n {
				q.undoPut()
			}
			if q.err == nil {
				q.err = queueErr(err)
			}
		}
		q.mu.Unlock()
	}
}

// Batches: while values wait for room, up to batchMax of them, batchBytes
// in all, travel in one message: formBatch, the count, then each value's
// message with its length. A batch fits what a message socket carries
// itself (fdio.MaxInline: less than 16 KiB on the portable transport), so
// that it never rides in a spill file.
const (
	formBatch  = 0x40
	batchMax   = 128
	batchBytes = min(16<<10, fdio.MaxInline-16) // 16: the form, the count and the last length's varints
)

// nextMessage builds the next message from the backlog (q.mu held): a
// batch of the oldest values that carry no descriptors, or the oldest
// value alone. n is how many values it holds.
func (q *Queue[T]) nextMessage() (msg []byte, files []*os.File, n int) {
	size := 0
	for n < len(q.backlog) && n < batchMax {
		b := q.backlog[n]
		if len(b.files) > 0 || size+len(b.msg) > batchBytes {
			break
		}
		size += len(b.msg) + binary.MaxVarintLen32
		n++
	}
	if n < 2 {
		return q.backlog[0].msg, q.backlog[0].files, 1
	}
	msg = make([]byte, 0, 1+binary.MaxVarintLen32+size)
	msg = binary.AppendUvarint(append(msg, formBatch), uint64(n))
	for _, b := range q.backlog[:n] {
		msg = binary.AppendUvarint(msg, uint64(len(b.msg)))
		msg = append(msg, b.msg...)
	}
	return msg, nil, n
}

// Flush waits until every value this process put is in the queue, where
// other processes can get it (Python's join_thread).
func (q *Queue[T]) Flush() error { return q.FlushContext(context.Background()) }

// FlushTimeout is Flush that gives up after d, with a *TimeoutError.
func (q *Queue[T]) FlushTimeout(d time.Duration) error {
	ctx, cancel := timeoutCtx(d)
	defer cancel()
	return within(d, q.FlushContext(ctx))
}

// FlushContext is Flush that gives up when ctx is done: with a
// *TimeoutError once its deadline passed, else with ctx.Err().
func (q *Queue[T]) FlushContext(ctx context.Context) error {
	if q.closed.Load() {
		return &closedError{"Queue.Flush"}
	}
	start := startOf(ctx)
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
		return giveUp(ctx, "Queue.Flush", start)
	}
}

// keepers are the queues that have kept values from a batch in this
// process.
var keepers sync.Map // of keeper

// keeper is a Queue of any type.
type keeper interface {
	takeAhead() [][]byte
	restore(values [][]byte)
	mpExport() ([]byte, []*os.File, error)
}

// flushQueues hands the values every queue of this child kept from
// batches to its parent over the control channel, and waits until the
// values this child put are sent. The parent puts them back (takeKept):
// had the child put them back itself, its exit would wait for room in the
// queue, which a producer that keeps the queue full never leaves, and
// which the producer's consumers make only once that exit is over when
// they are the parent waiting for it. Values the parent cannot take are
// put back from here.
func flushQueues(parent *os.File) {
	keepers.Range(func(k, _ any) bool {
		q := k.(keeper)
		if rest := handKept(parent, q, q.takeAhead()); len(rest) > 0 {
			q.restore(rest)
		}
		return true
	})
	feeders.wait()
}

// handKept sends values that q kept to the parent in kept frames, each
// beside q's descriptors and within the frame size limit, and returns the
// values it could not send.
func handKept(parent *os.File, q keeper, values [][]byte) [][]byte {
	if len(values) == 0 {
		return nil
	}
	meta, files, err := q.mpExport()
	if err != nil {
		return values
	}
	for len(values) > 0 {
		n, size := 0, wire.HeaderLen+len(meta)+3*binary.MaxVarintLen64
		for n < len(values) && int64(size+len(values[n])+binary.MaxVarintLen64) <= maxFrameSize.Load() {
			size += len(values[n]) + binary.MaxVarintLen64
			n++
		}
		if n == 0 {
			return values
		}
		var b wire.Encoder
		b.Bytes(meta)
		b.Uvarint(uint64(len(files)))
		b.Uvarint(uint64(n))
		for _, v := range values[:n] {
			b.Bytes(v)
		}
		if err := wire.WriteFrame(fdio.NewRightsWriter(parent, files), wire.KindKept, 0, b); err != nil {
			return values
		}
		values = values[n:]
	}
	return nil
}

// takeKept puts back the values of a child's kept frame (see flushQueues),
// whose descriptors rd holds: at once where the queue has room, the rest
// from a feeder of this process, which then closes its hold on the queue.
func takeKept(body []byte, take func(n int) ([]*os.File, error)) error {
	r := wire.NewDecoder(body)
	meta := r.Bytes()
	nfiles := r.Uvarint()
	if err := r.Err(); err != nil {
		return fmt.Errorf("kept frame: %w", err)
	}
	if nfiles > fdio.MaxFiles {
		return fmt.Errorf("kept frame: %d descriptors", nfiles)
	}
	files, err := take(int(nfiles))
	if err != nil {
		return fmt.Errorf("kept frame: %w", err)
	}
	values := make([][]byte, r.Count(1))
	for i := range values {
		values[i] = r.Bytes()
	}
	if err := r.Done(); err != nil {
		closeFiles(files)
		return fmt.Errorf("kept frame: %w", err)
	}
	q := new(Queue[struct{}]) // the values stay encoded: any T will do
	if err := q.mpImport(meta, files); err != nil {
		return err
	}
	q.restore(values)
	go q.Close()
	return nil
}

// queueErr says that a queue was shut down when its socket says so.
func queueErr(err error) error {
	if errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) {
		return ErrQueueShutDown
	}
	return err
}

// Get removes and returns the oldest value, waiting for one (Python's get).
func (q *Queue[T]) Get() (T, error) { return q.GetContext(context.Background()) }

// GetTimeout is Get that gives up after d with a *TimeoutError that
// matches ErrQueueEmpty (Python's get(timeout=d) raising queue.Empty).
func (q *Queue[T]) GetTimeout(d time.Duration) (T, error) {
	ctx, cancel := timeoutCtx(d)
	defer cancel()
	v, err := q.GetContext(ctx)
	return v, within(d, err)
}

// GetContext is Get that gives up when ctx is done: with a *TimeoutError
// matching ErrQueueEmpty once its deadline passed, else with ctx.Err().
func (q *Queue[T]) GetContext(ctx context.Context) (T, error) {
	var v T
	if q.closed.Load() {
		return v, &closedError{"Queue.Get"}
	}
	start := startOf(ctx)
	if err := fdio.TakeTurn(ctx, q.rx); err != nil {
		return v, asTimeout(err, "Queue.Get", start, ErrQueueEmpty)
	}
	defer func() { <-q.rx }()
	if msg, ok := q.popAhead(); ok {
		q.giveRoom()
		return v, decodeMsg(q.codec, msg, nil, &v)
	}
	buf, n, files, err := q.get.Recv(ctx)
	return q.decode(buf, n, files, asTimeout(closedAs(err, "Queue.Get"), "Queue.Get", start, ErrQueueEmpty))
}

// TryGet returns the oldest value if one is ready, or ErrQueueEmpty
// (Python's get_nowait).
func (q *Queue[T]) TryGet() (T, error) {
	var v T
	if q.closed.Load() {
		return v, &closedError{"Queue.Get"}
	}
	select {
	case q.rx <- struct{}{}:
	default:
		return v, ErrQueueEmpty // another goroutine is receiving
	}
	defer func() { <-q.rx }()
	if msg, ok := q.popAhead(); ok {
		q.giveRoom()
		return v, decodeMsg(q.codec, msg, nil, &v)
	}
	buf, n, files, ok, err := q.get.TryRecv()
	if err == nil && !ok {
		return v, ErrQueueEmpty
	}
	return q.decode(buf, n, files, closedAs(err, "Queue.Get"))
}

// popAhead takes the oldest value kept from a batch (the turn held).
func (q *Queue[T]) popAhead() ([]byte, bool) {
	if len(q.ahead) == 0 {
		return nil, false
	}
	msg := q.ahead[0]
	q.ahead[0] = nil
	q.ahead = q.ahead[1:]
	return msg, true
}

// decode decodes a received message (the turn held); of a batch, it
// returns the first value and keeps the others.
func (q *Queue[T]) decode(buf *[]byte, n int, files []*os.File, err error) (T, error) {
	var v T
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = ErrQueueShutDown
		}
		return v, err
	}
	defer fdio.PutBuf(buf)
	q.giveRoom()
	msg := (*buf)[:n]
	if len(msg) > 0 && msg[0] == formBatch && len(files) == 0 {
		values, err := splitBatch(msg)
		if err != nil {
			return v, err
		}
		q.ahead = append(q.ahead, values[1:]...)
		keepers.Store(q, struct{}{})
		return v, decodeMsg(q.codec, values[0], nil, &v)
	}
	return v, decodeMsg(q.codec, msg, files, &v)
}

// splitBatch copies the values of a batch message out of the receive
// buffer.
func splitBatch(msg []byte) ([][]byte, error) {
	own := append([]byte(nil), msg[1:]...)
	count, k := binary.Uvarint(own)
	if k <= 0 || count < 1 || count > batchMax {
		return nil, errMalformedBatch
	}
	own = own[k:]
	values := make([][]byte, 0, count)
	for range count {
		size, k := binary.Uvarint(own)
		if k <= 0 || size < 1 || size > uint64(len(own)-k) {
			return nil, errMalformedBatch
		}
		values = append(values, own[k:k+int(size):k+int(size)])
		own = own[k+int(size):]
	}
	if len(own) != 0 {
		return nil, errMalformedBatch
	}
	return values, nil
}

var errMalformedBatch = errors.New("mp: malformed batch message")

// Shutdown ends the queue in every process that holds it: further puts fail
// and, once what was put has been got, Get returns ErrQueueShutDown.
// Values still waiting in this process are sent first. A Put of a bounded
// queue waiting for room in another process fails at once on Linux; on
// macOS and the BSDs, whose waiters poll the room (see Lock), within about
// 100 ms.
func (q *Queue[T]) Shutdown() error {
	if q.closed.Load() {
		return &closedError{"Queue.Shutdown"}
	}
	_ = q.Flush()
	q.markShutDown()
	return closedAs(q.put.ShutdownSend(), "Queue.Shutdown")
}

// Close releases this process's hold on the queue after flushing what it
// put (Python's close and join_thread): it waits until consumers have made
// room for every value still waiting here, so with no consumer left it
// waits for ever, as Python's exit does (see Flush). Values this process
// kept from a batch are put back first; if the queue was shut down
// meanwhile they are lost, and Close says how many. Other processes keep
// using the queue. Goroutines blocked in Get, Put or Join, and every later
// call but Close and Unfinished, return an error that matches
// ErrHandleClosed and os.ErrClosed. Closing a closed queue does nothing and returns nil, as in
// Python.
func (q *Queue[T]) Close() error {
	if q.closed.Load() {
		return nil
	}
	lost := q.putBack()
	ferr := q.Flush()
	q.closed.Store(true)
	q.wakeCounts()
	err := errors.Join(q.get.Close(), q.put.Close()) // get first: a blocked Get sees os.ErrClosed, not the end of the stream
	if errors.Is(ferr, ErrQueueShutDown) {
		ferr = nil
		if lost > 0 {
			ferr = fmt.Errorf("mp: Queue.Close: %d values this process had taken in a batch but not got were lost: the queue was shut down", lost)
		}
	}
	return errors.Join(ferr, err)
}

// putBack returns the values this process kept from batches to the queue,
// for other consumers.
// It returns how many it put back.
func (q *Queue[T]) putBack() int {
	ahead := q.takeAhead()
	q.restore(ahead)
	return len(ahead)
}

// takeAhead takes the values this process kept from batches.
func (q *Queue[T]) takeAhead() [][]byte {
	// A receiver blocked in recv keeps nothing ahead (it looked first), so
	// a turn that stays taken means there is nothing to put back; never
	// wait for it for long, or Close would hang behind a blocked Get.
	select {
	case q.rx <- struct{}{}:
	case <-time.After(100 * time.Millisecond):
		return nil
	}
	ahead := q.ahead
	q.ahead = nil
	keepers.Delete(q)
	<-q.rx
	return ahead
}

// restore puts values got from the queue back in it: at once while it has
// room and no backlog waits, the rest through the feeder.
func (q *Queue[T]) restore(values [][]byte) {
	if len(values) == 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, msg := range values {
		q.backlog = append(q.backlog, queued{msg: msg})
	}
	for !q.feeding && q.err == nil && len(q.backlog) > 0 {
		msg, _, n := q.nextMessage()
		if sent, err := q.put.TrySend(msg, nil); !sent || err != nil {
			break // the feeder sends it, or drops what it cannot send
		}
		q.backlog = q.backlog[n:]
	}
	if len(q.backlog) > 0 {
		q.startFeeder()
	}
}

// hasAhead reports whether values kept from a batch wait here.
func (q *Queue[T]) hasAhead() bool {
	select {
	case q.rx <- struct{}{}:
		defer func() { <-q.rx }()
		return len(q.ahead) > 0
	default:
		return false // a receiver is busy; it will report what it gets
	}
}

const queueMeta = "queue/1"

func (q *Queue[T]) mpExport() ([]byte, []*os.File, error) {
	if q.closed.Load() {
		return nil, nil, ErrHandleClosed
	}
	var b wire.Encoder
	b.Str(queueMeta)
	b.Str(q.codec.Name())
	b.Uvarint(uint64(q.max))
	files := []*os.File{q.put.File(), q.get.File()}
	if q.counts != nil {
		b.Uvarint(uint64(len(q.counts.Mem())))
		files = append(files, q.counts.File())
	} else {
		b.Uvarint(0)
	}
	return b, files, nil
}

func (q *Queue[T]) mpImport(meta []byte, files []*os.File) error {
	r := wire.NewDecoder(meta)
	kind, codecName := r.Str(), r.Str()
	maxsize, countsSize := r.Uvarint(), r.Uvarint()
	err := r.Done()
	if err == nil && kind != queueMeta {
		err = fmt.Errorf("a %q handle cannot become a Queue", kind)
	}
	want := 2
	if countsSize > 0 {
		want = 3
	}
	if err == nil && len(files) != want {
		err = fmt.Errorf("a Queue travels with %d descriptors, got %d", want, len(files))
	}
	if err == nil && (maxsize > 1<<31 || countsSize > 1<<20) {
		err = fmt.Errorf("a Queue of %d values with %d bytes of counts", maxsize, countsSize)
	}
	var counts *shm.Segment
	if err == nil && countsSize > 0 {
		if counts, err = shm.Import(files[2], shm.KindQueue, int(countsSize)); err == nil {
			files = files[:2] // the segment owns the third
		}
	}
	codec, ok := lookupCodec(codecName)
	if err == nil && !ok {
		err = fmt.Errorf("codec %q is not registered", codecName)
	}
	if err != nil {
		closeFiles(files)
		if counts != nil {
			counts.Close()
		}
		return fmt.Errorf("mp: import Queue: %w", err)
	}
	*q = Queue[T]{put: fdio.NewSock(files[0]), get: fdio.NewSock(files[1]), codec: codec, rx: make(chan struct{}, 1), counts: counts, max: int(maxsize)}
	q.unmapWhenUnreachable()
	return nil
}
