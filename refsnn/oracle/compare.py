r"""``refsnn compare``: check a peer network's gradients against refsnn in float64.

The user saves one ``.npz`` from their own PyTorch code (no pickle; every entry a plain
array) with these entries:

=========================  ==============================================================
``preset``                 a string, one of :data:`refsnn.oracle.presets.PRESETS`
``kwargs``                 optional: a JSON string of the preset's (the peer's) arguments
``x``                      the network input ``(T, B, n_in)`` (what the first layer receives)
``param/<l>.<name>``       every peer parameter of layer l, in the peer's shape
                           (``param/0.weight`` is the first ``Linear``'s ``(out, in)`` weight)
``loss``                   a string, one of :data:`LOSSES`
``target``                 the loss's target, if it has one (see :data:`LOSSES`)
``probe_s``, ``probe_v``   the weights of the ``linear`` loss (either may be left out)
``loss_value``             the user's loss value (a scalar)
``grad/<l>.<name>``        the user's gradients (any subset of the parameters), and
                           optionally ``grad/x``
``spikes``, ``membranes``  optional: the last layer's per-step records ``(T, B, K)``
``spikes/<l>``,            optional: layer l's per-step records ``(T, B, N_l)``, the same
``membranes/<l>``          quantities as the preset's ``run.spikes[l]``, ``run.membranes[l]``
``dspikes/<l>``,           optional: the user's per-step gradients ``(T, B, N_l)`` on layer
``dmembranes/<l>``         l's spike and membrane tensors of each step (below)
=========================  ==============================================================

**Per-step gradients** (``dspikes/<l>``, ``dmembranes/<l>``). Row t is what PyTorch's
``retain_grad()`` leaves in ``.grad`` of the spike tensor and of the membrane *state* tensor
of step t: the tensor the layer returns at step t and feeds into step t+1 (not a copy made
by ``torch.stack``, whose gradient holds only the loss's direct partial). Each is the
*total* derivative dL/d(tensor), through everything that tensor influences. A tensor that
never reached the loss (PyTorch leaves ``.grad`` None) is saved as zeros. In the notation
of :mod:`refsnn.neurons.lif` (B1–B5, S4), with refsnn's α of the preset's map:

* ``dspikes/<l>[t]`` is ``δs_t`` (B1) with B1's reset term only where the recorded spike
  tensor is the one the reset reads: Norse's ``z``, snnTorch's ``spk`` with
  ``reset_delay=False`` (its ``do_reset = spk − reset``), e-prop's ``z``, SpyTorch's ``out``.
  For a peer that resets at the same step that term reads ``−[attached] (r_{t+1}/α) δv⁺_t``:
  the derivative of the post-reset membrane with respect to the spike, ``−θ`` (subtract) or
  ``v_reset − v̂_t`` (to a value). Without it (the reset reads another tensor, so the spike's
  gradient has only the loss's and the next layer's parts): snnTorch with ``reset_delay=True``
  (``mem_reset(mem)`` tests the membrane again, detached) and SpikingJelly 2.0 (the spike it
  returns is a slice of its stacked output; the reset reads the internal one).
* ``dmembranes/<l>[t]`` is the gradient of the membrane state the layer carries to step t+1:

  - **snnTorch** (``reset_delay=True``, the default; Leaky, Synaptic, RLeaky), **e-prop**,
    **SpyTorch**: the returned ``mem`` (U_t; e-prop's v_t), the charged membrane refsnn
    calls v_t, so ``dmembranes[t] = δv_t`` (B2).
  - **SpikingJelly** (``node.v`` after the step, single-step mode), **Norse** (``state.v``
    of the returned state), **snnTorch** ``reset_delay=False`` (the returned ``mem``): the
    membrane *after* the same-step reset, lif.py's v⁺_t (S4). Its total derivative is
    ``dmembranes[t] = δv⁺_t = b_t + α δv_{t+1}`` (``b_t = ∂L/∂v⁺_t|direct``, δv_T = 0),
    since the next step charges from it, ``v_{t+1} = α v⁺_t + d_{t+1}``.
  - a **non-spiking** layer (e-prop's and SpyTorch's readouts): ``δv_t``; it has no spikes,
    so ``spikes/<l>`` and ``dspikes/<l>`` must not be given for it.

  SpyTorch records the state before the update (its records are refsnn's shifted by one
  step, the readout's by two): row t of each per-step entry is refsnn's row t − shift, and
  the first ``shift`` rows are 0 (the initial state carries no gradient in PyTorch).

``compare`` checks every entry's shape: ``(T, B)`` from ``x``, ``N_l`` from refsnn's
layer l; ``l`` must be a layer of the preset.

:func:`compare` recomputes everything in float64 with the preset and reports, per array,
the worst relative error ``max_i |a_i − r_i| / max(|r_i|, 10⁻⁴ max|r|)`` and PASS/FAIL
(spike trains must be identical: the first mismatching ``(t, batch, neuron)`` is named;
for membranes the first diverging time step). When anything disagrees it tries the usual
convention mismatches one at a time (:data:`VARIANTS`: detach vs attach, H(0), reset
timing, initial spike, float32 spikes, surrogate scale or gain, pre- vs post-reset
membrane) and says which one makes the two agree.

Exit status of the command: 0 everything agrees, 1 something disagrees, 2 bad input.
"""

