"""EventProp (refsnn.neurons.eventprop): exact spike times, the adjoint against central
differences of the exact forward, the fast paths against the event loop, the grid twin.

Expected numbers are derived in the comments."""

import math

import numpy as np
import pytest
from scipy.special import lambertw

from refsnn.checking import eventprop_grid as G
from refsnn.checking import eventprop_lie as LIE
from refsnn.neurons import eventprop as E


# --------------------------------------------------------------------------- exact spike times


def test_spike_time_closed_forms_by_hand():
    # One input jump W = 5 at t = 0 (V_0 = 0, I_0 = 5), θ = 1.
    # τ_m = 2τ_s = 10: V = 5(x − x²), x = e^{−t/10}; 5x² − 5x + 1 = 0, earliest = larger x
    # x = (5 + √5)/10, t = −10 ln x.
    cfg = E.EventPropConfig(10.0, 5.0, 1.0, 40.0)
    rec = E.layer_forward(cfg, np.array([[5.0]]), np.array([[[0.0]]]))
    assert rec.times[0, 0, 0] == pytest.approx(-10 * math.log((5 + math.sqrt(5)) / 10), rel=1e-14)
    # τ_m = τ_s = 5: V = 5 u e^{−u}, u = t/5; u e^{−u} = 1/5 → u = −W_0(−1/5).
    cfg = E.EventPropConfig(5.0, 5.0, 1.0, 40.0)
    rec = E.layer_forward(cfg, np.array([[5.0]]), np.array([[[0.0]]]))
    assert rec.times[0, 0, 0] == pytest.approx(-5 * lambertw(-0.2, 0).real, rel=1e-14)


@pytest.mark.parametrize("taus", [(10.0, 5.0), (5.0, 5.0)])
def test_closed_form_equals_bisection(taus):
    rng = np.random.default_rng(0)
    cfg = E.EventPropConfig(*taus, 1.0, 40.0)
    V = rng.uniform(-1, 0.99, 400)
    I = rng.uniform(1.0, 8.0, 400)
    h = rng.uniform(0.1, 30, 400)
    d, has = E.crossing(cfg, V, I, h)
    assert has.sum() > 100
    lo = np.zeros(has.sum())
    d_bis = E._bracket_root(cfg, V[has], I[has], lo, d[has] * 1.5 + 1e-3, method="bisection")
    # R5 alone (no Newton polish): 40 halvings of a bracket shorter than 50 leave < 5e-11
    np.testing.assert_allclose(d[has], d_bis, rtol=0, atol=5e-11)


@pytest.mark.parametrize("taus", [(10.0, 5.0), (5.0, 5.0), (20.0, 5.0)])
def test_spikes_lie_on_threshold_and_no_crossing_is_missed(taus):
    cfg = E.EventPropConfig(*taus, 1.0, 40.0)
    rng = np.random.default_rng(1)
    W = rng.normal(1.0, 1.0, (3, 4))
    t_in = np.sort(rng.uniform(0, 15, (1, 4, 2)), axis=2)
    rec = E.layer_forward(cfg, W, t_in)
    assert rec.counts.sum() >= 3
    # Re-simulate every neuron on a fine grid of the closed form: V(t_e^-) = θ, V < θ elsewhere.
    ev = sorted((t, j) for j in range(4) for t in t_in[0, j])
    for i in range(3):
        spikes = list(rec.times[0, i][np.isfinite(rec.times[0, i])])
        V, I, t = 0.0, 0.0, 0.0
        marks = [(tt, "in", j) for tt, j in ev] + [(s, "spike", None) for s in spikes]
        for tt, kind, j in sorted(marks) + [(cfg.t_end, "end", None)]:
            grid = np.linspace(0, tt - t, 200)[1:-1]
            Vg, _ = E.advance(cfg, V, I, grid)
            assert (Vg < cfg.theta + 1e-12).all()
            V, I = E.advance(cfg, V, I, tt - t)
            t = tt
            if kind == "in":
                I += W[i, j]
            elif kind == "spike":
                assert V == pytest.approx(cfg.theta, abs=1e-12)
                V = 0.0


