"""Eligibility traces, the exact factorisation, e-prop and the three-factor rule
(refsnn.learning.eprop, refsnn.learning.three_factor) against BPTT (layer_backward)."""

import itertools
import tracemalloc
from dataclasses import replace

import numpy as np
import pytest

from refsnn.checking import eprop_grid, verify
from refsnn.learning import eprop
from refsnn.learning.three_factor import bptt_step_term, presynaptic_trace, three_factor_update
from refsnn.neurons.lif import RESET_KINDS, LIFConfig, init_params, layer_backward, layer_forward
from refsnn.neurons.network import Network, network_backward, network_forward
from refsnn.surrogates import surrogate

STRUCTURES = list(itertools.product(RESET_KINDS, (False, True), (False, True), (False, True), (False, True)))


def _name(s):
    return "/".join([s[0], "detach" if s[1] else "attach"] + [f for f, on in zip(("adapt", "syn", "rec"), s[2:]) if on])


# ----------------------------------------------------------------- the exact factorisation


@pytest.mark.parametrize("structure", STRUCTURES, ids=_name)
@pytest.mark.parametrize("loss", ["trace_mse"])
def test_factorisation_equals_bptt_on_the_grid(structure, loss):
    """E1 with E2's signal equals G1 to 1e-12 for every split of the own-spike paths,
    both layers, with spike and membrane partials (the probe puts a^v on every layer)."""
    problem = verify.make_problem(verify.GridPoint(*structure, loss), seed=3)
    trajs = network_forward(problem.net, problem.params, problem.x, problem.state0)
    assert trajs[0].s.sum() > 0
    for own in eprop_grid.SPLITS:
        assert eprop_grid.factorisation_error(problem, own) <= 1e-12, own


@pytest.mark.parametrize("switch", eprop_grid.SWITCH_ROWS + ("athr_zero",))
@pytest.mark.parametrize("structure", STRUCTURES[::3], ids=_name)
def test_factorisation_with_the_lif_switches(switch, structure):
    """The adaptive threshold (its trace component ε^a and signal term δa), s_{-1} = 0 and
    shared parameters: E1 is still BPTT to 1e-12, for every split including the threshold alone."""
    from refsnn.checking.grid_switches import SWITCHES
    extra, shared, _ = SWITCHES[switch]
    problem = verify.make_problem(verify.GridPoint(*structure, "trace_mse"), seed=3, extra=extra, shared=shared)
    for own in eprop_grid.SPLITS + (("threshold",), ("reset", "threshold")):
        assert eprop_grid.factorisation_error(problem, own) <= 1e-12, own


@pytest.mark.parametrize("switch", eprop_grid.SWITCH_ROWS)
@pytest.mark.parametrize("structure", [s for s in STRUCTURES if not s[4]][::3], ids=_name)
def test_eprop_is_bptt_with_the_lif_switches(switch, structure):
    pt = eprop_grid.EpropPoint("exact", *structure, switch)
    problem = eprop_grid.problem_for(pt, seed=2)
    assert eprop_grid.eprop_error(problem) <= 1e-12


def test_threshold_in_the_trace_matters():
    """With the adaptive threshold, leaving its path out of the trace but not out of the
    signal (or the other way round) is wrong: the ε^a component is needed."""
    from refsnn.checking.grid_switches import SWITCHES
    problem = verify.make_problem(verify.GridPoint("subtract", True, False, False, False, "trace_mse"), seed=3,
                                  extra=SWITCHES["athr"][0])
    trajs = network_forward(problem.net, problem.params, problem.x, problem.state0)
    _, ds, dv = problem.loss(trajs, True)
    g = network_backward(trajs, problem.params, ds, dv)
    sig = eprop.learning_signal(trajs[0], problem.params[0], g.layers[0], ("threshold",))
    wrong = eprop.factorised_gradient(problem.net.layers[0], problem.params[0], problem.x, sig, dv[0],
                                      problem.state0[0], ())
    assert eprop_grid._rel(wrong["W"], g.params[0]["W"]) > 1e-6


