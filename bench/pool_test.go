package bench

// The Pool benchmarks of issue 3, each set against its floor or its Python
// peer (bench/python/pool.py); bench/run runs both and prints the ratios.
// Every pool has the default number of workers (runtime.GOMAXPROCS(0)), as
// Python's Pool() has os.cpu_count(); each benchmark reports it as the
// "workers" metric.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

// Sizes of the Pool workloads.
const (
	mapItems    = 100_000 // Map with the default chunking
	chunk1Items = 10_000  // Map with Chunksize(1): one round trip per item
	rtSize      = 128     // the floor's round-trip message, about an Identity call frame
)

// BenchmarkPoolMap is Python's Pool.map(identity, range(n)) on warm
// workers: identity-100k with the default chunking, identity-10k-chunksize-1
// with every item in its own message (a round trip each, several in flight
// per worker). It reports tasks/s at the median iteration.
func BenchmarkPoolMap(b *testing.B) {
	needSpawn(b)
	b.Run("identity-100k", func(b *testing.B) { poolMapLoop(b, mapItems) })
	b.Run("identity-10k-chunksize-1", func(b *testing.B) { poolMapLoop(b, chunk1Items, mp.Chunksize(1)) })
}

func poolMapLoop(b *testing.B, n int, opts ...mp.MapOption) {
	p := newBenchPool(b)
	ctx := context.Background()
	items := make([]int, n)
	for i := range items {
		items[i] = i
	}
	// Warm up: every worker has decoded and run the target once.
	if _, err := mp.Map[int, int](ctx, p, targets.Identity, items[:min(n, 1000)], opts...); err != nil {
		b.Fatalf("warm-up Map: %v", err)
	}
	var s samples
	cpu := startCPU(p.Pids())
	for b.Loop() {
		t0 := time.Now()
		res, err := mp.Map[int, int](ctx, p, targets.Identity, items, opts...)
		s = append(s, time.Since(t0))
		if err != nil {
			b.Fatalf("Map: %v", err)
		}
		if err := checkIdentity(items, res); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b, len(s))
	report(b, s)
	b.ReportMetric(float64(n)/s.Quantile(0.5).Seconds(), "tasks/s")
	b.ReportMetric(float64(p.Size()), "workers")
}

func checkIdentity(items, res []int) error {
	if len(res) != len(items) {
		return fmt.Errorf("Map returned %d results for %d items", len(res), len(items))
	}
	for i := range items {
		if res[i] != items[i] {
			return fmt.Errorf("Map result %d is %d", i, res[i])
		}
	}
	return nil
}

// BenchmarkPoolApply is one blocking Apply on a warm pool (Python's
// Pool.apply), one call at a time: identity is the per-call round trip
// (reported in p50-us), bytes-64MiB-arg sends a 64 MiB []byte to ByteLen
// and gets its length back (p50-MB/s is 64 MiB over the median).
func BenchmarkPoolApply(b *testing.B) {
	needSpawn(b)
	b.Run("identity", func(b *testing.B) {
		p := newBenchPool(b)
		ctx := context.Background()
		for i := range 100 { // warm up
			if _, err := p.Apply(ctx, targets.Identity, []any{i}, nil); err != nil {
				b.Fatalf("Apply: %v", err)
			}
		}
		var s samples
		cpu := startCPU(p.Pids())
		for i := 0; b.Loop(); i++ {
			t0 := time.Now()
			res, err := p.Apply(ctx, targets.Identity, []any{i}, nil)
			s = append(s, time.Since(t0))
			if err != nil || res != i {
				b.Fatalf("Apply(Identity, %d) = %v, %v", i, res, err)
			}
		}
		cpu.reportUs(b, len(s))
		reportLatency(b, s)
		b.ReportMetric(float64(p.Size()), "workers")
	})
	b.Run("bytes-64MiB-arg", func(b *testing.B) {
		arg := largePayload()
		b.SetBytes(largeSize)
		b.Cleanup(releaseMemory)
		p := newBenchPool(b)
		ctx := context.Background()
		apply := func() error {
			res, err := p.Apply(ctx, targets.ByteLen, []any{arg}, nil)
			if err != nil || res != largeSize {
				return fmt.Errorf("Apply(ByteLen, 64 MiB) = %v, %v", res, err)
			}
			return nil
		}
		if err := apply(); err != nil { // warm up
			b.Fatal(err)
		}
		var s samples
		cpu := startCPU(p.Pids())
		for b.Loop() {
			t0 := time.Now()
			err := apply()
			s = append(s, time.Since(t0))
			if err != nil {
				b.Fatal(err)
			}
		}
		cpu.report(b, len(s))
		report(b, s)
		b.ReportMetric(largeSize/s.Quantile(0.5).Seconds()/1e6, "p50-MB/s")
	})
}

