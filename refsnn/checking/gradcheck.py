"""Central finite-difference checks of hand-written gradients (float64).

The functions here compare an analytic gradient of a scalar function with
central differences, coordinate by coordinate.  They never modify the
caller's arrays: every evaluation of the function receives a freshly
allocated copy, so a function that stores or mutates its argument cannot
influence later evaluations or the caller's data.

Relative error
--------------
For analytic ``a`` and numeric ``n`` the element-wise error is ::

    err_i = |a_i - n_i| / max(|a_i|, |n_i|, floor)

so entries where both values are far below ``floor`` are compared
absolutely (``|a_i - n_i| / floor``).  Any non-finite ``a_i`` or ``n_i``
gives ``err_i = inf``.  A sign flip of a non-negligible entry gives
``err_i = 2``.

Precision note: with ``eps = 1e-6`` the round-off in a central difference
is roughly ``1e-10 * |f(x)|`` in absolute terms, so ``rtol * max(|g_i|,
floor)`` must exceed that for entries ``g_i`` that should pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

__all__ = [
    "numerical_gradient",
    "rel_error",
    "GradcheckResult",
    "check_gradient",
    "check_gradients",
    "check_gradients_directional",
    "format_results",
]


# ----------------------------------------------------------------------------
# validation helpers
# ----------------------------------------------------------------------------


def _check_x(x: Any, argname: str) -> None:
    """Require a finite float64 ndarray (TypeError / ValueError naming `argname`)."""
    if not isinstance(x, np.ndarray):
        raise TypeError(
            f"`{argname}` must be a float64 numpy.ndarray, got {type(x).__name__}"
        )
    if x.dtype != np.float64:
        raise TypeError(f"`{argname}` must have dtype float64, got dtype {x.dtype}")
    if not np.all(np.isfinite(x)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(x))[0])
        raise ValueError(f"`{argname}` must be finite; non-finite entry at index {bad}")


def _check_order(order: Any) -> int:
    if isinstance(order, (bool, np.bool_)) or not isinstance(order, (int, np.integer)) or order not in (2, 4, 6):
        raise ValueError(f"`order` must be the integer 2, 4 or 6, got {order!r}")
    return int(order)


def _as_float(value: Any, argname: str, what: str) -> float:
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"`{argname}` must be {what}, got an integer beyond the float range") from None


def _check_positive(value: Any, argname: str) -> float:
    """Return `value` as a float if it is a finite real number > 0."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise ValueError(f"`{argname}` must be a finite real number > 0, got {value!r}")
    v = _as_float(value, argname, "a finite real number > 0")
    if not (math.isfinite(v) and v > 0.0):
        raise ValueError(f"`{argname}` must be a finite real number > 0, got {value!r}")
    return v


def _check_nonnegative(value: Any, argname: str) -> float:
    """Return `value` as a float if it is a finite real number >= 0."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise ValueError(f"`{argname}` must be a finite real number >= 0, got {value!r}")
    v = _as_float(value, argname, "a finite real number >= 0")
    if not (math.isfinite(v) and v >= 0.0):
        raise ValueError(f"`{argname}` must be a finite real number >= 0, got {value!r}")
    return v


def _as_real_float64(a: Any, argname: str) -> np.ndarray:
    """Convert a real (integer or floating) array-like to a new float64 array."""
    try:
        arr = np.asarray(a)
    except (ValueError, TypeError, OverflowError) as exc:   # ragged lists, 10**400
        raise ValueError(f"`{argname}` must be a real array, got a {type(a).__name__} NumPy cannot convert "
                         f"({exc})") from None
    if arr.dtype.kind not in "iuf":
        raise TypeError(
            f"`{argname}` must be a real integer or floating array, got dtype {arr.dtype}"
        )
    return np.array(arr, dtype=np.float64, copy=True)


def _check_mask(mask: Any, shape: tuple[int, ...], argname: str) -> np.ndarray:
    """Return a private boolean copy of `mask`, which must have `shape`."""
    m = np.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"`{argname}` must be a boolean array, got dtype {m.dtype}")
    if m.shape != shape:
        raise ValueError(
            f"`{argname}` has shape {m.shape}, expected the shape of x {shape}"
        )
    return m.copy()


def _scalar_value(value: Any, where: str) -> float:
    """Convert f's return value to float; must be a 0-d real number."""
    if np.ndim(value) != 0:
        raise TypeError(
            f"f must return a scalar, got shape {np.shape(value)} at {where}"
        )
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"f must return a real number, got dtype {arr.dtype} at {where}")
    return float(arr)


