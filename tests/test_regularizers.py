"""The regularisers of refsnn.losses: values and partials, their gradcheck rows, and weight
decay as a loss term against the optimisers' weight decay (SGD's coupled, AdamW's decoupled)."""

import numpy as np
import pytest

from refsnn import losses as L
from refsnn.checking import families, reg_family
from refsnn.checking.gradcheck import check_gradient
from refsnn.lif import LIFConfig, init_params, layer_forward, smooth_twin
from refsnn.surrogates import surrogate
from refsnn.training import optim


def _traj(seed=0, T=5, B=3, N=4):
    rng = np.random.default_rng(seed)
    cfg = smooth_twin(LIFConfig(2, N, surrogate=surrogate("sigmoid", 4.0)))
    p = init_params(cfg, rng, w_scale=2.0)
    return cfg, p, rng.normal(0.8, 1.0, (T, B, 2))


@pytest.mark.parametrize("name", ["membrane_l1", "membrane_l2", "rate", "count_logistic"])
def test_direct_partials_are_the_derivative_of_the_value(name):
    """Perturb v (or s) of a fixed trajectory: the partial is the derivative of the value."""
    cfg, p, x = _traj(N=1 if name == "count_logistic" else 4)
    traj = layer_forward(cfg, p, x)
    fn = {"membrane_l1": lambda tr: L.membrane_l1(tr, 0.7), "membrane_l2": lambda tr: L.membrane_l2(tr, 0.7),
          "rate": lambda tr: L.firing_rate_regularizer(tr, np.array([0.1, 0.2, 0.3, 0.4]), 0.7),
          "count_logistic": lambda tr: L.spike_count_logistic(tr, np.array([0, 1, 1]), 1.5, 0.8)}[name]
    loss = fn(traj)
    var = "v" if name.startswith("membrane") else "s"
    base = getattr(traj, var).copy()

    def f(a):
        setattr(traj, var, a)
        return fn(traj).value

    mask = np.abs(base) > 0.01 if var == "v" else None   # |v| has its kink at 0: no stencil crosses it
    res = check_gradient(f, base, loss.ds if var == "s" else loss.dv, eps=1e-3, rtol=1e-8, floor=1e-4,
                         order=4, mask=mask)
    assert res.passed and res.n_checked >= 0.8 * base.size, res
    assert (loss.dv if var == "s" else loss.ds) is None


def test_values_by_hand():
    cfg, p, x = _traj(T=2, B=1, N=2)
    traj = layer_forward(cfg, p, x)
    traj.v = np.array([[[1.0, -2.0]], [[0.5, 0.0]]])
    traj.s = np.array([[[1.0, 0.0]], [[1.0, 0.0]]])
    assert L.membrane_l1(traj, 2.0).value == pytest.approx(2.0 * 3.5)
    assert L.membrane_l2(traj, 2.0).value == pytest.approx(2.0 * 5.25)
    np.testing.assert_array_equal(L.membrane_l1(traj, 2.0).dv[1, 0], [2.0, 0.0])   # sign(0) = 0
    # f = (1, 0) spikes per step, f0 = 0.25: λ((0.75)² + (0.25)²); ∂/∂s = 2λ(f − f0)/(TB)
    r = L.firing_rate_regularizer(traj, 0.25, 2.0)
    assert r.value == pytest.approx(2.0 * (0.75 ** 2 + 0.25 ** 2))
    np.testing.assert_allclose(r.ds[0, 0], [2 * 2.0 * 0.75 / 2, -2 * 2.0 * 0.25 / 2])
    wd = L.weight_decay({"W": np.array([[1.0, 2.0]]), "b": np.array([3.0])}, 0.5, keys=["W"])
    assert wd.value == pytest.approx(0.25 * 5.0)
    np.testing.assert_array_equal(wd.grads["W"], [[0.5, 1.0]])
    np.testing.assert_array_equal(wd.grads["b"], [0.0])
    # one neuron, counts (2,), κ = 0.5, g = 1, label 1: z = 1.5, L = log(1 + e^{−1.5}), ∂/∂s = −S(−1.5)
    one = layer_forward(*_traj(T=2, B=1, N=1))
    one.s = np.ones((2, 1, 1))
    c = L.spike_count_logistic(one, np.array([1]), 0.5, 1.0)
    assert c.value == pytest.approx(np.log1p(np.exp(-1.5)))
    np.testing.assert_allclose(c.ds[:, 0, 0], -1 / (1 + np.exp(1.5)))


def test_bad_arguments_are_named():
    cfg, p, x = _traj()
    traj = layer_forward(cfg, p, x)
    with pytest.raises(ValueError, match="strength"):
        L.membrane_l1(traj, -1.0)
    with pytest.raises(ValueError, match="target_rate"):
        L.firing_rate_regularizer(traj, 1.5)
    with pytest.raises(ValueError, match="target_rate"):
        L.firing_rate_regularizer(traj, np.ones(3) * 0.1)
    with pytest.raises(ValueError, match="keys"):
        L.weight_decay(p, 0.1, keys=["nope"])
    with pytest.raises(TypeError, match="params"):
        L.weight_decay([p], 0.1)
    with pytest.raises(ValueError, match="one neuron"):
        L.spike_count_logistic(traj, np.array([0, 1, 0]))
    cfg1, p1, x1 = _traj(N=1)
    with pytest.raises(ValueError, match="labels"):
        L.spike_count_logistic(layer_forward(cfg1, p1, x1), np.array([0, 2, 1]))


