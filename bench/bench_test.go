package bench

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

// BenchmarkFloor is the raw floor of starting a child: the same test
// binary, re-executed with os/exec the way mpgen starts it (same path,
// argv, environment plus one variable, inherited stdout and stderr), where
// TestMain exits at once. Every package init of the binary runs, as in an
// mpgen child; nothing of mpgen's protocol does.
func BenchmarkFloor(b *testing.B) {
	needSpawn(b)
	var s samples
	for b.Loop() {
		s = append(s, runFloorChild(b))
	}
	report(b, s)
}

// BenchmarkFloorSocketpair is the floor plus what any design with a
// control channel pays: a socketpair made per child, its end passed as
// descriptor 3 (ExtraFiles), the parent's end non-blocking on Go's poller
// (as a net.Conn is), and one message from the parent answered by the child.
// echo-256B is a small round trip (about the size of mpgen's hello and call
// frames for a target without arguments); bytes-64MiB-arg sends 64 MiB that
// the child reads into a fresh buffer and answers with its length: the
// transport's floor for BenchmarkStartJoin/bytes-64MiB-arg. What mpgen costs
// beyond these is its own protocol, encoding and bookkeeping.
func BenchmarkFloorSocketpair(b *testing.B) {
	needSpawn(b)
	b.Run("echo-256B", func(b *testing.B) {
		floorSocketpairLoop(b, bytes.Repeat([]byte{0x5a}, 256))
	})
	b.Run("bytes-64MiB-arg", func(b *testing.B) {
		b.SetBytes(largeSize)
		b.Cleanup(releaseMemory)
		floorSocketpairLoop(b, largePayload())
	})
}

func floorSocketpairLoop(b *testing.B, payload []byte) {
	want := floorWant(payload)
	var s samples
	for b.Loop() {
		t0 := time.Now()
		reply, err := floorExchange(payload, len(want))
		if err != nil {
			b.Fatal(err)
		}
		s = append(s, time.Since(t0))
		if !bytes.Equal(reply, want) {
			b.Fatal("floor child answered a different message")
		}
	}
	report(b, s)
}

// BenchmarkStartJoin measures a whole child's life, one child at a time:
// Start, the child's exec and handshake, the call, the outcome and Join.
func BenchmarkStartJoin(b *testing.B) {
	needSpawn(b)
	b.Run("noop", func(b *testing.B) {
		startJoin(b, func() *mp.Process { return &mp.Process{Target: targets.Noop} }, nil)
	})
	b.Run("echo-1KiB-result", func(b *testing.B) {
		arg := strings.Repeat("x", smallSize)
		startJoin(b, func() *mp.Process {
			return &mp.Process{Target: targets.Echo, Args: []any{arg}}
		}, func(res any) error {
			if s, _ := res.(string); s != arg {
				return fmt.Errorf("Echo returned %d bytes, want %d", len(s), len(arg))
			}
			return nil
		})
	})
	b.Run("bytes-64MiB-arg", func(b *testing.B) {
		arg := largePayload()
		b.SetBytes(largeSize)
		b.Cleanup(releaseMemory)
		startJoin(b, func() *mp.Process {
			return &mp.Process{Target: targets.ByteLen, Args: []any{arg}}
		}, func(res any) error {
			if n, _ := res.(int); n != largeSize {
				return fmt.Errorf("ByteLen = %v, want %d", res, largeSize)
			}
			return nil
		})
	})
}

// startJoin runs Start+Join of the process newProc makes, once per
// iteration, and checks the result with check when it is not nil.
func startJoin(b *testing.B, newProc func() *mp.Process, check func(any) error) {
	var s samples
	for b.Loop() {
		t0 := time.Now()
		p := newProc()
		if err := p.Start(); err != nil {
			b.Fatalf("Start: %v", err)
		}
		if err := p.Join(); err != nil {
			b.Fatalf("Join: %v", err)
		}
		s = append(s, time.Since(t0))
		if check != nil {
			res, _ := p.Result()
			if err := check(res); err != nil {
				b.Fatal(err)
			}
		}
	}
	report(b, s)
}

// BenchmarkStartJoinVsFloor runs a floor child (as BenchmarkFloor) and an
// mpgen Noop child (as BenchmarkStartJoin/noop) in every iteration, in
// alternating order, so that both see the same machine at the same moment:
// on a shared machine the load drifts between two benchmarks run a minute
// apart, and this ratio does not. It reports floor-p50-ms, mpgen-p50-ms and
// ratio (mpgen-p50-ms / floor-p50-ms); ns/op is the cost of the pair.
func BenchmarkStartJoinVsFloor(b *testing.B) {
	needSpawn(b)
	pairedLoop(b, "ms", func(int) time.Duration { return runFloorChild(b) }, func(int) time.Duration {
		t0 := time.Now()
		p := &mp.Process{Target: targets.Noop}
		if err := p.Start(); err != nil {
			b.Fatalf("Start: %v", err)
		}
		if err := p.Join(); err != nil {
			b.Fatalf("Join: %v", err)
		}
		return time.Since(t0)
	})
}

// BenchmarkSleep5 is the seed example of the design: five children that
// each sleep one second, all started and then all joined. overhead-ms is
// the median wall time beyond the one second the sleeps take.
func BenchmarkSleep5(b *testing.B) {
	needSpawn(b)
	const n, d = 5, time.Second
	var s samples
	for b.Loop() {
		t0 := time.Now()
		ps := make([]*mp.Process, n)
		for i := range ps {
			ps[i] = &mp.Process{Target: targets.SleepNoCtx, Args: []any{d}}
			if err := ps[i].Start(); err != nil {
				b.Fatalf("Start: %v", err)
			}
		}
		for _, p := range ps {
			if err := p.Join(); err != nil {
				b.Fatalf("Join: %v", err)
			}
		}
		s = append(s, time.Since(t0))
	}
	report(b, s)
	b.ReportMetric(ms(s.Quantile(0.5)-d), "overhead-ms")
}

// runFloorChild starts one floor child, waits for it and returns how long
// that took.
func runFloorChild(b *testing.B) time.Duration {
	t0 := time.Now()
	cmd, err := floorCmd(floorExit)
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Run(); err != nil {
		b.Fatalf("floor child: %v", err)
	}
	return time.Since(t0)
}
