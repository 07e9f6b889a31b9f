"""Peers of the Pool benchmarks (bench/pool_test.go): multiprocessing.Pool
with the default number of workers (os.cpu_count(), as mpgen's default is
the CPUs the process may use), per start method.

Usage: python3 pool.py [SCALE] [METHOD ...]
SCALE (default 1) multiplies the number of samples; METHODs default to
spawn fork. For each method, one pool serves every workload after a
warm-up, then is closed; the pool start is measured with fresh pools.

    pool_map100k   pool.map(identity, range(100000)), default chunksize
    pool_map10k_c1 pool.map(identity, range(10000), chunksize=1)
    pool_apply     pool.apply(identity, (i,)), one call at a time
    pool_apply64   pool.apply(byte_len, (64 MiB of bytes,))
    pool_start     Pool(n, initializer=...) until every worker has run its
                   initializer (each puts a token on a queue the parent
                   reads): ready, as mpgen's NewPool with an Initializer
    pool_rss       VmRSS of the idle workers after the warm-up (fresh) and
                   after the 100k maps (after_map), as BenchmarkPoolIdleRSS

Every figure is one PEER line (see peerstats.py); tasks_s and mb_s are
computed from the median sample.
"""
import multiprocessing
import os
import sys
import time

from peerstats import quantile, report

MAP_ITEMS = 100_000
CHUNK1_ITEMS = 10_000
SIZE = 64 << 20


def identity(x):
    return x


def byte_len(data):
    return len(data)


def ready(q):
    q.put(os.getpid())


def timed(fn, reps):
    xs = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        xs.append(time.perf_counter() - t0)
    return sorted(xs)


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit(f"no VmRSS for {pid}")


def worker_rss(n):
    """Return the mean, smallest and largest VmRSS of the n pool workers."""
    pids = [p.pid for p in multiprocessing.active_children() if "PoolWorker" in p.name]
    if len(pids) != n:
        raise SystemExit(f"{len(pids)} pool workers alive, want {n}")
    rss = [vm_rss_kib(pid) for pid in pids]
    return f"rss_kib={sum(rss) / len(rss):.0f} min_kib={min(rss)} max_kib={max(rss)}"


def workloads(ctx, method, n, scale):
    with ctx.Pool(n) as pool:
        # The data is made after the pool, so that fork workers do not
        # inherit it (their RSS would count it).
        items = list(range(MAP_ITEMS))
        items10k = items[:CHUNK1_ITEMS]
        payload = bytes(range(256)) * (SIZE // 256)
        pool.map(identity, items[:1000])  # warm-up: every worker is up
        fresh = worker_rss(n)

        def map100k():
            if pool.map(identity, items) != items:
                raise SystemExit("pool.map returned wrong results")

        map100k()
        xs = timed(map100k, 10 * scale)
        report("pool_map100k", method, xs, workers=n, tasks_s=f"{MAP_ITEMS / quantile(xs, 0.5):.0f}")
        after_map = worker_rss(n)

        def map10k():
            if pool.map(identity, items10k, chunksize=1) != items10k:
                raise SystemExit("pool.map returned wrong results")

        map10k()
        xs = timed(map10k, 5 * scale)
        report("pool_map10k_c1", method, xs, workers=n, tasks_s=f"{CHUNK1_ITEMS / quantile(xs, 0.5):.0f}")

        xs = []
        for i in range(100 + 2000 * scale):
            t0 = time.perf_counter()
            r = pool.apply(identity, (i,))
            if i >= 100:  # the first 100 are the warm-up
                xs.append(time.perf_counter() - t0)
            if r != i:
                raise SystemExit("pool.apply returned a wrong result")
        xs.sort()
        report("pool_apply", method, xs, workers=n, p50_us=f"{quantile(xs, 0.5) * 1e6:.1f}")

        def apply64():
            if pool.apply(byte_len, (payload,)) != SIZE:
                raise SystemExit("pool.apply(byte_len) returned a wrong result")

        apply64()
        xs = timed(apply64, 5 * scale)
        report("pool_apply64", method, xs, workers=n, mb_s=f"{SIZE / quantile(xs, 0.5) / 1e6:.1f}")
        print(f"PEER pool_rss method={method} n={n} workers={n} {fresh}", flush=True)
        print(f"PEER pool_rss_after_map method={method} n={n} workers={n} {after_map}", flush=True)


def start_once(ctx, n):
    q = ctx.SimpleQueue()
    t0 = time.perf_counter()
    pool = ctx.Pool(n, initializer=ready, initargs=(q,))
    pids = {q.get() for _ in range(n)}
    elapsed = time.perf_counter() - t0
    pool.terminate()
    pool.join()
    q.close()
    if len(pids) != n:
        raise SystemExit(f"{len(pids)} workers ready, want {n}")
    return elapsed


def main():
    scale = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    methods = sys.argv[2:] or ["spawn", "fork"]
    n = os.cpu_count()
    for method in methods:
        ctx = multiprocessing.get_context(method)
        workloads(ctx, method, n, scale)
        start_once(ctx, n)  # warm-up
        xs = sorted(start_once(ctx, n) for _ in range(10 * scale))
        report("pool_start", method, xs, workers=n)


if __name__ == "__main__":
    main()
