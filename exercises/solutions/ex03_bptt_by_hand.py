"""Solution to exercise 03. The shapes and equations are in ``exercises/ex03_bptt_by_hand.py``."""

import numpy as np


def lif_step_forward(v_prev, u_prev, s_prev, I_t, params):
    p = params
    v_t = p["alpha"] * v_prev + I_t - p["beta"] * u_prev - p["gamma"] * s_prev   # F3, F4
    u_t = p["rho"] * u_prev + p["kappa"] * s_prev                                 # F5
    s_t = (v_t - p["theta"] >= 0).astype(float)                                   # F6, H(0) = 1
    return v_t, u_t, s_t


def lif_backward(v, a_s, a_v, params, dspike):
    p = params
    T = v.shape[0]
    dv = np.zeros_like(v)
    du = np.zeros_like(v)
    ds = np.zeros_like(v)
    sg = dspike(v - p["theta"])                                   # σ'(v_t − θ)
    dv_next = np.zeros_like(v[0])                                 # δv_{t+1}, zero at t = T
    du_next = np.zeros_like(v[0])                                 # δu_{t+1}
    for t in range(T - 1, -1, -1):
        ds[t] = a_s[t] - p["gamma"] * dv_next + p["kappa"] * du_next      # B1
        dv[t] = a_v[t] + p["alpha"] * dv_next + sg[t] * ds[t]             # B2
        du[t] = p["rho"] * du_next - p["beta"] * dv_next                  # B3
        dv_next, du_next = dv[t], du[t]
    return dv, du, ds


def weight_gradient(dI, x):
    dW = np.zeros((dI.shape[2], x.shape[2]))
    for t in range(dI.shape[0]):
        dW += dI[t].T @ x[t]                                      # G1: W is shared, so +=
    return dW
