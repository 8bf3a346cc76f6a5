r"""EventProp: a current-based LIF network in continuous time, its exact spike times and their exact gradients.

The reference for the maths is Wunderlich & Pehle (2021), "Event-based backpropagation can
compute exact gradients for spiking neural networks"; the derivation below is refsnn's own,
in this module's symbols, and every equation is cited at the line of code that computes it.

Model (continuous time, no grid)
--------------------------------

A layer of N neurons receives spikes from M presynaptic channels (the input, or the layer
below) through weights ``W`` (N, M). Each neuron i has a membrane ``V_i`` and a synaptic
current ``I_i``; ``τ_m``, ``τ_s`` and the threshold ``θ > 0`` are shared. Between events

.. math::

    τ_m \dot V &= -V + I, \qquad τ_s \dot I = -I                                   && \text{(M1) free dynamics}\\
    I_i^+ &= I_i^- + W_{ij} \quad\text{at each spike } t^{in} \text{ of channel } j  && \text{(M2) synaptic jump}\\
    V_i(t^-) &= θ \;\Rightarrow\; \text{spike at } t, \quad V_i^+ = 0            && \text{(M3) threshold and reset}

with ``V(0) = I(0) = 0``; spikes after the end time ``T`` are not generated. M1 has the
closed form (``Δ = t − t_0`` after a state ``(V_0, I_0)``)

.. math::

    I(t) &= I_0 e^{-Δ/τ_s}                                                                       && \text{(M4)}\\
    V(t) &= V_0 e^{-Δ/τ_m} + I_0 \frac{τ_s}{τ_s - τ_m}\bigl(e^{-Δ/τ_s} - e^{-Δ/τ_m}\bigr)
            \quad (τ_m \ne τ_s), \qquad V_0 e^{-Δ/τ} + I_0 \frac{Δ}{τ} e^{-Δ/τ} \quad (τ_m = τ_s = τ) && \text{(M5)}

*Exact spike times.* V is a sum of two exponentials, so on an interval between events it
has at most one stationary point, where ``V̇ = 0``, i.e. ``V = I``:

.. math::

    Δ^* = \frac{\ln(-c_2/c_1)}{1/τ_s - 1/τ_m},\; c_1 = \frac{V_0 - a}{τ_m},\; c_2 = \frac{a}{τ_s},\;
    a = I_0\frac{τ_s}{τ_s - τ_m} \quad(τ_m \ne τ_s), \qquad Δ^* = τ(1 - V_0/I_0) \quad (τ_m = τ_s)  && \text{(R1)}

On ``[0, h]`` (h: time to the next event) with ``V_0 < θ`` the first crossing therefore lies
in a *monotone bracket*: ``[0, Δ^*]`` if V rises first and Δ* is inside (a maximum),
``[Δ^*, h]`` if V falls first (a minimum), else ``[0, h]``; it exists iff V at the bracket's
right end is ``≥ θ`` (R2). Inside the bracket the root is

* ``τ_m = 2τ_s``: with ``x = e^{−Δ/τ_m}``, ``e^{−Δ/τ_s} = x²`` and M5 is ``(V_0+I_0)x − I_0x² = θ``,
  a quadratic: ``x = [(V_0+I_0) ± \sqrt{(V_0+I_0)^2 − 4I_0θ}]/(2I_0)`` (R3);
* ``τ_m = τ_s = τ``: ``(V_0 + I_0 u)e^{−u} = θ`` with ``u = Δ/τ`` gives
  ``u = −V_0/I_0 − W_k(−(θ/I_0) e^{−V_0/I_0})``, W_k the Lambert W function, k ∈ {0, −1} (R4);
* otherwise bisection on the bracket (R5);

the root of the bracket is taken and polished by Newton steps on M5, clamped to the
bracket (R6), so every spike time is exact to a few ulps of float64. Layers are stacked
feed-forward: layer l's spikes are layer l+1's input events at the same times (within a
layer, see *Recurrent connections* below).

Adjoint (derived here; what :func:`layer_backward` computes)
-------------------------------------------------------------

Let the loss be ``ℒ = l(\{t_k\})``, a function of spike times. Add the dynamics with
multipliers ``λ_V``, ``λ_I`` (one pair per neuron) and integrate over the intervals
between events ``(t_k, t_{k+1})``:

.. math::

    ℒ = l + \sum_k \int_{t_k}^{t_{k+1}} \bigl[λ_V(τ_m\dot V + V - I) + λ_I(τ_s\dot I + I)\bigr] dt.

The brackets vanish on the trajectory. Differentiate with respect to a parameter p (``δX``
is ``∂X/∂p`` at fixed t) and integrate ``λ τ δẊ`` by parts on each interval; choosing the
multipliers so that the integrands multiplying δV and δI vanish gives the adjoint ODEs,
and what remains are the boundary terms ``[τ_m λ_V δV + τ_s λ_I δI]`` at both sides of every
event, with ``λ(T) = 0`` and ``δV(0) = δI(0) = 0``:

.. math::

    τ_m \dot λ_V &= λ_V, \qquad τ_s \dot λ_I = λ_I - λ_V                                    && \text{(A1) between events}\\
    \frac{dℒ}{dp} &= \sum_k \frac{∂l}{∂t_k}\frac{dt_k}{dp}
        + \sum_{\text{events } e}\bigl[τ_m λ_V δV + τ_s λ_I δI\bigr]_{t_e^+}^{t_e^-}          && \text{(A2)}

Backward in time (``s = T − t``) A1 is a decay: ``λ_V`` decays with τ_m and drives ``λ_I``,
which decays with τ_s, the mirror image of M1 (``λ_V ↔ I``, ``λ_I ↔ V``, ``τ_m ↔ τ_s``):

.. math::

    λ_V(t - Δ) &= λ_V(t)\, e^{-Δ/τ_m}                                                                   && \text{(A3)}\\
    λ_I(t - Δ) &= λ_I(t) e^{-Δ/τ_s} + λ_V(t)\frac{τ_m}{τ_m - τ_s}\bigl(e^{-Δ/τ_m} - e^{-Δ/τ_s}\bigr)
                  \;(τ_m \ne τ_s), \qquad λ_I(t)e^{-Δ/τ} + λ_V(t)\frac{Δ}{τ}e^{-Δ/τ}\;(τ_m = τ_s)        && \text{(A4)}

*Jumps.* The conditions M2–M3 tie the *total* derivatives of the state across an event
whose time ``t_e`` itself moves with p: ``d/dp[X(t_e^±)] = δX^± + \dot X^± δt_e``.

At a spike of neuron i (M3): ``V^-(t_e) = θ`` gives ``δV^- + \dot V^- δt_e = 0``, so

.. math::

    δt_e = -δV^- / \dot V^-, \qquad τ_m\dot V^- = I(t_e) - θ                              && \text{(J1) the threshold crossing}

(the crossing's time derivative: a membrane that crosses slowly moves its spike a lot);
the reset ``V^+ = 0`` gives ``δV^+ = −\dot V^+ δt_e`` with ``τ_m \dot V^+ = I(t_e)``; I is
continuous and so is İ, so ``δI^+ = δI^-``. The spike at ``t_e`` is also an input event of
every neuron j of the layer above: there I_j jumps by ``W_{ji}`` (M2), V_j is continuous, so
``δV_j^+ = δV_j^- − (W_{ji}/τ_m) δt_e`` and ``δI_j^+ = δI_j^- + (W_{ji}/τ_s) δt_e + δW_{ji}``
(the jumps of ``\dot V_j`` and ``\dot I_j``). Put these into A2's boundary terms at ``t_e``
and collect: the terms in ``δV_j^-, δI_j^-`` vanish if λ of the layer above is continuous
at its input events (J2); the term in ``δI_i^-`` vanishes if ``λ_{I,i}`` is continuous at
i's own spikes (J3); the term in ``δV_i^-`` vanishes if

.. math::

    λ_{V,i}^- &= λ_{V,i}^+, \quad λ_{I,i}^- = λ_{I,i}^+ \quad \text{at input events}                  && \text{(J2)}\\
    λ_{I,i}^- &= λ_{I,i}^+ \quad \text{at i's own spikes}                                                && \text{(J3)}\\
    (I - θ)\, λ_{V,i}^- &= I\, λ_{V,i}^+ + \frac{∂l}{∂t_e}
        + \sum_j W_{ji}\,(λ_{V,j} - λ_{I,j})(t_e)                                                        && \text{(J4) the jump at a spike}

with ``I = I_i(t_e)``. J4's left side is ``τ_m \dot V^- λ_V^-``, the threshold crossing's time
derivative; ``I λ_V^+`` comes from the reset (``τ_m \dot V^+``); the sum is what the spike's
time means to the layer above. Call ``g_e = ∂l/∂t_e + Σ_j W_ji(λ_{V,j} − λ_{I,j})(t_e)``
the gradient *arriving* at the spike: the same sum is ``dℒ/dt`` of an input spike (what
is left of the boundary terms once the multipliers satisfy J2–J4). The only remaining
term is ``−τ_s λ_{I,j} δW_{ji}``:

.. math::

    \frac{dℒ}{dW_{ij}} &= -τ_s \sum_{t^{in} \in \text{spikes of } j} λ_{I,i}(t^{in})               && \text{(G1) weight gradient}\\
    \frac{dℒ}{dt^{in}} &= \sum_i W_{ij}\,\bigl(λ_{V,i} - λ_{I,i}\bigr)(t^{in})                   && \text{(G2) input spike time}

So a layer's backward pass maps ``g`` at its output spikes to ``g`` at its input spikes
(G2), which is the next layer down's ``g`` (J4's sum). ``λ`` at a moment where an input
event and a spike coincide is undefined; that happens with probability zero.

*Where a gradient is exact.* Spike times are smooth functions of W and the input times
wherever no spike appears or disappears (a crossing at a tangent, or at the end time T);
there ℒ's gradient is G1–G2 exactly (the checks in :mod:`refsnn.checking.eventprop_grid`
skip perturbations that change a spike count). A silent neuron has no gradient at all:
no spike time depends on its weights.

*Recurrent connections.* A layer may also have recurrent weights ``R`` (N, N): a spike of
neuron i at ``t_e`` is then an input event of every other neuron j of its own layer,

.. math::

    I_j^+ = I_j^- + R_{ji} \quad (j \ne i) \text{ at each spike of } i, \qquad R_{ii} = 0      && \text{(M2r) recurrent jump}

Self-connections are excluded: the diagonal must be zero (a nonzero diagonal is refused,
naming ``R``), so I_i is continuous at i's own spikes and J3 holds unchanged. The forward
then couples the neurons of a row within an interval between input events: the next event
of a row is the earliest crossing (R2–R6) among its neurons; the whole row is advanced to
it (M4–M5), the spiker reset (M3) and ``R_{:,i}`` added to the row's currents (M2r).

The derivation above carries over term by term: at ``t_e`` the other neurons j of the layer
see an input event exactly like the layer above does (``δV_j^+ = δV_j^- − (R_{ji}/τ_m)δt_e``,
``δI_j^+ = δI_j^- + (R_{ji}/τ_s)δt_e + δR_{ji}``), so their multipliers are continuous there
(J2) and the coefficient of ``δt_e`` gains their sum:

.. math::

    (I - θ)\, λ_{V,i}^- &= I\, λ_{V,i}^+ + g_e + \sum_{j \ne i} R_{ji}\,(λ_{V,j} - λ_{I,j})(t_e)    && \text{(J4r)}\\
    \frac{dℒ}{dR_{ji}} &= -τ_s \sum_{t_e \in \text{spikes of } i} λ_{I,j}(t_e) \quad (j \ne i)        && \text{(G1r)}

with ``g_e`` J4's arriving gradient (``∂l/∂t_e`` plus the layer above's G2). Since J4r reads
the multipliers of the other neurons at ``t_e``, the backward pass walks each row's spikes
across neurons in reverse time order, all neurons of the row sharing one clock. ``dℒ/dR``'s
diagonal is returned as 0 (it is not a parameter). Both are checked against central
differences of the exact forward (:mod:`refsnn.checking.eventprop_grid`, rows ``…/recurrent``).

The discretised twin (refsnn's LIF layer with a synapse)
--------------------------------------------------------

On the grid ``t_n = n·dt`` (:func:`grid_twin`), with ``x_n`` the number of input spikes in
``((n−1)dt, n dt]``, refsnn's layer (F1–F4 of :mod:`refsnn.neurons.lif`) with
``λ = e^{−dt/τ_s}``, ``α = e^{−dt/τ_m}``, weights ``W·dt/τ_m`` (so that ``c_n`` is
``I(t_n)·dt/τ_m``, the drive M1 adds to V over one step to first order), threshold θ and
the reset to ``v_r = 0`` (``hard_keep_input``) is M1–M3 to first order in dt. Its
surrogate-gradient BPTT can then be compared with G1 as dt → 0
(``benchmarks/bench_eventprop_lie.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import lambertw, log_softmax

from .._validate import check_positive_int, float_array, real_scalar
from ..losses import _labels

__all__ = ["EventPropConfig", "LayerRecord", "layer_forward", "layer_backward", "forward", "backward",
           "advance", "crossing", "first_spike_times", "first_spike_loss", "grad_first_spike",
           "spike_counts", "grid_twin", "encode_yin_yang"]

_NEWTON = 3    # R6: Newton steps after the closed form or bisection (each roughly doubles the digits)
_BISECT = 40   # R5: bisection steps (the bracket shrinks by 2^-40; R6 finishes to the ulp)


@dataclass(frozen=True)
class EventPropConfig:
    """The constants shared by every layer: ``τ_m``, ``τ_s``, threshold ``θ``, end time ``T``."""

    tau_m: float = 10.0
    tau_s: float = 5.0
    theta: float = 1.0
    t_end: float = 40.0

    def __post_init__(self):
        for name in ("tau_m", "tau_s", "theta", "t_end"):
            object.__setattr__(self, name, float(real_scalar(name, getattr(self, name), low=0.0, low_open=True)))

    @property
    def kind(self):
        """Which root finder R3–R5 applies: ``"quadratic"``, ``"lambert"`` or ``"bisection"``."""
        if self.tau_m == 2.0 * self.tau_s:
            return "quadratic"
        if self.tau_m == self.tau_s:
            return "lambert"
        return "bisection"


@dataclass
class LayerRecord:
    """What :func:`layer_forward` keeps for the backward pass.

    ``times`` (B, N, K): each neuron's spike times in order, ``inf`` after the last;
    ``current`` (B, N, K): ``I(t_e)`` at each spike (J1, J4); ``interval`` (B, N, K): the index
    p of the input-event interval ``[t^{in}_{p−1}, t^{in}_p)`` holding the spike;
    ``t_in`` (B, P), ``ch_in`` (B, P), ``k_in`` (B, P), ``valid_in`` (B, P): the input events
    sorted by time (channel j, its spike index k) and which are real.
    """

    times: np.ndarray
    current: np.ndarray
    interval: np.ndarray
    t_in: np.ndarray
    ch_in: np.ndarray
    k_in: np.ndarray
    valid_in: np.ndarray

    @property
    def counts(self):
        return np.isfinite(self.times).sum(axis=2)


def advance(cfg, V, I, d):
    """M4–M5: the state ``(V, I)`` after a time ``d ≥ 0`` of free dynamics (all broadcastable)."""
    em = np.exp(-d / cfg.tau_m)
    es = np.exp(-d / cfg.tau_s)
    if cfg.tau_m == cfg.tau_s:
        V_new = em * (V + I * d / cfg.tau_m)                                   # M5, τ_m = τ_s
    else:
        a = I * cfg.tau_s / (cfg.tau_s - cfg.tau_m)
        V_new = V * em + a * (es - em)                                         # M5
    return V_new, I * es                                                       # M4


def _stationary(cfg, V, I):
    """R1: the time Δ* of the stationary point of M5 (nan if there is none)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if cfg.tau_m == cfg.tau_s:
            return np.where(I != 0, cfg.tau_m * (1.0 - V / I), np.nan)
        a = I * cfg.tau_s / (cfg.tau_s - cfg.tau_m)
        c1 = (V - a) / cfg.tau_m
        c2 = a / cfg.tau_s
        r = -c2 / c1
        return np.where(r > 0, np.log(np.where(r > 0, r, 1.0)) / (1.0 / cfg.tau_s - 1.0 / cfg.tau_m), np.nan)


