package mpnats

import (
	"fmt"
	"runtime"
	"slices"
	"time"

	mp "github.com/mpgen/mpgen/runtime"
)

// Option configures Serve (a worker) or Dial (a caller); each says which
// side reads it, and the other refuses it with an error.
type Option func(*config)

type config struct {
	app        string
	durable    bool
	slots      int
	heartbeat  time.Duration
	ackWait    time.Duration
	maxDeliver int
	onReady    func()
	codec      mp.Codec
	only       []any
	set        []string // the side-specific options given, by name
}

// The options that only one side reads; the other refuses them, so that
// a worker option given to Dial (or the reverse) is not silently ignored.
var (
	workerOnly = []string{"Slots", "AckWait", "MaxDeliver", "OnReady", "Targets"}
	callerOnly = []string{"Heartbeat", "Codec"}
)

// refuse returns an error naming the first of names that was given.
func (c *config) refuse(fn string, names []string) error {
	for _, n := range c.set {
		if slices.Contains(names, n) {
			return fmt.Errorf("mpnats: %s: option %s does not apply here (it is a %s option)", fn, n, map[string]string{"Dial": "worker's", "Serve": "caller's"}[fn])
		}
	}
	return nil
}

func newConfig(opts []Option) (config, names, error) {
	c := config{
		app:        "mp",
		slots:      runtime.GOMAXPROCS(0),
		heartbeat:  time.Second,
		ackWait:    30 * time.Second,
		maxDeliver: 5,
	}
	for _, o := range opts {
		o(&c)
	}
	n, err := namesOf(c.app)
	if err != nil {
		return c, n, err
	}
	switch {
	case c.slots < 1:
		return c, n, fmt.Errorf("mpnats: Slots(%d): a worker needs at least one slot", c.slots)
	case c.heartbeat < 10*time.Millisecond:
		return c, n, fmt.Errorf("mpnats: Heartbeat(%v): at least 10ms", c.heartbeat)
	case c.ackWait < 100*time.Millisecond:
		return c, n, fmt.Errorf("mpnats: AckWait(%v): at least 100ms", c.ackWait)
	case c.maxDeliver < 1:
		return c, n, fmt.Errorf("mpnats: MaxDeliver(%d): at least 1", c.maxDeliver)
	}
	return c, n, nil
}

// App names the application whose workers and callers meet (both sides;
// default "mp"): its subjects, stream and object store are its own, so
// apps share a server without seeing each other's calls. A name is 1-64
// letters, digits, '_' or '-'. Give a new build that changes targets a new
// app name to upgrade without mixing builds on one work queue.
func App(name string) Option { return func(c *config) { c.app = name } }

// Durable selects the work queue (both sides). A caller with Durable(true)
// sends its calls to the app's JetStream work queue: at least once, taken
// by whichever worker slot is free, redelivered if its worker dies, so a
// target may run twice. A worker with Durable(true) serves the work queue
// too, with its own slots (see Slots). Default false: direct calls, at
// most once.
func Durable(on bool) Option { return func(c *config) { c.durable = on } }

// Slots sets how many calls a worker runs at once (worker; default
// runtime.GOMAXPROCS(0)). Direct calls and, with Durable(true), work-queue
// calls each get that many, so neither starves the other.
func Slots(n int) Option { return func(c *config) { c.slots = n; c.mark("Slots") } }

// Heartbeat sets how often the worker running a direct call tells the
// caller it is alive once the call has run that long (caller; default 1s).
// After three periods of silence the caller fails the call with a
// *WorkerLostError and cancels it, whether the worker died or its link did.
func Heartbeat(d time.Duration) Option {
	return func(c *config) { c.heartbeat = d; c.mark("Heartbeat") }
}

// AckWait sets how long the work queue waits for a silent worker before
// giving its call to another (worker, Durable; default 30s). A running
// call tells the server it is in progress every AckWait/3, so only a dead
// or cut-off worker's call is redelivered.
func AckWait(d time.Duration) Option { return func(c *config) { c.ackWait = d; c.mark("AckWait") } }

// MaxDeliver sets how many times the work queue delivers one call before
// giving up on it (worker, Durable; default 5).
func MaxDeliver(n int) Option { return func(c *config) { c.maxDeliver = n; c.mark("MaxDeliver") } }

// OnReady sets a function Serve calls once the worker is served: its
// subscriptions have reached the server, so a call sent after f runs is
// received (worker).
func OnReady(f func()) Option { return func(c *config) { c.onReady = f; c.mark("OnReady") } }

// Codec sets the codec of the calls' arguments and results (caller;
// default mp.Gob), as mp.PoolCodec does for a local pool.
func Codec(c mp.Codec) Option { return func(cfg *config) { cfg.codec = c; cfg.mark("Codec") } }

// Targets limits a worker to serving these targets (worker; default every
// target the program registers): a caller can run no other through it.
func Targets(targets ...any) Option {
	return func(c *config) { c.only = append(c.only, targets...); c.mark("Targets") }
}

func (c *config) mark(name string) { c.set = append(c.set, name) }
