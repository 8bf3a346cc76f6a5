r"""Eligibility traces, the exact factorisation of the BPTT gradient, and e-prop.

Everything here is in :mod:`refsnn.neurons.lif`'s symbols and index convention
(F1–F6, B1–B5): time-major arrays, ``x_t`` drives ``v_t``, the reset of step t uses
the previous step's spike ``s̃_{t−1} r_t``, gates ``g^m_t = 1 − s̃_{t−1} r_m`` and
``g^d_t = 1 − s̃_{t−1} r_d``, ``σ'_t = σ'(v_t − A_t)`` with the threshold ``A_t = θ``, or
``A_t = θ + β_a a_t`` with the adaptive threshold (lif's switch S3,
``a_t = ρ_a a_{t−1} + s_{t−1}``, F7). Indices: j a neuron of the layer, i a presynaptic
unit; every equation holds per batch row.

1. Which parameter, which presynaptic signal
---------------------------------------------

The trained weights enter only the input current F1,
``I_{j,t} = Σ_i W_ji x_{i,t} + Σ_i R_ji s_{i,t−1} + b_j``, so
``∂I_{j,t}/∂W_ji = p_{i,t}`` with the presynaptic signal

.. math::  p_{i,t} = x_{i,t} \;(W), \qquad p_{i,t} = s_{i,t-1} \;(R), \qquad p_t = 1 \;(b).   \tag{E0}

BPTT's gradient is G1, ``∂L/∂W_ji = Σ_t δI_{j,t} p_{i,t}``.

2. Two copies of the neuron's own spike
----------------------------------------

Neuron j's spike ``s_{j,t}`` is used in five places: by the loss and the layer above
(``a^s_t``), by every neuron's next input current through R (including ``R_jj``), by
its own reset (F4, through ``s̃_{j,t}``, only when attached), by its own adaptation
current (F5, ``κ s_{j,t}``) and by its own threshold (F7, ``a_{t+1}``). Give the uses
two names with the same value: the *external* copy (loss, layer above, R) and the
*internal* copy (own reset, adaptation, threshold). Which of the own paths count as
internal is a choice, ``own`` ⊆ {``"reset"``, ``"adaptation"``, ``"threshold"``}. Neuron j, seen from outside, is then a causal system
whose inputs are ``p_{i,t}`` (held fixed) and whose outputs are its external spikes
and its membrane; the chain rule over that system gives, exactly,

.. math::

   \frac{dL}{dW_{ji}} = \sum_{t=0}^{T-1} \Big( L_{j,t}\, e_{ji,t} + a^v_{j,t}\, ε^v_{ji,t} \Big),
   \qquad e_{ji,t} = \frac{\partial s_{j,t}}{\partial v_{j,t}} ε^v_{ji,t}
                    + \frac{\partial s_{j,t}}{\partial a_{j,t}} ε^a_{ji,t}
                    = σ'_{j,t}\,(ε^v_{ji,t} - β_a ε^a_{ji,t})
   \tag{E1}

where the *eligibility vector* ``ε_{ji,t} = [dh_{j,t}/dW_ji]_local`` is the derivative
of neuron j's hidden state ``h = (v, u, c, a)`` through its own dynamics (internal spike
copy included, external inputs held), ``e`` is the *eligibility trace*, and the
*total learning signal* ``L_{j,t} = dL/ds^{ext}_{j,t}`` is the total derivative of the
loss with respect to the external copy: every path that leaves the neuron, including
the ones that come back to it later through R and through the other neurons. The
second term of E1 is the loss's direct membrane partial (``a^v``, B2), zero for a
hidden layer under a readout loss and the whole gradient of a readout.

In terms of ``layer_backward``'s adjoints (B1), the total derivative of the spike is
``δs_t = a^s_t − [attached] r_{t+1} δv_{t+1} + κ δu_{t+1} + δa_{t+1} + δI_{t+1} R``; the
learning signal is δs minus the internal paths:

.. math::

   L_t = δs_t + [\text{reset} ∈ own][\text{attached}]\, r_{t+1} δv_{t+1}
              - [\text{adaptation} ∈ own]\, κ\, δu_{t+1} - [\text{threshold} ∈ own]\, δa_{t+1}. \tag{E2}

With ``own = ∅`` it is δs_t itself (the total derivative through *every* use of the
spike, reset and adaptation included: the trace then holds every spike constant).
With every path own it is ``a^s_t + (δI_{t+1} R)_j``, the derivative through the
external uses only. Bellec et al. 2020's ``dE/dz · [dz/dW]_local`` is a split of
this kind: their reference code (``EligALIF``) feeds the threshold adaptation from a
separate copy of the spike (``z_local``) and the reset from the external one, i.e.
``own = {threshold}`` (:data:`BELLEC_OWN` adds refsnn's adaptation current u, which is
local in the same way). Every split is exact; they
differ only in what the forward trace carries and what the signal must carry.

3. The forward recursions (E3)
-------------------------------

Differentiate F1–F7 for one step, external inputs fixed. The internal spike's
derivative is ``dŝ_{t−1} = σ'_{t−1} (ε^v_{t−1} − β_a ε^a_{t−1}) =: q_{t−1}`` (the
previous step's trace e). With ``ε_{−1} = 0`` (the initial state does not depend on W):

.. math::

   ε^c_t &= λ\, ε^c_{t−1} + p_t \qquad (\text{no synapse: } ε^c_t = p_t)                      \\
   ε^v_t &= α\, g^m_t\, ε^v_{t−1} + g^d_t\,(ε^c_t − β\, ε^u_{t−1})
            − [\text{reset} ∈ own][\text{attached}]\; r_t\, q_{t−1}                           \\
   ε^u_t &= ρ\, ε^u_{t−1} + [\text{adaptation} ∈ own]\; κ\, q_{t−1}                            \\
   ε^a_t &= ρ_a\, ε^a_{t−1} + [\text{threshold} ∈ own]\; q_{t−1}                                \\
   e_t   &= σ'_t\, (ε^v_t − β_a\, ε^a_t)

``r_t`` is the reset amount of step t (γ; ``m_t − v_r``; ``m_t + d_t − v_r``) and
``m_t = α v_{t−1}``, ``d_t = c_t − β u_{t−1}``. Term by term: α g^m is
``∂v_t/∂v_{t−1}`` at a fixed spike (B2's ``α g^m_{t+1}``), g^d ``∂v_t/∂c_t`` (B4's
gate), −β g^d ``∂v_t/∂u_{t−1}`` (B3), ``−r_t`` ``∂v_t/∂s̃_{t−1}`` (B1's reset term), κ
``∂u_t/∂s_{t−1}``, 1 ``∂a_t/∂s_{t−1}`` (F7), and ``−β_a σ'`` ``∂s/∂a`` (F6', B6). A
detached reset has no ``∂v/∂s̃`` term anywhere, so the reset component is absent (its
gates stay). Without an own adaptation (threshold) path ε^u (ε^a) stays zero: u (a) is
then reached from W only through spikes, which the signal carries. Two switches of
lif need nothing new: ``init_spike="zero"`` only changes values (ε_{−1} = 0 either
way), and a shared parameter is a per-neuron one with equal entries (a shared b gets
the sum of the per-neuron gradients). The refractory gate (S5) and the post-reset
membrane view (S4) are refused.

:func:`factorised_gradient` runs E3 as a forward loop, one step of the layer at a
time: the layer itself runs a chunk of :data:`CHUNK` steps at a time through
``layer_forward``'s loop (so F1–F7 stay in one place), and the loop holds only that
chunk, the state and the traces (memory flat in T), and accumulates E1.
:func:`learning_signal` builds E2 from BPTT's adjoints. Their product equals G1 to
rounding (tests: ``tests/test_eprop.py``, grid family ``eprop``).

4. e-prop: the partial learning signal
---------------------------------------

e-prop replaces the total learning signal by what is available online: the error of
the readout at time t sent back through fixed feedback weights,
``L̂_{j,t} = Σ_k B_jk ∂L/∂y_{k,t}`` (``y`` the readout membrane, ``∂L/∂y_t = a^v_t`` of
the readout). Symmetric e-prop uses ``B = W_outᵀ``, random e-prop a fixed random B.

The readout is the leaky integrator ``c^o_t = λ_o c^o_{t−1} + s_t W_outᵀ + b_o``,
``y_t = α_o y_{t−1} + c^o_t``: the hidden spike s_t reaches all later ``y_{t'}``. The
exact signal of a non-recurrent hidden layer is then
``L_{j,t} = Σ_k W_kj δc^o_{k,t}``, with ``δc^o_{k,t} = Σ_{t'≥t} κ_k(t'−t) a^v_{k,t'}``
and κ_k the readout's impulse response (B2, B4 of the readout). Exchanging the sums,

.. math::

   \sum_t L_{j,t} e_{ji,t} = \sum_{t'} \sum_k W_{kj}\, a^v_{k,t'}\, ē^{(k)}_{ji,t'},
   \qquad ē^c_t = λ_o ē^c_{t−1} + e_t, \quad ē_t = α_o ē_{t−1} + ē^c_t                   \tag{E4}

so the *filtered trace* ē (e passed through the readout's own dynamics; one per
distinct ``(α_o, λ_o)`` among the readout neurons) turns the future-looking signal
into the causal ``L̂_{t'}``. Hence:

**e-prop equals BPTT exactly** for W, b (and the readout's W, b) when (i) there is
one hidden layer and it is not recurrent, (ii) the loss reads only the readout's
membrane (no term on hidden spikes or membranes: ``a^s = a^v = 0`` in the hidden
layer), (iii) the readout is the non-spiking leaky integrator and ``B = W_outᵀ``
with filtered traces, and (iv) the trace carries every own path of the spike that
the network has: adaptation and threshold always, the reset when it is attached
(``own = OWN_PATHS``). With Bellec's trace, which leaves the reset out, (iv) holds only
for a detached reset (or ``reset="none"``), which is the condition the literature states. The loss need not be local in time for the identity, but only a
loss whose ``∂L/∂y_t`` is known at time t (per-step MSE or cross-entropy) makes the
rule online.

Where a condition fails, e-prop drops the future: the recurrent term
``(δI_{t+1} R)_j`` and everything it carries. :func:`alignment` measures the
departure (cosine similarity and relative norm of the difference to BPTT).

:func:`eprop_gradients` runs hidden layer and readout forward together, step by
step, and keeps only the state, the traces and the filtered traces: its memory does
not grow with T (``benchmarks/bench_online.py``).

5. The three-factor rule
-------------------------

For T = 1 and ε_{−1} = 0, E3 gives ``ε^v_0 = g^d_0 p_0``, and E1 is
``∂L/∂W_ji = δs_{j,0} σ'(v_{j,0} − A_{j,0}) g^d_{j,0} p_{i,0}``: error × postsynaptic
factor φ(u) = σ' × presynaptic activity (:mod:`refsnn.learning.three_factor`).
Summed over time with the presynaptic activity replaced by its trace, it is E1 again,
and with the partial signal it is e-prop.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .._validate import all_finite, float_array, real_scalar
from ..neurons.lif import LIFConfig, _layer_forward, check_params, state_names, zero_state
from ..neurons import lif_compiled
from ..neurons.network import Network

__all__ = ["OWN_PATHS", "BELLEC_OWN", "own_paths", "trained_names", "Traces", "init_traces", "trace_step",
           "layer_steps", "factorised_gradient", "learning_signal", "network_factorised_gradients",
           "EpropResult", "eprop_gradients", "random_feedback", "step_mse", "step_cross_entropy",
           "alignment"]

OWN_PATHS = ("reset", "adaptation", "threshold")
# Bellec et al. 2020's reference code: the threshold adaptation in the trace (its z_local),
# the reset in the signal. refsnn's adaptation current u is local in the same way.
BELLEC_OWN = ("adaptation", "threshold")

_MATRICES = ("W", "R")


def own_paths(config: LIFConfig, own=OWN_PATHS):
    """The own-spike paths ``(reset, adaptation, threshold)`` the trace carries for this layer.

    ``own`` names a subset of :data:`OWN_PATHS`; a path the layer does not have (a
    detached or absent reset, no adaptation current, no adaptive threshold, a
    non-spiking layer) is dropped.
    """
    if isinstance(own, str) or not all(isinstance(o, str) for o in own):
        raise TypeError(f"own must be a tuple of names from {OWN_PATHS}, got {own!r}")
    bad = sorted(set(own) - set(OWN_PATHS))
    if bad:
        raise ValueError(f"own names unknown paths {bad}; expected a subset of {OWN_PATHS}")
    reset = ("reset" in own and config.spiking and config.reset != "none" and not config.detach_reset)
    adapt = "adaptation" in own and config.spiking and config.adaptation
    thr = "threshold" in own and config.spiking and config.adaptive_threshold
    return reset, adapt, thr


def trained_names(config: LIFConfig):
    """The parameters that eligibility traces cover: W, b and (recurrent) R."""
    return ("W", "b") + (("R",) if config.recurrent else ())


def _supported(config: LIFConfig):
    if not isinstance(config, LIFConfig):
        raise TypeError(f"config must be a LIFConfig, got {type(config).__name__}")
    if config.refractory:
        raise ValueError("eligibility traces do not support a refractory period (refractory > 0): "
                         "its gate depends on the spike history, which the step-by-step loop does not carry")
    if config.recurrent_delay != 1:
        raise ValueError("eligibility traces do not support recurrent_delay=2 (lif S6): their recurrent "
                         "current reads s_{t−1}")
    if config.spiking and config.membrane_view != "pre_reset":
        raise ValueError("eligibility traces need membrane_view='pre_reset' for a spiking layer "
                         "(the post-reset membrane adds the partials P1-P2 that E1 does not carry)")


def _per_neuron(config, p):
    """Parameters with every shared (0-d) per-neuron value broadcast to ``(N,)``."""
    return {k: (np.broadcast_to(v, (config.n,)) if k not in _MATRICES and np.ndim(v) == 0 else v)
            for k, v in p.items()}


@dataclass
class Traces:
    """The eligibility vectors of one layer, ``(B, N, P)`` per parameter and component.

    ``eps[name]`` maps ``"v"``, ``"c"`` (with a synapse), ``"u"`` (with the own
    adaptation path), ``"a"`` (with the own threshold path) to arrays; P is the
    presynaptic width (M for W, N for R, 1 for b).
    """

    eps: dict
    reset: bool
    adapt: bool
    thr: bool = False


def init_traces(config: LIFConfig, batch, dtype=np.float64, own=OWN_PATHS) -> Traces:
    """ε_{−1} = 0 for every trained parameter."""
    reset, adapt, thr = own_paths(config, own)
    B, N = batch, config.n
    width = {"W": config.n_in, "b": 1, "R": config.n}
    eps = {}
    for name in trained_names(config):
        comp = {"v": np.zeros((B, N, width[name]), dtype)}
        if config.synapse:
            comp["c"] = np.zeros_like(comp["v"])
        if adapt:
            comp["u"] = np.zeros_like(comp["v"])
        if thr:
            comp["a"] = np.zeros_like(comp["v"])
        eps[name] = comp
    return Traces(eps, reset, adapt, thr)


@dataclass
class Step:
    """One step of a layer, everything E3 needs (``(B, N)`` arrays, inputs ``(B, ·)``)."""

    x: np.ndarray          # x_t
    s_prev: np.ndarray     # s_{t-1} (= s̃_{t-1})
    v_prev: np.ndarray
    v: np.ndarray          # v_t
    s: np.ndarray          # s_t
    state: dict            # the state after the step (v_t, u_t, c_t, a_t)
    r: np.ndarray | None   # r_t (None: no reset)
    g_m: np.ndarray | None
    g_d: np.ndarray | None
    sg_prev: np.ndarray | None   # σ'(v_{t-1} − A_{t-1})
    sg: np.ndarray | None        # σ'(v_t − A_t)


def _sg(config, p, v, a):
    """``σ'(v − A)`` with the threshold ``A = θ (+ β_a a)``."""
    A = p["theta"] + p["beta_a"] * a if config.adaptive_threshold else p["theta"]
    return config.surrogate.derivative_inplace(v - A)      # (v − A is a new array: overwritten in place)


