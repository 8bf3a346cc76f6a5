r"""Why a peer network differs from refsnn: the diagnosis behind ``refsnn compare``.

:func:`refsnn.oracle.compare.compare` says *that* an array differs. :func:`diagnose` says
*where* and *why*, in this order (docs/diagnosis.md derives each step):

1. **Blame the right half.** The forward records (the loss value, every layer's spikes and
   membranes the user saved) are compared first. If any differs, the verdict is *forward*,
   with the first diverging (step, layer, quantity, batch row, neuron): the earliest step,
   the lowest layer at that step, membranes before spikes (a spike follows its membrane).
   The gradient path is blamed only when the whole forward recording agrees.
2. **The first diverging adjoint step.** An adjoint runs backwards in time, so the step at
   which a backward bug first shows is the *last* step t at which ``∂L/∂x_t`` (or a
   recorded ``δv_t``, ``δs_t``, see :mod:`refsnn.oracle.compare`) differs.
3. **Hypotheses, simulated.** Each candidate cause is a changed refsnn network (a convention
   switch, a fitted continuous value, a pair of them) whose arrays are recomputed and
   compared with all of the user's. Continuous values are *fitted*: the surrogate's scale
   and gain (separately, over their logarithms), every scalar peer parameter and the
   refsnn parameters α, θ, the reset amount γ or v_r, λ, from the forward recording
   (membranes with the user's spikes held as the reset spikes — a smooth least-squares
   problem — and θ from the interval the user's spikes allow), the membrane record
   ``v − c·s``, an input shift by k steps, and common scale factors of the loss and of the
   gradients. Pairs are searched when no single hypothesis agrees.
4. **The adjoint term** (:func:`adjoint_terms`). With per-step adjoints recorded, each
   backward equation of every layer is checked *locally*: its right-hand side is built
   from the user's own adjoints of the neighbouring step, term by term (B1–B5 of
   :mod:`refsnn.neurons.lif`, written for the recorded quantities), so an error in one
   term at one step does not propagate into the test of the others. The term whose
   coefficient, refitted, removes the residual is named, with its coefficient and the
   steps at which it is off.

Causes are ranked by their residual ``max over arrays of ‖a − r‖/‖r‖`` after the fit; a
cause *agrees* when every array then passes compare's tolerance. Each carries one of
:data:`CATEGORIES`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.optimize import minimize, minimize_scalar

from ..surrogates import surrogate
from . import presets as P

__all__ = ["CATEGORIES", "Hypothesis", "Cause", "Diagnosis", "simulate", "diagnose", "adjoint_terms",
           "record_adjoints"]

CATEGORIES = ("surrogate shape/scale", "surrogate gain", "reset detach", "reset kind/amount", "membrane record",
              "parameter value", "threshold", "time shift", "adjoint term", "float32", "loss",
              "weight-gradient scale", "initial spike")

_FORWARD = ("loss_value", "spikes", "membranes")


# ---------------------------------------------------------------------------------------
# A hypothesis: refsnn changed in one or two ways, and everything recomputed
# ---------------------------------------------------------------------------------------

@dataclass
class Hypothesis:
    """A changed refsnn network. ``edits`` are functions OracleNet -> OracleNet (fitted
    values); ``shift`` feeds the input k steps late (k < 0: early); ``record`` makes the
    membrane record of layer l ``v − c·s`` (``(l, c, attached)``); ``loss_scale`` and
    ``grad_scale`` multiply the loss value and every gradient."""

    label: str
    category: str
    overrides: P.Overrides = field(default_factory=P.Overrides)
    kwargs: dict | None = None
    edits: tuple = ()
    shift: int = 0
    record: tuple | None = None
    loss_scale: float = 1.0
    grad_scale: float = 1.0
    fitted: dict = field(default_factory=dict)
    array_scale: tuple | None = None      # (gradient name, factor): one gradient array scaled
    reset_at: frozenset = frozenset()     # layers whose reset is decided at the unedited θ

    def plus(self, other: "Hypothesis") -> "Hypothesis":
        a, b = self.overrides, other.overrides
        ov = P.Overrides(a.flip_detach != b.flip_detach, a.flip_h0 != b.flip_h0, a.from_v0 or b.from_v0,
                         a.flip_view != b.flip_view, a.float32_spikes or b.float32_spikes,
                         a.sg_scale * b.sg_scale, a.sg_gain * b.sg_gain)
        kw = None if self.kwargs is None and other.kwargs is None else {**(self.kwargs or {}), **(other.kwargs or {})}
        return Hypothesis(f"{self.label} + {other.label}", f"{self.category} + {other.category}", ov, kw,
                          self.edits + other.edits, self.shift + other.shift, self.record or other.record,
                          self.loss_scale * other.loss_scale, self.grad_scale * other.grad_scale,
                          {**self.fitted, **other.fitted}, self.array_scale or other.array_scale,
                          self.reset_at | other.reset_at)


def _shift_time(a, k):
    """``a`` delayed by k steps (k > 0: row t holds a_{t−k}; zeros enter), early for k < 0:
    the presets' own ``_shift`` and ``_unshift``."""
    return P._shift(a, k) if k >= 0 else P._unshift(a, -k)


def _net(prob, hyp: Hypothesis):
    from .compare import _build
    net = _build(prob, hyp.overrides, hyp.kwargs)
    for e in hyp.edits:
        net = e(net)
    return net


def conventions(prob):
    """Per layer ``(state_post, reset_recomputed, spike_has_reset)`` of the preset as declared
    (no hypothesis). ``state_post``: the membrane *state* the peer carries to the next step is
    the post-reset v⁺ (SpikingJelly, Norse, snnTorch ``reset_delay=False``). ``reset_recomputed``:
    the peer decides its reset from the membrane again (snnTorch's ``mem_reset(mem)`` with
    ``reset_delay=True``). ``spike_has_reset``: the spike tensor the user can record is the one
    the reset reads, so its gradient holds B1's reset path (Norse, snnTorch ``reset_delay=False``,
    e-prop, SpyTorch); not so for snnTorch ``reset_delay=True`` and for SpikingJelly 2.0, whose
    returned spike is a slice of its stacked output while the reset reads the internal one."""
    conv = prob.__dict__.get("_conventions")
    if conv is None:
        from .compare import _build
        net = _build(prob)
        out = []
        for c in net.net.layers:
            recomputed = prob.preset.startswith("snntorch.") and c.spiking and not _post(c) and c.reset != "none"
            out.append((_post(c), recomputed, not (recomputed or prob.preset.startswith("spikingjelly."))))
        conv = tuple(out)
        prob.__dict__["_conventions"] = conv
    return conv


def _rho(cfg, p, tr):
    """ρ_t = r_{t+1}/α = −∂v⁺_t/∂s_t, the post-reset record's reset amount (lif.py S4)."""
    alpha = np.asarray(p["alpha"], np.float64)
    if cfg.reset == "subtract":
        return np.broadcast_to(p["gamma"] / alpha, tr.v.shape)
    if cfg.reset == "hard_keep_input":
        return tr.v - p["v_reset"] / alpha
    return np.zeros_like(tr.v)


def _r_next(cfg, p, tr):
    """r_{t+1}, the reset amount that step t's spike removes at step t+1 (F4), for t = 0..T−1
    (the last row 0: no step T)."""
    T = tr.v.shape[0]
    if cfg.reset == "subtract":
        r = np.broadcast_to(np.asarray(p["gamma"], np.float64), tr.v.shape).copy()
    elif cfg.reset == "none" or not cfg.spiking:
        return np.zeros_like(tr.v)
    else:
        r = np.asarray(p["alpha"]) * tr.v - p["v_reset"]
        if cfg.reset_partials[1]:
            drive = np.zeros_like(tr.v)
            drive[:-1] = (tr.c if cfg.synapse else tr.I_ff)[1:]
            r = r + drive
    if T:
        r[-1] = 0.0
    return r


def record_adjoints(net, run, adj, conv):
    """refsnn's counterparts of the entries ``dspikes/<l>``, ``dmembranes/<l>`` (compare's
    docstring): per layer ``(δs_t, M_t)`` in the records' time. ``M_t = δv_t`` when the peer's
    state is the charged membrane and ``M_t = δv⁺_t = b_t + α δv_{t+1}`` when it is the
    post-reset one (b_t the loss's partial on a post-reset record); ``δs_t`` without B1's reset
    term where the peer decides the reset from the membrane (:func:`conventions`)."""
    out = []
    for l, (lm, tr, view, a) in enumerate(zip(net.layers, run.trajs, net._views, adj)):
        cfg = tr.config
        state_post, _, has_reset = conv[l] if l < len(conv) else (False, False, True)
        if state_post and cfg.spiking:
            alpha = np.asarray(lm.params()["alpha"], np.float64)
            M = np.zeros_like(a["dv"])
            M[:-1] = alpha * a["dv"][1:]
            if a["a_v"] is not None and _post(cfg):
                M += a["a_v"]
        else:
            M = a["dv"]
        ds = None
        if cfg.spiking:
            ds = a["ds"]
            if not has_reset and not cfg.detach_reset and cfg.reset != "none":
                dvn = np.zeros_like(a["dv"])
                dvn[:-1] = a["dv"][1:]
                if _post(cfg):          # remove −ρ_t (b_t + α δv_{t+1}) = P2 and B1's reset term
                    b = a["a_v"] if a["a_v"] is not None else 0.0
                    ds = ds + _rho(cfg, lm.params(), tr) * (b + np.asarray(lm.params()["alpha"]) * dvn)
                else:                   # remove −r_{t+1} δv_{t+1}
                    ds = ds + _r_next(cfg, lm.params(), tr) * dvn
            ds = _shift_time(ds, lm.spike_shift)
        out.append((ds, _shift_time(M, view.shift)))
    return out


