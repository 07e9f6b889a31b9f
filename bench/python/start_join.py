"""Peer of BenchmarkStartJoin/noop: start and join one child running a
trivial target, one child at a time, with each start method.

Usage: python3 start_join.py [N] [METHOD ...]
N samples (default 50) per method after 3 warm-ups (the forkserver's
server starts during them); METHODs default to spawn fork forkserver.
Each sample runs from Process() to the return of join().
"""
import multiprocessing
import sys
import time

from peerstats import report


def noop():
    pass


def measure(method, n, warmups=3):
    ctx = multiprocessing.get_context(method)
    samples = []
    for i in range(warmups + n):
        t0 = time.perf_counter()
        p = ctx.Process(target=noop)
        p.start()
        p.join()
        elapsed = time.perf_counter() - t0
        if p.exitcode != 0:
            raise SystemExit(f"{method}: child exit code {p.exitcode}")
        if i >= warmups:
            samples.append(elapsed)
    return samples


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    methods = sys.argv[2:] or ["spawn", "fork", "forkserver"]
    for method in methods:
        report("start_join", method, measure(method, n))


if __name__ == "__main__":
    main()
