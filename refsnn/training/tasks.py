"""The registry of training tasks and of task kinds.

A *task* is a name and a builder ``builder(seed=0, hidden=128, small=False) -> TaskSpec``
(its network, its data, how it is scored and its default hyper-parameters). The
builder's own default ``hidden`` is the task's width (Randman's is 256): :func:`build_task`
with ``hidden=None`` uses it. Adding a
task is one call, anywhere::

    from refsnn.training.tasks import register_task
    register_task("digits_cnn", "refsnn.training.cnn_tasks:build_digits_cnn",
                  help="spiking CNN on the scikit-learn digits")

``builder`` is a callable or a ``"module:function"`` string; a string is imported only
when the task is built, so the ``refsnn`` command can list every task (``--task``
choices) without importing the modules behind them. A module that registers tasks
with callables is named in :data:`TASK_MODULES`, which :func:`task_names` imports.

A *kind* (``TaskSpec.kind``) says how the readout is scored: its loss with the direct
partials, the per-batch score, how the per-sample scores are normalised, and what the
summary reports. ``"classification"`` and ``"regression"`` are built in;
:func:`register_kind` adds another, so the training loop has no branches on names.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable, Optional, Union

import numpy as np

__all__ = ["TASKS", "KINDS", "TASK_MODULES", "TaskSpec", "TaskEntry", "TaskKind", "register_task",
           "register_kind", "task_names", "get_builder", "default_hidden", "build_task", "get_kind"]

# Modules whose import registers tasks (beyond this one), imported by task_names().
TASK_MODULES: list = []


@dataclass
class TaskSpec:
    """A task: its network, its data and how to score it."""

    name: str
    net: object                  # refsnn.network.Network
    x_train: np.ndarray          # (N, T, M) sample-major
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    kind: str                    # a key of KINDS: "classification" or "regression"
    init: list = field(default_factory=list)   # per-layer init_params keywords
    defaults: dict = field(default_factory=dict)  # default training hyper-parameters
    # An optional validation split: scored after every epoch; it chooses the reported epoch.
    x_val: Optional[np.ndarray] = None
    y_val: Optional[np.ndarray] = None


@dataclass(frozen=True)
class TaskEntry:
    name: str
    builder: Union[Callable, str]   # callable or "module:function"
    help: str = ""


@dataclass(frozen=True)
class TaskKind:
    """How a kind of task is scored.

    loss(out, y, at)        the readout trajectory's loss, a :class:`refsnn.losses.Loss`
    score(out, y)           the batch's summed score (e.g. number correct)
    finish(total, n, y)     the reported score from the summed score over a data set
    summary(history)        the summary entries (e.g. test_accuracy)
    label                   the score's name on figures
    train_score             whether the running training score is reported
    baseline                if set, history[baseline] holds the test score before training
    plot_targets            whether the traces figure overlays the targets
    """

    name: str
    loss: Callable
    score: Callable
    finish: Callable
    summary: Callable
    label: str
    train_score: bool = True
    baseline: Optional[str] = None
    plot_targets: bool = False


TASKS: dict = {}
KINDS: dict = {}


def register_task(name, builder, help="", replace=False):
    """Register ``builder`` (a callable or ``"module:function"``) under ``name``."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str, got {name!r}")
    if not (callable(builder) or (isinstance(builder, str) and ":" in builder)):
        raise TypeError(f"builder must be a callable or a 'module:function' string, got {builder!r}")
    if name in TASKS and not replace:
        raise ValueError(f"a task named {name!r} is already registered (pass replace=True to replace it)")
    TASKS[name] = TaskEntry(name, builder, help)
    return builder


def register_kind(kind: TaskKind, replace=False):
    if not isinstance(kind, TaskKind):
        raise TypeError(f"kind must be a TaskKind, got {type(kind).__name__}")
    if kind.name in KINDS and not replace:
        raise ValueError(f"a task kind named {kind.name!r} is already registered")
    KINDS[kind.name] = kind
    return kind


def _import_task_modules():
    for mod in list(TASK_MODULES):
        importlib.import_module(mod)


def task_names() -> tuple:
    """Every registered task name, in registration order."""
    _import_task_modules()
    return tuple(TASKS)


def get_builder(name):
    _import_task_modules()
    if not isinstance(name, str):
        raise TypeError(f"task must be a task name (str), got {type(name).__name__}")
    if name not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}; got {name!r}")
    builder = TASKS[name].builder
    if isinstance(builder, str):
        mod, _, attr = builder.partition(":")
        builder = getattr(importlib.import_module(mod), attr)
    return builder


def default_hidden(name) -> int:
    """Task ``name``'s own width: its builder's default ``hidden`` (128 if it has none)."""
    import inspect
    p = inspect.signature(get_builder(name)).parameters.get("hidden")
    return 128 if p is None or p.default is inspect.Parameter.empty else p.default


