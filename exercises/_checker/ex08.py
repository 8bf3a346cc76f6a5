"""Checks for exercise 08 (refsnn as an oracle).

Reference: the package itself. ``leaky_peer_grads`` must reproduce the gradients that the
``snntorch.Leaky`` preset (:mod:`refsnn.oracle.presets`) reports for a one-layer network,
given refsnn's own layer gradients (``layer_backward``), for ``reset_delay`` True and
False; ``max_rel_error`` must equal :func:`refsnn.oracle.compare.rel_error`.
"""

import numpy as np

from refsnn.neurons.lif import layer_backward
from refsnn.oracle import presets as P
from refsnn.oracle.compare import rel_error

from .common import RTOL_REF, Fail, call, compare, diagnose

N, M, T, B = 4, 3, 10, 3
BETA, THETA = 0.85, 0.9


def problem(reset_delay, seed=8):
    """A one-layer Leaky network, its refsnn layer gradients and the preset's peer gradients.

    With reset_delay=False the preset is exact only while every post-reset membrane stays at
    or below θ (docs/presets.md, quirks): the first seed from ``seed`` on whose run does so
    (and spikes) is used.
    """
    for s in range(seed, seed + 100):
        rng = np.random.default_rng(s)
        layer = {"weight": rng.normal(0, 1.2, (N, M)), "bias": rng.uniform(0.0, 0.3, N)}
        x = rng.uniform(0, 1.5, (T, B, M))
        net = P.build("snntorch.Leaky", [layer], beta=BETA, threshold=THETA, reset_delay=reset_delay)
        try:
            run = net.forward(x)
        except P.PeerQuirkError:
            continue
        if 0 < run.spikes[0].sum() < run.spikes[0].size:
            break
    else:
        raise RuntimeError("no problem without the reset_delay=False quirk found")
    a_s, a_v = rng.normal(size=(T, B, N)), rng.normal(size=(T, B, N))
    ref = net.backward(run, [a_s], [a_v])
    g = layer_backward(run.trajs[0], net.layers[0].params(), a_s, a_v).params
    want = {"weight": ref["0.weight"], "bias": ref["0.bias"], "beta": float(ref["0.beta"]),
            "threshold": float(ref["0.threshold"])}
    return g, want


def _as_dict(out):
    if not isinstance(out, dict):
        raise Fail(f"must return a dict with keys 'weight', 'bias', 'beta', 'threshold'; got {type(out).__name__}")
    missing = [k for k in ("weight", "bias", "beta", "threshold") if k not in out]
    if missing:
        raise Fail(f"the returned dict lacks {missing}")
    for k in ("beta", "threshold"):
        if np.shape(out[k]) not in ((), (1,)):
            raise Fail(f"{k} has shape {np.shape(out[k])}: snnTorch's {k} is one number for the layer, so its "
                       "gradient is the sum over the neurons of refsnn's per-neuron gradients")
    return {k: np.asarray(out[k], dtype=np.float64).reshape(np.shape(out[k]) if k in ("weight", "bias") else ())
            for k in ("weight", "bias", "beta", "threshold")}


def check_leaky_peer_grads(fn):
    worst = 0.0
    for rd in (True, False):
        g, want = problem(rd)
        got = _as_dict(call(fn, g, BETA, THETA, rd))
        for k in ("weight", "bias"):
            if got[k].shape != np.shape(want[k]):
                raise Fail(f"{k} has shape {got[k].shape}, expected {np.shape(want[k])} (torch Linear: (out, in))")
        errs = {k: compare(got[k], want[k])[0] for k in want}
        k = max(errs, key=errs.get)
        if errs[k] > RTOL_REF:
            a, th, gm = g["alpha"], g["theta"], g["gamma"]
            base = {"weight": g["W"], "bias": g["b"]}
            if rd:
                mutants = [
                    ("θ is also the reset amount (γ = θ): ∂L/∂threshold = Σ_j (∂L/∂θ_j + ∂L/∂γ_j)",
                     lambda: {**base, "beta": a.sum(), "threshold": th.sum()}),
                    ("∂L/∂γ already carries the reset's minus sign: add it, Σ_j (∂L/∂θ_j + ∂L/∂γ_j)",
                     lambda: {**base, "beta": a.sum(), "threshold": (th - gm).sum()}),
                ]
            else:
                mutants = [
                    ("with reset_delay=False, γ = βθ: ∂L/∂threshold = Σ_j (∂L/∂θ_j + β ∂L/∂γ_j)",
                     lambda: {**base, "beta": (a + THETA * gm).sum(), "threshold": (th + gm).sum()}),
                    ("with reset_delay=False, γ = βθ depends on β too: ∂L/∂β = Σ_j (∂L/∂α_j + θ ∂L/∂γ_j)",
                     lambda: {**base, "beta": a.sum(), "threshold": (th + BETA * gm).sum()}),
                    ("with reset_delay=False γ = βθ, in both ∂L/∂β (+ θ ∂L/∂γ) and ∂L/∂threshold (+ β ∂L/∂γ)",
                     lambda: {**base, "beta": a.sum(), "threshold": (th + gm).sum()}),
                ]
            hint = diagnose(got, mutants) or f"check {k}'s chain rule (notebook 08, eq. 8.3)"
            raise Fail(f"reset_delay={rd}: {k} is wrong: {hint}", errs[k], f"{k} (reset_delay={rd})")
        worst = max(worst, errs[k])
    return worst, ""


