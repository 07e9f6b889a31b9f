// Package mpnats runs a program's mpgen targets on worker processes on
// other hosts, through NATS: the same //mp:target functions and the same
// calls (mp.Map, mp.Submit, Apply, ...) on a *mp.Pool whose workers are
// remote.
//
// A worker is the same program (or a build of the same source) that calls
// Serve; a caller gets its pool from Dial:
//
//	nc, _ := mpnats.ConnectFromEnv("myapp")
//	err := mpnats.Serve(ctx, nc, mpnats.App("myapp"))               // on each worker host
//
//	pool, _ := mpnats.Dial(ctx, nc, mpnats.App("myapp"))      // on the caller
//	steps, err := mp.Map[int, int](ctx, pool, collatz, inputs)
//
// # Delivery
//
// Direct calls (the default) are NATS requests to a queue group of the
// app's workers: at most once, about 110 µs a call across processes (BENCHMARKS.md). A worker
// running a call for longer than the Heartbeat says so to its caller; a
// worker that goes silent fails the call with *WorkerLostError.
//
// Durable calls (Durable(true) on both sides) go through a JetStream work
// queue: each worker slot asks for a call only when it is free, so long
// or uneven calls balance exactly; a call whose worker dies is delivered
// again to another one, so a target may run twice (at least once).
//
// # Subjects
//
//	mp.v1.<app>.<target>.<sig>    direct calls, queue group mp.<app>
//	mpq.v1.<app>.<target>.<sig>   durable calls, in stream MP_<APP> (consumer "workers")
//	mp.v1.<app>._cancel           cancels (the call's id)
//	$SRV.*.mp-<app>               discovery: the workers' slots, hosts and pids
//	_INBOX_mp_<app>.>             replies (with ConnectFromEnv)
//	mp_<app>_objs                 object store: bodies over the server's max_payload
//
// <target> is the target's registered name with every character outside
// [A-Za-z0-9_-] made '_', and <sig> its Signature, so a worker built from
// code whose target no longer decodes the same is never reached: the
// caller gets ErrNoWorkers instead.
//
// # Security
//
// Anyone allowed to publish on an app's subjects can run its targets with
// arguments of their choosing: there is no handshake as between a local
// pool and its children. Give each app its own NATS user or account, with
// TLS; ConnectFromEnv takes both from the environment. A worker and a
// caller of an app connected with ConnectFromEnv need these permissions,
// and no more (<objs> is the object store's stream, OBJ_mp_<app>_objs):
//
//	worker  subscribe  mp.v1.<app>.>  _INBOX_mp_<app>.>
//	                   $SRV.*  $SRV.*.mp-<app>  $SRV.*.mp-<app>.*
//	        publish    _INBOX_mp_<app>.>
//	        Durable    $JS.API.STREAM.CREATE.MP_<APP>  $JS.API.STREAM.UPDATE.MP_<APP>
//	                   $JS.API.CONSUMER.CREATE.MP_<APP>.workers
//	                   $JS.API.CONSUMER.MSG.NEXT.MP_<APP>.workers  $JS.ACK.MP_<APP>.workers.>
//	caller  subscribe  _INBOX_mp_<app>.>
//	        publish    mp.v1.<app>.>  $SRV.INFO.mp-<app>
//	        Durable    publish mpq.v1.<app>.>  $JS.API.STREAM.INFO.MP_<APP>  $JS.API.STREAM.MSG.DELETE.MP_<APP>
//	                   subscribe $JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.MP_<APP>.workers
//	both, for bodies over max_payload, publish
//	                   $O.mp_<app>_objs.>  $JS.FC.<objs>.>  $JS.API.DIRECT.GET.<objs>.>
//	                   $JS.API.STREAM.CREATE.<objs>  $JS.API.STREAM.UPDATE.<objs>  $JS.API.STREAM.PURGE.<objs>
//	                   $JS.API.CONSUMER.CREATE.<objs>.>  $JS.API.CONSUMER.DELETE.<objs>.>
//
// The worker's inbox receives JetStream's answers and the work queue's
// calls; $SRV is how callers count its slots (and nats micro ls finds
// it). A caller cancels a durable call by deleting it from the stream,
// and hears from the advisory when the queue gave up on one. A call its caller may not publish fails at once with a
// *TransportError that matches nats.ErrPermissionViolation.
package mpnats
