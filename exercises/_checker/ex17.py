"""Checks for exercise 17 (losses and stability).

Each function is checked on its own against refsnn:

* ``trace_partial`` against :func:`refsnn.losses.trace_mse` (17.1), and against central
  differences of the learner's own value;
* ``first_spike_mse_partial`` against :func:`refsnn.losses.first_spike_time_mse` (L5,
  17.3) on smooth spikes, and against central differences;
* ``effective_jacobian`` against :func:`refsnn.neurons.stability.step_jacobians` (J1,
  17.5) on a recurrent soft-reset layer, attached and detached.

A wrong answer is diagnosed by re-computing the reference with one typical mistake
and naming the mistake whose output matches.
"""

import numpy as np

from refsnn import losses as L
from refsnn.gradcheck import check_gradient
from refsnn.neurons import stability
from refsnn.neurons.lif import LIFConfig, Trajectory, init_params, layer_forward
from refsnn.surrogates import surrogate

from .common import (FD_EPS, FD_ORDER, FLOOR, RTOL_FD, RTOL_REF, Fail, call, compare, diagnose, locate,
                     nonfinite_hint, to_array, unpack)

T, B, N = 8, 2, 3


def _traj(s):
    return Trajectory(LIFConfig(1, s.shape[2]), None, np.zeros_like(s), s, None, None, {}, np.zeros(s.shape[1:]))


def _trace_variants(q, y, eta):
    z = np.empty_like(q)
    prev = np.zeros_like(q[0])
    for t in range(len(q)):
        prev = eta * prev + q[t]
        z[t] = prev
    err = z - y
    fwd = np.empty_like(q)                 # the error filtered forward instead of backward
    acc = np.zeros_like(q[0])
    for t in range(len(q)):
        acc = err[t] / err.size + eta * acc
        fwd[t] = acc
    return [
        ("the adjoint runs backward in time: δz_t = (z_t − y_t)/(TBN) + η δz_{t+1}, not η δz_{t−1} "
         "(q_t reaches z_t, z_{t+1}, … — the future)", {"dq": fwd}),
        ("δz_t also carries η δz_{t+1}: q_t reaches the loss through every later z, not only z_t",
         {"dq": err / err.size}),
        ("the loss is a mean over T·B·N entries: the partial carries 1/(TBN)", {"dq": L.trace_mse(
            _traj(q), y, eta).ds * err.size}),
    ]


def check_trace_partial(fn):
    rng = np.random.default_rng(17)
    q = rng.uniform(0.05, 0.95, (T, B, N))
    y = rng.uniform(0, 2, (T, B, N))
    eta = 0.8
    ref = L.trace_mse(_traj(q), y, eta)
    value, dq = unpack(call(fn, q, y, eta), ["value", "dq"])
    dq = to_array(dq, "dq", (T, B, N), "(T, B, N)")
    err, idx = compare(dq, ref.ds)
    if err > RTOL_REF:
        hint = nonfinite_hint(dq, "dq") or diagnose({"dq": dq}, [(h, lambda d=d: d) for h, d in
                                                                 _trace_variants(q, y, eta)])
        raise Fail(hint or "check 17.1", err, locate("dq", idx, "tbn"))
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise Fail(f"value must be a number, got {type(value).__name__}") from None
    v_err = compare(np.array(value), np.array(ref.value))[0]
    if v_err > RTOL_REF:
        raise Fail("check L = (1/2TBN) Σ (z_t − y_t)², with z the filtered q", v_err, "value")
    return max(err, v_err), ""


def _fst_variants(s, t_star):
    S = np.cumprod(1.0 - s, axis=0)
    err = S.sum(axis=0) - t_star
    out = {}
    for name in ("S_t", "no_survival", "sign", "no_B"):
        ds = np.empty_like(s)
        R = np.ones_like(s[0])
        for tau in range(len(s) - 1, -1, -1):
            if tau < len(s) - 1:
                R = 1.0 + (R if name == "no_survival" else (1.0 - s[tau + 1]) * R)
            S_prev = S[tau] if name == "S_t" else (S[tau - 1] if tau else 1.0)
            g = err if name == "no_B" else err / s.shape[1]
            ds[tau] = (1 if name == "sign" else -1) * g * S_prev * R
        out[name] = ds
    return [
        ("∂t̂/∂s_τ = −S_{τ−1} R_τ: the survival product up to τ−1, not τ (S_τ already contains 1 − s_τ)",
         {"ds": out["S_t"]}),
        ("R_τ = 1 + (1 − s_{τ+1}) R_{τ+1}: the survival factor (1 − s_{τ+1}) is missing", {"ds": out["no_survival"]}),
        ("the sign: ∂L/∂s_τ = (t̂ − t*)/B · ∂t̂/∂s_τ, and ∂t̂/∂s_τ = −S_{τ−1}R_τ is negative", {"ds": out["sign"]}),
        ("the loss is a mean over the B trials: the partial carries 1/B", {"ds": out["no_B"]}),
    ]