from __future__ import annotations

import json
import math
import zipfile
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from scipy.special import log_softmax, softmax

from . import diagnose as D
from . import presets as P

__all__ = ["LOSSES", "VARIANTS", "BadInput", "ArrayResult", "Report", "compare", "load", "recompute",
           "rel_error", "format_report", "main"]

FLOOR = 1e-4   # as refsnn.checking.verify: smaller entries are compared absolutely, to rtol·FLOOR·max|r|
RTOL64 = 1e-9
RTOL32 = 1e-4


class BadInput(ValueError):
    """The .npz cannot be compared; the message names what is wrong."""


# ---------------------------------------------------------------------------------------
# Losses on the last layer's records S (T, B, K) and V (T, B, K); each returns
# (value, ∂L/∂S, ∂L/∂V). They are the torch losses named in the table.
# ---------------------------------------------------------------------------------------

def _onehot(y, K):
    out = np.zeros((y.shape[0], K))
    out[np.arange(y.shape[0]), y] = 1.0
    return out


def _loss_linear(S, V, d):
    ps, pv = d.get("probe_s"), d.get("probe_v")
    value = 0.0
    if ps is not None:
        value += float((ps * S).sum())
    if pv is not None:
        value += float((pv * V).sum())
    return value, ps, pv


def _loss_ce_count(S, V, d):
    y = d["target"]
    n = S.sum(axis=0)
    B, K = n.shape
    value = float(-(log_softmax(n, axis=1)[np.arange(B), y]).mean())
    g = (softmax(n, axis=1) - _onehot(y, K)) / B
    return value, np.broadcast_to(g, S.shape).copy(), None


def _loss_ce_max_membrane(S, V, d):
    y = d["target"]
    T, B, K = V.shape
    idx = V.argmax(axis=0)                               # torch.max's gradient goes to the first maximum
    m = V.max(axis=0)
    value = float(-(log_softmax(m, axis=1)[np.arange(B), y]).mean())
    g = (softmax(m, axis=1) - _onehot(y, K)) / B
    gv = np.zeros_like(V)
    bb, kk = np.meshgrid(np.arange(B), np.arange(K), indexing="ij")
    gv[idx, bb, kk] = g
    return value, None, gv


def _loss_mse_membrane(S, V, d):
    y = d["target"]
    diff = V - y
    return float((diff ** 2).mean()), None, 2.0 * diff / diff.size


def _loss_mse_count(S, V, d):
    y = d["target"]
    diff = S.sum(axis=0) - y
    return float((diff ** 2).mean()), np.broadcast_to(2.0 * diff / diff.size, S.shape).copy(), None


#: name -> (function, target kind, the torch expression it equals)
LOSSES = {
    "linear": (_loss_linear, None, "(spikes * probe_s).sum() + (membranes * probe_v).sum()"),
    "ce_count": (_loss_ce_count, "labels", "F.cross_entropy(spikes.sum(0), target)"),
    "ce_max_membrane": (_loss_ce_max_membrane, "labels", "F.cross_entropy(membranes.max(0).values, target)"),
    "mse_membrane": (_loss_mse_membrane, "TBK", "F.mse_loss(membranes, target)"),
    "mse_count": (_loss_mse_count, "BK", "F.mse_loss(spikes.sum(0), target)"),
}


