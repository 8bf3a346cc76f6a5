"""The adjoint recursion δv_t = a_t δv_{t+1} + b_t, evaluated three ways, timed in one run.

Given a stored trajectory, the reverse loop of a feed-forward LIF layer is a linear
time-varying recursion (the hardening issue's observation). This script times, on
(T, B, N) = (100, 64, 256) arrays of coefficients, the two NumPy routes the issue names
against the loop refsnn uses:

* ``loop``  one step at a time, newest first: two NumPy calls a step on (B, N) slices
            that stay in cache (what refsnn.neurons.lif_fused does, with its other terms);
* ``scan``  a time-parallel (Hillis–Steele) associative scan: log₂T rounds, each three
            NumPy calls over the whole (T, B, N) arrays;
* ``lfilter``  scipy.signal.lfilter along time, which needs a constant coefficient (a
            detached reset with no σ' in a_t: a = α), so it times the special case only.

It checks that the three agree, and prints the best of ``--repeats`` interleaved rounds
and each route's ratio to the loop. A script, not a test: it asserts nothing about time.

    python benchmarks/bench_scan.py [--repeats 9]
"""

from __future__ import annotations

import argparse
import os
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
from scipy.signal import lfilter  # noqa: E402

T, B, N = 100, 64, 256


def loop(a, b):
    x = np.empty_like(b)
    nxt = np.zeros(b.shape[1:], b.dtype)
    for t in range(len(b) - 1, -1, -1):
        np.multiply(a[t], nxt, out=x[t])
        x[t] += b[t]
        nxt = x[t]
    return x


def scan(a, b):
    """x_t = a_t x_{t+1} + b_t by doubling: after the round with offset k, (a_t, b_t)
    composes steps t .. t+2k−1, so b_t is x_t once 2k ≥ T."""
    a, b = a.copy(), b.copy()
    tmp = np.empty_like(b)
    k = 1
    while k < len(b):
        np.multiply(a[:-k], b[k:], out=tmp[:-k])
        b[:-k] += tmp[:-k]
        a[:-k] *= a[k:]                  # reads a[t + k] before the rounds below t + k write it
        k *= 2
    return b


def constant(alpha, b):
    """x_t = α x_{t+1} + b_t with scipy.signal.lfilter, time reversed."""
    return lfilter([1.0], [1.0, -alpha], b[::-1], axis=0)[::-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9)
    args = ap.parse_args()
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")
    rng = np.random.default_rng(0)
    print(f"(T, B, N) = ({T}, {B}, {N}); best of {args.repeats} interleaved rounds, ms")
    for dtype in (np.float32, np.float64):
        a = rng.uniform(0.5, 0.95, (T, B, N)).astype(dtype)
        b = rng.standard_normal((T, B, N)).astype(dtype)
        alpha = 0.9
        ac = np.full_like(a, alpha)
        ref, ref_c = loop(a, b), loop(ac, b)
        err = float(np.abs(scan(a, b) - ref).max() / np.abs(ref).max())
        err_c = float(np.abs(constant(alpha, b) - ref_c).max() / np.abs(ref_c).max())
        fns = {"loop": lambda: loop(a, b), "scan": lambda: scan(a, b),
               "loop, a = α": lambda: loop(ac, b), "lfilter, a = α": lambda: constant(alpha, b)}
        times = {k: [] for k in fns}
        for f in fns.values():
            f()
        for _ in range(args.repeats):
            for k, f in fns.items():
                t0 = time.perf_counter()
                f()
                times[k].append(time.perf_counter() - t0)
        best = {k: min(v) * 1e3 for k, v in times.items()}
        name = np.dtype(dtype).name
        print(f"{name}: loop {best['loop']:.2f}, scan {best['scan']:.2f} "
              f"({best['scan'] / best['loop']:.1f}x the loop; agrees to {err:.1e}); constant a: "
              f"loop {best['loop, a = α']:.2f}, lfilter {best['lfilter, a = α']:.2f} "
              f"({best['lfilter, a = α'] / best['loop, a = α']:.1f}x; agrees to {err_c:.1e})")


if __name__ == "__main__":
    main()
