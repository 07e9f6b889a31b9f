package bench

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

// Sizes of the payloads: a small argument and result, and a large argument.
const (
	smallSize = 1 << 10
	largeSize = 64 << 20
)

// BenchmarkFloor is the raw floor of starting a child: the same test
// binary, re-executed with os/exec the way mpgen starts it (same path,
// argv, environment plus one variable, inherited stdout and stderr), where
// TestMain exits at once. Every package init of the binary runs, as in an
// mpgen child; nothing of mpgen's protocol does.
func BenchmarkFloor(b *testing.B) {
	needSpawn(b)
	var s samples
	for b.Loop() {
		s = append(s, runFloorChild(b))
	}
	report(b, s)
}

// BenchmarkFloorSocketpair is the floor plus what any design with a
// control channel pays: a socketpair made per child, its end passed as
// descriptor 3 (ExtraFiles), the parent's end non-blocking on Go's poller
// (as a net.Conn is), and one message from the parent answered by the child.
// echo-256B is a small round trip (about the size of mpgen's hello and call
// frames for a target without arguments); bytes-64MiB-arg sends 64 MiB that
// the child reads into a fresh buffer and answers with its length: the
// transport's floor for BenchmarkStartJoin/bytes-64MiB-arg. What mpgen costs
// beyond these is its own protocol, encoding and bookkeeping.
func BenchmarkFloorSocketpair(b *testing.B) {
	needSpawn(b)
	b.Run("echo-256B", func(b *testing.B) {
		floorSocketpairLoop(b, bytes.Repeat([]byte{0x5a}, 256))
	})
	b.Run("bytes-64MiB-arg", func(b *testing.B) {
		b.SetBytes(largeSize)
		b.Cleanup(releaseMemory)
		floorSocketpairLoop(b, largePayload())
	})
}

func floorSocketpairLoop(b *testing.B, payload []byte) {
	want := floorWant(payload)
	var s samples
	for b.Loop() {
		t0 := time.Now()
		reply, err := floorExchange(payload, len(want))
		if err != nil {
			b.Fatal(err)
		}
		s = append(s, time.Since(t0))
		if !bytes.Equal(reply, want) {
			b.Fatal("floor child answered a different message")
		}
	}
	report(b, s)
}

// floorExchange starts a socketpair floor child, sends it payload, reads
// its answer of replyLen bytes and waits for it to exit.
func floorExchange(payload []byte, replyLen int) ([]byte, error) {
	conn, child, err := socketpair()
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	cmd, err := floorCmd(floorSocketpair)
	if err != nil {
		child.Close()
		return nil, err
	}
	cmd.ExtraFiles = []*os.File{child}
	err = cmd.Start()
	child.Close()
	if err != nil {
		return nil, fmt.Errorf("start floor child: %w", err)
	}
	// One write for a small message, as the runtime sends its hello and
	// call; two for a large one, so the payload is not copied.
	msg := binary.BigEndian.AppendUint64(nil, uint64(len(payload)))
	if len(payload) <= floorEchoMax {
		msg, payload = append(msg, payload...), nil
	}
	reply := make([]byte, replyLen)
	_ = conn.SetDeadline(time.Now().Add(time.Minute)) // never hang on a broken child
	_, err = conn.Write(msg)
	if err == nil && len(payload) > 0 {
		_, err = conn.Write(payload)
	}
	if err == nil {
		_, err = io.ReadFull(conn, reply)
	}
	if err != nil {
		_ = cmd.Process.Kill()
	}
	if werr := cmd.Wait(); err == nil && werr != nil {
		err = fmt.Errorf("floor child: %w", werr)
	}
	return reply, err
}

// floorWant is the answer of a socketpair floor child to payload.
func floorWant(payload []byte) []byte {
	if len(payload) > floorEchoMax {
		return binary.BigEndian.AppendUint64(nil, uint64(len(payload)))
	}
	return payload
}

