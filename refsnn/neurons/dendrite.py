r"""A two-compartment neuron: K dendritic branches with their own leak and nonlinearity, feeding an LIF soma.

Seed 002 ("多房室模型"): the dendrites receive the input and compute locally, then pass
the result to the soma, which decides whether to spike; a nonlinear dendrite (a
dendritic spike) needs its own surrogate gradient in the backward pass.

Model
-----

Each of the N somas has K branches; branch quantities are ``(T, B, N, K)``, per-branch
parameters ``(N, K)``. The input is ``x`` ``(T, B, M)``. For t = 0, ..., T−1:

.. math::

    J_{t,n,k} &= \textstyle\sum_m W^d_{n,k,m}\, x_{t,m}                         && \text{(D1) branch input}\\
    a_t &= α_d\, a_{t-1} + J_t                                                  && \text{(D2) branch potential, own leak}\\
    q_t &= f_d(a_t - θ_d)                                                       && \text{(D3) branch nonlinearity}\\
    I^{ff}_{t,n} &= \textstyle\sum_k c_{n,k}\, q_{t,n,k} + b_n                 && \text{(D4) coupling into the soma}

and the soma runs the LIF dynamics F1–F6 of :mod:`refsnn.neurons.lif` on ``I^ff``
(through :func:`~refsnn.neurons.lif.dynamics_forward`, not a copy), with any of its
resets, adaptation, synapse and recurrence. ``a_{-1}`` is ``state0["a"]`` (zero by
default).

The branch nonlinearity ``f_d`` (``DendriteConfig.branch``) is either

* ``"spike"``: a dendritic spike, the Heaviside step with its own threshold θ_d and its
  own surrogate σ_d (``forward="smooth"`` replaces it by σ_d's primitive, the smooth
  twin); the branch has no reset: a dendritic plateau lasts while ``a_t ≥ θ_d``; or
* ``"sigmoid"``: ``f_d(z) = S(k z)`` with the logistic S and slope k =
  ``dendrite_slope``, smooth in every mode, so its derivative is exact.

Adjoints
--------

The soma's backward (:func:`~refsnn.neurons.lif.dynamics_backward`, B1–B5) returns
``δI_t = ∂L/∂I^{ff}_t``. The branches then run their own reverse recursion, with
``a^a_t = ∂L/∂a_t|direct`` (zero unless a loss reads the branch potentials) and every
adjoint at ``t = T`` zero. For t = T−1, ..., 0:

.. math::

    δq_{t,n,k} &= c_{n,k}\, δI_{t,n}                                           && \text{(DB1)}\\
    δa_t &= a^a_t + α_d\, δa_{t+1} + f_d'(a_t - θ_d)\, δq_t                      && \text{(DB2)}

and ``δa_{-1} = α_d δa_0`` (the initial state's gradient). ``f_d'`` is where seed 002's
"surrogate at the dendritic nonlinearity" sits: for ``branch="spike"`` it is σ_d'
(``dendrite_surrogate``), a surrogate in Heaviside mode and the exact derivative of the
smooth twin; for ``"sigmoid"`` it is ``k S(kz)(1 − S(kz))``, always exact. Dropping it
(``f_d' = 1``) or using the soma's σ' instead is a different, wrong gradient; both are
mutants in ``scripts/mutants/dendrite.py``. The parameter gradients sum over t and B:

.. math::

    ∂L/∂c_{n,k} &= \textstyle\sum_{t,b} δI_{t,n}\, q_{t,n,k}, \qquad ∂L/∂b = \sum_{t,b} δI_t     && \text{(DG1)}\\
    ∂L/∂W^d_{n,k,m} &= \textstyle\sum_{t,b} δa_{t,n,k}\, x_{t,m}, \qquad
    ∂L/∂x_{t,m} = \sum_{n,k} δa_{t,n,k} W^d_{n,k,m}                                              && \text{(DG2)}\\
    ∂L/∂α_d &= \textstyle\sum_{t,b} δa_t\, a_{t-1}, \qquad
    ∂L/∂θ_d = -\sum_{t,b} f_d'(a_t - θ_d)\, δq_t                                                  && \text{(DG3)}

and the soma's parameters get G2–G5 from ``dynamics_backward``. The branch recursion
DB2 has the shape of B2 without a reset; it does not feed back into the soma's past, so
the two compartments' adjoints are computed one after the other (soma first).

Why the dendrites matter
------------------------

With constant inputs a single LIF compartment's spike count is non-decreasing in its
drive ``I = x W^T + b``, so it separates inputs by a hyperplane and cannot compute XOR
(at most 3 of the 4 patterns right). Two spiking branches with weights (+1, −1) and
(−1, +1) each detect one of the "exactly one input" patterns, and a soma that sums them
fires for XOR. Notebook 12 trains both and asserts it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .._validate import all_finite, check_choice, check_positive_int, float_array, real_scalar
from ..surrogates import Surrogate, surrogate
from .lif import (LIFConfig, _rng, dynamics_backward, dynamics_forward, dynamics_param_names, init_params,
                  piecewise_linear, smooth_twin)

__all__ = ["BRANCH_KINDS", "DendriteConfig", "DendriteTrajectory", "DendriteGradients", "dendrite_param_names",
           "init_dendrite_params", "dendrite_forward", "dendrite_backward", "dendrite_smooth_twin",
           "dendrite_piecewise_linear", "branch_derivative"]

BRANCH_KINDS = ("spike", "sigmoid")
_BRANCH_PARAMS = ("W_d", "alpha_d", "theta_d", "c", "b")


@dataclass(frozen=True)
class DendriteConfig:
    """Structure of a layer of two-compartment neurons.

    Parameters
    ----------
    n_in, n, n_branch : int
        Input width M, number of somas N, branches per soma K.
    soma : LIFConfig
        The soma's dynamics (its ``n`` must be N; its ``n_in`` is not used).
    branch : {"spike", "sigmoid"}
        The branch nonlinearity f_d (module docstring, D3).
    dendrite_surrogate : Surrogate
        σ_d, the surrogate of the dendritic spike (``branch="spike"``).
    forward : {"heaviside", "smooth"}
        ``"smooth"`` replaces the dendritic spike by σ_d's primitive (the smooth twin).
    dendrite_slope : float
        k of ``branch="sigmoid"``.
    """

    n_in: int
    n: int
    n_branch: int
    soma: LIFConfig
    branch: str = "spike"
    dendrite_surrogate: Surrogate = field(default_factory=lambda: surrogate("sigmoid", 4.0))
    forward: str = "heaviside"
    dendrite_slope: float = 4.0

    def __post_init__(self):
        check_positive_int("n_in", self.n_in)
        check_positive_int("n", self.n)
        check_positive_int("n_branch", self.n_branch)
        if not isinstance(self.soma, LIFConfig):
            raise TypeError(f"soma must be a LIFConfig, got {type(self.soma).__name__}")
        if self.soma.n != self.n:
            raise ValueError(f"soma.n is {self.soma.n}, expected n = {self.n}")
        if not self.soma.spiking:
            raise ValueError("soma must be spiking (a two-compartment readout is not supported)")
        check_choice("branch", self.branch, BRANCH_KINDS)
        if not isinstance(self.dendrite_surrogate, Surrogate):
            raise TypeError("dendrite_surrogate must be a refsnn.surrogates.Surrogate, e.g. surrogate('sigmoid', 4.0)")
        check_choice("forward", self.forward, ("heaviside", "smooth"))
        if self.forward == "smooth" and self.branch == "spike" and self.dendrite_surrogate.name == "true":
            raise ValueError("forward='smooth' needs a dendrite_surrogate with a smooth primitive")
        real_scalar("dendrite_slope", self.dendrite_slope, 0.0, low_open=True)

    def nonlinearity(self, z):
        """D3: ``q = f_d(z)`` with ``z = a − θ_d``."""
        if self.branch == "sigmoid":
            return surrogate("sigmoid", self.dendrite_slope).primitive(z)
        if self.forward == "smooth":
            return self.dendrite_surrogate.primitive(z)
        return (z >= 0).astype(z.dtype)

    def derivative(self, z):
        """f_d'(z) of the backward pass (DB2): σ_d' for a dendritic spike, the sigmoid's own derivative."""
        if self.branch == "sigmoid":
            return surrogate("sigmoid", self.dendrite_slope).derivative(z)
        return self.dendrite_surrogate.derivative(z)