def _post(cfg):
    return cfg.spiking and cfg.membrane_view == "post_reset" and cfg.reset != "none"


def _forward_reset_at(base, net, x, layers):
    """The forward pass of ``net`` where, in ``layers``, the reset is decided by ``base``'s
    spike test (snnTorch-style code that tests the reset again with the file's θ while its
    output spike uses another): two passes per layer, the second with the first's reset
    spikes held."""
    from ..neurons.lif import layer_forward
    xin = net._input(x)
    B = x.shape[1]
    trajs, spikes, mems = [], [], []
    inp = xin
    for l, (lm, cfg, view, lb, cb) in enumerate(zip(net.layers, net._net.layers, net._views, base.layers,
                                                   base._net.layers)):
        st = lm.state0(lm.peer, B)
        sr = None
        if l in layers and cfg.spiking:
            sr = layer_forward(cb, lb.params(), inp, st).reset_spikes()
        tr = layer_forward(cfg, lm.params(), inp, st, sr)
        trajs.append(tr)
        spikes.append(P._shift(tr.s, lm.spike_shift))
        mems.append(P._shift(tr.membrane, view.shift))
        inp = tr.s
    return P.Run(trajs, spikes, mems, x)


def simulate(prob, hyp: Hypothesis | None = None, net=None, run=None):
    """refsnn's arrays for ``prob`` under ``hyp``: ``{"loss_value", "grads", "spikes": [per layer],
    "membranes": [...], "dspikes": [...], "dmembranes": [...], "run", "net"}`` (``net`` and
    ``run`` may be given when they are already built)."""
    from .compare import LOSSES, _check_loss_data
    hyp = hyp or Hypothesis("refsnn", "")
    net = net or _net(prob, hyp)
    x = _shift_time(prob.x, hyp.shift)
    if run is None and hyp.reset_at:
        run = _forward_reset_at(_net(prob, replace(hyp, edits=())), net, x, hyp.reset_at)
    run = run or net.forward(x)
    spikes, mems = list(run.spikes), list(run.membranes)
    n = len(net.layers)
    rec_layers = []
    if hyp.record is not None:
        which, c, attached = hyp.record
        rec_layers = [l for l in (range(n) if which is None else [which]) if net._net.layers[l].spiking]
        for l in rec_layers:
            if _post(net._net.layers[l]):
                raise P.PresetError("a v − c·s record is tried on pre-reset layers only")
            mems[l] = _shift_time(run.trajs[l].v, net._views[l].shift) - c * spikes[l]
    S, V = spikes[-1], mems[-1]
    data = _check_loss_data(prob, S.shape)
    value, aS, aV = LOSSES[prob.loss][0](S, V, data)
    a_s, a_v = [None] * n, [None] * n
    a_s[-1], a_v[-1] = aS, aV
    extra = {}
    if hyp.record is not None and n - 1 in rec_layers and aV is not None:
        _, c, attached = hyp.record
        if attached:
            a_s[-1] = (0.0 if aS is None else aS) - c * aV
        # c = θ read from the peer's threshold parameter: −Σ s·a^v reaches it
        th = net.layers[-1].peer.get("threshold")
        if th is not None and np.size(th) == 1 and abs(float(np.asarray(th).reshape(-1)[0]) - c) <= 1e-12 * abs(c):
            extra[f"{n - 1}.threshold"] = -float((S * aV).sum())
    adj = []
    grads = net.backward(run, a_s, a_v, adjoints=adj)
    for k, v in extra.items():
        if k in grads:
            grads[k] = grads[k] + np.asarray(v).reshape(np.shape(grads[k]))
    grads["x"] = _shift_time(grads["x"], -hyp.shift)
    if hyp.grad_scale != 1.0:
        grads = {k: hyp.grad_scale * g for k, g in grads.items()}
    if hyp.array_scale is not None:
        names, c = hyp.array_scale
        for k in ((names,) if isinstance(names, str) else names):
            grads[k] = c * grads[k]
    recs = record_adjoints(net, run, adj, conventions(prob))
    if hyp.grad_scale != 1.0:
        recs = [(None if d is None else hyp.grad_scale * d, hyp.grad_scale * m) for d, m in recs]
    return {"loss_value": value * hyp.loss_scale, "grads": grads, "spikes": spikes, "membranes": mems,
            "dspikes": [r[0] for r in recs], "dmembranes": [r[1] for r in recs], "run": run, "net": net,
            "adj": adj, "a_s": a_s, "a_v": a_v}


# ---------------------------------------------------------------------------------------
# Comparing every array the user gave
# ---------------------------------------------------------------------------------------

def _user_arrays(prob):
    """``[(name, kind, layer, array)]``: every array of the user's to compare, forward first."""
    L = None
    out = []
    if prob.loss_value is not None:
        out.append(("loss_value", "loss_value", None, np.float64(prob.loss_value)))
    for l in sorted(set(prob.layer_spikes) | set(prob.layer_membranes)):
        if l in prob.layer_membranes:
            out.append((f"membranes/{l}", "membranes", l, prob.layer_membranes[l]))
        if l in prob.layer_spikes:
            out.append((f"spikes/{l}", "spikes", l, prob.layer_spikes[l]))
    if prob.membranes is not None:
        out.append(("membranes", "membranes", -1, prob.membranes))
    if prob.spikes is not None:
        out.append(("spikes", "spikes", -1, prob.spikes))
    for k in sorted(prob.grads):
        out.append((f"grad/{k}", "grad", k, prob.grads[k]))
    for l in sorted(prob.dmembranes):
        out.append((f"dmembranes/{l}", "dmembranes", l, prob.dmembranes[l]))
    for l in sorted(prob.dspikes):
        out.append((f"dspikes/{l}", "dspikes", l, prob.dspikes[l]))
    del L
    return out


def _ref_array(ref, kind, key):
    if kind == "loss_value":
        return np.float64(ref["loss_value"])
    if kind == "grad":
        return ref["grads"].get(key)
    arr = ref[kind][key]
    return arr


def _rel_l2(a, r):
    a = np.asarray(a, np.float64)
    r = np.asarray(r, np.float64)
    nr = float(np.sqrt((r * r).sum()))
    nd = float(np.sqrt(((a - r) ** 2).sum()))
    if nd == 0.0:
        return 0.0
    return nd / max(nr, 1e-300) if nr > 0 else math.inf


def _per_step(a, r, floor=1e-4):
    """Per-step worst relative error (compare's measure), ``(T,)``."""
    scale = max(float(np.abs(r).max()), 1e-300)
    err = np.abs(a - r) / np.maximum(np.abs(r), floor * scale)
    return err.reshape(len(a), -1).max(axis=1)


def score(prob, ref, rtol):
    """``(agrees, residual, rows)`` of ``ref`` against the user's arrays; ``rows`` holds
    ``(name, max_rel, passed, rel_l2)`` per array (spikes: the fraction that differ)."""
    from .compare import rel_error
    rows, res, ok = [], 0.0, True
    for name, kind, key, a in _user_arrays(prob):
        r = _ref_array(ref, kind, key)
        if r is None or np.shape(r) != np.shape(a):
            rows.append((name, math.inf, False, math.inf))
            ok, res = False, math.inf
            continue
        if kind == "spikes":
            bad = int((a != r).sum())
            e = 0.0 if not bad else math.inf
            resid = bad / max(float(np.abs(r).sum() + np.abs(a).sum()), 1.0)
        else:
            e, _ = rel_error(a, r)
            resid = _rel_l2(a, r) if kind != "loss_value" else abs(float(a) - float(r)) / max(abs(float(r)), 1e-300)
        passed = e <= rtol
        rows.append((name, e, passed, resid))
        ok &= passed
        res = max(res, resid)
    return ok, res, rows


def _is_forward(name):
    return name == "loss_value" or name.startswith(("spikes", "membranes"))


def _forward_part(rows):
    """``(agrees, residual)`` of the forward arrays alone."""
    f = [r for r in rows if _is_forward(r[0])]
    return all(r[2] for r in f), max((r[3] for r in f), default=0.0)


# ---------------------------------------------------------------------------------------
# Where: the first diverging forward step, the first diverging adjoint step
# ---------------------------------------------------------------------------------------

def first_forward(prob, ref, rtol):
    """The first diverging forward record: ``{"layer", "quantity", "t", "batch", "neuron", "max_rel"}``
    (the earliest step; the lowest layer, membranes before spikes, at that step) or None."""
    n = len(ref["spikes"])
    best = None
    for name, kind, key, a in _user_arrays(prob):
        if kind not in ("spikes", "membranes"):
            continue
        l = n - 1 if key == -1 else key
        r = ref[kind][l]
        if kind == "spikes":
            bad = np.argwhere(a != r)
            if not bad.size:
                continue
            t, b, j = (int(i) for i in bad[0])
            cand = (t, l, 0 if kind == "membranes" else 1, {"layer": l, "quantity": kind, "entry": name, "t": t,
                                                             "batch": b, "neuron": j,
                                                             "user": float(a[t, b, j]), "refsnn": float(r[t, b, j])})
        else:
            per = _per_step(a, r)
            if not np.any(per > rtol):
                continue
            t = int(np.argmax(per > rtol))
            scale = max(float(np.abs(r).max()), 1e-300)
            err = np.abs(a[t] - r[t]) / np.maximum(np.abs(r[t]), 1e-4 * scale)
            b, j = (int(i) for i in np.unravel_index(int(np.argmax(err)), err.shape))
            cand = (t, l, 0, {"layer": l, "quantity": kind, "entry": name, "t": t, "batch": b, "neuron": j,
                              "user": float(a[t, b, j]), "refsnn": float(r[t, b, j]), "max_rel": float(per[t])})
        if best is None or cand[:3] < best[:3]:
            best = cand
    if best is not None:
        return best[3]
    if prob.loss_value is not None:
        e = abs(prob.loss_value - ref["loss_value"]) / max(abs(ref["loss_value"]), 1e-300)
        if e > rtol:
            return {"layer": n - 1, "quantity": "loss_value", "entry": "loss_value", "t": None,
                    "user": prob.loss_value, "refsnn": float(ref["loss_value"]), "max_rel": e}
    return None


