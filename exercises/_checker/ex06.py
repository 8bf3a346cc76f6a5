"""Checks for exercise 06 (truncated BPTT).

Reference: ``refsnn.tbptt.windows`` and ``refsnn.tbptt.tbptt_gradients``. While
``tbptt_gradient`` is checked, the learner module's ``windows`` is replaced by
refsnn's, so a mistake in one function does not fail the other. With one window
(K ≥ T), the gradient must also equal central differences of the full loss on the
smooth twin.
"""

import numpy as np

from refsnn import tbptt
from refsnn.gradcheck import check_gradients
from refsnn.lif import LIFConfig, smooth_twin, state_names
from refsnn.network import Network, network_backward, network_forward, network_init
from refsnn.surrogates import surrogate

from .common import FD_EPS, FD_ORDER, FLOOR, RTOL_FD, RTOL_REF, Fail, call, compare, diagnose, locate

WINDOW_CASES = [(10, 4, 0), (10, 4, 1), (10, 4, 3), (7, 10, 2), (1, 1, 0), (9, 3, 2), (12, 5, 2), (5, 2, 1)]


def _norm(wins):
    """A learner's window list as ``[((start, stop), (start, stop)), ...]``."""
    def pair(s):
        if isinstance(s, (slice, range)):
            return (s.start or 0, s.stop)
        if isinstance(s, (tuple, list)) and len(s) == 2:
            return (int(s[0]), int(s[1]))
        raise Fail(f"each window must be a (window, counted) pair of slices, got {type(s).__name__} {s!r}")
    try:
        items = list(wins)
    except TypeError:
        raise Fail(f"windows must return a list of (window, counted) pairs, got {type(wins).__name__}") from None
    out = []
    for w in items:
        if not isinstance(w, (tuple, list)) or len(w) != 2:
            raise Fail(f"each item must be a (window, counted) pair of slices, got {w!r}")
        out.append((pair(w[0]), pair(w[1])))
    return out


def _windows_variant(T, K, O, stride=None, counted_is_window=False, first_suffix=False, no_clip=False,
                     short=False):
    out, t0, done, n = [], 0, 0, 0
    while done < T and n < 10 * T + 10:
        stop = t0 + K if no_clip else min(t0 + K, T)
        if short:
            stop = min(t0 + K - 1, T)
        if counted_is_window:
            c0 = t0
        elif first_suffix:
            c0 = t0 + O
        else:
            c0 = done
        out.append(((t0, stop), (c0, stop)))
        done = max(done, min(stop, T))
        t0 += stride if stride is not None else K - O
        n += 1
    return out


def check_windows(fn):
    for T, K, O in WINDOW_CASES:
        raw = call(fn, T, K, O)
        got = _norm(raw)
        want = _norm(tbptt.windows(T, K, O))
        if got != want:
            n = next((i for i, (g, w) in enumerate(zip(got, want)) if g != w), min(len(got), len(want)))
            hint = None
            for h, kw in [
                ("the stride is K − O: t_n = n (K − O), so that consecutive windows overlap by O steps",
                 dict(stride=K)),
                ("counted must not overlap the previous window's counted steps: it starts where the last "
                 "one stopped (rule 3)", dict(counted_is_window=True)),
                ("the first window counts all of [0, K): seed 000's suffix rule alone would leave steps "
                 "0 … O−1 in no window's loss", dict(first_suffix=True)),
                ("the last window stops at T: stop = min(t_n + K, T)", dict(no_clip=True)),
                ("off by one: a window of length K covers [t_n, t_n + K)", dict(short=True)),
            ]:
                if _windows_variant(T, K, O, **kw) == got:
                    hint = h
                    break
            if hint is None:
                if len(got) != len(want):
                    hint = (f"{len(got)} windows, expected {len(want)}: stop when every step is counted "
                            "(the counted steps reach T)")
                else:
                    hint = ("window n is [t_n, min(t_n + K, T)) with t_n = n (K − O); counted_n starts where "
                            "counted_{n−1} stopped")
            shown = want[n] if n < len(want) else "no window"
            yours = got[n] if n < len(got) else "no window"
            raise Fail(f"T={T}, K={K}, O={O}: window {n} is {yours}, expected {shown}: {hint}",
                       where=f"T={T}, K={K}, O={O}, window {n}")
    return 0.0, ""


