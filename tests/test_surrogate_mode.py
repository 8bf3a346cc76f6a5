"""Properties of the surrogate-mode gradient (Heaviside forward, σ' backward).

Finite differences cannot check this mode (the surrogate gradient is not the
gradient of any function), so these tests check what must hold anyway:

* the gradient is linear in the upstream gradient (ds, dv);
* the full batch equals the sum over batch chunks;
* detached minus attached equals the reset path alone (derived below);
* T = 1 from a zero state reduces to a feed-forward layer s = H(x Wᵀ + b − θ);
* float32 agrees with float64; zero upstream gives zero gradients.
"""

import numpy as np
from dataclasses import replace
from hypothesis import given
from hypothesis import strategies as st

from refsnn.lif import (
    LIFConfig,
    RESET_KINDS,
    init_params,
    layer_backward,
    layer_forward,
    state_names,
)
from refsnn.surrogates import surrogate

FAMILIES = ["triangle", "sigmoid", "boxcar", "exponential", "arctan", "superspike", "straight_through"]


@st.composite
def layers(draw, detach=None):
    fam = draw(st.sampled_from(FAMILIES))
    sg = surrogate(fam) if fam == "straight_through" else surrogate(fam, draw(st.floats(0.3, 5.0)))
    cfg = LIFConfig(
        n_in=draw(st.integers(1, 4)),
        n=draw(st.integers(1, 4)),
        surrogate=sg,
        h0=draw(st.sampled_from([0.0, 1.0])),
        reset=draw(st.sampled_from(RESET_KINDS)),
        detach_reset=draw(st.booleans()) if detach is None else detach,
        adaptation=draw(st.booleans()),
        synapse=draw(st.booleans()),
        recurrent=draw(st.booleans()),
    )
    T = draw(st.integers(1, 7))
    B = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**31 - 1))
    return cfg, T, B, seed


def _setup(cfg, T, B, seed, dtype=np.float64, zero_state=False):
    rng = np.random.default_rng(seed)
    n = cfg.n
    params = init_params(cfg, rng, dtype, alpha=rng.uniform(0.6, 0.95, n), theta=rng.uniform(0.5, 1.5, n),
                         v_reset=rng.uniform(-0.3, 0.3, n), w_scale=1.5)
    x = rng.normal(0.6, 1.0, (T, B, cfg.n_in)).astype(dtype)
    state0 = None if zero_state else {k: rng.normal(0, 0.4, (B, n)).astype(dtype) for k in state_names(cfg)}
    ds = rng.normal(size=(T, B, n)).astype(dtype)
    dv = rng.normal(size=(T, B, n)).astype(dtype)
    return params, x, state0, ds, dv


def _all(g):
    """Flatten a LayerGradients into a dict of arrays."""
    out = {f"p.{k}": v for k, v in g.params.items()}
    out.update({f"s.{k}": v for k, v in g.state0.items()})
    out["x"] = g.x
    return out


def _close(a, b, rtol=1e-10, atol=1e-12):
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=rtol, atol=atol, err_msg=k)


@given(layers(), st.floats(-3, 3), st.floats(-3, 3))
def test_gradient_is_linear_in_upstream(layer, a, b):
    cfg, T, B, seed = layer
    params, x, state0, ds, dv = _setup(cfg, T, B, seed)
    rng = np.random.default_rng(seed + 1)
    ds2, dv2 = rng.normal(size=ds.shape), rng.normal(size=dv.shape)
    tr = layer_forward(cfg, params, x, state0)
    g1 = _all(layer_backward(tr, params, ds, dv))
    g2 = _all(layer_backward(tr, params, ds2, dv2))
    g12 = _all(layer_backward(tr, params, a * ds + b * ds2, a * dv + b * dv2))
    _close(g12, {k: a * g1[k] + b * g2[k] for k in g1}, atol=1e-9)


@given(layers(), st.data())
def test_full_batch_equals_sum_over_chunks(layer, data):
    cfg, T, B, seed = layer
    params, x, state0, ds, dv = _setup(cfg, T, B, seed)
    g = layer_backward(layer_forward(cfg, params, x, state0), params, ds, dv)
    cuts = sorted(data.draw(st.sets(st.integers(1, B - 1), max_size=3))) if B > 1 else []
    bounds = [0, *cuts, B]
    total = {k: np.zeros_like(v) for k, v in g.params.items()}
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        sl = slice(lo, hi)
        st0 = {k: v[sl] for k, v in state0.items()}
        gc = layer_backward(layer_forward(cfg, params, x[:, sl], st0), params, ds[:, sl], dv[:, sl])
        for k in total:
            total[k] += gc.params[k]
        np.testing.assert_allclose(gc.x, g.x[:, sl], rtol=1e-12, atol=1e-12)
        for k in gc.state0:
            np.testing.assert_allclose(gc.state0[k], g.state0[k][sl], rtol=1e-12, atol=1e-12)
    _close({k: g.params[k] for k in total}, total)


