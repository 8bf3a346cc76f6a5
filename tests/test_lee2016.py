"""Lee, Delbruck & Pfeiffer 2016 (seed 003): the event-driven neuron, its grid twin, the
transfer-function gradient, the regulariser and the recipe's pieces.

Every expected number below is derived by hand in the comments, not by re-running
the simulator.
"""

import math

import numpy as np
import pytest

from refsnn.checking.gradcheck import check_gradient, check_gradients
from refsnn.learning import lee2016 as LR
from refsnn.neurons import lee2016 as LN
from refsnn.neurons.lif import layer_forward


def _one(W, v_th):
    return [{"W": np.array(W, dtype=float), "v_th": np.array(v_th, dtype=float)}]


# --------------------------------------------------------------------------- the event-driven neuron


def test_one_neuron_spike_times_by_hand():
    # τ = 10 ms, T_ref = 2 ms, w = 0.6, V_th = 1; input events at t = 1, 2, 3, 5, 5.5 ms.
    # t=1:   V = 0 + 0.6                                   = 0.6            (no spike)
    # (e^{-0.1} = 0.904837, e^{-0.2} = 0.818731, e^{-0.05} = 0.951229)
    # t=2:   U = 0.6 e^{-0.1} + 0.6 = 0.542902 + 0.6       = 1.142902 ≥ 1   → spike at t = 2
    #        V = 1.142902 − 1                              = 0.142902
    # t=3:   Δt = 1 since the spike: w_dyn = (1/2)² = 0.25
    #        V = 0.142902 e^{-0.1} + 0.25·0.6 = 0.129303 + 0.15 = 0.279303
    # t=5:   Δt = 3 ≥ T_ref: w_dyn = 1
    #        V = 0.279303 e^{-0.2} + 0.6 = 0.228674 + 0.6  = 0.828674
    # t=5.5: U = 0.828674 e^{-0.05} + 0.6 = 0.788259 + 0.6 = 1.388259 ≥ 1 → spike at t = 5.5
    #        V = 0.388259
    e1, e2, e05 = math.exp(-0.1), math.exp(-0.2), math.exp(-0.05)
    v = [0.6]
    v.append(v[-1] * e1 + 0.6 - 1.0)
    v.append(v[-1] * e1 + 0.25 * 0.6)
    v.append(v[-1] * e2 + 0.6)
    v.append(v[-1] * e05 + 0.6 - 1.0)
    np.testing.assert_allclose(v, [0.6, 0.142902, 0.279303, 0.828674, 0.388259], atol=1e-6)
    stream = LN.EventStream.from_lists([[(1.0, 0), (2.0, 0), (3.0, 0), (5.0, 0), (5.5, 0)]], 1, 6.0)
    ev, = LN.simulate([LN.LeeConfig(tau_mp=10.0, t_ref=2.0)], _one([[0.6]], [1.0]), stream, record=True)
    spike_times = stream.times[0][ev.spikes[0, :, 0]]
    np.testing.assert_array_equal(spike_times, [2.0, 5.5])
    np.testing.assert_allclose(ev.v_post[0, :, 0], v, rtol=1e-12)
    np.testing.assert_allclose(ev.w_dyn[0, :, 0], [1, 1, 0.25, 1, 1])
    # Pre-event state: the leak only, V^-(t=2) = 0.6 e^{-0.1}.
    assert ev.v_pre[0, 1, 0] == pytest.approx(0.6 * e1, rel=1e-14)


def test_lower_bound_is_minus_v_th():
    # w = −2.5, V_th = 1.5: after the first event V = −2.5 is clipped to −V_th = −1.5 (C1).
    # A second event 0 ms later (same time) adds −2.5 again: clipped again to −1.5.
    # A third event of the +w channel (w = 1) at t = 0: V = −0.5.
    stream = LN.EventStream.from_lists([[(0.0, 0), (0.0, 0), (0.0, 1)]], 2, 1.0)
    ev, = LN.simulate([LN.LeeConfig()], _one([[-2.5, 1.0]], [1.5]), stream, record=True)
    np.testing.assert_allclose(ev.v_post[0, :, 0], [-1.5, -1.5, -0.5])
    ev2, = LN.simulate([LN.LeeConfig(lower_bound=False)], _one([[-2.5, 1.0]], [1.5]), stream, record=True)
    np.testing.assert_allclose(ev2.v_post[0, :, 0], [-2.5, -5.0, -4.0])