# Steps of the layer run at once by each forward call of layer_steps (and by each chunk of
# eprop_gradients): the memory it holds is CHUNK steps of the trajectory and of the chunk's
# work arrays, whatever T (128 steps of a 64-neuron layer, batch 8, in float32: 256 KiB an
# array). Each chunk of eprop_gradients also has a cost of its own (Φ_{−1} z_{−1}, ν·z_{−1},
# some 60 NumPy calls): on benchmarks/bench_online.py's network in float64 at T = 1000,
# e-prop / BPTT per gradient was 1.72 with chunks of 128 steps and 1.81 with 64 (one
# interleaved run), and e-prop's peak memory is 38 MiB, flat in T.
CHUNK = 128


def layer_steps(config: LIFConfig, params, x, state0=None, chunk=CHUNK):
    """Run the layer forward, yielding a :class:`Step` per t.

    The layer runs ``chunk`` steps at a time through :func:`refsnn.neurons.lif.layer_forward`'s
    loop (so F1–F7 exist only in :mod:`refsnn.neurons.lif`), each chunk from the state the
    previous one ended in; only the current chunk is kept, so the memory does not grow
    with T. ``s_{t−1}`` of a chunk's first step is recomputed from the carried state by F6
    (``init_spike="from_v0"`` for every chunk after the first), which is the same number
    as the previous step's spike.
    """
    _supported(config)
    dtype, p = check_params(config, params)
    x = float_array("x", x, (None, None, config.n_in), dtype=dtype)
    T, B, _ = x.shape
    state = zero_state(config, B, dtype) if state0 is None else {k: state0[k] for k in state_names(config)}
    sg_prev = _sg(config, p, state["v"], state.get("a")) if config.spiking else None
    for t0 in range(0, T, chunk):
        steps, state, sg_prev = _chunk_steps(config, p, x[t0:t0 + chunk], state, sg_prev, first=t0 == 0)
        yield from steps


