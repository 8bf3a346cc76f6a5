"""Run the real peer libraries in float64 on a small network (needs torch and the peers).

Used by ``tests/test_peers.py``, ``scripts/make_oracle_fixture.py`` and the README's
example. Every function returns a :class:`PeerResult`: the input, the per-layer peer
parameters (named as :func:`refsnn.oracle.presets.build` takes them), the last layer's
spike and membrane records, the probe loss and its gradients in the peer's names.

The loss is the linear probe ``L = Σ G_s·S + Σ G_v·V`` on the last layer's records, so
every record entry has a nonzero upstream gradient. The peers' float32 traps are kept out
(docs/presets.md, "float32 traps"): snnTorch's stock surrogates return ``(x > 0).float()``,
so :func:`float64_spike_grad` subclasses them with a forward that keeps the input's dtype
(the backward is snnTorch's own); ``beta``/``threshold`` buffers, SpikingJelly's ``w`` and
Norse's ``LIFParameters`` are built as float64 tensors; modules are cast with ``.double()``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["PeerResult", "available", "float64_spike_grad", "run_peer", "PEER_RUNNERS"]


def available(module):
    """``None`` if ``module`` imports, else the reason it does not (for pytest skips)."""
    import importlib

    try:
        importlib.import_module(module)
    except Exception as exc:  # ImportError, or a broken optional dependency
        return f"{module} is not importable ({type(exc).__name__}: {exc}); install the peers with scripts/install_peers.sh"
    return None


@dataclass
class PeerResult:
    preset: str
    kwargs: dict
    layers: list          # per-layer peer parameters (numpy float64)
    x: np.ndarray
    spikes: np.ndarray    # last layer (T, B, K)
    membranes: np.ndarray
    loss: float
    grads: dict           # "<layer>.<name>" -> gradient, and "x"
    probe_s: np.ndarray
    probe_v: np.ndarray


def float64_spike_grad(kind, value):
    """snnTorch's atan/fast_sigmoid/sigmoid with a forward that keeps the input dtype (backward unchanged)."""
    from snntorch import surrogate as sgm

    base = {"atan": sgm.ATan, "fast_sigmoid": sgm.FastSigmoid, "sigmoid": sgm.Sigmoid}[kind]

    class Keep(base):
        @staticmethod
        def forward(ctx, input_, a):
            return base.forward(ctx, input_, a).to(input_.dtype)

    return lambda x: Keep.apply(x, value)


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64)


def _linear(torch, n_in, n_out, gain):
    fc = torch.nn.Linear(n_in, n_out).double()
    with torch.no_grad():
        fc.weight.mul_(gain)
        fc.bias.mul_(gain)
    return fc


def _setup(seed, T, B, sizes, x_scale):
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(0.3, 1.0, (T, B, sizes[0])) * x_scale
    return torch, rng, x


def _finish(torch, preset, kwargs, layers, x, xt, spk, mem, rng, named_params):
    G_s = rng.normal(size=tuple(spk.shape))
    G_v = rng.normal(size=tuple(mem.shape))
    loss = (spk * torch.as_tensor(G_s)).sum() + (mem * torch.as_tensor(G_v)).sum()
    loss.backward()
    grads = {name: _np(p.grad) if p.grad is not None else np.zeros(tuple(p.shape)) for name, p in named_params}
    grads["x"] = _np(xt.grad)
    return PeerResult(preset, kwargs, layers, x, _np(spk), _np(mem), float(loss.detach()), grads, G_s, G_v)


