package mpimpl_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mp "github.com/mpgen/mpgen/runtime"
	"github.com/mpgen/mpgen/runtime/mpimpl"
)

// The tests in this file run pools made with mpimpl.RemotePool over
// fakeTransport, whose workers are goroutines of this process running the
// encoded calls with mpimpl.HandleCall, as a remote worker would. This test
// binary installs no main guard, so the pools also show that a remote pool
// needs none.

// errRemoteBoom is a sentinel of the targets' "package": registered, it
// keeps its identity across the transport.
var errRemoteBoom = errors.New("remote boom")

// errLost is what fakeTransport fails a call with when told to.
var errLost = errors.New("fake: the worker running the call was lost")

func remoteDouble(x int) int { return 2 * x }

func remoteCheck(x int) (int, error) {
	if x < 0 {
		return 0, fmt.Errorf("check %d: %w", x, errRemoteBoom)
	}
	return x, nil
}

func remoteExplode(x int) int { panic(fmt.Sprintf("explode %d", x)) }

// remoteNap sleeps for d, or until ctx ends.
func remoteNap(ctx context.Context, d time.Duration) (time.Duration, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return d, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// gate lets a test see a remoteHold call start, release it, and learn how
// it ended.
type gate struct {
	started chan struct{} // one per call that started
	release chan struct{} // closed to let the calls return
	ended   chan error    // one per call that ended: nil, or its ctx's error
	once    sync.Once
}

func (g *gate) open() { g.once.Do(func() { close(g.release) }) }

var gates sync.Map // key -> *gate

// newGate makes the gate that remoteHold calls given key wait at.
func newGate(t *testing.T, key string) *gate {
	g := &gate{started: make(chan struct{}, 16), release: make(chan struct{}), ended: make(chan error, 16)}
	gates.Store(key, g)
	t.Cleanup(func() {
		g.open()
		gates.Delete(key)
	})
	return g
}

// remoteHold waits at the gate of key until it opens or ctx ends.
func remoteHold(ctx context.Context, key string) (string, error) {
	v, ok := gates.Load(key)
	if !ok {
		return "", fmt.Errorf("no gate %q", key)
	}
	g := v.(*gate)
	g.started <- struct{}{}
	select {
	case <-g.release:
		g.ended <- nil
		return key, nil
	case <-ctx.Done():
		g.ended <- ctx.Err()
		return "", ctx.Err()
	}
}

// remoteWithLock and remoteWithConn take handles, which cannot travel to
// a remote worker: they never run.
func remoteWithLock(l *mp.Lock, n int) (int, error)      { return n, nil }
func remoteWithConn(c *mp.Conn[int], n int) (int, error) { return n, nil }

func init() {
	intT := reflect.TypeFor[int]()
	mpimpl.RegisterError("mpimpl_test.errRemoteBoom", errRemoteBoom)
	mpimpl.Register(mpimpl.Spec{Name: "mpimpl_test.remote.double", Func: remoteDouble,
		Params: []mpimpl.Param{mpimpl.P[int]("x")}, Result: intT,
		Batch: mpimpl.One(func(_ context.Context, x int) (int, error) { return remoteDouble(x), nil })})
	mpimpl.Register(mpimpl.Spec{Name: "mpimpl_test.remote.check", Func: remoteCheck,
		Params: []mpimpl.Param{mpimpl.P[int]("x")}, Result: intT,
		Batch: mpimpl.One(func(_ context.Context, x int) (int, error) { return remoteCheck(x) })})
	mpimpl.Register(mpimpl.Spec{Name: "mpimpl_test.remote.explode", Func: remoteExplode,
		Params: []mpimpl.Param{mpimpl.P[int]("x")}, Result: intT,
		Batch: mpimpl.One(func(_ context.Context, x int) (int, error) { return remoteExplode(x), nil })})
	mpimpl.Register(mpimpl.Spec{Name: "mpimpl_test.remote.nap", Func: remoteNap, Context: true,
		Params: []mpimpl.Param{mpimpl.P[time.Duration]("d")}, Result: reflect.TypeFor[time.Duration](),
		Batch: mpimpl.One(remoteNap)})
	mpimpl.Register(mpimpl.Spec{Name: "mpimpl_test.remote.hold", Func: remoteHold, Context: true,
		Params: []mpimpl.Param{mpimpl.P[string]("key")}, Result: reflect.TypeFor[string](),
		Batch: mpimpl.One(remoteHold)})
	mpimpl.Register(mpimpl.Spec{Name: "mpimpl_test.remote.withLock", Func: remoteWithLock,
		Params: []mpimpl.Param{mpimpl.P[*mp.Lock]("l"), mpimpl.P[int]("n")}, Result: intT,
		Call: func(_ context.Context, args mpimpl.Args) (any, error) {
			var l *mp.Lock
			var n int
			if err := errors.Join(args.Decode(0, &l), args.Decode(1, &n)); err != nil {
				return nil, err
			}
			return remoteWithLock(l, n)
		}})
	mpimpl.Register(mpimpl.Spec{Name: "mpimpl_test.remote.withConn", Func: remoteWithConn,
		Params: []mpimpl.Param{mpimpl.P[*mp.Conn[int]]("c"), mpimpl.P[int]("n")}, Result: intT,
		Call: func(_ context.Context, args mpimpl.Args) (any, error) {
			var c *mp.Conn[int]
			var n int
			if err := errors.Join(args.Decode(0, &c), args.Decode(1, &n)); err != nil {
				return nil, err
			}
			return remoteWithConn(c, n)
		}})
}

// fakeTransport is a Transport whose workers are goroutines of this
// process: each call or batch a Conn is sent runs through
// mpimpl.HandleCall. It counts what the pool does to it.
type fakeTransport struct {
	slots    atomic.Int64
	failNext atomic.Bool               // the next call sent fails with a CallError
	deadline atomic.Pointer[time.Time] // when set, the worker ctx's deadline

	calls       atomic.Int64 // call and batch frames sent
	cancels     atomic.Int64 // cancel frames sent
	inFlight    atomic.Int64 // calls running in the workers now
	maxInFlight atomic.Int64
	overSlots   atomic.Int64 // calls sent while Slots were already running
	kills       atomic.Int64

	mu    sync.Mutex
	conns []*fakeConn
}

func newFake(slots int) *fakeTransport {
	f := &fakeTransport{}
	f.slots.Store(int64(slots))
	return f
}

func (f *fakeTransport) transport() mpimpl.Transport {
	return mpimpl.Transport{Name: "fake", Start: f.start, Slots: func() int { return int(f.slots.Load()) }}
}

func (f *fakeTransport) start(context.Context) (mpimpl.Conn, error) {
	c := &fakeConn{tr: f, running: map[uint64]context.CancelFunc{}}
	c.cond = sync.NewCond(&c.mu)
	f.mu.Lock()
	f.conns = append(f.conns, c)
	f.mu.Unlock()
	return c, nil
}

func (f *fakeTransport) started() []*fakeConn {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.conns)
}

