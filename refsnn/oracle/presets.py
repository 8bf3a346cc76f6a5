r"""Peer presets: snnTorch, SpikingJelly, Norse, e-prop and SpyTorch neurons as refsnn networks.

A preset takes a peer library's own arguments and parameter names, and its weight layout
(torch ``Linear``: ``weight`` is ``(out, in)``), and returns an :class:`OracleNet`: a refsnn
:class:`~refsnn.neurons.network.Network`, the *parameter map* ``p = φ(P)`` from the peer's
parameters ``P`` to refsnn's, and the peer's own records (spikes, membranes). Its
:meth:`OracleNet.backward` runs refsnn's hand-derived adjoints (B1–B5, G1–G5 of
:mod:`refsnn.neurons.lif`) and returns the gradients *in the peer's names and shapes*
through the hand-derived chain rule ``∂L/∂P = J_φ(P)ᵀ ∂L/∂p`` of each map. Every map is on
``refsnn gradcheck``'s grid (family ``presets``, :mod:`refsnn.oracle.family`).

    >>> from refsnn.oracle import presets
    >>> net = presets.build("snntorch.Leaky", [{"weight": W1, "bias": b1}, {"weight": W2, "bias": b2}],
    ...                     beta=0.9, spike_grad="atan", alpha=2.0)
    >>> run = net.forward(x)                 # x: (T, B, n_in) float64, the input of the first Linear
    >>> run.spikes[-1], run.membranes[-1]    # the last layer's records, as the peer returns them
    >>> grads = net.backward(run, a_spikes, a_membranes)   # {"0.weight": ..., "1.beta": ...}

Peer parameters are named ``"<layer>.<name>"`` with the peer's attribute name (``"0.weight"``,
``"1.threshold"``, ``"0.recurrent.weight"``); a scalar peer parameter (``beta=0.9``) stays a
scalar, and its gradient is the sum of the per-neuron refsnn gradients it feeds.

The peers' conventions (read from their source: snnTorch 1.0.0, SpikingJelly 2.0.0,
Norse 1.1.0; Bellec et al. 2020; the SpyTorch tutorial) and the refsnn mapping of each are in
``docs/presets.md``; :data:`PRESETS` is the registry and :func:`table` prints it.

Three things every peer does and refsnn's default does not; each is a switch of the core
layer (:mod:`refsnn.neurons.lif`, "Switches"), and the presets set them:

1. **The initial spike is zero** (S1, ``init_spike="zero"``). refsnn's default derives
   ``s_{-1} = f(v_{-1} − θ)``, which is 0 here too (the initial membrane is below θ) but
   carries ``σ'(v_{-1} − θ)`` back to θ and ``v_{-1}``. With an attached reset, recurrence or
   adaptation that path changes θ-gradients by 1.5–46% against the peers.
2. **Same-step reset with a post-reset membrane record** (S4, ``membrane_view="post_reset"``).
   SpikingJelly, Norse and snnTorch with ``reset_delay=False`` reset in the step that
   spikes and return the membrane *after* the reset; refsnn's ``v_t`` is the charged,
   pre-reset membrane (SpikingJelly's ``H_t``) and ``Trajectory.membrane`` is then ``v⁺_t``.
   A loss on the peer's membrane is a loss on ``v⁺`` (adjoint terms P1, P2, G7).
3. **Shared scalar parameters** (S2). ``beta=0.9`` is one number for the layer. The maps
   broadcast it to refsnn's per-neuron vector and sum its gradient back (:func:`_unb`).

The e-prop ALIF uses the adaptive threshold (S3).
"""

from __future__ import annotations

import json
import math
import numbers
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from ..neurons.lif import LIFConfig as _LIFConfig, layer_backward, layer_forward, piecewise_linear, smooth_twin
from ..neurons.network import Network
from ..surrogates import surrogate

__all__ = ["PRESETS", "Preset", "OracleNet", "Run", "LayerMap", "View", "PresetError", "PeerQuirkError",
           "build", "preset_names", "table", "Overrides"]


class PresetError(ValueError):
    """Bad preset arguments or parameters; the message names what is wrong."""


class PeerQuirkError(PresetError):
    """The peer does something here that no refsnn model reproduces (the message says what)."""


def LIFConfig(n_in, n, **kw):
    """A refsnn layer as the peers start it: s_{-1} = 0 (lif.py S1, ``init_spike="zero"``)."""
    if kw.get("spiking", True):
        kw.setdefault("init_spike", "zero")
    return _LIFConfig(n_in, n, **kw)


# ---------------------------------------------------------------------------------------
# Small helpers: shared parameters, argument checks
# ---------------------------------------------------------------------------------------

def _vec(name, value, n):
    """A peer parameter (scalar, (1,) or (N,)) broadcast to refsnn's per-neuron (N,)."""
    a = np.asarray(value, dtype=np.float64)
    if a.shape not in ((), (1,), (n,)):
        raise PresetError(f"parameter {name!r} has shape {a.shape}; expected a scalar, (1,) or ({n},)")
    return np.broadcast_to(a.reshape(-1) if a.ndim else a, (n,)).astype(np.float64)


def _unb(g, like):
    """Adjoint of :func:`_vec`: sum a per-neuron gradient back to the peer parameter's shape."""
    shape = np.shape(like)
    if shape == (np.shape(g)[0],):
        return np.asarray(g, dtype=np.float64)
    return np.asarray(g.sum(), dtype=np.float64).reshape(shape)


def _real(name, value, low=None, high=None, low_open=False):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise PresetError(f"{name} must be a finite real number, got {value!r}")
    value = float(value)
    if low is not None and (value <= low if low_open else value < low):
        raise PresetError(f"{name} must be {'>' if low_open else '>='} {low}, got {value}")
    if high is not None and value > high:
        raise PresetError(f"{name} must be <= {high}, got {value}")
    return value