def _flips(shape, where):
    a = np.zeros(shape)
    b = a.copy()
    for idx in where:
        b[idx] = 1.0
    return a, b


def check_first_spike_mismatch(fn):
    shape = (6, 3, 4)
    cases = [((), None), (((3, 1, 2), (5, 0, 0)), (3, 1, 2)), (((2, 2, 0), (2, 0, 3)), (2, 0, 3)),
             (((0, 0, 0),), (0, 0, 0))]
    for where, want in cases:
        a, b = _flips(shape, where)
        got = call(fn, a, b)
        if want is None:
            if got is not None:
                raise Fail(f"identical spike trains must give None, got {got!r}")
            continue
        if got is None:
            raise Fail(f"the trains differ at {list(where)} but the function returned None")
        if np.isscalar(got) or np.ndim(got) == 0:
            raise Fail(f"return the index as a tuple (t, b, n), not a flat index ({got!r})")
        got = tuple(int(i) for i in got)
        if got != want:
            if got == tuple(reversed(want)):
                hint = "the order is (t, b, n): time first"
            elif got in [tuple(w) for w in where]:
                hint = "that is a mismatch, but not the first in time order (t, then b, then n)"
            else:
                hint = "the first mismatch in time order, (t, then b, then n)"
            raise Fail(f"mismatches at {list(where)}: expected {want}, got {got}: {hint}")
    return 0.0, ""


def check_max_rel_error(fn):
    rng = np.random.default_rng(3)
    r = 50.0 * rng.normal(size=(5, 6))            # max|r| ≫ 1: an absolute floor would differ from floor·max|r|
    r[0, 0] = 0.0
    r[1, 2] = 1e-9
    a = r * (1 + 1e-7 * rng.normal(size=r.shape))
    a[0, 0] = 3e-9
    worst = 0.0
    for floor in (1e-4, 1e-2):
        want = rel_error(a, r, floor)[0]
        got = call(fn, a, r, floor)
        try:
            got = float(got)
        except (TypeError, ValueError):
            raise Fail(f"must return one number, got {type(got).__name__}") from None
        if not np.isfinite(got):
            raise Fail(f"floor={floor}: got {got}: r has zeros; entries smaller than floor·max|r| are compared "
                       "absolutely: divide by max(|r_i|, floor·max|r|)")
        err = abs(got - want) / want
        if err > 1e-12:
            d = np.abs(a - r)
            mutants = [
                ("divide by the reference |r_i|, the peer's |a_i| is what is being checked",
                 lambda: {"o": np.array((d / np.maximum(np.abs(a), floor * np.abs(r).max())).max())}),
                ("entries smaller than floor·max|r| are compared absolutely: max(|r_i|, floor·max|r|)",
                 lambda: {"o": np.array((d / np.abs(r)).max())}),
                ("the floor is relative to the array's largest entry: floor·max|r|, not floor",
                 lambda: {"o": np.array((d / np.maximum(np.abs(r), floor)).max())}),
                ("the worst entry (max), not the mean",
                 lambda: {"o": np.array((d / np.maximum(np.abs(r), floor * np.abs(r).max())).mean())}),
            ]
            hint = diagnose({"o": np.array(got)}, mutants) or "max_i |a_i − r_i| / max(|r_i|, floor·max|r|)"
            raise Fail(f"floor={floor}: expected {want:.6e}, got {got:.6e}: {hint}", err)
        worst = max(worst, err)
    return worst, ""


CHECKS = [
    ("leaky_peer_grads", check_leaky_peer_grads),
    ("first_spike_mismatch", check_first_spike_mismatch),
    ("max_rel_error", check_max_rel_error),
]


