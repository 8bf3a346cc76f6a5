r"""Exercise 04 — soft reset versus hard reset (notebook 04).

Fill in each function, then run::

    python exercises/check.py ex04

The neuron has no adaptation, no synapse and no recurrence, so the drive is
``d_t = I_t``. Shapes: ``(B, N)`` is one step, with B batch rows and N neurons;
parameters are ``(N,)`` vectors. ``s_{t−1} = H(v_{t−1} − θ)`` is the previous
spike. F4 with each reset kind (``refsnn/neurons/lif.py``, reset table):

.. math::

    \text{soft } (\texttt{subtract}): \quad
        v_t &= α v_{t-1} + d_t - γ\, \tilde s_{t-1}\\
    \text{hard } (\texttt{hard\_drop\_input}, \text{seed 000}): \quad
        v_t &= (1 - \tilde s_{t-1})(α v_{t-1} + d_t) + \tilde s_{t-1} v_r

In refsnn's notation the reset amount is ``r_t = γ`` (soft) or
``r_t = α v_{t−1} + d_t − v_r`` (hard), and ``v_t = α v_{t−1} + d_t − s̃_{t−1} r_t``.

**Attached or detached.** ``s̃`` is the spike in the reset term. When the reset is
*attached* (``detach=False``), the gradient flows through ``s̃_{t−1} = H(v_{t−1} − θ)``
with the surrogate ``∂s/∂v = σ'(v − θ)``. When it is *detached* (``detach=True``),
``s̃`` is a constant. Its *value* still counts, so the gate ``(1 − s̃)`` of the hard
reset still multiplies the gradient.
"""

import numpy as np


def soft_reset_jacobian(v_prev, params, dspike, detach=False):
    r"""``∂v_t/∂v_{t−1}`` for the soft reset, per neuron (the Jacobian is diagonal).

    .. math::

        \frac{\partial v_t}{\partial v_{t-1}} = α - [\text{attached}]\; γ\, σ'(v_{t-1} - θ)

    Parameters
    ----------
    v_prev : ndarray (B, N)
        ``v_{t−1}``.
    params : dict of ndarray (N,)
        Keys ``"alpha", "gamma", "theta"``.
    dspike : callable
        ``dspike(z)`` is ``σ'(z)``, elementwise.
    detach : bool
        True if the reset spike is a constant in the gradient.

    Returns
    -------
    ndarray (B, N)
    """
    raise NotImplementedError


def hard_reset_jacobian(v_prev, s_prev, d_t, params, dspike, detach=False):
    r"""``∂v_t/∂v_{t−1}`` for the hard reset that drops the input (seed 000's).

    .. math::

        \frac{\partial v_t}{\partial v_{t-1}}
        = α\,(1 - s_{t-1}) + [\text{attached}]\; (v_r - α v_{t-1} - d_t)\, σ'(v_{t-1} - θ)

    Parameters
    ----------
    v_prev : ndarray (B, N)
        ``v_{t−1}``.
    s_prev : ndarray (B, N)
        ``s_{t−1}``, the stored spike (0 or 1; for the smooth twin, a value in [0, 1]).
    d_t : ndarray (B, N)
        The drive of step t (here ``I_t``).
    params : dict of ndarray (N,)
        Keys ``"alpha", "v_reset", "theta"``.
    dspike : callable
        ``σ'``.
    detach : bool

    Returns
    -------
    ndarray (B, N)
    """
    raise NotImplementedError


def hard_reset_step_backward(dv_next, a_s, a_v, cache, params, dspike, detach=False):
    r"""One reverse step of the hard drop-input reset: B1, B2 and B4–B5 at step t.

    With ``r_{t+1} = α v_t + I_{t+1} − v_r``:

    .. math::

        δs_t &= a^s_t - [\text{attached}]\; r_{t+1}\, δv_{t+1}                  && \text{(B1)}\\
        δv_t &= a^v_t + α\,(1 - s_t)\, δv_{t+1} + σ'(v_t - θ)\, δs_t          && \text{(B2)}\\
        δI_t &= (1 - s_{t-1})\, δv_t                                            && \text{(B4, B5)}

    The input of a step that resets is dropped, so it gets no gradient: that is
    the gate ``(1 − s_{t−1})`` in B4. At the last step ``t = T−1`` the caller passes
    ``dv_next = 0`` (and ``I_next = 0``).

    Parameters
    ----------
    dv_next : ndarray (B, N)
        ``δv_{t+1}``.
    a_s, a_v : ndarray (B, N)
        The direct partials ``∂L/∂s_t|direct`` and ``∂L/∂v_t|direct``.
    cache : dict of ndarray (B, N)
        ``"v"``: ``v_t``; ``"s"``: ``s_t``; ``"s_prev"``: ``s_{t−1}``;
        ``"I_next"``: ``I_{t+1}``.
    params : dict of ndarray (N,)
        Keys ``"alpha", "v_reset", "theta"``.
    dspike : callable
        ``σ'``.
    detach : bool

    Returns
    -------
    ds, dv, dI : ndarray (B, N)
        ``δs_t``, ``δv_t`` and ``δI_t``.
    """
    raise NotImplementedError
