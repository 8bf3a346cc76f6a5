"""Grid rows of the convolutional LIF layer (``refsnn gradcheck --family conv``).

Each point is a small :class:`refsnn.neurons.conv.ConvNetwork` (one or two conv layers,
their pooling, a dense readout) in one geometry: kernel size, stride, padding and the
pooling kind, with the LIF options of the conv layers. Both exact routes of
:mod:`refsnn.checking.verify` are run on every parameter of every layer (the kernel
W, the per-channel neuron parameters, the dense layer's), the input x and every
initial state:

(a) smooth twin, central differences to rtol 1e-7;
(b) piecewise-linear regime (Heaviside, zero derivative), with verify's membrane probe
    on every layer, exact on every coordinate whose perturbation flips no spike.

The finite differences are :func:`refsnn.checking.verify.check_route` with verify's
step, order, tolerance and floor (directional screening unless ``--exhaustive``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import losses as L
from ..neurons.conv import (ConvLIFConfig, ConvNetwork, conv_piecewise_linear, conv_smooth_twin,
                            convnet_backward, convnet_forward, convnet_init)
from ..neurons.lif import LIFConfig, piecewise_linear, smooth_twin
from ..neurons.network import Network
from ..surrogates import surrogate
from . import verify
from .families import Family

__all__ = ["FAMILY", "ConvPoint", "points", "ConvProblem", "make_problem", "adjoint", "check_smooth_twin",
           "check_piecewise", "check_point"]


@dataclass(frozen=True)
class ConvPoint:
    kernel: int
    stride: int
    padding: int
    pool: str = "none"
    pool_size: int = 1
    reset: str = "subtract"
    detach: bool = False
    synapse: bool = False
    adaptation: bool = False
    two_layers: bool = False
    loss: str = "ce_count"
    size: int = 5

    @property
    def name(self):
        parts = [f"k{self.kernel}s{self.stride}p{self.padding}"]
        if self.pool != "none":
            parts.append(f"{self.pool}{self.pool_size}")
        parts.append(self.reset + ("/detach" if self.detach else ""))
        parts += [f for f, on in (("syn", self.synapse), ("adapt", self.adaptation),
                                  ("2conv", self.two_layers)) if on]
        return "/".join(parts + [self.loss])


def points():
    """Stride/padding variants, kernels larger than the stride, both pooling kinds,
    the reset kinds and a two-conv stack."""
    P = ConvPoint
    return [
        P(3, 1, 0),                                           # plain
        P(3, 1, 1, loss="membrane"),                          # same-size padding
        P(3, 2, 1, size=6),                                   # stride 2, kernel > stride
        P(4, 2, 2, size=6, reset="hard_drop_input"),          # even kernel, padding 2
        P(2, 2, 0, size=6, reset="hard_keep_input"),          # kernel = stride, no overlap
        P(3, 3, 1, size=7, reset="none", loss="membrane"),    # stride = kernel with padding
        P(3, 1, 1, pool="sum", pool_size=1 + 1, size=6, synapse=True),
        P(3, 1, 0, pool="avg", pool_size=3, size=8, detach=True, adaptation=True),
        P(3, 2, 1, pool="avg", pool_size=2, size=7, synapse=True, adaptation=True, loss="membrane"),
        P(3, 1, 1, pool="sum", pool_size=2, size=6, two_layers=True),
        P(2, 1, 1, size=4, loss="first_spike"),               # the first-spike-time loss on a conv net
    ]


@dataclass
class ConvProblem:
    point: ConvPoint
    net: ConvNetwork
    params: list
    x: np.ndarray
    state0: list
    target: object
    probe: list

    def loss(self, trajs, probe=False):
        """``(value, ds_list, dv_list)`` over all layers (convs first), as verify.Problem.loss."""
        layers = [tr.lif for tr in trajs.convs] + list(trajs.dense)
        out = layers[-1]
        kind = self.point.loss
        if kind == "ce_count":
            parts = [(len(layers) - 1, L.spike_count_cross_entropy(out, self.target))]
        elif kind == "membrane":
            parts = [(len(layers) - 1, L.membrane_rate_loss(out, self.target))]
        elif kind == "first_spike":
            parts = [(len(layers) - 1, L.first_spike_cross_entropy(out, self.target, tau=2.0))]
        else:
            raise ValueError(f"unknown loss {kind!r}")
        if probe:
            parts += [(i, L.membrane_rate_loss(tr, y)) for i, (tr, y) in enumerate(zip(layers, self.probe))]
        per = [[] for _ in layers]
        for i, l in parts:
            per[i].append(l)
        comb = [L.combine(*ls) if ls else L.Loss(0.0, None, None) for ls in per]
        return sum(c.value for c in comb), [c.ds for c in comb], [c.dv for c in comb]


def make_problem(point: ConvPoint, seed=0, sg=None, T=3, B=1, C=2, K=2, n_out=3):
    rng = np.random.default_rng(seed)
    sg = sg or surrogate("sigmoid", 4.0)
    common = dict(surrogate=sg, reset=point.reset, detach_reset=point.detach, synapse=point.synapse,
                  adaptation=point.adaptation)
    c1 = ConvLIFConfig(C, point.size, point.size, K, point.kernel, point.stride, point.padding,
                       point.pool, point.pool_size, **common)
    convs = [c1]
    if point.two_layers:
        k2, h2, w2 = c1.pooled_shape
        convs.append(ConvLIFConfig(k2, h2, w2, K, 2, 1, 0, **common))
    n_in = convs[-1].n_out
    if point.loss == "membrane":
        readout = LIFConfig(n_in, n_out, surrogate=sg, reset="none", synapse=point.synapse, spiking=False)
    else:
        readout = LIFConfig(n_in, n_out, surrogate=sg, reset=point.reset, detach_reset=point.detach,
                            synapse=point.synapse, adaptation=point.adaptation)
    net = ConvNetwork(tuple(convs), Network((readout,)))

    def draw(n, bias, w_scale):
        return dict(alpha=rng.uniform(0.6, 0.95, n), theta=rng.uniform(0.5, 1.5, n),
                    gamma=rng.uniform(0.5, 1.5, n), v_reset=rng.uniform(-0.3, 0.3, n),
                    beta=rng.uniform(0.05, 0.4, n), rho=rng.uniform(0.6, 0.95, n),
                    kappa=rng.uniform(0.3, 1.2, n), lam=rng.uniform(0.3, 0.9, n),
                    b=rng.uniform(*bias, n), w_scale=w_scale)

    conv_kw = [draw(c.out_channels, (-0.2, 0.4), 1.5) for c in convs]
    dense_kw = [draw(n_out, (0.3, 0.9), 1.5)]
    params = convnet_init(net, rng, np.float64, conv_kw, dense_kw)
    x = rng.normal(0.6, 1.0, (T, B, C, point.size, point.size))
    lifs = [c.lif for c in convs] + [readout]
    from ..neurons.lif import state_names
    state0 = [{k: rng.normal(0.0, 0.4, (B, c.n)) for k in state_names(c)} for c in lifs]
    if point.loss == "membrane":
        target = rng.normal(0.0, 1.0, (B, n_out))
    else:
        target = rng.integers(0, n_out, B)
    probe = [rng.normal(0.0, 1.0, (B, c.n)) for c in lifs]
    return ConvProblem(point, net, params, x, state0, target, probe)


def _twin(net, kind):
    conv = conv_smooth_twin if kind == "smooth" else conv_piecewise_linear
    dense = smooth_twin if kind == "smooth" else piecewise_linear
    return ConvNetwork(tuple(conv(c) for c in net.convs),
                       Network(tuple(dense(c) if c.spiking else c for c in net.dense.layers)))


# The flat naming of every differentiable array is verify's ("x", "L0.W", "L1.state.v").
_flatten, _unflatten = verify._flatten, verify._unflatten


def _layers(trajs):
    return [tr.lif for tr in trajs.convs] + list(trajs.dense)


def adjoint(net, problem, probe=False):
    trajs = convnet_forward(net, problem.params, problem.x, problem.state0)
    value, ds, dv = problem.loss(trajs, probe)
    g = convnet_backward(trajs, problem.params, ds, dv)
    return value, _flatten(g.params, g.x, g.state0), trajs


def _objective(net, trajs, loss):
    """The loss as a function of the flat arrays, detached reset spikes held fixed."""
    cfgs = [c.lif for c in net.convs] + list(net.dense.layers)
    frozen = [tr.reset_spikes() if c.detach_reset else None for tr, c in zip(_layers(trajs), cfgs)]
    n = net.n_layers

    def run(flat):
        params, x, state0 = _unflatten(flat, n)
        return convnet_forward(net, params, x, state0, frozen)

    return (lambda flat: loss(run(flat))[0]), run


def check_smooth_twin(problem, eps=verify.EPS, rtol=verify.RTOL, floor=verify.FLOOR, seed=0):
    net = _twin(problem.net, "smooth")
    value, grads, trajs = adjoint(net, problem)
    f, _ = _objective(net, trajs, problem.loss)
    return verify.check_route(f, _flatten(problem.params, problem.x, problem.state0), grads, eps=eps, rtol=rtol,
                              floor=floor * max(1.0, abs(value)), seed=seed)


def check_piecewise(problem, eps=verify.EPS_PIECEWISE, rtol=verify.RTOL, floor=verify.FLOOR, seed=0):
    net = _twin(problem.net, "piecewise")
    value, grads, trajs = adjoint(net, problem, probe=True)
    loss = lambda tr: problem.loss(tr, probe=True)  # noqa: E731
    f, run = _objective(net, trajs, loss)
    flat = _flatten(problem.params, problem.x, problem.state0)
    nominal = [tr.s for tr in _layers(trajs)]

    def f_ok(pert):   # a perturbation that flips a spike is skipped
        tr = run(pert)
        return loss(tr)[0], verify.spikes_unchanged(nominal, [t.s for t in _layers(tr)])

    return verify.check_route(f_ok, flat, grads, eps=eps, rtol=rtol, floor=floor * max(1.0, abs(value)),
                              with_ok=True, seed=seed)


def check_point(point: ConvPoint, seed=0, rtol=verify.RTOL, **sizes) -> verify.PointReport:
    """Both routes on one row; ``sizes`` (T, B, C, K, n_out) go to :func:`make_problem`."""
    problem = make_problem(point, seed, **sizes)
    smooth = check_smooth_twin(problem, rtol=rtol, seed=seed)
    piece = check_piecewise(problem, rtol=rtol, seed=seed)
    trajs = convnet_forward(_twin(problem.net, "piecewise"), problem.params, problem.x, problem.state0)
    s_max, s_where = verify._worst(smooth)
    p_max, p_where = verify._worst(piece)
    return verify.PointReport(point, s_max, s_where, p_max, p_where, sum(r.n_checked for r in piece),
                              sum(r.n_skipped for r in piece), [int(tr.s.sum()) for tr in _layers(trajs)],
                              all(r.passed for r in smooth + piece))


FAMILY = Family("conv", points, check_point)
