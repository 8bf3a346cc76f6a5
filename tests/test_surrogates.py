"""Tests for refsnn.surrogates.

Each test names, in its docstring, the wrong implementation that it rejects.
"""

import math
import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import integrate

from refsnn.surrogates import SURROGATE_NAMES, Surrogate, heaviside, surrogate

UNIT_AREA = ("triangle", "sigmoid", "boxcar", "exponential", "arctan", "superspike")
WIDTH_FAMILIES = ("triangle", "boxcar")  # scale is a half-width a; the others take a slope k
# Kinks of σ', in units of the width (a, or 1/k).
KINKS = {
    "triangle": (-1.0, 0.0, 1.0),
    "sigmoid": (),
    "boxcar": (-1.0, 1.0),
    "exponential": (0.0,),
    "arctan": (),
    "superspike": (0.0,),
}
# Height at gain 1, written from the table in the module docstring.
HEIGHT = {
    "triangle": lambda a: 1.0 / a,
    "sigmoid": lambda k: k / 4.0,
    "boxcar": lambda a: 0.5 / a,
    "exponential": lambda k: k / 2.0,
    "arctan": lambda k: k / 2.0,
    "superspike": lambda k: k / 2.0,
}
F64_MAX = float(np.finfo(np.float64).max)
F32_MAX = float(np.finfo(np.float32).max)

log_scales = st.floats(min_value=-3.0, max_value=3.0)
gains = st.one_of(st.just(1.0), st.floats(min_value=0.01, max_value=100.0))


def width(s: Surrogate) -> float:
    return s.scale if s.name in WIDTH_FAMILIES else 1.0 / s.scale


class _Strict:
    """Turn every warning and every floating-point flag into an error."""

    def __enter__(self):
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("error")
        self._e = np.errstate(all="raise")
        self._e.__enter__()

    def __exit__(self, *exc):
        self._e.__exit__(*exc)
        return self._w.__exit__(*exc)


# ---------------------------------------------------------------------------
# Derivative vs primitive
# ---------------------------------------------------------------------------


@given(
    name=st.sampled_from(UNIT_AREA),
    log_scale=log_scales,
    gain=gains,
    t=st.floats(min_value=-12.0, max_value=12.0),
)
def test_derivative_is_central_difference_of_primitive(name, log_scale, gain, t):
    """Rejects a σ' and F that do not match, e.g. a wrong constant factor or a sign slip."""
    s = surrogate(name, 10.0**log_scale, gain)
    w = width(s)
    assume(all(abs(t - c) > 1e-4 for c in KINKS[name]))
    x = t * w
    h = 1e-6 * w
    xp, xm = x + h, x - h
    cd = (s.primitive(xp) - s.primitive(xm)) / (xp - xm)
    d = s.derivative(x)
    assert abs(d - cd) <= 1e-6 * abs(d) + 1e-8 * s.height, (name, s.scale, gain, x, d, cd)


@pytest.mark.parametrize("name", UNIT_AREA)
def test_derivative_matches_primitive_on_a_dense_grid(name):
    """The same check on a fixed grid, so it runs even without hypothesis examples."""
    s = surrogate(name, gain=1.7)
    w = width(s)
    t = np.linspace(-6.0, 6.0, 1201) + 0.00037  # stays clear of the kinks at 0 and ±1
    x = t * w
    h = 1e-6 * w
    cd = (s.primitive(x + h) - s.primitive(x - h)) / ((x + h) - (x - h))
    np.testing.assert_allclose(s.derivative(x), cd, rtol=1e-6, atol=1e-8 * s.height)


# ---------------------------------------------------------------------------
# Primitive: limits, monotonicity, symmetry
# ---------------------------------------------------------------------------