def test_unsupported_switches_are_refused():
    sg = surrogate("sigmoid", 4.0)
    for kw, word in ((dict(refractory=2), "refractory"), (dict(membrane_view="post_reset"), "membrane_view")):
        cfg = LIFConfig(3, 4, surrogate=sg, **kw)
        p = init_params(cfg, 0)
        with pytest.raises(ValueError, match=word):
            eprop.factorised_gradient(cfg, p, np.zeros((3, 1, 3)), np.zeros((3, 1, 4)))


@pytest.mark.parametrize("structure", [s for s in STRUCTURES if s[0] != "none" and not s[1]], ids=_name)
def test_the_split_matters(structure):
    """Pairing one split's signal with another split's trace is wrong wherever the moved
    path exists: the test can tell which paths the trace carries."""
    problem = verify.make_problem(verify.GridPoint(*structure, "trace_mse"), seed=3)
    trajs = network_forward(problem.net, problem.params, problem.x, problem.state0)
    _, ds, dv = problem.loss(trajs, True)
    g = network_backward(trajs, problem.params, ds, dv)
    sig = eprop.learning_signal(trajs[0], problem.params[0], g.layers[0], ())      # total δs
    wrong = eprop.factorised_gradient(problem.net.layers[0], problem.params[0], problem.x, sig, dv[0],
                                      problem.state0[0], eprop.OWN_PATHS)
    assert eprop_grid._rel(wrong["W"], g.params[0]["W"]) > 1e-6


@pytest.mark.parametrize("structure", STRUCTURES[::3], ids=_name)
def test_external_signal_is_the_outside_paths(structure):
    """With every own path in the trace, E2 must equal a^s_t + (δI_{t+1} R)_j (B1 without
    the reset and adaptation terms), computed here independently of B1."""
    problem = verify.make_problem(verify.GridPoint(*structure, "trace_mse"), seed=4)
    trajs = network_forward(problem.net, problem.params, problem.x, problem.state0)
    _, ds, dv = problem.loss(trajs, True)
    g = network_backward(trajs, problem.params, ds, dv)
    a_s = g.layers[1].x                          # the hidden layer's spike partial from above
    if ds[0] is not None:
        a_s = a_s + ds[0]
    expect = a_s.copy()
    if problem.net.layers[0].recurrent:
        expect[:-1] += g.layers[0].adjoints["dc"][1:] @ problem.params[0]["R"]
    got = eprop.learning_signal(trajs[0], problem.params[0], g.layers[0], eprop.OWN_PATHS)
    np.testing.assert_allclose(got, expect, rtol=1e-12, atol=1e-14)


def test_factorisation_smooth_twin_and_float32():
    """The identity holds in smooth-twin mode too, and in float32 to float32 rounding."""
    from refsnn.neurons.lif import smooth_twin
    for structure in STRUCTURES[::7]:
        problem = verify.make_problem(verify.GridPoint(*structure, "trace_mse"), seed=5)
        net = Network(tuple(smooth_twin(c) for c in problem.net.layers))
        fac, ref, _ = eprop_grid._factor(problem, net, eprop.OWN_PATHS)
        assert max(eprop_grid._rel(f[k], r[k]) for f, r in zip(fac, ref) for k in f) <= 1e-12
    cfg = LIFConfig(3, 5, surrogate=surrogate("sigmoid", 4.0), adaptation=True, recurrent=True, synapse=True)
    p = init_params(cfg, 0, np.float32, w_scale=2.0, b=0.3)
    x = np.random.default_rng(0).normal(0.5, 1.0, (40, 2, 3)).astype(np.float32)
    tr = layer_forward(cfg, p, x)
    a_s = np.random.default_rng(1).normal(size=tr.s.shape).astype(np.float32)
    g = layer_backward(tr, p, a_s)
    fac = eprop.factorised_gradient(cfg, p, x, eprop.learning_signal(tr, p, g), None)
    for k in fac:
        assert fac[k].dtype == np.float32
        assert eprop_grid._rel(fac[k], g.params[k]) < 1e-4


# ----------------------------------------------------------------- e-prop


