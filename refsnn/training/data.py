r"""Offline data sets and spike encoders, all generated in the package.

Nothing here downloads anything: every data set is computed from its definition
(random manifolds, the Yin-Yang geometry, sums of sinusoids) or, for
:func:`digits`, read from the 8×8 digits that scikit-learn ships inside its
wheel. All randomness comes from a ``numpy.random.Generator`` or an integer seed
passed in; nothing touches numpy's global random state.

Layout
------
Data sets are stored **sample-major**: spike inputs ``X`` have shape
``(N, T, M)`` (N samples, T steps, M input channels), labels ``y`` have shape
``(N,)`` and dtype int64. The network (:mod:`refsnn.lif`) is **time-major**,
``(T, B, M)``; :func:`batches` turns one into the other. Spike arrays are float
(float32 by default; ``dtype=np.float64`` for gradient checks) and hold spike
*counts* per step, which are 0 or 1 everywhere except in :func:`randman` with
``n_spikes > 1`` (two spikes of one unit may share a step there).

Contents
--------
================================  ===========================================================
:func:`randman`                   random-manifold spike-timing task (Zenke & Vogels 2021)
:func:`train_test_split`          random split along the sample axis
:func:`yin_yang`                  the Yin-Yang points (Kriener, Göltz & Petrovici 2021)
:func:`yin_yang_label`            the class of given points under the Yin-Yang geometry
:func:`yin_yang_splits`           the standard 5000 / 1000 / 1000 splits, seeds 42 / 41 / 40
:func:`latency_encode`            one spike per feature, at a step linear in the value
:func:`poisson_encode`            Bernoulli spikes with a per-step probability
:func:`trajectory_regression`     frozen spike patterns → smooth target trajectories
:func:`digits`                    scikit-learn's bundled 8×8 digits, latency or rate coded
:func:`batches`                   shuffled mini-batches, time-major
================================  ===========================================================

Bad arguments raise ``ValueError`` or ``TypeError`` whose message starts with the
argument's name and says what was expected. Values outside an encoder's range
are rejected, never clipped.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .._validate import check_bool, check_choice, check_positive_int, float_array, real_scalar

__all__ = [
    "randman",
    "randman_cutoff",
    "train_test_split",
    "YIN_YANG_CLASSES",
    "yin_yang",
    "yin_yang_label",
    "yin_yang_splits",
    "latency_encode",
    "current_encode",
    "poisson_encode",
    "trajectory_regression",
    "digits",
    "batches",
]


# --------------------------------------------------------------------------- helpers


def _rng(name, seed):
    """A Generator from ``seed`` (a Generator is used as is, an int seeds a new one)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(
            f"{name} must be a numpy.random.Generator or a non-negative integer seed, "
            f"got {type(seed).__name__}"
        )
    if seed < 0:
        raise ValueError(f"{name} as an integer seed must be >= 0, got {seed}")
    return np.random.default_rng(int(seed))


def _float_dtype(name, dtype):
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"{name} must be np.float32 or np.float64, got {dtype!r}") from exc
    if dt not in (np.float32, np.float64):
        raise TypeError(f"{name} must be np.float32 or np.float64, got {dt}")
    return dt


def _int_at_least(name, value, low):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _unit_interval(name, values):
    """Check a finite float (N, F) array with every entry in [0, 1]."""
    arr = float_array(name, values)
    if arr.ndim != 2:
        raise ValueError(f"{name} has shape {arr.shape}, expected (N, F): samples × features")
    bad = (arr < 0) | (arr > 1)
    if np.any(bad):
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} must lie in [0, 1]; entry {idx} is {arr[idx]!r} "
            "(refsnn does not clip: rescale the data first)"
        )
    return arr


# --------------------------------------------------------------------------- randman


RANDMAN_SPECTRA = ("torch", "numpy")


def randman_cutoff(alpha, prec=1e-3, max_cutoff=1000):
    r"""Number of Fourier terms K of a randman function: ``min(ceil(prec^(-1/α)), max_cutoff)``.

    The reference's precision argument: the NumPy backend's weight of term i is
    ``(i+1)^-α``, so K is the smallest count with ``K^-α <= prec`` (every omitted
    term weighs less than ``prec``). For α = 2 and prec = 1e-3, K = 32.
    """
    alpha = real_scalar("alpha", alpha, low=0, low_open=True)
    prec = real_scalar("prec", prec, low=0, high=1, low_open=True, high_open=True)
    max_cutoff = check_positive_int("max_cutoff", max_cutoff)
    return int(min(math.ceil(prec ** (-1.0 / alpha)), max_cutoff))


