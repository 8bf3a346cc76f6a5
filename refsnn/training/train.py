"""Training end to end: tasks, the training loop, checkpoints, figures and the summary.

The recipe is seed 002's: Adam, gradient clipping by global norm, and (for long
sequences) truncated BPTT. The loop is plain Python over epochs and batches:
forward (:func:`refsnn.network.network_forward`), loss with its direct partials,
backward (:func:`refsnn.network.network_backward`), clip, optimiser step. ``rule``
replaces forward and backward by truncated BPTT or e-prop (:mod:`refsnn.learning.rules`).

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
from dataclasses import asdict, dataclass

import numpy as np

from .. import losses  # noqa: F401  (kept: refsnn.train.losses)
from . import data, optim
from ..learning import rules
from ..neurons.lif import LIFConfig  # noqa: F401
from ..neurons.network import Network, flat_params, network_backward, network_forward, network_init, unflat_params
# The tasks live in a registry (refsnn.training.tasks); the old names stay importable here.
from .tasks import (ALPHA, LAM, READOUT_SCALE, TASKS, TaskSpec, _classifier, _layer_init,  # noqa: F401
                    build_task, get_kind, register_task)

__all__ = ["TASKS", "TaskSpec", "make_task", "register_task", "train", "evaluate", "CheckpointError", "architecture",
           "load_checkpoint", "save_checkpoint"]


class CheckpointError(ValueError):
    """A checkpoint that cannot be used for this run (another architecture, task or file format)."""


def make_task(name, seed=0, hidden=128, small=False):
    """Build a registered task (see :mod:`refsnn.training.tasks`). ``small=True`` makes a quick
    version (fewer samples) for the tour and tests."""
    return build_task(name, seed=seed, hidden=hidden, small=small)


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
    l = get_kind(task.kind).loss(trajs[-1], y, at)
    ds = [None] * n
    dv = [None] * n
    ds[-1], dv[-1] = l.ds, l.dv
    return l.value, ds, dv


def _score(task, trajs, y):
    """Accuracy (classification: argmax over the max-over-time readout) or the summed squared error."""
    return get_kind(task.kind).score(trajs[-1], y)


def evaluate(task, params, X, y, batch_size=256):
    """Mean loss and accuracy (classification) or normalised MSE (regression) on a data set."""
    total_loss, total_score, n = 0.0, 0.0, 0
    for xb, yb in data.batches(X, y, batch_size, shuffle=False):
        trajs = network_forward(task.net, params, xb.astype(params[0]["W"].dtype))
        total_loss += _loss(task, trajs, yb)[0] * len(yb)
        total_score += _score(task, trajs, yb)
        n += len(yb)
    return total_loss / n, get_kind(task.kind).finish(total_score, n, y)


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
    rule: str = "bptt"           # gradient: "bptt", "tbptt" (window K) or "eprop" (refsnn.learning.rules)
    window: int = 50             # TBPTT's K
    feedback: str = "symmetric"  # e-prop's B: "symmetric" (W_out^T) or "random" (fixed, from the seed)


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
        if get_kind(task.kind).baseline:
            history[get_kind(task.kind).baseline] = evaluate(task, params, task.x_test, task.y_test)[1]

    def meta_now():
        return dict(architecture=architecture(task.net), run=asdict(cfg), epoch=epoch, batch=batch_index,
                    history=history, format="refsnn-checkpoint-1")

    n_batches = int(np.ceil(len(task.x_train) / cfg.batch_size))
    feedback = rules.feedback_matrix(cfg, task, params)
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
                value, g_params, trajs, y_max = rules.rule_gradients(
                    cfg.rule, task, params, xb.astype(dtype), yb, lambda tr: _loss(task, tr, yb),
                    cfg.window, feedback)
                grads = _trainable(g_params, trainable)
                grads, _ = optim.clip_by_global_norm(grads, cfg.clip)
                lr = learning_rate(cfg, epoch * n_batches + b, cfg.epochs * n_batches)
                new, opt_state = optim.step(optim.Adam(lr=lr), _trainable(params, trainable), grads, opt_state)
                params = _merge(params, new)
                run_loss += value * len(yb)
                run_score += _score(task, trajs, yb) if trajs is not None else rules.online_score(task, y_max, yb)
                seen += len(yb)
                batch_index = b + 1
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{value:.4f}", **({"acc": f"{run_score / seen:.3f}"}
                                                          if get_kind(task.kind).train_score else {}))
            test_loss, test_score = evaluate(task, params, task.x_test, task.y_test)
            history["epoch"].append(epoch + 1)
            history["train_loss"].append(run_loss / max(seen, 1))
            history["train_score"].append(run_score / max(seen, 1) if get_kind(task.kind).train_score else None)
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
    s.update(get_kind(task.kind).summary(history))
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
    kind = get_kind(task.kind)
    label = kind.label
    if kind.train_score:
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
    if kind.plot_targets:
        ax[2].set_prop_cycle(None)
        ax[2].plot(task.y_test[0], "--")
    ax[2].set(xlabel="time step", ylabel="v", title="readout membrane traces")
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "traces.png"), dpi=110)
    plt.close(fig)