def _chunk_steps(config, p, x, state, sg_prev, first):
    """The :class:`Step` s of one chunk ``x`` ``(K, B, M)`` run from ``state`` (checked
    arguments); returns ``(steps, state after the chunk, σ'_{last})``. The per-step
    coefficients r_t, g^m_t, g^d_t, σ'_t come for the whole chunk from
    :func:`_chunk_coefficients`."""
    tr, r, g_m, g_d, sg, sgp = _chunk_coefficients(config, p, x, state, sg_prev, first)
    v_prev, s_prev = tr.prev("v"), tr.prev("s")
    names = state_names(config)
    steps = []
    for i in range(len(x)):
        new = {k: getattr(tr, k)[i] for k in names}
        steps.append(Step(x[i], s_prev[i], v_prev[i], tr.v[i], tr.s[i], new,
                          *(None if c is None else c[i] for c in (r, g_m, g_d, sgp, sg))))
    return steps, {k: getattr(tr, k)[-1] for k in names}, (None if sg is None else sg[-1])


def _current(config, p, x_t, s_prev):
    """F1's ``I_t`` (the drive of the hard reset that drops the input needs it without a synapse)."""
    I = x_t @ p["W"].T + p["b"]
    return I + s_prev @ p["R"].T if config.recurrent else I


def _presynaptic(name, step):
    """p_t of E0 for ``name``: ``x_t`` (W), ``s_{t−1}`` (R), 1 (b); a name ``"W+R+b"`` is
    the traces of several parameters side by side (they share every coefficient of E3)."""
    if "+" in name:
        return np.concatenate([_presynaptic(n, step) for n in name.split("+")], axis=1)
    if name == "W":
        return step.x
    if name == "R":
        return step.s_prev
    return np.ones((step.x.shape[0], 1), step.x.dtype)


def trace_step(config: LIFConfig, params, traces: Traces, step: Step):
    """Advance every eligibility vector by one step (E3), in place; returns ``{name: e_t}``.

    For a non-spiking layer ``e_t`` is None (it has no spikes); its gradient is the
    membrane term of E1 alone.
    """
    p = _per_neuron(config, params)

    def col(a):                        # an (N,) or (B, N) coefficient against (B, N, P) traces
        return np.asarray(a)[..., None]

    alpha_gm = col(p["alpha"] if step.g_m is None else p["alpha"] * step.g_m)
    own_spike = traces.reset or traces.adapt or traces.thr
    out = {}
    for name, eps in traces.eps.items():
        pre = _presynaptic(name, step)[:, None, :]                       # p_t, (B, 1, P)
        ev = eps["v"]
        es = ev - col(p["beta_a"]) * eps["a"] if traces.thr else ev      # ε^s_{t−1} = ε^v − β_a ε^a
        q = col(step.sg_prev) * es if own_spike else None                # dŝ_{t−1} = σ'_{t−1} ε^s_{t−1}
        if config.synapse:                                                # ε^c_t = λ ε^c_{t−1} + p_t
            ec = eps["c"]
            ec *= col(p["lam"])
            ec += pre
            drive = ec
        else:
            drive = pre
        if traces.adapt:                                                  # − β ε^u_{t−1}
            drive = drive - col(p["beta"]) * eps["u"]
        ev *= alpha_gm                                                    # ε^v_t = α g^m ε^v_{t−1}
        ev += drive if step.g_d is None else col(step.g_d) * drive        #       + g^d (...)
        if traces.reset:                                                  #       − r_t dŝ_{t−1}
            ev -= col(step.r) * q
        if traces.adapt:                                                  # ε^u_t = ρ ε^u + κ dŝ
            eu = eps["u"]
            eu *= col(p["rho"])
            eu += col(p["kappa"]) * q
        if traces.thr:                                                    # ε^a_t = ρ_a ε^a + dŝ
            ea = eps["a"]
            ea *= col(p["rho_a"])
            ea += q
        if not config.spiking:
            out[name] = None
        elif traces.thr:                                                  # e_t = σ'_t (ε^v_t − β_a ε^a_t)
            out[name] = col(step.sg) * (ev - col(p["beta_a"]) * eps["a"])
        else:                                                             # e_t = σ'_t ε^v_t
            out[name] = col(step.sg) * ev
    return out


def _stacked(traces: Traces):
    """The same traces with every parameter's side by side under one name (``"W+R+b"``):
    one set of E3's operations a step instead of one per parameter."""
    names = list(traces.eps)
    comps = traces.eps[names[0]].keys()
    eps = {"+".join(names): {c: np.concatenate([traces.eps[n][c] for n in names], axis=2) for c in comps}}
    return replace(traces, eps=eps)


