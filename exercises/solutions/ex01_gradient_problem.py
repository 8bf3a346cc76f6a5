"""Solution to exercise 01. The shapes and equations are in ``exercises/ex01_gradient_problem.py``."""

import numpy as np


def heaviside(x, h0=1.0):
    x = np.asarray(x, dtype=float)
    return np.where(x > 0, 1.0, np.where(x == 0, h0, 0.0))


def _forward(W, x, theta, h0):
    v = x @ W.T                                   # F1, F4 with v_{-1} = 0, b = 0
    s = heaviside(v - theta, h0)                  # F6
    return v, s


def spike_loss(W, x, theta, y, h0=1.0):
    _, s = _forward(W, x, theta, h0)
    return 0.5 * np.sum((s - y) ** 2) / s.size


def true_gradient_step(W, x, theta, y, lr, h0=1.0):
    v, s = _forward(W, x, theta, h0)
    ds = (s - y) / s.size
    dH = np.zeros_like(v)                         # dH/dx = 0 wherever it exists
    dv = ds * dH
    dW = dv.T @ x                                 # G1 with δI = δv
    return W - lr * dW, dW


def surrogate_gradient_step(W, x, theta, y, lr, dspike, h0=1.0):
    v, s = _forward(W, x, theta, h0)
    ds = (s - y) / s.size
    dv = ds * dspike(v - theta)                   # σ' in place of H'
    dW = dv.T @ x
    return W - lr * dW, dW