def _reset_amount(cfg, params, tr):
    """r_t of F4 for t = 0..T-1, computed here from the reset table (not by refsnn)."""
    p = params
    v_prev = tr.prev("v")
    if cfg.reset == "subtract":
        return np.broadcast_to(p["gamma"], tr.v.shape)
    if cfg.reset == "none":
        return np.zeros_like(tr.v)
    m = p["alpha"] * v_prev
    if cfg.reset == "hard_keep_input":
        return m - p["v_reset"]
    I = tr.x @ p["W"].T + p["b"] + (tr.prev("s") @ p["R"].T if cfg.recurrent else 0.0)
    if cfg.synapse:
        c = np.empty_like(I)
        c_prev = tr.state0["c"]
        for t in range(len(I)):
            c_prev = p["lam"] * c_prev + I[t]
            c[t] = c_prev
    else:
        c = I
    d = c - p["beta"] * tr.prev("u") if cfg.adaptation else c
    return m + d - p["v_reset"]


@given(layers(detach=True))
def test_detached_minus_attached_is_the_reset_path(layer):
    """Derivation. The backward pass solves the linear system (I − Jᵀ) δ = a for the
    adjoints δ given the direct partials a. Attaching the reset adds to J one coupling
    P: δs_t ← −r_{t+1} δv_{t+1} (B1). With J_att = J_det + P,

        (I − J_attᵀ)(δ_att − δ_det) = a − (I − J_detᵀ − Pᵀ) δ_det = Pᵀ δ_det,

    so δ_att − δ_det is the attached backward pass driven by the reset path alone,
    a^s_t = −r_{t+1} δv^det_{t+1}. Every gradient is linear in δ with coefficients
    that do not depend on detaching, so the same holds for every gradient.
    The initial spike's injection −r_0 δv_0 has no a^s slot, so the zero initial
    state with the triangle surrogate (σ'(0 − θ) = 0 for θ ≥ half-width) removes it.
    """
    cfg, T, B, seed = layer
    cfg = replace(cfg, surrogate=surrogate("triangle", 0.4))
    params, x, _, ds, dv = _setup(cfg, T, B, seed, zero_state=True)
    params["theta"] = np.maximum(params["theta"], 0.5)
    tr_det = layer_forward(cfg, params, x)
    att = replace(cfg, detach_reset=False)
    tr_att = layer_forward(att, params, x)
    g_det = layer_backward(tr_det, params, ds, dv)
    g_att = layer_backward(tr_att, params, ds, dv)
    r = _reset_amount(cfg, params, tr_det)
    inj = np.zeros_like(ds)
    inj[:-1] = -r[1:] * g_det.adjoints["dv"][1:]
    g_path = layer_backward(tr_att, params, inj, None)
    _close(_all(g_att), {k: v + _all(g_path)[k] for k, v in _all(g_det).items()}, atol=1e-10)
    if cfg.reset == "none":
        _close(_all(g_att), _all(g_det), rtol=0, atol=0)


@given(layers())
def test_single_step_is_a_feed_forward_layer(layer):
    """T = 1 from rest: v_0 = x_0 Wᵀ + b, s_0 = H(v_0 − θ), δv_0 = a^v + σ'(v_0 − θ) a^s,
    ∂L/∂W = δv_0ᵀ x_0, ∂L/∂b = Σ_b δv_0, ∂L/∂x_0 = δv_0 W."""
    cfg, _, B, seed = layer
    params, x, _, ds, dv = _setup(cfg, 1, B, seed, zero_state=True)
    tr = layer_forward(cfg, params, x)
    z = x[0] @ params["W"].T + params["b"]
    np.testing.assert_allclose(tr.v[0], z, rtol=1e-13, atol=1e-13)
    np.testing.assert_array_equal(tr.s[0], np.where(z - params["theta"] > 0, 1.0,
                                                    np.where(z == params["theta"], cfg.h0, 0.0)))
    g = layer_backward(tr, params, ds, dv)
    dz = dv[0] + cfg.surrogate.derivative(z - params["theta"]) * ds[0]
    np.testing.assert_allclose(g.params["W"], dz.T @ x[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g.params["b"], dz.sum(0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g.x[0], dz @ params["W"], rtol=1e-12, atol=1e-12)


@given(layers())
def test_float32_agrees_with_float64(layer):
    cfg, T, B, seed = layer
    p64, x64, s64, ds64, dv64 = _setup(cfg, T, B, seed)
    p32 = {k: v.astype(np.float32) for k, v in p64.items()}
    tr32 = layer_forward(cfg, p32, x64.astype(np.float32), {k: v.astype(np.float32) for k, v in s64.items()})
    tr64 = layer_forward(cfg, p64, x64, s64)
    if not np.array_equal(tr32.s, tr64.s):
        return  # a membrane within float32 rounding of θ spiked differently; nothing to compare
    g32 = _all(layer_backward(tr32, p32, ds64.astype(np.float32), dv64.astype(np.float32)))
    g64 = _all(layer_backward(tr64, p64, ds64, dv64))
    for k in g64:
        assert g32[k].dtype == np.float32, k
        scale = max(1.0, float(np.abs(g64[k]).max()))
        np.testing.assert_allclose(g32[k], g64[k], rtol=2e-3, atol=2e-3 * scale, err_msg=k)


@given(layers())
def test_zero_upstream_gives_zero_gradients(layer):
    cfg, T, B, seed = layer
    params, x, state0, _, _ = _setup(cfg, T, B, seed)
    g = _all(layer_backward(layer_forward(cfg, params, x, state0), params))
    for k, v in g.items():
        assert not np.any(v), k