def build_task(name, seed=0, hidden=None, small=False) -> TaskSpec:
    """Build task ``name``; ``hidden=None`` takes the task's own width (:func:`default_hidden`)."""
    from .._validate import check_bool, check_positive_int
    builder = get_builder(name)
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    hidden = default_hidden(name) if hidden is None else hidden
    check_positive_int("hidden", hidden)
    check_bool("small", small)
    spec = builder(seed=seed, hidden=hidden, small=small)
    if not isinstance(spec, TaskSpec):
        raise TypeError(f"the builder of task {name!r} returned {type(spec).__name__}, not a TaskSpec")
    return spec


def get_kind(kind_name) -> TaskKind:
    if kind_name not in KINDS:
        raise ValueError(f"task kind must be one of {', '.join(KINDS)}; got {kind_name!r}")
    return KINDS[kind_name]


# ---------------------------------------------------------------- built-in kinds

def _ce_loss(out, y, at=None):
    from .. import losses
    return losses.membrane_cross_entropy(out, y, "max", at=at)


def _mse_loss(out, y, at=None):
    from .. import losses
    l = losses.membrane_rate_loss(out, y)      # y (T, B, K): data.batches yields targets time-major
    return losses.Loss(l.value / out.v.shape[0], None, l.dv / out.v.shape[0])  # mean over time


register_kind(TaskKind(
    "classification", loss=_ce_loss,
    score=lambda out, y: float(np.sum(np.argmax(out.v.max(axis=0), axis=1) == y)),
    finish=lambda total, n, y: total / n,
    summary=lambda h: dict(test_accuracy=h["test_score"][-1] if h["test_score"] else None,
                           train_accuracy=h["train_score"][-1] if h["train_score"] else None),
    label="accuracy"))

register_kind(TaskKind(
    "regression", loss=_mse_loss,
    score=lambda out, y: float(np.sum((out.v - y) ** 2)),
    finish=lambda total, n, y: total / float(np.sum((y - y.mean(axis=(0, 1))) ** 2)),
    summary=lambda h: dict(nmse_before=h.get("nmse_before"),
                           nmse_after=h["test_score"][-1] if h["test_score"] else None),
    label="normalised MSE", train_score=False, baseline="nmse_before", plot_targets=True))


# ---------------------------------------------------------------- built-in tasks

# Leak and synaptic decay of every task: τ_mem = 20 steps, τ_syn = 5 steps.
ALPHA = float(np.exp(-1 / 20))
LAM = float(np.exp(-1 / 5))
# A constant input drives a leaky integrator with a synapse to 1/((1-α)(1-λ)) ≈ 110 times
# its value (1/(1-α) without a synapse); readout weights are scaled down by that gain so
# that logits start near O(1).


def readout_scale(alpha, lam=None):
    """``w_scale`` of a leaky-integrator readout: 3 divided by its DC gain (λ None: no synapse)."""
    return 3.0 * (1 - alpha) * (1.0 if lam is None else 1 - lam)


READOUT_SCALE = readout_scale(ALPHA, LAM)


def _layer_init(w_scale, **kw):
    return dict(alpha=ALPHA, lam=LAM, w_scale=w_scale, **kw)


def _classifier(n_in, n_hidden, n_out, recurrent=False, adaptation=False, readout_synapse=True):
    from ..neurons.lif import LIFConfig
    from ..neurons.network import Network
    from ..surrogates import surrogate
    sg = surrogate("sigmoid", 10.0)
    hidden = LIFConfig(n_in, n_hidden, surrogate=sg, recurrent=recurrent, adaptation=adaptation,
                       synapse=True, detach_reset=True)
    readout = LIFConfig(n_hidden, n_out, surrogate=sg, reset="none", spiking=False, synapse=readout_synapse)
    return Network((hidden, readout))


# The Randman benchmark setting: 10 classes, 20 units, D = 3, α = 2, T = 100, one spike
# per unit, on the reference's spectrum. D = 1 is saturated (kNN on the spike times
# is near 100%); D = 3 is not (benchmarks/bench_randman.py).
RANDMAN_DIM = 3
# Its recipe (the search is in the README): 256 hidden neurons and 25 epochs (128 for
# 15 epochs under-fit: training accuracy 97–98.6%, test 95.8 ± 0.6; this one gives
# 97.6 ± 0.1); hidden τ_mem = 50 steps (τ_syn = 5), so a neuron integrates input spikes
# across half the trial; a readout without a synapse
# (τ_mem = 20), whose gain 1/(1 − α) ≈ 20 is a fifth of the synaptic readout's 110, so an
# Adam step moves the logits a fifth as far: with the synaptic readout, lr = 5e-3 stayed
# below 30% accuracy; without it, it trains.
RANDMAN_ALPHA = float(np.exp(-1 / 50))
RANDMAN_HIDDEN = 256


def build_randman(seed=0, hidden=RANDMAN_HIDDEN, small=False, dim_manifold=RANDMAN_DIM):
    from . import data
    per_class = 200 if small else 1000
    X, y = data.randman(n_classes=10, n_units=20, n_steps=100, dim_manifold=dim_manifold,
                        n_samples_per_class=per_class, alpha=2.0, n_spikes=1, seed=seed)
    x_tr, x_te, y_tr, y_te = data.train_test_split(X, y, 0.2, seed)
    net = _classifier(20, hidden, 10, readout_synapse=False)
    init = [dict(alpha=RANDMAN_ALPHA, lam=LAM, w_scale=3.0), dict(alpha=ALPHA, w_scale=readout_scale(ALPHA))]
    return TaskSpec("randman", net, x_tr, y_tr, x_te, y_te, "classification", init,
                    dict(epochs=25, lr=5e-3, batch_size=64, clip=5.0))


