r"""Seed 000 §6 with spikes: the effective one-step Jacobian that BPTT multiplies, and its growth.

Seed 000 §6 says the adjoint is propagated by ``Jᵀ`` and grows or shrinks with the
spectral radius ρ(J); it analyses a linear two-variable neuron (notebook 05). With spikes
and a reset the Jacobian that the backward pass actually uses is not the linear one. For
a layer without synaptic current or adaptation (state ``v`` only; lif's F1–F6 with
λ = β = κ = 0), F4 is ``v_t = α v_{t−1} + d_t − s̃_{t−1} r_t`` with ``d_t = I_t``
(``= x_t Wᵀ + s_{t−1} Rᵀ + b``) and ``s_{t−1} = f(v_{t−1} − θ)``. Differentiating one
step, with the backward pass's ``∂s/∂v = σ'``,

.. math::

    J_t = \frac{∂v_t}{∂v_{t-1}} = \operatorname{diag}(α\, g^m_t)
          + \big(\operatorname{diag}(g^d_t)\, R - [\text{attached}]\operatorname{diag}(r_t)\big)
            \operatorname{diag}(σ'_{t-1}),                                             \qquad (J1)

with lif's gates ``g^m_t = 1 − s̃_{t−1} r_m`` and ``g^d_t = 1 − s̃_{t−1} r_d`` (``r_m, r_d``
the reset amount's partials: 0, 0 for the soft reset, 1, 0 for ``hard_keep_input``, 1, 1
for ``hard_drop_input``), ``r_t`` the reset amount (γ, ``α v_{t−1} − v_r`` or
``α v_{t−1} + d_t − v_r``) and ``σ'_{t−1} = σ'(v_{t−1} − θ)``. Its transpose is exactly
B1–B2 with B4–B5 (``δv_{t−1} = J_tᵀ δv_t`` when no loss reads step t−1), so

.. math::

    δv_{-1} = J_0^\top J_1^\top \cdots J_{T-1}^\top\, a^v_{T-1}                            \qquad (J2)

for a loss on the last step only (``tests/test_stability.py`` checks J2 against
``layer_backward`` to rounding). Three terms change the linear picture ``J = diag(α)``:

- the **hard reset** zeroes row i of the leak term at every spike of neuron i
  (``g^m = 0``): the path through the membrane is cut, the "forgetting" of seed 000 §5;
- the **attached reset** adds ``−r_t σ'_{t−1}`` on the diagonal: with the soft reset
  ``α − γ σ'``, negative and larger than 1 in modulus when ``γ σ'_max > 1 + α``, so a
  steep surrogate with an attached soft reset can make the adjoint *explode* near
  threshold; detaching the reset removes the term (``detach_reset=True``);
- the **recurrence** adds ``R diag(σ')``: the coupling through spikes, active only where
  membranes are near threshold (σ' ≠ 0), gated by ``g^d`` under ``hard_drop_input``.

The growth of the adjoint over a horizon is that of the product; its per-step rate,
``(1/T) log ‖J_0ᵀ ⋯ J_{T−1}ᵀ‖₂``, estimates the largest Lyapunov exponent of the backward
pass (``growth_rate``), the quantity ρ(J) stands for in the linear case.
"""

from __future__ import annotations

import numpy as np

from .._validate import check_instance
from .lif import Trajectory

__all__ = ["step_jacobians", "adjoint_from_jacobians", "growth_rate", "spectral_radii"]

_R_PARTIALS = {"subtract": (0.0, 0.0), "hard_keep_input": (1.0, 0.0), "hard_drop_input": (1.0, 1.0),
               "none": (0.0, 0.0)}


def _check_supported(cfg):
    unsupported = [name for name, on in (("synapse", cfg.synapse), ("adaptation", cfg.adaptation),
                                         ("adaptive_threshold", cfg.adaptive_threshold),
                                         ("refractory", cfg.refractory > 0),
                                         ("membrane_view='post_reset'", cfg.membrane_view != "pre_reset"),
                                         ("spiking=False", not cfg.spiking)) if on]
    if unsupported:
        raise ValueError("step_jacobians covers the membrane-only layer (J1); this layer has "
                         + ", ".join(unsupported) + ": its state has more variables than v")


