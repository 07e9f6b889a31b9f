package mp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpgen/mpgen/runtime/internal/registry"
	"github.com/mpgen/mpgen/runtime/internal/wire"
	"github.com/mpgen/mpgen/runtime/internal/worker"
)

// The tests in this file run Pools whose workers are fakeWorkers: they run
// the encoded calls in this process, with the child side's handler, so the
// pool's scheduling is seen working through worker.Conn alone.

func seamSquare(x int) int { return x * x }

// seamCrash never runs: a fakeWorker given it dies with exit code 7.
func seamCrash(x int) int { return x }

// seamWait runs until its context ends.
func seamWait(ctx context.Context, x int) (int, error) {
	<-ctx.Done()
	return x, ctx.Err()
}

var seamInitArg atomic.Int64

func seamInit(x int) error {
	if x < 0 {
		return fmt.Errorf("seam init refuses %d", x)
	}
	seamInitArg.Store(int64(x))
	return nil
}

func init() {
	intT := reflect.TypeFor[int]()
	one := []registry.Param{{Name: "x", Type: intT}}
	registry.Register(registry.Spec{Name: "mp.seamtest.square", Func: seamSquare, Params: one, Result: intT,
		Batch: registry.One(func(_ context.Context, x int) (int, error) { return seamSquare(x), nil })})
	registry.Register(registry.Spec{Name: "mp.seamtest.crash", Func: seamCrash, Params: one, Result: intT,
		Batch: registry.One(func(_ context.Context, x int) (int, error) { return seamCrash(x), nil })})
	registry.Register(registry.Spec{Name: "mp.seamtest.wait", Func: seamWait, Context: true, Params: one, Result: intT,
		Batch: registry.One(seamWait)})
	registry.Register(registry.Spec{Name: "mp.seamtest.init", Func: seamInit, Params: one,
		Batch: registry.One(func(_ context.Context, x int) (struct{}, error) { return struct{}{}, seamInit(x) })})
}

// fakeStarter starts fakeWorkers and keeps them, in order.
type fakeStarter struct {
	crashGate chan struct{} // a worker given seamCrash dies once this closes

	mu      sync.Mutex
	workers []*fakeWorker
}

func (s *fakeStarter) option() PoolOption {
	return func(c *poolConfig) { c.start = s.start }
}

func (s *fakeStarter) start(ctx context.Context, ws workerStart) (worker.Conn, error) {
	if ws.init != nil {
		kind, body := worker.Handle(ctx, wire.Frame{Kind: wire.KindCall, Body: ws.init.Bytes(), Files: dupFiles(ws.initFiles)})
		if err := initOutcome(wire.Frame{Kind: kind, Body: body.Bytes()}, ws.codec); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	w := &fakeWorker{
		pid:       1_000_000 + len(s.workers),
		crashGate: s.crashGate,
		calls:     make(chan wire.Frame, 1024),
		out:       make(chan wire.Frame, 1024),
		done:      make(chan struct{}),
		cancelled: map[uint64]bool{},
	}
	s.workers = append(s.workers, w)
	go w.run()
	return w, nil
}

func (s *fakeStarter) started() []*fakeWorker {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*fakeWorker(nil), s.workers...)
}

// fakeWorker is a worker.Conn whose worker is a goroutine of this process.
type fakeWorker struct {
	pid       int
	crashGate chan struct{}
	calls     chan wire.Frame // call and batch frames, in the order sent
	out       chan wire.Frame // outcomes
	done      chan struct{}   // closed when the worker has ended
	ended     sync.Once
	code      int
	signal    string

	frames  atomic.Int64 // call and batch frames received
	cancels atomic.Int64 // cancel frames received
	served  atomic.Int64 // calls answered

	mu        sync.Mutex
	closed    bool // CloseWrite
	running   uint64
	cancel    context.CancelFunc
	cancelled map[uint64]bool // cancel frames that came before their call ran
}

func (w *fakeWorker) end(code int, signal string) {
	w.ended.Do(func() {
		w.code, w.signal = code, signal
		close(w.done)
	})
}

