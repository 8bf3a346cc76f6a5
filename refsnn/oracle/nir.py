r"""NIR graphs (the ``nir`` package) as refsnn networks, and refsnn networks as NIR graphs.

NIR describes neurons in continuous time; a refsnn layer is a discrete-time recursion, so
the discretisation is an argument, stated once for the whole graph:

============  ==========================================  ======================================
method        membrane decay α and input gain k           synaptic decay λ and gain (CubaLIF)
============  ==========================================  ======================================
``euler``     ``α = 1 − dt/τ``,  ``k = R dt/τ``           ``λ = 1 − dt/τ_syn``, ``w_in dt/τ_syn``
``exp``       ``α = e^{−dt/τ}``, ``k = R (1 − α)``        ``λ = e^{−dt/τ_syn}``, ``w_in (1 − λ)``
============  ==========================================  ======================================

from ``τ v̇ = (v_leak − v) + R I`` (LIF, LI), ``v̇ = R I`` (IF: α = 1, k = R dt) and
``τ_syn İ = −I + w_in S`` (CubaLIF's current, which then drives the membrane as I). A leak
potential adds ``(1 − α) v_leak`` to the drive (LIF, LI; CubaLIF needs ``v_leak = 0``).
A projection (``Affine``/``Linear`` weights ``(out, in)``, or ``Conv2d``) followed by a
neuron becomes that refsnn layer's feed-forward current ``k (W x + b) + (1 − α) v_leak``
(F1 of :mod:`refsnn.neurons.lif`; the convolution of :mod:`refsnn.neurons.conv`, C1).

**Recurrence.** A loop ``neuron → (Affine | Linear) → same neuron`` is refsnn's recurrent
weight (``LIFConfig(recurrent=True)``): the spikes of step t−1 reach step t through
``R = k W_rec`` (the loop's bias, if any, joins b). snnTorch exports ``RLeaky``/``RSynaptic``
this way (nested or flattened by nirtorch; both are read).

**Convolution and pooling.** ``Conv2d`` (equal stride and padding along both axes, no
dilation or groups) feeds a grid of neurons whose parameters may be per neuron (snnTorch
exports ``(C, H, W)`` arrays) or broadcast; ``AvgPool2d``/``SumPool2d`` with non-overlapping
windows (kernel = stride, no padding) and ``Flatten`` act on the spikes between layers.

**Conventions of the exporters** (``convention=``): the graph's numbers do not mean the
same thing from every library.

- ``"nir"``: the graph as NIR defines it, discretised by ``method``.
- ``"snntorch"``: snnTorch 1.0 writes ``Leaky(β)`` as ``LIF(τ = dt/(1 − β), R = τ/dt)`` and
  ``Synaptic(α, β)`` as ``CubaLIF(τ_syn = dt/(1 − α), w_in = τ_syn/dt, ...)`` with dt = 1e-4:
  forward Euler with dt = 1e-4 (the default) returns β, α and unit input gains exactly. The
  graph always resets to ``v_reset = 0``, whatever reset the exported neuron had.
- ``"norse"``: Norse 1.1's ``to_nir`` writes ``τ = dt/τ⁻¹`` (its τ⁻¹ multiplied by dt: Norse
  issue 411), and its ``LIFCell`` current jumps by the input (``i⁺ = i + x``) instead of
  integrating ``w_in S/τ_syn``. So the true time constant is ``τ_file/dt`` and the decays are
  ``α = 1 − dt²/τ_mem,file``, ``λ = 1 − dt²/τ_syn,file``, the synapse's input gain is ``w_in``
  (not ``w_in dt/τ_syn``) and ``IF`` integrates ``v ← v + R x`` (Norse's ``IAFCell``). dt is
  the exporter's (default 1e-3, Norse's default for both ``to_nir`` and the cells). Then
  an exported ``LIFCell`` network is reproduced exactly (``tests/test_nir.py``).

The spike is ``H(v − v_threshold)``; NIR resets to ``v_reset``, which refsnn writes as a
reset to a value that keeps the new input (``hard_keep_input`` with ``v_r = α v_reset``: the
reset acts on the membrane before it decays). What NIR leaves open is a refsnn switch:
``h0`` (H(0)), ``detach_reset``, ``membrane_view`` (whether the returned membrane is read
before or after the reset) and the surrogate. The defaults (``h0=0``, attached, post-reset)
are what snnTorch's and Norse's importers simulate.

:func:`to_nir` writes a refsnn :class:`~refsnn.neurons.network.Network` as a graph that
:func:`from_nir` with the same dt and method reads back to the same network (reset
``hard_keep_input`` or non-spiking layers; recurrence and synapses included).
:func:`check_recording` runs a graph and names the first node whose output differs from a
recording (the ``refsnn nir-check`` command).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from ..neurons import lif as _lif
from ..neurons.lif import LIFConfig
from ..neurons.network import Network
from ..surrogates import Surrogate, surrogate as make_surrogate

__all__ = ["NIRImportError", "NIRExportError", "NIRNetwork", "from_nir", "to_nir", "check_recording",
           "METHODS", "CONVENTIONS"]

METHODS = ("euler", "exp")
CONVENTIONS = ("nir", "snntorch", "norse")
_DEFAULT_DT = {"snntorch": 1e-4, "norse": 1e-3}


class NIRImportError(ValueError):
    """The graph cannot be imported; the message names the node and what is wrong."""


class NIRExportError(ValueError):
    """The network cannot be written as a NIR graph; the message names the layer and why."""


# ---------------------------------------------------------------------------------------
# argument checks
# ---------------------------------------------------------------------------------------

def _check_dt(dt):
    if isinstance(dt, (bool, np.bool_)) or not isinstance(dt, numbers.Real):
        raise NIRImportError(f"dt must be a positive number, got {dt!r}")
    try:
        value = float(dt)
    except OverflowError:
        raise NIRImportError(f"dt must be a positive finite number, got {dt!r} (too large for a float)") from None
    if not (math.isfinite(value) and value > 0):
        raise NIRImportError(f"dt must be a positive finite number, got {dt!r}")
    return value


def _arr(node_name, field_name, value, shape=None):
    """A node field as float64, broadcast to the neurons' ``shape`` (refused if it does not fit)."""
    if value is None:
        raise NIRImportError(f"node {node_name!r}: {field_name} is missing")
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise NIRImportError(f"node {node_name!r}: {field_name} must be an array of numbers, "
                             f"got {type(value).__name__}") from None
    if shape is not None:
        n = int(np.prod(shape))
        if a.size == n and a.shape != tuple(shape):
            a = a.reshape(shape)           # e.g. (N,) written for a (C, H, W) grid, or (1, N)
        try:
            a = np.broadcast_to(a, shape)
        except ValueError:
            raise NIRImportError(f"node {node_name!r}: {field_name} has shape {a.shape}, expected a "
                                 f"scalar or an array of shape {tuple(shape)} (one value per neuron)") from None
        a = np.ascontiguousarray(a).reshape(-1)
    if not np.all(np.isfinite(a)):
        raise NIRImportError(f"node {node_name!r}: {field_name} is not finite")
    return a


