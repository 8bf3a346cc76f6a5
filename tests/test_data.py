"""Offline data sets and encoders (refsnn.data): definitions, determinism, layout, bad input.

Every test is small and fast; the statistical ones use a fixed seed and a tolerance
derived from the binomial standard deviation.
"""

import math
import re

import numpy as np
import pytest

from refsnn import data


def named(arg):
    """Regex: the message starts with the argument's name."""
    return "^" + re.escape(arg) + r"(?![\w])"


def spike_times(X):
    """(N, T, M) one-spike-per-channel raster → (N, M) spike steps."""
    assert np.all(X.sum(axis=1) == 1)
    return X.argmax(axis=1)


# ---------------------------------------------------------------------------
# randman
# ---------------------------------------------------------------------------

SMALL = dict(n_classes=4, n_units=12, n_steps=50, n_samples_per_class=60)


def test_randman_defaults_shape_dtype_and_one_spike_per_unit():
    X, y = data.randman(n_samples_per_class=30)  # published config: 10 classes, 20 units, 100 steps, D=1
    assert X.shape == (300, 100, 20) and X.dtype == np.float32
    assert y.shape == (300,) and y.dtype == np.int64
    assert np.array_equal(np.bincount(y), np.full(10, 30))
    assert np.any(np.diff(y) < 0)  # classes are shuffled together, not stored in blocks
    assert np.all(X.sum(axis=1) == 1)  # exactly one spike per unit per sample
    assert set(np.unique(X)) == {0.0, 1.0}


@pytest.mark.parametrize("n_spikes", [2, 3])
def test_randman_exactly_n_spikes_per_unit(n_spikes):
    X, _ = data.randman(**SMALL, n_spikes=n_spikes, dtype=np.float64)
    assert X.dtype == np.float64
    assert np.all(X.sum(axis=1) == n_spikes)
    assert X.min() >= 0


def test_randman_standardisation_spans_whole_trial_per_unit_per_class():
    X, y = data.randman(**SMALL, seed=3)
    t = spike_times(X)
    assert t.min() >= 0 and t.max() <= SMALL["n_steps"] - 1
    for c in range(SMALL["n_classes"]):
        tc = t[y == c]
        assert np.all(tc.min(axis=0) == 0)
        assert np.all(tc.max(axis=0) == SMALL["n_steps"] - 1)


def test_randman_step_frac_limits_the_spike_window():
    T, frac = 50, 0.4
    X, y = data.randman(**SMALL, step_frac=frac)
    t = spike_times(X)
    last = math.floor(frac * T)  # z = 1 lands on floor(step_frac * T) (< T, no clip needed)
    for c in range(SMALL["n_classes"]):
        assert np.all(t[y == c].max(axis=0) == last)
        assert np.all(t[y == c].min(axis=0) == 0)


def test_randman_deterministic_and_seed_dependent():
    X1, y1 = data.randman(**SMALL, seed=7)
    X2, y2 = data.randman(**SMALL, seed=7)
    X3, y3 = data.randman(**SMALL, seed=8)
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2)
    assert not np.array_equal(X1, X3)
    # a Generator is accepted and is the only state that moves
    g = np.random.default_rng(7)
    X4, y4 = data.randman(**SMALL, seed=g)
    assert np.array_equal(X1, X4) and np.array_equal(y1, y4)


def test_randman_classes_are_distinguishable():
    X, y = data.randman(n_samples_per_class=150, seed=0)
    t = spike_times(X).astype(float)
    t_tr, t_te, y_tr, y_te = data.train_test_split(t, y, 0.3, seed=1)
    cent = np.stack([t_tr[y_tr == c].mean(0) for c in range(10)])
    d = ((t_te[:, None, :] - cent[None]) ** 2).sum(-1)
    acc = np.mean(d.argmin(1) == y_te)
    assert acc > 0.3, acc  # chance is 0.1; measured ≈ 0.5 for nearest centroid
    # the class manifolds differ: every pair of class centroids is far apart
    pair = np.sqrt(((cent[:, None] - cent[None]) ** 2).sum(-1))
    assert pair[~np.eye(10, dtype=bool)].min() > 10.0


