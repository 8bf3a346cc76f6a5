r"""Exercise 03 — backpropagation through time by hand (notebook 03).

Fill in each function, then run::

    python exercises/check.py ex03

The neuron is refsnn's adaptive LIF with the soft reset (``reset="subtract"``,
attached). It has no synaptic current and no recurrence, so ``c_t = I_t`` and
``d_t = I_t − β u_{t−1}``. Arrays are time-major: ``(T, B, N)`` holds T steps, B
batch rows and N neurons, and ``(B, N)`` is one step. Every parameter is a
per-neuron vector ``(N,)`` that broadcasts over the batch. The equation labels are
those of ``refsnn/neurons/lif.py``:

.. math::

    v_t &= α\, v_{t-1} + I_t - β\, u_{t-1} - γ\, s_{t-1}   && \text{(F3, F4)}\\
    u_t &= ρ\, u_{t-1} + κ\, s_{t-1}                        && \text{(F5)}\\
    s_t &= H(v_t - θ), \quad H(0) = 1                       && \text{(F6)}

The spike of step t first acts on step t+1: it resets ``v_{t+1}`` and feeds
``u_{t+1}``.

Backward pass. ``a^s_t = ∂L/∂s_t|direct`` and ``a^v_t = ∂L/∂v_t|direct`` are the
loss's direct partials. ``δv_t = dL/dv_t`` is the *total* derivative through
everything ``v_t`` influences, and likewise ``δu_t`` and ``δs_t``. The adjoints at
``t = T`` are zero. For ``t = T−1, ..., 0``:

.. math::

    δs_t &= a^s_t - γ\, δv_{t+1} + κ\, δu_{t+1}                   && \text{(B1)}\\
    δv_t &= a^v_t + α\, δv_{t+1} + σ'(v_t - θ)\, δs_t              && \text{(B2)}\\
    δu_t &= ρ\, δu_{t+1} - β\, δv_{t+1}                            && \text{(B3)}

Without a synapse and with the soft reset, ``δI_t = δv_t`` (B4, B5), and the weight
gradient is G1.
"""

import numpy as np


def lif_step_forward(v_prev, u_prev, s_prev, I_t, params):
    r"""One forward step of the soft-reset adaptive LIF (F3–F6).

    .. math::

        v_t = α v_{t-1} + I_t - β u_{t-1} - γ s_{t-1}, \quad
        u_t = ρ u_{t-1} + κ s_{t-1}, \quad
        s_t = H(v_t - θ) \text{ with } H(0) = 1

    Parameters
    ----------
    v_prev, u_prev, s_prev : ndarray (B, N)
        ``v_{t−1}``, ``u_{t−1}`` and ``s_{t−1}``.
    I_t : ndarray (B, N)
        Input current of step t, ``I_t = x_t Wᵀ + b`` (F1), already computed.
    params : dict of ndarray (N,)
        Keys ``"alpha", "beta", "gamma", "rho", "kappa", "theta"``.

    Returns
    -------
    v_t, u_t, s_t : ndarray (B, N)
    """
    raise NotImplementedError


def lif_backward(v, a_s, a_v, params, dspike):
    r"""The reverse-time loop B1–B3 over a stored trajectory.

    Loop over ``t = T−1, T−2, ..., 0``, starting from ``δv_T = δu_T = 0``:

    .. math::

        δs_t &= a^s_t - γ\, δv_{t+1} + κ\, δu_{t+1}          && \text{(B1)}\\
        δv_t &= a^v_t + α\, δv_{t+1} + σ'(v_t - θ)\, δs_t     && \text{(B2)}\\
        δu_t &= ρ\, δu_{t+1} - β\, δv_{t+1}                   && \text{(B3)}

    Parameters
    ----------
    v : ndarray (T, B, N)
        The membrane ``v_0 .. v_{T−1}`` from the forward pass.
    a_s, a_v : ndarray (T, B, N)
        The loss's direct partials ``∂L/∂s_t|direct`` and ``∂L/∂v_t|direct``.
    params : dict of ndarray (N,)
        As in :func:`lif_step_forward`.
    dspike : callable
        ``dspike(z)`` is ``σ'(z)``, elementwise.

    Returns
    -------
    dv, du, ds : ndarray (T, B, N)
        ``δv_t``, ``δu_t`` and ``δs_t`` for ``t = 0 .. T−1``.
    """
    raise NotImplementedError


def weight_gradient(dI, x):
    r"""The input-weight gradient, summed over time and batch (G1).

    .. math::

        \frac{\partial L}{\partial W} = \sum_{t=0}^{T-1} δI_t^\top x_t

    ``W`` is shared by every step (``I_t = x_t Wᵀ + b``), so its gradient adds up
    the contributions of all steps. Note that ``δI_t`` pairs with ``x_t``, the
    input of the same step. Seed 000 writes ``Σ_t δv_{t+1} x_t`` because there the
    input of step t first reaches ``v_{t+1}``.

    Parameters
    ----------
    dI : ndarray (T, B, N)
        ``δI_t = dL/dI_t`` (``= δv_t`` for this neuron).
    x : ndarray (T, B, M)
        The layer's input.

    Returns
    -------
    dW : ndarray (N, M)
    """
    raise NotImplementedError