@given(name=st.sampled_from(UNIT_AREA), log_scale=st.floats(min_value=-6.0, max_value=6.0))
def test_primitive_rises_from_zero_to_one(name, log_scale):
    """Rejects a primitive that is off by a constant, has the wrong tails, or wiggles."""
    s = surrogate(name, 10.0**log_scale)
    w = width(s)
    far = 1e12 * w
    assert s.primitive(-far) <= 1e-11
    assert s.primitive(far) >= 1.0 - 1e-11
    assert s.primitive(0.0) == 0.5
    assert s.primitive(-0.0) == 0.5
    # The whole float range: F stays in [0, 1] and ends within 1e-300 of its limits.
    assert 0.0 <= s.primitive(-F64_MAX) <= 1e-300
    assert s.primitive(F64_MAX) == 1.0
    x = w * np.concatenate([-np.geomspace(1e6, 1e-6, 400), [0.0], np.geomspace(1e-6, 1e6, 400)])
    x = np.concatenate([[-F64_MAX], np.linspace(-5 * w, 5 * w, 1001), x, [F64_MAX]])
    x.sort()
    F = s.primitive(x)
    assert np.all(np.diff(F) >= 0.0), "primitive is not monotone non-decreasing"
    assert np.all((F >= 0.0) & (F <= 1.0))


@pytest.mark.parametrize("name", UNIT_AREA)
def test_density_is_even_and_primitive_is_antisymmetric(name):
    """Rejects a shifted or asymmetric density (e.g. x - a in place of |x| - a)."""
    s = surrogate(name, gain=3.0)
    x = width(s) * np.linspace(0.0, 8.0, 801)
    np.testing.assert_array_equal(s.derivative(x), s.derivative(-x))
    np.testing.assert_allclose(s.primitive(x) + s.primitive(-x), 3.0, rtol=0, atol=1e-15 * 3.0)


@given(x=st.lists(st.floats(min_value=-1e300, max_value=1e300), min_size=1, max_size=20))
def test_straight_through_is_the_documented_exception(x):
    """straight_through: σ' = 1 and F = x + 1/2, which is unbounded."""
    s = surrogate("straight_through")
    x = np.array(x)
    np.testing.assert_array_equal(s.primitive(x), x + 0.5)
    np.testing.assert_array_equal(s.derivative(x), np.ones_like(x))
    s2 = surrogate("straight_through", gain=0.25)
    np.testing.assert_array_equal(s2.primitive(x), 0.25 * (x + 0.5))


def test_true_surrogate_is_heaviside_with_zero_derivative():
    s = surrogate("true", gain=2.0)
    x = np.array([-3.0, -1e-300, -0.0, 0.0, 1e-300, 3.0])
    np.testing.assert_array_equal(s.derivative(x), np.zeros(6))
    np.testing.assert_array_equal(s.primitive(x), 2.0 * np.array([0, 0, 1, 1, 1, 1.0]))
    assert s.height == 0.0


# ---------------------------------------------------------------------------
# Area and height
# ---------------------------------------------------------------------------


@settings(deadline=None)
@given(name=st.sampled_from(UNIT_AREA), log_scale=log_scales, gain=gains)
def test_area_under_derivative_is_gain(name, log_scale, gain):
    """Rejects a density that is not normalised (e.g. k·e^{-k|x|} instead of (k/2)·e^{-k|x|})."""
    s = surrogate(name, 10.0**log_scale, gain)
    w = width(s)

    def f(t):  # ∫ σ'(x) dx = w ∫ σ'(w t) dt: integrate in units of the width
        return w * float(s.derivative(w * t))

    if name in WIDTH_FAMILIES:
        pieces = [(-1.0, 0.0), (0.0, 1.0)]  # the support [-a, a], split at the peak
    else:
        pieces = [(-np.inf, 0.0), (0.0, np.inf)]
    area = sum(
        integrate.quad(f, lo, hi, epsabs=0.0, epsrel=1e-11, limit=200)[0] for lo, hi in pieces
    )
    assert area == pytest.approx(gain, rel=1e-8)


@pytest.mark.parametrize("name", UNIT_AREA)
def test_area_on_a_fine_grid_matches_primitive_rise(name):
    """Cumulative trapezoid of σ' equals F(x) - F(x0).

    Rejects a σ' whose total area is right but whose shape is not.
    """
    s = surrogate(name)
    w = width(s)
    x = w * np.linspace(-4.0, 4.0, 400_001)
    d = s.derivative(x)
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (d[1:] + d[:-1]) * np.diff(x))])
    # The trapezoid rule is O(step^2) on smooth pieces; across the boxcar's
    # jumps it errs by step*height/2.
    atol = 0.6 * (x[1] - x[0]) * s.height if name == "boxcar" else 2e-6
    np.testing.assert_allclose(cum, s.primitive(x) - s.primitive(x[0]), rtol=0, atol=atol)