def _eprop_problem(reset, detach, adapt, syn, rec, T=30, seed=0):
    rng = np.random.default_rng(seed)
    sg = surrogate("sigmoid", 4.0)
    hid = LIFConfig(4, 6, surrogate=sg, reset=reset, detach_reset=detach, adaptation=adapt, synapse=syn,
                    recurrent=rec)
    out = LIFConfig(6, 2, surrogate=sg, reset="none", spiking=False, synapse=syn)
    net = Network((hid, out))
    params = [init_params(hid, rng, w_scale=2.0, b=0.3, alpha=rng.uniform(0.6, 0.95, 6)),
              init_params(out, rng, alpha=np.array([0.8, 0.7]), lam=0.6)]
    x = rng.normal(0.5, 1.0, (T, 3, 4))
    y = rng.normal(0.0, 1.0, (T, 3, 2))
    trajs = network_forward(net, params, x)
    assert trajs[0].s.sum() > 0
    bptt = network_backward(trajs, params, None, [None, (trajs[1].v - y) / 3]).params
    return net, params, x, y, bptt


def _max_rel(got, ref):
    return max(eprop_grid._rel(g[k], ref[l][k]) for l, g in enumerate(got) for k in g)


@pytest.mark.parametrize("structure", [s for s in STRUCTURES if not s[4]], ids=_name)
def test_eprop_is_bptt_where_the_derivation_says(structure):
    """One non-recurrent hidden layer, leaky readout (two readout neurons with different
    α: two filter groups), readout loss: symmetric e-prop with filtered traces is BPTT.
    Bellec's trace (reset left out) is exact iff the reset is detached or absent."""
    net, params, x, y, bptt = _eprop_problem(*structure)
    full = eprop.eprop_gradients(net, params, x, eprop.step_mse(y))
    assert _max_rel(full.grads, bptt) <= 1e-12
    bellec = eprop.eprop_gradients(net, params, x, eprop.step_mse(y), own=eprop.BELLEC_OWN)
    reset, detach = structure[:2]
    if detach or reset == "none":
        assert _max_rel(bellec.grads, bptt) <= 1e-12
    else:
        assert _max_rel(bellec.grads, bptt) > 1e-4
    unfiltered = eprop.eprop_gradients(net, params, x, eprop.step_mse(y), filtered=False)
    assert eprop_grid._rel(unfiltered.grads[0]["W"], bptt[0]["W"]) > 1e-3
    # the readout's own gradient does not depend on the filter: exact either way
    assert max(eprop_grid._rel(unfiltered.grads[1][k], bptt[1][k]) for k in ("W", "b")) <= 1e-12


@pytest.mark.parametrize("structure", [s for s in STRUCTURES if s[4]][::2], ids=_name)
def test_eprop_departs_with_recurrence(structure):
    """With R, e-prop drops (δI_{t+1} R): not the gradient, but aligned with it."""
    net, params, x, y, bptt = _eprop_problem(*structure)
    res = eprop.eprop_gradients(net, params, x, eprop.step_mse(y))
    al = eprop.alignment(res.grads[:1], bptt[:1])
    assert al["rel_diff"] > 1e-4
    assert 0.5 < al["cosine"] < 1.0
    # the readout stays exact
    assert max(eprop_grid._rel(res.grads[1][k], bptt[1][k]) for k in ("W", "b")) <= 1e-12


def test_random_feedback_and_alignment():
    net, params, x, y, bptt = _eprop_problem("subtract", True, True, True, False)
    sym = eprop.eprop_gradients(net, params, x, eprop.step_mse(y))
    as_array = eprop.eprop_gradients(net, params, x, eprop.step_mse(y), feedback=params[1]["W"].T.copy())
    for k in sym.grads[0]:
        np.testing.assert_array_equal(sym.grads[0][k], as_array.grads[0][k])
    B = eprop.random_feedback(net, 7)
    rnd = eprop.eprop_gradients(net, params, x, eprop.step_mse(y), feedback=B)
    al = eprop.alignment(rnd.grads[:1], bptt[:1])
    assert al["rel_diff"] > 1e-2 and al["cosine"] < 0.999
    # the hidden gradient is linear in B: scaling B scales it
    rnd2 = eprop.eprop_gradients(net, params, x, eprop.step_mse(y), feedback=2 * B)
    np.testing.assert_allclose(rnd2.grads[0]["W"], 2 * rnd.grads[0]["W"], rtol=1e-13)
    a = eprop.alignment([{"W": np.array([1.0, 0.0])}], [{"W": np.array([1.0, 1.0])}])
    assert a["cosine"] == pytest.approx(1 / np.sqrt(2)) and a["rel_diff"] == pytest.approx(np.sqrt(0.5))