def run_snntorch(preset="snntorch.Leaky", seed=0, T=10, B=3, sizes=(4, 6, 3), x_scale=1.0, w_gain=3.0, **kw):
    import snntorch as snn
    torch, rng, x = _setup(seed, T, B, sizes, x_scale)
    sgname = kw.get("spike_grad", "atan")
    sgval = kw.get("alpha", 2.0) if sgname == "atan" else kw.get("slope", 25.0)
    spike_grad = float64_spike_grad(sgname, sgval)
    common = dict(threshold=torch.tensor(kw.get("threshold", 1.0), dtype=torch.float64),
                  reset_mechanism=kw.get("reset_mechanism", "subtract"), spike_grad=spike_grad,
                  learn_beta=True, learn_threshold=True, reset_delay=kw.get("reset_delay", True))
    beta = torch.tensor(kw.get("beta", 0.9), dtype=torch.float64)
    fcs, neurons = [], []
    for l in range(len(sizes) - 1):
        fcs.append(_linear(torch, sizes[l], sizes[l + 1], w_gain))
        if preset == "snntorch.Leaky":
            neurons.append(snn.Leaky(beta=beta.clone(), **common))
        elif preset == "snntorch.Synaptic":
            neurons.append(snn.Synaptic(alpha=torch.tensor(kw.get("alpha_syn", 0.8), dtype=torch.float64),
                                        beta=beta.clone(), learn_alpha=True, **common))
        else:
            a2a = kw.get("all_to_all", True)
            extra = dict(linear_features=sizes[l + 1]) if a2a else dict(V=torch.tensor(kw.get("V", 0.5),
                                                                                      dtype=torch.float64),
                                                                       learn_recurrent=True)
            neurons.append(snn.RLeaky(beta=beta.clone(), all_to_all=a2a, **extra, **common).double())
    xt = torch.tensor(x, requires_grad=True)
    inp = xt
    for fc, nrn in zip(fcs, neurons):
        state = None
        spk_rec, mem_rec = [], []
        if preset == "snntorch.Leaky":
            mem = nrn.reset_mem()
        for t in range(T):
            cur = fc(inp[t])
            if preset == "snntorch.Leaky":
                spk, mem = nrn(cur, mem) if t else nrn(cur)
            elif preset == "snntorch.Synaptic":
                if t == 0:
                    spk, syn, mem = nrn(cur)
                else:
                    spk, syn, mem = nrn(cur, syn, mem)
            else:
                if t == 0:
                    spk, mem = nrn(cur)
                else:
                    spk, mem = nrn(cur, spk, mem)
            spk_rec.append(spk)
            mem_rec.append(mem)
        inp = torch.stack(spk_rec)
        mem_out = torch.stack(mem_rec)
    named, layers = [], []
    for l, (fc, nrn) in enumerate(zip(fcs, neurons)):
        d = {"weight": _np(fc.weight), "bias": _np(fc.bias), "beta": _np(nrn.beta), "threshold": _np(nrn.threshold)}
        named += [(f"{l}.weight", fc.weight), (f"{l}.bias", fc.bias), (f"{l}.beta", nrn.beta),
                  (f"{l}.threshold", nrn.threshold)]
        if preset == "snntorch.Synaptic":
            d["alpha"] = _np(nrn.alpha)
            named.append((f"{l}.alpha", nrn.alpha))
        if preset == "snntorch.RLeaky":
            if kw.get("all_to_all", True):
                d["recurrent.weight"], d["recurrent.bias"] = _np(nrn.recurrent.weight), _np(nrn.recurrent.bias)
                named += [(f"{l}.recurrent.weight", nrn.recurrent.weight), (f"{l}.recurrent.bias", nrn.recurrent.bias)]
            else:
                d["V"] = _np(nrn.V)
                named.append((f"{l}.V", nrn.V))
        layers.append(d)
    kwargs = {k: v for k, v in kw.items() if k not in ("beta", "threshold", "alpha_syn", "V")}
    return _finish(torch, preset, kwargs, layers, x, xt, inp, mem_out, rng, named)


def run_spikingjelly(preset="spikingjelly.LIFNode", seed=0, T=10, B=3, sizes=(4, 6, 3), x_scale=1.0, w_gain=3.0, **kw):
    from spikingjelly.activation_based import neuron, surrogate as sjs
    torch, rng, x = _setup(seed, T, B, sizes, x_scale)
    sgname, a = kw.get("surrogate_function", "Sigmoid"), kw.get("alpha")
    sg = getattr(sjs, sgname)() if a is None else getattr(sjs, sgname)(alpha=a)   # None: SpikingJelly's default
    common = dict(v_threshold=kw.get("v_threshold", 1.0), v_reset=kw.get("v_reset", 0.0),
                  detach_reset=kw.get("detach_reset", False),
                  surrogate_function=sg, step_mode="m", store_v_seq=True)
    fcs, nodes = [], []
    for l in range(len(sizes) - 1):
        fcs.append(_linear(torch, sizes[l], sizes[l + 1], w_gain))
        if preset == "spikingjelly.LIFNode":
            node = neuron.LIFNode(tau=kw.get("tau", 2.0), decay_input=kw.get("decay_input", True), **common)
        elif preset == "spikingjelly.ParametricLIFNode":
            node = neuron.ParametricLIFNode(init_tau=kw.get("init_tau", 2.0), decay_input=kw.get("decay_input", True),
                                            **common)
        else:
            node = neuron.IFNode(**common)
        nodes.append(node.double())
    xt = torch.tensor(x, requires_grad=True)
    inp = xt
    for fc, node in zip(fcs, nodes):
        inp = node(fc(inp))
    mem = nodes[-1].v_seq
    named, layers = [], []
    for l, (fc, node) in enumerate(zip(fcs, nodes)):
        d = {"weight": _np(fc.weight), "bias": _np(fc.bias)}
        named += [(f"{l}.weight", fc.weight), (f"{l}.bias", fc.bias)]
        if preset == "spikingjelly.ParametricLIFNode":
            d["w"] = _np(node.w)
            named.append((f"{l}.w", node.w))
        layers.append(d)
    return _finish(torch, preset, dict(kw), layers, x, xt, inp, mem, rng, named)


