"""Checks for exercise 14 (Lee et al. 2016: L4, L5, L7, L8 and the threshold regularisation).

References are refsnn's own functions in :mod:`refsnn.learning.lee2016`:
``transfer_gradient`` (L4), ``weight_regulariser`` (L7, whose gradient is also
checked here against central differences of the learner's own value) and
``threshold_regularisation`` (2.3.2). A wrong answer is compared with the reference
re-run with one typical mistake; the matching mistake's hint names the term.
"""

import numpy as np

from refsnn.gradcheck import check_gradient
from refsnn.learning import lee2016 as LR

from .common import (FD_EPS, FD_ORDER, FLOOR, RTOL_FD, RTOL_REF, Fail, call, compare, diagnose, locate,
                     nonfinite_hint, to_array, unpack)


def _layer(seed, N=5, M=4):
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 0.8, (N, M)), rng.uniform(0.5, 2.0, N)


def check_transfer_gradient(fn):
    worst = 0.0
    for seed, (mu, sigma, n) in enumerate([(0.0, 0.5, 5), (-0.4, 0.5, 5), (-1.0, 0.3, 12)]):
        W, v_th = _layer(seed)
        want = LR.transfer_gradient(W, v_th, mu, sigma, n)
        got = to_array(call(fn, W, v_th, mu, sigma, n), "∂a/∂x", W.shape, "(N, M)")
        err, idx = compare(got, want)
        if err > RTOL_REF:
            D = 1.0 - mu * sigma * (n - 1)
            vt = v_th[:, None]
            hint = nonfinite_hint(got, "∂a/∂x") or diagnose({"G": got}, [
                ("the denominator is 1 − μσ(n − 1) = 1 + |μ|σ(n − 1) with μ ≤ 0: seed 003's μσ(n−1) + 1 "
                 "reads μ as the magnitude |κ| (with the signed μ the gain turns negative)",
                 lambda: {"G": W / (vt * (1.0 + mu * sigma * (n - 1)))}),
                ("the circuit has n − 1 *other* neurons: the denominator is 1 − μσ(n − 1), not 1 − μσn",
                 lambda: {"G": W / (vt * (1.0 - mu * sigma * n))}),
                ("divide by V_th,i: ∂a_i/∂x_k = w_ik / (V_th,i D)", lambda: {"G": W / D}),
                ("V_th,i divides, it does not multiply: w_ik / (V_th,i D)", lambda: {"G": W * vt / D}),
                ("the WTA factor 1/(1 − μσ(n − 1)) is missing", lambda: {"G": W / vt}),
            ]) or "check L4: ∂a_i/∂x_k = w_ik / (V_th,i (1 − μσ(n − 1)))"
            raise Fail(f"μ = {mu}, σ = {sigma}, n = {n}: {hint}", err, locate("∂a/∂x", idx, "ik"))
        worst = max(worst, err)
    return worst, ""


