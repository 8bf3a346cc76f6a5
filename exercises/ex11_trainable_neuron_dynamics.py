r"""Exercise 11 — trainable neuron dynamics (notebook 11).

Fill in each function, then run::

    python exercises/check.py ex11

Shapes: ``(T, B, N)`` over T steps, B batch rows, N neurons; parameters are ``(N,)``.
The refractory gate (``refsnn/neurons/lif.py``, S5)::

    ŝ_t = f(v_t − θ),   G_t = Π_{k=1..n_ref} (1 − s_{t−k}),   s_t = ŝ_t G_t

with ``s_{−1}`` given (``s_init``) and ``s_i = 0`` for ``i < −1``.
"""

import numpy as np


def refractory_gate_adjoint(ds, s, s_hat, s_init, n_ref):
    r"""The refractory gate's gradient path through the past spikes (B7), for t = 0..T−1.

    .. math::

        \text{B7}_t = -\sum_{k=1}^{n_{ref}} \hat s_{t+k} \prod_{j=1, j \ne k}^{n_{ref}} (1 - s_{t+k-j})\; δs_{t+k}

    (terms with ``t + k ≥ T`` vanish). This is what ``δs_t`` gains when the gate is
    attached (``detach_refractory=False``): ``∂s_{t+k}/∂s_t`` for every later spike that
    ``s_t`` may block.

    Parameters
    ----------
    ds : ndarray (T, B, N)
        The total adjoints ``δs_t`` (with the gate attached).
    s : ndarray (T, B, N)
        The gated spikes ``s_t``.
    s_hat : ndarray (T, B, N)
        The ungated spikes ``ŝ_t``.
    s_init : ndarray (B, N)
        ``s_{−1}``.
    n_ref : int
        Refractory steps (≥ 1).

    Returns
    -------
    ndarray (T, B, N)
    """
    raise NotImplementedError


def theta_gradient(v, theta, ds, gate, dspike):
    r"""G5 with the refractory gate: ``∂L/∂θ = −Σ_{t,b} σ'(v_t − θ) G_t δs_t`` (no initial spike).

    Parameters
    ----------
    v : ndarray (T, B, N)
        Membrane.
    theta : ndarray (N,)
    ds : ndarray (T, B, N)
        ``δs_t``.
    gate : ndarray (T, B, N)
        ``G_t``.
    dspike : callable
        ``σ'``, elementwise.

    Returns
    -------
    ndarray (N,)
    """
    raise NotImplementedError


def project_dynamics(params):
    r"""Project one layer's trainable dynamics into their valid ranges.

    ``alpha, rho, lam`` in ``[ALPHA_MIN, 1]`` (α) or ``[0, 1]`` (ρ, λ); ``theta ≥ THETA_MIN``;
    ``gamma, beta, kappa ≥ 0``; ``v_reset ≤ θ − RESET_MARGIN`` with the *projected* θ.
    Every other key passes through unchanged. Clip each entry (the Euclidean projection
    onto a box); do not modify the input.

    Parameters
    ----------
    params : dict of ndarray
        Some of ``"W", "b", "alpha", "theta", "gamma", "v_reset", "beta", "rho", "kappa", "lam"``.

    Returns
    -------
    dict of ndarray
        The same keys.
    """
    raise NotImplementedError


ALPHA_MIN = 1e-3
THETA_MIN = 1e-3
RESET_MARGIN = 1e-3