def first_adjoint(prob, ref, rtol):
    """The first diverging step in reverse time (the last t at which it differs) of ``grad/x``
    and of each recorded per-step adjoint: ``[{"entry", "layer", "t", "max_rel"}]``."""
    out = []
    items = []
    if "x" in prob.grads:
        items.append(("grad/x", 0, prob.grads["x"], ref["grads"]["x"]))
    for l in sorted(prob.dmembranes):
        items.append((f"dmembranes/{l}", l, prob.dmembranes[l], ref["dmembranes"][l]))
    for l in sorted(prob.dspikes):
        items.append((f"dspikes/{l}", l, prob.dspikes[l], ref["dspikes"][l]))
    for name, l, a, r in items:
        if r is None or a.shape != r.shape or not np.any(r):
            continue
        per = _per_step(a, r)
        bad = np.flatnonzero(per > rtol)
        if bad.size:
            out.append({"entry": name, "layer": l, "t": int(bad[-1]), "steps_differing": int(bad.size),
                        "max_rel": float(per.max())})
    return out


# ---------------------------------------------------------------------------------------
# Candidate causes
# ---------------------------------------------------------------------------------------

_VARIANT_CATEGORY = (("detach vs attach", "reset detach"), ("H(0)", "threshold"), ("initial spike", "initial spike"),
                     ("float32", "float32"), ("pre- vs post-reset", "membrane record"),
                     ("reset timing", "reset kind/amount"), ("surrogate scale", "surrogate shape/scale"),
                     ("surrogate gain", "surrogate gain"), ("Norse 'super'", "surrogate shape/scale"))


def _switches(prob):
    from .compare import VARIANTS
    out = []
    for label, ov, kw in VARIANTS(prob):
        cat = next(c for k, c in _VARIANT_CATEGORY if label.startswith(k) or k in label[:40])
        out.append(Hypothesis(label, cat, ov or P.Overrides(), kw))
    return out


def _try(prob, hyp, rtol):
    try:
        ref = simulate(prob, hyp)
    except (P.PresetError, ValueError, TypeError, FloatingPointError, ZeroDivisionError):
        return None
    from .compare import BadInput
    try:
        return score(prob, ref, rtol), ref
    except BadInput:
        return None


def _grad_objective(prob, ref):
    """Σ over the user's gradient arrays (and per-step adjoints) of (‖a − r‖/‖r‖)²."""
    tot = 0.0
    for name, kind, key, a in _user_arrays(prob):
        if kind in ("grad", "dmembranes", "dspikes"):
            r = _ref_array(ref, kind, key)
            if r is None or r.shape != a.shape:
                return math.inf
            e = _rel_l2(a, r)
            tot += min(e, 1e6) ** 2
    return tot


def _snap(c):
    """A fitted factor as a simple number where that loses nothing: ``(value, text)``."""
    if c != 0 and math.isfinite(c):
        for k in range(2, 65):
            for v, text in ((float(k), f"{k}"), (1.0 / k, f"1/{k}")):
                if abs(c - v) <= 1e-9 * abs(v):
                    return v, text
        for cn in _nice(c, (3, 4, 6)):
            if abs(cn - c) <= 1e-9 * abs(c):
                return cn, f"{cn:g}"
    return c, f"{c:.6g}"


def _nice(x, digits=(1, 2, 3)):
    out = []
    for d in digits:
        if x != 0 and math.isfinite(x):
            out.append(float(f"{x:.{d}g}"))
    return out


def _fit_surrogate(prob, rtol, base: Hypothesis | None = None):
    """Fit the surrogate's scale factor f and gain factor g (log space) to the gradients.

    The forward pass does not depend on the surrogate: it is run once and only the
    backward is repeated. Returns ``(f, g, J(f, g), J(1, 1))``."""
    base = base or Hypothesis("", "")
    try:
        ref0 = simulate(prob, base)
    except (P.PresetError, ValueError, TypeError, FloatingPointError):
        return 1.0, 1.0, math.inf, math.inf
    net0, run0 = ref0["net"], ref0["run"]

    def J(z):
        f, g = math.exp(z[0]), math.exp(z[1])
        ov = replace(base.overrides, sg_scale=base.overrides.sg_scale * f, sg_gain=base.overrides.sg_gain * g)
        try:
            net = net0.with_overrides(ov)
            run = P.Run([replace(tr, config=c) for tr, c in zip(run0.trajs, net.net.layers)], run0.spikes,
                        run0.membranes, run0.x)
            return _grad_objective(prob, simulate(prob, base, net=net, run=run))
        except (P.PresetError, ValueError, TypeError, FloatingPointError):
            return math.inf

    j1 = J((0.0, 0.0))
    grid = np.log([0.5, 1.0, 2.0])
    best = min(((J((a, b)), (a, b)) for a in grid for b in grid), key=lambda p: p[0])
    res = minimize(J, np.array(best[1]), method="Nelder-Mead",
                   options={"xatol": 1e-9, "fatol": 1e-20, "maxiter": 110, "initial_simplex":
                            np.array(best[1]) + np.array([[0, 0], [0.2, 0], [0, 0.2]])})
    z = res.x if res.fun <= best[0] else np.array(best[1])
    f, g = math.exp(z[0]), math.exp(z[1])
    jbest = min(res.fun, best[0])
    done = False
    for fn in [1.0] + _nice(f):            # round the factors where nothing is lost
        for gn in [1.0] + _nice(g):
            j = J((math.log(fn), math.log(gn)))
            if j <= max(jbest * 1.001, 1e-24):
                f, g, jbest, done = fn, gn, j, True
                break
        if done:
            break
    return f, g, jbest, j1


def _surrogate_hypothesis(prob, f, g):
    net = _net(prob, Hypothesis("", ""))
    sgs = [c.surrogate for c in net.net.layers if c.spiking]
    if not sgs:
        return None
    sg = sgs[0]
    new = surrogate(sg.name, None if sg.scale is None else sg.scale * f, gain=sg.gain * g)
    peak = new.height / sg.height
    cat = "surrogate shape/scale" if abs(f - 1.0) > 1e-6 else "surrogate gain"
    desc = (f"surrogate {sg.name}: scale {sg.scale:g} → {new.scale:.6g} (× {f:.6g}), " if sg.scale else
            f"surrogate {sg.name}: ") + f"gain × {g:.6g}; peak σ'(0) {sg.height:.6g} → {new.height:.6g} (× {peak:.4g})"
    return Hypothesis(desc, cat, P.Overrides(sg_scale=f, sg_gain=g),
                      fitted={"surrogate": sg.name, "scale": new.scale, "scale_factor": f, "gain_factor": g,
                              "peak_factor": peak})


# --- forward fits: refsnn parameters and peer parameters from the forward recording --------

_FIT_PARAMS = {"alpha": ("parameter value", "the leak α"), "gamma": ("reset kind/amount", "the reset amount γ"),
               "v_reset": ("reset kind/amount", "the reset value v_r"), "lam": ("parameter value", "the synaptic decay λ"),
               "beta_a": ("parameter value", "the threshold jump β_a"), "rho_a": ("parameter value",
                                                                                 "the threshold decay ρ_a")}


def _scale_param(layers, name, f):
    """An edit: refsnn parameter ``name`` of the given layers multiplied by f (φ and its vjp)."""
    def edit(net):
        lms = []
        for l, lm in enumerate(net.layers):
            if l in layers:
                phi, vjp = lm.to_refsnn, lm.vjp

                def phi2(Pp, phi=phi):
                    p = dict(phi(Pp))
                    if name in p:
                        p[name] = np.asarray(p[name]) * f
                    return p

                def vjp2(Pp, g, vjp=vjp):
                    g = dict(g)
                    if name in g:
                        g[name] = np.asarray(g[name]) * f
                    return vjp(Pp, g)
                lm = replace(lm, to_refsnn=phi2, vjp=vjp2)
            lms.append(lm)
        return replace(net, layers=lms)
    return edit


def _set_peer(l, name, value):
    def edit(net):
        flat = dict(net.peer_params)
        flat[f"{l}.{name}"] = np.full(np.shape(flat[f"{l}.{name}"]), value)
        return net.with_peer_params(flat)
    return edit


def _user_record(prob, kind, l, n):
    """The user's record ``kind`` ("spikes" or "membranes") of layer l: ``<kind>/<l>``, or for
    the last layer the plain ``<kind>`` entry; None if not saved."""
    per_layer = prob.layer_spikes if kind == "spikes" else prob.layer_membranes
    if l in per_layer:
        return per_layer[l]
    last = prob.spikes if kind == "spikes" else prob.membranes
    return last if l == n - 1 else None


def _user_spikes(prob, l, n):
    return _user_record(prob, "spikes", l, n)


def _user_membranes(prob, l, n):
    return _user_record(prob, "membranes", l, n)


