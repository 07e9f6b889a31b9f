package mpnats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mp "github.com/mpgen/mpgen/runtime"
	"github.com/mpgen/mpgen/runtime/mpimpl"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// Dial returns a pool whose workers are the app's workers (see Serve),
// reached through nc: mp.Map, mp.Submit, Apply and the rest run on it
// unchanged, and its calls run on whichever worker is free. Its Size is
// the slots of the workers running now (Durable: of those serving the
// work queue), refreshed every few seconds; it starts no process and needs
// no main guard. ctx bounds Dial only. Close the pool when done with it,
// as any pool (Close and Join, or Terminate); nc stays the caller's.
//
// A call's context reaches its worker: cancelling it cancels the call's
// context there, and its deadline is the call's deadline there too, so
// the call ends with a *mp.TimeoutError as a local one does (the worker is
// not killed: a target that ignores its context runs on, holding its
// slot). Errors keep their errors.Is and errors.As chains, and panics
// arrive as *mp.PanicError, as locally. Handles (Conn, Queue, Lock, ...)
// cannot travel to another host: a call with one fails with *mp.ArgError.
func Dial(ctx context.Context, nc *nats.Conn, opts ...Option) (*mp.Pool, error) {
	cfg, n, err := newConfig(opts)
	if err == nil {
		err = cfg.refuse("Dial", workerOnly)
	}
	if err != nil {
		return nil, err
	}
	b := &backend{
		nc:      nc,
		cfg:     cfg,
		n:       n,
		objects: newObjects(nc, n.objects),
		calls:   map[string]*call{},
	}
	if cfg.durable {
		if b.js, err = jetstream.New(nc); err != nil {
			return nil, fmt.Errorf("mpnats: Dial: %w", err)
		}
	}
	if err := b.refresh(ctx); err != nil {
		return nil, fmt.Errorf("mpnats: Dial: %w", err)
	}
	t := mpimpl.Transport{Name: "mpnats", Start: b.start, Slots: b.slots}
	poolOpts := []mp.PoolOption{mpimpl.RemotePool(t)}
	if cfg.codec != nil {
		poolOpts = append(poolOpts, mp.PoolCodec(cfg.codec))
	}
	return mp.NewPool(ctx, poolOpts...)
}

// backend is the caller's side of one Dial: one reply subscription for all
// its calls, and the workers' slots as last counted.
type backend struct {
	nc      *nats.Conn
	cfg     config
	n       names
	js      jetstream.JetStream // Durable only
	objects *objects

	free       atomic.Int64 // the workers' slots, last counted
	counted    atomic.Int64 // when, in UnixNano
	refreshing atomic.Bool

	mu     sync.Mutex
	sub    *nats.Subscription // prefix.*: every call's replies
	adv    *nats.Subscription // Durable: the work queue's max-deliveries advisories
	prefix string
	conns  int              // live Conns: the subscription lives while there are any
	calls  map[string]*call // sent and not settled, by call id
}

// call is one call or Map chunk on its way.
type call struct {
	c         *conn
	id        uint64 // the pool's
	cid       string // ours, the worker's and the reply subject's
	target    string
	subject   string
	seq       uint64             // a durable call's place in the work queue
	cancelled bool               // the pool cancelled it: its outcome is awaited only to free the slot
	lost      *time.Timer        // a direct call's silence alarm
	publish   context.CancelFunc // ends a durable call's publish, which waits for its ack
}

// deadlineMargin is how many milliseconds a call's deadline on its worker
// falls after the caller's.
const deadlineMargin = 2

// refreshEvery is how often Slots counts the workers' slots again.
const refreshEvery = 5 * time.Second

// slots is the Transport's Slots: the last count, counted again in the
// background once it is older than refreshEvery.
func (b *backend) slots() int {
	if time.Since(time.Unix(0, b.counted.Load())) > refreshEvery && b.refreshing.CompareAndSwap(false, true) {
		go func() {
			defer b.refreshing.Store(false)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = b.refresh(ctx)
		}()
	}
	return max(1, int(b.free.Load()))
}

// refresh counts the workers' slots.
func (b *backend) refresh(ctx context.Context) error {
	ws, err := listWorkers(ctx, b.nc, b.n)
	if err != nil {
		return err
	}
	total := 0
	for _, w := range ws {
		if !b.cfg.durable || w.Durable {
			total += w.Slots
		}
	}
	b.free.Store(int64(total))
	b.counted.Store(time.Now().UnixNano())
	return nil
}

// WorkerInfo describes one running worker of an app.
type WorkerInfo struct {
	ID      string // its micro service instance id
	Host    string
	Pid     int
	Slots   int  // the calls it runs at once (each of direct and durable)
	Durable bool // whether it serves the work queue
	Table   string
}

