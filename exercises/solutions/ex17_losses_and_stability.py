r"""Exercise 17 — losses and stability (notebook 17).

Fill in each function, then run::

    python exercises/check.py ex17

Shapes: T steps, B batch rows, N neurons. Spikes ``s`` are ``(T, B, N)``; on the smooth
twin they lie in (0, 1), so every formula below must hold for real-valued spikes too.
"""

import numpy as np


def trace_partial(q, target, eta):
    r"""The low-pass decoder's loss and its partial (17.1).

    .. math::

        z_t = η z_{t-1} + q_t\ (z_{-1} = 0), \qquad L = \frac{1}{2TBN}\sum (z_t - y_t)^2,\\
        δz_t = \frac{z_t - y_t}{TBN} + η\, δz_{t+1}\ (δz_T = 0), \qquad ∂L/∂q_t = δz_t

    Parameters
    ----------
    q, target : ndarray (T, B, N)
    eta : float in [0, 1]

    Returns
    -------
    value : float
    dq : ndarray (T, B, N)
    """
    T = q.shape[0]
    z = np.empty_like(q)
    prev = np.zeros_like(q[0])
    for t in range(T):
        prev = eta * prev + q[t]
        z[t] = prev
    err = z - target
    dq = np.empty_like(q)
    nxt = np.zeros_like(q[0])
    for t in range(T - 1, -1, -1):
        nxt = err[t] / err.size + eta * nxt
        dq[t] = nxt
    return 0.5 * float(np.mean(err ** 2)), dq


def first_spike_mse_partial(s, t_star):
    r"""L5 (17.3): the soft first-spike time regressed onto target steps.

    .. math::

        S_t = \prod_{τ \le t}(1 - s_τ), \quad \hat t = \sum_t S_t, \quad
        L = \frac{1}{2B}\sum_{b,n}(\hat t - t^*)^2,\\
        R_τ = 1 + (1 - s_{τ+1}) R_{τ+1}\ (R_{T-1} = 1), \qquad
        \frac{∂L}{∂s_τ} = -\frac{\hat t - t^*}{B}\, S_{τ-1} R_τ\ (S_{-1} = 1)

    Parameters
    ----------
    s : ndarray (T, B, N)
    t_star : ndarray (B, N)

    Returns
    -------
    value : float
    ds : ndarray (T, B, N)
    """
    T, B, _ = s.shape
    S = np.cumprod(1.0 - s, axis=0)
    t_hat = S.sum(axis=0)
    err = t_hat - t_star
    ds = np.empty_like(s)
    R = np.ones_like(s[0])
    for tau in range(T - 1, -1, -1):
        if tau < T - 1:
            R = 1.0 + (1.0 - s[tau + 1]) * R
        S_prev = S[tau - 1] if tau else 1.0
        ds[tau] = -(err / B) * S_prev * R
    return 0.5 * float(np.sum(err ** 2)) / B, ds


def effective_jacobian(v_prev, s_prev, params, dspike, attached):
    r"""J1 (17.5) for a recurrent layer with the soft reset (r = γ, g^m = g^d = 1):

    .. math::

        J_t = \operatorname{diag}(α) + \big(R - [\text{attached}]\operatorname{diag}(γ)\big)
              \operatorname{diag}(σ'(v_{t-1} - θ)), \qquad J_{ij} = ∂v_{t,i}/∂v_{t-1,j}

    Parameters
    ----------
    v_prev : ndarray (B, N)
        ``v_{t−1}``.
    s_prev : ndarray (B, N)
        ``s_{t−1}`` (not needed for the soft reset; kept for the signature of J1).
    params : dict
        ``alpha``, ``gamma``, ``theta`` (N,) and ``R`` (N, N).
    dspike : callable
        ``dspike(z)`` is σ'(z), elementwise.
    attached : bool
        Whether the reset spike carries a gradient.

    Returns
    -------
    ndarray (B, N, N)
    """
    sg = dspike(v_prev - params["theta"])                      # σ'(v_{t−1} − θ), (B, N)
    J = params["R"][None] * sg[:, None, :]                     # R diag(σ')
    idx = np.arange(v_prev.shape[1])
    J[:, idx, idx] += params["alpha"]
    if attached:
        J[:, idx, idx] -= params["gamma"] * sg
    return J
