"""Checks for exercise 01 (the gradient problem).

Reference: refsnn's layer with T = 1 (``layer_forward``, ``layer_backward``) and
``refsnn.losses.trace_mse`` with η = 0; the true derivative is the ``"true"``
surrogate, which is what ``refsnn.lif.piecewise_linear`` uses.
"""

import numpy as np

from refsnn.gradcheck import check_gradient
from refsnn.lif import LIFConfig, layer_backward, layer_forward
from refsnn.losses import trace_mse
from refsnn.surrogates import heaviside, surrogate

from .common import RTOL_REF, Fail, call, compare, diagnose, locate, nonfinite_hint, to_array, unpack

B, M, N = 4, 3, 5


def _data(seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, (B, M))
    W = rng.normal(0.0, 1.0, (N, M)) / np.sqrt(M)
    theta = rng.uniform(0.1, 0.6, N)
    y = rng.integers(0, 2, (B, N)).astype(float)
    v = x @ W.T
    assert np.min(np.abs(v - theta)) > 1e-3 and 0 < np.mean(v > theta) < 1
    return W, x, theta, y


def _reference(W, x, theta, y, sg, h0=1.0):
    """Loss, spikes and ∂L/∂W from refsnn: a T = 1 layer from the zero state, b = 0."""
    cfg = LIFConfig(M, N, surrogate=sg, h0=h0)
    p = {"W": W, "b": np.zeros(N), "alpha": np.full(N, 0.9), "theta": theta, "gamma": theta.copy()}
    traj = layer_forward(cfg, p, x[None])
    loss = trace_mse(traj, y[None], eta=0.0)
    g = layer_backward(traj, p, ds=loss.ds)
    return loss.value, traj.s[0], g.params["W"]


# ---------------------------------------------------------------------------


def check_heaviside(fn):
    x = np.array([[-2.0, -1e-300, -0.0, 0.0], [1e-300, 0.5, 3.0, -0.7], [0.0, 7.0, -4.0, 1.0]])
    worst, where = 0.0, ""
    for h0 in (1.0, 0.0):
        got = to_array(call(fn, x, h0), "H(x)", x.shape, "the shape of x")
        want = heaviside(x, h0)
        err, idx = compare(got, want)
        if err > RTOL_REF:
            hint = diagnose({"H": got}, [
                ("H(0) must be h0, but you return 1 at x = 0 for h0 = 0 (that is `x >= 0`)",
                 lambda: {"H": (x >= 0).astype(float)}),
                ("H(0) must be h0, but you return 0 at x = 0 for h0 = 1 (that is `x > 0`)",
                 lambda: {"H": (x > 0).astype(float)}),
                ("the step is reversed: H(x) is 1 for x > 0 and 0 for x < 0",
                 lambda: {"H": heaviside(-x, h0)}),
            ]) or f"H({x[idx]!r}) with h0 = {h0} should be {want[idx]}, you return {got[idx]}"
            raise Fail(hint, err, locate("H", idx) + f" (x = {x[idx]!r}, h0 = {h0})")
        worst = max(worst, err)
    return worst, ""


def check_spike_loss(fn):
    W, x, theta, y = _data()
    worst = 0.0
    for h0 in (1.0, 0.0):
        want, s, _ = _reference(W, x, theta, y, surrogate("true"), h0)
        got = call(fn, W, x, theta, y, h0)
        got = to_array(got, "L", ())
        err, _ = compare(got, want)
        if err > RTOL_REF:
            v = x @ W.T
            sq = (s - y) ** 2
            hint = diagnose({"L": got}, [
                ("missing the ½ of L = 1/(2BN) Σ (s − y)²", lambda: {"L": 2 * want}),
                ("L is a mean over all B·N entries: divide the sum by 2BN, not 2",
                 lambda: {"L": 0.5 * sq.sum()}),
                ("L is a mean over all B·N entries: divide by 2BN, not 2B",
                 lambda: {"L": 0.5 * sq.sum() / B}),
                ("the spike compares v with θ: s = H(v − θ), not H(v)",
                 lambda: {"L": 0.5 * np.mean((heaviside(v, h0) - y) ** 2)}),
            ]) or f"L = {float(got):.6g}, expected {want:.6g}: v = x Wᵀ, s = H(v − θ), L = 1/(2BN) Σ (s − y)²"
            raise Fail(hint, err, f"L (h0 = {h0})")
        worst = max(worst, err)
    return worst, ""


def _mask_no_flip(W, x, theta, eps):
    """True where perturbing W[k, m] by ±eps flips no spike."""
    s0 = heaviside(x @ W.T - theta)
    mask = np.ones(W.shape, bool)
    for idx in np.ndindex(W.shape):
        for step in (eps, -eps):
            Wp = W.copy()
            Wp[idx] += step
            if not np.array_equal(heaviside(x @ Wp.T - theta), s0):
                mask[idx] = False
    return mask


