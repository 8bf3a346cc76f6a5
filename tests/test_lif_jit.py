"""The compiled loops (refsnn.neurons.lif_jit, the `fast` extra) against the readable loops.

The forward loop must be bit-identical to the readable one (the same products and sums in
the same order), so that both paths produce the same spikes. The reverse loop agrees with
the readable loop to 1e-13 (tests/test_lif_fused.py runs the whole verification grid with
it); here: that it is really taken where it claims to cover, that it is never taken
elsewhere, and that its surrogate densities are those of refsnn.surrogates.
"""

import dataclasses

import numpy as np
import pytest

from refsnn.checking import verify
from refsnn.neurons import lif_jit
from refsnn.neurons.lif import LIFConfig, init_params, layer_backward, layer_forward
from refsnn.neurons.network import Network, network_backward, network_forward
from refsnn.surrogates import SURROGATE_NAMES, surrogate

pytestmark = pytest.mark.skipif(lif_jit.numba is None, reason="numba (the `fast` extra) is not installed")

RESETS = ("subtract", "hard_keep_input", "hard_drop_input", "none")


def _forward_both(monkeypatch, fn):
    monkeypatch.setattr(lif_jit, "ENABLED", False)
    a = fn()
    monkeypatch.setattr(lif_jit, "ENABLED", True)
    b = fn()
    return a, b


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reset", RESETS)
def test_forward_is_bit_identical_to_the_readable_loop(monkeypatch, reset, dtype):
    rng = np.random.default_rng(3)
    for h0, shared in [(1.0, False), (0.0, True)]:
        cfg = LIFConfig(6, 5, reset=reset, h0=h0)
        p = init_params(cfg, 1, dtype, w_scale=3.0)
        if shared:
            p = {k: (np.asarray(v.mean(), dtype) if v.ndim == 1 and k != "b" else v) for k, v in p.items()}
        x = (rng.random((40, 3, 6)) < 0.4).astype(dtype)
        # a membrane exactly at θ at some step: the H(0) tie must fall the same way
        x[0, 0] = 0.0
        p["b"][0] = p["theta"].reshape(-1)[0] if p["theta"].ndim else p["theta"]
        st = {"v": np.zeros((3, 5), dtype)}
        a, b = _forward_both(monkeypatch, lambda: layer_forward(cfg, p, x, st))
        assert lif_jit.covers(cfg, {k: v for k, v in p.items()})
        np.testing.assert_array_equal(a.v, b.v)
        np.testing.assert_array_equal(a.s, b.s)
        assert a.s.any() and not a.s.all()


def test_forward_is_bit_identical_on_the_verification_grid(monkeypatch):
    covered = 0
    for pt in verify.grid():
        prob = verify.make_problem(pt, seed=4)
        a, b = _forward_both(monkeypatch, lambda: network_forward(prob.net, prob.params, prob.x, prob.state0))
        for ta, tb in zip(a, b):
            np.testing.assert_array_equal(ta.v, tb.v, err_msg=pt.name)
            np.testing.assert_array_equal(ta.s, tb.s, err_msg=pt.name)
        covered += any(lif_jit.covers(c, p) for c, p in zip(prob.net.layers, prob.params))
    assert covered >= 8          # the grid's feed-forward points do take the compiled loop


def test_the_compiled_loops_are_taken_where_they_cover(monkeypatch):
    calls = []
    for name in ("_forward", "_backward"):
        real = getattr(lif_jit, name)
        monkeypatch.setattr(lif_jit, name, lambda *a, _real=real, _n=name: calls.append(_n) or _real(*a))
    cfg = LIFConfig(4, 3, surrogate=surrogate("arctan", 2.0))
    p = init_params(cfg, 0)
    tr = layer_forward(cfg, p, np.ones((5, 2, 4)))
    layer_backward(tr, p, np.ones((5, 2, 3)))
    assert calls == ["_forward", "_backward"]
    calls.clear()
    layer_backward(tr, p, np.ones((5, 2, 3)), path="readable")
    assert calls == []


@pytest.mark.parametrize("field, value", [("adaptation", True), ("synapse", True), ("recurrent", True),
                                          ("forward", "smooth"), ("init_spike", "zero"),
                                          ("adaptive_threshold", True), ("refractory", 2),
                                          ("membrane_view", "post_reset")])
def test_every_other_switch_takes_the_numpy_loops(field, value):
    base = LIFConfig(4, 3)
    assert lif_jit.covers(base, init_params(base, 0))
    cfg = dataclasses.replace(base, **{field: value})
    assert not lif_jit.covers(cfg, init_params(cfg, 0))


def test_disabled_means_never_taken(monkeypatch):
    monkeypatch.setattr(lif_jit, "ENABLED", False)
    cfg = LIFConfig(4, 3)
    assert not lif_jit.covers(cfg, init_params(cfg, 0))


