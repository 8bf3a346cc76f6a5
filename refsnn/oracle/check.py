r"""``refsnn.oracle.check``: one call from a live PyTorch spiking network to a verdict.

    >>> from refsnn.oracle import check
    >>> rep = check(net, x, loss="ce_count", target=y)    # net: your snnTorch / SpikingJelly / Norse model
    >>> print(rep.passed); print(refsnn.compare.format_report(rep))

:func:`check` reads the network (its layers, neuron classes and parameters), picks the
preset of :mod:`refsnn.oracle.presets` with its arguments, runs *a float64 copy* of the
network with the peer's own code, records what :mod:`refsnn.oracle.compare` needs through
forward hooks and ``retain_grad`` (every layer's spikes and membranes per step, their
per-step gradients, the input gradient and every parameter gradient), and returns the
same :class:`~refsnn.oracle.compare.Report` as ``refsnn compare``.

What it reads (:data:`SUPPORTED`):

================  =================================================================  =========================
library           neuron classes                                                     network forms
================  =================================================================  =========================
snnTorch 1.0      ``Leaky``, ``Synaptic``, ``RLeaky`` (stock ``atan``,               ``nn.Sequential`` (neurons
                  ``fast_sigmoid`` or ``sigmoid`` surrogates)                        with ``init_hidden=True``),
                                                                                     or a module whose forward
                                                                                     runs the time loop
SpikingJelly 2.0  ``LIFNode``, ``ParametricLIFNode``, ``IFNode`` (every surrogate   ``nn.Sequential`` or any
                  of ``presets.SJ_SURROGATES``; multi- or single-step)               module
Norse 1.1         ``LIFCell``, ``LIFBoxCell``, ``LIFRecurrentCell``, ``LSNNCell``    ``SequentialState``, or a
                  (``method="super"``)                                               module with a time loop
================  =================================================================  =========================

Each layer is a ``torch.nn.Linear`` followed by one neuron module (Norse's
``LIFRecurrentCell`` holds its own input weights); ``nn.Flatten`` and ``nn.Identity`` may
come before the first ``Linear``. The *input* refsnn compares against is what the first
``Linear`` (or recurrent cell) receives at each step, so a tutorial loop that feeds the
same ``(B, n)`` input at every step is read as the ``(T, B, n)`` sequence it amounts to.
Anything else (another neuron class, a subclass, a custom surrogate, a module between a
neuron and the next ``Linear``) is refused with :class:`CheckError`, naming the module and
what is supported; hand-written neurons are checked with :class:`Custom`.

**Nothing changes in your network.** ``check`` deep-copies it (hidden states detached
into the copy), casts the copy to float64, replaces snnTorch's float32-spike surrogates on
the *copy* with ones whose forward keeps the dtype (:func:`float64_surrogates`, a context
that restores what it replaced; the backward is snnTorch's own), resets the copy's neuron
states, and runs it. Your parameters, buffers, ``.grad``, dtype, surrogate objects, hooks
and hidden states are untouched (tests/test_check.py compares them before and after).
Your network's own forward hooks are *not* run on the copy (a note in the report says so).

**Losses.** ``loss`` is one of :data:`refsnn.oracle.compare.LOSSES` (``"linear"`` by
default, with seeded random probes on the last layer's spikes and membranes, so every
record entry gets a gradient), with ``target`` where it needs one; or a callable
``loss(spikes, membranes) -> scalar`` on the last layer's ``(T, B, K)`` records. A callable
is checked through its partials: ``∂L/∂P = Σ_t (∂L/∂S_t ∂S_t/∂P + ∂L/∂V_t ∂V_t/∂P)``, so the
linear probe with ``probe_s = ∂L/∂S``, ``probe_v = ∂L/∂V`` (taken by autograd at the run's
records) has the same parameter gradients.

**Records for the diagnosis.** The dict handed to ``compare`` also holds, per layer l
(``records=None``: whenever this refsnn's compare reads them), ``spikes/<l>`` and
``membranes/<l>`` (what the preset's forward returns as ``run.spikes[l]``,
``run.membranes[l]``) and ``dspikes/<l>``, ``dmembranes/<l>``: the ``retain_grad()``
gradients of the spike and membrane tensors the peer produces at step t (the membrane
tensor is the one the peer carries to step t + 1: snnTorch's ``mem``, SpikingJelly's
``v``, Norse's ``state.v``), as compare's module docstring defines them.

**The command** ``refsnn check FILE`` (:func:`main`) checks a saved network without
unpickling: a ``torch.save``d state dict of an ``nn.Sequential`` (Norse: ``SequentialState``)
read with ``torch.load(weights_only=True)`` plus ``--preset`` and ``--kwargs`` stating the
neuron (:func:`build_peer` builds it), or a NIR graph (HDF5, ``nir.read``) built into a
network by snnTorch's own NIR import (:func:`load_nir`).

**Custom code.** A hand-written neuron declares the preset it follows::

    rep = check(step, x, peer=Custom("snntorch.Leaky", params=[{"weight": W1, "bias": b1, "beta": b, ...}, ...],
                                     spike_grad="atan", alpha=2.0))

with ``step(params, x_t, state) -> (records, state)``: ``params`` is the list of per-layer
dicts (float64 copies of yours, named as the preset names them), ``x_t`` the ``(B, n)``
input at step t, ``state`` None at t = 0 and whatever ``step`` returned after; ``records``
is one ``(spikes_t, membranes_t)`` pair per layer, the tensors the neuron produces at step
t. ``check`` records them the same way.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
from dataclasses import dataclass, field

import numpy as np

from . import compare as C
from . import presets as P

__all__ = ["check", "Custom", "CheckError", "SUPPORTED", "float64_surrogates", "record", "build_peer",
           "load_state_dict", "load_nir", "main"]


class CheckError(C.BadInput):
    """The network (or an argument) cannot be checked; the message names the module or argument."""


SUPPORTED = ("snnTorch Leaky, Synaptic, RLeaky (stock atan / fast_sigmoid / sigmoid surrogates) in nn.Sequential "
             "(init_hidden=True) or a module with a time loop; SpikingJelly LIFNode, ParametricLIFNode, IFNode; "
             "Norse LIFCell, LIFBoxCell, LIFRecurrentCell, LSNNCell in SequentialState or a module with a time loop; "
             "each layer a torch.nn.Linear followed by one neuron module (nn.Flatten/nn.Identity may precede the "
             "first Linear). Hand-written neurons: refsnn.oracle.Custom")


@dataclass
class Custom:
    """A hand-written network that follows ``preset``: its per-layer parameters (named as the
    preset names them, torch tensors or arrays) and the preset's arguments. Pass the step
    function as ``net``: ``check(step, x, peer=Custom(...))`` (module docstring)."""

    preset: str
    params: list
    kwargs: dict = field(default_factory=dict)

    def __init__(self, preset, params, **kwargs):
        self.preset, self.params, self.kwargs = preset, params, kwargs


# ---------------------------------------------------------------------------------------
# Reading one neuron module: (preset, kwargs, {peer name: tensor}, records)
# ---------------------------------------------------------------------------------------

def _lib(m):
    mod = type(m).__module__
    for lib in ("snntorch", "spikingjelly", "norse"):
        if mod.startswith(lib):
            return lib
    return None


def _neuron_kinds():
    """{class: (preset, reader)} for the classes whose libraries import."""
    kinds = {}
    try:
        import snntorch as snn
        kinds[snn.Leaky] = ("snntorch.Leaky", _read_snntorch)
        kinds[snn.Synaptic] = ("snntorch.Synaptic", _read_snntorch)
        kinds[snn.RLeaky] = ("snntorch.RLeaky", _read_snntorch)
    except Exception:  # noqa: BLE001 - an absent or broken optional peer
        pass
    try:
        from spikingjelly.activation_based import neuron as sjn
        kinds[sjn.LIFNode] = ("spikingjelly.LIFNode", _read_sj)
        kinds[sjn.ParametricLIFNode] = ("spikingjelly.ParametricLIFNode", _read_sj)
        kinds[sjn.IFNode] = ("spikingjelly.IFNode", _read_sj)
    except Exception:  # noqa: BLE001
        pass
    try:
        import norse.torch as nt
        kinds[nt.LIFCell] = ("norse.LIFCell", _read_norse)
        kinds[nt.LIFBoxCell] = ("norse.LIFBoxCell", _read_norse)
        kinds[nt.LIFRecurrentCell] = ("norse.LIFRecurrentCell", _read_norse)
        kinds[nt.LSNNCell] = ("norse.LSNNCell", _read_norse)
    except Exception:  # noqa: BLE001
        pass
    return kinds


def _snn_surrogate(name, m):
    """snnTorch's ``spike_grad``: ``("atan", {"alpha": a})``, ``("fast_sigmoid", {"slope": k})`` or
    ``("sigmoid", {"slope": k})``."""
    fn = getattr(m, "spike_grad", None)
    qual = getattr(fn, "__qualname__", "")
    if getattr(fn, "__module__", None) == "snntorch.surrogate" and qual in ("atan.<locals>.inner",
                                                                           "fast_sigmoid.<locals>.inner",
                                                                           "sigmoid.<locals>.inner"):
        kind = qual.split(".")[0]
        var = "alpha" if kind == "atan" else "slope"
        value = fn.__closure__[fn.__code__.co_freevars.index(var)].cell_contents
        return kind, {var: float(value)}
    raise CheckError(f"{name} ({type(m).__name__}): spike_grad {fn!r} is not snnTorch's surrogate.atan(alpha), "
                     "surrogate.fast_sigmoid(slope) or surrogate.sigmoid(slope), the surrogates the snnTorch presets map. Build the layer with "
                     "one of them (check keeps its spikes float64 itself), or check a hand-written surrogate with "
                     "refsnn.oracle.Custom")


def _read_snntorch(name, m, preset):
    import torch

    for attr, ok, what in (("inhibition", False, "inhibition=False"), ("state_quant", False, "state_quant=False"),
                           ("surrogate_disable", False, "surrogate_disable=False")):
        if bool(getattr(m, attr, ok)) != ok:
            raise CheckError(f"{name} ({type(m).__name__}): only {what} is mapped")
    gsf = getattr(m, "graded_spikes_factor", 1.0)
    if float(torch.as_tensor(gsf).detach().reshape(-1)[0]) != 1.0 or torch.as_tensor(gsf).numel() != 1:
        raise CheckError(f"{name} ({type(m).__name__}): graded_spikes_factor must be 1 (spikes of height 1)")
    sg, sg_kw = _snn_surrogate(name, m)
    kw = {"spike_grad": sg, **sg_kw, "reset_mechanism": m.reset_mechanism,
          "reset_delay": bool(getattr(m, "reset_delay", True))}
    params = {"beta": m.beta, "threshold": m.threshold}
    if preset == "snntorch.Synaptic":
        params["alpha"] = m.alpha
    if preset == "snntorch.RLeaky":
        kw["all_to_all"] = bool(m.all_to_all)
        if m.all_to_all:
            if not isinstance(getattr(m, "recurrent", None), torch.nn.Linear):
                raise CheckError(f"{name} (RLeaky): only a Linear recurrent connection (linear_features) is mapped, "
                                 f"not {type(getattr(m, 'recurrent', None)).__name__}")
            params["recurrent.weight"] = m.recurrent.weight
            if m.recurrent.bias is not None:
                params["recurrent.bias"] = m.recurrent.bias
        else:
            params["V"] = m.V
    return kw, params


def _read_sj(name, m, preset):
    sf = m.surrogate_function
    sgname = type(sf).__name__
    if type(sf).__module__ != "spikingjelly.activation_based.surrogate" or sgname not in P.SJ_SURROGATES:
        raise CheckError(f"{name} ({type(m).__name__}): surrogate_function {sgname} is not one of SpikingJelly's "
                         f"{', '.join(P.SJ_SURROGATES)}, the surrogates the SpikingJelly presets map")
    if not getattr(sf, "spiking", True):
        raise CheckError(f"{name}: surrogate_function must have spiking=True")
    kw = {"v_threshold": float(m.v_threshold), "v_reset": None if m.v_reset is None else float(m.v_reset),
          "detach_reset": bool(m.detach_reset), "surrogate_function": sgname, "alpha": float(sf.alpha)}
    params = {}
    if preset == "spikingjelly.LIFNode":
        kw["tau"] = float(m.tau)
        kw["decay_input"] = bool(m.decay_input)
    elif preset == "spikingjelly.ParametricLIFNode":
        kw["decay_input"] = bool(m.decay_input)
        params["w"] = m.w
    return kw, params


_NORSE_FIELDS = {"norse.LIFCell": ("tau_syn_inv", "tau_mem_inv", "v_th", "v_reset"),
                 "norse.LIFBoxCell": ("tau_mem_inv", "v_th", "v_reset"),
                 "norse.LIFRecurrentCell": ("tau_syn_inv", "tau_mem_inv", "v_th", "v_reset"),
                 "norse.LSNNCell": ("tau_syn_inv", "tau_mem_inv", "tau_adapt_inv", "v_th", "v_reset", "beta")}


def _read_norse(name, m, preset):
    import torch

    p = m.p
    leak = torch.as_tensor(p.v_leak).detach().double()
    if leak.numel() != 1 and bool((leak != leak.reshape(-1)[0]).any()):
        raise CheckError(f"{name}: a per-neuron v_leak is not mapped")
    kw = {"method": p.method, "alpha": float(torch.as_tensor(p.alpha).detach().reshape(-1)[0]),
          "dt": float(m.dt), "v_leak": float(leak.reshape(-1)[0])}
    if preset == "norse.LIFRecurrentCell":
        kw["autapses"] = bool(m.autapses)
    params = {k: getattr(p, k) for k in _NORSE_FIELDS[preset]}
    if preset == "norse.LIFRecurrentCell":
        params = {"input_weights": m.input_weights, "recurrent_weights": m.recurrent_weights, **params}
    return kw, params


# ---------------------------------------------------------------------------------------
# The float64 copy
# ---------------------------------------------------------------------------------------

def _state_memo(net):
    """deepcopy memo: hidden states that are non-leaf tensors (a run's graph) are copied detached."""
    import torch

    memo = {}

    def visit(v, depth):
        if isinstance(v, torch.Tensor):
            if v.grad_fn is not None or (v.requires_grad and not v.is_leaf):
                memo[id(v)] = v.detach().clone()
        elif depth < 3 and isinstance(v, dict):
            for w in v.values():
                visit(w, depth + 1)
        elif depth < 3 and isinstance(v, (list, tuple)):
            for w in v:
                visit(w, depth + 1)

    for m in net.modules():
        visit(vars(m), 0)
    return memo


@contextlib.contextmanager
def float64_surrogates(modules):
    """Within the context, every snnTorch neuron in ``modules`` whose ``spike_grad`` is a stock
    ``atan``/``fast_sigmoid``/``sigmoid`` has one whose forward keeps the input's dtype (the backward is
    snnTorch's own, :func:`refsnn.oracle.peers.float64_spike_grad`); on exit the original
    surrogate objects are put back. :func:`check` applies it to its float64 copy."""
    from .peers import float64_spike_grad

    saved = []
    try:
        for name, m in modules:
            kind, kw = _snn_surrogate(name, m)
            saved.append((m, m.spike_grad))
            m.spike_grad = float64_spike_grad(kind, next(iter(kw.values())))
        yield
    finally:
        for m, fn in reversed(saved):
            m.spike_grad = fn


def _to_leaf(t):
    import torch

    return torch.as_tensor(t).detach().clone().double().requires_grad_(True)


def _float64_copy(net, kinds):
    """A float64 deep copy with fresh states, no hooks of the user's, every mapped parameter a leaf."""
    import torch

    had_hooks = any(m._forward_hooks or m._forward_pre_hooks or m._backward_hooks
                    or getattr(m, "_backward_pre_hooks", None) for m in net.modules())
    try:
        cp = copy.deepcopy(net, _state_memo(net))
    except Exception as exc:  # noqa: BLE001 - a module that cannot be copied
        raise CheckError(f"the network cannot be deep-copied ({type(exc).__name__}: {exc}); check runs a float64 "
                         "copy so that your network is left as it is") from None
    for m in cp.modules():
        m._forward_hooks.clear()
        m._forward_pre_hooks.clear()
        m._backward_hooks.clear()
        if hasattr(m, "_backward_pre_hooks"):
            m._backward_pre_hooks.clear()
    cp.cpu().double()
    cp.train()
    for m in cp.modules():
        t = type(m)
        if t in kinds and kinds[t][0].startswith("norse."):
            # LIFParameters are a namedtuple, not parameters: float64 leaves on the copy
            mapped = _NORSE_FIELDS[kinds[t][0]]
            fields = {k: _to_leaf(v) for k, v in m.p._asdict().items()
                      if isinstance(v, torch.Tensor) or (k in mapped and isinstance(v, (int, float)))}
            m.p = m.p._replace(**fields)
            if kinds[t][0] == "norse.LIFRecurrentCell" and not m.autapses:
                m.recurrent_weights.register_hook(lambda g: g.clone().fill_diagonal_(0.0))
    for p in cp.parameters():
        p.requires_grad_(True)
    return cp, had_hooks


# ---------------------------------------------------------------------------------------
# Recording a run through hooks
# ---------------------------------------------------------------------------------------

_ALLOWED_PLAIN = ("Flatten", "Identity")


def _units(net, kinds):
    """``[(name, module, kind)]``: the neuron modules and the Linears outside them; refuses the rest."""
    import torch

    units, skip = [], set()
    containers = (torch.nn.Sequential, torch.nn.ModuleList, torch.nn.ModuleDict)
    for name, m in net.named_modules():
        if any(name.startswith(s + ".") for s in skip):
            continue
        label = name or type(net).__name__
        t = type(m)
        if t in kinds:
            units.append((label, m, "neuron"))
            skip.add(name)
        elif t is torch.nn.Linear or (isinstance(m, torch.nn.Linear) and t.__module__.startswith("spikingjelly")):
            units.append((label, m, "linear"))
        elif t.__name__ in _ALLOWED_PLAIN:
            continue
        elif [k for k in kinds if isinstance(m, k)]:
            k = [k for k in kinds if isinstance(m, k)][0]
            raise CheckError(f"module {label!r} ({t.__module__}.{t.__name__}) is a subclass of {k.__module__}."
                             f"{k.__name__}; its forward may differ from the class the preset maps. Check a "
                             "hand-written neuron with refsnn.oracle.Custom (the preset it follows and a step "
                             "function)")
        elif _lib(m) and not isinstance(m, containers):
            raise CheckError(f"module {label!r} ({t.__module__}.{t.__name__}) is a {_lib(m)} module check "
                             f"cannot read. Supported: {SUPPORTED}")
        elif not list(m.children()) and m is not net:
            raise CheckError(f"module {label!r} ({t.__module__}.{t.__name__}) is not a layer check can read. "
                             f"Supported: {SUPPORTED}")
    if not any(k == "neuron" for _, _, k in units):
        raise CheckError(f"no spiking neuron module found in {type(net).__name__}. Supported: {SUPPORTED}")
    return units


def _steps(a):
    """A call's tensor as (steps, B, n): (B, n) is one step, (T, B, n) is T steps."""
    if a.ndim == 2:
        return a.unsqueeze(0)
    if a.ndim == 3:
        return a
    raise CheckError(f"a layer received a tensor of shape {tuple(a.shape)}; check reads (B, n) steps or (T, B, n) "
                     "sequences of dense layers")


class _Recorder:
    def __init__(self, units, kinds):
        self.units = units
        self.kinds = kinds
        self.order = []                  # first-call order of units
        self.calls = {id(m): [] for _, m, _ in units}   # per unit: [(input, output)] (module level)
        self.steps = {id(m): [] for _, m, k in units if k == "neuron"}  # per neuron: [(s_t, v_t)]
        self.first = None                # the module that receives the network input
        self.x_leaves = []
        self.handles = []

    def _seen(self, m):
        if id(m) not in {id(u) for u in self.order}:
            self.order.append(m)

    def install(self):
        import torch

        for name, m, kind in self.units:
            self.handles.append(m.register_forward_pre_hook(self._pre))
            self.handles.append(m.register_forward_hook(self._post))
            if kind == "neuron" and self.kinds[type(m)][0].startswith("spikingjelly."):
                self._wrap_sj(m)

    def _pre(self, m, args):
        self._seen(m)
        if self.first is None:
            self.first = m
        if m is self.first:
            leaf = args[0].detach().clone().double().requires_grad_(True)
            self.x_leaves.append(leaf)
            return (leaf,) + tuple(args[1:])
        return None

    def _post(self, m, args, out):
        kind = self.kinds.get(type(m), (None,))[0]
        if kind is None:                              # a Linear
            self.calls[id(m)].append((args[0], out))
            return None
        if kind.startswith("snntorch."):
            spk = out[0] if isinstance(out, tuple) else out
            mem = m.mem
            self._keep(m, spk, mem)
        elif kind.startswith("norse."):
            spk, state = out
            self._keep(m, spk, state.v)
        else:                                          # spikingjelly: steps recorded by the wrapper
            spk = out
        self.calls[id(m)].append((args[0], spk))
        return None

    def _keep(self, m, s, v):
        for t in (s, v):
            if t.requires_grad:
                t.retain_grad()
        self.steps[id(m)].append((s, v))

    def _wrap_sj(self, m):
        import torch

        single = m.single_step_forward

        def step(x, *a, **k):
            s = single(x, *a, **k)
            self._keep(m, s, m.v)
            return s

        def multi(x_seq, *a, **k):
            return torch.stack([m.single_step_forward(x_seq[t]) for t in range(x_seq.shape[0])])

        m.single_step_forward = step
        m.multi_step_forward = multi

    def remove(self):
        for h in self.handles:
            h.remove()


def _drive(net, x, kinds):
    """Run the network the way its form says: step by step with a state for a forward that takes
    one (Norse's SequentialState, snnTorch's NIR import), step by step for an nn.Sequential of
    step-wise neurons, one call otherwise (a module with its own time loop, multi-step nodes)."""
    import inspect

    import torch

    neurons = [m for m in net.modules() if type(m) in kinds]
    try:
        stateful = "state" in inspect.signature(net.forward).parameters
    except (TypeError, ValueError):
        stateful = False
    if stateful:                  # Norse SequentialState, a graph imported from NIR: out, state = net(x_t, state)
        state = None
        for t in range(x.shape[0]):
            _, state = net(x[t], state)
        return
    if type(net) is torch.nn.Sequential:
        sn = [m for m in neurons if kinds[type(m)][0].startswith("snntorch.")]
        for m in sn:
            if not m.init_hidden:
                raise CheckError(f"snnTorch neuron {type(m).__name__} in nn.Sequential needs init_hidden=True "
                                 "(without it the layer returns (spk, mem) and the Sequential cannot chain it)")
        stepwise = bool(sn) or any(kinds[type(m)][0].startswith("spikingjelly.") and m.step_mode == "s"
                                   for m in neurons)
        if any(kinds[type(m)][0].startswith("norse.") for m in neurons):
            raise CheckError("Norse cells need norse.torch.SequentialState (nn.Sequential cannot pass their state)")
        if stepwise:
            for t in range(x.shape[0]):
                net(x[t])
            return
    net(x)


def _layers(rec: _Recorder, names):
    """The layers in call order: [(linear or None, neuron)], each checked to read its predecessor."""
    import torch

    layers, pending = [], None
    for m in rec.order:
        if type(m) in rec.kinds:
            kind = rec.kinds[type(m)][0]
            lin = pending
            if kind == "norse.LIFRecurrentCell":
                if lin is not None:
                    raise CheckError(f"Linear {names[id(lin)]!r} feeds the recurrent cell {names[id(m)]!r}; the "
                                     "norse.LIFRecurrentCell preset maps the cell's own input_weights only")
            elif lin is None:
                raise CheckError(f"neuron {names[id(m)]!r} is not preceded by a torch.nn.Linear; every layer is a "
                                 "Linear followed by a neuron module")
            layers.append((lin, m))
            pending = None
        else:
            if pending is not None:
                raise CheckError(f"Linear {names[id(pending)]!r} is followed by Linear {names[id(m)]!r}; every layer "
                                 "is one Linear followed by one neuron module")
            pending = m
    if pending is not None:
        raise CheckError(f"Linear {names[id(pending)]!r} after the last neuron is not mapped: the presets end in "
                         "spiking layers (put a readout in the loss instead)")
    # values: each neuron reads its Linear's output, each Linear the previous layer's spikes
    prev_s = None
    for l, (lin, m) in enumerate(layers):
        if not rec.steps[id(m)]:
            raise CheckError(f"neuron {names[id(m)]!r} recorded no steps")
        n_in = torch.cat([_steps(a) for a, _ in rec.calls[id(m)]])
        if lin is not None:
            lin_in = torch.cat([_steps(a) for a, _ in rec.calls[id(lin)]])
            lin_out = torch.cat([_steps(o) for _, o in rec.calls[id(lin)]])
            if lin_out.shape != n_in.shape or not torch.equal(lin_out, n_in):
                raise CheckError(f"neuron {names[id(m)]!r} does not receive the output of Linear {names[id(lin)]!r} "
                                 f"unchanged (as steps: {tuple(lin_out.shape)} vs {tuple(n_in.shape)}); check maps "
                                 "Linear → neuron layers whose Linear acts on (B, n) steps or (T, B, n) sequences")
            src = lin_in
        else:
            src = n_in
        if prev_s is not None and (src.shape != prev_s.shape or not torch.equal(src, prev_s)):
            what = names[id(lin)] if lin is not None else names[id(m)]
            raise CheckError(f"{what!r} (layer {l}) does not receive the spikes of layer {l - 1} unchanged; check "
                             "maps networks whose layers feed their spikes straight to the next layer")
        prev_s = torch.stack([s for s, _ in rec.steps[id(m)]])
    return layers


# ---------------------------------------------------------------------------------------
# Loss and the comparison dict
# ---------------------------------------------------------------------------------------

def _torch_loss(loss, S, V, target, probes, rng):
    import torch
    import torch.nn.functional as F

    if callable(loss):
        Sd = S.detach().clone().requires_grad_(True)
        Vd = V.detach().clone().requires_grad_(True)
        value = loss(Sd, Vd)
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            raise CheckError("loss: a callable loss must return a scalar tensor of (spikes, membranes)")
        gs, gv = torch.autograd.grad(value, (Sd, Vd), allow_unused=True)
        ps = np.zeros(tuple(S.shape)) if gs is None else gs.detach().numpy().astype(np.float64)
        pv = np.zeros(tuple(V.shape)) if gv is None else gv.detach().numpy().astype(np.float64)
        return _torch_loss("linear", S, V, None, (ps, pv), rng)
    if loss not in C.LOSSES:
        raise CheckError(f"loss must be one of {', '.join(C.LOSSES)} or a callable (spikes, membranes) -> scalar; "
                         f"got {loss!r}")
    extra = {"loss": np.str_(loss)}
    if loss == "linear":
        ps, pv = probes if probes is not None else (rng.normal(size=tuple(S.shape)), rng.normal(size=tuple(V.shape)))
        value = (S * torch.as_tensor(ps)).sum() + (V * torch.as_tensor(pv)).sum()
        extra.update(probe_s=np.asarray(ps, np.float64), probe_v=np.asarray(pv, np.float64))
        return value, extra
    if target is None:
        raise CheckError(f"loss {loss!r} needs target= ({C.LOSSES[loss][2]})")
    y = torch.as_tensor(np.asarray(target.detach().cpu() if isinstance(target, torch.Tensor) else target))
    if C.LOSSES[loss][1] == "labels":
        y = y.long()
        value = F.cross_entropy(S.sum(0) if loss == "ce_count" else V.max(0).values, y)
    else:
        y = y.double()
        value = F.mse_loss(V, y) if loss == "mse_membrane" else F.mse_loss(S.sum(0), y)
    extra["target"] = y.numpy()
    return value, extra


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64)


