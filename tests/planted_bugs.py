"""Planted bugs: a researcher's own PyTorch code (plain torch, written the way snnTorch's and
SpikingJelly's documentation teach), with one bug switched on, recorded for ``refsnn compare``
with every layer's per-step records and ``retain_grad`` gradients (compare's docstring).

The code is deliberately independent of refsnn: each bug is a line a user writes, not a
refsnn switch. ``BUGS`` maps a bug's name to (preset, declared kwargs, description);
:func:`user_file` returns the .npz dict of one run. Used by tests/test_diagnose.py and
scripts/planted_bugs.py (which prints the table in docs/diagnosis.md).
"""

from __future__ import annotations

import json
import math

import numpy as np

SNN = "snntorch.Leaky"
SJ = "spikingjelly.LIFNode"

#: name -> (preset, kwargs the file declares, what the user's code does, expected category)
BUGS = {
    "none": (SNN, {}, "correct snnTorch-style code (atan, β = 0.9, θ = 1)", None),
    "slope20": (SNN, {"spike_grad": "fast_sigmoid", "slope": 25.0},
                "custom fast_sigmoid backward with slope 20 (file says 25)", "surrogate shape/scale"),
    "slope50": (SNN, {"spike_grad": "fast_sigmoid", "slope": 25.0},
                "custom fast_sigmoid backward with slope 50 (file says 25)", "surrogate shape/scale"),
    "atan_gain2": (SNN, {}, "atan backward with twice the height", "surrogate gain"),
    "reset_attached": (SNN, {}, "reset .detach() removed (R = H(U − θ) keeps its surrogate gradient)",
                       "reset detach"),
    "record_minus": (SNN, {}, "records mem − spk·θ as the membrane", "membrane record"),
    "beta_clamp": (SNN, {}, "β clamped to 0.85 in the forward (file says 0.9)", "parameter value"),
    "leak_bwd": (SNN, {}, "custom autograd Function for the leak: backward forgets the factor β",
                 "adjoint term"),
    "reset_amount": (SNN, {}, "reset subtracts β·θ instead of θ", "reset kind/amount"),
    "threshold": (SNN, {}, "spike test at 1.1·θ (the reset still subtracts θ)", "threshold"),
    "input_late": (SNN, {}, "input fed one step late", "time shift"),
    "float32": (SNN, {}, "spikes as float32 tensors ((x > 0).float())", "float32"),
    "detached_mem": (SNN, {}, "mem.detach() at step 6 (a truncation left in): the leak term is cut there",
                     "adjoint term"),
    "loss_sum": (SNN, {}, "the loss summed, not averaged, over the batch", "loss"),
    "weight_grad_mean": (SNN, {}, "weight gradients divided by the batch size after backward() (a hand-written "
                         "SGD step)", "weight-gradient scale"),
    "sj_none": (SJ, {"v_reset": None, "detach_reset": False}, "correct SpikingJelly-style code", None),
    "sj_detach": (SJ, {"v_reset": None, "detach_reset": False},
                  "SpikingJelly-style: reset detached (file says attached)", "reset detach"),
    "sj_record_charged": (SJ, {"v_reset": None, "detach_reset": False},
                          "SpikingJelly-style: records the charged H, not the post-reset V", "membrane record"),
    "sj_reset_sign": (SJ, {"v_reset": None, "detach_reset": False},
                      "custom Function for the reset V = H − θS: backward's ∂V/∂S has the wrong sign",
                      "adjoint term"),
    "sj_tau": (SJ, {"v_reset": None, "detach_reset": False}, "τ = 2.5 in the code, 2 in the file",
               "parameter value"),
}