// BenchmarkPoolSocketpairFloor is the floor of BenchmarkPoolApply: a warm
// child (this test binary, started once) that serves messages on a
// socketpair with no protocol at all. echo-128B is one round trip of a
// 128-byte message, about the size of an Identity call frame: the floor of
// per-call latency. bytes-64MiB-arg sends 64 MiB that the child reads into
// a fresh buffer and answers with its length: the transport's floor for
// BenchmarkPoolApply/bytes-64MiB-arg.
func BenchmarkPoolSocketpairFloor(b *testing.B) {
	needSpawn(b)
	b.Run("echo-128B", func(b *testing.B) {
		c := newLoopChild(b)
		msg := bytes.Repeat([]byte{0x5a}, rtSize)
		for range 100 { // warm up
			if err := c.roundTrip(msg); err != nil {
				b.Fatal(err)
			}
		}
		var s samples
		cpu := startCPU([]int{c.cmd.Process.Pid})
		for b.Loop() {
			t0 := time.Now()
			err := c.roundTrip(msg)
			s = append(s, time.Since(t0))
			if err != nil {
				b.Fatal(err)
			}
		}
		cpu.reportUs(b, len(s))
		reportLatency(b, s)
	})
	b.Run("bytes-64MiB-arg", func(b *testing.B) {
		arg := largePayload()
		b.SetBytes(largeSize)
		b.Cleanup(releaseMemory)
		c := newLoopChild(b)
		if err := c.roundTrip(arg); err != nil { // warm up
			b.Fatal(err)
		}
		var s samples
		for b.Loop() {
			t0 := time.Now()
			err := c.roundTrip(arg)
			s = append(s, time.Since(t0))
			if err != nil {
				b.Fatal(err)
			}
		}
		report(b, s)
		b.ReportMetric(largeSize/s.Quantile(0.5).Seconds()/1e6, "p50-MB/s")
	})
}

// BenchmarkPoolApplyVsSocketpair alternates one Apply(Identity) on a warm
// pool and one 128-byte round trip with a warm floor child in every
// iteration, so that both see the same load, and reports the ratio of
// their medians (mpgen-p50-us / floor-p50-us): the per-call latency goal.
func BenchmarkPoolApplyVsSocketpair(b *testing.B) {
	needSpawn(b)
	p := newBenchPool(b)
	c := newLoopChild(b)
	ctx := context.Background()
	msg := bytes.Repeat([]byte{0x5a}, rtSize)
	runFloor := func(int) time.Duration {
		t0 := time.Now()
		if err := c.roundTrip(msg); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	}
	runApply := func(i int) time.Duration {
		t0 := time.Now()
		res, err := p.Apply(ctx, targets.Identity, []any{i}, nil)
		if err != nil || res != i {
			b.Fatalf("Apply(Identity, %d) = %v, %v", i, res, err)
		}
		return time.Since(t0)
	}
	for i := range 100 { // warm up
		runFloor(i)
		runApply(i)
	}
	pairedLoop(b, "us", runFloor, runApply)
}

// BenchmarkPoolStart measures a pool's start, against starting as many bare
// processes at once. floor-bare starts workers floor children (this test
// binary, exiting after its package inits, as BenchmarkFloor) concurrently
// and waits for all of them to exit. newpool is NewPool(); newpool-ready is
// NewPool(Initializer(targets.Noop)), which returns only once every worker
// has run the initializer and answered: the pool is ready then, not merely
// started (NewPool without an initializer returns once the workers are
// spawned and their hello is written, before they have run any code of
// their own). Terminate and Join are outside the measured span.
func BenchmarkPoolStart(b *testing.B) {
	needSpawn(b)
	n := defaultWorkers()
	b.Run("floor-bare", func(b *testing.B) {
		var s samples
		for b.Loop() {
			t0 := time.Now()
			if err := startBare(n); err != nil {
				b.Fatal(err)
			}
			s = append(s, time.Since(t0))
		}
		report(b, s)
		b.ReportMetric(float64(n), "workers")
	})
	b.Run("newpool", func(b *testing.B) { poolStartLoop(b) })
	b.Run("newpool-ready", func(b *testing.B) { poolStartLoop(b, mp.Initializer(targets.Noop)) })
}

