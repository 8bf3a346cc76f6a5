"""Training results on the standard splits: Yin-Yang and Randman, over seeds, beside their ceilings.

Each run is ``refsnn train --task NAME --seed S`` with the task's default recipe
(refsnn/training/tasks.py). For each task the script prints one JSON row per seed and
a table: the test accuracy (mean ± sd over the seeds, and the worst seed), and the
time per run.

- Yin-Yang: the published splits (5000 train / 1000 validation / 1000 test). The
  validation split chooses the epoch; the table reports the test accuracy at that
  epoch (and at the last epoch). Ceiling: a scikit-learn MLP with 120 hidden units
  on the same points (the coordinates), one per seed.
- Randman: the benchmark setting (10 classes, 20 units, D = 3, α = 2, T = 100);
  ceilings: a 128-unit MLP and 5-nearest-neighbours on the spike-time matrix
  (benchmarks/bench_randman.py).

Time per run: the wall-clock seconds of the training run and the CPU seconds of this
process during it. Run with ``OMP_NUM_THREADS=1``: the CPU seconds are then what the
run takes on a quiet machine, whatever else shares it. The ceilings need scikit-learn
(the ``digits`` extra).

Runs are kept in ``--out`` (default ``runs-results``); a seed whose run is already
there (same recipe) is read back, not retrained. So the seeds can be run by separate
processes (``--tasks yinyang --yinyang-seeds 3``) and the tables printed afterwards.

    OMP_NUM_THREADS=1 python benchmarks/bench_results.py [--tasks yinyang randman]
        [--yinyang-seeds 0 1 2 3 4] [--randman-seeds 0 1 2] [--out runs-results]

It prints numbers and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict

import numpy as np

from refsnn.train import RunConfig, make_task, train
from refsnn.training.tasks import default_hidden
from refsnn.training.train import _selected_epoch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def recipe(task):
    """What a stored run must share with this one to be reused: the network, its initialisation,
    the encoded data (a changed encoding must not reuse an old run) and the training settings."""
    import hashlib
    from refsnn.train import architecture
    data = hashlib.sha1(np.ascontiguousarray(task.x_train).tobytes()
                        + np.ascontiguousarray(task.x_test).tobytes()).hexdigest()
    return json.loads(json.dumps(dict(architecture=architecture(task.net), init=task.init, data=data,
                                      defaults=task.defaults), default=str))


def run_seed(name, seed, out, hidden=None):
    """Train (or read back) one seed; returns its row, computed from its summary.json.
    ``hidden=None``: the task's own width (tasks.default_hidden)."""
    hidden = default_hidden(name) if hidden is None else hidden
    task = make_task(name, seed, hidden)
    d = task.defaults
    cfg = RunConfig(task=name, epochs=d["epochs"], lr=d["lr"], batch_size=d["batch_size"], clip=d["clip"],
                    seed=seed, hidden=hidden)
    folder = os.path.join(out, name, f"seed{seed}")
    time_path = os.path.join(folder, "bench.json")
    timing = None
    if os.path.exists(time_path):
        with open(time_path) as f:
            timing = json.load(f)
        if timing.get("run") != asdict(cfg) or timing.get("recipe") != recipe(task):
            timing = None
    if timing is None:
        os.makedirs(folder, exist_ok=True)
        wall, cpu = time.perf_counter(), time.process_time()
        train(cfg, folder, progress=False, task=task, log=lambda *a, **k: None)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        timing = dict(run=asdict(cfg), recipe=recipe(task), wall_s=round(wall, 1), cpu_s=round(cpu, 1),
                      threads=os.environ.get("OMP_NUM_THREADS", "unset"))
        with open(time_path, "w") as f:
            json.dump(timing, f)
    with open(os.path.join(folder, "summary.json")) as f:
        h = json.load(f)["history"]
    row = dict(task=name, seed=seed, epochs=cfg.epochs, test_last=h["test_score"][-1], train_last=h["train_score"][-1],
               wall_s=timing["wall_s"], cpu_s=timing["cpu_s"], threads=timing["threads"])
    sel = _selected_epoch(task, h)
    if sel is not None:
        row.update(test=h["test_score"][sel], selected_epoch=sel + 1, val=h["val_score"][sel],
                   best_val_accuracy_epoch=int(np.argmax(h["val_score"])) + 1,
                   test_at_best_val_accuracy=h["test_score"][int(np.argmax(h["val_score"]))])
    else:
        row.update(test=h["test_score"][-1])
    row["test_curve"] = [round(v, 4) for v in h["test_score"]]
    return row