# ----------------------------------------------------------------------------
# numerical gradient
# ----------------------------------------------------------------------------


def _central_differences(
    f: Callable[[np.ndarray], Any],
    x: np.ndarray,
    eps: float,
    indices: Iterable[tuple[int, ...]],
    order: int = 2,
) -> np.ndarray:
    """Central differences of `f` at the private copy `x` for the given indices.

    ``order=2``: ``(f(x+h) - f(x-h)) / 2h``, truncation error O(h²).
    ``order=4``: ``(8[f(x+h) - f(x-h)] - [f(x+2h) - f(x-2h)]) / 12h``, O(h⁴);
    ``order=6``: ``(45 a_1 - 9 a_2 + a_3) / 60h`` with ``a_k = f(x+kh) - f(x-kh)``, O(h⁶).
    Higher orders let a larger step keep the truncation error small, so round-off
    (~ machine epsilon · |f| / h) shrinks too. In terms of the symmetric quotients
    ``d_k = a_k / 2kh`` the three are ``d_1``, ``(4 d_1 - d_2)/3`` and
    ``(15 d_1 - 6 d_2 + d_3)/10``.

    Entries not in `indices` are NaN.  `x` is never passed to `f`.
    """
    order = _check_order(order)
    out = np.full(x.shape, np.nan, dtype=np.float64)
    for idx in indices:
        xi = x[idx]

        def diff(k):
            with np.errstate(over="ignore", invalid="ignore"):
                hi, lo = xi + k * eps, xi - k * eps
                step = hi - lo  # exact spacing of the two representable points
            if not math.isfinite(step):
                raise ValueError(
                    f"`eps`={eps!r} is too large: x[{idx}] ± {k}·eps leaves the float64 range"
                )
            if step == 0.0:
                raise ValueError(
                    f"`eps`={eps!r} is below the float64 resolution of x at index {idx} "
                    f"(x[{idx}]={xi!r})"
                )
            xp = x.copy()
            xp[idx] = hi
            fp = _scalar_value(f(xp), f"x + {k}*eps*e_{idx}")
            xm = x.copy()
            xm[idx] = lo
            fm = _scalar_value(f(xm), f"x - {k}*eps*e_{idx}")
            if not math.isfinite(fp):
                raise FloatingPointError(f"f returned {fp!r} at x + {k}*eps*e_{idx} (index {idx})")
            if not math.isfinite(fm):
                raise FloatingPointError(f"f returned {fm!r} at x - {k}*eps*e_{idx} (index {idx})")
            return (fp - fm) / step

        d1 = diff(1)
        if order == 2:
            out[idx] = d1
        elif order == 4:
            out[idx] = (4.0 * d1 - diff(2)) / 3.0
        else:
            out[idx] = (15.0 * d1 - 6.0 * diff(2) + diff(3)) / 10.0
    return out