def test_eprop_cross_entropy_is_exact_too():
    """A per-step cross-entropy (an online classification loss) under the same conditions."""
    net, params, x, _, _ = _eprop_problem("hard_drop_input", False, True, True, False)
    labels = np.array([0, 1, 1])
    loss = eprop.step_cross_entropy(labels, scale=1 / len(x))
    trajs = network_forward(net, params, x)
    dv = np.stack([loss(t, trajs[1].v[t])[1] for t in range(len(x))])
    bptt = network_backward(trajs, params, None, [None, dv]).params
    res = eprop.eprop_gradients(net, params, x, loss)
    assert _max_rel(res.grads, bptt) <= 1e-12
    from scipy.special import log_softmax
    value = -np.mean([log_softmax(v, 1)[np.arange(3), labels].mean() for v in trajs[1].v])
    assert res.value == pytest.approx(value, rel=1e-12)


def test_eprop_memory_is_flat_in_T(monkeypatch):
    """The forward loop keeps no trajectory beyond a chunk of eprop.CHUNK steps: peak memory
    at T = 8 chunks is that at T = 2 chunks (chunks of 32 steps here: the mechanism does not
    depend on the length, and tracemalloc makes each step slow)."""
    monkeypatch.setattr(eprop, "CHUNK", 32)
    net, params, _, _, _ = _eprop_problem("subtract", True, True, True, True, T=5)
    rng = np.random.default_rng(0)
    x = rng.normal(0.5, 1.0, (2 * eprop.CHUNK, 3, 4))     # (once untraced: numba compiles its kernels
    eprop.eprop_gradients(net, params, x, eprop.step_mse(rng.normal(size=(len(x), 3, 2))))   # here)
    peaks = []
    for T in (2 * eprop.CHUNK, 8 * eprop.CHUNK):
        x = rng.normal(0.5, 1.0, (T, 3, 4))
        y = rng.normal(size=(T, 3, 2))
        loss = eprop.step_mse(y)
        tracemalloc.start()
        eprop.eprop_gradients(net, params, x, loss)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 1.3 * peaks[0]


def test_eprop_bad_input():
    net, params, x, y, _ = _eprop_problem("subtract", True, False, False, False, T=5)
    with pytest.raises(ValueError, match="feedback"):
        eprop.eprop_gradients(net, params, x, eprop.step_mse(y), feedback="transposed")
    with pytest.raises(ValueError, match="feedback"):
        eprop.eprop_gradients(net, params, x, eprop.step_mse(y), feedback=np.zeros((2, 6)))
    with pytest.raises(TypeError, match="readout_loss"):
        eprop.eprop_gradients(net, params, x, None)
    with pytest.raises(ValueError, match="own"):
        eprop.eprop_gradients(net, params, x, eprop.step_mse(y), own=("reset", "threshold?"))
    with pytest.raises(ValueError, match="non-spiking"):
        eprop.eprop_gradients(Network((net.layers[0],)), params[:1], x, eprop.step_mse(y))
    with pytest.raises(ValueError, match="signal"):
        eprop.factorised_gradient(net.layers[0], params[0], x, None)


# ----------------------------------------------------------------- the three-factor rule


