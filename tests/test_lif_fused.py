"""The fused reverse loop (refsnn.neurons.lif_fused, the default path of layer_backward)
against the readable loop, the reference the docstrings describe.

The two evaluate the same equations B1–B5 and G1–G5; only the order of the floating-point
additions of the parameter sums differs. They must agree to 1e-13 relative on every
configuration of the verification grid (both forward modes, every layer, every returned
array), in float32 to float32 rounding, and at sizes past the blocking threshold of the
surrogate derivative (SG_BLOCK elements), where a wrong block offset would show.
"""

import numpy as np
import pytest

from refsnn.checking import verify
from refsnn.neurons import lif_fused
from refsnn.neurons.lif import (LIFConfig, init_params, layer_backward, layer_forward, piecewise_linear,
                                smooth_twin)
from refsnn.neurons.network import Network, network_forward
from refsnn.surrogates import surrogate


def _arrays(g):
    out = {f"param.{k}": v for k, v in g.params.items()}
    out["x"] = g.x
    out.update({f"state0.{k}": v for k, v in g.state0.items()})
    out.update({f"adjoint.{k}": v for k, v in g.adjoints.items()})
    out["ds_init"] = g.ds_init
    return out


def _assert_same(a, b, rtol, label):
    fa, fb = _arrays(a), _arrays(b)
    assert fa.keys() == fb.keys(), label
    for k in fa:
        x, y = fa[k], fb[k]
        assert x.shape == y.shape and x.dtype == y.dtype, f"{label} {k}: {x.shape}/{x.dtype} vs {y.shape}/{y.dtype}"
        scale = max(float(np.abs(x).max()), np.finfo(x.dtype).tiny)
        err = float(np.abs(x - y).max()) / scale
        assert err <= rtol, f"{label} {k}: fused differs from readable by {err:.2e} (relative to max |readable|)"


@pytest.mark.parametrize("forward", ["smooth", "heaviside"])
def test_fused_equals_readable_on_the_whole_grid(forward):
    for pt in verify.grid():
        prob = verify.make_problem(pt, seed=1)
        twin = smooth_twin if forward == "smooth" else piecewise_linear
        net = Network(tuple(twin(c) if c.spiking else c for c in prob.net.layers))
        trajs = network_forward(net, prob.params, prob.x, prob.state0)
        _, ds, dv = prob.loss(trajs, probe=True)
        for l, (tr, p) in enumerate(zip(trajs, prob.params)):
            a = layer_backward(tr, p, ds[l], dv[l], path="readable")
            b = layer_backward(tr, p, ds[l], dv[l], path="fused")
            _assert_same(a, b, 1e-13, f"{pt.name} {forward} layer {l}")


