r"""Exercise 14 — worked solution (see exercises/ex14_lee2016.py for the statement)."""

import numpy as np


def transfer_gradient(W, v_th, mu, sigma, n):
    r"""L4: ``∂a_i/∂x_k ≈ w_ik / (V_th,i (1 − μσ(n − 1)))``.

    Parameters
    ----------
    W : ndarray (N, M)
    v_th : ndarray (N,)
    mu, sigma : float
    n : int

    Returns
    -------
    ndarray (N, M)
    """
    D = 1.0 - mu * sigma * (n - 1)
    return np.asarray(W, dtype=float) / (np.asarray(v_th, dtype=float)[:, None] * D)


def regulariser(W, alpha, beta, lam):
    r"""L7 and its gradient.

    Parameters
    ----------
    W : ndarray (N, M)
    alpha, beta, lam : float

    Returns
    -------
    value : float
    grad : ndarray (N, M)
    """
    W = np.asarray(W, dtype=float)
    e = beta * np.exp(lam * (np.sum(W ** 2, axis=1) - alpha ** 2))
    return float(np.sum(e)), 2.0 * lam * e[:, None] * W


def threshold_regularisation(v_th, W, counts, rho, v_floor):
    r"""Seed 003 section 2.3.2.

    Parameters
    ----------
    v_th : ndarray (N,)
    W : ndarray (N, M)
    counts : ndarray (B, N)
    rho : float
    v_floor : ndarray (N,)

    Returns
    -------
    v_th_new : ndarray (N,)
    W_new : ndarray (N, M)
    """
    v_th = np.asarray(v_th, dtype=float)
    spiked = np.asarray(counts) > 0
    N = v_th.shape[0]
    n_w = spiked.sum(axis=1, keepdims=True)
    v_new = v_th + rho * np.where(spiked, N, -n_w).sum(axis=0)
    low = v_new < v_floor
    scale = np.where(low, 1.0 + (v_th - v_new) / v_th, 1.0)
    return np.where(low, v_th, v_new), np.asarray(W, dtype=float) * scale[:, None]


def normalise_errors(delta_raw, v_th):
    """L5."""
    g = 1.0 / v_th
    g_bar = np.sqrt(np.mean(g ** 2))
    return delta_raw * (g / g_bar)


def max_normalised_loss(n_out, y):
    """L8's data term and its derivative through the maximum."""
    B = n_out.shape[0]
    m = n_out.max(axis=1, keepdims=True)
    o = n_out / m
    err = o - y
    value = 0.5 * np.sum(err ** 2) / B
    dn = err / m
    j_star = np.argmax(n_out, axis=1)
    dn[np.arange(B), j_star] -= np.sum(err * o, axis=1) / m[:, 0]
    return value, dn / B
