"""The model switches of refsnn.lif (S1–S5 of its docstring) along the exact routes.

Every row of the ``lif-switches`` gradcheck family is run by ``refsnn gradcheck``; this
file runs a sample of them (each switch against attached and detached resets, hard and
soft), and checks what each switch means, independently of the adjoints:

- S1 ``init_spike="zero"``: s_{-1} = 0 whatever v_{-1} is;
- S2 shared parameters: the gradient of a shared () parameter is the sum over neurons of
  the gradient of the same value given per neuron;
- S3 adaptive threshold: with β_a = 0 it is the plain layer; the threshold A_t moves;
"""

import dataclasses

import numpy as np
import pytest

from refsnn import verify
from refsnn.checking import grid_switches as G
from refsnn.lif import LIFConfig, init_params, layer_backward, layer_forward, state_names
from refsnn.surrogates import surrogate

ROWS = {p.name: p for p in G.points()}
# A sample: every switch once, with attached and detached, soft and hard resets among them
# (refsnn gradcheck --family lif-switches runs every row; the torch twin below runs every
# row in surrogate mode).
SAMPLE = [ROWS[n] for n in (
    "init_zero/subtract/attach/adapt/rec/ce_count",
    "shared/hard_keep_input/detach/adapt/rec/l2",
    "athr/subtract/attach/adapt/syn/membrane",
    "athr_zero/hard_drop_input/attach/syn/ce_count",
    "athr_detached/hard_keep_input/detach/syn/ce_count",
    "post_reset/subtract/attach/adapt/rec/l2",
    "post_reset/hard_keep_input/attach/adapt/syn/trace_mse",
    "post_reset/hard_keep_input/detach/rec/membrane",
    "refrac/hard_keep_input/detach/adapt/rec/l1",
    "refrac_attached/subtract/attach/adapt/syn/trace_mse",
    "refrac1_attached/hard_drop_input/detach/adapt/syn/ce_count",
    "all/hard_keep_input/attach/rec/l1",
    "rec_delay2/hard_drop_input/detach/rec/membrane",
    "rec_delay2/subtract/attach/adapt/syn/rec/membrane",
)]


def test_family_is_registered_and_small():
    from refsnn.checking import families
    assert "lif-switches" in families.families()
    assert len(ROWS) == len(G.points()) <= 72
    switches = {p.switch for p in G.points()}
    assert switches == set(G.SWITCHES)
    for sw in switches:           # every switch meets every reset kind it allows, attached and detached
        resets = {(p.reset, p.detach) for p in G.points() if p.switch == sw}
        assert {d for _, d in resets} == {False, True}


@pytest.mark.parametrize("point", SAMPLE, ids=[p.name for p in SAMPLE])
def test_switch_rows_pass_both_routes(point):
    rep = G.check(point, seed=0)
    assert rep.passed, rep
    assert rep.piecewise_checked > 0
    assert all(n > 0 for n in rep.n_spikes), rep.n_spikes


def _layer(**kw):
    return LIFConfig(3, 4, surrogate=surrogate("sigmoid", 4.0), **kw)


def _data(cfg, seed=0, T=6, B=2):
    rng = np.random.default_rng(seed)
    x = rng.normal(0.6, 1.0, (T, B, cfg.n_in))
    st = {k: rng.normal(0.0, 0.6, (B, cfg.n)) for k in state_names(cfg)}
    ds, dv = rng.normal(size=(2, T, B, cfg.n))
    return x, st, ds, dv


def test_init_zero_starts_without_a_spike():
    cfg = _layer(reset="subtract", recurrent=True)
    p = init_params(cfg, 0)
    x, st, ds, dv = _data(cfg)
    st["v"][:] = 5.0                                      # far above θ = 1
    assert np.all(layer_forward(cfg, p, x, st).s_init == 1.0)
    zero = dataclasses.replace(cfg, init_spike="zero")
    tr = layer_forward(zero, p, x, st)
    assert np.all(tr.s_init == 0.0)
    # s_{-1} = 0 is a constant: with v_{-1} at 5, σ'(v_{-1} − θ) would be tiny but not zero;
    # here the only path from v_{-1} is α g^m_0 δv_0 (B2 at t = -1).
    g = layer_backward(tr, p, ds, dv)
    assert np.array_equal(g.state0["v"], p["alpha"] * g.adjoints["dv"][0])


