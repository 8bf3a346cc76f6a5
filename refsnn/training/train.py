"""Training end to end: tasks, the training loop, checkpoints, figures and the summary.

The recipe is seed 002's: Adam, gradient clipping by global norm, and (for long
sequences) truncated BPTT. The loop is plain Python over epochs and batches:
forward (:func:`refsnn.network.network_forward`), loss with its direct partials,
backward (:func:`refsnn.network.network_backward`), clip, optimiser step.

Reproducibility and resuming. All randomness comes from the run's seed: the data
are generated from it, the parameters are drawn from it, and the batch order of
epoch e comes from ``np.random.default_rng([seed, e])``. A checkpoint stores the
parameters, the optimiser state, the position (epoch and batch) and the history.
A resumed run therefore repeats the uninterrupted run exactly, and a checkpoint
written by Ctrl-C in the middle of an epoch resumes at the next batch. (Resuming
with a larger ``epochs`` extends the run; with the default cosine learning-rate
schedule, which depends on the total length, that is a different run from then on.)

Checkpoints are ``.npz`` files read with ``allow_pickle=False``. They are written
to a temporary file and renamed into place, so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from .. import losses
from . import data, optim
from ..neurons.lif import LIFConfig
from ..neurons.network import Network, flat_params, network_backward, network_forward, network_init, unflat_params
from ..surrogates import surrogate

__all__ = ["TASKS", "TaskSpec", "make_task", "train", "evaluate", "CheckpointError", "architecture",
           "load_checkpoint", "save_checkpoint"]

TASKS = ("randman", "yinyang", "regression", "digits")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used for this run (another architecture, task or file format)."""


@dataclass
class TaskSpec:
    """A task: its network, its data and how to score it."""

    name: str
    net: Network
    x_train: np.ndarray          # (N, T, M) sample-major
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    kind: str                    # "classification" or "regression"
    init: list = field(default_factory=list)   # per-layer init_params keywords
    defaults: dict = field(default_factory=dict)  # default training hyper-parameters


# Leak and synaptic decay of every task: τ_mem = 20 steps, τ_syn = 5 steps.
ALPHA = float(np.exp(-1 / 20))
LAM = float(np.exp(-1 / 5))
# A constant input drives a leaky integrator with a synapse to 1/((1-α)(1-λ)) ≈ 110 times
# its value; readout weights are scaled down by that gain so that logits start near O(1).
READOUT_SCALE = 3.0 * (1 - ALPHA) * (1 - LAM)


def _layer_init(w_scale, **kw):
    return dict(alpha=ALPHA, lam=LAM, w_scale=w_scale, **kw)


def _classifier(n_in, n_hidden, n_out, recurrent=False, adaptation=False):
    sg = surrogate("sigmoid", 10.0)
    hidden = LIFConfig(n_in, n_hidden, surrogate=sg, recurrent=recurrent, adaptation=adaptation,
                       synapse=True, detach_reset=True)
    readout = LIFConfig(n_hidden, n_out, surrogate=sg, reset="none", spiking=False, synapse=True)
    return Network((hidden, readout))


