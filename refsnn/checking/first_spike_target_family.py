"""Grid rows of the seed's own first-spike losses (``refsnn gradcheck --family first_spike_target``).

:func:`refsnn.losses.first_spike_time_mse` (L5: the soft first-spike time regressed onto
a target step) and :func:`refsnn.losses.first_spike_likelihood` (L6: the seed's
probability of the first spike at the target step) read the output spikes through the
survival product, a polynomial in the spikes (L6 divides by ``P + ε``, a smooth positive
function), so the smooth twin differentiates the same formula that the Heaviside forward
pass evaluates. Each row is :mod:`refsnn.checking.first_spike_grid`'s problem (verify's
two-layer network, spiking readout, adaptation + synapse + recurrence on and off) with
the loss replaced; both exact routes, the piecewise one with verify's membrane probe.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .. import losses as L
from ..neurons.lif import RESET_KINDS
from . import first_spike_grid as FG
from . import verify
from .families import Family

__all__ = ["FAMILY", "TargetPoint", "points", "make_problem", "check_point", "LOSSES"]

LOSSES = ("time_mse", "likelihood")


@dataclass(frozen=True)
class TargetPoint:
    reset: str
    full: bool
    loss: str

    @property
    def name(self):
        return "/".join([self.reset] + (["adapt", "syn", "rec"] if self.full else []) + [self.loss])


def points():
    """Every reset kind, plain and with adaptation + synapse + recurrence, both losses."""
    return [TargetPoint(r, f, l) for r, f, l in itertools.product(RESET_KINDS, (False, True), LOSSES)]


@dataclass
class TargetProblem(FG.FTSProblem):
    kind: str = "time_mse"

    def main_loss(self, out):
        if self.kind == "time_mse":
            return L.first_spike_time_mse(out, self.target)
        return L.first_spike_likelihood(out, self.target, eps=0.05)


def make_problem(point: TargetPoint, seed=0, **kw):
    base = FG.make_problem(FG.FTSPoint(point.reset, False, point.full, point.full, point.full), seed, **kw)
    T, B, _ = base.x.shape
    K = base.net.layers[-1].n
    rng = np.random.default_rng(500 + seed)
    if point.loss == "time_mse":
        target = rng.uniform(0.0, T, (B, K))
    else:
        target = rng.integers(0, T, (B, K))
    return TargetProblem(point, base.net, base.params, base.x, base.state0, target, base.probe, kind=point.loss)


def check_point(point: TargetPoint, seed=0, rtol=verify.RTOL) -> verify.PointReport:
    return verify.check_point(point, seed, rtol, problem=make_problem(point, seed))


FAMILY = Family("first_spike_target", points, check_point)
