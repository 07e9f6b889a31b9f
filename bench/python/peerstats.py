"""Quantiles and the one-line output format shared by the peer scripts.

Every figure is printed as one line that bench/run parses:

    PEER <bench> method=<start method> n=<samples> p10_ms=.. p50_ms=.. p90_ms=.. min_ms=.. max_ms=..

The quantiles interpolate linearly between the two nearest ranks, as the Go
benchmarks' p10-ms/p50-ms/p90-ms metrics do.
"""


def quantile(sorted_xs, q):
    """Return the q-quantile of an already sorted, non-empty list."""
    k = q * (len(sorted_xs) - 1)
    lo = int(k)
    if lo + 1 >= len(sorted_xs):
        return sorted_xs[-1]
    return sorted_xs[lo] + (sorted_xs[lo + 1] - sorted_xs[lo]) * (k - lo)


def report(bench, method, seconds, **extra):
    """Print one PEER line for a list of durations in seconds."""
    xs = sorted(seconds)
    fields = [
        f"n={len(xs)}",
        f"p10_ms={quantile(xs, 0.10) * 1e3:.3f}",
        f"p50_ms={quantile(xs, 0.50) * 1e3:.3f}",
        f"p90_ms={quantile(xs, 0.90) * 1e3:.3f}",
        f"min_ms={xs[0] * 1e3:.3f}",
        f"max_ms={xs[-1] * 1e3:.3f}",
    ]
    fields += [f"{k}={v}" for k, v in extra.items()]
    print(f"PEER {bench} method={method} " + " ".join(fields), flush=True)