def _unstack(grads, like):
    """Split ``{"W+R+b": (N, P)}`` back into ``{"W": ..., "R": ..., "b": (N, 1)}``."""
    (name, g), = grads.items()
    out, i = {}, 0
    for n in name.split("+"):
        w = like[n]["v"].shape[2]
        out[n] = g[:, i:i + w]
        i += w
    return out


def _accumulate(grads, name, weight, trace):
    """``grads[name] += Σ_b weight_{b,j} trace_{b,j,i}``."""
    grads[name] += np.einsum("bj,bji->ji", weight, trace)


def _finish(grads, params):
    """``b`` as a vector, or summed over the neurons when it is shared (0-d, switch S2)."""
    grads["b"] = grads["b"][:, 0]
    if np.ndim(params["b"]) == 0:
        grads["b"] = grads["b"].sum()
    return grads


def factorised_gradient(config: LIFConfig, params, x, signal, dv=None, state0=None, own=OWN_PATHS):
    """E1: ``Σ_t L_t e_t + a^v_t ε^v_t`` for W, b (and R) of one layer, from a forward loop.

    Parameters
    ----------
    config, params, x, state0
        As for :func:`refsnn.lif.layer_forward`; the layer is re-run step by step.
    signal : ndarray (T, B, N) or None
        The learning signal ``L_t`` matching ``own`` (:func:`learning_signal`).
        None for a non-spiking layer.
    dv : ndarray (T, B, N), optional
        The loss's direct membrane partials ``a^v_t``.
    own : tuple
        The own-spike paths the trace carries (see the module docstring, E2).

    Returns
    -------
    dict ``{"W": (N, M), "b": (N,) or (), "R": (N, N)}`` (R only for a recurrent layer).
    """
    _supported(config)
    dtype, p = check_params(config, params)
    x = float_array("x", x, (None, None, config.n_in), dtype=dtype)
    T, B, _ = x.shape
    if config.spiking:
        if signal is None:
            raise ValueError("signal is required for a spiking layer (the learning signal L_t)")
        signal = float_array("signal", signal, (T, B, config.n), dtype=dtype)
    elif signal is not None and np.any(signal):
        raise ValueError("signal must be None for a non-spiking layer (it has no spikes)")
    if dv is not None:
        dv = float_array("dv", dv, (T, B, config.n), dtype=dtype)
    traces = init_traces(config, B, dtype, own)
    grads = {name: np.zeros(tr["v"].shape[1:], dtype) for name, tr in traces.eps.items()}
    for t, step in enumerate(layer_steps(config, p, x, state0)):
        e = trace_step(config, p, traces, step)
        for name in grads:
            if config.spiking:
                _accumulate(grads, name, signal[t], e[name])
            if dv is not None:
                _accumulate(grads, name, dv[t], traces.eps[name]["v"])
    return _finish(grads, p)


def learning_signal(traj, params, layer_grads, own=OWN_PATHS):
    """E2: the total learning signal for the split ``own``, from ``layer_backward``'s adjoints.

    ``traj`` is the layer's :class:`~refsnn.lif.Trajectory`, ``params`` its parameters
    and ``layer_grads`` its :class:`~refsnn.lif.LayerGradients`. Returns ``(T, B, N)``.
    """
    cfg = traj.config
    _supported(cfg)
    _, p = check_params(cfg, params)
    reset, adapt, thr = own_paths(cfg, own)
    adj = layer_grads.adjoints
    L = adj["ds"].copy()
    if reset:                       # + r_{t+1} δv_{t+1}: the attached reset path moves to the trace
        r_next = _reset_amounts(traj, p)[1:]
        L[:-1] += r_next * adj["dv"][1:]
    if adapt:                       # − κ δu_{t+1}: the adaptation path moves to the trace
        L[:-1] -= p["kappa"] * adj["du"][1:]
    if thr:                         # − δa_{t+1}: the threshold path (F7) moves to the trace
        L[:-1] -= adj["da"][1:]
    return L


def _reset_amounts(traj, p):
    """``r_t`` for t = 0..T−1 from a stored trajectory (soft: γ; hard: see lif's table)."""
    cfg = traj.config
    T, B, N = traj.v.shape
    if cfg.reset == "subtract":
        return np.broadcast_to(p["gamma"], (T, B, N))
    r_m, r_d = cfg.reset_partials
    v_prev = traj.prev("v")
    r = r_m * p["alpha"] * v_prev - p["v_reset"]
    if r_d:
        if cfg.synapse:
            c = traj.c
        else:
            c = (traj.x.reshape(T * B, -1) @ p["W"].T).reshape(T, B, N) + p["b"]
            if cfg.recurrent:
                c = c + traj.prev("s") @ p["R"].T
        r = r + (c - p["beta"] * traj.prev("u") if cfg.adaptation else c)
    return r


def network_factorised_gradients(net: Network, params, x, trajs, grads, ds=None, dv=None, state0=None,
                                 own=OWN_PATHS):
    """E1 for every layer of a stack, with the signals E2 taken from ``network_backward``.

    ``trajs`` and ``grads`` are ``network_forward``'s and ``network_backward``'s results
    for the same ``params``, ``x``, ``state0``; ``dv`` the per-layer direct membrane
    partials given to ``network_backward``. Returns one ``{"W", "b", ("R")}`` per layer.
    """
    n = len(net.layers)
    dv = [None] * n if dv is None else list(dv)
    state0 = [None] * n if state0 is None else list(state0)
    out = []
    inp = x
    for l, cfg in enumerate(net.layers):
        sig = learning_signal(trajs[l], params[l], grads.layers[l], own) if cfg.spiking else None
        out.append(factorised_gradient(cfg, params[l], inp, sig, dv[l], state0[l], own))
        inp = trajs[l].s
    return out


# --------------------------------------------------------------------------- e-prop


def step_mse(target, scale=1.0):
    """Per-step squared error ``scale · ½ Σ_{b,k} (y_t − y*_t)² / B``; ``target`` is ``(T, B, K)``.

    Returns ``readout_loss(t, y_t) -> (value, ∂L/∂y_t)``. With ``scale = 1/T`` it is the
    training loop's regression loss (``membrane_rate_loss`` averaged over time). The
    returned callable also has ``.steps(t0, Y)``: the same loss summed over the steps
    ``t0 … t0 + K − 1`` of ``Y`` (K, B, K_out), and its ``(K, B, K_out)`` partials, which
    :func:`eprop_gradients` uses a chunk at a time instead of one call a step.
    """
    target = float_array("target", target, (None, None, None))
    scale = real_scalar("scale", scale)

    def steps(t0, Y):
        _check_step("target", target, t0, Y)
        err = Y - target[t0:t0 + len(Y)]
        B = Y.shape[1]
        return _finite_step(scale * 0.5 * float(np.sum(err ** 2)) / B, (scale / B) * err)

    return _per_step(steps)


def _per_step(steps):
    """A per-step loss ``loss(t, y_t)`` that is ``steps(t, y_t[None])`` for one step, with
    ``steps`` kept as ``loss.steps`` for a chunk of steps at once (one formula, two uses)."""

    def loss(t, y):
        y = float_array("y", y, (None, None))
        value, grad = steps(t, y[None])
        return value, grad[0]

    loss.steps = steps
    return loss


def _finite_step(value, grad):
    """A per-step loss's (value, ∂L/∂y_t), or FloatingPointError naming the scale if they overflowed."""
    if not (np.isfinite(value) and all_finite(grad)):
        raise FloatingPointError("the per-step loss overflowed: its scale times the loss exceeds the float "
                                 "range; use a smaller scale")
    return value, grad


