package mpotel_test

// The adapter with real children: this test binary is the parent and,
// re-executed, each child and pool worker. Every process calls
// mpotel.Setup from init, as a program would. The parent's provider
// exports to an in-memory exporter; a child's (the environment variable
// spansDirEnv set, as the tests set it before starting children) batches
// its spans with a timeout too long to ever fire, and exports them to a
// file named by its pid in that directory: so a child's spans reach the
// file only when mpotel flushes them as the child ends.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mpgen/mpgen/mpotel"
	"github.com/mpgen/mpgen/mpotel/internal/otargets"
	mp "github.com/mpgen/mpgen/runtime"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

const spansDirEnv = "MPOTEL_TEST_SPANS"

// parentSpans holds the spans the parent ended.
var parentSpans = tracetest.NewInMemoryExporter()

func init() {
	err := mpotel.Setup(func(context.Context) (*sdktrace.TracerProvider, error) {
		if dir := os.Getenv(spansDirEnv); dir != "" {
			exp := &fileExporter{path: filepath.Join(dir, strconv.Itoa(os.Getpid()))}
			return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(time.Hour))), nil
		}
		return sdktrace.NewTracerProvider(sdktrace.WithSyncer(parentSpans)), nil
	})
	if err != nil {
		panic(err)
	}
}

func TestMain(m *testing.M) {
	mp.Guard()
	os.Exit(m.Run())
}

// exported is one span as a child's fileExporter wrote it, its ids in hex
// (the ids marshal to JSON but do not unmarshal from it).
type exported struct {
	Name   string
	Trace  string
	Span   string
	Parent string
}

// fileExporter appends each span it exports to its file as a JSON line.
type fileExporter struct{ path string }

