package mp

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mpgen/mpgen/runtime/internal/fdio"
	"github.com/mpgen/mpgen/runtime/internal/proc"
	"github.com/mpgen/mpgen/runtime/internal/registry"
	"github.com/mpgen/mpgen/runtime/internal/wire"
	"github.com/mpgen/mpgen/runtime/internal/worker"
)

func init() { worker.SetHandler(handleCall) }

// serveWorker is the life of a Pool worker: it runs call and batch frames
// one at a time, in order, until the parent closes the channel (or dies).
//
// Calls run on the goroutine that reads them, with no hand-off: a tiny
// call costs one read and one write. Only when a call runs for longer than
// readerDelay does a second goroutine take over reading, so that a cancel
// frame for the running call (or SIGTERM's refusal of the calls queued
// behind it) is still seen; it hands reading back with the next call that
// arrives while nothing runs. Every outcome is flushed before the next call
// starts: if that call kills the process, the results already computed are
// not lost, and the parent's rule that the oldest pending call was the one
// running holds.
func serveWorker(conn *os.File, rd *fdio.Reader) int {
	// SIGTERM cancels the running call's context; the worker reports that
	// call's outcome, refuses the calls queued behind it (the parent runs
	// them elsewhere) and dies of the signal.
	ctx, cancelAll := context.WithCancel(context.Background())
	defer cancelAll()
	s := &workerServer{
		br:        bufio.NewReaderSize(rd, 256<<10),
		rd:        rd,
		conn:      conn,
		bw:        bufio.NewWriterSize(conn, 256<<10),
		cancelAll: cancelAll,
		wake:      make(chan struct{}, 1),
	}
	s.terminated = proc.OnTerminate(cancelAll, true)
	// One goroutine, made now, serves the timer for the worker's life: a
	// goroutine made when it fires could find the worker at a memory
	// limit its call has set (and the race detector unable to allocate).
	s.timer = time.NewTimer(time.Hour)
	s.timer.Stop()
	go func() {
		for range s.timer.C {
			s.takeOverReading()
		}
	}()
	return s.serve(ctx)
}

// readerDelay is how long a call runs (at least, and at most twice as
// long) before a goroutine starts reading the channel beside it, for cancel
// frames and queued calls. The timer is armed once per period, not once per
// call: resetting a timer wakes the runtime's poller, which would cost a
// tiny call more than the call itself.
const readerDelay = 500 * time.Microsecond

type workerServer struct {
	br         *bufio.Reader
	rd         *fdio.Reader // under br: keeps the descriptors that came with calls
	conn       *os.File     // under bw; written directly only at retirement (flushQueues)
	bw         *bufio.Writer
	cancelAll  context.CancelFunc
	terminated *atomic.Bool
	timer      *time.Timer
	wake       chan struct{} // the reading goroutine queued a frame or handed reading back

	mu        sync.Mutex
	reading   bool // a reading goroutine owns br
	waiting   bool // serve waits on wake for a frame
	queue     []wire.Frame
	busy      bool   // a call runs
	running   uint64 // its id
	seq       uint64 // calls started
	armed     bool   // the timer is set
	armedSeq  uint64 // the call that was running when it was set
	runCancel context.CancelFunc
	cancelled map[uint64]bool // queued calls whose cancel frame came first
}

// accept takes a frame read from the parent. s.mu must be held.
func (s *workerServer) accept(f wire.Frame) {
	switch f.Kind {
	case wire.KindCall, wire.KindBatch:
		s.queue = append(s.queue, f)
	case wire.KindCancel:
		if s.busy && s.running == f.ID {
			s.runCancel()
			return
		}
		for _, q := range s.queue {
			if q.ID == f.ID {
				if s.cancelled == nil {
					s.cancelled = map[uint64]bool{}
				}
				s.cancelled[f.ID] = true
				return
			}
		}
	}
}

// readOrExit reads one frame; at the end of the channel the worker exits:
// the parent retired it or is gone.
func (s *workerServer) readOrExit() wire.Frame {
	f, err := wire.ReadPeerFrame(s.br, maxFrameSize.Load())
	if err != nil {
		s.cancelAll()
		if isEOF(err) {
			// Retired: values the calls put in queues are delivered
			// before the worker goes, as Python's workers join their
			// queues' feeder threads at exit (so a pool whose queues
			// nobody reads waits in Join, as Python's does). Values
			// they kept from batches go to the parent.
			flushQueues(s.conn)
			exitChild(exitOK)
		}
		exitChild(childFail("worker: %v", err))
	}
	if f.Kind == wire.KindCall && s.rd.Pending() {
		f.Files = takeFrameFiles(s.rd, f.Body)
	}
	return f
}

// drainBuffered accepts every frame already whole in the read buffer,
// without blocking. s.mu must be held and serve must own br.
func (s *workerServer) drainBuffered() {
	for {
		n := s.br.Buffered()
		if n < wire.HeaderLen {
			return
		}
		hdr, _ := s.br.Peek(4)
		if n < 4+int(binary.BigEndian.Uint32(hdr)) {
			return
		}
		s.accept(s.readOrExit())
	}
}