def _check_step(name, target, t, Y):
    """A per-step target must cover the steps t … t + K − 1 of ``Y`` (K, B, K_out) and match
    the readout's ``(B, K_out)``."""
    if isinstance(t, (bool, np.bool_)) or not isinstance(t, (int, np.integer)) or t < 0:
        raise ValueError(f"t must be a time step (an integer >= 0), got {t!r}")
    if t + len(Y) > target.shape[0]:
        raise ValueError(f"{name} has {target.shape[0]} time steps, but the input has more "
                         f"(step t = {t + len(Y) - 1}): give {name} of shape (T, B, K) with the input's T")
    if target.shape[1:] != Y.shape[1:]:
        raise ValueError(f"{name} has shape {target.shape}, expected (T, {Y.shape[1]}, {Y.shape[2]}) "
                         "(the batch and the readout's neurons)")


def step_cross_entropy(labels, scale=1.0):
    """Per-step softmax cross-entropy of the readout membrane, ``scale · (1/B) Σ_b CE(y_t, label_b)``.

    A loss local in time, so e-prop can learn a classification online; ``labels`` are
    integers ``(B,)``. Returns ``readout_loss(t, y_t)``.
    """
    try:
        labels = np.asarray(labels)
    except (ValueError, TypeError, OverflowError) as exc:
        raise TypeError(f"labels must be a 1-d integer array of class indices ({exc})") from None
    if not np.issubdtype(labels.dtype, np.integer) or labels.ndim != 1:
        raise TypeError(f"labels must be a 1-d integer array of class indices, got dtype {labels.dtype} "
                        f"shape {labels.shape}")
    if labels.size and labels.min() < 0:
        raise ValueError(f"labels must be class indices >= 0, got {int(labels.min())}")
    scale = real_scalar("scale", scale)

    def steps(t0, Y):
        if isinstance(t0, (bool, np.bool_)) or not isinstance(t0, (int, np.integer)) or t0 < 0:
            raise ValueError(f"t must be a time step (an integer >= 0), got {t0!r}")
        K, B, n_out = Y.shape
        if labels.shape != (B,):
            raise ValueError(f"labels has shape {labels.shape}, expected ({B},): one label per batch row")
        if labels.size and labels.max() >= n_out:
            raise ValueError(f"labels must lie in [0, {n_out}) (the readout's {n_out} classes), "
                             f"got {int(labels.max())}")
        z = Y - Y.max(axis=2, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=2, keepdims=True))
        value = -float(logp[:, np.arange(B), labels].sum()) / B
        g = np.exp(logp)
        g[:, np.arange(B), labels] -= 1.0
        return _finite_step(scale * value, (scale / B) * g.astype(Y.dtype))

    return _per_step(steps)


def random_feedback(net: Network, rng, scale=None, dtype=np.float64):
    """A fixed random feedback matrix B ``(N_hidden, K)`` for random e-prop.

    Entries are Gaussian with standard deviation ``scale`` (default
    ``1/sqrt(N_hidden)``, the readout's initial weight scale up to its gain).
    """
    from ..neurons.lif import _rng
    hidden, readout = _two_layers(net)
    scale = 1.0 / np.sqrt(hidden.n) if scale is None else real_scalar("scale", scale, 0.0, low_open=True)
    with np.errstate(over="ignore"):
        B = (_rng(rng).standard_normal((hidden.n, readout.n)) * scale).astype(dtype)
    if not all_finite(B):
        raise ValueError(f"scale {scale!r} is too large: the feedback matrix overflows {np.dtype(dtype).name}")
    return B


def _two_layers(net):
    if not isinstance(net, Network):
        raise TypeError(f"net must be a refsnn Network, got {type(net).__name__}")
    if len(net.layers) != 2 or not net.layers[0].spiking or net.layers[1].spiking:
        raise ValueError("e-prop here needs a Network of one spiking hidden layer and a non-spiking "
                         "leaky-integrator readout (LIFConfig(spiking=False, reset='none'))")
    for cfg in net.layers:
        _supported(cfg)
    return net.layers


@dataclass
class EpropResult:
    """What :func:`eprop_gradients` returns.

    ``grads`` holds one dict per layer (``W``, ``b`` and ``R`` of the hidden layer;
    ``W``, ``b`` of the readout); ``value`` the summed loss; ``final_state`` the state
    after the last step; ``record`` (when asked) the learning signals ``L̂_t`` and the
    traces of the hidden layer's W, ``(T, B, N)`` and ``(T, B, N, M)``.
    """

    value: float
    grads: list
    final_state: list
    record: dict = field(default_factory=dict)
    y_max: np.ndarray | None = None    # max over t of the readout membrane (track_max=True)


def _filter_groups(readout, p_out):
    """Readout neurons grouped by their ``(α_o, λ_o)``: one filtered trace per group."""
    p_out = _per_neuron(readout, p_out)
    keys = np.stack([p_out["alpha"], p_out["lam"] if readout.synapse else np.zeros_like(p_out["alpha"])], 1)
    uniq, inv = np.unique(keys, axis=0, return_inverse=True)
    return [(float(a), float(l), np.flatnonzero(inv.ravel() == g)) for g, (a, l) in enumerate(uniq)]


