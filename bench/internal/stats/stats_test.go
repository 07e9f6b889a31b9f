package stats

import (
	"testing"
	"time"
)

func TestQuantile(t *testing.T) {
	const m = time.Millisecond
	s := Samples{5 * m, 1 * m, 3 * m, 2 * m}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0, 1 * m}, {0.5, 2500 * time.Microsecond}, {1, 5 * m}, {0.9, 4400 * time.Microsecond}} {
		if got := s.Quantile(tc.q); got != tc.want {
			t.Errorf("Quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := (Samples{}).Quantile(0.5); got != 0 {
		t.Errorf("Quantile of no samples = %v, want 0", got)
	}
	if got := s.Mean(); got != 2750*time.Microsecond {
		t.Errorf("Mean = %v, want 2.75ms", got)
	}
}