func poolStartLoop(b *testing.B, opts ...mp.PoolOption) {
	var s samples
	var size int
	for b.Loop() {
		t0 := time.Now()
		p, err := mp.NewPool(context.Background(), opts...)
		d := time.Since(t0)
		if err != nil {
			b.Fatalf("NewPool: %v", err)
		}
		s = append(s, d)
		size = p.Size()
		p.Terminate()
		if err := p.Join(); err != nil {
			b.Fatalf("Join: %v", err)
		}
	}
	report(b, s)
	b.ReportMetric(float64(size), "workers")
}

// BenchmarkPoolStartVsFloor alternates floor-bare and newpool-ready (see
// BenchmarkPoolStart) in every iteration and reports the ratio of their
// medians: the pool start goal.
func BenchmarkPoolStartVsFloor(b *testing.B) {
	needSpawn(b)
	n := defaultWorkers()
	runFloor := func(int) time.Duration {
		t0 := time.Now()
		if err := startBare(n); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	}
	runPool := func(int) time.Duration {
		t0 := time.Now()
		p, err := mp.NewPool(context.Background(), mp.Initializer(targets.Noop))
		d := time.Since(t0)
		if err != nil {
			b.Fatalf("NewPool: %v", err)
		}
		p.Terminate()
		if err := p.Join(); err != nil {
			b.Fatalf("Join: %v", err)
		}
		return d
	}
	pairedLoop(b, "ms", runFloor, runPool)
	b.ReportMetric(float64(n), "workers")
}

