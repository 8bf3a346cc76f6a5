r"""Exercise 01 — the gradient problem (notebook 01).

Fill in each function where it says ``raise NotImplementedError``, then run::

    python exercises/check.py ex01

The setting is one spiking layer and one time step. The state starts at zero and
the bias is zero, so refsnn's equations F1, F4 and F6 (``refsnn/neurons/lif.py``) reduce to

.. math::

    v = x W^\top, \qquad s = H(v - \theta)                              \tag{F1, F4, F6}

with row vectors: ``x`` is ``(B, M)``, ``W`` is ``(N, M)``, and ``v, s`` are
``(B, N)``. The letters are B (batch rows), M (inputs) and N (neurons).

The loss is the mean squared error between the spikes and a target ``y``, ``(B, N)``:

.. math::

    L = \frac{1}{2BN} \sum_{b,k} (s_{bk} - y_{bk})^2 .

This is ``refsnn.losses.trace_mse`` with ``T = 1`` and ``η = 0``.

What the exercise shows: ``dH/dx`` is 0 wherever it exists, so the chain rule
gives ``∂L/∂W = 0`` and gradient descent never moves. A surrogate derivative
``σ'`` in the backward pass gives an update that is not zero.
"""

import numpy as np


def heaviside(x, h0=1.0):
    r"""The spike function H with an explicit value at 0 (F6).

    .. math::

        H(x) = \begin{cases} 1 & x > 0 \\ h_0 & x = 0 \\ 0 & x < 0 \end{cases}

    Parameters
    ----------
    x : ndarray of float, any shape (...)
        Usually ``v − θ``.
    h0 : {1.0, 0.0}
        ``H(0)``. The seeds and SpikingJelly use 1 (spike when ``v ≥ θ``);
        snnTorch, Norse and SpyTorch use 0 (spike when ``v > θ``).

    Returns
    -------
    ndarray of float, shape (...)
        The same shape as ``x``, with values in {0.0, 1.0}.
    """
    raise NotImplementedError


def spike_loss(W, x, theta, y, h0=1.0):
    r"""The loss of one spiking step.

    .. math::

        v = x W^\top, \quad s = H(v - \theta), \quad
        L = \frac{1}{2BN} \sum_{b,k} (s_{bk} - y_{bk})^2

    Parameters
    ----------
    W : ndarray (N, M)
        Weights; row k holds the input weights of neuron k.
    x : ndarray (B, M)
        Input.
    theta : ndarray (N,)
        Thresholds (broadcast over the batch).
    y : ndarray (B, N)
        Target spikes.
    h0 : {1.0, 0.0}
        ``H(0)``.

    Returns
    -------
    float
        L.
    """
    raise NotImplementedError


def true_gradient_step(W, x, theta, y, lr, h0=1.0):
    r"""One step of gradient descent on ``spike_loss`` with the true derivative of H.

    Apply the chain rule backwards through the step:

    .. math::

        δs &= \partial L / \partial s = (s - y) / (BN)            && (B, N)\\
        δv &= δs \odot H'(v - θ), \quad H'(x) = 0 \ (x \ne 0)     && (B, N)\\
        \partial L/\partial W &= δv^\top x                          && (N, M) \ \text{(G1, with } δI = δv)\\
        W_{new} &= W - \mathrm{lr}\, \partial L/\partial W

    At ``x = 0`` H has no derivative (it jumps); use 0 there as well.

    Parameters
    ----------
    W, x, theta, y, h0
        As in :func:`spike_loss`.
    lr : float
        Learning rate.

    Returns
    -------
    W_new : ndarray (N, M)
        The updated weights.
    dW : ndarray (N, M)
        ``∂L/∂W``.
    """
    raise NotImplementedError


def surrogate_gradient_step(W, x, theta, y, lr, dspike, h0=1.0):
    r"""The same step, with a surrogate derivative ``σ'`` in place of ``H'``.

    The forward pass still uses H. Only the backward pass changes:

    .. math::

        δv = δs \odot σ'(v - θ), \qquad \partial L/\partial W = δv^\top x,
        \qquad W_{new} = W - \mathrm{lr}\, \partial L/\partial W

    with ``δs = (s − y)/(BN)`` as before.

    Parameters
    ----------
    W, x, theta, y, lr, h0
        As in :func:`true_gradient_step`.
    dspike : callable
        ``dspike(z)`` returns ``σ'(z)`` elementwise, with the same shape as ``z``.
        For example ``refsnn.surrogate("sigmoid", 5.0).derivative``.

    Returns
    -------
    W_new : ndarray (N, M)
    dW : ndarray (N, M)
    """
    raise NotImplementedError