// next returns the next call to run, reading when nothing is queued.
func (s *workerServer) next() wire.Frame {
	s.mu.Lock()
	for len(s.queue) == 0 {
		if s.reading {
			s.waiting = true
			s.mu.Unlock()
			<-s.wake
			s.mu.Lock()
			s.waiting = false
			continue
		}
		s.mu.Unlock()
		f := s.readOrExit() // blocks: we own br
		s.mu.Lock()
		s.accept(f)
	}
	if !s.reading {
		s.drainBuffered() // cancel frames that already arrived
	}
	f := s.queue[0]
	s.queue = s.queue[1:]
	s.mu.Unlock()
	return f
}

// takeOverReading starts reading beside a call that has run for a whole
// period; when another call runs by now, it waits one more period.
func (s *workerServer) takeOverReading() {
	s.mu.Lock()
	if !s.busy || s.reading {
		s.armed = false
		s.mu.Unlock()
		return
	}
	if s.seq != s.armedSeq {
		s.armedSeq = s.seq
		s.timer.Reset(readerDelay)
		s.mu.Unlock()
		return
	}
	s.armed = false
	s.reading = true
	s.mu.Unlock()
	for {
		f := s.readOrExit()
		s.mu.Lock()
		s.accept(f)
		handBack := s.waiting && len(s.queue) > 0
		if handBack {
			s.reading = false // serve owns br again, from this frame boundary
		}
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
		if handBack {
			return
		}
	}
}

func (s *workerServer) serve(ctx context.Context) int {
	for {
		f := s.next()
		if s.terminated.Load() { // never started: the parent runs it elsewhere
			s.refuse(f)
		}
		cctx, cancel := context.WithCancel(ctx)
		s.mu.Lock()
		if s.cancelled[f.ID] {
			delete(s.cancelled, f.ID)
			cancel()
		}
		s.busy, s.running, s.runCancel = true, f.ID, cancel
		s.seq++
		if !s.armed && !s.reading {
			s.armed, s.armedSeq = true, s.seq
			s.timer.Reset(readerDelay)
		}
		s.mu.Unlock()

		kind, body := handleCall(cctx, f)

		s.mu.Lock()
		s.busy, s.running, s.runCancel = false, 0, nil
		s.mu.Unlock()
		cancel()
		if err := wire.WriteFrames(s.bw, nil, kind, f.ID, body); err != nil {
			return exitFailed
		}
		if s.terminated.Load() {
			s.refuse()
		}
		if err := s.bw.Flush(); err != nil {
			return exitFailed
		}
	}
}

// refuse answers the given calls and every queued one with a refusal,
// flushes, and dies of SIGTERM.
func (s *workerServer) refuse(fs ...wire.Frame) {
	s.mu.Lock()
	if !s.reading {
		s.drainBuffered()
	}
	fs = append(fs, s.queue...)
	s.queue = nil
	s.mu.Unlock()
	for _, f := range fs {
		if f.Kind == wire.KindCall || f.Kind == wire.KindBatch {
			_ = wire.WriteFrames(s.bw, nil, wire.KindRefused, f.ID, nil)
		}
	}
	_ = s.bw.Flush()
	dieOfTerminate()
}

// handleCall runs one encoded call, a call or batch frame with the
// descriptors that arrived for its handles, and returns its encoded
// outcome: a result, error, panic or batch result frame's kind and body. It
// does not care how the frame arrived: the single call's child (runChild)
// and the pool worker's loop (serveWorker) read theirs from the socketpair,
// and other transports reach it through worker.Handle (mpimpl.HandleCall).
func handleCall(ctx context.Context, f wire.Frame) (wire.Kind, wire.Payload) {
	if f.Kind == wire.KindBatch {
		closeFiles(f.Files) // a batch carries no handles
		m, err := wire.DecodeBatch(f.Body)
		if err != nil {
			return wire.KindError, wire.Payload{failureBody("mp: " + err.Error())}
		}
		kind, body := runBatch(extract(ctx, m.Carrier), m)
		return fitOutcome(m.Target, kind, wire.Payload{body})
	}
	call, err := wire.DecodeCall(f.Body)
	if err == nil {
		err = call.Adopt(f.Files)
	}
	if err != nil {
		closeFiles(f.Files)
		return wire.KindError, wire.Payload{failureBody("mp: " + err.Error())}
	}
	return runCall(extract(ctx, call.Carrier), call)
}

// takeFrameFiles takes the descriptors a call frame's handles arrived with.
// A malformed frame takes none; its decoding fails later.
func takeFrameFiles(rd *fdio.Reader, body []byte) []*os.File {
	call, err := wire.DecodeCall(body)
	if err != nil {
		return nil
	}
	files, _ := rd.Take(call.NFiles())
	return files
}

