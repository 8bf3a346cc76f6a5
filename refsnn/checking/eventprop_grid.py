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

Rows ``eventprop:<root finder>/all_spikes/recurrent``: the same network with recurrent weights
``R`` (zero diagonal) in both layers (M2r); the off-diagonal entries of ``R0``, ``R1`` are
checked too (G1r), and J4r's sum over the layer enters every weight's and input time's gradient.
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
# Recurrent points: every spike at least this far from every other event of its layer's row (input
# events and the layer's other spikes). Where a spike and another event swap order G1–G2 jump (λ is
# undefined at the coincidence), and a draw with a spike 3e-4 from an input puts that kink inside
# the differences' steps (it fails 1e-9 at every step but the smallest, where rounding takes over).
_GAP_RECURRENT = 0.05
_FLOOR = 1e-6             # relative errors are taken against max(|numerical|, _FLOOR · the problem's largest entry)
_TAU0 = 5.0               # the check's softmax temperature: no saturated (exponentially small) entries
_TAUS = {"quadratic": (10.0, 5.0), "lambert": (5.0, 5.0), "bisection": (20.0, 5.0)}
_MAX_COUNT_RECURRENT = 5
_SCALE = {"quadratic": (0.8, 0.6), "lambert": (0.6, 0.4), "bisection": (1.2, 1.5)}


@dataclass(frozen=True)
class EventPropPoint:
    root: str     # "quadratic", "lambert" or "bisection"
    loss: str     # "all_spikes" or "first_spike"
    recurrent: bool = False   # both layers with recurrent weights R (M2r, J4r, G1r)

    @property
    def name(self):
        return f"{self.root}/{self.loss}" + ("/recurrent" if self.recurrent else "")


def points():
    return ([EventPropPoint(r, l) for r in _TAUS for l in ("all_spikes", "first_spike")]
            + [EventPropPoint(r, "all_spikes", True) for r in _TAUS])


@dataclass
class Problem:
    cfg: E.EventPropConfig
    Ws: list
    t_in: np.ndarray
    loss: str
    r: list
    labels: np.ndarray
    Rs: list = None    # recurrent weights per layer (zero diagonal), or None: feed-forward

    def value(self, Ws=None, t_in=None, Rs=None):
        """``(ℒ, records)`` of the exact forward at ``Ws``, ``t_in``, ``Rs`` (default: the problem's)."""
        recs = E.forward(self.cfg, self.Ws if Ws is None else Ws, self.t_in if t_in is None else t_in,
                         Rs=self.Rs if Rs is None else Rs)
        if self.loss == "all_spikes":
            val = sum(float(np.sum(np.where(np.isfinite(rec.times), rec.times, 0.0) * rr[:, :, :rec.times.shape[2]]))
                      for rec, rr in zip(recs, self.r))
        else:
            val = E.first_spike_loss(E.first_spike_times(recs[-1]), self.labels, _TAU0, 0.05, 10.0,
                                     t_silent=self.cfg.t_end)[0]
        return val, recs

    def gradients(self):
        """EventProp's ``(dℒ/dW list, dℒ/dt_in)`` and the forward's records (with ``Rs``:
        ``(dℒ/dW list, dℒ/dt_in, records, dℒ/dR list)``)."""
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
        if self.Rs is not None:
            grads, g_in, gRs = E.backward(self.cfg, self.Ws, recs, g_last, g_hidden, Rs=self.Rs)
            return grads, g_in, recs, gRs
        grads, g_in = E.backward(self.cfg, self.Ws, recs, g_last, g_hidden)
        return grads, g_in, recs


def make_problem(point: EventPropPoint, seed=0, B=3, M=4, K_in=2, N1=6, N2=3):
    """Two layers (M → N1 → N2), two input spikes per channel in [0, T/2], T = 40.

    The first draw (seeds ``seed``, ``seed + 1000``, ...) in which some hidden neuron fires
    twice (so J4's reset term ``I λ_V^+`` is exercised) and, for ``all_spikes``, some output
    neuron too; for ``first_spike``, every output neuron fires in every sample. Recurrent points
    also ask that no neuron fire more than :data:`_MAX_COUNT_RECURRENT` times (excitatory loops
    can run away, and long chains of spikes make the differences slow and ill-conditioned) and
    that every spike be :data:`_GAP_RECURRENT` from the other events of its row."""
    for k in range(100):
        problem = _draw(point, seed + 1000 * k, B, M, K_in, N1, N2)
        c = E.spike_counts(E.forward(problem.cfg, problem.Ws, problem.t_in, Rs=problem.Rs))
        last_ok = c[-1].max() >= 2 if point.loss == "all_spikes" else c[-1].min() >= 1
        calm = not point.recurrent or (max(cc.max() for cc in c) <= _MAX_COUNT_RECURRENT
                                       and _min_gap(E.forward(problem.cfg, problem.Ws, problem.t_in,
                                                              Rs=problem.Rs)) >= _GAP_RECURRENT)
        if c[0].max() >= 2 and last_ok and calm:
            return problem
    raise RuntimeError(f"no draw exercises both layers for {point.name}")


