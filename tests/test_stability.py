"""Seed 000 §6 with spikes (refsnn.neurons.stability): the effective Jacobian J1 is the
map that layer_backward applies (J2), in every reset kind, attached and detached, with
and without recurrence, on the Heaviside forward and on the smooth twin."""

import itertools

import numpy as np
import pytest

from refsnn.neurons import stability as S
from refsnn.neurons.lif import LIFConfig, RESET_KINDS, init_params, layer_backward, layer_forward, smooth_twin
from refsnn.surrogates import surrogate


def _layer(reset, detach, recurrent, smooth=False, init_spike="from_v0", seed=0, T=12, B=3, M=3, N=5):
    rng = np.random.default_rng(seed)
    cfg = LIFConfig(M, N, surrogate=surrogate("sigmoid", 4.0), reset=reset, detach_reset=detach,
                    recurrent=recurrent, init_spike=init_spike)
    if smooth:
        cfg = smooth_twin(cfg)
    p = init_params(cfg, rng, w_scale=2.0, r_scale=1.5, b=0.4, alpha=rng.uniform(0.7, 0.95, N),
                    v_reset=rng.uniform(-0.3, 0.3, N), gamma=rng.uniform(0.6, 1.2, N))
    x = rng.normal(0.5, 1.0, (T, B, M))
    traj = layer_forward(cfg, p, x, {"v": rng.normal(0.5, 0.5, (B, N))})
    return cfg, p, traj


@pytest.mark.parametrize("reset, detach, recurrent, smooth", [
    c for c in itertools.product(RESET_KINDS, (False, True), (False, True), (False, True))])
def test_jacobian_product_is_the_adjoint_of_layer_backward(reset, detach, recurrent, smooth):
    cfg, p, traj = _layer(reset, detach, recurrent, smooth)
    assert traj.s.sum() > 0
    T, B, N = traj.v.shape
    a = np.random.default_rng(1).normal(size=(B, N))
    dv = np.zeros((T, B, N))
    dv[-1] = a
    g = layer_backward(traj, p, dv=dv)
    got = S.adjoint_from_jacobians(S.step_jacobians(traj, p), a)
    np.testing.assert_allclose(got, g.state0["v"], rtol=1e-10, atol=1e-12)


def test_init_spike_zero_drops_the_first_surrogate_term():
    cfg, p, traj = _layer("subtract", False, True, init_spike="zero")
    T, B, N = traj.v.shape
    dv = np.zeros((T, B, N))
    dv[-1] = 1.0
    g = layer_backward(traj, p, dv=dv)
    np.testing.assert_allclose(S.adjoint_from_jacobians(S.step_jacobians(traj, p), dv[-1]), g.state0["v"],
                               rtol=1e-10, atol=1e-12)


def test_hard_reset_cuts_the_leak_row_at_a_spike_and_soft_reset_adds_minus_gamma_sigma():
    # one neuron, no recurrence: J_t is the scalar α g^m_t − [attached] r_t σ'_{t−1}
    cfg = LIFConfig(1, 1, surrogate=surrogate("sigmoid", 4.0), reset="hard_keep_input", detach_reset=True)
    p = init_params(cfg, 0, alpha=0.9, theta=1.0, v_reset=0.0, b=0.0)
    p["W"][:] = 1.0
    x = np.array([0.0, 2.0, 0.0, 0.0]).reshape(4, 1, 1)
    traj = layer_forward(cfg, p, x, {"v": np.zeros((1, 1))})
    J = S.step_jacobians(traj, p)[:, 0, 0, 0]
    assert traj.s[1, 0, 0] == 1 and traj.s[2, 0, 0] == 0
    np.testing.assert_allclose(J, [0.9, 0.9, 0.0, 0.9])        # the step after the spike is cut
    soft = LIFConfig(1, 1, surrogate=surrogate("sigmoid", 4.0))
    ps = init_params(soft, 0, alpha=0.9, theta=1.0, gamma=1.0, b=0.0)
    ps["W"][:] = 1.0
    tr = layer_forward(soft, ps, x, {"v": np.zeros((1, 1))})
    Js = S.step_jacobians(tr, ps)[:, 0, 0, 0]
    sig = surrogate("sigmoid", 4.0).derivative(tr.prev("v")[:, 0, 0] - 1.0)
    np.testing.assert_allclose(Js, 0.9 - 1.0 * sig, rtol=1e-14)


def test_growth_rate_of_a_constant_diagonal_is_log_alpha():
    J = np.broadcast_to(np.diag([0.9, 0.5, 0.2]), (50, 2, 3, 3))
    np.testing.assert_allclose(S.growth_rate(J), np.log(0.9), rtol=1e-12)
    np.testing.assert_allclose(S.spectral_radii(J), 0.9)


def test_unsupported_layers_are_refused_with_the_reason():
    cfg = LIFConfig(2, 3, synapse=True, adaptation=True)
    traj = layer_forward(cfg, init_params(cfg, 0), np.ones((3, 1, 2)))
    with pytest.raises(ValueError, match="synapse, adaptation"):
        S.step_jacobians(traj, init_params(cfg, 0))


def test_growth_rate_is_the_norm_of_the_transposed_product():
    """(1/T) log ‖J_0ᵀ ⋯ J_{T−1}ᵀ‖₂ on random non-symmetric J, where the order and the transpose
    matter (a constant diagonal J cannot tell them apart)."""
    J = np.random.default_rng(0).normal(0, 0.6, (6, 2, 3, 3))
    got = S.growth_rate(J)
    for b in range(2):
        P = np.eye(3)
        for t in range(6):
            P = P @ J[t, b].T
        assert got[b] == pytest.approx(np.log(np.linalg.norm(P, 2)) / 6, rel=1e-12)
