"""Every preset against the real peer library, in float64.

Spikes must be identical, and the last layer's membrane record and every gradient (in the
peer's names, through the preset's parameter map) must agree to 1e-12 relative
(:func:`refsnn.oracle.compare.rel_error`, element-wise; entries below 1e-3 of an array's
largest are compared absolutely, to 1e-15 of it: summation order alone moves every entry by a
few ulp of the largest, about 1e-16 of it, so a smaller floor would measure rounding, not a
convention). The peers run through
:mod:`refsnn.oracle.peers`, which keeps their float32 traps out; the traps themselves are
pinned by the tests at the end. e-prop and the SpyTorch tutorial have no library: they are
checked against torch autograd on their published equations, written out below.

Install the peers with ``scripts/install_peers.sh`` (the README's test command does it);
without them these tests skip and say why.
"""

import math

import numpy as np
import pytest

from refsnn.oracle import peers, presets as P
from refsnn.oracle.compare import rel_error

TOL = 1e-12
FLOOR = 1e-3

torch = pytest.importorskip("torch", reason="torch is not installed (pip install -e '.[peer]')")


def _skip_unless(module):
    reason = peers.available(module)
    if reason:
        pytest.skip(reason)


# (preset, runner options): each chosen so that both layers spike, some but not always.
CASES = [
    ("snntorch.Leaky", dict(beta=0.9)),
    ("snntorch.Leaky", dict(beta=0.9, reset_mechanism="zero")),
    ("snntorch.Leaky", dict(beta=0.9, reset_mechanism="none")),
    ("snntorch.Leaky", dict(beta=0.8, spike_grad="fast_sigmoid", slope=5.0)),
    ("snntorch.Leaky", dict(beta=0.9, reset_mechanism="zero", reset_delay=False, spike_grad="fast_sigmoid", slope=5.0)),
    ("snntorch.Leaky", dict(beta=0.9, reset_delay=False, x_scale=0.3, w_gain=1.5)),
    ("snntorch.Synaptic", dict(beta=0.9, alpha_syn=0.7)),
    ("snntorch.Synaptic", dict(beta=0.9, alpha_syn=0.7, reset_mechanism="zero")),
    ("snntorch.RLeaky", dict(beta=0.9)),
    ("snntorch.RLeaky", dict(beta=0.9, reset_mechanism="zero")),
    ("snntorch.RLeaky", dict(beta=0.9, all_to_all=False, V=0.5)),
    ("spikingjelly.LIFNode", dict(w_gain=6.0, x_scale=2.0)),
    ("spikingjelly.LIFNode", dict(w_gain=6.0, x_scale=2.0, tau=3.0, v_reset=None)),
    ("spikingjelly.LIFNode", dict(w_gain=3.0, x_scale=2.0, v_reset=-0.2, decay_input=False)),
    ("spikingjelly.LIFNode", dict(w_gain=6.0, x_scale=2.0, detach_reset=True, surrogate_function="ATan", alpha=2.0)),
    ("spikingjelly.LIFNode", dict(w_gain=6.0, x_scale=2.0, v_reset=None, detach_reset=True)),
    ("spikingjelly.ParametricLIFNode", dict(w_gain=6.0, x_scale=2.0, init_tau=2.5)),
    ("spikingjelly.ParametricLIFNode", dict(w_gain=3.0, x_scale=2.0, init_tau=2.5, v_reset=None, decay_input=False)),
    ("spikingjelly.IFNode", dict(w_gain=2.0)),
    ("spikingjelly.IFNode", dict(w_gain=2.0, v_reset=None, detach_reset=True)),
    ("norse.LIFCell", dict(w_gain=30.0)),
    ("norse.LIFCell", dict(w_gain=30.0, v_reset=-0.3, tau_syn_inv=300.0)),
    ("norse.LIFBoxCell", dict(w_gain=40.0)),
    ("norse.LIFRecurrentCell", dict(x_scale=20.0)),
    # One layer (its input arrives a step late); τ_a⁻¹ = 50: with Norse's default 1/800 the v_th
    # gradient is two terms cancelling to 1e-6 of their size and agrees to 4e-10 only.
    ("norse.LSNNCell", dict(w_gain=30.0, beta=0.5, tau_adapt_inv=50.0)),
    # two layers; recurrent spikes two steps late (lif S6); autapses on and off
    ("norse.LSNNRecurrentCell", dict(x_scale=20.0, beta=0.5, tau_adapt_inv=50.0, T=16)),
    ("norse.LSNNRecurrentCell", dict(x_scale=20.0, beta=0.5, tau_adapt_inv=50.0, T=16, autapses=True)),
]