def _teacher(prob, net, x, reset_from_membrane=True):
    """Each layer run on the user's spikes of the layer below, with the user's reset spikes
    held: ``[(traj, membrane record)]``. With the spikes fixed, the membranes are smooth
    functions of every parameter (a least-squares problem). The reset spikes are the user's
    spikes, or, where the peer decides its reset from the membrane (:func:`conventions`),
    ``H(u − θ)`` of the user's recorded membranes."""
    from ..neurons.lif import _layer_forward
    n = len(net.layers)
    out = []
    inp = net._input(x)
    B = x.shape[1]
    conv = conventions(prob)
    for l, (lm, cfg, view) in enumerate(zip(net.layers, net._net.layers, net._views)):
        s_user = _user_spikes(prob, l, n) if cfg.spiking else None
        sr = None
        if s_user is not None:
            s = _shift_time(s_user, -lm.spike_shift)
            u = _user_membranes(prob, l, n)
            if conv[l][1] and u is not None and not view.shift and reset_from_membrane:   # snnTorch: H(U − θ)
                th = np.asarray(lm.params()["theta"])
                s = (u - th > 0).astype(np.float64) if cfg.h0 == 0 else (u - th >= 0).astype(np.float64)
            if cfg.membrane_view == "post_reset":
                sr = np.concatenate([np.zeros((1,) + s.shape[1:]), s])
            else:
                sr = np.concatenate([np.zeros((1,) + s.shape[1:]), s[:-1]])
        st = lm.state0(lm.peer, B)
        tr = _layer_forward(cfg, lm.params(), inp, st, sr, trusted=True)
        out.append((tr, _shift_time(tr.membrane, view.shift)))
        inp = tr.s if s_user is None else _shift_time(s_user, -lm.spike_shift)
    return out


def _membrane_objective(prob, net, x, reset_from_membrane=True):
    n = len(net.layers)
    tot, any_ = 0.0, False
    for l, (tr, mem) in enumerate(_teacher(prob, net, x, reset_from_membrane)):
        u = _user_membranes(prob, l, n)
        if u is None:
            continue
        any_ = True
        tot += min(_rel_l2(u, mem), 1e6) ** 2
    return tot if any_ else None


def _fit_scalar(obj, x0, lo, hi, n_grid=9):
    """Minimise a scalar function on [lo, hi] (a grid, then bounded Brent), then round where
    nothing is lost. Returns ``(value, objective, objective at x0)``; the value is x0 itself
    when the fit does not at least quarter the objective (it explains nothing)."""
    j0 = obj(x0)
    grid = np.linspace(lo, hi, n_grid)
    vals = [obj(v) for v in grid]
    i = int(np.argmin(vals))
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    res = minimize_scalar(obj, bounds=(a, b), method="bounded", options={"xatol": 1e-12 * max(abs(x0), 1.0)})
    v, j = (res.x, res.fun) if res.fun <= vals[i] else (grid[i], vals[i])
    if not j < 0.25 * j0:
        return x0, j0, j0
    for vn in _nice(v, (2, 3, 4)):
        jn = obj(vn)
        if jn <= max(j * 1.0001, 1e-26):
            return vn, jn, j0
    return float(v), j, j0


def _forward_fits(prob, rtol, first):
    """Hypotheses fitted to the forward recording (membranes with the user's spikes held)."""
    base = _net(prob, Hypothesis("", ""))
    x = prob.x
    j_mem = _membrane_objective(prob, base, x, True)
    if j_mem is None:
        return []
    # snnTorch decides its reset from the membrane: hold H(u − θ) of your membranes, unless your
    # own spikes fit your membranes better (then your reset follows your spikes)
    from_mem = not (any(c[1] for c in conventions(prob)) and _membrane_objective(prob, base, x, False) < j_mem)
    n = len(base.layers)
    layers_order = list(range(n))
    if first is not None and first.get("layer") is not None:
        l0 = first["layer"]
        layers_order = [l0] + [l for l in range(n) if l != l0]
    out = []

    def obj_for(edit):
        def obj(v):
            try:
                return _membrane_objective(prob, edit(v)(base), x, from_mem)
            except (P.PresetError, ValueError, TypeError, FloatingPointError, ZeroDivisionError):
                return 1e12
        return obj

    # refsnn parameters, for all layers at once and in the first diverging layer
    for l in [None] + layers_order[:1]:
        which = set(range(n)) if l is None else {l}
        params = [base.layers[k].params() for k in which]
        for name, (cat, what) in _FIT_PARAMS.items():
            if not all(name in p for p in params):
                continue
            if not any(np.any(np.asarray(p[name]) != 0) for p in params):
                continue
            f, j, _ = _fit_scalar(obj_for(lambda v, name=name: _scale_param(which, name, v)), 1.0, 0.5, 1.5)
            if abs(f - 1.0) < 1e-9:
                continue
            where = "every layer" if l is None or n == 1 else f"layer {l}"
            val = np.asarray(params[0][name]).reshape(-1)[0]
            interp = _interpret(name, f, base.layers[min(which)].params())
            out.append(Hypothesis(f"{what} × {f:.6g} in {where} ({val:.6g} → {val * f:.6g}{interp})", cat,
                                  edits=(_scale_param(which, name, f),),
                                  fitted={"parameter": name, "layers": sorted(which), "factor": f,
                                          "value": val * f, "refsnn": float(val)}))
    # scalar peer parameters (β, θ, τ, ...): one shared by every layer (the same value there), then per layer
    flat = base.peer_params
    common = [k for k, v in base.layers[0].peer.items() if np.size(v) == 1 and k not in ("weight", "bias")
              and n > 1 and all(k in lm.peer and np.array_equal(np.asarray(lm.peer[k]), np.asarray(v))
                                for lm in base.layers)]
    for name in common:
        v0 = float(np.asarray(flat[f"0.{name}"]).reshape(-1)[0])
        if v0 == 0 or not math.isfinite(v0):
            continue

        def set_all(u, name=name):
            edits = [_set_peer(k, name, u) for k in range(n)]

            def edit(net):
                for e in edits:
                    net = e(net)
                return net
            return edit
        val, j, _ = _fit_scalar(obj_for(set_all), v0, *sorted((v0 * 0.5, v0 * 1.5)))
        if abs(val - v0) > 1e-9 * abs(v0):
            out.append(Hypothesis(f"your membranes follow {name} = {val:.6g}, not {v0:.6g} (every layer's "
                                  f"peer parameter {name})", "threshold" if "th" in name else "parameter value",
                                  edits=(set_all(val),), fitted={"parameter": name, "layers": list(range(n)),
                                                                 "value": val, "file": v0}))
    for l in layers_order:
        for name, v in base.layers[l].peer.items():
            v = np.asarray(v)
            if v.size != 1 or name in ("weight", "bias") or not np.isfinite(v).all() or float(v) == 0:
                continue
            v0 = float(v.reshape(-1)[0])
            val, j, _ = _fit_scalar(obj_for(lambda u, l=l, name=name: _set_peer(l, name, u)), v0,
                                 v0 * 0.5 if v0 > 0 else v0 * 1.5, v0 * 1.5 if v0 > 0 else v0 * 0.5)
            if abs(val - v0) <= 1e-9 * abs(v0):
                continue
            out.append(Hypothesis(f"peer parameter {l}.{name} = {val:.6g}, not {v0:.6g} (your membranes follow it)",
                                  "threshold" if "th" in name else "parameter value",
                                  edits=(_set_peer(l, name, val),),
                                  fitted={"parameter": f"{l}.{name}", "value": val, "file": v0}))
    # numeric preset arguments (SpikingJelly's tau, v_threshold; Norse's dt; ...), but not the surrogate's
    pre = P.PRESETS[prob.preset]
    for name, default in pre.defaults.items():
        v0 = prob.kwargs.get(name, default)
        if (name in _SURROGATE_KWARGS or isinstance(v0, bool) or not isinstance(v0, (int, float))
                or not math.isfinite(v0) or v0 == 0):
            continue
        v0 = float(v0)

        def kw_obj(u, name=name):
            try:
                net = _net(prob, Hypothesis("", "", kwargs={**prob.kwargs, name: u}))
                return _membrane_objective(prob, net, x, from_mem)
            except (P.PresetError, ValueError, TypeError, FloatingPointError, ZeroDivisionError):
                return 1e12
        lo, hi = sorted((v0 * 0.5, v0 * 1.5))
        val, j, _ = _fit_scalar(kw_obj, v0, lo, hi)
        if abs(val - v0) <= 1e-9 * abs(v0):
            continue
        out.append(Hypothesis(f"preset argument {name} = {val:.6g}, not {v0:.6g} (your membranes follow it)",
                              "threshold" if "th" in name else "parameter value",
                              kwargs={**prob.kwargs, name: val}, fitted={"argument": name, "value": val, "file": v0}))
    out.extend(_threshold_fits(prob, base, x, from_mem))
    return out


#: preset arguments of the surrogate (fitted by the surrogate fit, not from the forward pass)
_SURROGATE_KWARGS = ("alpha", "slope", "scale", "gamma_pd", "spike_grad", "surrogate_function", "method")


def _interpret(name, f, p):
    """Name a fitted factor that equals a product of the layer's other values (γ = αθ, ...)."""
    a = float(np.asarray(p["alpha"]).reshape(-1)[0])
    for expr, val in (("α", a), ("1/α", 1 / a)):
        if abs(f - val) <= 1e-6 * abs(val):
            return f"; the factor is {expr}"
    return ""