// workerCtx is the context a call runs under in the fake's worker.
func (f *fakeTransport) workerCtx() (context.Context, context.CancelFunc) {
	if d := f.deadline.Load(); d != nil {
		return context.WithDeadline(context.Background(), *d)
	}
	return context.WithCancel(context.Background())
}

// checkSlots fails t if more calls ran at once, or more Conns were
// started, than the transport had slots for (no test lowers Slots).
func (f *fakeTransport) checkSlots(t *testing.T) {
	t.Helper()
	if n := f.overSlots.Load(); n > 0 {
		t.Errorf("%d calls were sent while Slots() calls were already running (at most %d at once)", n, f.maxInFlight.Load())
	}
	if n, slots := len(f.started()), f.slots.Load(); int64(n) > slots {
		t.Errorf("%d Conns were started for %d slots", n, slots)
	}
}

// fakeConn is one slot of fakeTransport's workers.
type fakeConn struct {
	tr *fakeTransport

	mu      sync.Mutex
	cond    *sync.Cond // broadcast on every change below
	queue   []recvd    // what Recv returns next
	running map[uint64]context.CancelFunc
	closed  bool // CloseWrite
	killed  bool // Kill
	eof     bool // Recv returned io.EOF
}

// recvd is one thing Recv returns: an outcome, or a *CallError.
type recvd struct {
	out mpimpl.Outcome
	err error
}