def check_regulariser(fn):
    worst = 0.0
    for seed, (alpha, beta, lam) in enumerate([(1.5, 10.0, 0.04), (2.0, 3.0, 0.3)]):
        W, _ = _layer(10 + seed)
        want_v, want_g = LR.weight_regulariser(W, alpha, beta, lam)
        value, grad = unpack(call(fn, W, alpha, beta, lam), ("value", "grad"))
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise Fail(f"value must be a number, got {type(value).__name__}") from None
        grad = to_array(grad, "grad", W.shape, "(N, M)")
        s = np.sum(W ** 2, axis=1)
        if abs(value - want_v) > RTOL_REF * max(1.0, abs(want_v)):
            hint = diagnose({"v": np.array(value)}, [
                ("the exponent is λ(Σ_k w_ik² − α²): −α², not +α²",
                 lambda: {"v": np.array(np.sum(beta * np.exp(lam * (s + alpha ** 2))))}),
                ("the sum of squares is per neuron (row i of W), one term β e^{…} per neuron",
                 lambda: {"v": np.array(beta * np.exp(lam * (np.sum(W ** 2) - alpha ** 2)))}),
                ("the sum of squares is per neuron (row i of W), not over all weights",
                 lambda: {"v": np.array(W.shape[0] * beta * np.exp(lam * (np.sum(W ** 2) - alpha ** 2)))}),
                ("β multiplies the exponential", lambda: {"v": np.array(np.sum(np.exp(lam * (s - alpha ** 2))))}),
                ("α is squared in the exponent: λ(Σ w² − α²)",
                 lambda: {"v": np.array(np.sum(beta * np.exp(lam * (s - alpha))))}),
            ]) or "check L7: L_w = Σ_i β e^{λ(Σ_k w_ik² − α²)}"
            raise Fail(f"value: {hint}", abs(value - want_v) / max(1.0, abs(want_v)), "value")
        err, idx = compare(grad, want_g)
        if err > RTOL_REF:
            e = beta * np.exp(lam * (s - alpha ** 2))[:, None]
            hint = nonfinite_hint(grad, "grad") or diagnose({"g": grad}, [
                ("the derivative of w² is 2w: the factor 2 is missing", lambda: {"g": lam * e * W}),
                ("the chain rule brings down λ from the exponent", lambda: {"g": 2.0 * e * W}),
                ("the gradient is 2βλ w_ik e^{…}: the factor w_ik is missing",
                 lambda: {"g": 2.0 * lam * e * np.ones_like(W)}),
                ("the exponential of neuron i multiplies row i only",
                 lambda: {"g": 2.0 * lam * np.sum(e) * W}),
                ("the gradient points up the regulariser: + 2βλ w e^{…}, not −", lambda: {"g": -2.0 * lam * e * W}),
            ]) or "check L7: ∂L_w/∂w_ik = 2βλ w_ik e^{λ(Σ_k w_ik² − α²)}"
            raise Fail(f"grad: {hint}", err, locate("grad", idx, "ik"))
        fd = check_gradient(lambda w: float(call(fn, w, alpha, beta, lam)[0]), W.copy(), grad, name="grad",
                            eps=FD_EPS, rtol=RTOL_FD, floor=FLOOR, order=FD_ORDER)
        if not fd.passed:
            raise Fail(f"grad disagrees with central differences of your value ({fd})", fd.max_rel_error,
                       locate("grad", fd.worst_index, "ik"))
        worst = max(worst, err, fd.max_rel_error)
    return worst, ""


def _threshold_case():
    # 4 neurons, 3 samples; neuron 3 starts near its floor so that the floor rule fires.
    counts = np.array([[3, 1, 0, 0], [2, 0, 0, 0], [0, 1, 1, 0]], dtype=float)
    v_th = np.array([1.0, 1.2, 0.9, 0.21])
    W = np.random.default_rng(20).uniform(0.1, 1.0, (4, 3))
    v_floor = np.array([0.2, 0.24, 0.18, 0.2])
    return v_th, W, counts, 0.01, v_floor


def _thr_variant(v_th, W, counts, rho, v_floor, swap=False, silent_n=False, no_floor=False, no_scale=False,
                 scale_floor=False, mean=False, clip=False):
    spiked = counts > 0
    N = v_th.size
    n_w = spiked.sum(axis=1, keepdims=True)
    up, down = (n_w, N) if swap else (N, n_w)
    if silent_n:
        down = N - n_w
    ch = np.where(spiked, up, -down)
    change = rho * (ch.mean(axis=0) if mean else ch.sum(axis=0))
    v_new = v_th + change
    if no_floor:
        return {"v": v_new, "W": W}
    low = v_new < v_floor
    if clip:
        return {"v": np.maximum(v_new, v_floor), "W": W}
    if no_scale:
        return {"v": np.where(low, v_th, v_new), "W": W}
    scale = np.where(low, v_th / v_floor if scale_floor else 1.0 + (v_th - v_new) / v_th, 1.0)
    return {"v": np.where(low, v_th, v_new), "W": W * scale[:, None]}