// BenchmarkStartJoin measures a whole child's life, one child at a time:
// Start, the child's exec and handshake, the call, the outcome and Join.
func BenchmarkStartJoin(b *testing.B) {
	needSpawn(b)
	b.Run("noop", func(b *testing.B) {
		startJoin(b, func() *mp.Process { return &mp.Process{Target: targets.Noop} }, nil)
	})
	b.Run("echo-1KiB-result", func(b *testing.B) {
		arg := strings.Repeat("x", smallSize)
		startJoin(b, func() *mp.Process {
			return &mp.Process{Target: targets.Echo, Args: []any{arg}}
		}, func(res any) error {
			if s, _ := res.(string); s != arg {
				return fmt.Errorf("Echo returned %d bytes, want %d", len(s), len(arg))
			}
			return nil
		})
	})
	b.Run("bytes-64MiB-arg", func(b *testing.B) {
		arg := largePayload()
		b.SetBytes(largeSize)
		b.Cleanup(releaseMemory)
		startJoin(b, func() *mp.Process {
			return &mp.Process{Target: targets.ByteLen, Args: []any{arg}}
		}, func(res any) error {
			if n, _ := res.(int); n != largeSize {
				return fmt.Errorf("ByteLen = %v, want %d", res, largeSize)
			}
			return nil
		})
	})
}

// startJoin runs Start+Join of the process newProc makes, once per
// iteration, and checks the result with check when it is not nil.
func startJoin(b *testing.B, newProc func() *mp.Process, check func(any) error) {
	var s samples
	for b.Loop() {
		t0 := time.Now()
		p := newProc()
		if err := p.Start(); err != nil {
			b.Fatalf("Start: %v", err)
		}
		if err := p.Join(); err != nil {
			b.Fatalf("Join: %v", err)
		}
		s = append(s, time.Since(t0))
		if check != nil {
			res, _ := p.Result()
			if err := check(res); err != nil {
				b.Fatal(err)
			}
		}
	}
	report(b, s)
}

// BenchmarkStartJoinVsFloor runs a floor child (as BenchmarkFloor) and an
// mpgen Noop child (as BenchmarkStartJoin/noop) in every iteration, in
// alternating order, so that both see the same machine at the same moment:
// on a shared machine the load drifts between two benchmarks run a minute
// apart, and this ratio does not. It reports floor-p50-ms, mpgen-p50-ms and
// ratio (mpgen-p50-ms / floor-p50-ms); ns/op is the cost of the pair.
func BenchmarkStartJoinVsFloor(b *testing.B) {
	needSpawn(b)
	pairedLoop(b, "ms", func(int) time.Duration { return runFloorChild(b) }, func(int) time.Duration {
		t0 := time.Now()
		p := &mp.Process{Target: targets.Noop}
		if err := p.Start(); err != nil {
			b.Fatalf("Start: %v", err)
		}
		if err := p.Join(); err != nil {
			b.Fatalf("Join: %v", err)
		}
		return time.Since(t0)
	})
}

// BenchmarkSleep5 is the seed example of the design: five children that
// each sleep one second, all started and then all joined. overhead-ms is
// the median wall time beyond the one second the sleeps take.
func BenchmarkSleep5(b *testing.B) {
	needSpawn(b)
	const n, d = 5, time.Second
	var s samples
	for b.Loop() {
		t0 := time.Now()
		ps := make([]*mp.Process, n)
		for i := range ps {
			ps[i] = &mp.Process{Target: targets.SleepNoCtx, Args: []any{d}}
			if err := ps[i].Start(); err != nil {
				b.Fatalf("Start: %v", err)
			}
		}
		for _, p := range ps {
			if err := p.Join(); err != nil {
				b.Fatalf("Join: %v", err)
			}
		}
		s = append(s, time.Since(t0))
	}
	report(b, s)
	b.ReportMetric(ms(s.Quantile(0.5)-d), "overhead-ms")
}

// largePayload returns largeSize bytes that do not compress to nothing.
func largePayload() []byte {
	p := make([]byte, largeSize)
	for i := range p {
		p[i] = byte(i * 7)
	}
	return p
}

// releaseMemory returns the large payloads' memory to the OS, so that the
// benchmarks that follow start from a small heap.
func releaseMemory() {
	runtime.GC()
	debug.FreeOSMemory()
}

// floorCmd returns the command that re-executes this test binary as a
// floor child in the given mode.
func floorCmd(mode string) (*exec.Cmd, error) {
	exe, err := selfExe()
	if err != nil {
		return nil, err
	}
	return &exec.Cmd{
		Path:   exe,
		Args:   []string{os.Args[0]},
		Env:    append(os.Environ(), floorEnv+"="+mode),
		Stdout: os.Stdout,
		Stderr: os.Stderr,
	}, nil
}

// selfExe is the path that starts this binary, chosen as the runtime
// chooses it.
func selfExe() (string, error) {
	if runtime.GOOS == "linux" {
		return "/proc/self/exe", nil
	}
	return os.Executable()
}
