"""Checks for exercise 04 (soft versus hard reset).

Reference: refsnn's layer without adaptation, synapse or recurrence, with identity
input weights, so ``x_t = I_t = d_t``.

* The Jacobian ``∂v_t/∂v_{t−1}`` is refsnn's own: run one step (T = 1) from
  ``state0["v"] = v_{t−1}`` and backpropagate ``a^v_0 = 1``. Then
  ``δv_{−1} = ∂v_0/∂v_{−1}``, entry by entry, because neurons do not interact. In
  surrogate mode this is the same σ'-based quantity that the exercise asks for.
* Central differences of the same step on the smooth twin check the Jacobian as an
  exact derivative. When the reset is detached, the reset spike is held fixed
  (``layer_forward(..., s_reset=...)``), which is what detaching differentiates.
* ``hard_reset_step_backward`` is compared step by step with refsnn's adjoints
  (``reset="hard_drop_input"``). At each t it is given the reference ``δv_{t+1}``,
  so a wrong t is reported where it first goes wrong. Chained over all t on the
  smooth twin, its ``δI_t`` must equal the central differences ``dL/dx_t``.
"""

import numpy as np

from refsnn.gradcheck import check_gradient
from refsnn.lif import LIFConfig, layer_backward, layer_forward, smooth_twin
from refsnn.surrogates import surrogate

from .common import (FD_EPS, FD_ORDER, FLOOR, RTOL_FD, RTOL_REF, Fail, call, compare, diagnose,
                     locate, nonfinite_hint, order_mutants, to_array, unpack, worst_of)

T, B, N = 7, 2, 4
SG = surrogate("sigmoid", 4.0)


def _params(seed):
    rng = np.random.default_rng(seed)
    return dict(alpha=rng.uniform(0.6, 0.95, N), theta=rng.uniform(0.5, 1.2, N),
                gamma=rng.uniform(0.5, 1.5, N), v_reset=rng.uniform(-0.3, 0.3, N)), rng


def _cfg(reset, detach, smooth=False):
    cfg = LIFConfig(N, N, surrogate=SG, reset=reset, detach_reset=detach)
    return smooth_twin(cfg) if smooth else cfg


def _refsnn_params(p, reset):
    P = {"W": np.eye(N), "b": np.zeros(N), "alpha": p["alpha"], "theta": p["theta"]}
    P["gamma" if reset == "subtract" else "v_reset"] = p["gamma" if reset == "subtract" else "v_reset"]
    return P


def _ref_jacobian(p, reset, detach, v_prev, d_t):
    """refsnn's ∂v_t/∂v_{t−1}: one step from v_{t−1}, backpropagating a^v = 1."""
    cfg, P = _cfg(reset, detach), _refsnn_params(p, reset)
    traj = layer_forward(cfg, P, d_t[None], {"v": v_prev})
    return layer_backward(traj, P, dv=np.ones((1, B, N))).state0["v"]


def _fd_jacobian(p, reset, detach, v_prev, d_t, analytic):
    """Central differences of v_t(v_{t−1}) on the smooth twin (reset spike fixed if detached)."""
    cfg, P = _cfg(reset, detach, smooth=True), _refsnn_params(p, reset)
    s_fixed = SG.primitive(v_prev - p["theta"])[None] if detach else None
    v0 = layer_forward(cfg, P, d_t[None], {"v": v_prev}, s_reset=s_fixed).v[0]

    def f(vp):   # Σ_{b,k} (v_t − v_t⁰): neurons are independent, so the gradient is the diagonal
        return float(np.sum(layer_forward(cfg, P, d_t[None], {"v": vp}, s_reset=s_fixed).v[0] - v0))

    return check_gradient(f, v_prev.copy(), analytic, name="∂v_t/∂v_{t−1}", eps=FD_EPS, rtol=RTOL_FD,
                          floor=FLOOR, order=FD_ORDER)


def _jacobian_inputs(seed):
    p, rng = _params(seed)
    # Around threshold, so σ' matters and about half of the neurons spiked at t−1.
    v_prev = p["theta"] + rng.normal(0.0, 0.5, (B, N))
    d_t = rng.normal(0.4, 0.6, (B, N))
    return p, v_prev, d_t


# ---------------------------------------------------------------------------


