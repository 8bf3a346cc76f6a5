"""refsnn.optim: SGD (heavy ball / Nesterov), Adam(W), clipping by global norm.

The references here are written out independently of the module: SGD as the
recursion unrolled by hand, Adam as Kingma & Ba's Algorithm 1 over Python
scalars with the ``math`` module. Equation labels (S1–S5, A1–A4, C1–C2) refer to
the docstring of refsnn/training/optim.py.
"""

import copy
import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from refsnn.optim import (
    SGD,
    Adam,
    clip_by_global_norm,
    global_norm,
    init_state,
    state_keys,
    step,
)


def named(arg):
    """Regex: the message starts with the argument's name (e.g. "grads['L0.W'] has shape")."""
    return "^" + re.escape(arg) + r"(?![\w])"


def make_params(dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "L0.W": rng.standard_normal((3, 4)).astype(dtype),
        "L0.alpha": rng.uniform(0.5, 0.9, size=4).astype(dtype),
        "L1.b": np.asarray(rng.standard_normal(), dtype=dtype),  # 0-d parameter
    }


def make_grads(params, seed=1, scale=1.0):
    rng = np.random.default_rng(seed)
    return {k: (scale * rng.standard_normal(p.shape)).astype(p.dtype) for k, p in params.items()}


def assert_dicts_identical(a, b):
    """Same keys in the same order, same dtypes and shapes, bitwise-equal values."""
    assert list(a) == list(b)
    for k in a:
        x, y = np.asarray(a[k]), np.asarray(b[k])
        assert x.dtype == y.dtype, k
        assert x.shape == y.shape, k
        assert np.array_equal(x, y), k
        # bitwise, so that -0.0 vs 0.0 would also be caught
        assert x.tobytes() == y.tobytes(), k


# --------------------------------------------------------------------------- SGD


def test_sgd_plain_one_step_is_exact():
    p, g = make_params(), None
    g = make_grads(p)
    opt = SGD(lr=0.1)
    new, state = step(opt, p, g, init_state(opt, p))
    for k in p:
        assert np.array_equal(new[k], p[k] - 0.1 * g[k])
    assert int(state["t"]) == 1
    assert set(state) == {"t"}  # no buffers without momentum


def test_sgd_momentum_three_steps_unrolled():
    lr, mu = 0.05, 0.8
    p0 = make_params()
    g1, g2, g3 = (make_grads(p0, seed=s) for s in (11, 12, 13))
    opt = SGD(lr=lr, momentum=mu)
    p, state = p0, init_state(opt, p0)
    for g in (g1, g2, g3):
        p, state = step(opt, p, g, state)
    for k in p0:
        # b_1 = g_1 (b_0 = 0), b_{n} = mu b_{n-1} + g_n; p_n = p_{n-1} - lr b_n
        b1 = g1[k]
        p1 = p0[k] - lr * b1
        b2 = mu * b1 + g2[k]
        p2 = p1 - lr * b2
        b3 = mu * b2 + g3[k]
        p3 = p2 - lr * b3
        np.testing.assert_allclose(p[k], p3, rtol=1e-15, atol=1e-15)
        np.testing.assert_allclose(state["b/" + k], b3, rtol=1e-15, atol=1e-15)
    assert int(state["t"]) == 3


def test_sgd_nesterov_three_steps_unrolled():
    lr, mu = 0.05, 0.8
    p0 = make_params()
    g1, g2, g3 = (make_grads(p0, seed=s) for s in (21, 22, 23))
    opt = SGD(lr=lr, momentum=mu, nesterov=True)
    p, state = p0, init_state(opt, p0)
    for g in (g1, g2, g3):
        p, state = step(opt, p, g, state)
    for k in p0:
        b1 = g1[k]
        p1 = p0[k] - lr * (g1[k] + mu * b1)
        b2 = mu * b1 + g2[k]
        p2 = p1 - lr * (g2[k] + mu * b2)
        b3 = mu * b2 + g3[k]
        p3 = p2 - lr * (g3[k] + mu * b3)
        np.testing.assert_allclose(p[k], p3, rtol=1e-15, atol=1e-15)
    # and it differs from heavy ball
    q, s = p0, init_state(SGD(lr=lr, momentum=mu), p0)
    for g in (g1, g2, g3):
        q, s = step(SGD(lr=lr, momentum=mu), q, g, s)
    assert not np.allclose(q["L0.W"], p["L0.W"], rtol=1e-6, atol=0)


