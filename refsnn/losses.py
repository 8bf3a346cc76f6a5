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
===========================  ==============================================================  ==========================

In ``trace_mse`` the filtered signal ``q`` is the spikes (``on="s"``) or the
membrane (``on="v"``), and the partial lands on that variable: ``∂L/∂q_t = δz_t``.
Seed 002's "p − y spread over the time steps" is the cross-entropy row: every
step's spike gets the same partial, because ``∂n/∂s_t = 1`` for all t.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import log_softmax

from ._validate import float_array, real_scalar
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
    "combine",
]

LOSS_NAMES = ("ce_count", "trace_mse", "membrane", "l1", "l2")  # the verification grid's losses


@dataclass
class Loss:
    """A loss value and its direct partials ``ds``, ``dv`` (``(T, B, N)`` or None)."""

    value: float
    ds: np.ndarray | None
    dv: np.ndarray | None


def _traj(traj):
    if not isinstance(traj, Trajectory):
        raise TypeError(f"traj must be a refsnn.lif.Trajectory, got {type(traj).__name__}")
    return traj


def _spiking(traj, what):
    if not traj.config.spiking:
        raise ValueError(f"{what} reads spikes, but this layer is non-spiking (spiking=False)")


def _labels(labels, B, N):
    labels = np.asarray(labels)
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
    ds = np.broadcast_to(grad_n, (T, B, N)).astype(traj.s.dtype)
    return Loss(float(value), ds, None)


def trace_mse(traj, target, eta=0.9, on="s") -> Loss:
    """MSE between the low-pass trace ``z_t = η z_{t−1} + q_t`` and ``target`` (T, B, N)."""
    traj = _traj(traj)
    if on not in ("s", "v"):
        raise ValueError(f"on must be 's' or 'v', got {on!r}")
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
        at = np.asarray(at)
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
    return Loss(float(0.5 * np.sum(err ** 2) / B), None, (err / B).astype(traj.membrane.dtype))


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