// runBatch runs a target over every argument list of a batch, in order,
// and encodes all results as one slice.
func runBatch(ctx context.Context, m *wire.Batch) (wire.Kind, []byte) {
	spec, codec, fail := lookupCall(m.Target, m.Codec)
	if fail != nil {
		return wire.KindError, fail
	}
	var argsAt func(i int) registry.Args
	if m.Tuples == nil {
		if len(spec.Params) != 1 {
			return wire.KindError, failureBody(fmt.Sprintf("mp: batch of %s needs a target of one parameter", spec.Name))
		}
		sv := reflect.New(reflect.SliceOf(spec.Params[0].Type))
		if m.Slice.Present {
			if err := decodeValue(codec, m.Slice, sv.Interface()); err != nil {
				return wire.KindError, failureBody(fmt.Sprintf("mp: decode the arguments of %s: %v", spec.Name, err))
			}
		}
		items := sv.Elem()
		if items.Len() != m.N {
			return wire.KindError, failureBody(fmt.Sprintf("mp: batch of %d carries %d arguments", m.N, items.Len()))
		}
		if spec.Batch != nil {
			if kind, body, ok := runTyped(ctx, spec, codec, items); ok {
				return kind, body
			}
		}
		argsAt = itemDecoder(items)
	} else {
		argsAt = func(i int) registry.Args { return &wireArgs{codec: codec, args: m.Tuples[i]} }
	}
	var results reflect.Value
	store := func(int, any) {}
	if spec.Result != nil {
		results = reflect.MakeSlice(reflect.SliceOf(spec.Result), m.N, m.N)
		store = resultStore(results)
	}
	out := &wire.BatchResult{}
	for i := 0; i < m.N; i++ {
		res, kind, body := invoke(ctx, spec, codec, argsAt(i))
		if kind != wire.KindResult {
			out.Failures = append(out.Failures, wire.BatchFailure{Index: i, Kind: kind, Body: body})
			continue
		}
		if res != nil {
			store(i, res)
		}
	}
	if results.IsValid() {
		ev, err := encodeValue(codec, results)
		if err != nil {
			return wire.KindError, failureBody(fmt.Sprintf("mp: encode the results of %s with the %s codec: %v", spec.Name, codec.Name(), err))
		}
		out.Results = ev
	}
	return wire.KindBatchResult, out.Encode()
}

// runTyped runs a batch through the target's generated Batch: a direct
// call per item, with nothing boxed.
func runTyped(ctx context.Context, spec *registry.Spec, codec Codec, items reflect.Value) (wire.Kind, []byte, bool) {
	out := &wire.BatchResult{}
	var results reflect.Value
	var res any
	if spec.Result != nil {
		results = reflect.MakeSlice(reflect.SliceOf(spec.Result), items.Len(), items.Len())
		res = results.Interface()
	}
	ok := spec.Batch.RunBatch(ctx, items.Interface(), res, func(i int, err error, p *registry.Panic) {
		kind, body := failureFrame(codec, err, p)
		out.Failures = append(out.Failures, wire.BatchFailure{Index: i, Kind: kind, Body: body})
	})
	if !ok {
		return 0, nil, false
	}
	if results.IsValid() {
		ev, err := encodeValue(codec, results)
		if err != nil {
			return wire.KindError, failureBody(fmt.Sprintf("mp: encode the results of %s with the %s codec: %v", spec.Name, codec.Name(), err)), true
		}
		out.Results = ev
	}
	return wire.KindBatchResult, out.Encode(), true
}

// itemDecoder returns the arguments of each item of a batch. The common
// unnamed element types are handed over without reflection: a chunk of tiny
// tasks costs little more than the tasks.
func itemDecoder(items reflect.Value) func(i int) registry.Args {
	switch s := items.Interface().(type) {
	case []int:
		return typedItems(s)
	case []int64:
		return typedItems(s)
	case []float64:
		return typedItems(s)
	case []string:
		return typedItems(s)
	}
	return func(i int) registry.Args { return localArgs{items.Index(i)} }
}

// itemArgs is the one argument of item i of a batch of T.
type itemArgs[T any] struct {
	s []T
	i int
}

func (a *itemArgs[T]) Decode(i int, v any) error {
	if p, ok := v.(*T); ok && i == 0 {
		*p = a.s[a.i]
		return nil
	}
	return localArgs{reflect.ValueOf(a.s[a.i])}.Decode(i, v)
}

func typedItems[T any](s []T) func(i int) registry.Args {
	a := &itemArgs[T]{s: s}
	return func(i int) registry.Args {
		a.i = i
		return a
	}
}

// resultStore returns a function that stores result i in results, without
// reflection for the common unnamed types.
func resultStore(results reflect.Value) func(i int, res any) {
	switch s := results.Interface().(type) {
	case []int:
		return typedStore(s, results)
	case []int64:
		return typedStore(s, results)
	case []float64:
		return typedStore(s, results)
	case []string:
		return typedStore(s, results)
	}
	return func(i int, res any) { results.Index(i).Set(reflect.ValueOf(res)) }
}

func typedStore[R any](s []R, results reflect.Value) func(i int, res any) {
	return func(i int, res any) {
		if r, ok := res.(R); ok {
			s[i] = r
			return
		}
		results.Index(i).Set(reflect.ValueOf(res))
	}
}