def branch_derivative(config: DendriteConfig, z):
    """``f_d'(z)``, the factor of DB2 (see :meth:`DendriteConfig.derivative`)."""
    return config.derivative(z)


def dendrite_smooth_twin(config: DendriteConfig) -> DendriteConfig:
    """Both compartments' spikes replaced by their surrogates' primitives."""
    return replace(config, soma=smooth_twin(config.soma), forward="smooth")


def dendrite_piecewise_linear(config: DendriteConfig) -> DendriteConfig:
    """Heaviside spikes with the true (zero) derivative in both compartments (a sigmoid branch stays smooth)."""
    return replace(config, soma=piecewise_linear(config.soma), forward="heaviside",
                   dendrite_surrogate=surrogate("true"))


def dendrite_param_names(config: DendriteConfig) -> tuple:
    """The branch parameters (W_d, α_d, θ_d, c, b) followed by the soma's dynamics parameters."""
    return _BRANCH_PARAMS + dynamics_param_names(config.soma)


def _shape(config, name):
    N, K = config.n, config.n_branch
    return {"W_d": (N, K, config.n_in), "b": (N,)}.get(name, (N, K))


def init_dendrite_params(config: DendriteConfig, rng, dtype=np.float64, w_scale=1.0, c=1.0, alpha_d=0.8,
                         theta_d=0.5, **soma_values):
    """Branch weights Gaussian with std ``w_scale/sqrt(M)``; α_d, θ_d, c filled (scalars or (N, K));
    b = 0; the soma's parameters from :func:`refsnn.lif.init_params` (keywords ``soma_values``)."""
    rng = _rng(rng)
    N, K, M = config.n, config.n_branch, config.n_in
    p = {"W_d": rng.standard_normal((N, K, M)) * w_scale / np.sqrt(M)}
    for name, val in (("alpha_d", alpha_d), ("theta_d", theta_d), ("c", c)):
        p[name] = np.broadcast_to(np.asarray(val, dtype=np.float64), (N, K)).copy()
    p["b"] = np.zeros(N)
    soma = init_params(replace(config.soma, n_in=1), rng, np.float64, **soma_values)
    p.update({k: soma[k] for k in dynamics_param_names(config.soma)})
    p = {k: np.asarray(v, dtype=dtype) for k, v in p.items()}
    check_dendrite_params(config, p)
    return p