@pytest.mark.parametrize("structure", STRUCTURES, ids=_name)
def test_three_factor_is_bptt_for_one_step(structure):
    """T = 1: BPTT's W gradient is error × σ'(v − θ) × g^d x (the three factors)."""
    reset, detach, adapt, syn, rec = structure
    rng = np.random.default_rng(1)
    sg = surrogate("sigmoid", 4.0)
    cfg = LIFConfig(3, 5, surrogate=sg, reset=reset, detach_reset=detach, adaptation=adapt, synapse=syn,
                    recurrent=rec)
    p = init_params(cfg, rng, w_scale=2.0, b=0.3)
    x = rng.normal(0.5, 1.0, (1, 4, 3))
    state0 = {k: rng.normal(0.5, 0.6, (4, 5)) for k in ("v", "u", "c")[: 1] + (("u",) if adapt else ())
              + (("c",) if syn else ())}
    tr = layer_forward(cfg, p, x, state0)
    a_s, a_v = rng.normal(size=(2, 1, 4, 5))
    g = layer_backward(tr, p, a_s, a_v)
    # the hard reset that drops the input gates it by g^d_0 = 1 − s̃_{−1}, a postsynaptic
    # quantity: it folds into the error factor.
    g_d = 1.0 - tr.s_init * cfg.reset_partials[1]
    got = bptt_step_term(g_d * a_s[0], g_d * a_v[0], tr.v[0], p["theta"], x[0], sg)
    np.testing.assert_allclose(got, g.params["W"], rtol=1e-13, atol=1e-15)


def test_three_factor_summed_with_a_trace_is_eprop():
    """Σ_t e·φ(v_t)·p̄_t with p̄ the presynaptic trace (shared α, plain LIF) is e-prop's
    unfiltered gradient, with e = e-prop's learning signal L̂_t."""
    rng = np.random.default_rng(2)
    sg = surrogate("sigmoid", 4.0)
    hid = LIFConfig(4, 6, surrogate=sg, reset="subtract", detach_reset=True)
    out = LIFConfig(6, 2, surrogate=sg, reset="none", spiking=False)
    net = Network((hid, out))
    params = [init_params(hid, rng, w_scale=2.0, b=0.3, alpha=0.85), init_params(out, rng, alpha=0.8)]
    x = rng.normal(0.5, 1.0, (25, 3, 4))
    y = rng.normal(size=(25, 3, 2))
    res = eprop.eprop_gradients(net, params, x, eprop.step_mse(y), filtered=False, record=True)
    trajs = network_forward(net, params, x)
    pbar = presynaptic_trace(x, 0.85)
    total = sum(three_factor_update(res.record["signal"][t], trajs[0].v[t], params[0]["theta"], pbar[t], sg)
                for t in range(len(x)))
    np.testing.assert_allclose(total, res.grads[0]["W"], rtol=1e-12, atol=1e-15)
    # and the recorded traces are e_t = σ'(v_t − θ) p̄_t
    e = sg.derivative(trajs[0].v - params[0]["theta"])[..., None] * pbar[:, :, None, :]
    np.testing.assert_allclose(res.record["e"], e, rtol=1e-12, atol=1e-15)


def test_three_factor_bad_input():
    sg = surrogate("sigmoid", 4.0)
    with pytest.raises(ValueError, match="error"):
        three_factor_update(np.zeros((2, 3)), np.zeros((2, 4)), np.ones(4), np.zeros((2, 5)), sg)
    with pytest.raises(TypeError, match="surrogate"):
        three_factor_update(np.zeros((2, 4)), np.zeros((2, 4)), np.ones(4), np.zeros((2, 5)), "sigmoid")


# ----------------------------------------------------------------- the gradcheck family


@pytest.mark.parametrize("name", ["factor/subtract/detach/rec", "exact/hard_keep_input/attach/adapt/syn"])
def test_family_rows_pass(name):
    pt = {p.name: p for p in eprop_grid.points()}[name]
    rep = eprop_grid.check(pt)
    assert rep.passed and rep.bptt_max_rel <= 1e-12 and rep.piecewise_checked > 0


