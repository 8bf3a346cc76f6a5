r"""Import a NIR graph (the ``nir`` package) as a refsnn network.

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
``Affine``/``Linear`` weights are ``(out, in)``; an ``Affine`` followed by a neuron becomes that
refsnn layer's ``W = k W_NIR``, ``b = k b_NIR + (1 − α) v_leak``.

The spike is ``H(v − v_threshold)``; NIR resets to ``v_reset``, which refsnn writes as a
reset to a value that keeps the new input (``hard_keep_input`` with ``v_r = α v_reset``: the
reset acts on the membrane before it decays). What NIR leaves open is a refsnn switch:
``h0`` (H(0)), ``detach_reset``, ``membrane_view`` (whether the returned membrane is read
before or after the reset) and the surrogate. How snnTorch 1.0 and Norse 1.1 simulate the
graphs they export (both forward Euler; ``tests/test_nir.py`` checks each):

- snnTorch's ``import_from_nir`` builds ``Leaky(beta = 1 − dt/τ, reset_mechanism="zero",
  reset_delay=False)`` with dt = 1e-4 (its exporter writes ``τ = dt/(1 − β)``, ``R = τ/dt``;
  whatever reset the exported ``Leaky`` had, the graph resets to ``v_reset = 0``):
  ``method="euler", dt=1e-4, h0=0, detach_reset=False, membrane_view="post_reset"``. Its
  β and θ are float32 buffers.
- Norse's ``from_nir`` builds a leaky-integrator current and a ``LIFBoxCell`` with
  ``τ⁻¹ = 1/τ``, same-step reset to 0, attached: ``method="euler"`` with Norse's dt, ``h0=0``,
  ``detach_reset=False``, ``membrane_view="post_reset"``. (Norse's *exporter* writes
  ``τ = dt/τ⁻¹``, so a Norse → NIR → Norse round trip multiplies every τ⁻¹ by 1/dt; refsnn
  imports the graph as written.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..neurons.lif import LIFConfig
from ..neurons.network import Network, network_forward
from ..surrogates import Surrogate, surrogate as make_surrogate

__all__ = ["NIRImportError", "NIRNetwork", "from_nir", "METHODS"]

METHODS = ("euler", "exp")


class NIRImportError(ValueError):
    """The graph cannot be imported; the message names the node and what is wrong."""


@dataclass
class NIRNetwork:
    """The imported network: refsnn layers, their parameters and initial states, and the
    NIR node names they came from (``layers[l]`` = ``(affine node, neuron node)``)."""

    net: Network
    params: list
    state0: list
    layers: list

    def forward(self, x):
        """Run on ``x`` ``(T, B, n_in)``; returns refsnn trajectories (``.s``, ``.membrane``)."""
        return network_forward(self.net, self.params, np.asarray(x, dtype=np.float64), self.state0)


def _arr(node_name, field, value, n=None):
    a = np.asarray(value, dtype=np.float64).reshape(-1) if np.ndim(value) else np.asarray(value, np.float64)
    if n is not None:
        if a.shape == ():
            a = np.full(n, float(a))
        elif a.shape == (1,):
            a = np.full(n, a[0])
        elif a.shape != (n,):
            raise NIRImportError(f"node {node_name!r}: {field} has shape {a.shape}, expected ({n},)")
    if not np.all(np.isfinite(a)):
        raise NIRImportError(f"node {node_name!r}: {field} is not finite")
    return a


def _decay(node_name, tau, dt, method):
    if np.any(tau <= 0):
        raise NIRImportError(f"node {node_name!r}: time constants must be > 0")
    if method == "euler":
        a = 1.0 - dt / tau
        if np.any(a <= 0) or np.any(a > 1):
            raise NIRImportError(f"node {node_name!r}: forward Euler needs dt < τ (dt = {dt}, min τ = {tau.min()}); "
                                 "use a smaller dt or method='exp'")
        return a, dt / tau
    a = np.exp(-dt / tau)
    return a, 1.0 - a


def _chain(graph):
    """The node names from the input to the output, for a graph that is a simple chain."""
    import nir

    nodes, edges = graph.nodes, list(graph.edges)
    succ = {}
    for src, dst in edges:
        if src in succ:
            raise NIRImportError(f"node {src!r} feeds several nodes; only feed-forward chains are imported")
        succ[src] = dst
    inputs = [k for k, v in nodes.items() if isinstance(v, nir.Input)]
    if len(inputs) != 1:
        raise NIRImportError(f"the graph must have exactly one Input node, found {inputs}")
    order, cur, seen = [], inputs[0], set()
    while cur in succ:
        cur = succ[cur]
        if cur in seen:
            raise NIRImportError(f"the graph has a cycle through {cur!r}; recurrent graphs are not imported")
        seen.add(cur)
        order.append(cur)
    if not order or not isinstance(nodes[order[-1]], nir.Output):
        raise NIRImportError("the chain from the Input node does not end in an Output node")
    return [k for k in order[:-1]]


def from_nir(graph, dt, method="euler", surrogate: Surrogate | None = None, h0=0.0, detach_reset=False,
             membrane_view="post_reset"):
    """A refsnn network from a NIR graph of (Affine | Linear) → (LIF | CubaLIF | IF | LI) pairs.

    Parameters
    ----------
    graph : nir.NIRGraph
    dt : float
        The time step, in the graph's time unit.
    method : {"euler", "exp"}
        Forward Euler or exact exponential decay (module docstring).
    surrogate : refsnn Surrogate, optional
        σ' for the backward pass (default ``superspike(1, gain=2)``, Norse's ``super``).
    h0, detach_reset, membrane_view
        The conventions NIR does not fix (:class:`refsnn.neurons.lif.LIFConfig`).
    """
    import nir

    if not isinstance(graph, nir.NIRGraph):
        raise NIRImportError(f"graph must be a nir.NIRGraph, got {type(graph).__name__}")
    if not (isinstance(dt, (int, float)) and not isinstance(dt, bool) and math.isfinite(dt) and dt > 0):
        raise NIRImportError(f"dt must be a positive number, got {dt!r}")
    if method not in METHODS:
        raise NIRImportError(f"method must be one of {METHODS}, got {method!r}")
    sg = surrogate or make_surrogate("superspike", 1.0, gain=2.0)
    names = _chain(graph)
    if len(names) % 2:
        raise NIRImportError(f"expected (Affine|Linear, neuron) pairs along the chain, got {names}")
    cfgs, params, states, pairs = [], [], [], []
    for i in range(0, len(names), 2):
        wn, nn_ = names[i], names[i + 1]
        w_node, n_node = graph.nodes[wn], graph.nodes[nn_]
        if isinstance(w_node, nir.Affine):
            W = np.asarray(w_node.weight, np.float64)
            b = np.asarray(w_node.bias, np.float64)
        elif isinstance(w_node, nir.Linear):
            W = np.asarray(w_node.weight, np.float64)
            b = np.zeros(W.shape[0])
        else:
            raise NIRImportError(f"node {wn!r} is a {type(w_node).__name__}; expected Affine or Linear before "
                                 f"neuron {nn_!r}")
        if W.ndim != 2:
            raise NIRImportError(f"node {wn!r}: weight must be 2-D (out, in), got shape {W.shape}")
        N, M = W.shape
        if cfgs and M != cfgs[-1].n:
            raise NIRImportError(f"node {wn!r} takes {M} inputs but the layer before has {cfgs[-1].n} neurons")
        p, st = {}, {}
        if isinstance(n_node, (nir.LIF, nir.LI)):
            tau = _arr(nn_, "tau", n_node.tau, N)
            alpha, rate = _decay(nn_, tau, dt, method)
            k = _arr(nn_, "r", n_node.r, N) * rate
            bias = (1.0 - alpha) * _arr(nn_, "v_leak", n_node.v_leak, N)
            syn = False
        elif isinstance(n_node, nir.CubaLIF):
            tau = _arr(nn_, "tau_mem", n_node.tau_mem, N)
            alpha, rate = _decay(nn_, tau, dt, method)
            lam, srate = _decay(nn_, _arr(nn_, "tau_syn", n_node.tau_syn, N), dt, method)
            if np.any(_arr(nn_, "v_leak", n_node.v_leak, N) != 0):
                raise NIRImportError(f"node {nn_!r}: CubaLIF with v_leak != 0 is not imported")
            k = _arr(nn_, "r", n_node.r, N) * rate * _arr(nn_, "w_in", n_node.w_in, N) * srate
            bias = np.zeros(N)
            syn = True
            p["lam"] = lam
        elif isinstance(n_node, nir.IF):
            alpha = np.ones(N)
            k = _arr(nn_, "r", n_node.r, N) * dt
            bias = np.zeros(N)
            syn = False
        else:
            raise NIRImportError(f"node {nn_!r} is a {type(n_node).__name__}; expected LIF, CubaLIF, IF or LI")
        spiking = not isinstance(n_node, nir.LI)
        if spiking:
            vr_field = getattr(n_node, "v_reset", None)
            v_reset = np.zeros(N) if vr_field is None else _arr(nn_, "v_reset", vr_field, N)
            cfg = LIFConfig(M, N, surrogate=sg, h0=h0, reset="hard_keep_input", detach_reset=detach_reset,
                            synapse=syn, init_spike="zero", membrane_view=membrane_view)
            p.update(theta=_arr(nn_, "v_threshold", n_node.v_threshold, N), v_reset=alpha * v_reset)
        else:
            if i + 2 != len(names):
                raise NIRImportError(f"node {nn_!r}: a non-spiking LI can only be the last layer")
            cfg = LIFConfig(M, N, reset="none", synapse=syn, spiking=False)
        p.update(W=k[:, None] * W, b=k * b + bias, alpha=alpha)
        cfgs.append(cfg)
        params.append(p)
        states.append(None)
        pairs.append((wn, nn_))
    return NIRNetwork(Network(tuple(cfgs)), params, states, pairs)
