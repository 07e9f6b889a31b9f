package mpnats

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/mpgen/mpgen/runtime/mpimpl"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
)

// Serve makes this process a worker of its app (see App): it runs the
// calls that callers send to this program's registered targets, Slots at
// a time, until ctx is done. Then it stops taking calls, cancels the
// contexts of the calls it is running, waits for them to end, and returns
// nil; a direct call stopped that way fails on its caller with a
// *WorkerLostError, and a work-queue call goes back to the queue. It
// returns an error at once if it cannot set up its subscriptions (or,
// with Durable, the work queue).
//
// The worker is a NATS micro service named mp-<app> (nats micro ls shows
// it), one endpoint per target, in one queue group per app. OnReady's
// function runs once every subscription has reached the server.
//
// Serve runs in the program's own process, after its own set-up: the
// work a pool's Initializer would do, do before calling Serve.
func Serve(ctx context.Context, nc *nats.Conn, opts ...Option) error {
	cfg, n, err := newConfig(opts)
	if err == nil {
		err = cfg.refuse("Serve", callerOnly)
	}
	if err != nil {
		return err
	}
	specs := mpimpl.Targets()
	if cfg.only != nil {
		specs = specs[:0:0]
		for _, t := range cfg.only {
			s, err := mpimpl.Resolve(t)
			if err != nil {
				return fmt.Errorf("mpnats: Serve: Targets: %w", err)
			}
			specs = append(specs, s)
		}
	}
	if len(specs) == 0 {
		return errors.New("mpnats: Serve: this program registers no targets: import the packages whose //mp:target functions it serves, and run go generate")
	}
	callCtx, cancelCalls := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelCalls()
	w := &worker{
		nc:      nc,
		cfg:     cfg,
		n:       n,
		ctx:     callCtx,
		objects: newObjects(nc, n.objects),
		live:    map[string]context.CancelFunc{},
		gone:    map[string]time.Time{},
		direct:  make(chan struct{}, cfg.slots),
		specs:   map[string]*mpimpl.Spec{},
	}
	host, _ := os.Hostname()
	svc, err := micro.AddService(nc, micro.Config{
		Name:        n.service,
		Version:     "1.0.0",
		Description: "mpgen workers of app " + n.app,
		QueueGroup:  n.group,
		Metadata: map[string]string{
			"mp.slots":   strconv.Itoa(cfg.slots),
			"mp.durable": strconv.FormatBool(cfg.durable),
			"mp.host":    host,
			"mp.pid":     strconv.Itoa(os.Getpid()),
			"mp.table":   tableSignature(specs),
		},
	})
	if err != nil {
		return fmt.Errorf("mpnats: Serve: %w", err)
	}
	defer svc.Stop()
	for _, s := range specs {
		subject := n.directSubject(s)
		w.specs[n.queueSubject(s)] = s
		if err := svc.AddEndpoint(token(s.Name), micro.HandlerFunc(w.onDirect(s)), micro.WithEndpointSubject(subject), micro.WithEndpointQueueGroup(n.group)); err != nil {
			return fmt.Errorf("mpnats: Serve: endpoint of %s: %w", s.Name, err)
		}
	}
	cancels, err := nc.Subscribe(n.cancel, w.onCancel)
	if err != nil {
		return fmt.Errorf("mpnats: Serve: %w", err)
	}
	defer cancels.Unsubscribe()
	var pullers sync.WaitGroup
	pullCtx, stopPulling := context.WithCancel(ctx)
	defer stopPulling()
	if cfg.durable {
		cons, err := w.workQueue(ctx)
		if err != nil {
			return err
		}
		for range cfg.slots {
			pullers.Go(func() { w.pull(pullCtx, cons) })
		}
	}
	// Ready means served: the subscriptions have reached the server.
	if err := nc.Flush(); err != nil {
		return fmt.Errorf("mpnats: Serve: %w", err)
	}
	if cfg.onReady != nil {
		cfg.onReady()
	}
	<-ctx.Done()
	w.mu.Lock()
	w.stopping = true // no call starts from here on
	w.mu.Unlock()
	svc.Stop()
	cancels.Unsubscribe()
	stopPulling()
	cancelCalls() // the pullers run their calls: end those too
	pullers.Wait()
	w.calls.Wait()
	_ = nc.Flush() // the last replies leave before the caller closes nc
	return nil
}

// worker is one Serve.
type worker struct {
	nc         *nats.Conn
	cfg        config
	n          names
	ctx        context.Context // the calls' parent: cancelled when Serve stops
	objects    *objects
	direct     chan struct{}           // the direct calls' slots
	specs      map[string]*mpimpl.Spec // by work-queue subject
	ackWait    time.Duration           // the work queue's, as its consumer has it
	maxDeliver int
	calls      sync.WaitGroup // the calls running, Added under mu

	mu       sync.Mutex
	stopping bool                          // Serve is ending: no call starts
	live     map[string]context.CancelFunc // the calls received, by call id
	gone     map[string]time.Time          // cancels of calls not received (yet), by call id
}

