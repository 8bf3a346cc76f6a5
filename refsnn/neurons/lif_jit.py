r"""Compiled time loops for the plain layer (optional: needs ``numba``, the ``fast`` extra).

The readable loops of :mod:`refsnn.neurons.lif` are the reference; the NumPy fast path of
the reverse loop is :mod:`refsnn.neurons.lif_fused`. Both call NumPy once per step and
term, on (B, N) slices. With B·N = 16,384 a NumPy call costs 5–15 µs (it streams two or
three (B, N) arrays through the cache), and a reverse step needs about seventeen of them,
so for the 100-256-10 network of ``benchmarks/bench_fwd_bwd.py`` the loops cost more than
the matrix products. Fewer calls do not help (the time is per element, not per call):
what helps is fewer passes over the data, which NumPy cannot fuse. This module runs each
time loop as one compiled pass, element by element, for the configurations most networks
use:

* a feed-forward layer (no recurrence, adaptation, synapse, refractoriness, adaptive
  threshold), with the Heaviside forward (``forward="heaviside"``), the spike before the
  first step from v₋₁ (``init_spike="from_v0"``), any reset kind, detached or attached,
  any surrogate, per-neuron or shared parameters, float32 or float64;
* with no overrides (``s_reset``, ``gate``, ``s_threshold``).

:func:`covers` says which; everything else takes the NumPy loops. The equations are
those of :mod:`refsnn.neurons.lif`, term by term (F1, F4, F6 forward; B1, B2, B4, B5 and
G2, G3, G5 backward, with the numbers used there), and each product and sum is rounded in
the same order as the NumPy loops, so the forward pass is bit-identical to the readable
loop (``tests/test_lif_jit.py``) and the reverse pass agrees with it to 1e-13 relative over
the whole verification grid (the sums over t and b are added in another order). σ' is
evaluated in float64 and rounded once to the layer's dtype, as
:meth:`refsnn.surrogates.Surrogate.derivative` does, by the family formulas of that
module's table.

Set the environment variable ``REFSNN_JIT=0`` (before importing refsnn) or
:data:`ENABLED` ``= False`` to use the NumPy loops only.
"""

from __future__ import annotations

import dataclasses
import math
import os

import numpy as np

try:  # pragma: no cover - depends on the environment
    import numba
except ImportError:  # pragma: no cover
    numba = None

#: Whether the compiled loops are used (numba importable and ``REFSNN_JIT`` not "0").
ENABLED = numba is not None and os.environ.get("REFSNN_JIT", "1") != "0"


# The LIFConfig fields these loops implement; every other field must be at its default.
_FREE = {"n_in", "n", "surrogate", "h0", "reset", "detach_reset"}
_FIXED = {"forward": "heaviside", "adaptation": False, "synapse": False, "recurrent": False,
          "spiking": True, "init_spike": "from_v0", "adaptive_threshold": False,
          "refractory": 0, "membrane_view": "pre_reset"}


def covers(cfg, p) -> bool:
    """Whether the compiled loops implement ``cfg`` with per-neuron parameters ``p``
    (each (N,) or shared ()). Any field added to LIFConfig after this module was written
    makes it False, so a new switch is never silently ignored."""
    if not ENABLED:
        return False
    for f in dataclasses.fields(cfg):
        if f.name in _FREE:
            continue
        if f.name in _FIXED:
            if getattr(cfg, f.name) != _FIXED[f.name]:
                return False
            continue
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if getattr(cfg, f.name) != default:
            return False
    return all(np.ndim(v) <= 1 for k, v in p.items() if k not in ("W", "b"))


def _vec(p, name, N, dtype):
    """A per-neuron parameter as a contiguous (N,) array (0 if the layer has none)."""
    a = p.get(name, 0.0)
    return np.ascontiguousarray(np.broadcast_to(np.asarray(a, dtype), (N,)))