@given(name=st.sampled_from(SURROGATE_NAMES), log_scale=st.floats(-100.0, 100.0), gain=gains)
def test_height_is_derivative_at_zero_and_the_maximum(name, log_scale, gain):
    """Rejects a height that disagrees with the table, or a density that peaks off 0."""
    scale = None if name in ("straight_through", "true") else 10.0**log_scale
    s = surrogate(name, scale, gain)
    assert isinstance(s.height, float)
    assert s.height == float(s.derivative(0.0))
    expected = {"straight_through": 1.0, "true": 0.0}.get(name)
    if expected is None:
        expected = HEIGHT[name](scale)
    assert s.height == pytest.approx(gain * expected, rel=4e-16)
    if scale is not None:
        x = width(s) * np.linspace(-3.0, 3.0, 601)
        assert np.all(s.derivative(x) <= s.height)


# ---------------------------------------------------------------------------
# Robustness at extreme values
# ---------------------------------------------------------------------------

X64 = np.array(
    [
        -F64_MAX, -1e300, -F32_MAX, -3.5, -1.0, -1e-300, -5e-324, -0.0,
        0.0, 5e-324, 1e-300, 1.0, 3.5, F32_MAX, 1e300, F64_MAX,
    ]
)
X32 = np.array(
    [-F32_MAX, -1e30, -3.5, -1.0, -1e-38, -1e-45, -0.0, 0.0, 1e-45, 1e-38, 1.0, 3.5, 1e30, F32_MAX],
    dtype=np.float32,
)
EXTREME_SCALES = (1e-300, 1e-150, 1e-8, 1.0, 1e8, 1e150, 1e300)


@pytest.mark.parametrize("gain", [1.0, 1e-300, 2.0])
@pytest.mark.parametrize("scale", EXTREME_SCALES)
@pytest.mark.parametrize("name", UNIT_AREA)
def test_no_overflow_nan_or_warning_at_extremes_float64(name, scale, gain):
    """Rejects naive formulas: exp(-kx) for x << 0, (πkx/2)**2, k*x, all overflowing."""
    s = surrogate(name, scale, gain)
    with _Strict():
        d = s.derivative(X64)
        F = s.primitive(X64)
        scalars = [(float(s.derivative(v)), float(s.primitive(v))) for v in X64]
        h = s.height
    assert d.dtype == np.float64 and F.dtype == np.float64
    assert np.all(np.isfinite(d)) and np.all(np.isfinite(F))
    assert np.all(d >= 0.0) and np.all(d <= h)
    assert np.all(F >= 0.0) and np.all(F <= s.gain)
    assert F[0] <= F[-1]
    np.testing.assert_array_equal(np.array(scalars), np.stack([d, F], axis=1))


@pytest.mark.parametrize("scale", EXTREME_SCALES)
@pytest.mark.parametrize("name", UNIT_AREA)
def test_float32_in_float32_out_and_rounded_once(name, scale):
    """float32 results equal the float64 results rounded once.

    Rejects arithmetic done in float32, such as snnTorch's NaN sigmoid.
    """
    s = surrogate(name, scale)
    if s.height > F32_MAX:
        # The documented exception: the peak is not representable in float32.
        with pytest.warns(RuntimeWarning, match="overflow"):
            s.derivative(X32)
        return
    with _Strict():
        d = s.derivative(X32)
        F = s.primitive(X32)
    assert d.dtype == np.float32 and F.dtype == np.float32
    assert np.all(np.isfinite(d)) and np.all(np.isfinite(F))
    with _Strict(), np.errstate(under="ignore"):
        d64 = s.derivative(X32.astype(np.float64)).astype(np.float32)
        F64 = s.primitive(X32.astype(np.float64)).astype(np.float32)
    np.testing.assert_array_equal(d, d64)
    np.testing.assert_array_equal(F, F64)