# ---------------------------------------------------------------------------


def _problem(T=10, smooth=False, seed=11):
    rng = np.random.default_rng(seed)
    sg = surrogate("sigmoid", 4.0)
    hidden = LIFConfig(3, 4, surrogate=sg, recurrent=True, adaptation=True, synapse=True)
    readout = LIFConfig(4, 2, surrogate=sg, reset="none", spiking=False, synapse=True)
    if smooth:
        hidden = smooth_twin(hidden)
    net = Network((hidden, readout))
    params = network_init(net, rng, np.float64, [dict(w_scale=1.5, b=0.3), dict(alpha=0.8)])
    x = rng.normal(0.5, 1.0, (T, 2, 3))
    y = rng.normal(0.0, 1.0, (T, 2, 2))
    state0 = [{k: rng.normal(0.0, 0.3, (2, c.n)) for k in state_names(c)} for c in net.layers]
    return net, params, x, y, state0


def _tbptt_variant(net, params, x, loss_fn, K, O, state0, *, zero_state=False, restart=False, carry_end=False,
                   carry_next=False, count_window=False, last_only=False, first_suffix=False, average=False,
                   zero_after_first=False):
    T = x.shape[0]
    wins = tbptt.windows(T, K, O)
    state, total, grads, gs = state0, 0.0, None, []
    for n, (win, counted) in enumerate(wins):
        start = None if zero_state or (zero_after_first and n > 0) else state0 if restart and n > 0 else state
        trajs = network_forward(net, params, x[win], start)
        if count_window:
            counted = win
        elif first_suffix and n == 0:
            counted = slice(O, win.stop)
        value, ds, dv = loss_fn(trajs, win, counted)
        g = network_backward(trajs, params, ds, dv).params
        total += value
        gs.append(g)
        if n + 1 < len(wins):
            nxt = wins[n + 1][0].start
            if carry_end:
                local = win.stop - 1 - win.start
            elif carry_next:
                local = min(nxt - win.start, win.stop - 1 - win.start)
            else:
                local = nxt - 1 - win.start
            state = tbptt.state_at(trajs, local)
    if last_only:
        grads = gs[-1]
    else:
        grads = [{k: sum(g[l][k] for g in gs) for k in gs[0][l]} for l in range(len(gs[0]))]
        if average:
            grads = [{k: a / len(gs) for k, a in d.items()} for d in grads]
    return {"value": total, "grads": grads}


_TBPTT_MUTANTS = [
    ("rule 1: carry the state over; restarting every window from zero breaks the dynamics",
     dict(zero_state=True)),
    ("rule 1: carry the state over; after the first window you start every window from zero (state = None), "
     "which breaks the dynamics: window n+1 starts from the state window n reached at step t_{n+1} − 1",
     dict(zero_after_first=True)),
    ("rule 1: carry the state over; every window after the first starts from the state the previous "
     "window reached at step t_{n+1} − 1, not from state0", dict(restart=True)),
    ("rule 1: window n+1 starts from the state at global step t_{n+1} − 1, which is local step "
     "t_{n+1} − 1 − t_n of window n, not its last step (they differ when O > 0)", dict(carry_end=True)),
    ("off by one: window n+1 starts from the state at global step t_{n+1} − 1 (the step before it), "
     "not t_{n+1}", dict(carry_next=True)),
    ("rule 3: count each step's loss once. Pass the `counted` slice to loss_fn, not the whole window; "
     "overlapping steps are otherwise counted twice", dict(count_window=True)),
    ("sum the gradients of all windows, not only the last window's", dict(last_only=True)),
    ("the first window counts all of [0, K); counting only its suffix [O, K) leaves steps 0 … O−1 out",
     dict(first_suffix=True)),
    ("sum the windows' gradients, do not average them", dict(average=True)),
]


def _flat(value, grads):
    out = {"value": np.asarray(float(value))}
    for l, g in enumerate(grads):
        for k, a in g.items():
            out[f"L{l}.{k}"] = np.asarray(a, dtype=float)
    return out