def make_task(name, seed=0, hidden=128, small=False):
    """Build a task. ``small=True`` makes a quick version (fewer samples) for the tour and tests."""
    if name not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}; got {name!r}")
    if name == "randman":
        per_class = 200 if small else 1000
        X, y = data.randman(n_classes=10, n_units=20, n_steps=100, dim_manifold=1,
                            n_samples_per_class=per_class, alpha=2.0, n_spikes=1, seed=seed)
        x_tr, x_te, y_tr, y_te = data.train_test_split(X, y, 0.2, seed)
        net = _classifier(20, hidden, 10)
        init = [_layer_init(3.0), _layer_init(READOUT_SCALE)]
        return TaskSpec(name, net, x_tr, y_tr, x_te, y_te, "classification", init,
                        dict(epochs=15, lr=2e-3, batch_size=64, clip=5.0))
    if name == "yinyang":
        T = 60
        n_train, n_test = (1000, 300) if small else (5000, 1000)
        p_tr, y_tr = data.yin_yang(n_train, seed=seed)
        p_te, y_te = data.yin_yang(n_test, seed=seed + 10_000)
        x_tr = data.latency_encode(p_tr, T, bias=True)
        x_te = data.latency_encode(p_te, T, bias=True)
        net = _classifier(x_tr.shape[2], hidden, 3)
        init = [_layer_init(4.0), _layer_init(READOUT_SCALE)]
        return TaskSpec(name, net, x_tr, y_tr, x_te, y_te, "classification", init,
                        dict(epochs=60, lr=2e-3, batch_size=32, clip=5.0))
    if name == "regression":
        # Seed 002's sequence regression as pattern generation (as in e-prop's benchmark):
        # each of a few target trajectories is paired with its own frozen input spike
        # pattern, and the network learns to produce the targets. A target is not a
        # function of other samples' inputs, so the score is how well the network
        # tracks the trajectories it is trained on (the "test" set is the same set).
        n = 4 if small else 8
        X, Y = data.trajectory_regression(n, n_steps=200, n_inputs=20, n_outputs=2, seed=seed)
        sg = surrogate("sigmoid", 10.0)
        hidden = LIFConfig(20, hidden, surrogate=sg, recurrent=True, adaptation=True, synapse=True,
                           detach_reset=True)
        readout = LIFConfig(hidden.n, 2, surrogate=sg, reset="none", spiking=False, synapse=True)
        init = [_layer_init(3.0, r_scale=0.3, beta=0.1, rho=float(np.exp(-1 / 100)), kappa=0.5),
                _layer_init(READOUT_SCALE)]
        return TaskSpec(name, Network((hidden, readout)), X, Y, X, Y, "regression", init,
                        dict(epochs=600, lr=1e-3, batch_size=n, clip=1.0))
    # digits
    X, y = data.digits(n_steps=40, seed=seed)
    x_tr, x_te, y_tr, y_te = data.train_test_split(X, y, 0.2, seed)
    net = _classifier(X.shape[2], hidden, 10)
    init = [_layer_init(3.0), _layer_init(READOUT_SCALE)]
    return TaskSpec(name, net, x_tr, y_tr, x_te, y_te, "classification", init,
                    dict(epochs=30, lr=2e-3, batch_size=64, clip=5.0))


def architecture(net: Network) -> dict:
    """A JSON-able description of the network, stored in checkpoints to detect mismatches."""
    out = []
    for cfg in net.layers:
        d = asdict(cfg)
        d["surrogate"] = dict(name=cfg.surrogate.name, scale=cfg.surrogate.scale, gain=cfg.surrogate.gain)
        out.append(d)
    return {"layers": out}


def _loss(task, trajs, y, at=None):
    """Loss on the readout: membrane cross-entropy (max over time; ``at`` holds the
    argmax fixed, see :func:`refsnn.losses.membrane_cross_entropy`) or the per-step MSE."""
    n = len(trajs)
    out = trajs[-1]
    if task.kind == "classification":
        l = losses.membrane_cross_entropy(out, y, "max", at=at)
    else:
        l = losses.membrane_rate_loss(out, y)      # y (T, B, K): data.batches yields targets time-major
        l = losses.Loss(l.value / out.v.shape[0], None, l.dv / out.v.shape[0])  # mean over time
    ds = [None] * n
    dv = [None] * n
    ds[-1], dv[-1] = l.ds, l.dv
    return l.value, ds, dv


def _score(task, trajs, y):
    """Accuracy (classification: argmax over the max-over-time readout) or the summed squared error."""
    v = trajs[-1].v
    if task.kind == "classification":
        return float(np.sum(np.argmax(v.max(axis=0), axis=1) == y))
    return float(np.sum((v - y) ** 2))


def evaluate(task, params, X, y, batch_size=256):
    """Mean loss and accuracy (classification) or normalised MSE (regression) on a data set."""
    total_loss, total_score, n = 0.0, 0.0, 0
    for xb, yb in data.batches(X, y, batch_size, shuffle=False):
        trajs = network_forward(task.net, params, xb.astype(params[0]["W"].dtype))
        total_loss += _loss(task, trajs, yb)[0] * len(yb)
        total_score += _score(task, trajs, yb)
        n += len(yb)
    if task.kind == "classification":
        return total_loss / n, total_score / n
    return total_loss / n, total_score / float(np.sum((y - y.mean(axis=(0, 1))) ** 2))


