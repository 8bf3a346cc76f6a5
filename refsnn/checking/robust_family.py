"""Grid rows of seed 002 §9's min-max objective (``refsnn gradcheck --family robust``).

The objective (:mod:`refsnn.learning.robust`, R7) runs the network twice, at ``x`` and at
``x + δ``, and joins the two readouts by a KL term; its gradient (R8–R9) adds the two
backward passes. Each row is verify's two-layer problem in one reset kind, with
adaptation, synapse and recurrence in the hidden layer, and one of the two readouts of
R1 (``mean``: a non-spiking readout's mean membrane; ``count``: a spiking readout's
spike counts). Three checks per row:

1. **δ as an input, smooth twin.** ``J(θ, x, δ, state0)`` against R9 by central
   differences in every parameter, the input, δ (shared over the steps) and every
   initial state: this checks R4, R5 (the KL's partials in both arguments), R8 and the
   sum R9, and ``∂J/∂δ``, the inner gradient the attack follows.
2. **δ as an input, piecewise-linear regime**, with verify's membrane probe on the layers
   of both passes (a spike-count readout has an exactly zero gradient there otherwise);
   entries whose stencil flips a spike in either pass are skipped.
3. **Through the attack** (R10): ``θ ↦ J(θ, x, δ_K(θ, x))`` with the attack (K = 2 KL
   sign steps from a fixed random start) *inside* the finite differences, on the smooth
   twin, against R9 with δ held constant. Entries whose stencil changes the sign pattern
   of any attack step are skipped (reported as skipped, as spike flips are); everywhere
   else the chain through δ is exactly zero and R9 must agree to 1e-7.

Routes 1 and 3 are reported as the row's smooth column (route 3's arrays are named
``pgd:<array>``), route 2 as its piecewise column.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import losses as L
from ..learning import robust as R
from ..neurons.lif import RESET_KINDS, piecewise_linear, smooth_twin
from ..neurons.network import Network, network_forward
from . import verify
from .families import Family

__all__ = ["FAMILY", "RobustPoint", "points", "make_problem", "check_point", "LAM", "EPS_ATTACK", "STEPS"]

LAM = 1.5          # λ of R7 on the grid
EPS_ATTACK = 0.3   # ε of the attack inside route 3 (inputs are O(1) currents)
STEPS = 2          # K of route 3's attack


@dataclass(frozen=True)
class RobustPoint:
    reset: str
    readout: str

    def __post_init__(self):
        if self.reset not in RESET_KINDS:
            raise ValueError(f"RobustPoint.reset must be one of {RESET_KINDS}, got {self.reset!r}")
        if self.readout not in R.READOUTS:
            raise ValueError(f"RobustPoint.readout must be one of {R.READOUTS}, got {self.readout!r}")

    @property
    def name(self):
        return f"{self.reset}/{self.readout}"


def points():
    """Every reset kind × both readouts of R1."""
    return [RobustPoint(r, ro) for r in RESET_KINDS for ro in R.READOUTS]


@dataclass
class RobustProblem:
    point: RobustPoint
    net: Network
    params: list
    x: np.ndarray
    state0: list
    labels: np.ndarray
    delta: np.ndarray
    probe: list


def make_problem(point: RobustPoint, seed=0, T=6, B=2, M=3, H=4, K=3):
    """verify's problem (adaptation, synapse, recurrence; attached reset) with labels
    and a δ of shape (B, M) drawn in [−0.3, 0.3]."""
    loss = "membrane" if point.readout == "mean" else "ce_count"
    base = verify.make_problem(verify.GridPoint(point.reset, False, True, True, True, loss), seed,
                               T=T, B=B, M=M, H=H, K=K)
    rng = np.random.default_rng(1000 + seed)
    labels = rng.integers(0, K, B)
    delta = rng.uniform(-0.3, 0.3, (B, M))
    return RobustProblem(point, base.net, base.params, base.x, base.state0, labels, delta, base.probe)


def _probe(problem):
    """verify's membrane probe on every layer of both passes (route 2)."""
    def extra(trajs, trajs_adv):
        parts = [L.membrane_rate_loss(tr, y) for tr, y in zip(trajs, problem.probe)]
        parts_a = [L.membrane_rate_loss(tr, y) for tr, y in zip(trajs_adv, problem.probe)]
        value = sum(p.value for p in parts + parts_a)
        return value, [None] * len(parts), [p.dv for p in parts], [None] * len(parts), [p.dv for p in parts_a]
    return extra