// Workers lists the workers of the app (App in opts) that answer within
// a quarter of a second, as the callers' pools count them.
func Workers(ctx context.Context, nc *nats.Conn, opts ...Option) ([]WorkerInfo, error) {
	_, n, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return listWorkers(ctx, nc, n)
}

// listWorkers asks the app's micro service for its instances' info and
// gathers the answers until none has come for a moment.
func listWorkers(ctx context.Context, nc *nats.Conn, n names) ([]WorkerInfo, error) {
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest("$SRV.INFO."+n.service, inbox, nil); err != nil {
		return nil, err
	}
	end := time.Now().Add(250 * time.Millisecond)
	if d, ok := ctx.Deadline(); ok && d.Before(end) {
		end = d
	}
	var ws []WorkerInfo
	wait := time.Until(end)
	for wait > 0 {
		m, err := sub.NextMsg(wait)
		if err != nil {
			break // the time is up
		}
		if m.Header.Get("Status") == "503" {
			break // no responders: no worker
		}
		var info struct {
			ID       string            `json:"id"`
			Metadata map[string]string `json:"metadata"`
		}
		if json.Unmarshal(m.Data, &info) == nil {
			w := WorkerInfo{ID: info.ID, Host: info.Metadata["mp.host"], Table: info.Metadata["mp.table"]}
			w.Pid, _ = strconv.Atoi(info.Metadata["mp.pid"])
			w.Slots, _ = strconv.Atoi(info.Metadata["mp.slots"])
			w.Durable = info.Metadata["mp.durable"] == "true"
			ws = append(ws, w)
		}
		// After the first answers, a short silence means all have come.
		wait = min(time.Until(end), 30*time.Millisecond)
	}
	return ws, nil
}

// start is the Transport's Start: a Conn, on the backend's one reply
// subscription.
func (b *backend) start(ctx context.Context) (mpimpl.Conn, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sub == nil {
		b.prefix = b.nc.NewInbox()
		sub, err := b.nc.Subscribe(b.prefix+".*", b.onReply)
		if err != nil {
			return nil, &TransportError{Op: "subscribe to replies", Err: err}
		}
		b.sub = sub
		if b.cfg.durable {
			// A call whose deliveries ran out (its workers died) gets no
			// outcome: the server says so in an advisory.
			adv, err := b.nc.Subscribe("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES."+b.n.stream+"."+consumerName, b.onMaxDeliveries)
			if err != nil {
				_ = sub.Unsubscribe()
				b.sub = nil
				return nil, &TransportError{Op: "subscribe to the work queue's advisories", Err: err}
			}
			b.adv = adv
		}
		watchDenials(b)
	}
	b.conns++
	return &conn{b: b, outs: make(chan result, 4), cur: map[uint64]*call{}, done: make(chan struct{})}, nil
}

// release forgets an ended Conn; the last one takes the subscription
// with it.
func (b *backend) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.conns--
	if b.conns == 0 && b.sub != nil {
		_ = b.sub.Unsubscribe()
		b.sub = nil
		if b.adv != nil {
			_ = b.adv.Unsubscribe()
			b.adv = nil
		}
		unwatchDenials(b)
	}
}

// onReply receives every reply of the backend's calls.
func (b *backend) onReply(m *nats.Msg) {
	cid := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	b.mu.Lock()
	k := b.calls[cid]
	b.mu.Unlock()
	if k == nil {
		return // settled already (lost, cancelled), or a second run's
	}
	switch {
	case m.Header.Get("Status") == "503": // the server: nobody subscribes to the subject
		b.settle(k, result{err: noWorkers(k.target, k.subject, hintDirect)})
	case m.Header.Get(hdrHeartbeat) != "":
		b.mu.Lock()
		if k.lost != nil {
			k.lost.Reset(3 * b.cfg.heartbeat)
		}
		cancelled := k.cancelled
		b.mu.Unlock()
		if cancelled { // alive after its cancel: say it again
			_ = b.nc.Publish(b.n.cancel, []byte(k.cid))
		}
	case m.Header.Get(hdrFail) != "":
		b.settle(k, result{err: b.failure(k, m.Header.Get(hdrFail))})
	case m.Header.Get(hdrBodyRef) != "":
		b.mu.Lock()
		if k.lost != nil { // the worker has answered: fetching is not its silence
			k.lost.Stop()
		}
		b.mu.Unlock()
		go func() {
			data, err := b.objects.fetch(context.Background(), m.Header.Get(hdrBodyRef))
			if err != nil {
				b.settle(k, result{err: &TransportError{Op: "outcome of " + k.target, Err: err}})
				return
			}
			b.settle(k, b.outcome(k, data))
		}()
	default:
		b.settle(k, b.outcome(k, m.Data))
	}
}