def check_threshold_regularisation(fn):
    v_th, W, counts, rho, v_floor = _threshold_case()
    want_v, want_W = LR.threshold_regularisation(v_th, W, counts, rho, v_floor)
    ref = _thr_variant(v_th, W, counts, rho, v_floor)
    assert compare(ref["v"], want_v)[0] < 1e-14 and compare(ref["W"], want_W)[0] < 1e-14, "checker disagrees"
    assert np.any(ref["v"] == v_th) and np.any(ref["W"] != W), "the case must exercise the floor"
    v_new, W_new = unpack(call(fn, v_th, W, counts, rho, v_floor), ("v_th_new", "W_new"))
    got = {"v": to_array(v_new, "v_th_new", v_th.shape, "(N,)"), "W": to_array(W_new, "W_new", W.shape, "(N, M)")}
    want = {"v": want_v, "W": want_W}
    errs = {k: compare(got[k], want[k]) for k in got}
    bad = [k for k in ("v", "W") if errs[k][0] > RTOL_REF]
    if bad:
        hint = diagnose(got, [
            ("spiking neurons get +ρN and silent ones −ρN_w (you swapped them)", lambda: _thr_variant(*_threshold_case(), swap=True)),
            ("a silent neuron goes down by ρN_w, the number of neurons that *did* spike",
             lambda: _thr_variant(*_threshold_case(), silent_n=True)),
            ("the floor is missing: a threshold that would fall below v_floor keeps its old value",
             lambda: _thr_variant(*_threshold_case(), no_floor=True)),
            ("below the floor the threshold is not clipped to the floor: it keeps its old value and the "
             "weights grow instead", lambda: _thr_variant(*_threshold_case(), clip=True)),
            ("a floored neuron's weights grow by 1 + (V_old − V_new)/V_old (you kept the threshold but not the "
             "weight scaling)", lambda: _thr_variant(*_threshold_case(), no_scale=True)),
            ("the weight factor is 1 + (V_old − V_new)/V_old, not V_old/v_floor",
             lambda: _thr_variant(*_threshold_case(), scale_floor=True)),
            ("sum the changes over the samples of the batch, do not average them",
             lambda: _thr_variant(*_threshold_case(), mean=True)),
        ]) or nonfinite_hint(got[bad[0]], bad[0]) or (
            "check the rule: V_new = V_old + ρ Σ_b (N [spiked] − N_w,b [silent]); floor: keep V_old and scale "
            "the row of W by 1 + (V_old − V_new)/V_old")
        k = bad[0]
        raise Fail(hint, errs[k][0], locate("v_th_new" if k == "v" else "W_new", errs[k][1], "i" if k == "v" else "ik"))
    return max(e for e, _ in errs.values()), ""


def check_normalise_errors(fn):
    worst = 0.0
    for seed in (30, 31):
        rng = np.random.default_rng(seed)
        d_raw = rng.normal(size=(3, 6))
        v_th = rng.uniform(0.5, 4.0, 6)
        want = LR.normalise_errors(d_raw, v_th)
        got = to_array(call(fn, d_raw, v_th), "δ", d_raw.shape, "(B, N)")
        err, idx = compare(got, want)
        if err > RTOL_REF:
            g = 1.0 / v_th
            hint = nonfinite_hint(got, "δ") or diagnose({"d": got}, [
                ("g_i = 1/V_th,i, not V_th,i: the gain falls as the threshold rises",
                 lambda: {"d": d_raw * v_th / np.sqrt(np.mean(v_th ** 2))}),
                ("ḡ is the root mean square of g, √(mean g²), not the mean of g",
                 lambda: {"d": d_raw * g / np.mean(g)}),
                ("ḡ is the root *mean* square: √((1/n) Σ g²), not √(Σ g²)",
                 lambda: {"d": d_raw * g / np.sqrt(np.sum(g ** 2))}),
                ("the factor is g_i/ḡ, not ḡ/g_i", lambda: {"d": d_raw * np.sqrt(np.mean(g ** 2)) / g}),
                ("ḡ is one number for the layer (over the neurons, axis 1 of δ), not per sample",
                 lambda: {"d": d_raw * g / np.sqrt(np.mean((d_raw * 0 + g) ** 2, axis=0))}),
            ]) or "check L5: δ_i = (g_i/ḡ) δ_raw_i with g_i = 1/V_th,i and ḡ = √(mean_i g_i²)"
            raise Fail(hint, err, locate("δ", idx, "bn"))
        worst = max(worst, err)
    return worst, ""


