"""refsnn's surrogate-mode adjoints against an independent PyTorch autograd twin.

The twin below re-implements, from the equations of :mod:`refsnn.lif` (F1–F6, the
reset table, detach semantics, the initial spike s_{-1} = f(v_{-1} − θ)) and the
loss formulas of :mod:`refsnn.losses` / ``verify.Problem.loss``, the forward
pass of a network in PyTorch. It calls nothing in refsnn: refsnn only supplies
the problem (configs, parameters, data) and the gradients under test.

The spike is a ``torch.autograd.Function``: Heaviside forward with H(0) = h0,
backward multiplied by the surrogate derivative g·σ'(v − θ), written here in
torch for every family. Autograd then differentiates everything else, so the
twin's gradient is the surrogate gradient by construction, with no hand-written
adjoint. refsnn's hand-written adjoint (``verify.adjoint`` on the problem's own
configs: Heaviside forward, surrogate backward) must agree with it at every
entry of every parameter, the input and every initial state — in float64 to
``|a − b| ≤ max(1e-10·max(|a|, |b|), 1e-12)``: the two are the same arithmetic up
to summation order.

The membrane F4 is written in the "what F4 becomes" column of the reset table
(e.g. ``(1 − s̃)(m + d) + s̃ v_r``) rather than refsnn's ``m + d − s̃ r``; the two
are algebraically equal, so this also checks the table against the code.
"""

import dataclasses
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from refsnn import verify  # noqa: E402
from refsnn.network import Network, network_forward  # noqa: E402
from refsnn.surrogates import surrogate  # noqa: E402

RTOL = 1e-10
ATOL = 1e-12
RTOL32 = 1e-4
ATOL32 = 1e-6
CE, TRACE, MEMBRANE, L1, L2 = "ce_count", "trace_mse", "membrane", "l1", "l2"
ETA = 0.8        # trace_mse's filter constant in verify.Problem.loss
STRENGTH = 0.3   # l1 / l2 strength in verify.Problem.loss
GRID = verify.grid()
FAMILIES = ("sigmoid", "triangle", "arctan", "superspike", "exponential", "boxcar")


# ---------------------------------------------------------------------------
# Surrogate derivatives, in torch, from the table in refsnn/surrogates.py
# ---------------------------------------------------------------------------


def sg_prime(x, name, scale, gain):
    """g·σ'(x) for the refsnn family ``name`` (scale = half-width a or slope k)."""
    y = x.abs()
    if name == "triangle":            # max(0, 1 − |x|/a) / a
        a = scale
        d = torch.clamp(1.0 - y / a, min=0.0) / a
    elif name == "sigmoid":           # k S(kx)(1 − S(kx)), written symmetrically
        k = scale
        d = k * torch.sigmoid(k * y) * torch.sigmoid(-k * y)
    elif name == "boxcar":            # 1/(2a) for |x| < a, else 0
        a = scale
        d = (y < a).to(x.dtype) * (0.5 / a)
    elif name == "exponential":       # (k/2) exp(−k|x|)
        k = scale
        d = 0.5 * k * torch.exp(-k * y)
    elif name == "arctan":            # (k/2) / (1 + (πkx/2)²)
        k = scale
        d = 0.5 * k / (1.0 + (0.5 * math.pi * k * x) ** 2)
    elif name == "superspike":        # (k/2) / (1 + k|x|)²
        k = scale
        d = 0.5 * k / (1.0 + k * y) ** 2
    elif name == "straight_through":
        d = torch.ones_like(x)
    elif name == "true":
        d = torch.zeros_like(x)
    else:
        raise ValueError(f"no torch surrogate for {name!r}")
    return gain * d