// stopped reports whether Serve's end cancelled the call whose context
// ended: the call did not fail, its worker went away.
func (w *worker) stopped(ctx context.Context) bool {
	return ctx.Err() != nil && w.ctx.Err() != nil
}

// tableSignature hashes the signatures of every target, to tell builds
// apart in the service's metadata.
func tableSignature(specs []*mpimpl.Spec) string {
	h := sha256.New()
	for _, s := range specs {
		h.Write([]byte(s.Name + "." + Signature(s) + ";"))
	}
	return hex.EncodeToString(h.Sum(nil)[:4])
}

// start registers a call received with headers h and returns its context.
func (w *worker) start(h nats.Header) (string, context.Context, context.CancelFunc) {
	id := h.Get(hdrCallID)
	ctx, cancel := w.ctx, context.CancelFunc(func() {})
	if ms, err := strconv.ParseInt(h.Get(hdrTimeout), 10, 64); err == nil && ms > 0 {
		ctx, cancel = context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond)
	}
	ctx, cancel2 := context.WithCancel(ctx)
	stop := func() { cancel2(); cancel() }
	if id != "" {
		w.mu.Lock()
		w.live[id] = stop
		_, cancelled := w.gone[id]
		delete(w.gone, id)
		w.mu.Unlock()
		if cancelled { // its cancel overtook it
			stop()
		}
	}
	return id, ctx, stop
}

// keepGone is how long a cancel of a call not received is remembered:
// the call and its cancel travel on different subscriptions, so the cancel
// may come first.
const keepGone = time.Minute

func (w *worker) end(id string) {
	w.mu.Lock()
	delete(w.live, id)
	w.mu.Unlock()
}

// onCancel cancels the call whose id a caller published, or remembers
// the id for a while in case the call arrives here after its cancel.
func (w *worker) onCancel(m *nats.Msg) {
	id := string(m.Data)
	w.mu.Lock()
	cancel := w.live[id]
	if cancel == nil && len(id) <= 64 {
		now := time.Now()
		if len(w.gone) >= 4096 { // bound it: drop what is old
			for k, at := range w.gone {
				if now.Sub(at) > keepGone {
					delete(w.gone, k)
				}
			}
		}
		if len(w.gone) < 4096 {
			w.gone[id] = now
		}
	}
	w.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// onDirect is the endpoint handler of target s. It runs on the
// endpoint's subscription, so it hands the call to a goroutine at once:
// every call received is known (to cancel it, to heartbeat it) even while
// it waits for a slot.
func (w *worker) onDirect(s *mpimpl.Spec) micro.HandlerFunc {
	return func(req micro.Request) {
		h := nats.Header(req.Headers())
		reply := req.Reply()
		w.mu.Lock()
		if w.stopping {
			w.mu.Unlock()
			w.respond(reply, nil, errStopped)
			return
		}
		w.calls.Add(1)
		w.mu.Unlock()
		id, ctx, cancel := w.start(h)
		var every time.Duration
		if ms, err := strconv.ParseInt(h.Get(hdrHeartbeat), 10, 64); err == nil && ms > 0 {
			every = time.Duration(ms) * time.Millisecond
		}
		stopBeats := w.heartbeat(reply, every)
		data := req.Data()
		go func() {
			defer w.calls.Done()
			defer w.end(id)
			defer cancel()
			var out []byte
			var err error
			select {
			case w.direct <- struct{}{}:
				out, err = w.run(ctx, data, h.Get(hdrBodyRef))
				<-w.direct
			case <-ctx.Done(): // cancelled or past its deadline while it waited for a slot
				err = errCancelled
			}
			if w.stopped(ctx) {
				out, err = nil, errStopped
			}
			w.respond(reply, out, err) // beating still: storing a large outcome takes time
			stopBeats()
		}()
	}
}

var (
	errStopped   = errors.New(failStopped)
	errCancelled = errors.New(failCancelled)
)

// heartbeat tells reply that the call is alive every period, from one
// period after it arrived until stop is called, so that a short call costs
// no extra message.
func (w *worker) heartbeat(reply string, every time.Duration) (stop func()) {
	if every <= 0 || reply == "" {
		return func() {}
	}
	var mu sync.Mutex
	stopped := false
	var t *time.Timer
	mu.Lock()
	t = time.AfterFunc(every, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		m := nats.NewMsg(reply)
		m.Header.Set(hdrHeartbeat, "1")
		_ = w.nc.PublishMsg(m)
		t.Reset(every)
	})
	mu.Unlock()
	return func() {
		mu.Lock()
		stopped = true
		t.Stop()
		mu.Unlock()
	}
}

