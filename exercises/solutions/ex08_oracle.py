r"""Exercise 08 — refsnn as an oracle (notebook 08). Worked solution."""

import numpy as np


def leaky_peer_grads(g, beta, threshold, reset_delay=True):
    r"""snnTorch ``Leaky``'s gradients from refsnn's, through the preset's chain rule.

    Parameters
    ----------
    g : dict of ndarray
        refsnn's gradients of the layer: ``"W"`` (N, M), ``"b"`` (N,), ``"alpha"`` (N,),
        ``"theta"`` (N,), ``"gamma"`` (N,).
    beta, threshold : float
        snnTorch's shared β and θ (one number for the layer).
    reset_delay : bool

    Returns
    -------
    dict
        ``"weight"`` (N, M), ``"bias"`` (N,), ``"beta"`` and ``"threshold"`` (floats).
    """
    gamma = np.asarray(g["gamma"])
    if reset_delay:
        d_beta = np.sum(g["alpha"])
        d_threshold = np.sum(g["theta"] + gamma)
    else:
        d_beta = np.sum(g["alpha"] + threshold * gamma)
        d_threshold = np.sum(g["theta"] + beta * gamma)
    return {"weight": g["W"], "bias": g["b"], "beta": float(d_beta), "threshold": float(d_threshold)}


def first_spike_mismatch(s_peer, s_ref):
    r"""The first ``(t, b, n)`` where two spike trains differ, in time order, or ``None``.

    Parameters
    ----------
    s_peer, s_ref : ndarray (T, B, N)

    Returns
    -------
    tuple of int or None
    """
    bad = np.argwhere(np.asarray(s_peer) != np.asarray(s_ref))
    if bad.size == 0:
        return None
    return tuple(int(i) for i in bad[0])


def max_rel_error(a, r, floor=1e-4):
    r"""``max_i |a_i − r_i| / max(|r_i|, floor · max|r|)``: ``a`` the peer's array, ``r`` refsnn's.

    Parameters
    ----------
    a, r : ndarray, the same shape
    floor : float

    Returns
    -------
    float
    """
    a = np.asarray(a, dtype=np.float64)
    r = np.asarray(r, dtype=np.float64)
    denom = np.maximum(np.abs(r), floor * np.abs(r).max())
    return float((np.abs(a - r) / denom).max())