def _pair(node_name, field_name, value):
    a = np.asarray(value).reshape(-1)
    if a.size == 1:
        a = np.repeat(a, 2)
    if a.size != 2 or a.dtype.kind not in "iuf" or np.any(a != np.round(a)):
        raise NIRImportError(f"node {node_name!r}: {field_name} must be an integer or a pair, got {value!r}")
    return int(a[0]), int(a[1])


# ---------------------------------------------------------------------------------------
# the graph: flatten nested graphs, find recurrent loops, order the chain
# ---------------------------------------------------------------------------------------

_NEURONS = ("LIF", "CubaLIF", "IF", "LI")


def _kind(node):
    return type(node).__name__


def _flatten(graph, prefix=""):
    """Nodes and edges with nested graphs inlined: inner nodes are named ``outer.inner`` and
    the inner Input/Output nodes become pass-throughs that are then contracted."""
    import nir

    if not isinstance(graph.nodes, dict):
        raise NIRImportError("graph.nodes must be a dict of named nodes")
    nodes, edges, passthrough = {}, [], set()
    names = set(graph.nodes)
    for e in graph.edges:
        if not (isinstance(e, (tuple, list)) and len(e) == 2):
            raise NIRImportError(f"{'graph ' + prefix[:-1] + ': ' if prefix else ''}edge {e!r} is not a "
                                 "(source, target) pair")
        for end in e:
            if end not in names:
                raise NIRImportError(f"edge {tuple(e)!r} names node {prefix + str(end)!r}, which is not in the "
                                     f"graph (nodes: {sorted(prefix + str(k) for k in names)})")
    for name, node in graph.nodes.items():
        full = prefix + str(name)
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges, sub_pass, ins, outs = _flatten_sub(node, full + ".")
            nodes.update(sub_nodes)
            edges += sub_edges
            passthrough |= sub_pass
            nodes[full + ".<in>"] = None
            nodes[full + ".<out>"] = None
            passthrough |= {full + ".<in>", full + ".<out>"}
            edges += [(full + ".<in>", i) for i in ins] + [(o, full + ".<out>") for o in outs]
        else:
            nodes[full] = node
    for src, dst in graph.edges:
        s, d = prefix + str(src), prefix + str(dst)
        if isinstance(graph.nodes[src], nir.NIRGraph):
            s = s + ".<out>"
        if isinstance(graph.nodes[dst], nir.NIRGraph):
            d = d + ".<in>"
        edges.append((s, d))
    return nodes, edges, passthrough


def _flatten_sub(graph, prefix):
    import nir

    nodes, edges, passthrough = _flatten(graph, prefix)
    ins = [k for k, v in nodes.items() if isinstance(v, nir.Input) and k.count(".") == prefix.count(".")]
    outs = [k for k, v in nodes.items() if isinstance(v, nir.Output) and k.count(".") == prefix.count(".")]
    passthrough |= set(ins) | set(outs)
    return nodes, edges, passthrough, ins, outs


def _contract(nodes, edges, passthrough):
    """Remove pass-through nodes, joining their predecessors to their successors."""
    edges = list(dict.fromkeys(edges))
    for p in passthrough:
        preds = [s for s, d in edges if d == p]
        succs = [d for s, d in edges if s == p]
        edges = [(s, d) for s, d in edges if p not in (s, d)]
        edges += [(a, b) for a in preds for b in succs]
        nodes.pop(p, None)
    return nodes, list(dict.fromkeys(edges))