def check_true_gradient_step(fn):
    W, x, theta, y = _data()
    lr = 0.5
    W_new, dW = unpack(call(fn, W, x, theta, y, lr), ("W_new", "dW"))
    dW = to_array(dW, "dW", (N, M), "(N, M)")
    W_new = to_array(W_new, "W_new", (N, M), "(N, M)")
    _, _, want = _reference(W, x, theta, y, surrogate("true"))
    err, idx = compare(dW, want)
    if err > RTOL_REF:
        hint = nonfinite_hint(dW, "dW") or (
            f"dW ≠ 0 (dW{list(idx)} = {dW[idx]:.3g}): the true derivative H'(x) is 0 for every x ≠ 0, "
            "so δv = δs ⊙ H'(v − θ) = 0 and dW = δvᵀ x = 0. A surrogate σ' belongs in "
            "surrogate_gradient_step")
        raise Fail(hint, err, locate("dW", idx, "km"))
    # Central differences of the reference loss: zero wherever a ±eps step flips no spike.
    eps = 1e-6
    mask = _mask_no_flip(W, x, theta, eps)

    def f(Wp):
        return _reference(Wp, x, theta, y, surrogate("true"))[0]

    fd = check_gradient(f, W, dW, name="dW", eps=eps, rtol=1e-7, mask=mask)
    if not fd.passed:
        raise Fail(f"dW disagrees with central differences of spike_loss ({fd})", fd.max_rel_error,
                   locate("dW", fd.worst_index, "km"))
    err2, idx2 = compare(W_new, W - lr * want)
    if err2 > RTOL_REF:
        raise Fail("W_new must be W − lr·dW; with dW = 0 that is W itself: the step does not move",
                   err2, locate("W_new", idx2, "km"))
    return max(err, err2, fd.max_rel_error), ""


def check_surrogate_gradient_step(fn):
    W, x, theta, y = _data()
    lr = 0.5
    worst = 0.0
    for sg in (surrogate("sigmoid", 5.0), surrogate("triangle", 1.0), surrogate("arctan", 2.0)):
        W_new, dW = unpack(call(fn, W, x, theta, y, lr, sg.derivative), ("W_new", "dW"))
        dW = to_array(dW, "dW", (N, M), "(N, M)")
        W_new = to_array(W_new, "W_new", (N, M), "(N, M)")
        _, s, want = _reference(W, x, theta, y, sg)
        err, idx = compare(dW, want)
        if err > RTOL_REF:
            v = x @ W.T
            ds = (s - y) / (B * N)

            def grad(ds_, sgv):
                return {"dW": (ds_ * sgv).T @ x}

            hint = nonfinite_hint(dW, "dW") or diagnose({"dW": dW}, [
                ("dW is zero: this step uses the surrogate σ' = dspike(v − θ) in place of H'",
                 lambda: {"dW": np.zeros_like(want)}),
                ("the sign of δs is flipped: δs = ∂L/∂s = (s − y)/(BN)",
                 lambda: grad(-ds, sg.derivative(v - theta))),
                ("δs = (s − y)/(BN): you left out the 1/(BN) of the loss's mean",
                 lambda: grad(s - y, sg.derivative(v - theta))),
                ("δs = (s − y)/(BN): you divided by B only",
                 lambda: grad((s - y) / B, sg.derivative(v - theta))),
                ("σ' takes v − θ, not v: δv = δs ⊙ σ'(v − θ)",
                 lambda: grad(ds, sg.derivative(v))),
                ("δv is missing the factor σ'(v − θ) (that is the straight-through estimator)",
                 lambda: grad(ds, np.ones_like(v))),
            ]) or (f"dW differs ({sg.name} surrogate): δs = (s − y)/(BN), δv = δs ⊙ σ'(v − θ), "
                   "dW = δvᵀ x")
            raise Fail(hint, err, locate("dW", idx, "km") + f" ({sg.name})")
        err2, idx2 = compare(W_new, W - lr * want)
        if err2 > RTOL_REF:
            hint = diagnose({"W_new": W_new}, [
                ("W_new = W − lr·dW: gradient *descent* subtracts", lambda: {"W_new": W + lr * want}),
            ]) or "W_new must be W − lr·dW"
            raise Fail(hint, err2, locate("W_new", idx2, "km"))
        worst = max(worst, err, err2)
    return worst, ""


CHECKS = [
    ("heaviside", check_heaviside),
    ("spike_loss", check_spike_loss),
    ("true_gradient_step", check_true_gradient_step),
    ("surrogate_gradient_step", check_surrogate_gradient_step),
]
