"""refsnn against snnTorch and SpikingJelly on the same network, timed in one run.

What is timed: one forward pass, the spike-count cross-entropy and one backward pass
(every weight gradient) of a 100-256-10 feed-forward LIF network, batch 64, T = 100,
in float32 and float64, for

* refsnn        ``network_forward`` + ``spike_count_cross_entropy`` + ``network_backward``,
                every gradient (W, α, θ, γ), and ``refsnn (W)`` with ``wrt={"W"}``: ∂L/∂W
                only, as the peers compute it (their α, θ require no gradient);
* snnTorch      ``nn.Linear`` + ``snn.Leaky`` stepped over T, ``loss.backward()``;
* SpikingJelly  ``layer.Linear`` + ``neuron.LIFNode`` in multi-step mode;
* refsnn, preset  refsnn with the snnTorch preset's conventions (``init_spike="zero"``, a
                detached reset, shared α, θ), every gradient;
* refsnn, NumPy  refsnn with the compiled loops of the ``fast`` extra turned off (when
                numba is installed): the NumPy loops alone, the same numbers bit for bit;
* JAX lax.scan  the same network as a jitted ``lax.scan`` with ``jax.grad``, when JAX is
                installed (optional: ``pip install jax``; it changes no result, only adds a row).

All three run the same neuron: α = β = 0.9, θ = 1, a subtractive reset, the arctan
surrogate with slope 2 (snnTorch's and SpikingJelly's ``ATan(2)``), the same weights
(refsnn's ``W`` is torch ``Linear``'s ``(out, in)`` layout), the same input spikes. The
libraries differ in reset timing and H(0), so spike counts differ slightly; they are
printed, from one more call each after the timing: the timed calls compute no spike rates
(a diagnostic of this script, not part of a gradient: in refsnn a pass over the hidden
spikes, in snnTorch one `float(mean)` a step; the JAX program computes them inside its
compiled step, at no measurable cost). Runs are interleaved round-robin (one of each per round), with every BLAS,
torch and XLA thread count set to ``--threads`` (default 1) and, on Linux, the process pinned to that many
CPUs (JAX's CPU client sizes its thread pool from them, not from its flags: see ``_threads.py``), and
reported as best and median.

A ``matmul floor`` row times the five matrix products any BPTT of this network must do
(on refsnn's arrays), interleaved with the rest: no implementation can go below it. A
``memory floor`` row adds the three passes over the hidden layer's stored trajectory that
any BPTT keeping it in the dtype must make (see :func:`floors`).

It also times one training epoch (Adam, the same mini-batches of 64) of the same network
on ``--epoch-samples`` samples of input spikes in refsnn and in snnTorch.

A ``targets`` block prints the ratios issue 19 sets, each of two best times of this run.
A script, not a test: it prints numbers and asserts nothing about time.

    python benchmarks/bench_peers.py [--repeats 7] [--threads 1] [--rate 0.2] [--w-scale 1]
                                     [--epoch-samples 2000] [--dtypes float32 float64]

``--rate 0.3 --w-scale 3`` is the high-activity setting of snnTorch's own benchmark
(hidden and output rates about 0.2).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _threads import preset_threads  # noqa: E402

THREADS = preset_threads(sys.argv[1:])

import numpy as np  # noqa: E402

from refsnn import LIFConfig, Network, network_backward, network_forward, network_init, surrogate  # noqa: E402
from refsnn import losses  # noqa: E402
from refsnn.neurons.network import flat_params, unflat_params  # noqa: E402

SIZES = (100, 256, 10)
BETA, THETA, SLOPE = 0.9, 1.0, 2.0


def refsnn_net():
    sg = surrogate("arctan", SLOPE)
    return Network(tuple(LIFConfig(a, b, surrogate=sg, h0=0.0) for a, b in zip(SIZES[:-1], SIZES[1:])))


def make_weights(w_scale, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((b, a)) * w_scale / np.sqrt(a) for a, b in zip(SIZES[:-1], SIZES[1:])]


class Refsnn:
    """refsnn computing every parameter gradient (W, α, θ, γ of both layers)."""

    name = "refsnn"
    wrt = None

    def __init__(self, weights, dtype):
        self.net = refsnn_net()
        self.params = network_init(self.net, 0, dtype, [dict(alpha=BETA, theta=THETA)] * 2)
        for p, w in zip(self.params, weights):
            p["W"] = w.astype(dtype)

    def step(self, x, y, rates=False):
        trajs = network_forward(self.net, self.params, x)
        loss = losses.spike_count_cross_entropy(trajs[-1], y)
        g = network_backward(trajs, self.params, [None, loss.ds], wrt=self.wrt)
        return loss.value, [tr.s.mean() for tr in trajs] if rates else None, g.params


class RefsnnW(Refsnn):
    """refsnn computing ∂L/∂W only, as the peers do (their α, θ do not require gradients)."""

    name = "refsnn (W)"
    wrt = {"W"}


class RefsnnPreset(Refsnn):
    """refsnn with the conventions of the snnTorch preset (``refsnn.oracle.presets``,
    ``snntorch.Leaky``): s_{−1} = 0 (``init_spike="zero"``), a detached reset, H(0) = 0, one
    α and one θ shared by all neurons (0-d parameters), every gradient."""

    name = "refsnn, preset"

    def __init__(self, weights, dtype):
        sg = surrogate("arctan", SLOPE)
        self.net = Network(tuple(LIFConfig(a, b, surrogate=sg, h0=0.0, init_spike="zero", detach_reset=True)
                                 for a, b in zip(SIZES[:-1], SIZES[1:])))
        shared = dict(alpha=np.array(BETA), theta=np.array(THETA))
        self.params = network_init(self.net, 0, dtype, [shared] * 2)
        for p, w in zip(self.params, weights):
            p["W"] = w.astype(dtype)


class RefsnnNumpy(Refsnn):
    """refsnn with the compiled loops of the ``fast`` extra turned off
    (``lif_compiled.disabled()``): the NumPy loops alone, every gradient. The same
    numbers bit for bit; the row is the extra's before/after in one run."""

    name = "refsnn, NumPy"

    def step(self, x, y, rates=False):
        from refsnn.neurons import lif_compiled
        with lif_compiled.disabled():
            return super().step(x, y, rates)