// onMaxDeliveries fails the call whose deliveries ran out.
func (b *backend) onMaxDeliveries(m *nats.Msg) {
	var adv struct {
		Seq        uint64 `json:"stream_seq"`
		Deliveries uint64 `json:"deliveries"`
	}
	if json.Unmarshal(m.Data, &adv) != nil || adv.Seq == 0 {
		return
	}
	b.mu.Lock()
	var k *call
	for _, c := range b.calls {
		if c.seq == adv.Seq {
			k = c
			break
		}
	}
	b.mu.Unlock()
	if k != nil {
		b.settle(k, result{err: fmt.Errorf("%w: %s: delivered %d times, and no worker finished it (they died or stopped); it may have run, in part, that many times", ErrMaxDeliver, k.target, adv.Deliveries)})
	}
}

// failure is the error of a reply that says why it has no outcome.
func (b *backend) failure(k *call, why string) error {
	switch why {
	case failNoWorker:
		return noWorkers(k.target, k.subject, hintDurable)
	case failStopped:
		if b.cfg.durable {
			return fmt.Errorf("%w: %s: its last delivery's worker stopped", ErrMaxDeliver, k.target)
		}
		return &WorkerLostError{Target: k.target}
	case failCancelled:
		return context.Canceled
	}
	return &TransportError{Op: "call of " + k.target + " on its worker", Err: errors.New(why)}
}

// outcome decodes an outcome message.
func (b *backend) outcome(k *call, data []byte) result {
	kind, body, err := decode(data)
	if err != nil {
		return result{err: &TransportError{Op: "outcome of " + k.target, Err: err}}
	}
	return result{f: mpimpl.Outcome{Kind: kind, ID: k.id, Body: body}}
}

// settle ends call k with r, once: the first of its outcome, its loss and
// its cancel wins.
func (b *backend) settle(k *call, r result) {
	b.mu.Lock()
	if b.calls[k.cid] != k {
		b.mu.Unlock()
		return
	}
	delete(b.calls, k.cid)
	if k.lost != nil {
		k.lost.Stop()
	}
	b.mu.Unlock()
	if r.err != nil {
		r.err = &mpimpl.CallError{ID: k.id, Err: r.err}
	}
	k.c.settled(k, r)
}

// result is what a Conn's Recv returns.
type result struct {
	f   mpimpl.Outcome
	err error
}

// conn is one slot of the app's workers, as the pool sees it.
type conn struct {
	b    *backend
	outs chan result

	mu       sync.Mutex
	cur      map[uint64]*call // sent, not settled, by the pool's id
	closed   bool             // CloseWrite: Recv ends once cur is empty
	killed   bool
	released bool          // Wait has released it from the backend
	done     chan struct{} // closed when Recv is to end
	ended    sync.Once
}

func (c *conn) end() { c.ended.Do(func() { close(c.done) }) }

func (c *conn) settled(k *call, r result) {
	c.mu.Lock()
	delete(c.cur, k.id)
	c.outs <- r // cannot block: the pool sends a Conn one call at a time
	if c.closed && len(c.cur) == 0 {
		c.end()
	}
	c.mu.Unlock()
}

// Send sends calls and cancels. A call it cannot send fails through Recv.
func (c *conn) Send(fs ...mpimpl.Call) error {
	for _, f := range fs {
		if f.Kind == mpimpl.KindCancel {
			c.cancel(f.ID)
			continue
		}
		c.send(f)
	}
	return nil
}