func (c *fakeConn) Send(fs ...mpimpl.Call) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.killed || c.closed {
		return io.ErrClosedPipe
	}
	for _, fr := range fs {
		switch fr.Kind {
		case mpimpl.KindCancel:
			c.tr.cancels.Add(1)
			if cancel := c.running[fr.ID]; cancel != nil {
				cancel()
			}
		case mpimpl.KindCall, mpimpl.KindBatch:
			c.tr.calls.Add(1)
			if c.tr.failNext.CompareAndSwap(true, false) {
				c.queue = append(c.queue, recvd{err: &mpimpl.CallError{ID: fr.ID, Err: fmt.Errorf("fake: %w", errLost)}})
				c.cond.Broadcast()
				continue
			}
			n := c.tr.inFlight.Add(1)
			if n > c.tr.slots.Load() {
				c.tr.overSlots.Add(1)
			}
			for m := c.tr.maxInFlight.Load(); n > m && !c.tr.maxInFlight.CompareAndSwap(m, n); m = c.tr.maxInFlight.Load() {
			}
			ctx, cancel := c.tr.workerCtx()
			c.running[fr.ID] = cancel
			go c.run(ctx, cancel, fr.Kind, fr.ID, fr.Body.Bytes())
		default:
			return fmt.Errorf("fake: frame of kind %v", fr.Kind)
		}
	}
	return nil
}

// run runs one call and queues its outcome, unless the Conn was killed
// meanwhile (a killed worker answers nothing).
func (c *fakeConn) run(ctx context.Context, cancel context.CancelFunc, kind mpimpl.Kind, id uint64, body []byte) {
	k, out := mpimpl.HandleCall(ctx, kind, body, nil)
	cancel()
	c.tr.inFlight.Add(-1) // before the outcome is seen, so that the next call finds the slot free
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.running, id)
	if !c.killed {
		c.queue = append(c.queue, recvd{out: mpimpl.Outcome{Kind: k, ID: id, Body: bytes.Join(out, nil)}})
	}
	c.cond.Broadcast()
}

func (c *fakeConn) Recv() (mpimpl.Outcome, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		switch {
		case c.killed:
			c.eof = true
			return mpimpl.Outcome{}, io.EOF
		case len(c.queue) > 0:
			r := c.queue[0]
			c.queue = c.queue[1:]
			return r.out, r.err
		case c.closed && len(c.running) == 0:
			c.eof = true
			return mpimpl.Outcome{}, io.EOF
		}
		c.cond.Wait()
	}
}

func (c *fakeConn) TakeFiles(n int) ([]*os.File, error) {
	return nil, fmt.Errorf("fake: a remote worker passes no descriptors (%d asked)", n)
}

func (c *fakeConn) Buffered() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue) > 0
}

func (c *fakeConn) CloseWrite() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	c.cond.Broadcast()
}

func (c *fakeConn) Kill() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.killed {
		c.tr.kills.Add(1)
	}
	c.killed = true
	for _, cancel := range c.running {
		cancel()
	}
	c.cond.Broadcast()
}

func (c *fakeConn) Wait() (int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for !c.killed && !(c.closed && len(c.running) == 0) {
		c.cond.Wait()
	}
	if c.killed {
		return -9, "SIGKILL"
	}
	return 0, ""
}

func (c *fakeConn) Pid() int           { return 0 }
func (c *fakeConn) RSS() (int64, bool) { return 0, false }

// state returns what the pool did to c.
func (c *fakeConn) state() (closed, killed, eof bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed, c.killed, c.eof
}

// newRemotePool makes a pool over f; the test's end terminates it.
func newRemotePool(t *testing.T, f *fakeTransport) *mp.Pool {
	t.Helper()
	p, err := mp.NewPool(context.Background(), mpimpl.RemotePool(f.transport()))
	if err != nil {
		t.Fatalf("NewPool(RemotePool): %v", err)
	}
	t.Cleanup(func() {
		p.Terminate()
		if err := p.JoinTimeout(10 * time.Second); err != nil {
			t.Errorf("Join after Terminate: %v", err)
		}
	})
	return p
}

