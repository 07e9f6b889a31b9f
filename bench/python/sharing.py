"""Peers of the Pipe and Queue benchmarks (bench/sharing_test.go): a
multiprocessing Pipe and Queue between the parent and one warm child.

Usage: python3 sharing.py [SCALE] [METHOD ...]
SCALE (default 1) multiplies the number of samples; METHODs default to
spawn.

    pipe_rtt_tuple   conn.send(("ping", i, 3.14)) and conn.recv() of the
                     child's echo, one round trip per sample (20000 * SCALE
                     samples after 1000 warm-ups): BenchmarkPipeRoundTrip/ping
    pipe_rtt_bytes16 conn.send_bytes(16 bytes) and conn.recv_bytes():
                     BenchmarkPipeRoundTrip/bytes-16B
    pipe_large_1MiB  conn.send_bytes(1 MiB); the child answers with the
    pipe_large_64MiB length: BenchmarkPipeLarge/bytes-1MiB, /bytes-64MiB
    queue_p2c        the parent puts 100000 ints and None on a Queue; the
                     child gets them and puts (count, sum) on a second Queue,
                     which the parent gets: one sample per batch
                     (BenchmarkQueueThroughput/parent-to-child-100k)
    queue_c2p        the parent asks the child for a batch on a Pipe; the
                     child puts 100000 ints and None, the parent gets them
                     all (BenchmarkQueueThroughput/child-to-parent-100k)

Every figure is one PEER line (see peerstats.py); p50_us, mb_s and items_s
are computed from the median sample.
"""
import multiprocessing
import sys
import time

from peerstats import quantile, report

SMALL = b"\x5a" * 16
ECHO_MAX = 4 << 10
QUEUE_ITEMS = 100_000


def echo_obj(conn):
    while True:
        try:
            m = conn.recv()
        except EOFError:
            return
        conn.send(m)


def echo_bytes(conn):
    """Answer each message with itself when small, else its length."""
    while True:
        try:
            m = conn.recv_bytes()
        except EOFError:
            return
        if len(m) > ECHO_MAX:
            m = len(m).to_bytes(8, "big")
        conn.send_bytes(m)


def sum_batches(qin, qout):
    n = s = 0
    while True:
        v = qin.get()
        if v is None:
            qout.put((n, s))
            n = s = 0
            continue
        if v == -2:  # the end
            return
        n += 1
        s += v


def produce_batches(req, q):
    while True:
        try:
            n = req.recv()
        except EOFError:
            return
        for i in range(n):
            q.put(i)
        q.put(None)


def start(ctx, target, *args):
    p = ctx.Process(target=target, args=args)
    p.start()
    return p


def timed_round_trips(send, recv, msg_of, want_of, warm, n, what):
    """Times n round trips after warm untimed ones; returns the sorted times.
    msg_of(i) is the i-th message, want_of(msg) the answer it must get."""
    pc = time.perf_counter
    xs = []
    for i in range(warm + n):
        msg = msg_of(i)
        t0 = pc()
        send(msg)
        r = recv()
        if i >= warm:
            xs.append(pc() - t0)
        if r != want_of(msg):
            raise SystemExit(what + " answered a wrong message")
    xs.sort()
    return xs


def pipe_rtt(ctx, method, scale):
    a, b = ctx.Pipe()
    p = start(ctx, echo_obj, b)
    b.close()
    xs = timed_round_trips(a.send, a.recv, lambda i: ("ping", i, 3.14), lambda m: m, 1000, 20000 * scale, "echo_obj")
    a.close()
    p.join()
    report("pipe_rtt_tuple", method, xs, p50_us=f"{quantile(xs, 0.5) * 1e6:.1f}")

    a, b = ctx.Pipe()
    p = start(ctx, echo_bytes, b)
    b.close()
    xs = timed_round_trips(a.send_bytes, a.recv_bytes, lambda i: SMALL, lambda m: m, 1000, 20000 * scale, "echo_bytes")
    report("pipe_rtt_bytes16", method, xs, p50_us=f"{quantile(xs, 0.5) * 1e6:.1f}")

    for name, size, reps in (("pipe_large_1MiB", 1 << 20, 200), ("pipe_large_64MiB", 64 << 20, 10)):
        payload = bytes(range(256)) * (size // 256)
        want = size.to_bytes(8, "big")
        xs = timed_round_trips(a.send_bytes, a.recv_bytes, lambda i: payload, lambda m: want, 2, reps * scale, "echo_bytes")
        report(name, method, xs, mb_s=f"{size / quantile(xs, 0.5) / 1e6:.1f}")
        del payload
    a.close()
    p.join()


def queue_throughput(ctx, method, scale):
    n = QUEUE_ITEMS
    want = (n, n * (n - 1) // 2)
    qin, qout = ctx.Queue(), ctx.Queue()
    p = start(ctx, sum_batches, qin, qout)
    xs = []
    pc = time.perf_counter
    for i in range(1 + 5 * scale):
        t0 = pc()
        for v in range(n):
            qin.put(v)
        qin.put(None)
        r = qout.get()
        if i >= 1:
            xs.append(pc() - t0)
        if r != want:
            raise SystemExit(f"sum_batches got {r}, want {want}")
    qin.put(-2)
    p.join()
    xs.sort()
    report("queue_p2c", method, xs, items=n, items_s=f"{n / quantile(xs, 0.5):.0f}")

    q = ctx.Queue()
    a, b = ctx.Pipe()
    p = start(ctx, produce_batches, b, q)
    b.close()
    xs = []
    for i in range(1 + 5 * scale):
        t0 = pc()
        a.send(n)
        count = s = 0
        while True:
            v = q.get()
            if v is None:
                break
            count += 1
            s += v
        if i >= 1:
            xs.append(pc() - t0)
        if (count, s) != want:
            raise SystemExit(f"got {(count, s)} from produce_batches, want {want}")
    a.close()
    p.join()
    xs.sort()
    report("queue_c2p", method, xs, items=n, items_s=f"{n / quantile(xs, 0.5):.0f}")


def main():
    scale = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    methods = sys.argv[2:] or ["spawn"]
    for method in methods:
        ctx = multiprocessing.get_context(method)
        pipe_rtt(ctx, method, scale)
        queue_throughput(ctx, method, scale)


if __name__ == "__main__":
    main()
