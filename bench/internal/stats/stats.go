// Package stats summarises the per-iteration durations that mpgen's
// benchmarks record, as the Python peers do: quantiles interpolated
// linearly between the two nearest ranks.
package stats

import (
	"slices"
	"time"
)

// Samples are durations, one per iteration, in the order measured.
type Samples []time.Duration

// Quantile returns the q-quantile (0 <= q <= 1), interpolating linearly
// between the two nearest ranks, as Python's statistics.median does for
// q = 0.5. It returns 0 for no samples.
func (s Samples) Quantile(q float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	t := slices.Clone(s)
	slices.Sort(t)
	k := q * float64(len(t)-1)
	lo := int(k)
	if lo+1 >= len(t) {
		return t[len(t)-1]
	}
	return t[lo] + time.Duration(float64(t[lo+1]-t[lo])*(k-float64(lo)))
}

// Mean returns the arithmetic mean, or 0 for no samples.
func (s Samples) Mean() time.Duration {
	if len(s) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return sum / time.Duration(len(s))
}

// Ms converts d to milliseconds.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
