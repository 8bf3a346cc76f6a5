"""Randman at a setting that is not saturated, with an MLP and a kNN ceiling.

Setting (the ``randman`` training task): 10 classes, 20 units, D = 3 manifold
dimensions, α = 2, T = 100 steps, one spike per unit, 1000 samples per class
(80/20 train/test split), on the reference generator's spectrum and phases
(github.com/fzenke/randman, its default Torch backend). For each seed the data and
the network's initialisation both come from that seed. Beside the spiking network:
a 128-unit MLP and 5-nearest-neighbours on the spike-time matrix (the (N, 20)
matrix of each unit's spike step), the non-spiking ceiling of what the spike times
carry (scikit-learn, the ``digits`` extra).

    python benchmarks/bench_randman.py [--seeds 0 1 2] [--epochs N] [--hidden N]

It prints one row per seed and the mean ± sd; it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np

from refsnn.train import RunConfig, make_task, train
from refsnn.training.tasks import default_hidden


def spike_times(X):
    """(N, T, M) one spike per unit -> (N, M) spike steps."""
    return np.argmax(X, axis=1).astype(np.float64)


def ceilings(task, seed):
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler
    t_tr, t_te = spike_times(task.x_train), spike_times(task.x_test)
    sc = StandardScaler().fit(t_tr)
    mlp = MLPClassifier(hidden_layer_sizes=(128,), max_iter=1000, random_state=seed)
    mlp.fit(sc.transform(t_tr), task.y_train)
    knn = KNeighborsClassifier(5).fit(t_tr, task.y_train)
    return (float(np.mean(mlp.predict(sc.transform(t_te)) == task.y_test)),
            float(np.mean(knn.predict(t_te) == task.y_test)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=None, help="default: the task's")
    ap.add_argument("--hidden", type=int, default=None, help="default: the task's width")
    ap.add_argument("--out", default=None, help="keep the runs here (default: a temporary folder)")
    ap.add_argument("--ceilings-only", action="store_true", help="only the MLP and kNN ceilings (fast)")
    args = ap.parse_args()
    args.hidden = args.hidden or default_hidden("randman")
    if args.ceilings_only:
        rows = []
        for seed in args.seeds:
            mlp, knn = ceilings(make_task("randman", seed, 4), seed)
            rows.append((mlp, knn))
            print(json.dumps(dict(seed=seed, mlp=mlp, knn=knn)), flush=True)
        for i, name in enumerate(("MLP 128 on spike times", "5-NN on spike times")):
            v = np.array([r[i] for r in rows])
            print(f"{name:<36} {v.mean():7.4f} {v.std(ddof=1) if len(v) > 1 else 0.0:7.4f}")
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            task = make_task("randman", seed, args.hidden)
            d = task.defaults
            cfg = RunConfig(task="randman", epochs=args.epochs or d["epochs"], lr=d["lr"],
                            batch_size=d["batch_size"], clip=d["clip"], seed=seed, hidden=args.hidden)
            start = time.perf_counter()
            s = train(cfg, os.path.join(args.out or tmp, f"seed{seed}"), progress=False, task=task,
                      log=lambda *a, **k: None, overwrite=True)   # a re-run replaces this benchmark's runs
            mlp, knn = ceilings(task, seed)
            row = dict(seed=seed, snn=s["test_accuracy"], snn_train=s["train_accuracy"], mlp=mlp, knn=knn,
                       epochs=cfg.epochs, seconds=round(time.perf_counter() - start, 1))
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"\nRandman (10 classes, 20 units, D = 3, alpha = 2, T = 100), {len(rows)} seeds, test accuracy:")
    print(f"{'model':<36} {'mean':>7} {'sd':>7}")
    for key, name in (("snn", f"refsnn SNN 20-{args.hidden}-10 ({rows[0]['epochs']} epochs)"),
                      ("mlp", "MLP 128 on spike times (ceiling)"), ("knn", "5-NN on spike times (ceiling)")):
        v = np.array([r[key] for r in rows])
        print(f"{name:<36} {v.mean():7.4f} {v.std(ddof=1) if len(v) > 1 else 0.0:7.4f}")


if __name__ == "__main__":
    main()
