"""Shared machinery of the exercise checker: results, comparisons, diagnosis by mutants.

Every check compares the learner's function with refsnn (the reference) on fixed
float64 data, and gradient functions also with central differences
(:mod:`refsnn.gradcheck`). If the learner's output is wrong, the check looks for
the place where it first goes wrong, meaning the time step, the output array and
the index. It then re-runs the reference with one typical mistake at a time (a
*mutant*: a term removed, a sign flipped, a time index shifted). When one of these
reproduces the learner's output exactly, its hint names the term to fix.
"""

from __future__ import annotations

import copy
import math
import traceback
from dataclasses import dataclass

import numpy as np

from refsnn.gradcheck import rel_error

# Against refsnn: the same float64 arithmetic up to the order of summation.
RTOL_REF = 1e-9
# Against central differences: refsnn.verify's threshold (4th-order stencil, eps 2e-4).
RTOL_FD = 1e-7
FD_EPS = 2e-4
FD_ORDER = 4
# Entries smaller than FLOOR · max(1, max|reference|) are compared absolutely, so the
# absolute tolerance there is RTOL · FLOOR · scale (≈ 1e-13 of the scale for RTOL_REF):
# room for summation-order round-off in cancelling sums, far below any real mistake.
FLOOR = 1e-4


@dataclass
class Result:
    """The outcome of checking one function.

    ``max_rel_error`` is the worst relative error against the reference (NaN if no
    comparison was made), ``where`` names the worst entry (e.g. ``"du[t=3, b=0, n=2]"``),
    and ``hint`` says what to look at.
    """

    exercise: str
    function: str
    passed: bool
    max_rel_error: float = math.nan
    where: str = ""
    hint: str = ""
    not_implemented: bool = False

    def line(self) -> str:
        status = "PASS" if self.passed else "FAIL"
        parts = [f"{status}  {self.exercise}.{self.function:<25}"]
        if not math.isnan(self.max_rel_error):
            parts.append(f"max rel err {self.max_rel_error:.1e}")
        if self.where:
            parts.append(f"at {self.where}")
        text = "  ".join(parts)
        if self.hint:
            text += f"  | {self.hint}"
        return text

    __str__ = line


class Fail(Exception):
    """Raised inside a check to stop it with a FAIL result."""

    def __init__(self, hint, err=math.nan, where=""):
        super().__init__(hint)
        self.hint = hint
        self.err = err
        self.where = where


# ---------------------------------------------------------------------------
# Calling the learner's code
# ---------------------------------------------------------------------------


def _copy(a):
    if isinstance(a, np.ndarray):
        return a.copy()
    if isinstance(a, (dict, list, tuple)):
        return copy.deepcopy(a)
    return a


def call(fn, *args, **kwargs):
    """Call the learner's ``fn`` on private copies of the arguments.

    Floating-point warnings are silenced; NaN or inf in the output is diagnosed by
    the comparison instead.
    """
    args = [_copy(a) for a in args]
    kwargs = {k: _copy(v) for k, v in kwargs.items()}
    with np.errstate(all="ignore"):
        return fn(*args, **kwargs)


def unpack(out, names):
    """Check that ``out`` is a tuple or list of ``len(names)`` items; return it as a list."""
    if out is None:
        raise Fail(f"returned None: did you forget `return {', '.join(names)}`?")
    if len(names) == 1:
        return [out]
    if not isinstance(out, (tuple, list)) or len(out) != len(names):
        got = f"a {type(out).__name__}" if not isinstance(out, (tuple, list)) else f"{len(out)} values"
        raise Fail(f"must return {len(names)} values ({', '.join(names)}); got {got}")
    return list(out)


def to_array(value, name, shape, shape_letters=None):
    """The learner's output as a float64 array of ``shape``, or a Fail saying what is wrong."""
    if value is None:
        raise Fail(f"{name} is None: did you forget `return`?")
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise Fail(f"{name} must be an array of numbers, got {type(value).__name__}") from None
    shape = tuple(shape)
    if a.shape != shape:
        want = f"{shape_letters} = {shape}" if shape_letters else f"{shape}"
        hint = f"{name} has shape {a.shape}, expected {want}"
        if len(shape) == 2 and a.shape == shape[::-1]:
            hint += ": it is transposed"
        elif sorted(a.shape) == sorted(shape):
            hint += ": the axes are in the wrong order"
        elif len(a.shape) < len(shape):
            hint += ": an axis is missing (was it reduced away, or only one element returned?)"
        raise Fail(hint)
    return a


