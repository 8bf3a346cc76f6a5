r"""Continuous-time event streams for the event-driven layers (:mod:`refsnn.neurons.lee2016`).

Both generators use scikit-learn's bundled 8×8 digits (no download; ``pip install
refsnn[digits]``) and return :class:`refsnn.neurons.lee2016.EventStream` objects
with real-valued time stamps (milliseconds), not a time grid.

* :func:`poisson_digits` — seed 003's PI-MNIST input: every pixel is an independent
  Poisson process with rate proportional to its intensity, the total rate of a
  sample normalised to ``total_rate`` events per second (the paper: 5 k eps), and the
  pixels in a fixed random order (permutation invariance: the network may not use
  their arrangement).
* :func:`moving_digits` — a stand-in for N-MNIST: the digit, on a ``canvas × canvas``
  field, moves along a triangle in three saccades of ``saccade_ms`` each (like the
  N-MNIST recording's sensor motion). Brightness changes make events: the image is
  sampled every ``dt_ms`` with bilinear interpolation, ``ΔI`` per pixel and bin,
  and an ON (channel ``2·pixel``) or OFF (channel ``2·pixel + 1``) event count drawn
  as Poisson with mean ``gain·max(±ΔI, 0)``, at uniform times inside the bin. The
  speed within a saccade follows ``sin²``, so the event rate peaks mid-saccade.
"""

from __future__ import annotations

import numpy as np

from .._validate import check_positive_int, float_array, real_scalar
from ..neurons.lee2016 import EventStream

__all__ = ["load_digit_images", "poisson_digits", "moving_digits", "stream_from_arrays",
           "SACCADE_PATH"]

# Corners of the triangle (row, column) in pixels, visited in three saccades.
SACCADE_PATH = ((0.0, 0.0), (2.0, 2.0), (0.0, 4.0), (0.0, 0.0))


