r"""A 2-D convolutional LIF layer, pooling, and a network of them with a dense readout.

Shapes and indices
------------------

The layer's input is ``x`` of shape ``(T, B, C, H, W)``: T steps, B batch rows, C
input channels on an H × W grid. It has K output channels of LIF neurons on an
``H_o × W_o`` grid, one neuron per output channel k and position (i, j), with

.. math::

    H_o = \lfloor (H + 2p - k_h)/s \rfloor + 1, \qquad
    W_o = \lfloor (W + 2p - k_w)/s \rfloor + 1

for stride ``s``, zero padding ``p`` on every side and a ``k_h × k_w`` kernel
``W_{k,c,r,q}`` (any size, also larger than the stride). Input indices outside
``[0, H) × [0, W)`` are the zero padding: ``x_{t,c,a,b} = 0`` there.

Forward
-------

The layer is feed-forward (no recurrence), so its input current for every step
and position is one convolution (cross-correlation, as in every deep-learning
library):

.. math::

    I_{t,k,i,j} = \sum_{c,r,q} W_{k,c,r,q}\; x_{t,c,\; s i + r - p,\; s j + q - p} + b_k
    \qquad \text{(C1)}

Written with im2col: the sampled patch ``X^{col}_{(t,i,j),(c,r,q)} =
x_{t,c,si+r−p,sj+q−p}`` is one row per (step, position) and the kernel is one row
per output channel, ``W^{mat}_{k,(c,r,q)}``; then ``I = X^{col} (W^{mat})^⊤ + b``,
one matrix product for all T steps and all positions. The current enters the
adaptive LIF dynamics of :mod:`refsnn.neurons.lif` (F2–F6) unchanged, one neuron
per (k, i, j): the layer is the LIF layer with F1 replaced by C1. Its neuron
parameters (α, θ, γ or v_r, β, ρ, κ, λ) are **per channel**: every position of
channel k shares α_k, θ_k, ..., as the kernel is shared.

Optional pooling of the output spikes over non-overlapping ``P × P`` windows
(``pool="sum"`` or ``"avg"``; H_o and W_o must be multiples of P) gives what the
next layer sees:

.. math::

    z_{t,k,a,b} = w_P \sum_{i=aP}^{aP+P-1}\sum_{j=bP}^{bP+P-1} s_{t,k,i,j},
    \qquad w_P = 1 \text{ (sum)}, \;1/P^2 \text{ (avg)}  \qquad \text{(C2)}

Backward
--------

Pooling is linear: ``∂L/∂s_{t,k,i,j}|from above = w_P ∂L/∂z_{t,k,⌊i/P⌋,⌊j/P⌋}``
(each spike gets its window's gradient). That is the layer's direct spike partial
``a^s``; the LIF recursions B1–B5 of :mod:`refsnn.neurons.lif` then give
``δI_{t,k,i,j} = dL/dI_{t,k,i,j}`` for every neuron (no recurrence: no ``δI R`` term
in B1). C1 is linear in W and x, and ``I_{t,k,i,j}`` depends on ``W_{k,c,r,q}``
with coefficient ``x_{t,c,si+r−p,sj+q−p}``, so the chain rule summed over every
current that the weight enters gives the **kernel gradient**

.. math::

    \frac{\partial L}{\partial W_{k,c,r,q}}
      = \sum_t \sum_{i,j} δI_{t,k,i,j}\; x_{t,c,\; s i + r - p,\; s j + q - p},
    \qquad \frac{\partial L}{\partial b_k} = \sum_t\sum_{i,j} δI_{t,k,i,j}  \qquad \text{(C3)}

(terms whose input index lies in the padding are zero). In im2col form it is one
product, ``∂L/∂W^{mat} = (δI)^⊤ X^{col}`` over all (t, i, j) rows.

The **input gradient**: ``x_{t,c,a,b}`` enters every current whose window covers
(a, b), i.e. every (i, j, r, q) with ``s i + r − p = a`` and ``s j + q − p = b``:

.. math::

    \frac{\partial L}{\partial x_{t,c,a,b}}
      = \sum_{k} \sum_{\substack{i,r:\; s i + r - p = a\\ j,q:\; s j + q - p = b}}
        δI_{t,k,i,j}\; W_{k,c,r,q}  \qquad \text{(C4)}

This is the *transposed convolution* of δI with W: spread each δI over the
positions its window read (``G^{col} = δI\, W^{mat}``, one product), and add the
spread patches back into the input grid (col2im: the adjoint of im2col, a
scatter-add; where windows overlap, i.e. kernel > stride, contributions add; input
positions no window reads get zero). Equivalently it is a correlation of δI,
dilated by s (s − 1 zeros between entries) and padded by ``k − 1 − p`` before and
``k − 1 − p + e`` after, ``e = (H + 2p − k) mod s`` (the input rows past the last window,
which no window reads), with the kernel rotated by 180° and its channel axes swapped. The per-channel neuron
parameters get the per-neuron gradients of G2–G5 summed over the positions of
their channel (the same reasoning as C3: a shared parameter's gradient is the sum
over every place it is used).

The three-factor reading (seed 002)
-----------------------------------

Seed 002 reads the kernel gradient as a sum over positions and steps of three
factors: the postsynaptic error, the presynaptic eligibility trace the leak makes,
and the spatial sampling pattern set by stride and padding. Take the soft reset
(or none), no adaptation, and write the per-neuron learning signal

.. math::

    e_{t,k,i,j} = a^v_{t,k,i,j} + σ'(v_{t,k,i,j} - θ_k)\, δs_{t,k,i,j}    \qquad \text{(C5)}

(``δs`` the full adjoint of B1, which includes the attached reset's ``−γ δv_{t+1}``).
Then B2 reads ``δv_t = α_k δv_{t+1} + e_t``, so ``δv_t = Σ_{t'≥t} α_k^{t'−t} e_{t'}``,
and without a synapse δI = δv. Substituting into C3 and exchanging the sums
over t and t',

.. math::

    \frac{\partial L}{\partial W_{k,c,r,q}}
      = \sum_{t'} \sum_{i,j} \underbrace{e_{t',k,i,j}}_{\text{postsynaptic error}}\;
        \underbrace{ε^{k}_{t',c,\, si+r-p,\, sj+q-p}}_{\text{eligibility trace, sampled}},
    \qquad ε^{k}_{t} = α_k\, ε^{k}_{t-1} + x_t,\; ε^k_{-1} = 0  \qquad \text{(C6)}

The trace ``ε^k`` is the presynaptic input low-pass filtered by the postsynaptic
channel's leak α_k (``Σ_{t≤t'} α_k^{t'−t} x_t``): it is what the input has left on
the membrane by step t'. The sampling pattern is the index map
``(i, j, r, q) ↦ (si + r − p, sj + q − p)``, zero in the padding. With a synapse
(λ) the trace is filtered twice, ``ε^c_t = λ_k ε^c_{t−1} + x_t`` and
``ε_t = α_k ε_{t−1} + ε^c_t``, for the same reason (B4: ``δc_t = δv_t + λ δc_{t+1}``).
Under a hard reset the gates of B2/B4 enter the trace,
``ε_t = α_k g^m_t ε_{t−1} + g^d_t x_t``; with adaptation δv also feeds δu, and C6
then needs the adaptation's trace as well (refsnn does not use that form; C3 is
exact in every configuration). C3 and C6 are the same sum reordered; notebook 09
evaluates both and shows they agree.

Where seed 002 is loose: it pairs "the postsynaptic error" with "the eligibility
trace". The two readings must not be mixed: with the total adjoint δI (= δv) as the
error, the presynaptic factor is the raw input x (C3); with the trace ε, the error is
the per-step signal e_t of C5 (the surrogate-gated δs plus a^v), not δv — pairing δv
with ε counts the leak twice. The seed's trace also leaves open whose leak it is: it
is the *postsynaptic* channel's α_k (and λ_k), since the leak acts on the membrane
the input is summed into. Its index ``X`` is read here as refsnn's ``x_t``, the input
that drives ``v_t`` (the time convention of :mod:`refsnn.neurons.lif`, note 1).

Where the dynamics come from
----------------------------

The LIF steps F2–F6 and B1–B5 are not repeated here: the layer computes C1 and
hands the current to :mod:`refsnn.neurons.lif` (``dynamics_forward`` /
``dynamics_backward``), which returns the trajectory and δI.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field, replace

import numpy as np

from .._validate import check_bool, check_choice, check_positive_int, float_array
from ..surrogates import Surrogate, surrogate
from . import lif
from .lif import LIFConfig, _rng
from .network import Network, network_backward, network_forward, network_init

__all__ = [
    "POOL_KINDS",
    "ConvLIFConfig",
    "ConvTrajectory",
    "ConvGradients",
    "conv_param_names",
    "conv_init_params",
    "conv_forward",
    "conv_backward",
    "im2col",
    "col2im",
    "conv_current",
    "kernel_gradient",
    "input_gradient",
    "pool_forward",
    "pool_backward",
    "eligibility_kernel_gradient",
    "ConvNetwork",
    "ConvNetTrajectory",
    "ConvNetGradients",
    "convnet_init",
    "convnet_forward",
    "convnet_backward",
    "conv_smooth_twin",
    "conv_piecewise_linear",
]

POOL_KINDS = ("none", "sum", "avg")


def _pair(name, value, low):
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an integer or a pair of integers, got {value!r}")
        a, b = value
    else:
        a = b = value
    out = []
    for v in (a, b):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral) or v < low:
            raise ValueError(f"{name} must be an integer >= {low} (or a pair of them), got {value!r}")
        out.append(int(v))
    return tuple(out)


@dataclass(frozen=True)
class ConvLIFConfig:
    """Structure of one convolutional LIF layer (parameters live in a separate dict).

    Parameters
    ----------
    in_channels, height, width : int
        C, H, W of the input ``(T, B, C, H, W)``.
    out_channels : int
        K, the number of kernels (output channels).
    kernel_size : int or (int, int)
        ``(k_h, k_w)``.
    stride, padding : int
        ``s >= 1`` and the zero padding ``p >= 0`` on each side (the same along both axes).
    pool : {"none", "sum", "avg"}, pool_size : int
        Pooling of the output spikes over non-overlapping ``P × P`` windows (C2).
    surrogate, forward, h0, reset, detach_reset, adaptation, synapse
        As in :class:`refsnn.neurons.lif.LIFConfig`; the layer has no recurrence.
    """

    in_channels: int
    height: int
    width: int
    out_channels: int
    kernel_size: object = 3
    stride: int = 1
    padding: int = 0
    pool: str = "none"
    pool_size: int = 1
    surrogate: Surrogate = field(default_factory=lambda: surrogate("triangle"))
    forward: str = "heaviside"
    h0: float = 1.0
    reset: str = "subtract"
    detach_reset: bool = False
    adaptation: bool = False
    synapse: bool = False
    _lif: LIFConfig = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self):
        for name in ("in_channels", "height", "width", "out_channels", "stride", "pool_size"):
            check_positive_int(name, getattr(self, name))
        object.__setattr__(self, "kernel_size", _pair("kernel_size", self.kernel_size, 1))
        if isinstance(self.padding, (bool, np.bool_)) or not isinstance(self.padding, numbers.Integral) \
                or self.padding < 0:
            raise ValueError(f"padding must be an integer >= 0, got {self.padding!r}")
        if self.padding > 2**31:                # a padded grid this large has more neurons than an index holds
            raise ValueError(f"padding must be at most 2**31, got an integer of {len(str(self.padding))} digits")
        kh, kw = self.kernel_size
        if self.height + 2 * self.padding < kh or self.width + 2 * self.padding < kw:
            raise ValueError(
                f"kernel_size {self.kernel_size} is larger than the padded input "
                f"({self.height + 2 * self.padding} × {self.width + 2 * self.padding})")
        check_choice("pool", self.pool, POOL_KINDS)
        if self.pool == "none" and self.pool_size != 1:
            raise ValueError(f"pool_size must be 1 when pool='none', got {self.pool_size}")
        ho, wo = self.out_shape
        if ho % self.pool_size or wo % self.pool_size:
            raise ValueError(
                f"pool_size {self.pool_size} must divide the output grid {ho} × {wo} "
                "(non-overlapping windows; nothing is cropped silently)")
        # The neurons' dynamics, built once (this also validates surrogate, reset, ...).
        object.__setattr__(self, "_lif", LIFConfig(
            self.n, self.n, surrogate=self.surrogate, forward=self.forward, h0=self.h0, reset=self.reset,
            detach_reset=self.detach_reset, adaptation=self.adaptation, synapse=self.synapse,
            recurrent=False, spiking=True))

    @property
    def out_shape(self):
        """``(H_o, W_o)``."""
        kh, kw = self.kernel_size
        s, p = self.stride, self.padding
        return ((self.height + 2 * p - kh) // s + 1, (self.width + 2 * p - kw) // s + 1)

    @property
    def n_positions(self):
        ho, wo = self.out_shape
        return ho * wo

    @property
    def n(self):
        """Number of neurons, ``K · H_o · W_o`` (flattened in (k, i, j) order)."""
        return self.out_channels * self.n_positions

    @property
    def pooled_shape(self):
        """``(K, H_o/P, W_o/P)``: what the next layer receives per step."""
        ho, wo = self.out_shape
        return (self.out_channels, ho // self.pool_size, wo // self.pool_size)

    @property
    def n_out(self):
        k, a, b = self.pooled_shape
        return k * a * b

    @property
    def lif(self) -> LIFConfig:
        """The neurons' dynamics as a :class:`LIFConfig` with one neuron per (k, i, j)."""
        return self._lif