def test_fused_equals_readable_with_frozen_reset_spikes():
    # s_reset (what finite differences of a detached reset hold fixed) takes another branch.
    pt = verify.GridPoint("hard_drop_input", True, True, True, True, "membrane")
    prob = verify.make_problem(pt, seed=2)
    tr0 = layer_forward(prob.net.layers[0], prob.params[0], prob.x, prob.state0[0])
    tr = layer_forward(prob.net.layers[0], prob.params[0], prob.x, prob.state0[0], s_reset=tr0.reset_spikes())
    a_s = np.random.default_rng(0).normal(size=tr.v.shape)
    _assert_same(layer_backward(tr, prob.params[0], a_s, path="readable"),
                 layer_backward(tr, prob.params[0], a_s, path="fused"), 1e-13, "s_reset")


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-13), (np.float32, 2e-5)])
@pytest.mark.parametrize("reset", ["subtract", "hard_drop_input"])
def test_fused_past_the_blocking_threshold(dtype, rtol, reset):
    # T·B·N = 37·7·300 = 77,700 > SG_BLOCK, and 37 is not a multiple of the block length
    # (65536 // 2100 = 31 steps), so the loop crosses a partial block.
    T, B, M, N = 37, 7, 5, 300
    assert T * B * N > lif_fused.SG_BLOCK and T % max(1, lif_fused.SG_BLOCK // (B * N)) != 0
    cfg = LIFConfig(M, N, surrogate=surrogate("sigmoid", 4.0), reset=reset, adaptation=True, synapse=True)
    rng = np.random.default_rng(3)
    p = init_params(cfg, rng, dtype, w_scale=3.0)
    x = rng.normal(0.3, 1.0, (T, B, M)).astype(dtype)
    tr = layer_forward(cfg, p, x)
    assert 0 < tr.s.mean() < 1
    a_s = rng.normal(size=(T, B, N)).astype(dtype)
    a_v = rng.normal(size=(T, B, N)).astype(dtype)
    a = layer_backward(tr, p, a_s, a_v, path="readable")
    b = layer_backward(tr, p, a_s, a_v, path="fused")
    _assert_same(a, b, rtol, f"{reset} {np.dtype(dtype).name}")


def test_unknown_path_is_refused():
    cfg = LIFConfig(2, 3)
    p = init_params(cfg, 0)
    tr = layer_forward(cfg, p, np.ones((2, 1, 2)))
    with pytest.raises(ValueError, match="path"):
        layer_backward(tr, p, path="fast")


def _compare_layer(cfg, p, x, state0, rng, rtol, label, shared_rtol=None):
    tr = layer_forward(cfg, p, x, state0)
    a_s = rng.normal(size=tr.v.shape).astype(x.dtype) if cfg.spiking else None
    a_v = rng.normal(size=tr.v.shape).astype(x.dtype)
    a = layer_backward(tr, p, a_s, a_v, path="readable")
    b = layer_backward(tr, p, a_s, a_v, path="fused")
    fa, fb = _arrays(a), _arrays(b)
    assert fa.keys() == fb.keys(), label
    for k in fa:
        # a shared (0-d) parameter's gradient is a sum over the neurons of terms of both
        # signs: its rounding is relative to the sum of magnitudes, not to the sum
        tol = shared_rtol if shared_rtol is not None and fa[k].ndim == 0 else rtol
        xa, xb = fa[k], fb[k]
        assert xa.shape == xb.shape and xa.dtype == xb.dtype, f"{label} {k}"
        scale = max(float(np.abs(xa).max()), np.finfo(xa.dtype).tiny)
        err = float(np.abs(xa - xb).max()) / scale
        assert err <= tol, f"{label} {k}: fused differs from readable by {err:.2e}"
    return tr


# Every switch of LIFConfig (S1–S5) and the combinations the presets use, at
# T·B·N = 37·7·300 = 77,700 > SG_BLOCK (a partial last block: 65536 // 2100 = 31 steps).
_SWITCHES = [
    dict(init_spike="zero"),
    dict(init_spike="zero", reset="hard_keep_input", detach_reset=True, membrane_view="post_reset"),
    dict(membrane_view="post_reset"),
    dict(membrane_view="post_reset", reset="hard_keep_input", synapse=True),
    dict(adaptive_threshold=True),
    dict(adaptive_threshold=True, detach_threshold=True, recurrent=True, detach_reset=True),
    dict(adaptive_threshold=True, init_spike="zero", reset="hard_keep_input", synapse=True,
         membrane_view="post_reset"),
    dict(refractory=2),
    dict(refractory=3, detach_refractory=False, adaptation=True),
    dict(refractory=1, detach_refractory=False, init_spike="zero", reset="hard_drop_input", adaptive_threshold=True),
    dict(refractory=2, detach_refractory=False, adaptive_threshold=True, recurrent=True, reset="hard_keep_input"),
    dict(init_spike="zero", adaptation=True, synapse=True, reset="hard_drop_input"),
    "shared",
]


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-13), (np.float32, 2e-5)])
@pytest.mark.parametrize("switch", _SWITCHES, ids=lambda s: s if isinstance(s, str) else
                         ",".join(f"{k}={v}" for k, v in s.items()))