class Jax:
    """The same network in JAX: each layer's LIF loop a ``lax.scan`` (the input projection
    one matrix product before it, as in refsnn), the arctan surrogate as a ``custom_jvp``,
    ``jax.grad`` of the spike-count cross-entropy with respect to both W, under ``jax.jit``
    (compiled in the warm-up round; every timed call runs the compiled function)."""

    name = "JAX lax.scan"

    def __init__(self, weights, dtype):
        import jax
        if np.dtype(dtype) == np.float64:
            jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        self.jax, self.jnp = jax, jnp
        jdt = jnp.dtype(np.dtype(dtype).name)

        @jax.custom_jvp
        def spike(x):                                   # H(v − θ), H(0) = 0
            return (x > 0).astype(x.dtype)

        @spike.defjvp
        def spike_jvp(primals, tangents):
            (x,), (dx,) = primals, tangents
            sg = (SLOPE / 2) / (1 + (np.pi / 2 * SLOPE * x) ** 2)      # arctan surrogate, slope 2
            return spike(x), sg * dx

        def layer(I):                                   # v_t = β v_{t−1} + I_t − s_{t−1} θ; s_t = H(v_t − θ)
            def step(carry, I_t):
                v, s = carry
                v = BETA * v + I_t - s * THETA
                s = spike(v - THETA)
                return (v, s), s
            z = jnp.zeros(I.shape[1:], I.dtype)
            return jax.lax.scan(step, (z, z), I)[1]

        def loss(Ws, x, y):
            h, rates = x, []
            for W in Ws:
                T, B, _ = h.shape
                h = layer((h.reshape(T * B, -1) @ W.T).reshape(T, B, -1))
                rates.append(h.mean())
            logits = h.sum(0)
            return -(jax.nn.log_softmax(logits)[jnp.arange(logits.shape[0]), y]).sum(), rates

        self.grad = jax.jit(jax.value_and_grad(loss, has_aux=True))
        self.Ws = [jnp.asarray(w, jdt) for w in weights]
        self.jdt = jdt

    def step(self, x, y, rates=False):       # (the rates are part of the compiled program: ~free)
        (val, rates), g = self.grad(self.Ws, self.jnp.asarray(x, self.jdt), self.jnp.asarray(y))
        for a in g:
            a.block_until_ready()
        return float(val), [float(r) for r in rates], g