def check_first_adjoint_step(fn):
    rng = np.random.default_rng(5)
    r = rng.normal(size=(9, 2, 3))
    r[4] *= 1e-7                                  # a step of tiny entries: compared absolutely, by the floor
    cases = []
    for steps in ((), (2,), (1, 6), (0, 3, 8)):
        a = r.copy()
        for t in steps:
            a[t, 1, 2] *= 1.0 + 1e-6
        cases.append((a, max(steps) if steps else None, steps))
    a = r.copy()                                  # step 4 differs by 1e-6 of its own (tiny) size: within the
    a[4] *= 1.0 + 1e-6                            # floor, so not a difference; step 2 is the last real one
    a[2, 1, 2] *= 1.0 + 1e-6
    cases.append((a, 2, (2, 4)))
    for a, want, steps in cases:
        got = call(fn, a, r, 1e-9, 1e-4)
        if want is None:
            if got is not None:
                raise Fail(f"identical adjoints must give None, got {got!r}")
            continue
        if got is None or np.ndim(got) != 0:
            raise Fail(f"the adjoint differs at steps {list(steps)}: return one step index (an int), got {got!r}")
        if int(got) != want:
            if int(got) == min(steps):
                hint = ("that is the first step in forward time: adjoints run from t = T−1 down to 0, so the first "
                        "step in reverse time is the LAST t that differs")
            else:
                hint = "the last t whose per-step worst relative error exceeds rtol"
            raise Fail(f"the adjoint differs at steps {list(steps)}: expected {want}, got {got}: {hint}")
    return 0.0, ""


def _term_problem(rng, which, c):
    """A B2-like equation: three terms, one of which the 'user' computes with coefficient c."""
    shape = (12, 3, 4)
    big = rng.normal(size=shape) * 40.0                     # a large term, partly aligned with the others
    leak = rng.normal(size=shape)
    surr = 0.3 * big / 40.0 + rng.normal(size=shape)
    terms = {"leak": (leak, 1.0), "surrogate": (surr, 1.0), "direct": (big, 1.0), "reset": (rng.normal(size=shape), 0.0)}
    lhs = sum(e * T for T, e in terms.values())
    T, e = terms[which]
    lhs = lhs + (c - e) * T
    return lhs, terms


def check_name_adjoint_term(fn):
    rng = np.random.default_rng(11)
    worst = 0.0
    for which, c, what in (("leak", 0.0, "missing"), ("surrogate", -1.0, "of the wrong sign"),
                           ("leak", 1 / 0.9, "scaled by 1/α"), ("reset", 1.0, "present where refsnn cuts it")):
        lhs, terms = _term_problem(rng, which, c)
        got = call(fn, lhs, terms)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise Fail(f"must return (name, coefficient), got {got!r}")
        name, coef = got
        if name != which:
            rho = lhs - sum(e * T for T, e in terms.values())
            proj = max(terms, key=lambda k: abs((rho * terms[k][0]).sum()))
            raw = max(terms, key=lambda k: abs((lhs * terms[k][0]).sum()) / np.sqrt((terms[k][0] ** 2).sum()))
            if name == proj and proj != which:
                hint = ("rank the terms by the residual LEFT after each one's fit, ‖ρ − (c − e_k) T_k‖, not by the "
                        "projection ⟨ρ, T_k⟩: a large term correlates with anything")
            elif name == raw:
                hint = "fit the residual ρ = lhs − Σ e_k T_k, not the left-hand side itself"
            else:
                hint = "the term whose one-parameter refit leaves the smallest residual"
            raise Fail(f"the {which} term is {what}: expected '{which}', got {name!r}: {hint}")
        err = abs(float(coef) - c) / max(abs(c), 1.0)
        if err > 1e-9:
            e = terms[which][1]
            if abs(float(coef) - (c - e)) <= 1e-9 * max(abs(c), 1.0):
                hint = "the fit gives c − e_k; add refsnn's coefficient e_k back to report c"
            else:
                hint = "c = e_k + ⟨ρ, T_k⟩ / ⟨T_k, T_k⟩"
            raise Fail(f"the {which} term is {what} (c = {c:.6g}): got the coefficient {float(coef):.6g}: {hint}", err)
        worst = max(worst, err)
    return worst, ""


CHECKS += [
    ("first_adjoint_step", check_first_adjoint_step),
    ("name_adjoint_term", check_name_adjoint_term),
]