def numerical_gradient(
    f: Callable[[np.ndarray], Any], x: np.ndarray, eps: float = 1e-6, order: int = 2
) -> np.ndarray:
    """Gradient of a scalar function by central differences.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``; takes an array of ``x.shape`` and returns a 0-d
        real value.  Each call receives a freshly allocated array.
    x : numpy.ndarray
        float64 array of any shape (including 0-d), all entries finite.
        Never modified.
    eps : float, optional
        Step, finite and > 0.
    order : {2, 4, 6}, optional
        Accuracy order of the central stencil (see `_central_differences`).

    Returns
    -------
    numpy.ndarray
        float64 array of ``x.shape`` with entries
        ``(f(x + eps e_i) - f(x - eps e_i)) / h_i`` where
        ``h_i = (x_i + eps) - (x_i - eps)`` as computed in float64
        (equal to ``2 eps`` up to rounding of the perturbed coordinate).

    Raises
    ------
    TypeError
        If `x` is not a float64 ndarray, or `f` returns a non-scalar or
        non-real value.
    ValueError
        If `eps` is not finite and > 0, `x` has non-finite entries, or
        `eps` is too small to change some ``x_i``.
    FloatingPointError
        If `f` returns a non-finite value; the message names the index.
    """
    if not callable(f):
        raise TypeError(f"`f` must be a callable f(x) -> float, got {type(f).__name__}")
    _check_x(x, "x")
    eps = _check_positive(eps, "eps")
    order = _check_order(order)
    base = x.copy()
    return _central_differences(f, base, eps, np.ndindex(base.shape), order)


# ----------------------------------------------------------------------------
# relative error
# ----------------------------------------------------------------------------


def _rel_error_array(a: np.ndarray, n: np.ndarray, floor: float) -> np.ndarray:
    """Element-wise ``|a - n| / max(|a|, |n|, floor)``; inf where non-finite."""
    finite = np.isfinite(a) & np.isfinite(n)
    a0 = np.where(finite, a, 0.0)
    n0 = np.where(finite, n, 0.0)
    denom = np.maximum(np.maximum(np.abs(a0), np.abs(n0)), floor)
    return np.where(finite, np.abs(a0 - n0) / denom, np.inf)


def rel_error(
    analytic: Any, numeric: Any, floor: float = 1e-8
) -> tuple[float, tuple[int, ...]]:
    """Worst element-wise relative error between two arrays.

    ``err_i = |a_i - n_i| / max(|a_i|, |n_i|, floor)``; ``err_i = inf`` if
    either value is NaN or infinite.

    Parameters
    ----------
    analytic, numeric : array_like
        Real arrays of identical shape.
    floor : float, optional
        Finite, > 0.  Below it, differences are compared absolutely.

    Returns
    -------
    worst : float
        ``max_i err_i``; ``0.0`` for empty arrays.
    index : tuple of int
        Index of the first (C order) maximal entry; ``()`` for empty or
        0-d arrays.

    Raises
    ------
    ValueError
        If the shapes differ or `floor` is not finite and > 0.
    TypeError
        If an input is not real-valued.
    """
    floor = _check_positive(floor, "floor")
    a = _as_real_float64(analytic, "analytic")
    n = _as_real_float64(numeric, "numeric")
    if a.shape != n.shape:
        raise ValueError(
            f"shape mismatch: `analytic` has shape {a.shape}, `numeric` has shape {n.shape}"
        )
    if a.size == 0:
        return 0.0, ()
    err = _rel_error_array(a, n, floor)
    flat = int(np.argmax(err))
    idx = tuple(int(i) for i in np.unravel_index(flat, err.shape))
    return float(err[idx]), idx


