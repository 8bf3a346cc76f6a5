"""Time and memory of one gradient against T: is refsnn linear in T?

The 100-256-10 network of ``bench_fwd_bwd.py`` (batch 64, low activity), one gradient
(``network_forward``, the spike-count cross-entropy, ``network_backward``) at T = 100, 400,
1600 (``--steps``). For each T: the best time over ``--repeats`` calls after a warm-up
(interleaved round-robin over the T values, so a drift of a shared machine hits them
alike), the time per step and its ratio to T = 100's (1.00 = linear), the page faults a
call takes (``resource.getrusage``'s minor faults, averaged over the timed calls), and
the peak of the memory NumPy allocates during one call (``tracemalloc``, measured after
the timing; the trajectory and gradients a call returns are included).

    python benchmarks/bench_tscaling.py [--steps 100 400 1600] [--repeats 5] [--dtypes float64 float32]
        [--threads 1]

A script: it prints numbers and asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import sys


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _threads import preset_threads  # noqa: E402

preset_threads(sys.argv[1:])

import resource  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402

from refsnn import losses  # noqa: E402
from refsnn.lif import LIFConfig  # noqa: E402
from refsnn.network import Network, network_backward, network_forward, network_init  # noqa: E402


def problem(T, B, dtype, seed=0):
    rng = np.random.default_rng(seed)
    net = Network((LIFConfig(100, 256), LIFConfig(256, 10)))
    params = network_init(net, rng, dtype)
    x = (rng.random((T, B, 100)) < 0.2).astype(dtype)
    labels = rng.integers(0, 10, B)
    return net, params, x, labels


def gradient(net, params, x, labels):
    trajs = network_forward(net, params, x)
    loss = losses.spike_count_cross_entropy(trajs[-1], labels)
    return network_backward(trajs, params, [None, loss.ds])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, nargs="+", default=[100, 400, 1600])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--dtypes", nargs="+", default=["float64", "float32"])
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    print(f"one gradient of a 100-256-10 network, batch {args.batch}, best of {args.repeats} "
          f"(interleaved), {args.threads} thread(s)")
    print(f"{'dtype':<8} {'T':>5} {'best ms':>9} {'ms/step':>8} {'vs T0':>6} {'faults/call':>12} {'peak MiB':>9}")
    for dt in args.dtypes:
        dtype = np.dtype(dt).type
        probs = {T: problem(T, args.batch, dtype) for T in args.steps}
        for T in args.steps:                                  # warm-up
            gradient(*probs[T])
        best = {T: float("inf") for T in args.steps}
        faults = {T: 0 for T in args.steps}
        for _ in range(args.repeats):
            for T in args.steps:
                f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                t0 = time.perf_counter()
                gradient(*probs[T])
                best[T] = min(best[T], time.perf_counter() - t0)
                faults[T] += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
        base = best[args.steps[0]] / args.steps[0]
        for T in args.steps:
            tracemalloc.start()
            gradient(*probs[T])
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            print(f"{dt:<8} {T:5d} {best[T] * 1e3:9.1f} {best[T] / T * 1e3:8.3f} {best[T] / T / base:6.2f} "
                  f"{faults[T] / args.repeats:12.0f} {peak / 2**20:9.1f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
