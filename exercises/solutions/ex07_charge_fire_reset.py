"""Solution to exercise 07. The shapes and equations are in ``exercises/ex07_charge_fire_reset.py``."""

import numpy as np


def charge(v_prev, x_t, tau):
    return (1.0 - 1.0 / tau) * v_prev + x_t / tau


def fire(h, v_th):
    return (h - v_th >= 0).astype(float)


def reset_hard(h, s, v_reset):
    return s * v_reset + (1.0 - s) * h


def reset_soft(h, s, v_th):
    return h - s * v_th


def map_to_refsnn(tau, v_th, v_reset, reset, n):
    # H_t = a V_{t−1} + X_t/τ with a = 1 − 1/τ. Substituting the reset of V_{t−1}:
    #   soft: H_t = a H_{t−1} + X_t/τ − S_{t−1} (a V_th)                     → γ = a V_th
    #   hard: H_t = (1 − S_{t−1}) a H_{t−1} + S_{t−1} (a V_reset) + X_t/τ    → v_r = a V_reset,
    #         the input is kept: refsnn's hard_keep_input.
    tau, v_th, v_reset = (np.broadcast_to(np.asarray(a, dtype=float), (n,)).copy()
                          for a in (tau, v_th, v_reset))
    a = 1.0 - 1.0 / tau
    params = {"W": np.diag(1.0 / tau), "b": np.zeros(n), "alpha": a, "theta": v_th}
    if reset == "soft":
        params["gamma"] = a * v_th
        kind = "subtract"
    elif reset == "hard":
        params["v_reset"] = a * v_reset
        kind = "hard_keep_input"
    else:
        raise ValueError(f"reset must be 'soft' or 'hard', got {reset!r}")
    return {"reset": kind, "h0": 1.0}, params
