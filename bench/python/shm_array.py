"""Peer of BenchmarkShmArray64MiB and BenchmarkShmLock (see
bench/shm_test.go): a 64 MiB shared block of uint64 filled by a child with
v+i and summed by the parent, and multiprocessing.Lock acquire and release,
uncontended and contended by a child.

Usage: python3 shm_array.py [REPS] [METHOD ...]
REPS fill-and-sum rounds (default 5) per method after one warm-up; METHODs
default to spawn. Pure standard library (no numpy): the child fills with
memoryview.cast('Q') slice assignment from an array('Q'), the parent sums
with sum() over memoryview.cast('Q'). fill_gb_s and sum_gb_s are 64 MiB over
the p50 of each part, in GB/s (10^9 bytes) as the Go benchmark reports.
The lock lines time LOCK_BATCHES batches of LOCK_OPS // LOCK_BATCHES
acquire+release pairs; each sample is one batch's time per pair, and ns_op,
p10_ns and p90_ns give its quantiles in ns. Every figure is one PEER line
(see peerstats.py).
"""
import array
import multiprocessing
import sys
import time
from multiprocessing import shared_memory

from peerstats import quantile, report

SIZE = 64 << 20
N = SIZE // 8
LOCK_OPS = 200_000
LOCK_BATCHES = 20


def filler(name, conn):
    shm = shared_memory.SharedMemory(name=name)
    mv = shm.buf.cast("Q")
    while True:
        v = conn.recv()
        if v is None:
            break
        t0 = time.perf_counter()
        mv[:] = array.array("Q", range(v, v + N))
        conn.send(time.perf_counter() - t0)
    mv.release()
    shm.close()


def spinner(lock, stop, ready):
    ready.set()
    while not stop.is_set():
        for _ in range(1000):
            lock.acquire()
            lock.release()


def lock_samples(lock):
    """Seconds per acquire+release pair, one sample per batch."""
    per = LOCK_OPS // LOCK_BATCHES
    out = []
    for _ in range(LOCK_BATCHES):
        t0 = time.perf_counter()
        for _ in range(per):
            lock.acquire()
            lock.release()
        out.append((time.perf_counter() - t0) / per)
    return out


def report_lock(bench, method, xs):
    xs = sorted(xs)
    ns = {k: f"{quantile(xs, q) * 1e9:.1f}" for k, q in (("p10_ns", 0.1), ("ns_op", 0.5), ("p90_ns", 0.9))}
    report(bench, method, xs, **ns)


def main():
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    methods = sys.argv[2:] or ["spawn"]
    for method in methods:
        ctx = multiprocessing.get_context(method)
        shm = shared_memory.SharedMemory(create=True, size=SIZE)
        try:
            parent, child = ctx.Pipe()
            p = ctx.Process(target=filler, args=(shm.name, child))
            p.start()
            mv = shm.buf.cast("Q")
            fills, sums = [], []
            for v in range(1, reps + 2):
                parent.send(v)
                fill = parent.recv()
                t0 = time.perf_counter()
                got = sum(mv)
                s = time.perf_counter() - t0
                if got != v * N + N * (N - 1) // 2:
                    raise SystemExit(f"sum {got} is wrong")
                if v > 1:  # the first round is the warm-up
                    fills.append(fill)
                    sums.append(s)
            parent.send(None)
            p.join()
            mv.release()
            fills.sort()
            sums.sort()
            report("shm_array_fill", method, fills, fill_gb_s=f"{SIZE / quantile(fills, 0.5) / 1e9:.3f}")
            report("shm_array_sum", method, sums, sum_gb_s=f"{SIZE / quantile(sums, 0.5) / 1e9:.3f}")
        finally:
            shm.close()
            shm.unlink()

        lock = ctx.Lock()
        report_lock("lock_uncontended", method, lock_samples(lock))
        stop, ready = ctx.Event(), ctx.Event()
        p = ctx.Process(target=spinner, args=(lock, stop, ready))
        p.start()
        ready.wait()
        xs = lock_samples(lock)
        stop.set()
        p.join()
        report_lock("lock_contended_2_processes", method, xs)


if __name__ == "__main__":
    main()
