// Cluster maps a CPU-bound workload (the longest Collatz chain below a
// bound) across worker processes that NATS connects, with the same
// mp.Map call as on a local pool, and prints which worker ran how many
// items and the throughput.
//
// On one machine, with nothing installed:
//
//	cd mpnats && go run ./examples/cluster -workers 2
//
// starts a NATS server with JetStream inside the process (storing in a
// temporary directory), starts 2 worker processes (this program again,
// as mp.Process children running serve) that connect to it, waits until
// both are served, maps the workload across them, then stops the workers
// and the server and removes the directory.
//
// On several machines, with a nats-server of the version this module pins
// (Debian's is too old) on host A:
//
//	go install github.com/nats-io/nats-server/v2@v2.15.2
//	nats-server -a 0.0.0.0 -p 4222 -js -sd /var/lib/mp-nats       # host A
//	cd mpnats && go build -o cluster ./examples/cluster            # copy to every host
//	MP_ROLE=worker NATS_URL=nats://hostA:4222 ./cluster -durable   # each worker host
//	NATS_URL=nats://hostA:4222 ./cluster -map 2000000 -durable     # the caller
//
// A worker serves until SIGINT or SIGTERM. With NATS_URL (or -url) the
// program starts no server, and is the caller only unless -workers says
// to start workers here too. The connection is mpnats.ConnectFromEnv's:
// NATS_CREDS, NATS_NKEY, NATS_USER and NATS_PASSWORD, NATS_CA, NATS_CERT
// and NATS_KEY give credentials and TLS.
//
// Flags:
//
//	-workers n  worker processes to start here (default 2 with the embedded
//	            server, 0 with NATS_URL or -url)
//	-map n      count the Collatz steps of 1..n (default 2000000)
//	-chunk n    numbers per item, one call each (default 10000: a few ms of work)
//	-durable    after the direct Map, map again through the JetStream work
//	            queue; a worker with -durable serves the queue too
//	-slots n    calls a worker runs at once (default: a worker host's
//	            GOMAXPROCS; here, the CPUs shared among -workers)
//	-app name   the mpnats app of workers and caller (default "cluster")
//	-url url    the NATS server (default $NATS_URL; none: the embedded server)
//
// Environment: MP_ROLE=worker makes the program a worker.
package main

//go:generate go run github.com/mpgen/mpgen/mpnats/internal/mpgen

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/mpgen/mpgen/mpnats"
	"github.com/mpgen/mpgen/mpnats/natstest"
	mp "github.com/mpgen/mpgen/runtime"
	"github.com/nats-io/nats.go"
)

// Range is one item of the workload: the numbers From..To-1.
type Range struct{ From, To int }

// Longest is the longest Collatz chain of a Range, and who found it.
type Longest struct {
	Start, Steps int    // the chain starts at Start and takes Steps to reach 1
	Worker       string // host:pid of the worker that counted the Range
}

// collatz counts the Collatz steps from each number of r down to 1 and
// returns the longest chain.
//
//mp:target
func collatz(r Range) Longest {
	best := Longest{Start: r.From, Worker: self}
	for n := r.From; n < r.To; n++ {
		if s := steps(n); s > best.Steps {
			best.Start, best.Steps = n, s
		}
	}
	return best
}

// steps is the number of Collatz steps from n to 1.
func steps(n int) int {
	s := 0
	for ; n > 1; s++ {
		if n%2 == 0 {
			n /= 2
		} else {
			n = 3*n + 1
		}
	}
	return s
}

// self is this process as the output names it: host:pid.
var self = func() string {
	host, err := os.Hostname()
	if err != nil {
		host = "?"
	}
	return host + ":" + strconv.Itoa(os.Getpid())
}()

// serve makes this process a worker of app until ctx is done, connected
// as the environment says (mpnats.ConnectFromEnv). It is a target so that
// the demo starts its local workers as mp.Process children, which end
// with their parent and stop cleanly on Terminate.
//
//mp:target
func serve(ctx context.Context, app string, durable bool, slots int) error {
	nc, err := mpnats.ConnectFromEnv(app)
	if err != nil {
		return err
	}
	defer nc.Close()
	opts := []mpnats.Option{
		mpnats.App(app),
		mpnats.Durable(durable),
		mpnats.Targets(collatz), // serve is a target too, but not one for callers
		mpnats.OnReady(func() {
			mode := "direct"
			if durable {
				mode = "direct and durable"
			}
			fmt.Printf("worker %s serving app %s on %s: %s calls, %s each\n", self, app, nc.ConnectedUrlRedacted(), mode, plural(slots, "slot"))
		}),
	}
	if slots > 0 {
		opts = append(opts, mpnats.Slots(slots))
	} else {
		slots = runtime.GOMAXPROCS(0) // Serve's default, for the message
	}
	return mpnats.Serve(ctx, nc, opts...)
}

