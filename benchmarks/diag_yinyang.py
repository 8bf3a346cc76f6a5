"""Why Yin-Yang seeds stalled: the state of the network during the first epochs.

Trains Yin-Yang with the task's recipe (``--recipe rate``, the default task) or with the
recipe it replaced (``--recipe latency``: one spike per coordinate at a step linear in
its value, T = 60, τ_mem = 20, τ_syn = 5, hidden w_scale 4) and prints, every quarter
epoch, on the validation split:

- acc        validation accuracy;
- rate       the hidden layer's mean spike probability per step;
- dead/sat   the share of hidden units that never spike / spike on > 90% of the steps;
- latched    the share of readout (sample, class) pairs whose maximum over time is at
             step 0: that logit is then its step-0 value, and its gradient reaches only
             the first step. A trained network has some (a wrong class's membrane that
             never rises above its start; about a third on Yin-Yang); at 1.00 every
             logit is the same for every input and the network is at chance;
- logit sd   the standard deviation of the logits over samples, mean over classes;
- |g| W0 W1  the mean gradient norms of the hidden and readout weights over the quarter.

    OMP_NUM_THREADS=1 python benchmarks/diag_yinyang.py --recipe latency --seeds 0 1 2 --epochs 1

It prints numbers and asserts nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile

import numpy as np

from refsnn.neurons.network import network_forward, network_init
from refsnn.training import data, tasks
from refsnn.training import train as TR


def latency_recipe(seed, hidden=128):
    """The Yin-Yang recipe before the rate code (same splits and network, max-over-time readout)."""
    t = tasks.build_yinyang(seed, hidden)
    sp = data.yin_yang_splits()
    enc = lambda p: data.latency_encode(p, 60, bias=True)  # noqa: E731
    net = tasks._classifier(5, hidden, 3)
    init = [tasks._layer_init(4.0), tasks._layer_init(tasks.READOUT_SCALE)]
    return dataclasses.replace(t, net=net, init=init, x_train=enc(sp["train"][0]), x_val=enc(sp["validation"][0]),
                               x_test=enc(sp["test"][0]), defaults=dict(epochs=60, lr=2e-3, batch_size=32, clip=5.0))


def state(task, params):
    x = np.moveaxis(task.x_val, 0, 1).astype(np.float32)
    tr = network_forward(task.net, params, x)
    s = tr[0].s                                    # (T, B, H)
    per_unit = s.mean(axis=(0, 1))
    v = tr[-1].v                                   # (T, B, K)
    logits = v.max(axis=0)
    return dict(acc=float(np.mean(np.argmax(logits, 1) == task.y_val)), rate=float(s.mean()),
                dead=float(np.mean(s.sum(axis=(0, 1)) == 0)), sat=float(np.mean(per_unit > 0.9)),
                latched=float(np.mean(np.argmax(v, axis=0) == 0)), logit_sd=float(logits.std(axis=0).mean()))


def fmt(d):
    return (f"acc {d['acc']:.3f}  rate {d['rate']:.3f}  dead {d['dead']:.2f}  sat {d['sat']:.2f}  "
            f"latched {d['latched']:.2f}  logit sd {d['logit_sd']:.2f}")


class _Observed(Exception):
    """Raised by the observer once the epochs to watch are done: it ends the training run."""


def run(task, seed, epochs):
    """``refsnn train``'s own loop (:func:`refsnn.training.train.train`, the task's recipe and
    schedule), watched after every batch and stopped after ``epochs`` epochs."""
    d = task.defaults
    cfg = TR.RunConfig(task="yinyang", epochs=d["epochs"], lr=d["lr"], batch_size=d["batch_size"], clip=d["clip"],
                       seed=seed, hidden=task.net.layers[0].n)
    params = network_init(task.net, np.random.default_rng([seed, 2**20]), np.float32, task.init)
    print(f"  start          {fmt(state(task, params))}", flush=True)   # train() starts from this init
    norms = []

    def watch(epoch, b, n_batches, params, grads):
        norms.append((np.linalg.norm(grads["L0.W"]), np.linalg.norm(grads["L1.W"])))
        if (b + 1) % (n_batches // 4) == 0 or b + 1 == n_batches:
            n = np.mean(norms, axis=0)
            print(f"  epoch {epoch + 1} {b + 1:>4}/{n_batches} {fmt(state(task, params))}  "
                  f"|g| W0 {n[0]:.3f} W1 {n[1]:.3f}", flush=True)
            norms.clear()
        if b + 1 == n_batches and epoch + 1 == epochs:
            raise _Observed

    with tempfile.TemporaryDirectory() as out:
        try:
            TR.train(cfg, out, progress=False, log=lambda *a: None, task=task, on_batch=watch)
        except _Observed:
            pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", choices=("rate", "latency"), default="rate")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=1)
    args = ap.parse_args()
    for seed in args.seeds:
        task = latency_recipe(seed) if args.recipe == "latency" else tasks.build_yinyang(seed)
        print(f"recipe {args.recipe}, seed {seed}", flush=True)
        run(task, seed, args.epochs)


if __name__ == "__main__":
    main()