def test_fast_paths_equal_the_event_loop():
    for taus in [(10.0, 5.0), (5.0, 5.0), (20.0, 5.0)]:
        cfg = E.EventPropConfig(*taus, 1.0, 30.0)
        rng = np.random.default_rng(2)
        t_in = rng.uniform(0, 10, (6, 20, 2))
        W = rng.normal(0.3, 0.5, (4, 20))
        fast = E.layer_forward(cfg, W, t_in, 1)
        slow = E.layer_forward(cfg, W, t_in, 1, path="readable")
        assert np.isfinite(fast.times).sum() >= 12
        np.testing.assert_array_equal(np.isfinite(fast.times), np.isfinite(slow.times))
        np.testing.assert_allclose(fast.times, slow.times, rtol=1e-13)
        np.testing.assert_array_equal(fast.interval, slow.interval)
        g = rng.normal(size=slow.times.shape)
        for a, b in zip(E.layer_backward(cfg, W, slow, g), E.layer_backward(cfg, W, slow, g, path="readable")):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_max_spikes_one_is_the_first_spike():
    cfg = E.EventPropConfig(10.0, 5.0, 1.0, 40.0)
    rng = np.random.default_rng(3)
    W = rng.normal(1.5, 1.0, (5, 4))
    t_in = rng.uniform(0, 10, (3, 4, 2))
    full = E.layer_forward(cfg, W, t_in)
    first = E.layer_forward(cfg, W, t_in, max_spikes=1, path="readable")
    assert full.times.shape[2] > 1
    np.testing.assert_array_equal(first.times[:, :, 0], full.times[:, :, 0])


# --------------------------------------------------------------------------- the adjoint


def _small(point, seed=0):
    return G.make_problem(point, seed, B=1, M=3, K_in=2, N1=4, N2=2)


@pytest.mark.parametrize("point", G.points(), ids=lambda p: p.name)
def test_adjoint_matches_central_differences(point):
    problem = _small(point)
    grads, g_in, recs, *gRs = problem.gradients()
    assert recs[0].counts.max() >= 2 and recs[1].counts.sum() >= 2, "the problem must exercise both layers"
    res = G.fd_check(problem, grads, g_in, gRs=gRs[0] if gRs else None)
    assert [r[0] for r in res][-2:] == (["R0", "R1"] if point.recurrent else ["W1", "t_in"])
    for name, worst, where, checked, skipped in res:
        assert checked > 0
        assert worst <= G.RTOL_EVENTPROP, f"{point.name} {name}{list(where)}: rel error {worst:.2e}"
    # nothing trivially zero: the gradients are not all zero
    assert all(np.abs(g).max() > 1e-6 for g in grads)


def test_perturbations_that_change_a_spike_are_skipped():
    # One neuron, one input, weight just above the firing boundary: W = 4(1 + 1e-5) peaks at
    # W/4 = θ(1 + 1e-5) (τ_m = 2τ_s), so W − 1e-3 makes it silent: the weight's only step
    # flips the spike (skipped); shifting the input time shifts the spike (checked).
    cfg = E.EventPropConfig(10.0, 5.0, 1.0, 40.0)
    prob = G.Problem(cfg, [np.array([[4.0 * (1 + 1e-5)]])], np.array([[[1.0]]]), "all_spikes",
                     [np.ones((1, 1, 64))], np.zeros(1, np.int64))
    grads, g_in, recs = prob.gradients()
    assert recs[0].counts.sum() == 1
    res = G.fd_check(prob, grads, g_in, eps=(1e-3,))
    assert np.abs(grads[0]).max() > 1e2              # grazing: dt/dW = −(∂V/∂W)/V̇ with V̇ ≈ 0
    assert res[0][3] == 0 and res[0][4] == 1        # W: skipped
    assert res[1][3] == 1 and res[1][1] < 1e-9       # the input time shifts the spike: checked


# --------------------------------------------------------------------------- recurrent layers (M2r, J4r, G1r)


def test_recurrent_spike_times_by_hand():
    # τ_m = 2τ_s = 10, one input at 0 into neuron 0 only (W = 5); neuron 0's spike at t_a (the
    # closed form of test_spike_time_closed_forms_by_hand) jumps I_1 by R_10 = 5 from rest, so
    # neuron 1 repeats neuron 0's trajectory shifted by t_a: it fires at 2 t_a. R_01 = −3 reaches
    # neuron 0 after its only spike (its V and I are below θ from then on: no second spike).
    cfg = E.EventPropConfig(10.0, 5.0, 1.0, 40.0)
    t_a = -10 * math.log((5 + math.sqrt(5)) / 10)
    R = np.array([[0.0, -3.0], [5.0, 0.0]])
    rec = E.layer_forward(cfg, np.array([[5.0], [0.0]]), np.array([[[0.0]]]), R=R)
    np.testing.assert_array_equal(rec.counts, [[1, 1]])
    assert rec.times[0, 0, 0] == pytest.approx(t_a, rel=1e-14)
    assert rec.times[0, 1, 0] == pytest.approx(2 * t_a, rel=1e-14)
    # without R_10 neuron 1 stays silent
    rec0 = E.layer_forward(cfg, np.array([[5.0], [0.0]]), np.array([[[0.0]]]), R=np.zeros((2, 2)))
    np.testing.assert_array_equal(rec0.counts, [[1, 0]])


