"""Checks for exercise 12 (dendrites and regularisers).

* ``branch_backward`` is compared with refsnn's two-compartment neuron
  (:func:`refsnn.neurons.dendrite.dendrite_backward`) on its smooth twin: the soma's
  ``δI_t`` and the trajectory come from refsnn, and the learner's ``δa_t`` and
  parameter gradients must equal refsnn's. ``∂L/∂W_d`` must also equal central
  differences of the loss (the smooth twin is differentiable).
* ``rate_regularizer`` and ``membrane_l1`` are compared with
  :func:`refsnn.losses.firing_rate_regularizer` and :func:`refsnn.losses.membrane_l1`
  on a refsnn trajectory, values and partials.

A wrong answer is diagnosed by re-computing the reference with one typical mistake
(a term dropped, a sign flipped, a time index shifted, a normalisation changed) and
naming the mistake whose output matches.
"""

import numpy as np

from refsnn import losses as L
from refsnn.gradcheck import check_gradient
from refsnn.lif import LIFConfig, init_params, layer_forward
from refsnn.neurons import dendrite as D
from refsnn.surrogates import surrogate

from .common import (FD_EPS, FD_ORDER, FLOOR, RTOL_FD, RTOL_REF, Fail, call, compare, diagnose, locate,
                     nonfinite_hint, to_array, unpack)

T, B, N, K, M = 7, 2, 2, 3, 3
SG_D = surrogate("arctan", 2.0)
SG_SOMA = surrogate("sigmoid", 4.0)


def _dendrite_problem(seed=12):
    rng = np.random.default_rng(seed)
    soma = LIFConfig(1, N, surrogate=SG_SOMA)
    cfg = D.dendrite_smooth_twin(D.DendriteConfig(M, N, K, soma, dendrite_surrogate=SG_D))
    p = D.init_dendrite_params(cfg, rng, w_scale=2.0, c=rng.uniform(0.5, 1.5, (N, K)),
                               alpha_d=rng.uniform(0.5, 0.9, (N, K)), theta_d=rng.uniform(0.2, 0.8, (N, K)),
                               alpha=rng.uniform(0.7, 0.95, N), theta=rng.uniform(0.6, 1.2, N))
    x = rng.normal(0.5, 1.0, (T, B, M))
    a_init = rng.normal(0.0, 0.4, (B, N, K))
    a_s = rng.normal(size=(T, B, N))
    return cfg, p, x, a_init, a_s


def _reference_branch(dI, a, a_init, x, p, dspike, mistake=None):
    """DB1–DB2, DG2–DG3 written out, with one optional typical mistake."""
    c = np.ones_like(p["c"]) if mistake == "no_c" else p["c"]
    dq = c * dI[..., None]
    if mistake == "no_surrogate":
        sg = np.ones_like(a)
    elif mistake == "sg_at_a":
        sg = dspike(a)
    else:
        sg = dspike(a - p["theta_d"])
    alpha = 0.0 * p["alpha_d"] if mistake == "no_leak" else p["alpha_d"]
    da = np.zeros_like(a)
    nxt = np.zeros_like(a[0])
    for t in range(a.shape[0] - 1, -1, -1):
        nxt = alpha * nxt + sg[t] * dq[t]
        da[t] = nxt
    a_prev = a if mistake == "alpha_now" else np.concatenate([a_init[None], a[:-1]], axis=0)
    dW = np.einsum("tbnk,tbm->nkm", da, x)
    dalpha = np.sum(da * a_prev, axis=(0, 1))
    if mistake == "theta_from_da":
        dtheta = -np.sum(da, axis=(0, 1))
    else:
        dtheta = (1.0 if mistake == "theta_sign" else -1.0) * np.sum(sg * dq, axis=(0, 1))
    return {"da": da, "dW_d": dW, "dalpha_d": dalpha, "dtheta_d": dtheta}


