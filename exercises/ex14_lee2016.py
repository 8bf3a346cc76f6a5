r"""Exercise 14 — Lee et al. 2016: the transfer-function gradient, the learning rule and the regularisers (notebook 14).

Fill in each function, then run::

    python exercises/check.py ex14

The equations carry the labels of ``refsnn/learning/lee2016.py`` (L1–L8). A layer
has weights ``W`` (N, M) (row i: the synapses of neuron i) and thresholds ``V_th``
(N,). In a winner-take-all (WTA) layer every spike of neuron j adds
``σ μ V_th,i`` to every other neuron i, with one shared strength ``μ = κ_ij`` and
``−1 ≤ μ ≤ 0`` (inhibition), ``0 ≤ σ < 1``.
"""

import numpy as np


def transfer_gradient(W, v_th, mu, sigma, n):
    r"""L4: the approximate gradient of a neuron's activity with respect to its inputs.

    .. math::

        \frac{∂a_i}{∂x_k} \approx \frac{w_{ik}}{V_{th,i}\,(1 - μσ(n-1))}

    With ``μ ≤ 0`` the denominator is ``1 + |μ|σ(n − 1) ≥ 1``: inhibition from the
    other ``n − 1`` neurons of the circuit damps the response.

    Parameters
    ----------
    W : ndarray (N, M)
    v_th : ndarray (N,)
    mu : float, in [−1, 0]
    sigma : float, in [0, 1)
    n : int
        Number of neurons in the WTA circuit.

    Returns
    -------
    ndarray (N, M)
        ``∂a_i/∂x_k``.
    """
    raise NotImplementedError


def regulariser(W, alpha, beta, lam):
    r"""L7: the exponential weight regulariser, summed over the neurons, and its gradient.

    .. math::

        L_w = \sum_i β\, e^{λ(\sum_k w_{ik}^2 - α^2)}, \qquad
        \frac{∂L_w}{∂w_{ik}} = 2 β λ\, w_{ik}\, e^{λ(\sum_k w_{ik}^2 - α^2)}

    Parameters
    ----------
    W : ndarray (N, M)
    alpha, beta, lam : float

    Returns
    -------
    value : float
    grad : ndarray (N, M)
    """
    raise NotImplementedError


def threshold_regularisation(v_th, W, counts, rho, v_floor):
    r"""Seed 003 section 2.3.2, for a batch of samples.

    For each sample b, ``N_w,b`` of the N neurons spiked (``counts[b, i] > 0``). Each
    neuron that spiked gets ``+ρN``, each neuron that did not gets ``−ρN_w,b``; the
    changes of all samples are summed, giving the proposed ``V_new``. Then the floor:
    a neuron whose ``V_new`` is below ``v_floor`` keeps its old threshold, and its
    weights (its row of W) are multiplied by ``1 + (V_old − V_new)/V_old`` instead.

    Parameters
    ----------
    v_th : ndarray (N,)
        ``V_old``.
    W : ndarray (N, M)
    counts : ndarray (B, N)
        Spike counts of the layer, one row per sample.
    rho : float
    v_floor : ndarray (N,)

    Returns
    -------
    v_th_new : ndarray (N,)
    W_new : ndarray (N, M)
    """
    raise NotImplementedError


def normalise_errors(delta_raw, v_th):
    r"""L5: scale each neuron's raw error by its gain relative to the layer's.

    .. math::

        δ_i = \frac{g_i}{\bar g}\, δ^{raw}_i, \qquad g_i = \frac{1}{V_{th,i}}, \qquad
        \bar g = \sqrt{\tfrac1n \textstyle\sum_i g_i^2}

    Parameters
    ----------
    delta_raw : ndarray (B, N)
        Raw errors, one row per sample.
    v_th : ndarray (N,)

    Returns
    -------
    ndarray (B, N)
    """
    raise NotImplementedError


def max_normalised_loss(n_out, y):
    r"""L8's data term and its exact derivative, through the maximum.

    .. math::

        o_{bi} = \frac{n_{bi}}{m_b}, \quad m_b = \max_j n_{bj}, \qquad
        L = \frac{1}{2B} \sum_b \sum_i (o_{bi} - y_{bi})^2

        \frac{∂L}{∂n_{bi}} = \frac1B \Big( \frac{o_{bi} - y_{bi}}{m_b}
            - [i = j^*_b] \sum_j \frac{(o_{bj} - y_{bj})\, o_{bj}}{m_b} \Big)

    where ``j*_b`` is the (first) index of the largest count of sample b. Every sample
    here has at least one nonzero count.

    Parameters
    ----------
    n_out : ndarray (B, K)
        Output spike counts (real numbers are allowed).
    y : ndarray (B, K)
        Targets (one-hot).

    Returns
    -------
    value : float
    dn : ndarray (B, K)
        ``∂L/∂n``.
    """
    raise NotImplementedError