// await returns what ch gives, failing t if nothing comes in a long time
// (a guard against a hang, not a measure).
func await[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// A remote pool runs Submit, Apply and Map through its transport's Conns,
// starts no process (and needs no main guard: this binary has none), and
// never runs more calls at once than the transport has slots.
func TestRemotePoolCalls(t *testing.T) {
	ctx := context.Background()
	if _, err := mp.NewPool(ctx, mp.Workers(1)); !errors.Is(err, mp.ErrNoGuard) {
		t.Fatalf("a local pool in this binary: %v, want ErrNoGuard (the test relies on there being no guard)", err)
	}
	f := newFake(2)
	p := newRemotePool(t, f)
	if got := p.Size(); got != 2 {
		t.Errorf("Size() = %d, want the transport's 2 slots", got)
	}
	if pids := p.Pids(); len(pids) != 0 {
		t.Errorf("Pids() = %v, want none", pids)
	}

	if got, err := mp.Submit[int](ctx, p, remoteDouble, 21).Get(); err != nil || got != 42 {
		t.Errorf("Submit(double, 21) = %d, %v; want 42", got, err)
	}
	if got, err := p.Apply(ctx, remoteDouble, []any{5}, nil); err != nil || got != 10 {
		t.Errorf("Apply(double, 5) = %v, %v; want 10", got, err)
	}
	if got, err := p.Apply(ctx, remoteDouble, nil, map[string]any{"x": 4}); err != nil || got != 8 {
		t.Errorf("Apply(double, x=4) = %v, %v; want 8", got, err)
	}

	items := make([]int, 100)
	want := make([]int, len(items))
	for i := range items {
		items[i], want[i] = i, 2*i
	}
	for _, opts := range [][]mp.MapOption{nil, {mp.Chunksize(1)}} {
		got, err := mp.Map[int, int](ctx, p, remoteDouble, items, opts...)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("Map(double, 0..99, %d options) = %v, %v; want %v", len(opts), got, err, want)
		}
	}

	// Many callers at once: the pool queues what the slots cannot take.
	futs := make([]*mp.Future[time.Duration], 20)
	for i := range futs {
		futs[i] = mp.Submit[time.Duration](ctx, p, remoteNap, time.Duration(i)*100*time.Microsecond)
	}
	for i, fu := range futs {
		if got, err := fu.Get(); err != nil || got != time.Duration(i)*100*time.Microsecond {
			t.Errorf("Submit(nap) %d = %v, %v", i, got, err)
		}
	}

	f.checkSlots(t)
	if n := len(f.started()); n > 2 {
		t.Errorf("the transport started %d Conns for 2 slots", n)
	}
	if n := f.kills.Load(); n != 0 {
		t.Errorf("%d Conns were killed", n)
	}
}

// As the transport's Slots grow, the pool starts Conns to match as work
// arrives, and that many calls run at once.
func TestRemotePoolSlotsGrow(t *testing.T) {
	ctx := context.Background()
	f := newFake(1)
	p := newRemotePool(t, f)
	g := newGate(t, t.Name())

	a := mp.Submit[string](ctx, p, remoteHold, t.Name())
	await(t, g.started, "call A to start")
	b := mp.Submit[string](ctx, p, remoteHold, t.Name())
	// Submit sends from the caller's goroutine when a slot is free, so B
	// was queued if the transport has seen one call only.
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("with 1 slot busy, the transport was sent %d calls, want 1", n)
	}

	f.slots.Store(3)
	if got := p.Size(); got != 3 {
		t.Errorf("Size() = %d after Slots grew to 3", got)
	}
	c := mp.Submit[string](ctx, p, remoteHold, t.Name())
	await(t, g.started, "call B to start")
	await(t, g.started, "call C to start")
	if n := f.inFlight.Load(); n != 3 {
		t.Errorf("%d calls running at once, want 3", n)
	}
	g.open()
	for i, fu := range []*mp.Future[string]{a, b, c} {
		if got, err := fu.Get(); err != nil || got != t.Name() {
			t.Errorf("call %d = %q, %v", i, got, err)
		}
	}
	f.checkSlots(t)
	if n := f.maxInFlight.Load(); n != 3 {
		t.Errorf("at most %d calls ran at once, want 3", n)
	}
	if n := len(f.started()); n != 3 {
		t.Errorf("%d Conns started, want 3", n)
	}
}

