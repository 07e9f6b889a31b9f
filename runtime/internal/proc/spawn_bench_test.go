//go:build linux

package proc

import (
	"slices"
	"testing"
	"time"
)

// BenchmarkSpawn is what a start costs the parent: start-us is the median
// time Spawn takes to return (the fork, the exec and the checks around
// them), total-us the median life of a child that greets and exits.
func BenchmarkSpawn(b *testing.B) {
	var starts, totals []time.Duration
	buf := make([]byte, 64)
	for b.Loop() {
		t0 := time.Now()
		cmd, conn, outs, err := Spawn("", nil, "", []string{childEnv + "=exit"}, nil, nil, nil)
		starts = append(starts, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = conn.Read(buf)
		ShutdownWrite(conn)
		_ = cmd.Wait()
		outs.Wait(OutputWait)
		conn.Close()
		totals = append(totals, time.Since(t0))
	}
	slices.Sort(starts)
	slices.Sort(totals)
	b.ReportMetric(float64(starts[len(starts)/2].Nanoseconds())/1e3, "start-us")
	b.ReportMetric(float64(totals[len(totals)/2].Nanoseconds())/1e3, "total-us")
}
