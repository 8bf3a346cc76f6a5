r"""The three-factor rule (seed 002, "神经形态工程与片上学习"): error × postsynaptic × presynaptic.

Seed 002 writes the on-chip update as ``Δw_i ∝ −e · φ(u) · x_i``: a broadcast error
``e``, a postsynaptic factor ``φ(u)`` read off the neuron's membrane, and the
presynaptic activity ``x_i``. In refsnn's symbols (:mod:`refsnn.neurons.lif`) the
membrane is v, ``φ(v) = σ'(v − θ)`` is the surrogate derivative, and one step of the
rule is

.. math::  ΔW_{ji} = -η\, \sum_b e_{b,j}\; σ'(v_{b,j} − θ_j)\; \bar p_{b,i}              \tag{T1}

(:func:`three_factor_update` returns the sum without −η).

*It is BPTT for one step.* For a feed-forward layer run for T = 1 step, E3 of
:mod:`refsnn.learning.eprop` gives ``ε^v_0 = g^d_0 p_0`` (the gate is 1 except for
the hard reset that drops the input, where it is ``1 − s̃_{−1}``), and G1 is
``∂L/∂W_ji = Σ_b δs_{b,j,0} σ'(v_{b,j,0} − θ_j) g^d_{b,j,0} x_{b,i,0}``: T1 with
``e = g^d_0 δs_0`` (B1 at T = 1 is ``a^s_0``: the loss's spike partial; the gate
belongs to the postsynaptic neuron, so it folds into the error) and ``p̄ = x_0``.
With a membrane loss, the error factor also carries ``a^v_0 / σ'``; T1 is then written
with ``φ ≡ 1`` for that part (:func:`bptt_step_term` sums both).

*Summed over time with a trace, it is e-prop.* Replace the presynaptic activity by
its trace, ``p̄_{i,t} = α p̄_{i,t−1} + x_{i,t}`` (E3 for a LIF neuron without synapse,
adaptation or own reset path, all neurons sharing α, so that ε^v_{ji,t} = p̄_{i,t} does
not depend on j), and the error by e-prop's learning signal ``L̂_t``: the sum over t
of T1 is E1 with ``e = L̂``, i.e. e-prop (unfiltered). In general the eligibility
vector ε^v_{ji,t} is per synapse (gates, adaptation, per-neuron α) and T1's
presynaptic factor must be that vector: the product structure survives, the
factorisation into a pre- and a postsynaptic part does not.
"""

from __future__ import annotations

import numpy as np

from .._validate import float_array
from ..surrogates import Surrogate

__all__ = ["three_factor_update", "presynaptic_trace", "bptt_step_term"]


def three_factor_update(error, v, theta, pre, surrogate: Surrogate):
    """T1 without −η: ``Σ_b error_{b,j} σ'(v_{b,j} − θ_j) pre_{b,i}``, shape ``(N, P)``.

    ``error`` and ``v`` are ``(B, N)``, ``theta`` ``(N,)``, ``pre`` ``(B, P)``.
    """
    if not isinstance(surrogate, Surrogate):
        raise TypeError(f"surrogate must be a refsnn Surrogate, got {type(surrogate).__name__}")
    v = float_array("v", v, (None, None))
    error = float_array("error", error, v.shape)
    theta = float_array("theta", theta, (v.shape[1],))
    pre = float_array("pre", pre, (v.shape[0], None))
    post = error * surrogate.derivative(v - theta)          # e · φ(v)
    return post.T @ pre


def presynaptic_trace(x, alpha):
    """``p̄_t = α p̄_{t−1} + x_t`` with ``p̄_{−1} = 0``, for ``x`` ``(T, B, P)`` and a scalar α."""
    x = float_array("x", x, (None, None, None))
    out = np.empty_like(x)
    acc = np.zeros_like(x[0])
    for t in range(x.shape[0]):
        acc = alpha * acc + x[t]
        out[t] = acc
    return out


def bptt_step_term(a_s, a_v, v, theta, pre, surrogate: Surrogate):
    """BPTT's weight gradient of a one-step layer: T1 with ``e = a^s`` plus ``Σ_b a^v pre``."""
    g = three_factor_update(a_s, v, theta, pre, surrogate)
    if a_v is not None:
        g = g + float_array("a_v", a_v, np.shape(v)).T @ pre
    return g