// A target's error, panic and per-item failures arrive as they do from a
// local pool.
func TestRemotePoolErrors(t *testing.T) {
	ctx := context.Background()
	f := newFake(2)
	p := newRemotePool(t, f)

	if _, err := p.Apply(ctx, remoteCheck, []any{-1}, nil); !errors.Is(err, errRemoteBoom) {
		t.Errorf("Apply(check, -1): %v, want errors.Is errRemoteBoom", err)
	}
	if _, err := mp.Submit[int](ctx, p, remoteCheck, -2).Get(); !errors.Is(err, errRemoteBoom) || !strings.Contains(err.Error(), "check -2") {
		t.Errorf("Submit(check, -2): %v, want errors.Is errRemoteBoom, saying check -2", err)
	}
	var pe *mp.PanicError
	if _, err := mp.Submit[int](ctx, p, remoteExplode, 3).Get(); !errors.As(err, &pe) || pe.Value != "explode 3" {
		t.Errorf("Submit(explode, 3): %v, want a *PanicError of \"explode 3\"", err)
	}

	items := []int{1, -2, 3, -4}
	for _, chunk := range []int{1, 4} {
		got, err := mp.Map[int, int](ctx, p, remoteCheck, items, mp.Chunksize(chunk))
		var te *mp.TaskError
		if !errors.As(err, &te) || te.Index != 1 || !errors.Is(err, errRemoteBoom) {
			t.Errorf("Map(check, Chunksize %d): %v, want a *TaskError for item 1 matching errRemoteBoom", chunk, err)
		}
		if len(got) != len(items) || got[0] != 1 || got[2] != 3 {
			t.Errorf("Map(check, Chunksize %d) = %v, want the results of items 0 and 2", chunk, got)
		}
		for o := range mp.IMap[int, int](ctx, p, remoteCheck, items, mp.Chunksize(chunk)) {
			if failed := items[o.Index] < 0; failed != errors.Is(o.Err, errRemoteBoom) || (!failed && o.Value != items[o.Index]) {
				t.Errorf("IMap(check, Chunksize %d) item %d: %v, %v", chunk, o.Index, o.Value, o.Err)
			}
		}
	}
	_, err := mp.Map[int, int](ctx, p, remoteExplode, []int{7, 8})
	var te *mp.TaskError
	if !errors.As(err, &te) || te.Index != 0 || !errors.As(err, &pe) || pe.Value != "explode 7" {
		t.Errorf("Map(explode): %v, want a *TaskError for item 0 wrapping a *PanicError", err)
	}
	f.checkSlots(t)
}

