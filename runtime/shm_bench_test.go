//go:build linux

package mp

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// These benchmarks use the test's helper processes (shm_helper_test.go);
// they move to bench/ once handles travel as target arguments.

const benchArrayBytes = 64 << 20

func sumU64(s []uint64) uint64 {
	var a, b, c, d uint64
	i := 0
	for ; i+4 <= len(s); i += 4 {
		a += s[i]
		b += s[i+1]
		c += s[i+2]
		d += s[i+3]
	}
	for ; i < len(s); i++ {
		a += s[i]
	}
	return a + b + c + d
}

func wantSum(v uint64, n int) uint64 { return v*uint64(n) + uint64(n)*uint64(n-1)/2 }

// BenchmarkArray64MiB: a child fills a 64 MiB Array[uint64] in place, then
// the parent sums it from its own mapping; one op is one fill plus one sum.
// Reported: fill-GB/s (timed in the child) and sum-GB/s (in the parent).
// No byte is copied between the processes.
func BenchmarkArray64MiB(b *testing.B) {
	n := benchArrayBytes / 8
	a, err := NewArray[uint64](n)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Close() })
	h := startHelper(b, "fill-u64", "", a)
	b.Cleanup(func() { h.wait(b) })
	s := a.Slice()
	var fill, sum time.Duration
	var v uint64
	for b.Loop() {
		v++
		fmt.Fprintln(h.stdin, v)
		line, err := h.out.ReadString('\n')
		f := strings.Fields(line)
		if err != nil || len(f) != 2 || f[0] != "ok" {
			b.Fatalf("child: %q %v %s", line, err, h.errb)
		}
		ns, _ := strconv.ParseInt(f[1], 10, 64)
		fill += time.Duration(ns)
		start := time.Now()
		got := sumU64(s)
		sum += time.Since(start)
		if got != wantSum(v, n) {
			b.Fatalf("sum %d, want %d", got, wantSum(v, n))
		}
	}
	b.SetBytes(benchArrayBytes)
	b.ReportMetric(float64(benchArrayBytes)*float64(b.N)/fill.Seconds()/1e9, "fill-GB/s")
	b.ReportMetric(float64(benchArrayBytes)*float64(b.N)/sum.Seconds()/1e9, "sum-GB/s")
}

// BenchmarkArray64MiBFloor is the same fill and sum on ordinary Go memory
// in one process: the floor for BenchmarkArray64MiB.
func BenchmarkArray64MiBFloor(b *testing.B) {
	n := benchArrayBytes / 8
	s := make([]uint64, n)
	var fill, sum time.Duration
	var v uint64
	for b.Loop() {
		v++
		start := time.Now()
		for i := range s {
			s[i] = v + uint64(i)
		}
		fill += time.Since(start)
		start = time.Now()
		if sumU64(s) != wantSum(v, n) {
			b.Fatal("bad sum")
		}
		sum += time.Since(start)
	}
	b.SetBytes(benchArrayBytes)
	b.ReportMetric(float64(benchArrayBytes)*float64(b.N)/fill.Seconds()/1e9, "fill-GB/s")
	b.ReportMetric(float64(benchArrayBytes)*float64(b.N)/sum.Seconds()/1e9, "sum-GB/s")
}

// BenchmarkLock: one Lock and Unlock of a cross-process Lock, uncontended
// and contended by a child process doing the same in a loop; sync.Mutex is
// the in-process floor.
func BenchmarkLock(b *testing.B) {
	b.Run("uncontended", func(b *testing.B) {
		l, err := NewLock()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { l.Close() })
		for b.Loop() {
			l.Lock()
			l.Unlock()
		}
	})
	b.Run("uncontended-sync.Mutex", func(b *testing.B) {
		var mu sync.Mutex
		for b.Loop() {
			mu.Lock()
			mu.Unlock()
		}
	})
	b.Run("contended-2-processes", func(b *testing.B) {
		l, err := NewLock()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { l.Close() })
		h := startHelper(b, "lock-spin", "", l)
		h.expect(b, "spinning")
		for b.Loop() {
			l.Lock()
			l.Unlock()
		}
		if code := h.wait(b); code != 0 {
			b.Fatalf("child exit %d: %s", code, h.errb)
		}
		b.Logf("parent %d, child %s", b.N, strings.TrimSpace(h.errb.String()))
	})
	b.Run("contended-2-goroutines-sync.Mutex", func(b *testing.B) {
		var mu sync.Mutex
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for n := 0; ; n++ {
				if n%1024 == 0 {
					select {
					case <-stop:
						return
					default:
					}
				}
				mu.Lock()
				mu.Unlock()
			}
		}()
		for b.Loop() {
			mu.Lock()
			mu.Unlock()
		}
		close(stop)
		<-done
	})
}
