"""Solution to exercise 00. The shapes and equations are in ``exercises/ex00_training_step.py``."""

import numpy as np
from scipy.special import softmax

from refsnn import layer_backward, losses, network_backward, network_forward, optim
from refsnn.network import flat_params, unflat_params

TRAINED = ("W", "R", "b")


def count_ce_partial(s, labels):
    T, B, K = s.shape
    n = s.sum(axis=0)                                          # spike counts, (B, K)
    p = softmax(n, axis=1)                                     # subtracts the max count first
    value = -np.log(p[np.arange(B), labels]).mean()            # (0.1)
    dn = (p - np.eye(K)[labels]) / B                           # (0.2)
    return float(value), np.broadcast_to(dn, (T, B, K)).copy()  # (0.3): ∂n/∂s_t = 1


def train_step(net, params, opt, opt_state, x, labels, max_norm, gradients=None):
    trajs = network_forward(net, params, x)                                   # F1–F6
    value, a_s = count_ce_partial(trajs[-1].s, labels)                       # (0.1), (0.3)
    ds = [None] * (len(params) - 1) + [a_s]
    if gradients is None:
        grads = network_backward(trajs, params, ds=ds).params                # B1–B5, G1–G5
    else:
        grads = gradients(trajs, params, a_s)
    flat_g = {k: v for k, v in flat_params(grads).items() if k.split(".")[1] in TRAINED}
    flat_g, _ = optim.clip_by_global_norm(flat_g, max_norm)                 # C1–C2
    flat_p = {k: v for k, v in flat_params(params).items() if k.split(".")[1] in TRAINED}
    new, opt_state = optim.step(opt, flat_p, flat_g, opt_state)             # A1–A4
    return unflat_params({**flat_params(params), **new}, len(params)), opt_state, value


def gradients_with(lif_backward, trajs, params, a_s):
    hidden, out = trajs
    g_out = layer_backward(out, params[1], ds=a_s)           # the readout, by refsnn
    a_s_hidden = g_out.x                                     # ∂L/∂s of the hidden layer
    zero = np.zeros_like(hidden.v)
    dv, du, ds = lif_backward(hidden.v, a_s_hidden, zero, params[0], hidden.config.surrogate.derivative)
    T, B, N = dv.shape
    x = hidden.x
    dW = dv.reshape(T * B, N).T @ x.reshape(T * B, -1)       # G1 with δI_t = δv_t
    db = dv.sum(axis=(0, 1))
    return [{"W": dW, "b": db}, {"W": g_out.params["W"], "b": g_out.params["b"]}]
