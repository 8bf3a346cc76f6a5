"""``refsnn gradcheck`` family ``lee2016``: the gradients of Lee et al. 2016 (seed 003).

These gradients are exact derivatives of smooth functions, so central differences
check them directly (the "smooth" column of the grid; there is no piecewise route,
reported as 0 with nothing checked):

* ``regulariser/lam=…``: L7's ``∂L_w/∂W`` (:func:`refsnn.learning.lee2016.weight_regulariser`);
* ``steady_state/mu=…``: the exact ``∂a/∂x`` of the steady-state relation L2–L3,
  against differences of the relation solved numerically (:func:`steady_state`);
* ``linearised/mu=…``: the unnormalised backward pass (``lee_gradients(normalise=False)``)
  against differences of the linearised two-layer network L4 with the loss L8, for
  every weight and threshold;
* ``conv_linearised/mu=…``: the convolutional network with LIF sum-pooling
  (:func:`refsnn.learning.lee2016_conv.conv_lee_gradients` with ``normalise=False``:
  the tied kernels and map thresholds C3, the pooling's ``1/θ_p`` C2, μ the hidden
  layer's WTA) against differences of the linearised network, every parameter;
* ``conv_regulariser/lam=…``: L7 on the kernels, once per map, through the same function.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..learning import lee2016 as LR
from ..learning import lee2016_conv as LC
from ..neurons.lee2016 import LeeConfig
from .families import Family
from .gradcheck import check_gradient, check_gradients
from .verify import PointReport

__all__ = ["FAMILY", "LeePoint", "points", "check"]


@dataclass(frozen=True)
class LeePoint:
    kind: str       # "regulariser", "l2", "steady_state", "linearised", "conv_linearised" or "conv_regulariser"
    value: float    # λ for the regularisers, μ otherwise

    @property
    def name(self):
        return f"{self.kind}/{'lam' if self.kind in ('regulariser', 'l2', 'conv_regulariser') else 'mu'}={self.value:g}"


def points():
    return ([LeePoint("regulariser", lam) for lam in (0.002, 0.04)] + [LeePoint("l2", 0.04)]
            + [LeePoint("steady_state", mu) for mu in (0.0, -0.1)]
            + [LeePoint("linearised", mu) for mu in (0.0, -0.4)]
            + [LeePoint("conv_linearised", mu) for mu in (0.0, -0.4)] + [LeePoint("conv_regulariser", 0.04)])


def _linear_loss(cfgs, params, x_hat, y):
    a = x_hat
    counts = []
    for cfg, p in zip(cfgs, params):
        a = a @ p["W"].T / (p["v_th"] * LR.wta_gain(cfg.mu, cfg.sigma, p["W"].shape[0]))
        counts.append(a)
    return LR.count_loss(counts[-1], y)[0], counts


def _conv_results(point, rng, rtol):
    net = LC.ConvLeeNet(height=5, width=5, n_maps=2, kernel=2, pool=2, n_hidden=4, n_out=3,
                        mu_hidden=point.value if point.kind == "conv_linearised" else -0.4)
    low = 0.1 if point.kind == "conv_linearised" else -1.0
    params = [{"K": rng.uniform(low, 1.0, (2, 2, 2)), "v_th": rng.uniform(1, 2, 2)},
              {"W": rng.uniform(low, 1.0, (4, 8)), "v_th": rng.uniform(1, 2, 4)},
              {"W": rng.uniform(low, 1.0, (3, 4)), "v_th": rng.uniform(1, 2, 3)}]
    x_hat = rng.uniform(1, 5, (2, 25))
    y = np.eye(3)[[0, 2]]
    if point.kind == "conv_regulariser":
        # counts fixed: the value's difference with and without L7 on the kernels is
        # Σ_f β e^{λ(‖K_f‖² − α²)}, whose gradient must be the difference of the K gradients.
        counts = LC.linearised_counts(net, params, x_hat)

        def run(K, alpha):
            ps = [dict(params[0], K=K), *params[1:]]
            return LC.conv_lee_gradients(net, ps, x_hat, counts, y, 2.0, point.value, (alpha, None))

        K0 = params[0]["K"]
        g = run(K0, 1.5)[1][0]["K"] - run(K0, None)[1][0]["K"]
        return [check_gradient(lambda k: run(k, 1.5)[0] - run(k, None)[0], K0.copy(), g, name="K",
                               eps=1e-4, rtol=rtol, order=4, floor=1e-6)]
    counts = LC.linearised_counts(net, params, x_hat)
    _, grads, _ = LC.conv_lee_gradients(net, params, x_hat, counts, y, beta=0.0, normalise=False)
    flat = {f"L{l}.{k}": v for l, p in enumerate(params) for k, v in p.items()}
    gflat = {f"L{l}.{k}": v for l, g in enumerate(grads) for k, v in g.items()}

    def f(fl):
        ps = [{k: fl[f"L{l}.{k}"] for k in params[l]} for l in range(3)]
        return LR.count_loss(LC.linearised_counts(net, ps, x_hat)[-1], y)[0]

    # eps = 1e-3: the linearised loss is rational and smooth, and at 1e-5 the differences'
    # round-off (4e-7 relative on the hidden W) exceeds the 1e-7 bar.
    return check_gradients(f, flat, gflat, eps=1e-3, rtol=rtol, order=4, floor=1e-8)


def _results(point, seed, rtol):
    rng = np.random.default_rng(seed)
    if point.kind.startswith("conv_"):
        return _conv_results(point, rng, rtol)
    if point.kind == "regulariser":
        W = rng.normal(0.0, 0.8, (4, 6))
        _, g = LR.weight_regulariser(W, 1.5, 10.0, point.value)
        return [check_gradient(lambda w: LR.weight_regulariser(w, 1.5, 10.0, point.value)[0], W.copy(), g,
                               name="W", eps=1e-4, rtol=rtol, order=4, floor=1e-6)]
    if point.kind == "l2":
        # lee_gradients' regulariser="l2" (the alternative to L7 that LeeRecipe offers): with the
        # counts fixed, its value minus the unregularised one is βλΣw², whose gradient must be
        # the difference of the two W gradients of the hidden layer.
        cfgs = [LeeConfig(), LeeConfig()]
        params = [{"W": rng.normal(0.0, 0.8, (5, 4)), "v_th": rng.uniform(1, 2, 5)},
                  {"W": rng.normal(0.0, 0.8, (3, 5)), "v_th": rng.uniform(1, 2, 3)}]
        x_hat, counts, y = rng.uniform(1, 5, (2, 4)), [rng.uniform(0, 4, (2, 5)), rng.uniform(0.5, 4, (2, 3))], \
            np.eye(3)[[0, 2]]

        def grads(W0, reg):
            ps = [dict(params[0], W=W0), params[1]]
            return LR.lee_gradients(cfgs, ps, x_hat, counts, y, 2.0, point.value, [1.0, 1.0], True, False, reg)

        W0 = params[0]["W"]
        g = grads(W0, "l2")[1][0]["W"] - grads(W0, "none")[1][0]["W"]
        return [check_gradient(lambda w: grads(w, "l2")[0] - grads(w, "none")[0], W0.copy(), g, name="W",
                               eps=1e-4, rtol=rtol, order=4, floor=1e-6)]
    if point.kind == "steady_state":
        W = rng.uniform(0.2, 1.0, (6, 4))
        v_th = rng.uniform(0.5, 1.5, 6)
        x = rng.uniform(1.0, 3.0, 4)
        r = rng.normal(size=6)
        J = LR.steady_state_jacobian(W, v_th, x, point.value, 0.5)
        return [check_gradient(lambda xx: float(r @ LR.steady_state(W, v_th, xx, point.value, 0.5)[0]),
                               x.copy(), J.T @ r, name="x", eps=1e-4, rtol=rtol, order=4)]
    cfgs = [LeeConfig(mu=point.value), LeeConfig(mu=-1.0)]
    params = [{"W": rng.uniform(0.1, 1.0, (5, 4)), "v_th": rng.uniform(1, 2, 5)},
              {"W": rng.uniform(0.1, 1.0, (3, 5)), "v_th": rng.uniform(1, 2, 3)}]
    x_hat = rng.uniform(1, 5, (2, 4))
    y = np.eye(3)[[0, 2]]
    _, counts = _linear_loss(cfgs, params, x_hat, y)
    _, grads, _ = LR.lee_gradients(cfgs, params, x_hat, counts, y, beta=0.0, normalise=False)
    flat = {f"L{l}.{k}": v for l, p in enumerate(params) for k, v in p.items()}
    gflat = {f"L{l}.{k}": v for l, g in enumerate(grads) for k, v in g.items()}

    def f(fl):
        return _linear_loss(cfgs, [{k: fl[f"L{l}.{k}"] for k in ("W", "v_th")} for l in range(2)], x_hat, y)[0]

    return check_gradients(f, flat, gflat, eps=1e-5, rtol=rtol, order=4, floor=1e-8)


def check(point: LeePoint, seed=0, rtol=1e-7) -> PointReport:
    res = _results(point, seed, rtol)
    worst = max(res, key=lambda r: r.max_rel_error)
    return PointReport(point, worst.max_rel_error, f"{worst.name}{list(worst.worst_index)}", 0.0, "n/a",
                       0, 0, [], all(r.passed for r in res))


FAMILY = Family("lee2016", points, check)
