package bench

// Helpers shared by the benchmarks' files: the floor children (started by
// TestMain in main_test.go) and how to talk to them, the payloads, and the
// statistics each benchmark reports. The socketpairs the floors use differ
// by platform: helpers_unix_test.go and helpers_other_test.go.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mpgen/mpgen/bench/internal/stats"
)

// needSpawn skips tb where children cannot be started.
func needSpawn(tb testing.TB) {
	tb.Helper()
	if !canSpawn {
		tb.Skip("starting child processes is not supported on this platform yet")
	}
}

// floorEnv makes the test binary a floor child: TestMain looks at it before
// anything else (only package init functions have run, as in an mpgen
// child) and exits at once, or after one exchange on descriptor 3.
const floorEnv = "MPGEN_BENCH_FLOOR"

// Floor child modes, the values of floorEnv.
const (
	floorExit       = "exit"       // exit(0) at once
	floorSocketpair = "socketpair" // one exchange on descriptor 3 (see floorServe), then exit(0)
	floorLoop       = "loop"       // exchanges on descriptor 3 until end of file (see floorServeLoop)
	floorSum        = "sum"        // sums messages on descriptor 3 until end of file (see floorServeSum)
)

// floorEchoMax is the largest payload a socketpair floor child echoes back
// whole; it answers a larger one with its length only, as ByteLen does.
const floorEchoMax = 4 << 10

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

// loopChild is a warm floor child that serves messages on a socketpair
// until its end is closed (see floorServeLoop).
type loopChild struct {
	cmd   *exec.Cmd
	conn  *os.File
	reply []byte
}

// roundTrip sends msg (length-prefixed, in one write when it is small, as
// the runtime writes a frame) and reads the child's answer: msg itself when
// it is small, its 8-byte length otherwise.
func (c *loopChild) roundTrip(msg []byte) error {
	want := floorWant(msg)
	out := binary.BigEndian.AppendUint64(make([]byte, 0, 8+min(len(msg), floorEchoMax)), uint64(len(msg)))
	rest := msg
	if len(msg) <= floorEchoMax {
		out, rest = append(out, msg...), nil
	}
	if _, err := c.conn.Write(out); err != nil {
		return err
	}
	if len(rest) > 0 {
		if _, err := c.conn.Write(rest); err != nil {
			return err
		}
	}
	reply := c.reply[:len(want)]
	if _, err := io.ReadFull(c.conn, reply); err != nil {
		return fmt.Errorf("loop child: %w", err)
	}
	if !bytes.Equal(reply, want) {
		return errors.New("loop child answered a different message")
	}
	return nil
}

// newLoopChild starts a loop child and stops it when tb ends.
func newLoopChild(tb testing.TB) *loopChild {
	cmd, conn := startServingChild(tb, floorLoop, socketpair)
	return &loopChild{cmd: cmd, conn: conn, reply: make([]byte, floorEchoMax)}
}

// startServingChild starts a floor child in a mode that serves descriptor
// 3 until end of file, on a pair made by pair, and stops it when tb ends.
func startServingChild(tb testing.TB, mode string, pair func() (parent, child *os.File, err error)) (*exec.Cmd, *os.File) {
	tb.Helper()
	conn, child, err := pair()
	if err != nil {
		tb.Fatal(err)
	}
	cmd, err := floorCmd(mode)
	if err != nil {
		tb.Fatal(err)
	}
	cmd.ExtraFiles = []*os.File{child}
	err = cmd.Start()
	child.Close()
	if err != nil {
		conn.Close()
		tb.Fatalf("start %s child: %v", mode, err)
	}
	tb.Cleanup(func() {
		conn.Close() // the child exits on end of file
		if err := cmd.Wait(); err != nil {
			tb.Errorf("%s child: %v", mode, err)
		}
	})
	return cmd, conn
}

// Sizes of the payloads: a small argument and result, and a large argument.
const (
	smallSize = 1 << 10
	largeSize = 64 << 20
)

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

// pairedLoop runs floor and subject once each per iteration of b.Loop,
// alternating which goes first so that neither always meets a warmer
// machine, and reports both medians (in unit, "ms" or "us") and their
// ratio. Each function returns the duration it measured. It returns the two
// medians, for metrics derived from them.
func pairedLoop(b *testing.B, unit string, floor, subject func(i int) time.Duration) (floorP50, subjectP50 time.Duration) {
	var fs, ss samples
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			fs = append(fs, floor(i))
			ss = append(ss, subject(i))
		} else {
			ss = append(ss, subject(i))
			fs = append(fs, floor(i))
		}
	}
	conv := ms
	if unit == "us" {
		conv = us
	}
	f, m := fs.Quantile(0.5), ss.Quantile(0.5)
	b.ReportMetric(conv(f), "floor-p50-"+unit)
	b.ReportMetric(conv(m), "mpgen-p50-"+unit)
	b.ReportMetric(float64(m)/float64(f), "ratio")
	return f, m
}

func ms(d time.Duration) float64 { return stats.Ms(d) }

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// procCPU returns utime+stime of /proc/<pid>/stat, assuming USER_HZ is 100
// (as on every Linux platform Go supports).
func procCPU(pid string) (time.Duration, error) {
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%s/stat: no command name", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%s/stat: %d fields", pid, len(f))
	}
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	var ticks int64
	for _, s := range f[11:13] {
		t, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%s/stat: %v", pid, err)
		}
		ticks += t
	}
	return time.Duration(ticks) * (time.Second / 100), nil
}
