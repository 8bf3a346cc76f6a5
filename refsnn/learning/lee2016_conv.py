r"""A convolutional spiking network with LIF sum-pooling, trained with Lee et al.'s rule.

Seed 003, section 3.3.1: input → convolution (5×5 kernels, 20 maps) → 2×2 sum pooling →
convolution (50 maps) → pooling → fully connected 200 → 10, where the pooling is done by
LIF neurons "with weight 1 and threshold 0.8", all trained with the rule of
:mod:`refsnn.learning.lee2016`. The smallest faithful version on the 8×8 digits keeps one
convolution and one pooling stage:

    input (8×8 event channels) → convolution (F maps, k×k kernels, stride 1, no padding;
    H_c = 8 − k + 1) → P×P sum pooling by LIF neurons (weight 1, θ_p = 0.8, fixed)
    → fully connected hidden layer (WTA as in the FC network) → output layer.

Event-driven convolution (C1)
-----------------------------

Neuron ``(f, i, j)`` of map f has the synapses

.. math::

    w^c_{(f,i,j),\,(i+r,\,j+q)} = K_f[r, q], \qquad 0 \le r, q < k            \tag{C1}

and no others: an input event at pixel ``(a, b)`` adds ``K_f[a − i, b − j]`` to every
neuron whose window covers ``(a, b)``. As a matrix over the input channels this is
``W^c = U(K)`` (:func:`unfold`), linear in K. Every convolutional neuron is a Lee neuron
(E1–E6 of :mod:`refsnn.neurons.lee2016`, no WTA) with the threshold ``V_th,f`` of its map,
shared like the kernel. The network is therefore simulated, exactly and event by event, by
:func:`refsnn.neurons.lee2016.simulate` on the stack ``[U(K), W^p, W^h, W^o]``
(:func:`stack`); nothing in E1–E6 changes.

LIF sum-pooling (C2)
--------------------

Pooling neuron ``(f, I, J)`` has weight 1 from the P² neurons ``(f, PI + a, PJ + b)``,
``0 ≤ a, b < P`` (the matrix ``W^p``, :func:`pool_matrix`), threshold ``θ_p = 0.8``, no WTA
and no refractory window (``T_ref = 0``: a refractory pooling neuron would scale down spikes
that arrive within T_ref of its last one instead of summing them; the seed gives only the
weight and the threshold). Every spike in raises V by ``1 ≥ θ_p``, so the neuron fires at
that event (once, C4); the subtractive reset keeps the excess ``1 − θ_p``, which fires at a
later event once enough has accumulated (less the leak). L2 for this neuron, with counts, is

.. math::

    a^p_{(f,I,J)} = \frac{1}{θ_p} \sum_{a,b} a^c_{(f, PI+a, PJ+b)}                \tag{C2}

1.25 spikes out per spike in: an approximate *sum*, scaled. Its transfer-function
derivative (L4 with ``w = 1``, ``μ = 0``, so D = 1) is
``∂a^p_{(f,I,J)}/∂a^c_{(f,i,j)} = 1/θ_p`` inside the window and 0 outside, i.e.
``W^p/θ_p``. ``tests/test_lee2016_conv.py`` measures the ratio on the simulated layer.

Lee's rule through the pooling and the tied weights (C3)
--------------------------------------------------------

In the seeds' notation (``δa = ∂L/∂a``, δ the error after L4/L5, ``x̂`` the input counts,
``â`` the layer's counts; batch means over b):

* layers above the pooling: :func:`refsnn.learning.lee2016.lee_gradients` on
  ``[hidden, output]`` with input ``â^p``; it returns the hidden layer's δ^h, so
  ``δa^p = δ^h W^h``;
* pooling: ``δ^p = δa^p / θ_p`` (L4, the exact route), or ``δ^p = (g/ḡ) δa^p = δa^p`` with L5
  (all ``θ_p`` are equal, so ``g_i/ḡ = 1``: L5 replaces the layer's common factor 1/θ_p
  as it replaces 1/D); the pooling has no parameters to update;
* convolution: ``δa^c = δ^p W^p`` (every neuron of a window gets its pooling neuron's error),
  ``δ^c = δa^c / V_th`` (L4, μ = 0) or L5 with ``g_i = 1/V_th,f(i)`` over all ``F H_c W_c``
  neurons;
* tied weights: ``K_f[r,q]`` is every ``w^c_{(f,i,j),(i+r,j+q)}``, so its derivative is the sum
  of theirs, the adjoint ``U^⊤`` (:func:`fold`) of C1:

  .. math::

      \frac{∂L}{∂K_f[r,q]} = \frac1B \sum_b \sum_{i,j} δ^c_{b,(f,i,j)}\, \hat x_{b,(i+r,\,j+q)} \tag{C3}

* tied thresholds: ``∂L/∂V_th,f = Σ_{i,j} ∂L/∂V_th,(f,i,j)``, i.e.
  ``−(1/B) Σ_b Σ_{i,j} δa^c â^c / V_th,f`` exactly, or L6's direction
  ``−(1/B) Σ_b Σ_{i,j} δ^c â^c`` with L5;
* L7 on the kernels: ``β e^{λ(‖K_f‖² − α_c²)}`` once per map (without padding every neuron of
  map f has exactly the k² weights K_f, so a kernel is one neuron's weight vector).

With ``normalise=False`` these are the exact gradients of the linearised network
(C1, C2 and L4 in every layer, loss L8); ``refsnn gradcheck``'s ``lee2016`` family checks
them (``conv_linearised``) against finite differences to 1e-7.

*Threshold regularisation* (2.3.2) needs "N neurons receiving the same input": at a position
the F maps do, so refsnn applies it to the maps, a map counting as spiking in a sample if any
of its neurons did (``+ρF`` / ``−ρF_w``); the floor scales the kernel, as it scales an FC
neuron's row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import check_positive_int, float_array, real_scalar
from ..neurons.lee2016 import EventStream, LeeConfig, simulate
from ..neurons.ops import lee_ops
from . import lee2016 as LR

__all__ = ["ConvLeeNet", "unfold", "fold", "pool_matrix", "stack", "init_params", "conv_lee_gradients",
           "linearised_counts", "train_epoch", "predict", "ops"]


@dataclass(frozen=True)
class ConvLeeNet:
    """Shapes and constants: input ``height × width``, ``n_maps`` kernels of ``kernel × kernel``,
    ``pool × pool`` LIF sum-pooling (threshold ``pool_v_th``), ``n_hidden`` and ``n_out`` FC
    neurons with WTA strengths ``mu_hidden``, ``mu_out``; ``tau_mp``, ``t_ref``, ``sigma`` as
    :class:`~refsnn.neurons.lee2016.LeeConfig` (the pooling has ``T_ref = 0``)."""

    height: int = 8
    width: int = 8
    n_maps: int = 8
    kernel: int = 3
    pool: int = 2
    n_hidden: int = 100
    n_out: int = 10
    pool_v_th: float = 0.8
    tau_mp: float = 50.0
    t_ref: float = 1.0
    mu_hidden: float = -0.4
    mu_out: float = -1.0
    sigma: float = 0.5

    def __post_init__(self):
        for name in ("height", "width", "n_maps", "kernel", "pool", "n_hidden", "n_out"):
            check_positive_int(name, getattr(self, name))
        if self.kernel > min(self.height, self.width):
            raise ValueError(f"kernel must be at most min(height, width) = {min(self.height, self.width)}, "
                             f"got {self.kernel}")
        hc, wc = self.height - self.kernel + 1, self.width - self.kernel + 1
        if hc % self.pool or wc % self.pool:
            raise ValueError(f"pool must divide the convolution's output {hc}×{wc}, got {self.pool}")
        real_scalar("pool_v_th", self.pool_v_th, low=0.0, low_open=True)
        self.configs()                              # LeeConfig checks tau_mp, t_ref, mu, sigma

    @property
    def conv_shape(self):
        """``(F, H_c, W_c)``."""
        return self.n_maps, self.height - self.kernel + 1, self.width - self.kernel + 1

    @property
    def pooled_shape(self):
        F, hc, wc = self.conv_shape
        return F, hc // self.pool, wc // self.pool

    def configs(self):
        """The four LeeConfigs of :func:`stack`'s layers: convolution, pooling, hidden, output."""
        return [LeeConfig(self.tau_mp, self.t_ref, 0.0, self.sigma),
                LeeConfig(self.tau_mp, 0.0, 0.0, self.sigma),
                LeeConfig(self.tau_mp, self.t_ref, self.mu_hidden, self.sigma),
                LeeConfig(self.tau_mp, self.t_ref, self.mu_out, self.sigma)]


