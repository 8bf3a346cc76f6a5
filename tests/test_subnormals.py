"""No subnormal floats reach the adjoint loops from the losses or the surrogate derivatives.

At high activity the spike-count softmax gives the wrong classes probabilities near
e^-100, subnormal in float32; every multiply that touches a subnormal runs many times
slower. The losses and σ' flush entries below the dtype's smallest normal number to
zero; gradients above 1e-30 do not change.
"""

import numpy as np
import pytest
from scipy.special import softmax

from refsnn import losses as L
from refsnn.lif import LIFConfig
from refsnn.network import Network, network_backward, network_forward, network_init
from refsnn.surrogates import SURROGATE_NAMES, surrogate


def _no_subnormals(a):
    a = np.asarray(a)
    tiny = np.finfo(a.dtype).tiny
    return bool(np.all((a == 0) | ~(np.abs(a) < tiny)))


def _busy_network(dtype, seed=0):
    """The issue's setting in small: Bernoulli(0.3) input, weights ×3, high rates."""
    rng = np.random.default_rng(seed)
    sg = surrogate("sigmoid", 10.0)
    net = Network((LIFConfig(30, 40, surrogate=sg), LIFConfig(40, 10, surrogate=sg)))
    params = network_init(net, rng, dtype, [dict(w_scale=6.0), dict(w_scale=6.0)])
    x = (rng.random((100, 8, 30)) < 0.3).astype(dtype)
    return net, params, x, rng.integers(0, 10, 8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_spike_count_softmax_partials_have_no_subnormals_and_are_unchanged(dtype):
    net, params, x, y = _busy_network(dtype)
    trajs = network_forward(net, params, x)
    out = trajs[-1]
    n = out.s.sum(axis=0).astype(np.float64)
    assert np.ptp(n, axis=1).max() > 90            # counts far apart: p ≈ e^-90 and below
    loss = L.spike_count_cross_entropy(out, y)
    assert _no_subnormals(loss.ds)
    # the unflushed partials, computed independently in float64
    p = softmax(n, axis=1)
    p[np.arange(len(y)), y] -= 1.0
    want = np.broadcast_to(p / len(y), out.s.shape)
    big = np.abs(want) > 1e-30
    # float32: exp of a float32 log-probability near -70 carries |log p|·ε₃₂ ≈ 4e-6 relative
    np.testing.assert_allclose(loss.ds[big], want[big].astype(dtype), rtol=2e-5 if dtype == np.float32 else 1e-12)
    assert np.all(np.abs(loss.ds[~big]) <= 1e-30)
    if dtype == np.float32:
        assert np.any((np.abs(want) < np.finfo(np.float32).tiny) & (want != 0))   # the case arises
    # and the whole backward pass: the same gradients as with the unflushed partials
    ds_raw = want.astype(dtype)                   # float32 cast: subnormals survive here
    g = network_backward(trajs, params, [None, loss.ds], [None, None])
    g_raw = network_backward(trajs, params, [None, ds_raw], [None, None])
    for l in range(2):
        for k in g.params[l]:
            a, b = g.params[l][k], g_raw.params[l][k]
            m = np.abs(b) > 1e-30
            np.testing.assert_allclose(a[m], b[m], rtol=1e-5 if dtype == np.float32 else 1e-12, err_msg=k)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_membrane_cross_entropy_partials_have_no_subnormals(dtype):
    rng = np.random.default_rng(1)
    cfg = LIFConfig(5, 10, surrogate=surrogate("sigmoid", 10.0), reset="none", spiking=False)
    scale = 100.0 if dtype == np.float32 else 1000.0                  # logits hundreds apart
    params = network_init(Network((cfg,)), rng, dtype, [dict(w_scale=scale)])
    out = network_forward(Network((cfg,)), params, rng.normal(size=(20, 6, 5)).astype(dtype))[-1]
    m = out.v.max(axis=0).astype(np.float64)
    assert np.ptp(m, axis=1).min() > -np.log(np.finfo(dtype).tiny)   # some p below tiny
    loss = L.membrane_cross_entropy(out, rng.integers(0, 10, 6))
    assert loss.dv.dtype == dtype and _no_subnormals(loss.dv)


@pytest.mark.parametrize("name", [n for n in SURROGATE_NAMES if n not in ("straight_through", "true")])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_surrogate_derivatives_have_no_subnormals_and_are_unchanged_above_1e_30(name, dtype):
    sg = surrogate(name)
    x = np.concatenate([np.linspace(-400, 400, 4001), np.geomspace(1e-3, 1e6, 500)]).astype(dtype)
    d = sg.derivative(x)
    assert d.dtype == dtype and _no_subnormals(d)
    ref = sg.derivative(x.astype(np.longdouble)) if np.finfo(np.longdouble).tiny < 1e-308 else None
    ref = sg.derivative(x.astype(np.float64)) if ref is None else ref
    big = np.abs(ref) > 1e-30
    np.testing.assert_allclose(d[big], ref[big].astype(dtype), rtol=1e-6 if dtype == np.float32 else 1e-13)
    assert np.all(d[~big] <= 1e-30)


@pytest.mark.parametrize("path", ["fused"])
@pytest.mark.parametrize("name", ["sigmoid", "exponential"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reverse_loops_carry_no_subnormals_and_the_gradients_are_unchanged(name, dtype, path, monkeypatch):
    # An exponential-tail σ' is a normal number near tiny a few widths from θ; its products
    # with δs are subnormal, and δv would carry them (×α) for a score of steps (2% of a
    # float32 δv at the activity of bench_fwd_bwd's high row; a few in float64). The fused
    # reverse loop (every configuration's path) flushes δs_t and δv_t; the readable loop,
    # the plain reference, does not, and gives the same gradients (test below).
    from refsnn._numerics import flush_subnormal
    from refsnn.neurons import lif_fused
    from refsnn.neurons.lif import layer_backward
    rng = np.random.default_rng(2)
    sg = surrogate(name, 10.0)
    net = Network((LIFConfig(30, 40, surrogate=sg), LIFConfig(40, 10, surrogate=sg)))
    params = network_init(net, rng, dtype, [dict(w_scale=6.0), dict(w_scale=6.0)])
    x = (rng.random((100, 8, 30)) < 0.3).astype(dtype)
    trajs = network_forward(net, params, x)
    loss = L.spike_count_cross_entropy(trajs[-1], rng.integers(0, 10, 8))

    def backward():
        g1 = layer_backward(trajs[1], params[1], loss.ds, path=path)
        return [layer_backward(trajs[0], params[0], g1.x, path=path), g1]

    g = backward()
    for lg in g:
        for k, a in lg.adjoints.items():
            assert _no_subnormals(a), (k, int(((a != 0) & (np.abs(a) < np.finfo(dtype).tiny)).sum()))
    # without the flush (the same loops, flush_subnormal a no-op on δv): subnormals do arise
    monkeypatch.setattr(lif_fused, "flush_subnormal", lambda a, *_, **__: a)
    g_raw = backward()
    monkeypatch.undo()
    if dtype == np.float32:
        assert not all(_no_subnormals(a) for lg in g_raw for a in lg.adjoints.values())   # the case arises
    for lg, lr in zip(g, g_raw):
        for k in lg.params:
            np.testing.assert_allclose(lg.params[k], lr.params[k], rtol=0, atol=1e-30, err_msg=k)
        np.testing.assert_allclose(lg.adjoints["dv"], lr.adjoints["dv"], rtol=0, atol=1e-30)
    assert flush_subnormal(np.array([1e-40, -1e-40, 1.0], np.float32)).tolist() == [0.0, 0.0, 1.0]


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 2e-5), (np.float64, 1e-12)])
def test_the_unflushed_readable_loop_gives_the_flushed_fused_gradients(dtype, rtol):
    # The flush is a speed device of the fused loop only: above 1e-30 nothing changes.
    from refsnn.neurons.lif import layer_backward
    rng = np.random.default_rng(2)
    sg = surrogate("sigmoid", 10.0)
    net = Network((LIFConfig(30, 40, surrogate=sg), LIFConfig(40, 10, surrogate=sg)))
    params = network_init(net, rng, dtype, [dict(w_scale=6.0), dict(w_scale=6.0)])
    trajs = network_forward(net, params, (rng.random((60, 8, 30)) < 0.3).astype(dtype))
    loss = L.spike_count_cross_entropy(trajs[-1], rng.integers(0, 10, 8))
    for path_a, path_b in [("fused", "readable")]:
        ga = layer_backward(trajs[1], params[1], loss.ds, path=path_a)
        gb = layer_backward(trajs[1], params[1], loss.ds, path=path_b)
        fa = layer_backward(trajs[0], params[0], ga.x, path=path_a)
        fb = layer_backward(trajs[0], params[0], gb.x, path=path_b)
        for a, b in [(ga, gb), (fa, fb)]:
            for k in a.params:
                m = np.abs(b.params[k]) > 1e-30
                np.testing.assert_allclose(a.params[k][m], b.params[k][m], rtol=rtol, atol=1e-30, err_msg=k)
