package worker

import (
	"context"
	"testing"

	"github.com/mpgen/mpgen/runtime/internal/wire"
)

// Handle runs a frame with the installed Handler, and says so in an error
// outcome when none is installed.
func TestHandle(t *testing.T) {
	defer SetHandler(nil)
	kind, body := Handle(context.Background(), wire.Frame{Kind: wire.KindCall, ID: 1})
	if kind != wire.KindError {
		t.Fatalf("without a handler: %v", kind)
	}
	if m, err := wire.DecodeError(body.Bytes()); err != nil || m.Message != "mp: no call handler is installed in this process" {
		t.Fatalf("without a handler: %+v, %v", m, err)
	}
	type key struct{}
	SetHandler(func(ctx context.Context, f wire.Frame) (wire.Kind, wire.Payload) {
		return wire.KindResult, wire.Payload{[]byte(ctx.Value(key{}).(string)), f.Body}
	})
	ctx := context.WithValue(context.Background(), key{}, "ctx+")
	kind, body = Handle(ctx, wire.Frame{Kind: wire.KindBatch, Body: []byte("body")})
	if kind != wire.KindResult || string(body.Bytes()) != "ctx+body" {
		t.Fatalf("with a handler: %v %q", kind, body.Bytes())
	}
}