def _torch():
    import torch

    torch.set_num_threads(THREADS)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    return torch


class SnnTorch:
    name = "snnTorch"

    def __init__(self, weights, dtype):
        torch = self.torch = _torch()
        import snntorch as snn
        from snntorch import surrogate as ssur

        tdt = getattr(torch, np.dtype(dtype).name)
        self.fcs = [torch.nn.Linear(w.shape[1], w.shape[0], bias=False).to(tdt) for w in weights]
        with torch.no_grad():
            for fc, w in zip(self.fcs, weights):
                fc.weight.copy_(torch.as_tensor(w, dtype=tdt))
        self.lifs = [snn.Leaky(beta=torch.tensor(BETA, dtype=tdt), threshold=THETA,
                               spike_grad=ssur.atan(alpha=SLOPE)) for _ in weights]
        self.tdt = tdt

    def forward(self, x, rates=False):
        mems = [lif.init_leaky() for lif in self.lifs]
        out, sums = [], [0.0, 0.0]
        for t in range(x.shape[0]):
            h = x[t]
            for i, (fc, lif) in enumerate(zip(self.fcs, self.lifs)):
                h, mems[i] = lif(fc(h), mems[i])
                h = h.to(self.tdt)   # snnTorch's stock surrogate returns float32 spikes
                if rates:
                    sums[i] += float(h.detach().mean())
            out.append(h)
        return self.torch.stack(out), [r / x.shape[0] for r in sums] if rates else None

    def step(self, x, y, rates=False):
        torch = self.torch
        xt = torch.as_tensor(x, dtype=self.tdt)
        yt = torch.as_tensor(y)
        for fc in self.fcs:
            fc.weight.grad = None
        spk, rates = self.forward(xt, rates)
        loss = torch.nn.functional.cross_entropy(spk.sum(0), yt, reduction="sum")
        loss.backward()
        return loss.item(), rates, [fc.weight.grad for fc in self.fcs]


class SpikingJelly:
    name = "SpikingJelly"

    def __init__(self, weights, dtype):
        torch = self.torch = _torch()
        from spikingjelly.activation_based import functional, layer, neuron, surrogate as jsur

        tdt = getattr(torch, np.dtype(dtype).name)
        self.functional = functional
        mods = []
        for w in weights:
            fc = layer.Linear(w.shape[1], w.shape[0], bias=False, step_mode="m")
            with torch.no_grad():
                fc.weight.copy_(torch.as_tensor(w))
            # LIFNode with decay_input=False, v_reset=None: H = (1 − 1/τ) V + X, soft reset θ.
            mods += [fc, neuron.LIFNode(tau=1.0 / (1.0 - BETA), decay_input=False, v_threshold=THETA,
                                        v_reset=None, surrogate_function=jsur.ATan(alpha=SLOPE),
                                        step_mode="m")]
        self.model = torch.nn.Sequential(*mods).to(tdt)
        self.tdt = tdt

    def step(self, x, y, rates=False):
        torch = self.torch
        xt = torch.as_tensor(x, dtype=self.tdt)
        yt = torch.as_tensor(y)
        self.model.zero_grad(set_to_none=True)
        self.functional.reset_net(self.model)
        h, out = xt, []
        for m in self.model:
            h = m(h)
            if rates and not isinstance(m, torch.nn.Linear) and "Linear" not in type(m).__name__:
                out.append(float(h.detach().mean()))
        rates = out if rates else None
        loss = torch.nn.functional.cross_entropy(h.sum(0), yt, reduction="sum")
        loss.backward()
        return loss.item(), rates, [self.model[0].weight.grad, self.model[2].weight.grad]


