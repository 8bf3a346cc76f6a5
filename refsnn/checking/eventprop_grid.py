"""``refsnn gradcheck --family eventprop``: EventProp's exact gradients against the exact forward.

Spike times of :mod:`refsnn.neurons.eventprop` are smooth functions of the weights and of
the input spike times wherever no spike appears or disappears, and G1–G2 are then their
exact gradient. So every weight of both layers and every input spike time is perturbed
entry by entry, the loss recomputed by the exact forward, and the gradient compared with
6th-order central differences (steps ±ε, ±2ε, ±3ε; further steps of :data:`EPS_EVENTPROP` tried
only where the first does not fit, the best one counted); an entry whose perturbation
changes any neuron's spike count at every step is skipped (the "piecewise" columns: the entries checked and
skipped; the spike counts of both layers). The tolerance is :data:`RTOL_EVENTPROP`
(1e-9), tighter than the grid's default; the smooth-twin column is not applicable (0).

Rows ``eventprop:<root finder>/<loss>``: the root finders R3 (``τ_m = 2τ_s``), R4
(``τ_m = τ_s``) and R5 (any other ratio, here τ_m = 4τ_s); the losses

* ``all_spikes``: ``Σ r_e t_e`` over every spike of both layers, r random: each spike time's
  gradient, including J4's direct term ∂l/∂t_e on hidden spikes;
* ``first_spike``: the first-spike cross-entropy of :func:`eventprop.first_spike_loss` on the
  output layer (with α > 0), as trained on Yin-Yang.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..neurons import eventprop as E
from .families import Family
from .verify import PointReport

__all__ = ["FAMILY", "EventPropPoint", "points", "make_problem", "check", "RTOL_EVENTPROP", "EPS_EVENTPROP",
           "fd_check"]

RTOL_EVENTPROP = 1e-9
# 6th-order differences at these steps; an entry's error is the smallest over the steps tried. Truncation
# (~ε⁶ times the 7th derivative, large where a crossing is nearly tangent) and rounding (~1e-16·|ℒ|/ε)
# trade off differently per entry; a wrong gradient matches at none of them.
EPS_EVENTPROP = (1e-3, 3e-3, 1e-4, 1e-2, 1e-5)
_FLOOR = 1e-6             # relative errors are taken against max(|numerical|, _FLOOR · the problem's largest entry)
_TAU0 = 5.0               # the check's softmax temperature: no saturated (exponentially small) entries
_TAUS = {"quadratic": (10.0, 5.0), "lambert": (5.0, 5.0), "bisection": (20.0, 5.0)}
_SCALE = {"quadratic": (0.8, 0.6), "lambert": (0.6, 0.4), "bisection": (1.2, 1.5)}


@dataclass(frozen=True)
class EventPropPoint:
    root: str     # "quadratic", "lambert" or "bisection"
    loss: str     # "all_spikes" or "first_spike"

    @property
    def name(self):
        return f"{self.root}/{self.loss}"


def points():
    return [EventPropPoint(r, l) for r in _TAUS for l in ("all_spikes", "first_spike")]


@dataclass
class Problem:
    cfg: E.EventPropConfig
    Ws: list
    t_in: np.ndarray
    loss: str
    r: list
    labels: np.ndarray

    def value(self, Ws=None, t_in=None):
        """``(ℒ, records)`` of the exact forward at ``Ws``, ``t_in`` (default: the problem's)."""
        recs = E.forward(self.cfg, self.Ws if Ws is None else Ws, self.t_in if t_in is None else t_in)
        if self.loss == "all_spikes":
            val = sum(float(np.sum(np.where(np.isfinite(rec.times), rec.times, 0.0) * rr[:, :, :rec.times.shape[2]]))
                      for rec, rr in zip(recs, self.r))
        else:
            val = E.first_spike_loss(E.first_spike_times(recs[-1]), self.labels, _TAU0, 0.05, 10.0,
                                     t_silent=self.cfg.t_end)[0]
        return val, recs

    def gradients(self):
        """EventProp's ``(dℒ/dW list, dℒ/dt_in)`` and the forward's records."""
        _, recs = self.value()
        if self.loss == "all_spikes":
            K = [rec.times.shape[2] for rec in recs]
            g_hidden = [rr[:, :, :k] for rr, k in zip(self.r, K)]
            g_last = g_hidden[-1]
            g_hidden[-1] = None
        else:
            _, g = E.first_spike_loss(E.first_spike_times(recs[-1]), self.labels, _TAU0, 0.05, 10.0,
                                      t_silent=self.cfg.t_end)
            g_last, g_hidden = E.grad_first_spike(recs[-1], g), None
        grads, g_in = E.backward(self.cfg, self.Ws, recs, g_last, g_hidden)
        return grads, g_in, recs


def make_problem(point: EventPropPoint, seed=0, B=3, M=4, K_in=2, N1=6, N2=3):
    """Two layers (M → N1 → N2), two input spikes per channel in [0, T/2], T = 40.

    The first draw (seeds ``seed``, ``seed + 1000``, ...) in which some hidden neuron fires
    twice (so J4's reset term ``I λ_V^+`` is exercised) and, for ``all_spikes``, some output
    neuron too; for ``first_spike``, every output neuron fires in every sample."""
    for k in range(100):
        problem = _draw(point, seed + 1000 * k, B, M, K_in, N1, N2)
        c = E.spike_counts(problem.value()[1])
        last_ok = c[-1].max() >= 2 if point.loss == "all_spikes" else c[-1].min() >= 1
        if c[0].max() >= 2 and last_ok:
            return problem
    raise RuntimeError(f"no draw exercises both layers for {point.name}")


def _draw(point, seed, B, M, K_in, N1, N2):
    rng = np.random.default_rng(seed)
    tau_m, tau_s = _TAUS[point.root]
    cfg = E.EventPropConfig(tau_m, tau_s, 1.0, 40.0)
    s1, s2 = _SCALE[point.root]
    t_in = rng.uniform(0.0, 20.0, (B, M, K_in))
    Ws = [rng.normal(s1, 0.8, (N1, M)), rng.normal(s2, 0.8, (N2, N1))]
    r = [rng.normal(size=(B, N1, 64)), rng.normal(size=(B, N2, 64))]
    return Problem(cfg, Ws, t_in, point.loss, r, rng.integers(0, N2, B))


def fd_check(problem: Problem, grads, g_in, eps=EPS_EVENTPROP, rtol=RTOL_EVENTPROP):
    """6th-order central differences of every weight and input time, skipping spike-count changes.

    Every entry is first differenced at ``eps[0]``; an entry whose error exceeds ``rtol`` (or
    whose six perturbations change a spike count) is retried at the further steps, and its error
    is the smallest over the steps tried; it is skipped if every step changes a spike count.
    Errors are relative to ``max(|numerical|, _FLOOR · s)``, s the largest ``eps[0]`` estimate.
    Returns ``[(name, worst rel error, worst index, checked, skipped)]`` for ``W0, W1, ..., t_in``.
    """
    _, recs = problem.value()
    base = E.spike_counts(recs)
    targets = [(f"W{l}", problem.Ws[l], grads[l]) for l in range(len(problem.Ws))] + [("t_in", problem.t_in, g_in)]

    def estimate(name, X, idx, e):
        vals = []
        for k in (1, -1, 2, -2, 3, -3):
            Xp = X.copy()
            Xp[idx] += k * e
            if name == "t_in":
                v, rr = problem.value(t_in=Xp)
            else:
                Ws = list(problem.Ws)
                Ws[int(name[1:])] = Xp
                v, rr = problem.value(Ws=Ws)
            if not all(np.array_equal(a, b) for a, b in zip(E.spike_counts(rr), base)):
                return None
            vals.append(v)
        return (45.0 * (vals[0] - vals[1]) - 9.0 * (vals[2] - vals[3]) + (vals[4] - vals[5])) / (60.0 * e)

    first = {(name, idx): estimate(name, X, idx, eps[0])
             for name, X, _ in targets for idx in np.ndindex(X.shape) if np.isfinite(X[idx])}
    scale = max([abs(v) for v in first.values() if v is not None] + [1e-300])
    out = []
    for name, X, G in targets:
        worst, where, checked, skipped = 0.0, (), 0, 0
        for idx in np.ndindex(X.shape):
            if not np.isfinite(X[idx]):
                continue
            best = np.inf
            for j, e in enumerate(eps):
                n = first[(name, idx)] if j == 0 else estimate(name, X, idx, e)
                if n is not None:
                    best = min(best, abs(G[idx] - n) / max(abs(n), _FLOOR * scale))
                if best <= rtol:
                    break
            if not np.isfinite(best):
                skipped += 1
                continue
            checked += 1
            if best >= worst:
                worst, where = best, idx
        out.append((name, worst, where, checked, skipped))
    return out


def check(point: EventPropPoint, seed=0, rtol=RTOL_EVENTPROP) -> PointReport:
    rtol = min(rtol, RTOL_EVENTPROP)
    problem = make_problem(point, seed)
    grads, g_in, recs = problem.gradients()
    res = fd_check(problem, grads, g_in, rtol=rtol)
    worst = max(res, key=lambda r: r[1])
    return PointReport(point, 0.0, "n/a", worst[1], f"{worst[0]}{list(worst[2])}",
                       sum(r[3] for r in res), sum(r[4] for r in res),
                       [int(rec.counts.sum()) for rec in recs], worst[1] <= rtol)


FAMILY = Family("eventprop", points, check)