// config is the command line.
type config struct {
	workers int
	numbers int
	chunk   int
	durable bool
	slots   int
	app     string
	url     string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		stop()
		os.Exit(1)
	}
}

// run is the program with its arguments.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	var c config
	flags := flag.NewFlagSet("cluster", flag.ContinueOnError)
	flags.IntVar(&c.workers, "workers", -1, "worker processes to start here (default 2 with the embedded server, 0 with NATS_URL or -url)")
	flags.IntVar(&c.numbers, "map", 2_000_000, "count the Collatz steps of 1..n")
	flags.IntVar(&c.chunk, "chunk", 10_000, "numbers per item (one call each)")
	flags.BoolVar(&c.durable, "durable", false, "map again through the JetStream work queue; a worker serves it too")
	flags.IntVar(&c.slots, "slots", 0, "calls a worker runs at once (default: GOMAXPROCS on a worker host; the CPUs shared among -workers here)")
	flags.StringVar(&c.app, "app", "cluster", "the mpnats app of workers and caller")
	flags.StringVar(&c.url, "url", "", "the NATS server (default $NATS_URL; none: an embedded server)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	switch {
	case flags.NArg() > 0:
		return fmt.Errorf("unexpected arguments %q", flags.Args())
	case c.numbers < 1 || c.chunk < 1:
		return errors.New("-map and -chunk need at least 1")
	}
	if c.url != "" {
		// ConnectFromEnv reads it, here and in the workers started here.
		os.Setenv("NATS_URL", c.url)
	}
	if os.Getenv("MP_ROLE") == "worker" {
		return serve(ctx, c.app, c.durable, c.slots)
	}
	return caller(ctx, c, stdout)
}

