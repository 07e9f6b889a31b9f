package mpnats_test

// The benchmarks of issue 11's Proof, run by bench/nats (see BENCHMARKS.md,
// "Beyond one machine (mpnats)"): sequential calls through one remote
// worker process, direct and durable, against a bare NATS request/reply of
// the same payload on the same server (the floor) and against a local
// pool; and a durable Map's makespan against the ideal.

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	"github.com/mpgen/mpgen/mpnats"
	mp "github.com/mpgen/mpgen/runtime"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// warmUp is how many calls each benchmark makes before its timed loop, so
// that connections, subscriptions and the workers' first gob types are
// settled.
const warmUp = 20

// latencies are per-call durations, in the order measured.
type latencies []time.Duration

// quantile returns the q-quantile, interpolated linearly between the two
// nearest ranks as bench/internal/stats does (which this module cannot
// import).
func (l latencies) quantile(q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	k := q * float64(len(s)-1)
	lo := int(k)
	if lo+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[lo] + time.Duration(float64(s[lo+1]-s[lo])*(k-float64(lo)))
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// report reports the p50, p90 and p99 of l in microseconds, each metric's
// unit prefixed by prefix.
func (l latencies) report(b *testing.B, prefix string) {
	b.ReportMetric(us(l.quantile(0.50)), prefix+"p50-us")
	b.ReportMetric(us(l.quantile(0.90)), prefix+"p90-us")
	b.ReportMetric(us(l.quantile(0.99)), prefix+"p99-us")
}

// addCall makes the benchmarks' call, Add(i, 1), on pool and checks it.
func addCall(b *testing.B, ctx context.Context, pool *mp.Pool, i int) {
	got, err := mp.Submit[int](ctx, pool, targets.Add, i, 1).Get()
	if err != nil || got != i+1 {
		b.Fatalf("Add(%d, 1) = %v, %v", i, got, err)
	}
}

// benchCalls times sequential Add calls on pool, one per iteration, and
// reports their quantiles.
func benchCalls(b *testing.B, pool *mp.Pool) {
	ctx := context.Background()
	for i := range warmUp {
		addCall(b, ctx, pool, i)
	}
	lat := make(latencies, 0, 1000)
	i := 0
	for b.Loop() {
		t0 := time.Now()
		addCall(b, ctx, pool, i)
		lat = append(lat, time.Since(t0))
		i++
	}
	lat.report(b, "")
}

// BenchmarkRemoteCall: sequential mp.Submit(Add, i, 1).Get() through one
// remote worker process with one slot, over TCP loopback to the server
// embedded in this process.
func BenchmarkRemoteCall(b *testing.B) {
	s := runServer(b, nil)
	b.Run("direct", func(b *testing.B) {
		opts := []string{"slots=1"}
		if p := os.Getenv("MPNATS_BENCH_WORKER_CPUPROFILE"); p != "" {
			opts = append(opts, "cpuprofile="+p) // for bench/nats's profile of this case
		}
		startWorker(b, s, "call-direct", opts...)
		benchCalls(b, dial(b, s, "call-direct"))
	})
	b.Run("durable", func(b *testing.B) {
		startWorker(b, s, "call-durable", "slots=1", "durable")
		benchCalls(b, dial(b, s, "call-durable", mpnats.Durable(true)))
	})
}

// BenchmarkLocalPool: the same calls on a local pool of one worker (a
// child process on a socketpair).
func BenchmarkLocalPool(b *testing.B) {
	pool, err := mp.NewPool(context.Background(), mp.Workers(1))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		pool.Close()
		if err := pool.JoinTimeout(10 * time.Second); err != nil {
			b.Errorf("pool.Join: %v", err)
		}
	})
	benchCalls(b, pool)
}

// BenchmarkBareNATS is the floor: a bare nats.go request/reply, with the
// data of an Add call's message as the transport sends it and a reply as
// long as its outcome's, answered by a plain Subscribe responder in a
// worker process (serveEcho) on the same server.
func BenchmarkBareNATS(b *testing.B) {
	s := runServer(b, nil)
	call, reply := addCallMessages(b, s)
	startWorker(b, s, "bare", "slots=1", "echo="+strconv.Itoa(len(reply.Data)))
	nc := connect(b, s, "bare")
	req := call.Data
	for range warmUp {
		bareRequest(b, nc, "bare", req, len(reply.Data))
	}
	lat := make(latencies, 0, 1000)
	for b.Loop() {
		t0 := time.Now()
		bareRequest(b, nc, "bare", req, len(reply.Data))
		lat = append(lat, time.Since(t0))
	}
	lat.report(b, "")
	b.ReportMetric(float64(len(call.Data)), "call-data-B")
	b.ReportMetric(float64(headerBytes(call)), "call-hdr-B")
	b.ReportMetric(float64(len(reply.Data)), "reply-data-B")
	b.ReportMetric(float64(headerBytes(reply)), "reply-hdr-B")
}

// BenchmarkRemoteCallVsBareNATS pairs the two: each iteration makes one
// remote direct call and one bare request of the same payload, in
// alternating order, through one worker process that serves both, so the
// two see the same load. It reports each one's quantiles and the ratio
// of their p50s.
func BenchmarkRemoteCallVsBareNATS(b *testing.B) {
	s := runServer(b, nil)
	call, reply := addCallMessages(b, s)
	startWorker(b, s, "pair", "slots=1", "echo="+strconv.Itoa(len(reply.Data)))
	pool := dial(b, s, "pair")
	nc := connect(b, s, "pair-bare")
	ctx := context.Background()
	for i := range warmUp {
		addCall(b, ctx, pool, i)
		bareRequest(b, nc, "pair", call.Data, len(reply.Data))
	}
	mpLat := make(latencies, 0, 1000)
	floorLat := make(latencies, 0, 1000)
	i := 0
	for b.Loop() {
		for k := range 2 {
			t0 := time.Now()
			if (i+k)%2 == 0 {
				addCall(b, ctx, pool, i)
				mpLat = append(mpLat, time.Since(t0))
			} else {
				bareRequest(b, nc, "pair", call.Data, len(reply.Data))
				floorLat = append(floorLat, time.Since(t0))
			}
		}
		i++
	}
	mpLat.report(b, "mpgen-")
	floorLat.report(b, "floor-")
	b.ReportMetric(float64(mpLat.quantile(0.5))/float64(floorLat.quantile(0.5)), "ratio")
}