# Yin-Yang's recipe (benchmarks/bench_results.py; the search is in the README):
# the four coordinates (x, y, 1 − x, 1 − y) enter as constant currents (data.current_encode)
# for T = 20 steps, and the hidden layer codes them in spike rates. Shorter time constants
# than the other tasks' (τ_mem = 10, τ_syn = 2 steps) let the membranes settle within T.
YINYANG_STEPS = 20
YINYANG_ALPHA = float(np.exp(-1 / 10))
YINYANG_LAM = float(np.exp(-1 / 2))
YINYANG_CURRENT = 4.0    # input scale: coordinate 1 drives 4 units of current a step


def build_yinyang(seed=0, hidden=128, small=False):
    """The published splits (data.yin_yang_splits: 5000 train / 1000 validation / 1000
    test, seeds 42 / 41 / 40); ``seed`` seeds the initialisation and batch order only.
    ``small`` takes the first 1000 training, 300 validation and 300 test samples. The
    validation split chooses the reported epoch (the summary's ``selected``: the lowest
    validation loss); it is not trained on.

    Rate coded: each coordinate is a constant input current (data.current_encode) for
    T = 20 steps. The readout is a leaky integrator scored by the max over time of its
    membrane, as in the other tasks."""
    from . import data
    splits = data.yin_yang_splits()
    (p_tr, y_tr), (p_va, y_va), (p_te, y_te) = splits["train"], splits["validation"], splits["test"]
    if small:
        p_tr, y_tr, p_va, y_va, p_te, y_te = p_tr[:1000], y_tr[:1000], p_va[:300], y_va[:300], p_te[:300], y_te[:300]
    enc = lambda p: data.current_encode(p, YINYANG_STEPS, YINYANG_CURRENT)  # noqa: E731
    net = _classifier(4, hidden, 3)
    # readout: the same initial logit scale as the other tasks, for this task's gain
    init = [dict(alpha=YINYANG_ALPHA, lam=YINYANG_LAM, w_scale=1.0),
            dict(alpha=YINYANG_ALPHA, lam=YINYANG_LAM, w_scale=readout_scale(YINYANG_ALPHA, YINYANG_LAM))]
    return TaskSpec("yinyang", net, enc(p_tr), y_tr, enc(p_te), y_te, "classification", init,
                    dict(epochs=12, lr=2e-3, batch_size=32, clip=5.0), x_val=enc(p_va), y_val=y_va)


def build_regression(seed=0, hidden=128, small=False):
    # Seed 002's sequence regression as pattern generation (as in e-prop's benchmark):
    # each of a few target trajectories is paired with its own frozen input spike
    # pattern, and the network learns to produce the targets. A target is not a
    # function of other samples' inputs, so the score is how well the network
    # tracks the trajectories it is trained on (the "test" set is the same set).
    from . import data
    from ..neurons.lif import LIFConfig
    from ..neurons.network import Network
    from ..surrogates import surrogate
    n = 4 if small else 8
    X, Y = data.trajectory_regression(n, n_steps=200, n_inputs=20, n_outputs=2, seed=seed)
    sg = surrogate("sigmoid", 10.0)
    hid = LIFConfig(20, hidden, surrogate=sg, recurrent=True, adaptation=True, synapse=True,
                    detach_reset=True)
    readout = LIFConfig(hid.n, 2, surrogate=sg, reset="none", spiking=False, synapse=True)
    init = [_layer_init(3.0, r_scale=0.3, beta=0.1, rho=float(np.exp(-1 / 100)), kappa=0.5),
            _layer_init(READOUT_SCALE)]
    return TaskSpec("regression", Network((hid, readout)), X, Y, X, Y, "regression", init,
                    dict(epochs=600, lr=1e-3, batch_size=n, clip=1.0))


def build_digits(seed=0, hidden=128, small=False):
    from . import data
    X, y = data.digits(n_steps=40, seed=seed)
    x_tr, x_te, y_tr, y_te = data.train_test_split(X, y, 0.2, seed)
    net = _classifier(X.shape[2], hidden, 10)
    init = [_layer_init(3.0), _layer_init(READOUT_SCALE)]
    return TaskSpec("digits", net, x_tr, y_tr, x_te, y_te, "classification", init,
                    dict(epochs=30, lr=2e-3, batch_size=64, clip=5.0))


register_task("randman", build_randman, help="random manifolds: 10 classes, 20 units, D = 3, T = 100")
register_task("yinyang", build_yinyang, help="the Yin-Yang data set (published splits), rate coded")
register_task("regression", build_regression, help="pattern generation of 2-D trajectories")
register_task("digits", build_digits, help="scikit-learn 8x8 digits (the 'digits' extra)")
