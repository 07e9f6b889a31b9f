package mp

import (
	"testing"
	"time"
)

// BenchmarkInsightsPerCall is what Pool.Insights costs one call: the
// clock readings the pool would not take otherwise (the end of the write,
// the end of the outcome's intake) and the worker clock's three updates.
func BenchmarkInsightsPerCall(b *testing.B) {
	var c workerClock
	c.started("PoolWorker-1", 1, time.Now(), time.Now())
	for b.Loop() {
		now := time.Now() // taken anyway, as the call's sentAt
		c.sending(1, now)
		c.sent(time.Now())
		at := time.Now() // taken anyway, as the outcome's arrival
		c.answered(1, true, at)
		c.received(at, time.Now())
	}
}