# ---------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------

def rel_error(a, r, floor=FLOOR):
    """``(max_i |a_i − r_i| / max(|r_i|, floor·max|r|), index)``; r is refsnn's value."""
    a = np.asarray(a, np.float64)
    r = np.asarray(r, np.float64)
    if a.size == 0:
        return 0.0, ()
    if not np.all(np.isfinite(a)):
        return math.inf, tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
    scale = float(np.abs(r).max())
    denom = np.maximum(np.abs(r), max(floor * scale, 1e-300))
    err = np.abs(a - r) / denom
    i = np.unravel_index(int(np.argmax(err)), err.shape) if err.ndim else ()
    return float(err.max()), tuple(int(j) for j in i)


@dataclass
class ArrayResult:
    name: str
    max_rel: float
    passed: bool
    where: str = ""

    def as_dict(self):
        d = asdict(self)
        if not math.isfinite(d["max_rel"]):
            d["max_rel"] = None if math.isnan(d["max_rel"]) else "inf"
        return d


@dataclass
class Report:
    path: str
    preset: str
    loss: str
    shape: tuple
    rtol: float
    arrays: list
    variants: list = field(default_factory=list)     # (label, agrees, worst)
    explanation: str = ""
    notes: list = field(default_factory=list)
    diagnosis: object = None     # a refsnn.oracle.diagnose.Diagnosis when something disagrees

    @property
    def passed(self):
        return all(a.passed for a in self.arrays)

    @property
    def exit_code(self):
        return 0 if self.passed else 1

    def as_dict(self):
        return {"path": self.path, "preset": self.preset, "loss": self.loss, "shape_TBM": list(self.shape),
                "rtol": self.rtol, "passed": self.passed, "arrays": [a.as_dict() for a in self.arrays],
                "variants_tried": [{"variant": l, "agrees": ok, "worst_rel": (w if math.isfinite(w) else None)}
                                   for l, ok, w in self.variants],
                "explanation": self.explanation, "notes": self.notes,
                "verdict": self.diagnosis.as_dict() if self.diagnosis is not None else
                ({"half": "none", "causes": []} if self.passed else None)}


# ---------------------------------------------------------------------------------------
# Loading and validating the .npz
# ---------------------------------------------------------------------------------------

