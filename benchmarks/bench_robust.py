"""Seed 002 §9: plain training against the min-max (KL) objective, under the same attack.

The task is notebook 15's, larger: scikit-learn's 8×8 digits (shipped with the package
scikit-learn, the ``digits`` extra) as constant input currents (pixel intensity in [0, 1]
at every one of T steps), a hidden LIF layer and a non-spiking readout whose mean
membrane is the logits (R1 of ``refsnn.learning.robust``). Both networks start from the
same initialisation and see the same batches; one minimises the cross-entropy (λ = 0),
the other R7 with the KL attack of R6 (ε_train, K_train steps) inside every batch.
Both are then attacked identically: R6 on the cross-entropy, K = 10 sign steps from
δ = 0, δ shared over time, for every ε of the grid. Printed: accuracy (%) at each ε,
mean ± sd over the seeds (the seed draws the split, the initialisation and the batches).

    python benchmarks/bench_robust.py [--seeds 0 1 2] [--hidden 64] [--epochs 20]

This is a script: it prints numbers, asserts nothing.

Measured once with the defaults (``OMP_NUM_THREADS=1 python benchmarks/bench_robust.py``,
seeds 0 1 2, hidden 64, T = 8, 20 epochs, ε_train = 0.05, K_train = 3, λ = 6; 1400 train /
397 test; a shared 2-core machine, 20–80 s per run), test accuracy (%), mean ± sd:

==========  ==========  ==========  ==========  ==========  ==========  ==========
ε           0           0.025       0.05        0.075       0.1         0.15
==========  ==========  ==========  ==========  ==========  ==========  ==========
plain       96.7 ± 0.0  81.5 ± 1.4  45.8 ± 0.6  16.1 ± 0.7  4.4 ± 0.3   0.5 ± 0.4
min-max     95.6 ± 0.5  85.1 ± 2.5  65.3 ± 3.2  41.2 ± 1.0  21.7 ± 1.7  5.2 ± 2.1
==========  ==========  ==========  ==========  ==========  ==========  ==========

The min-max objective costs 1.1 points of clean accuracy and keeps 19.5 more points at
ε_train (65.3 against 45.8), 25 more at 1.5 ε_train; at 3 ε_train both are near chance.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from refsnn import LIFConfig, Network, network_init, surrogate
from refsnn.learning import robust as R
from refsnn.training.event_streams import load_digit_images

EPS_GRID = (0.0, 0.025, 0.05, 0.075, 0.1, 0.15)


def task(seed, n_steps, n_train=1400):
    images, labels = load_digit_images()
    order = np.random.default_rng(seed).permutation(len(labels))
    X = np.repeat(images.reshape(len(labels), -1)[order][None], n_steps, axis=0)   # (T, N, 64)
    y = labels[order]
    return X[:, :n_train], y[:n_train], X[:, n_train:], y[n_train:]


def network(hidden):
    sg = surrogate("sigmoid", 5.0)
    return Network((LIFConfig(64, hidden, surrogate=sg),
                    LIFConfig(hidden, 10, surrogate=sg, reset="none", spiking=False)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--steps", type=int, default=8, help="time steps T")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--lam", type=float, default=6.0)
    ap.add_argument("--eps-train", type=float, default=0.05)
    ap.add_argument("--k-train", type=int, default=3)
    args = ap.parse_args(argv)
    net = network(args.hidden)
    acc = {0.0: [], args.lam: []}
    for seed in args.seeds:
        xtr, ytr, xte, yte = task(seed, args.steps)
        init = network_init(net, seed, np.float64, [dict(w_scale=4.0), dict(w_scale=2.0)])
        for lam in acc:
            t0 = time.time()
            p, _ = R.train(net, init, xtr, ytr, lam=lam, eps=args.eps_train, steps=args.k_train,
                           epochs=args.epochs, lr=1e-2, batch_size=100, seed=seed)
            curve = R.robustness_curve(net, p, xte, yte, EPS_GRID)
            acc[lam].append(curve)
            print(f"seed {seed} λ = {lam:g}: {time.time() - t0:.0f} s, accuracy (%) at ε = {EPS_GRID}: "
                  + " ".join(f"{100 * a:.1f}" for a in curve), flush=True)
    print(f"\n{len(args.seeds)} seeds, hidden {args.hidden}, T = {args.steps}, {args.epochs} epochs, "
          f"ε_train = {args.eps_train}, K_train = {args.k_train}; evaluation attack: CE, K = 10")
    print("ε       " + "".join(f"{e:>14g}" for e in EPS_GRID))
    for lam, curves in acc.items():
        c = 100 * np.array(curves)
        name = "plain" if lam == 0 else f"KL λ={lam:g}"
        print(f"{name:8s}" + "".join(f"{m:>8.1f} ± {s:<3.1f}" for m, s in zip(c.mean(0), c.std(0, ddof=1) if len(c) > 1 else 0 * c[0])))


if __name__ == "__main__":
    main()