def check_dendrite_params(config: DendriteConfig, params):
    """Check keys, shapes, dtype and ranges; return ``(dtype, params)``."""
    if not isinstance(config, DendriteConfig):
        raise TypeError(f"config must be a DendriteConfig, got {type(config).__name__}")
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict of arrays, got {type(params).__name__}")
    want = dendrite_param_names(config)
    missing = [k for k in want if k not in params]
    extra = [k for k in params if k not in want]
    if missing or extra:
        raise ValueError(f"params must have exactly the keys {list(want)}; missing {missing}, unexpected {extra}")
    dtype = float_array("params['W_d']", params["W_d"]).dtype
    out = {k: float_array(f"params[{k!r}]", params[k], _shape(config, k), dtype=dtype) for k in _BRANCH_PARAMS}
    ad = out["alpha_d"]
    if np.any(ad < 0) or np.any(ad > 1):
        raise ValueError(f"params['alpha_d'] must lie in [0, 1] (a leak), got values in [{ad.min()}, {ad.max()}]")
    out.update({k: params[k] for k in dynamics_param_names(config.soma)})
    return dtype, out


@dataclass
class DendriteTrajectory:
    """``a``, ``q`` ``(T, B, N, K)``: branch potentials and outputs; ``a_init`` = a_{-1};
    ``soma``: the soma's :class:`~refsnn.lif.Trajectory` (its ``I_ff`` is D4's current);
    ``x`` the input. ``s`` and ``v`` are the soma's, so losses can read them directly."""

    config: DendriteConfig
    x: np.ndarray
    a: np.ndarray
    q: np.ndarray
    a_init: np.ndarray
    soma: object

    @property
    def s(self):
        return self.soma.s

    @property
    def v(self):
        return self.soma.v


def _soma_params(config, p):
    return {k: p[k] for k in dynamics_param_names(config.soma)}


def dendrite_forward(config: DendriteConfig, params, x, state0=None, s_reset=None) -> DendriteTrajectory:
    """D1–D4, then the soma's F1–F6 via :func:`refsnn.lif.dynamics_forward`.

    ``state0``: optional dict with ``"a"`` ``(B, N, K)`` and the soma's state keys;
    ``s_reset`` as in :func:`refsnn.lif.layer_forward` (the soma's reset spikes).
    """
    dtype, p = check_dendrite_params(config, params)
    x = float_array("x", x, (None, None, config.n_in), dtype=dtype)
    T, B, _ = x.shape
    if T == 0 or B == 0:
        raise ValueError(f"x must have at least one time step and one batch row, got shape {x.shape}")
    N, K = config.n, config.n_branch
    state0 = dict(state0 or {})
    a_prev = state0.pop("a", None)
    a_prev = np.zeros((B, N, K), dtype) if a_prev is None else float_array("state0['a']", a_prev, (B, N, K), dtype)
    with np.errstate(over="ignore", invalid="ignore"):   # an overflow is named below
        J = np.einsum("tbm,nkm->tbnk", x, p["W_d"])                              # D1
        a = np.empty((T, B, N, K), dtype)
        cur = a_prev
        for t in range(T):                                                       # D2
            cur = p["alpha_d"] * cur + J[t]
            a[t] = cur
        q = config.nonlinearity(a - p["theta_d"]).astype(dtype, copy=False)     # D3
        I_ff = np.einsum("tbnk,nk->tbn", q, p["c"]) + p["b"]                     # D4
    _check_overflow("dendrite_forward", {"the branch potential a": a, "the soma's input current I_ff": I_ff})
    with np.errstate(over="ignore", invalid="ignore"):
        soma = dynamics_forward(config.soma, _soma_params(config, p), I_ff, state0 or None, s_reset)
    _check_overflow("dendrite_forward", {f"the soma's {k}": getattr(soma, k, None) for k in ("v", "u", "c", "a")})
    return DendriteTrajectory(config, x, a, q, a_prev, soma)


