"""Solution to exercise 06. The shapes and equations are in ``exercises/ex06_truncated_bptt.py``."""

from refsnn.network import network_backward, network_forward
from refsnn.tbptt import state_at


def windows(T, K, O):
    out = []
    t0, counted_until = 0, 0
    while counted_until < T:
        stop = min(t0 + K, T)
        out.append((slice(t0, stop), slice(counted_until, stop)))
        counted_until = stop
        t0 += K - O
    return out


def tbptt_gradient(net, params, x, loss_fn, K, O=0, state0=None):
    wins = windows(x.shape[0], K, O)
    state, total, grads = state0, 0.0, None
    for n, (win, counted) in enumerate(wins):
        trajs = network_forward(net, params, x[win], state)
        value, ds, dv = loss_fn(trajs, win, counted)
        g = network_backward(trajs, params, ds, dv).params      # its .state0 is dropped (rule 2)
        total += value
        grads = g if grads is None else [{k: a[k] + b[k] for k in a} for a, b in zip(grads, g)]
        if n + 1 < len(wins):
            state = state_at(trajs, wins[n + 1][0].start - 1 - win.start)   # rule 1
    return total, grads