def _grad(t):
    return np.zeros(tuple(t.shape)) if t.grad is None else _np(t.grad)


def _assemble(preset, kwargs, layer_params, x_leaves, steps, loss, target, probes, seed, records):
    """Loss, backward, and the dict :func:`refsnn.oracle.compare.compare` reads."""
    import torch

    S = torch.stack([s for s, _ in steps[-1]])
    V = torch.stack([v for _, v in steps[-1]])
    value, extra = _torch_loss(loss, S, V, target, probes, np.random.default_rng(seed))
    value.backward()
    d = {"preset": np.str_(preset), "kwargs": np.str_(json.dumps(kwargs)), **extra,
         "loss_value": np.asarray(float(value.detach())), "spikes": _np(S), "membranes": _np(V)}
    x = torch.cat([_steps(a) for a in x_leaves])
    d["x"] = _np(x)
    d["grad/x"] = np.concatenate([_grad(a).reshape(tuple(_steps(a).shape)) for a in x_leaves])
    for l, params in enumerate(layer_params):
        for k, t in params.items():
            d[f"param/{l}.{k}"] = _np(t)
            d[f"grad/{l}.{k}"] = _grad(t)
    if records:
        for l, st in enumerate(steps):
            d[f"spikes/{l}"] = np.stack([_np(s) for s, _ in st])
            d[f"membranes/{l}"] = np.stack([_np(v) for _, v in st])
            d[f"dspikes/{l}"] = np.stack([_grad(s) for s, _ in st])
            d[f"dmembranes/{l}"] = np.stack([_grad(v) for _, v in st])
    return d


