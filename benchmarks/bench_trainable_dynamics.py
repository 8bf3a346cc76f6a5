"""Training θ, α and γ alongside the weights (``refsnn train --train-dynamics``) on Randman.

Prints, for W/b only and for W/b plus the named dynamics, the test accuracy, the hidden
layer's mean firing rate and where the trained thresholds ended up. One run each, same
seed, data and schedule; the ratio of the two accuracies is the number to quote.

    python benchmarks/bench_trainable_dynamics.py [--epochs 5] [--hidden 64] [--dynamics theta,alpha,gamma]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from refsnn.neurons.network import network_forward
from refsnn.training import train as T


def hidden_rate(task, out_dir):
    with np.load(f"{out_dir}/checkpoint.npz", allow_pickle=False) as z:
        flat = {k[6:]: z[k] for k in z.files if k.startswith("param/")}
    params = T.unflat_params(flat, len(task.net.layers))
    x = np.moveaxis(task.x_test[:256], 0, 1).astype(params[0]["W"].dtype)
    return float(network_forward(task.net, params, x)[0].s.mean()), params


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--dynamics", default="theta,alpha,gamma")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    task = T.make_task("randman", args.seed, args.hidden, small=True)
    d = task.defaults
    rows = []
    for dyn in ("", args.dynamics):
        cfg = T.RunConfig(task="randman", epochs=args.epochs, lr=d["lr"], batch_size=d["batch_size"],
                          clip=d["clip"], seed=args.seed, hidden=args.hidden, small=True, train_dynamics=dyn)
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            summary = T.train(cfg, out, progress=False, log=lambda *a: None, task=task)
            seconds = time.perf_counter() - start
            rate, params = hidden_rate(task, out)
        theta = params[0]["theta"]
        rows.append((dyn or "(W, b only)", summary["test_accuracy"], rate, theta, seconds))
    print(f"randman (small), hidden {args.hidden}, {args.epochs} epochs, seed {args.seed}")
    print(f"{'trained dynamics':24s} {'test acc':>9s} {'hidden rate':>12s} {'θ mean [min, max]':>24s} {'s':>6s}")
    for name, acc, rate, theta, sec in rows:
        print(f"{name:24s} {acc:9.3f} {rate:12.4f} {theta.mean():8.3f} [{theta.min():.3f}, {theta.max():.3f}] "
              f"{sec:6.1f}")
    print(f"accuracy ratio (dynamics / weights only): {rows[1][1] / rows[0][1]:.3f}")


if __name__ == "__main__":
    main()
