package bench

// The Pipe and Queue benchmarks of issue 4, each set against its floor (a
// warm child answering on a raw socketpair, the loop child of
// pool_test.go) or its Python peer (bench/python/sharing.py); bench/run
// (PARTS=sharing) runs both and prints the ratios.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

// Sizes of the Pipe and Queue workloads.
const (
	pipeSmall  = 16      // a small message: Python's send_bytes(16 bytes) peer
	queueItems = 100_000 // ints per batch of BenchmarkQueueThroughput
)

// pipeChild is a child process serving one end of a Pipe, and the parent's
// end.
type pipeChild[T any] struct {
	conn *mp.Conn[T]
	proc *mp.Process
}

// newPipeChild starts target with the child's end of a new Pipe[T] as its
// only argument, and stops it (by closing the parent's end) when tb ends.
func newPipeChild[T any](tb testing.TB, target any) *pipeChild[T] {
	tb.Helper()
	a, b, err := mp.Pipe[T](true)
	if err != nil {
		tb.Fatal(err)
	}
	p := &mp.Process{Target: target, Args: []any{b}}
	err = p.Start()
	b.Close() // the child has its own end now
	if err != nil {
		a.Close()
		tb.Fatalf("Start: %v", err)
	}
	tb.Cleanup(func() {
		a.Close() // the child returns at end of file
		if err := p.JoinTimeout(time.Minute); err != nil {
			tb.Errorf("pipe child: %v", err)
		}
	})
	return &pipeChild[T]{conn: a, proc: p}
}

// echoBytes sends msg to an EchoBytes child and checks its answer: msg
// itself when it is small, its length otherwise (as the floor answers).
func echoBytes(c *mp.Conn[[]byte], msg []byte) error {
	if err := c.Send(msg); err != nil {
		return err
	}
	got, err := c.Recv()
	if err != nil {
		return fmt.Errorf("EchoBytes child: %w", err)
	}
	if !bytes.Equal(got, floorWant(msg)) {
		return errors.New("EchoBytes child answered a different message")
	}
	return nil
}

// echoPing sends v to an EchoPing child and checks its answer.
func echoPing(c *mp.Conn[targets.Ping], v targets.Ping) error {
	if err := c.Send(v); err != nil {
		return err
	}
	got, err := c.Recv()
	if err != nil {
		return fmt.Errorf("EchoPing child: %w", err)
	}
	if got != v {
		return fmt.Errorf("EchoPing child answered %+v, want %+v", got, v)
	}
	return nil
}

// BenchmarkPipeRoundTrip is one Send and one Recv on a Pipe end whose other
// end a warm child holds and echoes (Python's Connection send/recv round
// trip), alternated in every iteration with one round trip of the same
// 16 bytes to a warm floor child on a raw socketpair (the loop child of
// BenchmarkPoolSocketpairFloor). bytes-16B sends a []byte of 16 bytes (the
// peer of Python's send_bytes); ping sends a small struct that travels
// through gob (the peer of Python's send of a pickled tuple). It reports
// floor-p50-us, mpgen-p50-us and ratio (mpgen / floor): the goal is 1.5.
func BenchmarkPipeRoundTrip(b *testing.B) {
	needSpawn(b)
	msg := bytes.Repeat([]byte{0x5a}, pipeSmall)
	b.Run("bytes-16B", func(b *testing.B) {
		c := newLoopChild(b)
		pc := newPipeChild[[]byte](b, targets.EchoBytes)
		pairedWarm(b, "us", floorRoundTrip(b, c, msg), func(int) time.Duration {
			t0 := time.Now()
			if err := echoBytes(pc.conn, msg); err != nil {
				b.Fatal(err)
			}
			return time.Since(t0)
		})
	})
	b.Run("ping", func(b *testing.B) {
		c := newLoopChild(b)
		pc := newPipeChild[targets.Ping](b, targets.EchoPing)
		pairedWarm(b, "us", floorRoundTrip(b, c, msg), func(i int) time.Duration {
			t0 := time.Now()
			if err := echoPing(pc.conn, targets.Ping{S: "ping", I: i, F: 3.14}); err != nil {
				b.Fatal(err)
			}
			return time.Since(t0)
		})
	})
}

