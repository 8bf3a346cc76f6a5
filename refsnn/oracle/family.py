"""The ``presets`` gradcheck family: every preset's parameter map on the verification grid.

A preset's gradients are refsnn's adjoints (already on the grid, family ``lif``) pushed
through the hand-derived transpose Jacobian of its parameter map ``p = φ(P)`` and of its
membrane view (:mod:`refsnn.oracle.presets`). This family checks that chain rule along the
two exact routes of :mod:`refsnn.checking.verify`, with the *peer's* parameters, the input
and a linear probe loss on the peer's records (hidden spikes, last-layer spikes and
membranes) as the function:

(a) smooth twin: spikes are the surrogate's primitive, central differences to 1e-7;
(b) piecewise-linear regime: Heaviside spikes, true zero derivative, coordinates whose
    perturbation flips a spike skipped.

Detached resets (and so detached post-reset membranes) are differentiated with their
reset spikes held at the nominal values, as in verify. The refsnn switches the presets
stand on (``init_spike``, ``membrane_view``, ``adaptive_threshold``, shared parameters) are
on the grid themselves (family ``lif-switches``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from ..checking.families import Family
from ..checking.verify import EPS, EPS_PIECEWISE, FLOOR, RTOL, PointReport, check_route, spikes_unchanged
from . import presets as P

__all__ = ["FAMILY", "PresetPoint", "points", "check_point", "make_net"]


@dataclass(frozen=True)
class PresetPoint:
    preset: str
    kwargs: str          # JSON of the preset arguments
    label: str

    @property
    def name(self):
        return f"{self.preset}/{self.label}"


_POINTS = [
    ("snntorch.Leaky", dict(beta=0.85), "subtract"),
    ("snntorch.Leaky", dict(beta=0.85, reset_mechanism="zero"), "zero"),
    ("snntorch.Leaky", dict(beta=0.85, reset_mechanism="none", spike_grad="fast_sigmoid", slope=5.0), "none/fast_sigmoid"),
    ("snntorch.Leaky", dict(beta=0.85, reset_delay=False, reset_mechanism="zero"), "zero/no_delay"),
    ("snntorch.Leaky", dict(beta=0.85, reset_delay=False), "subtract/no_delay"),
    ("snntorch.Synaptic", dict(beta=0.85, alpha_syn=0.7), "subtract"),
    ("snntorch.Synaptic", dict(beta=0.85, alpha_syn=0.7, reset_mechanism="zero"), "zero"),
    ("snntorch.RLeaky", dict(beta=0.85), "all_to_all"),
    ("snntorch.RLeaky", dict(beta=0.85, all_to_all=False, reset_mechanism="zero"), "one_to_one/zero"),
    ("snntorch.Leaky", dict(beta=0.85, spike_grad="sigmoid", slope=5.0), "subtract/sigmoid"),
    ("spikingjelly.LIFNode", dict(tau=2.0), "hard"),
    *[("spikingjelly.LIFNode", dict(tau=2.0, surrogate_function=sg), "hard/" + sg)
      for sg in ("PiecewiseQuadratic", "PiecewiseExp", "Rect", "SuperSpike")],
    ("spikingjelly.LIFNode", dict(tau=3.0, v_reset=None, surrogate_function="ATan", alpha=2.0), "soft"),
    ("spikingjelly.LIFNode", dict(tau=2.0, v_reset=-0.2, detach_reset=True, decay_input=False), "hard/detach"),
    ("spikingjelly.ParametricLIFNode", dict(init_tau=2.5), "hard"),
    ("spikingjelly.ParametricLIFNode", dict(init_tau=2.5, v_reset=None, decay_input=False), "soft"),
    ("spikingjelly.IFNode", dict(v_reset=None, detach_reset=True), "soft/detach"),
    ("norse.LIFCell", dict(v_reset=-0.2), "ff"),
    ("norse.LIFBoxCell", dict(), "box"),
    ("norse.LIFRecurrentCell", dict(autapses=True), "recurrent"),
    ("norse.LSNNCell", dict(tau_adapt_inv=50.0, beta=0.5), "lsnn"),
    ("norse.LSNNCell", dict(tau_adapt_inv=50.0, beta=0.5), "lsnn_stack"),   # two layers: a step's delay between them
    # autapses=True: autapses=False zeroes a gradient (the diagonal of R) on purpose
    ("norse.LSNNRecurrentCell", dict(tau_adapt_inv=50.0, beta=0.5, autapses=True), "lsnn_recurrent"),
    ("eprop.ALIF", dict(thr=0.6, tau_m=20.0, tau_a=50.0, beta=0.7), "alif"),
    ("spytorch.tutorial", dict(), "tutorial"),
]


def points():
    return [PresetPoint(p, json.dumps(kw, sort_keys=True), label) for p, kw, label in _POINTS]


def make_net(point: PresetPoint, seed=0, T=6, B=2, M=3, H=3, K=2):
    """A small two-layer network of ``point``'s preset, its input and probe weights."""
    rng = np.random.default_rng(seed)
    kw = json.loads(point.kwargs)
    pre = point.preset
    W = lambda o, i, s=1.5: rng.normal(0, s / np.sqrt(i), (o, i))  # noqa: E731
    if pre.startswith("snntorch"):
        layers = [{"weight": W(H, M), "bias": rng.uniform(0.1, 0.5, H),
                   "threshold": rng.uniform(0.6, 1.2, H) if l == 0 else np.asarray(0.9)}
                  for l in range(1)]
        layers.append({"weight": W(K, H), "bias": rng.uniform(0.2, 0.6, K), "threshold": np.asarray(0.8)})
        if pre == "snntorch.Synaptic":
            layers[0]["alpha"] = rng.uniform(0.5, 0.8, H)
        if pre == "snntorch.RLeaky":
            if kw.get("all_to_all", True):
                for lay, n in zip(layers, (H, K)):
                    lay["recurrent.weight"] = W(n, n, 0.8)
                    lay["recurrent.bias"] = rng.normal(0, 0.1, n)
            else:
                layers[0]["V"], layers[1]["V"] = rng.uniform(0.2, 0.6, H), np.asarray(0.4)
        layers[0]["beta"] = rng.uniform(0.7, 0.95, H)
    elif pre.startswith("spikingjelly"):
        gain = 3.0 if kw.get("decay_input", True) and pre != "spikingjelly.IFNode" else 1.5
        layers = [{"weight": gain * W(H, M), "bias": gain * rng.uniform(0, 0.3, H)},
                  {"weight": gain * W(K, H), "bias": gain * rng.uniform(1.0, 1.6, K)}]
        if pre == "spikingjelly.ParametricLIFNode":
            layers[1]["w"] = np.asarray(-0.3)
    elif pre.startswith("norse"):
        g = 25.0 if pre != "norse.LIFBoxCell" else 12.0
        if pre in ("norse.LIFRecurrentCell", "norse.LSNNRecurrentCell"):
            layers = [{"input_weights": g * W(H, M), "recurrent_weights": g * W(H, H, 0.5)},
                      {"input_weights": g * W(K, H), "recurrent_weights": g * W(K, K, 0.5)}]
        else:
            layers = [{"weight": g * W(H, M), "bias": g * rng.uniform(0, 0.3, H)},
                      {"weight": g * W(K, H), "bias": g * rng.uniform(0.8, 1.2, K)}]
        layers[0]["tau_mem_inv"] = rng.uniform(80, 150, H)
        layers[0]["v_th"] = np.asarray(0.9)
        if pre == "norse.LSNNCell" and point.label != "lsnn_stack":
            layers = layers[:1]
    elif pre == "eprop.ALIF":
        layers = [{"w_in": W(H, M, 2.0), "w_rec": W(H, H, 0.8)}, {"w_out": W(K, H), "b_out": rng.normal(0, 0.1, K)}]
    else:
        layers = [{"w1": W(M, H, 2.5).T.copy() * 0.5}, {"w2": W(K, H).T.copy()}]
        layers[0]["w1"] = rng.normal(0, 0.8, (M, H))
    net = P.build(pre, layers, **kw)
    x = rng.normal(0.6, 1.0, (T, B, M))
    probes = [rng.normal(size=(T, B, c.n)) for c in net.net.layers] + [rng.normal(size=(T, B, net.net.layers[-1].n))]
    return net, x, probes


