"""Solution to exercise 11. The shapes and equations are in ``exercises/ex11_trainable_neuron_dynamics.py``."""

import numpy as np


def refractory_gate_adjoint(ds, s, s_hat, s_init, n_ref):
    T = s.shape[0]

    def past(i):                       # s_i, with s_{-1} = s_init and 0 before it
        if i >= 0:
            return s[i]
        return s_init if i == -1 else np.zeros_like(s_init)

    out = np.zeros_like(ds)
    for t in range(T):
        for k in range(1, n_ref + 1):
            if t + k >= T:
                continue
            prod = np.ones_like(s_init)
            for j in range(1, n_ref + 1):
                if j != k:
                    prod = prod * (1.0 - past(t + k - j))
            out[t] -= s_hat[t + k] * prod * ds[t + k]
    return out


def theta_gradient(v, theta, ds, gate, dspike):
    return -np.sum(dspike(v - theta) * gate * ds, axis=(0, 1))


def project_dynamics(params):
    out = dict(params)
    bounds = {"alpha": (ALPHA_MIN, 1.0), "rho": (0.0, 1.0), "lam": (0.0, 1.0), "theta": (THETA_MIN, None),
              "gamma": (0.0, None), "beta": (0.0, None), "kappa": (0.0, None)}
    for k, (lo, hi) in bounds.items():
        if k in out:
            out[k] = np.clip(out[k], lo, hi)
    if "v_reset" in out:
        out["v_reset"] = np.minimum(out["v_reset"], out["theta"] - RESET_MARGIN)
    return out


ALPHA_MIN = 1e-3
THETA_MIN = 1e-3
RESET_MARGIN = 1e-3