def unfold(K, height, width):
    """C1: ``W^c = U(K)``, shape ``(F·H_c·W_c, height·width)``, rows in (f, i, j) order,
    ``W^c[(f,i,j), (i+r, j+q)] = K[f, r, q]``."""
    K = float_array("K", K, (None, None, None)).astype(np.float64)
    F, k, k2 = K.shape
    if k != k2 or k > min(height, width):
        raise ValueError(f"K must be (F, k, k) with k ≤ {min(height, width)}, got {K.shape}")
    hc, wc = height - k + 1, width - k + 1
    W = np.zeros((F, hc, wc, height, width))
    for i in range(hc):
        for j in range(wc):
            W[:, i, j, i:i + k, j:j + k] = K
    return W.reshape(F * hc * wc, height * width)


def fold(G, n_maps, kernel, height, width):
    """C3's ``U^⊤``: the kernel-shaped ``(F, k, k)`` sum ``Σ_{i,j} G[(f,i,j), (i+r, j+q)]`` of an
    ``(F·H_c·W_c, height·width)`` array (the gradient of the tied weights)."""
    hc, wc = height - kernel + 1, width - kernel + 1
    G = float_array("G", G, (n_maps * hc * wc, height * width)).reshape(n_maps, hc, wc, height, width)
    out = np.zeros((n_maps, kernel, kernel))
    for i in range(hc):
        for j in range(wc):
            out += G[:, i, j, i:i + kernel, j:j + kernel]
    return out


