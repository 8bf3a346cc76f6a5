"""Seed 002 §9: the min-max robustness objective (refsnn.learning.robust, R1–R10)."""

import numpy as np
import pytest

from refsnn.checking import families, gradcheck, robust_family as F, verify
from refsnn.learning import robust as R
from refsnn.neurons.lif import LIFConfig, smooth_twin
from refsnn.neurons.network import Network, network_init
from refsnn.surrogates import surrogate


def _logits(seed=0, B=3, K=4):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 1.5, (B, K)), rng.normal(0, 1.5, (B, K))


def test_kl_partials_R4_R5_match_finite_differences():
    z, z_adv = _logits()
    kl, dz, dz_adv = R.kl_divergence(z, z_adv)
    f = lambda a: float(np.sum(R.kl_divergence(a["z"], a["z_adv"])[0]))
    res = gradcheck.check_gradients(f, {"z": z, "z_adv": z_adv}, {"z": dz, "z_adv": dz_adv}, rtol=1e-7, order=4)
    assert all(r.passed for r in res), gradcheck.format_results(res)


def test_kl_is_zero_at_equal_logits_and_its_gradient_vanishes_there():
    # why the KL attack needs a random start: at δ = 0, q = p and R4 is exactly 0
    z, _ = _logits(1)
    kl, dz, dz_adv = R.kl_divergence(z, z + 0.0)
    assert np.all(np.abs(kl) < 1e-15) and np.all(dz_adv == 0.0)
    kl2, _, _ = R.kl_divergence(z, z + np.array([0.0, 1.0, 0.0, 0.0]))
    assert np.all(kl2 > 0)


def test_cross_entropy_partial_matches_finite_differences():
    z, _ = _logits(2)
    y = np.array([0, 3, 1])
    ce, dz = R.cross_entropy(z, y)
    res = gradcheck.check_gradients(lambda a: float(np.sum(R.cross_entropy(a["z"], y)[0])), {"z": z}, {"z": dz},
                                    rtol=1e-7, order=4)
    assert res[0].passed


def test_family_is_registered_with_every_reset_and_readout():
    rows = {row for _, _, row in families.rows(["robust"])}
    assert rows == {f"robust:{r}/{ro}" for r in ("subtract", "hard_keep_input", "hard_drop_input", "none")
                    for ro in ("mean", "count")}


def test_a_family_row_passes_all_three_routes():
    rep = F.check_point(F.RobustPoint("none", "count"))
    assert rep.passed, rep
    assert rep.piecewise_checked > 100 and max(rep.n_spikes) > 0


def _twin(point):
    pb = F.make_problem(point)
    return Network(tuple(smooth_twin(c) if c.spiking else c for c in pb.net.layers))


def _routes(point):
    pb = F.make_problem(point)
    twin = _twin(point)
    fixed, _ = F._route_fixed_delta(pb, twin, False, 0, verify.RTOL, verify.EPS, False)
    through = F._route_through_attack(pb, twin, 0, verify.RTOL)
    return fixed, through


def test_through_attack_route_checks_entries_and_would_see_a_chain_through_delta(monkeypatch):
    # R10 holds: most entries are checked (no sign switch), and they agree ...
    point = F.RobustPoint("subtract", "mean")
    fixed, through = _routes(point)
    assert all(r.passed for r in fixed + through)
    assert sum(r.n_checked for r in through) > 100
    # ... and the route is not blind to a chain through δ: an attack whose δ moves
    # smoothly with θ and x (as an ℓ2 attack's would) makes R9 wrong, and the route says so.
    real = R.attack

    def smooth_attack(net, params, x, *a, **kw):
        d, _ = real(net, params, x, *a, **kw)
        return d + 0.05 * np.tanh(x.mean(axis=0)) + 0.05 * params[1]["b"].sum(), []
    monkeypatch.setattr(R, "attack", smooth_attack)
    small = F.make_problem(point, T=3, B=1, H=3)          # (a failing array is then located entry by entry)
    twin = Network(tuple(smooth_twin(c) if c.spiking else c for c in small.net.layers))
    through2 = F._route_through_attack(small, twin, 0, verify.RTOL)
    failed = {r.name for r in through2 if not r.passed}
    assert {"pgd:x", "pgd:L1.b"} <= failed