def _one(values, what, names):
    vals = {json.dumps(v, sort_keys=True) for v in values.values()}
    if len(vals) > 1:
        detail = "; ".join(f"{n}: {v}" for n, v in values.items())
        raise CheckError(f"the layers differ in {what} ({detail}); one preset maps one set of arguments for the "
                         "whole network")
    return next(iter(values.values()))


def _check_module(net, x, loss, target, probes, seed, records, want_preset):
    import torch

    kinds = _neuron_kinds()
    names = {}
    _units(net, kinds)                                # refuse early, on the user's network (read only)
    cp, had_hooks = _float64_copy(net, kinds)
    units = _units(cp, kinds)
    for name, m, _ in units:
        names[id(m)] = name
    neurons = [(name, m) for name, m, k in units if k == "neuron"]
    presets = {name: kinds[type(m)][0] for name, m in neurons}
    preset = _one(presets, "neuron class", names)
    if want_preset is not None and want_preset != preset:
        raise CheckError(f"peer={want_preset!r} but the network's neurons are {preset}")
    for name, m in neurons:                            # fresh states on the copy
        if preset.startswith("snntorch."):
            m.reset_mem()
        elif preset.startswith("spikingjelly."):
            m.reset()
    for name, m in neurons:                            # every mapped neuron parameter a leaf that keeps its grad
        for t in kinds[type(m)][1](name, m, preset)[1].values():
            if isinstance(t, torch.Tensor) and t.is_leaf:
                t.requires_grad_(True)
    rec = _Recorder(units, kinds)
    rec.install()
    snn_mods = [(name, m) for name, m in neurons if preset.startswith("snntorch.")]
    xt = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x.detach().cpu()).double().clone()
    try:
        with float64_surrogates(snn_mods), torch.enable_grad():
            _drive(cp, xt, kinds)
    except CheckError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's forward on the copy
        raise CheckError(f"running a float64 copy of {type(net).__name__} on x of shape {tuple(xt.shape)} failed "
                         f"({type(exc).__name__}: {exc}); check calls net(x) once for a module with its own time "
                         "loop, and net(x[t]) per step for nn.Sequential and (x[t], state) for a forward that "
                         "takes a state") from None
    finally:
        rec.remove()
    layers = _layers(rec, names)
    kw_all, params = {}, []
    for lin, m in layers:
        kw, p = kinds[type(m)][1](names[id(m)], m, preset)
        kw_all[names[id(m)]] = kw
        lp = {}
        if lin is not None:
            lp["weight"] = lin.weight
            if lin.bias is not None:
                lp["bias"] = lin.bias
        lp.update(p)
        params.append(lp)
    kwargs = _one(kw_all, "neuron arguments", names)
    for lp in params:
        for t in lp.values():
            if not t.requires_grad:
                raise CheckError("internal: a mapped parameter is not a leaf of the copy")
    d = _assemble(preset, kwargs, params, rec.x_leaves, [rec.steps[id(m)] for _, m in layers], loss, target, probes,
                  seed, records)
    notes = [f"read: {len(layers)} layer(s) of {preset} with {json.dumps(kwargs)}"]
    if had_hooks:
        notes.append("your network's own forward hooks were not run (check runs a copy without them)")
    return d, notes