def pool_matrix(n_maps, height, width, pool):
    """C2's ``W^p`` ``(F·H/P·W/P, F·H·W)``: 1 from ``(f, P I + a, P J + b)`` to ``(f, I, J)``."""
    hp, wp = height // pool, width // pool
    W = np.zeros((n_maps, hp, wp, n_maps, height, width))
    for f in range(n_maps):
        for I in range(hp):
            for J in range(wp):
                W[f, I, J, f, pool * I:pool * I + pool, pool * J:pool * J + pool] = 1.0
    return W.reshape(n_maps * hp * wp, n_maps * height * width)


def _check_params(net, params):
    if not isinstance(net, ConvLeeNet):
        raise TypeError(f"net must be a ConvLeeNet, got {type(net).__name__}")
    if not isinstance(params, (list, tuple)) or len(params) != 3:
        raise ValueError("params must be a list of 3 dicts: {'K', 'v_th'} (convolution), then {'W', 'v_th'} "
                         "for the hidden and the output layer")
    F, k = net.n_maps, net.kernel
    if not isinstance(params[0], dict) or set(params[0]) != {"K", "v_th"}:
        raise ValueError("params[0] must be a dict with exactly the keys 'K' and 'v_th'")
    K = float_array("params[0]['K']", params[0]["K"], (F, k, k))
    v = float_array("params[0]['v_th']", params[0]["v_th"], (F,))
    if np.any(v <= 0):
        raise ValueError(f"params[0]['v_th'] must be > 0 (thresholds), got min {v.min()}")
    return K, v


def stack(net, params):
    """The ``[{"W", "v_th"}] × 4`` stack that :func:`refsnn.neurons.lee2016.simulate` runs:
    ``U(K)`` with each map's threshold on its neurons, ``W^p`` with ``θ_p``, hidden, output."""
    K, v = _check_params(net, params)
    F, hc, wc = net.conv_shape
    n_pool = int(np.prod(net.pooled_shape))
    return [{"W": unfold(K, net.height, net.width), "v_th": np.repeat(v, hc * wc)},
            {"W": pool_matrix(F, hc, wc, net.pool), "v_th": np.full(n_pool, float(net.pool_v_th))},
            dict(params[1]), dict(params[2])]


