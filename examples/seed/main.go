// Seed is the classic multiprocessing note, in Go: five workers that each
// sleep 1-6 s at random run in parallel, so the whole run takes as long as
// the longest one; then two workers written in the "class" style (a type
// whose Run method is the body and whose fields travel to the child).
//
// Run it with `go run ./examples/seed`. The environment variable
// SEED_UNIT (a Go duration, default 1s) sets the length of one "second",
// so tests can run it quickly; children inherit it.
package main

//go:generate go tool mpgen

import (
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"time"

	mp "github.com/mpgen/mpgen/runtime"
)

// unit is the length of one "second" of sleep.
var unit = func() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("SEED_UNIT")); err == nil && d > 0 {
		return d
	}
	return time.Second
}()

// work is the function-style target (Python: Process(target=work, args=...)).
//
//mp:target
func work(name string) {
	fmt.Printf("%s is starting\n", name)
	n := rand.IntN(6) + 1
	fmt.Printf("%s is sleeping %d s\n", name, n)
	time.Sleep(time.Duration(n) * unit)
	fmt.Printf("%s is ending\n", name)
}

// Worker is the class-style target (Python: subclass Process, override
// run). Its exported fields travel to the child; Run is the body.
//
//mp:target
type Worker struct {
	Name    string
	Seconds int
}

// Run is the body of a Worker process.
func (w Worker) Run() {
	me := mp.CurrentProcess()
	fmt.Printf("%s (%s, pid %d) is starting\n", w.Name, me.Name, me.Pid)
	time.Sleep(time.Duration(w.Seconds) * unit)
	fmt.Printf("%s is ending\n", w.Name)
}

func main() {
	fmt.Printf("main (pid %d) is starting\n", os.Getpid())
	start := time.Now()

	var procs []*mp.Process
	for i := range 4 {
		procs = append(procs, &mp.Process{Target: work, Args: []any{fmt.Sprintf("work_%d", i)}})
	}
	procs = append(procs, &mp.Process{Target: work, Kwargs: map[string]any{"name": "work_4"}})
	for _, p := range procs {
		if err := p.Start(); err != nil {
			log.Fatal(err)
		}
	}
	for _, p := range procs {
		if err := p.Join(); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Printf("main: 5 workers done in %.1f s (they ran in parallel)\n", time.Since(start).Seconds()/unit.Seconds())

	// The class style: two instances of Worker, started and joined.
	a := &mp.Process{Target: Worker{Name: "worker_a", Seconds: 1}}
	b := &mp.Process{Target: Worker{Name: "worker_b", Seconds: 2}}
	for _, p := range []*mp.Process{a, b} {
		if err := p.Start(); err != nil {
			log.Fatal(err)
		}
	}
	for _, p := range []*mp.Process{a, b} {
		if err := p.Join(); err != nil {
			log.Fatal(err)
		}
		code, _ := p.ExitCode()
		fmt.Printf("main: %s exited with code %d\n", p.Name, code)
	}
	fmt.Printf("main is ending after %.1f s\n", time.Since(start).Seconds()/unit.Seconds())
}