def _loss(run, probes):
    """Σ G_l·spikes_l over spiking layers + Σ G·membranes of the last layer."""
    val = sum(float((g * s).sum()) for g, s, c in zip(probes, run.spikes, run.trajs) if c.config.spiking)
    return val + float((probes[-1] * run.membranes[-1]).sum())


def _partials(net, probes):
    n = len(net.layers)
    a_s = [probes[l] if net.net.layers[l].spiking else None for l in range(n)]
    a_v = [None] * (n - 1) + [probes[-1]]
    return a_s, a_v


def _adjoint_checks(net, x, probes, twin, eps, rtol, piecewise=False, seed=0):
    run = net.forward(x, twin=twin)
    a_s, a_v = _partials(net, probes)
    g = net.backward(run, a_s, a_v)
    value = _loss(run, probes)
    frozen = [tr.reset_spikes() if tr.config.detach_reset else None for tr in run.trajs]
    frozen_thr = [tr.prev("s") if tr.config.detach_threshold else None for tr in run.trajs]
    nominal = [tr.s for tr in run.trajs]

    def fwd(flat):
        return net.with_peer_params(flat).forward(flat["x"], twin=twin, s_reset=frozen, s_threshold=frozen_thr)

    def f(flat):
        return _loss(fwd(flat), probes)

    def f_ok(flat):   # piecewise: a perturbation that flips a spike is skipped
        r = fwd(flat)
        return _loss(r, probes), spikes_unchanged(nominal, [tr.s for tr in r.trajs])

    flat = {**net.peer_params, "x": x}
    grads = {k: g[k] for k in flat}
    return check_route(f_ok if piecewise else f, flat, grads, eps=eps, rtol=rtol,
                       floor=FLOOR * max(1.0, abs(value)), with_ok=piecewise, seed=seed), run


def _worst(results):
    w = max(results, key=lambda r: r.max_rel_error)
    return w.max_rel_error, f"{w.name}{list(w.worst_index)}"


def check_point(point: PresetPoint, seed=0, rtol=RTOL) -> PointReport:
    net, x, probes = make_net(point, seed)
    smooth, _ = _adjoint_checks(net, x, probes, "smooth", EPS, rtol, seed=seed)
    piece, run = _adjoint_checks(net, x, probes, "piecewise", EPS_PIECEWISE, rtol, piecewise=True, seed=seed)
    s_max, s_where = _worst(smooth)
    p_max, p_where = _worst(piece)
    return PointReport(point, s_max, s_where, p_max, p_where, sum(r.n_checked for r in piece),
                       sum(r.n_skipped for r in piece),
                       [int(tr.s.sum()) for tr in run.trajs if tr.config.spiking],
                       all(r.passed for r in smooth + piece))


FAMILY = Family("presets", points, check_point)