def test_every_switch_takes_the_fused_loop_and_equals_the_readable_one(switch, dtype, rtol):
    T, B, M, N = 37, 7, 5, 300
    assert T * B * N > lif_fused.SG_BLOCK and T % max(1, lif_fused.SG_BLOCK // (B * N)) != 0
    kw = switch if isinstance(switch, dict) else dict(adaptation=True, synapse=True, adaptive_threshold=True)
    cfg = LIFConfig(M, N, surrogate=surrogate("sigmoid", 4.0), **kw)
    assert lif_fused.covers(cfg)
    rng = np.random.default_rng(4)
    extra = {}
    if switch == "shared":
        extra = {k: np.array(v) for k, v in dict(alpha=0.85, theta=0.9, gamma=0.8, beta=0.3, rho=0.85,
                                                  kappa=0.7, lam=0.75, b=0.1, beta_a=0.25, rho_a=0.9).items()}
    p = init_params(cfg, rng, dtype, w_scale=3.0, **extra)
    x = rng.normal(0.3, 1.0, (T, B, M)).astype(dtype)
    state0 = {k: rng.normal(0.5, 0.5, (B, N)).astype(dtype) for k in ("v", "u", "c", "a")
              if k == "v" or (k == "u" and cfg.adaptation) or (k == "c" and cfg.synapse)
              or (k == "a" and cfg.adaptive_threshold)}
    tr = _compare_layer(cfg, p, x, state0, rng, rtol, str(switch), shared_rtol=rtol * 100)
    assert 0.05 < tr.s.mean() < 0.95


def test_every_preset_takes_the_fused_loop_and_equals_the_readable_one():
    # Each preset of the oracle (and so `refsnn compare`), with its own conventions, at
    # T·B·H = 41·4·410 = 67,240 > SG_BLOCK in its hidden layer (40 steps a block).
    from refsnn.oracle import family
    for pt in family.points():
        net, x, _ = family.make_net(pt, seed=1, T=41, B=4, M=6, H=410, K=3)
        assert 41 * 4 * 410 > lif_fused.SG_BLOCK
        rng = np.random.default_rng(5)
        inp = x
        for l, (cfg, lm) in enumerate(zip(net.net.layers, net.layers)):   # (net.forward, unchecked
            assert lif_fused.covers(cfg), (pt.name, l)                     #  for the peers' quirks)
            tr = _compare_layer(cfg, lm.params(), inp, lm.state0(lm.peer, x.shape[1]), rng, 1e-13,
                                f"{pt.name} layer {l}", shared_rtol=1e-11)
            inp = tr.s


def test_a_switch_the_fused_loop_does_not_know_takes_the_readable_loop(monkeypatch):
    # covers() lists the fields the fused loop implements; a field added later (simulated
    # by removing one from the list) must send its configurations to the readable loop,
    # never be silently ignored.
    monkeypatch.setattr(lif_fused, "_COVERED", lif_fused._COVERED - {"refractory"})
    cfg = LIFConfig(3, 4, surrogate=surrogate("sigmoid", 4.0), refractory=2)
    assert not lif_fused.covers(cfg) and lif_fused.covers(LIFConfig(3, 4))
    calls = []
    monkeypatch.setattr(lif_fused, "backward_fused", lambda *a, **k: calls.append(1))
    import refsnn.neurons.lif as lif
    monkeypatch.setattr(lif, "backward_fused", lambda *a, **k: calls.append(1))
    p = init_params(cfg, 0, w_scale=3.0)
    tr = layer_forward(cfg, p, np.random.default_rng(0).normal(0.5, 1.0, (6, 2, 3)))
    layer_backward(tr, p, np.ones(tr.v.shape), path="fused")
    assert calls == []


@pytest.mark.parametrize("path", ["fused", "readable"])
def test_wrt_gives_exactly_the_wanted_gradients(path):
    # Every parameter's gradient computed alone (wrt={name}) or with the projection only
    # equals its value in the full computation, on every grid configuration; the result
    # holds just the names asked for.
    for pt in verify.grid()[::3]:
        prob = verify.make_problem(pt, seed=3)
        trajs = network_forward(prob.net, prob.params, prob.x, prob.state0)
        _, ds, dv = prob.loss(trajs, probe=True)
        for l, (tr, p) in enumerate(zip(trajs, prob.params)):
            full = layer_backward(tr, p, ds[l], dv[l], path=path)
            for wrt in [{"W", "b"}] + [{k} for k in full.params]:
                part = layer_backward(tr, p, ds[l], dv[l], path=path, wrt=wrt)
                assert set(part.params) == wrt, (pt.name, wrt)
                for k in wrt:
                    scale = max(float(np.abs(full.params[k]).max()), 1e-300)
                    assert float(np.abs(part.params[k] - full.params[k]).max()) <= 1e-13 * scale, (pt.name, k)
                np.testing.assert_array_equal(part.adjoints["dv"], full.adjoints["dv"])


def test_network_wrt_per_layer_and_for_all():
    net = Network((LIFConfig(4, 5), LIFConfig(5, 3, reset="hard_keep_input")))
    params = [init_params(c, i, w_scale=3.0) for i, c in enumerate(net.layers)]
    x = np.random.default_rng(0).random((12, 2, 4))
    trajs = network_forward(net, params, x)
    ds = [None, np.ones((12, 2, 3))]
    from refsnn.neurons.network import network_backward
    g = network_backward(trajs, params, ds, wrt={"W", "gamma", "v_reset"})
    assert [set(p) for p in g.params] == [{"W", "gamma"}, {"W", "v_reset"}]
    g2 = network_backward(trajs, params, ds, wrt=[None, {"theta"}])
    assert set(g2.params[0]) == set(params[0]) and set(g2.params[1]) == {"theta"}
    with pytest.raises(ValueError, match="wrt names \\['nope'\\]"):
        network_backward(trajs, params, ds, wrt={"W", "nope"})
    with pytest.raises(ValueError, match="wrt\\[1\\] names \\['gamma'\\]"):
        network_backward(trajs, params, ds, wrt=[None, {"gamma"}])
    with pytest.raises(ValueError, match="one entry"):
        network_backward(trajs, params, ds, wrt=[None])
    with pytest.raises(TypeError, match="iterable of parameter names"):
        network_backward(trajs, params, ds, wrt="W")


@pytest.mark.parametrize("path_user_ds", ["none", "every layer"])
def test_network_backward_reuses_only_its_own_arrays(path_user_ds):
    # network_backward lets the fused loop write δs over the ∂L/∂s it computed for a
    # layer (the input gradient of the layer above). The caller's ds arrays must come back
    # unchanged, each layer's δs must be the readable loop's for the same ∂L/∂s, and the
    # layer above's input gradient (recomputed from its own δI) must be unaffected.
    from refsnn.neurons.network import network_backward

    cfgs = (LIFConfig(6, 9), LIFConfig(9, 8, adaptation=True), LIFConfig(8, 4))
    net = Network(cfgs)
    rng = np.random.default_rng(5)
    params = [init_params(c, rng, np.float64, w_scale=3.0) for c in cfgs]
    x = (rng.random((23, 5, 6)) < 0.4).astype(np.float64)
    trajs = network_forward(net, params, x)
    user = [rng.normal(size=t.v.shape) for t in trajs]
    if path_user_ds == "none":
        user[:-1] = [None, None]
    kept = [None if u is None else u.copy() for u in user]
    g = network_backward(trajs, params, ds=user)
    for u, k in zip(user, kept):
        assert u is None or np.array_equal(u, k), "network_backward wrote into the caller's ds"
    for l in range(len(cfgs)):
        a_s = user[l] if l == len(cfgs) - 1 else g.layers[l + 1].x + (0 if user[l] is None else user[l])
        ref = layer_backward(trajs[l], params[l], a_s, path="readable")
        _assert_same(ref, g.layers[l], 1e-13, f"layer {l}")