def load(path):
    """The .npz as a dict of arrays (never unpickling); :class:`BadInput` names what is wrong."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(6)
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BadInput(f"{path} is a directory, not an .npz file") from None
    except OSError as exc:
        raise BadInput(f"{path} cannot be read ({exc})") from None
    if not head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY")):
        what = "a pickle; refsnn never unpickles" if head[:1] == b"\x80" else "not a readable .npz archive"
        raise BadInput(f"{path} is {what}. Save the arrays with np.savez(path, **arrays)")
    try:
        z = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BadInput(f"{path} is a directory, not an .npz file") from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        if "allow_pickle" in str(exc):
            raise BadInput(f"{path} is a pickled .npy array; refsnn never unpickles. Save an .npz of plain "
                           "arrays") from None
        raise BadInput(f"{path} is not a readable .npz archive ({type(exc).__name__}: {exc})") from None
    if not hasattr(z, "files"):
        raise BadInput(f"{path} is a single .npy array, not an .npz archive of named arrays")
    out = {}
    with z:
        for k in z.files:
            try:
                out[k] = z[k]
            except ValueError as exc:
                if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
                    raise BadInput(f"{path}: entry {k!r} holds pickled Python objects; refsnn never "
                                   "unpickles. Save plain arrays and strings (np.savez(..., preset=np.str_(...)))"
                                   ) from None
                raise BadInput(f"{path}: entry {k!r} cannot be read ({exc})") from None
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise BadInput(f"{path}: entry {k!r} cannot be read ({type(exc).__name__}: {exc})") from None
    return out


def _string(d, key, required=True):
    if key not in d:
        if required:
            raise BadInput(f"missing entry {key!r}")
        return None
    a = d[key]
    if a.dtype.kind not in "US" or a.shape != ():
        raise BadInput(f"entry {key!r} must be a string (a 0-d str array), got dtype {a.dtype} shape {a.shape}")
    return str(a.item() if a.dtype.kind == "U" else a.item().decode())


def _real_array(d, key, shape=None):
    a = d[key]
    if a.dtype.kind not in "fiu" or a.dtype == np.bool_:
        raise BadInput(f"entry {key!r} must be a real array, got dtype {a.dtype}")
    if shape is not None and a.shape != tuple(shape):
        raise BadInput(f"entry {key!r} has shape {a.shape}, expected {tuple(shape)}")
    if not np.all(np.isfinite(a)):
        raise BadInput(f"entry {key!r} contains NaN or inf")
    return a.astype(np.float64)


@dataclass
class Problem:
    preset: str
    kwargs: dict
    layers: list
    x: np.ndarray
    loss: str
    loss_data: dict
    loss_value: float | None
    grads: dict
    spikes: np.ndarray | None
    membranes: np.ndarray | None
    float32: bool
    # the optional per-layer entries, {layer: (T, B, N_l) array} (the module docstring)
    layer_spikes: dict = field(default_factory=dict)
    layer_membranes: dict = field(default_factory=dict)
    dspikes: dict = field(default_factory=dict)
    dmembranes: dict = field(default_factory=dict)


#: the per-layer entries '<kind>/<l>' -> the Problem field that holds them
PER_LAYER = {"spikes": "layer_spikes", "membranes": "layer_membranes", "dspikes": "dspikes",
             "dmembranes": "dmembranes"}


def _per_layer(d, kind, TB):
    """``{l: array}`` of the entries ``'<kind>/<l>'``, each a finite real (T, B, N) array."""
    out = {}
    for k in d:
        head, sep, tail = k.partition("/")
        if head != kind or not sep:
            continue
        if not tail.isdigit():
            raise BadInput(f"entry {k!r}: per-layer entries look like '{kind}/<layer>', e.g. '{kind}/0'")
        a = _real_array(d, k)
        if a.ndim != 3 or a.shape[:2] != tuple(TB) or a.shape[2] == 0:
            raise BadInput(f"entry {k!r} has shape {a.shape}; expected (T, B, N_l) = ({TB[0]}, {TB[1]}, N_l), "
                           "T and B as in 'x'")
        out[int(tail)] = a
    return {PER_LAYER[kind]: out}


def parse(d):
    """Check every entry and return a :class:`Problem` (or raise :class:`BadInput`)."""
    if not isinstance(d, dict):
        raise BadInput("expected a dict of arrays")
    preset = _string(d, "preset")
    if preset not in P.PRESETS:
        raise BadInput(f"unknown preset {preset!r}; expected one of: {', '.join(P.PRESETS)}")
    kw_text = _string(d, "kwargs", required=False)
    kwargs = {}
    if kw_text:
        try:
            kwargs = json.loads(kw_text)
        except json.JSONDecodeError as exc:
            raise BadInput(f"entry 'kwargs' is not valid JSON ({exc})") from None
        if not isinstance(kwargs, dict):
            raise BadInput("entry 'kwargs' must be a JSON object of the preset's arguments")
    if "x" not in d:
        raise BadInput("missing entry 'x' (the network input, (T, B, n_in))")
    x = _real_array(d, "x")
    if x.ndim != 3 or 0 in x.shape:
        raise BadInput(f"entry 'x' has shape {x.shape}; expected a non-empty (T, B, n_in)")
    layers = {}
    for k in d:
        if k.startswith("param/"):
            name = k[len("param/"):]
            head, _, rest = name.partition(".")
            if not head.isdigit() or not rest:
                raise BadInput(f"entry {k!r}: parameter names look like 'param/<layer>.<name>', e.g. 'param/0.weight'")
            layers.setdefault(int(head), {})[rest] = _real_array(d, k)
    if not layers:
        raise BadInput("no 'param/<layer>.<name>' entries: save every peer parameter, e.g. 'param/0.weight'")
    if sorted(layers) != list(range(len(layers))):
        raise BadInput(f"parameter layers must be numbered 0..{len(layers) - 1}, got {sorted(layers)}")
    loss = _string(d, "loss")
    if loss not in LOSSES:
        raise BadInput(f"unknown loss {loss!r}; expected one of: {', '.join(LOSSES)}")
    loss_data = {}
    for k in ("probe_s", "probe_v"):
        if k in d:
            loss_data[k] = _real_array(d, k)
    if LOSSES[loss][1] is not None:
        if "target" not in d:
            raise BadInput(f"loss {loss!r} needs an entry 'target'")
        loss_data["target"] = d["target"]
    elif loss == "linear" and not loss_data:
        raise BadInput("loss 'linear' needs 'probe_s' and/or 'probe_v'")
    loss_value = float(_real_array(d, "loss_value", ())) if "loss_value" in d else None
    grads = {k[len("grad/"):]: _real_array(d, k) for k in d if k.startswith("grad/")}
    if not grads:
        raise BadInput("no 'grad/<layer>.<name>' entries: save at least one gradient, e.g. 'grad/0.weight'")
    spikes = _real_array(d, "spikes") if "spikes" in d else None
    membranes = _real_array(d, "membranes") if "membranes" in d else None
    per_layer = {}
    for kind in PER_LAYER:
        per_layer.update(_per_layer(d, kind, x.shape[:2]))
    known = {"preset", "kwargs", "x", "loss", "target", "probe_s", "probe_v", "loss_value", "spikes", "membranes"}
    unknown = [k for k in d if k not in known and not k.startswith(("param/", "grad/"))
               and k.partition("/")[0] not in PER_LAYER]
    if unknown:
        raise BadInput(f"unexpected entries {unknown}; see refsnn.compare's docstring for the format")
    f32 = any(d[k].dtype == np.float32 for k in d if k.startswith("grad/") or k == "x")
    return Problem(preset, kwargs, [layers[l] for l in range(len(layers))], x, loss, loss_data, loss_value,
                   grads, spikes, membranes, f32, **per_layer)


# ---------------------------------------------------------------------------------------
# Recomputing with refsnn
# ---------------------------------------------------------------------------------------

def _build(prob: Problem, overrides=None, kwargs=None):
    try:
        return P.build(prob.preset, prob.layers, overrides=overrides, **(prob.kwargs if kwargs is None else kwargs))
    except P.PeerQuirkError:
        raise
    except P.PresetError as exc:
        raise BadInput(f"preset {prob.preset!r}: {exc}") from None
    except TypeError as exc:
        raise BadInput(f"preset {prob.preset!r}: {exc}") from None


def _check_loss_data(prob: Problem, shape):
    T, B, K = shape
    kind = LOSSES[prob.loss][1]
    data = dict(prob.loss_data)
    for k in ("probe_s", "probe_v"):
        if k in data and data[k].shape != shape:
            raise BadInput(f"entry {k!r} has shape {data[k].shape}, expected the last layer's records {shape}")
    if kind is None:
        return data
    y = data["target"]
    if kind == "labels":
        if y.dtype.kind not in "iu" or y.shape != (B,):
            raise BadInput(f"entry 'target' of loss {prob.loss!r} must be integer class labels of shape ({B},), "
                           f"got dtype {y.dtype} shape {y.shape}")
        if np.any(y < 0) or np.any(y >= K):
            raise BadInput(f"entry 'target' holds labels outside [0, {K})")
        data["target"] = y.astype(np.int64)
    else:
        want = shape if kind == "TBK" else (B, K)
        if y.dtype.kind not in "fiu" or y.shape != want:
            raise BadInput(f"entry 'target' of loss {prob.loss!r} must be a real array of shape {want}, got {y.shape}")
        data["target"] = y.astype(np.float64)
    return data


def _check_layer_entries(prob: Problem, net):
    """The per-layer entries name layers of the preset and have their N_l (BadInput if not)."""
    cfgs = net.net.layers
    for kind, fname in PER_LAYER.items():
        for l, a in getattr(prob, fname).items():
            if l >= len(cfgs):
                raise BadInput(f"entry '{kind}/{l}': preset {prob.preset!r} has {len(cfgs)} layer(s) here, "
                               f"numbered 0..{len(cfgs) - 1}")
            if a.shape[2] != cfgs[l].n:
                raise BadInput(f"entry '{kind}/{l}' has shape {a.shape}; layer {l} has {cfgs[l].n} neurons, "
                               f"expected {a.shape[:2] + (cfgs[l].n,)}")
            if kind in ("spikes", "dspikes") and not cfgs[l].spiking:
                raise BadInput(f"entry '{kind}/{l}': layer {l} of preset {prob.preset!r} is not spiking "
                               "(a readout); give only its membranes")


def recompute(prob: Problem, overrides=None, kwargs=None):
    """refsnn's records, loss value and peer-named gradients for ``prob``."""
    net = _build(prob, overrides, kwargs)
    n_in = net.net.layers[0].n_in
    if prob.x.shape[2] != n_in:
        raise BadInput(f"entry 'x' has {prob.x.shape[2]} input features but layer 0 takes {n_in}")
    try:
        run = net.forward(prob.x)
    except P.PeerQuirkError:
        raise
    except (P.PresetError, ValueError, TypeError) as exc:   # refsnn's argument checks (names the value)
        raise BadInput(f"preset {prob.preset!r} with these parameters: {exc}") from None
    _check_layer_entries(prob, net)
    S, V = run.spikes[-1], run.membranes[-1]
    data = _check_loss_data(prob, S.shape)
    value, aS, aV = LOSSES[prob.loss][0](S, V, data)
    n = len(net.layers)
    grads = net.backward(run, [None] * (n - 1) + [aS], [None] * (n - 1) + [aV])
    return {"spikes": S, "membranes": V, "loss_value": value, "grads": grads}