def crossing(cfg, V, I, h):
    """The time Δ ∈ [0, h] after which M5 first reaches θ, from states with ``V < θ``.

    Returns ``(Δ, has)``: ``has`` marks the states that cross (R2); Δ is exact there
    (R3–R6) and ``inf`` elsewhere. All arrays have the same shape. Only states with
    ``I > θ`` can cross: while ``V < I`` V rises towards a current that only decays, so
    ``V < max(V_0, I_0)`` (R0); the others are not examined.
    """
    th = cfg.theta
    out = np.full(np.shape(V), np.inf)
    has = np.zeros(np.shape(V), bool)
    may = (I > th) & (V < th)                                        # R0 (V ≥ θ: past a crossing already)
    if not may.any():
        return out, has
    V, I, h = V[may], I[may], np.broadcast_to(h, may.shape)[may]
    d_star = _stationary(cfg, V, I)
    inside = (d_star > 0) & (d_star < h)
    rising = I > V                                                   # τ_m V̇(0) = I − V
    hi = np.where(inside & rising, d_star, h)                        # R2: up to the maximum
    lo = np.where(inside & ~rising, d_star, 0.0)                     # R2: from the minimum
    ok = advance(cfg, V, I, hi)[0] >= th                             # R2: the crossing exists
    if not ok.any():
        return out, has
    V0, I0, lo, hi = V[ok], I[ok], lo[ok], hi[ok]
    d = _bracket_root(cfg, V0, I0, lo, hi)
    for _ in range(_NEWTON):                                         # R6: Newton on M5, in the bracket
        Vd, Id = advance(cfg, V0, I0, d)
        slope = (Id - Vd) / cfg.tau_m
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(slope > 0, (Vd - th) / slope, 0.0)
        d = np.clip(d - step, lo, hi)
    idx = np.flatnonzero(may)[ok]
    out.flat[idx] = d
    has.flat[idx] = True
    return out, has


