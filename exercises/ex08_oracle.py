r"""Exercise 08 — refsnn as an oracle (notebook 08).

Fill in each function, then run::

    python exercises/check.py ex08

snnTorch 1.0's ``Leaky`` maps onto a refsnn layer (notebook 08, eq. 8.2): ``α_j = β``,
``θ_j = θ``, and the reset amount γ_j = θ with the default ``reset_delay=True``. With
``reset_delay=False`` snnTorch resets in the same step, which refsnn writes as a next-step
reset of γ_j = βθ seen through the post-reset membrane (docs/presets.md). β and θ are one
number for the whole layer in snnTorch and per-neuron vectors in refsnn.

:func:`leaky_peer_grads` is the chain rule of that map (eq. 8.3). The other two functions
are what ``refsnn compare`` reports for each array: the first spike that differs, and the
worst relative error with a floor. The last two are its diagnosis (notebook 08, section 7;
docs/diagnosis.md): the first diverging step of an adjoint, and the adjoint term that a
user's backward gets wrong.
"""

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
    raise NotImplementedError


def first_spike_mismatch(s_peer, s_ref):
    r"""The first ``(t, b, n)`` where two spike trains differ, in time order, or ``None``.

    Parameters
    ----------
    s_peer, s_ref : ndarray (T, B, N)

    Returns
    -------
    tuple of int or None
    """
    raise NotImplementedError


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
    raise NotImplementedError


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
    raise NotImplementedError


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
    raise NotImplementedError
