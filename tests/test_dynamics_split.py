"""The dynamics split of refsnn.lif: dynamics_forward / dynamics_backward.

``layer_forward`` is the projection ``I^ff_t = x_t W^T + b`` followed by
``dynamics_forward``; ``layer_backward`` is ``dynamics_backward`` followed by G1's
projection gradients. Any layer may drive the dynamics with its own current, so the
split must reproduce the layer bit for bit, and ``dI`` must be ∂L/∂I_ff.
"""

import numpy as np
import pytest

from refsnn import verify
from refsnn.lif import (LIFConfig, dynamics_backward, dynamics_forward, dynamics_param_names, init_params,
                        layer_backward, layer_forward, param_names, smooth_twin)
from refsnn.checking.gradcheck import check_gradient
from refsnn.surrogates import surrogate

POINTS = [verify.GridPoint(r, d, True, sy, True, "trace_mse")
          for r in ("subtract", "hard_keep_input", "hard_drop_input", "none")
          for d, sy in ((False, False), (True, True))]


def _dyn(p):
    return {k: p[k] for k in p if k not in ("W", "b")}


@pytest.mark.parametrize("point", POINTS, ids=[p.name for p in POINTS])
def test_split_reproduces_the_layer_bit_for_bit(point):
    pr = verify.make_problem(point, seed=7)
    cfg, p, st0 = pr.net.layers[0], pr.params[0], pr.state0[0]
    T, B, _ = pr.x.shape
    rng = np.random.default_rng(1)
    ds, dv = rng.normal(size=(2, T, B, cfg.n))
    full = layer_forward(cfg, p, pr.x, st0)
    I_ff = (pr.x.reshape(T * B, -1) @ p["W"].T).reshape(T, B, cfg.n) + p["b"]
    dyn = dynamics_forward(cfg, _dyn(p), I_ff, st0)
    assert dyn.x is None
    for name in ("v", "s", "u", "c", "s_init", "I_ff"):
        assert np.array_equal(getattr(full, name), getattr(dyn, name)), name
    gl = layer_backward(full, p, ds, dv)
    gd = dynamics_backward(dyn, _dyn(p), ds, dv)
    assert list(gd.params) == list(dynamics_param_names(cfg))
    assert list(gl.params) == list(param_names(cfg))
    for k in gd.params:
        assert np.array_equal(gl.params[k], gd.params[k]), k
    for k in gd.adjoints:
        assert np.array_equal(gl.adjoints[k], gd.adjoints[k]), k
    for k in gd.state0:
        assert np.array_equal(gl.state0[k], gd.state0[k]), k
    assert np.array_equal(gd.dI, gl.adjoints["dc"])                    # B5: δI = δc
    np.testing.assert_allclose(gl.params["b"], gd.dI.sum(axis=(0, 1)), rtol=1e-13, atol=0)   # G1 (a BLAS sum)
    assert np.array_equal(gl.x, gd.dI @ p["W"])


@pytest.mark.parametrize("reset", ["subtract", "hard_drop_input"])
def test_dI_is_the_gradient_of_the_supplied_current(reset):
    """Smooth twin: δI_t from dynamics_backward equals central differences in I_ff."""
    cfg = smooth_twin(LIFConfig(3, 4, surrogate=surrogate("sigmoid", 4.0), reset=reset,
                                adaptation=True, recurrent=True))
    p = _dyn(init_params(cfg, 0, b=0.3))
    rng = np.random.default_rng(2)
    I_ff = rng.normal(0.8, 1.0, (5, 2, 4))
    w = rng.normal(size=(5, 2, 4))

    def loss(I):
        tr = dynamics_forward(cfg, p, I)
        return float(np.sum(w * tr.v) + np.sum(tr.s ** 2))

    tr = dynamics_forward(cfg, p, I_ff)
    g = dynamics_backward(tr, p, ds=2 * tr.s, dv=w)
    res = check_gradient(loss, I_ff, g.dI, eps=1e-4, rtol=1e-7, order=4)
    assert res.passed, res


def test_dynamics_arguments_are_checked():
    cfg = LIFConfig(3, 4)
    p = init_params(cfg, 0)
    I = np.zeros((2, 1, 4))
    with pytest.raises(ValueError, match="unexpected \\['W', 'b'\\]"):
        dynamics_forward(cfg, p, I)
    with pytest.raises(ValueError, match=r"^I_ff has shape \(2, 1, 3\), expected \(any, any, 4\)"):
        dynamics_forward(cfg, _dyn(p), np.zeros((2, 1, 3)))
    with pytest.raises(ValueError, match="^I_ff must have at least one time step"):
        dynamics_forward(cfg, _dyn(p), np.zeros((0, 1, 4)))
    with pytest.raises(TypeError, match="^I_ff has dtype float32"):
        dynamics_forward(cfg, _dyn(p), I.astype(np.float32))
    tr = dynamics_forward(cfg, _dyn(p), I)
    with pytest.raises(ValueError, match="use dynamics_backward"):
        layer_backward(tr, p)
    with pytest.raises(TypeError, match="^traj must be a Trajectory"):
        dynamics_backward(None, _dyn(p))
