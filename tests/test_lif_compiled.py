"""The compiled loops (refsnn.neurons.lif_compiled, the ``fast`` extra) against the NumPy loops.

The extra promises to change no result: every array the layer returns (the trajectory,
every gradient, every adjoint) must be *bitwise* equal with the compiled loops and
without them (:func:`lif_compiled.disabled`), in both dtypes, for every switch the
compiled loops cover, and the loops must really be taken (a spy counts the calls), so a
kernel that silently fell back to NumPy could not pass. Sizes are past
:data:`lif_compiled.MIN_ELEMENTS`. The compiled path is also held to the readable loop,
the reference the docstrings describe, as the fused loop is (tests/test_lif_fused.py).
"""

import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("numba")

from refsnn.neurons import lif_compiled  # noqa: E402
from refsnn.neurons.lif import LIFConfig, init_params, layer_backward, layer_forward  # noqa: E402
from refsnn.neurons.network import Network, network_backward, network_forward  # noqa: E402
from refsnn.surrogates import surrogate  # noqa: E402

T, B, M, N = 23, 3, 9, 70          # T·B·N = 4830 ≥ MIN_ELEMENTS


@pytest.fixture
def spy(monkeypatch):
    calls = {"forward": 0, "backward": 0}
    for name in calls:
        real = getattr(lif_compiled, name)

        def wrapped(*a, _real=real, _name=name):
            calls[_name] += 1
            return _real(*a)
        monkeypatch.setattr(lif_compiled, name, wrapped)
    return calls


def _arrays(traj, g):
    out = {"v": traj.v, "s": traj.s, "s_init": traj.s_init, "x": g.x, "ds_init": g.ds_init}
    out.update({f"param.{k}": v for k, v in g.params.items()})
    out.update({f"state0.{k}": v for k, v in g.state0.items()})
    out.update({f"adjoint.{k}": v for k, v in g.adjoints.items()})
    return out


def _run(cfg, p, x, ds, dv, wrt):
    traj = layer_forward(cfg, p, x)
    return _arrays(traj, layer_backward(traj, p, ds, dv, wrt=wrt))


def _problem(dtype, shared=False, seed=0, w_scale=3.0, **kw):
    kw.setdefault("surrogate", surrogate("arctan", 2.0))
    cfg = LIFConfig(M, N, **kw)
    rng = np.random.default_rng(seed)
    p = init_params(cfg, rng, dtype, w_scale=w_scale)
    if shared:                                   # one α, θ, γ for all neurons (the presets' 0-d params)
        p = dict(p, alpha=np.array(0.9, dtype), theta=np.array(1.0, dtype))
        if "gamma" in p:
            p["gamma"] = np.array(0.8, dtype)
    else:                                        # per neuron, all different
        p = dict(p, alpha=rng.uniform(0.7, 0.95, N).astype(dtype), theta=rng.uniform(0.5, 1.5, N).astype(dtype))
    x = (rng.random((T, B, M)) < 0.4).astype(dtype)
    return cfg, p, x, rng


def _assert_bitwise(cfg, p, x, ds, dv, wrt, spy):
    before = dict(spy)
    got = _run(cfg, p, x, ds, dv, wrt)
    assert spy["forward"] == before["forward"] + 1 and spy["backward"] == before["backward"] + 1, \
        "the compiled loops were not taken"
    with lif_compiled.disabled():
        want = _run(cfg, p, x, ds, dv, wrt)
    assert spy["forward"] == before["forward"] + 1 and spy["backward"] == before["backward"] + 1
    assert 0 < got["s"].mean() < 1, "no spike or all spikes: the test would not see the reset or σ' terms"
    assert got.keys() == want.keys()
    for k in want:
        a, b = got[k], want[k]
        assert a.dtype == b.dtype and a.shape == b.shape, k
        assert np.array_equal(a, b), f"{k}: compiled differs from NumPy by {np.max(np.abs(a - b)):.3e}"


