"""A stack of LIF layers: layer l's spikes are layer l+1's input at the same step.

The forward pass runs :func:`refsnn.lif.layer_forward` bottom-up. The backward
pass runs :func:`refsnn.lif.layer_backward` top-down; the input gradient of
layer l+1, ``∂L/∂x^{l+1}_t = δI^{l+1}_t W^{l+1}``, is added to layer l's direct
spike partial ``a^s_t`` (it is the only path from ``s^l_t`` to the layers above).

The readout (last layer) is either spiking, or a non-spiking leaky integrator
(``LIFConfig(spiking=False, reset="none")``) whose membrane is the output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import all_finite, check_instance, check_positive_int
from .lif import (LIFConfig, Trajectory, _check_wrt, _InputGradient, _layer_backward, _layer_forward, _rng,
                  init_params, layer_backward, layer_forward, param_names)

# No network has more layers than this; a larger n_layers is refused, not allocated.
MAX_LAYERS = 10**6

__all__ = ["Network", "NetworkGradients", "network_init", "network_forward", "network_backward",
           "flat_params", "unflat_params"]


@dataclass(frozen=True)
class Network:
    """An ordered stack of layer configs whose widths chain (``n_in`` of l+1 = ``n`` of l)."""

    layers: tuple

    def __post_init__(self):
        if not isinstance(self.layers, (list, tuple)):
            raise TypeError(f"layers must be a list or tuple of LIFConfig, got {type(self.layers).__name__}")
        layers = tuple(self.layers)
        object.__setattr__(self, "layers", layers)
        if not layers:
            raise ValueError("layers must hold at least one LIFConfig")
        for i, cfg in enumerate(layers):
            if not isinstance(cfg, LIFConfig):
                raise TypeError(f"layers[{i}] must be a LIFConfig, got {type(cfg).__name__}")
            if i and cfg.n_in != layers[i - 1].n:
                raise ValueError(
                    f"layers[{i}].n_in is {cfg.n_in}, expected {layers[i - 1].n} (layers[{i - 1}].n)"
                )
            if i < len(layers) - 1 and not cfg.spiking:
                raise ValueError(f"layers[{i}] is non-spiking; only the last layer (readout) may be")


def network_init(net: Network, rng, dtype=np.float64, per_layer=None):
    """Parameter dicts for every layer; ``per_layer[l]`` is a dict of keyword values."""
    check_instance("net", net, Network, "a refsnn.network.Network")
    rng = _rng(rng)  # one generator for all layers: an integer seed must not restart per layer
    if per_layer is None or (isinstance(per_layer, (list, tuple)) and not per_layer):   # [] too: the defaults
        per_layer = [{}] * len(net.layers)
    if not isinstance(per_layer, (list, tuple)) or not all(isinstance(d, dict) for d in per_layer):
        raise TypeError(f"per_layer must be a list of one dict of keyword values per layer, got "
                        f"{type(per_layer).__name__}")
    if len(per_layer) != len(net.layers):
        raise ValueError(f"per_layer must have {len(net.layers)} entries, got {len(per_layer)}")
    return [init_params(cfg, rng, dtype, **kw) for cfg, kw in zip(net.layers, per_layer)]


def _per_layer(name, value, n):
    if value is None:
        return [None] * n
    if not isinstance(value, (list, tuple)) or len(value) != n:
        raise ValueError(f"{name} must be a list with one entry (or None) per layer ({n} layers)")
    return list(value)


def network_forward(net: Network, params, x, state0=None, s_reset=None, gate=None, s_threshold=None):
    """Run every layer; returns the list of :class:`~refsnn.lif.Trajectory`.
    ``s_reset[l]``, ``gate[l]`` and ``s_threshold[l]`` are layer l's overrides (see
    ``layer_forward``).

    A value that overflows to inf/NaN (with finite inputs and parameters) raises
    FloatingPointError naming the layer, the variable and the first such step."""
    return _network_forward(net, params, x, state0, s_reset, gate, s_threshold)


def _network_forward(net, params, x, state0=None, s_reset=None, gate=None, s_threshold=None, trusted=False):
    """:func:`network_forward`; ``trusted=True`` checks no argument (see
    ``lif._layer_forward``): for finite differences of an already checked network."""
    check_instance("net", net, Network, "a refsnn.network.Network")
    n = len(net.layers)
    params = _per_layer("params", params, n)
    state0 = _per_layer("state0", state0, n)
    s_reset = _per_layer("s_reset", s_reset, n)
    gate = _per_layer("gate", gate, n)
    s_threshold = _per_layer("s_threshold", s_threshold, n)
    trajs = []
    inp = x
    for l, (cfg, p, st, sr, gt, sth) in enumerate(zip(net.layers, params, state0, s_reset, gate, s_threshold)):
        with np.errstate(over="ignore", invalid="ignore"):      # a layer's input spikes are checked
            traj = _layer_forward(cfg, p, inp, st, sr, gt, sth, check_x=l == 0,   # (0/1, the right shape)
                                  trusted=trusted)
        _check_finite("forward", l, n, {k: getattr(traj, k) for k in ("v", "u", "c", "a")}, first="earliest")
        trajs.append(traj)
        inp = traj.s
    return trajs


def _check_finite(where, l, n, arrays, first):
    """Raise FloatingPointError naming the layer, the variable and the step if any of
    ``arrays`` ((T, B, N) or None) holds inf/NaN. The layer functions validate that
    inputs and parameters are finite, so a non-finite value here is an overflow.

    For the forward states (``first="earliest"``) only the last step is read unless it
    is not finite: a state that is inf or NaN at step t stays so at every later step
    (each of F2–F5 and F7 multiplies it by a factor ≥ 0, α, λ, ρ or ρ_a, and ±inf·0 is
    NaN; the reset subtracts s̃ r, and r is not finite when v is), so the last step
    holds the verdict of all of them."""
    for name, a in arrays.items():
        if a is None or all_finite(a[-1] if first == "earliest" and a.ndim == 3 else a):
            continue
        bad = np.flatnonzero(~np.isfinite(a).reshape(a.shape[0], -1).all(axis=1)) if a.ndim == 3 else [0]
        t = int(bad[0] if first == "earliest" else bad[-1])
        dtype = a.dtype
        raise FloatingPointError(
            f"network_{where}: layer {l} (of {n}) overflowed at step t = {t}: {name} is not finite although "
            f"the inputs and parameters are. The values outgrow {dtype}'s range (max "
            f"{np.finfo(dtype).max:.3g}): weights too large, or α, λ, ρ near 1 over many steps. "
            "Use smaller weights or shorter sequences" + (", or float64." if dtype == np.float32 else "."))


@dataclass
class NetworkGradients:
    """``params[l]`` and ``state0[l]`` per layer, ``x`` = ∂L/∂(network input), ``layers[l]``
    the full :class:`~refsnn.lif.LayerGradients` (adjoint trajectories included).
    ``x`` is computed when it is first read (see :class:`~refsnn.lif.LayerGradients`)."""

    params: list
    state0: list
    layers: list

    @property
    def x(self):
        return self.layers[0].x


def network_backward(trajs, params, ds=None, dv=None, wrt=None) -> NetworkGradients:
    """Backward through the stack. ``ds[l]``, ``dv[l]``: direct partials of layer l (or None).

    ``wrt``: the parameter names whose gradients are wanted, for every layer (e.g.
    ``{"W", "b"}`` with frozen dynamics; each layer takes those it has), or a list with
    one set (or None) per layer; default all. See :func:`~refsnn.lif.layer_backward`.

    An adjoint that overflows raises FloatingPointError naming the layer and the step."""
    if not isinstance(trajs, (list, tuple)) or not trajs or not all(isinstance(t, Trajectory) for t in trajs):
        raise TypeError("trajs must be the non-empty list of refsnn.lif.Trajectory that network_forward "
                        f"returns, got {type(trajs).__name__}")
    n = len(trajs)
    ds = _per_layer("ds", ds, n)
    dv = _per_layer("dv", dv, n)
    params = _per_layer("params", params, n)
    wrt = _per_layer_wrt(wrt, trajs)
    out = [None] * n
    from_above = None
    for l in range(n - 1, -1, -1):
        a_s = ds[l]
        if from_above is not None:
            a_s = from_above if a_s is None else a_s + from_above
        with np.errstate(over="ignore", invalid="ignore"):    # from_above is checked (_checked_dx)
            out[l] = _layer_backward(trajs[l], params[l], a_s, dv[l], ds_finite=ds[l] is None and l < n - 1,
                                     wrt=wrt[l], ds_scratch=from_above is not None)
        g = out[l]
        if not all(np.isfinite(v).all() for v in g.params.values()):
            _check_finite("backward", l, n, {f"δ{k}": v for k, v in g.adjoints.items()}, first="latest")
            raise FloatingPointError(f"network_backward: layer {l} (of {n}) overflowed in its parameter "
                                     "gradients (every adjoint is finite; a sum over T·B overflowed)")
        if l:
            from_above = _checked_dx(g, l, n)()
        else:                            # the network's input gradient: computed if it is read
            g.x = _checked_dx(g, l, n)
    return NetworkGradients([g.params for g in out], [g.state0 for g in out], out)


def _per_layer_wrt(wrt, trajs):
    """``wrt`` of network_backward as one set (or None) per layer."""
    n = len(trajs)
    names = [param_names(t.config) for t in trajs]
    if wrt is None:
        return [None] * n
    if isinstance(wrt, list):
        if len(wrt) != n:
            raise ValueError(f"wrt as a list must have one entry (a set of names or None) per layer ({n})")
        return [None if w is None else _check_wrt(w, nm, f"wrt[{l}]") for l, (w, nm) in enumerate(zip(wrt, names))]
    every = _check_wrt(wrt, sorted({k for nm in names for k in nm}))
    return [every & set(nm) for nm in names]


def _checked_dx(g, l, n):
    """A function returning layer l's ∂L/∂x, raising FloatingPointError if it overflowed."""
    raw = g._x                           # the array, or the function computing it

    def dx():
        with np.errstate(over="ignore", invalid="ignore"):
            x = raw() if callable(raw) else raw
        if isinstance(raw, _InputGradient) and raw.finite_by_bound():
            return x                     # (finite by a bound on δI and W: no pass over x)
        if not all_finite(x):
            _check_finite("backward", l, n, {"∂L/∂x": x}, first="latest")
        return x
    return dx


def flat_params(params) -> dict:
    """Per-layer parameter dicts as one flat dict with keys ``"L{l}.{name}"``."""
    return {f"L{l}.{k}": v for l, p in enumerate(params) for k, v in p.items()}


def unflat_params(flat, n_layers) -> list:
    """Inverse of :func:`flat_params`."""
    if not isinstance(flat, dict):
        raise TypeError(f"flat must be a dict of 'L<l>.<name>' -> array, got {type(flat).__name__}")
    n_layers = check_positive_int("n_layers", n_layers, high=MAX_LAYERS)
    out = [{} for _ in range(n_layers)]
    for key, val in flat.items():
        if not isinstance(key, str) or "." not in key:
            raise ValueError(f"flat parameter key {key!r} is not of the form 'L<l>.<name>'")
        layer, name = key.split(".", 1)
        if not (layer.startswith("L") and layer[1:].isdigit() and int(layer[1:]) < n_layers):
            raise ValueError(f"flat parameter key {key!r} does not name a layer L0..L{n_layers - 1}")
        out[int(layer[1:])][name] = val
    return out