def init_params(net, rng, alpha=(3.0, 3.0, 3.0)):
    """2.2.3 (1) per layer: ``K_f ~ U[−α_c/k, α_c/k]`` (fan-in k²), ``V_th,f ~ U[α_c, 2α_c]``;
    the FC layers by :func:`refsnn.learning.lee2016.init_layer`."""
    conv = LR.init_layer(rng, net.n_maps, net.kernel ** 2, alpha[0])
    n_pool = int(np.prod(net.pooled_shape))
    return [{"K": conv["W"].reshape(net.n_maps, net.kernel, net.kernel), "v_th": conv["v_th"]},
            LR.init_layer(rng, net.n_hidden, n_pool, alpha[1]),
            LR.init_layer(rng, net.n_out, net.n_hidden, alpha[2])]


def linearised_counts(net, params, x_hat):
    """The linearised network (C1, C2, L4 in every layer): counts of the four layers for
    input counts ``x_hat`` (B, H·W). The function whose exact gradient
    ``conv_lee_gradients(normalise=False)`` is."""
    full = stack(net, params)
    a = x_hat
    out = []
    for cfg, p in zip(net.configs(), full):
        a = a @ p["W"].T / (p["v_th"] * LR.wta_gain(cfg.mu, cfg.sigma, p["W"].shape[0]))
        out.append(a)
    return out


def conv_lee_gradients(net, params, x_hat, counts, y, beta=1.0, lam=0.01, alpha=(None, None), normalise=True,
                       through_max=True, regulariser="exp"):
    """C3: the backward pass of Lee's rule through the pooling and the tied weights.

    ``x_hat`` (B, H·W) input counts; ``counts`` the four layers' counts (convolution, pooling,
    hidden, output), e.g. from :func:`refsnn.neurons.lee2016.simulate` on :func:`stack`;
    ``alpha = (α_c, α_h)`` for L7 on the kernels and the hidden rows (None: no L7 there).
    Returns ``(loss, grads, deltas)``: ``grads[0]`` has ``"K"`` and ``"v_th"`` (per map),
    ``grads[1:]`` as :func:`refsnn.learning.lee2016.lee_gradients`; ``deltas`` are δ of the
    four layers. ``normalise``, ``through_max``, ``regulariser`` as there.
    """
    full = stack(net, params)
    cfgs = net.configs()
    x_hat = float_array("x_hat", x_hat, (None, net.height * net.width)).astype(np.float64)
    if not isinstance(counts, (list, tuple)) or len(counts) != 4:
        raise ValueError("counts must be a list of the 4 layers' counts (convolution, pooling, hidden, output)")
    B = x_hat.shape[0]
    value, g_fc, d_fc = LR.lee_gradients(cfgs[2:], full[2:], counts[1], list(counts[2:]), y, beta, lam,
                                         [alpha[1], None], normalise, through_max, regulariser)
    da_p = d_fc[0] @ full[2]["W"]                         # δa^p = δ^h W^h
    theta_p = full[1]["v_th"]
    d_p = LR.normalise_errors(da_p, theta_p) if normalise else da_p / theta_p   # C2: ∂a^p/∂a^c = W^p/θ_p
    da_c = d_p @ full[1]["W"]                             # δa^c = δ^p W^p
    v_c = full[0]["v_th"]
    if normalise:
        d_c = LR.normalise_errors(da_c, v_c)             # L5
        g_v = -np.mean(d_c * counts[0], axis=0)           # L6's direction, per neuron
    else:
        d_c = da_c / v_c                                  # L4, μ = 0
        g_v = -np.mean(da_c * counts[0], axis=0) / v_c    # ∂a/∂V_th = −a/V_th, per neuron
    gK = fold(d_c.T @ x_hat / B, net.n_maps, net.kernel, net.height, net.width)     # C3, tied weights
    g_vf = g_v.reshape(net.n_maps, -1).sum(axis=1)        # tied thresholds
    K = params[0]["K"]
    if alpha[0] is not None and beta > 0 and regulariser != "none":
        Kr = K.reshape(net.n_maps, -1)
        if regulariser == "exp":
            reg, g_reg = LR.weight_regulariser(Kr, alpha[0], beta, lam)           # L7, once per kernel
        else:
            reg, g_reg = beta * lam * float(np.sum(Kr * Kr)), 2.0 * beta * lam * Kr
        value += reg
        gK = gK + g_reg.reshape(K.shape)
    return value, [{"K": gK, "v_th": g_vf}, g_fc[0], g_fc[1]], [d_c, d_p, *d_fc]