def test_sgd_weight_decay_is_coupled():
    lr, mu, wd = 0.1, 0.5, 0.3
    p0 = make_params()
    g1, g2 = make_grads(p0, seed=31), make_grads(p0, seed=32)
    # plain: p - lr (g + wd p)   (S1, S2)
    new, _ = step(SGD(lr=lr, weight_decay=wd), p0, g1, init_state(SGD(lr=lr), p0))
    for k in p0:
        np.testing.assert_allclose(new[k], p0[k] - lr * (g1[k] + wd * p0[k]), rtol=1e-15, atol=1e-15)
    # with momentum the decay enters the buffer (S1, S3, S4)
    opt = SGD(lr=lr, momentum=mu, weight_decay=wd)
    p, s = step(opt, p0, g1, init_state(opt, p0))
    p, s = step(opt, p, g2, s)
    for k in p0:
        b1 = g1[k] + wd * p0[k]
        p1 = p0[k] - lr * b1
        b2 = mu * b1 + (g2[k] + wd * p1)
        p2 = p1 - lr * b2
        np.testing.assert_allclose(p[k], p2, rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(s["b/" + k], b2, rtol=1e-14, atol=1e-15)


def test_sgd_decay_mask_selects_keys():
    lr, wd = 0.1, 0.3
    p0 = make_params()
    g = make_grads(p0)
    no_alpha = lambda k: not k.endswith(".alpha")  # noqa: E731
    opt = SGD(lr=lr, weight_decay=wd)
    new, _ = step(opt, p0, g, init_state(opt, p0), decay=no_alpha)
    assert np.array_equal(new["L0.alpha"], p0["L0.alpha"] - lr * g["L0.alpha"])
    np.testing.assert_allclose(new["L0.W"], p0["L0.W"] - lr * (g["L0.W"] + wd * p0["L0.W"]), rtol=1e-15)
    np.testing.assert_allclose(new["L1.b"], p0["L1.b"] - lr * (g["L1.b"] + wd * p0["L1.b"]), rtol=1e-15)


# --------------------------------------------------------------------------- Adam


def adam_reference(p0, grad_seq, lr, beta1, beta2, eps, wd=0.0):
    """Kingma & Ba, Algorithm 1, over Python scalars, plus AdamW's decoupled decay.

    p0: list of floats; grad_seq: list (over steps) of lists of floats.
    Returns (params, m, v) after len(grad_seq) steps.
    """
    n = len(p0)
    theta = [float(x) for x in p0]
    m = [0.0] * n
    v = [0.0] * n
    t = 0
    for grads in grad_seq:
        t += 1
        for i in range(n):
            gi = float(grads[i])
            m[i] = beta1 * m[i] + (1.0 - beta1) * gi
            v[i] = beta2 * v[i] + (1.0 - beta2) * gi * gi
            m_hat = m[i] / (1.0 - beta1**t)
            v_hat = v[i] / (1.0 - beta2**t)
            old = theta[i]
            theta[i] = old - lr * m_hat / (math.sqrt(v_hat) + eps)
            theta[i] -= lr * wd * old
    return theta, m, v


def run_adam(opt, p0, grad_seq, decay=None):
    p, s = p0, init_state(opt, p0)
    for g in grad_seq:
        p, s = step(opt, p, g, s, decay=decay)
    return p, s


def _flat(d, k):
    return np.asarray(d[k]).ravel().tolist()


@pytest.mark.parametrize("eps", [1e-8, 0.5])
@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.5, 0.7), (0.0, 0.0)])
def test_adam_three_steps_match_scalar_reference(eps, betas):
    b1, b2 = betas
    lr = 0.01
    p0 = make_params()
    gs = [make_grads(p0, seed=s) for s in (41, 42, 43)]
    gs[1]["L0.W"][0, 0] = 1e-9  # a tiny gradient, where eps matters most
    p, s = run_adam(Adam(lr=lr, beta1=b1, beta2=b2, eps=eps), p0, gs)
    assert int(s["t"]) == 3
    for k in p0:
        ref_p, ref_m, ref_v = adam_reference(_flat(p0, k), [_flat(g, k) for g in gs], lr, b1, b2, eps)
        np.testing.assert_allclose(np.ravel(p[k]), ref_p, rtol=0, atol=1e-12)
        np.testing.assert_allclose(np.ravel(s["m/" + k]), ref_m, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(np.ravel(s["v/" + k]), ref_v, rtol=1e-12, atol=1e-15)


def test_adam_bias_correction_first_step_is_lr_sign():
    # With bias correction, step 1 is lr * g / (|g| + eps); without it, it would be
    # lr * (1-b1) g / (sqrt(1-b2) |g| + eps), about 3.2x smaller for the defaults.
    p0 = make_params()
    g = make_grads(p0)
    p, _ = run_adam(Adam(lr=0.01, eps=1e-300), p0, [g])
    for k in p0:
        np.testing.assert_allclose(p[k], p0[k] - 0.01 * np.sign(g[k]), rtol=0, atol=1e-15)


def test_adam_eps_large_vs_small():
    p0 = make_params()
    gs = [make_grads(p0, seed=s, scale=1e-3) for s in (51, 52, 53)]
    small, _ = run_adam(Adam(lr=0.01, eps=1e-12), p0, gs)
    large, _ = run_adam(Adam(lr=0.01, eps=1.0), p0, gs)
    for k in p0:
        d_small = np.abs(small[k] - p0[k])
        d_large = np.abs(large[k] - p0[k])
        # small eps: steps of order lr; large eps (>> |g|): steps of order lr*|g|
        assert np.all(d_large < 0.01 * d_small)
        for got, eps in ((small, 1e-12), (large, 1.0)):
            ref, _, _ = adam_reference(_flat(p0, k), [_flat(g, k) for g in gs], 0.01, 0.9, 0.999, eps)
            np.testing.assert_allclose(np.ravel(got[k]), ref, rtol=0, atol=1e-12)


def test_adam_decoupled_weight_decay():
    lr, wd = 0.01, 0.2
    p0 = make_params()
    gs = [make_grads(p0, seed=s) for s in (61, 62, 63)]
    p_wd, s_wd = run_adam(Adam(lr=lr, weight_decay=wd), p0, gs)
    p_no, s_no = run_adam(Adam(lr=lr), p0, gs)
    for k in p0:
        ref, _, _ = adam_reference(_flat(p0, k), [_flat(g, k) for g in gs], lr, 0.9, 0.999, 1e-8, wd)
        np.testing.assert_allclose(np.ravel(p_wd[k]), ref, rtol=0, atol=1e-12)
        # decoupled: the decay never enters the moments
        assert np.array_equal(s_wd["m/" + k], s_no["m/" + k])
        assert np.array_equal(s_wd["v/" + k], s_no["v/" + k])
    # one step: exactly the Adam step plus -lr*wd*p
    one_wd, _ = run_adam(Adam(lr=lr, weight_decay=wd), p0, gs[:1])
    one_no, _ = run_adam(Adam(lr=lr), p0, gs[:1])
    for k in p0:
        np.testing.assert_allclose(one_wd[k], one_no[k] - lr * wd * p0[k], rtol=0, atol=1e-15)


def test_adam_decay_mask():
    lr, wd = 0.01, 0.2
    p0 = make_params()
    g = make_grads(p0)
    only_W = lambda k: k.endswith(".W")  # noqa: E731
    masked, _ = run_adam(Adam(lr=lr, weight_decay=wd), p0, [g], decay=only_W)
    plain, _ = run_adam(Adam(lr=lr), p0, [g])
    assert np.array_equal(masked["L0.alpha"], plain["L0.alpha"])
    assert np.array_equal(masked["L1.b"], plain["L1.b"])
    np.testing.assert_allclose(masked["L0.W"], plain["L0.W"] - lr * wd * p0["L0.W"], rtol=0, atol=1e-15)


@pytest.mark.parametrize("c", [1e-4, 0.37, 25.0, 1e5])
def test_adam_invariant_to_gradient_scale(c):
    opt = Adam(lr=0.01, eps=1e-30)
    p0 = make_params()
    gs = [make_grads(p0, seed=s) for s in (71, 72, 73)]
    gs_c = [{k: c * v for k, v in g.items()} for g in gs]
    one, _ = run_adam(opt, p0, gs[:1])
    one_c, _ = run_adam(opt, p0, gs_c[:1])
    three, _ = run_adam(opt, p0, gs)
    three_c, _ = run_adam(opt, p0, gs_c)
    for k in p0:
        np.testing.assert_allclose(one_c[k] - p0[k], one[k] - p0[k], rtol=1e-12, atol=0)
        np.testing.assert_allclose(three_c[k] - p0[k], three[k] - p0[k], rtol=1e-10, atol=1e-15)
    # SGD is not scale invariant: sanity that the test can tell the difference
    s1, _ = step(SGD(lr=0.01), p0, gs[0], {"t": np.array(0)})
    s2, _ = step(SGD(lr=0.01), p0, gs_c[0], {"t": np.array(0)})
    assert not np.allclose(s1["L0.W"] - p0["L0.W"], s2["L0.W"] - p0["L0.W"], rtol=1e-6)


# --------------------------------------------------------------------------- clipping


def test_global_norm_over_all_arrays():
    g = make_grads(make_params())
    flat = np.concatenate([np.ravel(v) for v in g.values()])
    assert global_norm(g) == pytest.approx(float(np.linalg.norm(flat)), rel=1e-14)
    # not the max or the mean of per-array norms
    per = [float(np.linalg.norm(np.ravel(v))) for v in g.values()]
    assert global_norm(g) > max(per) * (1 + 1e-3)
    assert global_norm({}) == 0.0


def test_clip_uses_the_global_norm_not_per_array():
    g = {"a": np.array([3.0, 0.0]), "b": np.array([[0.0, 4.0]])}  # each < 4.5, global 5
    clipped, norm = clip_by_global_norm(g, 4.5)
    assert norm == 5.0
    np.testing.assert_allclose(clipped["a"], [2.7, 0.0], rtol=1e-15)
    np.testing.assert_allclose(clipped["b"], [[0.0, 3.6]], rtol=1e-15)


def test_clip_below_threshold_is_bitwise_unchanged():
    g = make_grads(make_params())
    g["L0.W"][0, 0] = -0.0
    n = global_norm(g)
    for max_norm in (n * (1 + 1e-9), n, 1e6):
        clipped, norm = clip_by_global_norm(g, max_norm)
        assert norm == n
        assert_dicts_identical(clipped, g)
        assert all(clipped[k] is not g[k] for k in g)  # new arrays, not aliases


def test_clip_above_threshold_hits_max_norm_and_keeps_direction():
    g = make_grads(make_params(), scale=10.0)
    n = global_norm(g)
    max_norm = 0.123
    clipped, norm = clip_by_global_norm(g, max_norm)
    assert norm == n  # the norm before clipping
    assert global_norm(clipped) == pytest.approx(max_norm, rel=1e-12)
    a = np.concatenate([np.ravel(v) for v in g.values()])
    b = np.concatenate([np.ravel(v) for v in clipped.values()])
    np.testing.assert_allclose(b / a, max_norm / n, rtol=1e-14)  # same direction, one scale
    assert float(a @ b) / (np.linalg.norm(a) * np.linalg.norm(b)) == pytest.approx(1.0, abs=1e-14)


def test_clip_zero_grads():
    g = {"a": np.zeros((2, 3)), "b": np.zeros(0), "c": np.asarray(0.0)}
    clipped, norm = clip_by_global_norm(g, 1.0)
    assert norm == 0.0
    assert_dicts_identical(clipped, g)


def test_clip_float32_and_no_overflow():
    g32 = {k: v.astype(np.float32) for k, v in make_grads(make_params(), scale=100.0).items()}
    clipped, _ = clip_by_global_norm(g32, 1.0)
    assert all(v.dtype == np.float32 for v in clipped.values())
    assert global_norm(clipped) == pytest.approx(1.0, rel=1e-6)
    huge = {"a": np.full(4, 1e200), "b": np.array([1e-200])}
    assert global_norm(huge) == pytest.approx(2e200, rel=1e-14)  # naive sum of squares overflows
    clipped, norm = clip_by_global_norm(huge, 1.0)
    np.testing.assert_allclose(clipped["a"], 0.5, rtol=1e-14)


# --------------------------------------------------------------------------- purity, checkpoints, dtype


OPTS = [
    SGD(lr=0.1),
    SGD(lr=0.1, momentum=0.9, weight_decay=0.01),
    SGD(lr=0.1, momentum=0.9, nesterov=True),
    Adam(lr=0.01, weight_decay=0.1),
]


@pytest.mark.parametrize("opt", OPTS, ids=repr)
def test_step_does_not_mutate_inputs(opt):
    p0 = make_params()
    g = make_grads(p0)
    p1, s1 = step(opt, p0, g, init_state(opt, p0))  # non-zero state
    g2 = make_grads(p0, seed=5)
    saved = [copy.deepcopy(x) for x in (p1, g2, s1)]
    p2, s2 = step(opt, p1, g2, s1)
    for before, after in zip(saved, (p1, g2, s1)):
        assert_dicts_identical(after, before)
    for k in p2:
        assert not np.shares_memory(p2[k], p1[k])
    for k in s2:
        assert not np.shares_memory(s2[k], s1[k])
    saved = copy.deepcopy(g2)
    clip_by_global_norm(g2, 1e-3)
    assert_dicts_identical(g2, saved)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("opt", OPTS, ids=repr)
def test_state_roundtrips_through_npz(opt, dtype, tmp_path):
    p = make_params(dtype)
    s = init_state(opt, p)
    assert list(s) == state_keys(opt, p)
    for i in range(2):
        p, s = step(opt, p, make_grads(p, seed=100 + i), s)
    path = tmp_path / "ckpt.npz"
    np.savez(path, **s)
    with np.load(path, allow_pickle=False) as f:
        loaded = {k: f[k] for k in f.files}
    assert_dicts_identical(dict(sorted(loaded.items())), dict(sorted(s.items())))
    pa, sa, pb, sb = p, s, p, loaded
    for i in range(3):
        g = make_grads(p, seed=200 + i)
        pa, sa = step(opt, pa, g, sa)
        pb, sb = step(opt, pb, g, sb)
    assert_dicts_identical(pa, pb)
    assert_dicts_identical(sa, sb)


@pytest.mark.parametrize("opt", OPTS, ids=repr)
def test_float32_stays_float32(opt):
    p = make_params(np.float32)
    s = init_state(opt, p)
    assert all(v.dtype == np.float32 for k, v in s.items() if k != "t")
    assert s["t"].dtype == np.int64 and s["t"].shape == ()
    for i in range(3):
        p, s = step(opt, p, make_grads(p, seed=300 + i), s)
        assert all(v.dtype == np.float32 for v in p.values())
        assert all(v.dtype == np.float32 for k, v in s.items() if k != "t")
    # and it agrees with the float64 run to float32 accuracy
    q = make_params(np.float64)
    r = init_state(opt, q)
    for i in range(3):
        q, r = step(opt, q, make_grads(q, seed=300 + i), r)
    for k in p:
        np.testing.assert_allclose(p[k], q[k], rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------- convergence


@pytest.mark.parametrize(
    "opt",
    [SGD(lr=0.05, momentum=0.9), SGD(lr=0.05, momentum=0.9, nesterov=True), Adam(lr=0.02)],
    ids=repr,
)
def test_minimises_random_convex_quadratic(opt):
    rng = np.random.default_rng(7)
    n = 6
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = Q @ np.diag(np.linspace(1.0, 10.0, n)) @ Q.T
    b = rng.standard_normal(n)
    p_star = np.linalg.solve(A, b)
    p = {"x": np.zeros(n)}
    s = init_state(opt, p)
    for _ in range(400):
        p, s = step(opt, p, {"x": A @ p["x"] - b}, s)  # gradient of ½pᵀAp − bᵀp
    assert np.max(np.abs(p["x"] - p_star)) < 1e-5


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "make, arg, exc",
    [
        (lambda: SGD(lr=0.0), "lr", ValueError),
        (lambda: SGD(lr=-0.1), "lr", ValueError),
        (lambda: SGD(lr=float("nan")), "lr", ValueError),
        (lambda: SGD(lr=float("inf")), "lr", ValueError),
        (lambda: SGD(lr="0.1"), "lr", TypeError),
        (lambda: SGD(lr=0.1, momentum=1.0), "momentum", ValueError),
        (lambda: SGD(lr=0.1, momentum=-0.1), "momentum", ValueError),
        (lambda: SGD(lr=0.1, nesterov=1), "nesterov", TypeError),
        (lambda: SGD(lr=0.1, nesterov=True), "nesterov", ValueError),  # needs momentum
        (lambda: SGD(lr=0.1, weight_decay=-1e-4), "weight_decay", ValueError),
        (lambda: Adam(lr=0.0), "lr", ValueError),
        (lambda: Adam(lr=float("inf")), "lr", ValueError),
        (lambda: Adam(beta1=1.0), "beta1", ValueError),
        (lambda: Adam(beta1=-0.5), "beta1", ValueError),
        (lambda: Adam(beta2=1.0), "beta2", ValueError),
        (lambda: Adam(beta2=1.5), "beta2", ValueError),
        (lambda: Adam(eps=0.0), "eps", ValueError),
        (lambda: Adam(eps=-1e-8), "eps", ValueError),
        (lambda: Adam(weight_decay=-0.01), "weight_decay", ValueError),
        (lambda: Adam(weight_decay=float("nan")), "weight_decay", ValueError),
    ],
)
def test_bad_hyperparameters(make, arg, exc):
    with pytest.raises(exc, match=named(arg)):
        make()


def with_entry(d, key, value):
    out = dict(d)
    if value is None:
        del out[key]
    else:
        out[key] = value
    return out


@pytest.mark.parametrize("opt", [SGD(lr=0.1, momentum=0.5), Adam()], ids=repr)
def test_key_mismatch_names_the_keys(opt):
    p = make_params()
    g = make_grads(p)
    s = init_state(opt, p)
    with pytest.raises(ValueError, match=named("grads") + r".*missing.*'L0\.alpha'"):
        step(opt, p, with_entry(g, "L0.alpha", None), s)
    with pytest.raises(ValueError, match=named("grads") + r".*extra.*'L9\.W'"):
        step(opt, p, with_entry(g, "L9.W", np.zeros(2)), s)
    buf = "b/L0.W" if isinstance(opt, SGD) else "v/L0.W"
    with pytest.raises(ValueError, match=named("state") + r".*missing.*" + re.escape(repr(buf))):
        step(opt, p, g, with_entry(s, buf, None))
    with pytest.raises(ValueError, match=named("state") + r".*extra.*'m/L9'"):
        step(opt, p, g, with_entry(s, "m/L9", np.zeros(2)))
    with pytest.raises(ValueError, match=named("state") + r".*missing.*'t'"):
        step(opt, p, g, with_entry(s, "t", None))
    # state of a different optimiser
    other = init_state(Adam() if isinstance(opt, SGD) else SGD(lr=0.1, momentum=0.5), p)
    with pytest.raises(ValueError, match=named("state")):
        step(opt, p, g, other)


def test_shape_and_dtype_mismatch():
    opt = Adam()
    p = make_params()
    g = make_grads(p)
    s = init_state(opt, p)
    with pytest.raises(ValueError, match=named("grads['L0.W']") + r" has shape \(4, 3\)"):
        step(opt, p, with_entry(g, "L0.W", np.zeros((4, 3))), s)
    with pytest.raises(TypeError, match=named("grads['L0.W']") + " has dtype float32"):
        step(opt, p, with_entry(g, "L0.W", g["L0.W"].astype(np.float32)), s)
    with pytest.raises(ValueError, match=named("state['m/L1.b']") + " has shape"):
        step(opt, p, g, with_entry(s, "m/L1.b", np.zeros(1)))
    with pytest.raises(TypeError, match=named("state['v/L0.alpha']") + " has dtype float32"):
        step(opt, p, g, with_entry(s, "v/L0.alpha", np.zeros(4, np.float32)))
    with pytest.raises(ValueError, match=named("state['v/L0.alpha']") + " has negative"):
        step(opt, p, g, with_entry(s, "v/L0.alpha", -np.ones(4)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("opt", [SGD(lr=0.1), Adam()], ids=repr)
def test_nonfinite_gradient_raises(opt, bad):
    p = make_params()
    g = make_grads(p)
    g["L0.W"][1, 2] = bad
    with pytest.raises(ValueError, match=named("grads['L0.W']") + r" contains NaN or inf .*\(1, 2\)"):
        step(opt, p, g, init_state(opt, p))
    with pytest.raises(ValueError, match=named("grads['L0.W']")):
        clip_by_global_norm(g, 1.0)
    with pytest.raises(ValueError, match=named("grads['L0.W']")):
        global_norm(g)
    s = init_state(opt, p)
    g = make_grads(p)
    p = with_entry(p, "L1.b", np.asarray(bad))
    with pytest.raises(ValueError, match=named("params['L1.b']")):
        step(opt, p, g, s)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_, np.complex128])
def test_non_float_arrays_raise_type_error(dtype):
    opt = SGD(lr=0.1)
    p = make_params()
    g = make_grads(p)
    s = init_state(opt, p)
    bad = np.ones((3, 4), dtype=dtype)
    with pytest.raises(TypeError, match=named("params['L0.W']")):
        step(opt, with_entry(p, "L0.W", bad), g, s)
    with pytest.raises(TypeError, match=named("params['L0.W']")):
        init_state(opt, with_entry(p, "L0.W", bad))
    with pytest.raises(TypeError, match=named("grads['L0.W']")):
        step(opt, p, with_entry(g, "L0.W", bad), s)
    with pytest.raises(TypeError, match=named("grads['L0.W']")):
        clip_by_global_norm(with_entry(g, "L0.W", bad), 1.0)


def test_other_bad_arguments():
    p = make_params()
    g = make_grads(p)
    opt = SGD(lr=0.1, weight_decay=0.1)
    s = init_state(opt, p)
    for max_norm, exc in ((0.0, ValueError), (-1.0, ValueError), (float("nan"), ValueError), ("1", TypeError)):
        with pytest.raises(exc, match=named("max_norm")):
            clip_by_global_norm(g, max_norm)
    with pytest.raises(TypeError, match=named("state['t']")):
        step(opt, p, g, with_entry(s, "t", np.array(1.0)))
    with pytest.raises(ValueError, match=named("state['t']")):
        step(opt, p, g, with_entry(s, "t", np.array([1])))
    with pytest.raises(ValueError, match=named("state['t']")):
        step(opt, p, g, with_entry(s, "t", np.array(-1)))
    with pytest.raises(TypeError, match=named("decay")):
        step(opt, p, g, s, decay=lambda k: 1)
    with pytest.raises(TypeError, match=named("decay")):
        step(opt, p, g, s, decay="all")
    with pytest.raises(TypeError, match=named("opt")):
        step("adam", p, g, s)
    with pytest.raises(TypeError, match=named("grads['L0.W']") + " must be a numpy array"):
        step(opt, p, with_entry(g, "L0.W", [[0.0] * 4] * 3), s)
    with pytest.raises(TypeError, match=named("params")):
        init_state(opt, [("L0.W", p["L0.W"])])


# --------------------------------------------------------------------------- properties


_keys = st.from_regex(r"L[0-9]\.[a-zA-Z]{1,6}", fullmatch=True)


def _array_dicts(elements=st.floats(-1e3, 1e3, width=32), min_size=0):
    """Random flat dicts of float32/float64 arrays with random shapes (0-d and empty allowed)."""
    arr = st.sampled_from([np.float32, np.float64]).flatmap(
        lambda dt: hnp.arrays(
            dt, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4), elements=elements
        )
    )
    return st.dictionaries(_keys, arr, min_size=min_size, max_size=4)