def test_wta_inhibition_scales_with_the_target_threshold_and_makes_it_refractory():
    # Two neurons, μ = −0.5, σ = 0.5, T_ref = 2, τ = ∞ in effect (1e9).
    # Channel 0 drives neuron 0 by 1.2 (V_th,0 = 1), neuron 1 by 0.5 (V_th,1 = 2).
    # t=0: U = (1.2, 0.5); neuron 0 spikes → V_0 = 0.2;
    #      neuron 1 gets σ μ V_th,1 = 0.5·(−0.5)·2 = −0.5 → V_1 = 0.0, and is refractory from t = 0.
    # t=1: w_dyn = (1/2)² = 0.25 for both: V = (0.2 + 0.3, 0 + 0.125) = (0.5, 0.125).
    stream = LN.EventStream.from_lists([[(0.0, 0), (1.0, 0)]], 1, 2.0)
    cfg = LN.LeeConfig(tau_mp=1e9, t_ref=2.0, mu=-0.5, sigma=0.5)
    ev, = LN.simulate([cfg], _one([[1.2], [0.5]], [1.0, 2.0]), stream, record=True)
    np.testing.assert_allclose(ev.v_post[0], [[0.2, 0.0], [0.5, 0.125]], atol=1e-12)
    np.testing.assert_array_equal(ev.spikes[0], [[True, False], [False, False]])
    # Without WTA neuron 1 is not refractory: V_1 = 0.5 + 0.5 at t = 1.
    ev0, = LN.simulate([LN.LeeConfig(tau_mp=1e9, t_ref=2.0)], _one([[1.2], [0.5]], [1.0, 2.0]), stream,
                       record=True)
    np.testing.assert_allclose(ev0.v_post[0, :, 1], [0.5, 1.0], atol=1e-12)


def _random_stream(seed, B=3, M=5, P=40, duration=100.0):
    rng = np.random.default_rng(seed)
    ev = [[(float(t), int(k)) for t, k in zip(rng.uniform(0, duration, P - b % 3), rng.integers(0, M, P - b % 3))]
          for b in range(B)]
    return LN.EventStream.from_lists(ev, M, duration)


def _random_net(seed, M=5, H=6, K=3):
    rng = np.random.default_rng(seed)
    return [LR.init_layer(rng, H, M, 1.0), LR.init_layer(rng, K, H, 1.0)]


def test_lockstep_batch_equals_one_sample_at_a_time():
    stream = _random_stream(0)
    params = _random_net(1)
    for p in params:
        p["W"] = np.abs(p["W"]) * 3.0           # enough drive to spike in both layers
    cfgs = [LN.LeeConfig(tau_mp=20.0, t_ref=1.0, mu=-0.4), LN.LeeConfig(tau_mp=20.0, t_ref=1.0, mu=-1.0)]
    batch = LN.simulate(cfgs, params, stream, record=True)
    assert all(le.spikes.any() for le in batch)
    for b in range(stream.batch):
        one = LN.simulate(cfgs, params, stream.take([b]), record=True)
        n = one[0].spikes.shape[1]
        for l in range(2):
            np.testing.assert_array_equal(one[l].spikes[0], batch[l].spikes[b, :n])
            np.testing.assert_allclose(one[l].v_post[0], batch[l].v_post[b, :n], rtol=1e-13)


def test_grid_twin_is_refsnn_lif_without_refractoriness_wta_and_bound():
    stream = _random_stream(2)
    p = _random_net(3)[0]
    p["W"] = np.abs(p["W"]) * 3.0
    cfg = LN.LeeConfig(tau_mp=20.0, t_ref=0.0, lower_bound=False)
    dt = 0.5
    x = LN.to_grid(stream, dt)
    spikes, v = LN.grid_simulate([cfg], [p], x, dt)
    lif_cfg, lif_p = LN.refsnn_equivalent(cfg, p, dt)
    traj = layer_forward(lif_cfg, lif_p, x)
    assert 0 < spikes[0].mean() < 1
    np.testing.assert_array_equal(traj.s.astype(bool), spikes[0])
    # refsnn's v_T is the pre-reset membrane; the twin's is post-reset: they differ by V_th s_T.
    np.testing.assert_allclose(traj.v[-1] - p["v_th"] * traj.s[-1], v[0], rtol=1e-12, atol=1e-12)