def test_float32_sigmoid_near_minus_3p5_is_finite():
    """snnTorch issue 427: k e^{-kx}/(e^{-kx}+1)^2 is NaN near x = -3.5 (k = 25, float32)."""
    s = surrogate("sigmoid", 25.0)
    x = np.linspace(-10.0, 10.0, 2001, dtype=np.float32)
    with _Strict():
        d = s.derivative(x)
    assert d.dtype == np.float32
    assert np.all(np.isfinite(d)) and np.all(d >= 0)


@pytest.mark.parametrize("name", SURROGATE_NAMES)
def test_nan_in_nan_out_and_shapes_and_dtypes(name):
    s = surrogate(name)
    x = np.array([[np.nan, 0.5], [-0.5, 0.0]])
    with _Strict():
        d, F = s.derivative(x), s.primitive(x)
    assert d.shape == F.shape == (2, 2)
    assert np.isnan(d[0, 0]) and np.isnan(F[0, 0])
    assert not np.isnan(d[1:]).any()
    out = s.derivative(0.25)
    assert isinstance(out, np.ndarray) and out.shape == () and out.dtype == np.float64
    assert s.primitive(np.float16(0.25)).dtype == np.float16


def test_peak_beyond_float64_is_rejected_at_construction():
    with pytest.raises(ValueError, match="scale"):
        surrogate("triangle", 1e-310)
    with pytest.raises(ValueError, match="gain"):
        surrogate("sigmoid", 1e300, gain=1e10)


# ---------------------------------------------------------------------------
# heaviside
# ---------------------------------------------------------------------------


def test_heaviside_tie_rule_and_dtype():
    x = np.array([-2.0, -0.0, 0.0, 3.0, np.nan])
    np.testing.assert_array_equal(heaviside(x), [0.0, 1.0, 1.0, 1.0, np.nan])
    np.testing.assert_array_equal(heaviside(x, h0=0.0), [0.0, 0.0, 0.0, 1.0, np.nan])
    assert heaviside(x.astype(np.float32)).dtype == np.float32
    assert heaviside(0.0).shape == () and float(heaviside(0.0)) == 1.0


@pytest.mark.parametrize("h0", [0.5, -1.0, 2.0, float("nan"), True, "1"])
def test_heaviside_rejects_other_tie_values(h0):
    with pytest.raises(ValueError, match="h0"):
        heaviside(np.zeros(3), h0=h0)


def test_heaviside_rejects_integer_input():
    with pytest.raises(TypeError, match="`x`.*floating-point"):
        heaviside(np.arange(3))


# ---------------------------------------------------------------------------
# Argument checking
# ---------------------------------------------------------------------------


def test_names_are_the_documented_tuple():
    assert SURROGATE_NAMES == (
        "triangle", "sigmoid", "boxcar", "exponential", "arctan", "superspike",
        "straight_through", "true",
    )


def test_unknown_name_lists_the_valid_names():
    with pytest.raises(ValueError, match="name") as info:
        surrogate("fast_sigmoid")
    for n in SURROGATE_NAMES:
        assert n in str(info.value)
    with pytest.raises(ValueError, match="name"):
        Surrogate("Sigmoid", 1.0)
    with pytest.raises(TypeError, match="name"):
        surrogate(3)


@pytest.mark.parametrize("scale", [0.0, -1.0, -0.0, float("nan"), float("inf"), 10**400])
@pytest.mark.parametrize("build", [surrogate, Surrogate])
def test_bad_scale_value(build, scale):
    with pytest.raises(ValueError, match="scale"):
        build("sigmoid", scale)


@pytest.mark.parametrize("scale", [True, np.bool_(True), "2", 1 + 0j, np.array([2.0])])
@pytest.mark.parametrize("build", [surrogate, Surrogate])
def test_bad_scale_type(build, scale):
    with pytest.raises(TypeError, match="scale"):
        build("arctan", scale)


