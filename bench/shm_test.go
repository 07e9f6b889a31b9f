package bench

// The shared-memory benchmarks of issue 4, each against an in-process floor
// and the Python peer bench/python/shm_array.py.

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

const shmArrayBytes = 64 << 20

// needShm skips b where the cross-process primitives are not available
// (they are on Linux and on the portable path: macOS and the BSDs).
func needShm(tb testing.TB) {
	tb.Helper()
	l, err := mp.NewLock()
	if errors.Is(err, errors.ErrUnsupported) {
		tb.Skip(err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	l.Close()
	needSpawn(tb)
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

// shmFiller is an mpgen child (targets.FillOnRequest) that fills a shared
// Array[uint64] in place on request, handed over with two shared
// semaphores: no byte of the array crosses a socket.
type shmFiller struct {
	a         *mp.Array[uint64]
	ctl       *mp.Array[int64]
	req, done *mp.Semaphore
	p         *mp.Process
}

// startShmFiller makes an array of n uint64 and starts its filler child;
// the array and the child go away with tb's cleanups.
func startShmFiller(tb testing.TB, n int) *shmFiller {
	tb.Helper()
	f := &shmFiller{}
	var err error
	if f.a, err = mp.NewArray[uint64](n); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.a.Close() })
	if f.ctl, err = mp.NewArray[int64](2); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.ctl.Close() })
	if f.req, err = mp.NewSemaphore(0); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.req.Close() })
	if f.done, err = mp.NewSemaphore(0); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.done.Close() })
	f.p = &mp.Process{Target: targets.FillOnRequest, Args: []any{f.a, f.ctl, f.req, f.done}}
	if err := f.p.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { // registered last, so it runs before the Closes
		f.ctl.Slice()[0] = 0
		f.req.Release()
		if err := f.p.JoinTimeout(30 * time.Second); err != nil {
			tb.Errorf("filler child: %v", err)
		}
	})
	return f
}

// fill has the child set a[i] = v+i (v > 0) and returns how long the
// child's loop took, as the child timed it.
func (f *shmFiller) fill(tb testing.TB, v uint64) time.Duration {
	f.ctl.Slice()[0] = int64(v)
	f.req.Release()
	if err := f.done.AcquireTimeout(30 * time.Second); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(f.ctl.Slice()[1])
}

// fillLocal is the child's fill loop, on s in this process.
func fillLocal(s []uint64, v uint64) {
	for i := range s {
		s[i] = v + uint64(i)
	}
}

// BenchmarkShmArray64MiB: an mpgen child (a shmFiller, started once) fills
// a 64 MiB Array[uint64] in place on request, then the parent sums it from
// its own mapping; one op is one fill and one sum. fill-GB/s is timed in
// the child, sum-GB/s in the parent; floor is BenchmarkShmArray64MiBFloor,
// and BenchmarkShmArray64MiBVsFloor pairs the sums.
func BenchmarkShmArray64MiB(b *testing.B) {
	needShm(b)
	n := shmArrayBytes / 8
	f := startShmFiller(b, n)
	s := f.a.Slice()
	var fill, sum time.Duration
	var v uint64
	for b.Loop() {
		v++
		fill += f.fill(b, v)
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

// BenchmarkShmArray64MiBVsFloor pairs the parent's sum of the 64 MiB
// Array the child filled with the sum of a 64 MiB slice this process filled
// itself (in Go heap memory), alternating within each iteration, so that
// both see the same load. Only the sums are timed. ratio is mpgen's median
// sum time over the floor's; the GB/s figures come from the medians.
func BenchmarkShmArray64MiBVsFloor(b *testing.B) {
	needShm(b)
	n := shmArrayBytes / 8
	f := startShmFiller(b, n)
	shared, local := f.a.Slice(), make([]uint64, n)
	timedSum := func(s []uint64, v uint64) time.Duration {
		start := time.Now()
		got := sumU64(s)
		d := time.Since(start)
		if got != shmWantSum(v, n) {
			b.Fatalf("sum %d, want %d", got, shmWantSum(v, n))
		}
		return d
	}
	fl, sub := pairedLoop(b, "ms",
		func(i int) time.Duration {
			v := uint64(i + 1)
			fillLocal(local, v)
			return timedSum(local, v)
		},
		func(i int) time.Duration {
			v := uint64(i + 1)
			f.fill(b, v)
			return timedSum(shared, v)
		})
	b.ReportMetric(shmArrayBytes/fl.Seconds()/1e9, "floor-sum-GB/s")
	b.ReportMetric(shmArrayBytes/sub.Seconds()/1e9, "mpgen-sum-GB/s")
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
		fillLocal(s, v)
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

// BenchmarkShmHandoff is one round trip between two processes through two
// shared semaphores: the parent releases one, which the child (a shmFiller
// of a one-element array) is waiting for; the child releases the other,
// which the parent is waiting for. It measures how soon a process waiting
// on a primitive sees another process's release: a futex wake-up on Linux,
// the next look of a polling waiter on the portable path (macOS, the BSDs,
// tag mpgen_portable). In "at-once" the parent releases as soon as it has
// the child's answer, so the child has just begun to wait; in
// "after-2ms" it sleeps 2 ms first, so the child is asleep, and wake-µs
// is the mean time from the release to the child's answer.
func BenchmarkShmHandoff(b *testing.B) {
	b.Run("at-once", func(b *testing.B) {
		needShm(b)
		f := startShmFiller(b, 1)
		var v uint64
		for b.Loop() {
			v++
			f.fill(b, v)
		}
	})
	b.Run("after-2ms", func(b *testing.B) {
		needShm(b)
		f := startShmFiller(b, 1)
		var v uint64
		var woke time.Duration
		for b.Loop() {
			v++
			time.Sleep(2 * time.Millisecond)
			start := time.Now()
			f.fill(b, v)
			woke += time.Since(start)
		}
		b.ReportMetric(float64(woke.Microseconds())/float64(b.N), "wake-µs")
	})
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
	needShm(t)
	f := startShmFiller(t, 1000)
	f.fill(t, 5)
	if got := sumU64(f.a.Slice()); got != shmWantSum(5, 1000) {
		t.Fatalf("sum %d", got)
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
