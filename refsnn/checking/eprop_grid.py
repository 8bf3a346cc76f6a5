"""The ``eprop`` family of ``refsnn gradcheck``: eligibility traces on the verification grid.

Two kinds of rows (see :mod:`refsnn.learning.eprop`):

``eprop:factor/<configuration>``
    The exact factorisation E1 (traces E3, signals E2 from BPTT's adjoints) for the
    W, b, R of both layers of :func:`refsnn.checking.verify.make_problem`'s network,
    with the membrane probe on every layer (so the ``a^v ε^v`` term is exercised).
    ``bptt_max_rel``: the worst relative difference to ``layer_backward`` over the
    splits ``own = ∅``, ``{adaptation}``, Bellec's ``{adaptation, threshold}`` and all three, in
    surrogate mode (must be ≤ 1e-12). Both exact routes then check the factorised
    gradient itself against central differences (smooth twin to 1e-7; piecewise-linear
    regime, flipping coordinates skipped).
``eprop:exact/<configuration>``
    e-prop's own gradient (symmetric feedback, filtered traces, the trace carrying
    every own path) in the configurations where the derivation says it *is* the
    gradient: one non-recurrent hidden layer, a leaky-integrator readout, a loss on
    the readout membrane. Checked against BPTT (``bptt_max_rel``) and along both routes.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .families import Family
from .grid_switches import SWITCHES
from .verify import (EPS, EPS_PIECEWISE, FLOOR, RTOL, GridPoint, PointReport, _flatten, _objective, check_route,
                     make_problem, spikes_unchanged)
from ..learning import eprop
from ..neurons.lif import RESET_KINDS, piecewise_linear, smooth_twin
from ..neurons.network import Network, network_backward, network_forward

__all__ = ["FAMILY", "EpropPoint", "points", "problem_for", "check", "EpropReport", "BPTT_RTOL", "SPLITS",
           "factorisation_error", "factorisation_errors", "eprop_error"]

BPTT_RTOL = 1e-12
SPLITS = ((), ("adaptation",), eprop.BELLEC_OWN, eprop.OWN_PATHS)


@dataclass(frozen=True)
class EpropPoint:
    kind: str            # "factor" or "exact"
    reset: str
    detach: bool
    adaptation: bool
    synapse: bool
    recurrent: bool
    switch: str = ""     # a model switch of lif (grid_switches.SWITCHES): "athr", "init_zero", "shared"

    @property
    def name(self):
        flags = [self.reset, "detach" if self.detach else "attach"]
        flags += [f for f, on in (("adapt", self.adaptation), ("syn", self.synapse),
                                  ("rec", self.recurrent)) if on]
        kind = self.kind + (f"-{self.switch}" if self.switch else "")
        return kind + "/" + "/".join(flags)

    def grid_point(self):
        return GridPoint(self.reset, self.detach, self.adaptation, self.synapse, self.recurrent,
                         "trace_mse" if self.kind == "factor" else "membrane")


# Switches with rows here; the refractory gate and the post-reset view are refused by the
# traces (refsnn.learning.eprop._supported).
SWITCH_ROWS = ("athr", "init_zero", "shared")


def points():
    """64 factorisation rows (every structure), 32 exact e-prop rows (no recurrence), and
    per switch 16 factorisation rows (reset × detach × adaptation × recurrence, synapse
    alternating) and 8 exact rows (reset × detach, features alternating)."""
    out = []
    for kind in ("factor", "exact"):
        for r, d, a, s, rec in itertools.product(RESET_KINDS, (False, True), (False, True), (False, True),
                                                 (False, True)):
            if kind == "exact" and rec:
                continue
            out.append(EpropPoint(kind, r, d, a, s, rec))
    for sw in SWITCH_ROWS:
        for i, (r, d, a, rec) in enumerate(itertools.product(RESET_KINDS, (False, True), (False, True),
                                                             (False, True))):
            out.append(EpropPoint("factor", r, d, a, bool(i % 2), rec, sw))
        for i, (r, d) in enumerate(itertools.product(RESET_KINDS, (False, True))):
            out.append(EpropPoint("exact", r, d, bool(i % 2), bool(i // 2 % 2), False, sw))
    return out


def problem_for(point, seed=0):
    """The verify problem of ``point`` (with its switch applied to every spiking layer)."""
    if not point.switch:
        return make_problem(point.grid_point(), seed)
    extra, shared, _ = SWITCHES[point.switch]
    return make_problem(point.grid_point(), seed, extra=extra, shared=shared)


@dataclass
class EpropReport(PointReport):
    bptt_max_rel: float = 0.0


def _rel(a, b):
    scale = np.max(np.abs(b))
    return float(np.max(np.abs(a - b)) / scale) if scale > 0 else float(np.max(np.abs(a)))


def _keys(net):
    return [f"L{l}.{k}" for l, cfg in enumerate(net.layers) for k in eprop.trained_names(cfg)]


def _flat(grads):
    return {f"L{l}.{k}": v for l, g in enumerate(grads) for k, v in g.items()}


def _factors(problem, net, owns, probe=True):
    """E1 for each split in ``owns``, from one forward and one backward pass (BPTT's)."""
    trajs = network_forward(net, problem.params, problem.x, problem.state0)
    _, ds, dv = problem.loss(trajs, probe)
    g = network_backward(trajs, problem.params, ds, dv)
    facs = [eprop.network_factorised_gradients(net, problem.params, problem.x, trajs, g, ds, dv, problem.state0,
                                               own) for own in owns]
    return facs, g.params, trajs


def _factor(problem, net, own, probe=True):
    facs, ref, trajs = _factors(problem, net, (own,), probe)
    return facs[0], ref, trajs


def factorisation_errors(problem, owns):
    """:func:`factorisation_error` for each split in ``owns`` (BPTT's passes shared)."""
    facs, ref, _ = _factors(problem, problem.net, owns)
    return [max(_rel(f[k], r[k]) for f, r in zip(fac, ref) for k in f) for fac in facs]


def factorisation_error(problem, own):
    """Worst relative difference of E1 to ``network_backward`` over W, b, R of every layer."""
    return factorisation_errors(problem, (own,))[0]


def _target(problem):
    T = problem.x.shape[0]
    return np.broadcast_to(problem.target, (T,) + problem.target.shape)


def _eprop(problem, net):
    res = eprop.eprop_gradients(net, problem.params, problem.x, eprop.step_mse(_target(problem)),
                                state0=problem.state0)
    return res.grads


def eprop_error(problem):
    """Worst relative difference of symmetric e-prop to BPTT (an exact configuration)."""
    trajs = network_forward(problem.net, problem.params, problem.x, problem.state0)
    _, ds, dv = problem.loss(trajs)
    ref = network_backward(trajs, problem.params, ds, dv).params
    got = _eprop(problem, problem.net)
    return max(_rel(g[k], ref[l][k]) for l, g in enumerate(got) for k in g)


def _route(problem, net, grads_fn, loss, eps, piecewise=False, rtol=RTOL, seed=0):
    trajs = network_forward(net, problem.params, problem.x, problem.state0)
    value = loss(trajs)[0]
    f, run = _objective(net, trajs, loss)
    full = _flatten(problem.params, problem.x, problem.state0)
    keys = _keys(net)
    sub = {k: full[k] for k in keys}
    grads = _flat(grads_fn(net))
    nominal = [tr.s for tr in trajs]

    def f_ok(d):   # piecewise: a perturbation that flips a spike is skipped (verify.check_route)
        tr = run({**full, **d})
        return loss(tr)[0], spikes_unchanged(nominal, [t.s for t in tr])

    return check_route(f_ok if piecewise else (lambda d: f({**full, **d})), sub, {k: grads[k] for k in keys},
                       eps=eps, rtol=rtol, floor=FLOOR * max(1.0, abs(value)), with_ok=piecewise, seed=seed)


def check(point: EpropPoint, seed=0, rtol=RTOL) -> EpropReport:
    """Both routes (and the comparison with BPTT) on one row."""
    problem = problem_for(point, seed)
    if point.kind == "factor":
        bptt = max(factorisation_errors(problem, SPLITS))
        loss = lambda tr: problem.loss(tr, probe=True)                                  # noqa: E731
        grads_fn = lambda net: _factor(problem, net, eprop.OWN_PATHS)[0]                # noqa: E731
    else:
        bptt = eprop_error(problem)
        loss = problem.loss
        grads_fn = lambda net: _eprop(problem, net)                                      # noqa: E731
    twin = Network(tuple(smooth_twin(c) if c.spiking else c for c in problem.net.layers))
    pw = Network(tuple(piecewise_linear(c) if c.spiking else c for c in problem.net.layers))
    smooth = _route(problem, twin, grads_fn, loss, EPS, rtol=rtol, seed=seed)
    piece = _route(problem, pw, grads_fn, loss, EPS_PIECEWISE, piecewise=True, rtol=rtol, seed=seed)
    s_max = max(smooth, key=lambda r: r.max_rel_error)
    p_max = max(piece, key=lambda r: r.max_rel_error)
    trajs = network_forward(pw, problem.params, problem.x, problem.state0)
    return EpropReport(
        point, s_max.max_rel_error, f"{s_max.name}{list(s_max.worst_index)}",
        p_max.max_rel_error, f"{p_max.name}{list(p_max.worst_index)}",
        sum(r.n_checked for r in piece), sum(r.n_skipped for r in piece),
        [int(tr.s.sum()) for tr in trajs if tr.config.spiking],
        all(r.passed for r in smooth + piece) and bptt <= BPTT_RTOL, bptt)


FAMILY = Family("eprop", points, check)
