"""Checks for exercise 07 (seed 004's charge / fire / reset).

Reference: refsnn's layer, under the map ``v ≡ H``, ``s ≡ S``, ``α = 1 − 1/τ``,
``W = diag(1/τ)``, ``θ = V_th``, and ``γ = α V_th`` (soft) or ``v_r = α V_reset``
with ``reset="hard_keep_input"`` (hard). ``tests/test_exercises.py`` also checks
that seed 004's loop, written out literally, gives the same trajectory.

Each step function is checked against what refsnn implies:

* ``charge(V_{t−1}, X_t) = v_t``, where ``V_{t−1}`` is the reset of refsnn's ``(v_{t−1}, s_{t−1})``;
* ``fire(H_t) = s_t``;
* the reset of ``(v_t, s_t)`` must be the ``V_t`` that refsnn's next step charges from:
  ``V_t = (v_{t+1} − X_{t+1}/τ) / (1 − 1/τ)``.
"""

import numpy as np

from refsnn.lif import LIFConfig, layer_forward

from .common import RTOL_REF, Fail, call, compare, diagnose, locate, nonfinite_hint, to_array, unpack

T, B, N = 12, 3, 4


def reference_map(tau, v_th, v_reset, reset):
    a = 1.0 - 1.0 / tau
    P = {"W": np.diag(1.0 / tau), "b": np.zeros(N), "alpha": a, "theta": v_th.copy()}
    if reset == "soft":
        P["gamma"] = a * v_th
        return {"reset": "subtract", "h0": 1.0}, P
    P["v_reset"] = a * v_reset
    return {"reset": "hard_keep_input", "h0": 1.0}, P


def problem(seed=12):
    rng = np.random.default_rng(seed)
    tau = np.array([2.0, 5.0, 10.0, 3.0])
    v_th = rng.uniform(0.5, 1.5, N)
    v_reset = rng.uniform(-0.3, 0.3, N)
    X = rng.normal(1.3, 1.0, (T, B, N)) * v_th
    V0 = rng.uniform(-0.2, 0.4, (B, N))
    return tau, v_th, v_reset, X, V0


def seed004_loop(tau, v_th, v_reset, X, V0, reset):
    """Seed 004's equations, literally: H_t, S_t and V_t for t = 0..T−1."""
    H, S, V = np.empty_like(X), np.empty_like(X), np.empty_like(X)
    V_prev = V0
    for t in range(len(X)):
        H[t] = (1 - 1 / tau) * V_prev + X[t] / tau
        S[t] = (H[t] >= v_th).astype(float)
        V[t] = S[t] * v_reset + (1 - S[t]) * H[t] if reset == "hard" else H[t] - S[t] * v_th
        V_prev = V[t]
    return H, S, V


def _refsnn(reset, seed=12):
    tau, v_th, v_reset, X, V0 = problem(seed)
    kw, P = reference_map(tau, v_th, v_reset, reset)
    traj = layer_forward(LIFConfig(N, N, **kw), P, X, {"v": V0})
    assert 0.1 < traj.s.mean() < 0.9
    # V_t as refsnn's next step sees it: the charge equation solved for V_t.
    V_next_charge = (traj.v[1:] - X[1:] / tau) / (1 - 1 / tau)
    return tau, v_th, v_reset, X, V0, traj, V_next_charge


def _step_fail(name, got, want, eq, mutants):
    err, idx = compare(got, want)
    if err <= RTOL_REF:
        return err
    hint = nonfinite_hint(got, name) or diagnose({"o": got}, mutants) or f"check {eq}"
    raise Fail(f"{name} first differs at t={idx[0]}: {hint}", err, locate(name, idx, "tbn"))


# ---------------------------------------------------------------------------