def randman_spectrum(K, alpha, spectrum="torch"):
    r"""Weights ``s_i`` of the terms i = 0 … K−1: ``1/((i+1)^α + 1)`` (``"torch"``, the
    reference's default backend) or ``1/(i+1)^α`` (``"numpy"``, its NumPy backend)."""
    if spectrum not in RANDMAN_SPECTRA:
        raise ValueError(f"spectrum must be one of {RANDMAN_SPECTRA}, got {spectrum!r}")
    r = np.arange(K, dtype=np.float64) + 1.0
    return 1.0 / (r ** alpha + 1.0) if spectrum == "torch" else r ** (-alpha)


def _randman_values(xi, amp, freq, phase, alpha, spectrum="torch"):
    """Evaluate the embedding: ``xi (n, D)``; ``amp, freq, phase (M, D, K)`` → ``(n, M)``.

    Term i = 0 … K−1 of unit m, dimension d: ``amp·s_i·sin(2π(i·freq·ξ_d + phase))``."""
    n = xi.shape[0]
    M, D, K = amp.shape
    i = np.arange(K, dtype=np.float64)
    weight = amp * randman_spectrum(K, alpha, spectrum)  # (M, D, K)
    out = np.ones((n, M))
    for d in range(D):
        # 2π (i F_i ξ + P_i), shape (n, M, K)
        arg = 2.0 * np.pi * (xi[:, d, None, None] * (i * freq[:, d, :])[None] + phase[None, :, d, :])
        out *= np.einsum("nmk,mk->nm", np.sin(arg), weight[:, d, :])
    return out


