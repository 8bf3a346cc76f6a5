"""Checks for exercise 16 (EventProp: J3–J4's jumps, the arriving gradient, G1).

The references are the equations of :mod:`refsnn.neurons.eventprop` written out on fixed
data; the last check runs refsnn's own adjoint pass (``layer_backward``) on a neuron that
spikes twice and compares it with the same pass built from the learner's two jump
functions, so a jump that differs from J3–J4 in any term shows up in dℒ/dW. A wrong answer
is compared with the reference re-run with one typical mistake; the matching mistake's hint
names the term.
"""

import numpy as np

from refsnn.neurons import eventprop as E

from .common import RTOL_REF, Fail, call, compare, diagnose, locate, nonfinite_hint, to_array, unpack


def _data(seed, B=3, N=4, Na=5):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(B, N)), rng.normal(size=(Na, N)), rng.normal(size=(B, Na)),
            rng.normal(size=(B, Na)))


def check_arriving_gradient(fn):
    worst = 0.0
    for seed in range(2):
        dl, W, lv, li = _data(seed)
        want = dl + (lv - li) @ W
        got = to_array(call(fn, dl, W, lv, li), "g", want.shape, "(B, N)")
        err, idx = compare(got, want)
        if err > RTOL_REF:
            hint = nonfinite_hint(got, "g") or diagnose({"g": got}, [
                ("λ_I enters with a minus sign: W_ji (λ_V,j − λ_I,j), from the jump of İ_j at the input",
                 lambda: {"g": dl + (lv + li) @ W}),
                ("the term −λ_I,j is missing: the spike also moves the jump of I_j in time (W_ji/τ_s δt)",
                 lambda: {"g": dl + lv @ W}),
                ("the term λ_V,j is missing: moving the jump of I_j moves V̇_j's kink (W_ji/τ_m δt)",
                 lambda: {"g": dl - li @ W}),
                ("the direct partial ∂l/∂t of the spike is missing", lambda: {"g": (lv - li) @ W}),
                ("the sign of the layer above's term: + Σ_j W_ji (λ_V,j − λ_I,j)", lambda: {"g": dl - (lv - li) @ W}),
            ]) or "check J4's sum: g_i = ∂l/∂t_i + Σ_j W_ji (λ_V,j − λ_I,j), a sum over the neurons j above"
            raise Fail(hint, err, locate("g", idx, "bi"))
        worst = max(worst, err)
    return worst, ""


def _jump_data(seed, B=3, N=4, theta=1.0):
    rng = np.random.default_rng(10 + seed)
    return (rng.normal(size=(B, N)), rng.normal(size=(B, N)), theta + rng.uniform(0.2, 3.0, (B, N)),
            rng.normal(size=(B, N)), theta)


def check_jump_at_spike(fn):
    worst = 0.0
    for seed in range(2):
        lv, li, I, g, th = _jump_data(seed, theta=(1.0, 0.7)[seed])     # θ ≠ 1 once: a hard-coded 1 fails
        want = {"lam_v_minus": (I * lv + g) / (I - th), "lam_i_minus": li}
        out = unpack(call(fn, lv, li, I, g, th), ("lam_v_minus", "lam_i_minus"))
        got = {k: to_array(v, k, lv.shape, "(B, N)") for k, v in zip(want, out)}
        for k in want:
            err, idx = compare(got[k], want[k])
            if err > RTOL_REF:
                hint = nonfinite_hint(got[k], k) or diagnose(got, [
                    ("J3: λ_I is continuous at the neuron's own spike (I does not jump there), "
                     "λ_I^- = λ_I^+, not 0", lambda: {**want, "lam_i_minus": np.zeros_like(li)}),
                    ("J4's reset term I λ_V^+ is missing (τ_m V̇^+ = I after the reset to 0)",
                     lambda: {**want, "lam_v_minus": g / (I - th)}),
                    ("J4's arriving gradient g is missing", lambda: {**want, "lam_v_minus": I * lv / (I - th)}),
                    ("J4 divides by the threshold crossing's slope τ_m V̇^- = I − θ, not by I "
                     "(the θ term is the crossing's time derivative)",
                     lambda: {**want, "lam_v_minus": (I * lv + g) / I}),
                    ("J4: the slope is I − θ, not θ − I", lambda: {**want, "lam_v_minus": (I * lv + g) / (th - I)}),
                    ("J4: λ_V^+ is multiplied by the slope after the reset, I = τ_m V̇^+, not by I − θ",
                     lambda: {**want, "lam_v_minus": lv + g / (I - th)}),
                    ("the outputs are swapped: return (λ_V^-, λ_I^-)",
                     lambda: {"lam_v_minus": want["lam_i_minus"], "lam_i_minus": want["lam_v_minus"]}),
                ]) or "check J3–J4: λ_I^- = λ_I^+, (I − θ) λ_V^- = I λ_V^+ + g"
                raise Fail(f"{k}: {hint}", err, locate(k, idx, "bi"))
            worst = max(worst, err)
    worst = max(worst, _check_in_adjoint(fn))
    return worst, ""