def eprop_gradients(net: Network, params, x, readout_loss, feedback="symmetric", own=OWN_PATHS,
                    state0=None, filtered=True, record=False, track_max=False) -> EpropResult:
    """e-prop (section 4 of the module docstring), online: one forward pass, no stored trajectory.

    Parameters
    ----------
    net : Network
        One spiking hidden layer and a non-spiking readout.
    params : list of dict
    x : ndarray (T, B, M)
    readout_loss : callable ``(t, y_t) -> (value, ∂L/∂y_t)``
        The loss's direct partial on the readout membrane at step t, e.g.
        :func:`step_mse` or :func:`step_cross_entropy`.
    feedback : "symmetric" or ndarray (N_hidden, K)
        B of ``L̂_t = (∂L/∂y_t) Bᵀ``: ``W_outᵀ`` (symmetric e-prop, read at the current
        parameters) or a fixed matrix (random e-prop, :func:`random_feedback`).
    own : tuple
        The own-spike paths in the hidden trace (default both; :data:`BELLEC_OWN` leaves
        the reset out as Bellec et al.'s code does).
    filtered : bool
        Filter the hidden traces through the readout's dynamics (E4). ``False`` pairs
        ``L̂_t`` with the unfiltered ``e_t``, which is not exact even for the exact
        configurations (kept to show why the filter is needed).
    record : bool
        Keep ``L̂_t`` and the hidden W-traces ``e_t`` for every step (for figures; this
        memory does grow with T).
    track_max : bool
        Keep ``max_t y_t`` ``(B, K)`` (a classifier's max-over-time readout, for scoring).
    """
    hidden, readout = _two_layers(net)
    if not isinstance(params, (list, tuple)) or len(params) != 2:
        raise ValueError("params must be a list of two parameter dicts (hidden, readout)")
    dtype, ph = check_params(hidden, params[0])
    _, po = check_params(readout, params[1])
    x = float_array("x", x, (None, None, hidden.n_in), dtype=dtype)
    if not callable(readout_loss):
        raise TypeError("readout_loss must be a callable (t, y_t) -> (value, dL/dy_t), e.g. eprop.step_mse(target)")
    if isinstance(feedback, str):
        if feedback != "symmetric":
            raise ValueError(f"feedback must be 'symmetric' or an array (N_hidden, K), got {feedback!r}")
        Bfb = po["W"].T
    else:
        Bfb = float_array("feedback", feedback, (hidden.n, readout.n), dtype=dtype)
    T, B, _ = x.shape
    st0 = [None, None] if state0 is None else list(state0)
    # every trained parameter's traces side by side (_stacked): one set of E3's operations a step
    tr_h0, tr_o0 = init_traces(hidden, B, dtype, own), init_traces(readout, B, dtype, ())
    tr_h, tr_o = _stacked(tr_h0), _stacked(tr_o0)
    groups = _filter_groups(readout, po)
    bar = [{n: {"c": np.zeros_like(e["v"]), "v": np.zeros_like(e["v"])} for n, e in tr_h.eps.items()}
           for _ in groups]
    g_h = {n: np.zeros(e["v"].shape[1:], dtype) for n, e in tr_h.eps.items()}
    g_o = {n: np.zeros(e["v"].shape[1:], dtype) for n, e in tr_o.eps.items()}
    if not record:
        return _eprop_chunked(hidden, readout, ph, po, x, readout_loss, Bfb, own, st0, filtered, track_max,
                              tr_h0, tr_o0, groups)
    # With record=True the traces run step by step (E3 as written), keeping e_t and L̂_t.
    rec = {"signal": [], "e": []}
    value = 0.0
    y_max = None
    # The hidden layer and then the readout (whose input is the hidden spikes) run forward a
    # chunk of steps at a time (layer_steps' chunks); the traces and the loss go step by step.
    state_h = zero_state(hidden, B, dtype) if st0[0] is None else {k: st0[0][k] for k in state_names(hidden)}
    state_o = zero_state(readout, B, dtype) if st0[1] is None else {k: st0[1][k] for k in state_names(readout)}
    sg_h = _sg(hidden, ph, state_h["v"], state_h.get("a"))
    pairs = []
    for t in range(T):
        if t % CHUNK == 0:
            hs, state_h, sg_h = _chunk_steps(hidden, ph, x[t:t + CHUNK], state_h, sg_h, first=t == 0)
            os_, state_o, _ = _chunk_steps(readout, po, np.stack([s.s for s in hs]), state_o, None, first=t == 0)
            pairs = list(zip(hs, os_))
        sh, so = pairs[t % CHUNK]
        e_h = trace_step(hidden, ph, tr_h, sh)
        trace_step(readout, po, tr_o, so)
        if track_max:
            y_max = so.v.copy() if y_max is None else np.maximum(y_max, so.v)
        val, dy = readout_loss(t, so.v)
        value += val
        dy = float_array(f"readout_loss's dL/dy at t={t}", dy, (B, readout.n), dtype=dtype)
        for name in g_o:                                            # readout: a^v ε^v (exact)
            _accumulate(g_o, name, dy, tr_o.eps[name]["v"])
        sig_all = None
        for (a_o, l_o, ks), fb in zip(groups, bar):
            sig = dy[:, ks] @ Bfb[:, ks].T                          # L̂_t of this group, (B, N)
            sig_all = sig if sig_all is None else sig_all + sig
            for name in g_h:
                if filtered:                                        # E4: ē through the readout's dynamics
                    if readout.synapse:
                        fb[name]["c"] *= l_o
                        fb[name]["c"] += e_h[name]
                        src = fb[name]["c"]
                    else:
                        src = e_h[name]
                    fb[name]["v"] *= a_o
                    fb[name]["v"] += src
                    _accumulate(g_h, name, sig, fb[name]["v"])
                else:
                    _accumulate(g_h, name, sig, e_h[name])
        if record:
            rec["signal"].append(sig_all)
            (e_all,) = e_h.values()
            rec["e"].append(e_all[..., :hidden.n_in].copy())             # the W part
    g_h = _finish(_unstack(g_h, tr_h0.eps), ph)
    g_o = _finish(_unstack(g_o, tr_o0.eps), po)
    _check_gradients([g_h, g_o])
    record_out = {k: np.stack(v) for k, v in rec.items()} if record else {}
    return EpropResult(value, [g_h, g_o], [state_h, state_o], record_out, y_max)


def _check_gradients(grads):
    """FloatingPointError if e-prop's gradients overflowed (the inputs are checked finite)."""
    for l, g in enumerate(grads):
        for k, v in g.items():
            if not all_finite(np.asarray(v)):
                raise FloatingPointError(
                    f"eprop_gradients: the gradient of layer {l}'s {k} overflowed although the inputs are finite "
                    "(a feedback matrix, weights or loss partials too large for the dtype); use smaller ones")


# ---------------------------------------------------------------- e-prop, a chunk at a time
#
# Per neuron j and batch row b, E3 and E4 are a linear recursion in the trace vector
# z = (ε^c, ε^v, ε^u, ε^a, ē^c_g, ē^v_g, ...) (the components the layer has), one per
# presynaptic unit i, driven by p_{i,t} (E0):
#
#     z_t = A_t z_{t−1} + a_t p_t,        and the gradient is  Σ_t w_t · z_t  (E1, E4)
#
# with A_t, a_t, w_t per (b, j) and the same for every i. Over a chunk of K steps started
# from z_{−1} (the previous chunk's last trace) that sum and the trace at the chunk's end are
#
#     Σ_t w_t·z_t = (A_0ᵀ λ_0)·z_{−1} + Σ_t (λ_t·a_t) p_t,   λ_t = w_t + A_{t+1}ᵀ λ_{t+1}, λ_{K−1} = w_{K−1}
#     z_{K−1} = Φ_{−1} z_{−1} + Σ_t (Φ_t a_t) p_t,           Φ_t = A_{K−1} ⋯ A_{t+1}, Φ_{K−1} = I
#
# (expand z_t and exchange the sums). The per-(b, j) factors are small (S ≤ 6 numbers);
# the sums over t and b with p are matrix products. This is the same e-prop, not an
# approximation: the online loop's gradient is these sums, grouped by chunk (tested
# against eprop_gradients(record=True), which runs E3 step by step), and it still
# keeps only a chunk, the state and the traces (memory flat in T).


def _linear_chunk(A, a, w, P, z0, ws, last=False):
    """One chunk of ``z_t = A_t z_{t−1} + a_t ⊗ p_t`` (above): ``A`` (K, S, S, B, N) (row,
    column, then the batch and neurons, which makes every sum over a component a sum of
    contiguous (B, N) slices), ``a`` and ``w`` (K, S, B, N), ``P`` (K, B, Pn), ``z0``
    (B, N, S, Pn); ``ws`` a dict of work arrays kept across the chunks. Returns
    ``(Σ_t Σ_b w_t·z_t as (N, Pn), z_{K−1})``; for the ``last`` chunk z_{K−1} is not
    needed, so Φ is not computed and None is returned in its place."""
    K, S, B, N = a.shape
    Pn = P.shape[-1]
    # Both backward recursions multiply row vectors by A_t from the right,
    #     Φ_{t−1} = Φ_t A_t,   λ_{t−1}ᵀ = w_{t−1}ᵀ + λ_tᵀ A_t,
    # so they run as one: R_t = [Φ_t; λ_tᵀ] ((S + 1) rows), R_{t−1} = R_t A_t + [0; w_{t−1}ᵀ].
    # R[K] ends as R_{−1} = R_0 A_0 = [Φ_{−1}; (A_0ᵀ λ_0)ᵀ]. The last chunk keeps λ's row only.
    rows = 1 if last else S + 1
    if K * rows * S * B * N >= lif_compiled.MIN_ELEMENTS and lif_compiled.available():
        # The loop below, compiled (the `fast` extra, bit for bit). It keeps Φ_t only for the
        # step it is at, computes M = Φ_t a_t there (as (K, B, N, S)), and writes λ_t for every t.
        L = _work(ws, "L", (K + 1, S, B, N), a.dtype)
        Phi_end, M = lif_compiled.recursion(L, A, w, None if last else a)
        lam, nu = L[:K], L[K]
    else:
        R = _work(ws, f"R{rows}", (K + 1, rows, S, B, N), a.dtype)
        R[K - 1] = 0.0
        for s in range(rows - 1):
            R[K - 1, s, s] = 1.0                                      # Φ_{K−1} = I
        R[K - 1, -1] = w[-1]                                          # λ_{K−1} = w_{K−1}
        for t in range(K - 1, -1, -1):
            prev = t - 1 if t else K
            np.einsum("orbj,rqbj->oqbj", R[t], A[t], out=R[prev])    # Σ_r R_t[o, r] A_t[r, q]
            if t:
                R[prev, -1] += w[t - 1]
        lam, nu = R[:K, -1], R[K, -1]                                 # λ_t (K, S, B, N); A_0ᵀ λ_0
        if not last:
            Phi_end = R[K, :S]                                        # Φ_{−1}
            M = np.ascontiguousarray(np.einsum("tosbj,tsbj->tobj", R[:K, :S], a).transpose(0, 2, 3, 1))   # Φ_t a_t, (K, B, N, S)
    coef = np.einsum("tsbj,tsbj->tbj", lam, a)                        # λ_t·a_t, (K, B, N)
    G = np.einsum("sbj,bjsi->ji", nu, z0) + coef.reshape(K * B, N).T @ P.reshape(K * B, Pn)
    if last:
        return G, None
    # Φ_{−1} z_{−1} + Σ_t M_t ⊗ p_t, per b an (N·S × K)(K × Pn) product, M_b read transposed in place
    zK = np.matmul(np.ascontiguousarray(Phi_end.transpose(2, 3, 0, 1)), z0) + np.matmul(
        M.reshape(K, B, N * S).transpose(1, 2, 0), P.transpose(1, 0, 2)).reshape(B, N, S, Pn)
    return G, zK


