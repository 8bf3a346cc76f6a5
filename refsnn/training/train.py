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
import sys
import tempfile
import time
from dataclasses import asdict, dataclass

import numpy as np

from .. import losses  # noqa: F401  (kept: refsnn.train.losses)
from .._validate import all_finite
from . import constraints, data, optim
from ..learning import rules
from ..neurons.lif import LIFConfig  # noqa: F401
from ..neurons.network import Network, flat_params, network_backward, network_forward, network_init, unflat_params
# The tasks live in a registry (refsnn.training.tasks); the old names stay importable here.
from .tasks import (ALPHA, LAM, READOUT_SCALE, TASKS, TaskSpec, _classifier, _layer_init,  # noqa: F401
                    build_task, get_kind, register_task)

__all__ = ["TASKS", "TaskSpec", "make_task", "register_task", "train", "evaluate", "CheckpointError", "architecture",
           "load_checkpoint", "save_checkpoint", "TrainingDiverged"]


class CheckpointError(ValueError):
    """A checkpoint that cannot be used for this run (another architecture, task or file format)."""


def make_task(name, seed=0, hidden=None, small=False):
    """Build a registered task (see :mod:`refsnn.training.tasks`). ``hidden=None`` takes the
    task's own width (128; Randman 256). ``small=True`` makes a quick version (fewer samples)
    for the tour and tests."""
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
    if not isinstance(task, TaskSpec):
        raise TypeError(f"task must be a TaskSpec (from make_task), got {type(task).__name__}")
    total_loss, total_score, n = 0.0, 0.0, 0
    for xb, yb in data.batches(X, y, batch_size, shuffle=False):
        trajs = network_forward(task.net, params, xb.astype(params[0]["W"].dtype))
        total_loss += _loss(task, trajs, yb)[0] * len(yb)
        total_score += _score(task, trajs, yb)
        n += len(yb)
    return total_loss / n, get_kind(task.kind).finish(total_score, n, y)


CHECKPOINT_FORMAT = "refsnn-checkpoint-1"
TRAIN_DTYPE = np.float32
_TRAINABLE = ("W", "b", "R")
_META_KEYS = ("architecture", "run", "epoch", "batch", "history", "format")
_HISTORY_KEYS = ("epoch", "train_loss", "train_score", "test_loss", "test_score")


def _trainable_predicate(train_dynamics=""):
    """Which flat parameter keys ``"L{l}.{name}"`` are trained: W, b, R and the neuron
    parameters named by ``train_dynamics`` (:func:`refsnn.training.constraints.parse_trainable`)."""
    keep = _TRAINABLE + constraints.parse_trainable(train_dynamics)
    return lambda key: key.rsplit(".", 1)[-1] in keep


def _is_trainable(key):
    return _trainable_predicate()(key)


def _count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_meta(meta, where):
    """The checks of a checkpoint's meta that need no network: raise CheckpointError."""
    if not isinstance(meta, dict):
        raise CheckpointError(f"{where}: meta must be a JSON object (dict), got {type(meta).__name__}")
    missing = [k for k in _META_KEYS if k not in meta]
    if missing:
        raise CheckpointError(f"{where}: meta lacks the keys {missing} (expected {list(_META_KEYS)})")
    if meta["format"] != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{where}: format {meta['format']!r} is not {CHECKPOINT_FORMAT!r}")
    for key in ("epoch", "batch"):
        if not _count(meta[key]):
            raise CheckpointError(f"{where}: meta[{key!r}] must be an integer >= 0, got {meta[key]!r}")
    for key in ("architecture", "run", "history"):
        if not isinstance(meta[key], dict):
            raise CheckpointError(f"{where}: meta[{key!r}] must be a dict, got {type(meta[key]).__name__}")
    run = meta["run"]
    if not _count(run.get("epochs")) or meta["epoch"] > run["epochs"]:
        raise CheckpointError(f"{where}: meta epoch {meta['epoch']} does not fit run epochs {run.get('epochs')!r}")
    hist = meta["history"]
    for key in _HISTORY_KEYS:
        if not isinstance(hist.get(key), list) or len(hist[key]) != meta["epoch"]:
            raise CheckpointError(f"{where}: history[{key!r}] must be a list of one entry per finished epoch "
                                  f"({meta['epoch']})")
    partial = meta.get("partial")
    if partial is not None:
        if not (isinstance(partial, dict) and _count(partial.get("seen"))
                and all(isinstance(partial.get(k), (int, float)) and np.isfinite(partial[k])
                        for k in ("loss", "score"))):
            raise CheckpointError(f"{where}: meta['partial'] must hold finite loss, score and a count seen")


