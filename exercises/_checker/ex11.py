"""Checks for exercise 11 (trainable neuron dynamics).

* ``refractory_gate_adjoint`` against refsnn's attached refractory gate (S5, B7): on a
  layer without reset, recurrence or adaptation, ``δs_t = a^s_t + B7_t``, so refsnn's
  ``δs`` with the gate attached minus the direct partial ``a^s`` is the reference. The
  learner is given refsnn's total ``δs`` and must return that difference.
* ``theta_gradient`` against refsnn's ∂L/∂θ (G5, σ' carrying the gate G_t) on a layer
  with ``init_spike="zero"`` (no path through s_{−1}) and a detached gate.
* ``project_dynamics`` against :func:`refsnn.training.constraints.project`.

Wrong answers are diagnosed by re-computing the reference with one typical mistake and
naming the one that matches.
"""

import numpy as np

from refsnn.lif import LIFConfig, init_params, layer_backward, layer_forward
from refsnn.surrogates import surrogate
from refsnn.training import constraints

from .common import (RTOL_REF, Fail, call, compare, diagnose, locate, nonfinite_hint, to_array)

T, B, N = 16, 2, 3
N_REF = 2
SG = surrogate("sigmoid", 4.0)


def _gate_problem(seed=11):
    rng = np.random.default_rng(seed)
    cfg = LIFConfig(2, N, surrogate=SG, reset="none", refractory=N_REF, detach_refractory=False)
    p = init_params(cfg, rng, w_scale=1.5, alpha=rng.uniform(0.5, 0.8, N), theta=rng.uniform(0.6, 1.0, N))
    x = rng.normal(0.6, 0.8, (T, B, 2))
    traj = layer_forward(cfg, p, x, {"v": rng.normal(0.5, 0.5, (B, N))})
    a_s = rng.normal(size=(T, B, N))
    ds = layer_backward(traj, p, ds=a_s).adjoints["ds"]
    return traj, ds, ds - a_s


def _b7(ds, s, s_hat, s_init, n_ref, mistake=None):
    """B7 written out, with one optional typical mistake."""
    def past(i):
        if i >= 0:
            return s[i]
        return s_init if i == -1 else np.zeros_like(s_init)

    ks = range(1, n_ref) if mistake == "k_range" else range(1, n_ref + 1)
    out = np.zeros_like(ds)
    for t in range(len(s)):
        for k in ks:
            tk = t - k if mistake == "direction" else t + k
            if tk >= len(s) or tk < 0:
                continue
            prod = np.ones_like(s_init)
            for j in range(1, n_ref + 1):
                if j != k or mistake == "full_gate":
                    prod = prod * (1.0 - past(tk - j))
            spike = s[tk] if mistake == "gated_spike" else (np.ones_like(s_init) if mistake == "no_shat" else s_hat[tk])
            out[t] += (1.0 if mistake == "sign" else -1.0) * spike * prod * ds[tk]
    return out


_B7_HINTS = [
    # With binary spikes these two mistakes give the same numbers (s = ŝ G), so one hint names both.
    ("full_gate", "the factor (1 − s_t) itself must not be in the product: ∂G_{t+k}/∂s_t = −Π_{j≠k}(1 − s_{t+k−j}), "
                  "and it multiplies the ungated ŝ_{t+k} (not s_{t+k} = ŝ G, not the full gate G_{t+k})"),
    ("no_shat", "the factor ŝ_{t+k} is missing: s_{t+k} = ŝ_{t+k} G_{t+k}, so ∂s_{t+k}/∂s_t = ŝ_{t+k} ∂G/∂s_t"),
    ("sign", "the sign: the gate is (1 − s_t), so a spike at t lowers s_{t+k}; B7 carries a minus sign"),
    ("direction", "the gate's path runs to the *later* spikes s_{t+k} that s_t gates (δs_{t+k}), not to s_{t−k}"),
    ("k_range", "k runs over 1..n_ref (a spike gates the next n_ref steps); the last k is missing"),
]


def check_refractory_gate_adjoint(fn):
    traj, ds, want = _gate_problem()
    mine = _b7(ds, traj.s, traj.s_free, traj.s_init, N_REF)
    assert compare(mine, want)[0] < 1e-12, "checker's B7 disagrees with refsnn"
    assert np.count_nonzero(want) > 4
    got = to_array(call(fn, ds, traj.s, traj.s_free, traj.s_init, N_REF), "B7", (T, B, N), "(T, B, N)")
    err, idx = compare(got, want)
    if err > RTOL_REF:
        hint = nonfinite_hint(got, "B7") or diagnose({"B7": got}, [
            (h, (lambda m=m: {"B7": _b7(ds, traj.s, traj.s_free, traj.s_init, N_REF, m)})) for m, h in _B7_HINTS])
        raise Fail(f"B7 (the refractory gate's gradient path) first differs at t={idx[0]}: "
                   f"{hint or 'check ∂s_{t+k}/∂s_t = −ŝ_{t+k} Π_{j≠k}(1 − s_{t+k−j})'}", err,
                   locate("B7", idx, "tbn"))
    return err, ""