def _convergence(dts, seed=4):
    """Mean |V_grid − V_exact| at t = duration over 40 samples of 4–6 events in 10 ms."""
    stream = _random_stream(seed, B=40, M=3, P=6, duration=10.0)
    p = _random_net(5, M=3, H=4)[0]
    p["W"] = np.abs(p["W"]) * 3.0
    cfg = LN.LeeConfig(tau_mp=20.0, t_ref=2.0)
    errs, same = LN.grid_convergence(cfg, p, stream, dts)
    return errs, LN.simulate([cfg], [p], stream)[0].counts(), same


def test_grid_twin_converges_to_the_event_driven_neuron_at_first_order():
    dts = 0.04 / 2.0 ** np.arange(5)
    errs, counts, same = _convergence(dts)
    assert counts.sum() > 20 and same.sum() >= 35
    slope = np.polyfit(np.log(dts), np.log(errs), 1)[0]
    # Each event moves by less than dt (on average dt/2), so the error is first order
    # (module docstring): halving dt halves the mean error.
    assert 0.85 < slope < 1.15, (slope, errs)


# --------------------------------------------------------------------------- the transfer-function gradient


def _layer(seed, N=6, M=4, positive=True):
    rng = np.random.default_rng(seed)
    W = rng.uniform(0.2, 1.0, (N, M)) if positive else rng.normal(0, 1, (N, M))
    v_th = rng.uniform(0.5, 1.5, N)
    x = rng.uniform(1.0, 3.0, M)
    return W, v_th, x


@pytest.mark.parametrize("mu", [0.0, -0.05, -0.1])
def test_steady_state_jacobian_against_finite_differences(mu):
    W, v_th, x = _layer(0)
    a, active = LR.steady_state(W, v_th, x, mu, 0.5)
    assert active.all()
    # L2 holds: W x − V_th a + σ μ V_th Σ_{j≠i} a_j = 0.
    np.testing.assert_allclose(W @ x - v_th * a + 0.5 * mu * v_th * (a.sum() - a), 0, atol=1e-12)
    J = LR.steady_state_jacobian(W, v_th, x, mu, 0.5)
    r = np.random.default_rng(1).normal(size=W.shape[0])
    res = check_gradient(lambda xx: float(r @ LR.steady_state(W, v_th, xx, mu, 0.5)[0]), x.copy(), J.T @ r,
                         eps=1e-4, rtol=1e-7, order=4)
    assert res.passed, res