def test_reg_family_is_registered_and_every_row_passes():
    assert "reg" in families.families()
    names = [row for fam, _, row in families.rows(["reg"])]
    assert {f"reg:{r}/subtract/attach" for r in L.REGULARIZER_NAMES + ("count_logistic",)} <= set(names)
    # Both routes on two rows (a spike partial and the parameter term); the smooth twin on
    # the others (the full grid runs in `refsnn gradcheck --family reg`).
    for fam, pt, row in families.rows(["reg"]):
        if pt.neuron != "subtract/attach":
            continue
        if pt.reg in ("rate", "weight_decay"):
            rep = reg_family.check(pt)
            assert rep.passed, rep
            assert rep.piecewise_checked > 0 and all(n > 0 for n in rep.n_spikes), rep
        else:
            results = reg_family.check_smooth_twin(reg_family.make_reg_problem(pt))
            assert all(r.passed for r in results), row


@pytest.mark.parametrize("reg", L.REGULARIZER_NAMES + ("count_logistic",))
def test_reg_rows_catch_a_wrong_partial(monkeypatch, reg):
    """Scale the regulariser's partial by 1.001: the smooth-twin route fails."""
    pt = reg_family.RegPoint(reg, "subtract/attach")
    if reg == "weight_decay":
        orig = L.weight_decay

        def wrong(params, strength=1.0, keys=None):
            out = orig(params, strength, keys)
            return L.ParamLoss(out.value, {k: 1.001 * g for k, g in out.grads.items()})

        monkeypatch.setattr(L, "weight_decay", wrong)
    else:
        fname = {"rate": "firing_rate_regularizer", "count_logistic": "spike_count_logistic"}.get(reg, reg)
        orig = getattr(L, fname)

        def wrong(*a, **k):
            out = orig(*a, **k)
            return L.Loss(out.value, None if out.ds is None else 1.001 * out.ds,
                          None if out.dv is None else 1.001 * out.dv)

        monkeypatch.setattr(L, fname, wrong)
    prob = reg_family.make_reg_problem(pt)
    if reg == "weight_decay":
        results = reg_family._check_weight_decay(prob, "smooth")
    else:
        results = reg_family.check_smooth_twin(prob)
    assert not all(r.passed for r in results)


def _params_grads(seed=0):
    rng = np.random.default_rng(seed)
    p = {"W": rng.normal(size=(3, 4)), "b": rng.normal(size=3)}
    g = {k: rng.normal(size=v.shape) for k, v in p.items()}
    return p, g


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_weight_decay_term_equals_sgd_weight_decay(momentum):
    """SGD's decay is coupled (S1: g + λp), so the loss term's gradient λp gives the same run."""
    p, g = _params_grads()
    lam = 0.05
    a, sa = dict(p), optim.init_state(optim.SGD(0.1, momentum), p)
    b, sb = dict(p), optim.init_state(optim.SGD(0.1, momentum), p)
    for _ in range(5):
        a, sa = optim.step(optim.SGD(0.1, momentum, weight_decay=lam), a, g, sa)
        wd = L.weight_decay(b, lam)
        b, sb = optim.step(optim.SGD(0.1, momentum), b, {k: g[k] + wd.grads[k] for k in g}, sb)
    for k in p:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-15, atol=1e-15)


def test_weight_decay_term_differs_from_adamw():
    """Adam normalises the L2 term's gradient by √v̂, AdamW does not: they must differ.
    AdamW is the decay-free Adam step minus ηλp (A4), and that holds to rounding."""
    p, g = _params_grads()
    lam, lr = 0.05, 0.01
    st = optim.init_state(optim.Adam(lr), p)
    adamw, _ = optim.step(optim.Adam(lr, weight_decay=lam), p, g, st)
    plain, _ = optim.step(optim.Adam(lr), p, g, st)
    wd = L.weight_decay(p, lam)
    coupled, _ = optim.step(optim.Adam(lr), p, {k: g[k] + wd.grads[k] for k in g}, st)
    for k in p:
        np.testing.assert_allclose(adamw[k], plain[k] - lr * lam * p[k], rtol=1e-14, atol=1e-16)
        assert np.max(np.abs(coupled[k] - adamw[k])) > 1e-5
    # With a zero task gradient Adam's coupled step is ≈ η sign(p) (the normalised λp),
    # while AdamW shrinks p by the factor (1 − ηλ).
    zero = {k: np.zeros_like(v) for k, v in g.items()}
    coupled0, _ = optim.step(optim.Adam(lr), p, wd.grads, st)
    adamw0, _ = optim.step(optim.Adam(lr, weight_decay=lam), p, zero, st)
    for k in p:
        np.testing.assert_allclose(p[k] - coupled0[k], lr * np.sign(p[k]), rtol=1e-5)
        np.testing.assert_allclose(adamw0[k], (1 - lr * lam) * p[k], rtol=1e-14)
