package mp

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"reflect"
	"sync"
)

// serveWorker is the life of a Pool worker: it runs call and batch frames
// one at a time, in order, until the parent closes the channel (or dies).
// Results are buffered and flushed whenever no further call is queued, so
// a pipelined stream of small calls costs few writes.
func serveWorker(conn *os.File, rd *fdReader) int {
	br := bufio.NewReaderSize(rd, 256<<10)
	bw := bufio.NewWriterSize(conn, 256<<10)
	// SIGTERM cancels the running call's context; the worker reports that
	// call's outcome, refuses the calls queued behind it (the parent runs
	// them elsewhere) and dies of the signal.
	ctx, cancelAll := context.WithCancel(context.Background())
	defer cancelAll()
	terminated := onTerminate(cancelAll, true)

	jobs := make(chan frame, 4096)
	var mu sync.Mutex
	queued := map[uint64]bool{}
	running := map[uint64]context.CancelFunc{}
	cancelled := map[uint64]bool{}
	go func() {
		for {
			f, err := readPeerFrame(br, MaxFrameSize())
			if err != nil {
				// The parent retired us or is gone: either way, stop now.
				cancelAll()
				if isEOF(err) {
					os.Exit(exitOK)
				}
				os.Exit(childFail("worker: %v", err))
			}
			mu.Lock()
			switch f.kind {
			case kindCall, kindBatch:
				if f.kind == kindCall && rd.pending() {
					f.files = takeFrameFiles(rd, f.body)
				}
				queued[f.id] = true
				mu.Unlock()
				jobs <- f
				continue
			case kindCancel:
				if c := running[f.id]; c != nil {
					c()
				} else if queued[f.id] {
					cancelled[f.id] = true
				}
			}
			mu.Unlock()
		}
	}()
	for f := range jobs {
		cctx, cancel := context.WithCancel(ctx)
		mu.Lock()
		delete(queued, f.id)
		if cancelled[f.id] {
			delete(cancelled, f.id)
			cancel()
		}
		running[f.id] = cancel
		mu.Unlock()

		kind, body := serveFrame(cctx, f)

		mu.Lock()
		delete(running, f.id)
		mu.Unlock()
		cancel()
		if err := writeFrames(bw, nil, kind, f.id, body); err != nil {
			return exitFailed
		}
		if terminated.Load() {
			refuseQueued(bw, jobs)
			dieOfTerminate()
		}
		// Flush every outcome before the next call starts: if that call
		// kills the process, the results already computed are not lost,
		// and the parent's rule that the oldest pending call was the one
		// running holds.
		if err := bw.Flush(); err != nil {
			return exitFailed
		}
	}
	return exitOK
}

// refuseQueued answers every queued call with a refusal and flushes.
func refuseQueued(bw *bufio.Writer, jobs chan frame) {
	for {
		select {
		case f := <-jobs:
			_ = writeFrames(bw, nil, kindRefused, f.id, nil)
		default:
			_ = bw.Flush()
			return
		}
	}
}

func serveFrame(ctx context.Context, f frame) (frameKind, payload) {
	if f.kind == kindBatch {
		m, err := decodeBatch(f.body)
		if err != nil {
			return kindError, payload{failureBody("mp: " + err.Error())}
		}
		kind, body := runBatch(ctx, m)
		return kind, payload{body}
	}
	call, err := decodeCall(f.body)
	if err == nil {
		err = call.adopt(f.files)
	}
	if err != nil {
		closeFiles(f.files)
		return kindError, payload{failureBody("mp: " + err.Error())}
	}
	return runCall(ctx, call)
}

// takeFrameFiles takes the descriptors a call frame's handles arrived with.
// A malformed frame takes none; its decoding fails later.
func takeFrameFiles(rd *fdReader, body []byte) []*os.File {
	call, err := decodeCall(body)
	if err != nil {
		return nil
	}
	files, _ := rd.take(call.nfiles())
	return files
}

// runBatch runs a target over every argument list of a batch, in order,
// and encodes all results as one slice.
func runBatch(ctx context.Context, m *batchMsg) (frameKind, []byte) {
	spec, codec, fail := lookupCall(m.target, m.codec)
	if fail != nil {
		return kindError, fail
	}
	var argsAt func(i int) ArgDecoder
	if m.tuples == nil {
		if len(spec.Params) != 1 {
			return kindError, failureBody(fmt.Sprintf("mp: batch of %s needs a target of one parameter", spec.Name))
		}
		sv := reflect.New(reflect.SliceOf(spec.Params[0].Type))
		if m.slice.present {
			if err := decodeValue(codec, m.slice, sv.Interface()); err != nil {
				return kindError, failureBody(fmt.Sprintf("mp: decode the arguments of %s: %v", spec.Name, err))
			}
		}
		items := sv.Elem()
		if items.Len() != m.n {
			return kindError, failureBody(fmt.Sprintf("mp: batch of %d carries %d arguments", m.n, items.Len()))
		}
		argsAt = itemDecoder(items)
	} else {
		argsAt = func(i int) ArgDecoder { return &wireArgs{codec: codec, args: m.tuples[i]} }
	}
	var results reflect.Value
	store := func(int, any) {}
	if spec.Result != nil {
		results = reflect.MakeSlice(reflect.SliceOf(spec.Result), m.n, m.n)
		store = resultStore(results)
	}
	out := &batchResultMsg{}
	for i := 0; i < m.n; i++ {
		res, kind, body := invoke(ctx, spec, codec, argsAt(i))
		if kind != kindResult {
			out.failures = append(out.failures, batchFailure{index: i, kind: kind, body: body})
			continue
		}
		if res != nil {
			store(i, res)
		}
	}
	if results.IsValid() {
		ev, err := encodeValue(codec, results)
		if err != nil {
			return kindError, failureBody(fmt.Sprintf("mp: encode the results of %s with the %s codec: %v", spec.Name, codec.Name(), err))
		}
		out.results = ev
	}
	return kindBatchResult, out.encode()
}

// itemDecoder returns the arguments of each item of a batch. The common
// unnamed element types are handed over without reflection: a chunk of tiny
// tasks costs little more than the tasks.
func itemDecoder(items reflect.Value) func(i int) ArgDecoder {
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
	return func(i int) ArgDecoder { return localArgs{items.Index(i)} }
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

func typedItems[T any](s []T) func(i int) ArgDecoder {
	a := &itemArgs[T]{s: s}
	return func(i int) ArgDecoder {
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