func (e *fileExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	f, err := os.OpenFile(e.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	for _, s := range spans {
		e := exported{Name: s.Name(), Trace: s.SpanContext().TraceID().String(), Span: s.SpanContext().SpanID().String(), Parent: s.Parent().SpanID().String()}
		if err := enc.Encode(e); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

func (e *fileExporter) Shutdown(context.Context) error { return nil }

// childSpans returns the spans child pid exported, waiting up to 30 s for
// its file when wait is set (for a worker that is retiring as the test
// runs); without wait, the file must be there.
func childSpans(t *testing.T, dir string, pid int, wait bool) []exported {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(dir, strconv.Itoa(pid)))
		if err == nil {
			var out []exported
			for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				var e exported
				if err := json.Unmarshal([]byte(line), &e); err != nil {
					t.Fatalf("child %d's span file: %v", pid, err)
				}
				out = append(out, e)
			}
			return out
		}
		if !wait || !errors.Is(err, os.ErrNotExist) || time.Now().After(deadline) {
			t.Fatalf("no spans exported by child %d: %v", pid, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// find returns the span named name among spans, failing without one.
func find(t *testing.T, spans []exported, name string) exported {
	t.Helper()
	for _, s := range spans {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no span %q among %+v", name, spans)
	return exported{}
}

// spansDir makes the directory children export to and sets spansDirEnv
// for the children started from now on.
func spansDir(t *testing.T) string {
	dir := t.TempDir()
	t.Setenv(spansDirEnv, dir)
	return dir
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newPool(t *testing.T, ctx context.Context, opts ...mp.PoolOption) *mp.Pool {
	t.Helper()
	p, err := mp.NewPool(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Terminate()
		_ = p.JoinTimeout(30 * time.Second)
	})
	return p
}

// closeJoin closes p and waits for its workers to end.
func closeJoin(t *testing.T, p *mp.Pool) {
	t.Helper()
	p.Close()
	if err := p.JoinTimeout(30 * time.Second); err != nil {
		t.Fatal(err)
	}
}

// checkChild fails the test unless info, what a target returned, is a
// span of the trace of parent, made its child, and unless the child that
// ran it exported it (after it ended).
func checkChild(t *testing.T, dir string, what string, info otargets.SpanInfo, parent trace.SpanContext) {
	t.Helper()
	if info.Trace != parent.TraceID() || info.Parent != parent.SpanID() {
		t.Errorf("%s: the target's span is in trace %v under %v; want trace %v under %v", what, info.Trace, info.Parent, parent.TraceID(), parent.SpanID())
	}
	got := find(t, childSpans(t, dir, info.Pid, false), info.Name)
	if got.Trace != parent.TraceID().String() || got.Span != info.Span.String() || got.Parent != parent.SpanID().String() {
		t.Errorf("%s: child %d exported %+v; want span %v of trace %v under %v", what, info.Pid, got, info.Span, parent.TraceID(), parent.SpanID())
	}
}

// One trace spans the parent's span, a Process child's span, and the spans
// of a pool worker's calls (Submit and each item of a Map), each exported
// by the process that made it.
func TestOneTraceAcrossProcesses(t *testing.T) {
	dir := spansDir(t)
	parentSpans.Reset()
	ctx, root := otel.Tracer("test").Start(testCtx(t), "parent")
	pc := root.SpanContext()

	f, err := mp.Spawn[otargets.SpanInfo](ctx, otargets.Span, "process")
	if err != nil {
		t.Fatal(err)
	}
	proc, err := f.Get() // returns once the child has ended
	if err != nil {
		t.Fatal(err)
	}

	pool := newPool(t, ctx, mp.Workers(1))
	worker, err := mp.Submit[otargets.SpanInfo](ctx, pool, otargets.Span, "worker").Get()
	if err != nil {
		t.Fatal(err)
	}
	items, err := mp.Map[string, otargets.SpanInfo](ctx, pool, otargets.Span, []string{"item-0", "item-1", "item-2"}, mp.Chunksize(2))
	if err != nil {
		t.Fatal(err)
	}
	closeJoin(t, pool)
	root.End()

	if proc.Pid == os.Getpid() || worker.Pid == os.Getpid() || proc.Pid == worker.Pid {
		t.Fatalf("the process ran in %d, the pool call in %d; the test runs in %d", proc.Pid, worker.Pid, os.Getpid())
	}
	checkChild(t, dir, "Spawn", proc, pc)
	checkChild(t, dir, "Submit", worker, pc)
	for _, it := range items {
		if it.Pid != worker.Pid {
			t.Errorf("%s ran in %d, not in the pool's one worker %d", it.Name, it.Pid, worker.Pid)
		}
		checkChild(t, dir, "Map "+it.Name, it, pc)
	}
	ended := parentSpans.GetSpans()
	if len(ended) != 1 || ended[0].Name != "parent" || ended[0].SpanContext.TraceID() != pc.TraceID() {
		t.Errorf("the parent exported %d spans (%v); want its one span of trace %v", len(ended), ended, pc.TraceID())
	}
}

// A worker that serves calls of two traces, one after the other, puts each
// call's span in its own call's trace, and a call made with no span in its
// context starts a trace of its own.
func TestFreshTraceEachCall(t *testing.T) {
	dir := spansDir(t)
	ctx := testCtx(t)
	pool := newPool(t, ctx, mp.Workers(1))
	var infos []otargets.SpanInfo
	var parents []trace.SpanContext
	for i := range 2 {
		cctx, span := otel.Tracer("test").Start(ctx, fmt.Sprintf("caller-%d", i), trace.WithNewRoot())
		info, err := mp.Submit[otargets.SpanInfo](cctx, pool, otargets.Span, fmt.Sprintf("call-%d", i)).Get()
		span.End()
		if err != nil {
			t.Fatal(err)
		}
		infos, parents = append(infos, info), append(parents, span.SpanContext())
	}
	untraced, err := mp.Submit[otargets.SpanInfo](ctx, pool, otargets.Span, "untraced").Get()
	if err != nil {
		t.Fatal(err)
	}
	closeJoin(t, pool)

	if parents[0].TraceID() == parents[1].TraceID() {
		t.Fatal("the two callers share a trace")
	}
	for i, info := range infos {
		if info.Pid != untraced.Pid {
			t.Fatalf("calls ran in workers %d, %d and %d; want one", infos[0].Pid, infos[1].Pid, untraced.Pid)
		}
		checkChild(t, dir, info.Name, info, parents[i])
	}
	if !untraced.Trace.IsValid() || untraced.Parent.IsValid() || untraced.Trace == parents[0].TraceID() || untraced.Trace == parents[1].TraceID() {
		t.Errorf("the call without a trace made a span of trace %v under %v; want a new root", untraced.Trace, untraced.Parent)
	}
}

// A worker recycled after its one task (MaxTasksPerChild(1)) exports its
// spans as it goes, while the pool lives on; the last worker does as the
// pool closes. The children's batches never time out: only the flush at
// their end exports anything.
func TestSpansFlushedWhenWorkersRetire(t *testing.T) {
	dir := spansDir(t)
	ctx, root := otel.Tracer("test").Start(testCtx(t), "parent")
	defer root.End()
	pool := newPool(t, ctx, mp.Workers(1), mp.MaxTasksPerChild(1))

	first, err := mp.Submit[otargets.SpanInfo](ctx, pool, otargets.Span, "recycled").Get()
	if err != nil {
		t.Fatal(err)
	}
	got := find(t, childSpans(t, dir, first.Pid, true), "recycled")
	if got.Trace != root.SpanContext().TraceID().String() {
		t.Errorf("the recycled worker exported %+v, outside trace %v", got, root.SpanContext().TraceID())
	}

	second, err := mp.Submit[otargets.SpanInfo](ctx, pool, otargets.Span, "closed").Get()
	if err != nil {
		t.Fatal(err)
	}
	if second.Pid == first.Pid {
		t.Fatalf("both calls ran in worker %d despite MaxTasksPerChild(1)", first.Pid)
	}
	if _, err := os.Stat(filepath.Join(dir, strconv.Itoa(second.Pid))); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the live worker exported before it ended (%v): the test cannot tell a flush at the end", err)
	}
	closeJoin(t, pool)
	checkChild(t, dir, "the last worker", second, root.SpanContext())
}

// The adapter's Propagator carries nothing for a context without a trace
// (the call then costs nothing more), and the W3C traceparent for one with
// a span, which Extract restores.
func TestPropagator(t *testing.T) {
	p := mpotel.Propagator(propagation.TraceContext{})
	if m := p.Inject(context.Background()); m != nil {
		t.Errorf("Inject of a context without a span: %v, want nil", m)
	}
	ctx, span := otel.Tracer("test").Start(context.Background(), "s")
	defer span.End()
	m := p.Inject(ctx)
	if len(m) != 1 || !strings.Contains(m["traceparent"], span.SpanContext().TraceID().String()) {
		t.Fatalf("Inject: %v; want the traceparent of trace %v", m, span.SpanContext().TraceID())
	}
	got := trace.SpanContextFromContext(p.Extract(context.Background(), m))
	if !got.IsRemote() || got.TraceID() != span.SpanContext().TraceID() || got.SpanID() != span.SpanContext().SpanID() {
		t.Errorf("Extract: %v; want the remote span context of %v", got, span.SpanContext())
	}
	if err := mpotel.Setup(nil); err == nil {
		t.Error("a second Setup succeeded")
	}
}
