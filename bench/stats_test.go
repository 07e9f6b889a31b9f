package bench

import (
	"testing"
	"time"

	"github.com/mpgen/mpgen/bench/internal/stats"
)

// samples records the duration of each iteration of a benchmark loop, so
// the benchmark can report the distribution (p10, p50, p90) besides the
// mean that ns/op gives: process start-up times have a long tail on a
// shared machine, and the median is what the Python peers report.
type samples = stats.Samples

// report adds p10-ms, p50-ms and p90-ms metrics to b.
func report(b *testing.B, s samples) {
	if len(s) == 0 {
		return
	}
	b.ReportMetric(ms(s.Quantile(0.10)), "p10-ms")
	b.ReportMetric(ms(s.Quantile(0.50)), "p50-ms")
	b.ReportMetric(ms(s.Quantile(0.90)), "p90-ms")
}

func ms(d time.Duration) float64 { return stats.Ms(d) }

// needSpawn skips tb where children cannot be started.
func needSpawn(tb testing.TB) {
	tb.Helper()
	if !canSpawn {
		tb.Skip("starting child processes is not supported on this platform yet")
	}
}

// pairedLoop runs floor and subject once each per iteration of b.Loop,
// alternating which goes first so that neither always meets a warmer
// machine, and reports both medians (in unit, "ms" or "us") and their
// ratio. Each function returns the duration it measured. It returns the two
// medians, for metrics derived from them.
func pairedLoop(b *testing.B, unit string, floor, subject func(i int) time.Duration) (floorP50, subjectP50 time.Duration) {
	var fs, ss samples
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			fs = append(fs, floor(i))
			ss = append(ss, subject(i))
		} else {
			ss = append(ss, subject(i))
			fs = append(fs, floor(i))
		}
	}
	conv := ms
	if unit == "us" {
		conv = us
	}
	f, m := fs.Quantile(0.5), ss.Quantile(0.5)
	b.ReportMetric(conv(f), "floor-p50-"+unit)
	b.ReportMetric(conv(m), "mpgen-p50-"+unit)
	b.ReportMetric(float64(m)/float64(f), "ratio")
	return f, m
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
