package mpnats

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mpgen/mpgen/runtime/mpimpl"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A call's message is protoVersion, the frame kind (mpimpl.KindCall or
// KindBatch) and the call's body as the pool encoded it; its outcome's is
// protoVersion, the outcome's kind and body as mpimpl.HandleCall returned
// them. The transport never looks further into either.
const protoVersion = 1

// The headers of calls and replies.
const (
	hdrCallID    = "Mp-Call-Id"      // the call's id (a NUID), also its reply subject's last token
	hdrTimeout   = "Mp-Timeout-Ms"   // the call's remaining budget when sent: no clocks compared
	hdrHeartbeat = "Mp-Heartbeat-Ms" // call: how often to say alive; reply: this is a heartbeat
	hdrReply     = "Mp-Reply"        // a durable call's reply subject
	hdrBodyRef   = "Mp-Body-Ref"     // the body is in the object store under this name
	hdrFail      = "Mp-Fail"         // reply: no outcome, because of this ("no-worker", "stopped", or a message)
)

// The reasons of a reply without an outcome (hdrFail).
const (
	failNoWorker  = "no-worker"
	failStopped   = "stopped"
	failCancelled = "cancelled" // before it started: its context ended while it waited for a slot
)

// encode frames one message: the version, the kind, the body's pieces.
func encode(kind mpimpl.Kind, body [][]byte) []byte {
	n := 2
	for _, b := range body {
		n += len(b)
	}
	out := make([]byte, 2, n)
	out[0], out[1] = protoVersion, byte(kind)
	for _, b := range body {
		out = append(out, b...)
	}
	return out
}

// decode splits a message into its kind and body.
func decode(data []byte) (mpimpl.Kind, []byte, error) {
	if len(data) < 2 {
		return 0, nil, errors.New("a message of fewer than 2 bytes")
	}
	if data[0] != protoVersion {
		return 0, nil, fmt.Errorf("a message of protocol version %d, this build speaks %d: run workers and callers built with the same mpnats", data[0], protoVersion)
	}
	return mpimpl.Kind(data[1]), data[2:], nil
}

// payloadLimit is the largest message body sent inline: the server's
// limit less room for headers. A larger one goes through the object
// store.
func payloadLimit(nc *nats.Conn) int {
	return int(nc.MaxPayload()) - 8<<10
}

// objects keeps the bodies over the message limit in the app's JetStream
// object store, named by their SHA-256, so a body sent many times (a big
// argument shared by a Map's items) is stored once and fetched once by
// each worker.
type objects struct {
	nc     *nats.Conn
	bucket string

	mu    sync.Mutex
	os    jetstream.ObjectStore
	saved map[string]time.Time // names this process stored, and when
	cache map[string][]byte    // bodies this process fetched, a few
}

// objectTTL is how long the object store keeps a body: long enough for
// any call to fetch its own, short enough not to keep a run's bodies.
// A body put again after half of it is stored afresh if it is gone.
const objectTTL = time.Hour

// maxCached is how many fetched bodies a process keeps.
const maxCached = 8

func newObjects(nc *nats.Conn, bucket string) *objects {
	return &objects{nc: nc, bucket: bucket, saved: map[string]time.Time{}, cache: map[string][]byte{}}
}

func (o *objects) open(ctx context.Context) (jetstream.ObjectStore, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.os != nil {
		return o.os, nil
	}
	js, err := jetstream.New(o.nc)
	if err != nil {
		return nil, err
	}
	s, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      o.bucket,
		Description: "mpgen: call and outcome bodies over the message size limit",
		TTL:         objectTTL,
	})
	if err != nil {
		return nil, fmt.Errorf("open object store %s (a body over the server's max_payload needs JetStream): %w", o.bucket, err)
	}
	o.os = s
	return s, nil
}

// save puts data in the object store, unless this process did lately (the
// store forgets a body after objectTTL), and returns its name.
func (o *objects) save(ctx context.Context, data []byte) (string, error) {
	sum := sha256.Sum256(data)
	name := hex.EncodeToString(sum[:])
	o.mu.Lock()
	at, done := o.saved[name]
	o.mu.Unlock()
	if done && time.Since(at) < objectTTL/2 {
		return name, nil
	}
	s, err := o.open(ctx)
	if err != nil {
		return "", err
	}
	if _, err := s.GetInfo(ctx, name); err != nil {
		if !errors.Is(err, jetstream.ErrObjectNotFound) {
			return "", err
		}
		// Chunks no larger than a message: the default (128 KiB) fails on
		// a server whose max_payload is smaller.
		meta := jetstream.ObjectMeta{Name: name, Opts: &jetstream.ObjectMetaOptions{ChunkSize: uint32(min(128<<10, max(1<<10, payloadLimit(o.nc))))}}
		if _, err := s.Put(ctx, meta, bytes.NewReader(data)); err != nil {
			return "", err
		}
	}
	o.mu.Lock()
	o.saved[name] = time.Now()
	o.mu.Unlock()
	return name, nil
}

// fetch returns the body stored under name.
func (o *objects) fetch(ctx context.Context, name string) ([]byte, error) {
	o.mu.Lock()
	data, ok := o.cache[name]
	o.mu.Unlock()
	if ok {
		return data, nil
	}
	s, err := o.open(ctx)
	if err != nil {
		return nil, err
	}
	data, err = s.GetBytes(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("fetch body %s: %w", name, err)
	}
	o.mu.Lock()
	if len(o.cache) >= maxCached {
		for k := range o.cache {
			delete(o.cache, k)
			break
		}
	}
	o.cache[name] = data
	o.mu.Unlock()
	return data, nil
}