def test_transfer_gradient_is_exact_for_common_mode_and_off_by_the_eigenvalue_ratio_otherwise():
    N, M, mu, sigma = 5, 3, -0.2, 0.5
    c = -mu * sigma
    rng = np.random.default_rng(2)
    v_th = rng.uniform(0.5, 1.5, N)
    W = rng.uniform(0.5, 1.0, (N, M))
    W[:, 0] = 0.7 * v_th                      # column 0: w_ik/V_th,i the same for every i
    x = np.array([3.0, 1.0, 1.0])
    J = LR.steady_state_jacobian(W, v_th, x, mu, sigma)
    G = LR.transfer_gradient(W, v_th, mu, sigma)
    assert LR.steady_state(W, v_th, x, mu, sigma)[1].all()
    np.testing.assert_allclose(G[:, 0], J[:, 0], rtol=1e-12)
    np.testing.assert_allclose(G[:, 0], 0.7 / (1 + c * (N - 1)), rtol=1e-12)
    # A differential perturbation (orthogonal to 𝟏, eigenvalue 1 − c) is underestimated by
    # (1 − c)/(1 + c(n − 1)): A^{-1} b = b/(1 − c) while L4 gives b/(1 + c(n − 1)).
    b = np.array([1.0, -1.0, 0.0, 0.0, 0.0])
    W2 = np.column_stack([b * v_th + 0.0, W[:, 1:]])
    W2[:, 0] += 2.0 * v_th                    # keep every neuron active; common part 2·𝟏
    J2 = LR.steady_state_jacobian(W2, v_th, x, mu, sigma)
    G2 = LR.transfer_gradient(W2, v_th, mu, sigma)
    common = 2.0 / (1 + c * (N - 1))
    np.testing.assert_allclose(J2[:, 0] - common, b / (1 - c), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(G2[:, 0] - common, b / (1 + c * (N - 1)), rtol=1e-12, atol=1e-14)


def test_transfer_gradient_without_wta_is_w_over_v_th():
    W, v_th, x = _layer(3)
    np.testing.assert_allclose(LR.transfer_gradient(W, v_th, 0.0, 0.5), W / v_th[:, None], rtol=1e-15)
    np.testing.assert_allclose(LR.steady_state_jacobian(W, v_th, x, 0.0, 0.5), W / v_th[:, None], rtol=1e-12)
    # The seed's μσ(n−1)+1 with the signed μ = −0.4, σ = 0.5, n = 100 would be −18.8; L4's D is 20.8.
    assert LR.wta_gain(-0.4, 0.5, 100) == pytest.approx(20.8)


def test_steady_state_drops_neurons_driven_below_zero():
    # Neuron 2 has a negative drive: inactive, a_2 = 0, and no gradient.
    W = np.array([[1.0], [0.8], [-0.5]])
    v_th = np.ones(3)
    a, active = LR.steady_state(W, v_th, np.array([2.0]), -0.2, 0.5)
    np.testing.assert_array_equal(active, [True, True, False])
    # On S = {0, 1}, c = 0.1: a_0 + 0.1 a_1 = 2, a_1 + 0.1 a_0 = 1.6 → a_0 = (2 − 0.16)/0.99, a_1 = 1.6 − 0.1 a_0.
    a0 = (2 - 0.16) / 0.99
    np.testing.assert_allclose(a, [a0, 1.6 - 0.1 * a0, 0.0], rtol=1e-12)
    assert np.all(LR.steady_state_jacobian(W, v_th, np.array([2.0]), -0.2, 0.5)[2] == 0)


# --------------------------------------------------------------------------- the recipe


def test_weight_regulariser_gradient_against_finite_differences():
    W = np.random.default_rng(4).normal(0, 0.8, (4, 6))
    for lam in (0.002, 0.04, 0.3):
        value, grad = LR.weight_regulariser(W, alpha=1.5, beta=10.0, lam=lam)
        res = check_gradient(lambda w: LR.weight_regulariser(w, 1.5, 10.0, lam)[0], W.copy(), grad,
                             eps=1e-4, rtol=1e-7, order=4, floor=1e-6)
        assert res.passed, res
    # By hand for one row w = (3, 4): Σw² = 25, α = 5 → L = β e⁰ = β, ∂L/∂w = 2βλ w.
    v, g = LR.weight_regulariser(np.array([[3.0, 4.0]]), 5.0, 10.0, 0.01)
    assert v == pytest.approx(10.0)
    np.testing.assert_allclose(g, [[0.6, 0.8]])


def test_count_loss_gradient_against_finite_differences():
    rng = np.random.default_rng(5)
    n = rng.uniform(0.5, 5.0, (3, 4))
    n[0, 2] = 7.0                              # a clear max in every row
    n[1, 0] = 6.0
    n[2, 3] = 8.0
    y = np.eye(4)[[1, 0, 2]]
    value, dn = LR.count_loss(n, y)
    res = check_gradient(lambda m: LR.count_loss(m, y)[0], n.copy(), dn, eps=1e-4, rtol=1e-7, order=4)
    assert res.passed, res
    # By hand: counts (2, 4), target (1, 0): o = (0.5, 1), L = ½(0.25 + 1) = 0.625.
    assert LR.count_loss(np.array([[2.0, 4.0]]), np.array([[1.0, 0.0]]))[0] == pytest.approx(0.625)


def _linear_net_loss(cfgs, params, x_hat, y):
    """The linearised network of L4: a^l = W^l a^{l−1} / (V_th D) on counts, and L8."""
    a = x_hat
    counts = []
    for cfg, p in zip(cfgs, params):
        D = LR.wta_gain(cfg.mu, cfg.sigma, p["W"].shape[0])
        a = a @ p["W"].T / (p["v_th"] * D)
        counts.append(a)
    return LR.count_loss(counts[-1], y)[0], counts


@pytest.mark.parametrize("mu", [0.0, -0.4])
def test_unnormalised_backward_is_the_exact_gradient_of_the_linearised_network(mu):
    rng = np.random.default_rng(6)
    cfgs = [LN.LeeConfig(mu=mu), LN.LeeConfig(mu=-1.0)]
    params = [{"W": rng.uniform(0.1, 1.0, (5, 4)), "v_th": rng.uniform(1, 2, 5)},
              {"W": rng.uniform(0.1, 1.0, (3, 5)), "v_th": rng.uniform(1, 2, 3)}]
    x_hat = rng.uniform(1, 5, (2, 4))
    y = np.eye(3)[[0, 2]]
    _, counts = _linear_net_loss(cfgs, params, x_hat, y)
    _, grads, _ = LR.lee_gradients(cfgs, params, x_hat, counts, y, beta=0.0, normalise=False)
    flat = {f"L{l}.{k}": v for l, p in enumerate(params) for k, v in p.items()}
    gflat = {f"L{l}.{k}": v for l, g in enumerate(grads) for k, v in g.items()}

    def f(fl):
        ps = [{k: fl[f"L{l}.{k}"] for k in ("W", "v_th")} for l in range(2)]
        return _linear_net_loss(cfgs, ps, x_hat, y)[0]

    for r in check_gradients(f, flat, gflat, eps=1e-5, rtol=1e-7, order=4, floor=1e-8):
        assert r.passed, r


def test_normalised_errors_keep_the_per_neuron_factor_and_unit_mean_square_gain():
    v_th = np.array([1.0, 2.0, 4.0])
    d = LR.normalise_errors(np.ones((1, 3)), v_th)
    g = 1 / v_th
    gbar = math.sqrt((1 + 0.25 + 0.0625) / 3)
    np.testing.assert_allclose(d[0], g / gbar)
    assert np.mean(d ** 2) == pytest.approx(1.0)


def test_threshold_regularisation_by_hand():
    # N = 4 neurons, two samples. Sample 0: neurons 0, 1 spike (N_w = 2); sample 1: neuron 0 (N_w = 1).
    # ρ = 0.01. Neuron 0: +4ρ +4ρ = +0.08; neuron 1: +4ρ −1ρ = +0.03;
    # neurons 2, 3: −2ρ −1ρ = −0.03.
    counts = np.array([[3, 1, 0, 0], [2, 0, 0, 0]], dtype=float)
    v_th = np.array([1.0, 1.0, 1.0, 0.2])
    W = np.ones((4, 2))
    floor = np.full(4, 0.18)
    v_new, W_new = LR.threshold_regularisation(v_th, W, counts, 0.01, floor)
    # Neuron 3 would fall to 0.17 < 0.18: it keeps 0.2 and its weights grow by
    # 1 + 0.03/0.2 = 1.15.
    np.testing.assert_allclose(v_new, [1.08, 1.03, 0.97, 0.2])
    np.testing.assert_allclose(W_new[:, 0], [1, 1, 1, 1.15])


def test_initialisation_ranges_and_mean_square():
    rng = np.random.default_rng(7)
    p = LR.init_layer(rng, 400, 900, 3.0)
    assert np.all(np.abs(p["W"]) <= 3.0 / 30) and np.all((p["v_th"] >= 3) & (p["v_th"] <= 6))
    # E Σ_k w_k² = M (α/√M)²/3 = α²/3 = 3 for this uniform law (the seed's "= α²" is off by 3).
    assert np.mean(np.sum(p["W"] ** 2, axis=1)) == pytest.approx(3.0, rel=0.02)


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="mu"):
        LN.LeeConfig(mu=0.3)
    with pytest.raises(ValueError, match="non-decreasing"):
        LN.EventStream(np.array([[2.0, 1.0]]), np.array([[0, 0]]), np.ones((1, 2), bool), 1, 3.0)
    with pytest.raises(ValueError, match="channels"):
        LN.EventStream(np.array([[1.0]]), np.array([[3]]), np.ones((1, 1), bool), 2, 3.0)
    with pytest.raises(ValueError, match="v_th"):
        LN.simulate([LN.LeeConfig()], _one([[1.0]], [-1.0]), LN.EventStream.from_lists([[(0.0, 0)]], 1, 1.0))