def _check_in_adjoint(fn):
    """refsnn's adjoint pass with the learner's J3–J4 against refsnn's own (dℒ/dW)."""
    cfg = E.EventPropConfig(10.0, 5.0, 1.0, 40.0)
    W = np.array([[3.0, 2.5, 1.5]])
    t_in = np.array([[[1.0], [4.0], [9.0]]])
    rec = E.layer_forward(cfg, W, t_in)
    if rec.counts.sum() < 2:        # the case must make the neuron spike twice
        raise RuntimeError("ex16 checker: the case no longer spikes twice")
    g = np.array([[[0.7, -0.4]]])
    want, _ = E.layer_backward(cfg, W, rec, g, path="readable")
    # the same pass, with J3–J4 replaced by the learner's function
    lV, lI, tc = np.zeros((1, 1)), np.zeros((1, 1)), np.full((1, 1), cfg.t_end)
    gW = np.zeros(W.shape)
    events = [(t, "in", j) for j, t in enumerate(t_in[0, :, 0])] + [(t, "spike", k) for k, t in
                                                                   enumerate(rec.times[0, 0]) if np.isfinite(t)]
    for t, kind, k in sorted(events, reverse=True):
        lV, lI = E._back(cfg, lV, lI, tc - t)
        tc = np.full((1, 1), t)
        if kind == "spike":
            out = unpack(call(fn, lV, lI, rec.current[0, 0, k].reshape(1, 1), g[0, 0, k].reshape(1, 1), cfg.theta),
                         ("lam_v_minus", "lam_i_minus"))
            lV = to_array(out[0], "lam_v_minus", (1, 1))
            lI = to_array(out[1], "lam_i_minus", (1, 1))
        else:
            gW[0, k] += -cfg.tau_s * lI[0, 0]
    err, idx = compare(gW, want)
    if err > RTOL_REF:
        raise Fail(f"inside the adjoint pass your jumps give dℒ/dW = {gW[0].round(6)}, refsnn {want[0].round(6)}",
                   err, locate("dL/dW", idx, "ij"))
    return err


def check_weight_gradient(fn):
    rng = np.random.default_rng(20)
    B, P, N, M, tau_s = 3, 6, 4, 5, 5.0
    lam = rng.normal(size=(B, P, N))
    ch = rng.integers(0, M, (B, P))
    want = np.zeros((N, M))
    for b in range(B):
        for p in range(P):
            want[:, ch[b, p]] -= tau_s * lam[b, p]
    got = to_array(call(fn, lam, ch, M, tau_s), "dL/dW", (N, M), "(N, M)")
    err, idx = compare(got, want)
    if err > RTOL_REF:

        def variant(sign=-1.0, scale=tau_s, mean=False):
            out = np.zeros((N, M))
            for b in range(B):
                for p in range(P):
                    out[:, ch[b, p]] += sign * scale * lam[b, p]
            return out / B if mean else out

        hint = nonfinite_hint(got, "dL/dW") or diagnose({"G": got}, [
            ("the sign: dℒ/dW_ij = −τ_s Σ λ_I,i (the jump +W_ij of I enters the boundary term −τ_s λ_I δI^+)",
             lambda: {"G": variant(sign=1.0)}),
            ("the factor τ_s is missing", lambda: {"G": variant(scale=1.0)}),
            ("sum over the batch, do not average", lambda: {"G": variant(mean=True)}),
        ]) or "check G1: dℒ/dW_ij = −τ_s Σ_b Σ_{events p of channel j} λ_I,i(t_p)"
        raise Fail(hint, err, locate("dL/dW", idx, "ij"))
    return err, ""


CHECKS = [
    ("arriving_gradient", check_arriving_gradient),
    ("jump_at_spike", check_jump_at_spike),
    ("weight_gradient", check_weight_gradient),
]
