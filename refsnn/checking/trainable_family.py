"""Gradcheck family ``trainable``: the trainable reset offset r, by name.

Seed 002's "trainable post-spike reset offset r" is the reset amount ``r_t`` of F4, whose
free parameter is γ (soft reset) or v_r (hard reset); see
:mod:`refsnn.training.constraints`. Their gradients (G3) are checked on every row of the
core grid, as every parameter is. This family names the rows that isolate them: a
two-layer problem of each reset kind, attached and detached (the training tasks detach),
with a spiking readout and the trace loss, so that every layer resets and both routes
check ``L0.gamma`` / ``L0.v_reset`` and ``L1.gamma`` / ``L1.v_reset`` among all the other
entries. Rows are ``trainable:reset_offset/<reset>/<attach|detach>``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .families import Family
from . import verify

__all__ = ["FAMILY", "OffsetPoint", "points", "check"]


@dataclass(frozen=True)
class OffsetPoint:
    reset: str
    detach: bool

    @property
    def name(self):
        return f"reset_offset/{self.reset}/{'detach' if self.detach else 'attach'}"

    def grid_point(self):
        return verify.GridPoint(self.reset, self.detach, False, True, False, "trace_mse")


def points():
    return [OffsetPoint(r, d) for r in ("subtract", "hard_keep_input", "hard_drop_input") for d in (False, True)]


def check(point: OffsetPoint, seed=0, rtol=verify.RTOL):
    rep = verify.check_point(point.grid_point(), seed, rtol)
    rep.point = point
    return rep


FAMILY = Family("trainable", points, check)
