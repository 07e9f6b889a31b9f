package main

import (
	"context"
	"testing"
	"time"
)

// TestPipeline runs the whole pipeline, five processes, on a smaller range:
// every job is counted once and the total is right.
func TestPipeline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	total, err := run(ctx, 100_000, 5_000, 3)
	if err != nil {
		t.Fatal(err)
	}
	if total.Primes != 9592 || total.Jobs != 20 {
		t.Fatalf("got %d primes in %d jobs, want 9592 in 20", total.Primes, total.Jobs)
	}
	jobs := 0
	for _, n := range total.PerWorker {
		jobs += n
	}
	if jobs != 20 || len(total.PerWorker) > 3 {
		t.Fatalf("jobs per worker %v: want 20 jobs by at most 3 workers", total.PerWorker)
	}
}
