r"""Exercise 13 — eligibility traces and the exact factorisation (notebook 13).

Fill in each function, then run::

    python exercises/check.py ex13

The neuron is the adaptive LIF of ``refsnn/neurons/lif.py`` with the soft reset,
*attached*, and no synaptic current: for one neuron j and one input i,

    v_t = α v_{t−1} + Σ_i W_ji x_{i,t} + b − β u_{t−1} − γ s_{t−1}
    u_t = ρ u_{t−1} + κ s_{t−1}
    s_t = H(v_t − θ),           ∂s_t/∂v_t := σ'_t = σ'(v_t − θ)

The eligibility vector ε_{ji,t} = (ε^v, ε^u) is the derivative of (v_t, u_t) with
respect to W_ji through the neuron's own dynamics (its own reset and adaptation
included, every input held fixed). Differentiating one step, with ε_{−1} = 0:

    ε^v_t = α ε^v_{t−1} + x_{i,t} − β ε^u_{t−1} − γ σ'_{t−1} ε^v_{t−1}
    ε^u_t = ρ ε^u_{t−1} + κ σ'_{t−1} ε^v_{t−1}
    e_t   = σ'_t ε^v_t                                  (the eligibility trace)

Every right-hand side uses the *previous* step's ε^v and ε^u. The gradient is then
exactly ``dL/dW_ji = Σ_t L_{j,t} e_{ji,t}`` with the learning signal ``L_t`` (the
derivative through the paths that leave the neuron: loss, layer above, recurrence),
which the checker builds from BPTT's adjoints (``refsnn.learning.eprop``).

Shapes: B batch rows, N neurons, M inputs; parameters are ``(N,)`` arrays.
"""

import numpy as np


def trace_step(eps_v, eps_u, x_t, sg_prev, sg_t, params):
    r"""One step of the eligibility recursion.

    Parameters
    ----------
    eps_v, eps_u : ndarray (B, N, M)
        ε^v_{t−1} and ε^u_{t−1} for every synapse (j, i).
    x_t : ndarray (B, M)
        The input at step t (the presynaptic signal of W).
    sg_prev, sg_t : ndarray (B, N)
        σ'(v_{t−1} − θ) and σ'(v_t − θ).
    params : dict
        ``alpha``, ``beta``, ``rho``, ``kappa``, ``gamma``: ``(N,)`` arrays.

    Returns
    -------
    eps_v, eps_u, e : ndarray (B, N, M)
        ε^v_t, ε^u_t and the trace e_t = σ'_t ε^v_t.
    """
    a = params["alpha"][:, None]
    q = sg_prev[..., None] * eps_v                      # σ'_{t−1} ε^v_{t−1}
    new_v = a * eps_v + x_t[:, None, :] - params["beta"][:, None] * eps_u - params["gamma"][:, None] * q
    new_u = params["rho"][:, None] * eps_u + params["kappa"][:, None] * q
    return new_v, new_u, sg_t[..., None] * new_v


def factorised_gradient(x, v, v_init, signal, params, surrogate):
    r"""``dL/dW = Σ_t Σ_b L_{b,j,t} e_{b,j,i,t}``, running :func:`trace_step` forward.

    Parameters
    ----------
    x : ndarray (T, B, M)
        The input.
    v : ndarray (T, B, N)
        The membrane v_t of the forward pass.
    v_init : ndarray (B, N)
        The initial membrane v_{−1}.
    signal : ndarray (T, B, N)
        The learning signal L_t.
    params : dict
        As for :func:`trace_step`, plus ``theta`` ``(N,)``.
    surrogate : refsnn Surrogate
        ``surrogate.derivative(v − θ)`` is σ'.

    Returns
    -------
    ndarray (N, M)
        The gradient of the loss with respect to W.
    """
    T, B, M = x.shape
    N = v.shape[2]
    eps_v = np.zeros((B, N, M))
    eps_u = np.zeros((B, N, M))
    grad = np.zeros((N, M))
    sg_prev = surrogate.derivative(v_init - params["theta"])
    for t in range(T):
        sg_t = surrogate.derivative(v[t] - params["theta"])
        eps_v, eps_u, e = trace_step(eps_v, eps_u, x[t], sg_prev, sg_t, params)
        grad += np.einsum("bj,bji->ji", signal[t], e)
        sg_prev = sg_t
    return grad