def test_recurrent_zero_R_is_the_feed_forward_layer():
    # R = 0: M2r adds nothing, so the spikes and W's and the inputs' gradients are the feed-forward
    # ones; the row-wise loop advances every neuron to each spike of the row (more, shorter steps of
    # M4–M5), so the times agree to rounding, not bit for bit. dℒ/dR = 0 is not implied: G1r is the
    # gradient at R = 0, nonzero where a spike precedes another neuron's spike.
    cfg = E.EventPropConfig(20.0, 5.0, 1.0, 40.0)
    rng = np.random.default_rng(5)
    W = rng.normal(1.2, 1.0, (5, 4))
    t_in = rng.uniform(0, 20, (3, 4, 2))
    for max_spikes in (None, 1):
        ff = E.layer_forward(cfg, W, t_in, max_spikes)
        rr = E.layer_forward(cfg, W, t_in, max_spikes, R=np.zeros((5, 5)))
        assert ff.counts.max() >= (2 if max_spikes is None else 1)
        np.testing.assert_array_equal(ff.counts, rr.counts)
        np.testing.assert_array_equal(ff.interval, rr.interval)
        np.testing.assert_allclose(rr.times, ff.times, rtol=1e-13)
        g = rng.normal(size=ff.times.shape)
        gW, g_in = E.layer_backward(cfg, W, ff, g)
        gW_r, g_in_r, gR = E.layer_backward(cfg, W, rr, g, R=np.zeros((5, 5)))
        np.testing.assert_allclose(gW_r, gW, rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(g_in_r, g_in, rtol=1e-11, atol=1e-13)
        assert np.abs(gR).max() > 1e-3 and np.all(np.diag(gR) == 0.0)


def test_recurrent_without_J4r_sum_fails_the_check():
    # The same backward with R = 0 given to the adjoint (the forward keeps R) drops J4r's
    # Σ_j R_ji(λ_V,j − λ_I,j): W's and the inputs' gradients then miss the spikes' effect
    # through R, and the central differences must see it.
    problem = _small(G.EventPropPoint("quadratic", "all_spikes", True))
    _, recs = problem.value()
    K = [rec.times.shape[2] for rec in recs]
    g_hidden = [problem.r[0][:, :, :K[0]], None]
    zeros = [np.zeros_like(R) for R in problem.Rs]
    grads, g_in, _ = E.backward(problem.cfg, problem.Ws, recs, problem.r[1][:, :, :K[1]], g_hidden, Rs=zeros)
    res = G.fd_check(problem, grads, g_in, eps=(1e-3,))
    assert max(r[1] for r in res) > 1e-4, res


def test_recurrent_bad_R_names_the_argument():
    cfg = E.EventPropConfig()
    t_in = np.ones((1, 3, 1))
    with pytest.raises(ValueError, match="R must have a zero diagonal"):
        E.layer_forward(cfg, np.ones((2, 3)), t_in, R=np.eye(2))
    with pytest.raises(ValueError, match="R"):
        E.layer_forward(cfg, np.ones((2, 3)), t_in, R=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="Rs"):
        E.forward(cfg, [np.ones((2, 3))], t_in, Rs=[None, None])


def test_gradcheck_family_registered():
    from refsnn.checking.families import families
    fam = families()["eventprop"]
    assert [p.name for p in fam.points()] == [p.name for p in G.points()]


def test_first_spike_loss_partials():
    rng = np.random.default_rng(4)
    t = rng.uniform(1, 10, (4, 3))
    t[0, 1] = np.inf
    y = np.array([0, 2, 1, 1])
    val, g = E.first_spike_loss(t, y, 1.5, 0.01, 8.0, t_silent=30.0)
    assert g[0, 1] == 0.0
    for idx in [(0, 0), (1, 2), (2, 0), (3, 1)]:
        tp, tm = t.copy(), t.copy()
        tp[idx] += 1e-6
        tm[idx] -= 1e-6
        num = (E.first_spike_loss(tp, y, 1.5, 0.01, 8.0, 30.0)[0] - E.first_spike_loss(tm, y, 1.5, 0.01, 8.0, 30.0)[0]) / 2e-6
        assert g[idx] == pytest.approx(num, rel=1e-6)


# --------------------------------------------------------------------------- the grid twin and the lie


def test_grid_twin_first_spikes_converge_first_order():
    cfg, Ws, t_in, labels = LIE.lie_problem(0, B=3)
    from refsnn.neurons.network import network_forward
    t_exact = E.first_spike_times(E.forward(cfg, Ws, t_in)[-1])
    errs = []
    for dt in (0.1, 0.01):
        net, params, x = E.grid_twin(cfg, Ws, t_in, dt)
        s = network_forward(net, params, x)[-1].s
        t_grid = np.argmax(s > 0.5, axis=0) * dt
        errs.append(np.abs(t_grid - t_exact).max())
    # the grid's spikes lag by less than a few steps, and the error shrinks with dt
    assert errs[0] < 5 * 0.1 and errs[1] < 5 * 0.01


def test_surrogate_vs_exact_rows():
    rows = LIE.surrogate_vs_exact([0.5, 0.05], scales={"triangle": (1.0,)})
    assert [r[2] for r in rows] == [0.5, 0.05]
    for fam, k, dt, cos, rel, ratio, gap in rows:
        assert -1 <= cos <= 1 and rel >= 0 and ratio > 0
    # at the coarse step the wide triangle tracks the exact gradient; as dt → 0 its norm grows
    # (a wrong chain-rule factor dt/τ_m in the grid twin would move both)
    assert rows[0][3] > 0.85 and 0.7 < rows[0][5] < 1.5, rows[0]
    assert rows[1][5] > 2 * rows[0][5], rows
    assert rows[1][6] < rows[0][6]              # the forward passes converge


def test_bad_input_names_the_argument():
    cfg = E.EventPropConfig()
    with pytest.raises(ValueError, match="t_in"):
        E.layer_forward(cfg, np.ones((2, 3)), np.ones((1, 3, 1), np.float32))
    with pytest.raises(ValueError, match="t_in"):
        E.layer_forward(cfg, np.ones((2, 3)), -np.ones((1, 3, 1)))
    with pytest.raises(ValueError, match="tau_s"):
        E.EventPropConfig(tau_s=0.0)
    with pytest.raises(ValueError, match="max_spikes"):
        E.forward(cfg, [np.ones((2, 3))], np.ones((1, 3, 1)), max_spikes=[1, 1])
    with pytest.raises(ValueError, match="labels"):
        E.first_spike_loss(np.ones((2, 3)), np.array([0, 3]), 1.0)


def test_gradcheck_row_is_json(monkeypatch):
    # `refsnn gradcheck --json` dumps each row's as_dict(): plain Python numbers, not NumPy scalars
    import json
    point = G.EventPropPoint("quadratic", "first_spike")
    make = G.make_problem
    monkeypatch.setattr(G, "make_problem", lambda p, seed: make(p, seed, B=1, M=3, K_in=2, N1=4, N2=2))
    row = json.loads(json.dumps(G.check(point).as_dict()))
    assert row["passed"] is True and row["piecewise_checked"] > 0 and row["recurrent"] is False


def test_norses_adjoint_lif_converges_to_the_exact_gradient():
    """Norse's adjoint LIF is EventProp on a grid (benchmarks/bench_eventprop_norse.py derives
    the constant): −(τ_s/τ_m) times its weight gradient approaches G1 as dt → 0, its error
    shrinking with dt; a wrong constant or a wrong G1 would leave a fixed gap."""
    import importlib.util
    import pathlib
    path = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "bench_eventprop_norse.py"
    spec = importlib.util.spec_from_file_location("bench_eventprop_norse", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    coarse, fine = bench.compare(10.0, 5.0, 0.1), bench.compare(10.0, 5.0, 0.02)
    assert coarse["same_counts"] and fine["same_counts"]
    assert fine["cos"] > 0.99999 and fine["rel"] < 1e-2
    assert fine["rel"] < 0.3 * coarse["rel"]