// bareRequest makes one request to app's echo responder and checks the
// length of its reply.
func bareRequest(b *testing.B, nc *nats.Conn, app string, data []byte, replyLen int) {
	m, err := nc.Request(echoSubject(app), data, 5*time.Second)
	if err != nil || len(m.Data) != replyLen {
		b.Fatalf("bare request: %v (reply of %d bytes, want %d)", err, len(m.Data), replyLen)
	}
}

func echoSubject(app string) string { return "bench.echo." + app }

// serveEcho answers every request on app's echo subject with size zero
// bytes, from a plain nats.Subscribe on a connection of its own: a worker
// process started with the "echo=size" option runs it besides its worker
// (see serveFromEnv). It returns once the subscription has reached the
// server.
func serveEcho(app string, size int) (stop func(), err error) {
	nc, err := mpnats.ConnectFromEnv(app)
	if err != nil {
		return nil, err
	}
	reply := make([]byte, size)
	if _, err := nc.Subscribe(echoSubject(app), func(m *nats.Msg) { _ = m.Respond(reply) }); err != nil {
		nc.Close()
		return nil, err
	}
	if err := nc.Flush(); err != nil {
		nc.Close()
		return nil, err
	}
	return nc.Close, nil
}

// addCallMessages returns the messages of one direct Add(1000, 1) call and
// of its outcome as the transport sends them, seen by a subscriber that
// listens beside an in-process worker: the size of a call is measured,
// not assumed. (Add(i, 1) for i up to the benchmarks' thousands of
// calls differs by a byte or two at most: gob's integers grow with
// their value.)
func addCallMessages(b *testing.B, s *server.Server) (call, reply *nats.Msg) {
	const app = "size"
	serveHere(b, s, app, mpnats.Slots(1))
	pool := dial(b, s, app)
	spy := connect(b, s, "spy")
	calls, err := spy.SubscribeSync("mp.v1." + app + ".>")
	if err != nil {
		b.Fatal(err)
	}
	replies, err := spy.SubscribeSync("_INBOX_mp_" + app + ".>")
	if err != nil {
		b.Fatal(err)
	}
	if err := spy.Flush(); err != nil {
		b.Fatal(err)
	}
	addCall(b, context.Background(), pool, 1000)
	if call, err = calls.NextMsg(5 * time.Second); err != nil {
		b.Fatalf("the call's message: %v", err)
	}
	id := call.Header.Get("Mp-Call-Id")
	if id == "" {
		b.Fatalf("the message on %s has no call id: %v", call.Subject, call.Header)
	}
	for { // the pool's inbox also receives the workers' $SRV.INFO answers
		if reply, err = replies.NextMsg(5 * time.Second); err != nil {
			b.Fatalf("the reply to call %s: %v", id, err)
		}
		if strings.HasSuffix(reply.Subject, "."+id) {
			return call, reply
		}
	}
}

// headerBytes is the size of m's headers on the wire.
func headerBytes(m *nats.Msg) int {
	return m.Size() - len(m.Subject) - len(m.Reply) - len(m.Data)
}

// BenchmarkDurableMap: mp.Map of 40 SleepNoCtx(50ms) items, one per
// chunk, on 2 worker processes of 1 slot each: ideally 1.0 s. It reports
// the makespan and its ratio to the ideal, durable (the work queue: a
// free slot pulls the next call) and direct (the queue group: the server
// picks a worker at random, busy or not).
func BenchmarkDurableMap(b *testing.B) {
	const (
		items = 40
		sleep = 50 * time.Millisecond
		ideal = items * sleep / 2
	)
	s := runServer(b, nil)
	for _, mode := range []string{"durable", "direct"} {
		b.Run(mode, func(b *testing.B) {
			app := "map-" + mode
			opts := []string{"slots=1"}
			if mode == "durable" {
				opts = append(opts, "durable")
			}
			startWorker(b, s, app, opts...)
			startWorker(b, s, app, opts...)
			pool := dial(b, s, app, mpnats.Durable(mode == "durable"))
			if n := pool.Size(); n != 2 {
				b.Fatalf("the pool counts %d slots, want 2", n)
			}
			ctx := context.Background()
			in := slices.Repeat([]time.Duration{sleep}, items)
			if _, err := mp.Map[time.Duration, struct{}](ctx, pool, targets.SleepNoCtx, []time.Duration{0, 0, 0, 0}, mp.Chunksize(1)); err != nil {
				b.Fatal(err) // the warm-up
			}
			var spans latencies
			for b.Loop() {
				t0 := time.Now()
				if _, err := mp.Map[time.Duration, struct{}](ctx, pool, targets.SleepNoCtx, in, mp.Chunksize(1)); err != nil {
					b.Fatal(err)
				}
				spans = append(spans, time.Since(t0))
			}
			b.ReportMetric(spans.quantile(0.5).Seconds(), "makespan-s")
			b.ReportMetric(float64(spans.quantile(0.5))/float64(ideal), "x-ideal")
			b.ReportMetric(float64(slices.Max(spans))/float64(ideal), "max-x-ideal")
		})
	}
}
