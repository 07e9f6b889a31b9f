package mp

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"reflect"
	"slices"

	"github.com/mpgen/mpgen/runtime/internal/registry"
	"github.com/mpgen/mpgen/runtime/internal/wire"
)

// prepare resolves and binds a call for the pool, in ctx. files are the
// call's own duplicates of its handles' descriptors, which travel beside its
// frame.
func (p *Pool) prepare(ctx context.Context, target any, args []any, kwargs map[string]any) (*registry.Spec, wire.Payload, []*os.File, error) {
	spec, err := resolve(target)
	if err != nil {
		return nil, nil, nil, err
	}
	vals, err := bind(spec, target, args, kwargs)
	if err != nil {
		return nil, nil, nil, err
	}
	carrier := inject(ctx)
	enc, err := encodeArgs(spec, p.cfg.codec, vals, carrier)
	if err != nil {
		return nil, nil, nil, err
	}
	if files := argFiles(enc); len(files) > 0 && p.cfg.remote != nil {
		closeFiles(files)
		return nil, nil, nil, &ArgError{Target: spec.Name, Msg: "a handle (Conn, Queue, Lock, ...) cannot travel to a remote worker: its descriptor is of this host"}
	}
	return spec, (&wire.Call{Target: spec.Name, Codec: p.cfg.codec.Name(), Args: enc, Carrier: carrier}).Payload(), argFiles(enc), nil
}

// errHandleInBatch: handles travel beside single calls, not inside Map's
// batches.
var errHandleInBatch = errors.New("a handle (Conn, Queue, Lock, ...) cannot travel in a Map or Starmap batch: pass it with Apply, ApplyAsync or Submit, or to the Initializer")

func failed[R any](err error) *Future[R] {
	t := &task{done: make(chan struct{})}
	t.finish(nil, err)
	return &Future[R]{t: t}
}

// ApplyAsync submits target(args..., kwargs...) and returns at once
// (Python's apply_async). Argument errors are reported by the Future.
// ctx is the call's: cancelling it cancels the call's context in its
// worker (the call fails with context.Canceled), and a deadline that
// passes fails the call with a *TimeoutError, killing and replacing its
// worker if the call was running.
func (p *Pool) ApplyAsync(ctx context.Context, target any, args []any, kwargs map[string]any) *Future[any] {
	spec, body, files, err := p.prepare(ctx, target, args, kwargs)
	if err != nil {
		return failed[any](err)
	}
	t := newTask(ctx, spec, p.cfg.codec, wire.KindCall, body, 1)
	t.files = files
	p.submit(t)
	return &Future[any]{t: t}
}

// Apply runs target(args..., kwargs...) on a worker and waits for its
// result (Python's apply); ctx is the call's, as for ApplyAsync.
func (p *Pool) Apply(ctx context.Context, target any, args []any, kwargs map[string]any) (any, error) {
	return p.ApplyAsync(ctx, target, args, kwargs).Get()
}

func checkResult[R any](spec *registry.Spec) error {
	rt := reflect.TypeFor[R]()
	switch {
	case spec.Result == nil && (rt == reflect.TypeFor[struct{}]() || rt.Kind() == reflect.Interface):
	case spec.Result != nil && spec.Result.AssignableTo(rt):
	default:
		return &ArgError{Target: spec.Name, Msg: fmt.Sprintf("result type is %v, not %v", typeName(spec.Result), rt)}
	}
	return nil
}

// MapOption configures Map, IMap, IMapUnordered, IMapSeq, IMapSeqUnordered
// and Starmap.
type MapOption func(*mapConfig)

type mapConfig struct {
	chunk    int
	progress func(done, total int)
	window   int
}

// Chunksize sets how many items travel to a worker in one message. The
// default is Python's rule, len(items)/(4*workers) rounded up, so tiny
// tasks are cheap; 1 sends every item on its own, and is the default of
// IMapSeq, whose length is unknown. 0 means the default; a negative n makes
// the call fail with an *ArgError (Python's ValueError).
func Chunksize(n int) MapOption { return func(c *mapConfig) { c.chunk = n } }

// Progress calls fn(done, total) as items complete, from one goroutine at
// a time (for a progress bar). total is -1 for IMapSeq, whose length is
// unknown.
func Progress(fn func(done, total int)) MapOption { return func(c *mapConfig) { c.progress = fn } }