def _bracket_root(cfg, V0, I0, lo, hi, method=None):
    """R3–R5: the root of M5 = θ inside the monotone bracket [lo, hi] (``method``: force
    ``"bisection"``; default ``cfg.kind``)."""
    th = cfg.theta
    d = None
    method = cfg.kind if method is None else method
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if method == "quadratic":                                  # R3: I0 x² − (V0+I0) x + θ = 0
            b = -(V0 + I0)
            disc = np.maximum(b * b - 4.0 * I0 * th, 0.0)
            q = -0.5 * (b + np.copysign(np.sqrt(disc), b))           # the stable pair of roots
            roots = np.stack([q / I0, th / q])
            cand = -cfg.tau_m * np.log(np.where(roots > 0, roots, np.nan))
            d = _pick(cand, lo, hi)
        elif method == "lambert":                                  # R4
            z = -(th / I0) * np.exp(-V0 / I0)
            cand = np.stack([cfg.tau_m * (-V0 / I0 - lambertw(z, k).real) for k in (0, -1)])
            cand = np.where(np.isfinite(z) & (z >= -np.exp(-1.0)), cand, np.nan)
            d = _pick(cand, lo, hi)
    bad = ~np.isfinite(d) if d is not None else np.ones(np.shape(V0), bool)
    if bad.any():                                                    # R5: bisection
        a, b = lo[bad].copy(), hi[bad].copy()
        Vb, Ib = V0[bad], I0[bad]
        for _ in range(_BISECT):
            m = 0.5 * (a + b)
            above = advance(cfg, Vb, Ib, m)[0] >= th
            b = np.where(above, m, b)
            a = np.where(above, a, m)
        d = np.where(bad, 0.0, d) if d is not None else np.zeros(np.shape(V0))
        d[bad] = b
    return d


