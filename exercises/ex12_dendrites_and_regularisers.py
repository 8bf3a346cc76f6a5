r"""Exercise 12 — dendrites and regularisers (notebook 12).

Fill in each function, then run::

    python exercises/check.py ex12

Shapes: T steps, B batch rows, N somas, K branches per soma, M inputs. Branch arrays
are ``(T, B, N, K)``, per-branch parameters ``(N, K)``. The model
(``refsnn/neurons/dendrite.py``, D1–D4)::

    a_t = α_d a_{t−1} + x_t W_dᵀ          (branch potential; W_d is (N, K, M))
    q_t = f_d(a_t − θ_d)                   (dendritic spike, surrogate σ_d')
    I_t = Σ_k c_{n,k} q_{t,n,k} + b        (current into the soma)
"""

import numpy as np


def branch_backward(dI, a, a_init, x, params, dspike_d):
    r"""The branches' reverse pass, given the soma's ``δI_t = ∂L/∂I_t``.

    .. math::

        δq_{t,n,k} &= c_{n,k}\, δI_{t,n}                                      && \text{(DB1)}\\
        δa_t &= α_d\, δa_{t+1} + σ_d'(a_t - θ_d)\, δq_t, \quad δa_T = 0       && \text{(DB2)}\\
        ∂L/∂W_d[n,k,m] &= \textstyle\sum_{t,b} δa_{t,b,n,k}\, x_{t,b,m}       && \text{(DG2)}\\
        ∂L/∂α_d &= \textstyle\sum_{t,b} δa_t\, a_{t-1}, \quad
        ∂L/∂θ_d = -\sum_{t,b} σ_d'(a_t - θ_d)\, δq_t                          && \text{(DG3)}

    Parameters
    ----------
    dI : ndarray (T, B, N)
        ``δI_t`` from the soma.
    a : ndarray (T, B, N, K)
        Branch potentials ``a_0 … a_{T−1}``.
    a_init : ndarray (B, N, K)
        ``a_{−1}``.
    x : ndarray (T, B, M)
        The input.
    params : dict of ndarray
        ``"W_d"`` (N, K, M), ``"alpha_d"``, ``"theta_d"``, ``"c"`` (N, K).
    dspike_d : callable
        ``dspike_d(z)`` is ``σ_d'(z)``, elementwise (the dendritic surrogate).

    Returns
    -------
    da : ndarray (T, B, N, K)
    dW_d : ndarray (N, K, M)
    dalpha_d, dtheta_d : ndarray (N, K)
    """
    raise NotImplementedError


def rate_regularizer(s, target_rate, strength):
    r"""e-prop's firing-rate regulariser and its partial.

    .. math::

        f_k = \frac{1}{TB} \sum_{t,b} s_{t,b,k}, \qquad
        L = λ \sum_k (f_k - f_0)^2, \qquad
        \frac{\partial L}{\partial s_{t,b,k}} = \frac{2 λ (f_k - f_0)}{T B}

    Parameters
    ----------
    s : ndarray (T, B, N)
        Spikes.
    target_rate : float
        ``f_0`` in spikes per step.
    strength : float
        ``λ``.

    Returns
    -------
    value : float
    ds : ndarray (T, B, N)
    """
    raise NotImplementedError


def membrane_l1(v, strength):
    r"""The L1 penalty on the membrane, averaged over the batch, and its partial.

    .. math::

        L = \frac{λ}{B} \sum_{t,b,k} |v_{t,b,k}|, \qquad
        \frac{\partial L}{\partial v_{t,b,k}} = \frac{λ}{B}\, \mathrm{sign}(v_{t,b,k})

    Parameters
    ----------
    v : ndarray (T, B, N)
    strength : float

    Returns
    -------
    value : float
    dv : ndarray (T, B, N)
    """
    raise NotImplementedError