def _check_custom(step, x, spec: Custom, loss, target, probes, seed, records):
    import torch

    if spec.preset not in P.PRESETS:
        raise CheckError(f"Custom: unknown preset {spec.preset!r}; expected one of: {', '.join(P.PRESETS)}")
    if not callable(step):
        raise CheckError("with peer=Custom(...), net must be the step function step(params, x_t, state)")
    if not isinstance(spec.params, (list, tuple)) or not all(isinstance(p, dict) for p in spec.params):
        raise CheckError("Custom: params must be a list of per-layer dicts {peer name: tensor}")
    params = [{k: _to_leaf(v) for k, v in p.items()} for p in spec.params]
    xt = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x.detach().cpu()).double()
    if xt.ndim != 3:
        raise CheckError(f"x has shape {tuple(xt.shape)}; a Custom step function takes x as (T, B, n_in)")
    leaves, steps, state = [], [[] for _ in params], None
    with torch.enable_grad():
        for t in range(xt.shape[0]):
            leaf = xt[t].clone().requires_grad_(True)
            leaves.append(leaf)
            out = step(params, leaf, state)
            if not (isinstance(out, tuple) and len(out) == 2):
                raise CheckError("the step function must return (records, state)")
            recs, state = out
            if len(recs) != len(params):
                raise CheckError(f"the step function returned records of {len(recs)} layers; params has {len(params)}")
            for l, r in enumerate(recs):
                if not (isinstance(r, (tuple, list)) and len(r) == 2 and all(isinstance(a, torch.Tensor) for a in r)):
                    raise CheckError(f"records[{l}] at step {t} must be a (spikes_t, membranes_t) pair of tensors")
                for a in r:
                    if a.requires_grad:
                        a.retain_grad()
                steps[l].append(tuple(r))
    return _assemble(spec.preset, dict(spec.kwargs), params, leaves, steps, loss, target, probes, seed, records), []