def _compare_arrays(prob: Problem, ref, rtol):
    out = []
    if prob.loss_value is not None:
        e, _ = rel_error(prob.loss_value, ref["loss_value"])
        out.append(ArrayResult("loss_value", e, e <= rtol))
    if prob.spikes is not None:
        if prob.spikes.shape != ref["spikes"].shape:
            raise BadInput(f"entry 'spikes' has shape {prob.spikes.shape}, expected {ref['spikes'].shape}")
        bad = np.argwhere(prob.spikes != ref["spikes"])
        where = "" if not bad.size else "first mismatch at (t={}, batch={}, neuron={})".format(*map(int, bad[0]))
        out.append(ArrayResult("spikes", 0.0 if not bad.size else math.inf, not bad.size,
                               where + (f", {len(bad)} mismatches" if bad.size else "")))
    if prob.membranes is not None:
        if prob.membranes.shape != ref["membranes"].shape:
            raise BadInput(f"entry 'membranes' has shape {prob.membranes.shape}, expected {ref['membranes'].shape}")
        e, idx = rel_error(prob.membranes, ref["membranes"])
        where = ""
        if e > rtol:
            scale = max(float(np.abs(ref["membranes"]).max()), 1e-300)
            per_t = (np.abs(prob.membranes - ref["membranes"])
                     / np.maximum(np.abs(ref["membranes"]), FLOOR * scale)).reshape(len(prob.membranes), -1).max(axis=1)
            t0 = int(np.argmax(per_t > rtol))
            where = f"first diverging time step t={t0}"
        out.append(ArrayResult("membranes", e, e <= rtol, where))
    for k, g in sorted(prob.grads.items()):
        if k not in ref["grads"]:
            raise BadInput(f"entry 'grad/{k}': preset {prob.preset!r} has no parameter {k!r}; its gradients are "
                           f"{sorted(ref['grads'])}")
        r = ref["grads"][k]
        if g.shape != r.shape:
            raise BadInput(f"entry 'grad/{k}' has shape {g.shape}, expected {r.shape} (the peer's shape)")
        e, idx = rel_error(g, r)
        out.append(ArrayResult(f"grad/{k}", e, e <= rtol, f"worst at index {list(idx)}" if e > rtol and idx else ""))
    return out