def test_frozen_reset_spikes_take_the_numpy_loops(monkeypatch):
    # s_reset (what finite differences of a detached reset hold fixed) is not compiled.
    cfg = LIFConfig(4, 3, detach_reset=True)
    p = init_params(cfg, 0, w_scale=3.0)
    x = np.random.default_rng(0).random((6, 2, 4))
    tr = layer_forward(cfg, p, x)
    calls = []
    real = lif_jit._backward
    monkeypatch.setattr(lif_jit, "_backward", lambda *a: calls.append(1) or real(*a))
    tr2 = layer_forward(cfg, p, x, s_reset=np.concatenate([tr.s_init[None], tr.s[:-1]]))
    layer_backward(tr2, p, np.ones((6, 2, 3)))
    assert calls == []


SCALES = (1e-3, 0.5, 1.0, 2.0, 10.0, 1e3)
XS = np.concatenate([np.array([0.0, -0.0, 1e-300, 5e-324, 1e-8, 0.3, 1.0, 3.7, 50.0, 1e20, 1e160, 1e300,
                               np.finfo(np.float64).max]),
                     np.random.default_rng(0).standard_normal(200) * 3])


@pytest.mark.parametrize("name", SURROGATE_NAMES)
def test_compiled_densities_are_the_surrogate_table(name):
    scales = (None,) if name in ("straight_through", "true") else SCALES
    for scale in scales:
        for gain in (1.0, 0.3, 7.0):
            sg = surrogate(name, scale, gain)
            ref = sg.derivative(np.concatenate([XS, -XS]))
            got = np.array([lif_jit._sg(lif_jit._DENSITY[name], float(sg.scale or 0.0), gain,
                                        float(np.finfo(np.float64).tiny), x) for x in np.concatenate([XS, -XS])])
            err = np.abs(got - ref)
            # a few ulps where the value is normal; the stated 3e-309·gain where (k x)² overflows
            assert (err <= 8 * np.finfo(np.float64).eps * ref + 3e-309 * gain).all(), (name, scale, gain)
            assert not ((got > 0) & (got < np.finfo(np.float64).tiny)).any()


@pytest.mark.parametrize("name", ["sigmoid", "exponential"])
def test_compiled_backward_keeps_subnormals_out(name):
    # v held at θ − 5, so k·|v − θ| = 100: σ' ≈ 20 e^-100 ≈ 7e-43 is subnormal in
    # float32 (normal in float64). Flushed, it contributes nothing: δv = 0 exactly.
    cfg = LIFConfig(3, 4, surrogate=surrogate(name, 20.0), reset="none")
    p = init_params(cfg, 0, np.float32)
    p["W"][:] = 0.0
    p["b"][:] = (1.0 - p["alpha"]) * (p["theta"] - 5.0)        # v_t = v_{-1} = θ − 5 (to rounding)
    st = {"v": np.broadcast_to(p["theta"] - 5.0, (2, 4)).astype(np.float32)}
    tr = layer_forward(cfg, p, np.zeros((8, 2, 3), np.float32), st)
    sg64 = cfg.surrogate.derivative(tr.v.astype(np.float64) - p["theta"])
    assert ((sg64 > 0) & (sg64 < np.finfo(np.float32).tiny)).all()      # the premise
    g = layer_backward(tr, p, np.ones((8, 2, 4), np.float32))
    assert lif_jit.covers(cfg, {k: v for k, v in p.items()})
    np.testing.assert_array_equal(g.adjoints["dv"], 0.0)
    np.testing.assert_array_equal(g.params["theta"], 0.0)


def test_overflow_in_the_compiled_forward_is_reported():
    net = Network((LIFConfig(3, 4, reset="none"),))
    p = init_params(net.layers[0], 0, np.float32)
    p["W"][:] = 3e38
    with pytest.raises(FloatingPointError, match="layer 0"):
        network_forward(net, [p], np.ones((5, 2, 3), np.float32))


def test_network_gradients_with_and_without_the_compiled_loops(monkeypatch):
    # end to end on a two-layer network, all dtypes: the same spikes, gradients to rounding
    for dtype, rtol in ((np.float64, 1e-13), (np.float32, 2e-5)):
        net = Network((LIFConfig(5, 7, surrogate=surrogate("arctan", 2.0), h0=0.0),
                       LIFConfig(7, 3, surrogate=surrogate("arctan", 2.0), h0=0.0)))
        params = [init_params(c, i, dtype, w_scale=2.0) for i, c in enumerate(net.layers)]
        x = (np.random.default_rng(2).random((30, 4, 5)) < 0.3).astype(dtype)

        def run():
            trajs = network_forward(net, params, x)
            return trajs, network_backward(trajs, params, [None, np.ones((30, 4, 3), dtype)])

        (ta, ga), (tb, gb) = _forward_both(monkeypatch, run)
        for a, b in zip(ta, tb):
            np.testing.assert_array_equal(a.s, b.s)
        for pa, pb in zip(ga.params, gb.params):
            for k in pa:
                scale = max(float(np.abs(pa[k]).max()), 1e-30)
                assert float(np.abs(pa[k] - pb[k]).max()) <= rtol * scale, (dtype, k)
        np.testing.assert_allclose(gb.x, ga.x, rtol=0, atol=rtol * float(np.abs(ga.x).max()))