def test_randman_formula_matches_a_direct_evaluation():
    """The vectorised embedding equals a plain loop over the docstring's formula."""
    rng = np.random.default_rng(0)
    M, D, K, alpha = 3, 2, data.randman_cutoff(2.0), 2.0
    amp, freq, phase = rng.random((3, M, D, K))
    xi = rng.random((5, D))
    for spectrum, weight in (("torch", lambda i: 1 / ((i + 1) ** alpha + 1)),
                             ("numpy", lambda i: 1 / (i + 1) ** alpha)):
        got = data._randman_values(xi, amp, freq, phase, alpha, spectrum)
        want = np.ones((5, M))
        for n in range(5):
            for m in range(M):
                for d in range(D):
                    want[n, m] *= sum(
                        amp[m, d, i] * weight(i) * math.sin(2 * math.pi * (i * freq[m, d, i] * xi[n, d] + phase[m, d, i]))
                        for i in range(K)
                    )
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14, err_msg=spectrum)


def test_randman_has_no_constant_term_and_the_reference_spectrum():
    """Term 0 (frequency 0) has amplitude 0, as in the reference (use_bias=False), and
    the default spectrum is the reference's default backend's, 1/((i+1)^α + 1)."""
    np.testing.assert_allclose(data.randman_spectrum(4, 2.0), [1 / 2, 1 / 5, 1 / 10, 1 / 17])
    np.testing.assert_allclose(data.randman_spectrum(3, 1.0, "numpy"), [1, 1 / 2, 1 / 3])
    with pytest.raises(ValueError, match="spectrum"):
        data.randman(n_samples_per_class=2, spectrum="jax")


def test_randman_cutoff_precision_argument():
    assert data.randman_cutoff(2.0) == 32  # ceil(1e-3 ** -0.5) = ceil(31.6)
    assert data.randman_cutoff(1.0) == 1000
    assert data.randman_cutoff(0.5) == 1000  # capped
    K = data.randman_cutoff(3.0)
    assert K ** -3.0 <= 1e-3 < (K - 1) ** -3.0


def test_train_test_split_partitions():
    X = np.arange(40).reshape(20, 2)
    y = np.arange(20)
    Xtr, Xte, ytr, yte = data.train_test_split(X, y, 0.25, seed=0)
    assert len(yte) == 5 and len(ytr) == 15
    assert sorted(np.concatenate([ytr, yte])) == list(range(20))
    assert np.array_equal(Xtr[:, 0], 2 * ytr) and np.array_equal(Xte[:, 0], 2 * yte)
    with pytest.raises(ValueError, match=named("test_fraction")):
        data.train_test_split(X, y, 1.0)
    with pytest.raises(ValueError, match=named("test_fraction")):
        data.train_test_split(X, y, 0.01)
    with pytest.raises(ValueError, match=named("y")):
        data.train_test_split(X, y[:5], 0.2)


# ---------------------------------------------------------------------------
# Yin-Yang
# ---------------------------------------------------------------------------


def test_yin_yang_layout_and_disk():
    R = 0.5
    P, L = data.yin_yang(2000, seed=0)
    assert P.shape == (2000, 4) and P.dtype == np.float64 and L.dtype == np.int64
    x, yy = P[:, 0], P[:, 1]
    assert np.all(np.hypot(x - R, yy - R) <= R)
    np.testing.assert_array_equal(P[:, 2], 1 - x)
    np.testing.assert_array_equal(P[:, 3], 1 - yy)
    # every label is the geometry's label of its point
    np.testing.assert_array_equal(L, data.yin_yang_label(x, yy))


def test_yin_yang_class_balance():
    n = 3000
    _, L = data.yin_yang(n, seed=5)
    counts = np.bincount(L, minlength=3)
    sd = math.sqrt(n * (1 / 3) * (2 / 3))
    assert np.all(np.abs(counts - n / 3) < 4 * sd), counts


def test_yin_yang_known_points():
    R, r = 0.5, 0.1
    pts = {
        (1.5 * R, R): 2,  # centre of the right dot
        (0.5 * R, R): 2,  # centre of the left dot
        (R, 0.2 * R): 0,  # yin: the lower body
        (1.5 * R, 1.35 * R): 0,  # yin: its lobe around the right dot, reaching into the upper half
        (R, 1.8 * R): 1,  # yang: the upper body
        (0.5 * R, 0.65 * R): 1,  # yang: its lobe around the left dot, reaching into the lower half
        (1.5 * R + 0.9 * r, R): 2,  # just inside the right dot
        (1.5 * R + 1.1 * r, R): 0,  # just outside it, in the yin lobe
    }
    xs = np.array([p[0] for p in pts])
    ys = np.array([p[1] for p in pts])
    np.testing.assert_array_equal(data.yin_yang_label(xs, ys, r, R), list(pts.values()))
    assert data.YIN_YANG_CLASSES == ("yin", "yang", "dot")