# ---------------------------------------------------------------------------------------
# The usual convention mismatches
# ---------------------------------------------------------------------------------------

def _sg_desc(net, factor, what):
    sg = [c.surrogate for c in net.net.layers if c.spiking]
    return f"surrogate {what} × {factor:g}" + (f" ({sg[0].name})" if sg else "")


def VARIANTS(prob: Problem):
    """``[(label, overrides, kwargs)]``: the usual convention mismatches, one at a time."""
    O = P.Overrides
    pre = P.PRESETS[prob.preset]
    out = [
        ("detach vs attach: the reset's spike treated the other way in the gradient", O(flip_detach=True), None),
        ("H(0): a membrane exactly at threshold spikes the other way", O(flip_h0=True), None),
        ("initial spike: s_{-1} = f(v_{-1} − θ) with its θ-gradient (refsnn's default) instead of the peers' 0",
         O(from_v0=True), None),
        ("float32 spikes: ∂L/∂s rounded to float32 (a stock (x > 0).float() surrogate forward)",
         O(float32_spikes=True), None),
        ("pre- vs post-reset membrane in the records and the loss", O(flip_view=True), None),
    ]
    if pre.timing and pre.timing in pre.defaults:
        cur = prob.kwargs.get(pre.timing, pre.defaults[pre.timing])
        out.append((f"reset timing: {pre.timing}={not cur} instead of {cur}", None,
                    {**prob.kwargs, pre.timing: not cur}))
    sgs = [c.surrogate for c in _build(prob).net.layers if c.spiking]
    sg = sgs[0] if sgs else None
    for f in (2.0, 0.5, 4.0, 0.25, 10.0, 0.1):
        what = f" (refsnn {sg.name} scale {sg.scale:g} → {sg.scale * f:g})" if sg is not None and sg.scale else ""
        out.append((f"surrogate scale × {f:g}: its width/slope parameter{what}", O(sg_scale=f), None))
    for f in (2.0, 0.5, math.pi / 2, 2 / math.pi):
        out.append((f"surrogate gain × {f:.4g}: its height", O(sg_gain=f), None))
    if prob.preset.startswith("norse."):
        a = float(prob.kwargs.get("alpha", pre.defaults.get("alpha", 100.0)))
        out.append((f"Norse 'super' as documented, 1/(α|x| + 1)² with α = {a:g} (the code ignores α)",
                    O(sg_scale=a, sg_gain=1.0 / a), None))
    return out


