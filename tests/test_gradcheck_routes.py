"""verify.check_route, the finite-difference step that every gradcheck family shares.

Directional screening is the default of every family (one random direction per array,
entry by entry where it fails); ``refsnn gradcheck --exhaustive`` (verify.DIRECTIONAL =
False) differentiates entry by entry after scanning each entry's stencil for flips. Both
must locate one wrong entry of any family's gradient.
"""

import numpy as np
import pytest

from refsnn.checking import dendrite_family, eprop_grid, families, gradcheck, reg_family, verify
from refsnn.oracle import family as preset_family


def _quadratic(with_jump, calls=None):
    A = np.random.default_rng(3).normal(size=(3, 4))

    def f(p):
        if calls is not None:
            calls.append(1)
        value = float(np.sum((A @ p["w"]) ** 2) + np.sum(p["b"] ** 3))
        if not with_jump:
            return value
        # b[1] sits on a "spike threshold": any increase of it flips the spike, so every
        # stencil that moves it is inadmissible and the entry is skipped
        return value, bool(p["b"][1] <= 0.5)

    params = {"w": np.random.default_rng(4).normal(size=(4, 2)), "b": np.array([0.2, 0.5, -0.7])}
    grads = {"w": 2 * A.T @ (A @ params["w"]), "b": 3 * params["b"] ** 2}
    return f, params, grads


@pytest.mark.parametrize("directional", [True, False])
def test_check_route_passes_skips_and_locates(directional):
    f, params, grads = _quadratic(with_jump=True)
    kw = dict(eps=1e-4, rtol=1e-7, floor=1e-6, with_ok=True, directional=directional)
    res = verify.check_route(f, params, grads, **kw)
    assert all(r.passed for r in res), res
    assert [(r.n_checked, r.n_skipped) for r in res] == [(8, 0), (2, 1)]   # b[1]'s stencil flips
    wrong = {"w": grads["w"].copy(), "b": grads["b"]}
    wrong["w"][2, 1] *= 1 + 1e-5
    res = verify.check_route(f, params, wrong, **kw)
    assert not res[0].passed and res[0].worst_index == (2, 1) and res[1].passed, res
    # without with_ok, f returns the value alone and nothing is skipped; one stencil (4
    # points) per array when directional, one per entry (8 + 3) when exhaustive (a floor
    # well above the round-off of f ~ 10, as verify's FLOOR·max(1, |L|))
    calls = []
    g, params, grads = _quadratic(with_jump=False, calls=calls)
    res = verify.check_route(g, params, grads, eps=1e-3, rtol=1e-7, floor=1e-2, directional=directional)
    assert all(r.passed and r.n_skipped == 0 for r in res), res
    assert len(calls) == (8 if directional else 44)
    # masks (the smooth route's) restrict the entries in both modes
    masks = {"b": np.array([True, False, True])}
    res = verify.check_route(g, params, grads, eps=1e-4, rtol=1e-7, floor=1e-6, directional=directional,
                             masks=masks)
    assert [(r.n_checked, r.n_skipped) for r in res] == [(8, 0), (2, 1)]
    with pytest.raises(ValueError, match="masks"):
        verify.check_route(f, params, grads, masks=masks, **kw)


def test_exhaustive_route_equals_check_gradients_with_flip_masks():
    """--exhaustive skips an entry if any of its four stencil points flips: b[1] flips at
    +eps, b[2] only at +2eps."""
    _, params, grads = _quadratic(with_jump=False)
    g, _, _ = _quadratic(with_jump=False)

    def f(p):
        b = p["b"]
        return g(p), bool(b[1] <= 0.5 and b[2] < -0.7 + 1.5e-4)

    masks = {"w": np.ones((4, 2), bool), "b": np.array([True, False, False])}
    ref = gradcheck.check_gradients(g, params, grads, eps=1e-4, rtol=1e-7, floor=1e-6, masks=masks,
                                    order=verify.ORDER)
    got = verify.check_route(f, params, grads, eps=1e-4, rtol=1e-7, floor=1e-6, with_ok=True, directional=False)
    assert got == ref and got[1].n_skipped == 2


def test_spikes_unchanged():
    s = [np.array([[0.0, 1.0]]), np.array([[1.0]])]
    assert verify.spikes_unchanged(s, [a.copy() for a in s])
    assert not verify.spikes_unchanged(s, [s[0], np.array([[0.0]])])
    assert not verify.spikes_unchanged(s, [np.array([[1.0, 1.0]]), s[1]])


# (family, module whose check_route is patched, row index); --exhaustive on the cheap rows
_ROWS = [("lif", verify, 37), ("conv", verify, 0), ("eprop", eprop_grid, 5), ("eprop", eprop_grid, 70),
         ("presets", preset_family, 5), ("dendrite", dendrite_family, 1), ("reg", reg_family, 6)]
_CASES = [r + (True,) for r in _ROWS] + [r + (False,) for r in _ROWS if r[0] in ("eprop", "presets")]


@pytest.mark.parametrize("family, module, index, directional", _CASES,
                         ids=[f"{f}-{i}-{'directional' if d else 'exhaustive'}" for f, _, i, d in _CASES])
def test_one_wrong_gradient_entry_fails_every_family(monkeypatch, family, module, index, directional):
    """The largest entry of the largest array, wrong by 1e-5 relative, fails the row on the
    smooth twin (where nothing is skipped), and the row names that entry."""
    fam = families.families()[family]
    point = fam.points()[index]
    if family == "reg":
        assert point.reg == "weight_decay"
    real = verify.check_route
    hit = []

    def wrong_route(f, flat, grads, **kw):
        key = max(grads, key=lambda k: np.size(grads[k]))
        g = np.array(grads[key], dtype=np.float64, copy=True)
        idx = np.unravel_index(int(np.argmax(np.abs(g))), g.shape)
        g[idx] *= 1 + 1e-5
        if not kw.get("with_ok"):
            hit.append(f"{key}{[int(i) for i in idx]}")
        return real(f, flat, {**grads, key: g}, **kw)

    monkeypatch.setattr(module, "check_route", wrong_route)
    monkeypatch.setattr(verify, "DIRECTIONAL", directional)
    rep = fam.check(point, seed=0, rtol=verify.RTOL)
    assert not rep.passed and rep.smooth_max_rel > 1e-6, rep
    assert rep.smooth_worst == hit[0], (rep.smooth_worst, hit)


def test_the_finite_difference_forward_is_the_checked_forward():
    # verify's objective runs the network unchecked (trusted=True): on a checked network it
    # must give exactly network_forward's trajectories, and network_forward still checks.
    from refsnn.neurons.network import _network_forward, network_forward
    for pt in verify.grid()[::7]:
        prob = verify.make_problem(pt, seed=5)
        a = network_forward(prob.net, prob.params, prob.x, prob.state0)
        b = _network_forward(prob.net, prob.params, prob.x, prob.state0, trusted=True)
        for ta, tb in zip(a, b):
            for k in ("v", "s", "u", "c"):
                if getattr(ta, k) is not None:
                    np.testing.assert_array_equal(getattr(ta, k), getattr(tb, k), err_msg=f"{pt.name} {k}")
    bad = [dict(p, alpha=p["alpha"] + 1.0) for p in prob.params]
    with pytest.raises(ValueError, match="alpha"):
        network_forward(prob.net, bad, prob.x, prob.state0)