@pytest.mark.parametrize("what", ["R5 without −KL", "R4 sign", "no perturbed pass in R9"])
def test_a_wrong_term_fails_the_fixed_delta_route(monkeypatch, what):
    orig_kl = R.kl_divergence
    if what == "R5 without −KL":
        def kl(z, za):
            k, dz, dza = orig_kl(z, za)
            from scipy.special import softmax, log_softmax
            p = softmax(z, axis=1)
            return k, p * (log_softmax(z, axis=1) - log_softmax(za, axis=1)), dza
        monkeypatch.setattr(R, "kl_divergence", kl)
    elif what == "R4 sign":
        monkeypatch.setattr(R, "kl_divergence", lambda z, za: (lambda o: (o[0], o[1], -o[2]))(orig_kl(z, za)))
    else:
        orig_bwd = R.network_backward
        calls = []

        def bwd(trajs, params, ds=None, dv=None, wrt=None):
            calls.append(1)
            g = orig_bwd(trajs, params, ds, dv, wrt)
            if len(calls) % 2 == 0:          # robust_loss's second backward: the perturbed pass
                g.params = [{k: 0 * v for k, v in p.items()} for p in g.params]
            return g
        monkeypatch.setattr(R, "network_backward", bwd)
    pb = F.make_problem(F.RobustPoint("subtract", "mean"), T=3, B=1, H=3)
    twin = Network(tuple(smooth_twin(c) if c.spiking else c for c in pb.net.layers))
    fixed, _ = F._route_fixed_delta(pb, twin, False, 0, verify.RTOL, verify.EPS, False)
    assert not all(r.passed for r in fixed)


def _net(seed=0, M=3, H=8, K=3):
    sg = surrogate("sigmoid", 4.0)
    net = Network((LIFConfig(M, H, surrogate=sg), LIFConfig(H, K, surrogate=sg, reset="none", spiking=False)))
    params = network_init(net, seed, np.float64, [dict(w_scale=2.0, b=0.3), dict(w_scale=2.0)])
    x = np.random.default_rng(seed).normal(0.5, 1.0, (10, 5, M))
    return net, params, x


def test_attack_stays_in_the_ball_and_raises_the_kl():
    net, params, x = _net()
    eps = 0.2
    d0 = R.attack(net, params, x, eps, steps=1, step_size=0.0, start=0.5, rng=3)     # the start alone
    d = R.attack(net, params, x, eps, steps=6, start=0.5, rng=3)
    assert d.shape == (5, 3) and np.max(np.abs(d)) <= eps + 1e-15
    zero = R.robust_loss(net, params, x, np.zeros(5, int), np.zeros((5, 3)), lam=1.0)
    before = R.robust_loss(net, params, x, np.zeros(5, int), d0, lam=1.0)
    after = R.robust_loss(net, params, x, np.zeros(5, int), d, lam=1.0)
    assert zero.kl == pytest.approx(0.0, abs=1e-15)
    assert after.kl > 2 * before.kl


def test_ce_attack_lowers_accuracy_and_lam_zero_is_plain_cross_entropy():
    net, params, x = _net(1)
    z = R.logits(__import__("refsnn").network_forward(net, params, x)[-1])
    y = np.argmax(z, axis=1)                 # labels the network gets right
    assert R.accuracy(net, params, x, y) == 1.0
    d = R.attack(net, params, x, 1.0, steps=5, objective="ce", labels=y, start=0.0)
    assert R.accuracy(net, params, x, y, delta=d) < 1.0
    plain = R.robust_loss(net, params, x, y, d, lam=0.0)
    assert plain.value == pytest.approx(plain.ce) and np.all(plain.delta == 0)


@pytest.mark.parametrize("kw, match", [
    (dict(eps=-1.0), "eps"), (dict(objective="l2"), "objective"), (dict(objective="ce"), "labels"),
    (dict(start=0.0), "start must be > 0"), (dict(readout="max"), "readout"), (dict(steps=0), "steps"),
])
def test_attack_bad_input(kw, match):
    net, params, x = _net()
    args = dict(eps=0.1)
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        R.attack(net, params, x, **args)


def test_robust_loss_bad_delta_and_count_on_a_nonspiking_readout():
    net, params, x = _net()
    with pytest.raises(ValueError, match="delta has shape"):
        R.robust_loss(net, params, x, np.zeros(5, int), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="non-spiking"):
        R.robust_loss(net, params, x, np.zeros(5, int), np.zeros((5, 3)), readout="count")
    with pytest.raises(ValueError, match="labels"):
        R.robust_loss(net, params, x, np.zeros(4, int), np.zeros((5, 3)))
