"""Floating-point helpers shared by the losses and the reverse loops."""

from __future__ import annotations

import numpy as np

# Surrogate families whose σ' has an exponential tail: a few widths from θ it is a normal
# number near the dtype's tiny, and its products with δs are subnormal.
EXPONENTIAL_TAILS = ("sigmoid", "exponential")


def flush_subnormal(a, dtype=None, scratch=None, mask=None):
    """Zero the entries of ``a`` (in place) whose magnitude is below the smallest normal
    number of ``dtype`` (``a``'s own by default), and return ``a``.

    Arithmetic that touches a subnormal runs many times slower (on x86 about a hundred
    cycles a multiply), and these entries (below 1.2e-38 in float32, 2.2e-308 in
    float64) change no gradient above that size. ``scratch`` (like ``a``) and ``mask``
    (bool, like ``a``) are optional buffers for the hot loops."""
    tiny = np.finfo(a.dtype if dtype is None else dtype).tiny
    mag = np.abs(a, out=scratch) if scratch is not None else np.abs(a)
    small = np.less(mag, tiny, out=mask) if mask is not None else mag < tiny
    np.copyto(a, 0.0, where=small)
    return a