def _pick(cand, lo, hi):
    """The candidate root inside [lo, hi] (a little slack for rounding); the earlier if both."""
    slack = 1e-9 * (1.0 + hi)
    ok = np.isfinite(cand) & (cand >= lo - slack) & (cand <= hi + slack)
    cand = np.where(ok, cand, np.inf)
    d = cand.min(axis=0)
    return np.where(np.isfinite(d), np.clip(d, lo, hi), np.nan)


def _sorted_events(t_in, t_end):
    """The input spikes (B, M, K) as a time-sorted event list per sample, trimmed."""
    B, M, K = t_in.shape
    flat = t_in.reshape(B, M * K)
    order = np.argsort(flat, axis=1, kind="stable")
    t = np.take_along_axis(flat, order, axis=1)
    valid = np.isfinite(t) & (t <= t_end)
    P = int(valid.sum(axis=1).max()) if valid.size else 0
    return t[:, :P], order[:, :P] // K, order[:, :P] % K, valid[:, :P]


def _check_times(name, t_in, M=None):
    t_in = np.asarray(t_in)
    if t_in.dtype != np.float64 or t_in.ndim != 3 or (M is not None and t_in.shape[1] != M):
        want = f"(B, {M}, K)" if M is not None else "(B, M, K)"
        raise ValueError(f"{name} must be a float64 array of spike times {want} (inf = no spike), "
                         f"got {t_in.dtype} {t_in.shape}")
    if np.isnan(t_in).any() or (t_in < 0).any():
        raise ValueError(f"{name} must hold times >= 0 or inf (no spike); found NaN or a negative time")
    return t_in


def layer_forward(cfg: EventPropConfig, W, t_in, max_spikes=None, path="auto", R=None) -> LayerRecord:
    """Simulate one layer exactly (M1–M5, R1–R6), event by event, vectorised over (B, N).

    ``W`` (N, M) float64; ``t_in`` (B, M, K) input spike times (``inf``: no spike).
    ``max_spikes``: stop each neuron after that many spikes (a readout whose loss reads only
    the first spike needs 1; nothing it has not simulated can change its gradient).
    ``path``: ``"auto"`` takes the fast path :func:`_forward_first` when ``max_spikes == 1``;
    ``"readable"`` always runs the event loop below.
    ``R`` (N, N): recurrent weights with a zero diagonal (M2r); the layer then runs
    :func:`_forward_recurrent` (both paths), else nothing changes.
    """
    W = float_array("W", W, (None, None)).astype(np.float64)
    N, M = W.shape
    t_in = _check_times("t_in", t_in, M)
    B = t_in.shape[0]
    te, ch, kk, valid = _sorted_events(t_in, cfg.t_end)
    if R is not None:
        R = _check_recurrent(R, N)
    P = te.shape[1]
    V = np.zeros((B, N))
    I = np.zeros((B, N))
    tc = np.zeros((B, N))                                   # each neuron's clock
    cap = 4
    times = np.full((B, N, cap), np.inf)
    cur = np.zeros((B, N, cap))
    itv = np.full((B, N, cap), -1, np.int64)
    count = np.zeros((B, N), np.int64)
    bi, ni = np.indices((B, N))
    WT = W.T
    if max_spikes is not None:
        max_spikes = check_positive_int("max_spikes", max_spikes)
    if path not in ("auto", "readable"):
        raise ValueError(f"path must be 'auto' or 'readable', got {path!r}")
    if R is not None:
        return _forward_recurrent(cfg, W, R, te, ch, kk, valid, max_spikes)
    if max_spikes == 1 and path == "auto":
        return _forward_first(cfg, W, te, ch, kk, valid)
    done = np.zeros((B, N), bool)
    for p in range(P + 1):
        t_next = np.where(valid[:, p], te[:, p], cfg.t_end) if p < P else np.full(B, cfg.t_end)
        while True:                                         # spikes in [t_{p−1}, t_p)
            d, has = crossing(cfg, V, I, t_next[:, None] - tc)
            has &= ~done
            if not has.any():
                break
            V[has], I[has] = advance(cfg, V[has], I[has], d[has])
            tc[has] += d[has]
            if count.max() >= cap:
                times, cur, itv, cap = _grow(times, np.inf), _grow(cur, 0.0), _grow(itv, -1), 2 * cap
            k = count[has]
            times[bi[has], ni[has], k] = tc[has]
            cur[bi[has], ni[has], k] = I[has]
            itv[bi[has], ni[has], k] = p
            count[has] += 1
            V[has] = 0.0                                    # M3: reset
            if max_spikes is not None:
                done |= count >= max_spikes
                I[done] = 0.0                               # no longer simulated (R0 skips it)
        V, I = advance(cfg, V, I, t_next[:, None] - tc)
        tc[:] = t_next[:, None]
        if p < P:
            I += np.where(valid[:, p, None] & ~done, WT[ch[:, p]], 0.0)   # M2: jump by W_ij
    K = max(1, int(count.max()))
    return LayerRecord(times[:, :, :K], cur[:, :, :K], itv[:, :, :K], te, ch, kk, valid)