def _structure(graph):
    """The chain of node names from the Input to the Output and the recurrent weight of
    each neuron that has one."""
    import nir

    if not isinstance(graph, nir.NIRGraph):
        raise NIRImportError(f"graph must be a nir.NIRGraph, got {type(graph).__name__}")
    nodes, edges, passthrough = _flatten(graph)
    inputs = [k for k, v in graph.nodes.items() if isinstance(v, nir.Input)]
    outputs = [k for k, v in graph.nodes.items() if isinstance(v, nir.Output)]
    if len(inputs) != 1:
        raise NIRImportError(f"the graph must have exactly one Input node, found {inputs}")
    if len(outputs) != 1:
        raise NIRImportError(f"the graph must have exactly one Output node, found {outputs}")
    passthrough -= {inputs[0], outputs[0]}
    nodes, edges = _contract(nodes, edges, passthrough)
    # recurrent loops: neuron → weight → the same neuron
    rec = {}
    for w, node in nodes.items():
        if _kind(node) not in ("Affine", "Linear"):
            continue
        preds = [s for s, d in edges if d == w]
        succs = [d for s, d in edges if s == w]
        if len(preds) == 1 and succs == preds and _kind(nodes[preds[0]]) in _NEURONS:
            n = preds[0]
            if n in rec:
                raise NIRImportError(f"neuron {n!r} has two recurrent loops ({rec[n]!r}, {w!r}); one is imported")
            rec[n] = w
    loop_edges = {(n, w) for n, w in rec.items()} | {(w, n) for n, w in rec.items()}
    rest = [e for e in edges if e not in loop_edges]
    succ = {}
    for s, d in rest:
        if s in succ:
            raise NIRImportError(f"node {s!r} feeds several nodes ({succ[s]!r}, {d!r}); only chains of layers "
                                 "(each neuron with at most one recurrent loop neuron → weight → neuron) are "
                                 "imported")
        succ[s] = d
    order, cur, seen = [], inputs[0], {inputs[0]}
    while cur in succ:
        cur = succ[cur]
        if cur in seen:
            raise NIRImportError(f"the graph has a recurrent loop through {cur!r} that is not a neuron → "
                                 "(Affine | Linear) → same neuron loop; only such loops are imported")
        seen.add(cur)
        order.append(cur)
    if not order or order[-1] != outputs[0]:
        raise NIRImportError("the chain from the Input node does not reach the Output node")
    unused = set(nodes) - seen - set(rec.values())
    if unused:
        raise NIRImportError(f"nodes {sorted(unused)} are not on the chain from the Input to the Output")
    return nodes, inputs[0], order[:-1], rec


def _input_shape(node, override):
    if override is not None:
        shape = tuple(int(s) for s in np.atleast_1d(override))
    else:
        it = getattr(node, "input_type", None)
        if isinstance(it, dict):
            it = next(iter(it.values()), None)
        if it is None or np.size(it) == 0:
            raise NIRImportError("the Input node has no input_type; pass input_shape=(n_in,) or (C, H, W)")
        shape = tuple(int(s) for s in np.atleast_1d(np.asarray(it)))
    if not shape or any(s < 1 for s in shape):
        raise NIRImportError(f"input shape must be positive sizes, got {shape}")
    return shape


# ---------------------------------------------------------------------------------------
# the imported network
# ---------------------------------------------------------------------------------------

@dataclass
class _Layer:
    proj: str | None            # projection node name (None: the neuron reads its input as is)
    kind: str                   # "dense", "conv" or "identity"
    neuron: str
    rec: str | None
    W: np.ndarray | None        # the NIR weight (dense (N, M); conv (K, C, kh, kw))
    b: np.ndarray | None        # the NIR bias
    conv: object | None         # ConvLIFConfig (geometry only) for a conv projection
    k: np.ndarray               # per-neuron input gain
    drive: np.ndarray           # per-neuron constant drive (1 − α) v_leak + k b_rec
    config: LIFConfig
    dyn: dict                   # dynamics parameters (dynamics_param_names)
    in_shape: tuple
    shape: tuple                # the neurons' shape (N,) or (K, H_o, W_o)
    post: list = field(default_factory=list)   # (name, kind, shape-in, shape-out, arg) after the neuron