def check_first_spike_mse_partial(fn):
    rng = np.random.default_rng(18)
    s = rng.uniform(0.05, 0.95, (T, B, N))
    t_star = rng.uniform(0, T, (B, N))
    ref = L.first_spike_time_mse(_traj(s), t_star)
    value, ds = unpack(call(fn, s, t_star), ["value", "ds"])
    ds = to_array(ds, "ds", (T, B, N), "(T, B, N)")
    err, idx = compare(ds, ref.ds)
    if err > RTOL_REF:
        hint = nonfinite_hint(ds, "ds") or diagnose({"ds": ds}, [(h, lambda d=d: d) for h, d in
                                                                 _fst_variants(s, t_star)])
        raise Fail(hint or "check 17.3", err, locate("ds", idx, "tbn"))
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise Fail(f"value must be a number, got {type(value).__name__}") from None
    v_err = compare(np.array(value), np.array(ref.value))[0]
    if v_err > RTOL_REF:
        raise Fail("check L = (1/2B) Σ (t̂ − t*)², t̂ = Σ_t S_t", v_err, "value")
    fd = check_gradient(lambda a: float(call(fn, a, t_star)[0]), s.copy(), ds, name="ds", eps=FD_EPS, rtol=RTOL_FD,
                        floor=FLOOR * max(1.0, abs(ref.value)), order=FD_ORDER)
    if not fd.passed:
        raise Fail(f"ds disagrees with central differences of your value ({fd})", fd.max_rel_error,
                   locate("ds", fd.worst_index))
    return max(err, v_err), ""


def _layer(attached):
    rng = np.random.default_rng(19)
    cfg = LIFConfig(3, 4, surrogate=surrogate("sigmoid", 4.0), recurrent=True, detach_reset=not attached)
    p = init_params(cfg, rng, w_scale=2.0, r_scale=1.5, b=0.4, alpha=rng.uniform(0.7, 0.95, 4),
                    gamma=rng.uniform(0.6, 1.2, 4))
    tr = layer_forward(cfg, p, rng.normal(0.5, 1.0, (6, 2, 3)), {"v": rng.normal(0.5, 0.5, (2, 4))})
    return cfg, p, tr


def check_effective_jacobian(fn):
    worst = 0.0
    for attached in (True, False):
        cfg, p, tr = _layer(attached)
        J = stability.step_jacobians(tr, p)
        v_prev, s_prev = tr.prev("v"), tr.prev("s")
        t = 3
        lp = {k: p[k] for k in ("alpha", "gamma", "theta", "R")}
        got = to_array(call(fn, v_prev[t], s_prev[t], lp, cfg.surrogate.derivative, attached), "J", (2, 4, 4),
                       "(B, N, N)")
        err, idx = compare(got, J[t])
        if err > RTOL_REF:
            sg = cfg.surrogate.derivative(v_prev[t] - p["theta"])
            diag = np.eye(4)[None]
            lin = diag * p["alpha"][None, None, :]
            reset = -diag * (p["gamma"] * sg)[:, None, :] if attached else 0 * lin
            hint = nonfinite_hint(got, "J") or diagnose({"J": got}, [
                ("the recurrent term is R diag(σ'): column j carries neuron j's σ'(v_{t−1,j} − θ_j), since "
                 "v_{t−1,j} reaches v_{t,i} through s_{t−1,j} and R_ij", lambda: {"J": lin + reset + sg[:, :, None]
                                                                                    * p["R"][None]}),
                ("J_ij = ∂v_{t,i}/∂v_{t−1,j}: R, not Rᵀ", lambda: {"J": lin + reset + p["R"].T[None] * sg[:, None, :]}),
                ("with the reset attached, the diagonal carries −γ σ'(v_{t−1} − θ): the reset spike s_{t−1} "
                 "depends on v_{t−1}", lambda: {"J": lin + p["R"][None] * sg[:, None, :]}),
                ("with the reset detached, the reset spike is a constant: no −γσ' term",
                 lambda: {"J": lin - diag * (p["gamma"] * sg)[:, None, :] + p["R"][None] * sg[:, None, :]}),
                ("the leak α sits on the diagonal (v_{t,i} = α_i v_{t−1,i} + …)",
                 lambda: {"J": reset + p["R"][None] * sg[:, None, :]}),
            ])
            raise Fail(hint or "check 17.5", err, locate("J", idx, "bij"))
        worst = max(worst, err)
    return worst, ""


CHECKS = [
    ("trace_partial", check_trace_partial),
    ("first_spike_mse_partial", check_first_spike_mse_partial),
    ("effective_jacobian", check_effective_jacobian),
]
