r"""Exercise 16 — EventProp: the jump conditions of the adjoint at a spike. Worked solution."""

import numpy as np


def arriving_gradient(dl_dt, W_above, lam_v_above, lam_i_above):
    return dl_dt + (lam_v_above - lam_i_above) @ W_above                    # J4's sum, G2


def jump_at_spike(lam_v_plus, lam_i_plus, current, g, theta):
    lam_i_minus = lam_i_plus                                                # J3: λ_I is continuous
    lam_v_minus = (current * lam_v_plus + g) / (current - theta)            # J4
    return lam_v_minus, lam_i_minus


def weight_gradient(lam_i_at_inputs, channels, n_in, tau_s):
    B, P, N = lam_i_at_inputs.shape
    grad = np.zeros((N, n_in))
    for b in range(B):
        for p in range(P):
            grad[:, channels[b, p]] += -tau_s * lam_i_at_inputs[b, p]      # G1
    return grad
