"""Peer of BenchmarkStartJoin/bytes-64MiB-arg: start a child with a 64 MiB
bytes argument; the child sends back its length and the parent joins.

Usage: python3 large_arg.py [REPS] [METHOD ...]
REPS samples (default 5) per method after one warm-up; METHODs default to
spawn fork. Under spawn the argument is pickled to the child; under fork
the child inherits it copy-on-write and nothing is copied. mb_s is
64 MiB / p50, in MB/s (10^6 bytes), as Go's MB/s.
"""
import multiprocessing
import sys
import time

from peerstats import quantile, report

SIZE = 64 << 20


def byte_len(data, conn):
    conn.send(len(data))
    conn.close()


def once(ctx, payload):
    t0 = time.perf_counter()
    parent, child = ctx.Pipe(duplex=False)
    p = ctx.Process(target=byte_len, args=(payload, child))
    p.start()
    child.close()
    n = parent.recv()
    p.join()
    elapsed = time.perf_counter() - t0
    parent.close()
    if n != SIZE or p.exitcode != 0:
        raise SystemExit(f"child answered {n}, exit code {p.exitcode}")
    return elapsed


def main():
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    methods = sys.argv[2:] or ["spawn", "fork"]
    payload = bytes(range(256)) * (SIZE // 256)
    for method in methods:
        ctx = multiprocessing.get_context(method)
        once(ctx, payload)  # warm-up
        xs = sorted(once(ctx, payload) for _ in range(reps))
        report("large_arg", method, xs, mb_s=f"{SIZE / quantile(xs, 0.5) / 1e6:.1f}")


if __name__ == "__main__":
    main()