def _choice(name, value, choices):
    if value not in choices:
        raise PresetError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def _flag(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise PresetError(f"{name} must be True or False, got {value!r}")
    return bool(value)


# ---------------------------------------------------------------------------------------
# The membrane record a peer returns
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class View:
    """How the peer's records sit in time: ``shift`` delays them by that many steps (SpyTorch
    records the state before the update; the first ``shift`` entries are the initial value, 0).
    The membrane itself is :attr:`refsnn.neurons.lif.Trajectory.membrane`: the pre-reset ``v``
    or, with ``membrane_view="post_reset"`` (lif.py S4), the post-reset ``v⁺``."""

    shift: int = 0


# ---------------------------------------------------------------------------------------
# One layer's map
# ---------------------------------------------------------------------------------------

@dataclass
class LayerMap:
    """One peer layer as one refsnn layer.

    ``config`` is the refsnn layer; ``peer`` the peer's parameters (float64, peer shapes);
    ``to_refsnn(peer) -> params`` is φ and ``vjp(peer, g) -> peer grads`` its hand-derived
    transpose Jacobian; ``state0(peer, B)`` the refsnn initial state that matches the peer's;
    ``view`` the records' time shift.
    """

    config: LIFConfig
    peer: dict
    to_refsnn: Callable
    vjp: Callable
    state0: Callable
    view: View = field(default_factory=View)
    spike_shift: int = 0
    check_run: Callable | None = None   # raises PeerQuirkError where the map does not hold
    input_delay: int = 0                # layers l > 0: the layer below's spikes reach it this many steps late

    def params(self, peer=None):
        return self.to_refsnn(self.peer if peer is None else peer)


@dataclass(frozen=True)
class Overrides:
    """Convention switches that :mod:`refsnn.oracle.compare` tries one at a time.

    ``flip_detach`` (detach ↔ attach the reset), ``flip_h0`` (H(0) = 0 ↔ 1), ``from_v0``
    (keep refsnn's initial spike path instead of the peers' zero initial spike),
    ``flip_view`` (pre- ↔ post-reset membrane record), ``float32_spikes`` (round ∂L/∂s to
    float32 before σ', as a float32 spike tensor does), ``sg_scale``/``sg_gain`` (multiply
    the surrogate's scale or gain).
    """

    flip_detach: bool = False
    flip_h0: bool = False
    from_v0: bool = False
    flip_view: bool = False
    float32_spikes: bool = False
    sg_scale: float = 1.0
    sg_gain: float = 1.0


def _apply(cfg, view: View, ov: Overrides):
    if not cfg.spiking:
        return cfg, view
    if ov.flip_detach and cfg.reset != "none":
        cfg = replace(cfg, detach_reset=not cfg.detach_reset)
    if ov.flip_h0:
        cfg = replace(cfg, h0=1.0 - cfg.h0)
    if ov.from_v0:
        cfg = replace(cfg, init_spike="from_v0")
    if ov.sg_scale != 1.0 or ov.sg_gain != 1.0:
        sg = cfg.surrogate
        scale = None if sg.scale is None else sg.scale * ov.sg_scale
        cfg = replace(cfg, surrogate=surrogate(sg.name, scale, gain=sg.gain * ov.sg_gain))
    if ov.flip_view and cfg.reset not in ("none", "hard_drop_input"):
        cfg = replace(cfg, membrane_view="pre_reset" if cfg.membrane_view == "post_reset" else "post_reset")
    return cfg, view


# ---------------------------------------------------------------------------------------
# A network of peer layers
# ---------------------------------------------------------------------------------------

@dataclass
class Run:
    """A forward pass: refsnn trajectories and the peer's records per layer."""

    trajs: list
    spikes: list
    membranes: list
    x: np.ndarray


@dataclass
class OracleNet:
    preset: str
    kwargs: dict
    layers: list
    input_shift: int = 0
    overrides: Overrides = field(default_factory=Overrides)
    _net: Network | None = None
    _views: list | None = None

    def __post_init__(self):
        cfgs, views = [], []
        for lm in self.layers:
            c, v = _apply(lm.config, lm.view, self.overrides)
            cfgs.append(c)
            views.append(v)
        self._net = Network(tuple(cfgs))
        self._views = views

    @property
    def net(self) -> Network:
        """The refsnn network (with any overrides applied)."""
        return self._net

    @property
    def peer_params(self) -> dict:
        """Every peer parameter, ``{"<layer>.<name>": array}``."""
        return {f"{l}.{k}": v for l, lm in enumerate(self.layers) for k, v in lm.peer.items()}

    def with_peer_params(self, flat):
        """A copy with the peer parameters replaced (same keys; used by finite differences)."""
        layers = []
        for l, lm in enumerate(self.layers):
            layers.append(replace(lm, peer={k: np.asarray(flat[f"{l}.{k}"], np.float64) for k in lm.peer}))
        return replace(self, layers=layers)

    def with_overrides(self, ov: Overrides):
        return replace(self, overrides=ov)

    def refsnn_params(self):
        return [lm.params() for lm in self.layers]

    def _input(self, x):
        x = np.asarray(x, dtype=np.float64)
        if self.input_shift:
            y = np.zeros_like(x)
            y[self.input_shift:] = x[:-self.input_shift]
            return y
        return x

    def forward(self, x, twin=None, s_reset=None, s_threshold=None) -> Run:
        """Run the network on ``x`` ``(T, B, n_in)``; ``twin`` is None, "smooth" or "piecewise".

        ``s_reset[l]`` holds layer l's reset spikes fixed (:func:`refsnn.neurons.lif.layer_forward`;
        with a post-reset membrane it has a row T): finite differences of a detached reset
        differentiate with them held at their nominal values; ``s_threshold[l]`` does the same
        for the spikes of a detached threshold jump (lif S3, ``detach_threshold``).
        """
        x = _array("x", x)
        if x.ndim != 3 or x.shape[2] != self._net.layers[0].n_in:
            raise PresetError(f"x has shape {x.shape}; expected (T, B, {self._net.layers[0].n_in})")
        xin = self._input(x)
        B = x.shape[1]
        trajs, spikes, mems = [], [], []
        inp = xin
        for l, (lm, cfg, view) in enumerate(zip(self.layers, self._net.layers, self._views)):
            if twin == "smooth" and cfg.spiking:
                cfg = smooth_twin(cfg)
            elif twin == "piecewise" and cfg.spiking:
                cfg = piecewise_linear(cfg)
            p = lm.params()
            st = lm.state0(lm.peer, B)
            sr = None if s_reset is None else s_reset[l]
            if l and lm.input_delay:
                inp = _shift(inp, lm.input_delay)
            sth = None if s_threshold is None else s_threshold[l]
            tr = layer_forward(cfg, p, inp, st, sr, s_threshold=sth)
            if lm.check_run is not None and twin is None:
                lm.check_run(lm.peer, tr)
            trajs.append(tr)
            spikes.append(_shift(tr.s, lm.spike_shift))
            mems.append(_shift(tr.membrane, view.shift))
            inp = tr.s
        return Run(trajs, spikes, mems, x)

    def backward(self, run: Run, a_spikes=None, a_membranes=None, adjoints=None):
        """Peer-named gradients of a loss whose direct partials on the records are given.

        ``a_spikes[l]``, ``a_membranes[l]``: ``∂L/∂(record)`` of layer l (or None). Returns
        ``{"<layer>.<name>": ∂L/∂P, ..., "x": ∂L/∂x}``. If ``adjoints`` is a list, it is
        filled with one dict per layer (layer order): refsnn's per-step adjoints ``dv``,
        ``ds`` (``adjoints`` of :class:`~refsnn.neurons.lif.LayerGradients`, in refsnn's time,
        unshifted), the direct partials ``a_s``, ``a_v`` it was given (unshifted) and
        ``dI`` (δI_t, B5); :mod:`refsnn.oracle.diagnose` reads them.
        """
        n = len(self.layers)
        if not isinstance(run, Run):
            raise TypeError(f"run must be a Run from OracleNet.forward, got {type(run).__name__}")
        a_spikes = _partials("a_spikes", a_spikes, run, n)
        a_membranes = _partials("a_membranes", a_membranes, run, n)
        out = {}
        from_above = None
        for l in range(n - 1, -1, -1):
            lm, tr, view = self.layers[l], run.trajs[l], self._views[l]
            cfg = tr.config
            T, B, N = tr.v.shape
            a_s = np.zeros((T, B, N)) if cfg.spiking else None
            if a_spikes[l] is not None and cfg.spiking:
                a_s += _unshift(np.asarray(a_spikes[l], np.float64), lm.spike_shift)
            if from_above is not None:
                a_s += from_above
            # ∂L/∂(membrane record): refsnn's a^v, or ∂L/∂v⁺ with the post-reset view (P1, P2, G7)
            a_v = None if a_membranes[l] is None else _unshift(np.asarray(a_membranes[l], np.float64), view.shift)
            if self.overrides.float32_spikes and a_s is not None:
                a_s = a_s.astype(np.float32).astype(np.float64)
            g = layer_backward(tr, lm.params(), a_s, a_v)
            if adjoints is not None:
                dI = g.adjoints["dc"]
                adjoints.insert(0, {"dv": g.adjoints["dv"], "ds": g.adjoints["ds"], "dI": dI,
                                    "a_s": a_s, "a_v": a_v})
            peer_g = lm.vjp(lm.peer, {**g.params, "state0": g.state0})
            for k, v in peer_g.items():
                out[f"{l}.{k}"] = np.asarray(v, np.float64).reshape(np.shape(lm.peer[k]))
            from_above = _unshift(g.x, lm.input_delay) if l else g.x
        gx = from_above
        if self.input_shift:
            gx2 = np.zeros_like(gx)
            gx2[:-self.input_shift] = gx[self.input_shift:]
            gx = gx2
        out["x"] = gx
        return out


def _partials(name, a, run, n):
    """``n`` per-layer partials on the records, each None or a finite real array of the
    layer's record shape ``(T, B, N)``; PresetError names the argument otherwise."""
    if a is None:
        return [None] * n
    if not isinstance(a, (list, tuple)) or len(a) != n:
        raise PresetError(f"{name} must be a list of {n} per-layer arrays (or None), got {type(a).__name__}"
                          + (f" of length {len(a)}" if isinstance(a, (list, tuple)) else ""))
    out = []
    for l, (v, tr) in enumerate(zip(a, run.trajs)):
        if v is None:
            out.append(None)
            continue
        arr = _array(f"{name}[{l}]", v) if not isinstance(v, (dict, str)) else None
        if arr is None or arr.shape != tr.v.shape:
            got = type(v).__name__ if arr is None else f"shape {arr.shape}"
            raise PresetError(f"{name}[{l}] must be an array of layer {l}'s record shape {tr.v.shape}, got {got}")
        out.append(arr)
    return out


def _shift(a, k):
    if not k:
        return a
    out = np.zeros_like(a)
    out[k:] = a[:-k]
    return out


def _unshift(a, k):
    if not k:
        return a
    out = np.zeros_like(a)
    out[:-k] = a[k:]
    return out


# ---------------------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Preset:
    """A registered peer convention.

    ``build(layers, **kwargs) -> (list of LayerMap, input_shift)``; ``defaults`` are the
    peer's own argument defaults; ``layer_keys(l, n_layers)`` names the peer parameters a
    layer's dict must hold; ``timing`` names the kwarg that moves the reset between
    same-step and next-step (or None); ``peer`` the library and version the facts are from.
    """

    name: str
    peer: str
    defaults: dict
    build: Callable
    layer_keys: Callable
    equations: str
    mapping: str
    quirks: str = ""
    timing: str | None = None


PRESETS: dict[str, Preset] = {}


def register(preset: Preset):
    if preset.name in PRESETS:
        raise RuntimeError(f"preset {preset.name!r} registered twice")
    PRESETS[preset.name] = preset
    return preset


def preset_names():
    return tuple(PRESETS)


def _is_real(v):
    """A finite real number (not a bool): NaN, ±inf and a 400-digit integer are not."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        return False
    try:
        return math.isfinite(float(v))
    except OverflowError:
        return False


def _accepts(default):
    """What a preset argument whose peer default is ``default`` accepts, and its description."""
    if isinstance(default, bool):
        return (lambda v: isinstance(v, (bool, np.bool_))), "true or false"
    if isinstance(default, str):
        return (lambda v: isinstance(v, str)), "a string"
    if default is None:   # a value also given per layer (snnTorch's beta, V): a number or a vector of them
        def vector(v):
            if isinstance(v, np.ndarray):
                return v.ndim <= 1 and v.dtype.kind in "fiu" and bool(np.all(np.isfinite(v)))
            return isinstance(v, (list, tuple)) and all(map(_is_real, v))
        return (lambda v: v is None or _is_real(v) or vector(v)), "a number, a flat list of numbers or null"
    # None passes: some peers take it for a number (SpikingJelly's v_reset=None is the soft reset);
    # a preset that cannot map it refuses it itself, naming the argument
    return (lambda v: v is None or _is_real(v)), "a number"


def check_arguments(name, kwargs, unknown=True):
    """Each of the peer's arguments must be of the type of the peer's default for it (a bool,
    a string, a finite number or None, and for a default of None also a flat list of numbers).
    ``unknown=True`` also refuses names the preset does not take. Raises PresetError."""
    if not isinstance(name, str) or name not in PRESETS:
        raise PresetError(f"unknown preset {name!r}; expected one of: {', '.join(PRESETS)}")
    defaults = PRESETS[name].defaults
    if unknown:
        extra = sorted(set(kwargs) - set(defaults))
        if extra:
            raise PresetError(f"preset {name!r} takes no argument(s) {extra}; its arguments are {sorted(defaults)}")
    for k, v in kwargs.items():
        if k not in defaults:
            continue
        ok, what = _accepts(defaults[k])
        if not ok(v):
            shown = repr(v) if not isinstance(v, int) or abs(v) < 10**18 else f"an integer of {len(str(v))} digits"
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            raise PresetError(f"argument {k!r} of preset {name!r} must be {what} (its default is "
                              f"{defaults[k]!r}), got {shown}")


def build(name, layers, overrides: Overrides | None = None, **kwargs) -> OracleNet:
    """Build preset ``name`` from per-layer peer parameter dicts and the peer's arguments
    (each of the type of the peer's default, :func:`check_arguments`)."""
    check_arguments(name, kwargs)
    pre = PRESETS[name]
    kw = {**pre.defaults, **kwargs}
    if not isinstance(layers, (list, tuple)) or not layers:
        raise PresetError("layers must be a non-empty list of per-layer parameter dicts")
    clean = []
    for l, d in enumerate(layers):
        if not isinstance(d, dict):
            raise PresetError(f"layers[{l}] must be a dict of the peer's parameters, got {type(d).__name__}")
        want = pre.layer_keys(l, len(layers), kw)
        missing = [k for k in want["required"] if k not in d]
        extra = [k for k in d if k not in want["required"] and k not in want["optional"]]
        if missing or extra:
            raise PresetError(f"layer {l} of preset {name!r} needs the parameters {want['required']}"
                              + (f" (optional {want['optional']})" if want["optional"] else "")
                              + f"; missing {missing}, unexpected {extra}")
        clean.append({k: _array(f"{l}.{k}", v) for k, v in d.items()})
    maps, shift = pre.build(clean, **kw)
    for l in range(1, len(maps)):
        if maps[l].config.n_in != maps[l - 1].config.n:
            raise PresetError(f"layer {l} takes {maps[l].config.n_in} inputs but layer {l - 1} has "
                              f"{maps[l - 1].config.n} neurons")
    return OracleNet(name, kw, maps, shift, overrides or Overrides())


def _array(name, v):
    try:
        a = np.asarray(v)
    except (ValueError, TypeError, OverflowError) as exc:
        raise PresetError(f"parameter {name!r} is not an array of numbers ({exc})") from None
    if a.dtype.kind not in "fiu" or a.dtype == np.bool_:
        raise PresetError(f"parameter {name!r} must be a real array, got dtype {a.dtype}")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise PresetError(f"parameter {name!r} contains NaN or inf")
    return a


def _weight(name, W, b=None, n_in=None):
    if W.ndim != 2:
        raise PresetError(f"{name} must be a 2-D (out, in) weight, got shape {W.shape}")
    if b is not None and b.shape != (W.shape[0],):
        raise PresetError(f"the bias of {name} has shape {b.shape}; expected ({W.shape[0]},)")
    return W.shape[0], W.shape[1]


def _keys(required, optional=()):
    return {"required": list(required), "optional": list(optional)}


# --- surrogates, as the peers code them (refsnn.surrogates' table) -------------------------

# Every surrogate that docs/conventions.md lists for snnTorch, SpikingJelly and Norse, as a preset
# option (tests/test_preset_surrogates.py matches each against the library in float64), or the reason
# it is not one.

SNNTORCH_SURROGATES = ("atan", "fast_sigmoid", "sigmoid")
SJ_SURROGATES = {"Sigmoid": 4.0, "ATan": 2.0, "PiecewiseQuadratic": 1.0, "PiecewiseExp": 1.0, "Rect": 1.0,
                 "SuperSpike": 1.0}      # SpikingJelly's name → its default alpha
NORSE_SURROGATES = ("super",)
NOT_PRESET_OPTIONS = {
    "snntorch triangular": "its backward is +k for x < 0 and −k for x ≥ 0: negative above threshold, not a "
                           "density and the derivative of no spike-like function, so no refsnn surrogate (a "
                           "σ' ≥ 0 with a primitive, the smooth twin) is it; a known snnTorch bug",
}


def _snntorch_sg(spike_grad, alpha, slope):
    if spike_grad == "triangular":
        raise PresetError("spike_grad='triangular' is not mapped: " + NOT_PRESET_OPTIONS["snntorch triangular"])
    _choice("spike_grad", spike_grad, SNNTORCH_SURROGATES)
    if spike_grad == "atan":
        return surrogate("arctan", _real("alpha", alpha, 0, low_open=True))
    k = _real("slope", slope, 0, low_open=True)
    if spike_grad == "sigmoid":
        return surrogate("sigmoid", k)                     # k e^{−kx}/(e^{−kx} + 1)² = k S(kx)(1 − S(kx))
    return surrogate("superspike", k, gain=2.0 / k)        # fast_sigmoid: 1/(k|x| + 1)²


def _sj_sg(name, alpha):
    _choice("surrogate_function", name, tuple(SJ_SURROGATES))
    a = _real("alpha", SJ_SURROGATES[name] if alpha is None else alpha, 0, low_open=True)
    if name == "Sigmoid":
        return surrogate("sigmoid", a)                     # α σ(αx)(1 − σ(αx))
    if name == "ATan":
        return surrogate("arctan", a)                      # (α/2)/(1 + (παx/2)²)
    if name == "PiecewiseQuadratic":
        return surrogate("triangle", 1.0 / a)              # α − α²|x| on |x| ≤ 1/α
    if name == "PiecewiseExp":
        return surrogate("exponential", a)                 # (α/2) e^{−α|x|}
    if name == "Rect":
        return surrogate("boxcar", 0.5 / a)                # α on |x| < 1/(2α)
    return surrogate("superspike", 1.0, gain=2.0 * a)      # SuperSpike: α/(|x| + 1)²


def _norse_sg(method):
    _choice("method", method, NORSE_SURROGATES)
    # Norse 1.1.0's SuperSpike.backward is grad / (|x| + 1)²: α is never read.
    return surrogate("superspike", 1.0, gain=2.0)


# --- snnTorch 1.0 -------------------------------------------------------------------------

_SNN_DEFAULTS = dict(beta=None, threshold=1.0, reset_mechanism="subtract", reset_delay=True,
                     learn_beta=False, learn_threshold=False, spike_grad="atan", alpha=2.0, slope=25.0)


def _snn_common(kw, need_beta=True):
    _choice("reset_mechanism", kw["reset_mechanism"], ("subtract", "zero", "none"))
    _flag("reset_delay", kw["reset_delay"])
    _flag("learn_beta", kw["learn_beta"])
    _flag("learn_threshold", kw["learn_threshold"])
    return _snntorch_sg(kw["spike_grad"], kw["alpha"], kw["slope"])


def _snn_neuron_params(d, kw, N, names=("beta",)):
    """Per-layer neuron values: from the layer dict (state_dict values) or the kwargs."""
    out = {}
    for name in names + ("threshold",):
        v = d.get(name, kw.get(name))
        if v is None:
            raise PresetError(f"{name} must be given (as a preset argument or a layer parameter)")
        v = np.asarray(v, dtype=np.float64)
        _vec(name, v, N)
        out[name] = v
    for name in names:
        if np.any(out[name] <= 0) or np.any(out[name] > 1):
            raise PresetError(f"{name} must lie in (0, 1]; snnTorch clamps it to [0, 1] and refsnn "
                              f"needs a decay factor > 0 (got values in [{out[name].min()}, {out[name].max()}])")
    if np.any(out["threshold"] <= 0):
        raise PresetError("threshold must be > 0")
    return out


def _build_leaky(layers, **kw):
    sg = _snn_common(kw)
    mech, delay = kw["reset_mechanism"], kw["reset_delay"]
    maps = []
    for l, d in enumerate(layers):
        N, M = _weight(f"layer {l} weight", d["weight"], d.get("bias"))
        peer = {"weight": d["weight"], "bias": d.get("bias", np.zeros(N)),
                **_snn_neuron_params(d, kw, N)}
        if delay or mech == "none":
            # U_t = β U_{t-1} + I_t − R_t θ (R_t = H(U_{t-1} − θ), detached), or (1 − R_t) β U_{t-1} + I_t.
            reset = {"subtract": "subtract", "zero": "hard_keep_input", "none": "none"}[mech]
            cfg = LIFConfig(M, N, surrogate=sg, h0=0.0, reset=reset, detach_reset=True)
            check = None
        else:
            # reset_delay=False: same-step reset, attached (do_reset = spk − reset carries spk's
            # gradient); the returned membrane is post-reset. Exact while the delayed reset R_t
            # stays 0 (see the quirk and _check_no_delayed_reset).
            reset = "subtract" if mech == "subtract" else "hard_keep_input"
            cfg = LIFConfig(M, N, surrogate=sg, h0=0.0, reset=reset, detach_reset=False,
                            membrane_view="post_reset")
            check = _check_no_delayed_reset
        maps.append(LayerMap(cfg, peer, _leaky_phi(mech, delay), _leaky_vjp(mech, delay),
                             _zeros_state, View(), check_run=check))
    return maps, 0


def _leaky_phi(mech, delay):
    def phi(P):
        N = P["weight"].shape[0]
        beta, th = _vec("beta", P["beta"], N), _vec("threshold", P["threshold"], N)
        p = {"W": P["weight"], "b": P["bias"], "alpha": beta, "theta": th}
        if mech == "subtract":
            p["gamma"] = th if delay else beta * th          # same-step: β(U − θS) ⇒ γ = βθ
        elif mech == "zero":
            p["v_reset"] = np.zeros(N)
        return p
    return phi


def _leaky_vjp(mech, delay):
    def vjp(P, g):
        N = P["weight"].shape[0]
        beta, th = _vec("beta", P["beta"], N), _vec("threshold", P["threshold"], N)
        gb, gt = g["alpha"].copy(), g["theta"].copy()
        if mech == "subtract":
            if delay:
                gt += g["gamma"]                              # γ = θ
            else:
                gt += beta * g["gamma"]                       # γ = βθ
                gb += th * g["gamma"]
        return {"weight": g["W"], "bias": g["b"], "beta": _unb(gb, P["beta"]),
                "threshold": _unb(gt, P["threshold"])}
    return vjp


def _zeros_state(P, B):
    return None


def _check_no_delayed_reset(P, tr):
    """snnTorch ``reset_delay=False`` also subtracts the delayed reset ``R_t = H(U'_{t-1} − θ)``
    and adds it back after the spike test; the map is exact while every post-reset membrane
    ``U'_t`` stays at or below θ (then R ≡ 0)."""
    N = tr.v.shape[2]
    th = _vec("threshold", P["threshold"], N)
    bad = np.argwhere(tr.membrane > th)            # the post-reset U'_t (lif.py S4)
    if bad.size:
        t, b, n = (int(i) for i in bad[0])
        raise PeerQuirkError(
            "snnTorch reset_delay=False quirk: the post-reset membrane exceeds the threshold at "
            f"(t={t}, batch={b}, neuron={n}), so snnTorch subtracts a delayed reset θ·H(U'_{{t}} − θ) at "
            "the next step before the spike test and adds it back after it; the spike test then "
            "sees an extra −θ. No refsnn model reproduces this (docs/presets.md, 'Quirks'); use "
            "reset_delay=True, or inputs that keep U' <= θ.")


register(Preset(
    "snntorch.Leaky", "snnTorch 1.0.0", _SNN_DEFAULTS, _build_leaky,
    lambda l, n, kw: _keys(["weight"], ["bias", "beta", "threshold"]),
    "U_t = β U_{t−1} + I_t − R_t θ, R_t = H(U_{t−1} − θ) detached, S_t = H(U_t − θ) with H(0) = 0; "
    "zero: U_t = β(1 − R_t) U_{t−1} + I_t; reset_delay=False: same-step reset, post-reset U returned",
    "α = β, θ = threshold, γ = θ (subtract), hard_keep_input with v_r = 0 (zero), detach_reset=True, "
    "h0 = 0, init spike 0; reset_delay=False: attached, γ = βθ, post-reset membrane view",
    "reset_delay=False with subtract: the delayed reset is subtracted and added back, so the spike "
    "test sees an extra −θ whenever the post-reset membrane is still above θ (β=1, θ=1, inputs 2.5, "
    "0.2, 0, 0 give membranes 1.5, 1.7, 1.7, 1.7); refused with PeerQuirkError. Stock surrogates "
    "return float32 spikes; Leaky(beta=0.9) stores β as float32.",
    timing="reset_delay"))


def _build_synaptic(layers, **kw):
    sg = _snn_common(kw)
    if not kw["reset_delay"]:
        raise PresetError("snntorch.Synaptic: only reset_delay=True is mapped (reset_delay=False "
                          "has the quirk of snntorch.Leaky); use reset_delay=True")
    _flag("learn_alpha", kw["learn_alpha"])
    mech = kw["reset_mechanism"]
    maps = []
    for l, d in enumerate(layers):
        N, M = _weight(f"layer {l} weight", d["weight"], d.get("bias"))
        dd = {("alpha_syn" if k == "alpha" else k): v for k, v in d.items()}   # the state_dict's alpha
        peer = {"weight": d["weight"], "bias": d.get("bias", np.zeros(N)),
                **_snn_neuron_params(dd, kw, N, names=("alpha_syn", "beta"))}
        peer["alpha"] = peer.pop("alpha_syn")
        reset = {"subtract": "subtract", "zero": "hard_drop_input", "none": "none"}[mech]
        cfg = LIFConfig(M, N, surrogate=sg, h0=0.0, reset=reset, detach_reset=True, synapse=True)

        def phi(P, mech=mech):
            N = P["weight"].shape[0]
            th = _vec("threshold", P["threshold"], N)
            p = {"W": P["weight"], "b": P["bias"], "alpha": _vec("beta", P["beta"], N), "theta": th,
                 "lam": _vec("alpha", P["alpha"], N)}
            if mech == "subtract":
                p["gamma"] = th
            elif mech == "zero":
                p["v_reset"] = np.zeros(N)
            return p

        def vjp(P, g, mech=mech):
            gt = g["theta"] + (g["gamma"] if mech == "subtract" else 0.0)
            return {"weight": g["W"], "bias": g["b"], "beta": _unb(g["alpha"], P["beta"]),
                    "alpha": _unb(g["lam"], P["alpha"]), "threshold": _unb(gt, P["threshold"])}

        maps.append(LayerMap(cfg, peer, phi, vjp, _zeros_state, View()))
    return maps, 0


register(Preset(
    "snntorch.Synaptic", "snnTorch 1.0.0",
    {**_SNN_DEFAULTS, "alpha_syn": None, "learn_alpha": False}, _build_synaptic,
    lambda l, n, kw: _keys(["weight"], ["bias", "alpha", "beta", "threshold"]),
    "I^syn_t = α I^syn_{t−1} + I_t, U_t = β U_{t−1} + I^syn_t − R_t θ (R detached); "
    "zero: U_t = (1 − R_t)(β U_{t−1} + I^syn_t)",
    "λ = α (the synaptic decay, preset argument alpha_syn since alpha is the surrogate's), "
    "α = β, γ = θ; zero is hard_drop_input (the new input is dropped, unlike Leaky's zero)",
    "Synaptic's zero reset drops the new input; Leaky's keeps it.", timing="reset_delay"))


def _build_rleaky(layers, **kw):
    sg = _snn_common(kw)
    if not kw["reset_delay"]:
        raise PresetError("snntorch.RLeaky: only reset_delay=True is mapped; use reset_delay=True")
    a2a = _flag("all_to_all", kw["all_to_all"])
    mech = kw["reset_mechanism"]
    maps = []
    for l, d in enumerate(layers):
        N, M = _weight(f"layer {l} weight", d["weight"], d.get("bias"))
        peer = {"weight": d["weight"], "bias": d.get("bias", np.zeros(N)), **_snn_neuron_params(d, kw, N)}
        if a2a:
            peer["recurrent.weight"] = d["recurrent.weight"]
            if peer["recurrent.weight"].shape != (N, N):
                raise PresetError(f"layer {l} recurrent.weight must be ({N}, {N})")
            peer["recurrent.bias"] = d.get("recurrent.bias", np.zeros(N))
        else:
            peer["V"] = d.get("V", kw.get("V"))
            if peer["V"] is None:
                raise PresetError("all_to_all=False needs V (a layer parameter or preset argument)")
            peer["V"] = np.asarray(peer["V"], np.float64)
            _vec("V", peer["V"], N)
        reset = {"subtract": "subtract", "zero": "hard_drop_input", "none": "none"}[mech]
        cfg = LIFConfig(M, N, surrogate=sg, h0=0.0, reset=reset, detach_reset=True, recurrent=True)

        def phi(P, mech=mech, a2a=a2a):
            N = P["weight"].shape[0]
            th = _vec("threshold", P["threshold"], N)
            if a2a:
                R, b = P["recurrent.weight"], P["bias"] + P["recurrent.bias"]
            else:
                R, b = np.diag(_vec("V", P["V"], N)), P["bias"]
            p = {"W": P["weight"], "b": b, "R": R, "alpha": _vec("beta", P["beta"], N), "theta": th}
            if mech == "subtract":
                p["gamma"] = th
            elif mech == "zero":
                p["v_reset"] = np.zeros(N)
            return p

        def vjp(P, g, mech=mech, a2a=a2a):
            gt = g["theta"] + (g["gamma"] if mech == "subtract" else 0.0)
            out = {"weight": g["W"], "bias": g["b"], "beta": _unb(g["alpha"], P["beta"]),
                   "threshold": _unb(gt, P["threshold"])}
            if a2a:
                out["recurrent.weight"] = g["R"]
                out["recurrent.bias"] = g["b"]
            else:
                out["V"] = _unb(np.diag(g["R"]).copy(), P["V"])
            return out

        maps.append(LayerMap(cfg, peer, phi, vjp, _zeros_state, View()))
    return maps, 0


register(Preset(
    "snntorch.RLeaky", "snnTorch 1.0.0", {**_SNN_DEFAULTS, "all_to_all": True, "V": None}, _build_rleaky,
    lambda l, n, kw: (_keys(["weight", "recurrent.weight"], ["bias", "recurrent.bias", "beta", "threshold"])
                      if kw.get("all_to_all", True) else _keys(["weight"], ["bias", "beta", "threshold", "V"])),
    "U_t = β U_{t−1} + I_t + V(S_{t−1}) − R_t θ; zero: U_t = (1 − R_t)(β U_{t−1} + I_t + V(S_{t−1})); "
    "S_{−1} = 0; V a Linear(N, N) (all_to_all) or a per-neuron gain",
    "R = recurrent.weight (or diag V), b = bias + recurrent.bias, α = β, γ = θ, detached reset; zero is "
    "hard_drop_input; recurrent spikes carry gradient",
    "RLeaky's zero reset drops the new input (Leaky's keeps it).", timing="reset_delay"))


# --- SpikingJelly 2.0 ---------------------------------------------------------------------
#
# Charge H_t = V_{t-1} + (X_t − (V_{t-1} − V_r)) a (decay_input=True) or V_{t-1} − (V_{t-1} − V_r) a + X_t,
# with a = 1/τ (LIFNode), σ(w) (ParametricLIFNode), or H_t = V_{t-1} + X_t (IFNode); V_r = v_reset
# (0 when v_reset is None). Fire S_t = H(H_t − θ), H(0) = 1. Reset V_t = H_t − θ S̃_t (v_reset None)
# or (1 − S̃_t) H_t + S̃_t v_reset. With v ≡ H: H_{t+1} = α V_t + k X_{t+1} + a V_r, α = 1 − a, so
# W = k W_P, b = k b_P + a V_r, γ = αθ (subtract), v_r = α v_reset (to a value, keeping the input).

_SJ_DEFAULTS = dict(tau=2.0, decay_input=True, v_threshold=1.0, v_reset=0.0, detach_reset=False,
                    surrogate_function="Sigmoid", alpha=None)     # None: the surrogate's own default alpha


def _build_sj(kind):
    def build(layers, **kw):
        sg = _sj_sg(kw["surrogate_function"], kw["alpha"])
        th = _real("v_threshold", kw["v_threshold"], 0, low_open=True)
        vr = None if kw["v_reset"] is None else _real("v_reset", kw["v_reset"])
        if vr is not None and vr >= th:
            raise PresetError(f"v_reset ({vr}) must lie below v_threshold ({th}): SpikingJelly starts "
                              "from V = v_reset")
        detach = _flag("detach_reset", kw["detach_reset"])
        decay_input = _flag("decay_input", kw["decay_input"]) and kind != "IF"
        tau = _real("tau", kw["tau"], 1.0, low_open=True) if kind == "LIF" else None
        maps = []
        for l, d in enumerate(layers):
            N, M = _weight(f"layer {l} weight", d["weight"], d.get("bias"))
            peer = {"weight": d["weight"], "bias": d.get("bias", np.zeros(N))}
            if kind == "PLIF":
                if "w" in d:
                    peer["w"] = np.asarray(d["w"], np.float64).reshape(())
                else:
                    init_tau = _real("init_tau", kw["init_tau"], 1.0, low_open=True)
                    peer["w"] = np.asarray(-math.log(init_tau - 1.0))
            reset = "subtract" if vr is None else "hard_keep_input"
            cfg = LIFConfig(M, N, surrogate=sg, h0=1.0, reset=reset, detach_reset=detach,
                            membrane_view="post_reset")
            maps.append(LayerMap(cfg, peer, _sj_phi(kind, tau, th, vr, decay_input),
                                 _sj_vjp(kind, tau, th, vr, decay_input), _sj_state(vr), View()))
        return maps, 0
    return build


def _sj_rate(kind, tau, P):
    """The charge's leak rate a: 1/τ (LIFNode), σ(w) (ParametricLIFNode), 0 (IFNode)."""
    if kind == "LIF":
        return 1.0 / tau
    if kind == "PLIF":
        return 1.0 / (1.0 + math.exp(-float(P["w"])))
    return 0.0


def _sj_phi(kind, tau, th, vr, decay_input):
    def phi(P):
        N = P["weight"].shape[0]
        a = _sj_rate(kind, tau, P)
        alpha = 1.0 - a
        k = a if decay_input else 1.0
        Vr = 0.0 if vr is None else vr
        p = {"W": k * P["weight"], "b": k * P["bias"] + a * Vr, "alpha": np.full(N, alpha),
             "theta": np.full(N, th)}
        if vr is None:
            p["gamma"] = np.full(N, alpha * th)            # V = H − θS, then decay: γ = αθ
        else:
            p["v_reset"] = np.full(N, alpha * vr)          # V = v_reset, then decay: v_r = α v_reset
        return p
    return phi


def _sj_vjp(kind, tau, th, vr, decay_input):
    def vjp(P, g):
        a = _sj_rate(kind, tau, P)
        k = a if decay_input else 1.0
        out = {"weight": k * g["W"], "bias": k * g["b"]}
        if kind == "PLIF":
            # ∂/∂a of α = 1 − a, W = k W_P, b = k b_P + a V_r, γ = αθ, v_r = α v_reset; da/dw = a(1 − a).
            Vr = 0.0 if vr is None else vr
            ga = -g["alpha"].sum() + Vr * g["b"].sum()
            if decay_input:
                ga += (g["W"] * P["weight"]).sum() + (g["b"] * P["bias"]).sum()
            ga += -th * g["gamma"].sum() if vr is None else -vr * g["v_reset"].sum()
            out["w"] = np.asarray(ga * a * (1.0 - a))
        return out
    return vjp


def _sj_state(vr):
    def state0(P, B):
        if vr is None:
            return None
        return {"v": np.full((B, P["weight"].shape[0]), vr)}   # SpikingJelly starts from V = v_reset
    return state0


_SJ_EQ = ("H_t = V_{t−1} + (X_t − (V_{t−1} − V_r))/τ (decay_input) or V_{t−1} − (V_{t−1} − V_r)/τ + X_t; "
          "S_t = H(H_t − θ), H(0) = 1; V_t = H_t − θ S̃_t (v_reset None) or (1 − S̃_t) H_t + S̃_t v_reset")
_SJ_MAP = ("v ≡ H, α = 1 − 1/τ, W = W_P/τ and b = b_P/τ + V_r/τ (decay_input), γ = αθ or hard_keep_input "
           "with v_r = α v_reset, h0 = 1, detach_reset as given, post-reset membrane view, V_{−1} = v_reset")

register(Preset("spikingjelly.LIFNode", "SpikingJelly 2.0.0", _SJ_DEFAULTS, _build_sj("LIF"),
                lambda l, n, kw: _keys(["weight"], ["bias"]), _SJ_EQ, _SJ_MAP,
                "The recorded v_seq is the post-reset membrane."))
register(Preset("spikingjelly.ParametricLIFNode", "SpikingJelly 2.0.0",
                {k: v for k, v in {**_SJ_DEFAULTS, "init_tau": 2.0}.items() if k != "tau"}, _build_sj("PLIF"),
                lambda l, n, kw: _keys(["weight"], ["bias", "w"]),
                _SJ_EQ.replace("/τ", "·σ(w)"), _SJ_MAP.replace("1/τ", "σ(w)").replace("/τ", "·σ(w)")
                + "; ∂L/∂w = a(1 − a) ∂L/∂a",
                "w is a float32 parameter even in a float64 network (cast the module with .double())."))
register(Preset("spikingjelly.IFNode", "SpikingJelly 2.0.0",
                {k: v for k, v in _SJ_DEFAULTS.items() if k not in ("tau", "decay_input")}
                | {"decay_input": False}, _build_sj("IF"),
                lambda l, n, kw: _keys(["weight"], ["bias"]),
                "H_t = V_{t−1} + X_t; fire and reset as LIFNode", "α = 1, W = W_P, b = b_P, γ = θ or v_r = v_reset"))


# --- Norse 1.1 ----------------------------------------------------------------------------
#
# Feed-forward LIFCell (after a Linear): i⁺_t = i_{t−1} + X_t; v̂_t = V_{t−1} + dt τ_m⁻¹ (v_leak − V_{t−1}
# + i⁺_t); i_t = (1 − dt τ_s⁻¹) i⁺_t; z_t = H(v̂_t − v_th), H(0) = 0; V_t = (1 − z_t) v̂_t + z_t v_reset
# (attached). With v ≡ v̂ and c_t ≡ a i⁺_t (a = dt τ_m⁻¹): c_t = λ c_{t−1} + a X_t, v_t = α V_{t−1} + c_t,
# so W = a W_P, b = a b_P, λ = 1 − dt τ_s⁻¹, α = 1 − a, v_r = α v_reset, reset to a value keeping the input.

_NORSE_DEFAULTS = dict(tau_syn_inv=200.0, tau_mem_inv=100.0, v_leak=0.0, v_th=1.0, v_reset=0.0,
                       method="super", alpha=100.0, dt=0.001)
_NORSE_P = ("tau_syn_inv", "tau_mem_inv", "v_th", "v_reset")


def _build_norse(kind):
    def build(layers, **kw):
        sg = _norse_sg(kw["method"])
        dt = _real("dt", kw["dt"], 0, low_open=True)
        if _real("v_leak", kw["v_leak"]) != 0.0:
            raise PresetError("v_leak must be 0 in the Norse presets (a nonzero leak potential is not mapped)")
        autapses = _flag("autapses", kw.get("autapses", False))
        names = [n for n in _NORSE_P if not (kind == "box" and n == "tau_syn_inv")]
        maps = []
        for l, d in enumerate(layers):
            if kind == "recurrent":
                W = d["input_weights"]
                N, M = _weight(f"layer {l} input_weights", W)
                peer = {"input_weights": W, "recurrent_weights": d["recurrent_weights"]}
                if peer["recurrent_weights"].shape != (N, N):
                    raise PresetError(f"layer {l} recurrent_weights must be ({N}, {N})")
            else:
                N, M = _weight(f"layer {l} weight", d["weight"], d.get("bias"))
                peer = {"weight": d["weight"], "bias": d.get("bias", np.zeros(N))}
            for name in names:
                v = np.asarray(d.get(name, kw[name]), np.float64)
                _vec(name, v, N)
                peer[name] = v
            if np.any(peer["v_reset"] >= peer["v_th"]):
                raise PresetError("v_reset must lie below v_th")
            cfg = LIFConfig(M, N, surrogate=sg, h0=0.0, reset="hard_keep_input",
                            detach_reset=(kind == "recurrent"), synapse=(kind != "box"),
                            recurrent=(kind == "recurrent"), membrane_view="post_reset")
            maps.append(LayerMap(cfg, peer, _norse_phi(kind, dt), _norse_vjp(kind, dt, autapses),
                                 _zeros_state, View()))
        return maps, 0
    return build


def _norse_phi(kind, dt):
    def phi(P):
        Wkey = "input_weights" if kind == "recurrent" else "weight"
        N = P[Wkey].shape[0]
        a = dt * _vec("tau_mem_inv", P["tau_mem_inv"], N)
        alpha = 1.0 - a
        if np.any(alpha <= 0) or np.any(alpha > 1):
            raise PresetError("dt * tau_mem_inv must lie in [0, 1) (forward Euler with a decaying membrane)")
        p = {"W": a[:, None] * P[Wkey], "alpha": alpha, "theta": _vec("v_th", P["v_th"], N),
             "v_reset": alpha * _vec("v_reset", P["v_reset"], N)}
        p["b"] = np.zeros(N) if kind == "recurrent" else a * P["bias"]
        if kind == "recurrent":
            p["R"] = a[:, None] * P["recurrent_weights"]
        if kind != "box":
            p["lam"] = 1.0 - dt * _vec("tau_syn_inv", P["tau_syn_inv"], N)
        return p
    return phi


def _norse_vjp(kind, dt, autapses):
    def vjp(P, g):
        Wkey = "input_weights" if kind == "recurrent" else "weight"
        N = P[Wkey].shape[0]
        a = dt * _vec("tau_mem_inv", P["tau_mem_inv"], N)
        vres = _vec("v_reset", P["v_reset"], N)
        # a enters W = a W_P, b = a b_P, R = a R_P, α = 1 − a, v_r = (1 − a) v_reset.
        ga = (g["W"] * P[Wkey]).sum(axis=1) - g["alpha"] - vres * g["v_reset"]
        out = {Wkey: a[:, None] * g["W"]}
        if kind == "recurrent":
            ga = ga + (g["R"] * P["recurrent_weights"]).sum(axis=1)
            gR = a[:, None] * g["R"]
            if not autapses:
                gR = gR.copy()
                np.fill_diagonal(gR, 0.0)      # Norse's gradient hook zeroes the autapses' gradient
            out["recurrent_weights"] = gR
        else:
            ga = ga + g["b"] * P["bias"]
            out["bias"] = a * g["b"]
        out["tau_mem_inv"] = _unb(dt * ga, P["tau_mem_inv"])
        out["v_th"] = _unb(g["theta"], P["v_th"])
        out["v_reset"] = _unb((1.0 - a) * g["v_reset"], P["v_reset"])
        if kind != "box":
            out["tau_syn_inv"] = _unb(-dt * g["lam"], P["tau_syn_inv"])
        return out
    return vjp


_NORSE_EQ = ("i⁺_t = i_{t−1} + X_t, v̂_t = V_{t−1} + dt τ_m⁻¹(v_leak − V_{t−1} + i⁺_t), i_t = (1 − dt τ_s⁻¹) i⁺_t, "
             "z_t = H(v̂_t − v_th) with H(0) = 0, V_t = (1 − z_t) v̂_t + z_t v_reset")
_NORSE_MAP = ("v ≡ v̂, c ≡ a i⁺ (a = dt τ_m⁻¹): W = a W_P, b = a b_P, α = 1 − a, λ = 1 − dt τ_s⁻¹, "
              "hard_keep_input with v_r = α v_reset, h0 = 0, post-reset membrane view")
_NORSE_Q = ("method='super' ignores alpha: the backward is 1/(|x| + 1)²; default LIFParameters are float32 "
            "tensors; LIFCell's initial i is a float32 tensor")

register(Preset("norse.LIFCell", "Norse 1.1.0", _NORSE_DEFAULTS, _build_norse("ff"),
                lambda l, n, kw: _keys(["weight"], ["bias", *_NORSE_P]),
                _NORSE_EQ + " (z attached in the reset)", _NORSE_MAP + ", attached reset", _NORSE_Q))
register(Preset("norse.LIFBoxCell", "Norse 1.1.0",
                {k: v for k, v in _NORSE_DEFAULTS.items() if k != "tau_syn_inv"}, _build_norse("box"),
                lambda l, n, kw: _keys(["weight"], ["bias", "tau_mem_inv", "v_th", "v_reset"]),
                "v̂_t = V_{t−1} + dt τ_m⁻¹(X_t + v_leak − V_{t−1}); fire and reset as LIFCell (no current)",
                "W = a W_P, b = a b_P, α = 1 − a, no synapse, hard_keep_input with v_r = α v_reset, attached",
                _NORSE_Q))
register(Preset("norse.LIFRecurrentCell", "Norse 1.1.0", {**_NORSE_DEFAULTS, "autapses": False},
                _build_norse("recurrent"),
                lambda l, n, kw: _keys(["input_weights", "recurrent_weights"], list(_NORSE_P)),
                _NORSE_EQ.replace("X_t", "x_t W_inᵀ + z_{t−1} W_recᵀ") + " (z detached in the reset)",
                _NORSE_MAP.replace("b = a b_P", "R = a W_rec, b = 0") + ", detached reset",
                _NORSE_Q + "; autapses=False zeroes the diagonal of recurrent_weights' gradient"))


# Norse LSNNCell (feed-forward, one layer): v̂_t = V_{t−1} + a(v_leak − V_{t−1} + i_{t−1}),
# i_t = (1 − dt τ_s⁻¹) i_{t−1} + X_t (the input is added *after* the spike test: a one-step input
# delay), b̂_t = b_{t−1} + dt τ_a⁻¹ (v_th − b_{t−1}), z_t = H(v̂_t − b̂_t), V_t = (1 − z_t) v̂_t + z_t v_reset,
# b_t = b̂_t + β z_t (both attached). lif.py S3: θ = v_th, ρ_a = 1 − dt τ_a⁻¹, β_a = ρ_a β, a_{−1} = 0,
# with the input fed one step late (c_t = a i_{t−1}).

_LSNN_P = ("tau_syn_inv", "tau_mem_inv", "tau_adapt_inv", "v_th", "v_reset", "beta")


def _build_lsnn(layers, **kw):
    sg = _norse_sg(kw["method"])
    dt = _real("dt", kw["dt"], 0, low_open=True)
    if _real("v_leak", kw["v_leak"]) != 0.0:
        raise PresetError("v_leak must be 0 in the Norse presets (a nonzero leak potential is not mapped)")
    return [_lsnn_layer(l, d, kw, sg, dt) for l, d in enumerate(layers)], 1


def _lsnn_layer(l, d, kw, sg, dt, recurrent=False, autapses=False):
    """One LSNNCell (or LSNNRecurrentCell) layer. Every layer adds its input after its spike test, so
    each sees the spikes of the layer below one step late: the network input is shifted once
    (input_shift = 1) and every higher layer's input once more (``input_delay=1``); δx is shifted back
    in the backward pass. The recurrent cell also adds its recurrent spikes after the spike test:
    ``z_{t−2}`` drives ``v̂_t``, refsnn's ``recurrent_delay=2`` (lif S6), and it detaches both the reset
    and the threshold jump (``z_new.detach()``)."""
    Wk = "input_weights" if recurrent else "weight"
    N, M = _weight(f"layer {l} {Wk}", d[Wk], None if recurrent else d.get("bias"))
    if recurrent:
        peer = {Wk: d[Wk], "recurrent_weights": d["recurrent_weights"]}
        if peer["recurrent_weights"].shape != (N, N):
            raise PresetError(f"layer {l} recurrent_weights must be ({N}, {N})")
    else:
        peer = {Wk: d[Wk], "bias": d.get("bias", np.zeros(N))}
    for name in _LSNN_P:
        v = np.asarray(d.get(name, kw[name]), np.float64)
        _vec(name, v, N)
        peer[name] = v
    cfg = LIFConfig(M, N, surrogate=sg, h0=0.0, reset="hard_keep_input", detach_reset=recurrent, synapse=True,
                    adaptive_threshold=True, detach_threshold=recurrent, membrane_view="post_reset",
                    recurrent=recurrent, recurrent_delay=2 if recurrent else 1)
    zeros = np.zeros(N)

    def phi(P):
        a = dt * _vec("tau_mem_inv", P["tau_mem_inv"], N)
        rho_a = 1.0 - dt * _vec("tau_adapt_inv", P["tau_adapt_inv"], N)
        out = {"W": a[:, None] * P[Wk], "b": a * P.get("bias", zeros), "alpha": 1.0 - a,
               "theta": _vec("v_th", P["v_th"], N), "v_reset": (1.0 - a) * _vec("v_reset", P["v_reset"], N),
               "lam": 1.0 - dt * _vec("tau_syn_inv", P["tau_syn_inv"], N),
               "beta_a": rho_a * _vec("beta", P["beta"], N), "rho_a": rho_a}
        if recurrent:
            out["R"] = a[:, None] * P["recurrent_weights"]
        return out

    b_init = _vec("v_th", peer["v_th"], N).copy()   # Norse's initial b = v_th.detach(): a constant

    def state0(P, B):
        # The input x_{t-1} reaches step t; the bias must be delayed with it: c_0 = λ c_{-1} + a b = 0.
        # The threshold starts at b_{-1} = b_init: a_{-1} = (b_{-1} − v_th)/β_a (0 at the built v_th).
        a = dt * _vec("tau_mem_inv", P["tau_mem_inv"], N)
        lam = 1.0 - dt * _vec("tau_syn_inv", P["tau_syn_inv"], N)
        if np.any(lam <= 0):
            raise PresetError("dt * tau_syn_inv must be < 1 for norse.LSNNCell")
        beta_a = (1.0 - dt * _vec("tau_adapt_inv", P["tau_adapt_inv"], N)) * _vec("beta", P["beta"], N)
        a0 = (b_init - _vec("v_th", P["v_th"], N)) / beta_a
        return {"v": np.zeros((B, N)), "c": np.broadcast_to(-a * P.get("bias", zeros) / lam, (B, N)).copy(),
                "a": np.broadcast_to(a0, (B, N)).copy()}

    def vjp(P, g):
        a = dt * _vec("tau_mem_inv", P["tau_mem_inv"], N)
        rho_a = 1.0 - dt * _vec("tau_adapt_inv", P["tau_adapt_inv"], N)
        lam = 1.0 - dt * _vec("tau_syn_inv", P["tau_syn_inv"], N)
        beta = _vec("beta", P["beta"], N)
        vres = _vec("v_reset", P["v_reset"], N)
        bias = P.get("bias", zeros)
        gc0 = g["state0"]["c"].sum(axis=0)                       # c_{-1} = −a b / λ
        ga = (g["W"] * P[Wk]).sum(axis=1) + g["b"] * bias - g["alpha"] - vres * g["v_reset"]
        ga = ga - gc0 * bias / lam
        glam = g["lam"] + gc0 * a * bias / lam ** 2
        g_rho = g["rho_a"] + beta * g["beta_a"]                 # β_a = ρ_a β
        out = {Wk: a[:, None] * g["W"],
               "tau_mem_inv": None,
               "tau_syn_inv": _unb(-dt * glam, P["tau_syn_inv"]),
               "tau_adapt_inv": _unb(-dt * g_rho, P["tau_adapt_inv"]),
               # Norse starts from b_{-1} = v_th.detach(): a_{-1} = (b_{-1} − v_th)/β_a is 0 with ∂/∂v_th = −1/β_a
               "v_th": _unb(g["theta"] - g["state0"]["a"].sum(axis=0) / (rho_a * beta), P["v_th"]),
               "v_reset": _unb((1.0 - a) * g["v_reset"], P["v_reset"]),
               "beta": _unb(rho_a * g["beta_a"], P["beta"])}
        if recurrent:
            ga = ga + (P["recurrent_weights"] * g["R"]).sum(axis=1)          # R = a W_rec (LSNN)
            gR = a[:, None] * g["R"]
            if not autapses:
                gR = gR.copy()
                np.fill_diagonal(gR, 0.0)      # Norse's hook: no gradient on the autapses (LSNN)
            out["recurrent_weights"] = gR
        else:
            out["bias"] = a * g["b"] - gc0 * a / lam
        out["tau_mem_inv"] = _unb(dt * ga, P["tau_mem_inv"])
        return out

    return LayerMap(cfg, peer, phi, vjp, state0, View(), input_delay=1)


def _build_lsnn_rec(layers, **kw):
    sg = _norse_sg(kw["method"])
    dt = _real("dt", kw["dt"], 0, low_open=True)
    if _real("v_leak", kw["v_leak"]) != 0.0:
        raise PresetError("v_leak must be 0 in the Norse presets (a nonzero leak potential is not mapped)")
    autapses = _flag("autapses", kw["autapses"])
    return [_lsnn_layer(l, d, kw, sg, dt, recurrent=True, autapses=autapses) for l, d in enumerate(layers)], 1


register(Preset("norse.LSNNCell", "Norse 1.1.0",
                {**_NORSE_DEFAULTS, "tau_adapt_inv": 1.0 / 800, "beta": 1.8}, _build_lsnn,
                lambda l, n, kw: _keys(["weight"], ["bias", *_LSNN_P]),
                "v̂_t = V_{t−1} + dt τ_m⁻¹(v_leak − V_{t−1} + i_{t−1}), b̂_t = b_{t−1} + dt τ_a⁻¹(v_th − b_{t−1}), "
                "z_t = H(v̂_t − b̂_t), V_t = (1 − z_t) v̂_t + z_t v_reset, b_t = b̂_t + β z_t, "
                "i_t = (1 − dt τ_s⁻¹) i_{t−1} + X_t (input after the spike test)",
                "every layer's input (and bias: c_{−1} = −a b/λ) fed one step late; adaptive threshold θ = v_th, ρ_a = 1 − dt τ_a⁻¹, β_a = ρ_a β; "
                "W = a W_P, b = a b_P, α = 1 − a, λ = 1 − dt τ_s⁻¹, hard_keep_input v_r = α v_reset, attached, "
                "post-reset membrane",
                "A one-step input delay per layer (stacks: each layer sees the one below a step late). "
                "The initial threshold is "
                "v_th.detach(), so ∂b̂_t/∂v_th = 1 − ρ_a^{t+1}, not 1 (mapped through a_{−1}). " + _NORSE_Q))


register(Preset("norse.LSNNRecurrentCell", "Norse 1.1.0",
                {**_NORSE_DEFAULTS, "tau_adapt_inv": 1.0 / 800, "beta": 1.8, "autapses": False}, _build_lsnn_rec,
                lambda l, n, kw: _keys(["input_weights", "recurrent_weights"], list(_LSNN_P)),
                "v̂_t = V_{t−1} + dt τ_m⁻¹(v_leak − V_{t−1} + i_{t−1}), b̂_t = b_{t−1} + dt τ_a⁻¹(v_th − b_{t−1}), "
                "z_t = H(v̂_t − b̂_t), V_t = (1 − z̄_t) v̂_t + z̄_t v_reset, b_t = b̂_t + β z̄_t (z̄ detached), "
                "i_t = (1 − dt τ_s⁻¹) i_{t−1} + x_t W_inᵀ + z_{t−1} W_recᵀ (after the spike test)",
                "input fed one step late and recurrent spikes two steps late (recurrent_delay=2, lif S6): "
                "W = a W_in, R = a W_rec, b = 0; adaptive threshold θ = v_th, ρ_a = 1 − dt τ_a⁻¹, β_a = ρ_a β, "
                "detach_threshold; α = 1 − a, λ = 1 − dt τ_s⁻¹, hard_keep_input v_r = α v_reset, detached, "
                "post-reset membrane",
                "Recurrent spikes reach the membrane two steps after they are emitted. " + _NORSE_Q
                + "; autapses=False zeroes the diagonal of recurrent_weights' gradient"))


# --- e-prop ALIF (Bellec et al. 2020) -------------------------------------------------------
#
# v_t = α v_{t−1} + z_{t−1} W_recᵀ + x_t W_inᵀ − z_{t−1} v_th, a_t = ρ a_{t−1} + z_{t−1},
# A_t = v_th + β a_t, z_t = H(v_t − A_t), H(0) = 0, ψ_t = (γ/v_th) max(0, 1 − |v_t − A_t|/v_th):
# refsnn's adaptive threshold (lif.py S3) with β_a = β, ρ_a = ρ, a soft reset γ = v_th at the
# next step, θ = v_th, and the triangle of half-width v_th with gain γ.
# Readout: y_t = κ y_{t−1} + z_t W_outᵀ + b_out (a non-spiking refsnn layer with α = κ).

_EPROP_DEFAULTS = dict(thr=1.0, tau_m=20.0, tau_a=200.0, beta=1.8, gamma_pd=0.3, tau_out=20.0, dt=1.0,
                       detach_reset=False)


def _build_eprop(layers, **kw):
    thr = _real("thr", kw["thr"], 0, low_open=True)
    dt = _real("dt", kw["dt"], 0, low_open=True)
    alpha = math.exp(-dt / _real("tau_m", kw["tau_m"], 0, low_open=True))
    rho = math.exp(-dt / _real("tau_a", kw["tau_a"], 0, low_open=True))
    beta = _real("beta", kw["beta"], 0)
    kappa = math.exp(-dt / _real("tau_out", kw["tau_out"], 0, low_open=True))
    sg = surrogate("triangle", thr, gain=_real("gamma_pd", kw["gamma_pd"], 0, low_open=True))
    if len(layers) > 2:
        raise PresetError("eprop.ALIF takes one recurrent ALIF layer and optionally a readout (2 layers at most)")
    d = layers[0]
    N, M = _weight("layer 0 w_in", d["w_in"])
    if d["w_rec"].shape != (N, N):
        raise PresetError(f"layer 0 w_rec must be ({N}, {N})")
    cfg = LIFConfig(M, N, surrogate=sg, h0=0.0, reset="subtract", detach_reset=_flag("detach_reset", kw["detach_reset"]),
                    adaptive_threshold=True, recurrent=True)

    def phi(P):
        return {"W": P["w_in"], "b": np.zeros(N), "R": P["w_rec"], "alpha": np.full(N, alpha),
                "theta": np.full(N, thr), "gamma": np.full(N, thr), "beta_a": np.full(N, beta),
                "rho_a": np.full(N, rho)}

    def vjp(P, g):
        return {"w_in": g["W"], "w_rec": g["R"]}

    maps = [LayerMap(cfg, {"w_in": d["w_in"], "w_rec": d["w_rec"]}, phi, vjp, _zeros_state, View())]
    if len(layers) == 2:
        r = layers[1]
        K, N2 = _weight("layer 1 w_out", r["w_out"], r.get("b_out"))
        cfg2 = LIFConfig(N2, K, reset="none", spiking=False)
        peer2 = {"w_out": r["w_out"], "b_out": r.get("b_out", np.zeros(K))}
        maps.append(LayerMap(
            cfg2, peer2,
            lambda P: {"W": P["w_out"], "b": P["b_out"], "alpha": np.full(P["w_out"].shape[0], kappa)},
            lambda P, g: {"w_out": g["W"], "b_out": g["b"]}, _zeros_state, View()))
    return maps, 0


register(Preset(
    "eprop.ALIF", "Bellec et al. 2020 (Methods)", _EPROP_DEFAULTS, _build_eprop,
    lambda l, n, kw: _keys(["w_in", "w_rec"]) if l == 0 else _keys(["w_out"], ["b_out"]),
    "v_t = α v_{t−1} + z_{t−1} W_recᵀ + x_t W_inᵀ − z_{t−1} v_th, a_t = ρ a_{t−1} + z_{t−1}, A_t = v_th + β a_t, "
    "z_t = H(v_t − A_t), ψ = (γ/v_th) max(0, 1 − |v_t − A_t|/v_th); readout y_t = κ y_{t−1} + z_t W_outᵀ + b_out",
    "adaptive threshold (S3) with β_a = β, ρ_a = e^{−dt/τ_a}; subtract γ = v_th, θ = v_th, α = e^{−dt/τ_m}, "
    "triangle(v_th, gain γ), h0 = 0, init spike 0; readout non-spiking with α = e^{−dt/τ_out}",
    "The paper's reset subtracts v_th (the fixed threshold), as the authors' EligALIF does."))


# --- SpyTorch tutorial (Zenke) --------------------------------------------------------------
#
# Hidden: out_t = H(mem_t − 1) (H(0) = 0), rst = out_t detached, syn_{t+1} = α syn_t + h_t,
# mem_{t+1} = (β mem_t + syn_t)(1 − rst_t), with h = x w1 and records mem_rec[t] = mem_t,
# spk_rec[t] = out_t. Readout: flt_{t+1} = α flt_t + spk_t w2, out_{t+1} = β out_t + flt_t.
# With v_t ≡ mem_{t+1}, c_t ≡ syn_t and the input delayed one step: v_t = (1 − s_{t−1})(β v_{t−1} + c_t),
# c_t = α c_{t−1} + x_{t−1} w1 (refsnn's hard_drop_input with v_r = 0, detached); s_t = out_{t+1}.
# The readout's v_t is out_{t+3} (c_t = flt_{t+2}).

_SPY_DEFAULTS = dict(tau_mem=10e-3, tau_syn=5e-3, time_step=1e-3, scale=100.0)


def _build_spytorch(layers, **kw):
    dt = _real("time_step", kw["time_step"], 0, low_open=True)
    beta = math.exp(-dt / _real("tau_mem", kw["tau_mem"], 0, low_open=True))
    alpha = math.exp(-dt / _real("tau_syn", kw["tau_syn"], 0, low_open=True))
    k = _real("scale", kw["scale"], 0, low_open=True)
    sg = surrogate("superspike", k, gain=2.0 / k)
    if len(layers) != 2:
        raise PresetError("spytorch.tutorial takes exactly two layers: {'w1': (in, hidden)} and {'w2': (hidden, out)}")
    w1, w2 = layers[0]["w1"], layers[1]["w2"]
    if w1.ndim != 2 or w2.ndim != 2 or w2.shape[0] != w1.shape[1]:
        raise PresetError(f"w1 must be (in, hidden) and w2 (hidden, out), got {w1.shape} and {w2.shape}")
    M, N = w1.shape
    K = w2.shape[1]
    cfg1 = LIFConfig(M, N, surrogate=sg, h0=0.0, reset="hard_drop_input", detach_reset=True, synapse=True)
    cfg2 = LIFConfig(N, K, reset="none", synapse=True, spiking=False)
    hid = LayerMap(cfg1, {"w1": w1},
                   lambda P: {"W": P["w1"].T, "b": np.zeros(N), "alpha": np.full(N, beta), "theta": np.ones(N),
                              "v_reset": np.zeros(N), "lam": np.full(N, alpha)},
                   lambda P, g: {"w1": g["W"].T}, _zeros_state, View(shift=1), spike_shift=1)
    out = LayerMap(cfg2, {"w2": w2},
                   lambda P: {"W": P["w2"].T, "b": np.zeros(K), "alpha": np.full(K, beta), "lam": np.full(K, alpha)},
                   lambda P, g: {"w2": g["W"].T}, _zeros_state, View(shift=2))
    return [hid, out], 1


register(Preset(
    "spytorch.tutorial", "SpyTorch tutorial 1 (Zenke)", _SPY_DEFAULTS, _build_spytorch,
    lambda l, n, kw: _keys(["w1"]) if l == 0 else _keys(["w2"]),
    "out_t = H(mem_t − 1), syn_{t+1} = α syn_t + x_t w1, mem_{t+1} = (β mem_t + syn_t)(1 − out_t.detach()); "
    "readout flt_{t+1} = α flt_t + spk_t w2, out_{t+1} = β out_t + flt_t; surrogate 1/(scale|x| + 1)²",
    "input delayed one step, hard_drop_input (v_r = 0, detached), synapse λ = α, α = β, θ = 1, h0 = 0; "
    "records: spk_rec = s shifted 1, mem_rec = v shifted 1, out_rec[1:] = readout v shifted 2",
    "The tutorial's spike_fn returns float32-style (input > 0) masks; the readout record is out_rec[1:] (T steps)."))


# ---------------------------------------------------------------------------------------

def table(markdown=True):
    """The registry as a table: preset, peer, equations, mapping, quirks."""
    rows = [(p.name, p.peer, p.equations, p.mapping, p.quirks or "—") for p in PRESETS.values()]
    if not markdown:
        return rows
    out = ["| preset | from | peer's equations | refsnn mapping | quirks |", "|---|---|---|---|---|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------
# The reference: every preset's arguments, defaults, the peer's names and surrogates
# ---------------------------------------------------------------------------------------

# argument → (the peer's name for it, what it is); one dict per library, shared by its presets.
_SNN_ARGS = {
    "beta": ("`beta`", "membrane decay β; None: give it per layer (`\"<l>.beta\"`)"),
    "threshold": ("`threshold`", "θ"),
    "reset_mechanism": ("`reset_mechanism`", "\"subtract\", \"zero\" or \"none\""),
    "reset_delay": ("`reset_delay`", "False: same-step reset, attached, post-reset membrane"),
    "learn_beta": ("`learn_beta`", "checked only: gradients are returned for every parameter"),
    "learn_threshold": ("`learn_threshold`", "checked only"),
    "spike_grad": ("`spike_grad`", "the surrogate, by its `snntorch.surrogate` function name"),
    "alpha": ("`surrogate.atan(alpha=)`", "the atan surrogate's α"),
    "slope": ("`surrogate.fast_sigmoid(slope=)`, `surrogate.sigmoid(slope=)`", "their slope k"),
    "alpha_syn": ("`Synaptic(alpha=)`", "synaptic decay (named alpha_syn here because alpha is the "
                                        "surrogate's; the layer parameter keeps the state_dict name `alpha`)"),
    "learn_alpha": ("`learn_alpha`", "checked only"),
    "all_to_all": ("`all_to_all`", "True: `recurrent.weight` (N, N); False: a per-neuron gain V"),
    "V": ("`V`", "the one-to-one recurrent gain (all_to_all=False)"),
}
_SJ_ARGS = {
    "tau": ("`tau`", "membrane time constant τ > 1 (steps)"),
    "init_tau": ("`init_tau`", "initial τ of ParametricLIFNode (w = −ln(τ − 1)) unless the layer gives `w`"),
    "decay_input": ("`decay_input`", "True: the input is divided by τ"),
    "v_threshold": ("`v_threshold`", "θ"),
    "v_reset": ("`v_reset`", "reset value; None: soft reset (subtract θ)"),
    "detach_reset": ("`detach_reset`", "detach the reset spike"),
    "surrogate_function": ("`surrogate_function`", "the surrogate, by its `surrogate` class name"),
    "alpha": ("`surrogate_function(alpha=)`", "its α; None: the class's own default"),
}
_NORSE_ARGS = {
    "tau_syn_inv": ("`LIFParameters.tau_syn_inv`", "synaptic rate τ_s⁻¹"),
    "tau_mem_inv": ("`LIFParameters.tau_mem_inv`", "membrane rate τ_m⁻¹"),
    "tau_adapt_inv": ("`LSNNParameters.tau_adapt_inv`", "threshold adaptation rate τ_a⁻¹"),
    "beta": ("`LSNNParameters.beta`", "threshold jump per spike"),
    "v_leak": ("`v_leak`", "must be 0 (a leak potential is not mapped)"),
    "v_th": ("`v_th`", "θ"),
    "v_reset": ("`v_reset`", "reset value"),
    "method": ("`method`", "the surrogate's name"),
    "alpha": ("`alpha`", "the surrogate's α (read by nothing in 1.1.0's `super`)"),
    "dt": ("the cell's `dt`", "time step (forward Euler)"),
    "autapses": ("`LIFRecurrentCell(autapses=)`", "False: zero diagonal of recurrent_weights and its gradient"),
}
_EPROP_ARGS = {
    "thr": ("v_th (`thr`)", "threshold, also the reset amount and the pseudo-derivative's width"),
    "tau_m": ("τ_m (`tau`)", "membrane time constant: α = e^{−dt/τ_m}"),
    "tau_a": ("τ_a (`tau_adaptation`)", "adaptation time constant: ρ = e^{−dt/τ_a}"),
    "beta": ("β (`beta`)", "adaptation strength"),
    "gamma_pd": ("γ_pd (`dampening_factor`)", "pseudo-derivative gain"),
    "tau_out": ("τ_out", "readout time constant: κ = e^{−dt/τ_out}"),
    "dt": ("dt", "time step"),
    "detach_reset": ("—", "refsnn switch: detach the reset (the paper attaches it)"),
}
_SPY_ARGS = {
    "tau_mem": ("`tau_mem`", "β = e^{−time_step/tau_mem}"),
    "tau_syn": ("`tau_syn`", "α = e^{−time_step/tau_syn}"),
    "time_step": ("`time_step`", "dt"),
    "scale": ("`SurrGradSpike.scale`", "the surrogate's slope"),
}
_SURR = {
    "snntorch": "`spike_grad`: " + ", ".join(f"`{s}`" for s in SNNTORCH_SURROGATES) + " (not `triangular`: "
                + NOT_PRESET_OPTIONS["snntorch triangular"] + ")",
    "spikingjelly": "`surrogate_function`: " + ", ".join(f"`{s}` (α = {a:g})" for s, a in SJ_SURROGATES.items()),
    "norse": "`method`: " + ", ".join(f"`{s}`" for s in NORSE_SURROGATES),
    "eprop": "fixed: the pseudo-derivative (γ_pd/v_th) max(0, 1 − |x|/v_th)",
    "spytorch": "fixed: `SurrGradSpike`, 1/(scale|x| + 1)²",
}
PEER_ARGS = {"snntorch": _SNN_ARGS, "spikingjelly": _SJ_ARGS, "norse": _NORSE_ARGS, "eprop": _EPROP_ARGS,
             "spytorch": _SPY_ARGS}


def _fmt_default(v):
    return "None" if v is None else f"`{v!r}`"


def reference_table():
    """Markdown: for every registered preset, its arguments (default, the peer's name, meaning), the
    parameters each layer takes and the accepted surrogates. docs/presets.md carries this text between
    the ``generated`` markers (tests/test_preset_surrogates.py checks it is current)."""
    out = []
    for p in PRESETS.values():
        lib = p.name.split(".")[0]
        names = PEER_ARGS[lib]
        missing = sorted(set(p.defaults) - set(names))
        if missing:
            raise RuntimeError(f"preset {p.name!r}: arguments {missing} have no entry in PEER_ARGS[{lib!r}]")
        keys = p.layer_keys(0, 1, dict(p.defaults))
        req = ", ".join(f"`{k}`" for k in keys["required"])
        opt = ", ".join(f"`{k}`" for k in keys["optional"])
        out += [f"### `{p.name}` ({p.peer})", "",
                f"Layer parameters: {req}" + (f"; optional {opt}" if opt else "") + ". Surrogates: " + _SURR[lib]
                + ".", "", "| argument | default | peer's name | meaning |", "|---|---|---|---|"]
        out += [f"| `{k}` | {_fmt_default(v)} | {names[k][0]} | {names[k][1]} |" for k, v in p.defaults.items()]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


REFERENCE_BEGIN = "<!-- BEGIN generated by refsnn.oracle.presets.reference_table(); do not edit -->"
REFERENCE_END = "<!-- END generated -->"


def write_reference(path):
    """Replace the generated section of ``path`` (docs/presets.md) with :func:`reference_table`."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    i, j = text.index(REFERENCE_BEGIN), text.index(REFERENCE_END)
    new = text[:i] + REFERENCE_BEGIN + "\n\n" + reference_table() + "\n" + text[j:]
    with open(path, "w", encoding="utf-8") as f:
        f.write(new)