def yinyang_ceilings(seeds):
    from sklearn.neural_network import MLPClassifier
    from refsnn import data
    sp = data.yin_yang_splits()
    (p_tr, y_tr), (p_te, y_te) = sp["train"], sp["test"]
    return {"MLP 120 on the coordinates": [
        float(np.mean(MLPClassifier((120,), max_iter=2000, random_state=s).fit(p_tr, y_tr).predict(p_te) == y_te))
        for s in seeds]}


def randman_ceilings(seeds):
    from bench_randman import ceilings
    rows = [ceilings(make_task("randman", s, 4), s) for s in seeds]
    return {"MLP 128 on spike times": [r[0] for r in rows], "5-NN on spike times": [r[1] for r in rows]}


def ceilings(name, seeds, out):
    """The scikit-learn ceilings for these seeds, computed once and kept in ``out``."""
    path = os.path.join(out, name, "ceilings-" + "-".join(map(str, seeds)) + ".json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    c = (yinyang_ceilings if name == "yinyang" else randman_ceilings)(seeds)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(c, f)
    return c


def msd(v):
    v = np.asarray(v, dtype=float)
    return v.mean(), (v.std(ddof=1) if len(v) > 1 else 0.0)


def table(title, rows, ceilings):
    print(f"\n{title}")
    print(f"{'model':<44} {'mean':>6} {'± sd':>6} {'worst':>6}  seeds")
    acc = [r["test"] for r in rows]
    m, sd = msd(acc)
    ep = rows[0]["epochs"]
    label = f"refsnn SNN ({ep} epochs" + (", epoch chosen by validation)" if "selected_epoch" in rows[0] else ")")
    print(f"{label:<44} {100 * m:6.2f} {100 * sd:6.2f} {100 * min(acc):6.2f}  "
          + " ".join(f"{100 * a:.1f}" for a in acc))
    if "selected_epoch" in rows[0]:
        last = [r["test_last"] for r in rows]
        m2, sd2 = msd(last)
        print(f"{'  the same runs, last epoch':<44} {100 * m2:6.2f} {100 * sd2:6.2f} {100 * min(last):6.2f}  "
              + " ".join(f"{100 * a:.1f}" for a in last))
        print(f"{'  chosen epochs (lowest validation loss)':<44} " + " ".join(str(r["selected_epoch"]) for r in rows))
        alt = [r["test_at_best_val_accuracy"] for r in rows]
        m4, sd4 = msd(alt)
        print(f"{'  chosen by validation accuracy instead':<44} {100 * m4:6.2f} {100 * sd4:6.2f} {100 * min(alt):6.2f}  "
              + " ".join(f"{100 * a:.1f}" for a in alt) + "  (epochs "
              + " ".join(str(r["best_val_accuracy_epoch"]) for r in rows) + ")")
    for name, v in ceilings.items():
        m3, sd3 = msd(v)
        print(f"{name + ' (ceiling)':<44} {100 * m3:6.2f} {100 * sd3:6.2f} {100 * min(v):6.2f}  "
              + " ".join(f"{100 * a:.1f}" for a in v))
    timed = [r["cpu_s"] for r in rows if r["cpu_s"] is not None]   # a run kept from elsewhere may lack it
    wall, cpu = msd([r["wall_s"] for r in rows]), msd(timed) if timed else (float("nan"), 0.0)
    print(f"time per run: {cpu[0]:.0f} ± {cpu[1]:.0f} CPU s ({len(timed)} of {len(rows)} runs timed; "
          f"OMP_NUM_THREADS={rows[0]['threads']}), {wall[0]:.0f} ± {wall[1]:.0f} s wall on this machine")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", choices=("yinyang", "randman"), default=["yinyang", "randman"])
    ap.add_argument("--yinyang-seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--randman-seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--out", default="runs-results")
    ap.add_argument("--no-ceilings", action="store_true", help="skip the scikit-learn ceilings")
    ap.add_argument("--ceilings-only", action="store_true", help="only compute (and keep) the ceilings")
    args = ap.parse_args()
    for name in args.tasks:
        seeds = args.yinyang_seeds if name == "yinyang" else args.randman_seeds
        if args.ceilings_only:
            print(name, json.dumps(ceilings(name, seeds, args.out)), flush=True)
            continue
        rows = []
        for seed in seeds:
            row = run_seed(name, seed, args.out)
            rows.append(row)
            print(json.dumps(row), flush=True)
        ceil = {} if args.no_ceilings else ceilings(name, seeds, args.out)
        title = ("Yin-Yang, published splits (5000/1000/1000), test accuracy %" if name == "yinyang" else
                 "Randman (10 classes, 20 units, D = 3, alpha = 2, T = 100), test accuracy %")
        table(title, rows, ceil)


if __name__ == "__main__":
    main()