def _ids(case):
    name, kw = case
    return name + "[" + ",".join(f"{k}={v}" for k, v in kw.items()) + "]"


def _refsnn_side(res):
    kw = {k: v for k, v in res.kwargs.items() if k not in ("seed", "T", "B", "sizes", "x_scale", "w_gain")}
    net = P.build(res.preset, res.layers, **kw)
    run = net.forward(res.x)
    n = len(net.layers)
    g = net.backward(run, [None] * (n - 1) + [res.probe_s], [None] * (n - 1) + [res.probe_v])
    return run, g


def measure(preset, **kw):
    """Worst relative error of every array against the real library (and the spike count)."""
    res = peers.run_peer(preset, **kw)
    run, g = _refsnn_side(res)
    worst = {"membranes": rel_error(res.membranes, run.membranes[-1], FLOOR)[0]}
    for k, v in res.grads.items():
        worst[f"grad/{k}"] = rel_error(v, g[k], FLOOR)[0]
    return res, run, worst


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_preset_matches_peer(case):
    preset, kw = case
    _skip_unless(preset.split(".")[0])
    res, run, worst = measure(preset, **kw)
    n_spk = int(res.spikes.sum())
    assert 0 < n_spk < res.spikes.size, f"the case must spike sometimes ({n_spk} spikes)"
    assert np.array_equal(run.spikes[-1], res.spikes), "spike trains differ"
    bad = {k: v for k, v in worst.items() if not v <= TOL}
    assert not bad, f"worst relative errors above {TOL}: {bad}"


# --- e-prop ALIF and the SpyTorch tutorial: torch autograd on their published equations ----

def _spike_fn(backward):
    class Spike(torch.autograd.Function):
        @staticmethod
        def forward(ctx, y):
            ctx.save_for_backward(y)
            return (y > 0).to(y.dtype)

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * backward(y)
    return Spike.apply


def _eprop_torch(x, w_in, w_rec, w_out, b_out, kw):
    """Bellec et al. 2020, Methods: ALIF with a leaky readout (written from the paper)."""
    thr, beta, gamma = kw["thr"], kw["beta"], kw["gamma_pd"]
    alpha, rho = math.exp(-1 / kw["tau_m"]), math.exp(-1 / kw["tau_a"])
    kappa = math.exp(-1 / kw["tau_out"])
    spike = _spike_fn(lambda y: gamma / thr * torch.clamp(1 - torch.abs(y) / thr, min=0))
    T, B, _ = x.shape
    N = w_in.shape[0]
    v = torch.zeros(B, N, dtype=torch.float64)
    a = torch.zeros_like(v)
    z = torch.zeros_like(v)
    y = torch.zeros(B, w_out.shape[0], dtype=torch.float64)
    zs, ys = [], []
    for t in range(T):
        v = alpha * v + x[t] @ w_in.T + z @ w_rec.T - z * thr
        a = rho * a + z
        z = spike(v - (thr + beta * a))
        y = kappa * y + z @ w_out.T + b_out
        zs.append(z)
        ys.append(y)
    return torch.stack(zs), torch.stack(ys)