def check_charge(fn):
    worst = 0.0
    for reset in ("soft", "hard"):
        tau, v_th, v_reset, X, V0, traj, _ = _refsnn(reset)
        S = traj.s
        V = S * v_reset + (1 - S) * traj.v if reset == "hard" else traj.v - S * v_th
        V_prev = np.concatenate([V0[None], V[:-1]])
        got = np.stack([to_array(call(fn, V_prev[t], X[t], tau), "H_t", (B, N), "(B, N)") for t in range(T)])
        worst = max(worst, _step_fail("H", got, traj.v, "H_t = (1 − 1/τ) V_{t−1} + X_t/τ", [
            ("the leak keeps (1 − 1/τ) of V_{t−1} and the input adds X_t/τ; you swapped them",
             lambda: {"o": V_prev / tau + (1 - 1 / tau) * X}),
            ("that is the IF charge, V_{t−1} + X_t/τ; the LIF leaks: (1 − 1/τ) V_{t−1}",
             lambda: {"o": V_prev + X / tau}),
            ("the input is scaled by 1/τ: + X_t/τ", lambda: {"o": (1 - 1 / tau) * V_prev + X}),
            ("charge from V_{t−1}, the membrane after the previous reset (the argument v_prev)",
             lambda: {"o": (1 - 1 / tau) * np.concatenate([V0[None], traj.v[:-1]]) + X / tau}),
        ]))
    return worst, ""


def check_fire(fn):
    tau, v_th, v_reset, X, V0, traj, _ = _refsnn("soft")
    H = np.concatenate([traj.v, np.broadcast_to(v_th, (1, B, N))])       # last step: H_t = V_th exactly
    want = np.concatenate([traj.s, np.ones((1, B, N))])
    got = np.stack([to_array(call(fn, H[t], v_th), "S_t", (B, N), "(B, N)") for t in range(T + 1)])
    err, idx = compare(got, want)
    if err > RTOL_REF:
        hint = diagnose({"o": got}, [
            ("Θ(0) = 1: H_t = V_th exactly spikes (H_t ≥ V_th)", lambda: {"o": (H > v_th).astype(float)}),
            ("the step is reversed: S_t = 1 when H_t ≥ V_th", lambda: {"o": (H < v_th).astype(float)}),
        ]) or "S_t = Θ(H_t − V_th), Θ(0) = 1"
        step = f"t={idx[0]}" if idx[0] < T else "the tie H_t = V_th"
        raise Fail(f"S first differs at {step}: {hint}", err, locate("S", idx, "tbn"))
    return err, ""


def check_reset_hard(fn):
    tau, v_th, v_reset, X, V0, traj, want = _refsnn("hard")
    H, S = traj.v[:-1], traj.s[:-1]
    got = np.stack([to_array(call(fn, H[t], S[t], v_reset), "V_t", (B, N), "(B, N)") for t in range(T - 1)])
    return _step_fail("V", got, want, "V_t = S_t V_reset + (1 − S_t) H_t", [
        ("S and (1 − S) are swapped: a spike sets V_t = V_reset, no spike keeps H_t",
         lambda: {"o": (1 - S) * v_reset + S * H}),
        ("without a spike V_t = H_t: the H_t term needs the gate (1 − S_t)",
         lambda: {"o": S * v_reset + H}),
        ("that is the soft reset; the hard one sets V_t = V_reset where S_t = 1",
         lambda: {"o": H - S * v_th}),
    ]), ""


def check_reset_soft(fn):
    tau, v_th, v_reset, X, V0, traj, want = _refsnn("soft")
    H, S = traj.v[:-1], traj.s[:-1]
    got = np.stack([to_array(call(fn, H[t], S[t], v_th), "V_t", (B, N), "(B, N)") for t in range(T - 1)])
    return _step_fail("V", got, want, "V_t = H_t − S_t V_th", [
        ("the soft reset subtracts: V_t = H_t − S_t V_th", lambda: {"o": H + S * v_th}),
        ("the soft reset subtracts V_th from H_t only where S_t = 1", lambda: {"o": H - v_th}),
        ("that is the hard reset; the soft one subtracts V_th", lambda: {"o": S * v_reset + (1 - S) * H}),
    ]), ""


