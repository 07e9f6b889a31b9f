// Pool maps a CPU-bound function over many inputs on a pool of warm worker
// processes, with a progress bar, then shows that a crashing call fails
// alone while the pool goes on.
//
// Run it with `go run ./examples/pool`.
package main

//go:generate go tool mpgen

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	mp "github.com/mpgen/mpgen/runtime"
)

// collatz returns the number of Collatz steps from n to 1.
//
//mp:target
func collatz(n int) int {
	steps := 0
	for ; n != 1; steps++ {
		if n%2 == 0 {
			n /= 2
		} else {
			n = 3*n + 1
		}
	}
	return steps
}

// crash ends its worker process abruptly.
//
//mp:target
func crash(code int) { os.Exit(code) }

func bar(done, total int) {
	const width = 40
	n := done * width / total
	fmt.Fprintf(os.Stderr, "\r[%s%s] %d/%d", strings.Repeat("#", n), strings.Repeat(".", width-n), done, total)
	if done == total {
		fmt.Fprintln(os.Stderr)
	}
}

func main() {
	ctx := context.Background()
	pool, err := mp.NewPool(ctx) // one worker per CPU
	if err != nil {
		log.Fatal(err)
	}
	defer func() { pool.Close(); _ = pool.Join() }()
	fmt.Printf("pool of %d workers: %v\n", pool.Size(), pool.Pids())

	inputs := make([]int, 200_000)
	for i := range inputs {
		inputs[i] = i + 1
	}
	start := time.Now()
	steps, err := mp.Map[int, int](ctx, pool, collatz, inputs, mp.Chunksize(2_000), mp.Progress(bar))
	if err != nil {
		log.Fatal(err)
	}
	best := 0
	for i, s := range steps {
		if s > steps[best] {
			best = i
		}
	}
	fmt.Printf("longest Collatz chain below %d starts at %d (%d steps), in %v\n",
		len(inputs)+1, inputs[best], steps[best], time.Since(start).Round(time.Millisecond))

	// A worker that dies fails only the call it was running.
	_, err = pool.Apply(ctx, crash, []any{3}, nil)
	var ee *mp.ExitError
	fmt.Println("crashing call:", err, "| is *mp.ExitError:", errors.As(err, &ee))
	n, err := mp.Submit[int](ctx, pool, collatz, 27).Get()
	fmt.Println("the pool goes on: collatz(27) =", n, err)
}