def test_yin_yang_class_areas_match_monte_carlo():
    """Unconditioned uniform points in the disk fall into the classes by area."""
    R, r = 0.5, 0.1
    rng = np.random.default_rng(0)
    u = rng.random((200_000, 2)) * 2 * R
    u = u[np.hypot(u[:, 0] - R, u[:, 1] - R) <= R]
    frac = np.bincount(data.yin_yang_label(u[:, 0], u[:, 1], r, R), minlength=3) / len(u)
    want = np.array([R**2 / 2 - r**2, R**2 / 2 - r**2, 2 * r**2]) / R**2
    sd = np.sqrt(want * (1 - want) / len(u))
    assert np.all(np.abs(frac - want) < 5 * sd), (frac, want)


def test_yin_yang_deterministic_and_splits_differ():
    a = data.yin_yang(300, seed=1)
    b = data.yin_yang(300, seed=1)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    splits = data.yin_yang_splits(sizes=(500, 100, 100))
    assert [len(splits[k][1]) for k in ("train", "validation", "test")] == [500, 100, 100]
    tr, va = splits["train"][0], splits["validation"][0]
    assert not np.any(np.isin(va[:, 0], tr[:, 0]))
    with pytest.raises(ValueError, match=named("seeds")):
        data.yin_yang_splits(seeds=(1, 1, 2))


def test_yin_yang_bad_radii():
    with pytest.raises(ValueError, match=named("r_small")):
        data.yin_yang(10, r_small=0.3, r_big=0.5)
    with pytest.raises(ValueError, match=named("r_big")):
        data.yin_yang(10, r_big=-1.0)


# ---------------------------------------------------------------------------
# Encoders
# ---------------------------------------------------------------------------


def test_latency_encode_documented_steps():
    v = np.array([[0.0, 0.5, 1.0, 0.25], [0.1, 0.9, 0.3, 0.7]])
    T = 21
    X = data.latency_encode(v, T)
    assert X.shape == (2, T, 4) and X.dtype == np.float32
    t = spike_times(X)
    np.testing.assert_array_equal(t, np.floor(v * (T - 1) + 0.5))  # larger value → later
    assert t[0, 0] == 0 and t[0, 2] == T - 1
    Xr = data.latency_encode(v, T, larger_first=True)
    np.testing.assert_array_equal(spike_times(Xr), np.floor((T - 1) - v * (T - 1) + 0.5))


def test_latency_encode_window_bias_and_dtype():
    rng = np.random.default_rng(0)
    v = rng.random((30, 5))
    X = data.latency_encode(v, 40, t_min=5, t_max=25, bias=True, dtype=np.float64)
    assert X.shape == (30, 40, 6) and X.dtype == np.float64
    t = spike_times(X)
    np.testing.assert_array_equal(t[:, :5], np.floor(5 + v * 20 + 0.5))
    assert np.all(t[:, 5] == 0)  # bias channel spikes at step 0
    assert t[:, :5].min() >= 5 and t[:, :5].max() <= 25


def test_latency_encode_rejects_bad_input():
    with pytest.raises(ValueError, match=named("values")):
        data.latency_encode(np.array([[0.2, 1.01]]), 10)
    with pytest.raises(ValueError, match=named("values")):
        data.latency_encode(np.array([[-0.1]]), 10)
    with pytest.raises(ValueError, match=named("values")):
        data.latency_encode(np.array([[np.nan]]), 10)
    with pytest.raises(ValueError, match=named("values")):
        data.latency_encode(np.array([0.2, 0.3]), 10)  # 1-D
    with pytest.raises(TypeError, match=named("values")):
        data.latency_encode(np.array([[1, 0]]), 10)  # integers are not converted silently
    with pytest.raises(ValueError, match=named("t_max")):
        data.latency_encode(np.array([[0.5]]), 10, t_max=10)
    with pytest.raises(ValueError, match=named("t_min")):
        data.latency_encode(np.array([[0.5]]), 10, t_min=-1)
    with pytest.raises(ValueError, match=named("n_steps")):
        data.latency_encode(np.array([[0.5]]), 0)