def _flatten(params, x, delta, state0):
    return {**verify._flatten(params, x, state0), "delta": delta}


def _value(net, flat, problem, frozen=(None, None), extra=None):
    params, x, state0 = verify._unflatten({k: v for k, v in flat.items() if k != "delta"}, len(net.layers))
    fwd = [R._trusted_forward(net, params, state0, fr) for fr in frozen]
    calls = iter(fwd)
    out = R.robust_loss(net, params, x, problem.labels, flat["delta"], LAM, problem.point.readout, state0,
                        extra=extra, _forward=lambda xx: next(calls)(xx), _backward=False)
    return out


def _route_fixed_delta(problem, net, probe, seed, rtol, eps, with_ok):
    extra = _probe(problem) if probe else None
    res = R.robust_loss(net, problem.params, problem.x, problem.labels, problem.delta, LAM,
                        problem.point.readout, problem.state0, extra=extra)
    frozen = tuple([tr.reset_spikes() if cfg.detach_reset else None for tr, cfg in zip(trs, net.layers)]
                   for trs in (res.trajs, res.trajs_adv))
    flat = _flatten(problem.params, problem.x, problem.delta, problem.state0)
    grads = _flatten(res.params, res.x, res.delta, res.state0)
    nominal = [tr.s for tr in res.trajs + res.trajs_adv]

    def f(pert):
        out = _value(net, pert, problem, frozen, extra)
        if not with_ok:
            return out.value
        return out.value, verify.spikes_unchanged(nominal, [tr.s for tr in out.trajs + out.trajs_adv])

    return verify.check_route(f, flat, grads, eps=eps, rtol=rtol, floor=verify.FLOOR * max(1.0, abs(res.value)),
                              with_ok=with_ok, seed=seed), res


def _route_through_attack(problem, net, seed, rtol):
    """R10: finite differences of J(θ, x, δ_K(θ, x)) against R9 at δ = δ_K (smooth twin)."""
    def attack(params, x):
        return R.attack(net, params, x, EPS_ATTACK, STEPS, objective="kl", readout=problem.point.readout,
                        shared=True, start=0.5, rng=seed + 7, state0=problem.state0, return_signs=True)

    delta, signs = attack(problem.params, problem.x)
    res = R.robust_loss(net, problem.params, problem.x, problem.labels, delta, LAM, problem.point.readout,
                        problem.state0)
    flat = {f"pgd:{k}": v for k, v in verify._flatten(problem.params, problem.x, []).items()}
    g = verify._flatten(res.params, res.x, [])
    grads = {f"pgd:{k}": v for k, v in g.items()}
    n = len(net.layers)

    def f(pert):
        params, x, _ = verify._unflatten({k[4:]: v for k, v in pert.items()}, n)
        d, sg = attack(params, x)
        out = R.robust_loss(net, params, x, problem.labels, d, LAM, problem.point.readout, problem.state0,
                            _backward=False)
        return out.value, all(np.array_equal(a, b) for a, b in zip(signs, sg))

    return verify.check_route(f, flat, grads, eps=verify.EPS, rtol=rtol,
                              floor=verify.FLOOR * max(1.0, abs(res.value)), with_ok=True, seed=seed)


def check_point(point: RobustPoint, seed=0, rtol=verify.RTOL) -> verify.PointReport:
    problem = make_problem(point, seed)
    twin = Network(tuple(smooth_twin(c) if c.spiking else c for c in problem.net.layers))
    pw = Network(tuple(piecewise_linear(c) if c.spiking else c for c in problem.net.layers))
    smooth, _ = _route_fixed_delta(problem, twin, False, seed, rtol, verify.EPS, False)
    through = _route_through_attack(problem, twin, seed, rtol)
    piece, res = _route_fixed_delta(problem, pw, True, seed, rtol, verify.EPS_PIECEWISE, True)
    s_max, s_where = verify._worst(smooth + through)
    p_max, p_where = verify._worst(piece)
    trajs = network_forward(pw, problem.params, problem.x, problem.state0)
    return verify.PointReport(point, s_max, s_where, p_max, p_where, sum(r.n_checked for r in piece),
                              sum(r.n_skipped for r in piece), [int(tr.s.sum()) for tr in trajs if tr.config.spiking],
                              all(r.passed for r in smooth + through + piece))


FAMILY = Family("robust", points, check_point)
