"""Grid rows of the first-spike-time loss (``refsnn gradcheck --family first_spike``).

The loss :func:`refsnn.losses.first_spike_cross_entropy` reads the output spikes through
the survival product ``S_t = Π_{τ≤t}(1 − s_τ)``, a polynomial in the spikes, so the
smooth twin differentiates the same formula the Heaviside forward pass evaluates
(see :mod:`refsnn.losses`). Each row is verify's two-layer problem
(:func:`refsnn.checking.verify.make_problem`, spiking readout) in one neuron
configuration, with the loss replaced by the first-spike-time cross-entropy; both exact
routes run through :func:`verify.check_smooth_twin` and :func:`verify.check_piecewise`
(the piecewise route adds verify's membrane probe, since a spike-only loss has an
exactly zero gradient there). The conv family has a row with this loss on a conv net.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from .. import losses as L
from ..neurons.lif import RESET_KINDS
from ..neurons.network import network_forward, Network
from ..neurons.lif import piecewise_linear
from . import verify
from .families import Family

__all__ = ["FAMILY", "FTSPoint", "points", "FTSProblem", "make_problem", "check_point", "TAU"]

TAU = 2.0   # the loss's temperature on the grid (steps)


@dataclass(frozen=True)
class FTSPoint:
    reset: str
    detach: bool
    adaptation: bool
    synapse: bool
    recurrent: bool

    @property
    def name(self):
        flags = [self.reset, "detach" if self.detach else "attach"]
        flags += [f for f, on in (("adapt", self.adaptation), ("syn", self.synapse),
                                  ("rec", self.recurrent)) if on]
        return "/".join(flags)

    @property
    def loss(self):
        return "first_spike"


def points():
    """Every reset kind, attached and detached, plain and with adaptation + synapse + recurrence."""
    return [FTSPoint(r, d, full, full, full)
            for r, d, full in itertools.product(RESET_KINDS, (False, True), (False, True))]


@dataclass
class FTSProblem(verify.Problem):
    def main_loss(self, out):
        """The loss on the output layer (a family with another first-spike loss overrides it)."""
        return L.first_spike_cross_entropy(out, self.target, TAU)

    def loss(self, trajs, probe=False):
        parts = [(len(trajs) - 1, self.main_loss(trajs[-1]))]
        if probe:
            parts += [(i, L.membrane_rate_loss(tr, y)) for i, (tr, y) in enumerate(zip(trajs, self.probe))]
        per = [[] for _ in trajs]
        for i, l in parts:
            per[i].append(l)
        comb = [L.combine(*ls) if ls else L.Loss(0.0, None, None) for ls in per]
        return sum(c.value for c in comb), [c.ds for c in comb], [c.dv for c in comb]


def make_problem(point: FTSPoint, seed=0, **kw):
    base = verify.make_problem(verify.GridPoint(point.reset, point.detach, point.adaptation, point.synapse,
                                                point.recurrent, "ce_count"), seed, **kw)
    return FTSProblem(point, base.net, base.params, base.x, base.state0, base.target, base.probe)


def check_point(point: FTSPoint, seed=0, rtol=verify.RTOL) -> verify.PointReport:
    problem = make_problem(point, seed)
    smooth = verify.check_smooth_twin(problem, rtol=rtol)
    piece = verify.check_piecewise(problem, rtol=rtol)
    trajs = network_forward(Network(tuple(piecewise_linear(c) for c in problem.net.layers)),
                            problem.params, problem.x, problem.state0)
    s_max, s_where = verify._worst(smooth)
    p_max, p_where = verify._worst(piece)
    return verify.PointReport(point, s_max, s_where, p_max, p_where, sum(r.n_checked for r in piece),
                              sum(r.n_skipped for r in piece), [int(tr.s.sum()) for tr in trajs],
                              all(r.passed for r in smooth + piece))


FAMILY = Family("first_spike", points, check_point)