def _check_overflow(where, arrays):
    """FloatingPointError naming the variable and its first bad entry if an array holds inf/NaN.
    Inputs and parameters are checked finite on entry, so a non-finite value is an overflow."""
    for name, arr in arrays.items():
        if arr is None or not isinstance(arr, np.ndarray) or all_finite(arr):
            continue
        first = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise FloatingPointError(
            f"{where}: {name} overflowed (first at index {first}, time first) although the inputs and parameters are finite; "
            f"the values outgrow {arr.dtype}'s range (max {np.finfo(arr.dtype).max:.3g}): use smaller weights "
            "(W_d, c) or shorter sequences")


@dataclass
class DendriteGradients:
    """``params`` (every key of :func:`dendrite_param_names`), ``x`` = ∂L/∂x, ``state0``
    (``"a"`` and the soma's), and the adjoints ``da``, ``dq`` ``(T, B, N, K)``, ``dI`` ``(T, B, N)``."""

    params: dict
    x: np.ndarray
    state0: dict
    da: np.ndarray
    dq: np.ndarray
    dI: np.ndarray


def dendrite_backward(traj: DendriteTrajectory, params, ds=None, dv=None, da=None) -> DendriteGradients:
    """The soma's B1–B5 (``dynamics_backward``), then DB1–DB2 and DG1–DG3.

    ``ds``, ``dv``: direct partials on the soma's spikes and membrane ``(T, B, N)``;
    ``da``: direct partial on the branch potentials ``(T, B, N, K)``. ``None`` is zero.
    """
    if not isinstance(traj, DendriteTrajectory):
        raise TypeError(f"traj must be a DendriteTrajectory from dendrite_forward, got {type(traj).__name__}")
    cfg = traj.config
    dtype, p = check_dendrite_params(cfg, params)
    T, B, N, K = traj.a.shape
    a_a = None if da is None else float_array("da", da, (T, B, N, K), dtype=dtype)
    soma = dynamics_backward(traj.soma, _soma_params(cfg, p), ds, dv)
    dI = soma.dI
    dq = p["c"] * dI[..., None]                                               # DB1
    fprime = cfg.derivative(traj.a - p["theta_d"])                          # f_d'(a_t − θ_d)
    drive = fprime * dq
    if a_a is not None:
        drive = drive + a_a
    da_ = np.empty_like(traj.a)
    nxt = np.zeros((B, N, K), dtype)
    for t in range(T - 1, -1, -1):                                           # DB2
        nxt = p["alpha_d"] * nxt + drive[t]
        da_[t] = nxt
    da_init = p["alpha_d"] * da_[0]
    a_prev = np.concatenate([traj.a_init[None], traj.a[:-1]], axis=0)
    g = {
        "W_d": np.einsum("tbnk,tbm->nkm", da_, traj.x),                     # DG2
        "alpha_d": np.einsum("tbnk,tbnk->nk", da_, a_prev),                 # DG3
        "theta_d": -np.einsum("tbnk,tbnk->nk", fprime, dq),
        "c": np.einsum("tbn,tbnk->nk", dI, traj.q),                         # DG1
        "b": dI.sum(axis=(0, 1)),
    }
    g.update(soma.params)
    dx = np.einsum("tbnk,nkm->tbm", da_, p["W_d"])                           # DG2
    g = {k: np.asarray(g[k], dtype=dtype) for k in dendrite_param_names(cfg)}
    _check_overflow("dendrite_backward", {"the adjoint da": da_, "∂L/∂x": dx,
                                          **{f"the gradient of {k}": v for k, v in g.items()}})
    return DendriteGradients(g, dx, {"a": da_init, **soma.state0}, da_, dq, dI)