def test_normalised_output_layer_gradients_are_the_exact_ones_times_positive_layer_constants():
    # Output layer: δ = δa g/ḡ (L5) versus δa g/D (L4), so ∂W differs by D/ḡ and
    # ∂V_th by 1/ḡ (both > 0): same direction, different step length.
    rng = np.random.default_rng(8)
    cfgs = [LN.LeeConfig(mu=-0.4), LN.LeeConfig(mu=-1.0)]
    params = [{"W": rng.uniform(0.1, 1.0, (5, 4)), "v_th": rng.uniform(1, 2, 5)},
              {"W": rng.uniform(0.1, 1.0, (3, 5)), "v_th": rng.uniform(1, 2, 3)}]
    x_hat = rng.uniform(1, 5, (2, 4))
    y = np.eye(3)[[0, 2]]
    _, counts = _linear_net_loss(cfgs, params, x_hat, y)
    _, g_ex, _ = LR.lee_gradients(cfgs, params, x_hat, counts, y, beta=0.0, normalise=False)
    _, g_no, _ = LR.lee_gradients(cfgs, params, x_hat, counts, y, beta=0.0, normalise=True)
    g = 1 / params[1]["v_th"]
    gbar = np.sqrt(np.mean(g * g))
    D = LR.wta_gain(-1.0, 0.5, 3)
    np.testing.assert_allclose(g_no[1]["W"], g_ex[1]["W"] * D / gbar, rtol=1e-12)
    np.testing.assert_allclose(g_no[1]["v_th"], g_ex[1]["v_th"] / gbar, rtol=1e-12)