def check_soft_reset_jacobian(fn):
    p, v_prev, d_t = _jacobian_inputs(5)
    lp = {k: p[k] for k in ("alpha", "gamma", "theta")}
    sg = SG.derivative(v_prev - p["theta"])
    worst = 0.0
    for detach in (False, True):
        label = "detached" if detach else "attached"
        want = _ref_jacobian(p, "subtract", detach, v_prev, d_t)
        got = to_array(call(fn, v_prev, lp, SG.derivative, detach), "∂v_t/∂v_{t−1}", (B, N), "(B, N)")
        err, idx = compare(got, want)
        if err > RTOL_REF:
            a = p["alpha"] + 0 * v_prev
            hint = nonfinite_hint(got, "J") or diagnose({"J": got}, [
                ("with the reset attached, the spike s_{t−1} = H(v_{t−1} − θ) depends on v_{t−1}: "
                 "add −γ σ'(v_{t−1} − θ)", lambda: {"J": a}),
                ("the reset spike is a constant when detached, so ∂v_t/∂v_{t−1} = α only", lambda: {"J": a - p["gamma"] * sg}),
                ("the reset term enters with a minus: α − γ σ'(v_{t−1} − θ)", lambda: {"J": a + p["gamma"] * sg}),
                ("σ' takes v_{t−1} − θ", lambda: {"J": a - p["gamma"] * SG.derivative(v_prev)}),
                ("the soft reset subtracts γ, not θ (here γ ≠ θ)", lambda: {"J": a - p["theta"] * sg}),
                ("the reset term is −γ σ'(v_{t−1} − θ), without α: the reset acts after the decay "
                 "(v_t = α v_{t−1} + d_t − γ s_{t−1}), so γ is not multiplied by α",
                 lambda: {"J": a - p["alpha"] * p["gamma"] * sg}),
            ]) or f"check ∂v_t/∂v_{{t−1}} = α − [attached] γ σ'(v_{{t−1}} − θ) ({label})"
            raise Fail(f"{label}: {hint}", err, locate("J", idx, "bn") + f" ({label})")
        fd = _fd_jacobian(p, "subtract", detach, v_prev, d_t,
                          call(fn, v_prev, lp, SG.derivative, detach))
        if not fd.passed:
            raise Fail(f"{label}: disagrees with central differences on the smooth twin ({fd})",
                       fd.max_rel_error, locate("J", fd.worst_index, "bn"))
        worst = max(worst, err, fd.max_rel_error)
    return worst, ""


