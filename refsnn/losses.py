r"""Losses on a layer's trajectory, each with its direct partials.

Every function takes a :class:`~refsnn.lif.Trajectory` and returns a
:class:`Loss`: the scalar value and the arrays ``ds = ∂L/∂s_t|direct`` and
``dv = ∂L/∂v_t|direct`` (``(T, B, N)``, or ``None`` where the loss does not read
that variable). These are the ``a^s_t`` and ``a^v_t`` of the adjoint recursion
(:mod:`refsnn.lif`, B1 and B2). All losses average over the batch B.

Spike counts are ``n_{b,k} = Σ_t s_{t,b,k}``. The membrane ``v_t`` that a loss reads
is ``traj.membrane``: the charged (pre-reset) membrane, or the post-reset one when the
layer's ``membrane_view`` is ``"post_reset"`` (:mod:`refsnn.lif`, S4); ``dv`` is then
``∂L/∂v⁺_t``, and :func:`refsnn.lif.layer_backward` maps it into ``δv`` and ``δs``.

===========================  ==============================================================  ==========================
function                     value                                                            direct partial
===========================  ==============================================================  ==========================
spike_count_cross_entropy    ``−(1/B) Σ_b log p_{b,y_b}``, ``p = softmax(n)``                   ``ds_t = (p − onehot(y))/B``
trace_mse                    ``(1/2TBN) Σ (z_t − y_t)²``, ``z_t = η z_{t−1} + q_t``, ``z_{−1}=0``  ``δz_t = (z_t−y_t)/(TBN) + η δz_{t+1}``
membrane_rate_loss           ``(1/2B) Σ_t Σ_{b,k} (v_t − y)²`` (seed 002)                       ``dv_t = (v_t − y)/B``
spike_count_l1               ``(λ/B) Σ_{b,k} n_{b,k}``                                          ``ds_t = λ/B``
spike_count_l2               ``(λ/B) Σ_{b,k} n_{b,k}²``                                         ``ds_t = 2λ n/B``
first_spike_cross_entropy    ``−(1/B) Σ_b log p_{b,y_b}``, ``p = softmax(−t̂/τ)``                ``ds_t = −g S_{t−1} R_t``
===========================  ==============================================================  ==========================

Regularisers (seed 002, "整合生物学约束"): loss terms added to the task loss,
each with its direct partial (the block at the end of this module).

===========================  ==============================================================  ==========================
function                     value                                                            direct partial
===========================  ==============================================================  ==========================
membrane_l1                  ``(λ/B) Σ_{t,b,k} |v_{t,b,k}|``                                    ``dv_t = λ sign(v_t)/B``
membrane_l2                  ``(λ/B) Σ_{t,b,k} v_{t,b,k}²``                                     ``dv_t = 2λ v_t/B``
firing_rate_regularizer      ``λ Σ_k (f_k − f₀)²``, ``f_k = (1/TB) Σ_{t,b} s_{t,b,k}`` (e-prop)  ``ds_t = 2λ (f − f₀)/(TB)``
weight_decay                 ``(λ/2) Σ_{p} Σ_i p_i²`` over the chosen parameters                 ``∂L/∂p = λ p``
spike_count_logistic         ``(1/B) Σ_b log(1 + e^{−z_b})``, ``z_b = g (2y_b − 1)(n_b − κ)``     ``ds_t = −g(2y−1) S(−z)/B``
===========================  ==============================================================  ==========================

``spike_count_logistic`` is not a regulariser but a binary task loss on one output
neuron (notebook 12's XOR): label 1 asks for more than κ spikes, label 0 for fewer; S
is the logistic function, and the partial is the same at every step (``∂n/∂s_t = 1``).

``sign(0) = 0`` (a subgradient of |v| at 0). The rate ``f_k`` is neuron k's mean
number of spikes per step over time and batch, as in e-prop's regulariser (Bellec
et al. 2020): one rate per neuron, not per trial, so the regulariser is not a mean
over the batch and its partial carries ``1/(TB)``. ``weight_decay`` reads
parameters, not a trajectory: it returns a :class:`ParamLoss` whose gradients are
added to the network's parameter gradients. As a loss term it is the *coupled* L2
penalty: with SGD it equals ``optim.SGD(weight_decay=λ)`` exactly (S1), while with
Adam it passes through the moments and differs from AdamW's decoupled decay (A4).

In ``trace_mse`` the filtered signal ``q`` is the spikes (``on="s"``) or the
membrane (``on="v"``), and the partial lands on that variable: ``∂L/∂q_t = δz_t``.
Seed 002's "p − y spread over the time steps" is the cross-entropy row: every
step's spike gets the same partial, because ``∂n/∂s_t = 1`` for all t.

The first-spike-time loss (seed 002, "建模不同的神经编码")
--------------------------------------------------------

*Discrete first-spike time.* For one neuron with spikes ``s_0, ..., s_{T−1} ∈ {0, 1}``
(the steps of the trial; the initial spike ``s_{−1}`` of the initial state is not
part of it),

.. math::

    t_f = \min\{\, t \in \{0, \dots, T-1\} : s_t = 1 \,\}, \qquad t_f = T
    \text{ if the neuron does not spike}.                                  \qquad (L1)

*Survival product.* ``S_t = Π_{τ=0}^{t} (1 − s_τ)`` (``S_{−1} = 1``) is 1 while the
neuron has not spiked and 0 from its first spike on, so ``S_{t−1} s_t`` is 1 exactly
at ``t = t_f`` and

.. math::

    \hat t = \sum_{t=0}^{T-1} S_t                                           \qquad (L2)

counts the steps before the first spike: ``t̂ = t_f`` for every binary spike train
(and ``T`` without a spike). L2 is a polynomial in the spikes, so it is also defined,
and smooth, for the smooth twin's spikes ``s_t = F(v_t − θ) ∈ (0, 1)``: there
``S_{t−1} s_t`` is the probability that a neuron spiking independently with
probability ``s_t`` at each step spikes first at t, ``S_t`` the probability that it
has not spiked by t, and t̂ the expected first-spike time (``E[t_f] = Σ_t P(t_f > t)``).
This is what puts the loss on the grid: the smooth twin differentiates exactly the
same formula that the Heaviside forward pass evaluates to ``t_f``.

*The loss.* Seed 002 names two forms: maximise the probability of the first spike at a
target step, or a time-to-first-spike cross-entropy. The first would be
``−log(S_{t*−1} s_{t*})``; on Heaviside spikes that is 0 or +∞, with no gradient
anywhere, so it cannot be checked on the piecewise route nor trained in surrogate mode.
refsnn implements the second, a cross-entropy over the N output neurons: the
earliest neuron should be the label's, so the logits are ``−t̂_k/τ`` (τ > 0, in steps),

.. math::

    L_{fts} = -\frac{1}{B}\sum_b \log p_{b,y_b}, \qquad
    p_{b,k} = \operatorname{softmax}_k(-\hat t_{b,k}/τ),
    \qquad g_{b,k} = \frac{∂L}{∂\hat t_{b,k}} = -\frac{p_{b,k} - [k = y_b]}{Bτ}. \qquad (L3)

*Its partial.* ``S_t`` depends on ``s_τ`` only for ``t ≥ τ``, and
``∂S_t/∂s_τ = −S_{τ−1} Π_{τ<τ'≤t}(1 − s_{τ'})``, so

.. math::

    \frac{∂\hat t}{∂s_τ} = -S_{τ-1} R_τ, \qquad
    R_τ = 1 + (1 - s_{τ+1}) R_{τ+1}, \quad R_{T-1} = 1,
    \qquad a^s_τ = g\,\frac{∂\hat t}{∂s_τ}                                    \qquad (L4)

(R is a backward recursion; no division by ``1 − s_τ``).

*Why the gradient is zero after t_f and concentrated before it.* With binary spikes
``S_{τ−1} = 0`` for every ``τ > t_f`` (the factor ``1 − s_{t_f} = 0`` is in it), so
``a^s_τ = 0`` after the first spike: moving a later spike cannot change the first
one. For ``τ < t_f`` the spikes ``s_{τ+1}, ..., s_{t_f−1}`` are 0, so L4 unrolls to
``R_τ = t_f − τ``: ``a^s_τ = −g (t_f − τ)``, largest at the earliest steps (a spike
there would move t_f furthest). At ``τ = t_f`` itself, ``R_{t_f}`` is 1 plus the
time from t_f to the next spike: removing the first spike hands the decision to the
second. In surrogate mode these partials enter B1; a step after t_f has no direct
partial and, the dynamics being causal, no adjoint reaches it from later steps, so
``δv_t = δs_t = 0`` for ``t > t_f`` in the output layer (and, in the layers below,
after the last output neuron's t_f). Notebook 10 shows this in a figure of δv.
With the smooth twin the same statements hold with ``S_{τ−1}`` small instead of 0.

*The seed's own first-spike losses* (a first spike at a target step). Two readings of
"maximise the probability of the first spike at t_f", both on the same survival
product, beside L3's cross-entropy:

.. math::

    L_{ftm} = \frac{1}{2B}\sum_{b,k} (\hat t_{b,k} - t^*_{b,k})^2, \qquad
    a^s_τ = \frac{\hat t - t^*}{B}\,\frac{∂\hat t}{∂s_τ} = -\frac{\hat t - t^*}{B}\, S_{τ-1} R_τ  \qquad (L5)

(``first_spike_time_mse``: the soft first-spike time regressed onto the target step
t* of every neuron, R of L4), and the seed's literal probability, for integer t*,

.. math::

    P = S_{t^*-1}\, s_{t^*}, \qquad L_{ftp} = -\frac{1}{B}\sum_{b,k} \log(P_{b,k} + ε), \qquad
    \frac{∂P}{∂s_τ} = \begin{cases} S_{t^*-1} & τ = t^*\\
                                  -s_{t^*}\, S_{τ-1}\, Q_τ & τ < t^*\\ 0 & τ > t^* \end{cases},
    \quad Q_τ = \prod_{τ<τ'<t^*}(1 - s_{τ'}),                                      \qquad (L6)

``a^s_τ = −(∂P/∂s_τ)/(B (P + ε))`` (``first_spike_likelihood``; Q is a backward
product, with no division by ``1 − s_τ``). ε > 0 keeps the value finite on Heaviside
spikes, where P is 0 or 1 (the earlier docstring's "0 or +∞" is the ε = 0 limit).
Both losses have the seed's property exactly: nothing after the first spike (L5) or
after t* (L6) gets a partial. They differ where it matters for training: L5's partial
is never zero before t_f, so a neuron that fires too early or too late is moved in
surrogate mode; L6 on binary spikes is multilinear in the spikes, and its partial
vanishes whenever two spikes disagree with the target (a neuron that fires early and
not at t* has ``∂P/∂s_{t*} = S_{t*−1} = 0`` and ``∂P/∂s_τ ∝ s_{t*} = 0``): the
seed's literal probability is a loss for a stochastic neuron (the smooth twin's
reading, where ``s_t`` is a spike probability), not for the Heaviside forward pass.
Notebook 17 shows both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import log_softmax

from ._numerics import flush_subnormal
from ._validate import as_array, check_choice, float_array, real_scalar
from .neurons.lif import Trajectory

__all__ = [
    "Loss",
    "LOSS_NAMES",
    "spike_count_cross_entropy",
    "trace_mse",
    "membrane_rate_loss",
    "spike_count_l1",
    "spike_count_l2",
    "membrane_cross_entropy",
    "first_spike_times",
    "soft_first_spike_time",
    "first_spike_cross_entropy",
    "first_spike_time_partial",
    "first_spike_time_mse",
    "first_spike_likelihood",
    "combine",
    "membrane_l1",
    "membrane_l2",
    "firing_rate_regularizer",
    "ParamLoss",
    "weight_decay",
    "REGULARIZER_NAMES",
    "spike_count_logistic",
]

LOSS_NAMES = ("ce_count", "trace_mse", "membrane", "l1", "l2")  # the verification grid's losses


@dataclass
class Loss:
    """A loss value and its direct partials ``ds``, ``dv`` (``(T, B, N)`` or None)."""

    value: float
    ds: np.ndarray | None
    dv: np.ndarray | None


def _flush_subnormal(a, dtype):
    """Zero the entries of ``a`` below ``dtype``'s smallest normal number (in place), so
    that no subnormal partial reaches the adjoint loops (see refsnn._numerics)."""
    return flush_subnormal(a, dtype)


def _traj(traj):
    if not isinstance(traj, Trajectory):
        raise TypeError(f"traj must be a refsnn.lif.Trajectory, got {type(traj).__name__}")
    return traj


def _spiking(traj, what):
    if not traj.config.spiking:
        raise ValueError(f"{what} reads spikes, but this layer is non-spiking (spiking=False)")


def _labels(labels, B, N):
    labels = as_array("labels", labels)
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels must be an integer array of class indices, got dtype {labels.dtype}")
    if labels.shape != (B,):
        raise ValueError(f"labels has shape {labels.shape}, expected ({B},)")
    if np.any(labels < 0) or np.any(labels >= N):
        raise ValueError(f"labels must lie in [0, {N}) (one per output neuron)")
    return labels


def spike_count_cross_entropy(traj, labels) -> Loss:
    """Softmax cross-entropy of the spike counts; ``labels`` are integers in ``[0, N)``, shape (B,)."""
    traj = _traj(traj)
    _spiking(traj, "spike_count_cross_entropy")
    T, B, N = traj.s.shape
    labels = _labels(labels, B, N)
    n = traj.s.sum(axis=0)
    logp = log_softmax(n, axis=1)
    value = -logp[np.arange(B), labels].mean()
    grad_n = np.exp(logp)
    grad_n[np.arange(B), labels] -= 1.0
    grad_n /= B
    _flush_subnormal(grad_n, traj.s.dtype)   # wrong classes' p ≈ e^-100 is subnormal in float32
    ds = np.broadcast_to(grad_n, (T, B, N)).astype(traj.s.dtype)
    return Loss(float(value), ds, None)


def trace_mse(traj, target, eta=0.9, on="s") -> Loss:
    """MSE between the low-pass trace ``z_t = η z_{t−1} + q_t`` and ``target`` (T, B, N)."""
    traj = _traj(traj)
    check_choice("on", on, ("s", "v"))
    if on == "s":
        _spiking(traj, "trace_mse(on='s')")
    eta = real_scalar("eta", eta, 0.0, 1.0)
    q = traj.s if on == "s" else traj.membrane
    T, B, N = q.shape
    target = float_array("target", target, (T, B, N))
    z = np.empty_like(q)
    z_prev = np.zeros_like(q[0])
    for t in range(T):
        z_prev = eta * z_prev + q[t]
        z[t] = z_prev
    err = z - target
    value = 0.5 * np.mean(err ** 2)
    dq = np.empty_like(q)
    dz_next = np.zeros_like(q[0])
    for t in range(T - 1, -1, -1):
        dz_next = err[t] / err.size + eta * dz_next
        dq[t] = dz_next
    _flush_subnormal(dq, q.dtype)
    return Loss(float(value), dq if on == "s" else None, dq if on == "v" else None)


def membrane_cross_entropy(traj, labels, reduce="max", at=None) -> Loss:
    """Softmax cross-entropy of a readout's membrane, reduced over time.

    ``reduce="max"``: logits ``m_{b,k} = max_t v_{t,b,k}`` (SpyTorch's readout); the
    partial ``(p − onehot(y))/B`` lands on the first time step that attains the max.
    ``at`` (integer ``(B, N)``) reads ``v`` at those steps instead of the argmax: the
    max is differentiable where its argmax does not move, and its derivative is the
    derivative with the argmax held fixed, which is what finite differences must use.
    ``reduce="mean"``: ``m = (1/T) Σ_t v_t``; every step gets ``(p − onehot(y))/(BT)``.
    ``labels`` are integers in ``[0, N)``, shape (B,).
    """
    traj = _traj(traj)
    T, B, N = traj.membrane.shape
    labels = _labels(labels, B, N)
    if reduce not in ("max", "mean"):
        raise ValueError(f"reduce must be 'max' or 'mean', got {reduce!r}")
    if at is not None:
        at = as_array("at", at)
        if reduce != "max" or not np.issubdtype(at.dtype, np.integer) or at.shape != (B, N) \
                or np.any(at < 0) or np.any(at >= T):
            raise ValueError(f"at must be integer time steps in [0, {T}) of shape ({B}, {N}), with reduce='max'")
    if reduce == "max":
        t_star = np.argmax(traj.membrane, axis=0) if at is None else at   # (B, N), first maximiser
        m = np.take_along_axis(traj.membrane, t_star[None], axis=0)[0]
    else:
        m = traj.membrane.mean(axis=0)
    logp = log_softmax(m, axis=1)
    value = -logp[np.arange(B), labels].mean()
    grad_m = np.exp(logp)
    grad_m[np.arange(B), labels] -= 1.0
    grad_m /= B
    _flush_subnormal(grad_m, traj.v.dtype)
    if reduce == "max":
        dv = np.zeros_like(traj.membrane)
        np.put_along_axis(dv, t_star[None], grad_m[None].astype(dv.dtype), axis=0)
    else:
        dv = np.broadcast_to(grad_m / T, traj.membrane.shape).astype(traj.membrane.dtype)
    return Loss(float(value), None, dv)


def membrane_rate_loss(traj, y) -> Loss:
    """Seed 002's rate loss ``½ Σ_t (v_t − y)²``, averaged over the batch.

    ``y`` is ``(B, N)`` (one target per trial) or ``(T, B, N)``.
    """
    traj = _traj(traj)
    T, B, N = traj.membrane.shape
    y = float_array("y", y)
    if y.shape not in ((B, N), (T, B, N)):
        raise ValueError(f"y has shape {y.shape}, expected ({B}, {N}) or ({T}, {B}, {N})")
    err = traj.membrane - y
    dv = (err / B).astype(traj.membrane.dtype)
    return Loss(float(0.5 * np.sum(err ** 2) / B), None, _flush_subnormal(dv, dv.dtype))


def spike_count_l1(traj, strength=1.0) -> Loss:
    """L1 penalty on spike counts (counts are non-negative, so it is their sum)."""
    traj = _traj(traj)
    _spiking(traj, "spike_count_l1")
    strength = real_scalar("strength", strength, 0.0)
    B = traj.s.shape[1]
    value = strength * traj.s.sum() / B
    return Loss(float(value), np.full_like(traj.s, strength / B), None)


def spike_count_l2(traj, strength=1.0) -> Loss:
    """L2 penalty on per-neuron spike counts."""
    traj = _traj(traj)
    _spiking(traj, "spike_count_l2")
    strength = real_scalar("strength", strength, 0.0)
    B = traj.s.shape[1]
    n = traj.s.sum(axis=0)
    value = strength * np.sum(n ** 2) / B
    ds = np.broadcast_to(2.0 * strength * n / B, traj.s.shape).astype(traj.s.dtype)
    return Loss(float(value), ds, None)


def first_spike_times(s):
    """L1: the discrete first-spike step ``t_f`` of every neuron, ``(B, N)`` int (T if none).

    ``s`` is a spike array ``(T, B, N)`` of zeros and ones (or a Trajectory)."""
    s = s.s if isinstance(s, Trajectory) else as_array("s", s)
    T = s.shape[0]
    fired = s >= 0.5
    return np.where(fired.any(axis=0), np.argmax(fired, axis=0), T)


def soft_first_spike_time(s):
    """L2: ``(t̂, S)`` with ``S_t = Π_{τ≤t}(1 − s_τ)`` ``(T, B, N)`` and ``t̂ = Σ_t S_t`` ``(B, N)``."""
    S = np.cumprod(1.0 - s, axis=0)
    return S.sum(axis=0), S


def first_spike_cross_entropy(traj, labels, tau=1.0) -> Loss:
    """L3: cross-entropy of ``softmax(−t̂/τ)`` over the output neurons, t̂ the soft
    first-spike time L2; ``labels`` are integers in ``[0, N)``, shape (B,). Partial L4."""
    traj = _traj(traj)
    _spiking(traj, "first_spike_cross_entropy")
    tau = real_scalar("tau", tau, 0.0, low_open=True)
    s = traj.s
    T, B, N = s.shape
    labels = _labels(labels, B, N)
    t_hat, S = soft_first_spike_time(s)
    with np.errstate(over="ignore", invalid="ignore"):
        logp = log_softmax(-t_hat / tau, axis=1)
    if not np.all(np.isfinite(logp)):
        raise FloatingPointError(f"first_spike_cross_entropy: t̂/tau overflowed with tau = {tau!r}; use a larger tau")
    value = -logp[np.arange(B), labels].mean()
    g = np.exp(logp)
    g[np.arange(B), labels] -= 1.0
    g *= -1.0 / (B * tau)                                        # ∂L/∂t̂ (L3)
    return Loss(float(value), g * first_spike_time_partial(s, S), None)   # a^s_t = g ∂t̂/∂s_t


def first_spike_time_partial(s, S=None):
    """L4: ``∂t̂/∂s_t = −S_{t−1} R_t`` ``(T, B, N)`` for spikes ``s`` (``S`` from
    :func:`soft_first_spike_time`, recomputed if not given)."""
    if S is None:
        S = soft_first_spike_time(s)[1]
    T = s.shape[0]
    out = np.empty_like(s)
    R = np.ones(s.shape[1:], s.dtype)                             # R_{T−1} = 1
    for t in range(T - 1, -1, -1):
        if t < T - 1:
            R = 1.0 + (1.0 - s[t + 1]) * R                        # R_t = 1 + (1 − s_{t+1}) R_{t+1}
        S_prev = S[t - 1] if t else 1.0                          # S_{t−1}, S_{−1} = 1
        out[t] = -S_prev * R                                      # ∂t̂/∂s_t (L4)
    return out


def _target_steps(name, t_star, B, N, T, integer):
    t_star = as_array("t_star", t_star)
    if t_star.shape != (B, N):
        raise ValueError(f"{name} has shape {t_star.shape}, expected ({B}, {N}): one target step per neuron")
    if integer and not np.issubdtype(t_star.dtype, np.integer):
        raise TypeError(f"{name} must be integer time steps, got dtype {t_star.dtype}")
    if not np.all(np.isfinite(t_star)) or np.any(t_star < 0) or np.any(t_star > (T - 1 if integer else T)):
        raise ValueError(f"{name} must lie in [0, {T - 1 if integer else T}] (steps of the trial"
                         + ("" if integer else f"; {T} = no spike") + ")")
    return t_star


def first_spike_time_mse(traj, t_star) -> Loss:
    """L5: ``(1/2B) Σ (t̂ − t*)²`` with t̂ the soft first-spike time L2 and target steps
    ``t_star`` (B, N) in ``[0, T]`` (T: no spike wanted). Partial ``−(t̂ − t*) S_{t−1} R_t/B``."""
    traj = _traj(traj)
    _spiking(traj, "first_spike_time_mse")
    s = traj.s
    T, B, N = s.shape
    t_star = _target_steps("t_star", t_star, B, N, T, integer=False)
    t_hat, S = soft_first_spike_time(s)
    err = t_hat - t_star
    ds = (err / B) * first_spike_time_partial(s, S)
    return Loss(float(0.5 * np.sum(err ** 2) / B), _flush_subnormal(ds.astype(s.dtype), s.dtype), None)


def first_spike_likelihood(traj, t_star, eps=1e-3) -> Loss:
    """L6: ``−(1/B) Σ log(S_{t*−1} s_{t*} + ε)``, the seed's probability of the first spike
    at the integer step ``t_star`` (B, N) in ``[0, T−1]``; ε > 0."""
    traj = _traj(traj)
    _spiking(traj, "first_spike_likelihood")
    eps = real_scalar("eps", eps, 0.0, low_open=True)
    s = traj.s
    T, B, N = s.shape
    t_star = _target_steps("t_star", t_star, B, N, T, integer=True)
    S = soft_first_spike_time(s)[1]
    S_before = np.where(t_star > 0, np.take_along_axis(S, np.maximum(t_star - 1, 0)[None], 0)[0], 1.0)
    s_star = np.take_along_axis(s, t_star[None], 0)[0]
    P = S_before * s_star
    dP = np.zeros_like(s)
    Q = np.ones((B, N), s.dtype)                                  # Q_τ = Π_{τ<τ'<t*} (1 − s_τ')
    for tau in range(T - 1, -1, -1):
        S_prev = S[tau - 1] if tau else 1.0                      # S_{τ−1}
        dP[tau] = np.where(tau == t_star, S_before, np.where(tau < t_star, -s_star * S_prev * Q, 0.0))
        Q = np.where(tau < t_star, Q * (1.0 - s[tau]), Q)
    ds = -dP / (B * (P + eps))
    return Loss(float(-np.sum(np.log(P + eps)) / B), _flush_subnormal(ds.astype(s.dtype), s.dtype), None)


def combine(*losses) -> Loss:
    """Sum of losses on the same layer: values add, partials add."""
    if not losses:
        raise ValueError("combine needs at least one Loss")

    def add(a, b):
        if a is None:
            return b
        return a if b is None else a + b

    value, ds, dv = 0.0, None, None
    for l in losses:
        if not isinstance(l, Loss):
            raise TypeError(f"combine takes Loss objects, got {type(l).__name__}")
        value += l.value
        ds, dv = add(ds, l.ds), add(dv, l.dv)
    return Loss(value, ds, dv)


# --------------------------------------------------------------------------- regularisers
# Seed 002's biological constraints as loss terms (the second table of the module
# docstring). Each returns the value with its partials; add them to the task loss with
# :func:`combine` (trajectory terms) or by adding ``ParamLoss.grads`` to the parameter
# gradients (weight decay).

REGULARIZER_NAMES = ("membrane_l1", "membrane_l2", "rate", "weight_decay")  # gradcheck's "reg" rows
# (plus "count_logistic", the binary count loss below, which has a row there too)


def membrane_l1(traj, strength=1.0) -> Loss:
    """L1 penalty on the membrane, ``(λ/B) Σ_{t,b,k} |v_{t,b,k}|``; ``dv = λ sign(v)/B``."""
    traj = _traj(traj)
    strength = real_scalar("strength", strength, 0.0)
    B = traj.v.shape[1]
    value = strength * np.abs(traj.v).sum() / B
    return Loss(float(value), None, (strength / B * np.sign(traj.v)).astype(traj.v.dtype))


def membrane_l2(traj, strength=1.0) -> Loss:
    """L2 penalty on the membrane, ``(λ/B) Σ_{t,b,k} v_{t,b,k}²``; ``dv = 2λ v/B``."""
    traj = _traj(traj)
    strength = real_scalar("strength", strength, 0.0)
    B = traj.v.shape[1]
    value = strength * np.sum(traj.v ** 2) / B
    return Loss(float(value), None, (2.0 * strength / B * traj.v).astype(traj.v.dtype))


def firing_rate_regularizer(traj, target_rate, strength=1.0) -> Loss:
    """e-prop's firing-rate regulariser ``λ Σ_k (f_k − f₀)²``.

    ``f_k = (1/TB) Σ_{t,b} s_{t,b,k}`` is neuron k's rate in spikes per step, averaged
    over time and batch; ``target_rate`` f₀ is a scalar or an ``(N,)`` array in [0, 1].
    Its partial is the same at every step and batch row:
    ``∂L/∂s_{t,b,k} = 2λ (f_k − f₀) / (TB)``.
    """
    traj = _traj(traj)
    _spiking(traj, "firing_rate_regularizer")
    strength = real_scalar("strength", strength, 0.0)
    T, B, N = traj.s.shape
    try:
        scalar = np.ndim(target_rate) == 0
    except ValueError:                      # a ragged sequence: NumPy cannot even count its axes
        raise ValueError(f"target_rate must be a number or an (N,) = ({N},) array of rates, got a ragged "
                         f"{type(target_rate).__name__}") from None
    if scalar:
        f0 = np.full(N, real_scalar("target_rate", target_rate, 0.0, 1.0))
    else:
        f0 = float_array("target_rate", target_rate, (N,))
        if np.any(f0 < 0) or np.any(f0 > 1):
            raise ValueError("target_rate must lie in [0, 1] (spikes per step)")
    f = traj.s.sum(axis=(0, 1)) / (T * B)
    err = f - f0
    value = strength * np.sum(err ** 2)
    ds = np.broadcast_to(2.0 * strength * err / (T * B), traj.s.shape).astype(traj.s.dtype)
    if not np.isfinite(value) or not np.all(np.isfinite(ds[0, 0])):
        raise FloatingPointError(f"firing_rate_regularizer overflowed: strength {strength!r} times the squared rate "
                                 "error exceeds the float range of the spikes' dtype; use a smaller strength")
    return Loss(float(value), ds, None)


@dataclass
class ParamLoss:
    """A loss on parameters: its value and ``grads[k] = ∂L/∂p_k`` (same keys as the params)."""

    value: float
    grads: dict


def weight_decay(params, strength=1.0, keys=None) -> ParamLoss:
    """The L2 penalty ``(λ/2) Σ_k Σ_i p_{k,i}²`` as a loss term; ``∂L/∂p_k = λ p_k``.

    ``params`` is a dict of arrays (one layer's, or a flat dict such as
    :func:`refsnn.network.flat_params` returns). ``keys`` chooses the decayed entries
    (default: every key); the others get a zero gradient and no value.
    """
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict of arrays, got {type(params).__name__}")
    strength = real_scalar("strength", strength, 0.0)
    if keys is None:
        keys = list(params)
    else:
        if isinstance(keys, (str, bytes)) or not hasattr(keys, "__iter__"):
            raise TypeError(f"keys must be a list of parameter names, got {type(keys).__name__}")
        keys = list(keys)
        if not all(isinstance(k, str) for k in keys):
            raise TypeError(f"keys must be a list of parameter names (strings), got {keys!r}"[:200])
        missing = sorted(set(keys) - set(params))
        if missing:
            raise ValueError(f"keys {missing} are not in params (which has {sorted(params)})")
    value = 0.0
    grads = {}
    for k, p in params.items():
        p = float_array(f"params[{k!r}]", p)
        if k in keys:
            value += 0.5 * strength * float(np.sum(p.astype(np.float64) ** 2))
            grads[k] = (strength * p).astype(p.dtype)
        else:
            grads[k] = np.zeros_like(p)
    if not np.isfinite(value) or not all(np.all(np.isfinite(g)) for g in grads.values()):
        raise FloatingPointError(f"weight_decay overflowed: strength {strength!r} times the squared parameters "
                                 "exceeds the float range; use a smaller strength")
    return ParamLoss(value, grads)


def spike_count_logistic(traj, labels, threshold=0.5, gain=2.0) -> Loss:
    """Logistic loss on one neuron's spike count: label 1 wants ``n > κ``, label 0 ``n < κ``.

    The layer must have one neuron (N = 1); ``labels`` are 0/1 integers of shape (B,).
    Value ``(1/B) Σ_b log(1 + exp(−z_b))`` with ``z_b = g (2y_b − 1)(n_b − κ)``; partial
    ``∂L/∂s_{t,b} = −g (2y_b − 1) S(−z_b) / B`` at every step (S the logistic function).
    """
    traj = _traj(traj)
    _spiking(traj, "spike_count_logistic")
    T, B, N = traj.s.shape
    if N != 1:
        raise ValueError(f"spike_count_logistic needs a layer of one neuron, got N = {N}")
    labels = _labels(labels, B, 2)
    threshold = real_scalar("threshold", threshold)
    gain = real_scalar("gain", gain, 0.0, low_open=True)
    n = traj.s.sum(axis=0)[:, 0]
    sign = 2.0 * labels - 1.0
    z = gain * sign * (n - threshold)
    value = float(np.mean(np.logaddexp(0.0, -z)))
    dn = -gain * sign * np.exp(-np.logaddexp(0.0, z)) / B          # S(−z) = 1/(1 + e^z), overflow-free
    ds = np.broadcast_to(dn[None, :, None], traj.s.shape).astype(traj.s.dtype)
    return Loss(value, ds, None)