def randman(
    n_classes=10,
    n_units=20,
    n_steps=100,
    dim_manifold=1,
    n_samples_per_class=1000,
    alpha=2.0,
    n_spikes=1,
    step_frac=1.0,
    seed=0,
    dtype=np.float32,
    spectrum="torch",
):
    r"""The random-manifold spike-timing task of Zenke & Vogels (2021).

    Reimplemented from the published definition (F. Zenke and T. P. Vogels, "The
    remarkable robustness of surrogate gradient learning for instilling complex
    function in spiking neural networks", Neural Computation 33(4), 2021), following
    the spectrum and phases of the reference ``randman`` package (github.com/fzenke/randman).
    Every input unit fires exactly ``n_spikes``
    spikes per sample, so spike counts carry no information: the class is in the
    spike *times* alone.

    Definition
    ----------
    For each class c and each spike index s (``n_spikes`` of them) there is one
    random smooth manifold: a map from the manifold coordinate
    ``ξ ∈ [0, 1]^D`` (D = ``dim_manifold``) to ``R^M`` (M = ``n_units``). Its
    coordinate m is a product over the manifold dimensions of random 1-D
    Fourier series:

    .. math::

        y_m(ξ) = \prod_{d=1}^{D} f_{m,d}(ξ_d), \qquad
        f_{m,d}(x) = \sum_{i=0}^{K-1} A_{m,d,i}\, s_i
                     \sin\!\big(2π\,(i\,F_{m,d,i}\,x + P_{m,d,i})\big),

    with ``A, F, P ~ U[0, 1)`` independent (amplitude, frequency factor, phase:
    term i has frequency ``i F ≤ i`` cycles per unit of ξ), except ``A_{m,d,0} = 0``:
    term 0 has frequency 0, a constant offset, which the reference zeroes (its
    ``use_bias=False``). The spectrum (``spectrum``) is the reference's:
    ``s_i = 1/((i+1)^α + 1)`` for ``"torch"`` (its default backend, which its spiking
    data sets use) or ``s_i = 1/(i+1)^α`` for ``"numpy"`` (:func:`randman_spectrum`).
    α (``alpha``) sets the smoothness. The cut-off K is the reference's:
    ``K = min(ceil(prec^(-1/α)), 1000)`` with ``prec = 1e-3`` (:func:`randman_cutoff`;
    K = 32 for α = 2).

    (refsnn's first generator gave term k = 1 … K frequency ``k F`` and weight
    ``k^-α`` and kept every amplitude. At α = 1 its data were far easier, at D = 3
    harder than the reference's; no test or notebook depends on it, so it is gone.)

    Samples: per class, ``n_samples_per_class`` points ``ξ_i ~ U[0, 1]^D``; the
    same ξ_i is mapped through all ``n_spikes`` manifolds of the class.

    Standardisation: per class, per spike index and per unit, min–max over that
    class's samples,

    .. math::

        z_{i,m} = \frac{y_m(ξ_i) - \min_j y_m(ξ_j)}{\max_j y_m(ξ_j) - \min_j y_m(ξ_j)} \in [0, 1],

    so within a class every unit has its earliest sample at z = 0 and its latest at
    z = 1 exactly.

    Spike times: unit m fires (once per spike index) at step

    .. math::

        t_{i,m} = \min\big(\lfloor z_{i,m}\cdot \mathrm{step\_frac}\cdot T \rfloor,\; T - 1\big).

    The clip is part of the definition, not handling of bad input: z = 1 is always
    reached (by the class's maximum), and with ``step_frac = 1`` it would give
    step T, one past the last; it belongs to the last bin, T − 1. (The ``randman``
    package divides by ``max − min + 1e-7`` instead, which puts the maximum just
    below 1 and hence in the same bin T − 1.) So with ``step_frac = 1`` each unit's
    spike times in each class span exactly 0 … T − 1; with ``step_frac < 1`` the
    spikes fill the first ``step_frac`` of the trial.

    The classes are concatenated and shuffled together (one permutation of all
    N = ``n_classes · n_samples_per_class`` samples).

    Configuration used in refsnn
    ----------------------------
    The defaults are 10 classes, 20 input units, 1-D manifolds, T = 100 steps, one
    spike per input (α = 2, step_frac = 1); ``n_samples_per_class=1000`` is the
    ``randman`` package's default. 1-D manifolds are saturated (a 5-nearest-neighbour
    classifier on the spike times is near 100%); the ``randman`` training task and
    ``benchmarks/bench_randman.py`` use D = 3, which is not.

    Parameters
    ----------
    n_classes, n_units, n_steps, dim_manifold : int
        Classes, input units M, time steps T, manifold dimension D (all ≥ 1;
        ``n_classes`` ≥ 2).
    n_samples_per_class : int
        Samples per class (≥ 2, so that the min–max standardisation is defined).
    alpha : float
        Spectral fall-off exponent α > 0.
    n_spikes : int
        Spikes per unit per sample (one independent manifold each).
    step_frac : float
        Fraction of the trial, in (0, 1], that the spike times span.
    spectrum : "torch" or "numpy"
        The reference backend whose spectrum to use (see above).
    seed : int or numpy.random.Generator
        All randomness. The manifolds are drawn first, then the samples, then the
        permutation, so the manifolds for a seed do not depend on
        ``n_samples_per_class``.
    dtype : np.float32 or np.float64

    Returns
    -------
    X : ndarray, shape (N, T, M), ``dtype``
        Spike counts (0/1 when ``n_spikes == 1``); ``X[i].sum(0) == n_spikes``.
    y : ndarray, shape (N,), int64
        Class indices.
    """
    n_classes = _int_at_least("n_classes", n_classes, 2)
    n_units = check_positive_int("n_units", n_units)
    n_steps = check_positive_int("n_steps", n_steps)
    dim_manifold = check_positive_int("dim_manifold", dim_manifold)
    n_samples_per_class = _int_at_least("n_samples_per_class", n_samples_per_class, 2)
    alpha = real_scalar("alpha", alpha, low=0, low_open=True)
    n_spikes = check_positive_int("n_spikes", n_spikes)
    step_frac = real_scalar("step_frac", step_frac, low=0, high=1, low_open=True)
    rng = _rng("seed", seed)
    dt = _float_dtype("dtype", dtype)
    if spectrum not in RANDMAN_SPECTRA:
        raise ValueError(f"spectrum must be one of {RANDMAN_SPECTRA}, got {spectrum!r}")

    K = randman_cutoff(alpha)
    C, S, M, D, n = n_classes, n_spikes, n_units, dim_manifold, n_samples_per_class
    # (C, S, 3, M, D, K): amplitude, frequency factor, phase
    params = rng.random((C, S, 3, M, D, K))
    params[:, :, 0, :, :, 0] = 0.0     # no constant term (the reference's use_bias=False)
    xi = rng.random((C, n, D))

    N = C * n
    times = np.empty((N, S, M), dtype=np.int64)
    for c in range(C):
        for s in range(S):
            amp, freq, phase = params[c, s]
            vals = _randman_values(xi[c], amp, freq, phase, alpha, spectrum)
            lo, hi = vals.min(axis=0), vals.max(axis=0)
            span = hi - lo
            if np.any(span <= 0):  # probability zero for n >= 2; guard anyway
                raise RuntimeError("randman: a unit took the same value on every sample of a class")
            z = (vals - lo) / span
            t = np.floor(z * (step_frac * n_steps)).astype(np.int64)
            times[c * n:(c + 1) * n, s, :] = np.minimum(t, n_steps - 1)
    labels = np.repeat(np.arange(C, dtype=np.int64), n)

    perm = rng.permutation(N)
    times, labels = times[perm], labels[perm]

    X = np.zeros((N, n_steps, M), dtype=dt)
    rows = np.broadcast_to(np.arange(N)[:, None, None], times.shape)
    units = np.broadcast_to(np.arange(M)[None, None, :], times.shape)
    np.add.at(X, (rows.ravel(), times.ravel(), units.ravel()), 1)
    return X, labels