SWITCHES = [
    dict(),                                                      # refsnn's default layer
    dict(detach_reset=True),
    dict(reset="none"),
    dict(init_spike="zero", detach_reset=True, h0=0.0),          # the peers' presets
    dict(init_spike="zero", h0=1.0),
    dict(surrogate=surrogate("superspike", 5.0)),
    dict(surrogate=surrogate("triangle", 1.0)),
    dict(surrogate=surrogate("boxcar", 0.5), detach_reset=True),
    dict(surrogate=surrogate("arctan", 2.0, gain=0.3)),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("switch", SWITCHES, ids=lambda d: ",".join(f"{k}={getattr(v, 'name', v)}"
                                                                 for k, v in d.items()) or "default")
def test_compiled_equals_numpy_bit_for_bit(switch, dtype, spy):
    cfg, p, x, rng = _problem(dtype, **switch)
    assert lif_compiled.covers(cfg, T, B, N)
    ds = rng.normal(size=(T, B, N)).astype(dtype)
    _assert_bitwise(cfg, p, x, ds, None, None, spy)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("wrt", [None, {"W"}, {"theta"}, {"alpha", "gamma"}])
@pytest.mark.parametrize("partials", ["ds", "ds+dv", "dv", "none"])
def test_every_partial_and_wrt_bit_for_bit(partials, wrt, shared, dtype, spy):
    # ds=None makes the reverse loop write δs over its own zero array (a_s_scratch), the
    # branch where a detached reset writes nothing; dv adds a^v_t to B2.
    cfg, p, x, rng = _problem(dtype, shared=shared, seed=1)
    ds = rng.normal(size=(T, B, N)).astype(dtype) if "ds" in partials else None
    dv = rng.normal(size=(T, B, N)).astype(dtype) if "dv" in partials else None
    _assert_bitwise(cfg, p, x, ds, dv, wrt, spy)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("detach", [False, True])
def test_network_backward_bit_for_bit(detach, dtype, spy):
    # Through network_backward: the upper layer's a_s is computed for this call and
    # overwritten in place with δs (ds_scratch); the loss partial is not C-contiguous.
    # The upper layer is narrower than lif_compiled.NARROW: its loops run over rows of B·N.
    assert N >= lif_compiled.NARROW > 60
    net = Network((LIFConfig(M, N, detach_reset=detach), LIFConfig(N, 60, detach_reset=detach)))
    rng = np.random.default_rng(4)
    params = [init_params(c, rng, dtype, w_scale=3.0) for c in net.layers]
    x = (rng.random((T, B, M)) < 0.4).astype(dtype)
    ds_top = np.asfortranarray(rng.normal(size=(T, B, 60)).astype(dtype))

    def run():
        trajs = network_forward(net, params, x)
        g = network_backward(trajs, params, [None, ds_top])
        return [tr.v for tr in trajs] + [a for gl in g.layers for a in gl.params.values()] + \
               [a for gl in g.layers for a in gl.adjoints.values()] + [g.x]
    got = run()
    assert spy["forward"] == 2 and spy["backward"] == 2
    with lif_compiled.disabled():
        want = run()
    assert all(np.array_equal(a, b) for a, b in zip(got, want))


@pytest.mark.parametrize("shape", [(1, 8, 600), (300, 1, 16)])
def test_one_step_and_one_sample(shape, spy):
    t, b, n = shape
    cfg = LIFConfig(M, n)
    rng = np.random.default_rng(5)
    p = init_params(cfg, rng, np.float64, w_scale=3.0)
    x = (rng.random((t, b, M)) < 0.5).astype(np.float64)
    ds = rng.normal(size=(t, b, n))
    got = _run(cfg, p, x, ds, None, None)
    assert spy["backward"] == 1
    with lif_compiled.disabled():
        want = _run(cfg, p, x, ds, None, None)
    assert all(np.array_equal(got[k], want[k]) for k in want)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-13), (np.float32, 2e-5)])
def test_compiled_equals_the_readable_loop(dtype, rtol, spy):
    cfg, p, x, rng = _problem(dtype, seed=6, init_spike="zero")
    ds = rng.normal(size=(T, B, N)).astype(dtype)
    traj = layer_forward(cfg, p, x)
    a = layer_backward(traj, p, ds, path="readable")
    b = layer_backward(traj, p, ds, path="fused")
    assert spy["backward"] == 1
    for k in a.params:
        scale = float(np.abs(a.params[k]).max())
        assert np.abs(a.params[k] - b.params[k]).max() <= rtol * scale, k
    for k in a.adjoints:
        scale = float(np.abs(a.adjoints[k]).max())
        assert np.abs(a.adjoints[k] - b.adjoints[k]).max() <= rtol * scale, k


def test_what_the_compiled_loops_do_not_cover_runs_in_numpy():
    sg = surrogate("arctan", 2.0)
    base = dict(surrogate=sg)
    assert lif_compiled.covers(LIFConfig(M, N, **base), T, B, N)
    for kw in [dict(adaptation=True), dict(synapse=True), dict(recurrent=True), dict(adaptive_threshold=True),
               dict(refractory=2), dict(reset="hard_drop_input"), dict(forward="smooth"),
               dict(surrogate=surrogate("sigmoid", 4.0)), dict(surrogate=surrogate("arctan", 1e7))]:
        cfg = LIFConfig(M, N, **{**base, **kw})
        assert not lif_compiled.covers(cfg, T, B, N), kw
    cfg = LIFConfig(M, N, **base)
    assert not lif_compiled.covers(cfg, 2, 2, 3)                                 # too small
    assert not lif_compiled.covers(cfg, T, B, N, s_reset=np.zeros((T, B, N)))   # frozen reset spikes
    with lif_compiled.disabled():
        assert not lif_compiled.covers(cfg, T, B, N)
    assert lif_compiled.covers(cfg, T, B, N)