// caller runs the embedded server when there is no other, the local
// workers, and the Maps.
func caller(ctx context.Context, c config, stdout io.Writer) error {
	if os.Getenv("NATS_URL") == "" {
		dir, err := os.MkdirTemp("", "mp-cluster-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		s, err := natstest.Start(dir, nil)
		if err != nil {
			return err
		}
		defer func() {
			s.Shutdown()
			s.WaitForShutdown()
		}()
		os.Setenv("NATS_URL", s.ClientURL())
		fmt.Fprintf(stdout, "embedded NATS server %s, JetStream in %s\n", s.ClientURL(), dir)
		if c.workers < 0 {
			c.workers = 2
		}
	}
	c.workers = max(c.workers, 0)
	nc, err := mpnats.ConnectFromEnv(c.app)
	if err != nil {
		return err
	}
	defer nc.Close()

	procs, err := startWorkers(ctx, c)
	defer stopWorkers(procs, stdout)
	if err != nil {
		return err
	}
	ws, err := awaitWorkers(ctx, nc, c, procs)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d workers:", len(ws))
	for _, w := range ws {
		fmt.Fprintf(stdout, " %s:%d (%s)", w.Host, w.Pid, plural(w.Slots, "slot"))
	}
	fmt.Fprintln(stdout)

	if err := mapOnce(ctx, nc, c, false, stdout); err != nil {
		return err
	}
	if c.durable {
		return mapOnce(ctx, nc, c, true, stdout)
	}
	return nil
}

// startWorkers starts the local workers, as children that end with this
// process whatever happens to it.
func startWorkers(ctx context.Context, c config) ([]*mp.Process, error) {
	slots := c.slots
	if slots <= 0 && c.workers > 0 {
		slots = max(1, runtime.NumCPU()/c.workers)
	}
	var procs []*mp.Process
	for i := range c.workers {
		p := &mp.Process{
			Target: serve,
			Args:   []any{c.app, c.durable, slots},
			Name:   "worker-" + strconv.Itoa(i+1),
		}
		if err := p.StartContext(ctx); err != nil {
			return procs, fmt.Errorf("start %s: %w", p.Name, err)
		}
		procs = append(procs, p)
	}
	return procs, nil
}

// stopWorkers stops the local workers and waits for them: Serve stops
// taking calls when its context ends, which Terminate's SIGTERM does.
func stopWorkers(procs []*mp.Process, stdout io.Writer) {
	for _, p := range procs {
		_ = p.Terminate()
	}
	for _, p := range procs {
		if err := p.Join(); err != nil && !terminated(err) {
			fmt.Fprintf(os.Stderr, "cluster: %s (pid %d): %v\n", p.Name, p.Pid(), err)
		}
	}
	if len(procs) > 0 {
		fmt.Fprintf(stdout, "stopped %d workers\n", len(procs))
	}
}

// terminated reports whether err is that of a worker that died of the
// SIGTERM (or the Ctrl-C) meant to stop it.
func terminated(err error) bool {
	var ee *mp.ExitError
	return errors.As(err, &ee) && (ee.Code == -int(syscall.SIGTERM) || ee.Code == -int(syscall.SIGINT))
}

// awaitWorkers waits until the workers started here are served and at
// least one worker is (one serving the work queue, with -durable), and
// returns the app's workers.
func awaitWorkers(ctx context.Context, nc *nats.Conn, c config, procs []*mp.Process) ([]mpnats.WorkerInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	host, _ := os.Hostname()
	for {
		ws, err := mpnats.Workers(ctx, nc, mpnats.App(c.app))
		if err != nil {
			return nil, err
		}
		served := map[int]bool{}
		durable := 0
		for _, w := range ws {
			if w.Host == host {
				served[w.Pid] = true
			}
			if w.Durable {
				durable++
			}
		}
		missing := 0
		for _, p := range procs {
			if !served[p.Pid()] {
				missing++
			}
		}
		if missing == 0 && len(ws) > 0 && (!c.durable || durable > 0) {
			slices.SortFunc(ws, func(a, b mpnats.WorkerInfo) int {
				return cmp.Or(cmp.Compare(a.Host, b.Host), cmp.Compare(a.Pid, b.Pid))
			})
			return ws, nil
		}
		for _, p := range procs {
			if !p.IsAlive() {
				return nil, fmt.Errorf("%s ended before it was served: %v", p.Name, p.Join())
			}
		}
		select {
		case <-ctx.Done():
			switch {
			case len(procs) > 0:
				return nil, fmt.Errorf("%d of the %d workers started here not served after 30s", missing, len(procs))
			case c.durable:
				return nil, fmt.Errorf("no worker of app %s serves the work queue after 30s: start workers with MP_ROLE=worker and -durable", c.app)
			}
			return nil, fmt.Errorf("no worker of app %s after 30s: start workers with MP_ROLE=worker", c.app)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// mapOnce maps the workload across the app's workers, directly or
// through the work queue, and prints who ran what and how fast.
func mapOnce(ctx context.Context, nc *nats.Conn, c config, durable bool, stdout io.Writer) error {
	mode := map[bool]string{false: "direct", true: "durable"}[durable]
	pool, err := mpnats.Dial(ctx, nc, mpnats.App(c.app), mpnats.Durable(durable))
	if err != nil {
		return err
	}
	defer func() {
		pool.Close()
		_ = pool.Join()
	}()
	var items []Range
	for from := 1; from <= c.numbers; from += c.chunk {
		items = append(items, Range{from, min(from+c.chunk, c.numbers+1)})
	}
	start := time.Now()
	// Each item is a few milliseconds of work: it travels alone
	// (Chunksize 1), to whichever worker slot is free.
	out, err := mp.Map[Range, Longest](ctx, pool, collatz, items, mp.Chunksize(1))
	wall := time.Since(start)
	if err != nil {
		return fmt.Errorf("%s Map: %w", mode, err)
	}
	ran := map[string]int{}
	best := out[0]
	for _, l := range out {
		ran[l.Worker]++
		if l.Steps > best.Steps {
			best = l
		}
	}
	fmt.Fprintf(stdout, "%s: %d items (%d numbers) in %v: %.0f items/s, %.0f numbers/s\n",
		mode, len(items), c.numbers, wall.Round(time.Millisecond), float64(len(items))/wall.Seconds(), float64(c.numbers)/wall.Seconds())
	for _, w := range slices.Sorted(maps.Keys(ran)) {
		fmt.Fprintf(stdout, "  %s ran %d items\n", w, ran[w])
	}
	fmt.Fprintf(stdout, "  longest Collatz chain up to %d starts at %d (%d steps)\n", c.numbers, best.Start, best.Steps)
	return nil
}

// plural is n and the noun, in the plural unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
