"""Solution to exercise 04. The shapes and equations are in ``exercises/ex04_soft_vs_hard_reset.py``."""

import numpy as np


def soft_reset_jacobian(v_prev, params, dspike, detach=False):
    p = params
    jac = p["alpha"] * np.ones_like(v_prev)
    if not detach:
        jac = jac - p["gamma"] * dspike(v_prev - p["theta"])
    return jac


def hard_reset_jacobian(v_prev, s_prev, d_t, params, dspike, detach=False):
    p = params
    jac = p["alpha"] * (1.0 - s_prev)
    if not detach:
        jac = jac + (p["v_reset"] - p["alpha"] * v_prev - d_t) * dspike(v_prev - p["theta"])
    return jac


def hard_reset_step_backward(dv_next, a_s, a_v, cache, params, dspike, detach=False):
    p = params
    v, s, s_prev, I_next = cache["v"], cache["s"], cache["s_prev"], cache["I_next"]
    ds = a_s
    if not detach:
        r_next = p["alpha"] * v + I_next - p["v_reset"]              # r_{t+1}
        ds = ds - r_next * dv_next                                   # B1
    dv = a_v + p["alpha"] * (1.0 - s) * dv_next + dspike(v - p["theta"]) * ds   # B2
    dI = (1.0 - s_prev) * dv                                         # B4, B5
    return ds, dv, dI