def _learner_tbptt(fn, module, net, params, x, loss_fn, K, O, state0):
    saved = getattr(module, "windows", None)
    module.windows = tbptt.windows          # isolate this check from the learner's windows()
    try:
        out = call(fn, net, params, x, loss_fn, K, O, state0)
    finally:
        module.windows = saved
    if out is None:
        raise Fail("returned None: did you forget `return value, grads`?")
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise Fail("must return (value, grads): the summed loss and a list of per-layer gradient dicts")
    value, grads = out
    if np.ndim(value) != 0 or not np.issubdtype(np.asarray(value).dtype, np.number):
        raise Fail("must return (value, grads): first the summed loss (a float), then the per-layer gradients")
    if not isinstance(grads, (list, tuple)) or len(grads) != len(params) or \
            not all(isinstance(g, dict) and set(g) == set(p) for g, p in zip(grads, params)):
        raise Fail(f"grads must be a list of {len(params)} dicts with the keys of params "
                   f"({[sorted(p) for p in params]})")
    for l, (g, p) in enumerate(zip(grads, params)):
        for k in p:
            if np.shape(g[k]) != p[k].shape:
                raise Fail(f"grads[{l}][{k!r}] has shape {np.shape(g[k])}, expected {p[k].shape}")
    return _flat(value, grads)


def make_check_tbptt(module):
    def check_tbptt_gradient(fn):
        net, params, x, y, state0 = _problem()
        loss_fn = tbptt.per_step_membrane_loss(y)
        worst = 0.0
        for K, O in [(3, 1), (4, 0), (4, 3), (6, 2), (12, 0)]:
            got = _learner_tbptt(fn, module, net, params, x, loss_fn, K, O, state0)
            ref = tbptt.tbptt_gradients(net, params, x, loss_fn, K, O, state0)
            want = _flat(ref.value, ref.grads)
            errs = {k: compare(got[k], want[k]) for k in want}
            name, (err, idx) = max(errs.items(), key=lambda kv: kv[1][0])
            if err > RTOL_REF:
                hint = diagnose(got, [(h, (lambda kw=kw: _flat(**_tbptt_variant(
                    net, params, x, loss_fn, K, O, state0, **kw)))) for h, kw in _TBPTT_MUTANTS])
                if hint is None:
                    hint = ("the value differs too: check which steps each window counts (rule 3) and the "
                            "carried state (rule 1)" if errs["value"][0] > RTOL_REF else
                            "the value agrees but the gradient does not: run network_backward on each window's "
                            "trajectories with that window's ds, dv, and add up the .params")
                raise Fail(f"K={K}, O={O}: {hint}", err, f"{locate(name, idx)} (K={K}, O={O})")
            worst = max(worst, err)
        # One window: full BPTT, which central differences check on the smooth twin.
        net, params, x, y, state0 = _problem(T=6, smooth=True)
        loss_fn = tbptt.per_step_membrane_loss(y)
        got = _learner_tbptt(fn, module, net, params, x, loss_fn, 6, 0, state0)
        flat = {f"L{l}.{k}": a for l, p in enumerate(params) for k, a in p.items()}

        def f(fp):
            ps = [{k: fp[f"L{l}.{k}"] for k in p} for l, p in enumerate(params)]
            trajs = network_forward(net, ps, x, state0)
            return loss_fn(trajs, slice(0, 6), slice(0, 6))[0]

        L = f(flat)
        res = check_gradients(f, flat, {k: got[k] for k in flat}, eps=FD_EPS, rtol=RTOL_FD,
                              floor=FLOOR * max(1.0, abs(L)), order=FD_ORDER)
        bad = [r for r in res if not r.passed]
        if bad:
            r = max(bad, key=lambda r: r.max_rel_error)
            raise Fail(f"with one window (K ≥ T) the gradient must be full BPTT; it disagrees with central "
                       f"differences ({r})", r.max_rel_error, locate(r.name, r.worst_index))
        return max(worst, max(r.max_rel_error for r in res)), ""
    return check_tbptt_gradient


def checks(module):
    """The checks; ``tbptt_gradient``'s needs the module, to swap in refsnn's ``windows``."""
    return [("windows", check_windows), ("tbptt_gradient", make_check_tbptt(module))]


CHECKS = checks(None)
