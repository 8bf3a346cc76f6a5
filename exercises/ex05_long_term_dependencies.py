r"""Exercise 05 — long-term dependencies: Jacobian, spectral radius, critical coupling (notebook 05).

Fill in each function, then run::

    python exercises/check.py ex05

Take refsnn's neuron with a synaptic current c (F2), no reset and no adaptation,
and feed its own membrane back into its input with a coupling w. That is the
recurrence F1 linearised at the spike, ``w = R σ'``. The state is ``z_t = (v_t, c_t)``:

.. math::

    c_t &= λ\, c_{t-1} + w\, v_{t-1}                    && \text{(F1, F2)}\\
    v_t &= α\, v_{t-1} + c_t                            && \text{(F3, F4: } c_t \text{ enters } v_t \text{ in the same step)}

So ``z_t = J z_{t−1}``, and backpropagation runs the adjoints backwards with
``Jᵀ``: ``(δv_{t−1}, δc_{t−1}) = Jᵀ (δv_t, δc_t)``. After n steps the adjoint scales
like ``ρ(J)^n``, where ρ is the spectral radius. It vanishes if ``ρ < 1`` and
explodes if ``ρ > 1``.

With time constants ``τ_m`` (membrane) and ``τ_s`` (synapse) and a step ``dt``, the
decays are ``α = exp(−dt/τ_m)`` and ``λ = exp(−dt/τ_s)``.
"""

import numpy as np


def jacobian_linear(alpha, lam, w):
    r"""The one-step Jacobian ``J = ∂z_t/∂z_{t−1}`` of the linear system above.

    Row i and column j hold ``∂z_t[i] / ∂z_{t−1}[j]``, with the state ordered
    ``z = (v, c)``:

    .. math::

        J = \begin{pmatrix}
              \partial v_t/\partial v_{t-1} & \partial v_t/\partial c_{t-1}\\
              \partial c_t/\partial v_{t-1} & \partial c_t/\partial c_{t-1}
            \end{pmatrix}

    Substitute ``c_t`` into ``v_t`` before you differentiate.

    Parameters
    ----------
    alpha, lam, w : float or ndarray
        Broadcastable against each other to a shape S (``()`` for scalars).

    Returns
    -------
    ndarray (*S, 2, 2)
        One 2×2 Jacobian per broadcast element.
    """
    raise NotImplementedError


def spectral_radius(J):
    r"""``ρ(J) = max_i |μ_i|``, where ``μ_i`` are the eigenvalues of J.

    The eigenvalues may be negative or complex. ρ is not the matrix norm: for a
    non-normal J, ``‖J‖₂`` can be much larger than ρ(J).

    Parameters
    ----------
    J : ndarray (..., n, n)
        A stack of square matrices.

    Returns
    -------
    ndarray (...)
        One spectral radius per matrix (a 0-d array or a float for a single matrix).
    """
    raise NotImplementedError


def critical_coupling(tau_m, tau_s, dt=1.0):
    r"""The coupling ``w_crit > 0`` at which ``ρ(J) = 1``, with ``α = e^{−dt/τ_m}`` and ``λ = e^{−dt/τ_s}``.

    For ``0 ≤ w < w_crit`` adjoints vanish. Above ``w_crit`` they explode. At the
    critical point an eigenvalue of J equals 1, so

    .. math::

        \det(I - J) = 0 .

    Solve this for w. Seed 000 quotes ``W_crit = 1/(τ_m τ_s)``, which is the
    continuous-time coupling ``W = w/dt²`` in the limit ``dt ≪ τ``. Your answer
    should approach ``dt²/(τ_m τ_s)`` there, but be exact for every dt.

    Parameters
    ----------
    tau_m, tau_s : float or ndarray
        Time constants (> 0), broadcastable.
    dt : float
        Time step.

    Returns
    -------
    float or ndarray
        ``w_crit``, with the broadcast shape of ``tau_m`` and ``tau_s``.
    """
    raise NotImplementedError
