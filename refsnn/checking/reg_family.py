"""Gradcheck family ``reg``: the regularisers of :mod:`refsnn.losses` on a two-layer network.

Each row adds one regulariser to every layer of a grid problem
(:func:`refsnn.checking.verify.make_problem`, spiking hidden layer and spiking
readout) and checks the whole network's gradient along both exact routes:

- ``membrane_l1``, ``membrane_l2``: the direct partial ``a^v`` of the membrane penalty;
- ``rate``: e-prop's rate regulariser, the direct partial ``a^s = 2λ(f − f₀)/(TB)``;
- ``count_logistic``: the binary spike-count loss :func:`~refsnn.losses.spike_count_logistic`
  on the readout's first neuron (notebook 12's XOR loss);
- ``weight_decay``: the coupled L2 term ``(λ/2)Σp²`` on every parameter, added to the
  spike-count cross-entropy; its gradient ``λ p`` is added to the adjoint's parameter
  gradients and finite differences see the summed objective.

``|v|`` has a kink at 0; the problems' membranes are continuous random values, so no
coordinate sits on it (a central difference across it would show as a failure).
In the piecewise-linear route a spike-reading regulariser contributes an exactly zero
gradient, so the membrane probe (see :class:`~refsnn.checking.verify.Problem`) is what
that route checks there, as for the core grid's spike-count rows.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np

from .. import losses as L
from .families import Family
from .verify import (EPS, FLOOR, RTOL, GridPoint, PointReport, Problem, _flatten, _objective, _worst, adjoint,
                     check_piecewise, check_route, check_smooth_twin, make_problem, spikes_unchanged)
from ..neurons.lif import piecewise_linear, smooth_twin
from ..neurons.network import Network, network_forward, unflat_params

__all__ = ["FAMILY", "RegPoint", "points", "check", "make_reg_problem", "STRENGTH", "TARGET_RATE"]

STRENGTH = 0.3      # λ of every regulariser on the grid
TARGET_RATE = 0.2   # f₀ of the rate regulariser

_NEURONS = {  # (reset, detach, adaptation, synapse, recurrent)
    "subtract/attach": ("subtract", False, False, False, False),
    "hard_drop_input/detach/adapt/syn/rec": ("hard_drop_input", True, True, True, True),
}


@dataclass(frozen=True)
class RegPoint:
    reg: str
    neuron: str

    @property
    def name(self):
        return f"{self.reg}/{self.neuron}"


def points():
    return [RegPoint(r, n) for r, n in itertools.product(L.REGULARIZER_NAMES + ("count_logistic",), _NEURONS)]


@dataclass
class RegProblem(Problem):
    reg: str = "membrane_l1"

    def loss(self, trajs, probe=False):
        per_layer = [[] for _ in trajs]
        if self.reg == "weight_decay":
            per_layer[-1].append(L.spike_count_cross_entropy(trajs[-1], self.target))
        if self.reg == "count_logistic":   # on the readout's first neuron only (the loss needs N = 1)
            out = trajs[-1]
            one = replace(out, s=out.s[..., :1], v=out.v[..., :1])
            part = L.spike_count_logistic(one, self.target, threshold=1.5)
            ds = np.zeros_like(out.s)
            ds[..., :1] = part.ds
            per_layer[-1].append(L.Loss(part.value, ds, None))
        for i, tr in enumerate(trajs):
            if self.reg == "membrane_l1":
                per_layer[i].append(L.membrane_l1(tr, STRENGTH))
            elif self.reg == "membrane_l2":
                per_layer[i].append(L.membrane_l2(tr, STRENGTH))
            elif self.reg == "rate":
                per_layer[i].append(L.firing_rate_regularizer(tr, TARGET_RATE, STRENGTH))
            if probe:
                per_layer[i].append(L.membrane_rate_loss(tr, self.probe[i]))
        combined = [L.combine(*ls) if ls else L.Loss(0.0, None, None) for ls in per_layer]
        return (sum(c.value for c in combined), [c.ds for c in combined], [c.dv for c in combined])


def make_reg_problem(point: RegPoint, seed=0, **shapes):
    loss = "ce_count" if point.reg in ("weight_decay", "count_logistic") else "l1"
    base = make_problem(GridPoint(*_NEURONS[point.neuron], loss), seed, **shapes)
    prob = RegProblem(**vars(base), reg=point.reg)
    if point.reg == "count_logistic":
        prob.target = np.random.default_rng(seed + 1).integers(0, 2, base.x.shape[1])
    return prob


def _wd_flat(params):
    """Weight decay over every parameter of every layer, as flat ``L{l}.{name}`` gradients."""
    from ..neurons.network import flat_params
    return L.weight_decay(flat_params(params), STRENGTH)


def _check_weight_decay(problem, route, seed=0):
    """The network loss plus weight decay, along one route ("smooth" or "piecewise")."""
    layers = problem.net.layers
    if route == "smooth":
        net = Network(tuple(smooth_twin(c) if c.spiking else c for c in layers))
        prob, probe, eps = RegProblem(**{**vars(problem), "net": net}), False, EPS
    else:
        net = Network(tuple(piecewise_linear(c) if c.spiking else c for c in layers))
        prob, probe, eps = RegProblem(**{**vars(problem), "net": net}), True, 1e-4
    value, grads, trajs = adjoint(prob, probe=probe)
    wd = _wd_flat(prob.params)
    grads = {k: g + wd.grads[k] if k in wd.grads else g for k, g in grads.items()}
    f_net, run = _objective(net, trajs, lambda tr: prob.loss(tr, probe=probe))
    n = len(layers)

    def f(flat):
        params = unflat_params({k: v for k, v in flat.items() if k != "x" and ".state." not in k}, n)
        return f_net(flat) + _wd_flat(params).value

    flat = _flatten(prob.params, prob.x, prob.state0)
    nominal = [tr.s for tr in trajs]

    def f_ok(flat):   # piecewise: skip perturbations that flip a spike (verify.check_piecewise)
        params = unflat_params({k: v for k, v in flat.items() if k != "x" and ".state." not in k}, n)
        tr = run(flat)
        return (prob.loss(tr, probe=True)[0] + _wd_flat(params).value,
                spikes_unchanged(nominal, [t.s for t in tr]))

    piecewise = route == "piecewise"
    return check_route(f_ok if piecewise else f, flat, grads, eps=eps, rtol=RTOL,
                       floor=FLOOR * max(1.0, abs(value + wd.value)), with_ok=piecewise, seed=seed)


def check(point: RegPoint, seed=0, rtol=RTOL) -> PointReport:
    problem = make_reg_problem(point, seed)
    if point.reg == "weight_decay":
        smooth = _check_weight_decay(problem, "smooth", seed)
        piece = _check_weight_decay(problem, "piecewise", seed)
    else:
        smooth = check_smooth_twin(problem, rtol=rtol, seed=seed)
        piece = check_piecewise(problem, rtol=rtol, seed=seed)
    trajs = network_forward(Network(tuple(piecewise_linear(c) for c in problem.net.layers)),
                            problem.params, problem.x, problem.state0)
    s_max, s_where = _worst(smooth)
    p_max, p_where = _worst(piece)
    return PointReport(point, s_max, s_where, p_max, p_where,
                       sum(r.n_checked for r in piece), sum(r.n_skipped for r in piece),
                       [int(tr.s.sum()) for tr in trajs],
                       all(r.passed and r.max_rel_error <= rtol for r in smooth + piece))


FAMILY = Family("reg", points, check)