def _chunk_coefficients(config, p, x, state, sg_prev, first):
    """The layer run over one chunk ``x`` (K, B, M) from ``state``: its trajectory and the
    per-step coefficients of E3, ``(traj, r, g_m, g_d, σ'_t, σ'_{t−1})`` (None where absent)."""
    cfg = config if first or not config.spiking else replace(config, init_spike="from_v0")
    tr = _layer_forward(cfg, p, x, state, trusted=True)
    r = g_m = g_d = sg = sgp = None
    if config.spiking and config.reset != "none":
        r_m, r_d = config.reset_partials
        s_prev = tr.prev("s")
        g_m = 1.0 - s_prev * r_m
        g_d = 1.0 - s_prev * r_d
        if config.reset == "subtract":
            r = np.broadcast_to(p["gamma"], tr.v.shape)
        else:
            r = r_m * p["alpha"] * tr.prev("v") - p["v_reset"]
            if r_d:
                c_t = tr.c if config.synapse else (tr.I_ff + s_prev @ p["R"].T if config.recurrent else tr.I_ff)
                r = r + (c_t - p["beta"] * tr.prev("u") if config.adaptation else c_t)
    if config.spiking:
        sg = _sg(config, p, tr.v, tr.a)
        sgp = np.concatenate([sg_prev[None], sg[:-1]])
    return tr, r, g_m, g_d, sg, sgp


def _presynaptic_chunk(names, x, s_prev):
    """E0's p_t for the stacked parameters ``names`` over a chunk: (K, B, P)."""
    ones = np.ones(x.shape[:2] + (1,), x.dtype)
    return np.concatenate([{"W": x, "R": s_prev, "b": ones}[n] for n in names], axis=2)


def _work(ws, name, shape, dtype):
    """A work array of ``shape`` kept in ``ws`` across chunks (a chunk shorter than the first
    gets a leading slice of it): allocated, and zeroed, once a call instead of once a chunk.
    Whoever fills one must write the same entries every chunk, so the rest stay zero."""
    buf = ws.get(name)
    if buf is None or buf.shape[1:] != shape[1:] or buf.shape[0] < shape[0] or buf.dtype != dtype:
        buf = ws[name] = np.zeros(shape, dtype)
    return buf[:shape[0]]


def _hidden_system(cfg, p, co, flags, groups, filtered, sigs, ws):
    """A_t, a_t, w_t of the hidden layer's trace vector (E3, E4 with the readout's filters),
    in the work arrays ``ws`` (every entry written here is written each chunk; the others stay 0)."""
    tr, r, g_m, g_d, sg, sgp = co
    reset, adapt, thr = flags
    K, B, N = tr.v.shape
    comps = (["c"] if cfg.synapse else []) + ["v"] + (["u"] if adapt else []) + (["a"] if thr else [])
    if filtered:
        for g in range(len(groups)):
            comps += ([f"ec{g}"] if groups[g][3] else []) + [f"ev{g}"]
    ix = {c: i for i, c in enumerate(comps)}
    S = len(comps)
    A = _work(ws, "A", (K, S, S, B, N), tr.v.dtype)
    a = _work(ws, "a", (K, S, B, N), tr.v.dtype)
    one = np.ones((K, B, N), tr.v.dtype)
    gd = one if g_d is None else g_d
    c, v = ix.get("c"), ix["v"]
    if c is not None:                                   # ε^c_t = λ ε^c_{t−1} + p_t
        A[:, c, c] = p["lam"]
        a[:, c] = 1.0
        A[:, v, c] = gd * p["lam"]                    # ε^v_t ∋ g^d ε^c_t
    a[:, v] = gd
    A[:, v, v] = p["alpha"] * (one if g_m is None else g_m)         # α g^m ε^v_{t−1}
    if adapt:
        u = ix["u"]
        A[:, v, u] = -gd * p["beta"]                  # − g^d β ε^u_{t−1}
        A[:, u, u] = p["rho"]                         # ε^u_t = ρ ε^u_{t−1} + κ q_{t−1}
        A[:, u, v] = p["kappa"] * sgp
    if thr:
        ai = ix["a"]
        A[:, ai, ai] = p["rho_a"]                     # ε^a_t = ρ_a ε^a_{t−1} + q_{t−1}
        A[:, ai, v] = sgp
        A[:, ai, ai] -= sgp * p["beta_a"]
        if adapt:
            A[:, ix["u"], ai] = -p["kappa"] * sgp * p["beta_a"]
    if reset:                                           # − r_t q_{t−1}, q = σ'_{t−1}(ε^v − β_a ε^a)
        A[:, v, v] -= r * sgp
        if thr:
            A[:, v, ix["a"]] = r * sgp * p["beta_a"]
    # e_t = σ'_t (ε^v_t − β_a ε^a_t), in terms of z_{t−1} and p_t
    E_A = sg[:, None] * (A[:, v] - p["beta_a"] * A[:, ix["a"]] if thr else A[:, v])
    E_a = sg * a[:, v]
    w = _work(ws, "w", (K, S, B, N), tr.v.dtype)
    if filtered:
        for g, (a_o, l_o, _, syn_o) in enumerate(groups):
            src_A, src_a = E_A, E_a
            if syn_o:                                   # ē^c_t = λ_o ē^c_{t−1} + e_t
                ec = ix[f"ec{g}"]
                A[:, ec] = E_A
                A[:, ec, ec] += l_o
                a[:, ec] = E_a
                src_A, src_a = A[:, ec], a[:, ec]
            ev = ix[f"ev{g}"]                           # ē^v_t = α_o ē^v_{t−1} + ē^c_t
            A[:, ev] = src_A
            A[:, ev, ev] += a_o
            a[:, ev] = src_a
            w[:, ev] = sigs[g]
    else:                                               # Σ_g L̂_g,t · e_t
        sig = sum(sigs)
        w[:, v] = sig * sg
        if thr:
            w[:, ix["a"]] = -sig * sg * p["beta_a"]
    return A, a, w


