r"""Known bugs of the peer libraries, each reproduced against the installed version.

``refsnn audit`` runs every reproducer below and prints, for each, the bug, the thread it was
reported in, whether the installed library has it, and the error measured. A reproducer is a
small numerical comparison, never a version check: refsnn's float64 reference (a preset, a
surrogate, a NIR import or an equation of the thread) against what the installed peer
computes. What each bug does to training is in ``docs/audit.md``.

A finding is ``present`` when the installed peer disagrees with the reference by more than
the reproducer's tolerance (or fails where it should run), ``absent`` when it agrees,
``skipped`` when the peer is not installed, and ``error`` when the reproducer itself could not
run (a peer version whose API moved; the message says what failed). ``error`` is the measured disagreement: a
relative or absolute difference (the ``unit`` says which), or a count.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["Finding", "REPRODUCERS", "run_audit", "format_report", "main"]


@dataclass
class Finding:
    key: str            # a short id, e.g. "snntorch-427"
    library: str
    thread: str
    bug: str
    status: str         # "present", "absent", "skipped"
    error: float        # the measured disagreement (nan when skipped)
    unit: str           # what error measures
    detail: str         # what was compared and what came out

    def as_dict(self):
        return asdict(self)


REPRODUCERS = []


def reproducer(key, library, thread, bug):
    def wrap(fn):
        REPRODUCERS.append((key, library, thread, bug, fn))
        return fn
    return wrap


def _rel(a, b):
    """max |a − b| / max |b|: the error relative to the array's scale."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def _rel_entry(a, b, floor=1e-3):
    """The worst element-wise relative error; entries below ``floor`` of the array's largest are
    compared absolutely against that floor (docs/presets.md, "Measured agreement")."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = np.maximum(np.abs(b), floor * np.max(np.abs(b)))
    return float(np.max(np.abs(a - b) / np.maximum(scale, 1e-300)))


def _torch():
    import torch
    torch.manual_seed(0)
    return torch


# ------------------------------------------------------------------------------------------
# snnTorch
# ------------------------------------------------------------------------------------------

@reproducer("snntorch-427", "snntorch", "snnTorch #427 / PR #433",
            "sigmoid surrogate gives NaN (exp overflow) for membranes far below threshold")
def _snn_sigmoid_nan():
    torch = _torch()
    from snntorch import surrogate as sgm
    from ..surrogates import surrogate
    k = 25.0
    x = np.linspace(-6.0, 6.0, 241)                  # float32: exp(−k x) overflows for k x < −88.7
    xt = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    sgm.sigmoid(slope=k)(xt).sum().backward()
    theirs = xt.grad.numpy().astype(np.float64)
    ours = surrogate("sigmoid", k).derivative(x)
    nan = int(np.isnan(theirs).sum())
    fin = ~np.isnan(theirs)
    err = _rel(theirs[fin], ours[fin])
    return nan > 0, float(nan), "NaN entries of 241", (
        f"float32 σ'(x) on x ∈ [−6, 6]: {nan} NaN (all at k·x < −88.7); finite entries agree with refsnn's "
        f"sigmoid({k:g}) to {err:.1e} (float32)")


@reproducer("snntorch-422", "snntorch", "snnTorch #421, #422 / PR #432",
            "float64 spikes become float32 (∂L/∂x rounded); RLeaky/RSynaptic fail in float64")
def _snn_float32_spikes():
    torch = _torch()
    import snntorch as snn
    from . import presets
    from .peers import float64_spike_grad
    f64 = torch.float64
    rng = np.random.default_rng(0)
    T, B, M, N = 30, 4, 5, 8
    W = rng.normal(0, 1.0, (N, M)) * 1.5
    b = rng.normal(0, 0.3, N)
    x = rng.normal(0.4, 1.0, (T, B, M))
    Gs, Gv = rng.normal(size=(T, B, N)), rng.normal(size=(T, B, N))
    net = presets.build("snntorch.Leaky", [{"weight": W, "bias": b}], beta=0.9, threshold=1.0)
    run = net.forward(x)
    ours = net.backward(run, [Gs], [Gv])["x"]

    def peer(spike_grad):
        lif = snn.Leaky(beta=torch.tensor(0.9, dtype=f64), threshold=torch.tensor(1.0, dtype=f64),
                        spike_grad=spike_grad)
        xt = torch.tensor(x, requires_grad=True)
        Wt, bt = torch.tensor(W), torch.tensor(b)
        mem = lif.reset_mem()
        spk_rec, mem_rec = [], []
        for t in range(T):
            spk, mem = lif(xt[t] @ Wt.T + bt, mem)
            spk_rec.append(spk)
            mem_rec.append(mem)
        loss = (torch.stack(spk_rec) * torch.tensor(Gs)).sum() + (torch.stack(mem_rec) * torch.tensor(Gv)).sum()
        loss.backward()
        return spk_rec[0].dtype, xt.grad.numpy()

    spk_dtype, g_stock = peer(snn.surrogate.atan(alpha=2.0))
    _, g_keep = peer(float64_spike_grad("atan", 2.0))
    err = _rel_entry(g_stock, ours)
    err64 = _rel_entry(g_keep, ours)
    try:
        r = snn.RLeaky(beta=0.9, linear_features=4).double()
        xr = torch.randn(2, 4, dtype=f64)
        s, m = r(xr)
        r(xr, s, m)
        rleaky = "RLeaky runs in float64"
        rfail = False
    except RuntimeError as e:
        rleaky = f"RLeaky(...).double() fails at step 2: {str(e).splitlines()[0]}"
        rfail = True
    present = spk_dtype != f64 or rfail
    return present, err, "worst element-wise relative error of ∂L/∂x", (
        f"snn.Leaky in float64 returns {str(spk_dtype).replace('torch.', '')} spikes; ∂L/∂x differs from refsnn's "
        f"float64 preset by {err:.1e} element-wise, {_rel(g_stock, ours):.1e} of its largest entry "
        f"(T={T}; with float64 spikes, peers.float64_spike_grad, {err64:.1e}); {rleaky}")


@reproducer("snntorch-341", "snntorch", "snnTorch #341 / PR #426",
            "Leaky's soft reset subtracts θ where the tutorial's equation subtracts βθ")
def _snn_reset_beta():
    torch = _torch()
    import snntorch as snn
    from ..neurons.lif import LIFConfig, layer_forward
    from ..surrogates import surrogate
    beta, th, T = 0.8, 1.0, 40
    cur = np.full((T, 1, 1), 0.21)            # tutorial 3's constant input
    lif = snn.Leaky(beta=torch.tensor(beta, dtype=torch.float64), threshold=torch.tensor(th, dtype=torch.float64))
    mem = lif.reset_mem()
    mems = []
    for t in range(T):
        _, mem = lif(torch.tensor(cur[t]), mem)
        mems.append(mem.detach().numpy().copy())
    theirs = np.stack(mems)

    def ref(gamma):
        cfg = LIFConfig(1, 1, surrogate=surrogate("arctan", 2.0), h0=0.0, reset="subtract", detach_reset=True,
                        init_spike="zero")
        p = {"W": np.eye(1), "b": np.zeros(1), "alpha": np.full(1, beta), "theta": np.full(1, th),
             "gamma": np.full(1, gamma)}
        return layer_forward(cfg, p, cur).v

    tutorial, code = ref(beta * th), ref(th)
    err = float(np.max(np.abs(theirs - tutorial)))
    return err > 1e-9, err, "max |U − U_tutorial|", (
        f"β = {beta}, θ = {th}, input 0.21: the membrane follows U_t = βU_{{t−1}} + I − θS_{{t−1}} "
        f"(to {np.max(np.abs(theirs - code)):.1e}), not the tutorial's −βθS_{{t−1}} (off by {err:.3f})")


@reproducer("snntorch-358", "snntorch", "snnTorch #358 / PR #363",
            "Synaptic's forward broken when syn and mem are passed (syn overwritten by mem)")
def _snn_synaptic_forward():
    from .peers import run_snntorch
    from . import presets
    res = run_snntorch("snntorch.Synaptic", seed=2, T=15)     # calls nrn(cur, syn, mem) for t ≥ 1
    net = presets.build(res.preset, res.layers, **res.kwargs)
    run = net.forward(res.x)
    err = _rel(res.membranes, run.membranes[-1])
    same = np.array_equal(res.spikes, run.spikes[-1])
    return (err > 1e-9 or not same), err, "relative error of the membrane", (
        f"snn.Synaptic called with (input, syn, mem) every step vs refsnn's snntorch.Synaptic preset: spikes "
        f"{'identical' if same else 'differ'}, membranes to {err:.1e}")


def _tbptt_leak(cls_name):
    torch = _torch()
    import snntorch as snn
    torch.manual_seed(0)
    cls = getattr(snn, cls_name)
    kw = dict(beta=0.9, linear_features=4, init_hidden=True, output=True)
    if cls_name == "RSynaptic":
        kw["alpha"] = 0.8
    fc = torch.nn.Linear(3, 4)
    with torch.no_grad():
        fc.weight.mul_(3.0)
    nrn = cls(**kw)
    x1 = (2 * torch.rand(6, 2, 3)).requires_grad_(True)
    x2 = 2 * torch.rand(6, 2, 3)
    for t in range(6):
        nrn(fc(x1[t]))
    cls.detach_hidden()
    outs = [nrn(fc(x2[t])) for t in range(6)]
    loss = sum(o[0].sum() + o[-1].sum() for o in outs)
    loss.backward()
    g = x1.grad
    return 0.0 if g is None else float(g.abs().sum())


@reproducer("snntorch-323", "snntorch", "snnTorch PR #108, #323",
            "RLeaky/RSynaptic: detach_hidden() leaves the spike state attached (TBPTT leaks into the past)")
def _snn_detach_hidden():
    leaks = {c: _tbptt_leak(c) for c in ("RLeaky", "RSynaptic")}
    bad = [c for c, v in leaks.items() if v > 0]
    err = max(leaks.values())
    return bool(bad), err, "Σ|∂L₂/∂x₁| (0 under truncation)", (
        "a loss on window 2 after detach_hidden(): its gradient on window 1's input is "
        + ", ".join(f"{c} {v:.2e}" for c, v in leaks.items())
        + " (refsnn's truncated BPTT: exactly 0)" + (f"; leaking: {', '.join(bad)}" if bad else ""))


def _if_graph(nir):
    return nir.NIRGraph.from_list(nir.Input(input_type=np.array([1])), nir.Affine(np.eye(1), np.zeros(1)),
                                  nir.IF(r=np.ones(1), v_threshold=np.ones(1), v_reset=np.zeros(1)),
                                  nir.Output(output_type=np.array([1])))


@reproducer("snntorch-416", "snntorch", "snnTorch #416 / PR #452",
            "import_from_nir builds a NIR IF neuron with a leak (β ≠ 1)")
def _snn_nir_if():
    torch = _torch()
    import nir
    from snntorch.import_nir import import_from_nir
    from .nir import from_nir
    g = _if_graph(nir)
    x = np.zeros((12, 1, 1))
    x[0] = 0.5                               # one sub-threshold pulse, then nothing
    with _quiet():
        net = import_from_nir(g)
    state, mems = None, []
    leaky = [m for m in net.modules() if type(m).__name__ == "Leaky"][-1]
    for t in range(len(x)):
        out, state = net(torch.tensor(x[t], dtype=torch.float32), state)
        mems.append(leaky.mem.detach().numpy().astype(np.float64).copy())
    theirs = np.stack(mems)
    ours = from_nir(g, convention="norse").forward(x)[0].membrane      # IF: v ← v + R x (R = 1)
    beta = float(theirs[1, 0, 0] / theirs[0, 0, 0])
    err = float(np.max(np.abs(theirs - ours)))
    return abs(beta - 1.0) > 1e-6, err, "max |v − v_IF|", (
        f"an IF node (r = 1, θ = 1) given one pulse of 0.5: the imported membrane decays by β = {beta:.4g} per "
        f"step (NIR's IF: β = 1, refsnn's import holds 0.5); after 11 steps {theirs[-1, 0, 0]:.3g} instead of 0.5")


@reproducer("snntorch-435", "snntorch", "snnTorch PR #435",
            "import_from_nir of a CubaLIF node is wrong when w_in ≠ τ_syn/dt (threshold rescaled instead)")
def _snn_nir_cubalif():
    torch = _torch()
    import nir
    import snntorch as snn
    from snntorch.import_nir import import_from_nir
    from .nir import from_nir
    dt, N = 1e-4, 3
    # a CubaLIF as NIR defines it (w_in = 1), with the r = τ_mem/dt snnTorch's importer requires
    cuba = nir.CubaLIF(tau_syn=np.full(N, 5e-4), tau_mem=np.full(N, 1e-3), r=np.full(N, 1e-3 / dt),
                       v_leak=np.zeros(N), v_threshold=np.ones(N), v_reset=np.zeros(N), w_in=np.ones(N))
    W = np.array([[2.0, 0.5], [1.0, 1.5], [0.3, 2.5]])
    g = nir.NIRGraph.from_list(nir.Input(input_type=np.array([2])), nir.Affine(W, np.zeros(N)), cuba,
                               nir.Output(output_type=np.array([N])))
    x = 3.0 * np.random.default_rng(0).random((40, 2, 2))
    ours = from_nir(g, dt=dt).forward(x)[-1]              # forward Euler at snnTorch's dt = 1e-4
    with _quiet():
        back = import_from_nir(g).double()
    syn = [m for m in back.modules() if isinstance(m, snn.Synaptic)][-1]
    state, mems, spks = None, [], []
    for t in range(len(x)):
        out, state = back(torch.tensor(x[t]), state)
        spks.append(out.detach().numpy())
        mems.append(syn.mem.detach().numpy().copy())
    theirs, spk = np.stack(mems), np.stack(spks)
    err = _rel(theirs, ours.membrane)
    mism = int(np.sum(spk != ours.s))
    th = float(np.asarray(syn.threshold.detach()).reshape(-1)[0])
    ratio = float(np.max(np.abs(theirs)) / np.max(np.abs(ours.membrane)))
    return (err > 1e-5 or mism > 0), err, "relative error of the membrane", (
        f"CubaLIF(τ_syn = 5e-4, τ_mem = 1e-3, w_in = 1) at dt = 1e-4: the importer scales the threshold to "
        f"{th:.3g} instead of the input by w_in·dt/τ_syn = 0.2; spikes {mism} mismatches, membranes "
        f"{ratio:.3g}× too large (a membrane loss and σ'(U − θ) see the wrong scale)")


@reproducer("snntorch-delay", "snntorch", "found by refsnn (docs/presets.md, Quirks)",
            "Leaky(reset_delay=False, subtract) subtracts a delayed reset and adds it back")
def _snn_delay_quirk():
    torch = _torch()
    import snntorch as snn
    lif = snn.Leaky(beta=torch.tensor(1.0, dtype=torch.float64), threshold=torch.tensor(1.0, dtype=torch.float64),
                    reset_mechanism="subtract", reset_delay=False)
    mem = lif.reset_mem()
    mems = []
    for v in (2.5, 0.2, 0.0, 0.0):
        _, mem = lif(torch.tensor([v], dtype=torch.float64), mem)
        mems.append(float(mem[0]))
    # the same-step soft reset (SpikingJelly, Norse): 1.5, then 1.7 > θ spikes → 0.7, 0.7
    ref = [1.5, 0.7, 0.7, 0.7]
    err = float(np.max(np.abs(np.array(mems) - ref)))
    return err > 1e-12, err, "max |U − U_ref|", (
        f"β = 1, θ = 1, inputs 2.5, 0.2, 0, 0: membranes {', '.join(f'{m:.3g}' for m in mems)} (a same-step soft "
        f"reset gives {', '.join(f'{m:.3g}' for m in ref)}): 1.7 > θ and no spike")


@reproducer("snntorch-pool", "snntorch", "found by refsnn (this audit)",
            "import_from_nir cannot read snnTorch's own AvgPool2d export (kernel_size stored as an int)")
def _snn_avgpool_roundtrip():
    torch = _torch()
    import snntorch as snn
    from snntorch.export_nir import export_to_nir
    from snntorch.import_nir import import_from_nir
    from .nir import from_nir
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1),
                              snn.Leaky(beta=torch.full((2, 4, 4), 0.9), threshold=torch.ones((2, 4, 4)),
                                        init_hidden=True, reset_mechanism="zero", reset_delay=False),
                              torch.nn.AvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(8, 2),
                              snn.Leaky(beta=torch.full((2,), 0.8), threshold=torch.ones(2), init_hidden=True,
                                        output=True, reset_mechanism="zero", reset_delay=False))
    with _quiet():
        g = export_to_nir(net, torch.rand(1, 1, 4, 4), ignore_dims=[0])
    from_nir(g, convention="snntorch")          # refsnn reads it
    try:
        with _quiet():
            import_from_nir(g)
    except Exception as e:
        return True, float("nan"), "exception", (
            f"refsnn imports the Conv2d/AvgPool2d graph; snnTorch's importer raises {type(e).__name__}: "
            f"{str(e).splitlines()[0][:70]}")
    return False, 0.0, "exception", "snnTorch imports its own AvgPool2d export"


# ------------------------------------------------------------------------------------------
# Norse
# ------------------------------------------------------------------------------------------

@reproducer("norse-403", "norse", "Norse PR #403",
            "SuperSpike surrogate ignores α (documented 1/(α|x| + 1)², computed 1/(|x| + 1)²)")
def _norse_superspike_alpha():
    torch = _torch()
    from norse.torch.functional.threshold import threshold
    from ..surrogates import surrogate
    alpha = 100.0
    x = np.linspace(-0.5, 0.5, 101)
    xt = torch.tensor(x, requires_grad=True)
    threshold(xt, "super", torch.tensor(alpha)).sum().backward()
    theirs = xt.grad.numpy()
    documented = surrogate("superspike", alpha, gain=2.0 / alpha).derivative(x)
    alpha_free = surrogate("superspike", 1.0, gain=2.0).derivative(x)
    err = _rel(theirs, documented)
    return err > 1e-9, err, "relative error vs 1/(α|x| + 1)²", (
        f"α = {alpha:g}: σ' equals 1/(|x| + 1)² to {_rel(theirs, alpha_free):.1e} and differs from the documented "
        f"1/(α|x| + 1)² by {err:.2g} (relative)")


@reproducer("norse-306", "norse", "Norse #306",
            "the surrogate (p.method) is ignored in some neuron modules")
def _norse_method_ignored():
    torch = _torch()
    import norse.torch as nt
    from norse.torch.functional.lif import LIFParameters
    from norse.torch.functional.lsnn import LSNNParameters
    from norse.torch.functional.lif_box import LIFBoxParameters
    from norse.torch.functional.lif_adex import LIFAdExParameters
    from norse.torch.functional.lif_ex import LIFExParameters
    from norse.torch.functional.iaf import IAFParameters

    def grad(make, method, recurrent=False):
        torch.manual_seed(0)
        cell = make(method)
        x = (3 * torch.rand(20, 2, 3, dtype=torch.float64)).requires_grad_(True)
        lin = torch.nn.Linear(3, 4).double()
        with torch.no_grad():
            lin.weight.mul_(3.0)
        state, out = None, 0.0
        for t in range(20):
            z, state = cell(x[t] if recurrent else lin(x[t]), state)
            out = out + (z * torch.linspace(-1, 1, z.shape[-1], dtype=torch.float64)).sum() + state.v.sum()
        out.backward()
        return x.grad.numpy().copy()

    def p(cls, m, **kw):
        return cls(method=m, **kw)

    mods = {
        "LIFCell": lambda m: nt.LIFCell(p(LIFParameters, m)),
        "LIFBoxCell": lambda m: nt.LIFBoxCell(p(LIFBoxParameters, m)),
        "LIFRecurrentCell": lambda m: nt.LIFRecurrentCell(3, 4, p(LIFParameters, m)).double(),
        "LSNNCell": lambda m: nt.LSNNCell(p(LSNNParameters, m)),
        "LSNNRecurrentCell": lambda m: nt.LSNNRecurrentCell(3, 4, p(LSNNParameters, m)).double(),
        "LIFExCell": lambda m: nt.LIFExCell(p(LIFExParameters, m)),
        "LIFAdExCell": lambda m: nt.LIFAdExCell(p(LIFAdExParameters, m)),
        "IAFCell": lambda m: nt.IAFCell(p(IAFParameters, m)),
    }
    diffs, failed = {}, {}
    for name, make in mods.items():
        rec = "Recurrent" in name
        try:
            with _quiet():
                a, b = grad(make, "super", rec), grad(make, "tanh", rec)
            diffs[name] = _rel(a, b) if np.any(a) else float("nan")
        except Exception as e:
            failed[name] = type(e).__name__
    ignored = [n for n, d in diffs.items() if d == 0.0]
    return bool(ignored), float(len(ignored)), "modules ignoring method", (
        "∂L/∂x with method='super' vs 'tanh' (relative change): "
        + ", ".join(f"{n} {d:.2g}" for n, d in diffs.items())
        + (f"; ignored in: {', '.join(ignored)}" if ignored else "; every module uses its method")
        + (f"; could not run: {failed}" if failed else ""))


@reproducer("norse-411", "norse", "Norse #411 / PR #413",
            "to_nir writes τ = dt/τ⁻¹ (τ scaled by dt), so the graph is not the exported network")
def _norse_to_nir_dt():
    torch = _torch()
    import norse.torch as nt
    from norse.torch.functional.lif import LIFParameters
    from .nir import from_nir
    f64 = torch.float64
    t = lambda v: torch.tensor(v, dtype=f64)  # noqa: E731
    p = LIFParameters(tau_syn_inv=t(200.0), tau_mem_inv=t(100.0), v_th=t(1.0), v_leak=t(0.0), v_reset=t(0.0))
    torch.manual_seed(1)
    model = nt.SequentialState(torch.nn.Linear(4, 5), nt.LIFCell(p)).double()
    with torch.no_grad():
        model[0].weight.mul_(3)
    x = 20 * torch.rand(40, 2, 4, dtype=f64)
    with _quiet():
        g = nt.to_nir(model, x[0])
    tau_file = float(np.asarray(g.nodes["1"].tau_mem).reshape(-1)[0])
    state, mems = None, []
    for k in range(len(x)):
        _, state = model(x[k], state)
        mems.append(state[1].v.detach().numpy())
    mems = np.stack(mems)
    as_nir = from_nir(g, dt=1e-3, method="exp").forward(x.numpy())[0].membrane
    as_norse = from_nir(g, convention="norse").forward(x.numpy())[0].membrane
    err = float(np.max(np.abs(as_nir - mems)))
    return abs(tau_file - 1.0 / 100.0) > 1e-12, err, "max |V − V_graph| (graph read as NIR)", (
        f"LIFCell(τ_mem⁻¹ = 100) exported as τ_mem = {tau_file:.3g} (NIR's τ = 1/τ⁻¹ = 0.01); read as NIR "
        f"defines it (exact decay, dt = 1e-3) the membranes are off by {err:.2g}; read with convention='norse' "
        f"they match to {np.max(np.abs(as_norse - mems)):.1e}")


# ------------------------------------------------------------------------------------------
# SpikingJelly
# ------------------------------------------------------------------------------------------

@reproducer("spikingjelly-pr413", "spikingjelly", "SpikingJelly PR #413",
            "PiecewiseLeakyReLU's gradient is 1/w inside [−w, w], should be 1/(2w)")
def _sj_plr():
    torch = _torch()
    from spikingjelly.activation_based import surrogate as sjs
    from ..surrogates import surrogate
    w = 0.5
    x = np.linspace(-1.5, 1.5, 301)
    x = x[np.abs(np.abs(x) - w) > 1e-9]                 # away from the kinks
    xt = torch.tensor(x, requires_grad=True)
    sjs.PiecewiseLeakyReLU(w=w, c=0.0)(xt).sum().backward()
    ours = surrogate("boxcar", w).derivative(x)          # 1/(2w) on |x| < w, 0 outside (c = 0)
    err = _rel(xt.grad.numpy(), ours)
    return err > 1e-12, err, "relative error vs 1/(2w)", (
        f"w = {w}, c = 0: σ' agrees with refsnn's boxcar({w}) (1/(2w) inside) to {err:.1e}")


@reproducer("spikingjelly-386", "spikingjelly", "SpikingJelly #386",
            "eval() breaks surrogate gradients (some nodes switch to an inference path)")
def _sj_eval():
    torch = _torch()
    from spikingjelly.activation_based import neuron, surrogate as sjs
    from . import presets
    rng = np.random.default_rng(4)
    T, B, M, N = 12, 3, 4, 6
    W, b = 2.0 * rng.normal(size=(N, M)), 0.3 * rng.normal(size=N)
    x = rng.normal(0.5, 1.0, (T, B, M))
    Gs, Gv = rng.normal(size=(T, B, N)), rng.normal(size=(T, B, N))
    errs, modes = {}, {}
    for name, cls in (("LIFNode", neuron.LIFNode), ("IFNode", neuron.IFNode)):
        node = cls(surrogate_function=sjs.Sigmoid(alpha=4.0), step_mode="m", store_v_seq=True).double()
        node.eval()
        modes[name] = node.training
        xt = torch.tensor(x, requires_grad=True)
        s = node(xt @ torch.tensor(W).T + torch.tensor(b))
        if not s.requires_grad:
            errs[name] = float("inf")
            continue
        ((s * torch.tensor(Gs)).sum() + (node.v_seq * torch.tensor(Gv)).sum()).backward()
        net = presets.build(f"spikingjelly.{name}", [{"weight": W, "bias": b}])
        run = net.forward(x)
        errs[name] = _rel(xt.grad.numpy(), net.backward(run, [Gs], [Gv])["x"])
    err = max(errs.values())
    return err > 1e-9, err, "relative error of ∂L/∂x", (
        "nodes in eval() mode (training = " + ", ".join(f"{k} {v}" for k, v in modes.items())
        + "), ∂L/∂x vs refsnn's presets: " + ", ".join(f"{k} {v:.1e}" for k, v in errs.items()))


# ------------------------------------------------------------------------------------------

class _quiet:
    """Silence the peers' prints and deprecation warnings while a reproducer runs."""

    def __enter__(self):
        import contextlib
        import io
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore")
        self._o = contextlib.redirect_stdout(io.StringIO())
        self._o.__enter__()
        return self

    def __exit__(self, *exc):
        self._o.__exit__(*exc)
        self._w.__exit__(*exc)
        return False