def _l8_variant(n, y, no_max_term=False, no_B=False, no_m=False, sign=1.0):
    B = n.shape[0]
    m = n.max(axis=1, keepdims=True)
    o = n / m
    err = o - y
    dn = err if no_m else err / m
    if not no_max_term:
        dn[np.arange(B), np.argmax(n, axis=1)] -= sign * np.sum(err * o, axis=1) / m[:, 0]
    return dn if no_B else dn / B


def check_max_normalised_loss(fn):
    worst = 0.0
    for seed in (40, 41):
        rng = np.random.default_rng(seed)
        n = rng.uniform(0.5, 12.0, (4, 5))               # real counts: the max is differentiable
        y = np.eye(5)[rng.integers(0, 5, 4)]
        want_v, want_d = LR.count_loss(n, y, through_max=True)
        value, dn = unpack(call(fn, n, y), ("value", "dn"))
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise Fail(f"value must be a number, got {type(value).__name__}") from None
        if not abs(value - want_v) <= 1e-10 * max(1.0, abs(want_v)):
            raise Fail(f"the loss value is {value:.6g}, expected {want_v:.6g}: check L8, "
                       "½ mean over the batch of Σ_i (n_i/max_j n_j − y_i)²")
        dn = to_array(dn, "dn", n.shape, "(B, K)")
        err, idx = compare(dn, want_d)
        if err > RTOL_REF:
            hint = nonfinite_hint(dn, "dn") or diagnose({"d": dn}, [
                ("the maximum m = max_j n_j is a function of the winner's count too: the winner j* gets "
                 "the extra term −Σ_j (o_j − y_j) o_j / m", lambda: {"d": _l8_variant(n, y, no_max_term=True)}),
                ("the winner's extra term is −Σ_j (o_j − y_j) o_j / m (its sign is flipped)",
                 lambda: {"d": _l8_variant(n, y, sign=-1.0)}),
                ("∂o_i/∂n_i = 1/m: divide (o_i − y_i) by m", lambda: {"d": _l8_variant(n, y, no_m=True)}),
                ("the loss is a mean over the batch: divide ∂L/∂n by B", lambda: {"d": _l8_variant(n, y, no_B=True)}),
            ]) or "check L8': (o_i − y_i)/m − [i = j*] Σ_j (o_j − y_j) o_j / m, over B"
            raise Fail(hint, err, locate("dn", idx, "bk"))
        fd = check_gradient(lambda a: float(call(fn, a, y)[0]), n.copy(), dn, name="dn", eps=FD_EPS, rtol=RTOL_FD,
                            floor=FLOOR, order=FD_ORDER)
        if not fd.passed:
            raise Fail(f"dn disagrees with central differences of your loss value ({fd})", fd.max_rel_error,
                       locate("dn", fd.worst_index, "bk"))
        worst = max(worst, err)
    return worst, ""


CHECKS = [
    ("transfer_gradient", check_transfer_gradient),
    ("regulariser", check_regulariser),
    ("threshold_regularisation", check_threshold_regularisation),
    ("normalise_errors", check_normalise_errors),
    ("max_normalised_loss", check_max_normalised_loss),
]