// InFlight bounds how many chunks IMap, IMapUnordered, IMapSeq and
// IMapSeqUnordered keep submitted and not yet yielded (default 4 per
// worker, which keeps every worker's pipeline full): with IMapSeq, at most
// InFlight*Chunksize items have been taken from the sequence and not yet
// yielded. 0 means the default; a negative n makes the call fail with an
// *ArgError.
func InFlight(n int) MapOption { return func(c *mapConfig) { c.window = n } }

// mapConfig applies opts to a call of target over n items; n is -1 for a
// sequence of unknown length.
func (p *Pool) mapConfig(target string, n int, opts []MapOption) (mapConfig, error) {
	c := mapConfig{}
	for _, o := range opts {
		o(&c)
	}
	if c.chunk < 0 {
		return c, &ArgError{Target: target, Msg: fmt.Sprintf("Chunksize must be 1+ (0 means the default), got %d", c.chunk)}
	}
	if c.window < 0 {
		return c, &ArgError{Target: target, Msg: fmt.Sprintf("InFlight must be 1+ (0 means the default), got %d", c.window)}
	}
	if c.chunk <= 0 && n >= 0 {
		w := p.size()
		c.chunk = (n + 4*w - 1) / (4 * w)
	}
	c.chunk = max(c.chunk, 1)
	if c.window <= 0 {
		c.window = 4 * p.size()
	}
	return c, nil
}

// Outcome is one item's result in IMap, IMapUnordered, IMapSeq and
// IMapSeqUnordered.
type Outcome[R any] struct {
	Index int // position of the item in the input (-1: the call failed as a whole)
	Value R
	Err   error
}

// mapper runs the chunks of one Map-like call.
type mapper[T, R any] struct {
	ctx   context.Context
	pool  *Pool
	spec  *registry.Spec
	total int // items in the input, or -1 for a sequence
	cfg   mapConfig
	done  int
}

// newMapper checks target for a Map of n items of T (n is -1 for a
// sequence) to results of R.
func newMapper[T, R any](ctx context.Context, p *Pool, target any, n int, opts []MapOption) (*mapper[T, R], error) {
	spec, err := resolve(target)
	if err != nil {
		return nil, err
	}
	if spec.Type != nil || len(spec.Params) != 1 || spec.Variadic {
		return nil, &ArgError{Target: spec.Name, Msg: "Map needs a function target of exactly one parameter; use Starmap for more"}
	}
	if pt, it := spec.Params[0].Type, reflect.TypeFor[T](); pt != it {
		return nil, &ArgError{Target: spec.Name, Param: paramLabel(spec.Params[0], 0), Msg: fmt.Sprintf("items are %v, the parameter is %v", it, pt)}
	}
	if err := checkResult[R](spec); err != nil {
		return nil, err
	}
	cfg, err := p.mapConfig(spec.Name, n, opts)
	if err != nil {
		return nil, err
	}
	return &mapper[T, R]{ctx: ctx, pool: p, spec: spec, total: n, cfg: cfg}, nil
}

// submit sends the chunk items, whose first item is item lo of the input.
func (m *mapper[T, R]) submit(items []T, lo int) (*task, error) {
	hi := lo + len(items)
	ev, err := encodeValue(m.pool.cfg.codec, reflect.ValueOf(items))
	if err != nil {
		return nil, &ArgError{Target: m.spec.Name, Msg: fmt.Sprintf("items %d..%d cannot be encoded: %v", lo, hi-1, err)}
	}
	body := wire.Payload{(&wire.Batch{Target: m.spec.Name, Codec: m.pool.cfg.codec.Name(), N: hi - lo, Slice: ev, Carrier: inject(m.ctx)}).Encode()}
	if err := chunkFits(m.spec, "items", lo, hi, body); err != nil {
		return nil, err
	}
	t := newTask(m.ctx, m.spec, m.pool.cfg.codec, wire.KindBatch, body, hi-lo)
	m.pool.submit(t)
	return t, nil
}

// chunkFits checks that the chunk of items lo..hi-1 fits the frame limit
// its worker will apply, so that it is never sent to be refused.
func chunkFits(spec *registry.Spec, items string, lo, hi int, body wire.Payload) error {
	n, limit, over := frameOver(body.Size())
	if !over {
		return nil
	}
	return &ArgError{Target: spec.Name, err: ErrTooLarge, Msg: fmt.Sprintf(
		"%s %d..%d would be a %d-byte frame, over the frame limit %d (see SetMaxFrameSize, and Chunksize)", items, lo, hi-1, n, limit)}
}

