"""Online learning against BPTT: peak memory and time vs T, training results, gradient alignment.

Three parts, each printing a table (this script asserts nothing):

1. **Memory and time vs T** (T = 250, 1000, 4000 by default): one gradient of a
   recurrent adaptive-LIF network (20-H-2, leaky-integrator readout, per-step MSE) with
   full BPTT, truncated BPTT (K = 50) and e-prop. Peak memory is ``tracemalloc``'s
   (NumPy's allocations; the input and target, allocated before, are not counted), as
   in ``bench_tbptt_memory.py``; time is measured in a separate run without tracing.
   In float64 by default (``--dtype``): this network's BPTT gradient explodes with T
   (its largest entry is ~3e3 at T = 250, ~5e18 at T = 1000 and ~2e75 at T = 4000), so
   in float32 network_backward overflows at T = 4000 and raises; such a row is printed
   as an overflow instead of a number.
2. **Training** with ``refsnn train``'s loop (:func:`refsnn.training.train.train`) and
   each rule on the regression task and on Randman (``small`` versions): the score
   reached and the time per epoch.
3. **Gradient alignment** on the recurrent regression task: cosine similarity and
   relative norm of the difference between e-prop's (symmetric and random feedback)
   and BPTT's gradient of the hidden layer, before and after training (trained with
   symmetric e-prop).

    python benchmarks/bench_online.py [--steps 250 1000 4000] [--hidden 64] [--batch 8] [--dtype float64] [--repeats 5]
        [--epochs-regression 60] [--epochs-randman 3] [--skip-training] [--json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import tracemalloc

import numpy as np

from refsnn.learning import eprop, rules, tbptt
from refsnn.neurons.lif import LIFConfig
from refsnn.neurons.network import Network, network_backward, network_forward, network_init
from refsnn.surrogates import surrogate
from refsnn.training import train as training
from refsnn.training.tasks import ALPHA, LAM, READOUT_SCALE


def _net(hidden):
    sg = surrogate("sigmoid", 10.0)
    return Network((LIFConfig(20, hidden, surrogate=sg, recurrent=True, adaptation=True, synapse=True,
                              detach_reset=True),
                    LIFConfig(hidden, 2, surrogate=sg, reset="none", spiking=False, synapse=True)))


def _bptt(net, params, x, y):
    T = len(x)
    trajs = network_forward(net, params, x)
    err = (trajs[-1].v - y) / (x.shape[1] * T)
    g = network_backward(trajs, params, None, [None, err])
    return g.params


def _tbptt(net, params, x, y, K):
    loss = rules._tbptt_loss(eprop.step_mse(y, 1.0 / len(x)), 2)
    return tbptt.tbptt_gradients(net, params, x, loss, K=K, O=0).grads


def _eprop(net, params, x, y):
    return eprop.eprop_gradients(net, params, x, eprop.step_mse(y, 1.0 / len(x))).grads


def memory_table(steps, hidden, batch, K, dtype=np.float64, repeats=5):
    rng = np.random.default_rng(0)
    net = _net(hidden)
    params = network_init(net, rng, dtype, [dict(alpha=ALPHA, lam=LAM, w_scale=3.0, r_scale=0.3),
                                            dict(alpha=ALPHA, lam=LAM, w_scale=READOUT_SCALE)])
    rows = []
    for T in steps:
        x = (rng.random((T, batch, 20)) < 0.05).astype(dtype)
        y = np.sin(np.linspace(0, T / 25, T))[:, None, None].repeat(batch, 1).repeat(2, 2).astype(dtype)
        methods = [("BPTT", lambda: _bptt(net, params, x, y)),
                   (f"TBPTT K={K}", lambda: _tbptt(net, params, x, y, K)),
                   ("e-prop", lambda: _eprop(net, params, x, y))]
        secs = {name: [] for name, _ in methods}
        grads, overflow = {}, {}
        for _ in range(repeats):                 # interleaved, the best of the repeats kept
            for name, fn in methods:
                if name in overflow:
                    continue
                t0 = time.perf_counter()
                try:
                    with np.errstate(all="ignore"):
                        grads[name] = fn()
                except FloatingPointError as e:  # the gradient outgrew the dtype (see the docstring)
                    overflow[name] = str(e).split(". ")[0].split(": ", 1)[-1]
                    continue
                secs[name].append(time.perf_counter() - t0)
        for name, fn in methods:
            if name in overflow:
                rows.append(dict(T=T, method=name, peak_MiB=float("nan"), seconds=float("nan"), finite=False,
                                 overflow=overflow[name]))
                continue
            g = grads[name]
            finite = all(np.all(np.isfinite(a)) for d in g for a in d.values())
            tracemalloc.start()
            tracemalloc.reset_peak()
            with np.errstate(all="ignore"):
                fn()
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            rows.append(dict(T=T, method=name, peak_MiB=peak / 2**20, seconds=min(secs[name]), finite=bool(finite)))
    return rows


def training_table(epochs_reg, epochs_rm, hidden):
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for task_name, epochs in (("regression", epochs_reg), ("randman", epochs_rm)):
            task = training.make_task(task_name, 0, hidden, small=True)
            d = task.defaults
            for rule in rules.RULES:
                cfg = training.RunConfig(task=task_name, epochs=epochs, lr=d["lr"] * (3 if task_name == "regression" else 1),
                                         batch_size=d["batch_size"], clip=d["clip"], seed=0, hidden=hidden,
                                         small=True, rule=rule)
                s = training.train(cfg, f"{tmp}/{task_name}-{rule}", progress=False, log=lambda *a: None, task=task)
                score = s.get("test_accuracy", s.get("nmse_after"))
                rows.append(dict(task=task_name, rule=rule, epochs=epochs,
                                 score_name="test accuracy" if task_name == "randman" else "NMSE",
                                 score=score, final_train_loss=s["history"]["train_loss"][-1],
                                 seconds_per_epoch=s["train_seconds"] / epochs))
    return rows


def alignment_table(hidden, epochs):
    """Alignment of symmetric and random e-prop to BPTT on the recurrent regression task."""
    task = training.make_task("regression", 0, hidden, small=True)
    net = task.net
    x = np.moveaxis(task.x_train, 0, 1).astype(np.float64)
    y = np.moveaxis(task.y_train, 0, 1).astype(np.float64)
    params = network_init(net, np.random.default_rng([0, 2**20]), np.float64, task.init)
    B = eprop.random_feedback(net, np.random.default_rng([0, 2**21]),
                              task.init[-1]["w_scale"] / np.sqrt(net.layers[0].n))

    def measure(p, when):
        ref = _bptt(net, p, x, y)
        out = []
        for fb_name, fb in (("symmetric", "symmetric"), ("random", B)):
            g = eprop.eprop_gradients(net, p, x, eprop.step_mse(y, 1.0 / len(x)), feedback=fb).grads
            hid = eprop.alignment(g[:1], ref[:1])
            out.append(dict(when=when, feedback=fb_name, cosine_hidden=hid["cosine"], rel_diff_hidden=hid["rel_diff"],
                            cosine_all=eprop.alignment(g, ref)["cosine"]))
        return out

    rows = measure(params, "before")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = training.RunConfig(task="regression", epochs=epochs, lr=3e-3, batch_size=len(task.x_train), clip=1.0,
                                 seed=0, hidden=hidden, small=True, rule="eprop")
        training.train(cfg, tmp, progress=False, log=lambda *a: None, task=task)
        trained, _, _ = training.load_checkpoint(f"{tmp}/checkpoint.npz", net)
    rows += measure([{k: v.astype(np.float64) for k, v in p.items()} for p in trained], f"after {epochs} epochs")
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, nargs="+", default=[250, 1000, 4000])
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--window", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=5, help="time each gradient this many times (interleaved); "
                    "the best is printed")
    ap.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                    help="dtype of part 1 (float32 overflows in BPTT at T = 4000)")
    ap.add_argument("--epochs-regression", type=int, default=60)
    ap.add_argument("--epochs-randman", type=int, default=3)
    ap.add_argument("--skip-training", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    if args.repeats < 1:
        ap.error(f"--repeats must be at least 1, got {args.repeats}")
    out = dict(memory=memory_table(args.steps, args.hidden, args.batch, args.window, np.dtype(args.dtype).type,
                                   args.repeats))
    if not args.skip_training:
        out["training"] = training_table(args.epochs_regression, args.epochs_randman, args.hidden)
        out["alignment"] = alignment_table(args.hidden, args.epochs_regression)
    if args.json:
        print(json.dumps(out, indent=1))
        return
    print(f"1. one gradient: recurrent adaptive LIF 20-{args.hidden}-2, batch {args.batch}, {args.dtype}")
    print(f"{'T':>6} {'method':<12} {'peak MiB':>9} {'ms':>8} {'/ BPTT':>7} {'finite':>7}   (ms: best of {args.repeats})")
    bptt_s = {r["T"]: r["seconds"] for r in out["memory"] if r["method"] == "BPTT"}
    for r in out["memory"]:
        print(f"{r['T']:6d} {r['method']:<12} {r['peak_MiB']:9.2f} {1e3 * r['seconds']:8.1f} "
              f"{r['seconds'] / bptt_s[r['T']]:7.2f} {str(r['finite']):>7}"
              + (f"  overflow: {r['overflow']}" if "overflow" in r else ""))
    base = {r["method"]: r["peak_MiB"] for r in out["memory"] if r["T"] == args.steps[0]}
    last = {r["method"]: r["peak_MiB"] for r in out["memory"] if r["T"] == args.steps[-1]}
    print(f"peak ratio T={args.steps[-1]} / T={args.steps[0]}: "
          + ", ".join(f"{m} {last[m] / base[m]:.2f}" for m in base))
    if "training" in out:
        print("\n2. training (small tasks, hidden %d)" % args.hidden)
        print(f"{'task':<11} {'rule':<6} {'epochs':>6} {'score':>14} {'train loss':>11} {'s/epoch':>8}")
        for r in out["training"]:
            print(f"{r['task']:<11} {r['rule']:<6} {r['epochs']:6d} {r['score_name'][:5] + ' ' + format(r['score'], '.4f'):>14} "
                  f"{r['final_train_loss']:11.4f} {r['seconds_per_epoch']:8.2f}")
        print("\n3. alignment with BPTT, recurrent regression task (hidden layer W, b, R; 'all' adds the readout)")
        print(f"{'when':<16} {'feedback':<10} {'cos hidden':>10} {'rel diff':>9} {'cos all':>8}")
        for r in out["alignment"]:
            print(f"{r['when']:<16} {r['feedback']:<10} {r['cosine_hidden']:10.4f} {r['rel_diff_hidden']:9.4f} "
                  f"{r['cosine_all']:8.4f}")


if __name__ == "__main__":
    main()
