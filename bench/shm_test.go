package bench

// The shared-memory benchmarks of issue 4, each against an in-process floor
// and the Python peer bench/python/shm_array.py.

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

const shmArrayBytes = 64 << 20

func needShm(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("shared memory is Linux-only so far")
	}
	needSpawn(b)
}

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

func shmWantSum(v uint64, n int) uint64 { return v*uint64(n) + uint64(n)*uint64(n-1)/2 }

// BenchmarkShmArray64MiB: an mpgen child (targets.FillOnRequest, started
// once) fills a 64 MiB Array[uint64] in place on request, then the parent
// sums it from its own mapping; one op is one fill and one sum, handed over
// with two shared semaphores. fill-GB/s is timed in the child, sum-GB/s in
// the parent; floor is BenchmarkShmArray64MiBFloor.
func BenchmarkShmArray64MiB(b *testing.B) {
	needShm(b)
	n := shmArrayBytes / 8
	a, err := mp.NewArray[uint64](n)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	ctl, err := mp.NewArray[int64](2)
	if err != nil {
		b.Fatal(err)
	}
	defer ctl.Close()
	req, err := mp.NewSemaphore(0)
	if err != nil {
		b.Fatal(err)
	}
	defer req.Close()
	done, err := mp.NewSemaphore(0)
	if err != nil {
		b.Fatal(err)
	}
	defer done.Close()
	p := &mp.Process{Target: targets.FillOnRequest, Args: []any{a, ctl, req, done}}
	if err := p.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctl.Slice()[0] = 0
		req.Release()
		if err := p.JoinTimeout(30 * time.Second); err != nil {
			b.Errorf("child: %v", err)
		}
	}()
	ctx := context.Background()
	s, c := a.Slice(), ctl.Slice()
	var fill, sum time.Duration
	var v uint64
	for b.Loop() {
		v++
		c[0] = int64(v)
		req.Release()
		if err := done.Acquire(ctx); err != nil {
			b.Fatal(err)
		}
		fill += time.Duration(c[1])
		start := time.Now()
		got := sumU64(s)
		sum += time.Since(start)
		if got != shmWantSum(v, n) {
			b.Fatalf("sum %d, want %d", got, shmWantSum(v, n))
		}
	}
	b.SetBytes(shmArrayBytes)
	b.ReportMetric(float64(shmArrayBytes)*float64(b.N)/fill.Seconds()/1e9, "fill-GB/s")
	b.ReportMetric(float64(shmArrayBytes)*float64(b.N)/sum.Seconds()/1e9, "sum-GB/s")
}

// BenchmarkShmArray64MiBFloor is the same fill and sum on ordinary Go
// memory in one process.
func BenchmarkShmArray64MiBFloor(b *testing.B) {
	n := shmArrayBytes / 8
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
		if sumU64(s) != shmWantSum(v, n) {
			b.Fatal("bad sum")
		}
		sum += time.Since(start)
	}
	b.SetBytes(shmArrayBytes)
	b.ReportMetric(float64(shmArrayBytes)*float64(b.N)/fill.Seconds()/1e9, "fill-GB/s")
	b.ReportMetric(float64(shmArrayBytes)*float64(b.N)/sum.Seconds()/1e9, "sum-GB/s")
}

// BenchmarkShmLock is one Lock and Unlock of a cross-process mp.Lock:
// uncontended, and contended by an mpgen child (targets.SpinLock) doing the
// same in a loop; the sync.Mutex cases are the in-process floors. The
// contended case reports the child's iterations per parent iteration
// (child/op) to show both sides ran.
func BenchmarkShmLock(b *testing.B) {
	b.Run("uncontended", func(b *testing.B) {
		needShm(b)
		l, err := mp.NewLock()
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
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
		needShm(b)
		l, err := mp.NewLock()
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		started, err := mp.NewEvent()
		if err != nil {
			b.Fatal(err)
		}
		defer started.Close()
		stop, err := mp.NewEvent()
		if err != nil {
			b.Fatal(err)
		}
		defer stop.Close()
		p := &mp.Process{Target: targets.SpinLock, Args: []any{l, started, stop}}
		if err := p.Start(); err != nil {
			b.Fatal(err)
		}
		if err := started.WaitTimeout(30 * time.Second); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			l.Lock()
			l.Unlock()
		}
		stop.Set()
		if err := p.JoinTimeout(30 * time.Second); err != nil {
			b.Fatal(err)
		}
		res, _ := p.Result()
		b.ReportMetric(float64(res.(int))/float64(b.N), "child/op")
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

// TestShmTargets runs the benchmarks' children once on small data, so that
// `go test ./bench/` catches a broken one quickly.
func TestShmTargets(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("shared memory is Linux-only so far")
	}
	needSpawn(t)
	a, err := mp.NewArray[uint64](1000)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctl, _ := mp.NewArray[int64](2)
	defer ctl.Close()
	req, _ := mp.NewSemaphore(0)
	defer req.Close()
	done, _ := mp.NewSemaphore(0)
	defer done.Close()
	p := &mp.Process{Target: targets.FillOnRequest, Args: []any{a, ctl, req, done}}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	ctl.Slice()[0] = 5
	req.Release()
	if err := done.AcquireTimeout(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	if got := sumU64(a.Slice()); got != shmWantSum(5, 1000) {
		t.Fatalf("sum %d", got)
	}
	ctl.Slice()[0] = 0
	req.Release()
	if err := p.JoinTimeout(30 * time.Second); err != nil {
		t.Fatal(err)
	}

	l, _ := mp.NewLock()
	defer l.Close()
	started, _ := mp.NewEvent()
	defer started.Close()
	stop, _ := mp.NewEvent()
	defer stop.Close()
	stop.Set()
	q := &mp.Process{Target: targets.SpinLock, Args: []any{l, started, stop}}
	if err := q.Start(); err != nil {
		t.Fatal(err)
	}
	if err := q.JoinTimeout(30 * time.Second); err != nil || !started.IsSet() {
		t.Fatal(err, started.IsSet())
	}
}
