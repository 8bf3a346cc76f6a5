"""Checks for exercise 03 (BPTT by hand).

Reference: refsnn's adaptive LIF layer with the attached soft reset
(``LIFConfig(adaptation=True)``). Its input weights are the identity, so ``x_t = I_t``.
``layer_forward`` gives the trajectory and ``layer_backward`` the adjoints
``dv, du, ds`` (B1–B3) and the gradient ``W`` (G1).

Central differences run on the smooth twin (spike = the sigmoid's primitive), where
the adjoints are exact derivatives:

* ``δv_t = dL/dx_t``, because ``I_t = x_t`` enters only ``v_t`` with weight 1;
* ``δu_t`` is the derivative of the loss after step t with respect to ``u_t``, for a
  forward pass restarted from the state ``(v_t, u_t)`` at step t.

The loss is linear in the trajectory, ``L = Σ a^s·s + Σ a^v·v``, so its direct
partials are exactly ``a^s`` and ``a^v``.
"""

import numpy as np

from refsnn.gradcheck import check_gradient
from refsnn.lif import LIFConfig, layer_backward, layer_forward, smooth_twin
from refsnn.surrogates import heaviside, surrogate

from .common import (FD_EPS, FD_ORDER, FLOOR, RTOL_FD, RTOL_REF, Fail, call, compare, diagnose,
                     locate, nonfinite_hint, order_mutants, to_array, unpack, worst_of)

T, B, N, M = 7, 2, 3, 4
SG = surrogate("sigmoid", 4.0)
KEYS = ("alpha", "beta", "gamma", "rho", "kappa", "theta")
TBN = "(T, B, N)"


def _problem(seed=3, n_in=None):
    """Parameters, refsnn params, config, input and initial state of a layer that spikes."""
    rng = np.random.default_rng(seed)
    p = dict(alpha=rng.uniform(0.6, 0.95, N), beta=rng.uniform(0.15, 0.45, N),
             gamma=rng.uniform(0.5, 1.5, N), rho=rng.uniform(0.6, 0.95, N),
             kappa=rng.uniform(0.3, 1.2, N), theta=rng.uniform(0.5, 1.2, N))
    M_ = n_in or N
    W = np.eye(N) if n_in is None else rng.normal(0, 1.2, (N, M_)) / np.sqrt(M_)
    P = dict(p, W=W, b=np.zeros(N))
    cfg = LIFConfig(M_, N, surrogate=SG, adaptation=True)
    x = rng.normal(0.7, 0.8, (T, B, M_))
    state0 = {"v": rng.normal(0.3, 0.5, (B, N)), "u": rng.normal(0.0, 0.4, (B, N))}
    a_s = rng.normal(0.0, 1.0, (T, B, N))
    a_v = rng.normal(0.0, 1.0, (T, B, N))
    return p, P, cfg, x, state0, a_s, a_v


# ---------------------------------------------------------------------------
# lif_step_forward
# ---------------------------------------------------------------------------


def _step(vp, up, sp, I, p, drop=(), flip=(), reset_theta=False, u_new_in_v=False,
          s_new_in_u=False, strict=False, spike_from_prev=False, swap=None):
    """F3–F6 with one typical mistake switched on (all off: the reference step).

    ``swap=(term, name)`` multiplies the term of parameter ``term`` by ``p[name]`` instead."""
    if swap is not None:
        p = dict(p, **{swap[0]: p[swap[1]]})
    c = {k: (0.0 if k in drop else -1.0 if k in flip else 1.0) for k in KEYS}
    u = c["rho"] * p["rho"] * up
    r = p["theta"] if reset_theta else p["gamma"]
    u_in_v = up
    if u_new_in_v:
        u_in_v = u + c["kappa"] * p["kappa"] * sp
    v = c["alpha"] * p["alpha"] * vp + I - c["beta"] * p["beta"] * u_in_v - c["gamma"] * r * sp
    s = heaviside((vp if spike_from_prev else v) - p["theta"], 0.0 if strict else 1.0)
    u = u + c["kappa"] * p["kappa"] * (s if s_new_in_u else sp)
    return v, u, s


