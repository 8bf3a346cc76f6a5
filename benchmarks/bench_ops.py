"""Operation counts of trained networks (refsnn.neurons.ops): SynOps against MACs and the ANN.

Two of the package's network kinds, trained briefly on scikit-learn's 8×8 digits (the
``digits`` extra), then counted per test sample with :mod:`refsnn.neurons.ops`:

* ``cnn``: the spiking CNN of ``benchmarks/bench_conv_digits.py`` (latency-coded digits,
  conv LIF 1 → 8 channels 3×3 padding 1, 2×2 sum pooling, a non-spiking readout),
  surrogate-gradient BPTT;
* ``lee``: a 64-100-10 Lee 2016 network with WTA (hidden μ = −0.4, output μ = −1.0) on
  Poisson event streams of the digits, trained with Lee's rule
  (:mod:`refsnn.learning.lee2016`, the constants of ``benchmarks/bench_lee2016.py``).

Printed per sample: input events, SynOps (events × fan-out, O2; accumulates where the
inputs are spikes), clock-driven MACs (O3; not defined for the event-driven Lee model),
the one-pass ANN MACs of the same layers (O4), and the ratio SynOps / ANN MACs, the
number behind seed 003's "about one fifth of the operations of the ANN" (its Fig. 6,
for MNIST with 784 inputs; here 64). This is a script: it prints numbers, asserts nothing.

    python benchmarks/bench_ops.py [--models cnn lee] [--epochs 5] [--lee-epochs 2]

Measured once (a shared 2-core machine), per test sample:

=====================================================  ========  =======  ========  =========  ===========
run                                                    accuracy  events   SynOps    ANN MACs   SynOps/ANN
=====================================================  ========  =======  ========  =========  ===========
``--models cnn --epochs 3`` (T = 20)                   81.6 %    1040.5   15 351    5 664      2.71
``--models lee --lee-epochs 1`` (100 ms, 20 k ev/s)    70.0 %    2109.5   211 969   7 400      28.6
=====================================================  ========  =======  ========  =========  ===========

(CNN: conv layer 5 586 SynOps against 87 680 clock-driven MACs, 0.136 of them; its
pooled sums reach the readout as 976.5 non-binary events. Lee: 1 999 input events ×
100 hidden neurons dominate; the WTA adds 99 deliveries per hidden spike.) On these
small inputs neither network is cheaper than the ANN of the same layers: a sample is
thousands of input events (a 64-pixel image needs 20 k events/s to drive the Lee
network, see ``bench_lee2016.py``) against 64 analog inputs for the ANN. Seed 003's
"one fifth of the ANN's operations" is not reproduced here; the event-driven saving is
only against the clock-driven MACs.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from refsnn import losses
from refsnn.learning import lee2016 as LR
from refsnn.neurons import lee2016 as LN
from refsnn.neurons import ops
from refsnn.neurons.conv import ConvLIFConfig, ConvNetwork, convnet_backward, convnet_forward, convnet_init
from refsnn.neurons.lif import LIFConfig
from refsnn.neurons.network import Network, flat_params, unflat_params
from refsnn.surrogates import surrogate
from refsnn.training import data, optim
from refsnn.training.event_streams import load_digit_images, poisson_digits
from refsnn.training.train import ALPHA, LAM, READOUT_SCALE


def report(name, counts, accuracy, seconds):
    tot = ops.total(counts)
    print(f"\n## {name}: test accuracy {100 * accuracy:.1f} % ({seconds:.0f} s of training)\n")
    print("| layer | input events | SynOps | clock-driven MACs | ANN MACs | synapses | inputs binary |")
    print("|---|---|---|---|---|---|---|")
    for c in counts:
        macs = "—" if c.macs is None else f"{c.macs:.0f}"
        print(f"| {c.layer} | {c.events:.1f} | {c.synops:.0f} | {macs} | {c.ann_macs:.0f} | {c.synapses} | {c.binary} |")
    macs = "—" if tot["macs"] is None else f"{tot['macs']:.0f}"
    print(f"| total | {tot['events']:.1f} | {tot['synops']:.0f} | {macs} | {tot['ann_macs']:.0f} | | |")
    print(f"\nSynOps / ANN MACs = {tot['synops'] / tot['ann_macs']:.2f}"
          + ("" if tot["macs"] is None else f"; SynOps / clock-driven MACs = {tot['synops'] / tot['macs']:.3f}"))


def run_cnn(epochs, steps=20, seed=0):
    sg = surrogate("sigmoid", 10.0)
    conv = ConvLIFConfig(1, 8, 8, 8, 3, 1, 1, "sum", 2, surrogate=sg, synapse=True, detach_reset=True)
    readout = LIFConfig(conv.n_out, 10, surrogate=sg, reset="none", spiking=False, synapse=True)
    net = ConvNetwork((conv,), Network((readout,)))
    params = convnet_init(net, np.random.default_rng(seed), np.float32, [dict(alpha=ALPHA, lam=LAM, w_scale=3.0)],
                          [dict(alpha=ALPHA, lam=LAM, w_scale=READOUT_SCALE)])
    X, y = data.digits(n_steps=steps, seed=seed)
    x_tr, x_te, y_tr, y_te = data.train_test_split(X, y, 0.2, seed)
    img = lambda x: x.reshape(*x.shape[:2], 1, 8, 8)              # noqa: E731
    keep = [k for k in flat_params(params) if k.rsplit(".", 1)[1] in ("W", "b")]
    opt = optim.Adam(lr=2e-3)
    state = optim.init_state(opt, {k: flat_params(params)[k] for k in keep})
    t0 = time.perf_counter()
    for epoch in range(epochs):
        for xb, yb in data.batches(x_tr, y_tr, 64, np.random.default_rng([seed, epoch])):
            tr = convnet_forward(net, params, img(xb))
            l = losses.membrane_cross_entropy(tr.dense[-1], yb, "max")
            g = convnet_backward(tr, params, [None, None], [None, l.dv], input_grad=False)
            grads, _ = optim.clip_by_global_norm({k: flat_params(g.params)[k] for k in keep}, 5.0)
            flat = flat_params(params)
            new, state = optim.step(opt, {k: flat[k] for k in keep}, grads, state)
            flat.update(new)
            params = unflat_params(flat, 2)
    seconds = time.perf_counter() - t0
    xb = np.ascontiguousarray(x_te.transpose(1, 0, 2))
    tr = convnet_forward(net, params, img(xb))
    acc = float(np.mean(np.argmax(tr.dense[-1].v.max(axis=0), axis=1) == y_te))
    report("spiking CNN (conv 8×3×3, sum pool 2×2, readout)", ops.convnet_ops(tr), acc, seconds)


def run_lee(epochs, seed=0):
    images, labels = load_digit_images()
    flat = images.reshape(len(images), -1)
    idx = np.random.default_rng(seed).permutation(len(labels))
    k = int(0.8 * len(labels))
    tr, te = idx[:k], idx[k:]
    s_tr = poisson_digits(flat[tr], 50.0, 20000.0, rng=seed + 2)
    s_te = poisson_digits(flat[te], 100.0, 20000.0, rng=seed + 3)
    cfgs = [LN.LeeConfig(tau_mp=50.0, t_ref=1.0, mu=-0.4), LN.LeeConfig(tau_mp=50.0, t_ref=1.0, mu=-1.0)]
    rng = np.random.default_rng(seed)
    params = [LR.init_layer(rng, 100, 64, 3.0), LR.init_layer(rng, 10, 100, 3.0)]
    recipe = LR.LeeRecipe(alpha=(3.0, 3.0), eta_w=0.01, batch_size=16, beta=1.0, lam=0.01, rho=1e-5)
    recipe.v_floor = [p["v_th"] * recipe.floor_ratio for p in params]
    t0 = time.perf_counter()
    for _ in range(epochs):
        params, _ = LR.train_epoch(cfgs, params, recipe, s_tr, np.eye(10)[labels[tr]], rng)
    seconds = time.perf_counter() - t0
    ev = LN.simulate(cfgs, params, s_te)
    acc = LR.accuracy(ev[-1].counts(), labels[te])
    report("Lee 2016 network 64-100-10 with WTA (event streams, 100 ms)", ops.lee_ops(cfgs, params, s_te, ev),
           acc, seconds)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", choices=("cnn", "lee"), default=["cnn", "lee"])
    ap.add_argument("--epochs", type=int, default=5, help="CNN epochs")
    ap.add_argument("--lee-epochs", type=int, default=2)
    args = ap.parse_args(argv)
    if "cnn" in args.models:
        run_cnn(args.epochs)
    if "lee" in args.models:
        run_lee(args.lee_epochs)


if __name__ == "__main__":
    main()