_BRANCH_HINTS = [
    ("no_surrogate", "DB2 is missing the dendritic surrogate σ_d'(a_t − θ_d) on δq_t: the dendritic spike H has "
                     "zero derivative, so seed 002 puts a surrogate at the dendritic nonlinearity"),
    ("sg_at_a", "σ_d' takes a_t − θ_d (the branch potential minus the dendritic threshold), not a_t"),
    ("no_leak", "DB2 is missing the branch leak α_d δa_{t+1}: a_t also reaches the loss through a_{t+1}"),
    ("no_c", "DB1 is missing the coupling: δq_t = c δI_t"),
    ("alpha_now", "∂L/∂α_d pairs δa_t with a_{t−1}, not a_t (off by one)"),
    ("theta_sign", "the sign of ∂L/∂θ_d: θ_d enters as a_t − θ_d, so ∂L/∂θ_d = −Σ σ_d' δq_t"),
    ("theta_from_da", "∂L/∂θ_d is the local term −Σ σ_d'(a_t − θ_d) δq_t, not −Σ δa_t"),
]


def check_branch_backward(fn):
    cfg, p, x, a_init, a_s = _dendrite_problem()
    traj = D.dendrite_forward(cfg, p, x, {"a": a_init})
    g = D.dendrite_backward(traj, p, ds=a_s)
    ref = {"da": g.da, "dW_d": g.params["W_d"], "dalpha_d": g.params["alpha_d"], "dtheta_d": g.params["theta_d"]}
    mine = _reference_branch(g.dI, traj.a, a_init, x, p, SG_D.derivative)
    assert all(compare(mine[k], ref[k])[0] < 1e-12 for k in ref), "checker's reference disagrees with refsnn"
    lp = {k: p[k] for k in ("W_d", "alpha_d", "theta_d", "c")}
    out = unpack(call(fn, g.dI, traj.a, a_init, x, lp, SG_D.derivative), ["da", "dW_d", "dalpha_d", "dtheta_d"])
    shapes = {"da": ((T, B, N, K), "(T, B, N, K)"), "dW_d": ((N, K, M), "(N, K, M)"),
              "dalpha_d": ((N, K), "(N, K)"), "dtheta_d": ((N, K), "(N, K)")}
    got = {k: to_array(v, k, *shapes[k]) for k, v in zip(ref, out)}
    worst = 0.0
    for k in ref:           # δa first: a wrong δa explains wrong gradients
        err, idx = compare(got[k], ref[k])
        if err > RTOL_REF:
            hint = nonfinite_hint(got[k], k) or diagnose(
                {k: got[k]}, [(h, (lambda m=m: _reference_branch(g.dI, traj.a, a_init, x, p, SG_D.derivative, m)))
                              for m, h in _BRANCH_HINTS])
            if k == "da":
                t_bad = int(np.argwhere(np.abs(got[k] - ref[k]) > RTOL_REF * max(1.0, np.abs(ref[k]).max()))[:, 0].max())
                raise Fail(f"δa first differs at t={t_bad} (going back from t={T - 1}): "
                           f"{hint or 'check DB1–DB2'}", err, locate("da", idx, "tbnk"))
            raise Fail(hint or f"{k} is wrong although δa is right: check DG2–DG3", err, locate(k, idx))
        worst = max(worst, err)

    def f(W):     # the loss Σ a^s · s of the soma's spikes, as a function of W_d (smooth twin)
        return float(np.sum(a_s * D.dendrite_forward(cfg, {**p, "W_d": W}, x, {"a": a_init}).s))

    fd = check_gradient(f, p["W_d"].copy(), got["dW_d"], name="dW_d", eps=FD_EPS, rtol=RTOL_FD,
                        floor=FLOOR * max(1.0, abs(f(p["W_d"]))), order=FD_ORDER)
    if not fd.passed:
        raise Fail(f"∂L/∂W_d disagrees with central differences on the smooth twin ({fd})", fd.max_rel_error,
                   locate("dW_d", fd.worst_index))
    return max(worst, fd.max_rel_error), ""


def _spiking_traj(seed):
    rng = np.random.default_rng(seed)
    cfg = LIFConfig(3, 4, surrogate=SG_SOMA)
    p = init_params(cfg, rng, w_scale=2.0)
    return layer_forward(cfg, p, rng.normal(0.7, 1.0, (9, 3, 3)))