def save_checkpoint(path, params, opt_state, meta):
    """Write an ``.npz`` checkpoint atomically (temporary file, then rename)."""
    arrays = {f"param/{k}": v for k, v in flat_params(params).items()}
    arrays.update({f"opt/{k}": v for k, v in opt_state.items()})
    arrays["meta"] = np.array(json.dumps(meta))
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".checkpoint-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_checkpoint(path, net: Network):
    """Read a checkpoint; raise :class:`CheckpointError` if it does not fit ``net``."""
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            flat = {k[6:]: z[k] for k in z.files if k.startswith("param/")}
            opt_state = {k[4:]: z[k] for k in z.files if k.startswith("opt/")}
    except (OSError, KeyError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path} cannot be read as a refsnn checkpoint: {e}") from e
    if meta.get("architecture") != architecture(net):
        raise CheckpointError(
            f"checkpoint {path} was written for a different architecture:\n  checkpoint: "
            f"{json.dumps(meta.get('architecture'))}\n  this run:   {json.dumps(architecture(net))}")
    return unflat_params(flat, len(net.layers)), opt_state, meta


@dataclass
class RunConfig:
    task: str
    epochs: int
    lr: float
    batch_size: int
    clip: float
    seed: int
    hidden: int
    small: bool = False
    schedule: str = "cosine"     # learning rate: "cosine" decay to 0 over the run, or "constant"


def learning_rate(cfg: RunConfig, step, total):
    """Step ``step`` of ``total``: ``lr`` (constant) or ``lr · ½(1 + cos(π step/total))`` (cosine)."""
    if cfg.schedule == "constant":
        return cfg.lr
    if cfg.schedule == "cosine":
        return cfg.lr * 0.5 * (1.0 + np.cos(np.pi * step / total))
    raise ValueError(f"schedule must be 'cosine' or 'constant', got {cfg.schedule!r}")