def floors(ref, x, y):
    """Two floors under every system's time, on arrays of refsnn's shapes and values.

    ``matmul floor``: the five matrix products any BPTT of this network must do
    (bench_fwd_bwd.py). ``memory floor``: those products plus the three passes over the
    hidden layer's (T, B, 256) arrays that any BPTT storing its trajectory in the dtype
    must stream at least once: write v_t and s_t from I_t (forward), and read v_t (for
    σ') and ∂L/∂s_t and write δI_t (backward) — here as ``v ← I``, ``s ← v`` and
    ``δI ← v·∂L/∂s``, which compute nothing a neuron needs but move the same bytes."""
    trajs = network_forward(ref.net, ref.params, x)
    loss = losses.spike_count_cross_entropy(trajs[-1], y)
    g = network_backward(trajs, ref.params, [None, loss.ds])
    T, B, _ = x.shape
    o = {"x": x.reshape(T * B, -1), "s1": trajs[0].s.reshape(T * B, -1),
         "dI1": g.layers[0].adjoints["dc"].reshape(T * B, -1), "dI2": g.layers[1].adjoints["dc"].reshape(T * B, -1),
         "W1": ref.params[0]["W"], "W2": ref.params[1]["W"]}
    o = {k: np.ascontiguousarray(v) for k, v in o.items()}

    def products():
        o["x"] @ o["W1"].T, o["s1"] @ o["W2"].T, o["dI2"].T @ o["s1"], o["dI2"] @ o["W2"], o["dI1"].T @ o["x"]

    shape = (T * B, SIZES[1])
    I, a_s = np.ascontiguousarray(trajs[0].I_ff.reshape(shape)), g.layers[0].adjoints["ds"].reshape(shape).copy()
    v, s1, dI = np.empty(shape, x.dtype), np.empty(shape, x.dtype), np.empty(shape, x.dtype)

    def memory():
        products()
        np.copyto(v, I)
        np.copyto(s1, v)
        np.multiply(v, a_s, out=dI)
    return {"matmul floor": products, "memory floor": memory}


def interleaved(fns, repeats):
    for fn in fns.values():      # warm-up
        fn()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
    return times


