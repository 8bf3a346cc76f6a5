"""The first-spike-time loss (refsnn.losses.first_spike_cross_entropy, L1–L4): its direct
partial against central differences, t̂ = t_f on binary spikes, the gradient zero after
t_f and equal to −g (t_f − τ) before it, and its grid rows."""

import numpy as np
import pytest

from refsnn import losses as L
from refsnn.checking import first_spike_grid
from refsnn.checking.gradcheck import check_gradient
from refsnn.neurons.lif import LIFConfig, Trajectory, init_params, layer_backward, layer_forward
from refsnn.surrogates import surrogate


def _traj(s):
    T, B, N = s.shape
    return Trajectory(LIFConfig(1, N), None, np.zeros_like(s), s, None, None, {}, np.zeros((B, N)))


@pytest.mark.parametrize("tau", [0.5, 2.0, 7.0])
def test_partial_matches_central_differences(tau):
    """L4 is the exact derivative of L3∘L2 for spikes anywhere in (0, 1) (the smooth twin's)."""
    rng = np.random.default_rng(int(tau * 10))
    s = rng.uniform(0.02, 0.98, (7, 3, 4))
    y = rng.integers(0, 4, 3)
    ds = L.first_spike_cross_entropy(_traj(s), y, tau).ds
    r = check_gradient(lambda a: L.first_spike_cross_entropy(_traj(a), y, tau).value, s, ds,
                       eps=1e-4, order=4, rtol=1e-7, floor=1e-4)
    assert r.passed, r


def test_soft_time_is_the_first_spike_step_on_binary_spikes():
    rng = np.random.default_rng(0)
    s = (rng.uniform(size=(9, 5, 6)) < 0.2).astype(float)
    s[:, 0, 0] = 0.0                                   # a silent neuron: t_f = T
    t_f = L.first_spike_times(s)
    t_hat, _ = L.soft_first_spike_time(s)
    np.testing.assert_array_equal(t_hat, t_f)
    assert t_f[0, 0] == 9
    for b, n in np.ndindex(5, 6):
        nz = np.flatnonzero(s[:, b, n])
        assert t_f[b, n] == (nz[0] if nz.size else 9)


def test_partial_is_zero_after_tf_and_minus_g_times_distance_before():
    """Binary spikes: a^s_τ = 0 for τ > t_f; a^s_τ = −g (t_f − τ) for τ < t_f; and at t_f
    it is −g (1 + steps to the next spike, or to T)."""
    s = np.zeros((10, 1, 2))
    s[[3, 7], 0, 0] = 1.0                 # neuron 0: t_f = 3, next spike at 7
    s[[5], 0, 1] = 1.0                    # neuron 1: t_f = 5, no second spike
    tau = 2.0
    loss = L.first_spike_cross_entropy(_traj(s), np.array([1]), tau)
    p = np.exp(-np.array([3.0, 5.0]) / tau)
    p /= p.sum()
    g = -(p - np.array([0.0, 1.0])) / tau
    for n, tf, after in ((0, 3, 7 - 3), (1, 5, 10 - 5)):
        a = loss.ds[:, 0, n]
        np.testing.assert_allclose(a[tf + 1:], 0.0, atol=0)
        np.testing.assert_allclose(a[:tf], -g[n] * (tf - np.arange(tf)), rtol=1e-12)
        np.testing.assert_allclose(a[tf], -g[n] * after, rtol=1e-12)


def test_membrane_adjoint_is_zero_after_the_first_spike_in_surrogate_mode():
    """The claim notebook 10's figure shows: δv_t = 0 for t > t_f in the output layer."""
    rng = np.random.default_rng(4)
    cfg = LIFConfig(3, 4, surrogate=surrogate("sigmoid", 4.0), synapse=True)
    P = init_params(cfg, rng, w_scale=2.0, b=0.1)
    tr = layer_forward(cfg, P, rng.normal(0.5, 1.0, (20, 2, 3)))
    loss = L.first_spike_cross_entropy(tr, np.array([0, 1]), 2.0)
    dv = layer_backward(tr, P, loss.ds).adjoints["dv"]
    t_f = L.first_spike_times(tr)
    assert np.sum(t_f < 20) >= 6
    before = 0.0
    for b, n in np.ndindex(2, 4):
        assert np.all(dv[t_f[b, n] + 1:, b, n] == 0)
        before += np.abs(dv[:t_f[b, n] + 1, b, n]).sum()
    assert before > 0


def test_bad_arguments_are_named():
    s = np.zeros((3, 2, 2))
    with pytest.raises(ValueError, match="tau"):
        L.first_spike_cross_entropy(_traj(s), np.array([0, 1]), 0.0)
    with pytest.raises(ValueError, match="labels"):
        L.first_spike_cross_entropy(_traj(s), np.array([0, 2]), 1.0)


@pytest.mark.parametrize("index", [0, 9])
def test_grid_rows_pass_both_exact_routes(index):
    point = first_spike_grid.points()[index]
    rep = first_spike_grid.check_point(point)
    assert rep.passed, rep


def test_cli_lists_and_passes_a_first_spike_row(capsys):
    from refsnn import cli
    from refsnn.checking import families

    rows = {name for fam, _, name in families.rows(["conv", "first_spike"])}
    assert "first_spike:none/detach" in rows and "conv:k3s2p1/subtract/ce_count" in rows
    assert len(rows) == len(conv_points()) + len(first_spike_grid.points())
    import json
    code = cli.main(["gradcheck", "--json", "--jobs", "1", "--only", "first_spike:none/detach"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["n_failed"] == 0 and len(out["rows"]) == 1


def conv_points():
    from refsnn.checking import conv_grid
    return conv_grid.points()
