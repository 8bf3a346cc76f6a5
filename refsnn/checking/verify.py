"""The verification grid: every neuron configuration × loss, checked along two exact routes.

A surrogate gradient is not the gradient of any function, so finite differences
cannot check it directly. The same adjoint code is checked where it *is* an
exact gradient:

(a) **Smooth twin.** The spike is the surrogate's primitive ``F`` (``forward="smooth"``).
    The backward pass uses ``σ' = F'``, so it is the exact gradient of the forward
    pass, and central differences in float64 must agree to ``rtol = 1e-7``.
(b) **Piecewise-linear regime.** The spike is the Heaviside step and ``σ' = 0``
    (the ``"true"`` surrogate). Between spikes the model is polynomial in its
    inputs, so central differences agree to rounding at every coordinate whose
    ±eps perturbation flips no spike; the flipping coordinates are reported as
    skipped.

A *detached* reset differentiates the model in which the reset spikes are
constants. Finite differences check it by holding the reset spikes at their
nominal values (``layer_forward(..., s_reset=...)``), which changes no value at
the nominal point but removes the reset path from the function. A detached
refractory gate is held the same way (``layer_forward(..., gate=...)``).

Every check covers every parameter of every layer, the network input ``x`` and
every initial state.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, replace

import numpy as np

from .. import losses as L
from .._validate import check_callable, check_instance, check_positive_int, real_scalar
from .families import Family
from .gradcheck import check_gradients, check_gradients_directional
from ..neurons.lif import LIFConfig, RESET_KINDS, param_names, piecewise_linear, smooth_twin, state_names
from ..neurons.network import (Network, _network_forward, flat_params, network_backward, network_forward,
                               network_init, unflat_params)
from ..surrogates import surrogate

__all__ = ["FAMILY", "GridPoint", "grid", "Problem", "make_problem", "check_point", "check_smooth_twin",
           "check_piecewise", "check_network_smooth_twin", "RTOL", "FLOOR", "EPS"]

RTOL = 1e-7
# Fourth-order central differences (refsnn.gradcheck, order=4): truncation error
# O(h⁴·F⁽⁵⁾) ≈ 1e-15·F⁽⁵⁾ at h = 2e-4 (steep surrogates have large F⁽⁵⁾, which rules out h = 1e-3), round-off ≈ 1e-16·|L|/h ≈ 5e-13 for losses of order 1.
ORDER = 4
EPS = 2e-4
# The piecewise route needs steps small enough that few coordinates flip a spike;
# between flips the model is polynomial, and the fourth-order stencil still leaves
# only ~1e-16·|L|/h round-off.
EPS_PIECEWISE = 1e-4
# Round-off of a central difference is about 10·ε·|L|/h ≈ 1e-12·|L| (ε = 2.2e-16).
# Entries below FLOOR·max(1, |L|) are therefore compared absolutely,
# |a − n| ≤ RTOL·FLOOR·max(1, |L|) = 1e-11·max(1, |L|); all larger entries must
# agree to RTOL relative.
FLOOR = 1e-4
# Directional screening (refsnn.gradcheck.check_gradients_directional): one random
# direction per array, per-entry checks only where it fails. ``False`` (``refsnn
# gradcheck --exhaustive``) differentiates entry by entry everywhere, as before.
DIRECTIONAL = True


def _directional(flag):
    return DIRECTIONAL if flag is None else bool(flag)


# A finite-difference step must be a small perturbation: parameters are O(1) here, and
# a step beyond this would leave every parameter's valid range (e.g. α in [0, 1]).
MAX_EPS = 0.1


def _check_route_args(eps, rtol, floor):
    eps = real_scalar("eps", eps, low=0, low_open=True)
    if eps > MAX_EPS:
        raise ValueError(f"eps must be a small step in (0, {MAX_EPS}], got {eps:g}")
    real_scalar("rtol", rtol, low=0)
    real_scalar("floor", floor, low=0, low_open=True)


@dataclass(frozen=True)
class GridPoint:
    """One configuration of the verification grid (item 8 of the core issue)."""

    reset: str
    detach: bool
    adaptation: bool
    synapse: bool
    recurrent: bool
    loss: str

    def __post_init__(self):
        if self.reset not in RESET_KINDS:
            raise ValueError(f"GridPoint.reset must be one of {RESET_KINDS}, got {self.reset!r}")
        for f in ("detach", "adaptation", "synapse", "recurrent"):
            if not isinstance(getattr(self, f), (bool, np.bool_)):
                raise TypeError(f"GridPoint.{f} must be True or False, got {getattr(self, f)!r}")
        if self.loss not in L.LOSS_NAMES:
            raise ValueError(f"GridPoint.loss must be one of {L.LOSS_NAMES}, got {self.loss!r}")

    @property
    def name(self):
        flags = [self.reset, "detach" if self.detach else "attach"]
        flags += [f for f, on in (("adapt", self.adaptation), ("syn", self.synapse),
                                  ("rec", self.recurrent)) if on]
        return "/".join(flags + [self.loss])


def grid():
    """All 4 × 2 × 2 × 2 × 2 × 5 = 320 grid points."""
    return [GridPoint(*c) for c in itertools.product(
        RESET_KINDS, (False, True), (False, True), (False, True), (False, True), L.LOSS_NAMES)]


@dataclass
class Problem:
    """A small network, its data and a loss: everything one check needs."""

    point: GridPoint
    net: Network
    params: list
    x: np.ndarray
    state0: list
    target: object
    probe: list | None = None
    always_probe: bool = False

    def loss(self, trajs, probe=False):
        """Loss value and per-layer direct partials ``(value, ds_list, dv_list)``.

        ``probe=True`` adds a membrane term ``½Σ_t(v_t − y)²`` on every layer. The
        piecewise route uses it: there, a loss that reads only spikes has an
        exactly zero gradient, which would check nothing but that zero.
        ``always_probe`` adds it on both routes (a problem whose membrane view is
        under test needs a membrane loss on its spiking layers).
        """
        probe = probe or self.always_probe
        out = trajs[-1]
        kind = self.point.loss
        if kind == "ce_count":
            parts = [(len(trajs) - 1, L.spike_count_cross_entropy(out, self.target))]
        elif kind == "trace_mse":
            parts = [(len(trajs) - 1, L.trace_mse(out, self.target, eta=0.8))]
        elif kind == "membrane":
            parts = [(len(trajs) - 1, L.membrane_rate_loss(out, self.target))]
        else:
            reg = L.spike_count_l1 if kind == "l1" else L.spike_count_l2
            parts = [(i, reg(tr, 0.3)) for i, tr in enumerate(trajs)]
        if probe:
            parts += [(i, L.membrane_rate_loss(tr, y)) for i, (tr, y) in enumerate(zip(trajs, self.probe))]
        per_layer = [[] for _ in trajs]
        for i, loss in parts:
            per_layer[i].append(loss)
        combined = [L.combine(*ls) if ls else L.Loss(0.0, None, None) for ls in per_layer]
        return (sum(c.value for c in combined), [c.ds for c in combined], [c.dv for c in combined])


_POINT_FIELDS = ("reset", "detach", "adaptation", "synapse", "recurrent", "loss")


def _check_point_like(point):
    """A GridPoint, or another family's point that carries the core configuration's fields."""
    if not isinstance(point, GridPoint) and not all(hasattr(point, f) for f in _POINT_FIELDS):
        raise TypeError(f"point must be a refsnn.verify.GridPoint (or a point with the fields "
                        f"{', '.join(_POINT_FIELDS)}), got {type(point).__name__}")


def make_problem(point: GridPoint, seed=0, sg=None, T=6, B=2, M=3, H=4, K=3, extra=None, shared=(),
                 always_probe=False):
    """A two-layer network (hidden H → readout K) in ``point``'s configuration.

    The hidden layer has the point's reset, detaching, adaptation, synapse and
    recurrence. The readout shares them for spike losses; for the membrane loss it
    is a non-spiking leaky integrator. ``sg`` is the surrogate (sigmoid, slope 4,
    by default). Inputs are real-valued currents, so the input gradient is
    meaningful; parameters are drawn so that membranes hover near threshold.

    ``extra`` holds further :class:`~refsnn.lif.LIFConfig` fields (the model switches:
    ``init_spike``, ``adaptive_threshold``, ...) for every spiking layer; ``shared``
    names per-neuron parameters to make shared (0-d, the first neuron's draw) in
    every layer that has them. Without them the problem is the core grid's, drawn
    from the same random numbers.
    """
    _check_point_like(point)
    for name, value in (("T", T), ("B", B), ("M", M), ("H", H), ("K", K)):
        check_positive_int(name, value, high=10**6)
    rng = np.random.default_rng(seed)
    sg = sg or surrogate("sigmoid", 4.0)
    extra = dict(extra or {})
    common = dict(surrogate=sg, reset=point.reset, detach_reset=point.detach,
                  adaptation=point.adaptation, synapse=point.synapse, recurrent=point.recurrent, **extra)
    hidden = LIFConfig(M, H, **common)
    if point.loss == "membrane":
        readout = LIFConfig(H, K, surrogate=sg, reset="none", synapse=point.synapse, spiking=False)
    else:
        readout = LIFConfig(H, K, **common)
    net = Network((hidden, readout))

    def draw(cfg, bias):
        n = cfg.n
        out = dict(
            alpha=rng.uniform(0.6, 0.95, n), theta=rng.uniform(0.5, 1.5, n),
            gamma=rng.uniform(0.5, 1.5, n), v_reset=rng.uniform(-0.3, 0.3, n),
            beta=rng.uniform(0.05, 0.4, n), rho=rng.uniform(0.6, 0.95, n),
            kappa=rng.uniform(0.3, 1.2, n), lam=rng.uniform(0.3, 0.9, n),
            b=rng.uniform(*bias, n), w_scale=1.5, r_scale=0.8,
        )
        return out

    # The readout gets a larger bias: with the hidden layer's, a spiking readout stayed
    # silent in ~40% of problems, leaving its reset path unexercised.
    draws = [draw(hidden, (-0.2, 0.4)), draw(readout, (0.3, 0.9))]
    params = network_init(net, rng, np.float64, draws)
    # The switches' parameters are drawn after the core's, so the core problems are unchanged.
    for cfg, p in zip(net.layers, params):
        for name, (lo, hi) in _SWITCH_PARAM_RANGES.items():
            if name in param_names(cfg):
                p[name] = rng.uniform(lo, hi, cfg.n)
        for name in shared:
            if name in p:
                p[name] = np.array(p[name].flat[0])
    x = rng.normal(0.6, 1.0, (T, B, M))
    state0 = [{k: rng.normal(0.0, 0.4, (B, c.n)) for k in state_names(c)} for c in net.layers]
    if point.loss == "ce_count":
        target = rng.integers(0, K, B)
    elif point.loss == "trace_mse":
        target = rng.uniform(0.0, 2.0, (T, B, K))
    elif point.loss == "membrane":
        target = rng.normal(0.0, 1.0, (B, K))
    else:
        target = None
    probe = [rng.normal(0.0, 1.0, (B, c.n)) for c in net.layers]
    return Problem(point, net, params, x, state0, target, probe, always_probe)


# Ranges of the switches' parameters in make_problem (name: (low, high)).
_SWITCH_PARAM_RANGES = {"beta_a": (0.1, 0.6), "rho_a": (0.6, 0.95)}


# Flat naming of every differentiable array: "x", "L0.W" (network.flat_params), "L1.state.v".
def _flatten(params, x, state0):
    return {"x": x, **flat_params(params),
            **{f"L{l}.state.{k}": v for l, st in enumerate(state0) for k, v in st.items()}}


def _unflatten(flat, n_layers):
    state0 = [{} for _ in range(n_layers)]
    rest = {}
    for key, val in flat.items():
        if ".state." in key:
            layer, name = key.split(".state.")
            state0[int(layer[1:])][name] = val
        elif key != "x":
            rest[key] = val
    return unflat_params(rest, n_layers), flat["x"], state0


def _with_net(problem, net):
    return replace(problem, net=net)


def adjoint(problem, probe=False):
    """Loss value, flat dict of adjoint gradients, and the forward trajectories."""
    trajs = network_forward(problem.net, problem.params, problem.x, problem.state0)
    value, ds, dv = problem.loss(trajs, probe)
    g = network_backward(trajs, problem.params, ds, dv)
    return value, _flatten(g.params, g.x, g.state0), trajs


def _objective(net, trajs, loss):
    """``f(flat)`` for finite differences: the network's loss as a function of every
    parameter, the input and the initial state, with the reset spikes of detached
    layers held at their values in ``trajs`` (what a detached reset differentiates)."""
    frozen = [tr.reset_spikes() if cfg.detach_reset else None for tr, cfg in zip(trajs, net.layers)]
    # A detached refractory gate (lif's S5) is held at its values too.
    gates = [tr.gate if cfg.refractory and cfg.detach_refractory else None for tr, cfg in zip(trajs, net.layers)]
    # So is the spike of a detached adaptive threshold (detach_threshold).
    thr = [tr.threshold_spikes() if cfg.detach_threshold else None for tr, cfg in zip(trajs, net.layers)]
    n = len(net.layers)

    def run(flat):           # (the network was checked once; its ±eps moves are not re-checked)
        params, x, state0 = _unflatten(flat, n)
        return _network_forward(net, params, x, state0, frozen, gates, thr, trusted=True)

    def f(flat):
        return loss(run(flat))[0]

    return f, run


def _stencil_steps(order):
    """The stencil points of a central difference of ``order`` in units of eps (±1, ±2 for
    order 4), where a perturbation must flip no spike (gradcheck's stencil weights)."""
    from .gradcheck import _STENCIL
    return tuple(s * k for k in range(1, len(_STENCIL[order]) + 1) for s in (1, -1))


def check_route(f, flat, grads, *, eps, rtol, floor, with_ok=False, directional=None, seed=0, order=ORDER,
                masks=None):
    """Central differences of ``f`` against the adjoint ``grads`` on the arrays ``flat``:
    the finite-difference half of both exact routes, shared by every family.

    ``f(flat) -> value``; with ``with_ok=True`` (the piecewise route) ``f(flat) -> (value,
    ok)``, ``ok`` False where the perturbed point flips a spike; such entries are skipped.
    Directional (default :data:`DIRECTIONAL`): one random direction per array (drawn from
    ``seed``), entry by entry only where it fails or flips a spike
    (:func:`~refsnn.checking.gradcheck.check_gradients_directional`). Otherwise every
    entry is differentiated, after a scan of its stencil points for flips. ``masks``
    (smooth route only) restricts arrays to some entries, as in ``check_gradients``.
    """
    if masks is not None and with_ok:
        raise ValueError("masks are for the smooth route; the piecewise route skips flipping entries itself")
    if _directional(directional):
        return check_gradients_directional(f, flat, grads, eps=eps, rtol=rtol, floor=floor, order=order,
                                           seed=seed, with_ok=with_ok, masks=masks)
    if not with_ok:
        return check_gradients(f, flat, grads, eps=eps, rtol=rtol, floor=floor, order=order, masks=masks)
    masks = {}
    for key, arr in flat.items():
        arr = np.asarray(arr, dtype=np.float64)
        mask = np.ones(arr.shape, bool)
        for idx in np.ndindex(arr.shape):
            for k in _stencil_steps(order):
                a = arr.copy()
                a[idx] += k * eps
                if not f({**flat, key: a})[1]:
                    mask[idx] = False
                    break
        masks[key] = mask
    return check_gradients(lambda p: f(p)[0], flat, grads, eps=eps, rtol=rtol, floor=floor, masks=masks,
                           order=order)


def spikes_unchanged(nominal, spikes):
    """True iff every array of ``spikes`` equals its nominal counterpart (no spike flipped)."""
    return all(np.array_equal(s0, s) for s0, s in zip(nominal, spikes))


def check_network_smooth_twin(net, params, x, state0, loss, eps=EPS, rtol=RTOL, floor=FLOOR, masks=None,
                              order=ORDER, directional=None, seed=0):
    """Route (a) for any network and loss: adjoint vs central differences on the smooth twin.

    ``loss(trajs) -> (value, ds_list, dv_list)``. Every parameter, the input ``x`` and
    every initial state are checked (``masks`` may restrict large arrays to a sample of
    entries, keyed like ``"x"``, ``"L0.W"``, ``"L0.state.v"``). ``floor`` is scaled by
    ``max(1, |L|)`` (see FLOOR). ``directional`` (default :data:`DIRECTIONAL`) screens
    each array along one random direction (drawn from ``seed``) and checks entry by
    entry only where that fails.
    """
    check_instance("net", net, Network, "a refsnn.network.Network")
    check_callable("loss", loss, "a callable loss(trajs) -> (value, ds_list, dv_list)")
    _check_route_args(eps, rtol, floor)
    twin = Network(tuple(smooth_twin(c) if c.spiking else c for c in net.layers))
    trajs = network_forward(twin, params, x, state0)
    value, ds, dv = loss(trajs)
    g = network_backward(trajs, params, ds, dv)
    f, _ = _objective(twin, trajs, loss)
    flat, grads = _flatten(params, x, state0), _flatten(g.params, g.x, g.state0)
    return check_route(f, flat, grads, eps=eps, rtol=rtol, floor=floor * max(1.0, abs(value)), order=order,
                       masks=masks, directional=directional, seed=seed)


def check_smooth_twin(problem, eps=EPS, rtol=RTOL, floor=FLOOR, directional=None, seed=0):
    """Route (a) on a grid problem (see :func:`check_network_smooth_twin`)."""
    check_instance("problem", problem, Problem, "a refsnn.verify.Problem (from make_problem)")
    return check_network_smooth_twin(problem.net, problem.params, problem.x, problem.state0, problem.loss,
                                     eps=eps, rtol=rtol, floor=floor, directional=directional, seed=seed)


def check_piecewise(problem, eps=EPS_PIECEWISE, rtol=RTOL, floor=FLOOR, directional=None, seed=0):
    """Route (b): Heaviside spikes with the true (zero) derivative, plus the membrane
    probe; coordinates where any stencil point (±eps, ±2eps) flips a spike are skipped.

    Directional (default :data:`DIRECTIONAL`): a group of entries is perturbed together;
    a group whose stencil flips a spike is halved, down to single entries, and a single
    entry that flips one is skipped, exactly as in the per-entry scan."""
    check_instance("problem", problem, Problem, "a refsnn.verify.Problem (from make_problem)")
    _check_route_args(eps, rtol, floor)
    net = Network(tuple(piecewise_linear(c) if c.spiking else c for c in problem.net.layers))
    prob = _with_net(problem, net)
    value, grads, trajs = adjoint(prob, probe=True)
    f, run = _objective(prob.net, trajs, lambda tr: prob.loss(tr, probe=True))
    flat = _flatten(prob.params, prob.x, prob.state0)
    nominal = [tr.s for tr in trajs]

    def f_ok(pert):
        tr = run(pert)
        return prob.loss(tr, probe=True)[0], spikes_unchanged(nominal, [t.s for t in tr])

    return check_route(f_ok, flat, grads, eps=eps, rtol=rtol, floor=floor * max(1.0, abs(value)), with_ok=True,
                       directional=directional, seed=seed)


@dataclass
class PointReport:
    point: GridPoint
    smooth_max_rel: float
    smooth_worst: str
    piecewise_max_rel: float
    piecewise_worst: str
    piecewise_checked: int
    piecewise_skipped: int
    n_spikes: list
    passed: bool

    def as_dict(self):
        d = asdict(self)
        d["point"] = self.point.name
        d.update(asdict(self.point))
        return d


def _worst(results):
    worst = max(results, key=lambda r: r.max_rel_error)
    return worst.max_rel_error, f"{worst.name}{list(worst.worst_index)}"


def check_point(point: GridPoint, seed=0, rtol=RTOL, problem=None) -> PointReport:
    """Run both routes on one grid point (on ``problem``, by default ``make_problem(point, seed)``)."""
    if problem is None:        # a family passing its own problem names its own point type
        check_instance("point", point, GridPoint, "a refsnn.verify.GridPoint")
        problem = make_problem(point, seed)
    elif not isinstance(problem, Problem):
        raise TypeError(f"problem must be a refsnn.verify.Problem (from make_problem), got {type(problem).__name__}")
    smooth = check_smooth_twin(problem, rtol=rtol, seed=seed)
    piece = check_piecewise(problem, rtol=rtol, seed=seed)
    trajs = network_forward(
        Network(tuple(piecewise_linear(c) if c.spiking else c for c in problem.net.layers)),
        problem.params, problem.x, problem.state0)
    s_max, s_where = _worst(smooth)
    p_max, p_where = _worst(piece)
    return PointReport(
        point, s_max, s_where, p_max, p_where,
        sum(r.n_checked for r in piece), sum(r.n_skipped for r in piece),
        [int(tr.s.sum()) for tr in trajs if tr.config.spiking],
        all(r.passed for r in smooth + piece),
    )


# The core family of refsnn gradcheck (see refsnn.checking.families).
FAMILY = Family("lif", grid, check_point)