@pytest.mark.parametrize("name", ["alpha", "theta", "gamma", "b", "beta", "kappa", "lam", "beta_a", "rho_a"])
def test_shared_gradient_is_the_sum_over_neurons(name):
    cfg = _layer(reset="subtract", adaptation=True, synapse=True, recurrent=True, adaptive_threshold=True)
    p = init_params(cfg, 1, b=0.3)
    x, st, ds, dv = _data(cfg, 1)
    value = p[name][0]
    full = dict(p, **{name: np.full(cfg.n, value)})
    shared = dict(p, **{name: np.array(value)})
    tf, ts = layer_forward(cfg, full, x, st), layer_forward(cfg, shared, x, st)
    assert np.array_equal(tf.v, ts.v) and np.array_equal(tf.s, ts.s)
    gf, gs = layer_backward(tf, full, ds, dv), layer_backward(ts, shared, ds, dv)
    assert gs.params[name].shape == ()
    np.testing.assert_allclose(gs.params[name], gf.params[name].sum(), rtol=1e-13, atol=1e-13)
    for k in p:
        if k != name:
            np.testing.assert_allclose(gs.params[k], gf.params[k], rtol=1e-13, atol=1e-13)


def test_init_params_makes_a_shared_parameter_from_a_0d_array():
    cfg = _layer()
    p = init_params(cfg, 0, theta=np.array(0.7), alpha=0.8)
    assert p["theta"].shape == () and p["theta"] == 0.7
    assert p["alpha"].shape == (4,)


def test_adaptive_threshold_with_zero_beta_a_is_the_plain_layer():
    base = _layer(reset="hard_keep_input", adaptation=True, recurrent=True)
    cfg = dataclasses.replace(base, adaptive_threshold=True)
    p = init_params(cfg, 2, beta_a=0.0)
    x, st, ds, dv = _data(cfg, 2)
    pb = {k: v for k, v in p.items() if k not in ("beta_a", "rho_a")}
    stb = {k: v for k, v in st.items() if k != "a"}
    ta, tb = layer_forward(cfg, p, x, st), layer_forward(base, pb, x, stb)
    assert np.array_equal(ta.s, tb.s) and np.array_equal(ta.v, tb.v)
    ga, gb = layer_backward(ta, p, ds, dv), layer_backward(tb, pb, ds, dv)
    for k in pb:
        np.testing.assert_allclose(ga.params[k], gb.params[k], rtol=1e-12, atol=1e-14)


def test_adaptive_threshold_follows_F7():
    """a_t = ρ_a a_{t-1} + s_{t-1}; a neuron fires at v_t ≥ θ + β_a a_t (H(0) = 1)."""
    cfg = _layer(reset="subtract", adaptive_threshold=True)
    p = init_params(cfg, 3, beta_a=0.5, rho_a=0.8, w_scale=2.0)
    x, st, _, _ = _data(cfg, 3, T=12)
    tr = layer_forward(cfg, p, x, st)
    s_prev = tr.prev("s")
    np.testing.assert_allclose(tr.a, 0.8 * tr.prev("a") + s_prev, rtol=0, atol=1e-15)
    A = p["theta"] + 0.5 * tr.a
    assert np.array_equal(tr.s, (tr.v >= A).astype(float))
    assert tr.s.sum() > 0 and np.any((tr.v >= p["theta"]) & (tr.v < A))   # the moving threshold bites


@pytest.mark.parametrize("reset", ["subtract", "hard_keep_input", "none"])
def test_post_reset_membrane_is_what_the_next_step_leaks_from(reset):
    """S4's definition: v_{t+1} = α v⁺_t + d_{t+1} (here d = I, no synapse or adaptation)."""
    cfg = _layer(reset=reset, recurrent=True, membrane_view="post_reset")
    p = init_params(cfg, 4, w_scale=2.0)
    x, st, _, _ = _data(cfg, 4, T=10)
    tr = layer_forward(cfg, p, x, st)
    assert tr.membrane is tr.v_post and tr.s.sum() > 0
    I = tr.I_ff + tr.prev("s") @ p["R"].T
    np.testing.assert_allclose(tr.v[1:], p["alpha"] * tr.v_post[:-1] + I[1:], rtol=1e-13, atol=1e-13)
    pre = layer_forward(dataclasses.replace(cfg, membrane_view="pre_reset"), p, x, st)
    assert np.array_equal(pre.v, tr.v) and pre.membrane is pre.v