def _check_arrays(flat, opt_state, where, net=None, train_dynamics=""):
    """Parameters (and, with ``net``, their names and shapes) and the Adam state."""
    for k, v in flat.items():
        if not isinstance(v, np.ndarray) or v.dtype != TRAIN_DTYPE:
            raise CheckpointError(f"{where}: parameter {k} must be a {np.dtype(TRAIN_DTYPE).name} array, got "
                                  f"{getattr(v, 'dtype', type(v).__name__)}")
        if not np.all(np.isfinite(v)):
            raise CheckpointError(f"{where}: parameter {k} holds NaN or infinite values")
    if net is not None:
        from ..neurons.lif import _param_shape, param_names
        want = {f"L{l}.{n}": _param_shape(cfg, n) for l, cfg in enumerate(net.layers) for n in param_names(cfg)}
        if set(want) != set(flat):
            raise CheckpointError(f"{where}: parameters {sorted(flat)} do not match this network's {sorted(want)}")
        for k, shape in want.items():
            if flat[k].shape != tuple(shape):
                raise CheckpointError(f"{where}: parameter {k} has shape {flat[k].shape}, expected {tuple(shape)}")
    try:
        is_trained = _trainable_predicate(train_dynamics)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{where}: run['train_dynamics'] is not usable: {e}") from None
    trainable = {k: v for k, v in flat.items() if is_trained(k)}
    try:
        optim._check_state(optim.Adam(), opt_state, trainable)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{where}: the optimiser state is not usable: {e}") from None


def save_checkpoint(path, params, opt_state, meta):
    """Write an ``.npz`` checkpoint atomically (temporary file, then rename).

    Refuses (CheckpointError) what :func:`load_checkpoint` would refuse, so a bad
    state never replaces a good checkpoint."""
    flat = flat_params(params)
    _check_meta(meta, f"save_checkpoint({path})")
    _check_arrays(flat, opt_state, f"save_checkpoint({path})",
                  train_dynamics=meta["run"].get("train_dynamics", ""))
    arrays = {f"param/{k}": v for k, v in flat.items()}
    arrays.update({f"opt/{k}": v for k, v in opt_state.items()})
    arrays["meta"] = np.array(json.dumps(meta, allow_nan=False))
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


# Room for the meta entry (a JSON string, 4 bytes a character; its history grows ~0.5 kB an epoch).
META_MAX_BYTES = 64 * 2**20


def checkpoint_max_bytes(net: Network):
    """The most a checkpoint of ``net`` can hold: parameters and Adam's two moments in
    float32, the step count, and :data:`META_MAX_BYTES` of meta. :func:`load_checkpoint`
    refuses a file whose arrays declare more, before reading any of them."""
    from ..neurons.lif import _param_shape, param_names
    n = sum(int(np.prod(_param_shape(cfg, k), dtype=object)) for cfg in net.layers for k in param_names(cfg))
    return 3 * n * np.dtype(TRAIN_DTYPE).itemsize + 1024 + META_MAX_BYTES


def load_checkpoint(path, net: Network):
    """Read a checkpoint; raise :class:`CheckpointError` if it is unusable or does not fit ``net``.

    Unusable: not a readable ``.npz`` (truncated, a CRC error, a ``.npy`` file, pickled
    data), meta that is not a JSON object with the keys and counts of a refsnn
    checkpoint, parameters of the wrong names, shapes or dtype or with NaN/inf, or an
    optimiser state that does not fit the parameters."""
    if not isinstance(net, Network):
        raise TypeError(f"net must be a refsnn.network.Network, got {type(net).__name__}")
    where = f"checkpoint {path}"
    from .._npz import NpzError, read_npz
    try:   # a regular file, every member's declared shape summed and held to the cap before reading
        z = read_npz(path, checkpoint_max_bytes(net), where=where)
    except NpzError as e:
        raise CheckpointError(f"{e} (not usable as a refsnn checkpoint)") from None
    if "meta" not in z:
        raise CheckpointError(f"{where} has no 'meta' entry; it is not a refsnn checkpoint")
    raw = z["meta"]
    flat = {k[6:]: v for k, v in z.items() if k.startswith("param/")}
    opt_state = {k[4:]: v for k, v in z.items() if k.startswith("opt/")}
    if raw.shape != () or raw.dtype.kind != "U":
        raise CheckpointError(f"{where}: 'meta' must be a JSON string, got an array of dtype {raw.dtype}")
    try:
        meta = json.loads(str(raw))
    except (ValueError, RecursionError) as e:
        raise CheckpointError(f"{where}: 'meta' is not valid JSON: {e}") from e
    _check_meta(meta, where)
    if meta.get("architecture") != architecture(net):
        raise CheckpointError(
            f"checkpoint {path} was written for a different architecture:\n  checkpoint: "
            f"{json.dumps(meta.get('architecture'))}\n  this run:   {json.dumps(architecture(net))}")
    _check_arrays(flat, opt_state, where, net, meta["run"].get("train_dynamics", ""))
    return unflat_params(flat, len(net.layers)), opt_state, meta


