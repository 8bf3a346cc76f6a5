"""Each loss's direct partials ∂L/∂s_t, ∂L/∂v_t against central differences of the
loss as a function of the stored s and v, plus known values."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from refsnn import losses as L
from refsnn.gradcheck import check_gradient
from refsnn.lif import LIFConfig, Trajectory


def _traj(s, v, spiking=True):
    T, B, N = v.shape
    cfg = LIFConfig(1, N, reset="subtract" if spiking else "none", spiking=spiking)
    return Trajectory(cfg, np.zeros((T, B, 1)), v, s, None, None, {"v": np.zeros((B, N))}, np.zeros((B, N)))


def _loss_cases(rng, T, B, N):
    labels = rng.integers(0, N, B)
    target = rng.normal(size=(T, B, N))
    y = rng.normal(size=(B, N))
    return {
        "ce_count": lambda tr: L.spike_count_cross_entropy(tr, labels),
        "trace_mse_s": lambda tr: L.trace_mse(tr, target, eta=0.7, on="s"),
        "trace_mse_v": lambda tr: L.trace_mse(tr, target, eta=0.7, on="v"),
        "membrane": lambda tr: L.membrane_rate_loss(tr, y),
        "membrane_T": lambda tr: L.membrane_rate_loss(tr, target),
        "l1": lambda tr: L.spike_count_l1(tr, 0.3),
        "l2": lambda tr: L.spike_count_l2(tr, 0.3),
        "mce_max": lambda tr: L.membrane_cross_entropy(tr, labels, "max"),
        "mce_mean": lambda tr: L.membrane_cross_entropy(tr, labels, "mean"),
    }


@given(st.integers(0, 2**31 - 1), st.integers(1, 5), st.integers(1, 4), st.integers(1, 4),
       st.sampled_from(["ce_count", "trace_mse_s", "trace_mse_v", "membrane", "membrane_T", "l1", "l2",
                        "mce_max", "mce_mean"]))
def test_direct_partials_match_central_differences(seed, T, B, N, name):
    rng = np.random.default_rng(seed)
    s = rng.uniform(0, 1, (T, B, N))     # continuous "spikes": the loss is a smooth function of them
    v = rng.normal(size=(T, B, N))
    loss = _loss_cases(rng, T, B, N)[name]
    out = loss(_traj(s, v))
    for var, grad in (("s", out.ds), ("v", out.dv)):
        other = v if var == "s" else s
        f = (lambda a: loss(_traj(a, other)).value) if var == "s" else (lambda a: loss(_traj(other, a)).value)
        analytic = np.zeros_like(s) if grad is None else grad
        res = check_gradient(f, s if var == "s" else v, analytic, name=f"{name}/{var}", eps=1e-4,
                             order=4, rtol=1e-8, floor=1e-6)
        assert res.passed, str(res)
    assert np.isclose(out.value, loss(_traj(s, v)).value)


def test_cross_entropy_known_value_and_spread_over_time():
    # two classes, counts (3, 1): p = softmax(3, 1); label 0
    s = np.zeros((4, 1, 2))
    s[:3, 0, 0] = 1
    s[0, 0, 1] = 1
    out = L.spike_count_cross_entropy(_traj(s, np.zeros_like(s)), np.array([0]))
    p0 = np.exp(3) / (np.exp(3) + np.exp(1))
    assert out.value == pytest.approx(-np.log(p0), rel=1e-14)
    # seed 002: the same p − y at every step
    for t in range(4):
        np.testing.assert_allclose(out.ds[t, 0], [p0 - 1, 1 - p0], rtol=1e-14)


def test_rate_loss_known_value():
    v = np.array([[[1.0]], [[3.0]]])         # T=2, B=1, N=1
    out = L.membrane_rate_loss(_traj(np.zeros_like(v), v), np.array([[2.0]]))
    assert out.value == 0.5 * (1 + 1)
    np.testing.assert_array_equal(out.dv[:, 0, 0], [-1.0, 1.0])


def test_trace_mse_filter():
    s = np.zeros((3, 1, 1))
    s[0] = 1.0
    out = L.trace_mse(_traj(s, np.zeros_like(s)), np.zeros_like(s), eta=0.5)
    # z = (1, 0.5, 0.25); value = ½ mean(z²)
    assert out.value == pytest.approx(0.5 * (1 + 0.25 + 0.0625) / 3, rel=1e-14)


def test_combine_adds_values_and_partials():
    rng = np.random.default_rng(0)
    s = rng.uniform(size=(3, 2, 2))
    tr = _traj(s, rng.normal(size=s.shape))
    a, b = L.spike_count_l1(tr, 0.2), L.membrane_rate_loss(tr, np.zeros((2, 2)))
    c = L.combine(a, b)
    assert c.value == a.value + b.value
    np.testing.assert_array_equal(c.ds, a.ds)
    np.testing.assert_array_equal(c.dv, b.dv)


def test_spike_losses_reject_non_spiking_layer():
    v = np.zeros((2, 1, 2))
    with pytest.raises(ValueError, match="non-spiking"):
        L.spike_count_l1(_traj(np.zeros_like(v), v, spiking=False))


def test_membrane_cross_entropy_at_holds_the_argmax():
    """at = the argmax gives the same loss and partials; another step reads v there,
    and its partial lands on that step only."""
    rng = np.random.default_rng(0)
    v = rng.normal(size=(6, 3, 4))
    tr = _traj(np.zeros_like(v), v, spiking=False)
    labels = np.array([0, 3, 1])
    ref = L.membrane_cross_entropy(tr, labels)
    same = L.membrane_cross_entropy(tr, labels, at=np.argmax(v, axis=0))
    assert same.value == ref.value
    np.testing.assert_array_equal(same.dv, ref.dv)
    at = np.zeros((3, 4), dtype=np.int64)                  # read every logit at t = 0
    first = L.membrane_cross_entropy(tr, labels, at=at)
    ce0 = L.membrane_cross_entropy(_traj(np.zeros_like(v[:1]), v[:1], spiking=False), labels)
    assert first.value == pytest.approx(ce0.value, rel=1e-14)
    assert not np.any(first.dv[1:]) and np.any(first.dv[0])
    with pytest.raises(ValueError, match="at"):
        L.membrane_cross_entropy(tr, labels, at=at + 6)