def record(net, x, loss="linear", peer=None, target=None, probes=None, seed=0, records=False):
    """``(arrays, notes)``: the dict :func:`refsnn.oracle.compare.compare` reads (``check`` without
    the comparison) and what check noted while reading the network."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise CheckError("refsnn.oracle.check needs torch (pip install torch, or the 'torch' extra)") from None
    if isinstance(peer, Custom):
        return _check_custom(net, x, peer, loss, target, probes, seed, records)
    import torch

    if not isinstance(net, torch.nn.Module):
        raise CheckError(f"net must be a torch.nn.Module (or a step function with peer=Custom(...)), got "
                         f"{type(net).__name__}")
    if peer is not None and not isinstance(peer, str):
        raise CheckError(f"peer must be None, a preset name or a refsnn.oracle.Custom, got {type(peer).__name__}")
    return _check_module(net, x, loss, target, probes, seed, records, peer)


@contextlib.contextmanager
def _snntorch_instances_kept():
    """snnTorch appends every neuron it constructs to the class-level list
    ``SpikingNeuron.instances`` (which ``snntorch.utils.reset`` walks), even one whose
    constructor then fails. What check builds or copies must not stay in the user's
    process: the list is restored on the way out."""
    import sys
    mod = sys.modules.get("snntorch._neurons.neurons")
    saved = list(mod.SpikingNeuron.instances) if mod is not None else None
    try:
        yield
    finally:
        mod = sys.modules.get("snntorch._neurons.neurons")
        if mod is not None:
            mod.SpikingNeuron.instances[:] = saved if saved is not None else []


def _check_impl(net, x, loss="linear", peer=None, target=None, probes=None, seed=0, rtol=None, records=None, save=None,
          search=True):
    """Check ``net``'s gradients on input ``x`` against refsnn; returns a :class:`~refsnn.oracle.compare.Report`.

    ``loss``: a name of :data:`refsnn.oracle.compare.LOSSES` (``target`` where it needs one;
    ``probes=(probe_s, probe_v)`` for ``"linear"``, else seeded by ``seed``) or a callable
    ``loss(spikes, membranes)``. ``peer``: None (read the network), a preset name the network
    must follow, or a :class:`Custom` declaration (then ``net`` is the step function).
    ``records``: add the per-layer records for compare's diagnosis (None: when compare reads
    them). ``save``: also write the recording as an .npz (``refsnn compare`` reads it).
    ``search=False`` skips the search for the cause of a disagreement (compare's variants and
    diagnosis).
    """
    if records is None:
        records = _compare_reads_records()
    d, notes = record(net, x, loss, peer, target, probes, seed, records)
    if save is not None:
        np.savez(save, **d)
    rep = C.compare(d, rtol=rtol, search=search)
    label = "check(" + (f"Custom {peer.preset}" if isinstance(peer, Custom) else type(net).__name__) + ")"
    rep.path = label
    rep.notes.extend(notes)
    return rep



@functools.wraps(_check_impl)
def check(*args, **kwargs):
    with _snntorch_instances_kept():
        return _check_impl(*args, **kwargs)


def _compare_reads_records():
    """Whether this refsnn's compare accepts the per-layer records (``dmembranes/<l>``, ...)."""
    return bool(getattr(C, "PER_LAYER", None))