def _threshold_fits(prob, base, x, from_mem=True):
    """θ of the spike test, from the interval that the user's spikes allow at the membranes
    refsnn computes with the user's reset spikes held; two hypotheses per layer: the reset
    moves with the spike test (one spike tensor, as SpikingJelly and Norse), or it stays at
    the file's θ (snnTorch-style code that tests its reset again)."""
    out, found = [], []
    n = len(base.layers)
    for l, (tr, _) in enumerate(_teacher(prob, base, x, from_mem)):
        cfg = tr.config
        s_user = _user_spikes(prob, l, n)
        if not cfg.spiking or s_user is None or cfg.adaptive_threshold:
            continue
        s = _shift_time(s_user, -base.layers[l].spike_shift)
        th = np.broadcast_to(base.layers[l].params()["theta"], tr.v.shape)
        if np.any(th <= 0):
            continue
        ratio = tr.v / th
        on, off = ratio[s > 0.5], ratio[s <= 0.5]
        hi = float(on.min()) if on.size else math.inf
        lo = float(off.max()) if off.size else -math.inf
        if not lo < hi or lo < 1.0 <= hi or not math.isfinite(lo) or not math.isfinite(hi):
            continue
        found.append((l, lo, hi))
    groups = [(set(range(n)), max(g[1] for g in found), min(g[2] for g in found))] if len(found) > 1 else []
    groups += [({l}, lo, hi) for l, lo, hi in found]
    for layers, lo, hi in groups:
        if not lo < hi:
            continue
        f = 0.5 * (lo + hi)
        for fn in _nice(f, (2, 3, 4)):
            if lo < fn <= hi:
                f = fn
                break
        where = "every layer" if len(layers) > 1 else f"layer {min(layers)}"
        for keep in (False, True):
            label = (f"the spike test's threshold is θ × {f:.6g} in {where} (the spikes allow × ({lo:.6g}, "
                     f"{hi:.6g}]), " + ("the reset still decided at the file's θ" if keep else
                                        "the reset following the same spikes"))
            out.append(Hypothesis(label, "threshold", edits=(_scale_param(layers, "theta", f),),
                                  reset_at=frozenset(layers) if keep else frozenset(),
                                  fitted={"parameter": "theta", "layers": sorted(layers), "factor": f,
                                          "interval": [lo, hi], "reset_at_file_theta": keep}))
    return out


def _threshold_in_sigma(prob, ref):
    """A threshold that moves no spike but σ'(v − θ) (the forward agrees): θ's factor fitted to
    the gradients inside the interval the recorded spikes allow (every spiking layer)."""
    net = ref["net"]
    n = len(net.layers)
    layers = {l for l in range(n) if net._net.layers[l].spiking and not net._net.layers[l].adaptive_threshold}
    if not layers:
        return []
    lo, hi = 0.5, 2.0
    for l in layers:
        tr = ref["run"].trajs[l]
        th = np.broadcast_to(net.layers[l].params()["theta"], tr.v.shape)
        if np.any(th <= 0):
            return []
        ratio, s = tr.v / th, tr.s
        if np.any(s > 0.5):
            hi = min(hi, float(ratio[s > 0.5].min()))
        if np.any(s <= 0.5):
            lo = max(lo, float(ratio[s <= 0.5].max()))
    if not lo < 1.0 <= hi:
        return []

    def obj(f):
        try:
            return _grad_objective(prob, simulate(prob, Hypothesis("", "", edits=(_scale_param(layers, "theta", f),))))
        except (P.PresetError, ValueError, TypeError, FloatingPointError):
            return math.inf
    f, j, j0 = _fit_scalar(obj, 1.0, lo + 1e-9 * abs(lo), hi, n_grid=41)   # σ' may be narrow: a fine grid
    if abs(f - 1.0) < 1e-9:
        return []
    return [Hypothesis(f"the threshold θ × {f:.6g} in every layer: no spike moves (they allow × ({lo:.6g}, {hi:.6g}]), "
                       "but σ'(v − θ) is evaluated at it", "threshold", edits=(_scale_param(layers, "theta", f),),
                       fitted={"parameter": "theta", "layers": sorted(layers), "factor": f, "interval": [lo, hi]})]


def _record_fits(prob, ref):
    """The membrane record ``v − c·s`` (snnTorch-style code that records mem − spk·θ), c fitted
    by least squares on the spiking entries, in every layer and in each layer alone."""
    out = []
    net = ref["net"]
    n = len(net.layers)
    per = {}
    for l in range(n):
        u = _user_membranes(prob, l, n)
        cfg = net._net.layers[l]
        if u is None or not cfg.spiking or _post(cfg):
            continue
        v = _shift_time(ref["run"].trajs[l].v, net._views[l].shift)
        s = ref["spikes"][l]
        if np.any(s):
            per[l] = (float(((v - u) * s).sum()), float((s * s).sum()))
    groups = ([(None, per)] if len(per) > 1 else []) + [(l, {l: per[l]}) for l in per]
    for which, items in groups:
        num = sum(v[0] for v in items.values())
        den = sum(v[1] for v in items.values())
        c = num / den
        if not math.isfinite(c) or abs(c) < 1e-12:
            continue
        p = net.layers[max(items)].params()
        th = float(np.asarray(p["theta"]).reshape(-1)[0])
        for cn in (th,) + tuple(_nice(c, (2, 3, 4))):
            if abs(cn - c) <= 1e-6 * max(abs(c), 1e-12):
                c = cn
                break
        what = " = θ" if abs(c - th) <= 1e-9 * th else ""
        where = "every layer" if which is None else f"layer {which}"
        for attached in (True, False):
            out.append(Hypothesis(f"the membrane record of {where} is v − {c:.6g}·s{what} (the reset applied to the "
                                  f"record, spike {'attached' if attached else 'detached'}), not refsnn's v",
                                  "membrane record", record=(which, c, attached),
                                  fitted={"layers": sorted(items), "c": c, "attached": attached}))
    return out


def _scale_fits(prob, ref):
    """A common factor on the loss value, on every gradient, or on one gradient array."""
    out = []
    if prob.loss_value is not None and ref["loss_value"] != 0:
        c = prob.loss_value / ref["loss_value"]
        if abs(c - 1) > 1e-12:
            out.append(Hypothesis(f"the loss value is × {c:.6g} refsnn's (a different reduction or loss)", "loss",
                                  loss_scale=c, grad_scale=c, fitted={"factor": c}))
    num = den = 0.0
    for k, g in prob.grads.items():
        r = ref["grads"].get(k)
        if r is not None and r.shape == g.shape:
            num += float((g * r).sum())
            den += float((r * r).sum())
    if den > 0:
        c = num / den
        if abs(c - 1) > 1e-12 and math.isfinite(c):
            for cn in _nice(c, (3, 4, 6)):
                if abs(cn - c) <= 1e-9 * abs(c):
                    c = cn
                    break
            out.append(Hypothesis(f"every gradient is × {c:.6g} refsnn's (the loss's scale, e.g. a mean vs a sum)",
                                  "weight-gradient scale", grad_scale=c, fitted={"factor": c}))
    bad = []                                      # the gradient arrays that differ, scaled together
    for k, g in sorted(prob.grads.items()):
        r = ref["grads"].get(k)
        if r is not None and r.shape == g.shape and np.any(r) and not np.allclose(g, r, rtol=1e-12, atol=0):
            bad.append(k)
    if len(bad) > 1 and len(bad) < len(prob.grads) and sum(prob.grads[k].size for k in bad) >= 3:
        num = sum(float((prob.grads[k] * ref["grads"][k]).sum()) for k in bad)
        den = sum(float((ref["grads"][k] ** 2).sum()) for k in bad)
        c = num / den
        if math.isfinite(c) and abs(c - 1) > 1e-12:
            c, ctext = _snap(c)
            h = Hypothesis(f"{', '.join('grad/' + k for k in bad)} are × {ctext} refsnn's, the other gradients "
                           "agree (a factor applied to these parameters' gradients only)", "weight-gradient scale",
                           fitted={"arrays": ["grad/" + k for k in bad], "factor": c})
            h.array_scale = (tuple(bad), c)
            out.append(h)
    for k, g in sorted(prob.grads.items()):       # one gradient array scaled: its own factor
        r = ref["grads"].get(k)
        if r is None or r.shape != g.shape or not np.any(r) or np.allclose(g, r, rtol=1e-12, atol=0) or g.size < 3:
            continue       # (a factor always fits an array of one or two numbers: it explains nothing)
        c = float((g * r).sum() / (r * r).sum())
        if math.isfinite(c) and abs(c - 1) > 1e-12 and _rel_l2(g, c * r) < 1e-3 * _rel_l2(g, r):
            out.append(Hypothesis(f"grad/{k} alone is × {c:.8g} refsnn's (a factor applied to this gradient only)",
                                  "weight-gradient scale", edits=(), fitted={"array": f"grad/{k}", "factor": c},
                                  grad_scale=1.0))
            out[-1].array_scale = (k, c)
    return out


@dataclass
class Cause:
    rank: int
    category: str
    cause: str
    residual: float
    agrees: bool
    fitted: dict = field(default_factory=dict)
    still_differ: list = field(default_factory=list)
    forward_residual: float = 0.0
    forward_agrees: bool = True
    source: str = "simulated"      # "simulated": every array recomputed; "local": an adjoint-term fit

    def as_dict(self):
        return {"rank": self.rank, "category": self.category, "cause": self.cause,
                "residual": _j(self.residual), "agrees": self.agrees, "fitted": _jd(self.fitted),
                "forward_residual": _j(self.forward_residual), "forward_agrees": self.forward_agrees,
                "source": self.source,
                "still_differ": [{"name": n, "max_rel": _j(e)} for n, e in self.still_differ]}


def _j(v):
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None
    return v


def _jd(d):
    out = {}
    for k, v in d.items():
        if isinstance(v, np.ndarray):
            v = v.tolist()
        elif isinstance(v, (np.floating, np.integer)):
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            v = None
        out[k] = v
    return out