# ----------------------------------------------------------------------------
# results
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class GradcheckResult:
    """Outcome of one gradient check.

    Attributes
    ----------
    name : str
        Label of the checked array.
    max_rel_error : float
        Worst relative error over the compared entries (0.0 if none).
    worst_index : tuple of int
        Index (in the checked array) of the worst entry; ``()`` if none.
    analytic, numeric : float
        Values at `worst_index` (NaN if no entry was compared).
    rtol : float
        Tolerance on `max_rel_error`.
    n_checked : int
        Number of compared entries.
    n_skipped : int
        Number of entries excluded by a mask.
    """

    name: str
    max_rel_error: float
    worst_index: tuple[int, ...]
    analytic: float
    numeric: float
    rtol: float
    n_checked: int
    n_skipped: int = 0

    @property
    def passed(self) -> bool:
        """True iff `max_rel_error` is finite and ``<= rtol``.

        Vacuously True when ``n_checked == 0``.
        """
        return bool(math.isfinite(self.max_rel_error) and self.max_rel_error <= self.rtol)

    def __str__(self) -> str:
        status = "PASS" if self.passed else "FAIL"
        return (
            f"{self.name}: {status} max rel err {self.max_rel_error:.3e} "
            f"(rtol {self.rtol:.1e}) at {self.worst_index}: "
            f"analytic {self.analytic:.9e} vs numeric {self.numeric:.9e} "
            f"[{self.n_checked} checked, {self.n_skipped} skipped]"
        )


def format_results(results: Sequence[GradcheckResult]) -> str:
    """Aligned plain-text table with one row per result.

    Parameters
    ----------
    results : sequence of GradcheckResult

    Returns
    -------
    str
        Header line followed by one line per result (no trailing newline).
    """
    header = (
        "name", "status", "max_rel_err", "rtol", "worst_index",
        "analytic", "numeric", "checked", "skipped",
    )
    rows = [header]
    for r in results:
        rows.append((
            str(r.name),
            "PASS" if r.passed else "FAIL",
            f"{r.max_rel_error:.3e}",
            f"{r.rtol:.1e}",
            str(r.worst_index),
            f"{r.analytic:.9e}",
            f"{r.numeric:.9e}",
            str(r.n_checked),
            str(r.n_skipped),
        ))
    widths = [max(len(row[j]) for row in rows) for j in range(len(header))]
    left = {0, 1, 4}
    lines = []
    for row in rows:
        cells = [
            cell.ljust(w) if j in left else cell.rjust(w)
            for j, (cell, w) in enumerate(zip(row, widths))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


# ----------------------------------------------------------------------------
# checks
# ----------------------------------------------------------------------------


def _check_one(
    f: Callable[[np.ndarray], Any],
    x: np.ndarray,
    analytic: Any,
    *,
    name: str,
    eps: float,
    rtol: float,
    floor: float,
    mask: Any,
    order: int,
    xname: str,
    gname: str,
    mname: str,
) -> GradcheckResult:
    if not callable(f):
        raise TypeError(f"`f` must be a callable, got {type(f).__name__}")
    _check_x(x, xname)
    eps = _check_positive(eps, "eps")
    order = _check_order(order)
    rtol = _check_nonnegative(rtol, "rtol")
    floor = _check_positive(floor, "floor")
    a = _as_real_float64(analytic, gname)
    if a.shape != x.shape:
        raise ValueError(f"`{gname}` has shape {a.shape}, expected the shape of x {x.shape}")
    m = np.ones(x.shape, dtype=bool) if mask is None else _check_mask(mask, x.shape, mname)

    base = x.copy()
    indices = [tuple(int(i) for i in ix) for ix in np.argwhere(m)]
    n = _central_differences(f, base, eps, indices, order)

    n_checked = len(indices)
    n_skipped = int(x.size - n_checked)
    if n_checked == 0:
        return GradcheckResult(name, 0.0, (), math.nan, math.nan, rtol, 0, n_skipped)
    err = np.where(m, _rel_error_array(a, np.where(m, n, 0.0), floor), -np.inf)
    idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(err)), err.shape))
    return GradcheckResult(
        name=name,
        max_rel_error=float(err[idx]),
        worst_index=idx,
        analytic=float(a[idx]),
        numeric=float(n[idx]),
        rtol=rtol,
        n_checked=n_checked,
        n_skipped=n_skipped,
    )


