"""Fuzzing the public API and the CLI with hypothesis, bounded in time.

Each example takes one call with valid arguments, replaces one argument by a value drawn
from a strategy of bad values (None, bools, huge and negative integers, NaN, ±inf, 1e308,
strings, nested lists, arrays of the wrong shape, dtype or content, ...) and calls it.
The outcome must be one of:

- a result in which every float is finite (walked through dicts, lists, dataclasses and
  arrays), or
- an exception of a documented type, ValueError, TypeError or FloatingPointError (their
  subclasses included: compare's BadInput, the presets' PresetError, CheckpointError),
  whose message names the argument that was replaced.

Anything else (an AttributeError, an IndexError, a RecursionError, a result holding inf or
NaN, an error that does not say which argument is wrong) fails the test, listing the first
cases. The CLI part runs ``refsnn compare`` on fuzzed files and ``refsnn train`` /
``refsnn gradcheck`` with one fuzzed option: the exit status must be 0–3 and nothing may
escape as a Python exception. The counts are printed (``pytest -s``) and checked.
Hypothesis' database is off and the seed fixed (``derandomize``), so a run is repeatable.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
from collections import Counter

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from refsnn import cli, losses as L  # noqa: E402
from refsnn.checking.gradcheck import check_gradient, numerical_gradient  # noqa: E402
from refsnn.learning import eprop  # noqa: E402
from refsnn.neurons import dendrite as D  # noqa: E402
from refsnn.neurons.lif import LIFConfig, init_params, layer_backward, layer_forward  # noqa: E402
from refsnn.neurons.network import Network, network_forward, network_init  # noqa: E402
from refsnn.oracle import compare as C, presets as P  # noqa: E402
from refsnn.surrogates import surrogate  # noqa: E402
from refsnn.training import optim  # noqa: E402

DOCUMENTED = (ValueError, TypeError, FloatingPointError)

# ------------------------------------------------------------------------------ bad values

_FILLS = [0.0, 1.0, -1.0, 0.5, np.nan, np.inf, -np.inf, 1e308, -1e308, 1e-320, 3.4e38]
_DTYPES = [np.float64, np.float32, np.int64, np.bool_, np.complex128, object, "U3"]
_SHAPES = [(), (0,), (3,), (2, 2), (5, 2, 3), (5, 2, 4), (1, 1, 1), (2, 0, 3), (5, 2, 3, 1)]


def _array(shape, fill, dtype):
    if dtype == "U3":
        return np.full(shape, "one")
    if dtype is object:
        return np.full(shape, {"a": fill}, dtype=object)
    with np.errstate(all="ignore"):
        if np.dtype(dtype).kind in "iub" and not np.isfinite(fill):
            fill = 7
        return np.full(shape, fill).astype(dtype)


BAD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-10**20, max_value=10**20),
    st.sampled_from([0, -1, 2**63, 10**400, -(10**400)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1e308, 1e-320, np.float32(1e-4)]),
    st.text(max_size=6),
    st.lists(st.one_of(st.integers(-3, 3), st.floats(allow_nan=True)), max_size=4),
    st.recursive(st.integers(0, 2), lambda c: st.lists(c, min_size=1, max_size=2), max_leaves=8),
    st.dictionaries(st.text(max_size=3), st.integers(-2, 2), max_size=2),
    st.builds(_array, st.sampled_from(_SHAPES), st.sampled_from(_FILLS), st.sampled_from(_DTYPES)),
)

# ------------------------------------------------------------------------------ the calls
# Each target: name -> (call(**kwargs), valid kwargs factory, {argument: accepted names in
# the message}). The factory builds fresh arrays for every example.

RNG = np.random.default_rng(0)
CFG = LIFConfig(3, 4, recurrent=True, adaptation=True, synapse=True)
PARAMS = init_params(CFG, np.random.default_rng(1))
X = np.random.default_rng(2).uniform(0, 2, (5, 2, 3))
TRAJ = layer_forward(CFG, PARAMS, X)
NET = Network((LIFConfig(3, 4), LIFConfig(4, 2, spiking=False, reset="none")))
NET_PARAMS = network_init(NET, np.random.default_rng(3))
DCFG = D.DendriteConfig(3, 4, 2, LIFConfig(3, 4))
DPARAMS = D.init_dendrite_params(DCFG, np.random.default_rng(4))


from refsnn.learning import tbptt  # noqa: E402
from refsnn.neurons import conv as CV  # noqa: E402

CCFG = CV.ConvLIFConfig(2, 5, 5, 3, kernel_size=3, pool="sum", pool_size=3)
CPARAMS = CV.conv_init_params(CCFG, np.random.default_rng(5))
CX = np.random.default_rng(6).uniform(0, 2, (4, 2, 2, 5, 5))
CTRAJ = CV.conv_forward(CCFG, CPARAMS, CX)
DTRAJ = D.dendrite_forward(DCFG, DPARAMS, X)
NET_TRAJS = network_forward(NET, NET_PARAMS, X)
PRESET = P.build("snntorch.Leaky", [{"weight": np.ones((4, 3)), "bias": np.zeros(4)}], beta=0.9)


def _tbptt(net, params, x, K):
    from refsnn.learning import rules
    return tbptt.tbptt_gradients(net, params, x, rules._tbptt_loss(eprop.step_mse(np.zeros((5, 2, 2))), 2), K=K)


def _preset_forward(x, a_spikes):
    run = PRESET.forward(x)
    return PRESET.backward(run, [a_spikes], [None])


def _copy(d):
    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in d.items()}


def _eprop_loss(labels, scale, y):
    return eprop.step_cross_entropy(labels, scale)(0, y)


def _step_mse(target, scale, t, y):
    return eprop.step_mse(target, scale)(t, y)


def _quad(v):
    return float(np.sum(np.asarray(v, np.float64) ** 2))


TARGETS = {
    "LIFConfig": (LIFConfig, lambda: dict(n_in=3, n=4, reset="subtract", h0=1.0, refractory=0, recurrent=False),
                  {"n_in": ["n_in"], "n": ["n"], "reset": ["reset"], "h0": ["h0"], "refractory": ["refractory"],
                   "recurrent": ["recurrent"]}),
    "surrogate": (surrogate, lambda: dict(name="sigmoid", scale=4.0, gain=1.0),
                  {"name": ["name", "surrogate"], "scale": ["scale"], "gain": ["gain"]}),
    "layer_forward": (layer_forward, lambda: dict(config=CFG, params=_copy(PARAMS), x=X.copy(), state0=None),
                      {"config": ["config"], "params": ["params"], "x": ["x"], "state0": ["state0"]}),
    "layer_backward": (layer_backward, lambda: dict(traj=TRAJ, params=_copy(PARAMS), ds=np.ones((5, 2, 4)),
                                                    dv=None),
                       {"traj": ["traj"], "params": ["params"], "ds": ["ds"], "dv": ["dv"]}),
    "network_forward": (network_forward, lambda: dict(net=NET, params=[_copy(p) for p in NET_PARAMS], x=X.copy()),
                        {"net": ["net"], "params": ["params"], "x": ["x"]}),
    "spike_count_cross_entropy": (L.spike_count_cross_entropy, lambda: dict(traj=TRAJ, labels=np.array([0, 3])),
                                  {"traj": ["traj"], "labels": ["labels"]}),
    "trace_mse": (L.trace_mse, lambda: dict(traj=TRAJ, target=np.zeros((5, 2, 4)), eta=0.9, on="s"),
                  {"traj": ["traj"], "target": ["target"], "eta": ["eta"], "on": ["on"]}),
    "membrane_rate_loss": (L.membrane_rate_loss, lambda: dict(traj=TRAJ, y=np.zeros((2, 4))),
                           {"traj": ["traj"], "y": ["y"]}),
    "first_spike_cross_entropy": (L.first_spike_cross_entropy, lambda: dict(traj=TRAJ, labels=np.array([1, 2]),
                                                                            tau=1.0),
                                  {"traj": ["traj"], "labels": ["labels"], "tau": ["tau"]}),
    "firing_rate_regularizer": (L.firing_rate_regularizer, lambda: dict(traj=TRAJ, target_rate=0.1, strength=1.0),
                                {"traj": ["traj"], "target_rate": ["target_rate"], "strength": ["strength"]}),
    "weight_decay": (L.weight_decay, lambda: dict(params={"W": np.ones((2, 2))}, strength=0.1, keys=None),
                     {"params": ["params"], "strength": ["strength"], "keys": ["keys"]}),
    "dendrite_forward": (D.dendrite_forward, lambda: dict(config=DCFG, params=_copy(DPARAMS), x=X.copy()),
                         {"config": ["config"], "params": ["params"], "x": ["x"]}),
    "eprop.step_cross_entropy": (_eprop_loss, lambda: dict(labels=np.array([0, 1]), scale=0.5,
                                                           y=np.array([[0.1, 0.4], [1.0, -2.0]])),
                                 {"labels": ["labels"], "scale": ["scale"], "y": ["y", "labels"]}),
    "eprop.step_mse": (_step_mse, lambda: dict(target=np.zeros((5, 2, 2)), scale=0.5, t=4, y=np.ones((2, 2))),
                       {"target": ["target"], "scale": ["scale"], "t": ["t", "target"], "y": ["y", "target"]}),
    "eprop.alignment": (eprop.alignment, lambda: dict(grads=[{"W": np.ones(3)}], reference=[{"W": np.arange(3.0)}],
                                                      names=None),
                        {"grads": ["grads"], "reference": ["reference"], "names": ["names"]}),
    "eprop.eprop_gradients": (eprop.eprop_gradients,
                              lambda: dict(net=NET, params=[_copy(p) for p in NET_PARAMS], x=X.copy(),
                                           readout_loss=eprop.step_mse(np.zeros((5, 2, 2))), feedback="symmetric"),
                              {"net": ["net"], "params": ["params"], "x": ["x"], "readout_loss": ["readout_loss"],
                               "feedback": ["feedback"]}),
    "presets.build": (lambda name, layers, **kw: P.build(name, layers, **kw),
                      lambda: dict(name="snntorch.Leaky", layers=[{"weight": np.ones((4, 3)), "bias": np.zeros(4)}],
                                   beta=0.9, threshold=1.0, alpha=2.0, reset_mechanism="subtract"),
                      {"name": ["name", "preset"], "layers": ["layers", "layer"], "beta": ["beta"],
                       "threshold": ["threshold"], "alpha": ["alpha"], "reset_mechanism": ["reset_mechanism"]}),
    "check_gradient": (check_gradient, lambda: dict(f=_quad, x=np.array([0.5, -1.0]), analytic=np.array([1.0, -2.0]),
                                                    eps=1e-6, rtol=1e-6, order=2),
                       {"f": ["f"], "x": ["x"], "analytic": ["analytic"], "eps": ["eps"], "rtol": ["rtol"],
                        "order": ["order"]}),
    "numerical_gradient": (numerical_gradient, lambda: dict(f=_quad, x=np.array([0.5, -1.0]), eps=1e-6, order=4),
                           {"f": ["f"], "x": ["x"], "eps": ["eps"], "order": ["order"]}),
    "ConvLIFConfig": (CV.ConvLIFConfig, lambda: dict(in_channels=2, height=5, width=5, out_channels=3, kernel_size=3,
                                                     stride=1, padding=0, pool="none", pool_size=1),
                      {k: [k] + (["padded input"] if k in ("height", "width") else [])   # vs kernel_size
                       for k in ("in_channels", "height", "width", "out_channels", "kernel_size", "stride",
                                 "padding", "pool", "pool_size")}),
    "conv_forward": (CV.conv_forward, lambda: dict(cfg=CCFG, params=_copy(CPARAMS), x=CX.copy()),
                     {"cfg": ["cfg", "config"], "params": ["params"], "x": ["x"]}),
    "conv_backward": (CV.conv_backward, lambda: dict(traj=CTRAJ, params=_copy(CPARAMS), dz=np.ones((4, 2, 3)),
                                                     ds=None, dv=None),
                      {"traj": ["traj"], "params": ["params"], "dz": ["dz"], "ds": ["ds"], "dv": ["dv"]}),
    "dendrite_backward": (D.dendrite_backward, lambda: dict(traj=DTRAJ, params=_copy(DPARAMS),
                                                            ds=np.ones((5, 2, 4)), dv=None, da=None),
                          {"traj": ["traj"], "params": ["params"], "ds": ["ds"], "dv": ["dv"], "da": ["da"]}),
    "tbptt_gradients": (_tbptt, lambda: dict(net=NET, params=[_copy(p) for p in NET_PARAMS], x=X.copy(), K=2),
                        {"net": ["net"], "params": ["params"], "x": ["x"], "K": ["K"]}),
    "preset forward/backward": (_preset_forward, lambda: dict(x=X.copy(), a_spikes=np.ones((5, 2, 4))),
                                {"x": ["x"], "a_spikes": ["a_spikes", "spikes"]}),
    "network_backward": (lambda trajs, params, ds, dv: __import__("refsnn").network_backward(trajs, params, ds, dv),
                         lambda: dict(trajs=NET_TRAJS, params=[_copy(p) for p in NET_PARAMS], ds=None,
                                      dv=[None, np.ones((5, 2, 2))]),
                         {"trajs": ["trajs"], "params": ["params"], "ds": ["ds"], "dv": ["dv"]}),
    "init_params": (init_params, lambda: dict(config=CFG, rng=0, dtype=np.float64),
                    {"config": ["config"], "rng": ["rng", "seed"], "dtype": ["dtype"]}),
    "network_init": (network_init, lambda: dict(net=NET, rng=0, dtype=np.float32, per_layer=None),
                     {"net": ["net"], "rng": ["rng", "seed"], "dtype": ["dtype"], "per_layer": ["per_layer"]}),
    "clip_by_global_norm": (optim.clip_by_global_norm, lambda: dict(grads={"W": np.ones((2, 2))}, max_norm=1.0),
                            {"grads": ["grads"], "max_norm": ["max_norm"]}),
    "optim.step": (optim.step, lambda: dict(opt=optim.Adam(), params={"W": np.ones(2)}, grads={"W": np.ones(2)},
                                            state=optim.init_state(optim.Adam(), {"W": np.ones(2)})),
                   {"opt": ["opt"], "params": ["params"], "grads": ["grads"], "state": ["state"]}),
    "rel_error": (lambda analytic, numeric, floor: __import__("refsnn").rel_error(analytic, numeric, floor),
                  lambda: dict(analytic=np.ones(3), numeric=np.ones(3) * 1.1, floor=1e-8),
                  {"analytic": ["analytic"], "numeric": ["numeric"], "floor": ["floor"]}),
    "membrane_cross_entropy": (L.membrane_cross_entropy, lambda: dict(traj=TRAJ, labels=np.array([0, 3]), reduce="max",
                                                                      at=None),
                               {"traj": ["traj"], "labels": ["labels"], "reduce": ["reduce"], "at": ["at"]}),
    "random_feedback": (eprop.random_feedback, lambda: dict(net=NET, rng=0, scale=None),
                        {"net": ["net"], "rng": ["rng", "seed"], "scale": ["scale"]}),
    "data.batches": (lambda X, y, batch_size: list(__import__("refsnn").data.batches(X, y, batch_size)),
                     lambda: dict(X=np.zeros((6, 4, 2)), y=np.zeros(6, int), batch_size=4),
                     {"X": ["X"], "y": ["y"], "batch_size": ["batch_size"]}),
    "optim.Adam": (optim.Adam, lambda: dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8),
                   {"lr": ["lr"], "beta1": ["beta1"], "beta2": ["beta2"], "eps": ["eps"]}),
}


def _walk_finite(obj, depth=0):
    """Whether every float reachable from ``obj`` is finite."""
    if depth > 6 or obj is None or isinstance(obj, (str, bool, int, np.bool_, np.integer)):
        return True
    if isinstance(obj, (float, np.floating)):
        return math.isfinite(obj)
    if isinstance(obj, np.ndarray):
        return obj.dtype.kind not in "fc" or bool(np.isfinite(obj).all())
    if isinstance(obj, dict):
        return all(_walk_finite(v, depth + 1) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return all(_walk_finite(v, depth + 1) for v in obj)
    if dataclasses.is_dataclass(obj):
        return all(_walk_finite(getattr(obj, f.name), depth + 1) for f in dataclasses.fields(obj))
    return True


COUNTS = Counter()
BAD_CASES = []


def _judge(where, arg, names, fn):
    COUNTS["calls"] += 1
    try:
        with np.errstate(all="ignore"):
            out = fn()
    except DOCUMENTED as exc:
        msg = str(exc)
        if any(n in msg for n in names):
            COUNTS["clean errors"] += 1
        else:
            BAD_CASES.append(f"{where} [{arg}]: {type(exc).__name__} not naming {names}: {msg[:200]}")
    except Exception as exc:   # noqa: BLE001 - the point: nothing else may escape
        BAD_CASES.append(f"{where} [{arg}]: undocumented {type(exc).__name__}: {str(exc)[:200]}")
    else:
        if _walk_finite(out):
            COUNTS["results"] += 1
        else:
            BAD_CASES.append(f"{where} [{arg}]: a result holding inf or NaN")


@st.composite
def api_case(draw):
    name = draw(st.sampled_from(sorted(TARGETS)))
    _, _, args = TARGETS[name]
    arg = draw(st.sampled_from(sorted(args)))
    return name, arg, draw(BAD)


FAST = settings(max_examples=1200, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


@FAST
@given(api_case())
def _fuzz_api(case):
    name, arg, value = case
    fn, valid, names = TARGETS[name]
    kwargs = valid()
    kwargs[arg] = value
    _judge(name, arg, names[arg], lambda: fn(**kwargs))


# ------------------------------------------------------------------------------ the CLI

def _compare_dict():
    rng = np.random.default_rng(0)
    layers = [{"weight": rng.normal(0, 1.2, (5, 3)), "bias": rng.uniform(0.2, 0.6, 5), "beta": np.asarray(0.9),
               "threshold": np.asarray(1.0)},
              {"weight": rng.normal(0, 1.0, (2, 5)), "bias": rng.uniform(0.3, 0.8, 2), "beta": np.asarray(0.85),
               "threshold": np.asarray(1.0)}]
    x = rng.uniform(0, 2, (8, 3, 3))
    net = P.build("snntorch.Leaky", layers)
    run = net.forward(x)
    target = rng.integers(0, 2, 3)
    value, aS, aV = C.LOSSES["ce_count"][0](run.spikes[-1], run.membranes[-1], {"target": target})
    g = net.backward(run, [None, aS], [None, aV])
    d = {"preset": np.str_("snntorch.Leaky"), "kwargs": np.str_("{}"), "x": x, "loss": np.str_("ce_count"),
         "target": target, "loss_value": np.float64(value)}
    d.update({f"param/{l}.{k}": v for l, lay in enumerate(layers) for k, v in lay.items()})
    d.update({f"grad/{k}": v for k, v in g.items()})
    return d


COMPARE = _compare_dict()


def _as_entry(value):
    """A fuzzed value as an npz entry (np.savez stores anything as an array; objects need pickle)."""
    if isinstance(value, str):
        return np.str_(value)
    a = np.asarray(value, dtype=object) if isinstance(value, (list, dict)) else np.asarray(value)
    return a


@st.composite
def compare_case(draw):
    key = draw(st.sampled_from(sorted(COMPARE) + ["grad/0.tau", "param/2.weight", "extra"]))
    kind = draw(st.sampled_from(["replace", "drop", "kwargs"]))
    if kind == "kwargs":
        arg = draw(st.sampled_from(["beta", "threshold", "alpha", "reset_delay", "spike_grad", "tau"]))
        value = draw(st.one_of(st.none(), st.booleans(), st.floats(), st.text(max_size=4),
                               st.lists(st.floats(), max_size=3), st.integers()))
        return "kwargs", json.dumps({arg: value}), arg
    return key, (None if kind == "drop" else draw(BAD)), kind


@settings(max_examples=150, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(compare_case())
def _fuzz_compare(tmp, case):
    key, value, kind = case
    d = dict(COMPARE)
    if kind == "drop":
        d.pop(key, None)
    elif key == "kwargs":
        d["kwargs"] = np.str_(value)
    else:
        d[key] = _as_entry(value)
    path = os.path.join(tmp, "f.npz")
    try:
        np.savez(path, **d)
    except Exception:   # noqa: BLE001 - a value np.savez cannot store is not a compare input
        return
    names = [key.split("/")[-1], "kwargs" if key == "kwargs" else key, "preset", "entry", "param", "grad", "loss",
             "target", "x", "no such file"]
    _judge("refsnn compare", f"{kind} {key}", names, lambda: _cli(["compare", path]))


def _cli(argv):
    """cli.main with output captured; argparse's exit 2 is a clean refusal."""
    import contextlib
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(argv)
    except SystemExit as e:
        code = e.code
    if code not in (0, 1, 2, 3):
        raise RuntimeError(f"exit status {code!r}")
    if code == 2:
        raise ValueError(err.getvalue())   # a refusal: its message must name the argument
    return code


