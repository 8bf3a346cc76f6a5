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


def first_adjoint_step(a, r, rtol=1e-9, floor=1e-4):
    r"""The first step *in reverse time* at which a per-step adjoint differs, or ``None``.

    ``a`` is the user's ``(T, B, N)`` adjoint (``∂L/∂x_t``, δv_t, ...), ``r`` refsnn's. Step t
    differs when ``max_{b,n} |a − r| / max(|r|, floor · max|r|) > rtol`` (compare's measure).
    Adjoints run from t = T−1 down to 0 (notebook 08, section 7).

    Parameters
    ----------
    a, r : ndarray (T, B, N)
    rtol, floor : float

    Returns
    -------
    int or None
    """
    a = np.asarray(a, dtype=np.float64)
    r = np.asarray(r, dtype=np.float64)
    scale = floor * np.abs(r).max()
    per_step = (np.abs(a - r) / np.maximum(np.abs(r), scale)).reshape(len(a), -1).max(axis=1)
    bad = np.flatnonzero(per_step > rtol)
    return int(bad[-1]) if bad.size else None


def name_adjoint_term(lhs, terms):
    r"""The single term of a backward equation whose coefficient explains its residual.

    ``lhs`` is the user's adjoint (e.g. δv_t for every t, b, n); ``terms`` maps a term's name
    to ``(T_k, e_k)``: the term evaluated on the user's own adjoints of the neighbouring steps
    and refsnn's coefficient for it (1, or 0 for a path refsnn's convention cuts). The
    residual is ``ρ = lhs − Σ_k e_k T_k`` (docs/diagnosis.md, section 4).

    Parameters
    ----------
    lhs : ndarray (T, B, N)
    terms : dict of name -> (ndarray (T, B, N), float)

    Returns
    -------
    (name, c) : the term whose one-parameter least-squares refit leaves the smallest
        residual ``‖ρ − (c − e_k) T_k‖``, and its fitted coefficient c (0: missing, −e_k: the
        wrong sign, ...).
    """
    rho = np.asarray(lhs, dtype=np.float64) - sum(e * np.asarray(T, dtype=np.float64) for T, e in terms.values())
    best = None
    for name, (T, e) in terms.items():
        T = np.asarray(T, dtype=np.float64)
        dc = float((rho * T).sum() / (T * T).sum())
        left = float(np.sqrt(((rho - dc * T) ** 2).sum()))
        if best is None or left < best[0]:
            best = (left, name, e + dc)
    return best[1], best[2]