func (c *conn) send(f mpimpl.Call) {
	b := c.b
	k := &call{c: c, id: f.ID, cid: nuid.Next(), target: f.Spec.Name}
	if b.cfg.durable {
		k.subject = b.n.queueSubject(f.Spec)
	} else {
		k.subject = b.n.directSubject(f.Spec)
	}
	c.mu.Lock()
	c.cur[f.ID] = k
	c.mu.Unlock()
	b.mu.Lock()
	b.calls[k.cid] = k
	reply := b.prefix + "." + k.cid
	b.mu.Unlock()

	m := nats.NewMsg(k.subject)
	m.Header.Set(hdrCallID, k.cid)
	if !f.Deadline.IsZero() {
		// Rounded up, and a little later than ours: the caller's deadline
		// passes first, so the call ends as a local one does, with a
		// *mp.TimeoutError, not with the target's deadline error.
		ms := (time.Until(f.Deadline) + time.Millisecond - 1).Milliseconds() + deadlineMargin
		m.Header.Set(hdrTimeout, strconv.FormatInt(max(1, ms), 10))
	}
	m.Data = encode(f.Kind, f.Body)
	if len(m.Data) > payloadLimit(b.nc) {
		ref, err := b.objects.save(context.Background(), m.Data)
		if err != nil {
			b.settle(k, result{err: &TransportError{Op: "store the call of " + k.target, Err: err}})
			return
		}
		m.Header.Set(hdrBodyRef, ref)
		m.Data = nil
	}
	if !b.pending(k) { // cancelled while its body was stored
		return
	}
	if !b.cfg.durable {
		m.Reply = reply
		m.Header.Set(hdrHeartbeat, strconv.FormatInt(b.cfg.heartbeat.Milliseconds(), 10))
		if err := b.nc.PublishMsg(m); err != nil {
			b.settle(k, result{err: &TransportError{Op: "send a call of " + k.target, Err: err}})
			return
		}
		// The silence alarm starts once the call is sent: storing a large
		// body is not the worker's silence.
		b.mu.Lock()
		if b.calls[k.cid] == k {
			k.lost = time.AfterFunc(3*b.cfg.heartbeat, func() { b.lose(k) })
		}
		b.mu.Unlock()
		return
	}
	m.Header.Set(hdrReply, reply)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.mu.Lock()
	k.publish = cancel
	b.mu.Unlock()
	ack, err := b.js.PublishMsg(ctx, m, jetstream.WithMsgID(k.cid), jetstream.WithRetryAttempts(0))
	if errors.Is(err, nats.ErrNoResponders) && b.queueExists() {
		// The stream is there but did not answer (a leader election):
		// try again as JetStream's publish does by default.
		ack, err = b.js.PublishMsg(ctx, m, jetstream.WithMsgID(k.cid))
	}
	switch {
	case errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse):
		b.settle(k, result{err: noWorkers(k.target, k.subject, hintDurable)})
	case err != nil:
		b.settle(k, result{err: &TransportError{Op: "queue a call of " + k.target, Err: err}})
	default:
		b.mu.Lock()
		k.seq = ack.Sequence
		b.mu.Unlock()
	}
}

// queueExists reports whether the app's work queue exists, as far as the
// server can tell within a second.
func (b *backend) queueExists() bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := b.js.Stream(ctx, b.n.stream)
	return !errors.Is(err, jetstream.ErrStreamNotFound)
}

// denied fails the calls sent to subject, which the server refused to
// take from this connection (err says so).
func (b *backend) denied(subject string, err error) {
	var ks []*call
	b.mu.Lock()
	for _, k := range b.calls {
		if k.subject == subject {
			ks = append(ks, k)
			if k.publish != nil {
				k.publish() // its ack will not come
			}
		}
	}
	b.mu.Unlock()
	for _, k := range ks {
		b.settle(k, result{err: &TransportError{Op: "send a call of " + k.target, Err: err}})
	}
}

// The server drops a message that the connection's permissions do not
// let it publish, and says so only in an asynchronous error: without
// watching for it a refused direct call would wait for its heartbeat
// alarm and fail as if its worker had died, and a durable one would wait
// for its publish to time out. So each connection with a backend
// receiving replies has its error handler wrapped, as nats.go's micro
// package does, and the handler it had is restored when the last one
// ends.
var denials = struct {
	sync.Mutex
	conns map[*nats.Conn]*denialWatch
}{conns: map[*nats.Conn]*denialWatch{}}

// denialWatch is the error handler of one connection.
type denialWatch struct {
	prev     nats.ErrHandler
	backends []*backend
}

func watchDenials(b *backend) {
	denials.Lock()
	defer denials.Unlock()
	w := denials.conns[b.nc]
	if w == nil {
		w = &denialWatch{prev: b.nc.ErrorHandler()}
		denials.conns[b.nc] = w
		b.nc.SetErrorHandler(w.onError)
	}
	w.backends = append(w.backends, b)
}

func unwatchDenials(b *backend) {
	denials.Lock()
	defer denials.Unlock()
	w := denials.conns[b.nc]
	if w == nil {
		return
	}
	w.backends = slices.DeleteFunc(w.backends, func(o *backend) bool { return o == b })
	if len(w.backends) > 0 {
		return
	}
	delete(denials.conns, b.nc)
	// Restore the previous handler unless another has replaced ours since.
	if cur := b.nc.ErrorHandler(); cur != nil && reflect.ValueOf(cur).Pointer() == reflect.ValueOf(w.onError).Pointer() {
		b.nc.SetErrorHandler(w.prev)
	}
}