_SYMBOL_F = {"gamma": "γ", "kappa": "κ", "alpha": "α", "beta": "β", "rho": "ρ"}

_FORWARD_MUTANTS = [
    ("F4 is missing the leak α v_{t−1}", dict(drop={"alpha"})),
    ("the adaptation lowers the membrane: F3 has −β u_{t−1}", dict(flip={"beta"})),
    ("F3 is missing −β u_{t−1}, the adaptation current", dict(drop={"beta"})),
    ("the soft reset subtracts: F4 has −γ s_{t−1}", dict(flip={"gamma"})),
    ("F4 is missing the reset −γ s_{t−1}", dict(drop={"gamma"})),
    ("the reset subtracts γ, not θ (here γ ≠ θ)", dict(reset_theta=True)),
    ("off by one: v_t uses u_{t−1}, not the new u_t", dict(u_new_in_v=True)),
    ("off by one: F5 uses the previous spike, u_t = ρ u_{t−1} + κ s_{t−1}, not s_t", dict(s_new_in_u=True)),
    ("F5 is missing the decay ρ u_{t−1}", dict(drop={"rho"})),
    ("F5 is missing +κ s_{t−1}", dict(drop={"kappa"})),
    ("H(0) = 1: a membrane exactly at threshold spikes (v_t − θ ≥ 0)", dict(strict=True)),
    ("off by one: s_t = H(v_t − θ) uses the new membrane v_t, not v_{t−1}", dict(spike_from_prev=True)),
]

_FORWARD_TERM = {"alpha": ("F4", "α v_{t−1}"), "beta": ("F3", "−β u_{t−1}"), "gamma": ("F4", "−γ s_{t−1}"),
                 "rho": ("F5", "ρ u_{t−1}"), "kappa": ("F5", "+κ s_{t−1}")}
_FORWARD_MUTANTS += [
    (f"{eq} has the wrong coefficient: its term is {text}, with {_SYMBOL_F[term]}, not {_SYMBOL_F[other]}",
     dict(swap=(term, other)))
    for term, (eq, text) in _FORWARD_TERM.items()
    for other in ("alpha", "beta", "gamma", "rho", "kappa") if other != term
    if not (term == "gamma" and other == "theta")
]

_FORWARD_EQ = {
    "v": "F3–F4: v_t = α v_{t−1} + I_t − β u_{t−1} − γ s_{t−1}",
    "u": "F5: u_t = ρ u_{t−1} + κ s_{t−1}",
    "s": "F6: s_t = H(v_t − θ) with H(0) = 1",
}


def _forward_cases():
    """Teacher-forced inputs ``(v_prev, u_prev, s_prev, I)`` and reference outputs, (T+1, B, N).

    Steps 0..T−1 are a refsnn trajectory; the last "step" is a tie: v_t = θ exactly.
    """
    p, P, cfg, x, state0, _, _ = _problem()
    traj = layer_forward(cfg, P, x, state0)
    assert 0 < traj.s.mean() < 1
    tie_I = np.broadcast_to(p["theta"], (B, N)).copy()
    zero = np.zeros((B, N))
    ins = [np.concatenate([traj.prev(k), z[None]]) for k, z in (("v", zero), ("u", zero), ("s", zero))]
    ins.append(np.concatenate([x, tie_I[None]]))
    tie = layer_forward(cfg, P, tie_I[None], {"v": zero, "u": zero})
    assert np.all(tie.s == 1.0)
    outs = {k: np.concatenate([getattr(traj, k), getattr(tie, k)]) for k in ("v", "u", "s")}
    return p, ins, outs