def test_the_gradcheck_family_passes():
    from refsnn.checking import lee2016 as fam
    reports = [fam.check(p) for p in fam.points()]
    assert len(reports) == 10 and all(r.passed for r in reports), [(r.point.name, r.smooth_max_rel) for r in reports]


def test_count_loss_with_the_normaliser_held_constant_by_hand():
    # Counts (2, 4), target (1, 0), m = 4: o = (0.5, 1), o − y = (−0.5, 1), ∂L/∂n = (o − y)/m.
    _, dn = LR.count_loss(np.array([[2.0, 4.0]]), np.array([[1.0, 0.0]]), through_max=False)
    np.testing.assert_allclose(dn, [[-0.125, 0.25]])
    # The exact derivative gives the (wrong) winner (o_j* − y_j*)/m − Σ_j (o_j − y_j) o_j/m
    # = 0.25 − (−0.25 + 1)/4 = 0.0625, far less than 0.25.
    _, dn_exact = LR.count_loss(np.array([[2.0, 4.0]]), np.array([[1.0, 0.0]]))
    np.testing.assert_allclose(dn_exact, [[-0.125, 0.0625]])


# --------------------------------------------------------------------------- the event-stream generators


def test_poisson_digits_total_rate_and_permutation():
    from refsnn.training import event_streams as es
    rng = np.random.default_rng(3)           # digit-like images without scikit-learn's import cost
    flat = rng.uniform(0, 1, (60, 64)) * (rng.random((60, 64)) < 0.5)
    perm = np.random.default_rng(0).permutation(64)
    s = es.poisson_digits(flat, 50.0, 5000.0, rng=1, permutation=perm)
    # Expected events per sample: 5000/s · 0.05 s = 250; the mean of 60 Poisson(250) has sd ≈ 2.
    assert abs(s.valid.sum(axis=1).mean() - 250) < 10
    # Channel c carries pixel perm[c]: blank pixels never fire.
    counts = s.input_counts()
    assert np.all(counts[flat[:, perm] == 0] == 0)


