"""Checks for exercise 02 (surrogate derivatives): all four of seed 001's families
(sigmoid, boxcar, triangle, exponential) and the arctan.

Reference: ``refsnn.surrogates.surrogate(name, scale)``, whose ``derivative`` and
``primitive`` are the σ' and F of each family. Each density is also compared with
central differences of refsnn's primitive (``F' = σ'``); each primitive's central
differences are compared with refsnn's density.
"""

import numpy as np

from refsnn.gradcheck import check_gradient
from refsnn.surrogates import surrogate

from .common import FD_EPS, FD_ORDER, FLOOR, RTOL_FD, RTOL_REF, Fail, call, compare, diagnose, to_array

# Moderate x (exactly 0 included) and far tails, where a naive formula overflows.
_CORE = np.arange(-60, 61) * 0.05
_TAILS = np.array([-1e4, -1e3, -50.0, -10.0, 1e-3, 10.0, 50.0, 1e3, 1e4])
X = np.concatenate([_CORE, _TAILS]).reshape(2, -1)        # an arbitrary (...) shape
_FINE = np.linspace(-400.0, 400.0, 800_001)               # for areas (a hint only)


def _logistic(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _area(f):
    with np.errstate(all="ignore"):
        y = np.asarray(f(_FINE), dtype=float)
    return float(np.trapezoid(y, _FINE)) if hasattr(np, "trapezoid") else float(np.trapz(y, _FINE))


def _shape_hint(got, fn, scale, sg):
    """Peak and area of the learner's density against the family's (1 and height)."""
    peak = float(got.reshape(-1)[np.argmin(np.abs(X.reshape(-1)))])
    area = _area(lambda z: call(fn, z, scale))
    return (f"peak σ'(0) = {peak:.4g} (expected {sg.height:.4g}), area {area:.4g} (expected 1); "
            "a unit-area density integrates to 1")


def _check_density(fn, name, scales, mutants, kinks=lambda s: ()):
    worst = 0.0
    for scale in scales:
        sg = surrogate(name, scale)
        got = to_array(call(fn, X, scale), "σ'(x)", X.shape, "the shape of x")
        want = sg.derivative(X)
        bad = ~np.isfinite(got)
        if bad.any():
            i = tuple(int(j) for j in np.argwhere(bad)[0])
            raise Fail(f"σ'({X[i]:g}) is {got[i]} for scale {scale}: an intermediate such as exp(−kx) "
                       "overflows to inf and inf/inf = NaN (snnTorch issue 427). The density is even: "
                       "compute it from |x|, e.g. e = exp(−k|x|) ≤ 1",
                       np.inf, f"x = {X[i]:g}")
        err, idx = compare(got, want)
        if err > RTOL_REF:
            hint = diagnose({"d": got}, [(h, (lambda m=m: {"d": m(X, scale)})) for h, m in mutants])
            hint = hint or _shape_hint(got, fn, scale, sg)
            raise Fail(hint, err, f"x = {X[idx]:g}, scale {scale}")
        # F' = σ': central differences of refsnn's primitive, away from its kinks.
        xs = _CORE.copy()
        mask = np.ones(xs.shape, bool)
        for kx in kinks(scale):
            mask &= np.abs(xs - kx) > 2.5 * FD_EPS
        # f sums F(z) − F(x0) elementwise: every unperturbed entry is exactly 0, so the
        # round-off of the difference quotient is that of one entry, not of the whole sum.
        F0 = sg.primitive(xs)
        fd = check_gradient(lambda z: float(np.sum(sg.primitive(z) - F0)), xs, call(fn, xs, scale),
                            name="σ'", eps=FD_EPS, rtol=RTOL_FD, floor=FLOOR * max(1.0, sg.height),
                            mask=mask, order=FD_ORDER)
        if not fd.passed:
            raise Fail(f"σ' is not the derivative of F ({fd})", fd.max_rel_error,
                       f"x = {xs[fd.worst_index]:g}")
        worst = max(worst, err, fd.max_rel_error)
    return worst, ""


def check_sigmoid_surrogate(fn):
    def S(z):
        return _logistic(z)
    return _check_density(fn, "sigmoid", (1.0, 5.0, 25.0), [
        ("σ' = k S(kx)(1 − S(kx)): the factor k is missing (height k/4, area 1)",
         lambda x, k: S(k * x) * (1 - S(k * x))),
        ("the slope goes inside the logistic too: S(kx), not S(x)",
         lambda x, k: k * S(x) * (1 - S(x))),
        ("you returned F(x) = S(kx), the primitive; the surrogate is its derivative",
         lambda x, k: S(k * x)),
    ])


def check_sigmoid_primitive(fn):
    worst = 0.0
    for k in (1.0, 5.0, 25.0):
        sg = surrogate("sigmoid", k)
        got = to_array(call(fn, X, k), "F(x)", X.shape, "the shape of x")
        want = sg.primitive(X)
        err, idx = compare(got, want)
        if err > RTOL_REF or not np.all(np.isfinite(got)):
            hint = diagnose({"F": got}, [
                ("the slope k goes inside: F(x) = S(kx)", lambda: {"F": _logistic(X)}),
                ("F rises from 0 to 1: S(kx) = 1/(1 + exp(−kx)), not 1 − S(kx)",
                 lambda: {"F": 1 - _logistic(k * X)}),
                ("you returned σ'(x), the derivative; the primitive is S(kx)",
                 lambda: {"F": sg.derivative(X)}),
            ]) or f"F({X[idx]:g}) = {got[idx]:.6g}, expected S(kx) = {want[idx]:.6g} (k = {k})"
            raise Fail(hint, err, f"x = {X[idx]:g}, k = {k}")
        F0 = to_array(call(fn, _CORE, k), "F(x)", _CORE.shape)
        fd = check_gradient(lambda z: float(np.sum(np.asarray(call(fn, z, k), float) - F0)), _CORE.copy(),
                            sg.derivative(_CORE), name="F'", eps=FD_EPS, rtol=RTOL_FD,
                            floor=FLOOR * max(1.0, sg.height), order=FD_ORDER)
        if not fd.passed:
            raise Fail(f"F' (central differences of your F) is not σ' ({fd})", fd.max_rel_error,
                       f"x = {_CORE[fd.worst_index]:g}")
        worst = max(worst, err, fd.max_rel_error)
    return worst, ""


def check_triangle_surrogate(fn):
    return _check_density(fn, "triangle", (0.5, 1.0, 2.0), [
        ("height 1 gives area a: divide by a so the area is 1 (height 1/a)",
         lambda x, a: np.maximum(0.0, 1 - np.abs(x) / a)),
        ("the triangle is 0 for |x| ≥ a: clip with max(0, ·)", lambda x, a: (1 - np.abs(x) / a) / a),
        ("the half-width is a: max(0, 1 − |x|/a)/a, not max(0, 1 − |x|)/a",
         lambda x, a: np.maximum(0.0, 1 - np.abs(x)) / a),
        ("max(0, a − |x|) has area a²: use max(0, 1 − |x|/a)/a",
         lambda x, a: np.maximum(0.0, a - np.abs(x))),
    ], kinks=lambda a: (-a, 0.0, a))


def check_arctan_surrogate(fn):
    return _check_density(fn, "arctan", (1.0, 2.0, 10.0), [
        ("the argument is (π/2)·k·x; without π/2 the area is π/2, not 1",
         lambda x, k: 0.5 * k / (1 + (k * x) ** 2)),
        ("the height is k/2; with k the area is 2 (snnTorch's ATan docstring has this factor wrong)",
         lambda x, k: k / (1 + (0.5 * np.pi * k * x) ** 2)),
        ("the numerator is k/2: σ'(x) = (k/2)/(1 + (πkx/2)²)",
         lambda x, k: 1 / (1 + (0.5 * np.pi * k * x) ** 2)),
    ])


def check_boxcar_surrogate(fn):
    return _check_density(fn, "boxcar", (0.5, 1.0, 2.0), [
        ("height 1 gives area 2a: the height is 1/(2a), so the area is 1",
         lambda x, a: np.where(np.abs(x) < a, 1.0, 0.0)),
        ("the height is 1/(2a), not 1/a: the window [−a, a] is 2a wide",
         lambda x, a: np.where(np.abs(x) < a, 1.0 / a, 0.0)),
        ("at |x| = a exactly the boxcar is 0: use |x| < a, not |x| ≤ a",
         lambda x, a: np.where(np.abs(x) <= a, 0.5 / a, 0.0)),
        ("a is the half-width: the window is |x| < a, not |x| < a/2",
         lambda x, a: np.where(np.abs(x) < a / 2, 0.5 / a, 0.0)),
    ], kinks=lambda a: (-a, a))


def check_exponential_surrogate(fn):
    return _check_density(fn, "exponential", (1.0, 5.0, 25.0), [
        ("the factor is k/2: with k the area is 2 (two exponential tails of area 1/k each)",
         lambda x, k: k * np.exp(-k * np.abs(x))),
        ("the density is even: exp(−k|x|), with the absolute value",
         lambda x, k: 0.5 * k * np.exp(np.minimum(-k * x, 700.0))),
        ("the slope goes into the exponent too: (k/2) exp(−k|x|)",
         lambda x, k: 0.5 * k * np.exp(-np.abs(x))),
    ], kinks=lambda k: (0.0,))


CHECKS = [
    ("sigmoid_surrogate", check_sigmoid_surrogate),
    ("sigmoid_primitive", check_sigmoid_primitive),
    ("triangle_surrogate", check_triangle_surrogate),
    ("arctan_surrogate", check_arctan_surrogate),
    ("boxcar_surrogate", check_boxcar_surrogate),
    ("exponential_surrogate", check_exponential_surrogate),
]
