"""``refsnn tour``: the main job, in under three minutes on two cores.

1. Train a small adaptive-LIF network (20 inputs → 64 adaptive LIF → 10 leaky
   readout) on a reduced Randman task (10 classes, 20 inputs, 1-D manifolds,
   100 steps, one spike per input; 200 samples per class).
2. Check the trained network's hand-written gradients against 4th-order central
   differences on its smooth twin (spike = the surrogate's primitive), for every
   parameter array (a random sample of entries from each large array), the input
   and the initial state.
3. Print a short report and write ``curves.png``, ``traces.png``, ``summary.json``
   and ``report.txt`` to the output folder.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, replace

import numpy as np

from .checking.gradcheck import format_results
from .neurons.lif import smooth_twin, state_names
from .neurons.network import Network, network_forward
from .training.tasks import build_randman
from .training.train import RunConfig, train
from .checking.verify import _flatten, check_network_smooth_twin

__all__ = ["run_tour", "gradcheck_network"]


def gradcheck_network(net, params, x, y, loss, rng, state0, max_entries=24, eps=2e-5, order=6, floor=1e-3):
    """The smooth-twin check of :mod:`refsnn.verify` on a trained network, in float64.

    Arrays larger than ``max_entries`` are checked at a random sample of entries (the
    rest are counted as skipped). Over T = 100 steps a leaky integrator with a synapse
    amplifies a parameter step ~100-fold, so the grid's 4th-order stencil at h = 2e-4
    leaves truncation errors near 1e-2 here (they shrink as h⁴, which shows the
    adjoint is right); a 6th-order stencil at h = 2e-5 brings them below 1e-9.
    Round-off then sets the limit: the loss sums O(100) terms over the steps, so a
    difference quotient carries ~1e-16·100/h ≈ 5e-10 of noise. Entries above ``floor``
    (1e-3) must agree to 1e-7 relative; smaller ones to 1e-7·floor = 1e-10 absolute.
    """
    params = [{k: v.astype(np.float64) for k, v in p.items()} for p in params]
    x = x.astype(np.float64)
    shapes = {k: v.shape for k, v in _flatten(params, x, state0).items()}
    masks = {}
    for k, shape in shapes.items():
        size = int(np.prod(shape))
        if size > max_entries:
            m = np.zeros(size, bool)
            m[rng.choice(size, max_entries, replace=False)] = True
            masks[k] = m.reshape(shape)
    return check_network_smooth_twin(net, params, x, state0, lambda tr: loss(tr, y), masks=masks,
                                     eps=eps, order=order, floor=floor)


def _previous_tour(out_dir, cfg, task):
    """Whether ``out_dir`` holds the checkpoint of this very tour (same run configuration and
    network): the tour then replaces it. Any other checkpoint is left for train() to refuse."""
    from .training.train import CheckpointError, load_checkpoint
    report = os.path.join(out_dir, "report.txt")
    if os.path.exists(report) and not os.path.isfile(report):   # a FIFO would block the write
        raise CheckpointError(f"{report} is not a regular file, where the tour writes its report; remove it "
                              "or choose another --out")
    path = os.path.join(out_dir, "checkpoint.npz")
    if not os.path.isfile(path) or not os.path.isfile(os.path.join(out_dir, "report.txt")):
        return False
    try:
        _, _, meta = load_checkpoint(path, task.net)
    except CheckpointError:
        return False
    return meta["run"] == asdict(cfg)


def run_tour(out_dir="refsnn-tour", seed=0, progress=True, log=print):
    start = time.perf_counter()
    os.makedirs(out_dir, exist_ok=True)
    # 1-D manifolds (saturated, so a short tour learns them): the benchmark's D = 3 is
    # in benchmarks/bench_randman.py.
    task = build_randman(seed, hidden=64, small=True, dim_manifold=1)
    hidden = replace(task.net.layers[0], adaptation=True)
    readout = replace(task.net.layers[1], n_in=hidden.n)
    task = replace(task, net=Network((hidden, readout)),
                   init=[dict(task.init[0], beta=0.1, rho=float(np.exp(-1 / 50)), kappa=0.5), task.init[1]])
    cfg = RunConfig(task="randman", epochs=12, lr=3e-3, batch_size=64, clip=5.0, seed=seed, hidden=64, small=True)
    log("refsnn tour: 1/2 training a 20-64-10 adaptive-LIF network on Randman "
        f"({len(task.x_train)} train / {len(task.x_test)} test samples, T = 100)")
    summary = train(cfg, out_dir, progress=progress, log=log, task=task,
                    overwrite=_previous_tour(out_dir, cfg, task))

    log("refsnn tour: 2/2 checking the trained network's gradients on its smooth twin")
    from .training.train import _loss, load_checkpoint
    params, _, _ = load_checkpoint(os.path.join(out_dir, "checkpoint.npz"), task.net)
    rng = np.random.default_rng([seed, 7])
    xb = np.moveaxis(task.x_test[:2], 0, 1)
    yb = task.y_test[:2]
    # The max over time is held at its argmax on the smooth twin (see membrane_cross_entropy).
    twin = Network(tuple(smooth_twin(c) if c.spiking else c for c in task.net.layers))
    p64 = [{k: v.astype(np.float64) for k, v in p.items()} for p in params]
    state_rng = np.random.default_rng([seed, 8])
    state0 = [{k: state_rng.normal(0.0, 0.3, (xb.shape[1], c.n)) for k in state_names(c)} for c in task.net.layers]
    t_star = np.argmax(network_forward(twin, p64, xb.astype(np.float64), state0)[-1].v, axis=0)
    results = gradcheck_network(task.net, p64, xb, yb, lambda tr, y: _loss(task, tr, y, at=t_star), rng,
                                state0=state0)
    table = format_results(results)
    ok = all(r.passed for r in results)
    worst = max(results, key=lambda r: r.max_rel_error)
    elapsed = time.perf_counter() - start
    report = [
        "refsnn tour report",
        f"  Randman test accuracy after {cfg.epochs} epochs: {summary['test_accuracy']:.3f} "
        f"(chance 0.100; train {summary['train_accuracy']:.3f})",
        f"  gradient check (smooth twin, 6th-order central differences, rtol 1e-7): "
        f"{'PASS' if ok else 'FAIL'}; worst relative error {worst.max_rel_error:.2e} in {worst.name}",
        f"  entries compared: {sum(r.n_checked for r in results)} "
        f"(sampled from {sum(r.n_checked + r.n_skipped for r in results)})",
        f"  total time {elapsed:.1f} s; figures and summary in {out_dir}/",
    ]
    with open(os.path.join(out_dir, "report.txt"), "w") as fh:
        fh.write("\n".join(report) + "\n\n" + table + "\n")
    with open(os.path.join(out_dir, "summary.json")) as fh:
        s = json.load(fh)
    s["gradcheck"] = [dict(name=r.name, max_rel_error=r.max_rel_error, passed=r.passed,
                           n_checked=r.n_checked) for r in results]
    s["tour_seconds"] = elapsed
    with open(os.path.join(out_dir, "summary.json"), "w") as fh:
        json.dump(s, fh, indent=1)
    log("\n".join(report))
    return 0 if ok else 1