// A CallError from a Conn's Recv fails its call alone, with its Err; the
// Conn goes on serving, and so does the pool.
func TestRemoteCallError(t *testing.T) {
	ctx := context.Background()
	f := newFake(2)
	p := newRemotePool(t, f)
	g := newGate(t, t.Name())
	held := mp.Submit[string](ctx, p, remoteHold, t.Name())
	await(t, g.started, "the held call to start")

	f.failNext.Store(true)
	if _, err := mp.Submit[int](ctx, p, remoteDouble, 1).Get(); !errors.Is(err, errLost) {
		t.Fatalf("the failed call: %v, want errors.Is errLost", err)
	}
	if got, err := p.Apply(ctx, remoteDouble, []any{2}, nil); err != nil || got != 4 {
		t.Errorf("the call after: %v, %v; want 4", got, err)
	}
	f.failNext.Store(true)
	got, err := mp.Map[int, int](ctx, p, remoteDouble, []int{1, 2, 3}, mp.Chunksize(3))
	var te *mp.TaskError
	if !errors.As(err, &te) || te.Index != 0 || !errors.Is(err, errLost) {
		t.Errorf("Map with its one chunk lost = %v, %v; want a *TaskError matching errLost", got, err)
	}
	if got, err := mp.Map[int, int](ctx, p, remoteDouble, []int{1, 2, 3}); err != nil || !slices.Equal(got, []int{2, 4, 6}) {
		t.Errorf("Map after = %v, %v", got, err)
	}

	if held.Ready() {
		_, err := held.Get()
		t.Fatalf("the held call ended with the lost ones: %v", err)
	}
	g.open()
	if got, err := held.Get(); err != nil || got != t.Name() {
		t.Errorf("the held call = %q, %v", got, err)
	}
	if n := f.kills.Load(); n != 0 {
		t.Errorf("%d Conns were killed", n)
	}
	if n := len(f.started()); n != 2 {
		t.Errorf("%d Conns started for 2 slots: a CallError must not cost a Conn", n)
	}
	f.checkSlots(t)
}

// A call whose deadline passes while it runs fails with a *TimeoutError;
// its worker is sent a cancel, not killed, and serves on.
func TestRemoteDeadline(t *testing.T) {
	ctx := context.Background()

	t.Run("caller", func(t *testing.T) {
		f := newFake(1)
		p := newRemotePool(t, f)
		g := newGate(t, t.Name())
		cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := mp.Submit[string](cctx, p, remoteHold, t.Name()).Get()
		var te *mp.TimeoutError
		if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("a call past its deadline: %v, want a *TimeoutError", err)
		}
		// The worker's context has no deadline of its own: only the
		// cancel frame ends the call there.
		if err := await(t, g.ended, "the worker's call to end"); !errors.Is(err, context.Canceled) {
			t.Errorf("the worker's call ended with %v, want its context cancelled", err)
		}
		if n := f.cancels.Load(); n != 1 {
			t.Errorf("%d cancel frames sent, want 1", n)
		}
		if n := f.kills.Load(); n != 0 {
			t.Errorf("%d Conns killed, want none", n)
		}
		if got, err := p.Apply(ctx, remoteDouble, []any{3}, nil); err != nil || got != 6 {
			t.Errorf("the call after = %v, %v", got, err)
		}
		if n := len(f.started()); n != 1 {
			t.Errorf("%d Conns started, want the one, kept", n)
		}
	})

	// The worker is given the same deadline, so its own context may end
	// the call, and its outcome arrive, before the pool's deadline callback
	// has run: still a timeout, and still no kill.
	t.Run("worker", func(t *testing.T) {
		f := newFake(1)
		p := newRemotePool(t, f)
		for i := range 10 {
			deadline := time.Now().Add(20 * time.Millisecond)
			f.deadline.Store(&deadline)
			cctx, cancel := context.WithDeadline(ctx, deadline)
			_, err := mp.Submit[time.Duration](cctx, p, remoteNap, time.Hour).Get()
			cancel()
			var te *mp.TimeoutError
			if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("try %d: a call past its deadline: %v, want a *TimeoutError", i, err)
			}
		}
		f.deadline.Store(nil)
		if got, err := p.Apply(ctx, remoteDouble, []any{3}, nil); err != nil || got != 6 {
			t.Errorf("the call after = %v, %v", got, err)
		}
		if n := f.kills.Load(); n != 0 {
			t.Errorf("%d Conns killed, want none", n)
		}
		if n := len(f.started()); n != 1 {
			t.Errorf("%d Conns started, want the one, kept", n)
		}
		t.Logf("%d of 10 timeouts sent a cancel (the others' outcome came first)", f.cancels.Load())
	})
}

