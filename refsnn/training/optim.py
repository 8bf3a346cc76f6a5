r"""Optimisers as pure functions over flat dicts of arrays: SGD (heavy-ball / Nesterov), Adam(W).

Data layout
-----------
Parameters and gradients are flat dicts ``dict[str, np.ndarray]`` (keys such as
``"L0.W"``, ``"L1.alpha"``), float32 or float64. The optimiser *state* is a flat
dict of ndarrays too, so it can be written with :func:`numpy.savez` and read back
with ``np.load(..., allow_pickle=False)``:

============  =============================================  ==========================
key           meaning                                        present for
============  =============================================  ==========================
``"t"``       0-d int64, number of steps taken so far         every optimiser
``"b/<k>"``   momentum buffer of parameter ``k``              SGD with ``momentum > 0``
``"m/<k>"``   first-moment estimate of parameter ``k``        Adam
``"v/<k>"``   second-moment estimate of parameter ``k``       Adam
============  =============================================  ==========================

Buffers have the shape and dtype of their parameter (a float32 parameter gets
float32 state and stays float32). The hyper-parameters live in the frozen
dataclasses :class:`SGD` and :class:`Adam`, not in the state.

No function mutates its inputs: :func:`step` and :func:`clip_by_global_norm`
return new dicts holding new arrays.

Update equations
----------------

One call of :func:`step` maps ``(p, g, state)`` to ``(p', state')`` for every
key ``k``. ``d_k`` is 1 if weight decay applies to ``k`` (``decay(k)`` is true,
or ``decay`` is ``None``) and 0 otherwise. Products and squares of arrays are
element-wise.

Common to both optimisers:

.. math::

    t' &= t + 1                                                       && \text{(U0) step counter}

SGD (``lr`` = η, ``momentum`` = μ, ``weight_decay`` = λ), L2 penalty *coupled*
into the gradient:

.. math::

    \tilde g &= g + d_k\, λ\, p                                       && \text{(S1) coupled L2}\\
    p' &= p - η\, \tilde g                  \qquad (μ = 0)           && \text{(S2) plain SGD}\\
    b' &= μ\, b + \tilde g,\quad b_0 = 0    \qquad (μ > 0)           && \text{(S3) heavy-ball buffer}\\
    p' &= p - η\, b'                        \qquad (\text{nesterov=False}) && \text{(S4) heavy ball}\\
    p' &= p - η\, (\tilde g + μ\, b')       \qquad (\text{nesterov=True})  && \text{(S5) Nesterov}

With ``b_0 = 0`` the first step of S3 gives ``b_1 = g̃_1``, the same as PyTorch's
``torch.optim.SGD``. ``nesterov=True`` requires ``momentum > 0``.

Adam (Kingma & Ba, 2015, Algorithm 1; ``lr`` = η, ``beta1`` = β₁, ``beta2`` = β₂,
``eps`` = ε, ``weight_decay`` = λ), weight decay *decoupled* (AdamW, Loshchilov &
Hutter, 2019):

.. math::

    m' &= β_1\, m + (1 - β_1)\, g,\quad m_0 = 0                      && \text{(A1) first moment}\\
    v' &= β_2\, v + (1 - β_2)\, g^2,\quad v_0 = 0                    && \text{(A2) second moment}\\
    \hat m &= m' / (1 - β_1^{t'}),\qquad \hat v = v' / (1 - β_2^{t'}) && \text{(A3) bias correction}\\
    p' &= p - η\, \hat m / (\sqrt{\hat v} + ε) - d_k\, η\, λ\, p     && \text{(A4) step + decoupled decay}

``g`` in A1–A2 is the raw gradient: the decay never enters the moments. The
``p`` on the right of A4 is the value *before* the step. The decay term is scaled
by the learning rate, as in PyTorch's ``torch.optim.AdamW`` (Loshchilov & Hutter
write it with a separate schedule multiplier ``η_t λ p``; with a constant
schedule the two differ only in how λ is parametrised). ε sits outside the
square root, as in Kingma & Ba.

Gradient clipping by global norm (:func:`clip_by_global_norm`, threshold ``c > 0``):

.. math::

    \|g\| &= \Big(\textstyle\sum_k \sum_i g_{k,i}^2\Big)^{1/2}        && \text{(C1) global norm}\\
    g' &= g \cdot \min(1,\; c / \|g\|)                                && \text{(C2) clip}

C2 leaves ``g`` unchanged (bitwise) when ``‖g‖ ≤ c``, including ``‖g‖ = 0``.
C1 is evaluated in float64 with a max-abs rescaling, so it neither overflows nor
underflows for finite inputs.

Validation
----------
Every error names the argument and says what was expected: ``lr`` finite and
> 0; ``momentum``, ``beta1``, ``beta2`` in [0, 1); ``eps`` > 0; ``weight_decay``
≥ 0; the key sets of ``params``, ``grads`` and ``state`` must match (missing and
extra keys are listed); shapes and dtypes must match per key; NaN or inf in any
array is a ValueError naming the key (nothing is skipped); integer, boolean or
complex arrays are a TypeError.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from .._validate import check_bool, real_scalar

__all__ = [
    "SGD",
    "Adam",
    "init_state",
    "step",
    "clip_by_global_norm",
    "global_norm",
    "state_keys",
]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


# --------------------------------------------------------------------------- configs


@dataclass(frozen=True)
class SGD:
    """Stochastic gradient descent with optional heavy-ball or Nesterov momentum.

    Equations S1–S5 of the module docstring. ``weight_decay`` is an L2 penalty
    added to the gradient (coupled), ``g ← g + weight_decay·p`` (S1).
    """

    lr: float
    momentum: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "lr", real_scalar("lr", self.lr, low=0.0, low_open=True))
        object.__setattr__(
            self, "momentum", real_scalar("momentum", self.momentum, low=0.0, high=1.0, high_open=True)
        )
        object.__setattr__(self, "nesterov", check_bool("nesterov", self.nesterov))
        object.__setattr__(
            self, "weight_decay", real_scalar("weight_decay", self.weight_decay, low=0.0)
        )
        if self.nesterov and self.momentum == 0.0:
            raise ValueError("nesterov=True requires momentum > 0, got momentum=0.0")


@dataclass(frozen=True)
class Adam:
    """Adam (Kingma & Ba) with optional decoupled weight decay (AdamW).

    Equations A1–A4 of the module docstring.
    """

    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "lr", real_scalar("lr", self.lr, low=0.0, low_open=True))
        object.__setattr__(
            self, "beta1", real_scalar("beta1", self.beta1, low=0.0, high=1.0, high_open=True)
        )
        object.__setattr__(
            self, "beta2", real_scalar("beta2", self.beta2, low=0.0, high=1.0, high_open=True)
        )
        object.__setattr__(self, "eps", real_scalar("eps", self.eps, low=0.0, low_open=True))
        object.__setattr__(
            self, "weight_decay", real_scalar("weight_decay", self.weight_decay, low=0.0)
        )


# --------------------------------------------------------------------------- checks


def _check_opt(opt):
    if not isinstance(opt, (SGD, Adam)):
        raise TypeError(f"opt must be an SGD or Adam instance, got {type(opt).__name__}")


def _check_array(name, a, finite=True):
    """Return ``a`` as a float32/float64 ndarray; TypeError for other dtypes."""
    if not isinstance(a, (np.ndarray, np.generic)):
        raise TypeError(f"{name} must be a numpy array, got {type(a).__name__}")
    arr = np.asarray(a)
    if arr.dtype not in _FLOATS:
        raise TypeError(
            f"{name} must be a floating-point array (float32 or float64), got dtype "
            f"{arr.dtype}; convert it explicitly, e.g. .astype(np.float64)"
        )
    if finite and not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))
        where = tuple(int(i) for i in bad[0]) if bad.size else ()
        raise ValueError(
            f"{name} contains NaN or inf (first at index {where}); expected finite values"
        )
    return arr


def _check_dict(name, d):
    if not isinstance(d, Mapping):
        raise TypeError(f"{name} must be a dict of numpy arrays, got {type(d).__name__}")
    for k in d:
        if not isinstance(k, str):
            raise TypeError(f"{name} keys must be strings, got key {k!r} of type {type(k).__name__}")


def _check_keys(name, keys, expected, expected_desc):
    """Raise ValueError listing missing and extra keys of ``name`` relative to ``expected``."""
    keys, expected = set(keys), set(expected)
    if keys == expected:
        return
    missing = sorted(expected - keys)
    extra = sorted(keys - expected)
    parts = []
    if missing:
        parts.append(f"is missing keys {missing}")
    if extra:
        parts.append(f"has extra keys {extra}")
    raise ValueError(f"{name} {' and '.join(parts)}; expected the keys of {expected_desc}")


def _check_like(name, arr, ref, ref_name):
    """Shape and dtype of ``arr`` must equal those of ``ref``."""
    if arr.shape != ref.shape:
        raise ValueError(f"{name} has shape {arr.shape}, expected {ref.shape} (the shape of {ref_name})")
    if arr.dtype != ref.dtype:
        raise TypeError(f"{name} has dtype {arr.dtype}, expected {ref.dtype} (the dtype of {ref_name})")


def _check_params(params):
    _check_dict("params", params)
    return {k: _check_array(f"params[{k!r}]", v) for k, v in params.items()}


def _check_grads(grads, params):
    _check_dict("grads", grads)
    _check_keys("grads", grads.keys(), params.keys(), "params")
    out = {}
    for k, p in params.items():
        g = _check_array(f"grads[{k!r}]", grads[k])
        _check_like(f"grads[{k!r}]", g, p, f"params[{k!r}]")
        out[k] = g
    return out


def _buffer_prefixes(opt):
    if isinstance(opt, Adam):
        return ("m/", "v/")
    return ("b/",) if opt.momentum > 0.0 else ()


def state_keys(opt, params):
    """The keys that ``init_state(opt, params)`` returns, in order."""
    _check_opt(opt)
    _check_dict("params", params)
    return ["t"] + [pre + k for pre in _buffer_prefixes(opt) for k in params]


def _check_state(opt, state, params):
    _check_dict("state", state)
    _check_keys("state", state.keys(), state_keys(opt, params), "init_state(opt, params)")
    t = state["t"]
    if not isinstance(t, (np.ndarray, np.generic)) or np.asarray(t).dtype.kind not in "iu":
        raise TypeError(
            f"state['t'] must be a 0-d integer array (the step count), got "
            f"{getattr(t, 'dtype', type(t).__name__)}"
        )
    t = np.asarray(t)
    if t.shape != ():
        raise ValueError(f"state['t'] has shape {t.shape}, expected () (a 0-d step count)")
    if int(t) < 0:
        raise ValueError(f"state['t'] must be >= 0, got {int(t)}")
    out = {"t": int(t)}
    for pre in _buffer_prefixes(opt):
        for k, p in params.items():
            key = pre + k
            a = _check_array(f"state[{key!r}]", state[key])
            _check_like(f"state[{key!r}]", a, p, f"params[{k!r}]")
            if pre == "v/" and np.any(a < 0):
                raise ValueError(
                    f"state[{key!r}] has negative entries; expected a second-moment "
                    "estimate >= 0"
                )
            out[key] = a
    return out


def _decay_flags(decay, keys, weight_decay):
    """d_k of the module docstring, one bool per key."""
    if weight_decay == 0.0:
        return {k: False for k in keys}
    if decay is None:
        return {k: True for k in keys}
    if not callable(decay):
        raise TypeError(f"decay must be None or a callable str -> bool, got {type(decay).__name__}")
    flags = {}
    for k in keys:
        d = decay(k)
        if not isinstance(d, (bool, np.bool_)):
            raise TypeError(f"decay must return True or False, got {d!r} for key {k!r}")
        flags[k] = bool(d)
    return flags


# --------------------------------------------------------------------------- API


def init_state(opt, params):
    """Fresh optimiser state for ``params``: ``t = 0`` and zero buffers.

    Returns a flat dict of ndarrays (see the table in the module docstring);
    every buffer has its parameter's shape and dtype.
    """
    _check_opt(opt)
    params = _check_params(params)
    state = {"t": np.array(0, dtype=np.int64)}
    for pre in _buffer_prefixes(opt):
        for k, p in params.items():
            state[pre + k] = np.zeros(p.shape, dtype=p.dtype)
    return state


def step(opt, params, grads, state, decay: Callable[[str], bool] | None = None):
    """One optimiser step. Returns ``(new_params, new_state)``; inputs are not mutated.

    Parameters
    ----------
    opt : SGD or Adam
    params, grads : dict[str, np.ndarray]
        Same keys; per key the same shape and float dtype.
    state : dict[str, np.ndarray]
        As returned by :func:`init_state` or a previous :func:`step` (or loaded
        from an .npz file written from one).
    decay : callable str -> bool, optional
        Selects the keys that get weight decay (``d_k`` in S1 / A4); default:
        all keys. Ignored when ``opt.weight_decay == 0``.
    """
    _check_opt(opt)
    params = _check_params(params)
    grads = _check_grads(grads, params)
    st = _check_state(opt, state, params)
    dk = _decay_flags(decay, params.keys(), opt.weight_decay)

    t_new = st["t"] + 1  # (U0)
    new_params, new_state = {}, {"t": np.array(t_new, dtype=np.int64)}
    if isinstance(opt, SGD):
        lr, mu, wd = opt.lr, opt.momentum, opt.weight_decay
        for k, p in params.items():
            g = grads[k]
            if dk[k]:
                g = g + wd * p  # (S1)
            if mu == 0.0:
                p_new = p - lr * g  # (S2)
            else:
                b = mu * st["b/" + k] + g  # (S3)
                new_state["b/" + k] = b.astype(p.dtype, copy=False)
                if opt.nesterov:
                    p_new = p - lr * (g + mu * b)  # (S5)
                else:
                    p_new = p - lr * b  # (S4)
            new_params[k] = p_new.astype(p.dtype, copy=False)
    else:
        lr, b1, b2, eps, wd = opt.lr, opt.beta1, opt.beta2, opt.eps, opt.weight_decay
        bc1 = 1.0 - b1**t_new  # (A3) denominators, Python floats
        bc2 = 1.0 - b2**t_new
        for k, p in params.items():
            g = grads[k]
            m = b1 * st["m/" + k] + (1.0 - b1) * g  # (A1)
            v = b2 * st["v/" + k] + (1.0 - b2) * (g * g)  # (A2)
            m_hat = m / bc1  # (A3)
            v_hat = v / bc2  # (A3)
            p_new = p - lr * m_hat / (np.sqrt(v_hat) + eps)  # (A4) Adam step
            if dk[k]:
                p_new = p_new - lr * wd * p  # (A4) decoupled decay, p before the step
            new_state["m/" + k] = m.astype(p.dtype, copy=False)
            new_state["v/" + k] = v.astype(p.dtype, copy=False)
            new_params[k] = p_new.astype(p.dtype, copy=False)
    # Order the state like init_state does (t, then buffers prefix by prefix).
    new_state = {key: new_state[key] for key in state_keys(opt, params)}
    return new_params, new_state


def global_norm(grads):
    """‖g‖ of equation C1: sqrt of the sum of squares over all arrays, as a Python float.

    Computed in float64 after dividing by the largest magnitude, so no intermediate
    overflows or underflows for finite inputs. An empty dict has norm 0. The one
    exception is a norm that itself exceeds the float64 range (≈ 1.8e308, e.g. four
    entries of 1e308): it is returned as ``math.inf``, without a warning; use
    :func:`clip_by_global_norm`, which clips such gradients correctly.
    """
    _check_dict("grads", grads)
    arrs = {k: _check_array(f"grads[{k!r}]", v) for k, v in grads.items()}
    return _global_norm(arrs)


def _scaled_norm(arrs):
    """``(amax, r)`` with ``‖g‖ = amax · r``, ``r ∈ [1, √n]``: nothing here overflows."""
    amax = 0.0
    for a in arrs.values():
        if a.size:
            amax = max(amax, float(np.max(np.abs(a))))
    if amax == 0.0:
        return 0.0, 0.0
    ssq = 0.0
    for a in arrs.values():
        scaled = a.astype(np.float64) / amax
        ssq += float(np.sum(scaled * scaled))
    return amax, math.sqrt(ssq)


def _global_norm(arrs):
    amax, r = _scaled_norm(arrs)
    if amax > sys.float_info.max / max(r, 1.0):
        return math.inf                       # the norm exceeds the float64 range
    return amax * r  # (C1)


def clip_by_global_norm(grads, max_norm):
    """Rescale ``grads`` so that their global norm is at most ``max_norm`` (C1, C2).

    Returns ``(clipped_grads, norm)`` where ``norm`` is the global norm *before*
    clipping. If ``norm <= max_norm`` (including ``norm == 0``) the returned
    arrays are bitwise copies of the inputs. Dtypes are preserved.
    """
    max_norm = real_scalar("max_norm", max_norm, low=0.0, low_open=True)
    _check_dict("grads", grads)
    arrs = {k: _check_array(f"grads[{k!r}]", v) for k, v in grads.items()}
    amax, r = _scaled_norm(arrs)
    norm = _global_norm(arrs)  # (C1)
    if norm <= max_norm:
        return {k: a.copy() for k, a in arrs.items()}, norm
    # (C2), min(1, c/‖g‖) < 1 here, as (a/amax)·(c/r): no factor overflows or
    # underflows to zero, even where ‖g‖ itself exceeds the float64 range
    out = {}
    for k, a in arrs.items():
        b = a.astype(np.float64) / amax * (max_norm / r)
        out[k] = b.astype(a.dtype, copy=False)
    return out, norm