# ---------------------------------------------------------------------------------------
# The command: a saved state dict plus a stated architecture (never unpickling)
# ---------------------------------------------------------------------------------------

def build_peer(preset, state, kwargs):
    """The live peer network for a state dict of an ``nn.Sequential`` (snnTorch, SpikingJelly)
    or ``SequentialState`` (Norse) of Linear → neuron layers: ``state`` maps ``"<i>.<name>"``
    to tensors, ``kwargs`` are the preset's arguments (docs/presets.md)."""
    import torch

    if preset not in _CLI_BUILDERS:
        raise CheckError(f"--preset {preset!r}: the command builds {', '.join(_CLI_BUILDERS)}")
    bad = [k for k in state if not k.split(".")[0].isdigit()]
    if bad:
        raise CheckError(f"the state dict's keys must be an nn.Sequential's ('0.weight', '1.beta', ...); got {bad[:4]}")
    lins = sorted(int(k.split(".")[0]) for k in state if k.endswith(".weight") and k.count(".") == 1
                  and state[k].ndim == 2)
    if not lins or lins != list(range(0, 2 * len(lins), 2)):
        raise CheckError("the state dict must hold Linear weights at 0, 2, 4, ... (nn.Sequential(Linear, neuron, "
                         f"Linear, neuron, ...)); found 2-D weights at {lins}")
    known = {f"{i}.weight" for i in lins} | {f"{i}.bias" for i in lins}
    mods = []
    for i in lins:
        W = state[f"{i}.weight"]
        mods.append(torch.nn.Linear(W.shape[1], W.shape[0], bias=f"{i}.bias" in state))
        try:
            mods.append(_CLI_BUILDERS[preset](W.shape[0], {k[len(f"{i + 1}."):]: v for k, v in state.items()
                                                           if k.startswith(f"{i + 1}.")}, kwargs))
        except CheckError:
            raise
        except Exception as exc:  # noqa: BLE001 - the peer's constructor rejects a value
            raise CheckError(f"--kwargs {json.dumps(kwargs)}: {preset} cannot be built with them "
                             f"({type(exc).__name__}: {exc})") from None
    stray = [k for k in state if k not in known and int(k.split(".")[0]) not in {i + 1 for i in lins}]
    if stray:
        raise CheckError(f"state dict entries {stray[:4]} belong to no Linear → neuron layer")
    if preset.startswith("norse."):
        import norse.torch as nt
        net = nt.SequentialState(*mods)
    else:
        net = torch.nn.Sequential(*mods)
    net = net.double()
    fresh = net.state_dict()
    for k, v in state.items():
        if k.endswith(("reset_mechanism_val", "graded_spikes_factor")) and k in fresh and not torch.equal(
                v.double(), fresh[k].double()):
            def say(t, k=k):
                val = t.tolist()
                mech = {0: "subtract", 1: "zero", 2: "none"}
                return (f"{val:g} (reset_mechanism={mech.get(int(val), '?')!r})"
                        if k.endswith("reset_mechanism_val") else f"{val}")
            raise CheckError(f"state dict entry {k!r} is {say(v)} but the stated --kwargs build {say(fresh[k])}: "
                             "state the neuron's arguments as it was built")
    try:
        net.load_state_dict({k: v.double() if v.is_floating_point() else v for k, v in state.items()}, strict=True)
    except RuntimeError as exc:
        raise CheckError(f"the state dict does not fit the stated architecture: {exc}") from None
    return net