def _param_hints(reset, kw, P, kw_ref, P_ref, tau, v_th, v_reset):
    """Explain a wrong map by comparing it with the reference map, key by key."""
    a = 1 - 1 / tau
    if kw.get("reset") != kw_ref["reset"]:
        if reset == "hard" and kw.get("reset") == "hard_drop_input":
            return ("seed 004's hard reset keeps the new input: H_t = a V_{t−1} + X_t/τ with V_{t−1} already "
                    "reset, so use reset='hard_keep_input' (hard_drop_input is seed 000's)")
        return f"config reset={kw.get('reset')!r}: seed 004's {reset} reset is refsnn's {kw_ref['reset']!r}"
    if kw.get("h0", 1.0) != 1.0:
        return "h0 = 1: seed 004 spikes when H_t ≥ V_th, so Θ(0) = 1"
    for key, ref in P_ref.items():
        got = np.asarray(P[key], dtype=float)
        if got.shape != np.shape(ref) or compare(got, ref)[0] <= RTOL_REF:
            continue
        if key == "gamma" and compare(got, v_th)[0] <= RTOL_REF:
            return ("γ = (1 − 1/τ) V_th, not V_th: the soft reset subtracts V_th from V_t, and the next charge "
                    "multiplies V_t by (1 − 1/τ)")
        if key == "v_reset" and compare(got, v_reset)[0] <= RTOL_REF:
            return ("v_r = (1 − 1/τ) V_reset, not V_reset: refsnn's v is H, and the next charge multiplies "
                    "V_t = V_reset by (1 − 1/τ)")
        if key == "W" and compare(got, np.eye(N))[0] <= RTOL_REF:
            return "W = diag(1/τ): the charge adds X_t/τ"
        if key == "alpha" and compare(got, 1 / tau)[0] <= RTOL_REF:
            return "α = 1 − 1/τ, the part of V_{t−1} that the charge keeps"
        return f"params[{key!r}] differs from what the substitution gives"
    return None


def check_map_to_refsnn(fn):
    tau, v_th, v_reset, X, V0 = problem()
    worst = 0.0
    for reset in ("soft", "hard"):
        kw, P = unpack(call(fn, tau, v_th, v_reset, reset, N), ("config_kwargs", "params"))
        if not isinstance(kw, dict) or not isinstance(P, dict):
            raise Fail("return (config_kwargs, params), two dicts")
        try:
            cfg = LIFConfig(N, N, **kw)
            traj = layer_forward(cfg, P, X, {"v": V0})
        except (TypeError, ValueError) as e:
            raise Fail(f"{reset}: refsnn rejected your settings: {e}") from None
        H, S, _ = seed004_loop(tau, v_th, v_reset, X, V0, reset)
        err_v, idx_v = compare(traj.v, H)
        err_s, idx_s = compare(traj.s, S)
        err = max(err_v, err_s)
        if err > RTOL_REF:
            kw_ref, P_ref = reference_map(tau, v_th, v_reset, reset)
            hint = _param_hints(reset, kw, P, kw_ref, P_ref, tau, v_th, v_reset) or \
                "write H_t in terms of H_{t−1}, S_{t−1} and X_t, and match it with refsnn's F4 term by term"
            name, idx = ("v", idx_v) if err_v >= err_s else ("s", idx_s)
            raise Fail(f"{reset}: refsnn's {name} ≠ seed 004's {'H' if name == 'v' else 'S'}, first at "
                       f"t={idx[0]}: {hint}", err, locate(name, idx, "tbn") + f" ({reset})")
        worst = max(worst, err)
    return worst, ""


CHECKS = [
    ("charge", check_charge),
    ("fire", check_fire),
    ("reset_hard", check_reset_hard),
    ("reset_soft", check_reset_soft),
    ("map_to_refsnn", check_map_to_refsnn),
]