def check_lif_step_forward(fn):
    p, ins, want = _forward_cases()
    got = {k: np.empty_like(want[k]) for k in want}
    for t in range(T + 1):
        out = unpack(call(fn, ins[0][t], ins[1][t], ins[2][t], ins[3][t], p), ("v_t", "u_t", "s_t"))
        for k, o in zip(("v", "u", "s"), out):
            got[k][t] = to_array(o, f"{k}_t", (B, N), "(B, N)")
    err, where = worst_of(got, want, axes="tbn")
    if err <= RTOL_REF:
        return err, ""
    # The first step (the tie case counts as t = T) and the first array in F-order that differ.
    for t in range(T + 1):
        bad = [k for k in ("v", "u", "s") if compare(got[k][t], want[k][t])[0] > RTOL_REF]
        if bad:
            break
    k = bad[0]
    step = f"t={t}" if t < T else "the tie case v_t = θ"
    hint = diagnose(got, [(h, (lambda kw=kw: dict(zip("vus", _step(*ins, p, **kw)))))
                          for h, kw in _FORWARD_MUTANTS])
    hint = hint or nonfinite_hint(got[k], k) or f"check {_FORWARD_EQ[k]}"
    _, idx = compare(got[k][t], want[k][t])
    raise Fail(f"{k}_t first differs at {step}: {hint}", err,
               locate(k, (t,) + idx, "tbn") if t < T else locate(k, idx, "bn") + " (tie case)")


# ---------------------------------------------------------------------------
# lif_backward
# ---------------------------------------------------------------------------


def _backward(v, a_s, a_v, p, dspike, drop=(), flip=(), sg_no_theta=False, sg_next=False,
              du_uses_dv_t=False, ds_uses_du_t=False, stop_at=0, start_at=None, swap=None,
              ds_uses_dv_t=False, dv_uses_a_s=False):
    """B1–B3 with one typical mistake switched on (all off: the reference loop).

    ``swap=(term, name)`` multiplies the term of parameter ``term`` by ``p[name]`` instead;
    ``ds_uses_dv_t`` recomputes δs_t from the just-computed δv_t (B1 off by one), and
    ``dv_uses_a_s`` puts the direct partial a^s_t where B2 needs the total δs_t.
    """
    terms = ("a_s", "gamma", "kappa", "a_v", "alpha", "sg", "beta", "rho")
    c = {k: (0.0 if k in drop else -1.0 if k in flip else 1.0) for k in terms}
    if swap is not None:
        p = dict(p, **{swap[0]: p[swap[1]]})
    T_ = v.shape[0]
    sg = dspike(v if sg_no_theta else v - p["theta"])
    if sg_next:
        sg = np.concatenate([sg[1:], np.zeros_like(sg[:1])])
    dv, du, ds = np.zeros_like(v), np.zeros_like(v), np.zeros_like(v)
    dvn, dun = np.zeros_like(v[0]), np.zeros_like(v[0])
    first = T_ - 1 if start_at is None else start_at
    for t in range(first, stop_at - 1, -1):
        du[t] = c["rho"] * p["rho"] * dun - c["beta"] * p["beta"] * dvn
        ds[t] = (c["a_s"] * a_s[t] - c["gamma"] * p["gamma"] * dvn
                 + c["kappa"] * p["kappa"] * (du[t] if ds_uses_du_t else dun))
        dv[t] = c["a_v"] * a_v[t] + c["alpha"] * p["alpha"] * dvn + c["sg"] * sg[t] * (a_s[t] if dv_uses_a_s else ds[t])
        if ds_uses_dv_t:
            ds[t] = c["a_s"] * a_s[t] - c["gamma"] * p["gamma"] * dv[t] + c["kappa"] * p["kappa"] * dun
        if du_uses_dv_t:
            du[t] = c["rho"] * p["rho"] * dun - c["beta"] * p["beta"] * dv[t]
        dvn, dun = dv[t], du[t]
    return {"dv": dv, "du": du, "ds": ds}