def train_test_split(X, y, test_fraction=0.2, seed=0):
    """Split ``X`` and ``y`` along the sample axis (axis 0) at random.

    ``round(test_fraction · N)`` samples go to the test set (at least one in each
    part, else ``ValueError``). Not stratified.

    Returns
    -------
    X_train, X_test, y_train, y_test
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim < 1:
        raise ValueError("X must have a sample axis (axis 0), got a scalar")
    N = X.shape[0]
    if y.ndim < 1 or y.shape[0] != N:
        raise ValueError(f"y has shape {y.shape}, expected its first axis to match X's {N} samples")
    test_fraction = real_scalar("test_fraction", test_fraction, low=0, high=1, low_open=True, high_open=True)
    rng = _rng("seed", seed)
    n_test = int(round(test_fraction * N))
    if n_test < 1 or n_test > N - 1:
        raise ValueError(
            f"test_fraction={test_fraction} leaves {n_test} of {N} samples for testing; "
            "expected at least one sample in each of the train and test sets"
        )
    perm = rng.permutation(N)
    test, train = perm[:n_test], perm[n_test:]
    return X[train], X[test], y[train], y[test]


# --------------------------------------------------------------------------- Yin-Yang

YIN_YANG_CLASSES = ("yin", "yang", "dot")


# Radii limits: (2R)² must be a finite float, and the dots (area 2πr² of the square's
# 4R²) must be large enough for rejection sampling to find them: r ≥ 1e-3·R accepts
# about one draw in 600 000.
YIN_YANG_MAX_R = 1e150
YIN_YANG_MIN_RATIO = 1e-3


def _check_radii(r_small, r_big):
    r_big = real_scalar("r_big", r_big, low=0, low_open=True)
    r_small = real_scalar("r_small", r_small, low=0, low_open=True)
    if r_big > YIN_YANG_MAX_R:
        raise ValueError(f"r_big must be <= {YIN_YANG_MAX_R:g} (the square (2 r_big)² must be a finite "
                         f"float), got {r_big}")
    if not r_small < r_big / 2:
        raise ValueError(
            f"r_small must be < r_big / 2 = {r_big / 2} (a dot must fit inside its lobe), got {r_small}"
        )
    if r_small < YIN_YANG_MIN_RATIO * r_big:
        raise ValueError(f"r_small must be >= {YIN_YANG_MIN_RATIO:g}·r_big = {YIN_YANG_MIN_RATIO * r_big:g}: "
                         f"smaller dots cannot be rejection-sampled in reasonable time, got {r_small}")
    return r_small, r_big


def yin_yang_label(x, y, r_small=0.1, r_big=0.5):
    r"""Class of points ``(x, y)`` under the Yin-Yang geometry (Kriener et al. 2021).

    Write R = ``r_big``, r = ``r_small``. The figure is the disk of radius R
    centred at (R, R). The two dots are centred at ``(R/2, R)`` (left) and
    ``(3R/2, R)`` (right); ``d_L``, ``d_R`` are the distances to them. Then

    * **dot (2)**: ``d_L < r`` or ``d_R < r``;
    * **yang (1)**: otherwise, if ``d_R ≤ r``, or ``r < d_L ≤ R/2`` (the left
      lobe), or ``y > R`` and ``d_R > R/2`` (the upper half outside the right lobe);
    * **yin (0)**: every other point of the disk — the lower half outside the left
      lobe, plus the right lobe.

    These are the inequalities of the reference definition, boundaries included,
    so labels agree with it point for point. ``yin`` and ``yang`` each cover
    ``π(R²/2 − r²)``, the dots ``2πr²``. Points outside the disk are labelled
    by the same formulas but are never sampled.

    Returns an int64 array of the broadcast shape of ``x`` and ``y``.
    """
    r_small, r_big = _check_radii(r_small, r_big)
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    d_right = np.hypot(x - 1.5 * r_big, y - r_big)
    d_left = np.hypot(x - 0.5 * r_big, y - r_big)
    yang = (
        (d_right <= r_small)
        | ((d_left > r_small) & (d_left <= 0.5 * r_big))
        | ((y > r_big) & (d_right > 0.5 * r_big))
    )
    dot = (d_right < r_small) | (d_left < r_small)
    return np.where(dot, 2, yang.astype(np.int64)).astype(np.int64)


def yin_yang(n_samples, r_small=0.1, r_big=0.5, seed=0, dtype=np.float64):
    r"""The Yin-Yang data set (L. Kriener, J. Göltz, M. A. Petrovici, "The Yin-Yang
    dataset", 2021, arXiv:2102.08211).

    Sampling (the paper's class-balanced rejection sampling): for each sample,

    1. draw the goal class ``c`` uniformly from {0, 1, 2};
    2. draw ``(x, y)`` uniformly from the square ``[0, 2R]²``;
    3. reject it if it lies outside the disk of radius R centred at (R, R)
       (distance > R), or if its class (:func:`yin_yang_label`) is not ``c``;
       otherwise keep it, else go back to 2.

    So labels are i.i.d. uniform over the three classes (each ≈ 1/3; the dots,
    only 2πr² of area, are as frequent as yin and yang), and each point is uniform
    on its class's region. This function draws all goal classes first, then
    rejection-samples each class's points in vectorised batches; the result has
    the same distribution as the sample-by-sample loop (not the same numbers as
    the reference code, which uses numpy's global generator).

    Each sample is ``(x, y, 1 − x, 1 − y)``: the mirrored coordinates let neurons
    without a bias see the data symmetrically (they equal ``2R − x`` only for the
    default R = 0.5, as in the reference).

    Class names are :data:`YIN_YANG_CLASSES` = ``("yin", "yang", "dot")`` for
    labels 0, 1, 2, as in the reference's class list. Labels are computed from the
    float64 coordinates, before any cast to ``dtype``.

    Parameters
    ----------
    n_samples : int
    r_small, r_big : float
        Dot radius r and figure radius R (0 < r < R/2).
    seed : int or numpy.random.Generator
    dtype : np.float32 or np.float64 (default float64)

    Returns
    -------
    points : ndarray, shape (n_samples, 4)
    labels : ndarray, shape (n_samples,), int64
    """
    n_samples = check_positive_int("n_samples", n_samples)
    r_small, r_big = _check_radii(r_small, r_big)
    rng = _rng("seed", seed)
    dt = _float_dtype("dtype", dtype)

    goals = rng.integers(0, 3, size=n_samples)
    square = (2 * r_big) ** 2
    body = np.pi * (r_big**2 / 2 - r_small**2)  # yin and yang each
    area = {0: body, 1: body, 2: 2 * np.pi * r_small**2}
    xy = np.empty((n_samples, 2))
    for c in range(3):
        where = np.flatnonzero(goals == c)
        need = where.size
        if need == 0:          # small n_samples: a class may not occur
            continue
        got = []
        have = 0
        accept = area[c] / square
        while have < need:
            m = max(64, int(1.2 * (need - have) / accept) + 1)
            cand = rng.random((m, 2)) * (2 * r_big)
            inside = np.hypot(cand[:, 0] - r_big, cand[:, 1] - r_big) <= r_big
            cand = cand[inside]
            cand = cand[yin_yang_label(cand[:, 0], cand[:, 1], r_small, r_big) == c]
            got.append(cand)
            have += cand.shape[0]
        xy[where] = np.concatenate(got)[:need]

    points = np.column_stack([xy[:, 0], xy[:, 1], 1.0 - xy[:, 0], 1.0 - xy[:, 1]]).astype(dt)
    return points, goals.astype(np.int64)


def yin_yang_splits(r_small=0.1, r_big=0.5, sizes=(5000, 1000, 1000), seeds=(42, 41, 40), dtype=np.float64):
    """The standard Yin-Yang splits: 5000 train, 1000 validation, 1000 test.

    The seeds 42 / 41 / 40 are the reference's. They must differ: with rejection
    sampling, one seed would give the same points in every split.

    Returns
    -------
    dict with keys ``"train"``, ``"validation"``, ``"test"``, each ``(points, labels)``.
    """
    sizes = tuple(sizes)
    seeds = tuple(seeds)
    if len(sizes) != 3:
        raise ValueError(f"sizes must have 3 entries (train, validation, test), got {sizes!r}")
    if len(seeds) != 3:
        raise ValueError(f"seeds must have 3 entries (train, validation, test), got {seeds!r}")
    if len(set(seeds)) != 3:
        raise ValueError(f"seeds must be three different seeds, got {seeds!r}")
    names = ("train", "validation", "test")
    return {
        name: yin_yang(size, r_small=r_small, r_big=r_big, seed=seed, dtype=dtype)
        for name, size, seed in zip(names, sizes, seeds)
    }


# --------------------------------------------------------------------------- encoders


def latency_encode(values, n_steps, t_min=0, t_max=None, bias=False, larger_first=False, dtype=np.float32):
    r"""One spike per feature, at a step linear in its value.

    Feature f of sample i spikes once, at

    .. math::

        t_{i,f} = \lfloor t_\min + v_{i,f}\,(t_\max - t_\min) + ½ \rfloor
        \qquad (\text{larger\_first=False, the default}),

    i.e. the value rounded half up onto the grid: **larger values spike later**,
    0 at ``t_min`` and 1 at ``t_max``. This is the convention of the Yin-Yang /
    first-spike-time work (Göltz et al.; Wunderlich & Pehle's EventProp), where a
    coordinate x is sent as a spike at ``t_early + x (t_late − t_early)``. With
    ``larger_first=True`` the order is reversed,
    ``t = ⌊t_max − v (t_max − t_min) + ½⌋``: larger values spike earlier (the usual
    time-to-first-spike code for image intensities).

    With ``bias=True`` one extra channel (the last) spikes at step 0 in every
    sample, a reference spike for neurons without a bias.

    Parameters
    ----------
    values : float array (N, F), every entry in [0, 1]
        Out-of-range values raise ``ValueError``; they are not clipped.
    n_steps : int
        T.
    t_min, t_max : int
        Steps for the values 0 and 1; ``0 <= t_min <= t_max <= n_steps − 1``.
        ``t_max=None`` means ``n_steps − 1``.
    bias : bool
    larger_first : bool
    dtype : np.float32 or np.float64

    Returns
    -------
    ndarray, shape (N, T, F + bias), ``dtype``, with exactly one 1 per channel.
    """
    v = _unit_interval("values", values).astype(np.float64)
    n_steps = check_positive_int("n_steps", n_steps)
    if isinstance(t_min, (bool, np.bool_)) or not isinstance(t_min, numbers.Integral):
        raise TypeError(f"t_min must be an integer step, got {t_min!r}")
    if t_max is None:
        t_max = n_steps - 1
    if isinstance(t_max, (bool, np.bool_)) or not isinstance(t_max, numbers.Integral):
        raise TypeError(f"t_max must be an integer step or None, got {t_max!r}")
    t_min, t_max = int(t_min), int(t_max)
    if not 0 <= t_min <= n_steps - 1:
        raise ValueError(f"t_min must be in [0, n_steps − 1] = [0, {n_steps - 1}], got {t_min}")
    if not t_min <= t_max <= n_steps - 1:
        raise ValueError(f"t_max must be in [t_min, n_steps − 1] = [{t_min}, {n_steps - 1}], got {t_max}")
    bias = check_bool("bias", bias)
    larger_first = check_bool("larger_first", larger_first)
    dt = _float_dtype("dtype", dtype)

    span = t_max - t_min
    if larger_first:
        steps = np.floor(t_max - v * span + 0.5).astype(np.int64)
    else:
        steps = np.floor(t_min + v * span + 0.5).astype(np.int64)
    N, F = v.shape
    out = np.zeros((N, n_steps, F + int(bias)), dtype=dt)
    rows = np.repeat(np.arange(N), F)
    cols = np.tile(np.arange(F), N)
    out[rows, steps.ravel(), cols] = 1
    if bias:
        out[:, 0, F] = 1
    return out


def current_encode(values, n_steps, scale=1.0, dtype=np.float32):
    r"""Each feature as a constant input current over the trial (no spikes in the input).

    .. math::

        x_{i,t,f} = \text{scale}\cdot v_{i,f}, \qquad t = 0, …, T − 1.

    The first layer's neurons integrate the current and fire at a rate that grows
    with it, so the network is rate coded from its first spiking layer on (the
    "direct" input of snnTorch's and SpikingJelly's tutorials). Unlike Bernoulli
    spikes (:func:`poisson_encode`) it adds no sampling noise, and unlike one
    spike per feature (:func:`latency_encode`) it drives the neurons on every step.

    Parameters
    ----------
    values : float array (N, F), finite (any range: it is a current, not a probability)
    n_steps : int
        T.
    scale : float > 0
    dtype : np.float32 or np.float64

    Returns
    -------
    ndarray, shape (N, T, F), ``dtype``.
    """
    v = float_array("values", values).astype(np.float64)    # finite floats
    if v.ndim != 2:
        raise ValueError(f"values has shape {v.shape}, expected (N, F): samples × features")
    n_steps = check_positive_int("n_steps", n_steps)
    scale = real_scalar("scale", scale, low=0, low_open=True)
    dt = _float_dtype("dtype", dtype)
    return np.repeat((scale * v)[:, None, :], n_steps, axis=1).astype(dt)


def poisson_encode(rates, n_steps, rng, dtype=np.float32):
    r"""Bernoulli ("Poisson") spikes: ``s_{i,t,f} = 1`` with probability ``rates[i, f]`` each step.

    Steps and features are independent; the expected count of feature f over the
    trial is ``T · rates[i, f]``. ``rates`` is a probability *per step* (a rate of
    ρ Hz at step dt is ``ρ·dt``), in [0, 1]; out-of-range values raise
    ``ValueError``.

    The uniform draws are taken sample by sample in C order, so the result for a
    seed does not depend on how the work is chunked internally.

    Returns
    -------
    ndarray, shape (N, T, F), ``dtype``, entries 0 or 1.
    """
    p = _unit_interval("rates", rates).astype(np.float64)
    n_steps = check_positive_int("n_steps", n_steps)
    rng = _rng("rng", rng)
    dt = _float_dtype("dtype", dtype)
    N, F = p.shape
    out = np.empty((N, n_steps, F), dtype=dt)
    chunk = max(1, 2_000_000 // max(1, n_steps * F))
    for start in range(0, N, chunk):
        stop = min(N, start + chunk)
        u = rng.random((stop - start, n_steps, F))
        out[start:stop] = u < p[start:stop, None, :]
    return out


# --------------------------------------------------------------------------- trajectories


def trajectory_regression(
    n_samples,
    n_steps=200,
    n_inputs=20,
    n_outputs=2,
    seed=0,
    input_rate=0.05,
    frequencies=(1, 2, 3),
    dtype=np.float32,
    return_params=False,
):
    r"""Sequence regression: frozen spike patterns → smooth target trajectories.

    A pattern-generation task for a recurrent SNN read out by a low-pass
    (leaky-integrator) decoder, as in the e-prop pattern-generation task (Bellec
    et al. 2020: a frozen Poisson input, a sum of sinusoids as target).

    Definition
    ----------
    *Targets.* For sample i and output k,

    .. math::

        \tilde y_{i,t,k} = \sum_{j} a_{i,k,j}\,\sin\!\Big(\frac{2π f_j t}{T} + φ_{i,k,j}\Big),
        \qquad y_{i,t,k} = \tilde y_{i,t,k} \big/ \max_{t'} |\tilde y_{i,t',k}|,

    with the integer frequencies ``f_j`` (cycles per trial; default 1, 2, 3),
    amplitudes ``a ~ U[0.5, 1.5)`` and phases ``φ ~ U[0, 2π)``. Each trajectory
    therefore peaks at exactly ±1, lies in [−1, 1], and has mean exactly zero
    over t = 0 … T − 1 (whole periods of integer frequencies below T/2). It is
    smooth on the step scale: ``|y_{t+1} − y_t| ≤ (2π/T) Σ_j a_j f_j / peak``.

    *Inputs.* Each sample has its own frozen pattern: every one of the
    ``n_inputs`` channels spikes independently with probability ``input_rate`` at
    every step (Bernoulli). The pattern is fixed for the sample, so the target is
    a deterministic function of the input history: a recurrent network can learn
    it by making its dynamics follow the pattern (the input supplies both *which*
    trajectory and, through its ongoing spikes, *where in time* it is). There is no
    structure shared between samples, so this tests fitting (memorising a few
    patterns, typically 1–20 samples evaluated on themselves), not generalisation.

    Random draws, in order: amplitudes, phases, then the input spikes; so the
    targets for a seed do not depend on ``n_inputs`` or ``input_rate``.

    Parameters
    ----------
    n_samples, n_steps, n_inputs, n_outputs : int
        N, T (≥ 2), M, K.
    seed : int or numpy.random.Generator
    input_rate : float in (0, 1]
        Spike probability per step of each input channel.
    frequencies : sequence of int
        Positive, distinct, each < T/2.
    dtype : np.float32 or np.float64
    return_params : bool
        Also return ``dict(amplitudes (N, K, J), phases (N, K, J), frequencies (J,),
        peak (N, K))``.

    Returns
    -------
    X : ndarray (N, T, M), ``dtype`` — input spikes
    Y : ndarray (N, T, K), ``dtype`` — targets
    (params : dict, if ``return_params``)
    """
    n_samples = check_positive_int("n_samples", n_samples)
    n_steps = _int_at_least("n_steps", n_steps, 2)
    n_inputs = check_positive_int("n_inputs", n_inputs)
    n_outputs = check_positive_int("n_outputs", n_outputs)
    rng = _rng("seed", seed)
    input_rate = real_scalar("input_rate", input_rate, low=0, high=1, low_open=True)
    try:
        freqs = list(frequencies)
    except TypeError as exc:
        raise TypeError(f"frequencies must be a sequence of integers, got {frequencies!r}") from exc
    if not freqs or any(
        isinstance(f, (bool, np.bool_)) or not isinstance(f, numbers.Integral) or not 0 < f < n_steps / 2
        for f in freqs
    ):
        raise ValueError(
            f"frequencies must be a non-empty sequence of integers in (0, n_steps/2) = (0, {n_steps / 2}), "
            f"got {frequencies!r}"
        )
    if len(set(int(f) for f in freqs)) != len(freqs):
        raise ValueError(f"frequencies must be distinct, got {frequencies!r}")
    dt = _float_dtype("dtype", dtype)
    return_params = check_bool("return_params", return_params)

    f = np.array([int(q) for q in freqs], dtype=np.float64)
    J = f.size
    amp = rng.uniform(0.5, 1.5, size=(n_samples, n_outputs, J))
    phase = rng.uniform(0.0, 2.0 * np.pi, size=(n_samples, n_outputs, J))
    t = np.arange(n_steps, dtype=np.float64)
    # (N, T, K, J)
    arg = 2.0 * np.pi * f[None, None, None, :] * t[None, :, None, None] / n_steps + phase[:, None, :, :]
    raw = np.einsum("ntkj,nkj->ntk", np.sin(arg), amp)
    peak = np.abs(raw).max(axis=1)  # (N, K)
    Y = (raw / peak[:, None, :]).astype(dt)

    X = (rng.random((n_samples, n_steps, n_inputs)) < input_rate).astype(dt)
    if return_params:
        return X, Y, {"amplitudes": amp, "phases": phase, "frequencies": f, "peak": peak}
    return X, Y


# --------------------------------------------------------------------------- digits


def digits(
    n_steps=50,
    encoding="latency",
    larger_first=True,
    bias=False,
    max_rate=0.2,
    seed=0,
    dtype=np.float32,
):
    """scikit-learn's bundled 8×8 handwritten digits, spike encoded.

    1797 images of the digits 0–9, 64 pixels with integer intensities 0–16 (the
    UCI optical-recognition test set that scikit-learn ships in its wheel:
    ``sklearn.datasets.load_digits``, no download). Intensities are divided by 16
    to lie in [0, 1], then

    * ``encoding="latency"``: :func:`latency_encode` over the whole trial
      (``t_min = 0``, ``t_max = T − 1``). By default ``larger_first=True``: the
      brightest pixels spike at step 0 and blank pixels at T − 1; every pixel
      spikes once. ``bias=True`` adds a 65th channel spiking at step 0.
    * ``encoding="rate"``: :func:`poisson_encode` with per-step probability
      ``max_rate · intensity/16`` (``seed`` is used only here).

    scikit-learn is an optional dependency: ``pip install refsnn[digits]``.

    Returns
    -------
    X : ndarray (1797, T, 64 [+1]), ``dtype``
    y : ndarray (1797,), int64
    """
    n_steps = check_positive_int("n_steps", n_steps)
    encoding = check_choice("encoding", encoding, ("latency", "rate"))
    larger_first = check_bool("larger_first", larger_first)
    bias = check_bool("bias", bias)
    max_rate = real_scalar("max_rate", max_rate, low=0, high=1)
    dt = _float_dtype("dtype", dtype)
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise ImportError(
            "refsnn.data.digits needs scikit-learn, an optional dependency; "
            "install it with: pip install refsnn[digits]"
        ) from exc
    bunch = load_digits()
    values = np.asarray(bunch.data, dtype=np.float64) / 16.0
    labels = np.asarray(bunch.target, dtype=np.int64)
    if encoding == "latency":
        X = latency_encode(values, n_steps, bias=bias, larger_first=larger_first, dtype=dt)
    else:
        if bias:
            raise ValueError("bias must be False with encoding='rate' (the bias channel is a latency spike)")
        X = poisson_encode(values * max_rate, n_steps, _rng("seed", seed), dtype=dt)
    return X, labels


# --------------------------------------------------------------------------- batches


def batches(X, y, batch_size, rng=None, shuffle=True, drop_last=False):
    """Mini-batches of a sample-major data set, time-major.

    Each epoch is one call: the samples are permuted once (``shuffle=True``) and
    cut into consecutive batches, so every sample appears exactly once (the last
    batch is smaller unless ``drop_last=True``, which drops it).

    Parameters
    ----------
    X : float array (N, T, M)
    y : array (N,) labels, or (N, ...) targets
        A 3-D ``y`` of shape (N, T, K) is a sequence target (e.g. from
        :func:`trajectory_regression`) and is yielded time-major like ``X``; any
        other ``y`` is yielded sample-major, ``y[idx]``.
    batch_size : int
    rng : numpy.random.Generator or int seed
        Required when ``shuffle=True`` (refsnn keeps no global random state). A
        Generator gives a fresh order on every call; an integer seed gives the
        same order every time.
    shuffle, drop_last : bool

    Yields
    ------
    x : ndarray (T, B, M), C-contiguous copy
    y : ndarray (B,) or (T, B, K)
    """
    X = float_array("X", X, finite=False)
    if X.ndim != 3:
        raise ValueError(f"X has shape {X.shape}, expected (N, T, M): sample-major spike inputs")
    y = np.asarray(y)
    N = X.shape[0]
    if y.ndim < 1 or y.shape[0] != N:
        raise ValueError(f"y has shape {y.shape}, expected its first axis to match X's {N} samples")
    if y.ndim == 3 and y.shape[1] != X.shape[1]:
        raise ValueError(
            f"y has shape {y.shape}; a 3-D y is a sequence target (N, T, K) and needs T = {X.shape[1]} like X"
        )
    batch_size = check_positive_int("batch_size", batch_size)
    shuffle = check_bool("shuffle", shuffle)
    drop_last = check_bool("drop_last", drop_last)
    if shuffle:
        if rng is None:
            raise ValueError(
                "rng must be a numpy.random.Generator or an integer seed when shuffle=True "
                "(refsnn keeps no global random state)"
            )
        order = _rng("rng", rng).permutation(N)
    else:
        order = np.arange(N)
    return _iter_batches(X, y, order, batch_size, drop_last)


def _iter_batches(X, y, order, batch_size, drop_last):
    N = order.size
    for start in range(0, N, batch_size):
        idx = order[start:start + batch_size]
        if drop_last and idx.size < batch_size:
            return
        xb = np.ascontiguousarray(X[idx].transpose(1, 0, 2))
        yb = y[idx]
        if y.ndim == 3:
            yb = np.ascontiguousarray(yb.transpose(1, 0, 2))
        yield xb, yb