def _clean(obj):
    """Plain JSON values: numpy scalars and arrays to Python ones, non-finite floats to None."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


@dataclass
class Diagnosis:
    half: str                       # "forward", "backward" or "none"
    first_forward: dict | None
    first_adjoint: list
    causes: list
    terms: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    tried: list = field(default_factory=list)     # the convention switches: (label, agrees, worst max_rel)

    def as_dict(self):
        return _clean({"half": self.half, "first_forward": self.first_forward, "first_adjoint": self.first_adjoint,
                       "causes": [c.as_dict() for c in self.causes], "adjoint_terms": self.terms,
                       "notes": self.notes})


    def summary(self):
        lines = []
        if self.half == "forward" and self.first_forward is None:
            lines.append("the FORWARD pass differs (look there first; the gradients follow from it)")
        elif self.half == "forward":
            f = self.first_forward
            if f["quantity"] == "loss_value":
                lines.append(f"the FORWARD pass differs: the loss value ({f['user']:.10g} vs refsnn {f['refsnn']:.10g}); "
                             "every recorded spike and membrane agrees")
            else:
                lines.append(f"the FORWARD pass differs (look there first; the gradients follow from it): first at "
                             f"step t={f['t']}, layer "
                             f"{f['layer']}, {f['quantity']} (entry '{f['entry']}', batch {f['batch']}, neuron "
                             f"{f['neuron']}: yours {f['user']:.6g}, refsnn {f['refsnn']:.6g})")
        elif self.half == "backward":
            lines.append("the forward recording agrees; the BACKWARD pass differs")
        for a in (self.first_adjoint if self.half == "backward" else []):
            lines.append(f"first diverging adjoint step (reverse time): t={a['t']} in {a['entry']} "
                         f"({a['steps_differing']} steps differ, worst {a['max_rel']:.1e})")
        return lines


# ---------------------------------------------------------------------------------------
# The adjoint term: each backward equation checked locally on the user's own adjoints
# ---------------------------------------------------------------------------------------

_TERM_TEXT = {
    "B2.direct": "the loss's direct partial on the membrane (a^v_t)",
    "B2.leak": "the leak term α·g^m_{t+1}·δv_{t+1}",
    "B2.surrogate": "the surrogate term σ'(v_t − θ)·δs_t",
    "B2.reset": "the reset Jacobian's term through σ' (the reset reads a spike tensor other than the recorded one)",
    "B1.direct": "the loss's direct partial on the spike (a^s_t)",
    "B1.reset": "the reset Jacobian's term −r_{t+1}·δv_{t+1}",
    "B1.recurrent": "the recurrent term δI_{t+1}·R",
    "B1.above": "the layer above's term δI^{l+1}_t·W^{l+1} (B5 of layer l+1)",
    "B1.threshold": "the adaptive threshold's term δa_{t+1} (B6)",
    "B4.synapse": "the synaptic term λ·δc_{t+1} (B4, seen through the layer above)",
}


def _charged(cfg, p, tr, M, S, has_reset=True, reset_coef=None):
    """δv_t (the charged membrane's adjoint) from the recorded M (δv or δv⁺) and δs; where the
    recorded spike's gradient lacks the reset path, it is added: σ'_t (S_t − c ρ_t M_t), with
    c = 1 when attached (``reset_coef`` overrides it)."""
    if not _post(cfg):
        return M
    r_m = cfg.reset_partials[0]
    sr = tr.next_reset_spikes()
    sg = _sigma(cfg, p, tr)
    g = 1.0 - sr * r_m if r_m else 1.0
    if not has_reset:
        c = (0.0 if cfg.detach_reset else 1.0) if reset_coef is None else reset_coef
        if c:
            S = S - c * _rho(cfg, p, tr) * M
    return g * M + sg * S


def _sigma(cfg, p, tr):
    A = p["theta"] + p["beta_a"] * tr.a if cfg.adaptive_threshold else p["theta"]
    return cfg.surrogate.derivative(tr.v - A)


def _dI(cfg, p, tr, dv, split=False):
    """δI_t = δc_t by B4 from a δv: ``(δI, the λ part)``."""
    r_d = cfg.reset_partials[1]
    gd = 1.0 - tr.reset_spikes()[: len(dv)] * r_d if r_d and cfg.spiking else 1.0
    base = gd * dv
    if not cfg.synapse:
        return base, np.zeros_like(base)
    dc = np.zeros_like(dv)
    nxt = np.zeros_like(dv[0])
    for t in range(len(dv) - 1, -1, -1):
        dc[t] = base[t] + p["lam"] * nxt
        nxt = dc[t]
    lam_part = np.zeros_like(dv)
    lam_part[:-1] = p["lam"] * dc[1:]
    return dc, lam_part


def _from_above(net, l, dI, lam_part, W):
    """What layer l + 1's current adjoint sends down to layer l's spikes: ``(δI, λ part, W)``,
    moved back by the steps the upper layer reads this layer late (``LayerMap.input_delay``,
    Norse's LSNN stacks)."""
    k = net.layers[l + 1].input_delay
    if k:
        dI, lam_part = P._unshift(dI, k), P._unshift(lam_part, k)
    return dI, lam_part, W


def _terms(net, ref, l, M, S, above, from_mem=False):
    """The terms of layer l's two equations with the user's adjoints plugged in.

    Returns ``{"M": (lhs, {term: (array, expected coefficient)}), "S": (...)}`` over t = 0..T−1
    (refsnn's time). ``above`` is ``(δI^{l+1}, λ-part, W^{l+1})`` or None."""
    lm, tr = net.layers[l], ref["run"].trajs[l]
    cfg, p = tr.config, lm.params()
    a = ref["adj"][l]
    T = len(M)
    post = _post(cfg)
    Mn = np.zeros_like(M)
    Mn[:-1] = M[1:]
    out = {}
    alpha = np.asarray(p["alpha"], np.float64)
    r_m = cfg.reset_partials[0]
    direct_M = a["a_v"] if a["a_v"] is not None else np.zeros_like(M)
    if not cfg.spiking:
        out["M"] = (M, {"B2.direct": (direct_M, 1.0), "B2.leak": (alpha * Mn, 1.0)})
        return out
    sg = _sigma(cfg, p, tr)
    attached = cfg.reset != "none" and not cfg.detach_reset
    if post:
        Sn = np.zeros_like(S)
        Sn[:-1] = S[1:]
        sr_next = np.zeros_like(M)
        sr_next[:-1] = tr.next_reset_spikes()[1:]
        g = 1.0 - sr_next * r_m if r_m else 1.0
        sgn = np.zeros_like(M)
        sgn[:-1] = sg[1:]
        m_terms = {"B2.direct": (direct_M, 1.0), "B2.leak": (alpha * g * Mn, 1.0),
                   "B2.surrogate": (alpha * sgn * Sn, 1.0)}
        reset = -_rho(cfg, p, tr) * M
        if from_mem and cfg.reset != "none":
            # the recorded spike is not the reset's: the reset path α σ'_{t+1} (−ρ_{t+1}) δv⁺_{t+1} is B2's
            rn = np.zeros_like(M)
            rn[:-1] = reset[1:]
            m_terms["B2.reset"] = (alpha * sgn * rn, 1.0 if attached else 0.0)
        out["M"] = (M, m_terms)
    else:
        gm = np.ones_like(M)
        if r_m:
            gm[:-1] = 1.0 - tr.reset_spikes()[1:] * r_m
        m_terms = {"B2.direct": (direct_M, 1.0), "B2.leak": (alpha * gm * Mn, 1.0), "B2.surrogate": (sg * S, 1.0)}
        reset = -_r_next(cfg, p, tr) * Mn
        if from_mem and cfg.reset != "none":
            # the reset decided again from the membrane, H(v_t − θ): its path is σ'_t (−r_{t+1}) δv_{t+1}
            m_terms["B2.reset"] = (sg * reset, 1.0 if attached else 0.0)
        out["M"] = (M, m_terms)
    S_terms = {}
    a_s = a["a_s"]
    # the direct partial without P2's reset part (which is the reset term here)
    if l == len(net.layers) - 1:
        direct_S = ref["a_s"][l] if ref["a_s"][l] is not None else np.zeros_like(S)
        direct_S = _shift_time(np.asarray(direct_S, np.float64), -lm.spike_shift) * 1.0
    else:
        direct_S = np.zeros_like(S)
    del a_s
    S_terms["B1.direct"] = (direct_S, 1.0)
    if cfg.reset != "none" and not from_mem:
        S_terms["B1.reset"] = (reset, 1.0 if attached else 0.0)
    if cfg.recurrent:
        dv = _charged(cfg, p, tr, M, S, not from_mem)
        dI, _ = _dI(cfg, p, tr, dv)
        rec = np.zeros_like(S)
        lag = cfg.recurrent_delay                        # δI_{t+1} R, or δI_{t+2} R (lif S6)
        rec[:-lag] = dI[lag:] @ p["R"]
        S_terms["B1.recurrent"] = (rec, 1.0)
    if above is not None:
        dI_up, lam_part, W = above
        if np.any(lam_part):
            S_terms["B1.above"] = ((dI_up - lam_part) @ W, 1.0)
            S_terms["B4.synapse"] = (lam_part @ W, 1.0)
        else:
            S_terms["B1.above"] = (dI_up @ W, 1.0)
    if cfg.adaptive_threshold and not cfg.detach_threshold:
        da = np.zeros_like(S)
        nxt = np.zeros_like(S[0])
        for t in range(T - 1, -1, -1):
            da[t] = p["rho_a"] * nxt - p["beta_a"] * sg[t] * S[t]
            nxt = da[t]
        thr = np.zeros_like(S)
        thr[:-1] = da[1:]
        S_terms["B1.threshold"] = (thr, 1.0)
    out["S"] = (S, S_terms)
    return out


def _fit_terms(lhs, terms, rtol):
    """The single-term explanation of an equation's residual: per term its refitted coefficient,
    the steps where it is off, and the relative residual after the fit."""
    rhs = sum(e * a for a, e in terms.values())
    r = lhs - rhs
    nl = float(np.sqrt((lhs * lhs).sum())) or 1.0
    base = float(np.sqrt((r * r).sum())) / nl
    scale = max(float(np.abs(lhs).max()), 1e-300)
    per = (np.abs(r) / np.maximum(np.abs(lhs), 1e-4 * scale)).reshape(len(r), -1).max(axis=1)
    if base <= rtol * 10 and not np.any(per > max(rtol * 100, 1e-6)):
        return base, []
    fits = []
    for name, (a, e) in terms.items():
        aa = float((a * a).sum())
        if aa == 0:
            continue
        dc = float((r * a).sum()) / aa
        after = float(np.sqrt(((r - dc * a) ** 2).sum())) / nl
        # per-step coefficients: where is the term off?
        num = (r * a).reshape(len(r), -1).sum(axis=1)
        den = (a * a).reshape(len(r), -1).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            ct = np.where(den > 0, e + num / np.where(den > 0, den, 1), np.nan)
        off = [t for t in range(len(r)) if den[t] > 0 and per[t] > max(rtol * 100, 1e-6)]
        coef = e + dc
        if off:
            sub = np.array(off)
            rs = r[sub]
            as_ = a[sub]
            dcs = float((rs * as_).sum()) / max(float((as_ * as_).sum()), 1e-300)
            after_s = float(np.sqrt(max(((r[sub] - dcs * as_) ** 2).sum() + (r ** 2).sum() - (r[sub] ** 2).sum(),
                                        0.0))) / nl
            if after_s < after:
                coef, after = e + dcs, after_s
        fits.append({"term": name, "expected": e, "coefficient": coef, "residual_after": after,
                     "residual_before": base, "steps": off, "per_step": ct,
                     "active": [t for t in range(len(r)) if den[t] > 0]})
    fits.sort(key=lambda f: f["residual_after"])
    return base, fits


def _describe_term(fit, layer, p):
    e, c = fit["expected"], fit["coefficient"]
    what = _TERM_TEXT[fit["term"]]
    a = float(np.asarray(p.get("alpha", 1.0)).reshape(-1)[0])
    if abs(c) < 1e-6 and e != 0:
        how = "is missing"
    elif e == 0:
        how = f"is present (× {c:.4g}) where refsnn's convention has none"
    elif abs(c + e) < 1e-6 * abs(e):
        how = "has the wrong sign"
    else:
        how = f"is scaled × {c / e:.6g}"
        for expr, val in (("1/α: the factor α is missing", 1 / a), ("α: an extra α", a)):
            if abs(c / e - val) <= 1e-6 * abs(val) and fit["term"] != "B2.surrogate":
                how += f" (= {expr})"
    steps = fit["steps"]
    if steps:
        T = len(fit["per_step"])
        if steps == fit.get("active", None):
            span = " at every step where it is nonzero"
        elif steps == list(range(steps[0], steps[-1] + 1)):
            if steps[0] <= 1 and steps[-1] < T - 1:
                span = f" from step {steps[-1]} on (in reverse time: steps {steps[0]}..{steps[-1]})"
            elif steps[0] == steps[-1]:
                span = f" at step {steps[0]}"
            else:
                span = f" at steps {steps[0]}..{steps[-1]}"
        else:
            span = f" at {len(steps)} steps ({', '.join(map(str, steps[:6]))}{', ...' if len(steps) > 6 else ''})"
    else:
        span = ""
    where = f"layer {layer}" if isinstance(layer, int) else "layers " + ", ".join(map(str, layer))
    return f"{fit['term'].split('.')[0]} ({where}): {what} {how}{span}"


def _term_category(fit):
    name, e, c = fit["term"], fit["expected"], fit["coefficient"]
    if name in ("B1.reset", "B2.reset") and ((e == 0 and abs(c - 1) < 1e-6) or (e == 1 and abs(c) < 1e-6)):
        return "reset detach"
    if name == "B2.surrogate":
        return "surrogate gain"
    return "adjoint term"


def _mutated_input_gradient(prob, ref, term, coef):
    """∂L/∂x when every layer's backward computes ``term`` with coefficient ``coef`` (the other
    terms as refsnn): the recorded-quantity equations of :func:`_terms`, solved by sweeping
    them to their fixed point (the system is triangular in reverse time, so 2T + 2 sweeps
    are exact), top layer first. None if no layer has the term."""
    net = ref["net"]
    n = len(net.layers)
    conv = conventions(prob)
    users, used = {}, False
    rc = coef if term == "B2.reset" else None
    for l in range(n - 1, -1, -1):
        lm, tr, view = net.layers[l], ref["run"].trajs[l], net._views[l]
        cfg = tr.config
        M = _shift_time(ref["dmembranes"][l], -view.shift)
        S = _shift_time(ref["dspikes"][l], -lm.spike_shift) if cfg.spiking else None
        above = None
        if l + 1 < n:
            up = ref["run"].trajs[l + 1]
            Mu, Su = users[l + 1]
            dI, lam_part = _dI(up.config, net.layers[l + 1].params(), up,
                               _charged(up.config, net.layers[l + 1].params(), up, Mu, Su, conv[l + 1][2], rc))
            above = _from_above(net, l, dI, lam_part, net.layers[l + 1].params()["W"])
        for _ in range(2 * len(M) + 2):
            eqs = _terms(net, ref, l, M, S, above, not conv[l][2])
            new = {}
            for eq, (_, terms) in eqs.items():
                new[eq] = sum((coef if k == term else e) * a for k, (a, e) in terms.items())
                used |= term in terms
            done = np.array_equal(new["M"], M) and (S is None or np.array_equal(new.get("S", S), S))
            M, S = new["M"], new.get("S", S)
            if done:
                break
        users[l] = (M, S)
    if not used:
        return None
    tr0, p0 = ref["run"].trajs[0], net.layers[0].params()
    dI0, _ = _dI(tr0.config, p0, tr0, _charged(tr0.config, p0, tr0, *users[0], conv[0][2], rc))
    gx = dI0 @ p0["W"]
    if net.input_shift:
        gx = _shift_time(gx, -net.input_shift)
    return gx


def _term_hypotheses(prob, ref, rtol):
    """Without per-step records: each adjoint term missing, of the wrong sign, scaled by α or
    1/α (or present where refsnn's convention cuts it) in every layer, judged on ∂L/∂x."""
    from .compare import rel_error
    if "x" not in prob.grads:
        return []
    net = ref["net"]
    a = float(np.asarray(net.layers[0].params().get("alpha", 1.0)).reshape(-1)[0])
    conv = conventions(prob)
    names = {}
    for l in range(len(net.layers)):
        eqs = _terms(net, ref, l, _shift_time(ref["dmembranes"][l], -net._views[l].shift),
                     _shift_time(ref["dspikes"][l], -net.layers[l].spike_shift) if ref["dspikes"][l] is not None
                     else None, None, not conv[l][2])
        for eq, (_, terms) in eqs.items():
            for k, (arr, e) in terms.items():
                if k.endswith(".direct") or not np.any(arr):
                    continue
                names[k] = e
    out = []
    user = prob.grads["x"]
    base = _rel_l2(user, ref["grads"]["x"])
    for k, e in names.items():
        coefs = [(1.0, "present")] if e == 0 else [(0.0, "missing"), (-e, "of the wrong sign"),
                                                    (1 / a, f"scaled × 1/α = {1 / a:.6g}"), (a, f"scaled × α = {a:.6g}")]
        for c, how in coefs:
            try:
                gx = _mutated_input_gradient(prob, ref, k, c)
            except (ValueError, FloatingPointError):
                continue
            if gx is None or gx.shape != user.shape:
                continue
            res = _rel_l2(user, gx)
            if res < 0.5 * base:
                err, _ = rel_error(user, gx)
                fit = {"term": k, "expected": e, "coefficient": c, "steps": [], "per_step": np.zeros(1),
                       "active": None}
                out.append({"term": k, "coefficient": c, "expected": e, "residual": res, "agrees": err <= rtol,
                            "text": _describe_term(fit, list(range(len(net.layers))), net.layers[0].params())
                            + " (judged on ∂L/∂x alone: record per-step gradients to confirm)",
                            "category": _term_category(fit)})
    out.sort(key=lambda d: d["residual"])
    return out[:3]


def adjoint_terms(prob, ref, rtol):
    """Local fits of every recorded layer's backward equations (the module docstring, item 4).

    Returns ``[{"layer", "equation", "term", "coefficient", "expected", "steps", "residual_before",
    "residual_after", "text", "category", "runner_up"}]`` for the equations that do not hold."""
    net = ref["net"]
    n = len(net.layers)
    out = []
    users = {}
    for l in range(n):
        lm, tr, view = net.layers[l], ref["run"].trajs[l], net._views[l]
        cfg = tr.config
        M = prob.dmembranes.get(l)
        S = prob.dspikes.get(l)
        if M is None and S is None:
            continue
        M = _shift_time(M, -view.shift) if M is not None else ref["adj"][l]["dv"] if not _post(cfg) else \
            _shift_time(ref["dmembranes"][l], -view.shift)
        if cfg.spiking:
            S = _shift_time(S if S is not None else ref["dspikes"][l], -lm.spike_shift)
        users[l] = (M, S)
    for l, (M, S) in users.items():
        lm, tr = net.layers[l], ref["run"].trajs[l]
        cfg, p = tr.config, lm.params()
        above = None
        if l + 1 < n:
            up = net.layers[l + 1]
            tru, cu, pu = ref["run"].trajs[l + 1], ref["run"].trajs[l + 1].config, up.params()
            if l + 1 in users:
                Mu, Su = users[l + 1]
                dvu = _charged(cu, pu, tru, Mu, Su, conventions(prob)[l + 1][2])
            else:
                dvu = ref["adj"][l + 1]["dv"]
            dI, lam_part = _dI(cu, pu, tru, dvu)
            above = _from_above(net, l, dI, lam_part, pu["W"])
        eqs = _terms(net, ref, l, M, S if cfg.spiking else None, above, not conventions(prob)[l][2])
        for eq, (lhs, terms) in eqs.items():
            if eq == "S" and l not in prob.dspikes:
                continue
            if eq == "M" and l not in prob.dmembranes:
                continue
            base, fits = _fit_terms(lhs, terms, rtol)
            if not fits:
                continue
            best = fits[0]
            d = {"layer": l, "equation": "B2 (δv)" if eq == "M" else "B1 (δs)", "term": best["term"],
                 "coefficient": best["coefficient"], "expected": best["expected"], "steps": best["steps"],
                 "residual_before": base, "residual_after": best["residual_after"],
                 "text": _describe_term(best, l, p), "category": _term_category(best),
                 "runner_up": ({"term": fits[1]["term"], "residual_after": fits[1]["residual_after"]}
                               if len(fits) > 1 else None), "_fit": best, "_p": p}
            out.append(d)
    out.sort(key=lambda d: (d["residual_after"], -max(d["steps"] or [0])))
    merged = []
    for d in out:      # the same term, off by the same coefficient, in several layers: one finding
        same = next((m for m in merged if m["term"] == d["term"] and m["equation"] == d["equation"]
                     and abs(m["coefficient"] - d["coefficient"]) <= 1e-6 * max(abs(d["coefficient"]), 1.0)), None)
        if same is None:
            merged.append(dict(d, layers=[d["layer"]]))
        else:
            same["layers"].append(d["layer"])
            same["residual_after"] = max(same["residual_after"], d["residual_after"])
    for m in merged:
        if len(m["layers"]) > 1:
            m["layers"].sort()
            fit = {"term": m["term"], "expected": m["expected"], "coefficient": m["coefficient"],
                   "steps": m["_fit"]["steps"], "per_step": m["_fit"]["per_step"], "active": m["_fit"]["active"]}
            m["text"] = _describe_term(fit, m["layers"], m["_p"])
    for m in merged:
        m.pop("_fit", None)
        m.pop("_p", None)
    return merged


# ---------------------------------------------------------------------------------------
# The diagnosis
# ---------------------------------------------------------------------------------------

def diagnose(prob, rtol, ref=None, budget_pairs=True) -> Diagnosis:
    """Where the user's arrays differ from refsnn's and the ranked causes (module docstring)."""
    base_h = Hypothesis("refsnn", "")
    ref = ref or simulate(prob, base_h)
    ok, res0, rows0 = score(prob, ref, rtol)
    if ok:
        return Diagnosis("none", None, [], [])
    fwd_ok0, fwd_res0 = _forward_part(rows0)
    ff = first_forward(prob, ref, rtol)
    half = "forward" if ff is not None or not fwd_ok0 else "backward"
    fa = first_adjoint(prob, ref, rtol)
    notes = []
    switches = _switches(prob)
    hyps = list(switches)
    hyps += [Hypothesis(f"the input arrives {abs(k)} step{'s' if abs(k) > 1 else ''} "
                        f"{'late' if k > 0 else 'early'} (x_t used at t{'+' if k > 0 else '−'}{abs(k)})",
                        "time shift", shift=k, fitted={"shift": k}) for k in (1, -1, 2, -2, 3, -3)
             if abs(k) < prob.x.shape[0]]
    hyps += _record_fits(prob, ref)
    hyps += _scale_fits(prob, ref)
    terms = []
    if half == "backward" and (prob.dmembranes or prob.dspikes):
        terms = adjoint_terms(prob, ref, rtol)
    elif half == "backward":
        notes.append("record per-step gradients (dmembranes/<l>, dspikes/<l>: docs/diagnosis.md) to name the "
                     "adjoint term that differs")
        try:
            for t in _term_hypotheses(prob, ref, rtol):
                t.update(layers=list(range(len(ref["net"].layers))), equation=t["term"][:2], steps=[],
                         residual_after=t["residual"])
                terms.append(t)
        except (P.PresetError, ValueError, TypeError, FloatingPointError):
            pass
    local_other = any(t["residual_after"] <= rtol * 10 and t["term"] != "B2.surrogate" for t in terms)
    # σ' shapes every adjoint: if ∂L/∂x and every recorded per-step adjoint agree, it is not the cause
    adjoint_names = {"grad/x"} | {f"d{k}/{l}" for k in ("membranes", "spikes") for l in range(64)}
    adjoints_agree = (any(r[0] in adjoint_names for r in rows0)
                      and all(r[2] for r in rows0 if r[0] in adjoint_names))
    local_other = local_other or adjoints_agree
    if half == "forward":
        hyps += _forward_fits(prob, rtol, ff)
    elif not local_other:
        f, g, j, j1 = _fit_surrogate(prob, rtol)
        if (abs(f - 1) > 1e-9 or abs(g - 1) > 1e-9) and j < 0.25 * j1:
            h = _surrogate_hypothesis(prob, f, g)
            if h is not None:
                hyps.append(h)
        hyps += _threshold_in_sigma(prob, ref)
    scored = []
    for h in hyps:
        r = _try(prob, h, rtol)
        if r is not None:
            (agree, resid, rows), _ = r
            scored.append((h, agree, resid, rows))
    tried = []
    for h in switches:
        m = next((x for x in scored if x[0] is h), None)
        tried.append((h.label, bool(m and m[1]), max((r[1] for r in m[3]), default=0.0) if m else math.inf))
    explained = any(a for _, a, _, _ in scored) or any(t["residual_after"] <= rtol * 10 for t in terms)
    if not explained and budget_pairs:
        scored += _pairs(prob, rtol, scored, half)
    causes = []
    for h, agree, resid, rows in scored:
        fok, fres = _forward_part(rows)
        useful = agree or (resid < 0.9 * res0 if half == "backward" else fres < 0.9 * fwd_res0 or
                           (fok and not fwd_ok0))
        if not useful:
            continue
        causes.append(Cause(0, h.category, h.label, resid, agree, h.fitted,
                            [(r[0], r[1]) for r in rows if not r[2]], fres, fok))
    for t in terms:
        causes.append(Cause(0, t["category"], t["text"], t["residual_after"],
                            t.get("agrees", t["residual_after"] <= rtol * 10),
                            {k: t[k] for k in ("layers", "equation", "term", "coefficient", "expected", "steps")},
                            forward_residual=0.0, forward_agrees=True,
                            source="input gradient" if "agrees" in t else "local"))
    prio = {c: i for i, c in enumerate(CATEGORIES)}

    def key(c):
        k = (not c.agrees, _bucket(c.residual, rtol), c.source != "simulated", "+" in c.category,
             _free(c.fitted), prio.get(c.category, 99))
        if half == "forward":
            k = (not c.forward_agrees, _bucket(c.forward_residual, rtol)) + k
        return k
    causes.sort(key=key)
    for name, kind, k, a in _user_arrays(prob):
        r = _ref_array(ref, kind, k)
        if kind == "grad" and r is not None and r.shape == a.shape and not np.any(a) and np.any(r):
            notes.append(f"{name} is identically 0 in yours: that parameter gets no gradient in your code "
                         "(clamped where it is used, detached, or not the tensor the loss depends on)")
    causes = [replace(c, rank=i + 1) for i, c in enumerate(causes[:12])]
    return Diagnosis(half, ff, fa, causes, terms, notes, tried)


def _free(fitted):
    """How many values a cause fitted (a switch none): among causes that explain alike, the
    one with fewer free values comes first."""
    if not fitted:
        return 0
    return 2 if "scale_factor" in fitted else 1


def _bucket(r, rtol=0.0):
    """Residuals compared on a log scale (ties within a factor 1.8 are broken by simplicity);
    every residual within the tolerance ties."""
    if not math.isfinite(r):
        return math.inf
    if r <= rtol:
        return -100
    return round(math.log10(max(r, 1e-16)) * 4)


def _pairs(prob, rtol, scored, half):
    """Pairs of switches (and a switch plus a fitted value) when no single one agrees."""
    singles = [(h, resid) for h, a, resid, rows in scored if "+" not in h.category]
    singles.sort(key=lambda p: p[1])
    switches = [h for h, _ in singles if not h.fitted and not h.edits and h.record is None and h.grad_scale == 1.0
                and h.loss_scale == 1.0 and not h.category.startswith("surrogate")]
    fitted = [h for h, _ in singles if h.fitted][:6]
    out = []
    seen = set()
    pool = switches + fitted
    for i, a in enumerate(pool):
        for b in pool[i + 1:]:
            if a.category == b.category and a.category in ("surrogate shape/scale", "surrogate gain", "time shift"):
                continue
            key = (a.label, b.label)
            if key in seen:
                continue
            seen.add(key)
            h = a.plus(b)
            r = _try(prob, h, rtol)
            if r is None:
                continue
            (agree, resid, rows), _ = r
            out.append((h, agree, resid, rows))
    sg = [h for h, r in singles if h.category in ("surrogate shape/scale", "surrogate gain") and h.fitted and r < 0.1]
    if half == "backward" and sg and not any(a for _, a, _, _ in out):
        for sw in switches[:2]:
            f, g, j, j1 = _fit_surrogate(prob, rtol, sw)
            sh = _surrogate_hypothesis(prob, f, g)
            if sh is None or not j < 0.25 * j1:
                continue
            h = sw.plus(sh)
            r = _try(prob, h, rtol)
            if r is not None:
                (agree, resid, rows), _ = r
                out.append((h, agree, resid, rows))
    return out
