package mpimpl_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/mpgen/mpgen/runtime/internal/wire"
	"github.com/mpgen/mpgen/runtime/mpimpl"
)

func upper(ctx context.Context, b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, errors.New("nothing to raise")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return bytes.ToUpper(b), nil
}

func init() {
	mpimpl.Register(mpimpl.Spec{
		Name:    "mpimpl_test.upper",
		Func:    upper,
		Context: true,
		Params:  []mpimpl.Param{mpimpl.P[[]byte]("b")},
		Result:  reflect.TypeFor[[]byte](),
		Batch:   mpimpl.One(upper),
	})
}

func callOf(arg string) []byte {
	return (&wire.Call{Target: "mpimpl_test.upper", Codec: "gob", Args: []wire.Value{{Present: true, Raw: true, Data: []byte(arg)}}}).Encode()
}

// HandleCall runs an encoded call as a pool worker would and returns the
// encoded outcome: a result, the target's error, or an error for a frame
// that does not decode; ctx is the target's.
func TestHandleCall(t *testing.T) {
	ctx := context.Background()
	kind, out := mpimpl.HandleCall(ctx, wire.KindCall, callOf("abc"), nil)
	if kind != wire.KindResult {
		t.Fatalf("outcome kind %v", kind)
	}
	if v, err := wire.DecodeResult(bytes.Join(out, nil)); err != nil || !v.Raw || string(v.Data) != "ABC" {
		t.Fatalf("result %+v, %v", v, err)
	}

	for _, tc := range []struct {
		name string
		ctx  context.Context
		kind mpimpl.Kind
		body []byte
		want string
	}{
		{"target error", ctx, wire.KindCall, callOf(""), "nothing to raise"},
		{"cancelled", cancelled(), wire.KindCall, callOf("x"), "context canceled"},
		{"garbage", ctx, wire.KindCall, []byte{0xff, 0xff}, "call frame"},
		{"garbage batch", ctx, wire.KindBatch, []byte{0xff}, "mp:"},
	} {
		kind, out := mpimpl.HandleCall(tc.ctx, tc.kind, tc.body, nil)
		if kind != wire.KindError {
			t.Errorf("%s: outcome kind %v, want an error", tc.name, kind)
			continue
		}
		m, err := wire.DecodeError(bytes.Join(out, nil))
		if err != nil || !strings.Contains(m.Message, tc.want) {
			t.Errorf("%s: error %+v, %v; want it to say %q", tc.name, m, err, tc.want)
		}
	}
}

func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