def test_the_environment_variable_turns_it_off():
    code = "from refsnn.neurons import lif_compiled as c; print(c.available())"
    out = {v: subprocess.run([sys.executable, "-c", code], env=dict(os.environ, REFSNN_COMPILED=v),
                             capture_output=True, text=True, check=True).stdout.strip() for v in ("0", "1")}
    assert out == {"0": "False", "1": "True"}


def test_without_numba_the_numpy_loops_run(monkeypatch, spy):
    def no_numba():
        raise ImportError("No module named 'numba'")
    monkeypatch.setattr(lif_compiled, "_build", no_numba)
    monkeypatch.setitem(lif_compiled._state, "tried", False)
    monkeypatch.setitem(lif_compiled._state, "kernels", None)
    assert not lif_compiled.available()
    cfg, p, x, rng = _problem(np.float64)
    traj = layer_forward(cfg, p, x)
    layer_backward(traj, p, rng.normal(size=(T, B, N)))
    assert spy == {"forward": 0, "backward": 0}


def test_the_readable_forward_loop_is_still_there():
    # The compiled loop replaces _dynamics_forward's loop only from its first step; with
    # it disabled the loop computes F4–F6 itself (a guard against deleting the loop).
    cfg, p, x, _ = _problem(np.float64)
    with lif_compiled.disabled():
        traj = layer_forward(cfg, p, x)
    v_prev, s_prev = np.zeros((B, N)), traj.s_init
    for t in range(T):
        I_t = x[t] @ p["W"].T + p["b"]
        v_t = p["alpha"] * v_prev + I_t - s_prev * p["gamma"]                  # F4
        np.testing.assert_allclose(traj.v[t], v_t, rtol=1e-12, atol=1e-12)
        H = traj.v[t] >= p["theta"] if cfg.h0 == 1.0 else traj.v[t] > p["theta"]
        np.testing.assert_array_equal(traj.s[t], H.astype(float))                # F6
        v_prev, s_prev = traj.v[t], traj.s[t]


@pytest.mark.parametrize("h0", [0.0, 1.0])
def test_the_value_of_H_at_zero(h0, spy):
    # v_t lands exactly on θ: with α v_{−1} = 0 and I_0 = 1 = θ, H(0) decides s_0.
    cfg = LIFConfig(M, N, h0=h0, init_spike="zero")
    p = init_params(cfg, np.random.default_rng(7), np.float64)
    p = dict(p, W=np.zeros((N, M)), b=np.zeros(N), theta=np.ones(N))
    p["W"][:, 0] = 1.0
    x = np.zeros((T, B, M))
    x[0, :, 0] = 1.0
    traj = layer_forward(cfg, p, x)
    assert spy["forward"] == 1
    assert np.all(traj.v[0] == 1.0) and np.all(traj.s[0] == h0)