if numba is not None:  # pragma: no branch
    _jit = numba.njit(cache=True, nogil=True)

    # σ'(x) at gain 1 for y = |x| (float64): the formulas of the refsnn.surrogates table,
    # one function a family, so that each compiled loop is specialised to its family.
    # The rational families are written without the far-tail rewrite of `_split`: where
    # (k y)² overflows they give 0, within 3e-309·gain of the exact value (the module's
    # stated bound), and elsewhere they agree with it to a few units in the last place.

    @_jit
    def _d_triangle(y, a):
        r = a - y
        return (r / a) / a if r > 0.0 else 0.0

    @_jit
    def _d_sigmoid(y, k):
        e = math.exp(-(k * y))
        return (k * e) / ((1.0 + e) * (1.0 + e))

    @_jit
    def _d_boxcar(y, a):
        return 0.5 / a if y < a else 0.0

    @_jit
    def _d_exponential(y, k):
        return (0.5 * k) * math.exp(-(k * y))

    @_jit
    def _d_arctan(y, k):
        u = (k * y) * (0.5 * math.pi)
        return (0.5 * k) / (1.0 + u * u)

    @_jit
    def _d_superspike(y, k):
        q = k * y
        return (0.5 * k) / ((1.0 + q) * (1.0 + q))

    @_jit
    def _d_straight_through(y, k):
        return 1.0

    @_jit
    def _d_true(y, k):
        return 0.0

    _DENSITY = {"triangle": _d_triangle, "sigmoid": _d_sigmoid, "boxcar": _d_boxcar,
                "exponential": _d_exponential, "arctan": _d_arctan, "superspike": _d_superspike,
                "straight_through": _d_straight_through, "true": _d_true}

    @_jit
    def _sg(density, k, gain, tiny, x):
        """g σ'(x) in float64 from x = v − θ in the layer's dtype (as Surrogate.derivative
        does), flushed to 0 below the dtype's tiny; the caller rounds it to the dtype."""
        d = density(abs(np.float64(x)), k) * gain
        return d if d >= tiny else 0.0

    @_jit
    def _forward(I, v, s, alpha, theta, gamma, v_reset, c_g, c_h, r_m, r_d, ge, v0, s0):
        """F1 (I given), F4, F6 for t = 0..T−1, rounded as lif._dynamics_forward rounds.

        F4 for every reset kind in one branch-free form: v_t = (m + d) − s̃ r with
        m = α v_{t−1}, d = I_t and r = c_g γ + c_h ((r_m m + r_d d) − v_r), where
        (c_g, c_h) = (1, 0) for the subtractive reset, (0, 1) for the hard ones and (0, 0)
        for none: the zero terms add exact zeros, so each kind keeps its own rounding.
        ``c_g, c_h, r_m, r_d`` are scalars of the layer's dtype, so that float32 arithmetic
        stays float32 (a float literal would promote it to float64). Returns the first step
        at which a membrane is not finite (an overflow), or −1."""
        T, B, N = I.shape
        bad = -1
        for t in range(T):
            for b in range(B):
                for n in range(N):
                    if t > 0:
                        vp, sp = v[t - 1, b, n], s[t - 1, b, n]
                    else:
                        vp, sp = v0[b, n], s0[b, n]
                    m = alpha[n] * vp
                    d = I[t, b, n]
                    r = c_g * gamma[n] + c_h * ((r_m * m + r_d * d) - v_reset[n])
                    vt = (m + d) - sp * r
                    v[t, b, n] = vt
                    s[t, b, n] = 1.0 if (vt > theta[n] or (ge and vt == theta[n])) else 0.0
                    if bad < 0 and not math.isfinite(vt):
                        bad = t
        return bad

    @_jit
    def _backward(density, k, gain, tiny, v, ge, I, a_s, a_v, has_av, v0, s0, alpha, theta, gamma,
                  v_reset, c_g, c_h, r_m, r_d, att, dv, ds, dc, acc_a, acc_r, acc_t, dv_init, ds_init,
                  sgds_init, one, zero):
        """B1, B2, B4 (δc = g^d δv), G2, G3, G5 for t = T−1..−1, as lif_fused.backward_fused.

        ``acc_*`` are (B, N) sums over t of the G2, G3, G5 terms; ``dv_init``, ``ds_init``
        and ``sgds_init`` receive δv₋₁, δs₋₁ and the t = −1 term of G5. ``dc`` is δc; with
        r_d = 0 it may be ``dv`` itself (δc = δv), and the value written is then δv. ``att`` (1 attached, 0 detached) and the other
        switches are scalars of the layer's dtype, as in ``_forward``; the reset amount
        r_{t+1} is F4's branch-free form. The spikes s_t are recomputed from v_t by F6's
        comparison (``ge``: H(0) = 1), which gives the forward pass's values exactly and
        saves reading the (T, B, N) spike array."""
        T, B, N = v.shape
        for t in range(T - 1, -1, -1):
            last = t + 1 == T
            tn = t if last else t + 1                      # d_{t+1} (multiplied by δv_T = 0 at t = T−1)
            for b in range(B):
                for n in range(N):
                    vt = v[t, b, n]
                    st = one if (vt > theta[n] or (ge and vt == theta[n])) else zero  # s̃_t = s_t (F6)
                    dvn = zero if last else dv[t + 1, b, n]                          # δv_{t+1}
                    m = alpha[n] * vt                      # r_{t+1}
                    r = c_g * gamma[n] + c_h * ((r_m * m + r_d * I[tn, b, n]) - v_reset[n])
                    dst = a_s[t, b, n] - att * r * dvn                                # (B1)
                    x = v.dtype.type(_sg(density, k, gain, tiny, vt - theta[n])) * dst
                    dvt = (alpha[n] * (one - st * r_m)) * dvn                         # (B2)
                    if has_av:
                        dvt = dvt + a_v[t, b, n]
                    dvt = dvt + x
                    ds[t, b, n] = dst
                    dv[t, b, n] = dvt
                    acc_t[b, n] += x                                                  # (G5)
                    if t > 0:
                        vp = v[t - 1, b, n]
                        sp = one if (vp > theta[n] or (ge and vp == theta[n])) else zero
                    else:
                        vp, sp = v0[b, n], s0[b, n]
                    dc[t, b, n] = (one - sp * r_d) * dvt                              # (B4, B5)
                    acc_a[b, n] += ((one - sp * r_m) * dvt) * vp                      # (G2)
                    acc_r[b, n] += dvt * sp                                           # (G3)
        for b in range(B):                                 # t = −1: the initial state
            for n in range(N):
                vt, st = v0[b, n], s0[b, n]
                dvn = dv[0, b, n]
                m = alpha[n] * vt
                r = c_g * gamma[n] + c_h * ((r_m * m + r_d * I[0, b, n]) - v_reset[n])
                dst = zero - att * r * dvn                                            # (B1), a^s = 0
                x = v.dtype.type(_sg(density, k, gain, tiny, vt - theta[n])) * dst
                dv_init[b, n] = (alpha[n] * (one - st * r_m)) * dvn + x               # (B2)
                ds_init[b, n] = dst
                sgds_init[b, n] = x