// BenchmarkPipeLarge sends a large []byte through a Pipe to a warm EchoBytes
// child, which answers with its length: the value rides in a memory file
// (it is larger than 64 KiB). Each iteration alternates it with the same
// payload sent to the floor child on a raw socketpair, which reads it into
// a fresh buffer and answers with its length. It reports the medians, the
// ratio and p50-MB/s (the size over mpgen's median).
func BenchmarkPipeLarge(b *testing.B) {
	needSpawn(b)
	for _, size := range []int{1 << 20, largeSize} {
		b.Run(fmt.Sprintf("bytes-%dMiB", size>>20), func(b *testing.B) {
			arg := largePayload()[:size]
			b.SetBytes(int64(size))
			b.Cleanup(releaseMemory)
			c := newLoopChild(b)
			pc := newPipeChild[[]byte](b, targets.EchoBytes)
			unit := "ms"
			if size < 8<<20 {
				unit = "us"
			}
			_, m := pairedWarm(b, unit, floorRoundTrip(b, c, arg), func(int) time.Duration {
				t0 := time.Now()
				if err := echoBytes(pc.conn, arg); err != nil {
					b.Fatal(err)
				}
				return time.Since(t0)
			})
			b.ReportMetric(float64(size)/m.Seconds()/1e6, "p50-MB/s")
		})
	}
}

// floorRoundTrip returns a pairedLoop function: one round trip of msg with
// the loop child c.
func floorRoundTrip(b *testing.B, c *loopChild, msg []byte) func(int) time.Duration {
	return func(int) time.Duration {
		t0 := time.Now()
		if err := c.roundTrip(msg); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	}
}

// pairedWarm runs floor and subject a few times unmeasured (both children
// have run their code paths once and the buffers are grown), then
// pairedLoop.
func pairedWarm(b *testing.B, unit string, floor, subject func(int) time.Duration) (time.Duration, time.Duration) {
	warm := 100
	if unit == "ms" {
		warm = 2
	}
	for i := range warm {
		floor(i)
		subject(i)
	}
	return pairedLoop(b, unit, floor, subject)
}

// BenchmarkQueueThroughput moves queueItems ints through a Queue[int]
// between two processes, one batch per iteration (Python's
// multiprocessing.Queue put/get).
//
// parent-to-child: the parent puts the batch and -1, a warm SumBatches
// child gets them and puts the count and sum on a second queue, which the
// parent gets; the span ends there. Every iteration alternates it with the
// floor: the parent writes each int as one 8-byte message on a raw
// SOCK_SEQPACKET socketpair (the runtime's socket type, one message per
// value as a Queue sends it) to a warm floor child that reads them with
// blocking reads, summing, and answers -1 with the count and sum. It
// reports floor-p50-ms, mpgen-p50-ms and ratio (mpgen / floor), items/s
// and floor-items/s at the medians, and the CPU time per batch of parent
// and child, for mpgen and (floor-...) for the floor.
//
// child-to-parent: the parent asks a warm ProduceBatches child for a batch
// on a Pipe, the child puts the ints and -1, and the parent gets them all.
// It reports p50-ms per batch, items/s at the median, and the CPU time per
// batch of parent and child.
func BenchmarkQueueThroughput(b *testing.B) {
	needSpawn(b)
	b.Run(fmt.Sprintf("parent-to-child-%dk", queueItems/1000), func(b *testing.B) {
		fc := newSumFloorChild(b)
		qc := newSumChild(b)
		floor := &cpuSpan{pid: fc.cmd.Process.Pid}
		subject := &cpuSpan{pid: qc.proc.Pid()}
		runFloor := floor.timed(b, func() error { return fc.batch(queueItems) })
		runQueue := subject.timed(b, func() error { return qc.batch(queueItems) })
		runFloor(0) // warm up
		runQueue(0)
		*floor, *subject = cpuSpan{pid: floor.pid}, cpuSpan{pid: subject.pid}
		f, m := pairedLoop(b, "ms", runFloor, runQueue)
		b.ReportMetric(float64(queueItems)/f.Seconds(), "floor-items/s")
		b.ReportMetric(float64(queueItems)/m.Seconds(), "items/s")
		floor.report(b, "floor-")
		subject.report(b, "")
	})
	b.Run(fmt.Sprintf("child-to-parent-%dk", queueItems/1000), func(b *testing.B) {
		pc := newProduceChild(b)
		queueLoop(b, pc.proc.Pid(), func() error { return pc.batch(queueItems) })
	})
}