class TrainingDiverged(RuntimeError):
    """The loss or the gradient became non-finite or exploded; training stopped."""


# A loss above this multiple of max(1, the run's first loss) counts as exploding.
DIVERGENCE_FACTOR = 1e3


def _json_safe(obj):
    """``obj`` with every non-finite float replaced by None (JSON has no Infinity/NaN)."""
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        return _json_safe(obj.item())
    return obj


def remove_stale_temporaries(out_dir):
    """Delete ``.checkpoint-*.npz`` left by a crash during an atomic write.

    :func:`train` no longer calls this: a file of that name may be the user's, and a run
    never deletes a file it did not create (save_checkpoint removes its own temporary on
    any exception; only a killed process leaves one). Call it by hand to tidy a folder."""
    import glob
    for f in glob.glob(os.path.join(glob.escape(str(out_dir)), ".checkpoint-*.npz")):
        try:
            os.unlink(f)
        except OSError:
            pass


#: The files :func:`train` writes into its folder.
OUTPUTS = ("checkpoint.npz", "selected.npz", "summary.json", "curves.png", "traces.png")


def _check_outputs(out_dir, resume, overwrite):
    """Before any work: every output path that exists must be a regular file (writing to a
    FIFO blocks forever), and a fresh run refuses a folder that holds a checkpoint it did
    not write unless ``overwrite`` (then that checkpoint is removed, so what the folder
    holds afterwards is this run's alone)."""
    import stat
    for name in OUTPUTS:
        path = os.path.join(out_dir, name)
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            continue
        except OSError as e:
            raise CheckpointError(f"{path} cannot be checked ({e}); choose another --out") from None
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "not a regular file"
            raise CheckpointError(f"{path} is {kind}, where this run writes its {name}; remove it or choose "
                                  "another --out")
    if resume:
        return
    for name in ("checkpoint.npz", "selected.npz"):   # the checkpoints: the last epoch's and the chosen one
        ckpt = os.path.join(out_dir, name)
        if not os.path.exists(ckpt):
            continue
        if overwrite:
            os.unlink(ckpt)
            continue
        raise CheckpointError(f"{out_dir} already holds a checkpoint from another run ({ckpt}); a fresh run does "
                              "not replace it. Continue that run with --resume, write this one to another --out, "
                              "or replace it with --overwrite")


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
    # Per-neuron dynamics trained alongside W, b and R, comma-separated (e.g. "theta,alpha,gamma");
    # each is projected into its valid range after every step (refsnn.training.constraints).
    train_dynamics: str = ""
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