// startBare starts n floor children at once and waits for all of them.
func startBare(n int) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			cmd, err := floorCmd(floorExit)
			if err == nil {
				err = cmd.Run()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// BenchmarkPoolIdleRSS reports the resident memory (VmRSS) of idle pool
// workers, in KiB per worker: fresh is a pool that has served one call per
// worker (its initializer), after-map one that has also run a 100k-item
// Map. floor is a bare child of this binary idle on a socketpair (the loop
// child of BenchmarkPoolSocketpairFloor) after one round trip. The loop
// itself only re-reads /proc.
func BenchmarkPoolIdleRSS(b *testing.B) {
	needSpawn(b)
	b.Run("floor", func(b *testing.B) {
		c := newLoopChild(b)
		if err := c.roundTrip([]byte("x")); err != nil {
			b.Fatal(err)
		}
		rssLoop(b, []int{c.cmd.Process.Pid})
	})
	b.Run("fresh", func(b *testing.B) {
		p := newBenchPool(b, mp.Initializer(targets.Noop))
		rssLoop(b, p.Pids())
	})
	b.Run("after-map", func(b *testing.B) {
		p := newBenchPool(b, mp.Initializer(targets.Noop))
		items := make([]int, mapItems)
		if _, err := mp.Map[int, int](context.Background(), p, targets.Identity, items); err != nil {
			b.Fatalf("Map: %v", err)
		}
		rssLoop(b, p.Pids())
	})
}

func rssLoop(b *testing.B, pids []int) {
	if len(pids) == 0 {
		b.Fatal("no workers")
	}
	var kib float64
	for b.Loop() {
		var sum int64
		for _, pid := range pids {
			k, err := vmRSS(pid)
			if err != nil {
				b.Skip(err)
			}
			sum += k
		}
		kib = float64(sum) / float64(len(pids))
	}
	b.ReportMetric(kib, "rss-KiB")
	b.ReportMetric(float64(len(pids)), "workers")
}

// vmRSS returns the VmRSS line of /proc/<pid>/status, in KiB (Linux).
func vmRSS(pid int) (int64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// newBenchPool starts a pool of the default size and stops it when b ends.
func newBenchPool(tb testing.TB, opts ...mp.PoolOption) *mp.Pool {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := mp.NewPool(ctx, opts...)
	if err != nil {
		tb.Fatalf("NewPool: %v", err)
	}
	tb.Cleanup(func() {
		p.Terminate()
		if err := p.Join(); err != nil {
			tb.Errorf("Join: %v", err)
		}
	})
	return p
}

// defaultWorkers is the size of a pool started without Workers: mp's
// documented default, the CPUs this process may use.
func defaultWorkers() int { return runtime.GOMAXPROCS(0) }

// reportLatency adds p10-us, p50-us and p90-us metrics to b.
func reportLatency(b *testing.B, s samples) {
	if len(s) == 0 {
		return
	}
	b.ReportMetric(us(s.Quantile(0.10)), "p10-us")
	b.ReportMetric(us(s.Quantile(0.50)), "p50-us")
	b.ReportMetric(us(s.Quantile(0.90)), "p90-us")
}

// cpuMeter measures the CPU time (user and system) that this process and
// a set of children (a pool's workers) use over a benchmark loop, from
// /proc/<pid>/stat (Linux; elsewhere it reports nothing). It tells where
// the time goes, parent or workers, in every run. The clock has the
// resolution of USER_HZ (10 ms), so it is meaningful over many iterations.
type cpuMeter struct {
	pids          []int
	self, workers time.Duration
	ok            bool
}

func startCPU(pids []int) *cpuMeter {
	m := &cpuMeter{pids: pids}
	m.self, m.workers, m.ok = m.read()
	return m
}

func (m *cpuMeter) read() (self, workers time.Duration, ok bool) {
	self, err := procCPU("self")
	if err != nil {
		return 0, 0, false
	}
	for _, pid := range m.pids {
		d, err := procCPU(strconv.Itoa(pid))
		if err != nil {
			return 0, 0, false
		}
		workers += d
	}
	return self, workers, true
}

// report adds parent-cpu-ms and workers-cpu-ms, per iteration of n.
func (m *cpuMeter) report(b *testing.B, n int) {
	if self, workers, ok := m.read(); ok && m.ok && n > 0 {
		b.ReportMetric(ms(self-m.self)/float64(n), "parent-cpu-ms")
		b.ReportMetric(ms(workers-m.workers)/float64(n), "workers-cpu-ms")
	}
}

// reportUs is report in microseconds: parent-cpu-us and workers-cpu-us.
func (m *cpuMeter) reportUs(b *testing.B, n int) {
	if self, workers, ok := m.read(); ok && m.ok && n > 0 {
		b.ReportMetric(us(self-m.self)/float64(n), "parent-cpu-us")
		b.ReportMetric(us(workers-m.workers)/float64(n), "workers-cpu-us")
	}
}

// TestPoolBenchPieces runs each piece of the Pool benchmarks once, small,
// so that `go test ./bench/` catches one that measures the wrong thing.
func TestPoolBenchPieces(t *testing.T) {
	needSpawn(t)
	ctx := context.Background()
	p := newBenchPool(t, mp.Initializer(targets.Noop))
	if p.Size() != defaultWorkers() {
		t.Fatalf("pool of %d workers, want the default %d", p.Size(), defaultWorkers())
	}
	items := []int{3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5}
	for _, opts := range [][]mp.MapOption{nil, {mp.Chunksize(1)}} {
		res, err := mp.Map[int, int](ctx, p, targets.Identity, items, opts...)
		if err != nil {
			t.Fatalf("Map: %v", err)
		}
		if err := checkIdentity(items, res); err != nil {
			t.Fatal(err)
		}
	}
	if err := checkIdentity(items, items[:3]); err == nil {
		t.Fatal("checkIdentity accepts a short result")
	}
	if res, err := p.Apply(ctx, targets.ByteLen, []any{make([]byte, 5000)}, nil); err != nil || res != 5000 {
		t.Fatalf("Apply(ByteLen) = %v, %v", res, err)
	}

	c := newLoopChild(t)
	for _, n := range []int{1, rtSize, floorEchoMax + 1, 1 << 20} {
		if err := c.roundTrip(bytes.Repeat([]byte{0xa5}, n)); err != nil {
			t.Fatalf("%d-byte round trip: %v", n, err)
		}
	}
	if err := startBare(2); err != nil {
		t.Fatal(err)
	}

	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc: RSS and CPU time are not measured here")
	}
	for _, pid := range append(p.Pids(), c.cmd.Process.Pid) {
		if kib, err := vmRSS(pid); err != nil || kib < 100 {
			t.Fatalf("VmRSS of %d: %d KiB, %v", pid, kib, err)
		}
	}
	if _, err := procCPU("self"); err != nil {
		t.Fatal(err)
	}
	if m := startCPU(p.Pids()); !m.ok {
		t.Fatal("cannot read the CPU time of the workers")
	}
}