def _check_recurrent(R, N):
    """``R`` (N, N) float64 with a zero diagonal (M2r: no self-connections)."""
    R = float_array("R", R, (N, N)).astype(np.float64)
    if np.any(np.diag(R) != 0.0):
        raise ValueError(f"R must have a zero diagonal (no self-connections, M2r); found nonzero R[i, i] "
                         f"at i = {np.flatnonzero(np.diag(R)).tolist()}")
    return R


def _grow(a, fill):
    return np.concatenate([a, np.full(a.shape, fill, a.dtype)], axis=2)


def _forward_recurrent(cfg, W, R, te, ch, kk, valid, max_spikes):
    """The event loop of a recurrent layer (M1–M5, M2r, R1–R6), vectorised over the batch.

    Within an interval between input events each row's next event is the earliest crossing
    among its neurons: the row is advanced to it, the spiker reset and ``R[:, i]`` added to
    the row's currents; repeated until no neuron of the row crosses before the next input.
    """
    B, P = te.shape
    N = W.shape[0]
    V = np.zeros((B, N))
    I = np.zeros((B, N))
    tc = np.zeros(B)                                        # each row's clock
    cap = 4
    times = np.full((B, N, cap), np.inf)
    cur = np.zeros((B, N, cap))
    itv = np.full((B, N, cap), -1, np.int64)
    count = np.zeros((B, N), np.int64)
    done = np.zeros((B, N), bool)
    WT = W.T
    for p in range(P + 1):
        t_next = np.where(valid[:, p], te[:, p], cfg.t_end) if p < P else np.full(B, cfg.t_end)
        while True:                                         # the row's spikes in [t_{p−1}, t_p)
            d, has = crossing(cfg, V, I, np.broadcast_to((t_next - tc)[:, None], V.shape))
            d = np.where(has & ~done, d, np.inf)
            b = np.flatnonzero(np.isfinite(d).any(axis=1))  # rows with a spike before t_p
            if not b.size:
                break
            i = np.argmin(d[b], axis=1)                     # the row's earliest crossing
            db = d[b, i]
            V[b], I[b] = advance(cfg, V[b], I[b], db[:, None])   # M4–M5: the whole row to the spike
            tc[b] += db
            if count.max() >= cap:
                times, cur, itv, cap = _grow(times, np.inf), _grow(cur, 0.0), _grow(itv, -1), 2 * cap
            k = count[b, i]
            times[b, i, k] = tc[b]
            cur[b, i, k] = I[b, i]
            itv[b, i, k] = p
            count[b, i] += 1
            V[b, i] = 0.0                                   # M3: reset
            I[b] += np.where(done[b], 0.0, R[:, i].T)       # M2r: I_j += R_ji (R_ii = 0)
            if max_spikes is not None:
                done |= count >= max_spikes
                I[done] = 0.0                               # no longer simulated (R0 skips it)
        V, I = advance(cfg, V, I, (t_next - tc)[:, None])
        tc[:] = t_next
        if p < P:
            I += np.where(valid[:, p, None] & ~done, WT[ch[:, p]], 0.0)   # M2: jump by W_ij
    K = max(1, int(count.max()))
    return LayerRecord(times[:, :, :K], cur[:, :, :K], itv[:, :, :K], te, ch, kk, valid)


def _kernels(cfg, t, J, t0):
    """``(V, I)`` right after each event from the jumps ``J`` (B, P, N) at times ``t`` (B, P), no
    spike: M4–M5 summed over the past events, as cumulative sums of ``J e^{(t_q − t_0)/τ}``."""
    u = (t - t0[:, None])[:, :, None]
    es = np.exp(u / cfg.tau_s)
    I = np.cumsum(J * es, axis=1) / es                                          # M4 summed
    if cfg.tau_m == cfg.tau_s:
        V = (u / cfg.tau_m * np.cumsum(J * es, axis=1) - np.cumsum(J * es * u / cfg.tau_m, axis=1)) / es
    else:
        em = np.exp(u / cfg.tau_m)
        a = cfg.tau_s / (cfg.tau_s - cfg.tau_m)
        V = a * (I - np.cumsum(J * em, axis=1) / em)                             # M5 summed
    return V, I