func (w *fakeWorker) run() {
	for {
		var f wire.Frame
		select {
		case <-w.done: // killed
			return
		case g, ok := <-w.calls:
			if !ok { // retired, every call answered
				w.end(0, "")
				return
			}
			f = g
		}
		if call, err := wire.DecodeCall(f.Body); err == nil && f.Kind == wire.KindCall && call.Target == "mp.seamtest.crash" {
			if w.crashGate != nil {
				<-w.crashGate
			}
			w.end(7, "") // mid-call: no outcome, the calls behind it unanswered
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		w.mu.Lock()
		w.running, w.cancel = f.ID, cancel
		if w.cancelled[f.ID] {
			cancel()
		}
		w.mu.Unlock()
		kind, body := worker.Handle(ctx, f)
		cancel()
		w.mu.Lock()
		w.running, w.cancel = 0, nil
		select {
		case <-w.done: // killed meanwhile: a killed process answers nothing
			w.mu.Unlock()
			return
		default:
		}
		w.out <- wire.Frame{Kind: kind, ID: f.ID, Body: body.Bytes()} // never full: a pool sends fewer
		w.served.Add(1)
		w.mu.Unlock()
	}
}

func (w *fakeWorker) Send(fs ...worker.Frame) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case <-w.done:
		return io.ErrClosedPipe
	default:
	}
	if w.closed {
		return io.ErrClosedPipe
	}
	for _, f := range fs {
		if f.Kind == wire.KindCancel {
			w.cancels.Add(1)
			if w.running == f.ID && w.cancel != nil {
				w.cancel()
			} else {
				w.cancelled[f.ID] = true
			}
			continue
		}
		w.frames.Add(1)
		w.calls <- wire.Frame{Kind: f.Kind, ID: f.ID, Body: f.Body.Bytes(), Files: dupFiles(f.Files)}
	}
	return nil
}

func (w *fakeWorker) Recv() (wire.Frame, error) {
	select {
	case f := <-w.out:
		return f, nil
	case <-w.done:
		select { // what it answered before it ended
		case f := <-w.out:
			return f, nil
		default:
			return wire.Frame{}, io.EOF
		}
	}
}

func (w *fakeWorker) Buffered() bool { return len(w.out) > 0 }

// TakeFiles: an in-process worker passes no descriptors.
func (w *fakeWorker) TakeFiles(n int) ([]*os.File, error) {
	return nil, fmt.Errorf("a fake worker passes no descriptors (%d asked)", n)
}

func (w *fakeWorker) CloseWrite() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.closed = true
		close(w.calls)
	}
}

func (w *fakeWorker) Kill() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cancel != nil {
		w.cancel()
	}
	w.end(-9, "SIGKILL")
}

func (w *fakeWorker) Wait() (int, string) {
	<-w.done
	return w.code, w.signal
}

func (w *fakeWorker) Pid() int           { return w.pid }
func (w *fakeWorker) RSS() (int64, bool) { return 0, false }

// newSeamPool starts a pool of n fakeWorkers.
func newSeamPool(t *testing.T, s *fakeStarter, n int, opts ...PoolOption) *Pool {
	t.Helper()
	p, err := NewPool(context.Background(), append([]PoolOption{Workers(n), s.option()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Terminate()
		_ = p.Join()
	})
	return p
}

// TestPoolThroughConn: calls and Map's batches go to the workers as frames
// through worker.Conn and come back as outcomes; a closed pool retires its
// workers through CloseWrite.
func TestPoolThroughConn(t *testing.T) {
	s := &fakeStarter{}
	p := newSeamPool(t, s, 2)
	for _, pid := range p.Pids() {
		if pid < 1_000_000 {
			t.Fatalf("Pids() = %v: a worker is not a fake", p.Pids())
		}
	}
	ctx := context.Background()
	var fs []*Future[int]
	for i := range 50 {
		fs = append(fs, Submit[int](ctx, p, seamSquare, i))
	}
	for i, f := range fs {
		if v, err := f.GetContext(ctx); err != nil || v != i*i {
			t.Fatalf("call %d = %d, %v; want %d", i, v, err, i*i)
		}
	}
	items := make([]int, 1000)
	for i := range items {
		items[i] = i
	}
	got, err := Map[int, int](ctx, p, seamSquare, items, Chunksize(10))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if v != i*i {
			t.Fatalf("Map item %d = %d", i, v)
		}
	}
	p.Close()
	if err := p.Join(); err != nil {
		t.Fatal(err)
	}
	var frames, served int64
	for _, w := range s.started() {
		frames += w.frames.Load()
		served += w.served.Load()
		if code, sig := w.Wait(); code != 0 || sig != "" {
			t.Errorf("worker %d ended with %d %q, not retired", w.pid, code, sig)
		}
	}
	if want := int64(50 + 100); frames != want || served != want {
		t.Fatalf("workers got %d frames and answered %d, want %d each", frames, served, want)
	}
	if n := len(s.started()); n != 2 {
		t.Fatalf("%d workers started, want 2", n)
	}
}