def check_hard_reset_jacobian(fn):
    p, v_prev, d_t = _jacobian_inputs(6)
    lp = {k: p[k] for k in ("alpha", "v_reset", "theta")}
    s_prev = (v_prev >= p["theta"]).astype(float)
    assert 0 < s_prev.mean() < 1
    sg = SG.derivative(v_prev - p["theta"])
    a, vr = p["alpha"], p["v_reset"]
    worst = 0.0
    for detach in (False, True):
        label = "detached" if detach else "attached"
        want = _ref_jacobian(p, "hard_drop_input", detach, v_prev, d_t)
        got = to_array(call(fn, v_prev, s_prev, d_t, lp, SG.derivative, detach), "∂v_t/∂v_{t−1}",
                       (B, N), "(B, N)")
        err, idx = compare(got, want)
        if err > RTOL_REF:
            lin = a * (1 - s_prev)
            rst = (vr - a * v_prev - d_t) * sg
            hint = nonfinite_hint(got, "J") or diagnose({"J": got}, [
                ("with the reset attached, add (v_r − α v_{t−1} − d_t) σ'(v_{t−1} − θ): the spike "
                 "s_{t−1} = H(v_{t−1} − θ) depends on v_{t−1}", lambda: {"J": lin}),
                ("the reset spike is a constant when detached: drop the σ' term; only α (1 − s_{t−1}) remains", lambda: {"J": lin + rst}),
                ("the leak path is gated: α (1 − s_{t−1}). A spike at t−1 cuts v_t off from v_{t−1}",
                 lambda: {"J": a + (0 if detach else rst)}),
                ("the sign of the reset term is wrong: it is (v_r − α v_{t−1} − d_t) σ'",
                 lambda: {"J": lin - rst}),
                ("the reset term is missing d_t: the drop-input reset discards α v_{t−1} + d_t, "
                 "so the term is (v_r − α v_{t−1} − d_t) σ'",
                 lambda: {"J": lin + (vr - a * v_prev) * sg}),
                ("σ' takes v_{t−1} − θ", lambda: {"J": lin + (vr - a * v_prev - d_t) * SG.derivative(v_prev)}),
                ("the reset term is missing α: the reset discards the decayed membrane α v_{t−1} + d_t, so "
                 "the term is (v_r − α v_{t−1} − d_t) σ'", lambda: {"J": lin + (0 if detach else (vr - v_prev - d_t) * sg)}),
                ("the gate is inverted: the leak path survives when there was *no* spike, α (1 − s_{t−1}), "
                 "not α s_{t−1}", lambda: {"J": a * s_prev + (0 if detach else rst)}),
            ]) or f"check ∂v_t/∂v_{{t−1}} = α (1 − s_{{t−1}}) + [attached] (v_r − α v_{{t−1}} − d_t) σ'(v_{{t−1}} − θ) ({label})"
            raise Fail(f"{label}: {hint}", err, locate("J", idx, "bn") + f" ({label})")
        # Smooth twin: the stored spike is F(v_{t−1} − θ).
        s_smooth = SG.primitive(v_prev - p["theta"])
        got_smooth = to_array(call(fn, v_prev, s_smooth, d_t, lp, SG.derivative, detach), "∂v_t/∂v_{t−1}",
                              (B, N), "(B, N)")
        fd = _fd_jacobian(p, "hard_drop_input", detach, v_prev, d_t, got_smooth)
        if not fd.passed and compare(got_smooth, got)[0] <= RTOL_REF:
            raise Fail(f"{label}: use the argument s_prev for the gate (1 − s_{{t−1}}); on the smooth twin it is "
                       "F(v_{t−1} − θ), not H(v_{t−1} − θ), and central differences see the difference",
                       fd.max_rel_error, locate("J", fd.worst_index, "bn"))
        if not fd.passed:
            raise Fail(f"{label}: disagrees with central differences on the smooth twin ({fd})",
                       fd.max_rel_error, locate("J", fd.worst_index, "bn"))
        worst = max(worst, err, fd.max_rel_error)
    return worst, ""


# ---------------------------------------------------------------------------


def _step_ref(dv_next, a_s, a_v, cache, p, detach, no_r=False, flip_r=False, keep_input=False,
              no_gate=False, gate_prev=False, dI_no_gate=False, dI_gate_s=False, detach_gates=False,
              ignore_detach=False, r_no_vr=False, r_no_alpha=False, r_gated=False, dv_uses_a_s=False,
              detach_drops_b2_gate=False, detach_drops_b4_gate=False):
    """B1, B2, B4 of the drop-input reset with one typical mistake switched on."""
    v, s, s_prev, I_next = cache["v"], cache["s"], cache["s_prev"], cache["I_next"]
    ds = a_s
    if (not detach or ignore_detach) and not no_r:
        r = (1.0 if r_no_alpha else p["alpha"]) * v + (0.0 if keep_input else I_next) \
            - (0.0 if r_no_vr else p["v_reset"])
        ds = ds + (r if flip_r else -r) * dv_next * ((1.0 - s) if r_gated else 1.0)
    gate = 1.0 if (no_gate or (detach and (detach_gates or detach_drops_b2_gate))) \
        else 1.0 - (s_prev if gate_prev else s)
    dv = a_v + p["alpha"] * gate * dv_next + SG.derivative(v - p["theta"]) * (a_s if dv_uses_a_s else ds)
    if dI_no_gate or (detach and (detach_gates or detach_drops_b4_gate)):
        dI = dv
    else:
        dI = (1.0 - (s if dI_gate_s else s_prev)) * dv
    return {"ds": ds, "dv": dv, "dI": dI}