// chunkResult is a finished chunk: its values (nil for a target without a
// result), the errors of the items that failed, or one error for all.
type chunkResult[R any] struct {
	vals []R
	errs map[int]error // by index within the chunk
	all  error
}

func (c chunkResult[R]) err(i int) error {
	if c.all != nil {
		return c.all
	}
	return c.errs[i]
}

// wait waits for a chunk, reports progress and decodes its results, into
// dst (of the chunk's length) when it is not nil and the results allow.
func (m *mapper[T, R]) wait(t *task, dst []R) chunkResult[R] {
	<-t.done
	m.done += t.n
	if m.cfg.progress != nil {
		m.cfg.progress(m.done, m.total)
	}
	if t.err != nil {
		return chunkResult[R]{all: t.err}
	}
	br, ok := t.result.(*wire.BatchResult)
	if !ok {
		return chunkResult[R]{all: &ProtocolError{Op: "chunk of " + m.spec.Name, Err: fmt.Errorf("no batch result")}}
	}
	var c chunkResult[R]
	codec := m.pool.cfg.codec
	if ints, ok := any(dst).([]int); ok && m.spec.Result != nil && br.Results.Fast && len(dst) == t.n {
		done, err := decodeFastInto(br.Results.Data, ints)
		if err != nil {
			return chunkResult[R]{all: &ProtocolError{Op: "decode results of " + m.spec.Name, Err: err}}
		}
		if done {
			c.vals = dst
		}
	}
	if m.spec.Result != nil && br.Results.Present && c.vals == nil {
		sv := reflect.New(reflect.SliceOf(m.spec.Result))
		if err := decodeValue(codec, br.Results, sv.Interface()); err != nil {
			return chunkResult[R]{all: &ProtocolError{Op: "decode results of " + m.spec.Name, Err: err}}
		}
		s := sv.Elem()
		if s.Len() != t.n {
			return chunkResult[R]{all: &ProtocolError{Op: "decode results of " + m.spec.Name, Err: fmt.Errorf("%d results for %d items", s.Len(), t.n)}}
		}
		if direct, ok := sv.Interface().(*[]R); ok {
			c.vals = *direct
		} else {
			c.vals = make([]R, t.n)
			for i := range c.vals {
				c.vals[i] = s.Index(i).Interface().(R)
			}
		}
	}
	for _, f := range br.Failures {
		if f.Index < 0 || f.Index >= t.n {
			continue
		}
		_, err, perr := outcomeOf(m.spec, codec, f.Kind, f.Body)
		if perr != nil {
			err = &ProtocolError{Op: "decode failure of " + m.spec.Name, Err: perr}
		}
		if c.errs == nil {
			c.errs = map[int]error{}
		}
		c.errs[f.Index] = err
	}
	return c
}

// collect waits for a chunk and returns one outcome per item (for IMap).
func (m *mapper[T, R]) collect(t *task, lo int) []Outcome[R] {
	c := m.wait(t, nil)
	out := make([]Outcome[R], t.n)
	for i := range out {
		out[i].Index = lo + i
		if c.vals != nil {
			out[i].Value = c.vals[i]
		}
		out[i].Err = c.err(i)
	}
	return out
}

// TaskError reports which item of a Map failed.
type TaskError struct {
	Index int
	Err   error
}

func (e *TaskError) Error() string { return fmt.Sprintf("mp: item %d: %v", e.Index, e.Err) }

// Unwrap returns the item's error.
func (e *TaskError) Unwrap() error { return e.Err }

// Map runs target on every item on the pool's workers and returns the
// results in order (Python's Pool.map). If items fail, the results of the
// others are still returned, and the error is a *TaskError for the first
// failed item.
func Map[T, R any](ctx context.Context, p *Pool, target any, items []T, opts ...MapOption) ([]R, error) {
	m, err := newMapper[T, R](ctx, p, target, len(items), opts)
	if err != nil {
		return nil, err
	}
	var chunks []chunk
	for lo := 0; lo < len(items); lo += m.cfg.chunk {
		t, err := m.submit(items[lo:min(lo+m.cfg.chunk, len(items))], lo)
		if err != nil {
			return nil, err
		}
		chunks = append(chunks, chunk{t, lo})
	}
	return m.gather(chunks)
}

// chunk is one submitted batch and the index of its first item.
type chunk struct {
	t  *task
	lo int
}