def step_jacobians(traj, params):
    """J1 for every step and batch row: ``(T, B, N, N)``, ``J[t, b] = ∂v_t/∂v_{t−1}``.

    For one neuron without recurrence this is notebook 04's (4.1), which the notebook
    writes by hand and asserts equal to this function; J1 adds the recurrent term.

    ``traj`` is the layer's :class:`~refsnn.neurons.lif.Trajectory` and ``params`` its
    parameters (``theta``, ``alpha``, ``gamma`` or ``v_reset``, ``R`` if recurrent)."""
    check_instance("traj", traj, Trajectory, "a refsnn.lif.Trajectory (from layer_forward)")
    cfg = traj.config
    _check_supported(cfg)
    T, B, N = traj.v.shape
    v_prev = traj.prev("v")                                   # v_{t−1}
    s_prev = traj.prev("s")                                   # s̃_{t−1} (its value)
    alpha = np.broadcast_to(params["alpha"], (N,))
    sg = cfg.surrogate.derivative(v_prev - params["theta"])  # σ'_{t−1}
    if cfg.init_spike == "zero":
        sg[0] = 0.0                                           # s_{−1} = 0 is a constant
    r_m, r_d = _R_PARTIALS[cfg.reset]
    m = alpha * v_prev
    if cfg.reset == "subtract":
        r = np.broadcast_to(params["gamma"], (T, B, N))
    elif cfg.reset == "hard_keep_input":
        r = m - params["v_reset"]
    elif cfg.reset == "hard_drop_input":
        d = traj.I_ff + (s_prev @ params["R"].T if cfg.recurrent else 0.0)
        r = m + d - params["v_reset"]
    else:
        r = np.zeros((T, B, N))
    g_m = 1.0 - s_prev * r_m
    g_d = 1.0 - s_prev * r_d
    J = np.zeros((T, B, N, N))
    idx = np.arange(N)
    J[..., idx, idx] = alpha * g_m                            # diag(α g^m_t)
    if not cfg.detach_reset:
        J[..., idx, idx] -= r * sg                            # −diag(r_t) diag(σ'_{t−1})
    if cfg.recurrent:
        J += g_d[..., :, None] * params["R"] * sg[..., None, :]   # diag(g^d_t) R diag(σ'_{t−1})
    return J


def adjoint_from_jacobians(J, a_last):
    """J2: ``δv_{−1}`` (B, N) from a direct partial ``a_last`` (B, N) on the last step."""
    d = np.asarray(a_last, dtype=np.float64)
    for t in range(J.shape[0] - 1, -1, -1):
        d = np.einsum("bij,bi->bj", J[t], d)                  # δv_{t−1} = J_tᵀ δv_t
    return d


def growth_rate(J):
    """Per batch row, ``(1/T) log ‖J_0ᵀ ⋯ J_{T−1}ᵀ‖₂`` (B,): the adjoint's growth per step; −inf
    where some J_t is zero (a hard reset that cuts every neuron at one step)
    (the product is renormalised as it is formed, so it neither overflows nor underflows)."""
    T, B, N, _ = J.shape
    log_norm = np.zeros(B)
    P = np.broadcast_to(np.eye(N), (B, N, N)).copy()
    for t in range(T - 1, -1, -1):
        P = np.einsum("bji,bjk->bik", J[t], P)                # Jᵀ_t P
        scale = np.linalg.norm(P, ord=2, axis=(1, 2))
        with np.errstate(divide="ignore"):
            log_norm += np.log(scale)
        P /= np.where(scale > 0, scale, 1.0)[:, None, None]
    return log_norm / T


def spectral_radii(J):
    """ρ(J_t) for every step and batch row, ``(T, B)``."""
    return np.abs(np.linalg.eigvals(J)).max(axis=-1)
