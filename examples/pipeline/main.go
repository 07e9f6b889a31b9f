// Pipeline counts the primes below a bound with a producer, three workers
// and a collector, five processes joined by two queues:
//
//	producer --jobs--> worker x3 --found--> collector
//
// Each stage is an ordinary function; the queues are ordinary arguments.
// Shutting a queue down is like closing a channel: its consumers drain it
// and then see mp.ErrQueueShutDown.
//
// Run it with `go run ./examples/pipeline`.
package main

//go:generate go tool mpgen

import (
	"context"
	"errors"
	"fmt"
	"log"
	"maps"
	"os"
	"slices"

	mp "github.com/mpgen/mpgen/runtime"
)

// Range is a job: count the primes in [From, To).
type Range struct{ From, To int }

// Found is a worker's answer for one Range.
type Found struct {
	Range  Range
	Primes int
	Worker int // the pid of the worker that counted them
}

// produce cuts [0, limit) into jobs of size step.
//
//mp:target
func produce(jobs *mp.Queue[Range], limit, step int) error {
	for from := 0; from < limit; from += step {
		if err := jobs.Put(Range{from, min(from+step, limit)}); err != nil {
			return err
		}
	}
	return nil
}

// work counts the primes of each job until the jobs run out.
//
//mp:target
func work(ctx context.Context, jobs *mp.Queue[Range], found *mp.Queue[Found]) error {
	for {
		r, err := jobs.GetContext(ctx)
		if errors.Is(err, mp.ErrQueueShutDown) {
			return nil // no more jobs
		}
		if err != nil {
			return err
		}
		n := 0
		for i := r.From; i < r.To; i++ {
			if isPrime(i) {
				n++
			}
		}
		if err := found.Put(Found{Range: r, Primes: n, Worker: os.Getpid()}); err != nil {
			return err
		}
	}
}

// Total is what the collector returns.
type Total struct {
	Primes, Jobs int
	PerWorker    map[int]int // jobs done by each worker pid
}

// collect adds up the answers until they run out.
//
//mp:target
func collect(ctx context.Context, found *mp.Queue[Found]) (Total, error) {
	t := Total{PerWorker: map[int]int{}}
	for {
		f, err := found.GetContext(ctx)
		if errors.Is(err, mp.ErrQueueShutDown) {
			return t, nil
		}
		if err != nil {
			return t, err
		}
		t.Primes += f.Primes
		t.Jobs++
		t.PerWorker[f.Worker]++
	}
}

func isPrime(n int) bool {
	if n < 2 {
		return false
	}
	for d := 2; d*d <= n; d++ {
		if n%d == 0 {
			return false
		}
	}
	return true
}

func main() {
	const limit = 2_000_000
	total, err := run(context.Background(), limit, 50_000, 3)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d primes below %d, in %d jobs\n", total.Primes, limit, total.Jobs)
	pids := slices.Sorted(maps.Keys(total.PerWorker))
	for _, pid := range pids {
		fmt.Printf("  worker %d counted %d jobs\n", pid, total.PerWorker[pid])
	}
}

// run wires the pipeline and waits for the collector's total.
func run(ctx context.Context, limit, step, workers int) (Total, error) {
	jobs, err := mp.NewQueue[Range](0)
	if err != nil {
		return Total{}, err
	}
	defer jobs.Close()
	found, err := mp.NewQueue[Found](0)
	if err != nil {
		return Total{}, err
	}
	defer found.Close()

	producer := &mp.Process{Target: produce, Args: []any{jobs, limit, step}}
	collector, err := mp.Spawn[Total](ctx, collect, found)
	if err != nil {
		return Total{}, err
	}
	var ws []*mp.Process
	for range workers {
		w := &mp.Process{Target: work, Args: []any{jobs, found}}
		if err := w.StartContext(ctx); err != nil {
			return Total{}, err
		}
		ws = append(ws, w)
	}
	if err := producer.StartContext(ctx); err != nil {
		return Total{}, err
	}

	// Each stage ends when its input is shut down, so shut them down in
	// order: after the producer, the jobs; after the workers, the answers.
	if err := producer.Join(); err != nil {
		return Total{}, err
	}
	if err := jobs.Shutdown(); err != nil {
		return Total{}, err
	}
	for _, w := range ws {
		if err := w.Join(); err != nil {
			return Total{}, err
		}
	}
	if err := found.Shutdown(); err != nil {
		return Total{}, err
	}
	return collector.Get()
}