// run runs one call message (or the body stored under ref) and returns
// its outcome message.
func (w *worker) run(ctx context.Context, data []byte, ref string) ([]byte, error) {
	if ref != "" {
		var err error
		if data, err = w.objects.fetch(ctx, ref); err != nil {
			return nil, err
		}
	}
	kind, body, err := decode(data)
	if err != nil {
		return nil, err
	}
	if kind != mpimpl.KindCall && kind != mpimpl.KindBatch {
		return nil, fmt.Errorf("a message of kind %d is not a call", kind)
	}
	k, out := mpimpl.HandleCall(ctx, kind, body, nil)
	return encode(k, out), nil
}

// respond sends a call's outcome message to reply, through the object
// store when it is over the message limit, or says why there is none.
func (w *worker) respond(reply string, out []byte, err error) {
	if reply == "" {
		return
	}
	m := nats.NewMsg(reply)
	if err == nil && len(out) > payloadLimit(w.nc) {
		var ref string
		if ref, err = w.objects.save(w.ctx, out); err == nil {
			m.Header.Set(hdrBodyRef, ref)
			out = nil
		}
	}
	if err != nil {
		m.Header.Set(hdrFail, err.Error())
		out = nil
	}
	m.Data = out
	_ = w.nc.PublishMsg(m)
}

// workQueue makes (or joins) the app's work queue and its consumer.
func (w *worker) workQueue(ctx context.Context) (jetstream.Consumer, error) {
	js, err := jetstream.New(w.nc)
	if err != nil {
		return nil, fmt.Errorf("mpnats: Serve: %w", err)
	}
	stream, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        w.n.stream,
		Description: "mpgen: the durable calls of app " + w.n.app,
		Subjects:    []string{w.n.queue + ".>"},
		Retention:   jetstream.WorkQueuePolicy,
		Duplicates:  2 * time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("mpnats: Serve: the work queue %s (Durable needs a server with JetStream, and a user allowed its JetStream API: see the package documentation): %w", w.n.stream, err)
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       consumerName,
		Description:   "mpgen workers of app " + w.n.app,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       w.cfg.ackWait,
		MaxDeliver:    w.cfg.maxDeliver,
		MaxAckPending: -1,
	})
	if err != nil {
		return nil, fmt.Errorf("mpnats: Serve: the work queue's consumer: %w", err)
	}
	// The consumer is shared: the last worker to start set its limits.
	cfg := cons.CachedInfo().Config
	w.ackWait, w.maxDeliver = cfg.AckWait, cfg.MaxDeliver
	return cons, nil
}

// pull is one work-queue slot: it asks for a call only when it is free,
// so the queue's calls go to whichever slot is free first.
func (w *worker) pull(ctx context.Context, cons jetstream.Consumer) {
	for ctx.Err() == nil {
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		msg, err := cons.Next(jetstream.FetchContext(fctx))
		cancel()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, nats.ErrTimeout) {
				time.Sleep(100 * time.Millisecond) // the server is away: do not spin
			}
			continue
		}
		w.durable(msg)
	}
}

// durable runs one work-queue call: it keeps the call's delivery alive
// while it runs, sends the outcome to the caller, then acknowledges it. A
// crash between the two runs the call again elsewhere. A call of a target
// this worker does not serve (another build's, or one Targets left out)
// goes back to the queue for a worker that does; on its last delivery its
// caller hears that none does.
func (w *worker) durable(msg jetstream.Msg) {
	h := msg.Headers()
	reply := h.Get(hdrReply)
	last := true
	if meta, err := msg.Metadata(); err == nil {
		last = meta.NumDelivered >= uint64(w.maxDeliver)
	}
	if w.specs[msg.Subject()] == nil {
		if !last {
			_ = msg.NakWithDelay(notServedDelay)
			return
		}
		_ = msg.Term()
		w.respond(reply, nil, errors.New(failNoWorker))
		return
	}
	id, ctx, cancel := w.start(h)
	defer w.end(id)
	defer cancel()
	stopBeats := make(chan struct{})
	go func() {
		t := time.NewTicker(w.ackWait / 3)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = msg.InProgress()
			case <-stopBeats:
				return
			}
		}
	}()
	out, err := w.run(ctx, msg.Data(), h.Get(hdrBodyRef))
	close(stopBeats)
	if w.stopped(ctx) {
		if !last {
			_ = msg.Nak() // another worker runs it
			return
		}
		_ = msg.Term() // no delivery is left: its caller must not wait for ever
		out, err = nil, errStopped
	}
	w.respond(reply, out, err)
	_ = msg.Ack()
}

// consumerName is the work queue's one durable consumer, shared by the
// app's workers.
const consumerName = "workers"

// notServedDelay is how long a call of a target this worker does not
// serve waits before it is delivered again.
const notServedDelay = 20 * time.Millisecond