def test_gradcheck_cli_runs_an_eprop_row(capsys):
    import json
    from refsnn import cli
    code = cli.main(["gradcheck", "--json", "--jobs", "1", "--only", "eprop:exact-athr/subtract/attach"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["n_configurations"] == 1
    row = out["rows"][0]
    assert row["passed"] and row["bptt_max_rel"] <= 1e-12 and row["switch"] == "athr"


def _plain(loss):
    """The same per-step loss as a plain ``(t, y_t)`` callable, without ``.steps``: the chunked
    loop then calls it a step at a time."""
    return lambda t, y: loss(t, y)


def test_step_losses_over_a_chunk_equal_their_steps():
    """``loss.steps(t0, Y)`` (the chunked loop's call) is the sum of ``loss(t, y_t)`` over the
    chunk's steps, and its partials are theirs, for both step losses, from an offset t0."""
    rng = np.random.default_rng(3)
    T, B, K = 12, 4, 3
    Y, target = rng.normal(size=(T, B, K)), rng.normal(size=(T, B, K))
    for loss in (eprop.step_mse(target, 0.5), eprop.step_cross_entropy(np.array([0, 2, 1, 2]), 0.5)):
        value, grad = loss.steps(5, Y[5:11])
        per = [loss(t, Y[t]) for t in range(5, 11)]
        assert value == pytest.approx(sum(v for v, _ in per), rel=1e-14)
        np.testing.assert_allclose(grad, np.stack([g for _, g in per]), rtol=1e-14)
    with pytest.raises(ValueError, match="target has 12 time steps"):
        eprop.step_mse(target).steps(8, Y[:5])


@pytest.mark.parametrize("structure", STRUCTURES[::5], ids=_name)
def test_chunked_eprop_equals_the_step_loop_across_chunks(structure):
    """eprop_gradients sums E3/E4 a chunk at a time (no record); with record=True it runs
    E3 step by step. Over several chunks (T = 2·CHUNK + 7: two full chunks and a partial
    one, the trace carried across each boundary) the two agree for every feedback, split,
    filter and an adaptive threshold, and where e-prop is exact both are BPTT."""
    T = 2 * eprop.CHUNK + 7
    net, params, x, y, bptt = _eprop_problem(*structure, T=T)
    fb = eprop.random_feedback(net, 3)
    s0 = [dict(st) for st in eprop.eprop_gradients(net, params, x[:20], eprop.step_mse(y[:20])).final_state]
    labels = np.arange(x.shape[1]) % net.layers[1].n
    for kw, loss in ((dict(), eprop.step_mse(y)), (dict(feedback=fb), eprop.step_mse(y)),
                     (dict(own=eprop.BELLEC_OWN), eprop.step_mse(y)), (dict(filtered=False), eprop.step_mse(y)),
                     (dict(own=()), eprop.step_mse(y)), (dict(state0=s0), eprop.step_mse(y)),
                     (dict(), eprop.step_cross_entropy(labels)),
                     (dict(), _plain(eprop.step_mse(y))), (dict(), _plain(eprop.step_cross_entropy(labels)))):
        fast = eprop.eprop_gradients(net, params, x, loss, track_max=True, **kw)
        slow = eprop.eprop_gradients(net, params, x, loss, track_max=True, record=True, **kw)
        assert _max_rel(fast.grads, slow.grads) <= 1e-11, kw
        assert fast.value == pytest.approx(slow.value, rel=1e-13)
        np.testing.assert_array_equal(fast.y_max, slow.y_max)
        for a, b in zip(fast.final_state, slow.final_state):
            for k in a:
                np.testing.assert_array_equal(a[k], b[k])
    if not structure[4]:
        assert _max_rel(eprop.eprop_gradients(net, params, x, eprop.step_mse(y)).grads, bptt) <= 1e-11
    hid = replace(net.layers[0], adaptive_threshold=True)
    net2 = Network((hid, net.layers[1]))
    p2 = [dict(params[0], beta_a=np.full(6, 0.3), rho_a=np.full(6, 0.9)), params[1]]
    fast = eprop.eprop_gradients(net2, p2, x, eprop.step_mse(y))
    slow = eprop.eprop_gradients(net2, p2, x, eprop.step_mse(y), record=True)
    assert _max_rel(fast.grads, slow.grads) <= 1e-11


def test_chunked_eprop_in_float32():
    net, params, x, y, _ = _eprop_problem("hard_drop_input", False, True, True, True, T=eprop.CHUNK + 9)
    p32 = [{k: v.astype(np.float32) for k, v in p.items()} for p in params]
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    fast = eprop.eprop_gradients(net, p32, x32, eprop.step_mse(y32))
    slow = eprop.eprop_gradients(net, p32, x32, eprop.step_mse(y32), record=True)
    assert all(v.dtype == np.float32 for g in fast.grads for v in g.values())
    assert _max_rel(fast.grads, slow.grads) <= 1e-4