def conv_smooth_twin(cfg: ConvLIFConfig) -> ConvLIFConfig:
    """The same layer with the spike replaced by the surrogate's primitive."""
    return replace(cfg, forward="smooth")


def conv_piecewise_linear(cfg: ConvLIFConfig) -> ConvLIFConfig:
    """The same layer with the Heaviside spike and its true (zero) derivative."""
    return replace(cfg, forward="heaviside", surrogate=surrogate("true"))


def conv_param_names(cfg: ConvLIFConfig):
    """``("W", "b", ...neuron parameters...)``; W is ``(K, C, k_h, k_w)``, the rest ``(K,)``."""
    return ("W", "b") + _neuron_names(cfg)


def _neuron_names(cfg):
    return lif.dynamics_param_names(cfg.lif)


def _check_cfg(cfg):
    if not isinstance(cfg, ConvLIFConfig):
        raise TypeError(f"config must be a ConvLIFConfig, got {type(cfg).__name__}")
    return cfg


def conv_init_params(cfg: ConvLIFConfig, rng, dtype=np.float64, **values):
    """Draw a parameter dict: W Gaussian with std ``w_scale/sqrt(C k_h k_w)``; the neuron
    parameters per channel with :func:`refsnn.neurons.lif.init_params`'s defaults or
    the keyword values (scalars or ``(K,)`` arrays)."""
    _check_cfg(cfg)
    rng = _rng(rng)
    K = cfg.out_channels
    kh, kw = cfg.kernel_size
    fan_in = cfg.in_channels * kh * kw
    per = LIFConfig(1, K, surrogate=cfg.surrogate, reset=cfg.reset, adaptation=cfg.adaptation,
                    synapse=cfg.synapse)
    W = values.pop("W", None)
    w_scale = values.pop("w_scale", 1.0)
    p = lif.init_params(per, rng, dtype, w_scale=1.0, **values)
    if W is None:
        W = rng.standard_normal((K, cfg.in_channels, kh, kw)) * w_scale / np.sqrt(fan_in)
    out = {"W": np.array(W, dtype=dtype)}
    out.update({k: p[k] for k in ("b",) + _neuron_names(cfg)})
    _check_conv_params(cfg, out)
    return out


