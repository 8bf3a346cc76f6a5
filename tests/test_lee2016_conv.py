"""The convolutional network with LIF sum-pooling trained with Lee's rule (refsnn.learning.lee2016_conv)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.signal import correlate2d

from refsnn.checking.gradcheck import check_gradients
from refsnn.learning import lee2016 as LR
from refsnn.learning import lee2016_conv as C
from refsnn.neurons import lee2016 as LN

SMALL = dict(height=5, width=5, n_maps=2, kernel=2, pool=2, n_hidden=4, n_out=3)


def _params(rng, net, low=0.1):
    k = net.kernel
    n_pool = int(np.prod(net.pooled_shape))
    return [{"K": rng.uniform(low, 1.0, (net.n_maps, k, k)), "v_th": rng.uniform(1, 2, net.n_maps)},
            {"W": rng.uniform(low, 1.0, (net.n_hidden, n_pool)), "v_th": rng.uniform(1, 2, net.n_hidden)},
            {"W": rng.uniform(low, 1.0, (net.n_out, net.n_hidden)), "v_th": rng.uniform(1, 2, net.n_out)}]


def test_unfold_is_the_valid_cross_correlation_and_fold_its_adjoint():
    rng = np.random.default_rng(0)
    K, x = rng.normal(size=(3, 3, 3)), rng.normal(size=(7, 6))
    W = C.unfold(K, 7, 6)
    out = (W @ x.ravel()).reshape(3, 5, 4)
    for f in range(3):
        np.testing.assert_allclose(out[f], correlate2d(x, K[f], mode="valid"), rtol=1e-12, atol=1e-12)
    G = rng.normal(size=W.shape)
    # <U(K), G> = <K, U^T G>: fold is the adjoint of unfold (C3 is the chain rule through it).
    assert np.sum(W * G) == pytest.approx(np.sum(K * C.fold(G, 3, 3, 7, 6)), rel=1e-12)


def test_pool_matrix_by_hand():
    # 1 map, 4×4 → 2×2: pooling neuron (0, 1, 0) sums conv neurons (2, 0), (2, 1), (3, 0), (3, 1).
    W = C.pool_matrix(1, 4, 4, 2)
    assert W.shape == (4, 16)
    np.testing.assert_array_equal(np.flatnonzero(W[2]), [8, 9, 12, 13])
    np.testing.assert_array_equal(W.sum(axis=0), np.ones(16))       # every conv neuron reaches one pooling neuron


def test_an_input_event_drives_exactly_the_neurons_whose_window_covers_it():
    net = C.ConvLeeNet(**SMALL, tau_mp=1e9)
    params = _params(np.random.default_rng(1), net)
    params[0]["v_th"] = np.full(2, 100.0)                # no spike: only the input jumps
    stream = LN.EventStream.from_lists([[(0.5, 2 * 5 + 3)]], 25, 1.0)   # pixel (2, 3)
    ev = LN.simulate(net.configs(), C.stack(net, params), stream, record=True)
    u = ev[0].u[0, 0].reshape(2, 4, 4)
    want = np.zeros((2, 4, 4))
    for i in range(4):
        for j in range(4):
            r, q = 2 - i, 3 - j
            if 0 <= r < 2 and 0 <= q < 2:
                want[:, i, j] = params[0]["K"][:, r, q]
    np.testing.assert_allclose(u, want, rtol=1e-12)


def test_lif_sum_pooling_fires_n_over_theta_spikes_without_leak():
    """Every spike in adds 1 ≥ θ_p and the subtractive reset keeps the excess, which fires at a
    later event (any event of the network): with no leak and enough events without input to
    this neuron, n_in/θ_p − 1 < n_out ≤ n_in/θ_p (C2), also when several spikes of a window
    arrive at the same event."""
    rng = np.random.default_rng(2)
    cfg = LN.LeeConfig(tau_mp=1e12, t_ref=0.0)
    W = C.pool_matrix(1, 2, 2, 2)                        # one pooling neuron over 4 inputs
    theta = 0.8
    for trial in range(5):
        n_ev = 400                                        # events of the whole network; 40 reach this neuron
        drive = np.zeros((n_ev, 4))                       # spikes of the 4 inputs at each event
        hit = np.sort(rng.choice(n_ev - 20, 40, replace=False))
        chans = rng.integers(0, 4, 40)
        drive[hit, chans] = 1.0
        drive[hit[:5], (chans[:5] + 1) % 4] = 1.0         # 5 events carry 2 coincident spikes
        times = np.sort(rng.uniform(0, 10, n_ev))
        v, t_ref = np.zeros((1, 1)), np.full((1, 1), -np.inf)
        n_out = 0
        for p in range(n_ev):                             # E1–E6 at each event (the simulator's step)
            s = LN._event_step(cfg, np.array([theta]), v, t_ref, times[p:p + 1], np.ones(1),
                               drive[p:p + 1] @ W.T, np.ones(1, bool))
            n_out += int(s.sum())
        n_in = drive.sum()
        assert n_in / theta - 1 < n_out <= n_in / theta, (trial, n_in, n_out)


def test_lif_sum_pooling_in_the_network_transfers_about_one_over_theta():
    """With τ_mp = 50 ms the leak costs little: the pooling layer's count is within 10% of
    Σ window counts / θ_p (C2, the derivative 1/θ_p the backward pass uses)."""
    net = C.ConvLeeNet(**SMALL, tau_mp=50.0)
    rng = np.random.default_rng(3)
    params = _params(rng, net)
    params[0]["v_th"] = np.full(2, 0.5)
    events = [[(t, int(c)) for t, c in zip(np.sort(rng.uniform(0, 50, 300)), rng.integers(0, 25, 300))]
              for _ in range(4)]
    ev = LN.simulate(net.configs(), C.stack(net, params), LN.EventStream.from_lists(events, 25, 50.0))
    ratio = ev[1].counts().sum() / ev[0].counts().sum()
    assert 0.9 / 0.8 < ratio <= 1 / 0.8


def _linear_loss(net, params, x_hat, y):
    return LR.count_loss(C.linearised_counts(net, params, x_hat)[-1], y)[0]


@pytest.mark.parametrize("mu", [0.0, -0.4])
def test_unnormalised_backward_is_the_exact_gradient_of_the_linearised_conv_network(mu):
    net = C.ConvLeeNet(**SMALL, mu_hidden=mu)
    rng = np.random.default_rng(4)
    params = _params(rng, net)
    x_hat = rng.uniform(1, 5, (2, 25))
    y = np.eye(3)[[0, 2]]
    _, grads, _ = C.conv_lee_gradients(net, params, x_hat, C.linearised_counts(net, params, x_hat), y,
                                       beta=0.0, normalise=False)
    flat = {f"L{l}.{k}": v for l, p in enumerate(params) for k, v in p.items()}
    gflat = {f"L{l}.{k}": v for l, g in enumerate(grads) for k, v in g.items()}

    def f(fl):
        return _linear_loss(net, [{k: fl[f"L{l}.{k}"] for k in params[l]} for l in range(3)], x_hat, y)

    for r in check_gradients(f, flat, gflat, eps=1e-3, rtol=1e-7, order=4, floor=1e-8):
        assert r.passed, r


def test_kernel_regulariser_is_l7_once_per_map():
    net = C.ConvLeeNet(**SMALL)
    rng = np.random.default_rng(5)
    params = _params(rng, net, low=-1.0)
    x_hat = rng.uniform(1, 5, (2, 25))
    y = np.eye(3)[[0, 1]]
    counts = C.linearised_counts(net, params, x_hat)
    v0, g0, _ = C.conv_lee_gradients(net, params, x_hat, counts, y, beta=2.0, alpha=(None, None))
    v1, g1, _ = C.conv_lee_gradients(net, params, x_hat, counts, y, beta=2.0, lam=0.1, alpha=(1.5, None))
    K = params[0]["K"]
    e = 2.0 * np.exp(0.1 * (np.sum(K ** 2, axis=(1, 2)) - 1.5 ** 2))
    assert v1 - v0 == pytest.approx(e.sum(), rel=1e-12)
    np.testing.assert_allclose(g1[0]["K"] - g0[0]["K"], 2 * 0.1 * e[:, None, None] * K, rtol=1e-7, atol=1e-9)


def test_normalised_route_differs_from_the_exact_one_by_positive_layer_constants_when_thresholds_are_equal():
    """With every layer's thresholds equal, L5 is 1 per layer, so the normalised δ's are the
    exact ones times v_o D_o · v_h D_h · θ_p · v_c, for the kernels and for the map thresholds
    (the exact ∂a/∂V_th = −a/V_th has the 1/V_th that L6's direction −δ â leaves out)."""
    net = C.ConvLeeNet(**SMALL, mu_hidden=-0.4)
    rng = np.random.default_rng(6)
    params = _params(rng, net)
    for p, v in zip(params, (1.3, 1.7, 1.1)):
        p["v_th"] = np.full_like(p["v_th"], v)
    x_hat = rng.uniform(1, 5, (2, 25))
    y = np.eye(3)[[0, 2]]
    counts = C.linearised_counts(net, params, x_hat)
    _, g_ex, _ = C.conv_lee_gradients(net, params, x_hat, counts, y, beta=0.0, normalise=False)
    _, g_no, _ = C.conv_lee_gradients(net, params, x_hat, counts, y, beta=0.0, normalise=True)
    c = 1.1 * LR.wta_gain(-1.0, 0.5, 3) * 1.7 * LR.wta_gain(-0.4, 0.5, 4) * 0.8
    np.testing.assert_allclose(g_no[0]["K"], g_ex[0]["K"] * c * 1.3, rtol=1e-12)
    np.testing.assert_allclose(g_no[0]["v_th"], g_ex[0]["v_th"] * c * 1.3, rtol=1e-12)


def test_train_epoch_is_simulate_backward_and_sgd_with_the_convolutions_step():
    """One batch: the epoch equals the documented composition (η_c = η_w/(H_c W_c), threshold
    regularisation per map, the floor); the caller's parameters are not modified."""
    net = C.ConvLeeNet(**SMALL, tau_mp=20.0)
    rng = np.random.default_rng(7)
    params = _params(rng, net, low=-0.2)
    params[0]["v_th"] = np.array([0.6, 3.0])
    events = [[(t, int(c)) for t, c in zip(np.sort(rng.uniform(0, 20, 120)), rng.integers(0, 25, 120))]
              for _ in range(3)]
    stream = LN.EventStream.from_lists(events, 25, 20.0)
    Y = np.eye(3)[[0, 1, 2]]
    recipe = LR.LeeRecipe(alpha=(1.0, 1.0, 1.0), eta_w=0.05, batch_size=3, beta=1.0, rho=1e-3)
    recipe.v_floor = [p["v_th"] * 0.99 for p in params]
    before = [{k: v.copy() for k, v in p.items()} for p in params]
    new, loss = C.train_epoch(net, params, recipe, stream, Y, np.random.default_rng(0))
    order = np.random.default_rng(0).permutation(3)
    sub = stream.take(order)
    cnt = [e.counts() for e in LN.simulate(net.configs(), C.stack(net, params), sub)]
    assert all(c.sum() > 0 for c in cnt)
    value, grads, _ = C.conv_lee_gradients(net, params, sub.input_counts(), cnt, Y[order], 1.0, 0.01,
                                           (1.0, 1.0), True, False)
    assert loss == pytest.approx(value, rel=1e-12)
    per_map = cnt[0].reshape(3, 2, 16).sum(axis=2)
    for l, (key, eta, c) in enumerate((("K", 0.05 / 16, per_map), ("W", 0.05, cnt[2]), ("W", 0.05, cnt[3]))):
        p = params[l]
        W = (p[key] - eta * grads[l][key]).reshape(len(p["v_th"]), -1)
        v = p["v_th"] - 0.1 * eta * grads[l]["v_th"] + LR.threshold_change(c, 1e-3)
        v, W = LR.apply_threshold_floor(p["v_th"], v, W, recipe.v_floor[l])
        np.testing.assert_allclose(new[l][key], W.reshape(p[key].shape), rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(new[l]["v_th"], v, rtol=1e-13, atol=1e-15)
        for k in before[l]:
            np.testing.assert_array_equal(params[l][k], before[l][k])


def test_ops_count_the_structural_fan_out():
    net = C.ConvLeeNet(**SMALL, mu_hidden=0.0, mu_out=0.0)
    params = _params(np.random.default_rng(8), net)
    # one event at the corner pixel (0, 0): reaches neuron (f, 0, 0) only, fan-out F = 2;
    # one at the centre (2, 2): k² = 4 positions × 2 maps = 8.
    stream = LN.EventStream.from_lists([[(0.1, 0), (0.2, 12)]], 25, 1.0)
    ev = LN.simulate(net.configs(), C.stack(net, params), stream)
    c = C.ops(net, params, stream, ev)
    assert c[0].synops == 2 + 8 and c[0].synapses == 2 * 16 * 4 == c[0].ann_macs
    assert c[1].synops == ev[0].counts().sum() and c[1].synapses == 32
    assert c[2].synops == ev[1].counts().sum() * 4 and c[2].ann_macs == 4 * 8


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="pool"):
        C.ConvLeeNet(height=8, width=8, kernel=3, pool=4)
    with pytest.raises(ValueError, match="kernel"):
        C.ConvLeeNet(height=4, width=4, kernel=5)
    net = C.ConvLeeNet(**SMALL)
    params = _params(np.random.default_rng(9), net)
    with pytest.raises(ValueError, match=r"params\[0\]\['K'\]"):
        C.stack(net, [{"K": np.ones((2, 3, 3)), "v_th": np.ones(2)}, *params[1:]])
    with pytest.raises(ValueError, match="v_th"):
        C.stack(net, [{"K": params[0]["K"], "v_th": -np.ones(2)}, *params[1:]])
    with pytest.raises(ValueError, match="optimizer"):
        C.train_epoch(net, params, LR.LeeRecipe(alpha=(1, 1, 1), optimizer="adam"), None, None, None)
    assert math.isfinite(C.ConvLeeNet().pool_v_th)
