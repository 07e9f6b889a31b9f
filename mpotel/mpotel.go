// Package mpotel carries OpenTelemetry traces across mpgen's process
// boundary. With it, each call a program makes to a child process or a pool
// worker (Process.StartContext, Spawn, a pool's Apply, Submit, Map, IMap,
// Starmap, also on a remote pool such as mpnats') carries the trace context
// of its ctx, and the target's ctx continues that trace: a span the target
// starts from its ctx is a child of the caller's span, in a fresh context
// for each call, even in a worker that serves many.
//
// Each process exports its own spans, as the services of a distributed
// system do: every process of the program, the children included, gets a
// TracerProvider from the function given to Setup. A child shuts its
// provider down, exporting what it buffers, as it ends of its own accord:
// a Process's child after its target's outcome, a pool worker when it is
// retired or recycled (Close, MaxTasksPerChild, IdleTimeout, MaxRSS). So
// spans are not lost when a worker goes, and a batching exporter costs a
// call nothing.
//
// A child runs the program's package inits and then the main guard, never
// main: Setup must therefore be called from an init function, where it
// runs in the parent and in every child alike:
//
//	func init() {
//		// Runs in every process of the program: children run inits, not main.
//		err := mpotel.Setup(func(ctx context.Context) (*sdktrace.TracerProvider, error) {
//			exp, err := otlptracegrpc.New(ctx) // OTEL_EXPORTER_OTLP_* from the environment
//			if err != nil {
//				return nil, err
//			}
//			return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp)), nil
//		})
//		if err != nil {
//			log.Fatal(err)
//		}
//	}
//
//	func main() {
//		defer mpotel.Shutdown(context.Background()) // the parent's own spans
//		ctx, span := otel.Tracer("app").Start(context.Background(), "work")
//		defer span.End()
//		results, err := mp.Map[int, int](ctx, pool, Square, items)
//		...
//	}
//
//	//mp:target
//	func Square(ctx context.Context, x int) (int, error) {
//		_, span := otel.Tracer("app").Start(ctx, "square") // in the Map's trace
//		defer span.End()
//		return x * x, nil
//	}
//
// Only the target's ctx carries the trace: a target without a
// context.Context parameter runs in it but cannot see it.
//
// What is lost: a child that is killed (Process.Kill, a call's deadline,
// the kernel's OOM killer) exports nothing it still buffers; a provider
// made with sdktrace.WithSyncer instead of WithBatcher exports each span as
// it ends, at the cost of an export per span. A process that serves calls
// arriving another way than as mpgen's child (an mpnats worker's serve) is
// no child: shut its provider down in its main, with Shutdown.
package mpotel

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"

	mp "github.com/mpgen/mpgen/runtime"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Option configures Setup.
type Option func(*config)

type config struct {
	propagator propagation.TextMapPropagator
}

// WithPropagator makes Setup carry calls' contexts with p instead of W3C
// Trace Context and Baggage (propagation.TraceContext and
// propagation.Baggage).
func WithPropagator(p propagation.TextMapPropagator) Option {
	return func(c *config) { c.propagator = p }
}

// setup is what Setup made in this process.
var setup struct {
	sync.Mutex
	done     bool
	provider *sdktrace.TracerProvider
}

// Setup makes this process carry calls' trace contexts across mpgen's
// process boundary and export its spans: it calls newProvider for the
// process's TracerProvider and makes it otel's global one, makes the
// propagator (W3C Trace Context and Baggage, or WithPropagator's) otel's
// global one and mpgen's (mp.SetPropagator), and, in a child, shuts the
// provider down as the child ends (mp.AtChildExit). Call it once, from an
// init function (see the package documentation); a nil newProvider leaves
// the TracerProvider to the program.
//
// In the parent, the provider is the program's to shut down: call Shutdown
// before main returns.
func Setup(newProvider func(ctx context.Context) (*sdktrace.TracerProvider, error), opts ...Option) error {
	setup.Lock()
	defer setup.Unlock()
	if setup.done {
		return errors.New("mpotel: Setup called twice")
	}
	cfg := config{propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})}
	for _, o := range opts {
		o(&cfg)
	}
	if newProvider != nil {
		tp, err := newProvider(context.Background())
		if err != nil {
			return err
		}
		if tp == nil {
			return errors.New("mpotel: Setup: newProvider returned no TracerProvider")
		}
		setup.provider = tp
		otel.SetTracerProvider(tp)
		mp.AtChildExit(func(ctx context.Context) {
			if err := tp.Shutdown(ctx); err != nil {
				otel.Handle(err)
			}
		})
	}
	otel.SetTextMapPropagator(cfg.propagator)
	mp.SetPropagator(Propagator(cfg.propagator))
	setup.done = true
	return nil
}

// Shutdown shuts down the TracerProvider that Setup made in this process,
// exporting the spans it still buffers; the program's parent calls it
// before main returns (a child's is shut down as the child ends). Without
// a provider from Setup it does nothing.
func Shutdown(ctx context.Context) error {
	setup.Lock()
	tp := setup.provider
	setup.Unlock()
	if tp == nil {
		return nil
	}
	return tp.Shutdown(ctx)
}

// Propagator adapts p to mpgen's mp.Propagator, for a program that sets up
// OpenTelemetry itself: call mp.SetPropagator(mpotel.Propagator(p)) from
// an init function, and shut a child's TracerProvider down with
// mp.AtChildExit.
func Propagator(p propagation.TextMapPropagator) mp.Propagator { return textMap{p} }

type textMap struct{ p propagation.TextMapPropagator }

func (t textMap) Inject(ctx context.Context) map[string]string {
	var c carrier
	t.p.Inject(ctx, &c)
	return c.m // nil when the context has nothing to carry: the call carries nothing
}

func (t textMap) Extract(ctx context.Context, m map[string]string) context.Context {
	return t.p.Extract(ctx, propagation.MapCarrier(m))
}

// carrier is a TextMapCarrier that makes its map only when a value is set.
type carrier struct{ m map[string]string }

func (c *carrier) Get(key string) string { return c.m[key] }

func (c *carrier) Set(key, value string) {
	if c.m == nil {
		c.m = make(map[string]string, 2)
	}
	c.m[key] = value
}

func (c *carrier) Keys() []string { return slices.Collect(maps.Keys(c.m)) }
