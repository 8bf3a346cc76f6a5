"""Train on the generated tasks and print test accuracy (or normalised MSE).

Targets, from the training issue:
- Randman at the benchmark setting (10 classes, 20 units, D = 3, α = 2, 100 steps,
  one spike per unit; reference spectrum), 256 hidden LIF neurons (the task's width); see
  benchmarks/bench_randman.py for mean ± sd over seeds beside an MLP/kNN ceiling,
  and the README for what the published 96.3 % does and does not compare to;
- Yin-Yang (the published splits, data.yin_yang_splits), rate coded: ≥ 97.5 % for
  every seed (an ANN reaches about 98.7 %); benchmarks/bench_results.py gives mean ±
  sd over five seeds, with the epoch chosen on the validation split;
- trajectory regression with a recurrent SNN and a low-pass (leaky-integrator)
  decoder: normalised MSE before and after training.

This is a script; it prints numbers and asserts nothing. Each run is the same as
``refsnn train --task NAME`` with the task's default hyper-parameters.

    python benchmarks/bench_accuracy.py [--tasks randman yinyang regression] [--out runs-bench]
"""

from __future__ import annotations

import argparse
import json
import os

from refsnn.train import TASKS, RunConfig, make_task, train
from refsnn.training.tasks import default_hidden


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", choices=TASKS, default=["randman", "yinyang", "regression"])
    ap.add_argument("--out", default="runs-bench")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hidden", type=int, default=None, help="default: the task's width")
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args()
    rows = []
    for name in args.tasks:
        hidden = args.hidden or default_hidden(name)
        task = make_task(name, args.seed, hidden)
        d = task.defaults
        cfg = RunConfig(task=name, epochs=d["epochs"], lr=d["lr"], batch_size=d["batch_size"], clip=d["clip"],
                        seed=args.seed, hidden=hidden)
        # the benchmark's own folder: a re-run replaces its previous runs (train refuses that otherwise)
        s = train(cfg, os.path.join(args.out, name), progress=args.progress, task=task, overwrite=True)
        row = dict(task=name, hidden=hidden, epochs=cfg.epochs, n_train=s["n_train"], n_test=s["n_test"],
                   seconds=round(s["train_seconds"], 1))
        if "test_accuracy" in s:
            row.update(test_accuracy=s["test_accuracy"], train_accuracy=s["train_accuracy"],
                       best_test_accuracy=max(s["history"]["test_score"]))
        else:
            row.update(nmse_before=s["nmse_before"], nmse_after=s["nmse_after"])
        rows.append(row)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