_BACKWARD_MUTANTS = [
    ("δs_t is missing the loss's direct partial a^s_t (B1)", dict(drop={"a_s"})),
    ("the sign of the reset term is wrong: B1 has −γ δv_{t+1}, since a spike at t lowers v_{t+1} by γ",
     dict(flip={"gamma"})),
    ("B1 is missing −γ δv_{t+1}, the path through the reset (leaving it out is the *detached* reset; "
     "this one is attached). If you wrote δv_t there, it is off by one and still zero when B1 runs: "
     "the spike s_t resets v_{t+1}, so the term is −γ δv_{t+1}", dict(drop={"gamma"})),
    ("the sign of the adaptation term is wrong: B1 has +κ δu_{t+1}, since a spike at t raises u_{t+1} by κ",
     dict(flip={"kappa"})),
    ("B1 is missing +κ δu_{t+1}, the path from s_t through the adaptation u_{t+1}", dict(drop={"kappa"})),
    ("δv_t is missing the loss's direct partial a^v_t (B2)", dict(drop={"a_v"})),
    ("B2 is missing α δv_{t+1}, the leak path from v_t to v_{t+1}", dict(drop={"alpha"})),
    ("the sign of the leak term is wrong: B2 has +α δv_{t+1}", dict(flip={"alpha"})),
    ("B2 is missing σ'(v_t − θ) δs_t, the path through the spike", dict(drop={"sg"})),
    ("σ' takes v_t − θ: the term in B2 is σ'(v_t − θ) δs_t", dict(sg_no_theta=True)),
    ("off by one: B2's σ' is evaluated at v_t, the same step as δs_t, not at v_{t+1}", dict(sg_next=True)),
    ("the sign of the β term is wrong: B3 is δu_t = ρ δu_{t+1} − β δv_{t+1}, since u_t lowers v_{t+1} by β u_t",
     dict(flip={"beta"})),
    ("B3 is missing −β δv_{t+1}, the path from u_t to v_{t+1}", dict(drop={"beta"})),
    ("B3 is missing the decay path ρ δu_{t+1}", dict(drop={"rho"})),
    ("off by one: B3 uses δv_{t+1} (u_t acts on v_{t+1}), not δv_t", dict(du_uses_dv_t=True)),
    ("off by one: B1 uses δu_{t+1} (s_t acts on u_{t+1}), not δu_t", dict(ds_uses_du_t=True)),
    ("off by one: B1 uses δv_{t+1}, the membrane that s_t resets, not δv_t (compute δs_t from the "
     "previous iteration's δv, before B2 overwrites it)", dict(ds_uses_dv_t=True)),
    ("B2 needs the *total* δs_t of B1, not the direct partial a^s_t: the spike's effect through the "
     "reset and the adaptation of step t+1 reaches v_t too", dict(dv_uses_a_s=True)),
    ("the loop skips t = 0: range(T − 1, −1, −1) runs down to 0", dict(stop_at=1)),
    ("the loop must start at t = T − 1, with δv_T = δu_T = 0", dict(start_at=T - 2)),
]

_TERM_OF = {"gamma": ("B1", "−γ δv_{t+1}"), "kappa": ("B1", "+κ δu_{t+1}"), "alpha": ("B2", "α δv_{t+1}"),
            "beta": ("B3", "−β δv_{t+1}"), "rho": ("B3", "ρ δu_{t+1}")}
_SYMBOL = {"gamma": "γ", "kappa": "κ", "alpha": "α", "beta": "β", "rho": "ρ", "theta": "θ"}
# Every term multiplied by another parameter: the hint names the term and both parameters.
_BACKWARD_MUTANTS += [
    (f"{eq} has the wrong coefficient: its term is {text}, with {_SYMBOL[term]}, not {_SYMBOL[other]}",
     dict(swap=(term, other)))
    for term, (eq, text) in _TERM_OF.items() for other in _SYMBOL if other != term
]

_BACKWARD_EQ = {
    "ds": "B1: δs_t = a^s_t − γ δv_{t+1} + κ δu_{t+1}",
    "dv": "B2: δv_t = a^v_t + α δv_{t+1} + σ'(v_t − θ) δs_t",
    "du": "B3: δu_t = ρ δu_{t+1} − β δv_{t+1}",
}
_NAMES = {"dv": "δv_t", "du": "δu_t", "ds": "δs_t"}