def run_norse(preset="norse.LIFCell", seed=0, T=10, B=3, sizes=None, x_scale=1.0, w_gain=3.0, **kw):
    import norse.torch as nt
    from norse.torch.functional.lif import LIFParameters
    from norse.torch.functional.lif_box import LIFBoxParameters
    from norse.torch.functional.lsnn import LSNNParameters
    one_lsnn = preset == "norse.LSNNCell" and sizes is None     # LSNNCell: one layer unless sizes say more
    sizes = (4, 6, 3) if sizes is None else tuple(sizes)
    torch, rng, x = _setup(seed, T, B, sizes, x_scale)
    f64 = lambda v: torch.tensor(float(v), dtype=torch.float64, requires_grad=True)  # noqa: E731
    dt = kw.get("dt", 0.001)
    vals = dict(tau_mem_inv=kw.get("tau_mem_inv", 100.0), v_th=kw.get("v_th", 1.0), v_reset=kw.get("v_reset", 0.0))
    if preset != "norse.LIFBoxCell":
        vals["tau_syn_inv"] = kw.get("tau_syn_inv", 200.0)
    if preset in ("norse.LSNNCell", "norse.LSNNRecurrentCell"):
        vals["tau_adapt_inv"] = kw.get("tau_adapt_inv", 1.0 / 800)
        vals["beta"] = kw.get("beta", 1.8)
        if one_lsnn:
            sizes = sizes[:2]
    cells, fcs, ps = [], [], []
    for l in range(len(sizes) - 1):
        pt = {k: f64(v) for k, v in vals.items()}
        if preset == "norse.LIFBoxCell":
            p = LIFBoxParameters(v_leak=torch.tensor(0.0, dtype=torch.float64), **pt)
        elif preset in ("norse.LSNNCell", "norse.LSNNRecurrentCell"):
            p = LSNNParameters(v_leak=torch.tensor(0.0, dtype=torch.float64), alpha=100.0, **pt)
        else:
            p = LIFParameters(v_leak=torch.tensor(0.0, dtype=torch.float64), alpha=torch.tensor(100.0), **pt)
        ps.append(pt)
        if preset == "norse.LIFRecurrentCell":
            cells.append(nt.LIFRecurrentCell(sizes[l], sizes[l + 1], p=p, dt=dt).double())
            fcs.append(None)
        elif preset == "norse.LSNNRecurrentCell":
            cells.append(nt.LSNNRecurrentCell(sizes[l], sizes[l + 1], p=p, dt=dt,
                                              autapses=kw.get("autapses", False)).double())
            fcs.append(None)
        else:
            cls = {"norse.LIFBoxCell": nt.LIFBoxCell, "norse.LSNNCell": nt.LSNNCell}.get(preset, nt.LIFCell)
            cells.append(cls(p=p, dt=dt))
            fcs.append(_linear(torch, sizes[l], sizes[l + 1], w_gain))
    xt = torch.tensor(x, requires_grad=True)
    inp = xt
    for fc, cell in zip(fcs, cells):
        state, zs, vs = None, [], []
        for t in range(T):
            z, state = cell(fc(inp[t]) if fc is not None else inp[t], state)
            zs.append(z)
            vs.append(state.v)
        inp = torch.stack(zs)
        mem = torch.stack(vs)
    named, layers = [], []
    for l, (fc, cell, pt) in enumerate(zip(fcs, cells, ps)):
        if fc is None:
            d = {"input_weights": _np(cell.input_weights), "recurrent_weights": _np(cell.recurrent_weights)}
            named += [(f"{l}.input_weights", cell.input_weights), (f"{l}.recurrent_weights", cell.recurrent_weights)]
        else:
            d = {"weight": _np(fc.weight), "bias": _np(fc.bias)}
            named += [(f"{l}.weight", fc.weight), (f"{l}.bias", fc.bias)]
        for k, v in pt.items():
            d[k] = _np(v)
            named.append((f"{l}.{k}", v))
        layers.append(d)
    kwargs = {k: v for k, v in kw.items() if k not in vals}
    return _finish(torch, preset, kwargs, layers, x, xt, inp, mem, rng, named)


PEER_RUNNERS = {"snntorch": run_snntorch, "spikingjelly": run_spikingjelly, "norse": run_norse}


def run_peer(preset, **kw):
    """Run ``preset``'s real library (see the module docstring)."""
    return PEER_RUNNERS[preset.split(".")[0]](preset, **kw)