def compare(got, want, floor=FLOOR):
    """Worst relative error of ``got`` against ``want`` and its index (refsnn.gradcheck.rel_error)."""
    want = np.asarray(want, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    return rel_error(got, want, floor=floor * scale)


def locate(name, idx, axes=None):
    """``"dv[t=3, b=0, n=2]"`` from a name, an index and axis letters."""
    if not idx:
        return name
    if axes and len(axes) == len(idx):
        inner = ", ".join(f"{a}={i}" for a, i in zip(axes, idx))
    else:
        inner = ", ".join(str(i) for i in idx)
    return f"{name}[{inner}]"


def nonfinite_hint(got, name):
    """A hint if the output holds NaN or inf, else None."""
    got = np.asarray(got, dtype=np.float64)
    bad = ~np.isfinite(got)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        kind = "NaN" if np.isnan(got[idx]) else "inf"
        return f"{name} is {kind} at {locate(name, idx)}"
    return None


def matches(got: dict, ref: dict, rtol=RTOL_REF):
    """True if every array of ``got`` equals the same-named array of ``ref`` to ``rtol``."""
    for k, g in got.items():
        r = np.asarray(ref[k], dtype=np.float64)
        if np.shape(g) != r.shape:
            return False
        if compare(g, r)[0] > rtol:
            return False
    return True


def diagnose(got: dict, mutants, rtol=RTOL_REF):
    """The hint of the first mutant whose output equals ``got``, else None.

    ``mutants`` is a sequence of ``(hint, make)``, where ``make()`` returns a dict with
    the keys of ``got``. A mutant that raises is skipped.
    """
    for hint, make in mutants:
        try:
            with np.errstate(all="ignore"):
                ref = make()
        except Exception:
            continue
        try:
            hit = matches(got, ref, rtol)
        except (ValueError, FloatingPointError):   # a mutant's output NumPy cannot compare (inf, NaN)
            continue
        if hit:
            return hint
    return None


def order_mutants(want: dict, names: str):
    """Mutants for outputs returned in the wrong order: every other permutation of ``want``."""
    import itertools
    keys = list(want)
    out = []
    for perm in itertools.permutations(keys):
        if list(perm) != keys:
            out.append((f"the values are right but in the wrong order: return {names}",
                        (lambda perm=perm: {k: want[p] for k, p in zip(keys, perm)})))
    return out


def worst_of(got: dict, ref: dict, axes=None):
    """``(err, where)`` of the worst entry over several named arrays."""
    worst, where = 0.0, ""
    for k, g in got.items():
        err, idx = compare(g, ref[k])
        if err > worst or not where:
            worst, where = err, locate(k, idx, axes)
    return worst, where


# ---------------------------------------------------------------------------
# Running the checks of one exercise
# ---------------------------------------------------------------------------


def _learner_frame(exc, module):
    """``"line N: code"`` of the deepest traceback frame in the learner's file."""
    path = getattr(module, "__file__", None)
    if not path:
        return ""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == path]
    if not frames:
        return ""
    f = frames[-1]
    return f" (line {f.lineno}: {(f.line or '').strip()})"


def run_checks(exercise, module, checks):
    """Run ``checks`` (a list of ``(function_name, check)``) on ``module``.

    Each ``check(fn)`` returns ``(err, where)`` when the function passes and raises
    :class:`Fail` when it does not.
    """
    results = []
    for name, check in checks:
        fn = getattr(module, name, None)
        if fn is None or not callable(fn):
            results.append(Result(exercise, name, False,
                                  hint=f"no function `{name}` in {getattr(module, '__file__', module)}"))
            continue
        try:
            err, where = check(fn)
            results.append(Result(exercise, name, True, err, where))
        except NotImplementedError:
            results.append(Result(exercise, name, False,
                                  hint="not implemented yet: replace `raise NotImplementedError` with your code",
                                  not_implemented=True))
        except Fail as e:
            results.append(Result(exercise, name, False, e.err, e.where, e.hint))
        except Exception as e:  # the learner's code raised
            results.append(Result(exercise, name, False,
                                  hint=f"raised {type(e).__name__}: {e}{_learner_frame(e, module)}"))
    return results