def _min_gap(recs):
    """The smallest distance between a spike and any other event of its layer's row."""
    gap = np.inf
    for rec in recs:
        for b in range(rec.times.shape[0]):
            sp = rec.times[b][np.isfinite(rec.times[b])]
            ev = np.sort(np.concatenate([sp, rec.t_in[b][rec.valid_in[b]]]))
            is_sp = np.isin(ev, sp)
            d = np.diff(ev)
            near = is_sp[1:] | is_sp[:-1]
            if near.any():
                gap = min(gap, float(d[near].min()))
    return gap


def _draw(point, seed, B, M, K_in, N1, N2):
    rng = np.random.default_rng(seed)
    tau_m, tau_s = _TAUS[point.root]
    cfg = E.EventPropConfig(tau_m, tau_s, 1.0, 40.0)
    s1, s2 = _SCALE[point.root]
    t_in = rng.uniform(0.0, 20.0, (B, M, K_in))
    Ws = [rng.normal(s1, 0.8, (N1, M)), rng.normal(s2, 0.8, (N2, N1))]
    r = [rng.normal(size=(B, N1, 64)), rng.normal(size=(B, N2, 64))]
    Rs = None
    if point.recurrent:
        Rs = [rng.normal(0.0, 0.4, (N, N)) for N in (N1, N2)]
        for R in Rs:
            np.fill_diagonal(R, 0.0)                  # M2r: no self-connections
    return Problem(cfg, Ws, t_in, point.loss, r, rng.integers(0, N2, B), Rs)


def fd_check(problem: Problem, grads, g_in, eps=EPS_EVENTPROP, rtol=RTOL_EVENTPROP, gRs=None):
    """6th-order central differences of every weight and input time, skipping spike-count changes.

    Every entry is first differenced at ``eps[0]``; an entry whose error exceeds ``rtol`` (or
    whose six perturbations change a spike count) is retried at the further steps, and its error
    is the smallest over the steps tried; it is skipped if every step changes a spike count.
    Errors are relative to ``max(|numerical|, _FLOOR · s)``, s the largest ``eps[0]`` estimate.
    Returns ``[(name, worst rel error, worst index, checked, skipped)]`` for ``W0, W1, ..., t_in``
    and, with ``gRs`` (the problem's ``Rs``), ``R0, R1, ...`` after them (off-diagonal entries only).
    """
    _, recs = problem.value()
    base = E.spike_counts(recs)
    targets = [(f"W{l}", problem.Ws[l], grads[l]) for l in range(len(problem.Ws))] + [("t_in", problem.t_in, g_in)]
    if gRs is not None:
        targets += [(f"R{l}", R, gR) for l, (R, gR) in enumerate(zip(problem.Rs, gRs)) if R is not None]

    def entries(name, X):
        return [idx for idx in np.ndindex(X.shape) if np.isfinite(X[idx]) and not (name[0] == "R" and idx[0] == idx[1])]

    def estimate(name, X, idx, e):
        vals = []
        for k in (1, -1, 2, -2, 3, -3):
            Xp = X.copy()
            Xp[idx] += k * e
            if name == "t_in":
                v, rr = problem.value(t_in=Xp)
            elif name[0] == "R":
                Rs = list(problem.Rs)
                Rs[int(name[1:])] = Xp
                v, rr = problem.value(Rs=Rs)
            else:
                Ws = list(problem.Ws)
                Ws[int(name[1:])] = Xp
                v, rr = problem.value(Ws=Ws)
            if not all(np.array_equal(a, b) for a, b in zip(E.spike_counts(rr), base)):
                return None
            vals.append(v)
        return (45.0 * (vals[0] - vals[1]) - 9.0 * (vals[2] - vals[3]) + (vals[4] - vals[5])) / (60.0 * e)

    first = {(name, idx): estimate(name, X, idx, eps[0]) for name, X, _ in targets for idx in entries(name, X)}
    scale = max([abs(v) for v in first.values() if v is not None] + [1e-300])
    out = []
    for name, X, G in targets:
        worst, where, checked, skipped = 0.0, (), 0, 0
        for idx in entries(name, X):
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
    grads, g_in, recs, *gRs = problem.gradients()
    res = fd_check(problem, grads, g_in, rtol=rtol, gRs=gRs[0] if gRs else None)
    worst = max(res, key=lambda r: r[1])
    return PointReport(point, 0.0, "n/a", float(worst[1]), f"{worst[0]}{[int(i) for i in worst[2]]}",
                       int(sum(r[3] for r in res)), int(sum(r[4] for r in res)),
                       [int(rec.counts.sum()) for rec in recs], bool(worst[1] <= rtol))


FAMILY = Family("eventprop", points, check)