def compare(source, rtol=None, search=True) -> Report:
    """Compare the .npz at ``source`` (a path, or a dict of arrays) with refsnn's float64 recomputation."""
    path = source if isinstance(source, str) else "<dict>"
    d = load(source) if isinstance(source, str) else source
    prob = parse(d)
    notes = []
    if rtol is None:
        rtol = RTOL32 if prob.float32 else RTOL64
        if prob.float32:
            notes.append(f"float32 arrays found: compared to rtol {RTOL32:g}; save float64 "
                         f"(model.double()) for the {RTOL64:g} check")
    try:
        ref = recompute(prob)
    except P.PeerQuirkError as exc:
        return Report(path, prob.preset, prob.loss, prob.x.shape, rtol,
                      [ArrayResult("preset", math.inf, False, str(exc))], explanation=str(exc), notes=notes)
    arrays = _compare_arrays(prob, ref, rtol)
    full = None
    if any(getattr(prob, f) for f in PER_LAYER.values()):
        full = D.simulate(prob)
        arrays += _compare_layer_arrays(prob, full, rtol)
    rep = Report(path, prob.preset, prob.loss, prob.x.shape, rtol, arrays, notes=notes)
    if rep.passed or not search:
        return rep
    try:
        diag = D.diagnose(prob, rtol, ref=full)
    except Exception as exc:   # noqa: BLE001 — the comparison above stands; say why no diagnosis follows
        fwd_ok = all(a.passed for a in arrays if a.name == "loss_value" or a.name.startswith(("spikes", "membranes")))
        diag = D.Diagnosis("backward" if fwd_ok else "forward", None, [], [],
                           notes=[f"the diagnosis stopped ({type(exc).__name__}: {exc}); the comparison above stands"])
    rep.diagnosis = diag
    rep.variants = diag.tried
    agree = [label for label, ok, _ in diag.tried if ok]
    bad = [a.name for a in arrays if not a.passed]
    where = "; ".join(diag.summary())
    top = diag.causes[0] if diag.causes else None
    if agree:
        rep.explanation = ("your arrays agree with refsnn when one convention is switched: " + "; ".join(agree)
                           + ". Check that convention in your code (or in the preset's arguments).")
    elif top is not None and top.agrees:
        rep.explanation = (f"{where}. Most likely cause [{top.category}]: {top.cause}; with it every array agrees.")
    elif top is not None:
        rep.explanation = (f"{where}; no single convention switch explains the difference in " + ", ".join(bad)
                           + f". The closest cause [{top.category}]: {top.cause} (residual {top.residual:.1e})"
                           + ("; it explains little: none of the causes tried fits" if top.residual > 0.05 else "")
                           + ".")
    else:
        rep.explanation = f"{where}; no single convention switch explains the difference in " + ", ".join(bad) + "."
    return rep