def _rate_variants(s, f0, lam):
    T, B_, N_ = s.shape
    f = s.sum(axis=(0, 1)) / (T * B_)
    e = f - f0
    full = np.broadcast_to(e, s.shape)
    per_trial = s.sum(axis=0) / T - f0
    return [
        ("∂L/∂s_t carries 1/(TB): f_k is the mean over the T steps and the B batch rows",
         {"ds": 2 * lam * full}),
        ("∂L/∂s_t carries 1/(TB), not 1/T: f_k averages over the batch as well",
         {"ds": 2 * lam * full / T}),
        ("∂L/∂s_t carries 1/(TB), not 1/B: f_k averages over the T steps as well",
         {"ds": 2 * lam * full / B_}),
        ("the factor 2 of d(f − f₀)²/df is missing", {"ds": lam * full / (T * B_)}),
        ("the sign: the partial is +2λ(f − f₀)/(TB), pushing the rate towards f₀", {"ds": -2 * lam * full / (T * B_)}),
        ("e-prop's rate is one number per neuron, averaged over the batch too, not one per trial",
         {"ds": np.broadcast_to(2 * lam * per_trial / (T * B_), s.shape)}),
    ]


def check_rate_regularizer(fn):
    traj = _spiking_traj(3)
    f0, lam = 0.2, 0.7
    ref = L.firing_rate_regularizer(traj, f0, lam)
    value, ds = unpack(call(fn, traj.s, f0, lam), ["value", "ds"])
    ds = to_array(ds, "ds", traj.s.shape, "(T, B, N)")
    err, idx = compare(ds, ref.ds)
    if err > RTOL_REF:
        hint = nonfinite_hint(ds, "ds") or diagnose({"ds": ds}, [(h, (lambda d=d: d)) for h, d in
                                                                 _rate_variants(traj.s, f0, lam)])
        raise Fail(hint or "check ∂L/∂s = 2λ(f_k − f₀)/(TB)", err, locate("ds", idx, "tbn"))
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise Fail(f"value must be a number, got {type(value).__name__}") from None
    v_err = compare(np.array(value), np.array(ref.value))[0]
    if v_err > RTOL_REF:
        s = traj.s
        per_trial = float(lam * np.mean(np.sum((s.sum(axis=0) / s.shape[0] - f0) ** 2, axis=1)))
        hint = ("the value averages per-trial rates; e-prop's f_k is one rate per neuron over time and batch"
                if abs(value - per_trial) < 1e-12 * max(1.0, abs(per_trial)) else
                "check L = λ Σ_k (f_k − f₀)², f_k = Σ_{t,b} s/(TB)")
        raise Fail(hint, v_err, "value")
    return max(err, v_err), ""


def check_membrane_l1(fn):
    traj = _spiking_traj(4)
    lam = 0.6
    ref = L.membrane_l1(traj, lam)
    value, dv = unpack(call(fn, traj.v, lam), ["value", "dv"])
    dv = to_array(dv, "dv", traj.v.shape, "(T, B, N)")
    err, idx = compare(dv, ref.dv)
    Bn = traj.v.shape[1]
    if err > RTOL_REF:
        hint = nonfinite_hint(dv, "dv") or diagnose({"dv": dv}, [
            ("d|v|/dv is sign(v): the partial is λ sign(v)/B, not λ/B", lambda: {"dv": np.full_like(traj.v, lam / Bn)}),
            ("the loss averages over the batch: the partial is λ sign(v)/B", lambda: {"dv": lam * np.sign(traj.v)}),
            ("the sign: d|v|/dv = +sign(v)", lambda: {"dv": -lam * np.sign(traj.v) / Bn}),
        ])
        raise Fail(hint or "check ∂L/∂v = λ sign(v)/B", err, locate("dv", idx, "tbn"))
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise Fail(f"value must be a number, got {type(value).__name__}") from None
    v_err = compare(np.array(value), np.array(ref.value))[0]
    if v_err > RTOL_REF:
        no_b = lam * np.abs(traj.v).sum()
        hint = ("the value averages over the batch: divide by B" if abs(value - no_b) < 1e-9 * no_b
                else "check L = (λ/B) Σ |v|")
        raise Fail(hint, v_err, "value")
    return max(err, v_err), ""


CHECKS = [
    ("branch_backward", check_branch_backward),
    ("rate_regularizer", check_rate_regularizer),
    ("membrane_l1", check_membrane_l1),
]