def forward(cfg, p, I_ff, v0, s0):
    """``(v, s, finite)`` of F1–F6 for a covered configuration (:func:`covers`), driven by
    ``I_ff`` (T, B, N), from the checked initial state ``v0`` and initial spike ``s0``;
    ``finite`` says whether every membrane is finite (the loop checks as it goes)."""
    dtype = I_ff.dtype
    T, B, N = I_ff.shape
    v = np.empty((T, B, N), dtype)
    s = np.empty((T, B, N), dtype)
    r_m, r_d = cfg.reset_partials
    one = dtype.type
    c_g, c_h = _reset_switches(cfg)
    bad = _forward(np.ascontiguousarray(I_ff), v, s, _vec(p, "alpha", N, dtype), _vec(p, "theta", N, dtype),
             _vec(p, "gamma", N, dtype), _vec(p, "v_reset", N, dtype), one(c_g), one(c_h),
             one(r_m), one(r_d), cfg.h0 == 1.0, np.ascontiguousarray(v0), np.ascontiguousarray(s0))
    return v, s, bad < 0


def _reset_switches(cfg):
    """``(c_g, c_h)`` of the branch-free F4 (see ``_forward``)."""
    return (1, 0) if cfg.reset == "subtract" else (0, 1) if cfg.reset.startswith("hard") else (0, 0)


def backward(traj, p, a_s, a_v):
    """``(grads, dstate0, adjoints, ds_init, dI)`` as :func:`refsnn.neurons.lif_fused.backward_fused`
    returns them, for a covered configuration."""
    cfg = traj.config
    dtype = traj.v.dtype
    T, B, N = traj.v.shape
    r_m, r_d = cfg.reset_partials
    attached = cfg.reset != "none" and not cfg.detach_reset
    sur = cfg.surrogate
    one = dtype.type
    dv = np.empty((T, B, N), dtype)
    ds = np.empty((T, B, N), dtype)
    dc = np.empty((T, B, N), dtype) if r_d else dv
    acc = [np.zeros((B, N), dtype) for _ in range(3)]
    dv_init, ds_init = np.empty((B, N), dtype), np.empty((B, N), dtype)
    sgds_init = np.zeros((B, N), dtype)
    has_av = a_v is not None
    c_g, c_h = _reset_switches(cfg)
    if r_d:
        I = np.ascontiguousarray(traj.I_ff)
    else:                                   # d_{t+1} is multiplied by r_d = 0: any finite array
        I = traj.v
    _backward(_DENSITY[sur.name], float(sur.scale or 0.0), float(sur.gain), float(np.finfo(dtype).tiny),
              np.ascontiguousarray(traj.v), cfg.h0 == 1.0, I,
              np.ascontiguousarray(a_s), np.ascontiguousarray(a_v) if has_av else traj.v, has_av,
              np.ascontiguousarray(traj.state0["v"]), np.ascontiguousarray(traj.s_init),
              _vec(p, "alpha", N, dtype), _vec(p, "theta", N, dtype), _vec(p, "gamma", N, dtype),
              _vec(p, "v_reset", N, dtype), one(c_g), one(c_h), one(r_m), one(r_d), one(attached),
              dv, ds, dc, acc[0], acc[1], acc[2], dv_init, ds_init, sgds_init, one(1), one(0))
    g = {"alpha": acc[0].sum(axis=0), "theta": -acc[2].sum(axis=0) - sgds_init.sum(axis=0)}
    if cfg.reset == "subtract":
        g["gamma"] = -acc[1].sum(axis=0)
    elif cfg.reset.startswith("hard"):
        g["v_reset"] = acc[1].sum(axis=0)
    adjoints = {"dv": dv, "ds": ds, "dc": dc}
    return g, {"v": dv_init}, adjoints, ds_init, dc