_STEP_MUTANTS = [
    # Detached-only mistakes first: with the reset attached they change nothing.
    ("a detached reset still keeps B2's gate (1 − s_t): detaching treats the reset spike as a constant, "
     "so the leak path α (1 − s_t) δv_{t+1} stays gated; only the r_{t+1} term of B1 goes",
     dict(detach_drops_b2_gate=True)),
    ("a detached reset still keeps B4's gate (1 − s_{t−1}): δI_t = (1 − s_{t−1}) δv_t whether or not "
     "the reset is detached; only the r_{t+1} term of B1 goes", dict(detach_drops_b4_gate=True)),
    ("B1 is missing −r_{t+1} δv_{t+1}, the attached reset path (r_{t+1} = α v_t + I_{t+1} − v_r)",
     dict(no_r=True)),
    ("r_{t+1} is missing −v_r: the reset moves v_{t+1} from α v_t + I_{t+1} to v_r, so r_{t+1} = "
     "α v_t + I_{t+1} − v_r", dict(r_no_vr=True)),
    ("r_{t+1} is missing the leak: the reset discards α v_t + I_{t+1}, the membrane *after* the decay, "
     "so r_{t+1} = α v_t + I_{t+1} − v_r", dict(r_no_alpha=True)),
    ("B1's reset term is not gated: a spike at t resets v_{t+1} whatever happened at t, so the term is "
     "−r_{t+1} δv_{t+1}, without (1 − s_t)", dict(r_gated=True)),
    ("B2 needs the *total* δs_t of B1, not the direct partial a^s_t: the spike's effect through the reset "
     "of step t+1 reaches v_t too", dict(dv_uses_a_s=True)),
    ("the sign of B1's reset term is wrong: δs_t = a^s_t − r_{t+1} δv_{t+1}", dict(flip_r=True)),
    ("r_{t+1} is missing I_{t+1}: the drop-input reset discards α v_t + I_{t+1}, so r_{t+1} = α v_t + I_{t+1} − v_r "
     "(without I_{t+1} it is hard_keep_input's)", dict(keep_input=True)),
    ("B2's leak path is gated by the spike of step t: α (1 − s_t) δv_{t+1}", dict(no_gate=True)),
    ("off by one: B2's gate is (1 − s_t), the spike that resets v_{t+1}, not (1 − s_{t−1})", dict(gate_prev=True)),
    ("B4: δI_t = (1 − s_{t−1}) δv_t. Input that arrives at a reset step is dropped; seed 000's Σ δv x "
     "holds only for the soft reset", dict(dI_no_gate=True)),
    ("off by one: B4's gate is (1 − s_{t−1}), the spike that resets v_t, not (1 − s_t)", dict(dI_gate_s=True)),
    ("the reset is detached here: s̃ is a constant, so B1 has no −r_{t+1} δv_{t+1} term",
     dict(ignore_detach=True)),
    ("a detached reset still keeps the gates (1 − s̃): only the r_{t+1} term of B1 goes", dict(detach_gates=True)),
]
_STEP_EQ = {
    "ds": "B1: δs_t = a^s_t − [attached] r_{t+1} δv_{t+1}, r_{t+1} = α v_t + I_{t+1} − v_r",
    "dv": "B2: δv_t = a^v_t + α (1 − s_t) δv_{t+1} + σ'(v_t − θ) δs_t",
    "dI": "B4–B5: δI_t = (1 − s_{t−1}) δv_t",
}


def _hard_trajectory(smooth=False, detach=False, seed=7):
    p, rng = _params(seed)
    cfg, P = _cfg("hard_drop_input", detach, smooth), _refsnn_params(p, "hard_drop_input")
    x = rng.normal(0.6, 0.8, (T, B, N))
    state0 = {"v": rng.normal(0.3, 0.5, (B, N))}
    a_s = rng.normal(0.0, 1.0, (T, B, N))
    a_v = rng.normal(0.0, 1.0, (T, B, N))
    traj = layer_forward(cfg, P, x, state0)
    return p, cfg, P, x, state0, a_s, a_v, traj


def _cache(traj, x, t):
    s_prev = traj.prev("s")
    I_next = x[t + 1] if t + 1 < len(x) else np.zeros_like(x[0])
    return {"v": traj.v[t], "s": traj.s[t], "s_prev": s_prev[t], "I_next": I_next}


def _learner_step(fn, dv_next, a_s, a_v, cache, lp, detach):
    out = unpack(call(fn, dv_next, a_s, a_v, cache, lp, SG.derivative, detach), ("ds", "dv", "dI"))
    return {k: to_array(o, k, (B, N), "(B, N)") for k, o in zip(("ds", "dv", "dI"), out)}


