"""Peak memory of truncated BPTT (window K) against full BPTT at T = 1000.

Peak memory is measured with ``tracemalloc``, which sees NumPy's array
allocations. The network is a recurrent adaptive-LIF layer with a
leaky-integrator readout and a per-step membrane loss (the regression set-up).
This script prints numbers; it asserts nothing.

    python benchmarks/bench_tbptt_memory.py [--steps 1000] [--window 50] [--overlap 10]
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc

import numpy as np

from refsnn import tbptt
from refsnn.lif import LIFConfig
from refsnn.network import Network, network_init


def measure(fn):
    tracemalloc.start()
    tracemalloc.reset_peak()
    t0 = time.perf_counter()
    out = fn()
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return out, peak, elapsed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--window", type=int, default=50)
    ap.add_argument("--overlap", type=int, default=10)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    net = Network((
        LIFConfig(20, args.hidden, recurrent=True, adaptation=True),
        LIFConfig(args.hidden, 2, reset="none", spiking=False),
    ))
    params = network_init(net, rng, np.float32)
    T, B = args.steps, args.batch
    x = (rng.random((T, B, 20)) < 0.05).astype(np.float32)
    y = np.sin(np.linspace(0, 8 * np.pi, T))[:, None, None].repeat(B, 1).repeat(2, 2).astype(np.float32)
    loss_fn = tbptt.per_step_membrane_loss(y)

    rows = []
    for name, K, O in [("full BPTT", T, 0), (f"TBPTT K={args.window} O={args.overlap}", args.window, args.overlap),
                       (f"TBPTT K={args.window} O=0", args.window, 0)]:
        res, peak, secs = measure(lambda: tbptt.tbptt_gradients(net, params, x, loss_fn, K=K, O=O))
        rows.append(dict(method=name, K=K, O=O, windows=res.n_windows, peak_MiB=peak / 2**20,
                         seconds=secs, loss=res.value))
    # Memory grows with K, not T: the same window at a 4x shorter sequence.
    short = x[: T // 4]
    res, peak, secs = measure(lambda: tbptt.tbptt_gradients(
        net, params, short, tbptt.per_step_membrane_loss(y[: T // 4]), K=args.window, O=args.overlap))
    rows.append(dict(method=f"TBPTT K={args.window} O={args.overlap}, T={T // 4}", K=args.window,
                     O=args.overlap, windows=res.n_windows, peak_MiB=peak / 2**20, seconds=secs, loss=res.value))
    if args.json:
        print(json.dumps(dict(T=T, batch=B, hidden=args.hidden, rows=rows), indent=1))
        return
    print(f"recurrent adaptive LIF 20-{args.hidden}-2 (leaky readout), batch {B}, float32, T = {T}")
    print(f"{'method':<32} {'windows':>7} {'peak MiB':>9} {'seconds':>8}")
    for r in rows:
        print(f"{r['method']:<32} {r['windows']:7d} {r['peak_MiB']:9.1f} {r['seconds']:8.2f}")
    print("(the input x and the target, allocated before the measurement, are not counted)")


if __name__ == "__main__":
    main()