// Cancelling a call's context cancels the call's context in its worker.
func TestRemoteCancel(t *testing.T) {
	f := newFake(1)
	p := newRemotePool(t, f)
	g := newGate(t, t.Name())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fu := mp.Submit[string](ctx, p, remoteHold, t.Name())
	await(t, g.started, "the call to start")
	cancel()
	if _, err := fu.Get(); !errors.Is(err, context.Canceled) {
		t.Errorf("the cancelled call: %v, want context.Canceled", err)
	}
	if err := await(t, g.ended, "the worker's call to end"); !errors.Is(err, context.Canceled) {
		t.Errorf("the worker's call ended with %v, want its context cancelled", err)
	}
	if n := f.kills.Load(); n != 0 {
		t.Errorf("%d Conns killed, want none", n)
	}
	if got, err := p.Apply(context.Background(), remoteDouble, []any{1}, nil); err != nil || got != 2 {
		t.Errorf("the call after = %v, %v", got, err)
	}
}

// The options of local worker processes make NewPool of a remote pool
// fail, naming the option, before the transport starts anything.
func TestRemotePoolLocalOptions(t *testing.T) {
	f := newFake(1)
	for name, opt := range map[string]mp.PoolOption{
		"Workers":          mp.Workers(2),
		"Initializer":      mp.Initializer(remoteDouble, 1),
		"MaxTasksPerChild": mp.MaxTasksPerChild(10),
		"IdleTimeout":      mp.IdleTimeout(time.Second),
		"MaxRSS":           mp.MaxRSS(1 << 30),
		"PoolOutput":       mp.PoolOutput(io.Discard, io.Discard),
	} {
		for _, opts := range [][]mp.PoolOption{{mpimpl.RemotePool(f.transport()), opt}, {opt, mpimpl.RemotePool(f.transport())}} {
			p, err := mp.NewPool(context.Background(), opts...)
			if err == nil {
				p.Terminate()
				t.Errorf("NewPool(RemotePool, %s) made a pool", name)
				continue
			}
			if !strings.Contains(err.Error(), name) {
				t.Errorf("NewPool(RemotePool, %s): %v, want it to name %s", name, err, name)
			}
		}
	}
	if n := len(f.started()); n != 0 {
		t.Errorf("the transport started %d Conns for pools it refused", n)
	}
	p, err := mp.NewPool(context.Background(), mpimpl.RemotePool(f.transport()), mp.PoolCodec(mp.Gob))
	if err != nil {
		t.Fatalf("NewPool(RemotePool, PoolCodec): %v", err)
	}
	p.Close()
	if err := p.JoinTimeout(10 * time.Second); err != nil {
		t.Error(err)
	}
}

