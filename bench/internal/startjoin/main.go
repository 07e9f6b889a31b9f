// Command startjoin measures mpgen's start+join in an ordinary program, as
// a user's binary would run it, rather than in a test binary (which links
// the testing package and its dependencies and so starts more slowly).
// Each iteration starts and joins one child running targets.Noop and, in
// alternating order, re-executes this binary as a floor child that exits
// at the top of main, after every package init and the main guard.
//
// It prints its figures in the format of `go test -bench`, so bench/run
// summarises them with the benchmarks':
//
//	go run ./bench/internal/startjoin -n 300
package main

//go:generate go tool mpgen

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"time"

	"github.com/mpgen/mpgen/bench/internal/stats"
	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

// floorEnv, when set to "exit", makes this program exit at once at the top
// of main: the floor of starting it.
const floorEnv = "MPGEN_BENCH_FLOOR"

func main() {
	if os.Getenv(floorEnv) == "exit" {
		os.Exit(0)
	}
	n := flag.Int("n", 300, "measured iterations (each one floor child and one mpgen child)")
	warmup := flag.Int("warmup", 10, "iterations to run first and not measure")
	name := flag.String("name", "Program", "benchmark name prefix of the output lines")
	flag.Parse()
	if err := run(*n, *warmup, *name); err != nil {
		fmt.Fprintln(os.Stderr, "startjoin:", err)
		os.Exit(1)
	}
}

func run(n, warmup int, name string) error {
	exe, err := selfExe()
	if err != nil {
		return err
	}
	var floor, noop stats.Samples
	runFloor := func() error {
		t0 := time.Now()
		cmd := &exec.Cmd{
			Path:   exe,
			Args:   []string{os.Args[0]},
			Env:    append(os.Environ(), floorEnv+"=exit"),
			Stdout: os.Stdout,
			Stderr: os.Stderr,
		}
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("floor child: %w", err)
		}
		floor = append(floor, time.Since(t0))
		return nil
	}
	runNoop := func() error {
		t0 := time.Now()
		p := &mp.Process{Target: targets.Noop}
		if err := p.Start(); err != nil {
			return err
		}
		if err := p.Join(); err != nil {
			return err
		}
		noop = append(noop, time.Since(t0))
		return nil
	}
	for i := range warmup + n {
		if i == warmup {
			floor, noop = floor[:0], noop[:0]
		}
		first, second := runFloor, runNoop
		if i%2 == 1 { // alternate the order, so neither always goes first
			first, second = runNoop, runFloor
		}
		if err := first(); err != nil {
			return err
		}
		if err := second(); err != nil {
			return err
		}
	}
	line := func(bench string, s stats.Samples) {
		fmt.Printf("Benchmark%s/%s\t%d\t%d ns/op\t%.3f p10-ms\t%.3f p50-ms\t%.3f p90-ms\n",
			name, bench, len(s), s.Mean().Nanoseconds(), stats.Ms(s.Quantile(0.1)), stats.Ms(s.Quantile(0.5)), stats.Ms(s.Quantile(0.9)))
	}
	line("Floor", floor)
	line("StartJoin/noop", noop)
	f, m := floor.Quantile(0.5), noop.Quantile(0.5)
	fmt.Printf("Benchmark%s/StartJoinVsFloor\t%d\t%d ns/op\t%.3f floor-p50-ms\t%.3f mpgen-p50-ms\t%.3f ratio\n",
		name, n, (floor.Mean() + noop.Mean()).Nanoseconds(), stats.Ms(f), stats.Ms(m), float64(m)/float64(f))
	return nil
}

// selfExe is the path that starts this binary, chosen as the runtime
// chooses it.
func selfExe() (string, error) {
	if runtime.GOOS == "linux" {
		return "/proc/self/exe", nil
	}
	return os.Executable()
}