def _kw(kwargs, allowed, what):
    extra = sorted(set(kwargs) - set(allowed))
    if extra:
        raise CheckError(f"--kwargs {extra} are not arguments of {what}; expected some of {sorted(allowed)}")


def _cli_snntorch(cls):
    def make(n, sd, kw):
        import torch
        import snntorch as snn
        from snntorch import surrogate

        _kw(kw, ("spike_grad", "alpha", "slope", "reset_mechanism", "reset_delay", "alpha_syn", "all_to_all"), cls)
        if kw.get("spike_grad", "atan") not in ("atan", "fast_sigmoid", "sigmoid"):
            raise CheckError(f"--kwargs: spike_grad must be 'atan', 'fast_sigmoid' or 'sigmoid' (the snnTorch "
                             f"surrogates the presets map), got {kw['spike_grad']!r}")
        for name in ("alpha", "slope"):
            if name in kw and (isinstance(kw[name], bool) or not isinstance(kw[name], (int, float))):
                raise CheckError(f"--kwargs: {name} must be a number, got {kw[name]!r}")
        kind = kw.get("spike_grad", "atan")
        sg = (surrogate.atan(kw.get("alpha", 2.0)) if kind == "atan"
              else getattr(surrogate, kind)(kw.get("slope", 25.0)))
        # beta and threshold are in every snnTorch state dict (buffers or parameters); load_state_dict sets them
        common = dict(beta=sd.get("beta", torch.tensor(0.9)).clone(),
                      threshold=sd.get("threshold", torch.tensor(1.0)).clone(),
                      spike_grad=sg, init_hidden=True, reset_mechanism=kw.get("reset_mechanism", "subtract"))
        if cls == "Leaky":
            return snn.Leaky(reset_delay=kw.get("reset_delay", True), **common)
        if cls == "Synaptic":
            return snn.Synaptic(alpha=sd.get("alpha", torch.tensor(0.8)).clone(), **common)
        return snn.RLeaky(linear_features=n, all_to_all=kw.get("all_to_all", True), V=sd.get("V", torch.tensor(0.5)),
                          **common)
    return make


def _cli_sj(cls):
    def make(n, sd, kw):
        from spikingjelly.activation_based import neuron, surrogate

        _kw(kw, ("tau", "decay_input", "v_threshold", "v_reset", "detach_reset", "surrogate_function", "alpha"), cls)
        common = dict(v_threshold=kw.get("v_threshold", 1.0), v_reset=kw.get("v_reset", 0.0),
                      detach_reset=kw.get("detach_reset", False), step_mode="m",
                      surrogate_function=getattr(surrogate, kw.get("surrogate_function", "Sigmoid"))(
                          alpha=kw.get("alpha", 4.0)))
        if cls == "LIFNode":
            return neuron.LIFNode(tau=kw.get("tau", 2.0), decay_input=kw.get("decay_input", True), **common)
        if cls == "ParametricLIFNode":
            return neuron.ParametricLIFNode(decay_input=kw.get("decay_input", True), **common)
        return neuron.IFNode(**common)
    return make


def _cli_norse(cls):
    def make(n, sd, kw):
        import torch
        import norse.torch as nt
        from norse.torch.functional.lif import LIFParameters

        names = ("tau_syn_inv", "tau_mem_inv", "v_th", "v_reset", "dt")
        _kw(kw, names, cls)
        p = LIFParameters(**{k: torch.tensor(float(kw[k]), dtype=torch.float64) for k in names[:4] if k in kw},
                          v_leak=torch.tensor(0.0, dtype=torch.float64))
        return nt.LIFCell(p=p, dt=kw.get("dt", 0.001))
    return make