def _check_conv_params(cfg, params):
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict of arrays, got {type(params).__name__}")
    want = conv_param_names(cfg)
    missing = [k for k in want if k not in params]
    extra = [k for k in params if k not in want]
    if missing or extra:
        raise ValueError(f"params for this conv layer must have exactly the keys {list(want)}; "
                         f"missing {missing}, unexpected {extra}")
    K = cfg.out_channels
    kh, kw = cfg.kernel_size
    W = float_array("params['W']", params["W"], (K, cfg.in_channels, kh, kw))
    out = {"W": W}
    for k in want[1:]:
        out[k] = float_array(f"params[{k!r}]", params[k], (K,), dtype=W.dtype)
    return W.dtype, out


def _lif_params(cfg, p):
    """Per-channel parameters repeated over the positions: the per-neuron vectors (N,)."""
    P = cfg.n_positions
    return {k: np.repeat(p[k], P) for k in _neuron_names(cfg)}


# --------------------------------------------------------------------------- im2col


def im2col(x, kernel_size, stride, padding):
    """Patches ``X^col`` of ``x`` (N, C, H, W): shape ``(N, H_o, W_o, C, k_h, k_w)`` with
    ``X^col[n, i, j, c, r, q] = x[n, c, s i + r − p, s j + q − p]`` (0 in the padding).

    Forward route: a strided window view of the zero-padded input, copied once."""
    kh, kw = kernel_size
    p, s = padding, stride
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))   # (N, C, Hp−kh+1, Wp−kw+1, kh, kw)
    win = win[:, :, ::s, ::s]
    return np.ascontiguousarray(win.transpose(0, 2, 3, 1, 4, 5))


