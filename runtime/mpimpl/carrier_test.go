package mpimpl_test

import (
	"context"
	"reflect"
	"slices"
	"testing"

	mp "github.com/mpgen/mpgen/runtime"
	"github.com/mpgen/mpgen/runtime/mpimpl"
)

// A Propagator's carrier travels inside the encoded call that a transport
// carries and HandleCall decodes: a remote worker's target gets the
// caller's values with nothing done by the transport.

type carriedKey struct{}

type keyPropagator struct{}

func (keyPropagator) Inject(ctx context.Context) map[string]string {
	if v, ok := ctx.Value(carriedKey{}).(string); ok {
		return map[string]string{"k": v}
	}
	return nil
}

func (keyPropagator) Extract(ctx context.Context, c map[string]string) context.Context {
	return context.WithValue(ctx, carriedKey{}, c["k"])
}

// remoteCarried returns x and the value its context carries.
func remoteCarried(ctx context.Context, x int) (string, error) {
	v, _ := ctx.Value(carriedKey{}).(string)
	return v, nil
}

func init() {
	mp.SetPropagator(keyPropagator{})
	mpimpl.Register(mpimpl.Spec{Name: "mpimpl_test.remote.carried", Func: remoteCarried, Context: true,
		Params: []mpimpl.Param{mpimpl.P[int]("x")}, Result: reflect.TypeFor[string](),
		Batch: mpimpl.One(remoteCarried)})
}

func TestRemoteCarrier(t *testing.T) {
	p := newRemotePool(t, newFake(1))
	ctx := context.WithValue(context.Background(), carriedKey{}, "v")
	if got, err := mp.Submit[string](ctx, p, remoteCarried, 1).Get(); err != nil || got != "v" {
		t.Errorf("Submit: %q, %v; want v", got, err)
	}
	if got, err := mp.Map[int, string](ctx, p, remoteCarried, []int{1, 2}); err != nil || !slices.Equal(got, []string{"v", "v"}) {
		t.Errorf("Map: %q, %v; want v, v", got, err)
	}
	if got, err := mp.Submit[string](context.Background(), p, remoteCarried, 1).Get(); err != nil || got != "" {
		t.Errorf("Submit without a value: %q, %v; want none", got, err)
	}
}
