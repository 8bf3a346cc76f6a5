"""Truncated BPTT (refsnn.tbptt) against full BPTT and against finite differences."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from refsnn import tbptt
from refsnn.gradcheck import check_gradients_directional
from refsnn.lif import LIFConfig, smooth_twin
from refsnn.network import Network, network_backward, network_forward, network_init
from refsnn.surrogates import surrogate


def _problem(seed, T, recurrent=True, smooth=False):
    rng = np.random.default_rng(seed)
    sg = surrogate("sigmoid", 4.0)
    hidden = LIFConfig(3, 5, surrogate=sg, recurrent=recurrent, adaptation=True, synapse=True)
    readout = LIFConfig(5, 2, surrogate=sg, reset="none", spiking=False, synapse=True)
    if smooth:
        hidden = smooth_twin(hidden)
    net = Network((hidden, readout))
    params = network_init(net, rng, np.float64, [dict(w_scale=1.5, b=0.3), dict(alpha=0.8)])
    x = rng.normal(0.5, 1.0, (T, 2, 3))
    y = rng.normal(0.0, 1.0, (T, 2, 2))
    return net, params, x, y


def _full(net, params, x, y):
    loss_fn = tbptt.per_step_membrane_loss(y)
    trajs = network_forward(net, params, x)
    value, ds, dv = loss_fn(trajs, slice(0, len(x)), slice(0, len(x)))
    return value, network_backward(trajs, params, ds, dv).params


def test_windows_cover_every_step_once():
    for T, K, O in [(10, 4, 0), (10, 4, 1), (10, 4, 3), (7, 10, 2), (1, 1, 0), (9, 3, 2)]:
        wins = tbptt.windows(T, K, O)
        counted = np.concatenate([np.arange(T)[c] for _, c in wins])
        np.testing.assert_array_equal(counted, np.arange(T))
        for n, (w, c) in enumerate(wins):
            assert w.start == n * (K - O) and w.stop == min(w.start + K, T)
            if n:
                assert c.start == w.start + O                 # the non-overlapping suffix
    with pytest.raises(ValueError, match="O"):
        tbptt.windows(10, 4, 4)


@given(st.integers(0, 2**31 - 1), st.integers(1, 12), st.integers(0, 3))
def test_one_window_is_full_bptt(seed, T, extra):
    net, params, x, y = _problem(seed, T)
    value, grads = _full(net, params, x, y)
    res = tbptt.tbptt_gradients(net, params, x, tbptt.per_step_membrane_loss(y), K=T + extra, O=0)
    assert res.n_windows == 1
    assert res.value == pytest.approx(value, rel=1e-14)
    for g, h in zip(res.grads, grads):
        for k in g:
            np.testing.assert_allclose(g[k], h[k], rtol=1e-13, atol=1e-15, err_msg=k)


@given(st.integers(0, 2**31 - 1), st.integers(2, 14), st.integers(1, 6), st.data())
def test_state_is_carried_and_losses_add_up(seed, T, K, data):
    """With fixed parameters, carried states equal one full forward pass, so the
    counted window losses add up to the full loss and the final state matches."""
    O = data.draw(st.integers(0, K - 1))
    net, params, x, y = _problem(seed, T)
    value, _ = _full(net, params, x, y)
    res = tbptt.tbptt_gradients(net, params, x, tbptt.per_step_membrane_loss(y), K=K, O=O)
    assert res.value == pytest.approx(value, rel=1e-12)
    full = network_forward(net, params, x)
    for st_, tr in zip(res.final_state, full):
        np.testing.assert_allclose(st_["v"], tr.v[-1], rtol=1e-12, atol=1e-14)


def test_truncation_changes_the_gradient():
    """K < T is an approximation: the recurrent gradient differs from full BPTT."""
    net, params, x, y = _problem(0, 12)
    _, grads = _full(net, params, x, y)
    res = tbptt.tbptt_gradients(net, params, x, tbptt.per_step_membrane_loss(y), K=3, O=1)
    assert not np.allclose(res.grads[0]["W"], grads[0]["W"], rtol=1e-6)


def test_zero_reset_of_the_state_would_be_detected():
    """Carrying the state matters: starting a window from zeros gives another loss."""
    net, params, x, y = _problem(1, 10)
    res = tbptt.tbptt_gradients(net, params, x, tbptt.per_step_membrane_loss(y), K=4, O=0)
    wrong = 0.0
    loss_fn = tbptt.per_step_membrane_loss(y)
    for win, counted in tbptt.windows(10, 4, 0):
        wrong += tbptt.window_gradient(net, params, x[win], None, loss_fn, win, counted)[0]
    assert not np.isclose(wrong, res.value, rtol=1e-6)


@given(st.integers(0, 2**31 - 1), st.integers(1, 3))
def test_window_gradient_matches_central_differences(seed, n):
    """Window n's gradient is the exact gradient of its counted loss with the starting
    state held constant (smooth twin, so the adjoint is exact)."""
    T, K, O = 12, 5, 2
    net, params, x, y = _problem(seed, T, smooth=True)
    wins = tbptt.windows(T, K, O)
    n = min(n, len(wins) - 1)
    loss_fn = tbptt.per_step_membrane_loss(y)
    state = None
    for i, (win, counted) in enumerate(wins):
        value, g, trajs = tbptt.window_gradient(net, params, x[win], state, loss_fn, win, counted)
        if i == n:
            break
        state = tbptt.state_at(trajs, wins[i + 1][0].start - 1 - win.start)
    fixed_state = state

    flat = {f"L{l}.{k}": v for l, p in enumerate(params) for k, v in p.items()}

    def f(fl):
        ps = [{k.split(".", 1)[1]: v for k, v in fl.items() if k.startswith(f"L{l}.")} for l in range(2)]
        tr = network_forward(net, ps, x[win], fixed_state)
        return loss_fn(tr, win, counted)[0]

    grads = {f"L{l}.{k}": v for l, gl in enumerate(g) for k, v in gl.items()}
    # directional screening (one random direction per array, per entry where it fails):
    # the same verdicts as check_gradients at a fraction of the evaluations
    results = check_gradients_directional(f, flat, grads, eps=2e-4, order=4, rtol=1e-7,
                                          floor=1e-4 * max(1, abs(value)), seed=seed)
    assert all(r.passed for r in results), "\n".join(str(r) for r in results if not r.passed)


def test_tbptt_gradient_is_the_sum_of_the_window_gradients():
    """Each window's gradient computed on its own, from the state of one full forward
    pass just before the window, and summed: TBPTT must return exactly that sum. A
    TBPTT that keeps only the last window, or counts a window twice, fails."""
    T, K, O = 13, 4, 1
    net, params, x, y = _problem(5, T)
    loss_fn = tbptt.per_step_membrane_loss(y)
    full = network_forward(net, params, x)
    wins = tbptt.windows(T, K, O)
    assert len(wins) >= 3
    expected = None
    for win, counted in wins:
        state = None if win.start == 0 else tbptt.state_at(full, win.start - 1)
        trajs = network_forward(net, params, x[win], state)
        _, ds, dv = loss_fn(trajs, win, counted)
        g = network_backward(trajs, params, ds, dv).params
        expected = g if expected is None else [{k: a[k] + b[k] for k in a} for a, b in zip(expected, g)]
    res = tbptt.tbptt_gradients(net, params, x, loss_fn, K=K, O=O)
    assert res.n_windows == len(wins)
    for got, want in zip(res.grads, expected):
        for k in want:
            np.testing.assert_allclose(got[k], want[k], rtol=1e-11, atol=1e-13, err_msg=k)
    # the windows' gradients differ, so dropping or repeating one would show
    last = network_backward(network_forward(net, params, x[wins[-1][0]],
                                            tbptt.state_at(full, wins[-1][0].start - 1)),
                            params, *loss_fn(network_forward(net, params, x[wins[-1][0]],
                                                             tbptt.state_at(full, wins[-1][0].start - 1)),
                                             *wins[-1])[1:]).params
    assert not np.allclose(last[0]["W"], expected[0]["W"], rtol=1e-3)