def _surrogates(torch):
    class Spike(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, kind, k, gain, h0):
            ctx.save_for_backward(x)
            ctx.kind, ctx.k, ctx.gain = kind, k, gain
            return (x >= 0).to(x.dtype) if h0 else (x > 0).to(x.dtype)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            if ctx.kind == "fast_sigmoid":
                d = 1.0 / (ctx.k * x.abs() + 1.0) ** 2
            elif ctx.kind == "atan":
                d = (ctx.k / 2) / (1 + (math.pi / 2 * ctx.k * x) ** 2)
            else:                                       # SpikingJelly's Sigmoid
                sg = torch.sigmoid(ctx.k * x)
                d = ctx.k * sg * (1 - sg)
            return g * d * ctx.gain, None, None, None, None

    class LeakNoBeta(torch.autograd.Function):        # β·U, whose backward forgets β
        @staticmethod
        def forward(ctx, u, beta):
            ctx.save_for_backward(u)
            return beta * u

        @staticmethod
        def backward(ctx, g):
            (u,) = ctx.saved_tensors
            return g, (g * u).sum()

    class ResetWrongSign(torch.autograd.Function):    # V = H − θS with ∂V/∂S = +θ
        @staticmethod
        def forward(ctx, h, s, th):
            ctx.th = th
            return h - th * s

        @staticmethod
        def backward(ctx, g):
            return g, ctx.th * g, None

    return Spike, LeakNoBeta, ResetWrongSign


def user_file(bug="none", seed=0, T=10, B=3, sizes=(4, 6, 3), per_step=True):
    """The .npz dict a user would save from their own code with ``bug`` in it."""
    import torch

    preset, kwargs, _, _ = BUGS[bug]
    Spike, LeakNoBeta, ResetWrongSign = _surrogates(torch)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(0.3, 1.0, (T, B, sizes[0]))
    xt = torch.tensor(x, requires_grad=True)
    fcs = []
    for l in range(len(sizes) - 1):
        fc = torch.nn.Linear(sizes[l], sizes[l + 1]).double()
        with torch.no_grad():
            fc.weight.mul_(3.0)
            fc.bias.mul_(3.0)
        fcs.append(fc)
    L = len(fcs)
    params, named = [], []
    inp = xt if bug != "input_late" else torch.cat([torch.zeros_like(xt[:1]), xt[:-1]])
    rec = {"spikes": [], "membranes": [], "spk_t": [], "mem_t": []}
    if preset == SNN:
        kind = kwargs.get("spike_grad", "atan")
        k = {"slope20": 20.0, "slope50": 50.0}.get(bug, kwargs.get("slope", 25.0) if kind == "fast_sigmoid" else 2.0)
        gain = 2.0 if bug == "atan_gain2" else 1.0
        for l, fc in enumerate(fcs):
            beta = torch.tensor(0.9, dtype=torch.float64, requires_grad=True)
            th = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
            params.append({"weight": fc.weight, "bias": fc.bias, "beta": beta, "threshold": th})
            mem = torch.zeros(B, sizes[l + 1], dtype=torch.float64)
            spks, mems, spk_t, mem_t = [], [], [], []
            for t in range(T):
                cur = fc(inp[t])
                b_eff = beta.clamp(0, 0.85) if bug == "beta_clamp" else beta
                if bug == "reset_attached":
                    reset = Spike.apply(mem - th, kind, k, gain, False)
                else:
                    reset = Spike.apply(mem - th, kind, k, gain, False).detach()
                leak = LeakNoBeta.apply(mem, b_eff) if bug == "leak_bwd" else b_eff * mem
                amount = b_eff * th if bug == "reset_amount" else th
                mem = leak + cur - reset * amount
                if per_step:
                    mem.retain_grad()
                test = 1.1 * th if bug == "threshold" else th
                spk = Spike.apply(mem - test, kind, k, gain, False)
                if bug == "float32":
                    spk32 = spk.float()
                    spk32.retain_grad()
                    spk_t.append(spk32)
                    spk = spk32.double()
                elif per_step:
                    spk.retain_grad()
                    spk_t.append(spk)
                mem_t.append(mem)
                spks.append(spk)
                mems.append(mem - spk * th if bug == "record_minus" else mem)
                if bug == "detached_mem" and t == 6:
                    mem = mem.detach()
            inp = torch.stack(spks)
            rec["spikes"].append(inp)
            rec["membranes"].append(torch.stack(mems))
            rec["spk_t"].append(spk_t)
            rec["mem_t"].append(mem_t)
            named += [(f"{l}.weight", fc.weight), (f"{l}.bias", fc.bias), (f"{l}.beta", beta), (f"{l}.threshold", th)]
    else:
        tau = 2.5 if bug == "sj_tau" else 2.0
        for l, fc in enumerate(fcs):
            params.append({"weight": fc.weight, "bias": fc.bias})
            V = torch.zeros(B, sizes[l + 1], dtype=torch.float64)
            spks, mems, spk_t, mem_t = [], [], [], []
            for t in range(T):
                X = fc(inp[t])
                H = V + (X - V) / tau
                S_int = Spike.apply(H - 1.0, "sigmoid", 4.0, 1.0, True)
                S = S_int[None][0]              # as SpikingJelly 2.0: the output is a slice, the reset reads S_int
                Sr = S_int.detach() if bug == "sj_detach" else S_int
                V = ResetWrongSign.apply(H, Sr, 1.0) if bug == "sj_reset_sign" else H - 1.0 * Sr
                if per_step:
                    V.retain_grad()
                    S.retain_grad()
                spk_t.append(S)
                mem_t.append(V)
                spks.append(S)
                mems.append(H if bug == "sj_record_charged" else V)
            inp = torch.stack(spks)
            rec["spikes"].append(inp)
            rec["membranes"].append(torch.stack(mems))
            rec["spk_t"].append(spk_t)
            rec["mem_t"].append(mem_t)
            named += [(f"{l}.weight", fc.weight), (f"{l}.bias", fc.bias)]
    S, V = rec["spikes"][-1], rec["membranes"][-1]
    G_s = rng.normal(size=tuple(S.shape))
    G_v = rng.normal(size=tuple(V.shape))
    loss = (S * torch.as_tensor(G_s)).sum() + (V * torch.as_tensor(G_v)).sum()
    if bug == "loss_sum":
        loss = loss * B                  # the file's linear probe, summed over the batch once more
    loss.backward()
    np_ = lambda t: t.detach().numpy().astype(np.float64)     # noqa: E731
    d = {"preset": np.str_(preset), "kwargs": np.str_(json.dumps(kwargs)), "x": x, "loss": np.str_("linear"),
         "probe_s": G_s, "probe_v": G_v, "loss_value": np.float64(loss.item()), "spikes": np_(S), "membranes": np_(V)}
    for l, p in enumerate(params):
        for k, v in p.items():
            d[f"param/{l}.{k}"] = np_(v)
    for name, p in named:
        d[f"grad/{name}"] = np_(p.grad) if p.grad is not None else np.zeros(tuple(p.shape))
        if bug == "weight_grad_mean" and name.endswith(".weight"):
            d[f"grad/{name}"] = d[f"grad/{name}"] / B
    d["grad/x"] = np_(xt.grad)
    for l in range(L):
        d[f"spikes/{l}"] = np_(rec["spikes"][l])
        d[f"membranes/{l}"] = np_(rec["membranes"][l])
        if per_step:
            z = lambda ts: np.stack([np_(t.grad) if t.grad is not None else np.zeros(tuple(t.shape))  # noqa: E731
                                     for t in ts])
            d[f"dspikes/{l}"] = z(rec["spk_t"][l])
            d[f"dmembranes/{l}"] = z(rec["mem_t"][l])
    return d