TRAIN_OPTIONS = ["--epochs", "--lr", "--batch-size", "--clip", "--hidden", "--seed", "--window", "--rule",
                 "--train-dynamics", "--feedback", "--task"]
OPTION_TEXT = st.one_of(st.sampled_from(["0", "-1", "nan", "inf", "-inf", "1e39", "1e400", "10" * 20, "3", "0.5",
                                         "", " ", "bptt", "eprop", "theta,alpha", "alpha,alpha", "abc"]),
                        st.text(max_size=5), st.integers(-10**30, 10**30).map(str),
                        st.floats().map(repr))


@settings(max_examples=60, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(TRAIN_OPTIONS), OPTION_TEXT)
def _fuzz_train(taken, option, text):
    # The folder already holds another run's checkpoint: a valid command stops there (exit 2,
    # naming --out) after every up-front check, without training.
    argv = ["train", "--task", "randman", "--small", "--hidden", "4", "--epochs", "1", "--out", taken,
            "--no-progress", option, text]
    if option == "--task":
        argv = ["train", "--small", "--hidden", "4", "--out", taken, "--no-progress", "--task", text]
    _judge("refsnn train", option, [option, "--out", "already holds a checkpoint", option.lstrip("-")],
           lambda: _cli(argv))


@settings(max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(["--rtol", "--jobs", "--family", "--only", "--seed", "--reset", "--loss"]), OPTION_TEXT)
def _fuzz_gradcheck(option, text):
    argv = ["gradcheck", "--jobs", "1", "--only", "subtract/attach/ce_count", option, text]
    _judge("refsnn gradcheck", option, [option, option.lstrip("-")], lambda: _cli(argv))


def test_fuzz_the_api_and_the_cli(tmp_path, capsys):
    COUNTS.clear()
    BAD_CASES.clear()
    _fuzz_api()
    _fuzz_compare(str(tmp_path))
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "checkpoint.npz").write_bytes(b"another run's checkpoint")
    _fuzz_train(str(taken))
    assert (taken / "checkpoint.npz").read_bytes() == b"another run's checkpoint"
    _fuzz_gradcheck()
    with capsys.disabled():
        print(f"\nfuzz: {COUNTS['calls']} calls, {COUNTS['clean errors']} clean errors, {COUNTS['results']} "
              f"finite results, {len(BAD_CASES)} bad")
    assert not BAD_CASES, f"{len(BAD_CASES)} bad outcomes, e.g.:\n" + "\n".join(BAD_CASES[:25])
    assert COUNTS["calls"] >= 500 and COUNTS["clean errors"] >= 200 and COUNTS["results"] >= 30, COUNTS