def test_moving_digits_three_saccades_on_off():
    from refsnn.training import event_streams as es
    rng = np.random.default_rng(4)
    imgs = rng.uniform(0, 1, (6, 8, 8)) * (rng.random((6, 8, 8)) < 0.5)
    s = es.moving_digits(imgs, rng=0)
    assert s.duration == 300.0 and s.n_channels == 2 * 12 * 12
    ch = s.channels[s.valid]
    assert (ch % 2 == 0).any() and (ch % 2 == 1).any()          # ON and OFF events
    t = s.times[s.valid]
    # Speed ∝ sin² inside each 100 ms saccade: the middle 40 ms of each saccade holds more
    # events than the 40 ms around each turning point.
    mid = sum(((t > 100 * k + 30) & (t < 100 * k + 70)).sum() for k in range(3))
    ends = sum(((t > 100 * k - 20) & (t < 100 * k + 20)).sum() for k in range(4))
    assert mid > 2 * ends


# ---------------------------------------------------------------------------------------
# train_epoch: the recipe's steps in the documented order, with SGD and with Adam
# ---------------------------------------------------------------------------------------

def _epoch_setup(optimizer="sgd", rho=1e-3):
    cfgs = [LN.LeeConfig(tau_mp=50.0, t_ref=1.0, mu=-0.2, sigma=0.5), LN.LeeConfig(tau_mp=50.0, t_ref=1.0)]
    stream = _random_stream(11, B=4, M=5, P=60)
    params = _random_net(12)
    for p in params:
        p["W"] = np.abs(p["W"]) * 2.0                      # enough drive that both layers spike
    recipe = LR.LeeRecipe(alpha=(1.0, 1.0), eta_w=0.05, batch_size=4, rho=rho, optimizer=optimizer)
    recipe.v_floor = [p["v_th"] * recipe.floor_ratio for p in params]
    Y = np.eye(3)[[0, 1, 2, 0]]
    return cfgs, stream, params, recipe, Y