def check_theta_gradient(fn):
    rng = np.random.default_rng(5)
    cfg = LIFConfig(2, N, surrogate=SG, refractory=N_REF, init_spike="zero")
    p = init_params(cfg, rng, w_scale=1.5, theta=rng.uniform(0.6, 1.0, N))
    traj = layer_forward(cfg, p, rng.normal(0.6, 0.8, (T, B, 2)))
    a_s = rng.normal(size=(T, B, N))
    g = layer_backward(traj, p, ds=a_s)
    ds, want = g.adjoints["ds"], g.params["theta"]
    assert np.any(traj.gate == 0)
    got = to_array(call(fn, traj.v, p["theta"], ds, traj.gate, SG.derivative), "dtheta", (N,), "(N,)")
    err, idx = compare(got, want)
    if err > RTOL_REF:
        sg = SG.derivative(traj.v - p["theta"])
        hint = nonfinite_hint(got, "dtheta") or diagnose({"d": got}, [
            ("σ' carries the gate: ∂s_t/∂v_t = σ'(v_t − θ) G_t, a blocked step passes no gradient to θ",
             lambda: {"d": -np.sum(sg * ds, axis=(0, 1))}),
            ("the sign: s = f(v − θ), so ∂s/∂θ = −σ' G", lambda: {"d": np.sum(sg * traj.gate * ds, axis=(0, 1))}),
            ("σ' takes v_t − θ", lambda: {"d": -np.sum(SG.derivative(traj.v) * traj.gate * ds, axis=(0, 1))}),
            ("sum over t and the batch, not the mean", lambda: {"d": -np.mean(sg * traj.gate * ds, axis=(0, 1))}),
        ])
        raise Fail(hint or "check ∂L/∂θ = −Σ_{t,b} σ'(v_t − θ) G_t δs_t", err, locate("dtheta", idx, "n"))
    return err, ""


def _wild(seed):
    rng = np.random.default_rng(seed)
    p = {k: rng.normal(0.5, 1.5, N) for k in ("b", "alpha", "theta", "gamma", "v_reset", "beta", "rho", "kappa",
                                             "lam")}
    p["W"] = rng.normal(size=(N, 2))
    p["theta"][0] = -0.5              # so that v_reset's bound depends on the projection of θ
    p["v_reset"][0] = 0.3
    p["alpha"][1] = -0.2
    return p


def check_project_dynamics(fn):
    worst = 0.0
    for seed in (0, 1, 2):
        p = _wild(seed)
        want = constraints.project(p)
        out = call(fn, p)
        if not isinstance(out, dict) or set(out) != set(p):
            raise Fail(f"must return a dict with the keys {sorted(p)}, got "
                       f"{sorted(out) if isinstance(out, dict) else type(out).__name__}")
        got = {k: to_array(out[k], k, p[k].shape) for k in p}
        for k in p:
            err, idx = compare(got[k], want[k])
            if err > RTOL_REF:
                variants = {
                    "alpha": [("α's lower bound is ALPHA_MIN = 1e-3 (refsnn requires α > 0), not 0",
                               np.clip(p["alpha"], 0.0, 1.0))],
                    "v_reset": [("v_reset's bound uses the projected θ: v_reset ≤ max(θ, THETA_MIN) − RESET_MARGIN",
                                 np.minimum(p["v_reset"], p["theta"] - constraints.RESET_MARGIN)),
                                ("v_reset ≤ θ − RESET_MARGIN (the margin keeps the reset below threshold)",
                                 np.minimum(p["v_reset"], want["theta"]))],
                    "theta": [("θ's lower bound is THETA_MIN = 1e-3 (θ > 0 needs a margin), not 0",
                               np.maximum(p["theta"], 0.0))],
                }.get(k, []) + [(f"{k} must pass through unchanged", p[k]),
                                (f"{k} is not projected", p[k])]
                hint = diagnose({k: got[k]}, [(h, (lambda v=v, k=k: {k: v})) for h, v in variants])
                raise Fail(hint or f"check the range of {k} (see the module docstring of "
                                   "refsnn/training/constraints.py)", err, locate(k, idx, "n"))
            worst = max(worst, err)
        inside = constraints.project(_wild(seed + 10))
        again = call(fn, inside)
        for k in inside:
            if not np.array_equal(np.asarray(again[k]), inside[k]):
                raise Fail(f"inside the valid range the projection must change nothing, but {k} changed")
    return worst, ""


CHECKS = [
    ("refractory_gate_adjoint", check_refractory_gate_adjoint),
    ("theta_gradient", check_theta_gradient),
    ("project_dynamics", check_project_dynamics),
]
