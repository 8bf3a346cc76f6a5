"""Gradcheck family ``dendrite``: the two-compartment neuron of :mod:`refsnn.neurons.dendrite`.

Each row is a network ``x → dendritic layer (K branches per soma) → leaky-integrator
readout`` with the loss ``½Σ_t(v^out_t − y)²/B`` on the readout plus an L1 spike-count term
on the somas (so both the soma's spike path and its membrane path carry gradient).
Every parameter of both layers, the input and every initial state (branch potentials
included) is checked along both exact routes:

(a) smooth twin: the dendritic spike and the somatic spike replaced by their
    surrogates' primitives (a sigmoid branch is smooth already); rtol 1e-7;
(b) piecewise-linear: Heaviside in both compartments with zero derivative, plus
    membrane probes ``½Σ(v − y)²`` on the soma and ``½Σ(a − y)²`` on every branch
    potential, so the branch recursion DB2 is checked even where f_d' = 0; coordinates
    whose perturbation flips a spike (somatic or dendritic) are skipped.

A detached somatic reset is differentiated with the reset spikes held fixed, as in
:mod:`refsnn.checking.verify`. A row's ``n_spikes`` is ``[somatic spikes, dendritic spikes]``
of the piecewise-linear forward pass.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np

from .. import losses as L
from ..neurons import dendrite as D
from ..neurons.lif import LIFConfig, init_params, layer_backward, layer_forward, state_names
from ..surrogates import surrogate
from .families import Family
from .verify import EPS, EPS_PIECEWISE, FLOOR, RTOL, PointReport, _worst, check_route

__all__ = ["FAMILY", "DendritePoint", "points", "check", "make_dendrite_problem", "DendriteProblem"]

_SOMAS = {  # soma (reset, detach, adaptation, synapse, recurrent)
    "subtract/attach": ("subtract", False, False, False, False),
    "hard_drop_input/detach/adapt/syn/rec": ("hard_drop_input", True, True, True, True),
    "hard_keep_input/attach/syn": ("hard_keep_input", False, False, True, False),
}
L1_STRENGTH = 0.3


@dataclass(frozen=True)
class DendritePoint:
    branch: str
    soma: str

    @property
    def name(self):
        return f"{self.branch}/{self.soma}"


def points():
    return [DendritePoint(b, s) for b, s in itertools.product(D.BRANCH_KINDS, _SOMAS)]


@dataclass
class DendriteProblem:
    point: DendritePoint
    dcfg: D.DendriteConfig
    rcfg: LIFConfig
    params: dict      # flat: "D.<name>", "R.<name>", "x", "D.state.<k>", "R.state.<k>"
    y: np.ndarray
    probe_v: np.ndarray
    probe_a: np.ndarray


def make_dendrite_problem(point: DendritePoint, seed=0, T=6, B=2, M=3, N=3, K=2, O=2):
    rng = np.random.default_rng(seed)
    sg = surrogate("sigmoid", 4.0)
    reset, detach, adapt, syn, rec = _SOMAS[point.soma]
    soma = LIFConfig(1, N, surrogate=sg, reset=reset, detach_reset=detach, adaptation=adapt, synapse=syn,
                     recurrent=rec)
    # The dendritic spike's surrogate (arctan) differs from the soma's (sigmoid) and from the
    # sigmoid branch, so a backward pass that uses the wrong one fails.
    dcfg = D.DendriteConfig(M, N, K, soma, branch=point.branch, dendrite_surrogate=surrogate("arctan", 2.0),
                            dendrite_slope=3.0)
    rcfg = LIFConfig(N, O, surrogate=sg, reset="none", spiking=False, synapse=syn)
    dp = D.init_dendrite_params(
        dcfg, rng, w_scale=2.0, c=rng.uniform(0.5, 1.5, (N, K)), alpha_d=rng.uniform(0.5, 0.9, (N, K)),
        theta_d=rng.uniform(0.2, 0.8, (N, K)), alpha=rng.uniform(0.6, 0.95, N), theta=rng.uniform(0.5, 1.2, N),
        gamma=rng.uniform(0.5, 1.5, N), v_reset=rng.uniform(-0.3, 0.3, N), beta=rng.uniform(0.05, 0.4, N),
        rho=rng.uniform(0.6, 0.95, N), kappa=rng.uniform(0.3, 1.2, N), lam=rng.uniform(0.3, 0.9, N),
        r_scale=0.8)
    dp["b"] = rng.uniform(-0.2, 0.3, N)
    rp = init_params(rcfg, rng, alpha=rng.uniform(0.6, 0.95, O), lam=rng.uniform(0.3, 0.9, O),
                     b=rng.uniform(-0.2, 0.2, O))
    flat = {"x": rng.normal(0.5, 1.0, (T, B, M))}
    flat.update({f"D.{k}": v for k, v in dp.items()})
    flat.update({f"R.{k}": v for k, v in rp.items()})
    flat["D.state.a"] = rng.normal(0.0, 0.4, (B, N, K))
    flat.update({f"D.state.{k}": rng.normal(0.0, 0.4, (B, N)) for k in state_names(soma)})
    flat.update({f"R.state.{k}": rng.normal(0.0, 0.4, (B, O)) for k in state_names(rcfg)})
    return DendriteProblem(point, dcfg, rcfg, flat, rng.normal(0.0, 1.0, (B, O)),
                           rng.normal(0.0, 1.0, (B, N)), rng.normal(0.0, 1.0, (B, N, K)))


def _split(flat):
    dp = {k[2:]: v for k, v in flat.items() if k.startswith("D.") and ".state." not in k}
    rp = {k[2:]: v for k, v in flat.items() if k.startswith("R.") and ".state." not in k}
    dst = {k[8:]: v for k, v in flat.items() if k.startswith("D.state.")}
    rst = {k[8:]: v for k, v in flat.items() if k.startswith("R.state.")}
    return dp, rp, dst, rst


def _forward(prob, dcfg, flat, s_reset=None):
    dp, rp, dst, rst = _split(flat)
    dtr = D.dendrite_forward(dcfg, dp, flat["x"], dst, s_reset)
    rtr = layer_forward(prob.rcfg, rp, dtr.s, rst)
    return dtr, rtr


def _loss(prob, dtr, rtr, probe):
    out = L.membrane_rate_loss(rtr, prob.y)
    l1 = L.spike_count_l1(dtr.soma, L1_STRENGTH)
    value = out.value + l1.value
    dv_s, da = None, None
    if probe:
        pv = L.membrane_rate_loss(dtr.soma, prob.probe_v)
        err = dtr.a - prob.probe_a
        value += pv.value + 0.5 * float(np.sum(err ** 2)) / err.shape[1]
        dv_s, da = pv.dv, err / err.shape[1]
    return value, out, l1.ds, dv_s, da


def _adjoint(prob, dcfg, probe):
    dtr, rtr = _forward(prob, dcfg, prob.params)
    value, out, ds_s, dv_s, da = _loss(prob, dtr, rtr, probe)
    _, rp, _, _ = _split(prob.params)
    dp, _, _, _ = _split(prob.params)
    rg = layer_backward(rtr, rp, None, out.dv)
    dg = D.dendrite_backward(dtr, dp, ds_s + rg.x, dv_s, da)
    grads = {"x": dg.x}
    grads.update({f"D.{k}": v for k, v in dg.params.items()})
    grads.update({f"R.{k}": v for k, v in rg.params.items()})
    grads.update({f"D.state.{k}": v for k, v in dg.state0.items()})
    grads.update({f"R.state.{k}": v for k, v in rg.state0.items()})
    return value, grads, dtr


def _route(prob, dcfg, probe, eps, rtol, seed=0):
    value, grads, dtr = _adjoint(prob, dcfg, probe)
    frozen = dtr.soma.reset_spikes() if dcfg.soma.detach_reset else None

    def run(flat):
        return _forward(prob, dcfg, flat, frozen)

    def f(flat):
        return _loss(prob, *run(flat), probe)[0]

    nom_s, nom_q = dtr.s.copy(), dtr.q.copy()

    def f_ok(flat):   # piecewise: skip perturbations that flip a somatic or dendritic spike
        d2, r2 = run(flat)
        ok = np.array_equal(d2.s, nom_s) and (dcfg.branch == "sigmoid" or np.array_equal(d2.q, nom_q))
        return _loss(prob, d2, r2, probe)[0], ok

    return check_route(f_ok if probe else f, prob.params, {k: grads[k] for k in prob.params}, eps=eps, rtol=rtol,
                       floor=FLOOR * max(1.0, abs(value)), with_ok=probe, seed=seed)


def check_smooth(prob, rtol=RTOL, seed=0):
    return _route(prob, D.dendrite_smooth_twin(prob.dcfg), False, EPS, rtol, seed)


def check_piecewise(prob, rtol=RTOL, seed=0):
    return _route(prob, D.dendrite_piecewise_linear(prob.dcfg), True, EPS_PIECEWISE, rtol, seed)


def check(point: DendritePoint, seed=0, rtol=RTOL) -> PointReport:
    prob = make_dendrite_problem(point, seed)
    smooth = check_smooth(prob, rtol, seed)
    piece = check_piecewise(prob, rtol, seed)
    dtr, _ = _forward(prob, D.dendrite_piecewise_linear(prob.dcfg), prob.params)
    s_max, s_where = _worst(smooth)
    p_max, p_where = _worst(piece)
    return PointReport(point, s_max, s_where, p_max, p_where, sum(r.n_checked for r in piece),
                       sum(r.n_skipped for r in piece), [int(dtr.s.sum()), int(dtr.q.sum())],
                       all(r.passed for r in smooth + piece))


FAMILY = Family("dendrite", points, check)
