"""A small spiking CNN on scikit-learn's 8×8 digits, beside refsnn's feed-forward network.

Both networks see the same latency-coded images (``refsnn.data.digits``: every pixel
spikes once, brighter pixels earlier, T steps), the same 80/20 split, the same
readout (a non-spiking leaky integrator with a synapse, cross-entropy of the max-over-time
membrane, as ``refsnn train``), Adam with a cosine learning-rate schedule and global-norm
clipping, and the same number of epochs:

* CNN: conv LIF 1 → K channels, 3×3 kernel, stride 1, padding 1 (8×8 maps), sum pooling
  2×2 (K×4×4), dense readout to 10;
* FF: dense LIF 64 → H, dense readout to 10 (the network of ``refsnn train --task digits``).

Target (issue 8): ≥ 97 % test accuracy for the CNN. This is a script: it prints numbers
and asserts nothing. Needs the ``digits`` extra (scikit-learn).

    python benchmarks/bench_conv_digits.py [--epochs 20] [--steps 20] [--channels 8] [--hidden 128]

Measured once with the defaults (seed 0, 1438 train / 359 test, a shared 2-core machine):
CNN 98.05 % test (1370 trainable weights, 423 s), FF 97.21 % test (9610 weights, 140 s).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from refsnn import losses
from refsnn.neurons.conv import ConvLIFConfig, ConvNetwork, convnet_backward, convnet_forward, convnet_init
from refsnn.neurons.lif import LIFConfig
from refsnn.neurons.network import Network, flat_params, network_backward, network_forward, network_init, \
    unflat_params
from refsnn.surrogates import surrogate
from refsnn.training import data, optim
from refsnn.training.train import ALPHA, LAM, READOUT_SCALE

SG = surrogate("sigmoid", 10.0)


def build(kind, channels, hidden):
    readout_kw = dict(alpha=ALPHA, lam=LAM, w_scale=READOUT_SCALE)
    if kind == "cnn":
        conv = ConvLIFConfig(1, 8, 8, channels, 3, 1, 1, "sum", 2, surrogate=SG, synapse=True, detach_reset=True)
        readout = LIFConfig(conv.n_out, 10, surrogate=SG, reset="none", spiking=False, synapse=True)
        net = ConvNetwork((conv,), Network((readout,)))
        init = lambda rng: convnet_init(net, rng, np.float32, [dict(alpha=ALPHA, lam=LAM, w_scale=3.0)],  # noqa: E731
                                        [readout_kw])
        fwd = lambda p, x: convnet_forward(net, p, x.reshape(*x.shape[:2], 1, 8, 8))          # noqa: E731
        bwd = lambda tr, p, ds, dv: convnet_backward(tr, p, ds, dv, input_grad=False)          # noqa: E731
        out = lambda tr: tr.dense[-1]                                                          # noqa: E731
        hid = lambda tr: tr.convs[0].s                                                         # noqa: E731
    else:
        hidden_cfg = LIFConfig(64, hidden, surrogate=SG, synapse=True, detach_reset=True)
        readout = LIFConfig(hidden, 10, surrogate=SG, reset="none", spiking=False, synapse=True)
        net = Network((hidden_cfg, readout))
        init = lambda rng: network_init(net, rng, np.float32, [dict(alpha=ALPHA, lam=LAM, w_scale=3.0),  # noqa: E731
                                                               readout_kw])
        fwd = lambda p, x: network_forward(net, p, x)                                         # noqa: E731
        bwd = network_backward
        out = lambda tr: tr[-1]                                                                # noqa: E731
        hid = lambda tr: tr[0].s                                                               # noqa: E731
    return init, fwd, bwd, out, hid


def run(kind, x_tr, y_tr, x_te, y_te, epochs, lr, batch, seed, channels, hidden):
    init, fwd, bwd, out, hid = build(kind, channels, hidden)
    params = init(np.random.default_rng([seed, 2**20]))
    n_layers = len(params)
    keep = lambda k: k.rsplit(".", 1)[1] in ("W", "b")     # noqa: E731 (as refsnn train)
    opt_state = optim.init_state(optim.Adam(lr=lr), {k: v for k, v in flat_params(params).items() if keep(k)})
    n_batches = int(np.ceil(len(x_tr) / batch))
    total = epochs * n_batches
    start = time.perf_counter()
    history = []
    for epoch in range(epochs):
        for b, (xb, yb) in enumerate(data.batches(x_tr, y_tr, batch, np.random.default_rng([seed, epoch]))):
            trajs = fwd(params, xb)
            l = losses.membrane_cross_entropy(out(trajs), yb, "max")
            g = bwd(trajs, params, [None] * n_layers, [None] * (n_layers - 1) + [l.dv])
            grads = {k: v for k, v in flat_params(g.params).items() if keep(k)}
            grads, _ = optim.clip_by_global_norm(grads, 5.0)
            step = epoch * n_batches + b
            lr_t = lr * 0.5 * (1 + np.cos(np.pi * step / total))
            flat = flat_params(params)
            new, opt_state = optim.step(optim.Adam(lr=lr_t), {k: flat[k] for k in grads}, grads, opt_state)
            flat.update(new)
            params = unflat_params(flat, n_layers)
        history.append(accuracy(fwd, out, hid, params, x_te, y_te)[0])
    elapsed = time.perf_counter() - start
    acc_te, rate = accuracy(fwd, out, hid, params, x_te, y_te)
    acc_tr, _ = accuracy(fwd, out, hid, params, x_tr, y_tr)
    n_params = sum(v.size for k, v in flat_params(params).items() if keep(k))
    return dict(model=kind, epochs=epochs, test_accuracy=round(acc_te, 4), train_accuracy=round(acc_tr, 4),
                best_epoch_test=round(max(history), 4), trainable_weights=int(n_params),
                hidden_spikes_per_step_per_neuron=round(rate, 4), train_seconds=round(elapsed, 1))


def accuracy(fwd, out, hid, params, X, y, batch=256):
    correct, rate, n = 0, 0.0, 0
    for xb, yb in data.batches(X, y, batch, shuffle=False):
        trajs = fwd(params, xb)
        correct += int(np.sum(np.argmax(out(trajs).v.max(axis=0), axis=1) == yb))
        rate += float(hid(trajs).mean()) * len(yb)
        n += len(yb)
    return correct / n, rate / n


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--channels", type=int, default=8)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models", nargs="+", choices=("cnn", "ff"), default=["cnn", "ff"])
    args = ap.parse_args()
    X, y = data.digits(n_steps=args.steps, seed=args.seed)
    x_tr, x_te, y_tr, y_te = data.train_test_split(X, y, 0.2, args.seed)
    for kind in args.models:
        row = run(kind, x_tr, y_tr, x_te, y_te, args.epochs, args.lr, args.batch, args.seed, args.channels,
                  args.hidden)
        row.update(steps=args.steps, n_train=len(x_tr), n_test=len(x_te))
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
