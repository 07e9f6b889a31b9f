package mpnats_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/mpgen/mpgen/internal/targets"
	"github.com/mpgen/mpgen/mpnats"
	mp "github.com/mpgen/mpgen/runtime"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Arguments and results over the server's message limit travel through
// the app's object store; an argument sent three times is stored once.
func TestLargeBodies(t *testing.T) {
	s := runServer(t, nil)
	const app = "large"
	serveHere(t, s, app, mpnats.Slots(2))
	pool := dial(t, s, app)
	nc := connect(t, s, app)
	big := bytes.Repeat([]byte("mpgen"), 500_000) // 2.5 MB, over the 1 MiB default limit
	if int64(len(big)) <= nc.MaxPayload() {
		t.Fatalf("the body (%d bytes) must be over max_payload (%d)", len(big), nc.MaxPayload())
	}
	ctx := context.Background()
	for range 3 {
		if n, err := mp.Submit[int](ctx, pool, targets.ByteLen, big).Get(); err != nil || n != len(big) {
			t.Fatalf("ByteLen(2.5 MB): %v, %v", n, err)
		}
	}
	if n := objectCount(t, nc, "mp_large_objs"); n != 1 {
		t.Errorf("the object store holds %d objects after three calls with one argument, want 1", n)
	}
	out, err := mp.Submit[[]byte](ctx, pool, targets.Blob, 3<<20).Get()
	if err != nil || len(out) != 3<<20 {
		t.Fatalf("Blob(3 MiB): %d bytes, %v", len(out), err)
	}
	if n := objectCount(t, nc, "mp_large_objs"); n != 2 {
		t.Errorf("the object store holds %d objects after a large result, want 2", n)
	}
}

func objectCount(t *testing.T, nc *nats.Conn, bucket string) int {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	store, err := js.ObjectStore(context.Background(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	list, err := store.List(context.Background())
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

// On a server whose message limit is below the object store's default
// chunk (128 KiB), large bodies still travel: their chunks fit a message.
func TestLargeBodiesSmallLimit(t *testing.T) {
	s := runServer(t, func(o *server.Options) { o.MaxPayload = 48 << 10 })
	const app = "small-limit"
	serveHere(t, s, app, mpnats.Slots(1))
	pool := dial(t, s, app)
	big := bytes.Repeat([]byte{7}, 300<<10)
	if n, err := mp.Submit[int](context.Background(), pool, targets.ByteLen, big).Get(); err != nil || n != len(big) {
		t.Fatalf("ByteLen(300 KiB) with a 48 KiB limit: %v, %v", n, err)
	}
	if out, err := mp.Submit[[]byte](context.Background(), pool, targets.Blob, 200<<10).Get(); err != nil || len(out) != 200<<10 {
		t.Fatalf("Blob(200 KiB) with a 48 KiB limit: %d bytes, %v", len(out), err)
	}
}
