"""Checks for exercise 10 (the first-spike-time loss, L2–L4 of refsnn.losses).

Reference: :func:`refsnn.losses.soft_first_spike_time` and
:func:`refsnn.losses.first_spike_cross_entropy`. Spikes are drawn in (0, 1) (the smooth
twin's), where L4 is the exact derivative of L3∘L2, so the partial is also checked
against central differences of the learner's own loss value; binary spike trains check
that t̂ is the first-spike step. Typical mistakes are recognised by re-running the
reference formula with one change (S_t in place of S_{t−1}, R without its survival
factor, R's index shifted by one step either way or started at 0, the sign of g, τ or
1/B missing, logits +t̂/τ, t̂ summing S_{t−1}). ``first_spike_loss`` is checked in isolation:
while it runs, a ``soft_first_spike_time`` it calls is refsnn's.
"""

import numpy as np

from refsnn import losses as L
from refsnn.gradcheck import check_gradient
from refsnn.neurons.lif import LIFConfig, Trajectory

from .common import Fail, call, compare, diagnose, locate, nonfinite_hint, to_array, unpack, RTOL_REF

T, B, N = 8, 3, 4
TAU = 1.5


def _spikes(seed, binary=False):
    rng = np.random.default_rng(seed)
    if binary:
        s = (rng.uniform(size=(T, B, N)) < 0.2).astype(float)
        s[:, 0, 1] = 0.0                                  # one silent neuron
        return s
    return rng.uniform(0.02, 0.95, (T, B, N))


def _traj(s):
    return Trajectory(LIFConfig(1, N), None, np.zeros_like(s), s, None, None, {}, np.zeros((B, N)))


def _variant(s, y, tau, S_now=False, no_survival=False, sign=1.0, no_tau=False, no_B=False, plus=False,
             R_now=False, R_late=False, R_zero=False):
    S = np.cumprod(1.0 - s, axis=0)
    t_hat = S.sum(axis=0)
    z = (t_hat if plus else -t_hat) / tau
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    oh = np.zeros((B, N))
    oh[np.arange(B), y] = 1.0
    g = -(p - oh) * (1.0 if no_B else 1.0 / B) * (1.0 if no_tau else 1.0 / tau) * sign
    if plus:
        g = -g
    ds = np.zeros_like(s)
    R = np.zeros((B, N)) if R_zero else np.ones((B, N))
    for t in range(T - 1, -1, -1):
        if t < T - 1:
            if R_late:                                    # R_t built from s_{t+2}: one step too late
                R = 1.0 + ((1.0 - s[t + 2]) * R if t + 2 < T else R)
            else:
                R = 1.0 + (R if no_survival else (1.0 - s[t if R_now else t + 1]) * R)
        elif R_zero:
            R = np.zeros((B, N))
        Sp = S[t] if S_now else (S[t - 1] if t else np.ones((B, N)))
        ds[t] = -g * Sp * R
    return ds


_DS_MUTANTS = [
    ("off by one: L4 uses S_{t−1} (survival before step t), not S_t", dict(S_now=True)),
    ("R_t = 1 + (1 − s_{t+1}) R_{t+1}: the survival factor (1 − s_{t+1}) is missing", dict(no_survival=True)),
    ("the sign of g = ∂L/∂t̂ = −(p − onehot)/(Bτ) is flipped", dict(sign=-1.0)),
    ("g is missing 1/τ: the logits are −t̂/τ", dict(no_tau=True)),
    ("g is missing the batch mean 1/B", dict(no_B=True)),
    ("the logits are −t̂/τ (earlier spike = larger logit), not +t̂/τ", dict(plus=True)),
    ("index shift in the R recursion: R_t = 1 + (1 − s_{t+1}) R_{t+1} uses s_{t+1}, not s_t",
     dict(R_now=True)),
    ("index shift in the R recursion: R_t = 1 + (1 − s_{t+1}) R_{t+1} uses s_{t+1}, not s_{t+2}",
     dict(R_late=True)),
    ("R starts at R_{T−1} = 1 (t̂ counts S_{T−1} once), not 0", dict(R_zero=True)),
]


