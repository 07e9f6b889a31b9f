"""Peer of BenchmarkSleep5, the design's seed example: five children that
each sleep one second, all started and then all joined.

Usage: python3 sleep5.py [REPS] [METHOD ...]
REPS samples (default 3) per method after one warm-up; METHODs default to
spawn fork. overhead_ms is the median wall time beyond the one second.
"""
import multiprocessing
import sys
import time

from peerstats import quantile, report

NPROC = 5
SLEEP = 1.0


def sleeper(seconds):
    time.sleep(seconds)


def once(ctx):
    t0 = time.perf_counter()
    procs = [ctx.Process(target=sleeper, args=(SLEEP,)) for _ in range(NPROC)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - t0
    if any(p.exitcode != 0 for p in procs):
        raise SystemExit("a sleeper failed")
    return elapsed


def main():
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    methods = sys.argv[2:] or ["spawn", "fork"]
    for method in methods:
        ctx = multiprocessing.get_context(method)
        once(ctx)  # warm-up
        walls = sorted(once(ctx) for _ in range(reps))
        overhead = (quantile(walls, 0.5) - SLEEP) * 1e3
        report("sleep5", method, walls, overhead_ms=f"{overhead:.3f}")


if __name__ == "__main__":
    main()