def train(cfg: RunConfig, out_dir, resume=False, progress=True, log=print, task=None, overwrite=False,
          on_batch=None):
    """Train, writing ``checkpoint.npz``, figures and ``summary.json`` to ``out_dir``.

    Returns the summary dict. Ctrl-C saves a checkpoint and re-raises KeyboardInterrupt.
    A non-finite or exploding loss, gradient or parameter (a loss above
    :data:`DIVERGENCE_FACTOR` times the run's first loss) raises :class:`TrainingDiverged`
    at once; the last good checkpoint (the end of the last finished epoch), if there is
    one, is kept, and ``summary.json`` records where it diverged.

    A fresh run (``resume=False``) refuses (:class:`CheckpointError`) a folder that already
    holds a ``checkpoint.npz``, unless ``overwrite=True``; an output path that is not a
    regular file is always refused. Nothing in the folder but :data:`OUTPUTS` is written
    or deleted.

    ``on_batch``, if given, is called after every optimiser step as
    ``on_batch(epoch, batch, n_batches, params, grads)`` (0-based epoch and batch; ``grads``
    the trained parameters' gradients before clipping, keyed ``"L0.W"`` …), so a diagnosis
    can watch a run (``benchmarks/diag_yinyang.py``); an exception it raises ends the run.
    """
    if not isinstance(cfg, RunConfig):
        raise TypeError(f"cfg must be a refsnn.train.RunConfig, got {type(cfg).__name__}")
    if task is not None and not isinstance(task, TaskSpec):
        raise TypeError(f"task must be a TaskSpec (from make_task) or None, got {type(task).__name__}")
    if not callable(log):
        raise TypeError(f"log must be a callable like print, got {type(log).__name__}")
    if on_batch is not None and not callable(on_batch):
        raise TypeError(f"on_batch must be None or a callable (epoch, batch, n_batches, params, grads), "
                        f"got {type(on_batch).__name__}")
    if not isinstance(resume, (bool, np.bool_)) or not isinstance(overwrite, (bool, np.bool_)):
        raise TypeError(f"resume and overwrite must be True or False, got {resume!r} and {overwrite!r}")
    if resume and overwrite:
        raise ValueError("resume and overwrite exclude each other: resume continues the checkpoint, "
                         "overwrite replaces it")
    os.makedirs(out_dir, exist_ok=True)
    _check_outputs(out_dir, resume, overwrite)
    task = task or make_task(cfg.task, cfg.seed, cfg.hidden, cfg.small)
    ckpt_path = os.path.join(out_dir, "checkpoint.npz")
    dtype = TRAIN_DTYPE
    opt = optim.Adam(lr=cfg.lr)
    trainable = _trainable_predicate(cfg.train_dynamics)
    n_batches = int(np.ceil(len(task.x_train) / cfg.batch_size))
    partial, first_loss = None, None
    if resume:
        if not os.path.exists(ckpt_path):
            raise CheckpointError(f"--resume: no checkpoint at {ckpt_path}")
        params, opt_state, meta = load_checkpoint(ckpt_path, task.net)
        # Checkpoints written before train_dynamics existed trained none.
        if {"train_dynamics": "", **meta["run"]} != {**asdict(cfg), "epochs": meta["run"]["epochs"]}:
            raise CheckpointError(f"checkpoint {ckpt_path} was written by another run configuration: "
                                  f"{meta['run']} vs {asdict(cfg)}")
        epoch, batch_index, history = meta["epoch"], meta["batch"], meta["history"]
        if batch_index >= n_batches:
            raise CheckpointError(f"checkpoint {ckpt_path}: batch {batch_index} is past the epoch's "
                                  f"{n_batches} batches")
        partial = meta.get("partial") if batch_index > 0 else None
        first_loss = meta.get("first_loss")
        kept = f"epoch {epoch}, batch {batch_index}"
        log(f"resuming {cfg.task} from epoch {epoch}, batch {batch_index}")
    else:
        params = network_init(task.net, np.random.default_rng([cfg.seed, 2**20]), dtype, task.init)
        opt_state = optim.init_state(opt, _trainable(params, trainable))
        epoch, batch_index = 0, 0
        kept = None
        history = {"epoch": [], "train_loss": [], "train_score": [], "test_loss": [], "test_score": []}
        if get_kind(task.kind).baseline:
            history[get_kind(task.kind).baseline] = evaluate(task, params, task.x_test, task.y_test)[1]
    run_loss, run_score, seen = 0.0, 0.0, 0

    def meta_now():
        m = dict(architecture=architecture(task.net), run=asdict(cfg), epoch=epoch, batch=batch_index,
                 history=history, format=CHECKPOINT_FORMAT)
        if batch_index > 0:          # the interrupted epoch's running sums, so its history is whole
            m["partial"] = dict(loss=run_loss, score=run_score, seen=seen)
        if first_loss is not None:
            m["first_loss"] = first_loss
        return m

    def kept_note():   # said only when a checkpoint exists
        if kept is None:
            return "no checkpoint was written (it diverged within its first epoch)"
        return f"the last good checkpoint ({ckpt_path}, {kept}) is kept"

    feedback = rules.feedback_matrix(cfg, task, params)
    # only the trained parameters' gradients are computed (frozen α, θ, γ skip their sums)
    wrt = [{k for k in p if trainable(f"L{l}.{k}")} for l, p in enumerate(params)]
    bar, lines = None, None
    if progress:
        # A bar on a terminal; elsewhere (a log file, a pipe) one line per epoch, since a
        # redrawn bar would write thousands of frames into the file.
        stream = sys.stderr
        if _is_terminal(stream):
            from tqdm.auto import tqdm
            bar = tqdm(total=cfg.epochs * n_batches, initial=epoch * n_batches + batch_index,
                       desc=cfg.task, unit="batch", dynamic_ncols=True, file=stream)
        else:
            lines = stream
    start = epoch_start = time.perf_counter()
    try:
        while epoch < cfg.epochs:
            rng = np.random.default_rng([cfg.seed, epoch])
            if partial is not None:
                run_loss, run_score, seen = float(partial["loss"]), float(partial["score"]), int(partial["seen"])
                partial = None
            else:
                run_loss, run_score, seen = 0.0, 0.0, 0
            for b, (xb, yb) in enumerate(data.batches(task.x_train, task.y_train, cfg.batch_size, rng)):
                if b < batch_index:
                    continue
                try:
                    with np.errstate(over="ignore", invalid="ignore"):
                        value, g_params, trajs, y_max = rules.rule_gradients(
                            cfg.rule, task, params, xb.astype(dtype), yb, lambda tr: _loss(task, tr, yb),
                            cfg.window, feedback, wrt=wrt)
                except FloatingPointError as e:
                    raise TrainingDiverged(f"training diverged at epoch {epoch + 1}, batch {b + 1}: {e}; "
                                           f"{kept_note()}") from e
                if first_loss is None and np.isfinite(value):
                    first_loss = float(value)
                if not np.isfinite(value) or value > DIVERGENCE_FACTOR * max(1.0, first_loss or 1.0):
                    raise TrainingDiverged(
                        f"the training loss diverged at epoch {epoch + 1}, batch {b + 1}: loss {value!r} "
                        f"(first loss {first_loss!r}); {kept_note()}. Try a smaller --lr or --clip")
                grads = _trainable(g_params, trainable)
                if not all(np.all(np.isfinite(a)) for a in grads.values()):
                    raise TrainingDiverged(
                        f"the gradient became non-finite at epoch {epoch + 1}, batch {b + 1} (loss {value!r}); "
                        f"{kept_note()}. Try a smaller --lr or --clip")
                raw_grads = grads
                grads, _ = optim.clip_by_global_norm(grads, cfg.clip)
                lr = learning_rate(cfg, epoch * n_batches + b, cfg.epochs * n_batches)
                with np.errstate(over="ignore", invalid="ignore"):
                    new, opt_state_new = optim.step(optim.Adam(lr=lr), _trainable(params, trainable), grads,
                                                    opt_state)
                if not all(all_finite(a) for a in new.values()):   # lr beyond float32 (>= 3.4e38) lands here
                    raise TrainingDiverged(
                        f"the parameters became non-finite in the step at epoch {epoch + 1}, batch {b + 1} "
                        f"(learning rate {lr:g}, float32 parameters); {kept_note()}. Try a smaller --lr")
                opt_state = opt_state_new
                params = [constraints.project(p) for p in _merge(params, new)]
                run_loss += value * len(yb)
                run_score += _score(task, trajs, yb) if trajs is not None else rules.online_score(task, y_max, yb)
                seen += len(yb)
                batch_index = b + 1
                if on_batch is not None:
                    on_batch(epoch, b, n_batches, params, raw_grads)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{value:.4f}", **({"acc": f"{run_score / seen:.3f}"}
                                                          if get_kind(task.kind).train_score else {}))
            try:
                test_loss, test_score = evaluate(task, params, task.x_test, task.y_test)
                if task.x_val is not None:
                    val_loss, val_score = evaluate(task, params, task.x_val, task.y_val)
                    history.setdefault("val_loss", []).append(val_loss)
                    history.setdefault("val_score", []).append(val_score)
            except FloatingPointError as e:
                raise TrainingDiverged(f"evaluation after epoch {epoch + 1} overflowed: {e}; {kept_note()}. "
                                       "Try a smaller --lr or --clip") from e
            history["epoch"].append(epoch + 1)
            history["train_loss"].append(run_loss / max(seen, 1))
            history["train_score"].append(run_score / max(seen, 1) if get_kind(task.kind).train_score else None)
            history["test_loss"].append(test_loss)
            history["test_score"].append(test_score)
            epoch, batch_index = epoch + 1, 0
            save_checkpoint(ckpt_path, params, opt_state, meta_now())
            kept = f"epoch {epoch}"
            if task.x_val is not None and _selected_epoch(task, history) == epoch - 1:
                save_checkpoint(os.path.join(out_dir, "selected.npz"), params, opt_state, meta_now())
            if lines is not None:
                now = time.perf_counter()
                print(_epoch_line(task, cfg, history, now - epoch_start), file=lines, flush=True)
                epoch_start = now
    except KeyboardInterrupt:
        save_checkpoint(ckpt_path, params, opt_state, meta_now())
        if bar is not None:
            bar.close()
        log(f"\ninterrupted: checkpoint saved to {ckpt_path} (epoch {epoch}, batch {batch_index}); "
            "continue with --resume")
        raise
    except TrainingDiverged as exc:
        if bar is not None:
            bar.close()
        summary = _summary(task, cfg, params, history, time.perf_counter() - start)
        summary["diverged"] = str(exc)
        with open(os.path.join(out_dir, "summary.json"), "w") as f:
            json.dump(_json_safe(summary), f, indent=1, allow_nan=False)
        raise
    if bar is not None:
        bar.close()
    elapsed = time.perf_counter() - start
    summary = _summary(task, cfg, params, history, elapsed)
    with open(os.path.join(out_dir, "summary.json"), "w") as f:
        json.dump(_json_safe(summary), f, indent=1, allow_nan=False)
    _figures(task, params, history, out_dir)
    return summary