def test_eprop_alif_matches_the_papers_equations():
    rng = np.random.default_rng(3)
    T, B, M, N, K = 12, 3, 4, 6, 2
    kw = dict(thr=0.6, tau_m=20.0, tau_a=50.0, beta=0.7, gamma_pd=0.3, tau_out=10.0)
    w = dict(w_in=rng.normal(0, 1.2, (N, M)), w_rec=rng.normal(0, 0.5, (N, N)), w_out=rng.normal(0, 1, (K, N)),
             b_out=rng.normal(0, 0.1, K))
    np.fill_diagonal(w["w_rec"], 0.0)
    x = rng.normal(0.3, 1.0, (T, B, M))
    tw = {k: torch.tensor(v, requires_grad=True) for k, v in w.items()}
    xt = torch.tensor(x, requires_grad=True)
    z, y = _eprop_torch(xt, tw["w_in"], tw["w_rec"], tw["w_out"], tw["b_out"], kw)
    Gz, Gy = rng.normal(size=z.shape), rng.normal(size=y.shape)
    ((z * torch.tensor(Gz)).sum() + (y * torch.tensor(Gy)).sum()).backward()
    net = P.build("eprop.ALIF", [{"w_in": w["w_in"], "w_rec": w["w_rec"]}, {"w_out": w["w_out"], "b_out": w["b_out"]}],
                  **kw)
    run = net.forward(x)
    g = net.backward(run, [Gz, None], [None, Gy])
    n_spk = int(run.spikes[0].sum())
    assert 0 < n_spk < run.spikes[0].size
    assert np.array_equal(run.spikes[0], z.detach().numpy())
    assert rel_error(y.detach().numpy(), run.membranes[1], FLOOR)[0] <= TOL
    for name, key in (("w_in", "0.w_in"), ("w_rec", "0.w_rec"), ("w_out", "1.w_out"), ("b_out", "1.b_out")):
        assert rel_error(tw[name].grad.numpy(), g[key], FLOOR)[0] <= TOL, name
    assert rel_error(xt.grad.numpy(), g["x"], FLOOR)[0] <= TOL


def _spytorch_torch(x, w1, w2, kw):
    """The SpyTorch tutorial's run_snn (Zenke), with a float64 spike function."""
    alpha = math.exp(-kw["time_step"] / kw["tau_syn"])
    beta = math.exp(-kw["time_step"] / kw["tau_mem"])
    scale = kw["scale"]
    spike = _spike_fn(lambda y: 1.0 / (scale * torch.abs(y) + 1.0) ** 2)
    T, B, _ = x.shape
    h1 = torch.einsum("tbc,cd->tbd", x, w1)
    syn = torch.zeros(B, w1.shape[1], dtype=torch.float64)
    mem = torch.zeros_like(syn)
    mem_rec, spk_rec = [], []
    for t in range(T):
        out = spike(mem - 1.0)
        rst = out.detach()
        new_syn = alpha * syn + h1[t]
        new_mem = (beta * mem + syn) * (1.0 - rst)
        mem_rec.append(mem)
        spk_rec.append(out)
        mem, syn = new_mem, new_syn
    mem_rec, spk_rec = torch.stack(mem_rec), torch.stack(spk_rec)
    h2 = torch.einsum("tbc,cd->tbd", spk_rec, w2)
    flt = torch.zeros(B, w2.shape[1], dtype=torch.float64)
    out = torch.zeros_like(flt)
    out_rec = [out]
    for t in range(T):
        new_flt = alpha * flt + h2[t]
        new_out = beta * out + flt
        flt, out = new_flt, new_out
        out_rec.append(out)
    return spk_rec, mem_rec, torch.stack(out_rec)


def test_spytorch_tutorial_matches_its_code():
    rng = np.random.default_rng(4)
    T, B, M, N, K = 14, 3, 5, 6, 2
    kw = dict(tau_mem=10e-3, tau_syn=5e-3, time_step=1e-3, scale=100.0)
    w1, w2 = rng.normal(0, 0.6, (M, N)), rng.normal(0, 0.5, (N, K))
    x = rng.normal(0.5, 1.0, (T, B, M))
    t1, t2, xt = (torch.tensor(a, requires_grad=True) for a in (w1, w2, x))
    spk, mem, out = _spytorch_torch(xt, t1, t2, kw)
    Gs, Gm, Go = rng.normal(size=spk.shape), rng.normal(size=mem.shape), rng.normal(size=(T, B, K))
    ((spk * torch.tensor(Gs)).sum() + (mem * torch.tensor(Gm)).sum() + (out[1:] * torch.tensor(Go)).sum()).backward()
    net = P.build("spytorch.tutorial", [{"w1": w1}, {"w2": w2}], **kw)
    run = net.forward(x)
    g = net.backward(run, [Gs, None], [Gm, Go])
    assert 0 < int(spk.sum()) < spk.numel()
    assert np.array_equal(run.spikes[0], spk.detach().numpy())
    assert rel_error(mem.detach().numpy(), run.membranes[0], FLOOR)[0] <= TOL
    assert rel_error(out[1:].detach().numpy(), run.membranes[1], FLOOR)[0] <= TOL
    for ours, theirs in (("0.w1", t1), ("1.w2", t2), ("x", xt)):
        assert rel_error(theirs.grad.numpy(), g[ours], FLOOR)[0] <= TOL, ours