func queueLoop(b *testing.B, pid int, batch func() error) {
	if err := batch(); err != nil { // warm up
		b.Fatal(err)
	}
	cpu := &cpuSpan{pid: pid}
	run := cpu.timed(b, batch)
	var s samples
	for b.Loop() {
		s = append(s, run(0))
	}
	cpu.report(b, "")
	report(b, s)
	b.ReportMetric(float64(queueItems)/s.Quantile(0.5).Seconds(), "items/s")
}

// cpuSpan adds up the CPU time (user and system, from /proc; Linux only)
// that this process and one child use during the calls of a function.
type cpuSpan struct {
	pid         int
	self, child time.Duration
	n           int
	bad         bool
}

// timed returns a pairedLoop function that calls f, fails b if f fails,
// and adds the CPU time the call took to c.
func (c *cpuSpan) timed(b *testing.B, f func() error) func(int) time.Duration {
	pid := strconv.Itoa(c.pid)
	return func(int) time.Duration {
		s0, err1 := procCPU("self")
		c0, err2 := procCPU(pid)
		t0 := time.Now()
		err := f()
		d := time.Since(t0)
		s1, err3 := procCPU("self")
		c1, err4 := procCPU(pid)
		if err != nil {
			b.Fatal(err)
		}
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
			c.bad = true
		}
		c.self, c.child, c.n = c.self+s1-s0, c.child+c1-c0, c.n+1
		return d
	}
}

// report adds <prefix>parent-cpu-ms and <prefix>child-cpu-ms, per call.
func (c *cpuSpan) report(b *testing.B, prefix string) {
	if c.bad || c.n == 0 {
		return
	}
	b.ReportMetric(ms(c.self)/float64(c.n), prefix+"parent-cpu-ms")
	b.ReportMetric(ms(c.child)/float64(c.n), prefix+"child-cpu-ms")
}

// sumFloorChild is a warm floor child in floorSum mode (see floorServeSum)
// and the parent's end of its SOCK_SEQPACKET socketpair.
type sumFloorChild struct {
	cmd  *exec.Cmd
	conn *os.File
}

func newSumFloorChild(tb testing.TB) *sumFloorChild {
	cmd, conn := startServingChild(tb, floorSum, seqpacketpair)
	return &sumFloorChild{cmd: cmd, conn: conn}
}

// batch sends 0..n-1 and -1, one message each, and checks the count and
// sum the child answers.
func (c *sumFloorChild) batch(n int) error {
	var msg [8]byte
	for i := range n + 1 {
		v := uint64(i)
		if i == n {
			v = ^uint64(0)
		}
		binary.BigEndian.PutUint64(msg[:], v)
		if _, err := c.conn.Write(msg[:]); err != nil {
			return err
		}
	}
	var reply [16]byte
	if k, err := c.conn.Read(reply[:]); err != nil || k != 16 {
		return fmt.Errorf("sum child answered %d bytes: %v", k, err)
	}
	got := [2]int{int(binary.BigEndian.Uint64(reply[:8])), int(binary.BigEndian.Uint64(reply[8:]))}
	if want := [2]int{n, n * (n - 1) / 2}; got != want {
		return fmt.Errorf("sum child got (count, sum) %v, want %v", got, want)
	}
	return nil
}

// sumChild is a warm SumBatches child and the two queues it serves.
type sumChild struct {
	in   *mp.Queue[int]
	out  *mp.Queue[[2]int]
	proc *mp.Process
}

func newSumChild(tb testing.TB) *sumChild {
	tb.Helper()
	in, err := mp.NewQueue[int](0)
	if err != nil {
		tb.Fatal(err)
	}
	out, err := mp.NewQueue[[2]int](0)
	if err != nil {
		in.Close()
		tb.Fatal(err)
	}
	p := &mp.Process{Target: targets.SumBatches, Args: []any{in, out}}
	if err := p.Start(); err != nil {
		in.Close()
		out.Close()
		tb.Fatalf("Start: %v", err)
	}
	tb.Cleanup(func() {
		if err := in.Shutdown(); err != nil { // the child returns
			tb.Errorf("Shutdown: %v", err)
		}
		if err := p.JoinTimeout(time.Minute); err != nil {
			tb.Errorf("SumBatches child: %v", err)
		}
		in.Close()
		out.Close()
	})
	return &sumChild{in: in, out: out, proc: p}
}