class SurrogateSpike(torch.autograd.Function):
    """Forward: H(x) with H(0) = h0. Backward: upstream gradient × g·σ'(x)."""

    @staticmethod
    def forward(ctx, x, h0, name, scale, gain):
        ctx.save_for_backward(x)
        ctx.sg = (name, scale, gain)
        return (x > 0).to(x.dtype) + h0 * (x == 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * sg_prime(x, *ctx.sg), None, None, None, None


# ---------------------------------------------------------------------------
# The twin: forward pass F1–F6 and the five grid losses, differentiated by autograd
# ---------------------------------------------------------------------------


def twin_layer(cfg, p, x, st0):
    """One layer over all steps; returns (v, s), each (T, B, N); v is the membrane the
    losses see (the post-reset membrane with membrane_view="post_reset").

    The switches of lif's docstring (S1–S6): recurrent_delay 2 feeds s_{t−2} (s_{-2} = 0) to R; init_spike "zero" makes s_{-1} a zero
    constant; the adaptive threshold A_t = θ + β_a a_t, a_t = ρ_a a_{t-1} + s_{t-1}
    replaces θ in the spike; the refractory gate multiplies the spike by
    Π_{k=1..n}(1 − s_{t−k}) (detached with detach_refractory); the post-reset membrane is
    the value that the next step's F4 leaks from, v⁺_t with v_{t+1} = α v⁺_t + d_{t+1}.
    Shared (0-d) parameters broadcast by themselves.
    """
    sg = cfg.surrogate
    athr = getattr(cfg, "adaptive_threshold", False)
    n_ref = getattr(cfg, "refractory", 0)
    post = getattr(cfg, "membrane_view", "pre_reset") == "post_reset"

    def f(z):
        return SurrogateSpike.apply(z, cfg.h0, sg.name, sg.scale, sg.gain)

    v_prev, u_prev, c_prev, a_prev = st0["v"], st0.get("u"), st0.get("c"), st0.get("a")
    if cfg.spiking and getattr(cfg, "init_spike", "from_v0") == "from_v0":
        s_prev = f(v_prev - (p["theta"] + p["beta_a"] * a_prev if athr else p["theta"]))  # s_{-1}
    else:
        s_prev = torch.zeros_like(v_prev)
    history = [s_prev]         # s_{-1}, s_0, ...: the spikes that set the refractory gate
    vs, ss = [], []
    for t in range(x.shape[0]):
        I = x[t] @ p["W"].T + p["b"]                                    # F1
        if cfg.recurrent:                                               # S6: s_{t−2} with delay 2
            delay = getattr(cfg, "recurrent_delay", 1)
            s_rec = s_prev if delay == 1 else history[-2] if len(history) > 1 else torch.zeros_like(s_prev)
            I = I + s_rec @ p["R"].T
        c = p["lam"] * c_prev + I if cfg.synapse else I                 # F2
        m = p["alpha"] * v_prev                                         # F3
        d = c - p["beta"] * u_prev if cfg.adaptation else c
        sr = s_prev.detach() if cfg.detach_reset else s_prev            # s̃_{t-1}
        if cfg.reset == "subtract":                                     # F4
            v = m + d - sr * p["gamma"]
        elif cfg.reset == "hard_keep_input":
            v = (1.0 - sr) * m + sr * p["v_reset"] + d
        elif cfg.reset == "hard_drop_input":
            v = (1.0 - sr) * (m + d) + sr * p["v_reset"]
        else:
            v = m + d
        if cfg.adaptation:                                              # F5
            u_prev = p["rho"] * u_prev + p["kappa"] * s_prev
        if athr:                                                        # F7
            a_prev = p["rho_a"] * a_prev + (s_prev.detach() if cfg.detach_threshold else s_prev)
        A = p["theta"] + p["beta_a"] * a_prev if athr else p.get("theta")
        s = f(v - A) if cfg.spiking else torch.zeros_like(v)            # F6
        if n_ref:                                                       # refractory gate
            gate = torch.ones_like(s)
            for past in history[-n_ref:]:
                gate = gate * (1.0 - past)
            s = s * (gate.detach() if cfg.detach_refractory else gate)
        history.append(s)
        vs.append(v)
        ss.append(s)
        v_prev, s_prev, c_prev = v, s, c
    v_all, s_all = torch.stack(vs), torch.stack(ss)
    if post and cfg.reset != "none":          # v⁺_t, with the reset spike of step t
        sr = s_all.detach() if cfg.detach_reset else s_all
        if cfg.reset == "subtract":
            v_all = v_all - sr * p["gamma"] / p["alpha"]
        elif cfg.reset == "hard_keep_input":
            v_all = (1.0 - sr) * v_all + sr * p["v_reset"] / p["alpha"]
        else:
            raise AssertionError("no post-reset membrane for hard_drop_input")
    return v_all, s_all


def twin_loss(kind, target, layers, probe=None):
    """The loss of verify.Problem.loss, from the formulas of refsnn.losses; ``probe``
    (one (B, N) target per layer) adds ½Σ_t(v_t − y)²/B on every layer."""
    if probe is not None:
        extra = sum(0.5 * ((v - y) ** 2).sum() / v.shape[1] for (v, _), y in zip(layers, probe))
        return twin_loss(kind, target, layers) + extra
    v_out, s_out = layers[-1]
    T, B, N = v_out.shape
    if kind == CE:        # −(1/B) Σ_b log softmax(n)_{y_b}, n = Σ_t s_t
        logp = torch.log_softmax(s_out.sum(0), dim=1)
        return -logp[torch.arange(B), target].mean()
    if kind == TRACE:     # (1/2TBN) Σ (z_t − y_t)², z_t = η z_{t−1} + s_t
        z, zs = torch.zeros_like(s_out[0]), []
        for t in range(T):
            z = ETA * z + s_out[t]
            zs.append(z)
        return 0.5 * ((torch.stack(zs) - target) ** 2).mean()
    if kind == MEMBRANE:  # (1/2B) Σ_t Σ_{b,k} (v_t − y)²
        return 0.5 * ((v_out - target) ** 2).sum() / B
    total = 0.0           # regularisers on every layer's spike counts
    for _, s in layers:
        n = s.sum(0)
        total = total + STRENGTH * (n.sum() if kind == L1 else (n ** 2).sum()) / s.shape[1]
    return total


@dataclasses.dataclass
class TwinResult:
    value: float
    grads: dict      # flat name -> ndarray, same names as verify._flatten
    v: list
    s: list


def run_twin(configs, params, x, state0, loss, target, dtype=torch.float64, probe=None):
    """Forward + autograd backward of the twin; everything returned as NumPy."""
    def leaf(a):
        return torch.tensor(np.asarray(a), dtype=dtype, requires_grad=True)

    xs = leaf(x)
    leaves = {"x": xs}
    P, S = [], []
    for l, (p, st0) in enumerate(zip(params, state0)):
        P.append({k: leaf(a) for k, a in p.items()})
        S.append({k: leaf(a) for k, a in st0.items()})
        leaves.update({f"L{l}.{k}": t for k, t in P[-1].items()})
        leaves.update({f"L{l}.state.{k}": t for k, t in S[-1].items()})
    layers, inp = [], xs
    for cfg, p, st0 in zip(configs, P, S):
        v, s = twin_layer(cfg, p, inp, st0)
        layers.append((v, s))
        inp = s
    if loss == CE:
        tgt = torch.as_tensor(np.asarray(target), dtype=torch.long)
    elif target is not None:
        tgt = torch.as_tensor(np.asarray(target), dtype=dtype)
    else:
        tgt = None
    if probe is not None:
        probe = [torch.as_tensor(np.asarray(y), dtype=dtype) for y in probe]
    value = twin_loss(loss, tgt, layers, probe)
    names = list(leaves)
    g = torch.autograd.grad(value, [leaves[k] for k in names], allow_unused=True)
    grads = {k: (np.zeros(leaves[k].shape, np.dtype(str(dtype).split(".")[1])) if gk is None
                 else gk.numpy()) for k, gk in zip(names, g)}
    return TwinResult(float(value.detach()), grads, [v.detach().numpy() for v, _ in layers],
                      [s.detach().numpy() for _, s in layers])


def twin_for(problem, configs=None):
    return run_twin(configs or problem.net.layers, problem.params, problem.x, problem.state0,
                    problem.point.loss, problem.target,
                    dtype=torch.float32 if problem.x.dtype == np.float32 else torch.float64,
                    probe=problem.probe if problem.always_probe else None)


# ---------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class Comparison:
    failures: list       # (name, index, refsnn value, twin value)
    max_rel: float       # max |a − b| / max(|a|, |b|) over entries with max(|a|,|b|) ≥ atol/rtol
    max_abs_small: float  # max |a − b| over the remaining (small) entries

    @property
    def ok(self):
        return not self.failures


def compare(ref, twin, rtol=RTOL, atol=ATOL):
    """Entry-wise: pass iff |a − b| ≤ max(rtol·max(|a|, |b|), atol). Names and shapes must match."""
    failures = []
    if set(ref) != set(twin):
        failures.append(("<names>", (), sorted(ref), sorted(twin)))
    max_rel, max_abs_small = 0.0, 0.0
    for k in sorted(set(ref) & set(twin)):
        a = np.atleast_1d(np.asarray(ref[k], dtype=np.float64))
        b = np.atleast_1d(np.asarray(twin[k], dtype=np.float64))
        if a.shape != b.shape:
            failures.append((k, "shape", a.shape, b.shape))
            continue
        err = np.abs(a - b)
        mag = np.maximum(np.abs(a), np.abs(b))
        bad = ~(err <= np.maximum(rtol * mag, atol))    # NaN counts as bad
        for idx in zip(*np.nonzero(bad)):
            failures.append((k, tuple(int(i) for i in idx), float(a[idx]), float(b[idx])))
        big = mag >= atol / rtol
        if np.any(big):
            max_rel = max(max_rel, float(np.max(err[big] / mag[big])))
        if np.any(~big):
            max_abs_small = max(max_abs_small, float(np.max(err[~big])))
    return Comparison(failures, max_rel, max_abs_small)


def check_against_twin(problem, rtol=RTOL, atol=ATOL):
    """refsnn adjoint vs the twin on ``problem``: loss, spike trains, membranes, gradients."""
    value, grads, trajs = verify.adjoint(problem)
    tw = twin_for(problem)
    where = f"{problem.point.name} [{', '.join(c.surrogate.name for c in problem.net.layers)}]"
    for l, tr in enumerate(trajs):
        mism = np.argwhere(tr.s != tw.s[l])
        assert mism.size == 0, f"{where}: layer {l} spike trains differ at {mism[:5].tolist()}"
    vc = compare({f"L{l}.v": getattr(tr, "membrane", tr.v) for l, tr in enumerate(trajs)},
                 {f"L{l}.v": v for l, v in enumerate(tw.v)}, rtol, atol)
    assert vc.ok, f"{where}: membranes differ: {vc.failures[:5]}"
    lc = compare({"loss": value}, {"loss": tw.value}, rtol, atol)
    assert lc.ok, f"{where}: loss {value!r} (refsnn) vs {tw.value!r} (torch)"
    gc = compare(grads, tw.grads, rtol, atol)
    assert gc.ok, f"{where}: {len(gc.failures)} gradient entries differ, first {gc.failures[:8]}"
    return trajs, grads, gc


def spike_stats(trajs):
    """(spikes, slots) summed over the spiking layers (s_{-1} excluded)."""
    sp = [tr.s for tr in trajs if tr.config.spiking]
    return int(sum(s.sum() for s in sp)), int(sum(s.size for s in sp))


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("point", GRID, ids=[p.name for p in GRID])
def test_grid_matches_torch(point):
    """Every grid point, the problem's own surrogate (sigmoid, slope 4), float64."""
    problem = verify.make_problem(point, seed=0)
    trajs, grads, _ = check_against_twin(problem)
    n, slots = spike_stats(trajs)
    assert 0 < n < slots, f"{point.name}: {n} spikes in {slots} slots"
    assert max(float(np.max(np.abs(g))) for g in grads.values()) > 1e-3


def _family_surrogate(name, i):
    """A non-default scale and gain for family ``name``, varied with ``i``."""
    width = name in ("triangle", "boxcar")
    scale = (0.3, 0.7, 1.5)[i % 3] if width else (1.5, 3.0, 7.0)[i % 3]
    return surrogate(name, scale, gain=(0.7, 1.0, 1.8)[(i // 3) % 3])


def cycled_problem(i):
    """Grid point i with the surrogate family, scale, gain and seed cycling.
    (make_problem gives the readout a larger bias, so spiking readouts fire.)"""
    sg = _family_surrogate(FAMILIES[i % len(FAMILIES)], i)
    return verify.make_problem(GRID[i], seed=1000 + i, sg=sg)


@pytest.mark.parametrize("i", range(len(GRID)), ids=[p.name for p in GRID])
def test_grid_cycled_families(i):
    """Every grid point again: other surrogate families, scales, gains and seeds."""
    check_against_twin(cycled_problem(i))


def _surrogates():
    def build(name, u, gain):
        lo, hi = (0.2, 2.0) if name in ("triangle", "boxcar") else (0.5, 10.0)
        return surrogate(name, lo * (hi / lo) ** u, gain=gain)
    return st.builds(build, st.sampled_from(FAMILIES + ("straight_through",)),
                     st.floats(0.0, 1.0), st.floats(0.25, 4.0))


@settings()
@given(st.sampled_from(GRID), st.integers(0, 2**31 - 1), _surrogates(), st.integers(1, 8),
       st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(1, 3))
def test_sampled_problems_match_torch(point, seed, sg, T, B, M, H, K):
    """Grid points × seeds × surrogate families (scale, gain) × shapes."""
    if sg.name == "straight_through":
        sg = surrogate("straight_through", gain=sg.gain)
    problem = verify.make_problem(point, seed, sg=sg, T=T, B=B, M=M, H=H, K=K)
    check_against_twin(problem)


@pytest.mark.parametrize("h0", [1.0, 0.0])
def test_tie_at_threshold_follows_h0(h0):
    """A membrane exactly at θ spikes iff h0 = 1, in both implementations, and the
    initial spike s_{-1} = f(v_{-1} − θ) carries its surrogate gradient to v_{-1}."""
    point = verify.GridPoint("hard_drop_input", False, True, True, True, CE)
    problem = verify.make_problem(point, seed=5)
    net = Network(tuple(dataclasses.replace(c, h0=h0) for c in problem.net.layers))
    state0 = [dict(s) for s in problem.state0]
    v0 = state0[0]["v"].copy()
    v0[:, 0] = problem.params[0]["theta"][0]   # v_{-1} − θ = 0 exactly for neuron 0
    state0[0]["v"] = v0
    problem = dataclasses.replace(problem, net=net, state0=state0)
    trajs, grads, _ = check_against_twin(problem)
    assert np.all(trajs[0].s_init[:, 0] == h0)
    assert np.any(grads["L0.state.v"][:, 0] != 0.0)


CASES32 = [verify.GridPoint(r, d, a, sy, rec, loss)
           for r, d, a, sy, rec, loss in [
               ("subtract", False, True, True, True, CE),
               ("hard_keep_input", True, True, False, True, TRACE),
               ("hard_drop_input", False, False, True, True, L2),
               ("none", False, True, True, False, MEMBRANE),
               ("hard_drop_input", True, True, True, True, L1),
           ]]


def _as_float32(problem):
    def f32(a):
        return np.asarray(a, dtype=np.float32)
    return dataclasses.replace(
        problem,
        params=[{k: f32(a) for k, a in p.items()} for p in problem.params],
        x=f32(problem.x),
        state0=[{k: f32(a) for k, a in s.items()} for s in problem.state0],
        target=problem.target if problem.point.loss in (CE, L1, L2) else f32(problem.target),
    )


@pytest.mark.parametrize("point", CASES32, ids=[p.name for p in CASES32])
def test_float32_matches_torch_float32(point):
    """refsnn in float32 against the twin in float32, at rtol 1e-4 (floor 1e-6)."""
    problem = _as_float32(verify.make_problem(point, seed=2, sg=surrogate("arctan", 3.0)))
    value, grads, trajs = verify.adjoint(problem)
    assert all(g.dtype == np.float32 for g in grads.values())
    tw = twin_for(problem)
    assert all(g.dtype == np.float32 for g in tw.grads.values())
    for l, tr in enumerate(trajs):
        assert np.array_equal(tr.s, tw.s[l]), f"layer {l} spike trains differ"
    assert compare({"loss": value}, {"loss": tw.value}, RTOL32, ATOL32).ok
    gc = compare(grads, tw.grads, RTOL32, ATOL32)
    assert gc.ok, gc.failures[:8]


def test_comparison_detects_a_perturbed_entry():
    """The comparison is not vacuous: one entry off by a relative 1e-8 fails, and only it."""
    point = verify.GridPoint("hard_keep_input", True, True, True, True, TRACE)
    problem = verify.make_problem(point, seed=3)
    _, grads, _ = verify.adjoint(problem)
    tw = twin_for(problem)
    assert compare(grads, tw.grads).ok
    for key in ("L0.alpha", "L1.W", "x", "L0.state.u"):
        bad = {k: a.copy() for k, a in grads.items()}
        idx = np.unravel_index(np.argmax(np.abs(bad[key])), bad[key].shape)
        assert abs(bad[key][idx]) > 1e-3
        bad[key][idx] *= 1 + 1e-8
        res = compare(bad, tw.grads)
        assert [(f[0], f[1]) for f in res.failures] == [(key, tuple(int(i) for i in idx))]
    missing = dict(grads)
    del missing["L1.lam"]
    assert not compare(missing, tw.grads).ok


@pytest.mark.parametrize("change", ["detach", "h0_no_effect", "surrogate", "reset"])
def test_twin_tells_configurations_apart(change):
    """The twin's gradients depend on the semantics it is meant to pin down: flipping
    detach, the surrogate's scale or the reset kind in the twin alone makes the
    comparison fail (and changing h0, which no random problem ties on, does not)."""
    point = verify.GridPoint("hard_drop_input", False, True, True, True, TRACE)
    problem = verify.make_problem(point, seed=4)
    _, grads, trajs = verify.adjoint(problem)
    assert spike_stats(trajs)[0] > 0
    edit = {
        "detach": dict(detach_reset=True),
        "h0_no_effect": dict(h0=0.0),
        "surrogate": dict(surrogate=surrogate("sigmoid", 4.0 * (1 + 1e-6))),
        "reset": dict(reset="hard_keep_input"),
    }[change]
    configs = tuple(dataclasses.replace(c, **edit) for c in problem.net.layers)
    res = compare(grads, twin_for(problem, configs).grads)
    assert res.ok == (change == "h0_no_effect")


def test_spike_activity_is_nontrivial_across_the_grid():
    """The compared problems exercise spiking. No spiking layer fires in every slot.
    The hidden layer spikes in every seed-0 grid problem and in nearly every cycled
    problem; in the cycled problems the spiking readout also spikes before its last
    step (so its reset acts) in nearly every problem. (refsnn's forward pass counts
    the spikes: its spike trains equal the twin's, checked above.)"""
    full, hidden_silent, hidden_active, readout_early, n_readout = [], [], 0, 0, 0
    problems = [verify.make_problem(p, seed=0) for p in GRID]
    cycled = [cycled_problem(i) for i in range(len(GRID))]
    for k, problem in enumerate(problems + cycled):
        trajs = network_forward(problem.net, problem.params, problem.x, problem.state0)
        full += [problem.point.name for tr in trajs if tr.config.spiking and tr.s.all()]
        if k < len(problems):
            if not trajs[0].s.any():
                hidden_silent.append(problem.point.name)
            continue
        hidden_active += bool(trajs[0].s.any())
        if trajs[-1].config.spiking:
            n_readout += 1
            readout_early += bool(trajs[-1].s[:-1].any())
    assert not full, full
    assert not hidden_silent, hidden_silent
    assert hidden_active >= 0.95 * len(cycled), hidden_active
    assert n_readout == 256 and readout_early >= 0.95 * n_readout, (readout_early, n_readout)


# ---------------------------------------------------------------------------
# The model switches (lif's S1–S5): every row of the lif-switches gradcheck family
# ---------------------------------------------------------------------------

from refsnn.checking import grid_switches  # noqa: E402

SWITCH_ROWS = grid_switches.points()


@pytest.mark.parametrize("i", range(len(SWITCH_ROWS)), ids=[p.name for p in SWITCH_ROWS])
def test_switch_rows_match_torch(i):
    """Each switch row in surrogate mode, the problem's own surrogate and a cycled one."""
    point = SWITCH_ROWS[i]
    trajs, grads, _ = check_against_twin(grid_switches.problem_for(point, seed=0))
    n, slots = spike_stats(trajs)
    assert 0 < n < slots, f"{point.name}: {n} spikes in {slots} slots"
    sg = _family_surrogate(FAMILIES[i % len(FAMILIES)], i)
    check_against_twin(grid_switches.problem_for(point, seed=500 + i, sg=sg))


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(SWITCH_ROWS), st.integers(0, 2**31 - 1), st.sampled_from(FAMILIES), st.integers(0, 8),
       st.integers(1, 8), st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(1, 3))
def test_sampled_switch_problems_match_torch(point, seed, family, i, T, B, M, H, K):
    """Switch rows × seeds × surrogate families (scale, gain) × shapes."""
    sg = _family_surrogate(family, i)
    check_against_twin(grid_switches.problem_for(point, seed, sg=sg, T=T, B=B, M=M, H=H, K=K))