def train(cfg: RunConfig, out_dir, resume=False, progress=True, log=print, task=None):
    """Train, writing ``checkpoint.npz``, figures and ``summary.json`` to ``out_dir``.

    Returns the summary dict. Ctrl-C saves a checkpoint and re-raises KeyboardInterrupt.
    """
    os.makedirs(out_dir, exist_ok=True)
    task = task or make_task(cfg.task, cfg.seed, cfg.hidden, cfg.small)
    ckpt_path = os.path.join(out_dir, "checkpoint.npz")
    dtype = np.float32
    opt = optim.Adam(lr=cfg.lr)
    trainable = lambda k: k.rsplit(".", 1)[1] in ("W", "b", "R")   # noqa: E731
    if resume:
        if not os.path.exists(ckpt_path):
            raise CheckpointError(f"--resume: no checkpoint at {ckpt_path}")
        params, opt_state, meta = load_checkpoint(ckpt_path, task.net)
        if meta["run"] != {**asdict(cfg), "epochs": meta["run"]["epochs"]}:
            raise CheckpointError(f"checkpoint {ckpt_path} was written by another run configuration: "
                                  f"{meta['run']} vs {asdict(cfg)}")
        epoch, batch_index, history = meta["epoch"], meta["batch"], meta["history"]
        log(f"resuming {cfg.task} from epoch {epoch}, batch {batch_index}")
    else:
        params = network_init(task.net, np.random.default_rng([cfg.seed, 2**20]), dtype, task.init)
        opt_state = optim.init_state(opt, _trainable(params, trainable))
        epoch, batch_index = 0, 0
        history = {"epoch": [], "train_loss": [], "train_score": [], "test_loss": [], "test_score": []}
        if task.kind == "regression":
            history["nmse_before"] = evaluate(task, params, task.x_test, task.y_test)[1]

    def meta_now():
        return dict(architecture=architecture(task.net), run=asdict(cfg), epoch=epoch, batch=batch_index,
                    history=history, format="refsnn-checkpoint-1")

    n_batches = int(np.ceil(len(task.x_train) / cfg.batch_size))
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=cfg.epochs * n_batches, initial=epoch * n_batches + batch_index,
                   desc=cfg.task, unit="batch", dynamic_ncols=True)
    start = time.perf_counter()
    try:
        while epoch < cfg.epochs:
            rng = np.random.default_rng([cfg.seed, epoch])
            run_loss, run_score, seen = 0.0, 0.0, 0
            for b, (xb, yb) in enumerate(data.batches(task.x_train, task.y_train, cfg.batch_size, rng)):
                if b < batch_index:
                    continue
                trajs = network_forward(task.net, params, xb.astype(dtype))
                value, ds, dv = _loss(task, trajs, yb)
                g = network_backward(trajs, params, ds, dv)
                grads = _trainable(g.params, trainable)
                grads, _ = optim.clip_by_global_norm(grads, cfg.clip)
                lr = learning_rate(cfg, epoch * n_batches + b, cfg.epochs * n_batches)
                new, opt_state = optim.step(optim.Adam(lr=lr), _trainable(params, trainable), grads, opt_state)
                params = _merge(params, new)
                run_loss += value * len(yb)
                run_score += _score(task, trajs, yb)
                seen += len(yb)
                batch_index = b + 1
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{value:.4f}", **({"acc": f"{run_score / seen:.3f}"}
                                                          if task.kind == "classification" else {}))
            test_loss, test_score = evaluate(task, params, task.x_test, task.y_test)
            history["epoch"].append(epoch + 1)
            history["train_loss"].append(run_loss / max(seen, 1))
            history["train_score"].append(run_score / max(seen, 1) if task.kind == "classification" else None)
            history["test_loss"].append(test_loss)
            history["test_score"].append(test_score)
            epoch, batch_index = epoch + 1, 0
            save_checkpoint(ckpt_path, params, opt_state, meta_now())
    except KeyboardInterrupt:
        save_checkpoint(ckpt_path, params, opt_state, meta_now())
        if bar is not None:
            bar.close()
        log(f"\ninterrupted: checkpoint saved to {ckpt_path} (epoch {epoch}, batch {batch_index}); "
            "continue with --resume")
        raise
    if bar is not None:
        bar.close()
    elapsed = time.perf_counter() - start
    summary = _summary(task, cfg, params, history, elapsed)
    with open(os.path.join(out_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    _figures(task, params, history, out_dir)
    return summary


def _trainable(params, keep):
    return {k: v for k, v in flat_params(params).items() if keep(k)}


def _merge(params, new_flat):
    flat = flat_params(params)
    flat.update(new_flat)
    return unflat_params(flat, len(params))


def _summary(task, cfg, params, history, elapsed):
    s = dict(task=task.name, run=asdict(cfg), architecture=architecture(task.net),
             n_train=int(len(task.x_train)), n_test=int(len(task.x_test)),
             train_seconds=elapsed, history=history)
    if task.kind == "classification":
        s["test_accuracy"] = history["test_score"][-1] if history["test_score"] else None
        s["train_accuracy"] = history["train_score"][-1] if history["train_score"] else None
    else:
        s["nmse_before"] = history.get("nmse_before")
        s["nmse_after"] = history["test_score"][-1] if history["test_score"] else None
    return s


def _figures(task, params, history, out_dir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
    ax[0].plot(history["epoch"], history["train_loss"], label="train")
    ax[0].plot(history["epoch"], history["test_loss"], label="test")
    ax[0].set(xlabel="epoch", ylabel="loss", title="loss")
    ax[0].legend()
    label = "accuracy" if task.kind == "classification" else "normalised MSE"
    if task.kind == "classification":
        ax[1].plot(history["epoch"], history["train_score"], label="train")
    ax[1].plot(history["epoch"], history["test_score"], label="test")
    ax[1].set(xlabel="epoch", ylabel=label, title=label)
    ax[1].legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "curves.png"), dpi=110)
    plt.close(fig)

    x = task.x_test[:1]
    trajs = network_forward(task.net, params, np.moveaxis(x, 0, 1).astype(params[0]["W"].dtype))
    fig, ax = plt.subplots(3, 1, figsize=(8, 7), sharex=True)
    t_in, i_in = np.nonzero(x[0])
    ax[0].scatter(t_in, i_in, s=4, c="k")
    ax[0].set(ylabel="input", title="input spikes")
    t_h, i_h = np.nonzero(trajs[0].s[:, 0])
    ax[1].scatter(t_h, i_h, s=4, c="tab:red")
    ax[1].set(ylabel="hidden neuron", title="hidden spike raster")
    ax[2].plot(trajs[-1].v[:, 0])
    if task.kind == "regression":
        ax[2].set_prop_cycle(None)
        ax[2].plot(task.y_test[0], "--")
    ax[2].set(xlabel="time step", ylabel="v", title="readout membrane traces")
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "traces.png"), dpi=110)
    plt.close(fig)