def col2im(cols, shape, kernel_size, stride, padding):
    """The adjoint of :func:`im2col`: add every patch entry back onto the input grid.

    ``cols`` is ``(N, H_o, W_o, C, k_h, k_w)``; returns ``(N, C, H, W)`` (``shape``) with
    ``out[n, c, a, b] = Σ_{i,r: si+r−p=a} Σ_{j,q: sj+q−p=b} cols[n, i, j, c, r, q]`` (C4)."""
    N, C, H, W = shape
    kh, kw = kernel_size
    p, s = padding, stride
    _, ho, wo = cols.shape[:3]
    out = np.zeros((N, C, H + 2 * p, W + 2 * p), cols.dtype)
    for r in range(kh):
        for q in range(kw):
            # padded row s·i + r holds the input row s·i + r − p
            out[:, :, r:r + s * (ho - 1) + 1:s, q:q + s * (wo - 1) + 1:s] += cols[:, :, :, :, r, q].transpose(0, 3, 1, 2)
    return out[:, :, p:p + H, p:p + W]


def conv_current(cfg, W, b, x):
    """C1 for all steps: ``I`` of shape ``(T, B, N)``, N in (k, i, j) order; one product."""
    T, B = x.shape[:2]
    K = cfg.out_channels
    cols = im2col(x.reshape(T * B, *x.shape[2:]), cfg.kernel_size, cfg.stride, cfg.padding)
    TB, ho, wo = cols.shape[:3]
    I = cols.reshape(TB * ho * wo, -1) @ W.reshape(K, -1).T          # (T·B·H_o·W_o, K)
    I = I.reshape(TB, ho * wo, K).transpose(0, 2, 1) + b[:, None]     # (T·B, K, H_o·W_o)
    return np.ascontiguousarray(I).reshape(T, B, K * ho * wo)