// gather waits for every chunk and returns the results in order, with a
// *TaskError for the first failed item.
func (m *mapper[T, R]) gather(chunks []chunk) ([]R, error) {
	res := make([]R, m.total)
	var first *TaskError
	for _, ch := range chunks {
		c := m.wait(ch.t, res[ch.lo:ch.lo+ch.t.n])
		if len(c.vals) > 0 && &c.vals[0] != &res[ch.lo] {
			copy(res[ch.lo:], c.vals)
		}
		if first != nil {
			continue
		}
		if c.all != nil {
			first = &TaskError{Index: ch.lo, Err: c.all}
			continue
		}
		for i, err := range c.errs { // the lowest failed index of the chunk
			if first == nil || ch.lo+i < first.Index {
				first = &TaskError{Index: ch.lo + i, Err: err}
			}
		}
	}
	if first != nil {
		return res, first
	}
	return res, nil
}

// IMap is Map that yields results in order as they become available
// (Python's imap), keeping at most InFlight chunks submitted: it is IMapSeq
// over the items, chunked by their number. Stopping the loop early cancels
// the chunks in flight; a ctx that ends stops the submitting, and the loop
// ends once the chunks in flight have reported (those unfinished with ctx's
// error).
func IMap[T, R any](ctx context.Context, p *Pool, target any, items []T, opts ...MapOption) iter.Seq[Outcome[R]] {
	return imap[T, R](ctx, p, target, slices.Values(items), len(items), opts, true)
}

// IMapUnordered is IMap in completion order (Python's imap_unordered);
// Outcome.Index tells which item each result belongs to.
func IMapUnordered[T, R any](ctx context.Context, p *Pool, target any, items []T, opts ...MapOption) iter.Seq[Outcome[R]] {
	return imap[T, R](ctx, p, target, slices.Values(items), len(items), opts, false)
}

// firstDone waits for any of the chunks and returns its index.
func firstDone[C any](cs []C, done func(C) <-chan struct{}) int {
	cases := make([]reflect.SelectCase, len(cs))
	for i, c := range cs {
		cases[i] = reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(done(c))}
	}
	i, _, _ := reflect.Select(cases)
	return i
}

// Starmap runs target with each argument list (Python's starmap), in
// chunks, and returns the results in order; errors as for Map.
func Starmap[R any](ctx context.Context, p *Pool, target any, argLists [][]any, opts ...MapOption) ([]R, error) {
	spec, err := resolve(target)
	if err != nil {
		return nil, err
	}
	if err := checkResult[R](spec); err != nil {
		return nil, err
	}
	cfg, err := p.mapConfig(spec.Name, len(argLists), opts)
	if err != nil {
		return nil, err
	}
	m := &mapper[struct{}, R]{ctx: ctx, pool: p, spec: spec, cfg: cfg, total: len(argLists)}
	codec := p.cfg.codec
	carrier := inject(ctx)
	var chunks []chunk
	for lo := 0; lo < len(argLists); lo += cfg.chunk {
		hi := min(lo+cfg.chunk, len(argLists))
		tuples := make([][]wire.Value, 0, hi-lo)
		for i := lo; i < hi; i++ {
			vals, err := bind(spec, target, argLists[i], nil)
			if err != nil {
				return nil, &TaskError{Index: i, Err: err}
			}
			enc, err := encodeArgs(spec, codec, vals, nil) // the chunk carries the carrier
			if err == nil && len(argFiles(enc)) > 0 {
				closeFiles(argFiles(enc))
				err = &ArgError{Target: spec.Name, Msg: errHandleInBatch.Error()}
			}
			if err != nil {
				return nil, &TaskError{Index: i, Err: err}
			}
			tuples = append(tuples, enc)
		}
		body := wire.Payload{(&wire.Batch{Target: spec.Name, Codec: codec.Name(), N: hi - lo, Tuples: tuples, Carrier: carrier}).Encode()}
		if err := chunkFits(spec, "argument lists", lo, hi, body); err != nil {
			return nil, err
		}
		t := newTask(ctx, spec, codec, wire.KindBatch, body, hi-lo)
		p.submit(t)
		chunks = append(chunks, chunk{t, lo})
	}
	return m.gather(chunks)
}

// Shutdown is the executor's shutdown(wait=False, cancel_futures): it
// closes the pool to new work, as Close does, and with cancelPending fails
// the calls no worker has taken yet with context.Canceled. It does not
// wait: Join, JoinTimeout and JoinContext do.
func (p *Pool) Shutdown(cancelPending bool) { p.close(cancelPending) }