def check_soft_first_spike_time(fn):
    worst = 0.0
    for binary in (False, True):
        s = _spikes(10 + binary, binary)
        want_t, want_S = L.soft_first_spike_time(s)
        t_hat, S = unpack(call(fn, s), ("t_hat", "S"))
        t_hat = to_array(t_hat, "t_hat", (B, N), "(B, N)")
        S = to_array(S, "S", (T, B, N), "(T, B, N)")
        err_S, idx_S = compare(S, want_S)
        if err_S > RTOL_REF:
            shifted = np.concatenate([np.ones((1, B, N)), want_S[:-1]])
            hint = nonfinite_hint(S, "S") or diagnose({"S": S}, [
                ("off by one: S_t = Π_{τ=0}^{t}(1 − s_τ) includes step t itself", lambda: {"S": shifted}),
                ("S_t is a product of (1 − s_τ), not of s_τ", lambda: {"S": np.cumprod(s, axis=0)}),
                ("S_t is a running product over time (axis 0): np.cumprod(1 − s, axis=0)",
                 lambda: {"S": np.cumprod(1.0 - s, axis=1)})]) or "check L2: S_t = Π_{τ≤t}(1 − s_τ)"
            raise Fail(hint, err_S, locate("S", idx_S, "tbn"))
        err, idx = compare(t_hat, want_t)
        if err > RTOL_REF:
            hint = diagnose({"t_hat": t_hat}, [
                ("t̂ sums S_t over t = 0..T−1 (it is t_f), not S_{t−1} (that gives t_f + 1)",
                 lambda: {"t_hat": 1.0 + want_S[:-1].sum(axis=0)})]) or "check L2: t̂ = Σ_t S_t"
            raise Fail(hint, err, locate("t_hat", idx, "bn"))
        if binary:
            if not np.array_equal(np.round(t_hat), L.first_spike_times(s)):
                raise Fail("on binary spikes t̂ must be the first-spike step t_f (T if silent)")
        worst = max(worst, err, err_S)
    return worst, ""


def check_first_spike_loss(fn):
    """Checked in isolation: while it runs, a ``soft_first_spike_time`` it calls is refsnn's, so a
    mistake there fails only ``soft_first_spike_time``'s own check, with its own hint."""
    g = getattr(fn, "__globals__", None)
    if g is not None and callable(g.get("soft_first_spike_time")):
        saved = g["soft_first_spike_time"]
        g["soft_first_spike_time"] = L.soft_first_spike_time
        try:
            return _check_first_spike_loss(fn)
        finally:
            g["soft_first_spike_time"] = saved
    return _check_first_spike_loss(fn)


def _check_first_spike_loss(fn):
    worst = 0.0
    for seed, tau in ((20, TAU), (21, 4.0)):
        s = _spikes(seed)
        y = np.random.default_rng(seed).integers(0, N, B)
        ref = L.first_spike_cross_entropy(_traj(s), y, tau)
        value, ds = unpack(call(fn, s, y, tau), ("value", "ds"))
        ds = to_array(ds, "ds", (T, B, N), "(T, B, N)")
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise Fail(f"value must be a number, got {type(value).__name__}") from None
        if not abs(value - ref.value) <= 1e-10 * max(1.0, abs(ref.value)):
            raise Fail(f"the loss value is {value:.6g}, expected {ref.value:.6g}: check L3 "
                       "(cross-entropy of softmax(−t̂/τ), averaged over the batch)")
        err, idx = compare(ds, ref.ds)
        if err > RTOL_REF:
            hint = nonfinite_hint(ds, "ds") or diagnose(
                {"ds": ds}, [(h, lambda kw=kw: {"ds": _variant(s, y, tau, **kw)}) for h, kw in _DS_MUTANTS]) or \
                "check L4: ∂L/∂s_t = −g S_{t−1} R_t"
            first = next(t for t in range(T - 1, -1, -1) if compare(ds[t], ref.ds[t])[0] > RTOL_REF)
            raise Fail(f"ds_t first differs at t={first} (counting down from T−1): {hint}", err,
                       locate("ds", idx, "tbn"))
        fd = check_gradient(lambda a: float(call(fn, a, y, tau)[0]), s.copy(), ds, name="ds", eps=1e-4,
                            rtol=1e-7, floor=1e-4, order=4)
        if not fd.passed:
            raise Fail(f"ds disagrees with central differences of your loss value ({fd})", fd.max_rel_error,
                       locate("ds", fd.worst_index, "tbn"))
        worst = max(worst, err)
    return worst, ""


CHECKS = [
    ("soft_first_spike_time", check_soft_first_spike_time),
    ("first_spike_loss", check_first_spike_loss),
]