// A handle's descriptor is of this host: a call with one is refused with an
// *ArgError, and the caller's handle still works.
func TestRemoteHandleArg(t *testing.T) {
	ctx := context.Background()
	f := newFake(1)
	p := newRemotePool(t, f)
	l, err := mp.NewLock()
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip("no handles on this platform yet: ", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	recv, send, err := mp.Pipe[int](false)
	if err != nil {
		t.Fatal(err)
	}
	defer recv.Close()
	defer send.Close()

	for name, call := range map[string]func() error{
		"Apply(withLock)": func() error { _, err := p.Apply(ctx, remoteWithLock, []any{l, 1}, nil); return err },
		"Submit(withLock)": func() error {
			_, err := mp.Submit[int](ctx, p, remoteWithLock, l, 1).Get()
			return err
		},
		"Apply(withConn)": func() error { _, err := p.Apply(ctx, remoteWithConn, []any{send, 1}, nil); return err },
	} {
		var ae *mp.ArgError
		if err := call(); !errors.As(err, &ae) || !strings.Contains(err.Error(), "remote") {
			t.Errorf("%s: %v, want an *ArgError about a remote worker", name, err)
		}
	}
	if n := f.calls.Load(); n != 0 {
		t.Errorf("the transport was sent %d calls", n)
	}
	l.Lock()
	l.Unlock()
	if err := send.Send(7); err != nil {
		t.Fatalf("Send on the pipe after: %v", err)
	}
	if v, err := recv.RecvTimeout(10 * time.Second); err != nil || v != 7 {
		t.Errorf("Recv on the pipe after = %d, %v", v, err)
	}
}

// Close lets the workers finish and closes every Conn's writing side;
// Join returns once each has ended. Nothing is killed.
func TestRemotePoolCloseJoin(t *testing.T) {
	ctx := context.Background()
	f := newFake(2)
	p, err := mp.NewPool(ctx, mpimpl.RemotePool(f.transport()))
	if err != nil {
		t.Fatal(err)
	}
	g := newGate(t, t.Name())
	a := mp.Submit[string](ctx, p, remoteHold, t.Name())
	b := mp.Submit[string](ctx, p, remoteHold, t.Name())
	await(t, g.started, "call A to start")
	await(t, g.started, "call B to start")
	p.Close()
	g.open()
	if err := p.JoinTimeout(10 * time.Second); err != nil {
		t.Fatalf("Join after Close: %v", err)
	}
	for i, fu := range []*mp.Future[string]{a, b} {
		if got, err := fu.Get(); err != nil || got != t.Name() {
			t.Errorf("call %d, running at Close = %q, %v", i, got, err)
		}
	}
	conns := f.started()
	if len(conns) != 2 {
		t.Errorf("%d Conns started, want 2", len(conns))
	}
	for i, c := range conns {
		if closed, killed, eof := c.state(); !closed || killed || !eof {
			t.Errorf("Conn %d: CloseWrite %v, Kill %v, Recv at EOF %v; want CloseWrite and EOF, no Kill", i, closed, killed, eof)
		}
	}
	if _, err := mp.Submit[int](ctx, p, remoteDouble, 1).Get(); !errors.Is(err, mp.ErrPoolClosed) {
		t.Errorf("Submit after Close: %v, want ErrPoolClosed", err)
	}
}

// Terminate kills the Conns: the running call fails, its worker's context
// ends, and Join returns.
func TestRemotePoolTerminate(t *testing.T) {
	ctx := context.Background()
	f := newFake(1)
	p, err := mp.NewPool(ctx, mpimpl.RemotePool(f.transport()))
	if err != nil {
		t.Fatal(err)
	}
	g := newGate(t, t.Name())
	running := mp.Submit[string](ctx, p, remoteHold, t.Name())
	await(t, g.started, "the call to start")
	queued := mp.Submit[int](ctx, p, remoteDouble, 1)
	p.Terminate()
	if _, err := running.Get(); !errors.Is(err, mp.ErrPoolTerminated) {
		t.Errorf("the running call after Terminate: %v, want mp.ErrPoolTerminated (no process died)", err)
	}
	if _, err := queued.Get(); !errors.Is(err, mp.ErrPoolTerminated) {
		t.Errorf("the queued call after Terminate: %v, want ErrPoolTerminated", err)
	}
	if err := p.JoinTimeout(10 * time.Second); err != nil {
		t.Fatalf("Join after Terminate: %v", err)
	}
	if err := await(t, g.ended, "the worker's call to end"); !errors.Is(err, context.Canceled) {
		t.Errorf("the worker's call ended with %v, want its context cancelled", err)
	}
	if n := f.kills.Load(); n != 1 {
		t.Errorf("%d Conns killed, want 1", n)
	}
}

// Lookup finds a target by its registered name; Targets lists them all in
// name order.
func TestRemoteLookupTargets(t *testing.T) {
	s, ok := mpimpl.Lookup("mpimpl_test.remote.double")
	if !ok || s == nil || s.Name != "mpimpl_test.remote.double" || len(s.Params) != 1 {
		t.Errorf("Lookup(double) = %+v, %v", s, ok)
	}
	if s, ok := mpimpl.Lookup("mpimpl_test.remote.nobody"); ok || s != nil {
		t.Errorf("Lookup(nobody) = %+v, %v; want nothing", s, ok)
	}
	specs := mpimpl.Targets()
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	if !slices.IsSorted(names) {
		t.Errorf("Targets() not in name order: %v", names)
	}
	for _, want := range []string{"mpimpl_test.remote.double", "mpimpl_test.remote.hold", "mpimpl_test.upper"} {
		if !slices.Contains(names, want) {
			t.Errorf("Targets() lacks %s: %v", want, names)
		}
	}
	if len(names) != len(slices.Compact(slices.Clone(names))) {
		t.Errorf("Targets() lists a name twice: %v", names)
	}
}