@pytest.mark.parametrize("name", ["straight_through", "true"])
@pytest.mark.parametrize("build", [surrogate, Surrogate])
def test_unscaled_families_take_no_scale(build, name):
    with pytest.raises(ValueError, match="takes no scale"):
        build(name, 1.0)


def test_direct_construction_needs_a_scale():
    with pytest.raises(ValueError, match="scale"):
        Surrogate("triangle", None)


@pytest.mark.parametrize("gain", [0.0, -2.0, float("nan"), float("inf")])
def test_bad_gain_value(gain):
    with pytest.raises(ValueError, match="gain"):
        surrogate("boxcar", gain=gain)
    with pytest.raises(ValueError, match="gain"):
        Surrogate("boxcar", 0.5, gain)


@pytest.mark.parametrize("gain", [True, None, "1"])
def test_bad_gain_type(gain):
    with pytest.raises(TypeError, match="gain"):
        surrogate("boxcar", gain=gain)


@pytest.mark.parametrize("name", SURROGATE_NAMES)
@pytest.mark.parametrize(
    "x", [np.arange(3), np.array([True, False]), 1, np.int32(0), np.array([1 + 0j])]
)
def test_non_float_x_is_rejected(name, x):
    s = surrogate(name)
    with pytest.raises(TypeError, match="`x`.*floating-point"):
        s.derivative(x)
    with pytest.raises(TypeError, match="`x`.*floating-point"):
        s.primitive(x)


def test_defaults_and_normalised_fields():
    defaults = {"triangle": 1.0, "sigmoid": 5.0, "boxcar": 0.5, "exponential": 5.0,
                "arctan": 2.0, "superspike": 10.0, "straight_through": None, "true": None}
    for name, scale in defaults.items():
        s = surrogate(name)
        assert s.scale == scale and s.gain == 1.0
    s = surrogate("sigmoid", 4, gain=2)
    assert type(s.scale) is float and type(s.gain) is float
    assert s == Surrogate("sigmoid", 4.0, 2.0)
    with pytest.raises(AttributeError):
        s.scale = 3.0


# ---------------------------------------------------------------------------
# Known values and peer mappings
# ---------------------------------------------------------------------------


def test_known_values():
    def d(name, scale, x):
        return float(surrogate(name, scale).derivative(x))

    def F(name, scale, x):
        return float(surrogate(name, scale).primitive(x))

    assert d("triangle", 0.5, 0.25) == 1.0
    assert d("sigmoid", 4.0, 0.0) == 1.0
    assert d("arctan", 2.0, 0.0) == 1.0
    assert d("boxcar", 0.5, 0.49) == 1.0
    assert d("boxcar", 0.5, 0.5) == 0.0
    assert d("exponential", 2.0, 1.0) == pytest.approx(math.exp(-2.0), rel=1e-15)
    assert F("triangle", 2.0, -1.0) == pytest.approx(1 / 8, rel=1e-15)
    assert F("boxcar", 0.5, 0.25) == 0.75
    assert F("superspike", 2.0, -1.5) == pytest.approx(1 / 8, rel=1e-15)
    assert F("exponential", 1.0, -math.log(2.0)) == pytest.approx(0.25, rel=1e-15)
    assert F("arctan", 2 / math.pi, 1.0) == pytest.approx(0.75, rel=1e-15)
    assert F("sigmoid", 1.0, math.log(3.0)) == pytest.approx(0.75, rel=1e-15)