def train_epoch(net, params, recipe: LR.LeeRecipe, stream: EventStream, y, rng, eta_conv=None):
    """One epoch of event-driven training with SGD (2.4.2), as
    :func:`refsnn.learning.lee2016.train_epoch` for the FC layers; the convolution's kernels and
    map thresholds by C3, threshold regularisation per map (module docstring).
    ``recipe.alpha = (α_c, α_h, α_o)``; ``recipe.v_floor`` = [per-map floors, hidden, output].
    ``eta_conv``: the convolution's η (its thresholds take ``eta_th_ratio`` of it); default
    ``η_w/(H_c W_c)``: C3 sums the tied gradient over the ``H_c W_c`` positions, so with η_w
    a kernel would move ``H_c W_c`` times as far as an FC row does (the seed gives no
    convolutional learning rate). Returns ``(params, mean loss)``."""
    if recipe.optimizer != "sgd" or recipe.regulariser == "maxnorm":
        raise ValueError("the convolutional network trains with optimizer='sgd' and regulariser "
                         f"'exp', 'l2' or 'none'; got {recipe.optimizer!r}, {recipe.regulariser!r}")
    if recipe.v_floor is None or len(recipe.v_floor) != 3:
        raise ValueError("recipe.v_floor must hold 3 floor arrays: per map, hidden, output")
    cfgs = net.configs()
    order = rng.permutation(stream.batch)
    params = [dict(p) for p in params]
    total, nb = 0.0, 0
    _, hc, wc = net.conv_shape
    eta_c = recipe.eta_w / (hc * wc) if eta_conv is None else real_scalar("eta_conv", eta_conv, low=0.0, low_open=True)
    etas = [eta_c, recipe.eta_w, recipe.eta_w]
    for start in range(0, stream.batch, recipe.batch_size):
        idx = order[start:start + recipe.batch_size]
        sub = stream.take(idx)
        cnt = [e.counts() for e in simulate(cfgs, stack(net, params), sub)]
        value, grads, _ = conv_lee_gradients(net, params, sub.input_counts(), cnt, y[idx], recipe.beta,
                                             recipe.lam, recipe.alpha[:2], recipe.normalise, recipe.through_max,
                                             recipe.regulariser)
        total += value
        nb += 1
        maps = cnt[0].reshape(len(idx), net.n_maps, -1).sum(axis=2)       # per-map counts for 2.3.2
        for l, (p, g, c) in enumerate(zip(params, grads, (maps, cnt[2], cnt[3]))):
            key = "K" if l == 0 else "W"
            W = (p[key] - etas[l] * g[key]).reshape(len(p["v_th"]), -1)
            v_new = p["v_th"] - recipe.eta_th_ratio * etas[l] * g["v_th"]
            if recipe.threshold_reg:
                v_new = v_new + LR.threshold_change(c, recipe.rho)
            v_th, W = LR.apply_threshold_floor(p["v_th"], v_new, W, recipe.v_floor[l])
            params[l] = {key: W.reshape(p[key].shape), "v_th": v_th}
    return params, total / max(nb, 1)


def predict(net, params, stream: EventStream, batch_size=128):
    """Output spike counts (S, n_out) of the event-driven network."""
    return LR.predict(net.configs(), stack(net, params), stream, batch_size)


def ops(net, params, stream: EventStream, layers_events):
    """:func:`refsnn.neurons.ops.lee_ops` with the convolution's and the pooling's structural
    fan-out (an input pixel reaches only the neurons whose window covers it; a convolutional
    neuron reaches one pooling neuron)."""
    full = stack(net, params)
    F, k = net.n_maps, net.kernel
    conv_fan = (unfold(np.ones((F, k, k)), net.height, net.width) != 0).sum(axis=0)
    pool_fan = (full[1]["W"] != 0).sum(axis=0)
    return lee_ops(net.configs(), full, stream, layers_events, fan_out=[conv_fan, pool_fan, None, None])