def check_gradient(
    f: Callable[[np.ndarray], Any],
    x: np.ndarray,
    analytic: Any,
    *,
    name: str = "x",
    eps: float = 1e-6,
    rtol: float = 1e-7,
    floor: float = 1e-8,
    mask: Any = None,
    order: int = 2,
) -> GradcheckResult:
    """Compare an analytic gradient of scalar `f` at `x` with central differences.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``; each call receives a fresh array.
    x : numpy.ndarray
        float64, finite; never modified.
    analytic : array_like
        Real array of ``x.shape``.
    name : str, optional
        Label used in the result.
    eps : float, optional
        Finite-difference step (finite, > 0).
    rtol : float, optional
        Pass threshold on the relative error (finite, >= 0).
    floor : float, optional
        Denominator floor of the relative error, see `rel_error`.
    mask : array_like of bool, optional
        Shape ``x.shape``.  Entries where it is False are neither evaluated
        nor compared; they are counted in ``n_skipped``.
    order : {2, 4, 6}, optional
        Accuracy order of the central stencil.

    Returns
    -------
    GradcheckResult

    Raises
    ------
    TypeError
        Wrong dtype of `x`, `analytic` or `mask`.
    ValueError
        Shape mismatch of `analytic` or `mask`, or invalid `eps`, `rtol`,
        `floor`.
    FloatingPointError
        If `f` returns a non-finite value.
    """
    return _check_one(
        f, x, analytic, name=str(name), eps=eps, rtol=rtol, floor=floor, mask=mask,
        order=order, xname="x", gname="analytic", mname="mask",
    )


def check_gradients(
    f: Callable[[dict[str, np.ndarray]], Any],
    params: Mapping[str, np.ndarray],
    grads: Mapping[str, Any],
    *,
    eps: float = 1e-6,
    rtol: float = 1e-7,
    floor: float = 1e-8,
    masks: Mapping[str, Any] | None = None,
    order: int = 2,
) -> list[GradcheckResult]:
    """Check the gradients of a scalar function of several named arrays.

    For each name, only that array is perturbed.  Every call of `f`
    receives a new dict holding fresh copies of all arrays, so neither the
    caller's dict nor its arrays are touched.

    Parameters
    ----------
    f : callable
        ``f(params_dict) -> float``.
    params : mapping of str to numpy.ndarray
        float64, finite arrays.
    grads : mapping of str to array_like
        Analytic gradients; keys must equal those of `params`.
    eps, rtol, floor : float, optional
        As in `check_gradient`.
    order : {2, 4, 6}, optional
        As in `check_gradient`.
    masks : mapping of str to array_like of bool, optional
        Per-name masks as in `check_gradient`; names not present are fully
        checked; unknown names are an error.

    Returns
    -------
    list of GradcheckResult
        One per name, in the iteration order of `params`.

    Raises
    ------
    ValueError
        Missing or extra names in `grads`, unknown names in `masks`, plus
        the errors of `check_gradient`.
    """
    if not callable(f):
        raise TypeError(f"`f` must be a callable f(params_dict) -> float, got {type(f).__name__}")
    if not isinstance(params, Mapping):
        raise TypeError(f"`params` must be a mapping, got {type(params).__name__}")
    if not isinstance(grads, Mapping):
        raise TypeError(f"`grads` must be a mapping, got {type(grads).__name__}")
    masks = {} if masks is None else masks
    if not isinstance(masks, Mapping):
        raise TypeError(f"`masks` must be a mapping or None, got {type(masks).__name__}")

    names = list(params)
    missing = [k for k in names if k not in grads]
    extra = [k for k in grads if k not in params]
    if missing or extra:
        raise ValueError(
            f"`grads` names do not match `params`: missing {missing}, extra {extra}"
        )
    unknown = [k for k in masks if k not in params]
    if unknown:
        raise ValueError(f"`masks` has names not in `params`: {unknown}")
    for k in names:
        _check_x(params[k], f"params[{k!r}]")
    base = {k: params[k].copy() for k in names}

    results = []
    for name in names:

        def f_single(v: np.ndarray, _name: str = name) -> Any:
            full = {k: (v if k == _name else base[k].copy()) for k in names}
            return f(full)

        results.append(
            _check_one(
                f_single, base[name], grads[name], name=str(name), eps=eps, rtol=rtol,
                floor=floor, mask=masks.get(name), order=order,
                xname=f"params[{name!r}]", gname=f"grads[{name!r}]",
                mname=f"masks[{name!r}]",
            )
        )
    return results