def test_peer_mappings():
    x = np.linspace(-2.0, 2.0, 81)
    # snnTorch fast_sigmoid(slope=25), SpyTorch SurrGradSpike(scale): 1/(k|x|+1)^2
    # (Norse 1.1's super is k = 1: it ignores alpha; tests/test_peers.py)
    s = surrogate("superspike", 25.0, gain=2 / 25)
    assert float(s.derivative(0.1)) == pytest.approx(1 / (2.5 + 1) ** 2, rel=1e-15)
    np.testing.assert_allclose(s.derivative(x), 1 / (25 * np.abs(x) + 1) ** 2, rtol=1e-14)
    # snnTorch / SpikingJelly atan(alpha)
    alpha = 3.0
    expected = alpha / 2 / (1 + (np.pi / 2 * alpha * x) ** 2)
    np.testing.assert_allclose(surrogate("arctan", alpha).derivative(x), expected, rtol=1e-14)
    # snnTorch sigmoid(slope), SpikingJelly Sigmoid(alpha), in float64 where the naive form is fine
    k = 4.0
    e = np.exp(-k * x)
    expected = k * e / (e + 1) ** 2
    np.testing.assert_allclose(surrogate("sigmoid", k).derivative(x), expected, rtol=1e-14)
    # SpikingJelly PiecewiseExp(alpha)
    expected = alpha / 2 * np.exp(-alpha * np.abs(x))
    np.testing.assert_allclose(surrogate("exponential", alpha).derivative(x), expected, rtol=1e-14)
    # SpikingJelly Rect(alpha): alpha on |x| < 0.5/alpha
    xr = np.array([-0.3, -0.1, 0.0, 0.1, 0.3])
    rect = surrogate("boxcar", 0.5 / 4.0).derivative(xr)
    np.testing.assert_array_equal(rect, [0, 4.0, 4.0, 4.0, 0])
    # SpikingJelly SuperSpike(alpha): alpha/(|x|+1)^2
    expected = alpha / (np.abs(x) + 1) ** 2
    s = surrogate("superspike", 1.0, gain=2 * alpha)
    np.testing.assert_allclose(s.derivative(x), expected, rtol=1e-14)
    # SpikingJelly PiecewiseQuadratic(alpha): alpha - alpha^2 |x| on |x| <= 1/alpha
    np.testing.assert_allclose(
        surrogate("triangle", 1 / alpha).derivative(x),
        np.where(np.abs(x) <= 1 / alpha, alpha - alpha**2 * np.abs(x), 0.0), rtol=1e-14, atol=1e-15,
    )
    # e-prop pseudo-derivative (gamma/theta) max(0, 1 - |x|/theta)
    gamma, theta = 0.3, 0.8
    np.testing.assert_allclose(
        surrogate("triangle", theta, gain=gamma).derivative(x),
        gamma / theta * np.maximum(0.0, 1 - np.abs(x) / theta), rtol=1e-14, atol=1e-16,
    )


# ---------------------------------------------------------------------------
# The in-place form of the reverse loop (Surrogate.derivative_inplace)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("gain", [1.0, 1e-300, 0.3, 7.0])
@pytest.mark.parametrize("scale", EXTREME_SCALES + (0.5, 2.0, 10.0, 1e3))
@pytest.mark.parametrize("name", SURROGATE_NAMES)
def test_inplace_derivative_is_the_derivative(name, scale, gain):
    """Rejects an in-place kernel with a wrong term, a missing gain or flush, or one that
    overflows (or warns) where derivative() does not."""
    if name in ("straight_through", "true"):
        scale = None
    s = surrogate(name, scale, gain)
    rng = np.random.default_rng(0)
    for dtype, xs in ((np.float64, X64), (np.float32, X32)):
        for x in (xs, (rng.standard_normal(300) * 3).astype(dtype), (rng.standard_normal(300) * 0.01).astype(dtype)):
            with warnings.catch_warnings():      # (float32 overflow in the cast at extreme gains)
                warnings.simplefilter("ignore", RuntimeWarning)
                ref = s.derivative(x)
            with _Strict():
                got = s.derivative_inplace(x.copy())
            tiny = np.finfo(dtype).tiny
            assert got.dtype == dtype
            assert not ((got > 0) & (got < tiny)).any(), "a subnormal survived"
            with np.errstate(invalid="ignore", over="ignore"):
                err = np.abs(got - ref)
            if dtype == np.float64:
                ok = err <= 8 * np.finfo(dtype).eps * ref + 4 * tiny
            else:       # float32 work: within float32 rounding of the peak (and exact zeros alike)
                ok = err <= 64 * np.finfo(dtype).eps * min(s.height, float(np.finfo(dtype).max)) + 4 * tiny
            ok |= got == ref                     # (the same inf where gain·height exceeds float32)
            assert ok.all(), (dtype, x[~ok][:3], ref[~ok][:3], got[~ok][:3])