def kernel_gradient(cfg, dI, x):
    """C3: ``∂L/∂W`` ``(K, C, k_h, k_w)`` and ``∂L/∂b`` ``(K,)`` from δI ``(T, B, N)`` and x.

    The patches are gathered here directly from the formula's index
    ``x_{t, c, s i + r − p, s j + q − p}`` (padded row ``s i + r``), then one product
    ``(δI)^⊤ X^col`` over all (t, i, j)."""
    T, B, C, H, W_ = x.shape
    K = cfg.out_channels
    kh, kw = cfg.kernel_size
    p, s = cfg.padding, cfg.stride
    ho, wo = cfg.out_shape
    xp = np.pad(x.reshape(T * B, C, H, W_), ((0, 0), (0, 0), (p, p), (p, p)))
    cols = np.empty((T * B, ho, wo, C, kh, kw), x.dtype)
    for r in range(kh):
        for q in range(kw):
            cols[:, :, :, :, r, q] = xp[:, :, r:r + s * (ho - 1) + 1:s, q:q + s * (wo - 1) + 1:s].transpose(0, 2, 3, 1)
    d = dI.reshape(T * B, K, ho * wo).transpose(0, 2, 1).reshape(-1, K)    # rows (t, b, i, j)
    dW = (d.T @ cols.reshape(-1, C * kh * kw)).reshape(K, C, kh, kw)
    return dW, d.sum(axis=0)


def input_gradient(cfg, dI, W, x_shape):
    """C4: ``∂L/∂x`` ``(T, B, C, H, W)``, the transposed convolution of δI with W."""
    T, B, C, H, W_ = x_shape
    K = cfg.out_channels
    kh, kw = cfg.kernel_size
    ho, wo = cfg.out_shape
    d = dI.reshape(T * B, K, ho * wo).transpose(0, 2, 1).reshape(-1, K)
    gcols = (d @ W.reshape(K, -1)).reshape(T * B, ho, wo, C, kh, kw)       # G^col = δI W^mat
    return col2im(gcols, (T * B, C, H, W_), cfg.kernel_size, cfg.stride, cfg.padding).reshape(x_shape)