def _readout_system(cfg, p, K, B, dy, dtype):
    """A_t, a_t, w_t of the readout's trace vector (own = ∅, non-spiking; E1's a^v term)."""
    N = cfg.n
    S = 2 if cfg.synapse else 1
    v = S - 1
    A = np.zeros((K, S, S, B, N), dtype)
    a = np.zeros((K, S, B, N), dtype)
    A[:, v, v] = p["alpha"]
    a[:, v] = 1.0
    if cfg.synapse:
        A[:, 0, 0] = p["lam"]
        A[:, v, 0] = p["lam"]
        a[:, 0] = 1.0
    w = np.zeros((K, S, B, N), dtype)
    w[:, v] = dy
    return A, a, w


def _eprop_chunked(hidden, readout, ph, po, x, readout_loss, Bfb, own, st0, filtered, track_max,
                   tr_h0, tr_o0, groups):
    """:func:`eprop_gradients` without a record: the hidden layer, the readout and the traces
    a chunk of :data:`CHUNK` steps at a time (see the comment above :func:`_linear_chunk`)."""
    dtype = x.dtype
    T, B, _ = x.shape
    ph_n, po_n = _per_neuron(hidden, ph), _per_neuron(readout, po)
    flags = own_paths(hidden, own)
    groups = [(a_o, l_o, ks, readout.synapse) for a_o, l_o, ks in groups]
    names_h, names_o = list(tr_h0.eps), list(tr_o0.eps)
    state_h = zero_state(hidden, B, dtype) if st0[0] is None else {k: st0[0][k] for k in state_names(hidden)}
    state_o = zero_state(readout, B, dtype) if st0[1] is None else {k: st0[1][k] for k in state_names(readout)}
    sg_h = _sg(hidden, ph, state_h["v"], state_h.get("a"))
    z_h = z_o = None
    G_h = G_o = 0.0
    value = 0.0
    y_max = None
    ws_h, ws_o = {}, {}                 # work arrays, allocated once a call (see _work)
    for t0 in range(0, T, CHUNK):
        co = _chunk_coefficients(hidden, ph, x[t0:t0 + CHUNK], state_h, sg_h, t0 == 0)
        tr_h = co[0]
        tr_o = _layer_forward(readout, po, tr_h.s, state_o, trusted=True)
        K = len(tr_h.v)
        state_h = {k: getattr(tr_h, k)[-1] for k in state_names(hidden)}
        state_o = {k: getattr(tr_o, k)[-1] for k in state_names(readout)}
        sg_h = co[4][-1]
        steps = getattr(readout_loss, "steps", None)
        if steps is not None:                                      # step_mse, step_cross_entropy: a chunk at once
            val, dy = steps(t0, tr_o.v)
            value += val
            if dy.dtype != dtype:                                  # e.g. a float64 target for a float32 net
                float_array(f"readout_loss's dL/dy at t={t0}", dy[0], (B, readout.n), dtype=dtype)
        else:                                                      # any other (t, y_t) callable: a step at a time
            dy = np.empty((K, B, readout.n), dtype)
            for i in range(K):
                val, d = readout_loss(t0 + i, tr_o.v[i])
                value += val
                d = np.asarray(d)
                if d.shape != (B, readout.n) or d.dtype != dtype:  # float_array names what is wrong
                    float_array(f"readout_loss's dL/dy at t={t0 + i}", d, (B, readout.n), dtype=dtype)
                dy[i] = d
        if not all_finite(dy):                                     # (one check a chunk, not a step)
            i = int(np.argwhere(~np.isfinite(dy))[0][0])
            float_array(f"readout_loss's dL/dy at t={t0 + i}", dy[i], (B, readout.n), dtype=dtype)
        if track_max:
            m = tr_o.v.max(axis=0)
            y_max = m if y_max is None else np.maximum(y_max, m)
        sigs = [dy[..., ks] @ Bfb[:, ks].T for _, _, ks, _ in groups]   # L̂_t of each group
        A, a, w = _hidden_system(hidden, ph_n, co, flags, groups, filtered, sigs, ws_h)
        P = _presynaptic_chunk(names_h, tr_h.x, tr_h.prev("s"))
        if z_h is None:
            z_h = np.zeros((B, hidden.n, a.shape[1], P.shape[-1]), dtype)
        G, z_h = _linear_chunk(A, a, w, P, z_h, ws_h, last=t0 + CHUNK >= T)
        G_h = G_h + G
        A, a, w = _readout_system(readout, po_n, K, B, dy, dtype)
        P = _presynaptic_chunk(names_o, tr_h.s, None)
        if z_o is None:
            z_o = np.zeros((B, readout.n, a.shape[1], P.shape[-1]), dtype)
        G, z_o = _linear_chunk(A, a, w, P, z_o, ws_o, last=t0 + CHUNK >= T)
        G_o = G_o + G
    g_h = _finish(_unstack({"+".join(names_h): G_h}, tr_h0.eps), ph)
    g_o = _finish(_unstack({"+".join(names_o): G_o}, tr_o0.eps), po)
    _check_gradients([g_h, g_o])
    return EpropResult(value, [g_h, g_o], [state_h, state_o], {}, y_max)


def alignment(grads, reference, names=None):
    """Cosine similarity and relative norm of the difference of two gradients.

    ``grads`` and ``reference`` are lists of per-layer dicts (or flat dicts); the
    arrays named in ``names`` (default: every name both have) are concatenated.
    Returns ``{"cosine": ..., "rel_diff": ‖g − g_ref‖ / ‖g_ref‖}``.
    """
    def flat(g, what):
        if isinstance(g, dict):
            return dict(g)
        if not isinstance(g, (list, tuple)) or not all(isinstance(d, dict) for d in g):
            raise TypeError(f"{what} must be a list of per-layer dicts of arrays (or one dict), got "
                            f"{type(g).__name__}")
        return {f"L{l}.{k}": v for l, d in enumerate(g) for k, v in d.items()}

    a, b = flat(grads, "grads"), flat(reference, "reference")
    if names is not None and (isinstance(names, str) or not isinstance(names, (list, tuple))
                              or not all(isinstance(k, str) for k in names)):
        raise TypeError(f"names must be a list of parameter names, got {type(names).__name__}")
    keys = [k for k in a if k in b] if names is None else list(names)
    if not keys:
        raise ValueError(f"grads and reference share no parameter names (grads has {sorted(a)}, reference "
                         f"{sorted(b)})"[:300])
    missing = [k for k in keys if k not in a or k not in b]
    if missing:
        raise ValueError(f"names {missing} are not in both grads and reference")
    u = np.concatenate([float_array(f"grads[{k!r}]", np.ravel(a[k])).astype(np.float64) for k in keys])
    w = np.concatenate([float_array(f"reference[{k!r}]", np.ravel(b[k])).astype(np.float64) for k in keys])
    if u.shape != w.shape:
        raise ValueError(f"grads and reference hold {u.size} and {w.size} numbers under the names {keys}")
    if not np.any(w):
        raise ValueError("reference is zero: the cosine and the relative difference are undefined")
    if not np.any(u):
        raise ValueError("grads is zero: the cosine is undefined")
    # norms of scaled copies, so that entries near the float range do not overflow the sums
    un, wn = u / np.abs(u).max(), w / np.abs(w).max()
    cos = float(un @ wn / (np.linalg.norm(un) * np.linalg.norm(wn)))
    m = max(np.abs(u).max(), np.abs(w).max())
    with np.errstate(over="ignore"):   # ‖u − w‖/‖w‖ overflows only if u is ~1e308 times w
        rel = float(np.linalg.norm(u / m - w / m) / np.linalg.norm(w / m))
    return {"cosine": cos, "rel_diff": rel}
