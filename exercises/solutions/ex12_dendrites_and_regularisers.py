"""Solution to exercise 12. The shapes and equations are in ``exercises/ex12_dendrites_and_regularisers.py``."""

import numpy as np


def branch_backward(dI, a, a_init, x, params, dspike_d):
    p = params
    T = a.shape[0]
    dq = p["c"] * dI[..., None]                                   # DB1
    sg = dspike_d(a - p["theta_d"])
    da = np.zeros_like(a)
    nxt = np.zeros_like(a[0])
    for t in range(T - 1, -1, -1):                                # DB2
        nxt = p["alpha_d"] * nxt + sg[t] * dq[t]
        da[t] = nxt
    a_prev = np.concatenate([a_init[None], a[:-1]], axis=0)
    dW_d = np.einsum("tbnk,tbm->nkm", da, x)                      # DG2
    dalpha_d = np.sum(da * a_prev, axis=(0, 1))                   # DG3
    dtheta_d = -np.sum(sg * dq, axis=(0, 1))
    return da, dW_d, dalpha_d, dtheta_d


def rate_regularizer(s, target_rate, strength):
    T, B, N = s.shape
    f = s.sum(axis=(0, 1)) / (T * B)
    value = strength * np.sum((f - target_rate) ** 2)
    ds = np.broadcast_to(2.0 * strength * (f - target_rate) / (T * B), s.shape).copy()
    return float(value), ds


def membrane_l1(v, strength):
    B = v.shape[1]
    value = strength * np.sum(np.abs(v)) / B
    dv = strength * np.sign(v) / B
    return float(value), dv
