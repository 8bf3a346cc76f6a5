r"""Exercise 00 — one training step of a spiking network, written by you (notebook 00).

Fill in each function, then run::

    python exercises/check.py ex00

You use refsnn for the layers (``network_forward``, ``network_backward``,
``layer_backward``) and for the optimiser (``refsnn.optim``); you write what
connects them. Arrays are time-major: ``(T, B, K)`` holds T steps, B batch rows and
K neurons. Network parameters are refsnn's list of per-layer dicts (``params[l]["W"]``);
the optimiser works on flat dicts with keys ``"L0.W"``, ``"L1.b"``, ...
(``refsnn.network.flat_params`` and ``unflat_params`` convert).

The loss is the spike-count cross-entropy of the readout (the last layer), with
counts ``n = Σ_t s_t`` and ``p = softmax(n)`` over the K classes:

.. math::

    L &= -\frac1B \sum_b \log p_{b, y_b}                                   && (0.1)\\
    \partial L / \partial n &= (p - \mathrm{onehot}(y)) / B                 && (0.2)\\
    a^s_t &= \partial L / \partial s_t|_\text{direct} = (p - \mathrm{onehot}(y)) / B
           \quad\text{for every } t                                        && (0.3)

Only the weights and biases ``W``, ``R``, ``b`` are trained (:data:`TRAINED`); the
decay factors stay fixed.

Part 2 (:func:`gradients_with`) uses your ``lif_backward`` from exercise 03. The
checker finds it in ``ex03_bptt_by_hand.py`` next to this file, trains a small
network with it and with refsnn's backward pass, and says whether the two trainings
agree, or at which step they first part.
"""

import numpy as np
from scipy.special import softmax  # noqa: F401  (you may use it)

from refsnn import layer_backward, losses, network_backward, network_forward, optim  # noqa: F401
from refsnn.network import flat_params, unflat_params  # noqa: F401

TRAINED = ("W", "R", "b")


def count_ce_partial(s, labels):
    """The spike-count cross-entropy (0.1) and its direct partial (0.3).

    Parameters
    ----------
    s : ndarray (T, B, K)
        The readout's spikes.
    labels : int ndarray (B,)
        Class indices in [0, K).

    Returns
    -------
    value : float
        L of (0.1), averaged over the batch.
    a_s : ndarray (T, B, K)
        ``(p − onehot(y)) / B`` at every step t (0.3).

    Counts can be large: compute the softmax without overflowing (subtract the
    largest count before exponentiating, or use ``scipy.special.softmax``).
    """
    raise NotImplementedError


def train_step(net, params, opt, opt_state, x, labels, max_norm, gradients=None):
    """One step: forward, loss partial, backward, clipping, Adam.

    Parameters
    ----------
    net : refsnn.Network
    params : list of dict
        Per-layer parameters (refsnn's layout); not modified.
    opt : refsnn.optim.Adam
    opt_state : dict
        The optimiser state over the *trained* entries only (keys ``"L0.W"``, ...;
        from ``optim.init_state`` on the flat dict of trained parameters).
    x : ndarray (T, B, M)
        Input spikes.
    labels : int ndarray (B,)
    max_norm : float
        Clip the trained gradients to this global norm (``optim.clip_by_global_norm``)
        before the Adam step.
    gradients : callable, optional
        ``gradients(trajs, params, a_s) -> list of per-layer gradient dicts``. ``None``
        means refsnn's ``network_backward(trajs, params, ds=[None, ..., a_s]).params``.

    Returns
    -------
    new_params : list of dict
        The trained entries updated by ``optim.step``, every other entry unchanged.
    new_opt_state : dict
    value : float
        The loss of this batch, before the update.
    """
    raise NotImplementedError


def gradients_with(lif_backward, trajs, params, a_s):
    """The gradients of ``W`` and ``b`` of a two-layer network, with *your* backward pass
    for the hidden layer.

    The network is ``(hidden, readout)``: the hidden layer is exercise 03's neuron
    (adaptive LIF, attached soft reset, no synapse, no recurrence), the readout a
    plain LIF layer whose spikes the loss reads.

    Parameters
    ----------
    lif_backward : callable
        Exercise 03's ``lif_backward(v, a_s, a_v, params, dspike) -> (dv, du, ds)``.
    trajs : list of two refsnn Trajectory
        From ``network_forward``: ``trajs[0]`` the hidden layer (``.v``, ``.x`` its
        input (T, B, M), ``.config.surrogate.derivative`` its σ'), ``trajs[1]`` the readout.
    params : list of two dict
    a_s : ndarray (T, B, K)
        The loss's partial on the readout's spikes (0.3).

    Returns
    -------
    grads : list of two dict
        ``[{"W": (N, M), "b": (N,)}, {"W": (K, N), "b": (K,)}]``.

    Steps: the readout's gradients with ``layer_backward(trajs[1], params[1], ds=a_s)``;
    its input gradient ``.x`` is the hidden layer's direct spike partial; then
    ``lif_backward`` (with ``a_v = 0``) gives δv, and with no synapse and the soft reset
    ``δI_t = δv_t``, so ``∂L/∂W = Σ_t δv_tᵀ x_t`` and ``∂L/∂b = Σ_t Σ_b δv_t`` (G1).
    """
    raise NotImplementedError