_CLI_BUILDERS = {"snntorch.Leaky": _cli_snntorch("Leaky"), "snntorch.Synaptic": _cli_snntorch("Synaptic"),
                 "snntorch.RLeaky": _cli_snntorch("RLeaky"),
                 "spikingjelly.LIFNode": _cli_sj("LIFNode"),
                 "spikingjelly.ParametricLIFNode": _cli_sj("ParametricLIFNode"),
                 "spikingjelly.IFNode": _cli_sj("IFNode"), "norse.LIFCell": _cli_norse("LIFCell")}


def load_state_dict(path):
    """A ``torch.save``d state dict, read with ``weights_only=True`` (tensors only, never arbitrary objects)."""
    import pickle

    import warnings

    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sd = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CheckError(f"{path} is a directory, not a saved state dict") from None
    except Exception as exc:  # noqa: BLE001 - torch.load raises many kinds on a file it cannot read
        raise CheckError(f"{path} is not a state dict that torch.load(weights_only=True) reads ({type(exc).__name__}):"
                         " refsnn accepts tensors and dicts of them, and never unpickles other objects. Save "
                         "torch.save(net.state_dict(), path)") from None
    if not isinstance(sd, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in sd.items()):
        raise CheckError(f"{path}: expected a state dict (a dict of named tensors, torch.save(net.state_dict()))")
    return sd


def load_nir(path):
    """A NIR graph file (HDF5, read by ``nir.read``: no pickle) as the live network snnTorch's
    own NIR import builds from it (its ``Leaky`` layers: ``reset_delay=False``, zero reset)."""
    import io

    try:
        import nir
        from snntorch.import_nir import import_from_nir
    except ImportError as exc:
        raise CheckError(f"checking a NIR graph needs the nir package and snnTorch ({exc})") from None
    try:
        graph = nir.read(path)
    except FileNotFoundError:
        raise CheckError(f"{path}: no such file") from None
    except Exception as exc:  # noqa: BLE001 - h5py and nir raise many kinds
        raise CheckError(f"{path} is not a NIR graph nir.read can read ({type(exc).__name__}: {exc})") from None
    try:
        with contextlib.redirect_stdout(io.StringIO()):          # snnTorch's importer prints its progress
            return import_from_nir(graph)
    except Exception as exc:  # noqa: BLE001
        kinds = sorted({type(n).__name__ for n in graph.nodes.values()})
        raise CheckError(f"{path}: snnTorch's NIR import cannot build this graph (nodes {kinds}; "
                         f"{type(exc).__name__}: {exc})") from None


def _is_hdf5(path):
    try:
        with open(path, "rb") as fh:
            return fh.read(8) == b"\x89HDF\r\n\x1a\n"
    except OSError:
        return False


def main(*args, **kwargs):
    """``refsnn check``: exit 0 agree, 1 disagree, 2 bad input (never a traceback)."""
    with _snntorch_instances_kept():
        return _main(*args, **kwargs)


def _main(path, preset=None, kwargs="{}", x=None, T=20, B=4, seed=0, loss="linear", as_json=False, out=None,
          err=None):
    """The command's body (see :func:`main`)."""
    import sys

    out = out or sys.stdout
    err = err or sys.stderr
    try:
        try:
            import torch
        except ImportError:
            raise CheckError("refsnn check needs torch (and the peer library)") from None
        try:
            kw = json.loads(kwargs)
        except json.JSONDecodeError as exc:
            raise CheckError(f"--kwargs is not valid JSON ({exc})") from None
        if not isinstance(kw, dict):
            raise CheckError("--kwargs must be a JSON object of the preset's arguments")
        if loss not in C.LOSSES or C.LOSSES[loss][1] is not None:
            raise CheckError(f"--loss must be one without a target here: linear (got {loss!r}); save the recording "
                             "with refsnn.oracle.check(..., save=) for the others")
        from .._npz import NpzError, check_regular_file
        try:                                     # before anything opens it: a FIFO would block forever
            check_regular_file(path)
        except NpzError as exc:
            raise CheckError(str(exc).replace("regular .npz file", "regular file (a state dict or a .nir graph)")) \
                from None
        if _is_hdf5(path):
            if kw:
                raise CheckError("--kwargs: a NIR graph states its own parameters; leave --kwargs out")
            net = load_nir(path)
        else:
            if preset is None:
                raise CheckError("--preset is required for a state dict (the neuron class it was saved from, "
                                 "e.g. snntorch.Leaky); a NIR graph (.nir) needs none")
            net = build_peer(preset, load_state_dict(path), kw)
        n_in = next(m for m in net.modules() if isinstance(m, torch.nn.Linear)).in_features
        if x is not None:
            arrays = C.load(x)
            if "x" not in arrays:
                raise CheckError(f"{x}: no entry 'x' (the input, (T, B, {n_in}))")
            xa = arrays["x"]
            if xa.ndim != 3 or xa.shape[2] != n_in or xa.dtype.kind != "f":
                raise CheckError(f"{x}: entry 'x' must be a real (T, B, {n_in}) array, got {xa.dtype} {xa.shape}")
        else:
            for name, v in (("--T", T), ("--B", B)):
                if not isinstance(v, int) or v < 1:
                    raise CheckError(f"{name} must be a positive integer, got {v}")
            xa = np.random.default_rng(seed).uniform(0.0, 3.0, (T, B, n_in))
        try:
            rep = check(net, xa, loss=loss, peer=preset, seed=seed)
        except (C.BadInput, P.PresetError):
            raise
        except (ValueError, TypeError) as exc:       # a value in --kwargs the peer accepted but cannot use
            raise CheckError(f"the network built from {path} (--kwargs {json.dumps(kw)}) cannot be run or read "
                             f"({type(exc).__name__}: {exc})") from None
        rep.path = path
    except C.BadInput as exc:
        if as_json:
            json.dump({"path": path, "error": str(exc), "exit": 2}, out, indent=1)
            print(file=out)
        print(f"refsnn check: error: {exc}", file=err)
        return 2
    except P.PresetError as exc:
        print(f"refsnn check: error: {exc}", file=err)
        return 2
    if as_json:
        json.dump(rep.as_dict(), out, indent=1)
        print(file=out)
    else:
        print(C.format_report(rep).replace("refsnn compare", "refsnn check", 1), file=out)
    return rep.exit_code
