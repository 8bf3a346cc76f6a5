"""Tests for refsnn.gradcheck."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refsnn.gradcheck import (
    GradcheckResult,
    check_gradient,
    check_gradients,
    format_results,
    numerical_gradient,
    rel_error,
)


def _away_from_zero(rng, shape, lo=0.5, hi=1.5):
    """Random float64 array with |entries| in [lo, hi] and random signs."""
    mag = rng.uniform(lo, hi, size=shape)
    sign = rng.choice([-1.0, 1.0], size=shape)
    return mag * sign


# ----------------------------------------------------------------------------
# numerical_gradient
# ----------------------------------------------------------------------------


def test_cubic_sum():
    rng = np.random.default_rng(0)
    x = _away_from_zero(rng, (7,))
    g = numerical_gradient(lambda v: float(np.sum(v**3)), x)
    expected = 3.0 * x**2
    assert g.dtype == np.float64 and g.shape == x.shape
    np.testing.assert_allclose(g, expected, rtol=1e-9, atol=0.0)


def test_quadratic_form():
    rng = np.random.default_rng(1)
    n = 6
    A = rng.normal(size=(n, n))  # not symmetric
    x = rng.normal(size=n)
    g = numerical_gradient(lambda v: float(v @ A @ v), x)
    np.testing.assert_allclose(g, (A + A.T) @ x, rtol=1e-8, atol=1e-9)


def test_zero_dim():
    x = np.array(0.7)
    g = numerical_gradient(lambda v: float(np.sin(v)), x)
    assert g.shape == ()
    assert abs(float(g) - math.cos(0.7)) < 1e-9


def test_multi_dim():
    rng = np.random.default_rng(2)
    x = _away_from_zero(rng, (2, 3, 4))
    c = rng.normal(size=(2, 3, 4))

    def f(v):
        return float(np.sum(c * v**2) + np.prod(v[0, 0, :2]))

    expected = 2.0 * c * x
    expected[0, 0, 0] += x[0, 0, 1]
    expected[0, 0, 1] += x[0, 0, 0]
    g = numerical_gradient(f, x)
    assert g.shape == (2, 3, 4)
    np.testing.assert_allclose(g, expected, rtol=1e-8, atol=1e-9)


def test_does_not_mutate_x():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 4))
    snapshot = x.copy()
    ident, writeable = id(x), x.flags.writeable
    numerical_gradient(lambda v: float(np.sum(np.exp(v))), x)
    assert id(x) == ident
    assert x.flags.writeable == writeable
    assert np.array_equal(x, snapshot)
    assert x.tobytes() == snapshot.tobytes()


def test_read_only_x_stays_read_only():
    x = np.linspace(-1.0, 1.0, 5)
    x.flags.writeable = False
    g = numerical_gradient(lambda v: float(np.sum(v**2)), x)
    assert not x.flags.writeable
    np.testing.assert_allclose(g, 2 * x, rtol=1e-8, atol=1e-10)


def test_f_keeping_references_sees_fresh_unmodified_arrays():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 3))
    seen = []

    def f(v):
        seen.append((v, v.copy()))
        return float(np.sum(v**2))

    numerical_gradient(f, x)
    assert len(seen) == 2 * x.size
    # every call got its own array, none aliasing x or each other
    assert len({id(v) for v, _ in seen}) == len(seen)
    for v, snap in seen:
        assert not np.shares_memory(v, x)
        assert np.array_equal(v, snap), "an argument was modified after f returned"
    for (v1, _), (v2, _) in zip(seen, seen[1:]):
        assert not np.shares_memory(v1, v2)


def test_f_that_mutates_its_argument_is_harmless():
    rng = np.random.default_rng(5)
    x = rng.normal(size=5)
    snapshot = x.copy()

    def f(v):
        val = float(np.sum(v**3))
        v[...] = 1e6  # vandalise the argument
        return val

    g = numerical_gradient(f, x)
    assert np.array_equal(x, snapshot)
    np.testing.assert_allclose(g, 3 * x**2, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize(
    "x", [np.ones(3, dtype=np.float32), np.ones(3, dtype=np.int64), [1.0, 2.0], 1.0]
)
def test_bad_x_type(x):
    with pytest.raises(TypeError, match="x"):
        numerical_gradient(lambda v: float(np.sum(v)), x)


@pytest.mark.parametrize("eps", [0.0, -1e-6, float("nan"), float("inf")])
def test_bad_eps(eps):
    with pytest.raises(ValueError, match="eps"):
        numerical_gradient(lambda v: float(np.sum(v)), np.ones(3), eps=eps)


def test_nonfinite_f_names_index():
    x = np.array([0.5, 2.0, 0.1])

    def f(v):
        return float(np.sum(np.log(v - 1.0 + 1e-7 * (v < 1.0))))

    # log of a negative number -> nan at index 0
    with np.errstate(invalid="ignore"), pytest.raises(FloatingPointError, match=r"\(0,\)"):
        numerical_gradient(f, x)


def test_nonscalar_f_rejected():
    with pytest.raises(TypeError):
        numerical_gradient(lambda v: v * 2.0, np.ones(3))


# ----------------------------------------------------------------------------
# rel_error
# ----------------------------------------------------------------------------


def test_rel_error_worst_index():
    rng = np.random.default_rng(6)
    a = rng.normal(size=(4, 5, 3))
    n = a * (1.0 + 1e-12 * rng.normal(size=a.shape))
    n[2, 1, 0] = a[2, 1, 0] * (1.0 + 1e-3)
    err, idx = rel_error(a, n)
    assert idx == (2, 1, 0)
    assert all(type(i) is int for i in idx)
    assert err == pytest.approx(1e-3 / (1.0 + 1e-3), rel=1e-6)


def test_rel_error_formula_is_max_denominator():
    err, idx = rel_error(np.array([1.0, 3.0]), np.array([1.0, -1.0]))
    assert idx == (1,)
    assert err == pytest.approx(4.0 / 3.0)
    err, _ = rel_error(np.array([2.0]), np.array([-2.0]))
    assert err == 2.0


def test_rel_error_floor():
    err, _ = rel_error(np.array([1e-20, 0.0]), np.array([-1e-20, 3e-20]))
    assert err < 1e-10
    # the floor can be raised to compare bigger values absolutely
    err, _ = rel_error(np.array([1e-3]), np.array([2e-3]), floor=1.0)
    assert err == pytest.approx(1e-3)


def test_rel_error_nan_and_inf():
    a = np.zeros((3, 3)) + 1.0
    n = a.copy()
    n[1, 2] = np.nan
    assert rel_error(a, n) == (math.inf, (1, 2))
    a2 = a.copy()
    a2[0, 1] = np.inf
    assert rel_error(a2, a) == (math.inf, (0, 1))


def test_rel_error_shape_mismatch():
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 2\)"):
        rel_error(np.ones(3), np.ones((2, 2)))


def test_rel_error_empty_and_zero_dim():
    assert rel_error(np.ones((0, 3)), np.ones((0, 3))) == (0.0, ())
    err, idx = rel_error(np.array(2.0), np.array(1.0))
    assert idx == () and err == pytest.approx(0.5)


@pytest.mark.parametrize("floor", [0.0, -1.0, float("nan")])
def test_rel_error_bad_floor(floor):
    with pytest.raises(ValueError, match="floor"):
        rel_error(np.ones(2), np.ones(2), floor=floor)


# ----------------------------------------------------------------------------
# check_gradient
# ----------------------------------------------------------------------------


def _tanh_problem(seed, shape):
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    W = rng.normal(size=(4, n)) / math.sqrt(n)
    x = rng.normal(size=shape)

    def f(v):
        return float(np.sum(np.tanh(W @ v.reshape(-1))))

    def grad(v):
        z = W @ v.reshape(-1)
        return ((1.0 - np.tanh(z) ** 2) @ W).reshape(shape)

    return f, x, grad(x)


def test_check_gradient_correct_passes():
    f, x, g = _tanh_problem(7, (3, 4))
    res = check_gradient(f, x, g, name="w")
    assert isinstance(res, GradcheckResult)
    assert res.passed, str(res)
    assert res.name == "w" and res.n_checked == 12 and res.n_skipped == 0
    assert res.max_rel_error <= 1e-7


def test_check_gradient_sign_flip_fails_at_index():
    f, x, g = _tanh_problem(8, (3, 4))
    bad = g.copy()
    k = int(np.argmax(np.abs(g)))
    idx = np.unravel_index(k, g.shape)
    bad[idx] = -bad[idx]
    res = check_gradient(f, x, bad)
    assert not res.passed
    assert res.worst_index == tuple(int(i) for i in idx)
    assert res.max_rel_error == pytest.approx(2.0, rel=1e-6)
    assert res.analytic == bad[idx]
    assert res.numeric == pytest.approx(g[idx], rel=1e-7)
    assert "FAIL" in str(res)


def test_check_gradient_scaled_fails():
    f, x, g = _tanh_problem(9, (5,))
    res = check_gradient(f, x, g * (1.0 + 1e-5), rtol=1e-7)
    assert not res.passed
    assert res.max_rel_error == pytest.approx(1e-5, rel=1e-2)


def test_check_gradient_mask_skips_entries():
    f, x, g = _tanh_problem(10, (2, 3))
    bad = g.copy()
    bad[1, 2] += 1.0
    mask = np.ones(x.shape, dtype=bool)
    mask[1, 2] = False
    assert not check_gradient(f, x, bad).passed
    res = check_gradient(f, x, bad, mask=mask)
    assert res.passed, str(res)
    assert res.n_checked == 5 and res.n_skipped == 1


def test_check_gradient_mask_skipped_entries_not_evaluated():
    x = np.array([1.0, 2.0, 3.0])
    calls = []

    def f(v):
        calls.append(v.copy())
        return float(np.sum(v**2))

    mask = np.array([True, False, True])
    res = check_gradient(f, x, 2 * x, mask=mask)
    assert res.passed and res.n_skipped == 1
    assert len(calls) == 4
    for v in calls:
        assert v[1] == 2.0


def test_check_gradient_zero_dim():
    x = np.array(0.3)
    assert check_gradient(lambda v: float(np.exp(v)), x, np.exp(x)).passed
    res = check_gradient(lambda v: float(np.exp(v)), x, np.exp(x) * 1.01)
    assert not res.passed and res.worst_index == () and res.n_checked == 1


def test_check_gradient_all_masked():
    res = check_gradient(lambda v: float(np.sum(v)), np.ones(3), np.zeros(3),
                         mask=np.zeros(3, dtype=bool))
    assert res.n_checked == 0 and res.n_skipped == 3 and res.worst_index == ()


def test_check_gradient_bad_shapes():
    with pytest.raises(ValueError, match="analytic"):
        check_gradient(lambda v: float(np.sum(v)), np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="mask"):
        check_gradient(lambda v: float(np.sum(v)), np.ones(3), np.ones(3),
                       mask=np.ones(2, dtype=bool))
    with pytest.raises(TypeError, match="mask"):
        check_gradient(lambda v: float(np.sum(v)), np.ones(3), np.ones(3),
                       mask=np.ones(3))


def test_result_passed_rejects_nan():
    r = GradcheckResult("x", math.nan, (0,), 1.0, math.nan, 1e-7, 1)
    assert not r.passed
    r = GradcheckResult("x", math.inf, (0,), 1.0, math.nan, math.inf, 1)
    assert not r.passed


def test_str_and_format_results():
    f, x, g = _tanh_problem(11, (4,))
    good = check_gradient(f, x, g, name="alpha")
    bad = check_gradient(f, x, -g, name="b")
    s = str(good)
    assert "alpha" in s and "PASS" in s and "\n" not in s
    table = format_results([good, bad])
    lines = table.splitlines()
    assert len(lines) == 3
    assert "PASS" in lines[1] and "FAIL" in lines[2]
    # columns aligned: the status column starts at the same offset in every row
    offs = [line.index(tok) for line, tok in zip(lines, ["status", "PASS", "FAIL"])]
    assert len(set(offs)) == 1


# ----------------------------------------------------------------------------
# check_gradients
# ----------------------------------------------------------------------------


def _ab_problem():
    rng = np.random.default_rng(12)
    params = {"a": _away_from_zero(rng, (3,)), "b": _away_from_zero(rng, (3,))}

    def f(p):
        return float(np.sum(p["a"] ** 2 * p["b"]))

    grads = {"a": 2 * params["a"] * params["b"], "b": params["a"] ** 2}
    return f, params, grads


def test_check_gradients_correct_and_wrong():
    f, params, grads = _ab_problem()
    res = check_gradients(f, params, grads)
    assert [r.name for r in res] == ["a", "b"]
    assert all(r.passed for r in res), format_results(res)

    wrong = {"a": grads["a"], "b": 2 * params["a"] * params["b"]}  # b's grad is a's
    res = check_gradients(f, params, wrong)
    assert res[0].passed and not res[1].passed


def test_check_gradients_does_not_touch_caller_data():
    f, params, grads = _ab_problem()
    ids = {k: id(v) for k, v in params.items()}
    snaps = {k: v.copy() for k, v in params.items()}
    seen = []

    def g(p):
        seen.append(p)
        val = f(p)
        p["a"][...] = 99.0  # vandalise everything we were given
        p["b"][...] = 99.0
        p["c"] = None
        return val

    res = check_gradients(g, params, grads)
    assert all(r.passed for r in res), format_results(res)
    assert list(params) == ["a", "b"]
    for k in params:
        assert id(params[k]) == ids[k]
        assert np.array_equal(params[k], snaps[k])
    assert all(p is not params for p in seen)


def test_check_gradients_name_mismatch():
    f, params, grads = _ab_problem()
    with pytest.raises(ValueError, match="b"):
        check_gradients(f, params, {"a": grads["a"]})
    with pytest.raises(ValueError, match="zz"):
        check_gradients(f, params, {**grads, "zz": np.ones(1)})


def test_check_gradients_masks():
    f, params, grads = _ab_problem()
    wrong = {"a": grads["a"].copy(), "b": grads["b"]}
    wrong["a"][0] += 1.0
    masks = {"a": np.array([False, True, True])}
    res = check_gradients(f, params, wrong, masks=masks)
    assert all(r.passed for r in res)
    assert res[0].n_skipped == 1 and res[1].n_skipped == 0
    with pytest.raises(ValueError, match="q"):
        check_gradients(f, params, grads, masks={"q": np.ones(3, dtype=bool)})


# ----------------------------------------------------------------------------
# property test
# ----------------------------------------------------------------------------


@settings(deadline=None)
@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
    seed=st.integers(0, 2**32 - 1),
    which=st.integers(0, 10**6),
)
def test_property_tanh(shape, seed, which):
    f, x, g = _tanh_problem(seed, shape)
    # |f| <= 4, so central-difference round-off is ~1e-10 absolute; compare
    # entries below 1e-3 absolutely.
    rtol, floor = 1e-5, 1e-3
    res = check_gradient(f, x, g, rtol=rtol, floor=floor)
    assert res.passed, str(res)

    bad = g.copy()
    idx = np.unravel_index(which % g.size, g.shape)
    bad[idx] += 1e-3 * max(abs(bad[idx]), 1.0)
    res_bad = check_gradient(f, x, bad, rtol=rtol, floor=floor)
    assert not res_bad.passed, str(res_bad)
    assert res_bad.worst_index == tuple(int(i) for i in idx)


# ----------------------------------------------------------------------------
# the order-6 stencil and the directional screen
# ----------------------------------------------------------------------------


def test_order_6_is_exact_for_degree_6_and_beats_order_4():
    """The O(h⁶) stencil (45 a_1 − 9 a_2 + a_3)/60h differentiates polynomials of degree
    ≤ 6 exactly (its error is h⁶ f⁽⁷⁾/140), even with a large step; order 4 leaves
    h⁴ f⁽⁵⁾/30 there. Any wrong coefficient breaks the first assertion at h = 0.1."""
    c = np.array([0.3, -1.2, 0.7, 0.5, -0.4, 0.25, 0.6])     # Σ c_k x^k, k = 0..6
    f = lambda v: float(sum(np.sum(c[k] * v ** k) for k in range(7)))   # noqa: E731
    x = np.array([0.4, -0.9, 1.3])
    exact = sum(k * c[k] * x ** (k - 1) for k in range(1, 7))
    n6 = numerical_gradient(f, x, eps=0.1, order=6)
    np.testing.assert_allclose(n6, exact, rtol=1e-11, atol=1e-12)
    n4 = numerical_gradient(f, x, eps=0.1, order=4)
    assert np.max(np.abs(n4 - exact)) > 1e-4                 # order 4 is not exact here
    # on a non-polynomial: error ~ h⁶ f⁽⁷⁾ / 140 ≈ 1e-14 at h = 0.01
    g = numerical_gradient(lambda v: float(np.sum(np.sin(v))), x, eps=0.01, order=6)
    np.testing.assert_allclose(g, np.cos(x), rtol=1e-11)
    res = check_gradient(f, x, exact, eps=0.1, order=6, rtol=1e-10)
    assert res.passed, res


def test_directional_screen_agrees_with_per_entry_and_locates_errors():
    from refsnn.gradcheck import check_gradients_directional
    rng = np.random.default_rng(0)
    A = rng.normal(size=(4, 5))

    def f(p):
        return float(np.sum(np.tanh(A @ p["w"])) + np.sum(p["b"] ** 3))

    params = {"w": rng.normal(size=(5, 2)), "b": rng.normal(size=3)}
    t = np.tanh(A @ params["w"])
    grads = {"w": A.T @ (1 - t ** 2), "b": 3 * params["b"] ** 2}
    res = check_gradients_directional(f, params, grads, eps=1e-3, order=4, rtol=1e-7, floor=1e-6)
    assert all(r.passed for r in res) and [r.n_checked for r in res] == [10, 3]
    wrong = dict(grads, w=grads["w"].copy())
    wrong["w"][3, 1] *= 1 + 1e-5                              # one entry, 1e-5 relative
    res = check_gradients_directional(f, params, wrong, eps=1e-3, order=4, rtol=1e-7, floor=1e-6)
    assert not res[0].passed and res[0].worst_index == (3, 1) and res[1].passed
    # a tiny entry among large ones is still checked against its own size
    g2 = dict(grads, w=grads["w"] * 1e6)
    A2 = A.copy()

    def f2(p):
        return float(1e6 * np.sum(np.tanh(A2 @ p["w"])) + np.sum(p["b"] ** 3))

    g2["b"] = grads["b"].copy()
    g2["b"][0] += 1e-3 * max(abs(g2["b"][0]), 1e-6)           # 1e-3 relative in b only
    res = check_gradients_directional(f2, params, g2, eps=1e-3, order=4, rtol=1e-7, floor=1e-6)
    assert res[0].passed and not res[1].passed and res[1].worst_index == (0,)


def test_directional_inadmissible_points_are_split_and_skipped():
    """with_ok: a group whose stencil is inadmissible is halved; a single entry is skipped."""
    from refsnn.gradcheck import check_gradients_directional
    x = {"v": np.array([0.0, 1.0, 2.0, 3.0])}

    def f(p):
        v = p["v"]
        return float(np.sum(v ** 2)), abs(v[2] - 2.0) < 1e-9   # moving entry 2 is inadmissible

    res = check_gradients_directional(f, x, {"v": 2 * x["v"]}, eps=1e-3, order=4, with_ok=True)
    assert res[0].passed and res[0].n_checked == 3 and res[0].n_skipped == 1


def test_order_4_is_exact_for_degree_4_and_directional_order_6_too():
    """Order 4, (8 a_1 − a_2)/12h, is exact for degree ≤ 4 (error h⁴ f⁽⁵⁾/30). The
    directional screen uses the same weights along a direction: at h = 0.1 on a
    degree-6 polynomial only exact weights pass rtol 1e-10."""
    from refsnn.gradcheck import check_gradients_directional
    c4 = np.array([0.3, -1.2, 0.7, 0.5, -0.4])
    f4 = lambda v: float(sum(np.sum(c4[k] * v ** k) for k in range(5)))   # noqa: E731
    x = np.array([0.4, -0.9, 1.3])
    exact4 = sum(k * c4[k] * x ** (k - 1) for k in range(1, 5))
    np.testing.assert_allclose(numerical_gradient(f4, x, eps=0.1, order=4), exact4, rtol=1e-11, atol=1e-12)
    c6 = np.array([0.3, -1.2, 0.7, 0.5, -0.4, 0.25, 0.6])
    f6 = lambda p: float(sum(np.sum(c6[k] * p["x"] ** k) for k in range(7)))   # noqa: E731
    exact6 = sum(k * c6[k] * x ** (k - 1) for k in range(1, 7))
    for order, ok in ((6, True), (4, False)):
        res = check_gradients_directional(f6, {"x": x}, {"x": exact6}, eps=0.1, order=order, rtol=1e-10,
                                          floor=1e-6)
        assert res[0].passed is ok, (order, res[0])
    res = check_gradients_directional(lambda p: f4(p["x"]), {"x": x}, {"x": exact4}, eps=0.1, order=4,
                                      rtol=1e-10, floor=1e-6)
    assert res[0].passed, res[0]


def test_directional_screen_weights_entries_by_their_own_size():
    """A 1e-3 relative error in a small entry next to entries a million times larger
    (same array): unweighted, it would move a·d by 1e-9 relative and pass the screen."""
    from refsnn.gradcheck import check_gradients_directional
    x = np.array([0.1, 0.7, -0.4, 1.1, 0.3, 0.9])

    def f(p):
        v = p["x"]
        return float(1e6 * np.sum(np.sin(v[:5])) + v[5] ** 3)

    g = np.concatenate([1e6 * np.cos(x[:5]), [3 * x[5] ** 2]])
    res = check_gradients_directional(f, {"x": x}, {"x": g}, eps=1e-3, order=4, rtol=1e-7, floor=1e-6)
    assert res[0].passed, res[0]
    wrong = g.copy()
    wrong[5] *= 1 + 1e-3
    res = check_gradients_directional(f, {"x": x}, {"x": wrong}, eps=1e-3, order=4, rtol=1e-7, floor=1e-6)
    assert not res[0].passed and res[0].worst_index == (5,), res[0]


def test_directional_screen_locates_one_wrong_entry_in_a_large_array_at_a_tight_rtol():
    """10⁴ entries, rtol 1e-7, one entry wrong by 1e-5 relative. Every entry contributes
    ~floor·z_i to the screened a·d (weights w_i = floor/|a_i|), so the sum over a group of
    G entries is ~floor·√G and the wrong entry moves it by ~1e-5·floor: a relative
    1e-5/√G = 1e-7 at G = 10⁴, far above the screen's screen·rtol/√G = 2.5e-10, so the
    halving reaches the entry. A screen of screen·rtol·√G (2.5e-6 at G = 10⁴) would pass
    the whole array. f is quadratic with x = 0, so the central difference is exact up to
    round-off (≈1e-16 relative), far below both thresholds."""
    from refsnn.gradcheck import check_gradients_directional
    rng = np.random.default_rng(4)
    g = rng.uniform(0.5, 2.0, (100, 100)) * rng.choice((-1.0, 1.0), (100, 100))

    def f(p):
        w = p["w"]
        return float(np.sum(g * w) + 0.5 * np.sum(w * w))

    x = {"w": np.zeros((100, 100))}
    res = check_gradients_directional(f, x, {"w": g}, rtol=1e-7)
    assert res[0].passed and res[0].n_checked == 10**4, res[0]
    wrong = g.copy()
    wrong[37, 58] *= 1 + 1e-5
    res = check_gradients_directional(f, x, {"w": wrong}, rtol=1e-7)
    assert not res[0].passed and res[0].worst_index == (37, 58), res[0]
    assert res[0].max_rel_error == pytest.approx(1e-5, rel=1e-3)