# --- quirks, with their reproducers ------------------------------------------------------

def test_snntorch_reset_delay_false_quirk_is_reproduced_and_refused():
    _skip_unless("snntorch")
    import snntorch as snn
    lif = snn.Leaky(beta=torch.tensor(1.0, dtype=torch.float64), threshold=torch.tensor(1.0, dtype=torch.float64),
                    reset_delay=False, spike_grad=peers.float64_spike_grad("atan", 2.0))
    mem = lif.reset_mem()
    mems, spks = [], []
    for cur in (2.5, 0.2, 0.0, 0.0):
        spk, mem = lif(torch.tensor([[cur]], dtype=torch.float64), mem)
        mems.append(float(mem))
        spks.append(float(spk))
    assert np.allclose(mems, [1.5, 1.7, 1.7, 1.7], rtol=0, atol=1e-15)
    assert spks == [1.0, 0.0, 0.0, 0.0]           # 1.7 > θ, yet it never spikes again
    net = P.build("snntorch.Leaky", [{"weight": np.ones((1, 1)), "bias": np.zeros(1)}], beta=1.0, reset_delay=False)
    with pytest.raises(P.PeerQuirkError, match=r"reset_delay=False quirk.*t=0"):
        net.forward(np.array([2.5, 0.2, 0.0, 0.0]).reshape(4, 1, 1))
    # With reset_delay=True the same inputs are an ordinary neuron, and the preset agrees.
    ok = P.build("snntorch.Leaky", [{"weight": np.ones((1, 1)), "bias": np.zeros(1)}], beta=1.0)
    run = ok.forward(np.array([2.5, 0.2, 0.0, 0.0]).reshape(4, 1, 1))
    assert run.spikes[0].ravel().tolist() == [1.0, 1.0, 0.0, 0.0]


def test_norse_super_ignores_alpha():
    _skip_unless("norse")
    from norse.torch.functional.threshold import threshold
    x = torch.linspace(-2, 2, 9, dtype=torch.float64)
    grads = []
    for alpha in (1.0, 100.0):
        xx = x.clone().requires_grad_(True)
        threshold(xx, "super", alpha).sum().backward()
        grads.append(xx.grad.numpy())
    assert np.array_equal(grads[0], grads[1])
    assert np.allclose(grads[0], 1.0 / (np.abs(x.numpy()) + 1.0) ** 2, rtol=1e-15, atol=0)
    from refsnn.surrogates import surrogate
    assert np.allclose(surrogate("superspike", 1.0, gain=2.0).derivative(x.numpy()), grads[0], rtol=1e-15, atol=0)


def test_the_float32_traps_exist():
    """The traps that tests/test_peers.py keeps out (docs/presets.md): if a peer fixes one, update the docs."""
    _skip_unless("snntorch")
    _skip_unless("spikingjelly")
    _skip_unless("norse")
    import snntorch as snn
    from snntorch import surrogate as sgm
    from spikingjelly.activation_based import neuron
    from norse.torch.functional.lif import LIFParameters
    assert sgm.atan()(torch.zeros(2, dtype=torch.float64)).dtype == torch.float32
    assert sgm.fast_sigmoid()(torch.zeros(2, dtype=torch.float64)).dtype == torch.float32
    lif = snn.Leaky(beta=0.9)
    assert lif.beta.dtype == torch.float32 and float(lif.beta) == 0.8999999761581421
    assert neuron.ParametricLIFNode().w.dtype == torch.float32
    assert LIFParameters().tau_mem_inv.dtype == torch.float32
