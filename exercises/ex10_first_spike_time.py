"""Exercise 10 · the first-spike-time loss and its direct partial.

For spikes s[t, b, n] (t = 0..T−1; 0/1 from the Heaviside forward pass, or in (0, 1) for
the smooth twin), the survival product and the soft first-spike time are

    S_t = Π_{τ=0}^{t} (1 − s_τ),        t̂ = Σ_{t=0}^{T−1} S_t                       (L2)

(t̂ is the first-spike step t_f for binary spikes, T if the neuron is silent). The loss is
the cross-entropy of softmax(−t̂/τ) over the output neurons, averaged over the batch,

    L = −(1/B) Σ_b log p_{b, y_b},   p = softmax(−t̂/τ),   g = ∂L/∂t̂ = −(p − onehot(y)) / (Bτ)   (L3)

and its direct partial is

    ∂L/∂s_t = −g · S_{t−1} · R_t,   R_{T−1} = 1,   R_t = 1 + (1 − s_{t+1}) R_{t+1},   S_{−1} = 1   (L4)

Check with ``python exercises/check.py ex10``.
"""

import numpy as np


def soft_first_spike_time(s):
    """L2.

    Parameters
    ----------
    s : ndarray (T, B, N)
        Spikes.

    Returns
    -------
    t_hat : ndarray (B, N)
    S : ndarray (T, B, N)
        The survival product S_t.
    """
    # TODO: the survival product over t = 0..t (np.cumprod), then its sum over time.
    raise NotImplementedError


def first_spike_loss(s, labels, tau):
    """L3 and its partial L4.

    Parameters
    ----------
    s : ndarray (T, B, N)
    labels : int ndarray (B,)
    tau : float
        The temperature τ > 0 (in steps).

    Returns
    -------
    value : float
    ds : ndarray (T, B, N)
        ∂L/∂s_t.
    """
    # TODO: logits −t̂/τ, a stable softmax, g = ∂L/∂t̂, then the backward recursion for R_t.
    raise NotImplementedError
