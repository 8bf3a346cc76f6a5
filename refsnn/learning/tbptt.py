r"""Truncated BPTT, as seed 000 states it.

A sequence of T steps is cut into windows of length K that overlap by O steps
(``0 ≤ O < K``); window n covers the global steps ``[t_n, t_n + K)`` with
``t_n = n (K − O)``, and the last window stops at T.

1. **The state is carried over.** Window n starts from the state the forward pass
   reached just before ``t_n``, the state at ``t_n − 1``, which window n−1 computed.
   It is never reset to zero.
2. **Gradients stop at the window's start.** Inside window n, that starting state
   is a constant: the backward pass (:func:`refsnn.network.network_backward`) runs
   over the window only, and its initial-state gradient is dropped.
3. **The loss counts once per step.** Window n counts the loss only on its
   non-overlapping suffix ``[t_n + O, t_n + K)``, the steps the previous window
   did not count. The first window counts all of ``[0, K)``: seed 000 names only
   the suffix rule, which would leave steps ``0..O−1`` in no window's loss.

Parameters are held fixed across windows here, so the forward states equal those of
one forward pass over the whole sequence, the window losses add up to the full loss,
and with ``K ≥ T`` the result is the full-BPTT gradient. The windows' gradients are
summed. Training code that updates the parameters after every window calls
:func:`window_gradient` itself.

Memory: a window stores K steps, so the peak grows with K, not with T
(``benchmarks/bench_tbptt_memory.py``).

The loss is a callable ``loss_fn(trajs, window, counted)``. ``trajs`` are the
window's trajectories (one per layer, local time ``0..K−1``), and ``window`` and
``counted`` are slices of *global* time. It returns ``(value, ds_list, dv_list)``
and must depend only on the counted steps. :func:`per_step_membrane_loss` builds
the common case.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import check_callable, check_instance, check_positive_int, float_array
from ..neurons.lif import Trajectory, state_names
from ..neurons.network import Network, network_backward, network_forward

# More windows than this is no sequence that fits in memory: refused, not looped over.
MAX_WINDOWS = 10**8

__all__ = ["windows", "window_gradient", "tbptt_gradients", "TBPTTResult", "per_step_membrane_loss",
           "state_at"]


def windows(T, K, O):
    """The windows as ``(window, counted)`` pairs of global-time slices."""
    T = check_positive_int("T", T)
    K = check_positive_int("K", K)
    if isinstance(O, bool) or not isinstance(O, (int, np.integer)) or not 0 <= O < K:
        raise ValueError(f"O (the overlap) must be an integer with 0 <= O < K = {K}, got {O!r}")
    n_windows = 1 + max(0, -(-(T - K) // (K - O)))
    if n_windows > MAX_WINDOWS:
        raise ValueError(f"T = {T}, K = {K}, O = {O} make {n_windows} windows, more than {MAX_WINDOWS}; "
                         "expected T of a sequence that fits in memory (or a larger K)")
    out = []
    t0, counted_until = 0, 0
    while counted_until < T:
        t1 = min(t0 + K, T)
        out.append((slice(t0, t1), slice(counted_until, t1)))
        counted_until = t1
        t0 += K - O
    return out


def state_at(trajs, local_t):
    """Per-layer state dicts ``{"v", "u", "c"}`` at local step ``local_t`` of a window.

    ``local_t`` is an integer in ``[0, T)``; negative (from-the-end) and fancy indices
    are refused, so a wrong step cannot silently pick another state."""
    if not isinstance(trajs, (list, tuple)) or not trajs or not all(isinstance(t, Trajectory) for t in trajs):
        raise TypeError(f"trajs must be a non-empty list of refsnn.lif.Trajectory (one per layer), got "
                        f"{type(trajs).__name__}")
    T = trajs[0].v.shape[0]
    if isinstance(local_t, (bool, np.bool_)) or not isinstance(local_t, (int, np.integer)):
        raise TypeError(f"local_t must be an integer step, got {type(local_t).__name__}")
    if not 0 <= local_t < T:
        raise ValueError(f"local_t must lie in [0, {T}) (the window's steps), got {local_t}")
    return [{k: getattr(tr, k)[local_t].copy() for k in state_names(tr.config)} for tr in trajs]


def window_gradient(net: Network, params, x_window, state0, loss_fn, window, counted):
    """Forward and backward over one window from a constant starting state.

    Returns ``(value, param_grads, trajs)``.
    """
    check_instance("net", net, Network, "a refsnn.network.Network")
    check_callable("loss_fn", loss_fn, "a callable loss_fn(trajs, window, counted)")
    trajs = network_forward(net, params, x_window, state0)
    value, ds, dv = loss_fn(trajs, window, counted)
    g = network_backward(trajs, params, ds, dv)      # g.state0 is dropped: rule 2
    return value, g.params, trajs


@dataclass
class TBPTTResult:
    value: float          # Σ over windows of the counted loss (= the full loss)
    grads: list           # per-layer dicts, summed over windows
    n_windows: int
    final_state: list     # the state after the last step, per layer


def tbptt_gradients(net: Network, params, x, loss_fn, K, O=0, state0=None) -> TBPTTResult:
    """Truncated-BPTT gradient of a per-step loss over ``x`` ``(T, B, M)``; see the module docstring."""
    check_instance("net", net, Network, "a refsnn.network.Network")
    check_callable("loss_fn", loss_fn, "a callable loss_fn(trajs, window, counted)")
    x = float_array("x", x, (None, None, net.layers[0].n_in))
    T = x.shape[0]
    state = state0
    total = 0.0
    grads = None
    wins = windows(T, K, O)
    for n, (win, counted) in enumerate(wins):
        value, g, trajs = window_gradient(net, params, x[win], state, loss_fn, win, counted)
        total += value
        grads = g if grads is None else [{k: a[k] + b[k] for k in a} for a, b in zip(grads, g)]
        if n + 1 < len(wins):
            nxt = wins[n + 1][0].start
            state = state_at(trajs, nxt - 1 - win.start)    # rule 1: carried, never reset
        else:
            state = state_at(trajs, win.stop - 1 - win.start)
    return TBPTTResult(total, grads, len(wins), state)


def per_step_membrane_loss(target, layer=-1):
    """``loss_fn`` for ``½ Σ_{t counted} Σ_{b,k} (v_t − y_t)² / B`` on one layer's membrane.

    ``target`` is ``(T, B, N)`` in global time. This is seed 002's membrane loss with a
    time-varying target; with a leaky-integrator readout it is the MSE of a low-pass
    decoder.
    """
    target = float_array("target", target, (None, None, None))

    def loss_fn(trajs, window, counted):
        n = len(trajs)
        tr = trajs[layer]
        B = tr.v.shape[1]
        lo, hi = counted.start - window.start, counted.stop - window.start
        err = np.zeros_like(tr.v)
        err[lo:hi] = tr.v[lo:hi] - target[counted]
        ds = [None] * n
        dv = [None] * n
        dv[layer % n] = err / B
        return 0.5 * float(np.sum(err ** 2)) / B, ds, dv

    return loss_fn