# ----------------------------------------------------------------------------
# directional screening with per-entry fall-back
# ----------------------------------------------------------------------------

_STENCIL = {2: (1.0,), 4: (4.0 / 3.0, -1.0 / 3.0), 6: (1.5, -0.6, 0.1)}   # weights of d_1, d_2, d_3


def _directional_one(f, x, a, mask, *, name, eps, rtol, floor, order, rng, with_ok, screen):
    """One array by group testing: a directional check over a group of entries, and
    halving the group wherever the check fails or a stencil point is inadmissible.

    A group G is perturbed along ``d = Σ_{i∈G} z_i w_i e_i`` with random signs and
    magnitudes ``z_i ∈ ±[0.5, 1]`` and weights ``w_i = floor / max(|a_i|, floor)`` ≤ 1,
    so every entry contributes about ``floor·z_i`` (or ``a_i z_i`` if it is small) to
    the directional derivative ``a·d``: a wrong entry moves ``a·d`` by its own relative
    error times ``floor``, whatever the size of the others. The group passes if the
    stencil's directional difference agrees with ``a·Δ`` (Δ the exact displacement of
    the stencil points) to ``screen·rtol/√|G|``; otherwise it is split in halves, down
    to single entries, which are checked exactly as :func:`check_gradient` does. The
    verdict on a failing gradient therefore always comes from single entries.
    """
    weights = _STENCIL[order]
    a_flat = a.reshape(-1)
    idx_all = np.flatnonzero(mask.reshape(-1))
    n_skip = int(x.size - idx_all.size)
    worst = (0.0, (), math.nan, math.nan)
    n_checked = 0

    def evaluate(xp, where):
        out = f(xp)
        value, ok = out if with_ok else (out, True)
        value = _scalar_value(value, where)
        if not math.isfinite(value):
            raise FloatingPointError(f"f returned {value!r} at {where} of {name}")
        return value, bool(ok)

    stack = [idx_all] if idx_all.size else []
    while stack:
        G = stack.pop()
        if G.size == 1:
            d = np.zeros(x.size)
            d[G[0]] = 1.0
            where_idx = tuple(int(i) for i in np.unravel_index(int(G[0]), x.shape))
        else:
            w = floor / np.maximum(np.abs(a_flat[G]), floor)
            z = rng.uniform(0.5, 1.0, G.size) * rng.choice((-1.0, 1.0), G.size)
            d = np.zeros(x.size)
            d[G] = z * w
            where_idx = None
        num = ana = 0.0
        admissible = True
        for k, c in enumerate(weights, start=1):
            xp = (x.reshape(-1) + k * eps * d).reshape(x.shape)
            xm = (x.reshape(-1) - k * eps * d).reshape(x.shape)
            disp = (xp - xm).reshape(-1)
            if G.size == 1 and disp[G[0]] == 0.0:
                raise ValueError(f"`eps`={eps!r} is below the float64 resolution of {name} at index {where_idx}")
            fp, okp = evaluate(xp, f"x + {k}*eps*d")
            fm, okm = evaluate(xm, f"x - {k}*eps*d")
            if not (okp and okm):
                admissible = False
                break
            if G.size == 1:                   # the exact spacing, as _central_differences
                num += c * (fp - fm) / disp[G[0]]
            else:
                h = 2 * k * eps
                num += c * (fp - fm) / h
                ana += c * float(a_flat[G] @ disp[G]) / h
        if not admissible:
            if G.size == 1:
                n_skip += 1
            else:
                stack += [G[G.size // 2:], G[:G.size // 2]]
            continue
        if G.size == 1:   # exactly check_gradient's entry: numeric vs the analytic entry
            err = float(_rel_error_array(np.array([a_flat[G[0]]]), np.array([num]), floor)[0])
            if n_checked == 0 or err > worst[0]:
                worst = (err, where_idx, float(a_flat[G[0]]), num)
            n_checked += 1
            continue
        err = float(_rel_error_array(np.array([ana]), np.array([num]), floor)[0])
        if err <= screen * rtol / math.sqrt(G.size):
            if n_checked == 0 or err > worst[0]:
                worst = (err, (), ana, num)
            n_checked += G.size
        else:
            stack += [G[G.size // 2:], G[:G.size // 2]]
    if n_checked == 0:
        return GradcheckResult(name, 0.0, (), math.nan, math.nan, rtol, 0, n_skip)
    return GradcheckResult(name, worst[0], worst[1], worst[2], worst[3], rtol, n_checked, n_skip)


def check_gradients_directional(
    f: Callable[[dict[str, np.ndarray]], Any],
    params: Mapping[str, np.ndarray],
    grads: Mapping[str, Any],
    *,
    eps: float = 1e-6,
    rtol: float = 1e-7,
    floor: float = 1e-8,
    masks: Mapping[str, Any] | None = None,
    order: int = 2,
    seed: int = 0,
    with_ok: bool = False,
    screen: float = 0.25,
) -> list[GradcheckResult]:
    """:func:`check_gradients` by directional screening, with per-entry checks where it fails.

    For each array one random direction is checked first (see :func:`_directional_one`);
    only where it fails (or, with ``with_ok=True``, where ``f`` reports a stencil point
    inadmissible) is the array split, down to single entries. A correct gradient of an
    array costs one stencil instead of one per entry; a wrong one is located entry by
    entry and reported as :func:`check_gradients` would.

    ``with_ok=True``: ``f`` returns ``(value, ok)``; a single entry with an inadmissible
    stencil point is skipped (counted in ``n_skipped``), as a False mask entry is.
    ``screen`` (≤ 1) tightens the group test: a group of n entries must agree to
    ``screen·rtol/√n`` relative, so a wrong entry cannot hide among correct ones.
    """
    order = _check_order(order)
    if not callable(f):
        raise TypeError(f"`f` must be a callable, got {type(f).__name__}")
    if not isinstance(params, Mapping) or not isinstance(grads, Mapping):
        raise TypeError("`params` and `grads` must be mappings")
    eps = _check_positive(eps, "eps")
    rtol = _check_nonnegative(rtol, "rtol")
    floor = _check_positive(floor, "floor")
    screen = _check_positive(screen, "screen")
    masks = {} if masks is None else masks
    names = list(params)
    missing = [k for k in names if k not in grads]
    extra = [k for k in grads if k not in params]
    if missing or extra:
        raise ValueError(f"`grads` names do not match `params`: missing {missing}, extra {extra}")
    unknown = [k for k in masks if k not in params]
    if unknown:
        raise ValueError(f"`masks` has names not in `params`: {unknown}")
    for k in names:
        _check_x(params[k], f"params[{k!r}]")
    base = {k: params[k].copy() for k in names}
    results = []
    for i, name in enumerate(names):
        a = _as_real_float64(grads[name], f"grads[{name!r}]")
        if a.shape != base[name].shape:
            raise ValueError(f"`grads[{name!r}]` has shape {a.shape}, expected {base[name].shape}")
        m = (np.ones(a.shape, bool) if masks.get(name) is None
             else _check_mask(masks[name], a.shape, f"masks[{name!r}]"))

        def f_single(v, _name=name):
            return f({k: (v if k == _name else base[k].copy()) for k in names})

        rng = np.random.default_rng([int(seed) % 2**32, i])
        results.append(_directional_one(f_single, base[name], a, m, name=str(name), eps=eps, rtol=rtol,
                                        floor=floor, order=order, rng=rng, with_ok=with_ok, screen=screen))
    return results