def _forward_first(cfg, W, te, ch, kk, valid):
    """Fast path of :func:`layer_forward` with ``max_spikes=1``: every interval at once.

    Before its first spike a neuron is linear in its inputs, so the state right after each
    input event is a sum over the past events (:func:`_kernels`); R0–R6 then run on all
    intervals ``[t_p, t_{p+1})`` together and the first interval that crosses holds the spike.
    The same arithmetic as the event loop, up to rounding (tested to 1e-12).
    """
    B, P = te.shape
    N = W.shape[0]
    times = np.full((B, N, 1), np.inf)
    cur = np.zeros((B, N, 1))
    itv = np.full((B, N, 1), -1, np.int64)
    if P:
        t = np.where(valid, te, cfg.t_end)
        J = np.where(valid[:, :, None], W.T[ch], 0.0)                          # M2's jumps (B, P, N)
        V, I = _kernels(cfg, t, J, t[:, 0])
        h = np.concatenate([t[:, 1:], np.full((B, 1), cfg.t_end)], axis=1) - t  # interval lengths
        d, has = crossing(cfg, V, I, np.broadcast_to(h[:, :, None], V.shape).copy())
        any_ = has.any(axis=1)                                                  # (B, N)
        p = np.argmax(has, axis=1)                                              # first crossing interval
        b, n = np.nonzero(any_)
        pp = p[b, n]
        times[b, n, 0] = t[b, pp] + d[b, pp, n]
        cur[b, n, 0] = I[b, pp, n] * np.exp(-d[b, pp, n] / cfg.tau_s)
        itv[b, n, 0] = pp + 1
    return LayerRecord(times, cur, itv, te, ch, kk, valid)


def _back(cfg, lV, lI, d):
    """A3–A4: the multipliers a time ``d ≥ 0`` earlier."""
    em = np.exp(-d / cfg.tau_m)
    es = np.exp(-d / cfg.tau_s)
    if cfg.tau_m == cfg.tau_s:
        lI_new = es * (lI + lV * d / cfg.tau_s)                                # A4, τ_m = τ_s
    else:
        lI_new = lI * es + lV * cfg.tau_m / (cfg.tau_m - cfg.tau_s) * (em - es)  # A4
    return lV * em, lI_new                                                     # A3


def layer_backward(cfg: EventPropConfig, W, rec: LayerRecord, g_out, path="auto", R=None):
    """The adjoint pass of one layer: A3–A4 between events, J4 at its spikes, G1–G2 at its inputs.

    ``g_out`` (B, N, K): the gradient arriving at each output spike (``∂l/∂t_e`` plus the
    layer above's G2). Returns ``(dℒ/dW (N, M), dℒ/dt_in (B, M, K_in))``. ``path="auto"``
    takes the fast path :func:`_backward_single` when every neuron spiked at most once.
    With recurrent weights ``R`` (N, N) (the forward's): :func:`_backward_recurrent` (J4r,
    G1r; both paths), returning ``(dℒ/dW, dℒ/dt_in, dℒ/dR (N, N))``.
    """
    W = np.asarray(W, dtype=np.float64)
    N, M = W.shape
    g_out = float_array("g_out", g_out, rec.times.shape)
    g_out = np.where(np.isfinite(rec.times), g_out, 0.0)
    if path not in ("auto", "readable"):
        raise ValueError(f"path must be 'auto' or 'readable', got {path!r}")
    if R is not None:
        return _backward_recurrent(cfg, W, _check_recurrent(R, N), rec, g_out)
    if rec.times.shape[2] == 1 and path == "auto":
        return _backward_single(cfg, W, rec, g_out)
    B, _, K = rec.times.shape
    te, ch, valid = rec.t_in, rec.ch_in, rec.valid_in
    P = te.shape[1]
    th = cfg.theta
    lV = np.zeros((B, N))
    lI = np.zeros((B, N))
    tc = np.full((B, N), cfg.t_end)                        # λ(T) = 0
    gWT = np.zeros((M, N))
    g_ev = np.zeros((B, P))
    WT = W.T
    for p in range(P, -1, -1):
        for k in range(K - 1, -1, -1):                     # i's own spikes in interval p, latest first
            m = rec.interval[:, :, k] == p
            if not m.any():
                continue
            ts = rec.times[:, :, k]
            lV[m], lI[m] = _back(cfg, lV[m], lI[m], tc[m] - ts[m])
            tc[m] = ts[m]
            Is = rec.current[:, :, k][m]
            lV[m] = (Is * lV[m] + g_out[:, :, k][m]) / (Is - th)          # J4 (λ_I continuous: J3)
        t_prev = np.where(valid[:, p - 1], te[:, p - 1], cfg.t_end) if p > 0 else np.zeros(B)
        lV, lI = _back(cfg, lV, lI, tc - t_prev[:, None])
        tc[:] = t_prev[:, None]
        if p > 0:                                          # input event p−1: λ continuous (J2)
            g_ev[:, p - 1] = _input_event(cfg, lV, lI, WT, ch[:, p - 1], valid[:, p - 1], gWT)
    g_in = np.zeros((B, M, _k_in(rec)))
    b = np.broadcast_to(np.arange(B)[:, None], te.shape)
    np.add.at(g_in, (b[valid], ch[valid], rec.k_in[valid]), g_ev[valid])
    return gWT.T, g_in


def _input_event(cfg, lV, lI, WT, ch_p, v, gWT):
    """At one input event per row (channel ``ch_p`` (B,), real where ``v``): G1 added into ``gWT``
    (M, N), G2 returned (B,)."""
    np.add.at(gWT, ch_p[v], -cfg.tau_s * lI[v])                                  # G1
    return np.where(v, np.sum((lV - lI) * WT[ch_p], axis=1), 0.0)               # G2