# --------------------------------------------------------------------------- pooling


def pool_forward(cfg, s):
    """C2 on spikes ``(T, B, N)``: returns ``(T, B, K·H_o/P·W_o/P)`` (or ``s`` itself without pooling)."""
    if cfg.pool == "none":
        return s
    T, B = s.shape[:2]
    K, a, b = cfg.pooled_shape
    P = cfg.pool_size
    z = s.reshape(T, B, K, a, P, b, P).sum(axis=(4, 6))
    if cfg.pool == "avg":
        z = z / (P * P)
    return z.reshape(T, B, -1)


def pool_backward(cfg, dz):
    """The adjoint of C2: ``dz`` ``(T, B, n_out)`` → ``∂L/∂s`` ``(T, B, N)``."""
    if cfg.pool == "none":
        return dz
    T, B = dz.shape[:2]
    K, a, b = cfg.pooled_shape
    P = cfg.pool_size
    w = 1.0 if cfg.pool == "sum" else 1.0 / (P * P)
    d = np.broadcast_to(dz.reshape(T, B, K, a, 1, b, 1), (T, B, K, a, P, b, P)) * w
    return d.reshape(T, B, -1)


# --------------------------------------------------------------------------- the layer

@dataclass
class ConvTrajectory:
    """What :func:`conv_forward` stored: the config, the input ``x`` (T, B, C, H, W), the LIF
    trajectory ``lif`` (arrays (T, B, N), N in (k, i, j) order) and the pooled output ``z``."""

    config: ConvLIFConfig
    x: np.ndarray
    lif: object
    z: np.ndarray

    @property
    def s(self):
        return self.lif.s

    @property
    def v(self):
        return self.lif.v

    def grid(self, a):
        """An (T, B, N) array as (T, B, K, H_o, W_o)."""
        return a.reshape(a.shape[0], a.shape[1], self.config.out_channels, *self.config.out_shape)


def conv_forward(cfg: ConvLIFConfig, params, x, state0=None, s_reset=None) -> ConvTrajectory:
    """C1, then the LIF dynamics F2–F6, then C2. ``state0`` holds ``(B, N)`` arrays."""
    _check_cfg(cfg)
    dtype, p = _check_conv_params(cfg, params)
    x = float_array("x", x, (None, None, cfg.in_channels, cfg.height, cfg.width), dtype=dtype)
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"x must have at least one time step and one batch row, got shape {x.shape}")
    I = conv_current(cfg, p["W"], p["b"], x)
    traj = lif.dynamics_forward(cfg.lif, _lif_params(cfg, p), I, state0, s_reset)
    return ConvTrajectory(cfg, x, traj, pool_forward(cfg, traj.s))


@dataclass
class ConvGradients:
    """``params`` (per-channel, as the parameter dict), ``x`` = ∂L/∂x (T, B, C, H, W),
    ``state0`` (B, N) arrays, ``dI`` (T, B, N) and the LIF ``adjoints``."""

    params: dict
    x: np.ndarray
    state0: dict
    dI: np.ndarray
    adjoints: dict


def conv_backward(traj: ConvTrajectory, params, dz=None, ds=None, dv=None, input_grad=True) -> ConvGradients:
    """Backward through C2, B1–B5 and C3–C4.

    ``dz`` ``(T, B, n_out)`` is ∂L/∂(pooled output) from the layer above; ``ds``, ``dv``
    ``(T, B, N)`` are direct partials on this layer's own spikes and membranes.
    ``input_grad=False`` skips C4 (``x`` is then None): training does not need ∂L/∂(data)."""
    if not isinstance(traj, ConvTrajectory):
        raise TypeError(f"traj must be a ConvTrajectory from conv_forward, got {type(traj).__name__}")
    cfg = traj.config
    dtype, p = _check_conv_params(cfg, params)
    T, B = traj.x.shape[:2]
    a_s = None
    if dz is not None:
        a_s = pool_backward(cfg, float_array("dz", dz, (T, B, cfg.n_out), dtype=dtype))
    if ds is not None:
        ds = float_array("ds", ds, (T, B, cfg.n), dtype=dtype)
        a_s = ds if a_s is None else a_s + ds
    g = lif.dynamics_backward(traj.lif, _lif_params(cfg, p), a_s, dv)
    dI = g.dI
    dW, db = kernel_gradient(cfg, dI, traj.x)
    grads = {"W": dW, "b": db}
    P = cfg.n_positions
    for k in _neuron_names(cfg):
        grads[k] = g.params[k].reshape(cfg.out_channels, P).sum(axis=1)    # shared over positions
    dx = input_gradient(cfg, dI, p["W"], traj.x.shape) if input_grad else None
    return ConvGradients(grads, dx, g.state0, dI, g.adjoints)