def _learner_adjoints(fn, v, a_s, a_v, p):
    out = unpack(call(fn, v, a_s, a_v, p, SG.derivative), ("dv", "du", "ds"))
    return {k: to_array(o, k, (T, B, N), TBN) for k, o in zip(("dv", "du", "ds"), out)}


def _first_divergence(got, want, T_):
    """The largest t at which some adjoint differs, and the culprit recursions in B-order."""
    for t in range(T_ - 1, -1, -1):
        bad = {k for k in got if compare(got[k][t], want[k][t])[0] > RTOL_REF}
        if bad:
            culprits = []
            if "ds" in bad:
                culprits.append("ds")
            if "dv" in bad and "ds" not in bad:
                culprits.append("dv")
            if "du" in bad:
                culprits.append("du")
            return t, culprits or sorted(bad)
    return None, []


def check_lif_backward(fn):
    p, P, cfg, x, state0, a_s, a_v = _problem()
    # (a) surrogate mode against refsnn: Heaviside forward, σ' backward.
    traj = layer_forward(cfg, P, x, state0)
    want = layer_backward(traj, P, ds=a_s, dv=a_v).adjoints
    want = {k: want[k] for k in ("dv", "du", "ds")}
    ref = _backward(traj.v, a_s, a_v, p, SG.derivative)
    assert all(compare(ref[k], want[k])[0] < 1e-12 for k in ref), "checker's B1–B3 disagree with refsnn"
    got = _learner_adjoints(fn, traj.v, a_s, a_v, p)
    err, where = worst_of(got, want, axes="tbn")
    if err > RTOL_REF:
        t, culprits = _first_divergence(got, want, T)
        names = " and ".join(_NAMES[k] for k in culprits)
        hint = diagnose(got, [(h, (lambda kw=kw: _backward(traj.v, a_s, a_v, p, SG.derivative, **kw)))
                              for h, kw in _BACKWARD_MUTANTS] + order_mutants(want, "(dv, du, ds)"))
        if hint is None:
            hint = next((nonfinite_hint(got[k], k) for k in culprits if nonfinite_hint(got[k], k)), None)
        if hint is None:
            hint = "check " + "; ".join(_BACKWARD_EQ[k] for k in culprits)
            if t < T - 1:
                hint += f" (all adjoints at t={t + 1} agree)"
        verb = "differ" if len(culprits) > 1 else "differs"
        raise Fail(f"{names} first {verb} at t={t} (going back from t={T - 1}): {hint}", err, where)
    # (b) smooth twin against central differences.
    scfg = smooth_twin(cfg)
    straj = layer_forward(scfg, P, x, state0)
    got = _learner_adjoints(fn, straj.v, a_s, a_v, p)

    def loss(tr, a_s_, a_v_):
        return float(np.sum(a_s_ * tr.s) + np.sum(a_v_ * tr.v))

    L = loss(straj, a_s, a_v)
    floor = FLOOR * max(1.0, abs(L))
    fd = check_gradient(lambda xx: loss(layer_forward(scfg, P, xx, state0), a_s, a_v), x, got["dv"],
                        name="dv", eps=FD_EPS, rtol=RTOL_FD, floor=floor, order=FD_ORDER)
    if not fd.passed:
        raise Fail(f"δv disagrees with central differences dL/dx_t of the smooth twin ({fd})",
                   fd.max_rel_error, locate("dv", fd.worst_index, "tbn"))
    worst_fd = fd.max_rel_error
    for t in range(T - 1):
        def rest(u, t=t):
            tr = layer_forward(scfg, P, x[t + 1:], {"v": straj.v[t], "u": u})
            return loss(tr, a_s[t + 1:], a_v[t + 1:])
        fd = check_gradient(rest, straj.u[t].copy(), got["du"][t], name="du", eps=FD_EPS, rtol=RTOL_FD,
                            floor=floor, order=FD_ORDER)
        if not fd.passed:
            raise Fail(f"δu_t at t={t} disagrees with central differences of the loss after step t "
                       f"with respect to u_t ({fd})", fd.max_rel_error, locate("du", (t,) + fd.worst_index, "tbn"))
        worst_fd = max(worst_fd, fd.max_rel_error)
    if np.any(got["du"][T - 1] != 0):
        raise Fail("δu_{T−1} must be 0: u_{T−1} influences nothing inside the sequence", np.inf,
                   locate("du", (T - 1,), "t"))
    return max(err, worst_fd), ""