def _backward_recurrent(cfg, W, R, rec, g_out):
    """The adjoint pass of a recurrent layer: each row's spikes, across its neurons, latest first.

    All neurons of a row share one clock. At a spike of i at ``t_e`` the other neurons' λ are
    continuous (J2), so J4r's sum and G1r read them there; then λ_V,i jumps (J4r), λ_I,i not (J3).
    """
    N, M = W.shape
    B, _, K = rec.times.shape
    te, ch, valid = rec.t_in, rec.ch_in, rec.valid_in
    P = te.shape[1]
    th = cfg.theta
    lV = np.zeros((B, N))
    lI = np.zeros((B, N))
    tc = np.full(B, cfg.t_end)                             # λ(T) = 0; each row's clock
    gWT = np.zeros((M, N))
    gRT = np.zeros((N, N))                                 # gRT[i, j] = dℒ/dR_ji
    g_ev = np.zeros((B, P))
    WT = W.T
    spiked = np.isfinite(rec.times).reshape(B, N * K)
    order = np.argsort(np.where(spiked, -rec.times.reshape(B, N * K), np.inf), axis=1, kind="stable")
    n_spikes = spiked.sum(axis=1)                          # order[b, :n_spikes[b]]: row b's spikes, latest first
    nxt = np.zeros(B, np.int64)
    rows = np.arange(B)
    for p in range(P, -1, -1):
        while True:                                        # the rows' spikes in interval p, latest first
            e = order[rows, np.minimum(nxt, N * K - 1)]
            n, k = e // K, e % K
            m = (nxt < n_spikes) & (rec.interval[rows, n, k] == p)
            if not m.any():
                break
            b, i, k = rows[m], n[m], k[m]
            ts = rec.times[b, i, k]
            lV[b], lI[b] = _back(cfg, lV[b], lI[b], (tc[b] - ts)[:, None])
            tc[b] = ts
            Is = rec.current[b, i, k]
            g = g_out[b, i, k] + np.sum(R[:, i].T * (lV[b] - lI[b]), axis=1)      # J4r: g_e + Σ_j R_ji(λ_V,j − λ_I,j)
            np.add.at(gRT, i, -cfg.tau_s * lI[b])                                  # G1r
            lV[b, i] = (Is * lV[b, i] + g) / (Is - th)                             # J4r (λ_I continuous: J3)
            nxt[b] += 1
        t_prev = np.where(valid[:, p - 1], te[:, p - 1], cfg.t_end) if p > 0 else np.zeros(B)
        lV, lI = _back(cfg, lV, lI, (tc - t_prev)[:, None])
        tc[:] = t_prev
        if p > 0:                                          # input event p−1: λ continuous (J2)
            g_ev[:, p - 1] = _input_event(cfg, lV, lI, WT, ch[:, p - 1], valid[:, p - 1], gWT)
    g_in = np.zeros((B, M, _k_in(rec)))
    b = np.broadcast_to(np.arange(B)[:, None], te.shape)
    np.add.at(g_in, (b[valid], ch[valid], rec.k_in[valid]), g_ev[valid])
    gR = gRT.T.copy()
    np.fill_diagonal(gR, 0.0)                              # R_ii = 0 is not a parameter
    return gWT.T, g_in, gR


def _backward_single(cfg, W, rec, g_out):
    """Fast path of :func:`layer_backward` when each neuron spiked at most once (K = 1).

    After a neuron's last spike nothing depends on its state, so ``λ^+ = 0`` there; J4 gives
    ``λ_V^- = g/(I − θ)``, J3 ``λ_I^- = 0``, and A3–A4 give λ at every earlier input event at
    once; G1–G2 sum over them.
    """
    N, M = W.shape
    te, ch, valid = rec.t_in, rec.ch_in, rec.valid_in
    B, P = te.shape
    gWT = np.zeros((M, N))
    g_ev = np.zeros((B, P))
    if P:
        ts, Is, itv = rec.times[:, :, 0], rec.current[:, :, 0], rec.interval[:, :, 0]
        lV_s = np.where(np.isfinite(ts), g_out[:, :, 0] / (Is - cfg.theta), 0.0)      # J4 with λ^+ = 0
        before = (np.arange(P)[None, :, None] < itv[:, None, :]) & valid[:, :, None]  # events before the spike
        D = np.where(before, ts[:, None, :] - np.where(valid, te, 0.0)[:, :, None], 0.0)
        lV, lI = _back(cfg, lV_s[:, None, :], np.zeros_like(lV_s)[:, None, :], D)    # A3–A4 from λ^-(t_s)
        lV, lI = np.where(before, lV, 0.0), np.where(before, lI, 0.0)
        np.add.at(gWT, ch[valid], -cfg.tau_s * lI[valid])                             # G1
        g_ev = np.where(valid, np.sum((lV - lI) * W.T[ch], axis=2), 0.0)             # G2
    g_in = np.zeros((B, M, _k_in(rec)))
    b = np.broadcast_to(np.arange(B)[:, None], te.shape)
    np.add.at(g_in, (b[valid], ch[valid], rec.k_in[valid]), g_ev[valid])
    return gWT.T, g_in


def _k_in(rec):
    return int(rec.k_in.max()) + 1 if rec.k_in.size else 1


def forward(cfg: EventPropConfig, Ws, t_in, max_spikes_last=None, max_spikes=None, Rs=None):
    """Every layer bottom-up; returns the list of :class:`LayerRecord`. ``max_spikes_last``
    is the last layer's ``max_spikes`` (1 for a first-spike readout); ``max_spikes`` a list with
    one entry (or None) per layer sets every layer's (1 everywhere: a time-to-first-spike
    network, each neuron firing at most once, as in Göltz et al. 2021). ``Rs``: a list with
    one entry per layer, its recurrent weights (N_l, N_l) with a zero diagonal or None (M2r)."""
    if not isinstance(cfg, EventPropConfig):
        raise TypeError(f"cfg must be an EventPropConfig, got {type(cfg).__name__}")
    if not isinstance(Ws, (list, tuple)) or not Ws:
        raise ValueError("Ws must be a non-empty list of weight matrices (N_l, M_l)")
    if max_spikes is None:
        max_spikes = [None] * (len(Ws) - 1) + [max_spikes_last]
    elif not isinstance(max_spikes, (list, tuple)) or len(max_spikes) != len(Ws):
        raise ValueError(f"max_spikes must be a list with one entry (int or None) per layer ({len(Ws)} layers)")
    Rs = _check_Rs(Rs, Ws)
    recs = []
    t = _check_times("t_in", t_in)
    for l, W in enumerate(Ws):
        W = float_array(f"Ws[{l}]", W, (None, t.shape[1]))
        rec = layer_forward(cfg, W, t, max_spikes[l], R=Rs[l])
        recs.append(rec)
        t = rec.times
    return recs


def _check_Rs(Rs, Ws):
    if Rs is None:
        return [None] * len(Ws)
    if not isinstance(Rs, (list, tuple)) or len(Rs) != len(Ws):
        raise ValueError(f"Rs must be a list with one entry ((N_l, N_l) recurrent weights or None) per layer "
                         f"({len(Ws)} layers)")
    return list(Rs)


