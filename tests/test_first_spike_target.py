"""The seed's own first-spike losses (refsnn.losses L5, L6): partials against central
differences, the seed's 'nothing after t_f' property, where each can train, and their
gradcheck rows."""

import numpy as np
import pytest

from refsnn import losses as L
from refsnn.checking import families, first_spike_target_family as F
from refsnn.checking.gradcheck import check_gradient
from refsnn.neurons.lif import LIFConfig, Trajectory


def _traj(s):
    T, B, N = s.shape
    return Trajectory(LIFConfig(1, N), None, np.zeros_like(s), s, None, None, {}, np.zeros((B, N)))


def test_time_mse_partial_L5_matches_central_differences():
    rng = np.random.default_rng(5)
    s = rng.uniform(0.02, 0.98, (7, 3, 4))
    t_star = rng.uniform(0, 7, (3, 4))
    loss = L.first_spike_time_mse(_traj(s), t_star)
    r = check_gradient(lambda a: L.first_spike_time_mse(_traj(a), t_star).value, s, loss.ds,
                       eps=1e-4, order=4, rtol=1e-7, floor=1e-4 * max(1.0, loss.value))   # verify's FLOOR scaling
    assert r.passed, r


@pytest.mark.parametrize("eps", [1e-3, 0.5])
def test_likelihood_partial_L6_matches_central_differences(eps):
    rng = np.random.default_rng(6)
    s = rng.uniform(0.05, 0.95, (6, 3, 4))
    t_star = rng.integers(0, 6, (3, 4))
    t_star[0, 0], t_star[0, 1] = 0, 5                 # both ends of the trial
    loss = L.first_spike_likelihood(_traj(s), t_star, eps)
    r = check_gradient(lambda a: L.first_spike_likelihood(_traj(a), t_star, eps).value, s, loss.ds,
                       eps=1e-5, order=4, rtol=1e-7, floor=1e-4 * max(1.0, loss.value))
    assert r.passed, r


def test_likelihood_value_is_the_seed_probability_by_hand():
    # one neuron, T = 4, spike probabilities 0.1, 0.2, 0.5, 0.3: P(first at t* = 2) = 0.9·0.8·0.5
    s = np.array([0.1, 0.2, 0.5, 0.3]).reshape(4, 1, 1)
    l = L.first_spike_likelihood(_traj(s), np.array([[2]]), eps=1e-12)
    assert l.value == pytest.approx(-np.log(0.9 * 0.8 * 0.5 + 1e-12), rel=1e-12)
    # ∂P/∂s_2 = 0.9·0.8, ∂P/∂s_0 = −0.8·0.5, ∂P/∂s_1 = −0.9·0.5, nothing after t*
    P = 0.36
    np.testing.assert_allclose(l.ds[:, 0, 0], -np.array([-0.4, -0.45, 0.72, 0.0]) / (P + 1e-12), rtol=1e-10)


def test_binary_spikes_nothing_after_the_first_spike_and_where_each_loss_can_train():
    s = np.zeros((8, 1, 2))
    s[[2, 5], 0, 0] = 1.0          # neuron 0 fires at 2 (too early for t* = 5) and at 5
    s[1, 0, 1] = 1.0               # neuron 1 fires at 1 only (too early for t* = 4)
    t_star = np.array([[5, 4]])
    mse = L.first_spike_time_mse(_traj(s), t_star.astype(float))
    # L5: t̂ = t_f, partial −(t_f − t*) S_{τ−1} R_τ / B: zero after t_f, nonzero before
    for n, tf in ((0, 2), (1, 1)):
        assert np.all(mse.ds[tf + 1:, 0, n] == 0) and np.all(mse.ds[:tf + 1, 0, n] != 0)
    # before t_f, R_τ = t_f − τ: a^s_τ = −(t_f − t*)(t_f − τ) = 3 (2 − τ) > 0, a spike there
    # would move the (already too early) first spike earlier still
    np.testing.assert_allclose(mse.ds[:2, 0, 0], -(2 - 5) * (2 - np.arange(2)), rtol=1e-12)
    lik = L.first_spike_likelihood(_traj(s), t_star, eps=1e-3)
    # L6 on binary spikes: nothing after t*; neuron 1 (early, silent at t*) gets no gradient at all
    assert np.all(lik.ds[6:, 0, 0] == 0) and np.all(lik.ds[5:, 0, 1] == 0)
    assert np.all(lik.ds[:, 0, 1] == 0)
    # neuron 0 also fires at t*: only its early spike is pushed (∂P/∂s_2 = −s_5 Π others = −1)
    assert lik.ds[2, 0, 0] > 0 and np.count_nonzero(lik.ds[:, 0, 0]) == 1


def test_bad_targets_are_named():
    s = np.zeros((4, 2, 3))
    with pytest.raises(ValueError, match="t_star has shape"):
        L.first_spike_time_mse(_traj(s), np.zeros((3, 2)))
    with pytest.raises(TypeError, match="integer"):
        L.first_spike_likelihood(_traj(s), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"\[0, 3\]"):
        L.first_spike_likelihood(_traj(s), np.full((2, 3), 4))
    with pytest.raises(ValueError, match="eps"):
        L.first_spike_likelihood(_traj(s), np.zeros((2, 3), int), eps=0.0)


def test_family_rows_are_registered_and_two_of_them_pass():
    names = {row for _, _, row in families.rows(["first_spike_target"])}
    assert len(names) == 16 and "first_spike_target:subtract/adapt/syn/rec/likelihood" in names
    for pt in (F.TargetPoint("subtract", True, "likelihood"), F.TargetPoint("hard_drop_input", False, "time_mse")):
        rep = F.check_point(pt)
        assert rep.passed, rep
        assert rep.piecewise_checked > 50