_NEEDS_NIR = ("snntorch-416", "snntorch-435", "snntorch-pool", "norse-411")


def run_audit(only=None):
    """Run the reproducers (``only``: keys or libraries to keep); returns a list of :class:`Finding`."""
    from .peers import available

    out = []
    for key, lib, thread, bug, fn in REPRODUCERS:
        if only and key not in only and lib not in only:
            continue
        reason = available(lib) or available("torch")
        if key in _NEEDS_NIR:
            reason = reason or available("nir")
        if reason:
            out.append(Finding(key, lib, thread, bug, "skipped", float("nan"), "", reason))
            continue
        try:
            with _quiet():
                present, err, unit, detail = fn()
        except Exception as exc:        # a peer version whose API moved: say so, do not stop the audit
            out.append(Finding(key, lib, thread, bug, "error", float("nan"), "",
                               f"the reproducer could not run: {type(exc).__name__}: {str(exc)[:200]}"))
            continue
        out.append(Finding(key, lib, thread, bug, "present" if present else "absent", float(err), unit, detail))
    return out


def _version(lib):
    try:
        from importlib.metadata import version
        return version(lib)
    except Exception:
        return "?"


def format_report(findings):
    libs = sorted({f.library for f in findings})
    lines = ["refsnn audit: known peer bugs, reproduced on the installed versions ("
             + ", ".join(f"{lib} {_version(lib)}" for lib in libs) + ")", ""]
    for f in findings:
        err = "—" if math.isnan(f.error) else (f"{f.error:.3g}" if f.error != float("inf") else "inf")
        lines.append(f"[{f.status.upper():^7}] {f.key:<18} {f.thread}")
        lines.append(f"          {f.bug}")
        lines.append(f"          measured: {err} ({f.unit}) — {f.detail}" if f.unit else f"          {f.detail}")
    n = {s: sum(f.status == s for f in findings) for s in ("present", "absent", "skipped", "error")}
    lines += ["", f"{len(findings)} reproducers: {n['present']} present, {n['absent']} absent, {n['skipped']} skipped"
              + (f", {n['error']} could not run" if n["error"] else "")]
    return "\n".join(lines)


def main(as_json=False, only=None):
    import json
    import sys

    keys = {k for k, *_ in REPRODUCERS} | {lib for _, lib, *_ in REPRODUCERS}
    bad = sorted(set(only or ()) - keys)
    if bad:
        print(f"refsnn audit: error: --only names no reproducer or library: {', '.join(bad)} "
              f"(known: {', '.join(sorted(keys))})", file=sys.stderr)
        return 2
    findings = run_audit(only)
    if as_json:
        json.dump([f.as_dict() for f in findings], sys.stdout, indent=1, default=str)
        print()
    else:
        print(format_report(findings))
    return 0