def backward(cfg: EventPropConfig, Ws, recs, g_last, g_hidden=None, Rs=None):
    """Every layer top-down. ``g_last`` (B, N_L, K_L): ``∂l/∂t`` of the last layer's spikes;
    ``g_hidden[l]`` optional direct partials of hidden layer l. Returns ``(dℒ/dW list, dℒ/dt_in)``;
    with ``Rs`` (the forward's) also ``dℒ/dR`` per layer (None where ``Rs[l]`` is None):
    ``(dℒ/dW list, dℒ/dt_in, dℒ/dR list)``."""
    with_R = Rs is not None
    Rs = _check_Rs(Rs, Ws)
    grads = [None] * len(Ws)
    gRs = [None] * len(Ws)
    g = g_last
    for l in range(len(Ws) - 1, -1, -1):
        if g_hidden is not None and g_hidden[l] is not None and l < len(Ws) - 1:
            g = g + g_hidden[l]
        if Rs[l] is None:
            grads[l], g_in = layer_backward(cfg, Ws[l], recs[l], g)
        else:
            grads[l], g_in, gRs[l] = layer_backward(cfg, Ws[l], recs[l], g, R=Rs[l])
        if l:
            K = recs[l - 1].times.shape[2]
            g = np.zeros(recs[l - 1].times.shape)
            g[:, :, :g_in.shape[2]] = g_in[:, :, :K]
        else:
            g = g_in
    return (grads, g, gRs) if with_R else (grads, g)


def spike_counts(recs):
    """Per-layer spike counts (B, N): what a perturbation must not change for G1–G2 to hold."""
    return [r.counts for r in recs]


def first_spike_times(rec: LayerRecord):
    """(B, N): each neuron's first spike time, ``inf`` if it is silent."""
    return rec.times[:, :, 0]


def first_spike_loss(t_first, labels, tau0, alpha=0.0, tau1=1.0, t_silent=None):
    r"""Cross-entropy of ``softmax(−t/τ_0)`` plus ``α (e^{t_y/τ_1} − 1)`` for the label neuron y
    (Göltz et al. 2021), averaged over the batch. A silent neuron's time is ``t_silent``
    (a constant: no gradient reaches it). Returns ``(value, ∂l/∂t (B, N))``."""
    t = np.asarray(t_first, dtype=np.float64)
    B, N = t.shape
    labels = _labels(labels, B, N)
    silent = ~np.isfinite(t)
    if silent.any() and t_silent is None:
        raise ValueError("t_first has silent neurons (inf): pass t_silent, the time that stands in for them")
    tt = np.where(silent, t_silent if t_silent is not None else 0.0, t)
    logp = log_softmax(-tt / tau0, axis=1)
    r = np.arange(B)
    ty = tt[r, labels]
    value = float(np.mean(-logp[r, labels] + alpha * (np.exp(ty / tau1) - 1.0)))
    g = np.exp(logp)
    g[r, labels] -= 1.0
    g = -g / (tau0 * B)                                     # ∂(−log p_y)/∂t
    g[r, labels] += alpha * np.exp(ty / tau1) / (tau1 * B)
    return value, np.where(silent, 0.0, g)


def grad_first_spike(rec: LayerRecord, g_first):
    """Spread ``∂l/∂t_first`` (B, N) onto the layer's spikes (B, N, K): only k = 0 is read."""
    g = np.zeros(rec.times.shape)
    g[:, :, 0] = g_first
    return g


def encode_yin_yang(points, t_early=0.0, t_late=10.0, t_bias=5.0):
    """Yin-Yang points (n, 4) as one spike per channel (n, 5, 1): ``t = t_early + x (t_late − t_early)``
    for the four coordinates, and a bias channel at ``t_bias``."""
    pts = float_array("points", points, (None, 4)).astype(np.float64)
    t = t_early + pts * (t_late - t_early)
    t = np.concatenate([t, np.full((pts.shape[0], 1), float(t_bias))], axis=1)
    return t[:, :, None]


def grid_twin(cfg: EventPropConfig, Ws, t_in, dt, surrogate=None):
    """The network on refsnn's grid (module docstring): ``(Network, params, x (T, B, M))``.

    Layers: ``LIFConfig(synapse=True, reset="hard_keep_input", h0=1)`` with ``λ = e^{−dt/τ_s}``,
    ``α = e^{−dt/τ_m}``, ``W·dt/τ_m``, θ, ``v_r = 0``, ``b = 0`` and ``init_spike="zero"``. An input
    spike at t goes to step ``ceil(t/dt)``; ``T = ceil(t_end/dt) + 1`` steps.
    """
    from .lif import LIFConfig
    from .network import Network
    dt = real_scalar("dt", dt, low=0.0, low_open=True)
    t_in = _check_times("t_in", t_in)
    B, M, _ = t_in.shape
    T = int(np.ceil(cfg.t_end / dt - 1e-12)) + 1
    x = np.zeros((T, B, M))
    b, j, _k = np.nonzero(np.isfinite(t_in) & (t_in <= cfg.t_end))
    steps = np.ceil(t_in[b, j, _k] / dt - 1e-12).astype(np.int64)
    np.add.at(x, (steps, b, j), 1.0)
    a, lam = float(np.exp(-dt / cfg.tau_m)), float(np.exp(-dt / cfg.tau_s))
    layers, params = [], []
    kw = {} if surrogate is None else {"surrogate": surrogate}
    for W in Ws:
        N, Mi = W.shape
        layers.append(LIFConfig(Mi, N, reset="hard_keep_input", synapse=True, h0=1.0, init_spike="zero", **kw))
        params.append({"W": np.asarray(W, np.float64) * dt / cfg.tau_m, "b": np.zeros(N),
                       "alpha": np.full(N, a), "theta": np.full(N, cfg.theta), "v_reset": np.zeros(N),
                       "lam": np.full(N, lam)})
    return Network(tuple(layers)), params, x
