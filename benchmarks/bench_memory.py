"""What keeping freed memory (``refsnn._memory``) saves: page faults and time of a network step.

One forward + loss + backward step of a 100-256-10 LIF network (batch 64, T = 100,
Bernoulli(0.2) input, every gradient), in float32 and float64, run in two child
processes one after the other: one with ``REFSNN_KEEP_FREED_MEMORY=1`` (the default of
``import refsnn``) and one with ``=0`` (glibc's own settings). The setting belongs to a
process, so the two cannot be interleaved in one. Each child prints its best time over
``--repeats`` steps and the fewest page faults a step (``resource.getrusage``); the
parent prints the ratio. BLAS is pinned to one thread.

A script, not a test: it prints numbers and asserts nothing about time.

    python benchmarks/bench_memory.py [--repeats 9]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys


def child(repeats):
    import resource
    import time

    import numpy as np

    from refsnn import _memory
    from refsnn.losses import spike_count_cross_entropy
    from refsnn.neurons.lif import LIFConfig
    from refsnn.neurons.network import Network, network_backward, network_forward, network_init

    net = Network((LIFConfig(100, 256), LIFConfig(256, 10)))
    out = {"setting": _memory.state["reason"]}
    for dtype in (np.float32, np.float64):
        params = network_init(net, 0, dtype)
        x = (np.random.default_rng(0).random((100, 64, 100)) < 0.2).astype(dtype)
        y = np.arange(64) % 10

        def step():
            trajs = network_forward(net, params, x)
            loss = spike_count_cross_entropy(trajs[-1], y)
            network_backward(trajs, params, ds=[None, loss.ds])

        step()
        times, faults = [], []
        for _ in range(repeats):
            f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
            faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
        out[np.dtype(dtype).name] = {"best_ms": min(times) * 1e3, "faults": min(faults)}
    print(json.dumps(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")
    if args.child:
        return child(args.repeats)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    res = {}
    for val in ("1", "0"):
        run = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", "--repeats", str(args.repeats)],
                             env={**env, "REFSNN_KEEP_FREED_MEMORY": val}, capture_output=True, text=True)
        if run.returncode:
            sys.exit(f"the child process failed:\n{run.stderr}")
        res[val] = json.loads(run.stdout.strip().splitlines()[-1])
    print("one network step (forward, loss, backward), 100-256-10, batch 64, T = 100; best of "
          f"{args.repeats}, ms; fewest page faults a step")
    print(f"{'dtype':8s} {'kept (default)':>22s} {'glibc default':>22s} {'speed-up':>9s}")
    for dt in ("float32", "float64"):
        a, b = res["1"][dt], res["0"][dt]
        print(f"{dt:8s} {a['best_ms']:10.1f} ms {a['faults']:6d} pf {b['best_ms']:10.1f} ms {b['faults']:6d} pf "
              f"{b['best_ms'] / a['best_ms']:8.2f}x")
    print(f"(setting in the two children: {res['1']['setting']!r} / {res['0']['setting']!r})")


if __name__ == "__main__":
    main()
