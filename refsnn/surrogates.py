r"""Surrogate derivatives for the spike nonlinearity, and their primitives.

A neuron spikes with :math:`s = H(x)`, where :math:`x = v - \theta` is the
membrane potential minus the threshold and :math:`H` is the Heaviside step.
:math:`dH/dx` is 0 wherever it exists, so surrogate-gradient training keeps
:math:`H` in the forward pass and puts a *surrogate derivative*
:math:`\sigma'(x)` in its place in the backward pass.  This module gives each
:math:`\sigma'` together with its primitive :math:`F` (:math:`F' = \sigma'`).
:math:`F` is the "smooth twin" spike :math:`s = F(v - \theta)`.  A network
built with :math:`F` is differentiable, so central differences of it check
exactly a hand-written adjoint that uses :math:`\sigma'`.

Every family except ``straight_through`` and ``true`` is a unit-area density:

.. math::

    \sigma'(x) \ge 0, \qquad \int_{-\infty}^{\infty} \sigma'(x)\,dx = 1,
    \qquad F(-\infty) = 0, \quad F(0) = \tfrac12, \quad F(+\infty) = 1.

Each density is even and peaks at :math:`x = 0`.  ``gain`` :math:`g`
multiplies both :math:`\sigma'` and :math:`F`: the area becomes :math:`g`, the
peak :math:`g \cdot` height, and :math:`F` rises from 0 to :math:`g`.

Each family has one shape parameter, ``scale``.  It is either a *width*
:math:`a` (a half-width, in the units of :math:`x`; height :math:`\propto 1/a`)
or a *slope* :math:`k` (an inverse width; height :math:`\propto k`).

=================  =================  =====================================  ============  =======
name               ``scale``          :math:`\sigma'(x)` with gain 1          height        default
=================  =================  =====================================  ============  =======
triangle           half-width a       ``max(0, 1 − |x|/a) / a``              1/a           1.0
sigmoid            slope k            k S(kx) (1 − S(kx)), S the logistic    k/4           5.0
boxcar             half-width a       1/(2a) for ``|x| < a``, else 0         1/(2a)        0.5
exponential        slope k (Laplace)  (k/2) exp(−k|x|)                       k/2           5.0
arctan             slope k            (k/2) / (1 + (πkx/2)²)                 k/2           2.0
superspike         slope k            (k/2) / (1 + k|x|)²                    k/2           10.0
straight_through   none               1                                      1             —
true               none               0  (dH/dx away from x = 0)             0             —
=================  =================  =====================================  ============  =======

The primitives (gain 1):

* triangle: 0 for x < −a; (x + a)²/(2a²) on [−a, 0); 1 − (a − x)²/(2a²) on
  [0, a); 1 for x ≥ a.
* sigmoid: S(kx).
* boxcar: clip((x + a)/(2a), 0, 1).
* exponential: ½ exp(kx) for x < 0; 1 − ½ exp(−kx) for x ≥ 0.
* arctan: ½ + arctan(πkx/2)/π.
* superspike: 1/(2(1 − kx)) for x < 0; 1 − 1/(2(1 + kx)) for x ≥ 0.
* straight_through: x + ½.  This is the one exception: it is unbounded and
  does **not** rise from 0 to 1.  The straight-through estimator passes the
  upstream gradient through unchanged, and this primitive makes
  :math:`s = F(x)` a shifted identity.
* true: H(x) with H(0) = 1.  Its derivative is 0 everywhere, so no gradient
  reaches the membrane.

Mapping onto other libraries (their backward functions, with x = v − θ):

==================================================  ============================================
peer surrogate                                      refsnn equivalent
==================================================  ============================================
snnTorch ``atan(α)``, SpikingJelly ``ATan(α)``      ``surrogate("arctan", α)``
SpikingJelly ``Sigmoid(α)``                         ``surrogate("sigmoid", α)``
snnTorch ``sigmoid(slope)``                         ``surrogate("sigmoid", slope)``
SpikingJelly ``PiecewiseExp(α)``                    ``surrogate("exponential", α)``
SpikingJelly ``Rect(α)``                            ``surrogate("boxcar", 0.5 / α)``
SpikingJelly ``PiecewiseQuadratic(α)``              ``surrogate("triangle", 1 / α)``
snnTorch ``fast_sigmoid(k)``: 1/(k|x| + 1)²         ``surrogate("superspike", k, gain=2 / k)``
SpyTorch ``SurrGradSpike`` (s): 1/(s|x| + 1)²       ``surrogate("superspike", s, gain=2 / s)``
Norse 1.1 ``super`` (α ignored): 1/(|x| + 1)²       ``surrogate("superspike", 1.0, gain=2.0)``
SpikingJelly ``SuperSpike(α)``: ``α/(|x| + 1)²``    ``surrogate("superspike", 1.0, gain=2 * α)``
e-prop pseudo-derivative ``γ/θ·max(0, 1 − |x|/θ)``  ``surrogate("triangle", θ, gain=γ)``
seed 000 "fast sigmoid" ``max(0, 1 − |x|/α)/α``     ``surrogate("triangle", α)``
seed 001 sigmoid (β)                                ``surrogate("sigmoid", β)``
seed 001 boxcar, constant on [−γ, γ]                ``surrogate("boxcar", γ)``
==================================================  ============================================

Norse's documentation gives ``super`` as 1/(α|x| + 1)² with α = 100, but Norse 1.1.0's
``SuperSpike.backward`` computes 1/(|x| + 1)² and never reads α (tests/test_peers.py pins
this on the real library), so the mapping does not depend on α.

The seed-000 "fast sigmoid" is a triangle; snnTorch's ``fast_sigmoid`` is a
different function (the superspike shape, with height 1).  snnTorch's
``triangular`` is not a triangle at all: it returns +k for x < 0 and −k for
x ≥ 0 (a known bug, with no equivalent here).  Several peers pick the height
instead of the area: they are the rows with a ``gain`` other than 1.

Numerics.  Every derivative and primitive is computed in float64, or in the
input's precision if that is wider, and rounded once to the input's dtype.  For
any valid ``scale`` and ``gain`` and every finite x, the float64 results are
finite and no overflow warning or error is emitted.  The one exception is the
unbounded straight-through primitive g·(x + ½), which overflows, with NumPy's
warning, when it exceeds the range.  The product ``k*|x|`` can overflow.  That
overflow is ignored locally, and the result takes its limit: 0 for the
derivative, and 0 for the distance of F from 0 or 1.  This limit is within
3e-309·gain of the exact value.  Underflow to zero or to subnormals is the
correctly rounded answer, so it is silenced locally.  NaN inputs give NaN
outputs.  For float32 (or float16) input, a value above that dtype's range
becomes inf in the final rounding, with NumPy's "overflow encountered in cast"
warning.  This can only happen when gain·height, or the straight-through
primitive, exceeds that range.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable

import numpy as np

__all__ = ["SURROGATE_NAMES", "Surrogate", "heaviside", "surrogate"]

SURROGATE_NAMES: tuple[str, ...] = (
    "triangle",
    "sigmoid",
    "boxcar",
    "exponential",
    "arctan",
    "superspike",
    "straight_through",
    "true",
)

# Families without a shape parameter.
_UNSCALED = ("straight_through", "true")

_DEFAULT_SCALE = MappingProxyType(
    {
        "triangle": 1.0,
        "sigmoid": 5.0,
        "boxcar": 0.5,
        "exponential": 5.0,
        "arctan": 2.0,
        "superspike": 10.0,
    }
)


# ---------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------


def _check_name(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(
            f"`name` must be a str, one of {SURROGATE_NAMES}; got {type(name).__name__}"
        )
    if name not in SURROGATE_NAMES:
        raise ValueError(
            f"unknown surrogate `name` {name!r}; expected one of: {', '.join(SURROGATE_NAMES)}"
        )
    return name


def _check_positive_real(value: object, argname: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"`{argname}` must be a real number (int or float, not bool); "
            f"got {type(value).__name__}"
        )
    try:
        v = float(value)
    except OverflowError:
        raise ValueError(f"`{argname}` must be a finite real > 0; got {value!r}") from None
    if not (math.isfinite(v) and v > 0.0):
        raise ValueError(f"`{argname}` must be a finite real > 0; got {value!r}")
    return v


def _as_float_array(x: object) -> np.ndarray:
    arr = np.asarray(x)
    if not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(
            f"`x` expected a floating-point array (float16, float32, float64 or "
            f"longdouble); got dtype {arr.dtype}.  Convert it explicitly, e.g. "
            f"np.asarray(x, dtype=float)"
        )
    return arr


def _to_work(arr: np.ndarray) -> np.ndarray:
    """Return ``arr`` as float64, or as its own dtype if that is wider."""
    return arr.astype(np.promote_types(arr.dtype, np.float64), copy=False)


# ---------------------------------------------------------------------------
# Family kernels.  Each takes y = |x| (a float64 or wider array, y >= 0 or NaN)
# and the scale.  `_density` returns σ'(y) with gain 1, and `_tail` returns
# F(-y) = ∫_y^∞ σ'.  The densities are even, so F(x) = tail(|x|) for x < 0 and
# 1 - tail(|x|) for x >= 0.  Computing the small tail directly keeps F
# accurate far to the left.
# ---------------------------------------------------------------------------


def _scaled(y: np.ndarray, k: float) -> np.ndarray:
    """Return k·y.  If it exceeds the float range, return +inf without a warning.

    The callers map k·y = inf onto the limits (0 for densities and tails).  The
    exact values there are below 1e-308.
    """
    with np.errstate(over="ignore"):
        return k * y


def _triangle_density(y, a):
    r = np.maximum(a - y, 0.0)  # a - y cannot overflow: a, y >= 0
    return (r / a) / a  # r/a is in [0, 1], so the result is at most 1/a


def _triangle_tail(y, a):
    q = np.maximum(a - y, 0.0) / a
    return 0.5 * q * q


def _sigmoid_density(y, k):
    e = np.exp(-_scaled(y, k))  # exp of a non-positive argument only
    # k S(ky) S(-ky) = k e / (1 + e)^2, with e = exp(-k y) in [0, 1]
    return (k * e) / ((1.0 + e) * (1.0 + e))


def _sigmoid_tail(y, k):
    e = np.exp(-_scaled(y, k))
    return e / (1.0 + e)  # S(-k y)


def _boxcar_density(y, a):
    # 1/(2a) for y < a, 0 for y >= a.  np.heaviside passes NaN through.
    return (0.5 / a) * np.heaviside(a - y, 0.0)


def _boxcar_tail(y, a):
    return 0.5 * (np.maximum(a - y, 0.0) / a)  # not (a - y)/(2a): 2a may overflow


def _exponential_density(y, k):
    return (0.5 * k) * np.exp(-_scaled(y, k))


def _exponential_tail(y, k):
    return 0.5 * np.exp(-_scaled(y, k))


def _split(p: np.ndarray):
    """Split on p <= 1.  Return the mask, p there (0 elsewhere), and w = 1/p elsewhere.

    Where p > 1 the polynomial tails are rewritten in w = 1/p, which lies in
    [0, 1).  Nothing is squared that could overflow, and p = inf gives w = 0.
    """
    near = p <= 1.0
    p_near = np.where(near, p, 0.0)
    w = 1.0 / np.where(near, 1.0, p)
    return near, p_near, w


def _arctan_u(y, k):
    with np.errstate(over="ignore"):  # inf is handled by _split
        return _scaled(y, k) * (0.5 * np.pi)


def _arctan_density(y, k):
    near, u, w = _split(_arctan_u(y, k))
    h = 0.5 * k
    # (k/2) / (1 + u^2) = (k/2) w^2 / (1 + w^2)
    return np.where(near, h / (1.0 + u * u), (h * w) * w / (1.0 + w * w))


def _arctan_tail(y, k):
    near, u, w = _split(_arctan_u(y, k))
    # 1/2 - arctan(u)/π, and arctan(u) = π/2 - arctan(1/u) for u > 0
    return np.where(near, 0.5 - np.arctan(u) / np.pi, np.arctan(w) / np.pi)


def _superspike_density(y, k):
    near, p, w = _split(_scaled(y, k))
    h = 0.5 * k
    # (k/2) / (1 + p)^2 = (k/2) w^2 / (1 + w)^2
    return np.where(near, h / ((1.0 + p) * (1.0 + p)), (h * w) * w / ((1.0 + w) * (1.0 + w)))


def _superspike_tail(y, k):
    near, p, w = _split(_scaled(y, k))
    # 1 / (2 (1 + p)) = w / (2 (1 + w))
    return np.where(near, 0.5 / (1.0 + p), 0.5 * w / (1.0 + w))


# ---------------------------------------------------------------------------
# The same densities in place, for the hot loops (refsnn.neurons.lif_fused).
# Each overwrites y = |x| (a scratch array of the caller's, float32 or float64)
# with g σ'(y), the gain g folded into the last constant (one pass fewer), in
# y's own dtype and without temporaries: the formulas of the table above
# without the far-tail rewrites of `_split`.  In float64 they
# agree with the kernels above to a few units in the last place of the value
# wherever it is a normal number; in float32, to a few dozen units in the last
# place of the peak (their constants and steps are rounded to float32); where
# the exact value is below the dtype's tiny they may give 0 or a subnormal
# (Surrogate.derivative_inplace flushes both).
# tests/test_surrogates.py holds the two sets together at every scale and x.
# ---------------------------------------------------------------------------


def _triangle_inplace(y, a, g):
    np.subtract(a, y, out=y)
    np.maximum(y, 0.0, out=y)          # max(0, a − y)
    y *= g / (a * a)                   # g max(0, a − y) / a²


def _sigmoid_inplace(y, k, g, buf):
    np.multiply(y, -k, out=y)
    np.exp(y, out=y)                   # e = exp(−k y)
    np.add(y, 1.0, out=buf)
    np.square(buf, out=buf)            # (1 + e)^2
    y *= g * k
    y /= buf                           # g k e / (1 + e)^2


def _boxcar_inplace(y, a, g):
    np.less(y, a, out=y)               # 1 for y < a, else 0
    y *= g * (0.5 / a)


def _exponential_inplace(y, k, g):
    np.multiply(y, -k, out=y)
    np.exp(y, out=y)
    y *= g * (0.5 * k)                 # g (k/2) exp(−k y)


def _arctan_inplace(y, k, g):
    y *= k * (0.5 * np.pi)             # u = π k y / 2
    np.square(y, out=y)
    y += 1.0
    np.divide(g * (0.5 * k), y, out=y)     # g (k/2) / (1 + u^2)


def _superspike_inplace(y, k, g):
    y *= k
    y += 1.0
    np.square(y, out=y)
    np.divide(g * (0.5 * k), y, out=y)     # g (k/2) / (1 + k y)^2


_INPLACE = MappingProxyType({
    "triangle": _triangle_inplace, "boxcar": _boxcar_inplace, "exponential": _exponential_inplace,
    "arctan": _arctan_inplace, "superspike": _superspike_inplace,
})


_Kernel = Callable[[np.ndarray, float], np.ndarray]

_KERNELS: MappingProxyType[str, tuple[_Kernel, _Kernel]] = MappingProxyType(
    {
        "triangle": (_triangle_density, _triangle_tail),
        "sigmoid": (_sigmoid_density, _sigmoid_tail),
        "boxcar": (_boxcar_density, _boxcar_tail),
        "exponential": (_exponential_density, _exponential_tail),
        "arctan": (_arctan_density, _arctan_tail),
        "superspike": (_superspike_density, _superspike_tail),
    }
)


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def heaviside(x, h0=1.0) -> np.ndarray:
    r"""Heaviside step with an explicit tie rule.

    .. math::

        H(x) = \begin{cases} 1 & x > 0 \\ h_0 & x = 0 \\ 0 & x < 0 \end{cases}

    Parameters
    ----------
    x : array_like of float, shape (...)
        Usually :math:`v - \theta`.  Integer and bool arrays are rejected.
    h0 : {1.0, 0.0}, optional
        Value at exactly 0 (also at -0.0).  ``1.0`` means "spike at threshold"
        (``x >= 0``: SpikingJelly, the seeds).  ``0.0`` means "no spike at
        threshold" (``x > 0``: snnTorch, Norse, SpyTorch, e-prop).

    Returns
    -------
    ndarray, shape (...)
        The step values, in ``x``'s dtype.  NaN stays NaN.

    Raises
    ------
    ValueError
        If ``h0`` is not exactly 0.0 or 1.0.  Bools are rejected.
    TypeError
        If ``x`` is not floating point.
    """
    if (
        isinstance(h0, (bool, np.bool_))
        or not isinstance(h0, numbers.Real)
        or h0 not in (0.0, 1.0)
    ):
        raise ValueError(f"`h0` must be exactly 1.0 or 0.0 (the value of H at x = 0); got {h0!r}")
    arr = _as_float_array(x)
    return np.asarray(np.heaviside(arr, arr.dtype.type(h0)))


@dataclass(frozen=True)
class Surrogate:
    r"""One surrogate derivative :math:`g\,\sigma'(x)` and its primitive :math:`g\,F(x)`.

    The family table and the peer-library mapping are in the module docstring.
    Build instances with :func:`surrogate`, which fills in the default
    ``scale``.  Direct construction is checked the same way, but the scale must
    be given.

    Parameters
    ----------
    name : str
        One of :data:`SURROGATE_NAMES`.
    scale : float or None
        The family's shape parameter: a half-width ``a`` (triangle, boxcar) or a
        slope ``k`` (sigmoid, exponential, arctan, superspike).  It must be a
        finite real > 0, and it is stored as a float.  It must be None for
        ``straight_through`` and ``true``.
    gain : float, optional
        Finite real > 0.  It multiplies both the derivative and the primitive.

    Raises
    ------
    ValueError
        If ``name`` is unknown.  If ``scale`` or ``gain`` is not finite or not
        > 0.  If a scale is given to ``straight_through`` or ``true``, or none
        is given to another family.  If the peak derivative ``gain * height``
        overflows float64.
    TypeError
        If ``name`` is not a str.  If ``scale`` or ``gain`` is a bool or not a
        real number.
    """

    name: str
    scale: float | None
    gain: float = 1.0

    def __post_init__(self) -> None:
        name = _check_name(self.name)
        if name in _UNSCALED:
            if self.scale is not None:
                raise ValueError(
                    f"surrogate {name!r} takes no scale; got `scale`={self.scale!r} "
                    f"(expected None)"
                )
            scale = None
        else:
            if self.scale is None:
                raise ValueError(
                    f"`scale` is required for surrogate {name!r} (a finite real > 0); "
                    f"surrogate({name!r}) fills the default {_DEFAULT_SCALE[name]}"
                )
            scale = _check_positive_real(self.scale, "scale")
        gain = _check_positive_real(self.gain, "gain")
        object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "gain", gain)
        # The density peaks at x = 0.  If the peak is representable, then so is
        # every value that derivative() computes (all are <= the peak).
        with np.errstate(over="ignore"):
            peak = self.derivative(np.float64(0.0))
        object.__setattr__(self, "_peak", float(peak))
        if not np.isfinite(peak):
            raise ValueError(
                f"`scale`={scale!r} with `gain`={gain!r} gives a peak derivative "
                f"gain*height that overflows float64; expected gain*height <= "
                f"{np.finfo(np.float64).max:.3e}"
            )

    def derivative(self, x) -> np.ndarray:
        r"""Return the surrogate derivative :math:`g\,\sigma'(x)`, which replaces dH/dx.

        Parameters
        ----------
        x : array_like of float, shape (...)
            :math:`v - \theta`.  It must be floating point: a Python float, a
            NumPy float scalar or an array.

        Returns
        -------
        ndarray, shape (...)
            In ``x``'s dtype, non-negative and at most :attr:`height`.  A 0-d
            array is returned for scalar input.

        Raises
        ------
        TypeError
            If ``x`` is an integer, bool or other non-float array.
        """
        arr = _as_float_array(x)
        xw = _to_work(arr)
        with np.errstate(under="ignore"):
            if self.name == "straight_through":
                d = np.where(np.isnan(xw), xw, 1.0)
            elif self.name == "true":
                d = np.where(np.isnan(xw), xw, 0.0)
            else:
                d = _KERNELS[self.name][0](np.abs(xw), self.scale)
            d = np.asarray(d)
            if self.gain != 1.0:     # the kernels return fresh arrays: scale in place (same values)
                if d.ndim == 0:
                    d = np.asarray(d * self.gain)
                else:
                    np.multiply(d, self.gain, out=d)
            # Flush what would be subnormal in x's dtype (σ' ≥ 0): subnormals slow every
            # multiply of the adjoint loops and carry nothing above 1.2e-38 (float32).
            np.copyto(d, 0.0, where=d < np.finfo(arr.dtype).tiny)
            out = d.astype(arr.dtype, copy=False)
        return np.asarray(out)

    def derivative_inplace(self, x, buf=None, floor=None) -> np.ndarray:
        r"""Overwrite ``x`` (a float32 or float64 scratch array of v − θ) with
        :math:`g\,\sigma'(x)`, computed in ``x``'s own dtype; return ``x``.

        The fast form of :meth:`derivative` for the reverse loop of
        :mod:`refsnn.neurons.lif_fused`: the same density, evaluated in place with
        no temporaries (``buf``, an array like ``x``, is scratch for the families
        that need one, else allocated). In float64 it agrees with :meth:`derivative` to a
        few units in the last place; in float32 to within 64 units in the last place of
        the peak (float32 rounding of the kernel's constants and steps; the bound
        ``tests/test_surrogates.py`` holds it to). Values below the dtype's
        ``tiny`` (or below ``floor``, if given) are flushed to zero, as :meth:`derivative`
        does. The sigmoid and exponential families are evaluated in float64 for float32
        ``x`` (their float32 exponentials are subnormal a few widths from θ). Outside the
        range where the in-place formulas are exact to 4·tiny (scale and gain in
        [1e-6, 1e6], height ≤ 16) it returns :meth:`derivative`'s values.
        """
        absolute = False
        if x.dtype == np.float32 and self.name in ("sigmoid", "exponential") and x.size:
            np.abs(x, out=x)                               # (σ' is even: |x| from here on)
            absolute = True
            if float(x.max()) * self.scale > 80.0:
                # exp(−k y) in float32 is subnormal for k y in (87, 103), and float32 work
                # on it runs ~8x slower: then evaluate in float64, as derivative() does.
                w = x.astype(np.float64)
                self.derivative_inplace(w, floor=float(np.finfo(np.float32).tiny))
                with np.errstate(over="ignore", under="ignore"):
                    np.copyto(x, w)
                return x
        with np.errstate(over="ignore", under="ignore"):
            if self.name == "straight_through":
                x.fill(1.0)
            elif self.name == "true":
                x.fill(0.0)
            else:
                if not absolute:
                    np.abs(x, out=x)
                if not self._inplace_safe():              # outside the safe range: the
                    x[...] = self.derivative(x)            # reference (σ' is even)
                    if floor is not None:
                        np.copyto(x, 0.0, where=x < floor)
                    return x
                if self.name == "sigmoid":       # (each kernel folds the gain into its last constant)
                    _sigmoid_inplace(x, self.scale, self.gain, np.empty_like(x) if buf is None else buf)
                else:
                    _INPLACE[self.name](x, self.scale, self.gain)
            if self.gain != 1.0 and self.name == "straight_through":
                x *= self.gain
            tiny = np.finfo(x.dtype).tiny if floor is None else floor
            # Flush what would be subnormal (as derivative() does). The triangle and
            # the boxcar cannot reach (0, tiny) unless their height is near tiny; the
            # exponential tails reach it a few widths from θ, the rational ones only
            # past |x| ≈ 1/√tiny; one min() tells whether a flush is needed at all.
            if not self._no_subnormals(x.dtype) and x.size and x.min() < tiny:
                np.copyto(x, 0.0, where=x < tiny)
        return x

    def _inplace_safe(self) -> bool:
        """Whether the in-place kernels give derivative()'s values (to rounding, and to
        4·tiny absolute) for every x: scale and gain in [1e-6, 1e6], so that their
        constants stay accurate in float32, and a peak g·height ≤ 16. Where k·y or (k·y)²
        overflows, the kernels give 0 (exp(−inf), h/inf); the exact value there is below
        peak/max, and max·tiny ≈ 4 in both dtypes, so below 4·tiny for a peak ≤ 16.
        Outside this range derivative() is used."""
        return 1e-6 <= (self.scale or 1.0) <= 1e6 and 1e-6 <= self.gain <= 1e6 and self._peak <= 16.0

    def _no_subnormals(self, dtype) -> bool:
        """Whether no x can give a density in (0, tiny) of ``dtype`` in the in-place
        kernels: the least nonzero triangle value is ≥ height·eps/4, the boxcar's is
        its height."""
        if self.name in ("straight_through", "true"):
            return True
        return self.name in ("triangle", "boxcar") and \
            self._peak * float(np.finfo(dtype).eps) > float(np.finfo(dtype).tiny) * 4

    def primitive(self, x) -> np.ndarray:
        r"""Return the primitive :math:`g\,F(x)`, the smooth-twin spike, where :math:`F' = \sigma'`.

        Parameters
        ----------
        x : array_like of float, shape (...)
            :math:`v - \theta`.  It must be floating point.

        Returns
        -------
        ndarray, shape (...)
            In ``x``'s dtype.  The values are in :math:`[0, g]`, with
            :math:`g F(0) = g/2`.  The exception is ``straight_through``, where
            the value is :math:`g (x + 1/2)`.

        Raises
        ------
        TypeError
            If ``x`` is an integer, bool or other non-float array.
        """
        arr = _as_float_array(x)
        xw = _to_work(arr)
        with np.errstate(under="ignore"):
            if self.name == "straight_through":
                p = xw + 0.5
            elif self.name == "true":
                p = np.heaviside(xw, 1.0)
            else:
                t = _KERNELS[self.name][1](np.abs(xw), self.scale)
                p = np.where(xw < 0, t, 1.0 - t)
            out = (p * self.gain).astype(arr.dtype, copy=False)
        return np.asarray(out)

    @property
    def height(self) -> float:
        """The peak value ``derivative(0.0)``, as a Python float.

        This is gain times the height column of the family table.
        """
        return float(self.derivative(np.float64(0.0)))


def surrogate(name: str, scale: float | None = None, gain: float = 1.0) -> Surrogate:
    """Build a checked :class:`Surrogate`.  If ``scale`` is None, use the family's default.

    Parameters
    ----------
    name : str
        One of :data:`SURROGATE_NAMES`.
    scale : float or None, optional
        Half-width or slope (see the module table).  If None, the defaults are
        triangle 1.0, sigmoid 5.0, boxcar 0.5, exponential 5.0, arctan 2.0 and
        superspike 10.0.  It must stay None for ``straight_through`` and
        ``true``.
    gain : float, optional
        Finite real > 0.  It multiplies the derivative and the primitive.

    Returns
    -------
    Surrogate

    Raises
    ------
    ValueError, TypeError
        As for :class:`Surrogate`.
    """
    name = _check_name(name)
    if scale is None and name not in _UNSCALED:
        scale = _DEFAULT_SCALE[name]
    return Surrogate(name, scale, gain)
