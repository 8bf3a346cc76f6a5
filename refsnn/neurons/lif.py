r"""The adaptive leaky integrate-and-fire layer: explicit forward loop, hand-derived adjoints.

Model (seed 000, "原则与机制", with the corrections listed below)
-----------------------------------------------------------------

Arrays are time-major, ``(T, B, N)``: T steps, B batch rows, N neurons; the
layer's input ``x`` is ``(T, B, M)``. Vectors are rows and the code computes
``x @ W.T``, so the equations are written the same way. Time runs over
``t = 0, ..., T-1``; the state *before* the first step is written with the
index ``-1`` (``v_{-1}`` is the argument ``state0["v"]``).

For t = 0, ..., T-1:

.. math::

    I_t &= x_t W^\top + s_{t-1} R^\top + b                          && \text{(F1) input current}\\
    c_t &= \lambda\, c_{t-1} + I_t                                   && \text{(F2) synaptic current}\\
    m_t &= \alpha\, v_{t-1}, \qquad d_t = c_t - \beta\, u_{t-1}     && \text{(F3) memory and drive}\\
    v_t &= m_t + d_t - \tilde s_{t-1}\, r_t                          && \text{(F4) membrane, with reset}\\
    u_t &= \rho\, u_{t-1} + \kappa\, s_{t-1}                         && \text{(F5) adaptation}\\
    s_t &= f(v_t - \theta)                                           && \text{(F6) spike}

and ``s_{-1} = f(v_{-1} - θ)``. Without a synapse (``synapse=False``) F2 is
``c_t = I_t`` (λ = 0); without adaptation there is no ``u`` (β = κ = 0); without
recurrence there is no ``R``. The model switches S1–S6 below (the initial spike, shared
parameters, an adaptive threshold F7, the post-reset membrane view, a refractory gate, a
two-step recurrent delay)
change these equations where they say; their defaults are the equations above.

``f`` is the Heaviside step ``H`` (``forward="heaviside"``, with ``H(0)`` = ``h0``)
or, for the *smooth twin*, the surrogate's primitive ``F`` (``forward="smooth"``).
The backward pass always uses ``σ' = F'`` for ``∂s/∂v``; with the smooth twin it
is therefore the exact derivative of the forward pass.

The reset amount ``r_t`` and its partials ``r_m = ∂r/∂m``, ``r_d = ∂r/∂d``:

==================  ====================  ======  ======  ==================================
``reset``           ``r_t``               r_m     r_d     what F4 becomes
==================  ====================  ======  ======  ==================================
``subtract``        γ                     0       0       ``v = m + d − s γ`` (soft reset)
``hard_keep_input`` m_t − v_r             1       0       ``v = (1−s) m + s v_r + d``
``hard_drop_input`` m_t + d_t − v_r       1       1       ``v = (1−s)(m + d) + s v_r`` (seed 000)
``none``            0                     0       0       ``v = m + d``
==================  ====================  ======  ======  ==================================

``s̃`` is the spike that enters the reset term. Attached (``detach_reset=False``)
it is ``s``; detached (``detach_reset=True``) it has the value of ``s`` but no
derivative: the gradient treats the reset spikes as constants. The gates
``(1 − s̃ r_m)`` and ``(1 − s̃ r_d)`` still multiply the gradient when detached.

Adjoints (what :func:`layer_backward` computes)
------------------------------------------------

Write ``δv_t = dL/dv_t`` for the total derivative of the loss with respect to
``v_t`` through everything that ``v_t`` influences, and likewise ``δu, δc, δI, δs``.
``a^v_t = ∂L/∂v_t|direct`` and ``a^s_t = ∂L/∂s_t|direct`` are the loss's direct
partials (from :mod:`refsnn.losses`, or from the layer above, which sees ``s`` as
its input). Let ``g^m_t = 1 − s̃_{t−1} r_m`` and ``g^d_t = 1 − s̃_{t−1} r_d``.
All adjoints at ``t = T`` are zero. For t = T−1, ..., 0, −1:

.. math::

    δs_t &= a^s_t - [\text{attached}]\, r_{t+1}\, δv_{t+1} + κ\, δu_{t+1} + δI_{t+1} R  && \text{(B1)}\\
    δv_t &= a^v_t + α\, g^m_{t+1}\, δv_{t+1} + σ'(v_t - θ)\, δs_t                       && \text{(B2)}\\
    δu_t &= ρ\, δu_{t+1} - β\, g^d_{t+1}\, δv_{t+1}                                        && \text{(B3)}\\
    δc_t &= g^d_t\, δv_t + λ\, δc_{t+1}  \quad(t \ge 0), \qquad δc_{-1} = λ\, δc_0          && \text{(B4)}\\
    δI_t &= δc_t                                                                            && \text{(B5)}

(``a_{-1} = 0``.) With the soft reset (r = γ, g = 1) B1–B3 are seed 000's three
recursions exactly. Parameter gradients sum over t = 0..T−1 and the batch:

.. math::

    ∂L/∂W &= \textstyle\sum_t δI_t^\top x_t, \quad ∂L/∂b = \sum_t δI_t, \quad
    ∂L/∂R = \sum_t δI_t^\top s_{t-1}, \quad ∂L/∂x_t = δI_t W             && \text{(G1)}\\
    ∂L/∂α &= \textstyle\sum_t g^m_t δv_t v_{t-1}, \quad ∂L/∂β = -\sum_t g^d_t δv_t u_{t-1} && \text{(G2)}\\
    ∂L/∂γ &= -\textstyle\sum_t δv_t \tilde s_{t-1}, \quad ∂L/∂v_r = \sum_t δv_t \tilde s_{t-1}   && \text{(G3)}\\
    ∂L/∂ρ &= \textstyle\sum_t δu_t u_{t-1}, \quad ∂L/∂κ = \sum_t δu_t s_{t-1}, \quad
    ∂L/∂λ = \sum_t δc_t c_{t-1}                                                           && \text{(G4)}\\
    ∂L/∂θ &= -\textstyle\sum_{t=-1}^{T-1} σ'(v_t - θ)\, δs_t                               && \text{(G5)}

and the initial state's gradients are ``δv_{-1}, δu_{-1}, δc_{-1}``.

The dynamics split: other layers drive the same neuron
-----------------------------------------------------

F1 has a part that does not depend on the state, the feed-forward current
``I^ff_t = x_t W^T + b``, and a part that does, ``s_{t-1} R^T``. The dense layer is

* :func:`layer_forward` = the projection ``I^ff`` (one matrix product for all T)
  followed by :func:`dynamics_forward` (config, dynamics parameters, ``I_ff``);
* :func:`layer_backward` = :func:`dynamics_backward` (B1–B5, G2–G5 and G1's
  ``∂L/∂R``, returning ``δI_t``) followed by G1's projection part
  ``∂L/∂W = Σ_t δI_t^T x_t``, ``∂L/∂b = Σ_t δI_t``, ``∂L/∂x_t = δI_t W``.

A convolution or a dendritic tree computes its own ``I^ff`` (its own parameters),
calls :func:`dynamics_forward` with the parameters of :func:`dynamics_param_names`
(every parameter but ``W`` and ``b``; ``R`` stays with the dynamics, because the
recurrent current depends on the state), and maps the returned ``δI_t`` back through
its own projection. Because ``I^ff`` enters F2 (or F3) additively, ``∂L/∂I^ff_t = δI_t``
exactly: B5 is all the dynamics owes the layer that feeds it. The split is the same
arithmetic as the unsplit layer, so its results are bit-identical.

Switches: the conventions the peer libraries need
-------------------------------------------------

Each switch is a :class:`LIFConfig` field; its default is the model above. The new
adjoint terms are numbered after B1–B5 and G1–G5, and every switch is a family of
``refsnn gradcheck``'s grid (:mod:`refsnn.checking.grid_switches`, ``lif-switches``).

**S1. The initial spike** (``init_spike``). ``"from_v0"``: ``s_{-1} = f(v_{-1} − A_{-1})``
(A = θ without S3's adaptive threshold; item 4 of the seed notes below), so B2 at t = −1 carries ``σ'(v_{-1} − A_{-1}) δs_{-1}`` into ``δv_{-1}``
and G5 sums from t = −1. ``"zero"``: ``s_{-1} = 0``, a constant, as in every peer
(snnTorch, SpikingJelly, Norse, SpyTorch, e-prop): B2 at t = −1 is
``δv_{-1} = α g^m_0 δv_0`` and G5 (and G6) sum over t = 0..T−1 only. ``δs_{-1}`` is
still reported (``ds_init``); nothing depends on it.

**S2. Shared parameters.** Every per-neuron parameter (``b, α, θ, γ, v_r, β, ρ, κ, λ,
β_a, ρ_a``) may be a 0-d array, one value for all N neurons. The forward pass
broadcasts it; its gradient is the sum of the per-neuron gradients over the N neurons
(the chain rule through the broadcast ``p_j = p`` for all j) and is returned with shape
``()``. Weight matrices ``W``, ``R`` are always full. ``init_params(..., theta=np.array(1.0))``
makes θ shared.

**S3. Adaptive threshold** (``adaptive_threshold=True``; state ``a``, parameters
``β_a``, ``ρ_a``). F6 becomes

.. math::

    a_t &= ρ_a\, a_{t-1} + s_{t-1}                                   && \text{(F7)}\\
    A_t &= θ + β_a\, a_t, \qquad s_t = f(v_t - A_t)                  && \text{(F6')}

with ``a_{-1} = state0["a"]`` and ``s_{-1} = f(v_{-1} − A_{-1})`` (or 0). The spike that
enters F7 is attached unless ``detach_threshold`` (``detach_reset`` detaches only the
reset term of F4). The
reset is unchanged: it subtracts γ (or resets to v_r); with the threshold, every reset
kind combines unchanged. Writing ``σ'_t = σ'(v_t − A_t)``, the adjoints gain

.. math::

    δs_t &\mathrel{+}= δa_{t+1}                                        && \text{(B1, F7's term)}\\
    δa_t &= ρ_a\, δa_{t+1} - β_a\, σ'_t\, δs_t                         && \text{(B6)}\\
    ∂L/∂β_a &= -\textstyle\sum_t σ'_t\, δs_t\, a_t, \quad ∂L/∂ρ_a = \sum_{t \ge 0} δa_t\, a_{t-1} && \text{(G6)}

and σ' in B2 and G5 is ``σ'_t``; B6 and G6 include t = −1 exactly when G5 does (S1), and
``δa_{-1}`` is the initial state's gradient.

*How the peers write it.* The e-prop reference (Bellec et al. 2020; ``EligALIF`` of
IGITUGraz/eligibility_propagation, Figure 3 tutorials) is this form exactly:
``b_t = ρ b_{t−1} + z_{t−1}``, threshold ``θ + β b_t``, spike ``H((v_t − A_t)/θ)`` with
``H(0) = 0``, reset ``v_t = α v_{t−1} + I_t − z_{t−1} θ`` (a soft reset of the *fixed*
θ, at the next step: refsnn's ``subtract`` with γ = θ, F4 as here), ``z_{-1} = 0``,
``b_{-1} = 0``. So ``a = b``, ``β_a = β``, ``ρ_a = e^{−Δt/τ_a}``, ``init_spike="zero"``;
its pseudo-derivative ``(γ_pd/θ)·max(0, 1 − |v − A|/θ)`` is the triangle of half-width θ
with gain γ_pd (a θ-dependent surrogate: a θ-gradient differs by the path through that
scale, which e-prop never trains). Its ``LightALIF`` writes ``b_t = ρ b_{t−1} + (1−ρ) z_{t−1}``:
then ``β_a = β(1 − ρ)``. Its refractory counter is S5's gate with ``n_ref = n_refractory − 1``.
Norse 1.1's ``LSNNCell`` (``lsnn_feed_forward_step``) differs in three ways: the threshold
is the state itself, ``b̂_t = b_{t−1} + Δt τ_a^{-1}(v_th − b_{t−1})`` (decaying towards
v_th), the spike is ``z_t = H(v̂_t − b̂_t)``, and *after* the spike test at the same step
``b_t = b̂_t + β z_t``. Then ``b̂_t − v_th = ρ_a (b̂_{t−1} − v_th) + ρ_a β z_{t−1}`` with
``ρ_a = 1 − Δt τ_a^{-1}``: refsnn's F7 with ``θ = v_th``, ``β_a = ρ_a β`` (the jump has
decayed one step before it is tested), ``a_{-1} = (b_{-1} − v_th)/β_a`` (0 for Norse's
initial ``b = v_th``) and ``init_spike="zero"``. Norse resets to a value at the same step
(``v = (1 − z) v̂ + z v_reset``, refsnn's ``hard_keep_input`` with v_r = α v_reset; its
returned ``v`` is S4's post-reset membrane) and adds the input after the spike test (a
one-step input delay: feed refsnn ``x_{t−1}``). The feed-forward ``LSNNCell`` attaches
both the reset and the threshold jump; ``LSNNRecurrentCell`` (``lsnn_step``) detaches both
(``z_new.detach()``): refsnn's ``detach_reset=True`` with ``detach_threshold=True``.

``detach_threshold=True`` treats F7's spike as a constant: B1 loses its ``δa_{t+1}`` term
and nothing else changes (the threshold still reads a_t, so B6 and G6 still carry δa to
``β_a``, ``ρ_a`` and ``a_{-1}``; only the path from a_t back to the spikes that built it is
cut). Finite differences hold F7's spikes fixed (``layer_forward(..., s_threshold=...)``),
as for the reset.

**S4. The membrane view** (``membrane_view``). refsnn's ``v_t`` is the *charged*
membrane: the reset of step t's spike is applied at step t+1, through ``s̃_t r_{t+1}`` in
F4. The peers that reset at the same step (SpikingJelly's ``v_seq``, Norse, snnTorch with
``reset_delay=False``) return the membrane *after* that reset. In refsnn's index
convention it is the value the next step leaks from: the ``v⁺_t`` with
``v_{t+1} = α v⁺_t + d_{t+1}``. Matching F4, ``v_{t+1} = α v_t + d_{t+1} − s̃_t r_{t+1}``:

.. math::

    v^+_t = v_t - \tilde s_t\, r_{t+1} / α \quad\text{when } r_d = 0, \qquad
    r_{t+1} = γ \;(\text{subtract}), \quad α v_t - v_r \;(\text{hard\_keep\_input}), \quad 0 \;(\text{none})

so ``v⁺ = v − s̃ γ/α`` (soft: a peer that subtracts θ_peer has γ = α θ_peer and
``v⁺ = v − s θ_peer``) and ``v⁺ = (1 − s̃) v + s̃ v_r/α`` (to a value: the peer's reset value
is ``v_r/α``). For ``hard_drop_input`` (``r_d = 1``) the reset removes the next step's drive
``d_{t+1}``, which is not known at step t: there is no such ``v⁺_t``, and LIFConfig refuses
the combination. ``s̃_t`` is the reset spike of step t (detached with ``detach_reset``;
``s_reset`` may then carry a row T, ``s̃_{T-1}``, which only ``v⁺_{T-1}`` reads).

With ``membrane_view="post_reset"`` :attr:`Trajectory.membrane` is ``v⁺`` (stored as
``Trajectory.v_post``; ``Trajectory.v`` stays the charged membrane), the losses read it,
and the ``dv`` given to :func:`layer_backward` is ``b_t = ∂L/∂v⁺_t``. It enters the
recursion as direct partials of ``v_t`` and ``s_t`` (``r_m`` as in the reset table):

.. math::

    a^v_t &= (1 - \tilde s_t\, r_m)\, b_t                                           && \text{(P1)}\\
    a^s_t &\mathrel{+}= -[\text{attached}]\, (r_{t+1}/α)\, b_t                      && \text{(P2)}\\
    ∂L/∂γ &\mathrel{+}= -\textstyle\sum_t \tilde s_t b_t / α, \quad
    ∂L/∂v_r \mathrel{+}= \sum_t \tilde s_t b_t / α, \quad
    ∂L/∂α \mathrel{+}= \sum_t \tilde s_t b_t\, (γ \text{ or } -v_r) / α^2      && \text{(G7)}

(``r_{t+1}/α = γ/α`` or ``v_t − v_r/α``; for ``none`` v⁺ = v and nothing changes).

**S5. Refractory period** (``refractory = n_ref``, 0 = off; seed 002's "trainable
neuron dynamics"). A gate on the spike:

.. math::

    \hat s_t = f(v_t - A_t), \qquad G_t = \textstyle\prod_{k=1}^{n_{ref}} (1 - s_{t-k}), \qquad
    s_t = \hat s_t\, G_t                                                            && \text{(F6'')}

with ``s_{-1}`` from S1 and ``s_i = 0`` for ``i < −1`` (``s_{-1}`` itself is not gated).
With Heaviside spikes ``G_t = 1 − ref_t``, ``ref_t = 1`` iff the neuron spiked in one of
the previous n_ref steps, so a spike at t blocks t+1..t+n_ref; the product form is the
same function of binary spikes and is smooth in the smooth twin, where it is the exact
gradient. The membrane is not touched (the reset still acts through F4). Then
``∂s_t/∂v_t = σ'(v_t − A_t) G_t``: σ' in B2, B6, G5 and G6 carries the factor ``G_t``. The
gate depends on the past spikes, ``∂s_t/∂s_{t−k} = −ŝ_t Π_{j≠k}(1 − s_{t−j})``. Which
path the gradient takes through it is a choice (``detach_refractory``):

* detached (``True``, the default): ``G_t`` is a constant of the backward pass, as in
  e-prop (its counter is a ``stop_gradient`` comparison); only the factor ``G_t`` above;
* attached (``False``): also

.. math::

    δs_t \mathrel{+}= -\textstyle\sum_{k=1}^{n_{ref}} \hat s_{t+k} \prod_{j \ne k} (1 - s_{t+k-j})\; δs_{t+k}   && \text{(B7)}

for t = −1..T−1 (terms with t+k ≥ T vanish). With Heaviside spikes B7's product is
nonzero only when s_t is the only spike in the window of s_{t+k}: a spike at t that
blocked a would-be spike at t+k (``ŝ_{t+k} = 1``) is told how much that spike mattered.
The finite differences of a detached gate hold ``G`` fixed (``layer_forward(..., gate=...)``,
as ``s_reset`` for the reset). e-prop's ``n_refractory = n`` blocks n − 1 steps: refsnn's
``n_ref = n − 1``.

**S6. Recurrent delay** (``recurrent_delay = 2``; default 1). The recurrent spikes reach
F1 two steps late (Norse's ``LSNNRecurrentCell``, whose current takes its recurrent spikes
after the spike test: docs/presets.md, Quirks):

.. math::

    I_t = x_t W^\top + s_{t-2} R^\top + b                                  && \text{(F1')}

with ``s_{-1}`` from S1 and ``s_{-2} = 0``, a constant. Only F1 changes, so only the two
terms of F1's adjoint move: ``s_t`` now enters ``I_{t+2}``, and R multiplies ``s_{t−2}``,

.. math::

    δs_t \mathrel{+}= δI_{t+2} R \;\;(\text{instead of } δI_{t+1} R), \qquad
    ∂L/∂R = \textstyle\sum_t δI_t^\top s_{t-2}                                  && \text{(B1', G1')}

(terms with t+2 ≥ T vanish). A recurrent cycle s → I → v → s then spans two steps; no
relabelling of time turns it into F1's one-step cycle (a cycle's delay is invariant), which is
why it is a switch and not a parameter map. A run from ``state0`` knows no spike before
``s_{-1}``: a chunked run (TBPTT) starts each chunk with ``s_{-2} = 0``, as below for
``init_spike="zero"``; e-prop's step-by-step traces refuse the switch.

*Continuing a run from a state* (TBPTT windows, :mod:`refsnn.learning.tbptt`). A run
started from ``state0`` recomputes ``s_{-1}`` by S1 and knows no spikes before it, so a
chunked run equals the unchunked one with ``init_spike="from_v0"`` (then
``s_{-1} = f(v_{-1} − A_{-1})`` is the previous chunk's last spike, ``a`` being carried as
a state) and ``refractory = 0``; with ``init_spike="zero"`` or a refractory gate each chunk
starts as if the neuron had been silent.

Where seed 000 is ambiguous or wrong, and what refsnn does
-----------------------------------------------------------

1. *Time index of the input.* Seed 000 writes ``v_{t+1} = α v_t + w x_t − …``, so
   the input of step t first reaches a spike at t+1: with T = 1 the output does
   not depend on the input at all, the last input never matters, and a stack of
   L layers loses L steps. refsnn lets ``x_t`` drive ``v_t`` (F1–F4). Every
   equation of the seed holds with ``x_t`` replaced by ``x_{t+1}``; the seed's
   ``∂L/∂w = Σ_t δv_{t+1} x_t`` becomes G1 (``δI_t = δv_t`` for soft reset, no
   synapse). The reset still uses the previous step's spike, as in the seed
   (snnTorch's default ``reset_delay=True``, SpyTorch, e-prop).
2. *Hard reset.* The seed's Jacobian
   ``∂v_{t+1}/∂v_t = α(1−s_t) + (V_reset − α v_t − I_t) σ'`` is right once
   ``I_t`` is read as the *whole* drive, including ``−β u_t``; but its weight
   gradient ``Σ δv_{t+1} x_t`` holds only for the soft reset. Under the hard
   reset the input is gated: ``δI_t = (1 − s_{t−1}) δv_t`` (B4–B5 with g^d), and
   ``δu_t = ρ δu_{t+1} − β (1 − s_t) δv_{t+1}`` (B3). The seed also names the
   soft reset's subtracted amount ``V_reset``; that is γ here, and the
   hard reset's value is ``v_r``. Its threshold is written both θ and V_th;
   here it is θ.
3. *Direct membrane terms.* The seed's δv recursion has no ``∂L/∂v_t|direct``
   term; seed 002's membrane loss ``½Σ(v_t − y)²`` needs it (``a^v`` in B2).
4. *Initial spike.* The seed leaves ``s`` before the first step undefined.
   refsnn derives it from the initial membrane, ``s_{-1} = f(v_{-1} − θ)``, so the
   initial state's gradient includes the path through ``s_{-1}``.
5. *Names.* The seed's stability section calls the synaptic current ``u``,
   which the adaptation already uses; refsnn calls it ``c`` with decay λ.
6. *Critical coupling.* The seed states ``W_crit = 1/(τ_m τ_s)`` without its
   model. It holds for ``dv/dt = −v/τ_m + c``, ``dc/dt = −c/τ_s + W v`` (W ≥ 0), and
   for its forward-Euler discretisation with a step ``Δ ≤ min(τ_m, τ_s)``: there both
   decay factors ``1 − Δ/τ`` are non-negative, the Jacobian's eigenvalues are real and
   the larger one is the spectral radius, which reaches 1 exactly at ``W = 1/(τ_m τ_s)``
   whatever Δ is; with a larger step the eigenvalue −1 can leave the unit circle first.
   It does not hold for ``τ dv/dt = −v + c``
   (critical coupling 1) nor with exact decay factors ``e^{−Δ/τ}``; notebook 05
   derives all three.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field, replace

import numpy as np

from .._validate import check_bool, check_choice, check_float_dtype, check_positive_int, float_array, real_scalar
from ..surrogates import Surrogate, surrogate
from .lif_fused import backward_fused, covers
from . import lif_compiled

__all__ = [
    "RESET_KINDS",
    "FORWARD_MODES",
    "INIT_SPIKES",
    "MEMBRANE_VIEWS",
    "PROJECTION_PARAMS",
    "LIFConfig",
    "Trajectory",
    "LayerGradients",
    "param_names",
    "state_names",
    "init_params",
    "zero_state",
    "check_params",
    "layer_forward",
    "layer_backward",
    "dynamics_param_names",
    "check_dynamics_params",
    "dynamics_forward",
    "dynamics_backward",
    "DynamicsGradients",
    "smooth_twin",
    "piecewise_linear",
]

RESET_KINDS = ("subtract", "hard_keep_input", "hard_drop_input", "none")
FORWARD_MODES = ("heaviside", "smooth")
BACKWARD_PATHS = ("fused", "readable")
INIT_SPIKES = ("from_v0", "zero")
MEMBRANE_VIEWS = ("pre_reset", "post_reset")

# (r_m, r_d) = (∂r/∂m, ∂r/∂d) for each reset kind; see the table above.
_RESET_PARTIALS = {
    "subtract": (0.0, 0.0),
    "hard_keep_input": (1.0, 0.0),
    "hard_drop_input": (1.0, 1.0),
    "none": (0.0, 0.0),
}


@dataclass(frozen=True)
class LIFConfig:
    """Structure and conventions of one layer. Parameters live in a separate dict.

    Parameters
    ----------
    n_in, n : int
        Input width M and number of neurons N.
    surrogate : Surrogate
        σ' used for ``∂s/∂v`` in the backward pass; its primitive is the smooth twin.
    forward : {"heaviside", "smooth"}
        The spike function f of F6: the Heaviside step, or the surrogate's primitive.
    h0 : {1.0, 0.0}
        ``H(0)``: whether a membrane exactly at threshold spikes (seeds, SpikingJelly: 1;
        snnTorch, Norse, SpyTorch, e-prop: 0).
    reset : {"subtract", "hard_keep_input", "hard_drop_input", "none"}
        See the module docstring's table.
    detach_reset : bool
        Treat the reset spikes as constants in the backward pass.
    adaptation, synapse, recurrent : bool
        Include the adaptation current u, the synaptic current c, recurrent weights R.
    spiking : bool
        ``False`` makes a non-spiking leaky integrator (a readout): no θ, no spikes;
        it requires ``reset="none"`` and no adaptation or recurrence.
    init_spike : {"from_v0", "zero"}
        The spike before the first step: ``s_{-1} = f(v_{-1} − θ)`` with its gradient
        path to ``v_{-1}`` and θ (refsnn's default), or ``s_{-1} = 0``, a constant
        (snnTorch, SpikingJelly, Norse, SpyTorch, e-prop). See "Switches" in the
        module docstring.
    adaptive_threshold : bool
        The threshold ``A_t = θ + β_a a_t`` with ``a_t = ρ_a a_{t-1} + s_{t-1}`` (F7;
        e-prop's ALIF, Norse's LSNN after the mapping in the module docstring); the
        spike is ``s_t = f(v_t − A_t)``. Adds the parameters ``beta_a``, ``rho_a`` and
        the state ``a``.
    detach_threshold : bool
        Treat the spike that enters F7 as a constant in the backward pass (Norse's
        ``LSNNRecurrentCell`` detaches its threshold jump); needs ``adaptive_threshold``.
    membrane_view : {"pre_reset", "post_reset"}
        The membrane that losses read (:attr:`Trajectory.membrane`) and that
        ``layer_backward``'s ``dv`` differentiates: the charged ``v_t`` (default) or the
        post-reset ``v⁺_t`` (S4 of the module docstring; what SpikingJelly's ``v_seq``,
        Norse and snnTorch with ``reset_delay=False`` return). Not expressible with
        ``reset="hard_drop_input"``.
    refractory : int
        ``n_ref ≥ 0`` steps of refractoriness (0: off): the spike is gated,
        ``s_t = f(v_t − A_t) · G_t`` with ``G_t = Π_{k=1..n_ref} (1 − s_{t−k})`` (S5).
    detach_refractory : bool
        Treat the gate ``G_t`` as a constant in the backward pass (default, as e-prop);
        ``False`` attaches it: the gradient then also flows to the past spikes that set it.
    recurrent_delay : {1, 2}
        The step lag of the recurrent spikes in F1: ``s_{t−1} R`` (default) or ``s_{t−2} R``
        (S6; Norse's ``LSNNRecurrentCell``). 2 needs ``recurrent=True``.
    """

    n_in: int
    n: int
    surrogate: Surrogate = field(default_factory=lambda: surrogate("triangle"))
    forward: str = "heaviside"
    h0: float = 1.0
    reset: str = "subtract"
    detach_reset: bool = False
    adaptation: bool = False
    synapse: bool = False
    recurrent: bool = False
    spiking: bool = True
    init_spike: str = "from_v0"
    adaptive_threshold: bool = False
    detach_threshold: bool = False
    membrane_view: str = "pre_reset"
    refractory: int = 0
    detach_refractory: bool = True
    recurrent_delay: int = 1

    def __post_init__(self):
        check_positive_int("n_in", self.n_in)
        check_positive_int("n", self.n)
        if not isinstance(self.surrogate, Surrogate):
            raise TypeError(
                "surrogate must be a refsnn.surrogates.Surrogate, e.g. surrogate('sigmoid', 5.0); "
                f"got {type(self.surrogate).__name__}"
            )
        check_choice("forward", self.forward, FORWARD_MODES)
        if (isinstance(self.h0, (bool, np.bool_)) or not isinstance(self.h0, numbers.Real)
                or self.h0 not in (0.0, 1.0)):
            raise ValueError(f"h0 must be 1.0 or 0.0 (the value of H at 0), got {self.h0!r}")
        check_choice("reset", self.reset, RESET_KINDS)
        check_choice("init_spike", self.init_spike, INIT_SPIKES)
        check_choice("membrane_view", self.membrane_view, MEMBRANE_VIEWS)
        if self.detach_threshold and not self.adaptive_threshold:
            raise ValueError("detach_threshold=True needs adaptive_threshold=True (it detaches F7's spike)")
        if (isinstance(self.refractory, (bool, np.bool_)) or not isinstance(self.refractory, numbers.Integral)
                or self.refractory < 0):
            raise ValueError(f"refractory must be a non-negative integer (steps; 0 = off), got {self.refractory!r}")
        object.__setattr__(self, "refractory", int(self.refractory))
        if (isinstance(self.recurrent_delay, (bool, np.bool_)) or not isinstance(self.recurrent_delay, numbers.Integral)
                or self.recurrent_delay not in (1, 2)):
            raise ValueError(f"recurrent_delay must be 1 or 2 (steps), got {self.recurrent_delay!r}")
        object.__setattr__(self, "recurrent_delay", int(self.recurrent_delay))
        if self.recurrent_delay == 2 and not self.recurrent:
            raise ValueError("recurrent_delay=2 needs recurrent=True (it delays the recurrent spikes)")
        if self.membrane_view == "post_reset" and self.reset == "hard_drop_input":
            raise ValueError(
                "membrane_view='post_reset' cannot be combined with reset='hard_drop_input': that reset "
                "drops the next step's drive, v_{t+1} = (1 − s_t)(α v_t + d_{t+1}) + s_t v_r, so no membrane "
                "v⁺_t with v_{t+1} = α v⁺_t + d_{t+1} exists; use reset='hard_keep_input' (a reset to a value "
                "that keeps the input, as SpikingJelly, Norse and snnTorch's Leaky do) or membrane_view='pre_reset'"
            )
        for name in ("detach_reset", "adaptation", "synapse", "recurrent", "spiking", "adaptive_threshold",
                     "detach_threshold", "detach_refractory"):
            check_bool(name, getattr(self, name))
        if self.forward == "smooth" and self.surrogate.name == "true":
            raise ValueError(
                "forward='smooth' needs a surrogate with a smooth primitive; "
                "the 'true' derivative's primitive is the step itself"
            )
        if not self.spiking and (self.reset != "none" or self.adaptation or self.recurrent
                                 or self.adaptive_threshold or self.refractory):
            raise ValueError(
                "spiking=False (a leaky-integrator readout) requires reset='none', "
                "adaptation=False, recurrent=False, adaptive_threshold=False and refractory=0"
            )

    @property
    def reset_partials(self):
        """``(r_m, r_d)`` of the reset kind."""
        return _RESET_PARTIALS[self.reset]

    def spike(self, x, out=None, theta=None):
        """F6: ``f(x)`` with ``x = v − θ``, the one place the forward spike is computed.

        ``f`` is the surrogate's primitive (``forward="smooth"``) or the Heaviside step
        with ``H(0) = h0``, written as a comparison (``np.heaviside`` is about ten times
        slower in the time loop). ``out`` receives the result if given. With ``theta``
        given, ``x`` is the membrane v and ``f(v − θ)`` is returned; the Heaviside step
        then compares v with θ directly, which is exactly ``v − θ ≥ 0`` (``> 0``): in
        IEEE arithmetic with gradual underflow a difference of two floats is zero only
        if they are equal, and has the sign of the exact difference.
        """
        if not isinstance(x, np.ndarray) or x.dtype not in (np.float32, np.float64):
            raise TypeError("LIFConfig.spike: x (= v − θ) must be a float32 or float64 numpy array, got "
                            f"{getattr(x, 'dtype', type(x).__name__)}")
        if theta is not None and self.forward == "smooth":
            x = x - theta
            theta = None
        if self.forward == "smooth":
            val = self.surrogate.primitive(x)
            if out is None:
                return val
            out[...] = val
            return out
        if out is None:
            out = np.empty_like(x)
        cmp = np.greater_equal if self.h0 == 1.0 else np.greater
        return cmp(x, 0 if theta is None else theta, out=out)   # 0/1 written straight into out


def smooth_twin(config: LIFConfig) -> LIFConfig:
    """The same layer with the spike replaced by the surrogate's primitive."""
    return replace(config, forward="smooth")


def piecewise_linear(config: LIFConfig) -> LIFConfig:
    """The same layer with the Heaviside spike and its true (zero) derivative."""
    return replace(config, forward="heaviside", surrogate=surrogate("true"))


def param_names(config: LIFConfig) -> tuple[str, ...]:
    """Names of the layer's parameters, in a fixed order: the projection ``W, b``, then
    :func:`dynamics_param_names`."""
    return ("W", "b") + dynamics_param_names(config)


def dynamics_param_names(config: LIFConfig) -> tuple[str, ...]:
    """Names of the parameters of the neuron dynamics: everything but the feed-forward
    projection ``W, b`` (what :func:`dynamics_forward` takes)."""
    names = []
    if config.recurrent:
        names.append("R")
    names.append("alpha")
    if config.spiking:
        names.append("theta")
    if config.reset == "subtract":
        names.append("gamma")
    elif config.reset.startswith("hard"):
        names.append("v_reset")
    if config.adaptation:
        names += ["beta", "rho", "kappa"]
    if config.synapse:
        names.append("lam")
    if config.adaptive_threshold:
        names += ["beta_a", "rho_a"]
    return tuple(names)


def state_names(config: LIFConfig) -> tuple[str, ...]:
    """Names of the layer's state variables (each ``(B, N)``)."""
    return (("v",) + (("u",) if config.adaptation else ()) + (("c",) if config.synapse else ())
            + (("a",) if config.adaptive_threshold else ()))


# The weight matrices; every other parameter is per-neuron, (N,), or shared, ().
_MATRIX_PARAMS = ("W", "R")
PROJECTION_PARAMS = ("W", "b")


def _param_shape(config, name):
    return {"W": (config.n, config.n_in), "R": (config.n, config.n)}.get(name, (config.n,))


def _check_param_shape(config, name, arr):
    """A weight matrix must have its shape; a per-neuron parameter may be (N,) or ()
    (one value shared by all neurons)."""
    want = _param_shape(config, name)
    if name in _MATRIX_PARAMS:
        return float_array(f"params[{name!r}]", arr, want, finite=False)     # (the caller checked)
    if arr.shape not in ((), want):
        raise ValueError(
            f"params[{name!r}] has shape {arr.shape}, expected ({config.n},) (one value per neuron) "
            "or () (a 0-d array: one value shared by all neurons)"
        )
    return arr


def init_params(config: LIFConfig, rng, dtype=np.float64, **values):
    """Draw a parameter dict for ``config``.

    Weights are Gaussian with standard deviation ``w_scale / sqrt(fan_in)``
    (``w_scale`` defaults to 1; recurrent weights use ``r_scale``, default 0.5).
    Every other parameter is a per-neuron vector filled with its default, or
    with the value given as a keyword: a Python scalar (filled into ``(N,)``), an
    ``(N,)`` array, or a 0-d array, which makes the parameter *shared* (shape ``()``,
    one value for all neurons; its gradient is then ``()`` too):
    α = 0.9, θ = 1, γ = θ, v_reset = 0, β = 0.2, ρ = 0.9, κ = 1, λ = 0.8, b = 0,
    β_a = 0.2, ρ_a = 0.95.

    ``rng`` must be a ``numpy.random.Generator`` or an integer seed.
    """
    if not isinstance(config, LIFConfig):
        raise TypeError(f"config must be a LIFConfig, got {type(config).__name__}")
    rng = _rng(rng)
    dtype = check_float_dtype("dtype", dtype)
    defaults = dict(alpha=0.9, theta=1.0, gamma=None, v_reset=0.0, beta=0.2, rho=0.9,
                    kappa=1.0, lam=0.8, b=0.0, beta_a=0.2, rho_a=0.95, w_scale=1.0, r_scale=0.5)
    unknown = set(values) - set(defaults) - {"W", "R"}
    if unknown:
        raise ValueError(f"unknown parameter values {sorted(unknown)}; expected some of {sorted(defaults)}")
    defaults.update(values)
    if defaults["gamma"] is None:
        defaults["gamma"] = defaults["theta"]
    for name in ("w_scale", "r_scale"):
        real_scalar(name, defaults[name], 0.0)
    params = {}
    for name in param_names(config):
        shape = _param_shape(config, name)
        if name == "W" and "W" not in values:
            val = rng.standard_normal(shape) * defaults["w_scale"] / np.sqrt(config.n_in)
        elif name == "R" and "R" not in values:
            val = rng.standard_normal(shape) * defaults["r_scale"] / np.sqrt(config.n)
        else:
            given = defaults[name]
            if isinstance(given, numbers.Real) and not isinstance(given, (bool, np.bool_)):
                val = np.full(shape, float(given))
            elif name not in _MATRIX_PARAMS and np.ndim(given) == 0:
                val = float_array(name, given, ())                 # shared by all neurons
            else:
                val = float_array(name, given, shape)
        params[name] = np.array(val, dtype=dtype)
    check_params(config, params)
    return params


def zero_state(config: LIFConfig, batch: int, dtype=np.float64):
    """The all-zero initial state ``{"v": (B, N), ...}``."""
    if not isinstance(config, LIFConfig):
        raise TypeError(f"config must be a LIFConfig, got {type(config).__name__}")
    check_positive_int("batch", batch)
    check_float_dtype("dtype", dtype)
    return {k: np.zeros((batch, config.n), dtype=dtype) for k in state_names(config)}


def _rng(rng):
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"rng as an integer seed must be >= 0, got {rng}")
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be a numpy.random.Generator or an integer seed, got {type(rng).__name__}")


def check_params(config: LIFConfig, params):
    """Check names, shapes, dtypes and ranges of a parameter dict.

    Returns ``(dtype, arrays)``: the common float dtype and a new dict of the
    parameters as ndarrays (the caller's dict is not changed)."""
    return _check_param_dict(config, params, param_names(config), "W")


def check_dynamics_params(config: LIFConfig, params):
    """:func:`check_params` for the dynamics' parameters alone (:func:`dynamics_param_names`,
    no ``W``, ``b``); the common dtype is that of ``params['alpha']``."""
    return _check_param_dict(config, params, dynamics_param_names(config), "alpha")


def _check_param_dict(config, params, want, dtype_from):
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict of arrays, got {type(params).__name__}")
    missing = [k for k in want if k not in params]
    extra = [k for k in params if k not in want]
    if missing or extra:
        raise ValueError(
            f"params for this layer must have exactly the keys {list(want)}; "
            f"missing {missing}, unexpected {extra}"
        )
    dtype = float_array(f"params[{dtype_from!r}]", params[dtype_from], finite=False).dtype   # (checked below)
    params = {name: _check_param_shape(config, name, float_array(f"params[{name!r}]", params[name], dtype=dtype))
              for name in want}
    # (Every array is finite and non-empty here, so its min and max decide each range.)
    a = params["alpha"]
    if a.min() <= 0 or a.max() > 1:
        raise ValueError(f"params['alpha'] must lie in (0, 1], got values in [{a.min()}, {a.max()}]")
    if config.spiking and params["theta"].min() <= 0:
        raise ValueError(f"params['theta'] must be > 0, got minimum {params['theta'].min()}")
    for name in ("rho", "lam", "rho_a"):
        if name in params and (params[name].min() < 0 or params[name].max() > 1):
            raise ValueError(f"params[{name!r}] must lie in [0, 1] (a decay factor)")
    return dtype, params


@dataclass
class Trajectory:
    """Everything the forward pass stored. Arrays are ``(T, B, N)`` unless noted.

    ``x`` is the input ``(T, B, M)`` (``None`` for a trajectory of
    :func:`dynamics_forward`, which never sees it); ``v, s`` (and ``u``, ``c`` when
    present) are the states after each step; ``state0`` holds the initial state,
    ``s_init`` is ``s_{-1}``; ``s_reset`` is the reset-spike override, if one was
    given; ``I_ff`` is the feed-forward current ``x_t W^T + b`` of F1 (the part of
    ``I_t`` that does not depend on the state); ``a`` the threshold adaptation
    (``adaptive_threshold``), the threshold being ``A_t = θ + β_a a_t``; ``v_post``
    the post-reset membrane ``v⁺_t`` (``membrane_view="post_reset"``, S4); with a
    refractory period (S5) ``s_free`` is the ungated spike ``ŝ_t = f(v_t − A_t)`` and
    ``gate`` is ``G_t``, so that ``s = s_free · gate``; ``s_threshold`` is F7's
    spike override, if one was given.
    """

    config: LIFConfig
    x: np.ndarray
    v: np.ndarray
    s: np.ndarray
    u: np.ndarray | None
    c: np.ndarray | None
    state0: dict
    s_init: np.ndarray
    s_reset: np.ndarray | None = None
    I_ff: np.ndarray | None = None
    a: np.ndarray | None = None
    v_post: np.ndarray | None = None
    s_free: np.ndarray | None = None
    gate: np.ndarray | None = None
    s_threshold: np.ndarray | None = None

    def prev(self, name):
        """``X_{t-1}`` for t = 0..T-1: the initial value followed by ``X_0..X_{T-2}``."""
        cur = getattr(self, name)
        first = self.s_init if name == "s" else self.state0[name]
        out = np.empty_like(cur)
        out[0] = first
        out[1:] = cur[:-1]
        return out

    def recurrent_spikes(self):
        """The spikes that F1's ``R`` multiplies at t = 0..T-1: ``s_{t−1}`` (``prev("s")``), or
        ``s_{t−2}`` with ``recurrent_delay=2`` (S6: ``s_{-2} = 0``, ``s_{-1}``, ``s_0``, ...)."""
        if self.config.recurrent_delay == 1:
            return self.prev("s")
        out = np.zeros_like(self.s)
        if len(out) > 1:
            out[1] = self.s_init
            out[2:] = self.s[:-2]
        return out

    @property
    def membrane(self):
        """The membrane that losses read: ``v_post`` (post-reset view) or ``v``."""
        return self.v_post if self.config.membrane_view == "post_reset" else self.v

    def reset_spikes(self):
        """``s̃_{t-1}`` for t = 0..T-1: the spikes that enter the reset term F4.

        With ``membrane_view="post_reset"`` one more row follows, ``s̃_{T-1}``: the reset
        spike of the last step, which only ``v⁺_{T-1}`` reads. Passing this array back
        as ``s_reset`` holds every reset spike fixed."""
        if self.config.membrane_view == "post_reset":
            last = self.s[-1:] if self.s_reset is None or len(self.s_reset) == len(self.s) else self.s_reset[-1:]
            first = self.prev("s") if self.s_reset is None else self.s_reset[:len(self.s)]
            return np.concatenate([first, last])
        return self.prev("s") if self.s_reset is None else self.s_reset

    def threshold_spikes(self):
        """``s_{t-1}`` as F7 used it, t = 0..T-1 (the override ``s_threshold`` if given)."""
        return self.prev("s") if self.s_threshold is None else self.s_threshold

    def next_reset_spikes(self):
        """``s̃_t`` for t = 0..T-1: the reset spike of step t, which F4 applies at t+1
        (and the post-reset membrane ``v⁺_t`` at t)."""
        T = len(self.s)
        if self.s_reset is None:
            return self.s
        out = np.empty_like(self.s)
        out[:-1] = self.s_reset[1:T]
        out[-1] = self.s_reset[T] if len(self.s_reset) > T else self.s[-1]
        return out


def _check_s_reset(config, s_reset, T, B, dtype):
    if s_reset is None:
        return None
    s_reset = float_array("s_reset", s_reset, (None, B, config.n), dtype=dtype)
    rows = (T, T + 1) if config.membrane_view == "post_reset" else (T,)
    if s_reset.shape[0] not in rows:
        want = " or ".join(f"({r}, {B}, {config.n})" for r in rows)
        raise ValueError(f"s_reset has shape {s_reset.shape}, expected {want}"
                         + (" (the last row is s̃_{T-1}, read by v⁺_{T-1})" if len(rows) == 2 else ""))
    return s_reset


def _check_s_threshold(config, s_threshold, T, B, dtype):
    if s_threshold is None:
        return None
    if not config.adaptive_threshold:
        raise ValueError("s_threshold (F7's spike override) needs adaptive_threshold=True")
    return float_array("s_threshold", s_threshold, (T, B, config.n), dtype=dtype)


def _check_gate(config, gate, T, B, dtype):
    if gate is None:
        return None
    if not config.refractory:
        raise ValueError("gate (a refractory gate override) needs refractory > 0")
    return float_array("gate", gate, (T, B, config.n), dtype=dtype)


def _check_state0(config, state0, batch, dtype):
    if state0 is None:
        return zero_state(config, batch, dtype)
    if not isinstance(state0, dict):
        raise TypeError(f"state0 must be a dict with keys {list(state_names(config))}")
    want = state_names(config)
    if set(state0) != set(want):
        raise ValueError(f"state0 must have exactly the keys {list(want)}, got {sorted(state0)}")
    return {k: float_array(f"state0[{k!r}]", state0[k], (batch, config.n), dtype=dtype) for k in want}


def _check_state_and_overrides(config, state0, s_reset, gate, s_threshold, T, B, dtype):
    """The initial state and the three overrides of F4, S5 and F7, checked (or defaulted)."""
    return (_check_state0(config, state0, B, dtype), _check_s_reset(config, s_reset, T, B, dtype),
            _check_gate(config, gate, T, B, dtype), _check_s_threshold(config, s_threshold, T, B, dtype))


def layer_forward(config: LIFConfig, params, x, state0=None, s_reset=None, gate=None,
                  s_threshold=None) -> Trajectory:
    """Run the layer over T steps (equations F1–F6) and store the trajectory.

    A thin wrapper: it computes the feed-forward projection of F1,
    ``I^ff_t = x_t W^T + b``, for all T steps in one matrix product and hands it to
    :func:`dynamics_forward`, which runs the state-dependent rest of F1–F6.

    Parameters
    ----------
    config : LIFConfig
    params : dict of ndarray
        See :func:`param_names`; all of one float dtype.
    x : ndarray, shape (T, B, M)
        Input (spikes or currents), the parameters' dtype.
    state0 : dict of ndarray (B, N), optional
        Initial state ``v_{-1}`` (and ``u_{-1}``, ``c_{-1}``); zeros by default.
    s_reset : ndarray (T, B, N), optional
        If given, F4 uses ``s̃_{t-1} = s_reset[t]`` instead of the layer's own
        spikes. At the values the layer produces itself this changes nothing; it
        lets finite differences hold the reset spikes fixed, which is what a
        detached reset differentiates (see :mod:`refsnn.verify`).
    gate : ndarray (T, B, N), optional
        With a refractory period (S5), the gate ``G_t`` to use instead of the one the
        layer's own spikes set; as ``s_reset``, for holding a detached gate fixed.
    s_threshold : ndarray (T, B, N), optional
        With an adaptive threshold, the spikes ``s_{t-1}`` that F7 uses; as ``s_reset``,
        for holding a detached threshold (``detach_threshold``) fixed.

    Returns
    -------
    Trajectory
    """
    return _layer_forward(config, params, x, state0, s_reset, gate, s_threshold)


def _layer_forward(config, params, x, state0=None, s_reset=None, gate=None, s_threshold=None, check_x=True,
                   trusted=False):
    """:func:`layer_forward`; ``check_x=False`` trusts that ``x`` is a finite array of the
    parameters' dtype and the right shape (the spikes of the layer below, in a network).
    ``trusted=True`` checks nothing: the finite differences of refsnn.checking evaluate
    the same checked network hundreds of times with entries moved by ±eps (where the
    checks cost a third of each evaluation), and must evaluate it even where a move
    leaves a range (α = 1 + eps)."""
    if trusted:
        dtype = params["W"].dtype
        T, B, _ = x.shape
        state0 = zero_state(config, B, dtype) if state0 is None else state0
    else:
        if not isinstance(config, LIFConfig):
            raise TypeError(f"config must be a LIFConfig, got {type(config).__name__}")
        dtype, params = check_params(config, params)
        if check_x or not (isinstance(x, np.ndarray) and x.dtype == dtype and x.ndim == 3
                           and x.shape[2] == config.n_in):
            x = float_array("x", x, (None, None, config.n_in), dtype=dtype)
        T, B, _ = x.shape
        if T == 0 or B == 0:
            raise ValueError(f"x must have at least one time step and one batch row, got shape {x.shape}")
        state0, s_reset, gate, s_threshold = _check_state_and_overrides(config, state0, s_reset, gate,
                                                                        s_threshold, T, B, dtype)
    # F1, the part that does not depend on the state: one matrix product for all T.
    I_ff = (x.reshape(T * B, -1) @ params["W"].T).reshape(T, B, config.n)
    if params["b"].any():            # (a zero bias, the default, adds nothing: skip the pass)
        I_ff += params["b"]
    traj = _dynamics_forward(config, params, I_ff, state0, s_reset, gate, s_threshold)
    traj.x = x
    return traj


def dynamics_forward(config: LIFConfig, params, I_ff, state0=None, s_reset=None, gate=None,
                     s_threshold=None) -> Trajectory:
    """The neuron dynamics F1–F6 driven by a given feed-forward current.

    This is the layer without its projection: ``I_ff[t]`` is the part of F1 that does
    not depend on the state, ``x_t W^T + b`` in :func:`layer_forward`, and any other
    layer (a convolution, a dendritic tree) may supply its own. The recurrent term
    ``s_{t-1} R^T`` (if ``config.recurrent``) is added here, because it depends on the
    state. ``config.n_in`` is not used.

    Parameters
    ----------
    config : LIFConfig
    params : dict of ndarray
        Exactly the parameters of :func:`dynamics_param_names` (no ``W``, ``b``).
    I_ff : ndarray, shape (T, B, N)
        The feed-forward input current, the parameters' dtype.
    state0, s_reset, gate, s_threshold
        As in :func:`layer_forward`.

    Returns
    -------
    Trajectory
        With ``x = None`` and ``I_ff`` stored; differentiate it with
        :func:`dynamics_backward`.
    """
    if not isinstance(config, LIFConfig):
        raise TypeError(f"config must be a LIFConfig, got {type(config).__name__}")
    dtype, params = check_dynamics_params(config, params)
    I_ff = float_array("I_ff", I_ff, (None, None, config.n), dtype=dtype)
    T, B, _ = I_ff.shape
    if T == 0 or B == 0:
        raise ValueError(f"I_ff must have at least one time step and one batch row, got shape {I_ff.shape}")
    state0, s_reset, gate, s_threshold = _check_state_and_overrides(config, state0, s_reset, gate, s_threshold,
                                                                    T, B, dtype)
    return _dynamics_forward(config, params, I_ff, state0, s_reset, gate, s_threshold)


def _dynamics_forward(config, params, I_ff, state0, s_reset, gate_fixed=None, s_threshold=None):
    """F1 (its state-dependent part) to F6 on checked arguments."""
    dtype = I_ff.dtype
    T, B, N = I_ff.shape
    p = params
    r_m, r_d = config.reset_partials

    v = np.empty((T, B, N), dtype)
    s = np.empty((T, B, N), dtype) if config.spiking else np.zeros((T, B, N), dtype)   # F6 writes every s_t
    u = np.empty((T, B, N), dtype) if config.adaptation else None
    c = np.empty((T, B, N), dtype) if config.synapse else None
    a = np.empty((T, B, N), dtype) if config.adaptive_threshold else None
    n_ref = config.refractory
    s_free = np.empty((T, B, N), dtype) if n_ref else None
    gate = np.empty((T, B, N), dtype) if n_ref else None
    buf = np.empty((B, N), dtype)        # scratch for one step: s̃ γ, then v_t − θ
    # Per-neuron vectors used at every step, laid out as (B, N) once: a ufunc on two
    # contiguous (B, N) arrays is faster than one that broadcasts an (N,) row.
    alpha_b = _rows(p["alpha"], B, N)
    gamma_b = _rows(p["gamma"], B, N) if config.reset == "subtract" else None
    theta_b = _rows(p["theta"], B, N) if config.spiking else None

    v_prev = state0["v"]
    u_prev = state0.get("u")
    c_prev = state0.get("c")
    a_prev = state0.get("a")
    if config.spiking and config.init_spike == "from_v0":
        A_init = p["theta"] + p["beta_a"] * a_prev if config.adaptive_threshold else p["theta"]
        s_init = config.spike(v_prev - A_init)                                # s_{-1} = f(v_{-1} − A_{-1})
    else:
        s_init = np.zeros_like(v_prev)                                        # s_{-1} = 0
    s_prev = s_init
    s_prev2 = np.zeros_like(s_init) if config.recurrent_delay == 2 else None   # s_{-2} = 0 (S6)
    first = 0
    if lif_compiled.covers(config, T, B, N, s_reset, gate_fixed, s_threshold):
        lif_compiled.forward(config, p, I_ff, v_prev, s_init, v, s)         # this loop, compiled (the
        first = T                                                         # `fast` extra; bit for bit)
    for t in range(first, T):
        if config.recurrent:                                                  # F1 (F1': s_{t−2})
            I = I_ff[t] + (s_prev if s_prev2 is None else s_prev2) @ p["R"].T
        else:
            I = I_ff[t]
        c_t = p["lam"] * c_prev + I if config.synapse else I                  # F2
        d = c_t - p["beta"] * u_prev if config.adaptation else c_t            # F3
        sr = s_prev if s_reset is None else s_reset[t]
        v_t = v[t]
        if config.reset in ("subtract", "none"):                              # F4, in place:
            np.multiply(alpha_b, v_prev, out=v_t)                             #   m = α v_{t-1}
            v_t += d                                                          #   m + d
            if config.reset == "subtract":
                v_t -= np.multiply(sr, gamma_b, out=buf)                      #   m + d − s̃ γ
        else:
            m = p["alpha"] * v_prev
            r = r_m * m + r_d * d - p["v_reset"]
            v[t] = m + d - sr * r
        if config.adaptation:                                                 # F5
            u[t] = p["rho"] * u_prev + p["kappa"] * s_prev
            u_prev = u[t]
        if config.synapse:
            c[t] = c_t
            c_prev = c_t
        if config.adaptive_threshold:                                         # F7
            np.multiply(p["rho_a"], a_prev, out=a[t])                         #   a_t = ρ_a a_{t-1} + s_{t-1}
            a[t] += s_prev if s_threshold is None else s_threshold[t]
            a_prev = a[t]
            np.subtract(v_t, theta_b, out=buf)                                # F6: v_t − A_t
            buf -= np.multiply(p["beta_a"], a_prev)
            config.spike(buf, out=s[t])
        elif config.spiking:                                                  # F6: f(v_t − θ)
            config.spike(v_t, out=s[t], theta=theta_b)
        if n_ref:                                                             # S5: s_t = ŝ_t G_t
            s_free[t] = s[t]
            if gate_fixed is None:
                _refractory_gate(s, s_init, t, n_ref, out=gate[t])
            else:
                gate[t] = gate_fixed[t]
            s[t] *= gate[t]
        if s_prev2 is not None:
            s_prev2 = s_prev
        v_prev, s_prev = v_t, s[t]
    traj = Trajectory(config, None, v, s, u, c, state0, s_init, s_reset, I_ff, a, s_free=s_free, gate=gate,
                      s_threshold=s_threshold)
    if config.membrane_view == "post_reset":                                  # S4: v⁺_t
        traj.v_post = _post_reset(config, p, v, traj.next_reset_spikes())
    return traj


def _past_spike(s, s_init, i):
    """``s_i`` for i ≥ −1 (``s_{-1}`` is s_init); None before it (a zero constant)."""
    return s[i] if i >= 0 else s_init if i == -1 else None


def _refractory_gate(s, s_init, t, n_ref, out, skip=None):
    """``G_t = Π_{k=1..n_ref, k ≠ skip} (1 − s_{t−k})`` into ``out`` (S5)."""
    out[...] = 1.0
    for k in range(1, n_ref + 1):
        past = _past_spike(s, s_init, t - k)
        if k != skip and past is not None:
            out *= 1.0 - past
    return out


def _post_reset(config, p, v, sr_next):
    """S4: the post-reset membrane ``v⁺_t = v_t − s̃_t r_{t+1}/α``, i.e. the value with
    ``v_{t+1} = α v⁺_t + d_{t+1}``, from the reset spike of step t (``sr_next``)."""
    if config.reset == "subtract":
        return v - sr_next * (p["gamma"] / p["alpha"])                    # v − s̃ γ/α
    if config.reset == "hard_keep_input":
        return v - sr_next * (v - p["v_reset"] / p["alpha"])              # (1 − s̃) v + s̃ v_r/α
    return v                                                              # none


def _rows(a, B, N):
    """An (N,) or shared () parameter laid out for the time loops: a scalar of its dtype
    if all its entries are equal (the common case; a ufunc with a scalar operand reads
    one array instead of two, and gives the same values), else the parameter repeated
    as a contiguous (B, N) array (a ufunc on two contiguous (B, N) arrays runs several
    times faster than one that broadcasts an (N,) row)."""
    a = np.asarray(a)
    first = a.reshape(-1)[0]
    if a.ndim == 0 or (a == first).all():
        return first
    return np.ascontiguousarray(np.broadcast_to(a, (B, N)))


class LayerGradients:
    """What :func:`layer_backward` returns.

    ``params`` and ``state0`` hold ∂L/∂(each parameter) and ∂L/∂(each initial
    state); ``x`` is ∂L/∂x ``(T, B, M)``. ``adjoints`` holds the adjoint
    trajectories ``dv, ds, du, dc`` (and ``da`` with an adaptive threshold) ``(T, B, N)``
    (the total derivatives δv_t, ...),
    and ``ds_init`` is δs_{-1}. Without a synapse and with ``r_d = 0``, δc_t = δv_t
    (B4), and ``adjoints["dc"]`` is then the same array as ``adjoints["dv"]``.

    ``x`` may be given as a function of no arguments that returns it: it is then
    computed on first access, so that the input gradient of a network's first layer
    (``δI W``, a matrix product as large as ``∂L/∂W``'s), which training never reads,
    costs nothing unless it is read.
    """

    __slots__ = ("params", "_x", "state0", "adjoints", "ds_init")

    def __init__(self, params, x, state0, adjoints, ds_init):
        self.params, self._x, self.state0, self.adjoints, self.ds_init = params, x, state0, adjoints, ds_init

    @property
    def x(self):
        if callable(self._x):
            self._x = self._x()
        return self._x

    @x.setter
    def x(self, value):
        self._x = value

    def __repr__(self):
        return (f"LayerGradients(params={sorted(self.params)}, state0={sorted(self.state0)}, "
                f"adjoints={sorted(self.adjoints)})")


def layer_backward(traj: Trajectory, params, ds=None, dv=None, path="fused", wrt=None) -> LayerGradients:
    """Reverse-time loop of the adjoint recursions B1–B5, then the gradients G1–G5.

    A thin wrapper around :func:`dynamics_backward`, which runs B1–B5 and every
    gradient but the projection's; this adds G1's ``∂L/∂W = Σ_t δI_t^T x_t``,
    ``∂L/∂b = Σ_t δI_t`` and ``∂L/∂x_t = δI_t W``.

    Parameters
    ----------
    traj : Trajectory
        From :func:`layer_forward` with the same ``params``.
    params : dict of ndarray
    ds, dv : ndarray (T, B, N), optional
        The loss's direct partials ``a^s_t = ∂L/∂s_t|direct`` and
        ``a^v_t = ∂L/∂v_t|direct``; ``None`` means zero.
    path : {"fused", "readable"}
        ``"readable"`` runs the reverse loop below, the reference that this docstring,
        the module docstring and the notebooks describe. ``"fused"`` (the default)
        evaluates the same equations with the per-step coefficients and the G2–G5
        sums inside one cache-friendly reverse loop (:mod:`refsnn.neurons.lif_fused`);
        the two agree to rounding (tested to 1e-13 relative over the whole grid).
    wrt : iterable of str, optional
        The parameters whose gradients are wanted (default: all of
        :func:`param_names`); ``params`` of the result holds just those, and the fused
        loop does not accumulate the sums of the others (a frozen α, θ, γ, as in
        training with fixed dynamics). The adjoints and ∂L/∂x are computed either way.

    Returns
    -------
    LayerGradients

    Notes
    -----
    The equations, numbered as cited in the code (see the module docstring)::

        (B1) δs_t = a^s_t − [attached] r_{t+1} δv_{t+1} + κ δu_{t+1} + δI_{t+1} R
        (B2) δv_t = a^v_t + α g^m_{t+1} δv_{t+1} + σ'(v_t − θ) δs_t
        (B3) δu_t = ρ δu_{t+1} − β g^d_{t+1} δv_{t+1}
        (B4) δc_t = g^d_t δv_t + λ δc_{t+1}   (t ≥ 0);   δc_{−1} = λ δc_0
        (B5) δI_t = δc_t

    with g^m_t = 1 − s̃_{t−1} r_m, g^d_t = 1 − s̃_{t−1} r_d, every adjoint at T
    zero, and t running from T−1 down to −1 (the initial state, a_{−1} = 0).
    The switches add (module docstring, S1–S5)::

        (B1) ... + δa_{t+1}                       adaptive threshold, unless detach_threshold
        (B6) δa_t = ρ_a δa_{t+1} − β_a σ'_t δs_t   σ'_t = σ'(v_t − A_t) G_t
        (B7) δs_t += −Σ_k ŝ_{t+k} Π_{j≠k}(1 − s_{t+k−j}) δs_{t+k}   attached refractory gate
        (P1) a^v_t = (1 − s̃_t r_m) b_t,  (P2) a^s_t += −[attached] (r_{t+1}/α) b_t
                                                  post-reset view, b_t = dv[t] = ∂L/∂v⁺_t

    Numerics: σ' is zeroed below the dtype's smallest normal number, and with the
    sigmoid or exponential surrogate (whose tails make σ'·δs subnormal) the fused loop
    zeroes δs_t and δv_t too, at every step (a speed device: the readable loop does not,
    and no gradient above 1e-30 differs; ``tests/test_subnormals.py``).
    """
    return _layer_backward(traj, params, ds, dv, path, wrt=wrt)


def _check_wrt(wrt, names, where="wrt"):
    """``wrt`` as a set of names, each one of ``names`` (None: all of them)."""
    if wrt is None:
        return set(names)
    if isinstance(wrt, str) or not all(isinstance(k, str) for k in wrt):
        raise TypeError(f"{where} must be an iterable of parameter names (str), e.g. {{'W', 'b'}}; got {wrt!r}")
    wrt = set(wrt)
    unknown = sorted(wrt - set(names))
    if unknown:
        raise ValueError(f"{where} names {unknown}, which are not parameters here; expected some of {list(names)}")
    return wrt


def _layer_backward(traj, params, ds=None, dv=None, path="fused", ds_finite=False, wrt=None, ds_scratch=False):
    """:func:`layer_backward`; ``ds_finite=True`` trusts that ``ds`` is finite (the input
    gradient of the layer above, which network_backward has checked); ``ds_scratch=True``
    lets the reverse loop overwrite ``ds`` with δs (an array network_backward computed
    for this call alone: it then becomes ``adjoints["ds"]``, saving a (T, B, N) array)."""
    if not isinstance(traj, Trajectory):
        raise TypeError(f"traj must be a Trajectory from layer_forward, got {type(traj).__name__}")
    if traj.x is None:
        raise ValueError("traj comes from dynamics_forward (it has no input x); use dynamics_backward")
    cfg = traj.config
    dtype, p = check_params(cfg, params)
    if dtype != traj.v.dtype:
        raise TypeError(f"params have dtype {dtype} but the trajectory has {traj.v.dtype}; use the same params")
    need = _check_wrt(wrt, param_names(cfg))
    a_s, a_v = _check_partials(traj, ds, dv, dtype, ds_finite)
    dyn = _dynamics_backward(traj, p, a_s, a_v, path, need, a_s_scratch=ds is None or ds_scratch,
                             dI_sum="b" in need)
    T, B, N = traj.v.shape
    dI2 = dyn.dI.reshape(T * B, N)
    g = {}
    if "W" in need:
        g["W"] = dI2.T @ traj.x.reshape(T * B, -1)                    # (G1)
    if "b" in need:                                                   # Σ_t δI_t: summed by the fused loop,
        g["b"] = dyn.dI_sum if dyn.dI_sum is not None else np.ones(T * B, dtype) @ dI2   # or a BLAS product
    W = p["W"]
    g.update(dyn.params)
    g = {k: _shaped(g[k], p[k], dtype) for k in param_names(cfg) if k in need}
    return LayerGradients(g, _InputGradient(dI2, W, (T, B)),              # (G1) ∂L/∂x_t = δI_t W
                          dyn.state0, dyn.adjoints, dyn.ds_init)


class _InputGradient:
    """G1's ∂L/∂x_t = δI_t W, computed when called (:class:`LayerGradients` calls it when
    ``x`` is first read); ``dI2`` is δI as (T·B, N)."""

    __slots__ = ("dI2", "W", "lead")

    def __init__(self, dI2, W, lead):
        self.dI2, self.W, self.lead = dI2, W, lead

    def __call__(self):
        return (self.dI2 @ self.W).reshape(*self.lead, -1)

    def finite_by_bound(self):
        """Whether every entry of δI W is finite, decided without reading the product.

        Each entry is a dot product of K = N terms, so |(δI W)_ij| ≤ K · max |δI| · max |W|,
        and the product computed in floating point exceeds that bound by a factor of at
        most about 1 + Kε. If the bound (rounded alike) is below half the dtype's largest
        number and Kε < 1/4, no entry can overflow, and none is NaN (finite operands give
        NaN only through an inf). True means finite; False means "not decided": read the
        product. Used only where δI is smaller than the product (K < M; reading δI would
        otherwise cost as much as reading δI W). (max_i ‖δI_i‖₁ in place of K · max |δI|
        is up to K times tighter, but its row sums over K = 10 took 176 µs against these
        two reductions' 15 µs in float32, and 190 against 26 in float64, at the benchmark's
        6,400 × 10, best of 300.)"""
        (TB, K), M = self.dI2.shape, self.W.shape[1]
        fi = np.finfo(self.dI2.dtype)
        if K >= M or K * fi.eps >= 0.25:
            return False
        with np.errstate(over="ignore", invalid="ignore"):
            big_dI = max(self.dI2.max(), -self.dI2.min())             # max |δI| (NaN if any is)
            bound = K * big_dI * max(self.W.max(), -self.W.min())
        return bool(bound < fi.max / 2)         # (False for an inf or NaN bound)


@dataclass
class DynamicsGradients:
    """What :func:`dynamics_backward` returns.

    ``params`` holds ∂L/∂(each parameter of :func:`dynamics_param_names`: everything
    but ``W, b``); ``state0``, ``adjoints`` and ``ds_init`` are as in
    :class:`LayerGradients`; ``dI`` is ``δI_t = ∂L/∂I_t`` ``(T, B, N)`` (B5), the
    gradient with respect to the supplied current ``I_ff``, from which the layer that
    computed it derives its own gradients (G1 for the dense projection). ``dI_sum`` is
    ``Σ_t Σ_b δI_t`` ``(N,)`` when the fused loop summed it on the way (``layer_backward``
    asks for it as ∂L/∂b, which it otherwise sums from ``dI``), else None.
    """

    params: dict
    state0: dict
    adjoints: dict
    ds_init: np.ndarray
    dI: np.ndarray
    dI_sum: np.ndarray | None = None


def _check_partials(traj, ds, dv, dtype, ds_finite=False):
    T, B, N = traj.v.shape
    a_s = np.zeros((T, B, N), dtype) if ds is None else float_array("ds", ds, (T, B, N), dtype=dtype,
                                                                       finite=not ds_finite)
    a_v = None if dv is None else float_array("dv", dv, (T, B, N), dtype=dtype)   # None: zero
    if not traj.config.spiking and ds is not None and np.any(a_s):
        raise ValueError("ds must be zero for a non-spiking layer (it has no spikes)")
    return a_s, a_v


def dynamics_backward(traj: Trajectory, params, ds=None, dv=None, path="fused", wrt=None) -> DynamicsGradients:
    """B1–B5 and G2–G5 (and G1's ``∂L/∂R``) for a trajectory of :func:`dynamics_forward`.

    The counterpart of :func:`dynamics_forward`: ``params`` are the dynamics'
    parameters (:func:`dynamics_param_names`), ``ds`` and ``dv`` the direct partials
    as in :func:`layer_backward`. The result's ``dI`` is ``∂L/∂I_ff``; the caller
    turns it into the gradients of whatever produced ``I_ff``. A trajectory of
    :func:`layer_forward` is accepted too (with the dynamics' parameters only).
    """
    if not isinstance(traj, Trajectory):
        raise TypeError(f"traj must be a Trajectory from dynamics_forward, got {type(traj).__name__}")
    cfg = traj.config
    dtype, p = check_dynamics_params(cfg, params)
    if dtype != traj.v.dtype:
        raise TypeError(f"params have dtype {dtype} but the trajectory has {traj.v.dtype}; use the same params")
    a_s, a_v = _check_partials(traj, ds, dv, dtype)
    return _dynamics_backward(traj, p, a_s, a_v, path, _check_wrt(wrt, dynamics_param_names(cfg)))


def _post_reset_partials(traj, p, a_s, b):
    """S4: a loss partial ``b_t = ∂L/∂v⁺_t`` on the post-reset membrane, mapped to the
    direct partials of v_t and s_t (P1, P2), plus its parameter gradients (G7)."""
    cfg = traj.config
    sr = traj.next_reset_spikes()                       # s̃_t
    attached = not cfg.detach_reset
    g = {}
    if cfg.reset == "subtract":                         # v⁺ = v − s̃ γ/α
        a_v = b                                                        # (P1)
        if attached:
            a_s = a_s - (p["gamma"] / p["alpha"]) * b                      # (P2)
        sb = _sum_tb(sr * b)
        g["gamma"] = -sb / p["alpha"]                                  # (G7)
        g["alpha"] = sb * p["gamma"] / p["alpha"] ** 2
    else:                                               # hard_keep_input: v⁺ = v − s̃ (v − v_r/α)
        a_v = (1.0 - sr) * b                                           # (P1)
        if attached:
            a_s = a_s - (traj.v - p["v_reset"] / p["alpha"]) * b       # (P2)
        sb = _sum_tb(sr * b)
        g["v_reset"] = sb / p["alpha"]                                 # (G7)
        g["alpha"] = -sb * p["v_reset"] / p["alpha"] ** 2
    return a_s, a_v, g


def _dynamics_backward(traj, p, a_s, a_v, path="readable", need=None, a_s_scratch=False, dI_sum=False):
    """B1–B7, G1's ∂L/∂R and G2–G7 on checked arguments (see :func:`layer_backward`).

    This is the readable reverse loop: the module docstring's equations as plain NumPy
    expressions, one line per term, in their order and symbols, with no buffers and no
    speed devices (the fused loop has those). With ``path="fused"`` the same equations are
    evaluated by :func:`refsnn.neurons.lif_fused.backward_fused`, which covers every
    configuration (:func:`refsnn.neurons.lif_fused.covers`); ``a_s_scratch=True`` lets it
    write δs over ``a_s`` (the readable loop never writes into its inputs), and
    ``dI_sum=True`` lets it sum Σ_t Σ_b δI_t in the loop (the result's ``dI_sum``)."""
    check_choice("path", path, BACKWARD_PATHS)
    cfg = traj.config
    dtype = traj.v.dtype
    names = [k for k in dynamics_param_names(cfg) if need is None or k in need]
    g_post = {}
    if cfg.membrane_view == "post_reset" and cfg.reset != "none" and a_v is not None:
        a_s, a_v, g_post = _post_reset_partials(traj, p, a_s, a_v)   # (P1, P2, G7)
    if path == "fused" and covers(cfg):
        g, dstate0, adjoints, ds_init, dI, dI_total = backward_fused(traj, p, a_s, a_v, need, a_s_scratch, dI_sum)
        g = {k: _shaped(g[k] + g_post[k] if k in g_post else g[k], p[k], dtype) for k in names}
        return DynamicsGradients(g, dstate0, adjoints, ds_init, dI, dI_total)
    # ---- the readable reverse loop: B1–B7, then G1–G6, as the module docstring writes them.
    T, B, N = traj.v.shape
    r_m, r_d = cfg.reset_partials
    spiking, adapt, syn, rec = cfg.spiking, cfg.adaptation, cfg.synapse, cfg.recurrent
    athr, n_ref = cfg.adaptive_threshold, cfg.refractory
    attached = spiking and cfg.reset != "none" and not cfg.detach_reset
    from_v0 = spiking and cfg.init_spike == "from_v0"

    # Every per-step array below has T + 2 rows: row t is step t (0..T−1), row T is the
    # step after the last (where every adjoint is zero), and row T + 1, which Python reads
    # as X[-1], is the step before the first (t = −1). So X[t], X[t + 1] and X[-1] are
    # written as in the equations.
    def steps(X, first=0.0):
        out = np.zeros((T + 2, B, N), dtype)
        out[:T] = X
        out[-1] = first
        return out

    v_prev, s_prev = traj.prev("v"), traj.prev("s")                 # v_{t−1}, s_{t−1}
    lag = cfg.recurrent_delay                                       # F1 reads s_{t−lag} (S6: lag 2)
    s_rec = traj.recurrent_spikes() if rec else None                # s_{t−lag}
    s_tilde = traj.reset_spikes()[:T]                               # s̃_{t−1}
    u_prev = traj.prev("u") if adapt else None
    c_prev = traj.prev("c") if syn else None
    a_prev = traj.prev("a") if athr else None
    g_m = steps(1.0 - s_tilde * r_m)                                # g^m_t = 1 − s̃_{t−1} r_m
    g_d = steps(1.0 - s_tilde * r_d)                                # g^d_t = 1 − s̃_{t−1} r_d (g^d_{−1} = 0: B4)
    if cfg.reset == "subtract":                                     # r_t (the reset table)
        r = steps(np.broadcast_to(p["gamma"], (T, B, N)))
    elif cfg.reset == "none":
        r = steps(0.0)
    else:
        I = traj.I_ff + s_rec @ p["R"].T if rec else traj.I_ff     # F1 (F1' with S6)
        c_t = traj.c if syn else I                                  # F2
        d = c_t - p["beta"] * u_prev if adapt else c_t              # F3: d_t
        r = steps(p["alpha"] * v_prev + r_d * d - p["v_reset"])     # m_t (+ d_t) − v_r
    if spiking:                                                     # σ'_t = σ'(v_t − A_t) G_t
        A = p["theta"] + p["beta_a"] * traj.a if athr else p["theta"]
        A_init = p["theta"] + p["beta_a"] * traj.state0["a"] if athr else p["theta"]
        G = traj.gate if n_ref else 1.0
        sg = steps(cfg.surrogate.derivative(traj.v - A) * G,
                   cfg.surrogate.derivative(traj.state0["v"] - A_init) if from_v0 else 0.0)
    else:
        sg = steps(0.0)
    s_all = steps(traj.s, traj.s_init)                              # s_t, with s_{−1}
    s_hat = steps(traj.s_free) if n_ref else None                   # ŝ_t (S5)
    a_all = steps(traj.a, traj.state0["a"]) if athr else None       # a_t, with a_{−1}
    a_s = steps(a_s)                                                # a^s_t (a^s_{−1} = 0)
    a_v = steps(0.0 if a_v is None else a_v)                        # a^v_t
    alpha = p["alpha"]
    kappa, rho, beta = (p["kappa"], p["rho"], p["beta"]) if adapt else (0.0, 0.0, 0.0)
    lam = p["lam"] if syn else 0.0
    beta_a, rho_a = (p["beta_a"], p["rho_a"]) if athr else (0.0, 0.0)
    R = p["R"] if rec else np.zeros((N, N), dtype)

    ds, dv, du, dc, da = (steps(0.0) for _ in range(5))            # δs, δv, δu, δc, δa; zero at T
    dI = dc                                                         # (B5) δI_t = δc_t
    for t in range(T - 1, -2, -1):
        ds[t] = a_s[t]                                              # (B1) δs_t = a^s_t
        if spiking:
            ds[t] -= attached * r[t + 1] * dv[t + 1]                #      − [attached] r_{t+1} δv_{t+1}
            ds[t] += kappa * du[t + 1]                              #      + κ δu_{t+1}
            if t + lag <= T:
                ds[t] += dI[t + lag] @ R                            #      + δI_{t+1} R (B1': δI_{t+2} R, S6)
            if athr and not cfg.detach_threshold:
                ds[t] += da[t + 1]                                  #      + δa_{t+1} (S3)
            if n_ref and not cfg.detach_refractory:                 # (B7)
                for k in range(1, n_ref + 1):
                    if t + k < T:                                   # −ŝ_{t+k} Π_{j≠k}(1 − s_{t+k−j}) δs_{t+k}
                        ds[t] -= s_hat[t + k] * _gate_but(s_all, t + k, k, n_ref) * ds[t + k]
        dv[t] = a_v[t] + alpha * g_m[t + 1] * dv[t + 1] + sg[t] * ds[t]   # (B2)
        du[t] = rho * du[t + 1] - beta * g_d[t + 1] * dv[t + 1]          # (B3)
        dc[t] = g_d[t] * dv[t] + lam * dc[t + 1]                          # (B4)
        da[t] = rho_a * da[t + 1] - beta_a * sg[t] * ds[t]                # (B6)

    def total(X):                                                   # Σ over t = 0..T−1 and the batch
        return X[:T].sum(axis=(0, 1))

    g = {}
    if rec:
        g["R"] = dI[:T].reshape(T * B, N).T @ s_rec.reshape(T * B, N)     # (G1) Σ_t δI_t^T s_{t−1} (G1': s_{t−2})
    g["alpha"] = total(g_m * dv * steps(v_prev))                    # (G2) Σ g^m_t δv_t v_{t−1}
    if adapt:
        g["beta"] = -total(g_d * dv * steps(u_prev))                #      −Σ g^d_t δv_t u_{t−1}
    if cfg.reset == "subtract":
        g["gamma"] = -total(dv * steps(s_tilde))                    # (G3) −Σ δv_t s̃_{t−1}
    elif cfg.reset != "none":
        g["v_reset"] = total(dv * steps(s_tilde))                   #      Σ δv_t s̃_{t−1}
    if adapt:
        g["rho"] = total(du * steps(u_prev))                        # (G4) Σ δu_t u_{t−1}
        g["kappa"] = total(du * steps(s_prev))                      #      Σ δu_t s_{t−1}
    if syn:
        g["lam"] = total(dc * steps(c_prev))                        #      Σ δc_t c_{t−1}
    if spiking:
        g["theta"] = -(sg * ds).sum(axis=(0, 1))                    # (G5) −Σ_{t=−1}^{T−1} σ'_t δs_t
    if athr:
        g["beta_a"] = -(sg * ds * a_all).sum(axis=(0, 1))           # (G6) −Σ σ'_t δs_t a_t
        g["rho_a"] = total(da * steps(a_prev))                      #      Σ_{t≥0} δa_t a_{t−1}
    for k, v in g_post.items():                                     # (G7)
        g[k] = g[k] + v
    g = {k: _shaped(g[k], p[k], dtype) for k in names}             # (the reference computes all)

    dstate0 = {"v": dv[-1]}                                         # the initial state's gradients
    adjoints = {"dv": dv[:T], "ds": ds[:T], "dc": dc[:T]}
    if adapt:
        dstate0["u"], adjoints["du"] = du[-1], du[:T]
    if syn:
        dstate0["c"] = dc[-1]
    if athr:
        dstate0["a"], adjoints["da"] = da[-1], da[:T]
    return DynamicsGradients(g, dstate0, adjoints, ds[-1], dI[:T])


def _gate_but(s_all, t, k, n_ref):
    """``Π_{j=1..n_ref, j≠k} (1 − s_{t−j})`` with ``s_i = 0`` for ``i < −1`` (S5)."""
    out = 1.0
    for j in range(1, n_ref + 1):
        if j != k and t - j >= -1:
            out = out * (1.0 - s_all[t - j])
    return out


def _shaped(grad, param, dtype):
    """A gradient in its parameter's shape: summed over the neurons for a shared () one."""
    if param.ndim == 0 and grad.ndim:
        grad = grad.sum()
    return np.asarray(grad).astype(dtype, copy=False)


def _sum_tb(a):
    return a.sum(axis=(0, 1))