# ---------------------------------------------------------------------------
# weight_gradient
# ---------------------------------------------------------------------------


def _g1_mutants(dI, x):
    shift = np.zeros_like(x)
    shift[1:] = x[:-1]
    return [
        ("off by one: pair δI_t with x_t, the input of the same step. Seed 000's Σ δv_{t+1} x_t "
         "belongs to its indexing, where x_t first reaches v_{t+1}",
         lambda: {"dW": np.einsum("tbn,tbm->nm", dI[1:], x[:-1])}),
        ("off by one: δI_t pairs with x_t (x_t drives I_t, F1), not x_{t−1}",
         lambda: {"dW": np.einsum("tbn,tbm->nm", dI, shift)}),
        ("W is shared by all steps: sum δI_tᵀ x_t over every t, not only the last",
         lambda: {"dW": dI[-1].T @ x[-1]}),
        ("W is shared by all steps: sum δI_tᵀ x_t over every t, not only the first",
         lambda: {"dW": dI[0].T @ x[0]}),
        ("sum over t, do not average: each step adds its own contribution",
         lambda: {"dW": np.einsum("tbn,tbm->nm", dI, x) / x.shape[0]}),
        ("sum over the batch, do not average: the loss's 1/B is already inside δI",
         lambda: {"dW": np.einsum("tbn,tbm->nm", dI, x) / x.shape[1]}),
    ]


def check_weight_gradient(fn):
    p, P, cfg, x, state0, a_s, a_v = _problem(seed=4, n_in=M)
    traj = layer_forward(cfg, P, x, state0)
    g = layer_backward(traj, P, ds=a_s, dv=a_v)
    dI, want = g.adjoints["dc"], g.params["W"]
    got = to_array(call(fn, dI, x), "dW", (N, M), "(N, M)")
    err, idx = compare(got, want)
    if err > RTOL_REF:
        hint = nonfinite_hint(got, "dW") or diagnose({"dW": got}, _g1_mutants(dI, x)) or \
            "check G1: dW = Σ_t δI_tᵀ x_t, an (N, B) by (B, M) product at each step"
        raise Fail(hint, err, locate("dW", idx, "km"))
    # Smooth twin: G1 with refsnn's δI against central differences of the loss in W.
    scfg = smooth_twin(cfg)
    straj = layer_forward(scfg, P, x, state0)
    sdI = layer_backward(straj, P, ds=a_s, dv=a_v).adjoints["dc"]
    got = to_array(call(fn, sdI, x), "dW", (N, M), "(N, M)")

    def loss(W):
        tr = layer_forward(scfg, dict(P, W=W), x, state0)
        return float(np.sum(a_s * tr.s) + np.sum(a_v * tr.v))

    L = loss(P["W"])
    fd = check_gradient(loss, P["W"].copy(), got, name="dW", eps=FD_EPS, rtol=RTOL_FD,
                        floor=FLOOR * max(1.0, abs(L)), order=FD_ORDER)
    if not fd.passed:
        raise Fail(f"dW disagrees with central differences of the smooth twin's loss ({fd})",
                   fd.max_rel_error, locate("dW", fd.worst_index, "km"))
    return max(err, fd.max_rel_error), ""


CHECKS = [
    ("lif_step_forward", check_lif_step_forward),
    ("lif_backward", check_lif_backward),
    ("weight_gradient", check_weight_gradient),
]
