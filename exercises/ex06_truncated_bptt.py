r"""Exercise 06 — truncated BPTT (notebook 06).

Fill in each function, then run::

    python exercises/check.py ex06

A sequence of T steps is cut into windows of length K that overlap by O steps
(``0 ≤ O < K``). Window n covers the global steps ``[t_n, min(t_n + K, T))``, where
``t_n = n (K − O)``. The windows stop as soon as every step has been counted once.
Seed 000 states three rules (``refsnn/learning/tbptt.py``):

1. **The state is carried over.** Window n starts from the state that the forward
   pass reached at global step ``t_n − 1``. Window n−1 computed that state, at its
   local step ``t_n − 1 − t_{n−1}``. The state is never reset to zero.
2. **Gradients stop at the window's start.** Inside a window the starting state is
   a constant: the backward pass runs over the window only, and the gradient with
   respect to the starting state is dropped.
3. **The loss counts each step once.** Window n counts its loss only on the steps
   that no earlier window counted. For ``n ≥ 1`` that is the suffix
   ``[t_n + O, t_n + K)``; the first window counts all of ``[0, K)``.

Shapes: the input ``x`` is ``(T, B, M)``, with B batch rows and M inputs. A network
is a ``refsnn.network.Network``, and ``params`` is a list with one dict per layer.
"""

import numpy as np

from refsnn.network import network_backward, network_forward
from refsnn.tbptt import state_at


def windows(T, K, O):
    r"""The windows, as a list of ``(window, counted)`` pairs of global-time slices.

    For ``n = 0, 1, ...``, while some step is still uncounted:

    .. math::

        t_n = n (K - O), \qquad
        \text{window}_n = [t_n,\ \min(t_n + K, T)), \qquad
        \text{counted}_n = [\text{end of counted}_{n-1},\ \min(t_n + K, T))

    with ``counted_0`` starting at 0.

    Parameters
    ----------
    T, K : int ≥ 1
        Sequence length and window length.
    O : int, 0 ≤ O < K
        Overlap.

    Returns
    -------
    list of (slice, slice)
        ``(slice(t_n, stop), slice(first counted step, stop))`` for each window.
        Example: ``windows(10, 4, 1)`` starts
        ``[(slice(0, 4), slice(0, 4)), (slice(3, 7), slice(4, 7)), ...]``.
    """
    raise NotImplementedError


def tbptt_gradient(net, params, x, loss_fn, K, O=0, state0=None):
    r"""The truncated-BPTT gradient: the sum over windows of each window's gradient.

    For each window n, ``(win, counted)`` from :func:`windows`:

    .. math::

        \text{trajs} &= \texttt{network\_forward}(net, params, x[win], \text{state}_n)\\
        (L_n, ds, dv) &= \texttt{loss\_fn}(\text{trajs}, win, counted)\\
        g_n &= \texttt{network\_backward}(\text{trajs}, params, ds, dv)\texttt{.params}\\
        L = \sum_n L_n, &\qquad \frac{\partial L}{\partial θ} \approx \sum_n g_n

    Here ``state_0`` is the argument ``state0``, and ``state_{n+1}`` is the state at
    global step ``t_{n+1} − 1`` (rule 1). ``refsnn.tbptt.state_at(trajs, local_t)``
    gives the per-layer state dicts at a local step of a window. Use
    ``network_forward`` and ``network_backward``, not ``refsnn.tbptt``'s own
    ``tbptt_gradients``.

    Parameters
    ----------
    net : refsnn.network.Network
    params : list of dict of ndarray
        One dict per layer.
    x : ndarray (T, B, M)
    loss_fn : callable
        ``loss_fn(trajs, window, counted) -> (value, ds_list, dv_list)``. ``window``
        and ``counted`` are slices of *global* time; the lists hold one direct
        partial (or None) per layer, in the window's local time. See
        ``refsnn.tbptt.per_step_membrane_loss``.
    K, O : int
        Window length and overlap.
    state0 : list of dict, optional
        The initial state per layer; None means zeros.

    Returns
    -------
    value : float
        ``Σ_n L_n``, which equals the full loss.
    grads : list of dict of ndarray
        Per layer, the parameter gradients summed over the windows.
    """
    raise NotImplementedError