def _is_terminal(stream):
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):     # no isatty, or a closed stream
        return False


def _epoch_line(task, cfg, history, seconds):
    """One line of progress for a log: the epoch's losses and scores."""
    kind = get_kind(task.kind)
    e = len(history["epoch"]) - 1
    parts = [f"{cfg.task} epoch {history['epoch'][e]}/{cfg.epochs}: train loss {history['train_loss'][e]:.4f}"]
    if kind.train_score:
        parts.append(f"train {kind.label} {history['train_score'][e]:.4f}")
    if history.get("val_score"):
        parts.append(f"validation {kind.label} {history['val_score'][e]:.4f}")
    parts.append(f"test {kind.label} {history['test_score'][e]:.4f}")
    return ", ".join(parts) + f" ({seconds:.1f} s)"


def _selected_epoch(task, history):
    """The index of the epoch the validation split chooses, or None without one: the
    lowest validation loss, ties going to the later epoch. The loss, not the accuracy:
    on 1000 samples the accuracy moves in steps of 0.1% with a sampling sd of about
    0.4%, so between the last epochs its maximum is mostly noise (on Yin-Yang it once
    chose a mid-run epoch 1% worse on test, see the README)."""
    losses_ = history.get("val_loss")
    if not losses_:
        return None
    return max(range(len(losses_)), key=lambda e: (-losses_[e], e))


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
    sel = _selected_epoch(task, history)
    if sel is not None:     # the scores at the epoch the validation split chose (selected.npz)
        upto = {k: v[:sel + 1] if isinstance(v, list) else v for k, v in history.items()}
        s["selected"] = dict(epoch=sel + 1, val_loss=history["val_loss"][sel], val_score=history["val_score"][sel],
                             n_val=int(len(task.x_val)),
                             **get_kind(task.kind).summary(upto))
    trained = constraints.parse_trainable(cfg.train_dynamics)
    if trained:   # where the trained dynamics ended up (each in its valid range)
        s["dynamics"] = {f"L{l}.{k}": dict(mean=float(np.mean(p[k])), min=float(np.min(p[k])),
                                           max=float(np.max(p[k])))
                         for l, p in enumerate(params) for k in trained if k in p}
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
    v = trajs[-1].v[:, 0]                                   # (T, K): the readout of the first test sample
    title = "readout membrane traces"
    if kind.plot_targets:
        ax[2].plot(v)
        ax[2].set_prop_cycle(None)
        ax[2].plot(task.y_test[0], "--")
        title += " (solid) and targets (dashed)"
    else:                                                   # classification: the largest maximum over time wins
        y_true, y_pred = int(task.y_test[0]), int(np.argmax(v.max(axis=0)))
        for k in range(v.shape[1]):
            ax[2].plot(v[:, k], lw=2.4 if k == y_true else 0.9, label=f"class {k}" + (" (true)" if k == y_true else ""))
        t_max = int(np.argmax(v[:, y_pred]))
        ax[2].plot([t_max], [v[t_max, y_pred]], "kv", ms=8, label=f"predicted: class {y_pred}\n(largest max over time)")
        ax[2].legend(fontsize=7, ncol=2, loc="center left", bbox_to_anchor=(1.01, 0.5))
        title = f"readout membranes: true class {y_true}, predicted {y_pred}"
    ax[2].set(xlabel="time step", ylabel="v", title=title)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "traces.png"), dpi=110, bbox_inches="tight")
    plt.close(fig)
