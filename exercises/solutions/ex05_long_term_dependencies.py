"""Solution to exercise 05. The shapes and equations are in ``exercises/ex05_long_term_dependencies.py``."""

import numpy as np


def jacobian_linear(alpha, lam, w):
    alpha, lam, w = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (alpha, lam, w)))
    J = np.empty(alpha.shape + (2, 2))
    # v_t = α v_{t−1} + c_t = (α + w) v_{t−1} + λ c_{t−1};  c_t = w v_{t−1} + λ c_{t−1}
    J[..., 0, 0] = alpha + w
    J[..., 0, 1] = lam
    J[..., 1, 0] = w
    J[..., 1, 1] = lam
    return J


def spectral_radius(J):
    return np.abs(np.linalg.eigvals(np.asarray(J, dtype=float))).max(axis=-1)


def critical_coupling(tau_m, tau_s, dt=1.0):
    # det(I − J) = (1 − α − w)(1 − λ) + λ w = (1 − α)(1 − λ) − w
    alpha = np.exp(-dt / np.asarray(tau_m, dtype=float))
    lam = np.exp(-dt / np.asarray(tau_s, dtype=float))
    return (1.0 - alpha) * (1.0 - lam)