// TestPoolConnDeathFailsOnlyItsCall: a worker that ends in the middle of a
// call fails that call with its exit status; the calls queued behind it on
// the same worker run again on its replacement.
func TestPoolConnDeathFailsOnlyItsCall(t *testing.T) {
	s := &fakeStarter{crashGate: make(chan struct{})}
	p := newSeamPool(t, s, 1)
	ctx := context.Background()
	crash := Submit[int](ctx, p, seamCrash, 1)
	var fs []*Future[int]
	for i := range 3 {
		fs = append(fs, Submit[int](ctx, p, seamSquare, i+2))
	}
	first := s.started()[0]
	for deadline := time.Now().Add(10 * time.Second); first.frames.Load() < 4; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the worker got %d frames, want 4 (the crash and the 3 behind it)", first.frames.Load())
		}
	}
	close(s.crashGate)
	_, err := crash.GetContext(ctx)
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 7 || ee.Target != "mp.seamtest.crash" {
		t.Fatalf("crashed call: %v, want an *ExitError with code 7", err)
	}
	for i, f := range fs {
		if v, err := f.GetContext(ctx); err != nil || v != (i+2)*(i+2) {
			t.Fatalf("queued call %d = %d, %v", i, v, err)
		}
	}
	ws := s.started()
	if len(ws) != 2 {
		t.Fatalf("%d workers started, want the first and its replacement", len(ws))
	}
	if first.served.Load() != 0 || ws[1].served.Load() != 3 {
		t.Fatalf("the first worker answered %d calls and its replacement %d, want 0 and 3", first.served.Load(), ws[1].served.Load())
	}
}

// TestPoolConnCancelAndDeadline: cancelling a running call's context sends a
// cancel frame and keeps the worker; a deadline that passes kills the
// worker through Kill, and a replacement serves what follows.
func TestPoolConnCancelAndDeadline(t *testing.T) {
	s := &fakeStarter{}
	p := newSeamPool(t, s, 1)
	w := s.started()[0]
	ctx, cancel := context.WithCancel(context.Background())
	f := Submit[int](ctx, p, seamWait, 1)
	for deadline := time.Now().Add(10 * time.Second); w.frames.Load() < 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the call never reached the worker")
		}
	}
	cancel()
	if _, err := f.GetContext(context.Background()); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
	if v, err := Submit[int](context.Background(), p, seamSquare, 3).GetContext(context.Background()); err != nil || v != 9 {
		t.Fatalf("call after a cancel = %d, %v", v, err)
	}
	if w.cancels.Load() != 1 || len(s.started()) != 1 {
		t.Fatalf("%d cancel frames, %d workers started; want 1 and 1", w.cancels.Load(), len(s.started()))
	}

	dctx, dcancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer dcancel()
	_, err := Submit[int](dctx, p, seamWait, 2).GetContext(context.Background())
	var te *TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("call past its deadline: %v, want a *TimeoutError", err)
	}
	if code, sig := w.Wait(); sig != "SIGKILL" {
		t.Fatalf("the timed-out worker ended with %d %q, not killed", code, sig)
	}
	if v, err := Submit[int](context.Background(), p, seamSquare, 4).GetContext(context.Background()); err != nil || v != 16 {
		t.Fatalf("call after a timeout = %d, %v", v, err)
	}
	if n := len(s.started()); n != 2 {
		t.Fatalf("%d workers started, want 2", n)
	}
}

// TestPoolConnInitializer: the starter is given the encoded initializer
// call; its failure fails NewPool.
func TestPoolConnInitializer(t *testing.T) {
	newSeamPool(t, &fakeStarter{}, 2, Initializer(seamInit, 41))
	if got := seamInitArg.Load(); got != 41 {
		t.Fatalf("initializer ran with %d, want 41", got)
	}
	_, err := NewPool(context.Background(), Workers(1), (&fakeStarter{}).option(), Initializer(seamInit, -1))
	if err == nil || !strings.Contains(err.Error(), "seam init refuses -1") {
		t.Fatalf("NewPool with a failing initializer: %v", err)
	}
}