def _compare_layer_arrays(prob, full, rtol):
    """ArrayResults of the per-layer entries (spikes/<l>, membranes/<l>, dspikes/<l>, dmembranes/<l>)."""
    out = []
    for kind, fname in PER_LAYER.items():
        for l, a in sorted(getattr(prob, fname).items()):
            r = full[kind][l]
            name = f"{kind}/{l}"
            if kind == "spikes":
                bad = np.argwhere(a != r)
                where = "" if not bad.size else "first mismatch at (t={}, batch={}, neuron={})".format(*map(int, bad[0]))
                out.append(ArrayResult(name, 0.0 if not bad.size else math.inf, not bad.size,
                                       where + (f", {len(bad)} mismatches" if bad.size else "")))
                continue
            e, _ = rel_error(a, r)
            where = ""
            if e > rtol:
                per = D._per_step(a, r)
                bad_t = np.flatnonzero(per > rtol)
                where = (f"first diverging time step t={int(bad_t[0])}" if kind == "membranes" else
                         f"first diverging step in reverse time t={int(bad_t[-1])}")
            out.append(ArrayResult(name, e, e <= rtol, where))
    return out


def format_report(rep: Report) -> str:
    T, B, M = rep.shape
    lines = [f"refsnn compare {rep.path}: preset {rep.preset}, loss {rep.loss}, T={T} B={B} inputs={M}, "
             f"rtol {rep.rtol:g}"]
    lines += [f"  note: {n}" for n in rep.notes]
    lines.append(f"  {'array':<32} {'max rel error':>14}  result")
    for a in rep.arrays:
        err = "exact" if a.name == "spikes" and a.passed else f"{a.max_rel:.2e}"
        lines.append(f"  {a.name:<32} {err:>14}  {'PASS' if a.passed else 'FAIL'}" + (f"  {a.where}" if a.where else ""))
    if rep.passed:
        lines.append(f"PASS: all {len(rep.arrays)} arrays agree with refsnn (float64)")
        return "\n".join(lines)
    n_bad = sum(not a.passed for a in rep.arrays)
    lines.append(f"FAIL: {n_bad} of {len(rep.arrays)} arrays disagree")
    if rep.variants:
        lines.append("  convention mismatches tried one at a time:")
        for label, ok, w in rep.variants:
            lines.append(f"    {'AGREES ' if ok else 'differs'}  {label}" + ("" if ok else f"  (worst {w:.1e})"))
    d = rep.diagnosis
    if d is not None:
        lines.append("  diagnosis:")
        lines += [f"    {x}" for x in d.summary()]
        if d.causes:
            lines.append("    causes, most likely first (residual = max over arrays of ‖yours − refsnn‖/‖refsnn‖ "
                         "after the fit):")
            for c in d.causes[:5]:
                lines.append(f"    {c.rank}. [{c.category}] {c.cause}  (residual {c.residual:.1e}"
                             + (", every array agrees)" if c.agrees else ")"))
                if not c.agrees and c.rank == 1 and c.still_differ:
                    lines.append("       still differing: " + ", ".join(f"{n} {e:.1e}" for n, e in c.still_differ[:6]))
        lines += [f"    note: {n}" for n in d.notes]
    lines.append(f"  => {rep.explanation}")
    return "\n".join(lines)


def main(path, as_json=False, rtol=None, out=None, err=None):
    """The command: print the report; return the exit status (0 agree, 1 disagree, 2 bad input)."""
    import sys

    out = out or sys.stdout
    err = err or sys.stderr
    if rtol is not None and not (0 < rtol < 1):
        print(f"refsnn compare: error: --rtol must lie in (0, 1), got {rtol}", file=err)
        return 2
    try:
        rep = compare(path, rtol=rtol)
    except BadInput as exc:
        if as_json:
            json.dump({"path": path, "error": str(exc), "exit": 2}, out, indent=1)
            print(file=out)
        print(f"refsnn compare: error: {exc}", file=err)
        return 2
    if as_json:
        json.dump(rep.as_dict(), out, indent=1)
        print(file=out)
    else:
        print(format_report(rep), file=out)
    return rep.exit_code
