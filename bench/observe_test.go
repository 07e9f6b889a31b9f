package bench

import (
	"context"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

// traceparent is a propagator that carries one W3C traceparent, as
// OpenTelemetry's TraceContext does, whatever the context holds: the cost
// of tracing to mpgen, without the cost of the tracer.
type traceparent struct{}

func (traceparent) Inject(context.Context) map[string]string {
	return map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
}

func (traceparent) Extract(ctx context.Context, _ map[string]string) context.Context { return ctx }

// BenchmarkPoolApplyTracing is BenchmarkPoolApply/identity with tracing off
// (no Propagator: reported as the floor) and on (a Propagator that carries a
// traceparent in every call) in alternating iterations, so both see the
// same machine; ratio is on / off. The workers have no Propagator (it is
// set here, not in an init), so the figure is the caller's inject, the
// carrier's bytes on the wire and the worker's decoding of them.
func BenchmarkPoolApplyTracing(b *testing.B) {
	needSpawn(b)
	p := newBenchPool(b)
	ctx := context.Background()
	defer mp.SetPropagator(nil)
	apply := func(on bool) func(int) time.Duration {
		return func(i int) time.Duration {
			if on {
				mp.SetPropagator(traceparent{})
			} else {
				mp.SetPropagator(nil)
			}
			t0 := time.Now()
			res, err := p.Apply(ctx, targets.Identity, []any{i}, nil)
			d := time.Since(t0)
			if err != nil || res != i {
				b.Fatalf("Apply(Identity, %d) = %v, %v", i, res, err)
			}
			return d
		}
	}
	for i := range 100 { // warm up
		apply(i%2 == 0)(i)
	}
	pairedLoop(b, "us", apply(false), apply(true))
}