def table_row(bug, rep):
    """The row of docs/diagnosis.md's table for ``bug``: what compare reports."""
    what = BUGS[bug][2]
    if rep.passed:
        return f"| `{bug}` | {what} | PASS (exit 0) | — | — | — |"
    d = rep.diagnosis
    top = d.causes[0]
    ff = d.first_forward
    fwd = "—" if ff is None else (f"t={ff['t']}, layer {ff['layer']}, {ff['quantity']}" if ff["t"] is not None
                                  else "loss value")
    adj = ", ".join(f"{a['entry']} t={a['t']}" for a in d.first_adjoint if a["entry"] in ("grad/x", "dmembranes/0"))
    cause = top.cause.replace("|", "/")
    res = "< 1e-12" if top.residual < 1e-12 else f"{top.residual:.1e}"
    if not top.agrees and top.forward_agrees:
        res += " (forward < 1e-12)" if top.forward_residual < 1e-12 else f" (forward {top.forward_residual:.1e})"
    return f"| `{bug}` | {what} | {d.half}: [{top.category}] {cause} | {res} | {fwd} | {adj or '—'} |"


def table(reports):
    head = ["| bug | the user's code | what `refsnn compare` reports first | residual | first forward step | "
            "first adjoint step |", "|---|---|---|---|---|---|"]
    return "\n".join(head + [table_row(b, rep) for b, rep in reports.items()])