def epoch_times(args, dtype):
    """One Adam epoch in refsnn and snnTorch over the same mini-batches of input spikes."""
    from refsnn import optim

    rng = np.random.default_rng(0)
    n = args.epoch_samples
    X = (rng.random((100, n, SIZES[0])) < args.rate).astype(dtype)  # spike inputs of the same shape
    y = rng.integers(0, SIZES[-1], n)
    weights = make_weights(args.w_scale)
    out = {}

    ref = RefsnnW(weights, dtype)          # W trained, as in snnTorch below
    adam = optim.Adam(lr=1e-3)

    def weights_of(params):
        return {k: v for k, v in flat_params(params).items() if k.endswith(".W")}

    state = optim.init_state(adam, weights_of(ref.params))

    def run_ref():
        nonlocal state
        for i in range(0, n, 64):
            _, _, grads = ref.step(X[:, i:i + 64], y[i:i + 64])
            new, state = optim.step(adam, weights_of(ref.params), flat_params(grads), state)
            ref.params = unflat_params({**flat_params(ref.params), **new}, len(ref.params))

    try:
        snt = SnnTorch(weights, dtype)
        opt = snt.torch.optim.Adam([fc.weight for fc in snt.fcs], lr=1e-3)

        def run_snt():
            for i in range(0, n, 64):
                snt.step(X[:, i:i + 64], y[i:i + 64])
                opt.step()
    except ImportError:
        run_snt = None
    t = time.perf_counter()
    run_ref()
    out["refsnn"] = time.perf_counter() - t
    if run_snt is not None:
        t = time.perf_counter()
        run_snt()
        out["snnTorch"] = time.perf_counter() - t
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--rate", type=float, default=0.2, help="Bernoulli rate of the input spikes")
    ap.add_argument("--w-scale", type=float, default=1.0, help="weights ~ N(0, w_scale²/fan_in)")
    ap.add_argument("--epoch-samples", type=int, default=2000)
    ap.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    args = ap.parse_args(argv)
    if args.repeats < 1 or args.batch < 1 or args.steps < 1 or not 0 <= args.rate <= 1 or args.epoch_samples < 0:
        ap.error("--repeats, --batch, --steps must be >= 1, --rate in [0, 1], --epoch-samples >= 0")
    pinned = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "all"
    print(f"threads {THREADS}, pinned to CPUs {pinned}; load average before the run: "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"network {'-'.join(map(str, SIZES))}, batch {args.batch}, T = {args.steps}, input rate {args.rate}, "
          f"w_scale {args.w_scale}; best / median of {args.repeats} interleaved rounds, ms")
    rng = np.random.default_rng(0)
    weights = make_weights(args.w_scale)
    for dtype in args.dtypes:
        x = (rng.random((args.steps, args.batch, SIZES[0])) < args.rate).astype(dtype)
        y = rng.integers(0, SIZES[-1], args.batch)
        systems = [Refsnn(weights, dtype), RefsnnW(weights, dtype), RefsnnPreset(weights, dtype)]
        from refsnn.neurons import lif_compiled
        if lif_compiled.available():
            systems.append(RefsnnNumpy(weights, dtype))
        else:
            print("  (the compiled loops are off: numba is not installed (pip install -e '.[fast]') "
                  "or REFSNN_COMPILED=0; refsnn runs its NumPy loops)")
        for cls in (SnnTorch, SpikingJelly, Jax):
            try:
                systems.append(cls(weights, dtype))
            except ImportError as exc:
                extra = "pip install jax (optional)" if cls is Jax else "see the README's peer install step"
                print(f"  ({cls.name} not installed: {exc}; {extra})")
        fns = {s.name: (lambda s=s: s.step(x, y)) for s in systems}
        fns.update(floors(systems[0], x, y))
        times = interleaved(fns, args.repeats)
        best_ref = min(times["refsnn"])
        print(f"\n{dtype}:")
        print(f"  {'system':<13} {'best':>8} {'median':>8} {'ratio to refsnn':>16}  spike rates (hidden, out)")
        for s in systems:
            _, rates, _ = s.step(x, y, rates=True)     # (the timed calls compute no rates)
            b, m = min(times[s.name]), statistics.median(times[s.name])
            print(f"  {s.name:<13} {b * 1e3:8.1f} {m * 1e3:8.1f} {b / best_ref:16.2f}  "
                  f"{rates[0]:.3f}, {rates[1]:.3f}")
        for name, what in (("matmul floor", "the 5 products"),
                           ("memory floor", "the 5 products + 3 passes over the hidden trajectory")):
            b, m = min(times[name]), statistics.median(times[name])
            print(f"  {name:<13} {b * 1e3:8.1f} {m * 1e3:8.1f} {b / best_ref:16.2f}  ({what})")
        fb, fmem = min(times["matmul floor"]), min(times["memory floor"])
        print("  targets (ratios of best times in this run):")

        def target(label, num, den, bound):
            r = min(times[num]) / min(times[den]) if den in times else None
            if r is not None:
                print(f"    {label:<44} {r:5.2f}  (target <= {bound:.2f}: {'met' if r <= bound else 'missed'})")

        target("refsnn, preset / refsnn", "refsnn, preset", "refsnn", 1.1)
        target("refsnn / memory floor", "refsnn", "memory floor", 1.3)
        print(f"    {'refsnn / matmul floor (the five products)':<44} {min(times['refsnn']) / fb:5.2f}  (no target)")
        target("refsnn / JAX lax.scan", "refsnn", "JAX lax.scan", 1.0)
        target("refsnn (W) / JAX lax.scan (both ∂L/∂W only)", "refsnn (W)", "JAX lax.scan", 1.0)
        target("refsnn / snnTorch", "refsnn", "snnTorch", 1 / 3)
        if "refsnn, NumPy" in times:
            print(f"    {'refsnn / refsnn, NumPy loops (the extra)':<44} "
                  f"{min(times['refsnn']) / min(times['refsnn, NumPy']):5.2f}  (no target)")
        if "snnTorch" in times:
            snt = min(times["snnTorch"])
            for name in ("refsnn", "refsnn (W)"):
                r = min(times[name])
                print(f"  {name} / snnTorch = {r / snt:.2f} (target <= 0.33: {'met' if r <= snt / 3 else 'missed'})")
            print(f"  the floor alone is {fb / snt:.2f} of snnTorch: the target leaves "
                  f"{max(snt / 3 - fb, 0) * 1e3:.1f} ms for everything but the five products; "
                  f"the memory floor is {fmem / snt:.2f} of snnTorch")
    if args.epoch_samples:
        for dtype in args.dtypes:
            ep = epoch_times(args, dtype)
            line = ", ".join(f"{k} {v:.2f} s" for k, v in ep.items())
            ratio = f" (snnTorch / refsnn = {ep['snnTorch'] / ep['refsnn']:.2f})" if "snnTorch" in ep else ""
            print(f"\none training epoch, {args.epoch_samples} samples, batch 64, {dtype}: {line}{ratio}")


if __name__ == "__main__":
    main()