def eligibility_kernel_gradient(traj: ConvTrajectory, params, adjoints):
    """C6, the three-factor reading of the kernel gradient, written as loops for reading.

    Soft reset or none, no adaptation (ValueError otherwise). ``adjoints`` are those of
    :func:`conv_backward` (``ds`` is δs of B1, ``dv`` is needed for a^v only through
    ``e_t = δv_t − α δv_{t+1}``, which equals C5). Returns ∂L/∂W ``(K, C, k_h, k_w)``."""
    cfg = traj.config
    if cfg.adaptation or cfg.reset.startswith("hard"):
        raise ValueError("the three-factor form C6 is written for the soft reset (or none) without adaptation")
    _, p = _check_conv_params(cfg, params)
    x = traj.x
    T, B, C, H, W_ = x.shape
    K = cfg.out_channels
    kh, kw = cfg.kernel_size
    s, pad = cfg.stride, cfg.padding
    ho, wo = cfg.out_shape
    alpha = p["alpha"]
    dv = traj.grid(adjoints["dv"])                                   # (T, B, K, H_o, W_o)
    nxt = np.concatenate([dv[1:], np.zeros_like(dv[:1])])
    e = dv - alpha[:, None, None] * nxt                               # postsynaptic error (C5)
    # presynaptic trace per output channel: ε^k_t = α_k ε^k_{t−1} (+ λ-filtered) x_t
    eps = np.zeros((T, B, K, C, H, W_))
    el = np.zeros((B, K, C, H, W_))
    ec = np.zeros((B, K, C, H, W_))
    for t in range(T):
        if cfg.synapse:
            ec = p["lam"][:, None, None, None] * ec + x[t][:, None]
            el = alpha[:, None, None, None] * el + ec
        else:
            el = alpha[:, None, None, None] * el + x[t][:, None]
        eps[t] = el
    dW = np.zeros((K, C, kh, kw))
    for r in range(kh):
        for q in range(kw):
            for i in range(ho):
                a = s * i + r - pad                                   # the sampling pattern
                if not 0 <= a < H:
                    continue
                for j in range(wo):
                    b_ = s * j + q - pad
                    if not 0 <= b_ < W_:
                        continue
                    # Σ_t Σ_b e_{t,k,i,j} ε^k_{t,c,a,b}
                    dW[:, :, r, q] += np.einsum("tbk,tbkc->kc", e[:, :, :, i, j], eps[:, :, :, :, a, b_])
    return dW


# --------------------------------------------------------------------------- a network


@dataclass(frozen=True)
class ConvNetwork:
    """Convolutional LIF layers (each with its pooling) followed by a dense :class:`Network`.

    Layer l+1 sees layer l's pooled spikes; the dense part sees the last pooled spikes
    flattened in (k, a, b) order. Parameters are one list of dicts, convolutional
    layers first, so :func:`refsnn.neurons.network.flat_params` names them ``L0.W``, ...
    """

    convs: tuple
    dense: Network

    def __post_init__(self):
        if not isinstance(self.convs, (list, tuple)) or not self.convs:
            raise ValueError("convs must be a non-empty list or tuple of ConvLIFConfig")
        convs = tuple(self.convs)
        object.__setattr__(self, "convs", convs)
        for i, c in enumerate(convs):
            if not isinstance(c, ConvLIFConfig):
                raise TypeError(f"convs[{i}] must be a ConvLIFConfig, got {type(c).__name__}")
            if i:
                want = convs[i - 1].pooled_shape
                got = (c.in_channels, c.height, c.width)
                if got != want:
                    raise ValueError(f"convs[{i}] takes input {got}, but convs[{i - 1}] gives {want}")
        if not isinstance(self.dense, Network):
            raise TypeError(f"dense must be a refsnn Network, got {type(self.dense).__name__}")
        if self.dense.layers[0].n_in != convs[-1].n_out:
            raise ValueError(f"dense.layers[0].n_in is {self.dense.layers[0].n_in}, expected "
                             f"{convs[-1].n_out} (the last conv layer's pooled output)")

    @property
    def n_layers(self):
        return len(self.convs) + len(self.dense.layers)