// onError passes err to the handler it replaced first, so that handler
// has heard of a denial by the time the calls it fails end.
func (w *denialWatch) onError(nc *nats.Conn, sub *nats.Subscription, err error) {
	if w.prev != nil {
		w.prev(nc, sub, err)
	}
	subject, ok := deniedPublish(err)
	if !ok {
		return
	}
	denials.Lock()
	bs := slices.Clone(w.backends)
	denials.Unlock()
	for _, b := range bs {
		b.denied(subject, err)
	}
}

// deniedPublish returns the subject of a publish that err, an
// asynchronous error of nats.go, says the server refused.
func deniedPublish(err error) (string, bool) {
	if !errors.Is(err, nats.ErrPermissionViolation) {
		return "", false
	}
	const intro = `Publish to "` // the server's "Permissions Violation for Publish to %q"
	msg := err.Error()
	i := strings.Index(msg, intro)
	if i < 0 {
		return "", false
	}
	subject, _, ok := strings.Cut(msg[i+len(intro):], `"`)
	return subject, ok
}

// pending reports whether call k is still waiting for its outcome.
func (b *backend) pending(k *call) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls[k.cid] == k
}

// lose fails a direct call whose worker went silent, and cancels it there
// in case it is only cut off.
func (b *backend) lose(k *call) {
	_ = b.nc.Publish(b.n.cancel, []byte(k.cid))
	b.settle(k, result{err: &WorkerLostError{Target: k.target, Silent: 3 * b.cfg.heartbeat}})
}

// cancel cancels call id where it runs; a durable call still in the
// queue is taken out of it, and settles as cancelled.
func (c *conn) cancel(id uint64) {
	b := c.b
	c.mu.Lock()
	k := c.cur[id]
	c.mu.Unlock()
	if k == nil {
		return
	}
	_ = b.nc.Publish(b.n.cancel, []byte(k.cid))
	b.mu.Lock()
	k.cancelled = true
	seq := k.seq
	b.mu.Unlock()
	if seq == 0 {
		return
	}
	go func() {
		// Out of the queue, taken or not, it is no longer awaited: a
		// worker running it has its cancel.
		if b.unqueue(seq) {
			b.settle(k, result{err: context.Canceled})
		}
	}()
}

// unqueue deletes the durable call at seq from the work queue and reports
// whether it did.
func (b *backend) unqueue(seq uint64) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := b.js.Stream(ctx, b.n.stream)
	return err == nil && s.DeleteMsg(ctx, seq) == nil
}

// Recv returns the next outcome, or a *mpimpl.CallError for a call the
// transport failed; io.EOF once the Conn has ended.
func (c *conn) Recv() (mpimpl.Outcome, error) {
	select {
	case r := <-c.outs:
		return r.f, r.err
	case <-c.done:
		select {
		case r := <-c.outs:
			return r.f, r.err
		default:
			return mpimpl.Outcome{}, io.EOF
		}
	}
}

func (c *conn) Buffered() bool { return len(c.outs) > 0 }

func (c *conn) TakeFiles(n int) ([]*os.File, error) {
	return nil, errors.New("mpnats: descriptors cannot travel to a remote worker")
}

func (c *conn) CloseWrite() {
	c.mu.Lock()
	c.closed = true
	if len(c.cur) == 0 {
		c.end()
	}
	c.mu.Unlock()
}

// Kill gives up on the Conn's calls, cancelling them where they run.
func (c *conn) Kill() {
	c.mu.Lock()
	c.killed = true
	ks := make([]*call, 0, len(c.cur))
	for _, k := range c.cur {
		ks = append(ks, k)
	}
	clear(c.cur)
	c.mu.Unlock()
	b := c.b
	for _, k := range ks {
		b.mu.Lock()
		if b.calls[k.cid] == k {
			delete(b.calls, k.cid)
			if k.lost != nil {
				k.lost.Stop()
			}
		}
		seq := k.seq
		b.mu.Unlock()
		_ = b.nc.Publish(b.n.cancel, []byte(k.cid))
		if seq != 0 {
			b.unqueue(seq) // a terminated pool's calls do not run later
		}
	}
	c.end()
}

func (c *conn) Wait() (int, string) {
	<-c.done
	c.mu.Lock()
	first := !c.released
	c.released = true
	killed := c.killed
	c.mu.Unlock()
	if first {
		c.b.release()
	}
	if killed {
		return -9, "SIGKILL"
	}
	return 0, ""
}

func (c *conn) Pid() int { return 0 }

func (c *conn) RSS() (int64, bool) { return 0, false }