def load_digit_images():
    """``(images (1797, 8, 8) in [0, 1], labels (1797,))`` from scikit-learn."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise ImportError("the digit event streams need scikit-learn: pip install refsnn[digits]") from exc
    b = load_digits()
    return np.asarray(b.images, dtype=np.float64) / 16.0, np.asarray(b.target, dtype=np.int64)


def stream_from_arrays(times_list, channels_list, n_channels, duration):
    """Pad per-sample arrays of times and channels (each sorted here) into one EventStream."""
    B = len(times_list)
    P = max([len(t) for t in times_list] + [1])
    times = np.zeros((B, P))
    ch = np.zeros((B, P), np.int64)
    valid = np.zeros((B, P), bool)
    for b, (t, c) in enumerate(zip(times_list, channels_list)):
        o = np.argsort(t, kind="stable")
        n = len(t)
        times[b, :n], ch[b, :n], valid[b, :n] = np.asarray(t)[o], np.asarray(c)[o], True
    return EventStream(times, ch, valid, n_channels, duration)


def poisson_digits(images, duration_ms, total_rate=5000.0, rng=None, permutation=None):
    """Poisson event streams of flattened images (S, M) in [0, 1].

    ``total_rate`` events per second per sample, shared by the pixels in proportion
    to their intensity; ``permutation`` (M,) reorders the channels (None: identity).
    """
    X = float_array("images", images, (None, None)).astype(np.float64)
    if np.any(X < 0):
        raise ValueError("images must be non-negative intensities")
    duration_ms = real_scalar("duration_ms", duration_ms, low=0.0, low_open=True)
    total_rate = real_scalar("total_rate", total_rate, low=0.0, low_open=True)
    rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    S, M = X.shape
    if permutation is not None:
        permutation = np.asarray(permutation)
        if sorted(permutation.tolist()) != list(range(M)):
            raise ValueError(f"permutation must be a permutation of range({M})")
        X = X[:, permutation]
    tot = X.sum(axis=1, keepdims=True)
    if np.any(tot == 0):
        raise ValueError("every image needs at least one non-zero pixel")
    lam = X / tot * total_rate * duration_ms / 1000.0        # expected events per pixel
    n = rng.poisson(lam)
    times, chans = [], []
    for s in range(S):
        c = np.repeat(np.arange(M), n[s])
        times.append(rng.uniform(0.0, duration_ms, c.size))
        chans.append(c)
    return stream_from_arrays(times, chans, M, duration_ms)


def _position(t, saccade_ms):
    """Displacement (row, col) at times t along SACCADE_PATH, sin² speed in each saccade."""
    path = np.asarray(SACCADE_PATH)
    k = np.clip((t // saccade_ms).astype(int), 0, len(path) - 2)
    tau = np.clip(t / saccade_ms - k, 0.0, 1.0)
    f = tau - np.sin(2 * np.pi * tau) / (2 * np.pi)           # ∫ 2 sin²(π τ) dτ: speed ∝ sin²
    return path[k] + (path[k + 1] - path[k]) * f[:, None]


def _int_shift(img, a, b):
    """``out[:, r, c] = img[:, r − a, c − b]`` (zero where that is outside)."""
    S, H, W = img.shape
    out = np.zeros_like(img)
    if abs(a) >= H or abs(b) >= W:
        return out
    out[:, max(a, 0):H + min(a, 0), max(b, 0):W + min(b, 0)] = img[:, max(-a, 0):H - max(a, 0), max(-b, 0):W - max(b, 0)]
    return out


def _shifted(img, dr, dc):
    """Bilinear sample of (S, H, W) images at ``(r − dr, c − dc)``, zero outside."""
    r0, c0 = int(np.floor(dr)), int(np.floor(dc))
    fr, fc = dr - r0, dc - c0
    return ((1 - fr) * (1 - fc) * _int_shift(img, r0, c0) + fr * (1 - fc) * _int_shift(img, r0 + 1, c0)
            + (1 - fr) * fc * _int_shift(img, r0, c0 + 1) + fr * fc * _int_shift(img, r0 + 1, c0 + 1))


def moving_digits(images, rng=None, canvas=12, saccade_ms=100.0, dt_ms=1.0, gain=4.0):
    """ON/OFF event streams of 8×8 images moving in three saccades (module docstring).

    Returns an EventStream with ``2·canvas²`` channels and duration ``3·saccade_ms``.
    """
    imgs = float_array("images", images, (None, 8, 8)).astype(np.float64)
    canvas = check_positive_int("canvas", canvas)
    if canvas < 8 + 4:
        raise ValueError(f"canvas must be at least 12 (8 pixels plus the 4-pixel saccade path), got {canvas}")
    saccade_ms = real_scalar("saccade_ms", saccade_ms, low=0.0, low_open=True)
    dt_ms = real_scalar("dt_ms", dt_ms, low=0.0, low_open=True)
    gain = real_scalar("gain", gain, low=0.0, low_open=True)
    rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    S = imgs.shape[0]
    base = np.zeros((S, canvas, canvas))
    off = (canvas - 8 - 4) // 2
    base[:, off:off + 8, off:off + 8] = imgs
    duration = 3 * saccade_ms
    n_bins = int(round(duration / dt_ms))
    edges = np.arange(n_bins + 1) * dt_ms
    pos = _position(edges, saccade_ms)
    prev = _shifted(base, *pos[0])
    all_s, all_t, all_c = [], [], []
    for n in range(n_bins):
        cur = _shifted(base, *pos[n + 1])
        d = (cur - prev).reshape(S, -1)
        prev = cur
        for sign, parity in ((1.0, 0), (-1.0, 1)):
            cnt = rng.poisson(gain * np.maximum(sign * d, 0.0))
            s_idx, pix = np.nonzero(cnt)
            if s_idx.size == 0:
                continue
            reps = cnt[s_idx, pix]
            s_rep = np.repeat(s_idx, reps)
            ch = np.repeat(2 * pix + parity, reps)
            all_s.append(s_rep)
            all_t.append(edges[n] + rng.uniform(0.0, dt_ms, s_rep.size))
            all_c.append(ch)
    s_all = np.concatenate(all_s) if all_s else np.zeros(0, np.int64)
    t_all = np.concatenate(all_t) if all_t else np.zeros(0)
    c_all = np.concatenate(all_c) if all_c else np.zeros(0, np.int64)
    order = np.lexsort((t_all, s_all))
    s_all, t_all, c_all = s_all[order], t_all[order], c_all[order]
    bounds = np.searchsorted(s_all, np.arange(S + 1))
    times = [t_all[bounds[i]:bounds[i + 1]] for i in range(S)]
    chans = [c_all[bounds[i]:bounds[i + 1]] for i in range(S)]
    return stream_from_arrays(times, chans, 2 * canvas * canvas, duration)