def test_poisson_encode_mean_rate():
    rates = np.array([[0.0, 0.05, 0.2, 0.5, 1.0]] * 40)
    T = 500
    S = data.poisson_encode(rates, T, rng=0)
    assert S.shape == (40, T, 5) and S.dtype == np.float32
    assert set(np.unique(S)) <= {0.0, 1.0}
    n = 40 * T
    emp = S.mean(axis=(0, 1))
    p = rates[0]
    sd = np.sqrt(p * (1 - p) / n)
    assert emp[0] == 0.0 and emp[-1] == 1.0
    assert np.all(np.abs(emp - p) <= 5 * sd + 1e-12), (emp, p)


def test_poisson_encode_determinism_and_rng():
    r = np.full((3, 4), 0.3)
    a = data.poisson_encode(r, 50, rng=1)
    b = data.poisson_encode(r, 50, rng=np.random.default_rng(1))
    c = data.poisson_encode(r, 50, rng=2)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    with pytest.raises(ValueError, match=named("rates")):
        data.poisson_encode(np.array([[1.5]]), 10, rng=0)
    with pytest.raises(TypeError, match=named("rng")):
        data.poisson_encode(r, 10, rng=None)


# ---------------------------------------------------------------------------
# trajectory_regression
# ---------------------------------------------------------------------------


