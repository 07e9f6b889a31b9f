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