// batch puts 0..n-1 and -1, and checks the count and sum the child got.
func (c *sumChild) batch(n int) error {
	for i := range n {
		if err := c.in.Put(i); err != nil {
			return err
		}
	}
	if err := c.in.Put(-1); err != nil {
		return err
	}
	got, err := c.out.GetTimeout(time.Minute)
	if err != nil {
		return fmt.Errorf("SumBatches child: %w", err)
	}
	if want := [2]int{n, n * (n - 1) / 2}; got != want {
		return fmt.Errorf("SumBatches child got (count, sum) %v, want %v", got, want)
	}
	return nil
}

// produceChild is a warm ProduceBatches child, the Pipe it takes requests
// on and the queue it puts on.
type produceChild struct {
	req  *mp.Conn[int]
	q    *mp.Queue[int]
	proc *mp.Process
}

func newProduceChild(tb testing.TB) *produceChild {
	tb.Helper()
	q, err := mp.NewQueue[int](0)
	if err != nil {
		tb.Fatal(err)
	}
	a, b, err := mp.Pipe[int](true)
	if err != nil {
		q.Close()
		tb.Fatal(err)
	}
	p := &mp.Process{Target: targets.ProduceBatches, Args: []any{b, q}}
	err = p.Start()
	b.Close()
	if err != nil {
		a.Close()
		q.Close()
		tb.Fatalf("Start: %v", err)
	}
	tb.Cleanup(func() {
		a.Close() // the child returns at end of file
		if err := p.JoinTimeout(time.Minute); err != nil {
			tb.Errorf("ProduceBatches child: %v", err)
		}
		q.Close()
	})
	return &produceChild{req: a, q: q, proc: p}
}

// batch asks for n ints and gets them, up to the -1 after them.
func (c *produceChild) batch(n int) error {
	if err := c.req.Send(n); err != nil {
		return err
	}
	var count, sum int
	for {
		v, err := c.q.Get()
		if err != nil {
			return fmt.Errorf("ProduceBatches child: %w", err)
		}
		if v == -1 {
			break
		}
		count++
		sum += v
	}
	if got, want := [2]int{count, sum}, [2]int{n, n * (n - 1) / 2}; got != want {
		return fmt.Errorf("got (count, sum) %v from ProduceBatches, want %v", got, want)
	}
	return nil
}

// TestSharingBenchPieces runs each piece of the Pipe and Queue benchmarks
// once, small, so that `go test ./bench/` catches one that measures the
// wrong thing.
func TestSharingBenchPieces(t *testing.T) {
	needSpawn(t)
	pc := newPipeChild[[]byte](t, targets.EchoBytes)
	for _, n := range []int{0, pipeSmall, floorEchoMax, floorEchoMax + 1, 1 << 20} {
		if err := echoBytes(pc.conn, bytes.Repeat([]byte{0xa5}, n)); err != nil {
			t.Fatalf("%d-byte echo: %v", n, err)
		}
	}
	if got := floorWant(make([]byte, 1<<20)); binary.BigEndian.Uint64(got) != 1<<20 {
		t.Fatalf("floorWant of 1 MiB = %x", got)
	}
	pp := newPipeChild[targets.Ping](t, targets.EchoPing)
	if err := echoPing(pp.conn, targets.Ping{S: "ping", I: 42, F: 3.14}); err != nil {
		t.Fatal(err)
	}
	fc := newSumFloorChild(t)
	for _, n := range []int{0, 1, 1000} {
		if err := fc.batch(n); err != nil {
			t.Fatalf("batch of %d to the sum floor child: %v", n, err)
		}
	}
	sc := newSumChild(t)
	for _, n := range []int{0, 1, 1000} {
		if err := sc.batch(n); err != nil {
			t.Fatalf("batch of %d to SumBatches: %v", n, err)
		}
	}
	prc := newProduceChild(t)
	for _, n := range []int{0, 1, 1000} {
		if err := prc.batch(n); err != nil {
			t.Fatalf("batch of %d from ProduceBatches: %v", n, err)
		}
	}
	if _, err := prc.q.TryGet(); !errors.Is(err, mp.ErrQueueEmpty) {
		t.Fatalf("TryGet after the batches: %v, want ErrQueueEmpty", err)
	}
}