@given(
    params=_array_dicts(),
    lr=st.floats(1e-4, 10.0),
    momentum=st.sampled_from([0.0, 0.5, 0.99]),
    nesterov=st.booleans(),
)
def test_property_sgd_zero_gradient_leaves_params_unchanged(params, lr, momentum, nesterov):
    opt = SGD(lr=lr, momentum=momentum, nesterov=nesterov and momentum > 0)
    zeros = {k: np.zeros_like(v) for k, v in params.items()}
    p, s = params, init_state(opt, params)
    for _ in range(3):
        p, s = step(opt, p, zeros, s)
    assert_dicts_identical(p, params)
    assert int(s["t"]) == 3


@given(params=_array_dicts(), lr=st.floats(1e-4, 10.0))
def test_property_adam_zero_gradient_leaves_params_unchanged(params, lr):
    opt = Adam(lr=lr)
    zeros = {k: np.zeros_like(v) for k, v in params.items()}
    p, s = params, init_state(opt, params)
    for _ in range(2):
        p, s = step(opt, p, zeros, s)
    assert_dicts_identical(p, params)


@given(
    grads=_array_dicts(st.floats(-1e3, 1e3, allow_subnormal=False, width=32)),
    max_norm=st.floats(1e-3, 1e3),
)
def test_property_clip(grads, max_norm):
    clipped, norm = clip_by_global_norm(grads, max_norm)
    flat = [np.ravel(v).astype(np.float64) for v in grads.values()]
    ref = math.sqrt(sum(float(np.sum(f * f)) for f in flat))
    assert norm == pytest.approx(ref, rel=1e-12, abs=0)
    assert list(clipped) == list(grads)
    assert all(clipped[k].dtype == grads[k].dtype and clipped[k].shape == grads[k].shape for k in grads)
    if norm <= max_norm:
        assert_dicts_identical(clipped, grads)
        return
    new = global_norm(clipped)
    if all(v.dtype == np.float64 for v in grads.values()):
        assert new == pytest.approx(max_norm, rel=1e-12)
    else:
        assert new == pytest.approx(max_norm, rel=1e-5)
    for k, g in grads.items():  # same direction: one common factor max_norm / norm
        big = np.abs(g) > 1e-30
        rtol = 1e-14 if g.dtype == np.float64 else 1e-6
        np.testing.assert_allclose(clipped[k][big] / g[big].astype(np.float64), max_norm / norm, rtol=rtol)
        assert np.all(np.abs(clipped[k]) <= np.abs(g))