def test_train_epoch_sgd_is_simulate_backward_l6_threshold_regularisation_and_floor():
    """One batch (batch_size = S): the epoch equals the documented composition, and the
    caller's parameters are not modified."""
    cfgs, stream, params, recipe, Y = _epoch_setup()
    before = [{k: v.copy() for k, v in p.items()} for p in params]
    new, loss = LR.train_epoch(cfgs, params, recipe, stream, Y, np.random.default_rng(0))
    order = np.random.default_rng(0).permutation(stream.batch)
    sub = stream.take(order)
    cnt = [e.counts() for e in LN.simulate(cfgs, params, sub)]
    assert all(c.sum() > 0 for c in cnt)
    value, grads, _ = LR.lee_gradients(cfgs, params, sub.input_counts(), cnt, Y[order], recipe.beta, recipe.lam,
                                       [1.0, 1.0], True, False)
    assert loss == pytest.approx(value, rel=1e-12)
    for l in range(2):
        W = params[l]["W"] - recipe.eta_w * grads[l]["W"]
        v = params[l]["v_th"] - 0.1 * recipe.eta_w * grads[l]["v_th"] + LR.threshold_change(cnt[l], recipe.rho)
        v, W = LR.apply_threshold_floor(params[l]["v_th"], v, W, recipe.v_floor[l])
        np.testing.assert_allclose(new[l]["W"], W, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(new[l]["v_th"], v, rtol=1e-13, atol=1e-15)
        for k in before[l]:
            np.testing.assert_array_equal(params[l][k], before[l][k])


def test_train_epoch_adam_first_step_moves_each_entry_by_its_learning_rate():
    """Adam's bias-corrected first step is m̂/(√v̂ + ε) = g/(|g| + ε): every weight with a
    nonzero direction moves by η_w (less ε's share), every threshold by η_th = 0.1 η_w (with
    ρ = 0 and no floor hit), against the sign of L6's direction."""
    cfgs, stream, params, recipe, Y = _epoch_setup("adam", rho=0.0)
    st0 = LR.init_opt_state(recipe, params)
    new, loss, st = LR.train_epoch(cfgs, params, recipe, stream, Y, np.random.default_rng(0), opt_state=st0)
    order = np.random.default_rng(0).permutation(stream.batch)
    sub = stream.take(order)
    cnt = [e.counts() for e in LN.simulate(cfgs, params, sub)]
    _, grads, _ = LR.lee_gradients(cfgs, params, sub.input_counts(), cnt, Y[order], recipe.beta, recipe.lam,
                                   [1.0, 1.0], True, False)
    for l in range(2):
        g = grads[l]["W"]
        big = np.abs(g) > 1e-3                        # ε = 1e-8 is negligible here
        assert big.sum() > 5
        dW = new[l]["W"] - params[l]["W"]
        np.testing.assert_allclose(dW[big], -recipe.eta_w * np.sign(g[big]), rtol=1e-4)
        gt = grads[l]["v_th"]
        bt = np.abs(gt) > 1e-3
        np.testing.assert_allclose((new[l]["v_th"] - params[l]["v_th"])[bt], -0.1 * recipe.eta_w * np.sign(gt[bt]),
                                   rtol=1e-4)
    assert int(st["W"]["t"]) == 1 and int(st0["W"]["t"]) == 0      # the caller's state is not modified
    new2, _, st2 = LR.train_epoch(cfgs, new, recipe, stream, Y, np.random.default_rng(1), opt_state=st)
    assert int(st2["W"]["t"]) == 2


def test_train_epoch_optimizer_state_is_checked():
    cfgs, stream, params, recipe, Y = _epoch_setup("adam")
    with pytest.raises(ValueError, match="opt_state"):
        LR.train_epoch(cfgs, params, recipe, stream, Y, np.random.default_rng(0))
    cfgs, stream, params, recipe, Y = _epoch_setup("sgd")
    with pytest.raises(ValueError, match="opt_state"):
        LR.train_epoch(cfgs, params, recipe, stream, Y, np.random.default_rng(0),
                       opt_state=LR.init_opt_state(recipe, params))
    with pytest.raises(ValueError, match="optimizer"):
        LR.LeeRecipe(alpha=(1.0,), optimizer="rmsprop")


def test_regulariser_alternatives():
    """l2 is 2βλw; maxnorm scales every hidden row above α² back onto it and leaves the
    output layer alone; 'none' adds nothing; threshold_reg=False leaves the thresholds to L6."""
    cfgs, stream, params, recipe, Y = _epoch_setup()
    cnt = [e.counts() for e in LN.simulate(cfgs, params, stream)]
    args = (cfgs, params, stream.input_counts(), cnt, Y, 2.0, 0.1, [1.0, 1.0], True, False)
    _, g_none, _ = LR.lee_gradients(*args, regulariser="none")
    _, g_l2, _ = LR.lee_gradients(*args, regulariser="l2")
    np.testing.assert_allclose(g_l2[0]["W"] - g_none[0]["W"], 2 * 2.0 * 0.1 * params[0]["W"], rtol=1e-12)
    np.testing.assert_array_equal(g_l2[1]["W"], g_none[1]["W"])
    for p in params:
        p["W"] = p["W"] * 3.0                          # hidden rows far above α² = 1 ...
    params[0]["W"][0] *= 0.01                          # ... but row 0, which max-norm must leave alone
    assert np.sum(params[0]["W"][0] ** 2) < 0.5
    recipe.regulariser, recipe.eta_w = "maxnorm", 1e-9
    new, _ = LR.train_epoch(cfgs, params, recipe, stream, Y, np.random.default_rng(0))
    np.testing.assert_allclose(np.sum(new[0]["W"][1:] ** 2, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(new[0]["W"][0], params[0]["W"][0], rtol=1e-6, atol=1e-9)
    assert np.sum(new[1]["W"] ** 2, axis=1).max() > 1.5
    recipe.regulariser, recipe.threshold_reg = "none", False
    new, _ = LR.train_epoch(cfgs, params, recipe, stream, Y, np.random.default_rng(0))
    for l in range(2):
        np.testing.assert_allclose(new[l]["v_th"], params[l]["v_th"], atol=1e-6)
    with pytest.raises(ValueError, match="regulariser"):
        LR.LeeRecipe(alpha=(1.0,), regulariser="l1")