def convnet_init(net: ConvNetwork, rng, dtype=np.float64, conv_kw=None, dense_kw=None):
    """Parameter dicts for every layer (convolutions first); ``conv_kw[l]`` and ``dense_kw[l]``
    are keyword values for :func:`conv_init_params` and :func:`refsnn.lif.init_params`."""
    rng = _rng(rng)
    conv_kw = conv_kw or [{}] * len(net.convs)
    if len(conv_kw) != len(net.convs):
        raise ValueError(f"conv_kw must have {len(net.convs)} entries, got {len(conv_kw)}")
    out = [conv_init_params(c, rng, dtype, **dict(kw)) for c, kw in zip(net.convs, conv_kw)]
    return out + network_init(net.dense, rng, dtype, dense_kw)


@dataclass
class ConvNetTrajectory:
    convs: list
    dense: list


def _split(net, name, value):
    n = net.n_layers
    if value is None:
        return [None] * len(net.convs), [None] * len(net.dense.layers)
    if not isinstance(value, (list, tuple)) or len(value) != n:
        raise ValueError(f"{name} must be a list with one entry (or None) per layer ({n} layers)")
    return list(value[:len(net.convs)]), list(value[len(net.convs):])


def convnet_forward(net: ConvNetwork, params, x, state0=None, s_reset=None) -> ConvNetTrajectory:
    """Run every conv layer, then the dense network on the flattened pooled spikes."""
    if not isinstance(net, ConvNetwork):
        raise TypeError(f"net must be a ConvNetwork, got {type(net).__name__}")
    pc, pd = _split(net, "params", params)
    sc, sd = _split(net, "state0", state0)
    rc, rd = _split(net, "s_reset", s_reset)
    trajs = []
    inp = x
    for cfg, p, st, sr in zip(net.convs, pc, sc, rc):
        tr = conv_forward(cfg, p, inp, st, sr)
        trajs.append(tr)
        inp = tr.z.reshape(tr.z.shape[0], tr.z.shape[1], *cfg.pooled_shape)
    dense = network_forward(net.dense, pd, inp.reshape(inp.shape[0], inp.shape[1], -1), sd, rd)
    return ConvNetTrajectory(trajs, dense)


@dataclass
class ConvNetGradients:
    """``params[l]``, ``state0[l]`` per layer (convolutions first) and ``x`` = ∂L/∂(input)."""

    params: list
    x: np.ndarray
    state0: list
    convs: list
    dense: object


def convnet_backward(trajs: ConvNetTrajectory, params, ds=None, dv=None, input_grad=True) -> ConvNetGradients:
    """Backward through the dense stack, then every conv layer top-down.

    ``ds[l]``, ``dv[l]`` are the direct partials of layer l (convolutions first, ``(T, B, N)``),
    or None. ``input_grad=False`` leaves ``x`` (∂L/∂ network input) None."""
    nc = len(trajs.convs)
    n = nc + len(trajs.dense)
    ds = [None] * n if ds is None else list(ds)
    dv = [None] * n if dv is None else list(dv)
    if len(ds) != n or len(dv) != n:
        raise ValueError(f"ds and dv must have one entry (or None) per layer ({n} layers)")
    params = list(params)
    gd = network_backward(trajs.dense, params[nc:], ds[nc:], dv[nc:])
    dz = gd.x
    out = [None] * nc
    for l in range(nc - 1, -1, -1):
        tr = trajs.convs[l]
        out[l] = conv_backward(tr, params[l], dz.reshape(dz.shape[0], dz.shape[1], -1), ds[l], dv[l],
                               input_grad=input_grad or l > 0)
        dz = out[l].x
    return ConvNetGradients([g.params for g in out] + gd.params, out[0].x,
                            [g.state0 for g in out] + gd.state0, out, gd)