def test_trajectory_regression_shapes_and_targets():
    N, T, M, K = 6, 200, 20, 2
    X, Y, p = data.trajectory_regression(N, T, M, K, seed=0, return_params=True)
    assert X.shape == (N, T, M) and Y.shape == (N, T, K)
    assert X.dtype == Y.dtype == np.float32
    assert set(np.unique(X)) <= {0.0, 1.0}
    assert abs(X.mean() - 0.05) < 5 * math.sqrt(0.05 * 0.95 / X.size)
    # bounded, peak exactly 1, zero mean over the trial
    np.testing.assert_allclose(np.abs(Y).max(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(Y.mean(axis=1), 0.0, atol=1e-5)
    # smooth: the step-to-step change obeys the derivative bound of the docstring
    step = np.abs(np.diff(Y.astype(np.float64), axis=1)).max(axis=1)  # (N, K)
    bound = 2 * np.pi / T * (p["amplitudes"] * p["frequencies"]).sum(-1) / p["peak"]
    assert np.all(step <= bound + 1e-6)
    assert step.max() < 0.15
    # second differences are tiny compared with the signal: no jumps
    assert np.abs(np.diff(Y, n=2, axis=1)).max() < 0.01


def test_trajectory_regression_deterministic():
    a = data.trajectory_regression(3, 50, seed=4)
    b = data.trajectory_regression(3, 50, seed=4)
    c = data.trajectory_regression(3, 50, seed=5)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not np.array_equal(a[1], c[1])
    # targets do not depend on the input settings
    d = data.trajectory_regression(3, 50, n_inputs=7, input_rate=0.2, seed=4)
    assert np.array_equal(a[1], d[1])
    with pytest.raises(ValueError, match=named("frequencies")):
        data.trajectory_regression(3, 50, frequencies=(1, 25))


# ---------------------------------------------------------------------------
# digits (optional scikit-learn)
# ---------------------------------------------------------------------------


def test_digits_latency_and_rate():
    pytest.importorskip("sklearn")
    X, y = data.digits(n_steps=20)
    assert X.shape == (1797, 20, 64) and X.dtype == np.float32
    assert y.dtype == np.int64 and set(np.unique(y)) == set(range(10))
    t = spike_times(X)
    from sklearn.datasets import load_digits

    img = load_digits().data
    np.testing.assert_array_equal(t, np.floor(19 - img / 16 * 19 + 0.5))  # bright → early
    Xr, yr = data.digits(n_steps=30, encoding="rate", max_rate=0.5, seed=0)
    assert Xr.shape == (1797, 30, 64) and np.array_equal(yr, y)
    n = 1797 * 30 * 64
    p = (img / 16 * 0.5).mean()
    assert abs(Xr.mean() - p) < 5 * math.sqrt(0.25 / n)
    with pytest.raises(ValueError, match=named("encoding")):
        data.digits(encoding="phase")


def test_digits_without_sklearn_says_how_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "sklearn" or name.startswith("sklearn."):
            raise ImportError("No module named 'sklearn'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=re.escape("pip install refsnn[digits]")):
        data.digits()


# ---------------------------------------------------------------------------
# batches
# ---------------------------------------------------------------------------


def test_batches_cover_every_sample_once_time_major():
    N, T, M = 23, 7, 3
    X = np.zeros((N, T, M), dtype=np.float32)
    X[:, 0, 0] = np.arange(N)  # tag each sample
    y = np.arange(N, dtype=np.int64)
    seen = []
    shapes = []
    for xb, yb in data.batches(X, y, 5, rng=np.random.default_rng(0)):
        assert xb.ndim == 3 and xb.shape[0] == T and xb.shape[2] == M
        assert xb.flags.c_contiguous
        np.testing.assert_array_equal(xb[0, :, 0], yb)  # x and y stay paired
        seen.extend(yb.tolist())
        shapes.append(xb.shape[1])
    assert sorted(seen) == list(range(N))
    assert shapes == [5, 5, 5, 5, 3]
    assert seen != list(range(N))  # shuffled


def test_batches_options():
    N, T, M = 10, 4, 2
    X = np.random.default_rng(0).random((N, T, M))
    y = np.arange(N)
    out = list(data.batches(X, y, 4, shuffle=False))
    assert [b[1].tolist() for b in out] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    np.testing.assert_array_equal(out[0][0], X[:4].transpose(1, 0, 2))
    assert len(list(data.batches(X, y, 4, shuffle=False, drop_last=True))) == 2
    # a fresh order each epoch from one Generator
    g = np.random.default_rng(3)
    e1 = np.concatenate([b[1] for b in data.batches(X, y, 3, rng=g)])
    e2 = np.concatenate([b[1] for b in data.batches(X, y, 3, rng=g)])
    assert sorted(e1) == sorted(e2) == list(range(N)) and not np.array_equal(e1, e2)
    # sequence targets (N, T, K) come out time-major too
    Y = np.random.default_rng(1).random((N, T, 2))
    xb, yb = next(iter(data.batches(X, Y, 4, shuffle=False)))
    assert yb.shape == (T, 4, 2)
    np.testing.assert_array_equal(yb, Y[:4].transpose(1, 0, 2))


def test_batches_bad_input_raises_at_call():
    X = np.zeros((4, 3, 2))
    with pytest.raises(ValueError, match=named("rng")):
        data.batches(X, np.arange(4), 2)  # shuffle needs an rng; raised before iterating
    with pytest.raises(ValueError, match=named("y")):
        data.batches(X, np.arange(3), 2, shuffle=False)
    with pytest.raises(ValueError, match=named("X")):
        data.batches(np.zeros((4, 3)), np.arange(4), 2, shuffle=False)
    with pytest.raises(ValueError, match=named("batch_size")):
        data.batches(X, np.arange(4), 0, shuffle=False)


# ---------------------------------------------------------------------------
# Bad arguments of the generators
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, arg, exc",
    [
        (dict(n_classes=1), "n_classes", ValueError),
        (dict(n_samples_per_class=1), "n_samples_per_class", ValueError),
        (dict(alpha=0.0), "alpha", ValueError),
        (dict(step_frac=1.5), "step_frac", ValueError),
        (dict(step_frac=0.0), "step_frac", ValueError),
        (dict(seed=-1), "seed", ValueError),
        (dict(seed=1.5), "seed", TypeError),
        (dict(dtype=np.int32), "dtype", TypeError),
        (dict(n_units=0), "n_units", ValueError),
    ],
)
def test_randman_bad_arguments(kwargs, arg, exc):
    with pytest.raises(exc, match=named(arg)):
        data.randman(**{**SMALL, **kwargs})


def test_current_encode_is_the_value_on_every_step():
    v = np.array([[0.0, 0.25, 1.0], [0.5, -2.0, 3.0]])
    x = data.current_encode(v, 4, scale=2.0)
    assert x.shape == (2, 4, 3) and x.dtype == np.float32
    for t in range(4):
        np.testing.assert_array_equal(x[:, t], (2.0 * v).astype(np.float32))
    assert data.current_encode(v, 1, dtype=np.float64).dtype == np.float64


def test_current_encode_rejects_bad_input():
    with pytest.raises(ValueError, match=named("values")):
        data.current_encode(np.array([0.2, 0.3]), 5)       # 1-D
    with pytest.raises(ValueError, match=named("values")):
        data.current_encode(np.array([[np.inf]]), 5)
    with pytest.raises(TypeError, match=named("values")):
        data.current_encode(np.array([[1, 0]]), 5)          # integers are not converted silently
    with pytest.raises(ValueError, match=named("scale")):
        data.current_encode(np.array([[0.5]]), 5, scale=0.0)
    with pytest.raises(ValueError, match=named("n_steps")):
        data.current_encode(np.array([[0.5]]), 0)