def test_post_reset_maps_the_peers_reset_values():
    """γ = αθ gives v⁺ = v − sθ (SpikingJelly's soft reset); v_r = α V gives v⁺ = V after a spike."""
    cfg = _layer(reset="subtract", membrane_view="post_reset")
    p = init_params(cfg, 5, alpha=0.8, theta=1.0, gamma=0.8, w_scale=2.0)
    x, st, _, _ = _data(cfg, 5, T=10)
    tr = layer_forward(cfg, p, x, st)
    np.testing.assert_allclose(tr.v_post, tr.v - tr.s * 1.0, rtol=0, atol=1e-15)
    hard = dataclasses.replace(cfg, reset="hard_keep_input")
    ph = init_params(hard, 5, alpha=0.8, v_reset=0.8 * -0.25, w_scale=2.0)
    tr = layer_forward(hard, ph, x, st)
    assert tr.s.sum() > 0
    np.testing.assert_allclose(tr.v_post[tr.s == 1], -0.25, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(tr.v_post[tr.s == 0], tr.v[tr.s == 0])


def test_post_reset_refuses_hard_drop_input():
    with pytest.raises(ValueError, match="hard_drop_input"):
        _layer(reset="hard_drop_input", membrane_view="post_reset")


@pytest.mark.parametrize("n_ref", [1, 2, 3])
def test_refractory_blocks_the_next_n_ref_steps(n_ref):
    """S5: after a spike at t, no spike at t+1..t+n_ref; e-prop's counter
    (r ← clip(r + n z − 1, 0, n), spike blocked while r > 0) with n = n_ref + 1 agrees."""
    cfg = _layer(reset="subtract", refractory=n_ref)
    p = init_params(cfg, 6, b=1.5, w_scale=2.0)            # strong drive: would spike often
    x, st, _, _ = _data(cfg, 6, T=20, B=3)
    tr = layer_forward(cfg, p, x, st)
    free = layer_forward(dataclasses.replace(cfg, refractory=0), p, x, st)
    assert free.s.sum() > tr.s.sum() > 0
    assert np.array_equal(tr.s, tr.s_free * tr.gate)
    hist = np.concatenate([tr.s_init[None], tr.s])
    for t in range(tr.s.shape[0]):
        window = hist[max(0, t + 1 - n_ref):t + 1]      # s_{t-n_ref} .. s_{t-1}
        assert np.array_equal(tr.gate[t], 1.0 - window.max(axis=0))
    r = np.zeros_like(tr.s_init)                        # e-prop's counter, z_{-1} = s_{-1}
    r = np.clip(r + (n_ref + 1) * tr.s_init - 1, 0, n_ref + 1)
    for t in range(tr.s.shape[0]):
        z = np.where(r > 0, 0.0, tr.s_free[t])
        assert np.array_equal(z, tr.s[t])
        r = np.clip(r + (n_ref + 1) * z - 1, 0, n_ref + 1)


def test_refractory_gate_attached_or_detached():
    """The detached gate's gradient is the attached one's without the past-spike path (B7):
    they differ, and they agree when the gate is overridden by the layer's own values."""
    cfg = _layer(reset="subtract", refractory=2, detach_refractory=False)
    cfg = dataclasses.replace(cfg, forward="smooth")
    p = init_params(cfg, 7, b=0.8, w_scale=2.0)
    x, st, ds, dv = _data(cfg, 7, T=8)
    tr = layer_forward(cfg, p, x, st)
    ga = layer_backward(tr, p, ds, dv)
    det = dataclasses.replace(cfg, detach_refractory=True)
    gd = layer_backward(layer_forward(det, p, x, st), p, ds, dv)
    assert not np.allclose(ga.params["theta"], gd.params["theta"])
    # the gate override reproduces the trajectory exactly
    tr2 = layer_forward(cfg, p, x, st, gate=tr.gate)
    assert np.array_equal(tr2.s, tr.s) and np.array_equal(tr2.v, tr.v)


def test_s6_recurrent_spikes_arrive_two_steps_late():
    """S6: neuron 0 spikes at t = 0 only; through R its spike reaches neuron 1's current at t = 1
    (recurrent_delay=1) or t = 2 (recurrent_delay=2), and s_{-1} reaches I_1, s_{-2} = 0 nothing."""
    sg = surrogate("superspike", 5.0)
    vs = {}
    for delay in (1, 2):
        cfg = LIFConfig(1, 2, surrogate=sg, reset="subtract", recurrent=True, recurrent_delay=delay,
                        init_spike="zero", h0=0.0)
        p = init_params(cfg, np.random.default_rng(0))
        p.update(W=np.array([[1.5], [0.0]]), b=np.zeros(2), alpha=np.full(2, 0.5), theta=np.ones(2),
                 gamma=np.ones(2), R=np.array([[0.0, 0.0], [0.25, 0.0]]))
        x = np.zeros((5, 1, 1))
        x[0] = 1.0
        tr = layer_forward(cfg, p, x)
        assert tr.s[:, 0, 0].tolist() == [1, 0, 0, 0, 0]
        vs[delay] = tr.v[:, 0, 1]
    np.testing.assert_allclose(vs[1], [0, 0.25, 0.125, 0.0625, 0.03125])
    np.testing.assert_allclose(vs[2], [0, 0, 0.25, 0.125, 0.0625])
    with pytest.raises(ValueError, match="recurrent_delay=2 needs recurrent=True"):
        LIFConfig(1, 2, recurrent_delay=2)
    with pytest.raises(ValueError, match="recurrent_delay must be 1 or 2"):
        LIFConfig(1, 2, recurrent=True, recurrent_delay=3)