@dataclass
class NIRNetwork:
    """An imported graph: refsnn layers and the NIR node names they came from.

    ``layers[l]`` = ``(projection node, neuron node)``; ``net``/``params``/``state0`` are
    the refsnn :class:`Network` for graphs of dense layers (``None`` when the graph has a
    convolution); :meth:`forward` runs every graph; :meth:`run` returns every node's output."""

    net: Network | None
    params: list | None
    state0: list | None
    layers: list
    input_shape: tuple = ()
    _layers: list = field(default_factory=list, repr=False)
    _order: list = field(default_factory=list, repr=False)

    def _x(self, x):
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 + len(self.input_shape) or tuple(x.shape[2:]) != self.input_shape:
            raise NIRImportError(f"x has shape {x.shape}; expected (T, B, {', '.join(map(str, self.input_shape))})")
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise NIRImportError(f"x must have at least one step and one batch row, got shape {x.shape}")
        if not np.all(np.isfinite(x)):
            raise NIRImportError("x contains NaN or inf")
        return x

    def _run(self, x):
        from ..neurons.conv import conv_current

        x = self._x(x)
        T, B = x.shape[:2]
        outputs, trajs = {}, []
        inp = x
        for L in self._layers:
            if L.kind == "dense":
                proj = inp.reshape(T, B, -1) @ L.W.T + L.b
            elif L.kind == "conv":
                proj = conv_current(L.conv, L.W, L.b, inp)
            else:
                proj = inp.reshape(T, B, -1)
            if L.proj is not None:
                outputs[L.proj] = proj.reshape(T, B, *L.shape)
            I_ff = L.k * proj.reshape(T, B, -1) + L.drive
            tr = _lif.dynamics_forward(L.config, L.dyn, I_ff)
            trajs.append(tr)
            out = tr.s if L.config.spiking else tr.v
            outputs[L.neuron] = out.reshape(T, B, *L.shape)
            outputs[L.neuron + ".v"] = tr.membrane.reshape(T, B, *L.shape)
            cur = outputs[L.neuron]
            for name, kind, _, shape_out, arg in L.post:
                if kind == "pool":
                    P, scale = arg
                    C, H, W_ = cur.shape[2:]
                    cur = cur.reshape(T, B, C, H // P, P, W_ // P, P).sum(axis=(4, 6)) * scale
                else:
                    cur = cur.reshape(T, B, *shape_out)
                outputs[name] = cur
            inp = cur
        return trajs, outputs

    def forward(self, x):
        """Run on ``x`` ``(T, B, *input_shape)``; returns one refsnn trajectory per layer
        (``.s``, ``.v``, ``.membrane``, arrays ``(T, B, N)``)."""
        return self._run(x)[0]

    def run(self, x):
        """Every node's output on ``x``: ``{node name: (T, B, *shape)}`` (a projection's output is
        its NIR value ``W x + b``, a neuron's its spikes, or its membrane for LI), plus each
        neuron's membrane record as ``"<name>.v"``."""
        return self._run(x)[1]

    def node_order(self):
        """The node names in the order the signal passes them."""
        return list(self._order)


def _rates(name, tau, dt, method, convention):
    """Decay and input gain of ``τ ẏ = −y + g u`` discretised: (decay, gain per unit g)."""
    if np.any(tau <= 0):
        raise NIRImportError(f"node {name!r}: time constants must be > 0 (min {tau.min()})")
    if convention == "norse":
        tau = tau / dt                 # Norse writes τ_file = dt/τ⁻¹ = dt τ
    if method == "euler":
        a = 1.0 - dt / tau
        if np.any(a <= 0) or np.any(a > 1):
            hint = "" if convention == "norse" else "; use a smaller dt or method='exp'"
            raise NIRImportError(f"node {name!r}: forward Euler needs dt < τ (dt = {dt}, min τ = {tau.min()})"
                                 + hint)
        return a, dt / tau
    a = np.exp(-dt / tau)
    return a, 1.0 - a


def from_nir(graph, dt=None, method=None, surrogate: Surrogate | None = None, h0=0.0, detach_reset=False,
             membrane_view="post_reset", convention="nir", input_shape=None) -> NIRNetwork:
    """A refsnn network from a NIR graph (module docstring: nodes, loops, conventions).

    Parameters
    ----------
    graph : nir.NIRGraph
        A chain Input → [projection] → neuron [→ pooling] [→ Flatten] → ... → Output; a
        projection is ``Affine``, ``Linear`` or ``Conv2d``, a neuron ``LIF``, ``CubaLIF``,
        ``IF`` or ``LI`` (the last layer only), optionally with a recurrent loop.
    dt : float
        The time step, in the graph's time unit (default 1e-4 for ``convention="snntorch"``,
        1e-3 for ``"norse"``; required for ``"nir"``).
    method : {"euler", "exp"}
        Forward Euler (default) or exact exponential decay; the snnTorch and Norse
        conventions are forward Euler.
    convention : {"nir", "snntorch", "norse"}
        How the exporting library wrote its time constants (module docstring).
    surrogate : refsnn Surrogate, optional
        σ' for the backward pass (default ``superspike(1, gain=2)``, Norse's ``super``).
    h0, detach_reset, membrane_view
        The conventions NIR does not fix (:class:`refsnn.neurons.lif.LIFConfig`).
    input_shape : tuple, optional
        The per-sample input shape, if the Input node does not carry it.
    """
    import nir

    if not isinstance(graph, nir.NIRGraph):
        raise NIRImportError(f"graph must be a nir.NIRGraph, got {type(graph).__name__}")
    if not isinstance(convention, str) or convention not in CONVENTIONS:
        raise NIRImportError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
    if dt is None:
        if convention == "nir":
            raise NIRImportError("dt must be given with convention='nir' (the graph's time step)")
        dt = _DEFAULT_DT[convention]
    dt = _check_dt(dt)
    if method is None:
        method = "euler"
    if not isinstance(method, str) or method not in METHODS:
        raise NIRImportError(f"method must be one of {METHODS}, got {method!r}")
    if convention != "nir" and method != "euler":
        raise NIRImportError(f"convention {convention!r} is forward Euler (the exporter's own discretisation); "
                             f"method={method!r} is only for convention='nir'")
    if surrogate is not None and not isinstance(surrogate, Surrogate):
        raise NIRImportError(f"surrogate must be a refsnn Surrogate, got {type(surrogate).__name__}")
    sg = surrogate or make_surrogate("superspike", 1.0, gain=2.0)
    nodes, in_name, order, rec = _structure(graph)
    shape = _input_shape(graph.nodes[in_name], input_shape)
    first = nodes[order[0]] if order else None
    if (input_shape is None and len(shape) > 1 and _kind(first) in ("Affine", "Linear")
            and np.ndim(first.weight) == 2 and shape[-1] == np.shape(first.weight)[1]):
        shape = (shape[-1],)     # the exporter's sample had a batch axis (Norse's to_nir(model, x[0]))
    in_shape0 = shape
    layers, pending = [], None
    for pos, name in enumerate(order):
        node = nodes[name]
        kind = _kind(node)
        if kind in ("Affine", "Linear", "Conv2d"):
            if pending is not None:
                raise NIRImportError(f"node {name!r} ({kind}) follows the projection {pending[0]!r} with no neuron "
                                     "between them; two projections in a row are not imported")
            pending = (name, node, shape)
            shape = None       # known once the neuron is built
            if kind == "Conv2d":
                shape = _conv_geometry(name, node, pending[2])[1]
            else:
                W = _weight(name, node)
                if int(np.prod(pending[2])) != W.shape[1] or len(pending[2]) != 1:
                    raise NIRImportError(f"node {name!r} takes {W.shape[1]} inputs but receives shape "
                                         f"{pending[2]} (a Flatten node is needed before a dense layer)"
                                         if len(pending[2]) != 1 else
                                         f"node {name!r} takes {W.shape[1]} inputs but the layer before "
                                         f"gives {pending[2][0]}")
                shape = (W.shape[0],)
        elif kind in _NEURONS:
            if pending is None:
                pending = (None, None, shape)
            L = _layer(name, node, pending, shape, rec.get(name), nodes, dt, method, convention, sg, h0,
                       detach_reset, membrane_view)
            if not L.config.spiking and any(_kind(nodes[n]) in _NEURONS for n in order[pos + 1:]):
                raise NIRImportError(f"node {name!r}: a non-spiking LI can only be the last layer")
            layers.append(L)
            pending = None
            shape = L.shape
        elif kind in ("AvgPool2d", "SumPool2d", "Flatten"):
            if pending is not None or not layers:
                raise NIRImportError(f"node {name!r} ({kind}) must follow a neuron (it acts on spikes)")
            shape_out, arg = _post_op(name, node, shape)
            layers[-1].post.append((name, "pool" if kind != "Flatten" else "flatten", shape, shape_out, arg))
            shape = shape_out
        else:
            raise NIRImportError(f"node {name!r} is a {kind}; expected Affine, Linear, Conv2d, LIF, CubaLIF, IF, LI, "
                                 "AvgPool2d, SumPool2d or Flatten")
    if pending is not None:
        raise NIRImportError(f"node {pending[0]!r} is not followed by a neuron")
    if not layers:
        raise NIRImportError("the graph has no neuron node")
    dense_only = all(L.kind != "conv" and not L.post for L in layers) and len(in_shape0) == 1
    net = params = state0 = None
    if dense_only:
        cfgs, params = [], []
        for L in layers:
            cfgs.append(L.config)
            W = L.W if L.kind == "dense" else np.eye(L.k.size)
            b = L.b if L.kind == "dense" else np.zeros(L.k.size)
            params.append({"W": L.k[:, None] * W, "b": L.k * b + L.drive, **L.dyn})
        net, state0 = Network(tuple(cfgs)), [None] * len(layers)
    order_names = []
    for L in layers:
        order_names += ([L.proj] if L.proj else []) + [L.neuron] + [p[0] for p in L.post]
    return NIRNetwork(net, params, state0, [(L.proj, L.neuron) for L in layers], in_shape0, layers, order_names)


def _weight(name, node):
    W = _arr(name, "weight", node.weight).reshape(np.shape(node.weight))
    if W.ndim != 2:
        raise NIRImportError(f"node {name!r}: weight must be 2-D (out, in), got shape {W.shape}")
    return W


def _bias(name, node, n):
    if _kind(node) == "Linear":
        return np.zeros(n)
    b = _arr(name, "bias", node.bias)
    if b.shape != (n,):
        raise NIRImportError(f"node {name!r}: bias has shape {np.shape(node.bias)}, expected ({n},) "
                             "(one value per output)")
    return b


def _conv_geometry(name, node, in_shape):
    from ..neurons.conv import ConvLIFConfig

    W = _arr(name, "weight", node.weight).reshape(np.shape(node.weight))
    if W.ndim != 4:
        raise NIRImportError(f"node {name!r}: Conv2d weight must be 4-D (out, in, kh, kw), got shape {W.shape}")
    if len(in_shape) != 3:
        raise NIRImportError(f"node {name!r}: Conv2d needs a (C, H, W) input, got shape {in_shape}")
    K, C, kh, kw = W.shape
    if C != in_shape[0]:
        raise NIRImportError(f"node {name!r}: weight takes {C} input channels but the input has {in_shape[0]}")
    if int(np.asarray(node.groups).reshape(-1)[0]) != 1:
        raise NIRImportError(f"node {name!r}: groups={node.groups} is not imported (only groups=1)")
    if _pair(name, "dilation", node.dilation) != (1, 1):
        raise NIRImportError(f"node {name!r}: dilation={node.dilation} is not imported (only 1)")
    sh, sw = _pair(name, "stride", node.stride)
    if isinstance(node.padding, str):
        raise NIRImportError(f"node {name!r}: padding={node.padding!r} is not imported (give numbers)")
    ph, pw = _pair(name, "padding", node.padding)
    if sh != sw or ph != pw:
        raise NIRImportError(f"node {name!r}: stride {(sh, sw)} and padding {(ph, pw)} must be equal along both "
                             "axes (refsnn.neurons.conv)")
    try:
        cfg = ConvLIFConfig(C, in_shape[1], in_shape[2], K, kernel_size=(kh, kw), stride=sh, padding=ph)
    except ValueError as e:
        raise NIRImportError(f"node {name!r}: {e}") from None
    return cfg, (K, *cfg.out_shape)


def _post_op(name, node, shape):
    kind = _kind(node)
    if kind == "Flatten":
        nd = len(shape)
        s, e = int(node.start_dim), int(node.end_dim)
        s, e = (s + nd if s < 0 else s), (e + nd if e < 0 else e)
        if not (0 <= s <= e < nd):
            raise NIRImportError(f"node {name!r}: start_dim {node.start_dim} / end_dim {node.end_dim} do not fit the "
                                 f"per-sample shape {shape}")
        return (*shape[:s], int(np.prod(shape[s:e + 1])), *shape[e + 1:]), None
    if len(shape) != 3:
        raise NIRImportError(f"node {name!r}: {kind} needs a (C, H, W) input, got shape {shape}")
    kh, kw = _pair(name, "kernel_size", node.kernel_size)
    st = _pair(name, "stride", node.stride if node.stride is not None else node.kernel_size)
    pad = _pair(name, "padding", node.padding if node.padding is not None else 0)
    if kh != kw or st != (kh, kw) or pad != (0, 0):
        raise NIRImportError(f"node {name!r}: only square non-overlapping windows are imported (kernel = stride, "
                             f"no padding); got kernel {(kh, kw)}, stride {st}, padding {pad}")
    C, H, W = shape
    if H % kh or W % kh:
        raise NIRImportError(f"node {name!r}: window {kh} must divide the grid {H} × {W}")
    return (C, H // kh, W // kh), (kh, 1.0 / (kh * kh) if kind == "AvgPool2d" else 1.0)


def _layer(name, node, pending, shape, rec_name, nodes, dt, method, convention, sg, h0, detach_reset,
           membrane_view):
    proj, pnode, in_shape = pending
    conv = W = b = None
    if proj is None:
        kind_p, shape = "identity", in_shape
    elif _kind(pnode) == "Conv2d":
        kind_p = "conv"
        conv, shape = _conv_geometry(proj, pnode, in_shape)
        W = _arr(proj, "weight", pnode.weight).reshape(np.shape(pnode.weight))
        b = _bias(proj, pnode, W.shape[0])
    else:
        kind_p = "dense"
        W = _weight(proj, pnode)
        b = _bias(proj, pnode, W.shape[0])
    N = int(np.prod(shape))
    M = W.shape[1] if kind_p == "dense" else N
    kind = _kind(node)
    dyn = {}
    syn = False
    if kind in ("LIF", "LI"):
        tau = _arr(name, "tau", node.tau, shape)
        alpha, rate = _rates(name, tau, dt, method, convention)
        k = _arr(name, "r", node.r, shape) * rate
        drive = (1.0 - alpha) * _arr(name, "v_leak", node.v_leak, shape)
    elif kind == "CubaLIF":
        tau = _arr(name, "tau_mem", node.tau_mem, shape)
        alpha, rate = _rates(name, tau, dt, method, convention)
        lam, srate = _rates(name, _arr(name, "tau_syn", node.tau_syn, shape), dt, method, convention)
        if np.any(_arr(name, "v_leak", node.v_leak, shape) != 0):
            raise NIRImportError(f"node {name!r}: CubaLIF with v_leak != 0 is not imported")
        if convention == "norse":
            srate = np.ones(N)          # Norse's current jumps by its input: i⁺ = i + x
        k = _arr(name, "r", node.r, shape) * rate * _arr(name, "w_in", node.w_in, shape) * srate
        drive = np.zeros(N)
        syn = True
        dyn["lam"] = lam
    else:   # IF
        alpha = np.ones(N)
        k = _arr(name, "r", node.r, shape) * (1.0 if convention == "norse" else dt)
        drive = np.zeros(N)
    spiking = kind != "LI"
    recurrent = rec_name is not None
    if recurrent:
        if kind_p == "conv" or len(shape) != 1:
            raise NIRImportError(f"node {name!r}: a recurrent loop on a grid of neurons is not imported")
        wnode = nodes[rec_name]
        Wr = _weight(rec_name, wnode)
        if Wr.shape != (N, N):
            raise NIRImportError(f"node {rec_name!r}: recurrent weight has shape {Wr.shape}, expected ({N}, {N})")
        dyn["R"] = k[:, None] * Wr
        drive = drive + k * _bias(rec_name, wnode, N)
        if not spiking:
            raise NIRImportError(f"node {name!r}: a recurrent loop on a non-spiking LI is not imported")
    if spiking:
        vr_field = getattr(node, "v_reset", None)
        v_reset = np.zeros(N) if vr_field is None else _arr(name, "v_reset", vr_field, shape)
        theta = _arr(name, "v_threshold", node.v_threshold, shape)
        cfg = LIFConfig(M, N, surrogate=sg, h0=h0, reset="hard_keep_input", detach_reset=detach_reset,
                        synapse=syn, recurrent=recurrent, init_spike="zero", membrane_view=membrane_view)
        dyn.update(theta=theta, v_reset=alpha * v_reset)
    else:
        cfg = LIFConfig(M, N, reset="none", synapse=syn, spiking=False)
    dyn["alpha"] = alpha
    return _Layer(proj, kind_p, name, rec_name, W, b, conv, k, drive, cfg, dyn, in_shape, tuple(shape))


# ---------------------------------------------------------------------------------------
# export
# ---------------------------------------------------------------------------------------

def to_nir(net: Network, params, dt, method="euler"):
    """A NIR graph of a refsnn dense network that :func:`from_nir` (same dt and method,
    ``convention="nir"``) reads back to the same network.

    Each layer becomes ``Affine(W, b)`` (nodes ``"<l>.affine"``) and a neuron node
    (``"<l>.neuron"``) whose input gain is 1: ``r = 1/rate`` (``w_in = 1/rate_syn``), with
    τ from α (Euler ``τ = dt/(1 − α)``, exp ``τ = −dt/ln α``); α = 1 gives ``IF(r = 1/dt)``;
    a recurrent layer adds the loop ``"<l>.neuron" → "<l>.w_rec" → "<l>.neuron"``. Only
    what NIR expresses is written: a reset to a value that keeps the input
    (``hard_keep_input``; ``v_reset = v_r/α``) or a non-spiking layer; no adaptation,
    adaptive threshold or refractoriness (:class:`NIRExportError` names the layer).
    ``h0``, ``detach_reset``, the surrogate and the membrane view are not part of a graph.
    """
    import nir

    if not isinstance(net, Network):
        raise NIRExportError(f"net must be a refsnn Network, got {type(net).__name__}")
    if not isinstance(params, (list, tuple)) or len(params) != len(net.layers):
        raise NIRExportError(f"params must be a list of {len(net.layers)} parameter dicts")
    dt = _check_dt(dt)
    if method not in METHODS:
        raise NIRExportError(f"method must be one of {METHODS}, got {method!r}")
    nodes = {"input": nir.Input(input_type=np.array([net.layers[0].n_in]))}
    edges, prev = [], "input"

    def tau_of(l, pname, a):
        if np.any(a <= 0) or np.any(a > 1):
            raise NIRExportError(f"layer {l}: {pname} must lie in (0, 1] to be a decay, got [{a.min()}, {a.max()}]")
        return dt / (1.0 - a) if method == "euler" else -dt / np.log(a)

    for l, (cfg, p) in enumerate(zip(net.layers, params)):
        for flag in ("adaptation", "adaptive_threshold"):
            if getattr(cfg, flag):
                raise NIRExportError(f"layer {l}: {flag}=True has no NIR node")
        if cfg.refractory:
            raise NIRExportError(f"layer {l}: refractory={cfg.refractory} has no NIR node")
        if cfg.spiking and cfg.reset != "hard_keep_input":
            raise NIRExportError(f"layer {l}: reset={cfg.reset!r} has no NIR node (NIR resets to v_reset and keeps "
                                 "the input: reset='hard_keep_input')")
        N = cfg.n
        if not isinstance(p, dict):
            raise NIRExportError(f"params[{l}] must be a dict of layer {l}'s parameters, got {type(p).__name__}")
        missing = [k for k in _lif.param_names(cfg) if k not in p]
        if missing:
            raise NIRExportError(f"params[{l}] lacks {missing} (layer {l} needs {list(_lif.param_names(cfg))})")

        def vec(k):
            try:
                a = np.broadcast_to(np.asarray(p[k], np.float64), (N,)).copy()
            except (TypeError, ValueError):
                raise NIRExportError(f"params[{l}][{k!r}] must be a scalar or ({N},) array of numbers") from None
            if not np.all(np.isfinite(a)):
                raise NIRExportError(f"params[{l}][{k!r}] is not finite")
            return a

        alpha = vec("alpha")
        W, b = np.asarray(p["W"], np.float64), vec("b")
        if W.shape != (N, cfg.n_in) or not np.all(np.isfinite(W)):
            raise NIRExportError(f"params[{l}]['W'] must be a finite ({N}, {cfg.n_in}) array, got shape {W.shape}")
        leak = np.all(alpha == 1.0)
        if leak and cfg.synapse:
            raise NIRExportError(f"layer {l}: α = 1 with a synapse has no NIR node (CubaLIF needs τ_mem)")
        if not leak:
            tau = tau_of(l, "alpha", alpha)
            rate = dt / tau if method == "euler" else 1.0 - alpha
        if cfg.synapse:
            lam = vec("lam")
            tau_s = tau_of(l, "lam", lam)
            srate = dt / tau_s if method == "euler" else 1.0 - lam
        if cfg.spiking:
            theta = vec("theta")
            v_reset = vec("v_reset") / alpha
        if not cfg.spiking:
            neuron = nir.LI(tau=tau, r=1.0 / rate, v_leak=np.zeros(N))
        elif leak:
            neuron = nir.IF(r=np.full(N, 1.0 / dt), v_threshold=theta, v_reset=v_reset)
        elif cfg.synapse:
            neuron = nir.CubaLIF(tau_syn=tau_s, tau_mem=tau, r=1.0 / rate, v_leak=np.zeros(N), v_threshold=theta,
                                 v_reset=v_reset, w_in=1.0 / srate)
        else:
            neuron = nir.LIF(tau=tau, r=1.0 / rate, v_leak=np.zeros(N), v_threshold=theta, v_reset=v_reset)
        a, n = f"{l}.affine", f"{l}.neuron"
        nodes[a] = nir.Affine(W.copy(), b)
        nodes[n] = neuron
        edges += [(prev, a), (a, n)]
        if cfg.recurrent:
            nodes[f"{l}.w_rec"] = nir.Linear(np.asarray(p["R"], np.float64).copy())
            edges += [(n, f"{l}.w_rec"), (f"{l}.w_rec", n)]
        prev = n
    nodes["output"] = nir.Output(output_type=np.array([net.layers[-1].n]))
    edges.append((prev, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges)


# ---------------------------------------------------------------------------------------
# a recording, checked node by node
# ---------------------------------------------------------------------------------------

@dataclass
class NodeCheck:
    node: str
    shape: tuple
    max_abs: float
    mismatches: int       # entries outside the tolerance
    size: int
    ok: bool


def check_recording(model: NIRNetwork, recording, rtol=1e-9, atol=1e-12):
    """Run ``model`` on ``recording["input"]`` and compare every recorded node, in the order
    the signal passes them. Returns ``(checks, first_bad)``: one :class:`NodeCheck` per
    recorded node and the name of the first that differs (None if all agree)."""
    if "input" not in recording:
        raise NIRImportError("the recording has no 'input' entry (the network's input, (T, B, ...))")
    outs = model.run(recording["input"])
    known = set(outs)
    unknown = sorted(k for k in recording if k != "input" and k not in known)
    if unknown:
        raise NIRImportError(f"the recording has entries {unknown} that name no node output of the graph "
                             f"(known: {sorted(known)})")
    checks, first = [], None
    names = []
    for n in model.node_order():
        names += [n, n + ".v"]
    for n in names:
        if n not in recording:
            continue
        ours, theirs = outs[n], np.asarray(recording[n], np.float64)
        if theirs.shape != ours.shape:
            raise NIRImportError(f"recording {n!r} has shape {theirs.shape}, expected {ours.shape}")
        bad = ~(np.abs(ours - theirs) <= atol + rtol * np.abs(theirs))
        c = NodeCheck(n, ours.shape, float(np.max(np.abs(ours - theirs))) if ours.size else 0.0, int(bad.sum()),
                      int(ours.size), not bad.any())
        checks.append(c)
        if first is None and not c.ok:
            first = n
    return checks, first


RECORDING_CAP = 1 << 30      # bytes of arrays a recording may declare (1 GiB)


def _read_recording(path):
    """The arrays of an .npz, each member's header read first: numbers only, no pickles, and at
    most :data:`RECORDING_CAP` bytes declared in total before anything is decompressed."""
    import zipfile

    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise NIRImportError(f"not a readable .npz ({e})") from None
    out, total = {}, 0
    with zf:
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                raise NIRImportError(f"member {info.filename!r} is not an .npy array")
            name = info.filename[:-4]
            try:
                with zf.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    if version == (1, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
                    else:
                        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
                    if dtype.hasobject or dtype.kind not in "fiub":
                        raise NIRImportError(f"entry {name!r} has dtype {dtype}; expected numbers")
                    total += int(np.prod(shape, dtype=object)) * dtype.itemsize
                    if total > RECORDING_CAP:
                        raise NIRImportError(f"the arrays declare more than {RECORDING_CAP >> 30} GiB (entry "
                                             f"{name!r} has shape {shape})")
                    f.seek(0)
                    out[name] = np.lib.format.read_array(f, allow_pickle=False)
            except NIRImportError:
                raise
            except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
                raise NIRImportError(f"entry {name!r} cannot be read ({e})") from None
    return out


def main_check(args):
    """``refsnn nir-check GRAPH RECORDING``: exit 0 if every recorded node agrees, 1 if one
    differs (named), 2 for unusable arguments or files."""
    import os
    import stat
    import sys

    prog = "refsnn nir-check"

    def fail(msg):
        print(f"{prog}: error: {msg}", file=sys.stderr)
        return 2

    for what, path in (("GRAPH", args.graph), ("RECORDING", args.recording)):
        try:
            st = os.stat(path)
        except OSError as e:
            return fail(f"{what} {path!r} cannot be read: {e.strerror or e}")
        if not stat.S_ISREG(st.st_mode):
            return fail(f"{what} {path!r} is not a regular file")
    if args.convention == "nir" and args.dt is None:
        return fail("--dt is required with --convention nir (the graph's time step)")
    try:
        import nir
    except ImportError:
        return fail("the nir package is not installed (pip install -e '.[nir]')")
    try:
        graph = nir.read(args.graph)
    except Exception as e:     # h5py/nir raise many types on a file that is not a NIR graph
        return fail(f"GRAPH {args.graph!r} is not a NIR graph file ({type(e).__name__}: {e})")
    try:
        rec = _read_recording(args.recording)
    except NIRImportError as e:
        return fail(f"RECORDING {args.recording!r}: {e}")
    try:
        model = from_nir(graph, dt=args.dt, method=args.method if args.convention == "nir" else "euler",
                         convention=args.convention)
        checks, first = check_recording(model, rec, rtol=args.rtol, atol=args.atol)
    except (NIRImportError, ValueError, TypeError) as e:     # NIRImportError is a ValueError
        return fail(str(e))
    print(f"{'node':<24} {'shape':<20} {'max |diff|':>11} {'mismatches':>12}  result")
    for c in checks:
        print(f"{c.node:<24} {str(c.shape):<20} {c.max_abs:11.2e} {c.mismatches:>5}/{c.size:<6}  "
              f"{'ok' if c.ok else 'DIFFERS'}")
    if first is None:
        print(f"all {len(checks)} recorded node outputs agree (rtol {args.rtol:g}, atol {args.atol:g})")
        return 0
    print(f"first node that differs: {first!r} (in the order the signal passes the nodes)")
    return 1