@pytest.mark.parametrize("init_spike", ["from_v0", "zero"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_an_initial_state_bit_for_bit(init_spike, dtype, spy):
    # v_{−1} ≠ 0 (and, from v_{−1}, s_{−1} ≠ 0): step 0's terms α v_{−1}, s_{−1} γ, and
    # the sums' t = 0 products δv_0 v_{−1} and δv_0 s_{−1}, and ∂L/∂v_{−1}.
    cfg, p, x, rng = _problem(dtype, seed=8, init_spike=init_spike)
    state0 = {"v": rng.uniform(0.0, 2.0, (B, N)).astype(dtype)}
    ds = rng.normal(size=(T, B, N)).astype(dtype)

    def run():
        traj = layer_forward(cfg, p, x, state0)
        return _arrays(traj, layer_backward(traj, p, ds))
    got = run()
    assert spy["backward"] == 1
    assert init_spike == "zero" or 0 < got["s_init"].mean() < 1
    with lif_compiled.disabled():
        want = run()
    for k in want:
        assert np.array_equal(got[k], want[k]), k


@pytest.mark.parametrize("h0", [0.0, 1.0])
def test_the_reverse_loop_recomputes_s_as_the_forward_loop_did(h0, spy):
    # The compiled reverse loop does not read s: G3's s_{t−1} is H(v_{t−1} − θ) again. Here
    # v_0 lands exactly on θ (H(0) = h0 decides s_0), so a recomputation with the other
    # comparison would change s_0, and with it γ's sum at t = 1 and every term after it.
    cfg = LIFConfig(M, N, h0=h0, init_spike="zero", detach_reset=False)
    p = init_params(cfg, np.random.default_rng(7), np.float64)
    p = dict(p, W=np.zeros((N, M)), b=np.zeros(N), theta=np.ones(N), gamma=np.full(N, 0.5))
    p["W"][:, 0] = 1.0
    x = np.zeros((T, B, M))
    x[0, :, 0] = 1.0
    ds = np.random.default_rng(8).normal(size=(T, B, N))
    got = _run(cfg, p, x, ds, None, None)
    assert spy["backward"] == 1 and np.all(got["v"][0] == 1.0) and np.all(got["s"][0] == h0)
    with lif_compiled.disabled():
        want = _run(cfg, p, x, ds, None, None)
    for k in want:
        assert np.array_equal(got[k], want[k]), k
    assert got["param.gamma"].any() == (h0 == 1.0)   # s_0 = h0 is the only spike that γ's sum sees


# ---- e-prop's chunk recursion (refsnn.learning.eprop._linear_chunk) ----

def _numpy_recursion(R, A, w):
    K = A.shape[0]
    for t in range(K - 1, -1, -1):
        prev = t - 1 if t else K
        np.einsum("orbj,rqbj->oqbj", R[t], A[t], out=R[prev])
        if t:
            R[prev, -1] += w[t - 1]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("K, S, Bk, Nk", [(64, 5, 8, 64), (1, 1, 2, 3), (5, 3, 4, 7), (17, 2, 1, 50),
                                          (2, 1, 3, 4), (3, 5, 2, 5)])
def test_the_eprop_recursion_bit_for_bit(K, S, Bk, Nk, dtype):
    """λ_t (every t), Φ_{−1} and M_t = Φ_t a_t against the NumPy loop's R (K + 1, S + 1, S, B, N)
    started from [I; w_{K−1}], as eprop._linear_chunk starts it; without a, λ alone."""
    rng = np.random.default_rng(K + S)
    A = (0.5 * rng.standard_normal((K, S, S, Bk, Nk))).astype(dtype)
    w = rng.standard_normal((K, S, Bk, Nk)).astype(dtype)
    a = rng.standard_normal((K, S, Bk, Nk)).astype(dtype)
    want = np.zeros((K + 1, S + 1, S, Bk, Nk), dtype)
    for s in range(S):
        want[K - 1, s, s] = 1.0
    want[K - 1, -1] = w[-1]
    _numpy_recursion(want, A, w)
    M_want = np.einsum("tosbj,tsbj->tobj", want[:K, :S], a).transpose(0, 2, 3, 1)
    for with_a in (False, True):
        lam = np.full((K + 1, S, Bk, Nk), np.nan, dtype)     # every row is written, none read first
        Phi, M = lif_compiled.recursion(lam, A, w, a if with_a else None)
        assert np.array_equal(lam, want[:, -1]) and np.isfinite(lam).all()
        if with_a:
            assert Phi.shape == (S, S, Bk, Nk) and np.array_equal(Phi, want[K, :S])
            assert M.shape == (K, Bk, Nk, S) and M.flags.c_contiguous and np.array_equal(M, M_want)
        else:
            assert Phi is None and M is None


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_eprop_gradients_bit_for_bit(dtype, monkeypatch):
    from refsnn.learning import eprop
    from refsnn.neurons.network import network_init
    calls = []
    real = lif_compiled.recursion
    def counted(*a):
        calls.append(1)
        return real(*a)
    monkeypatch.setattr(lif_compiled, "recursion", counted)
    sg = surrogate("sigmoid", 10.0)
    net = Network((LIFConfig(6, 40, surrogate=sg, recurrent=True, adaptation=True, synapse=True),
                   LIFConfig(40, 2, surrogate=sg, reset="none", spiking=False, synapse=True)))
    rng = np.random.default_rng(3)
    params = network_init(net, rng, dtype, [dict(w_scale=3.0, r_scale=0.3), dict(w_scale=1.0)])
    Tn = 2 * eprop.CHUNK + 22                     # chunks of CHUNK, CHUNK and 22 steps
    x = (rng.random((Tn, 8, 6)) < 0.2).astype(dtype)
    y = rng.standard_normal((Tn, 8, 2)).astype(dtype)
    got = eprop.eprop_gradients(net, params, x, eprop.step_mse(y))
    # The hidden layer's, each chunk; the readout's (K·rows·S·B·N = CHUNK·3·2·8·2 ≥ MIN_ELEMENTS)
    # in the first two, and not in the last (22·1·2·8·2: the NumPy loop).
    assert len(calls) == 5
    with lif_compiled.disabled():
        want = eprop.eprop_gradients(net, params, x, eprop.step_mse(y))
    assert len(calls) == 5 and got.value == want.value
    for g, h in zip(got.grads, want.grads):
        assert g.keys() == h.keys()
        for k in g:
            assert np.array_equal(g[k], h[k]) and np.any(g[k]), k