def check_hard_reset_step_backward(fn):
    worst = 0.0
    for detach in (False, True):
        label = "detached" if detach else "attached"
        p, cfg, P, x, state0, a_s, a_v, traj = _hard_trajectory(detach=detach)
        assert 0 < traj.s.mean() < 1
        lp = {k: p[k] for k in ("alpha", "v_reset", "theta")}
        adj = layer_backward(traj, P, ds=a_s, dv=a_v).adjoints
        want = {"ds": adj["ds"], "dv": adj["dv"], "dI": adj["dc"]}
        got = {k: np.empty_like(want[k]) for k in want}
        inputs = []
        for t in range(T - 1, -1, -1):       # teacher-forced: the reference δv_{t+1} at every t
            dv_next = want["dv"][t + 1] if t + 1 < T else np.zeros((B, N))
            cache = _cache(traj, x, t)
            inputs.append((t, dv_next, cache))
            out = _learner_step(fn, dv_next, a_s[t], a_v[t], cache, lp, detach)
            for k in got:
                got[k][t] = out[k]
        for t, dv_next, cache in inputs:
            ref = _step_ref(dv_next, a_s[t], a_v[t], cache, p, detach)
            assert all(compare(ref[k], want[k][t])[0] < 1e-12 for k in ref), "checker disagrees with refsnn"
        err, where = worst_of(got, want, axes="tbn")
        if err > RTOL_REF:
            t_bad = next(t for t, *_ in inputs if any(compare(got[k][t], want[k][t])[0] > RTOL_REF for k in got))
            bad = [k for k in ("ds", "dv", "dI") if compare(got[k][t_bad], want[k][t_bad])[0] > RTOL_REF]
            culprit = bad[0]          # ds feeds dv, dv feeds dI: the first one in that order

            def mutant(kw):
                out = {k: np.empty_like(want[k]) for k in want}
                for t, dv_next, cache in inputs:
                    r = _step_ref(dv_next, a_s[t], a_v[t], cache, p, detach, **kw)
                    for k in out:
                        out[k][t] = r[k]
                return out

            hint = diagnose(got, [(h, (lambda kw=kw: mutant(kw))) for h, kw in _STEP_MUTANTS]
                            + order_mutants(want, "(ds, dv, dI)"))
            hint = hint or nonfinite_hint(got[culprit], culprit) or f"check {_STEP_EQ[culprit]}"
            raise Fail(f"{label}: {culprit} first differs at t={t_bad} (going back from t={T - 1}, given the "
                       f"reference δv_{{t+1}}): {hint}", err, where + f" ({label})")
        worst = max(worst, err)
    # Chained over all t on the smooth twin (attached): δI_t = dL/dx_t by central differences.
    p, cfg, P, x, state0, a_s, a_v, traj = _hard_trajectory(smooth=True)
    lp = {k: p[k] for k in ("alpha", "v_reset", "theta")}
    dI = np.empty((T, B, N))
    dv_next = np.zeros((B, N))
    for t in range(T - 1, -1, -1):
        out = _learner_step(fn, dv_next, a_s[t], a_v[t], _cache(traj, x, t), lp, False)
        dI[t], dv_next = out["dI"], out["dv"]

    def loss(xx):
        tr = layer_forward(cfg, P, xx, state0)
        return float(np.sum(a_s * tr.s) + np.sum(a_v * tr.v))

    fd = check_gradient(loss, x, dI, name="dI", eps=FD_EPS, rtol=RTOL_FD,
                        floor=FLOOR * max(1.0, abs(loss(x))), order=FD_ORDER)
    if not fd.passed:
        raise Fail(f"chained over t on the smooth twin, δI_t disagrees with central differences dL/dx_t ({fd})",
                   fd.max_rel_error, locate("dI", fd.worst_index, "tbn"))
    return max(worst, fd.max_rel_error), ""


CHECKS = [
    ("soft_reset_jacobian", check_soft_reset_jacobian),
    ("hard_reset_jacobian", check_hard_reset_jacobian),
    ("hard_reset_step_backward", check_hard_reset_step_backward),
]
