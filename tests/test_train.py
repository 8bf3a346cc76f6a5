"""Training: exact resume, Ctrl-C checkpoints, architecture mismatch, CLI arguments."""

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest

from refsnn import train as T
from refsnn.learning import rules as R   # the BPTT rule calls network_backward
from refsnn.network import Network, flat_params


def tiny_task(hidden=12):
    task = T.make_task("randman", seed=0, hidden=hidden, small=True)
    return dataclasses.replace(task, x_train=task.x_train[:80], y_train=task.y_train[:80],
                               x_test=task.x_test[:24], y_test=task.y_test[:24])


def cfg(epochs, schedule="cosine"):
    return T.RunConfig(task="randman", epochs=epochs, lr=3e-3, batch_size=16, clip=5.0, seed=3, hidden=12,
                       small=True, schedule=schedule)


def params_of(out):
    with np.load(os.path.join(out, "checkpoint.npz"), allow_pickle=False) as z:
        return {k: z[k] for k in z.files if k != "meta"}


def quiet(*a, **k):
    pass


def test_extending_a_finished_run_equals_uninterrupted(tmp_path):
    """A 1-epoch run extended to 2 epochs equals a 2-epoch run. Exact only for a constant
    learning rate: a cosine schedule depends on the total number of epochs."""
    a, b = tmp_path / "a", tmp_path / "b"
    T.train(cfg(2, "constant"), a, progress=False, log=quiet, task=tiny_task())
    T.train(cfg(1, "constant"), b, progress=False, log=quiet, task=tiny_task())
    T.train(cfg(2, "constant"), b, resume=True, progress=False, log=quiet, task=tiny_task())
    pa, pb = params_of(a), params_of(b)
    assert pa.keys() == pb.keys()
    for k in pa:
        np.testing.assert_array_equal(pa[k], pb[k], err_msg=k)


def test_ctrl_c_mid_epoch_saves_and_resume_is_exact(tmp_path, monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    T.train(cfg(2), a, progress=False, log=quiet, task=tiny_task())
    real = R.network_backward
    calls = {"n": 0}

    def interrupt_on_8th(*args, **kw):
        calls["n"] += 1
        if calls["n"] == 8:          # epoch 1 (of 0, 1), batch 2 of 5
            raise KeyboardInterrupt
        return real(*args, **kw)

    monkeypatch.setattr(R, "network_backward", interrupt_on_8th)
    with pytest.raises(KeyboardInterrupt):
        T.train(cfg(2), b, progress=False, log=quiet, task=tiny_task())
    monkeypatch.setattr(R, "network_backward", real)
    with np.load(b / "checkpoint.npz", allow_pickle=False) as z:
        import json
        meta = json.loads(str(z["meta"]))
    assert (meta["epoch"], meta["batch"]) == (1, 2)
    T.train(cfg(2), b, resume=True, progress=False, log=quiet, task=tiny_task())
    pa, pb = params_of(a), params_of(b)
    for k in pa:
        np.testing.assert_array_equal(pa[k], pb[k], err_msg=k)
    assert not [f for f in os.listdir(b) if f.startswith(".checkpoint-")]   # atomic writes leave no temp files


def test_checkpoint_from_another_architecture_is_refused(tmp_path):
    T.train(cfg(1), tmp_path, progress=False, log=quiet, task=tiny_task(hidden=12))
    with pytest.raises(T.CheckpointError, match="different architecture"):
        T.train(cfg(2), tmp_path, resume=True, progress=False, log=quiet, task=tiny_task(hidden=13))


def test_training_reduces_the_loss(tmp_path):
    s = T.train(cfg(3), tmp_path, progress=False, log=quiet, task=tiny_task(hidden=24))
    h = s["history"]
    assert h["train_loss"][-1] < h["train_loss"][0]
    for f in ("checkpoint.npz", "curves.png", "traces.png", "summary.json"):
        assert (tmp_path / f).exists(), f


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "refsnn.cli", *args], capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize("args, needle", [
    (["train"], "--task"),
    (["train", "--task", "mnist"], "invalid choice"),
    (["train", "--task", "randman", "--epochs", "0"], "positive integer"),
    (["train", "--task", "randman", "--lr", "-1"], "positive"),
    (["train", "--task", "randman", "--lr", "nan"], "positive"),
    (["train", "--task", "randman", "--batch-size", "x"], "positive integer"),
    (["tour", "--seed", "-3"], "non-negative"),
])
def test_bad_cli_arguments_exit_2_with_a_message(args, needle):
    proc = run_cli(*args)
    assert proc.returncode == 2
    assert needle in proc.stderr


def test_cli_resume_with_another_architecture_exits_2(tmp_path):
    out = str(tmp_path / "run")
    first = run_cli("train", "--task", "randman", "--small", "--epochs", "1", "--hidden", "8", "--out", out,
                    "--no-progress")
    assert first.returncode == 0, first.stderr
    proc = run_cli("train", "--task", "randman", "--small", "--epochs", "2", "--hidden", "9", "--out", out,
                   "--resume", "--no-progress")
    assert proc.returncode == 2
    assert "different architecture" in proc.stderr


def test_progress_in_a_log_is_one_short_line_per_epoch(tmp_path, capsys):
    """stderr that is not a terminal (pytest captures it) gets one line per epoch, not
    the bar's frames (one per batch, joined by carriage returns into one huge line)."""
    T.train(cfg(3), tmp_path, progress=True, log=quiet, task=tiny_task())
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 3, err
    assert "\r" not in err and len(err) < 3 * 200
    assert lines[0].startswith("randman epoch 1/3: train loss ") and "test accuracy" in lines[0]


def test_progress_on_a_terminal_is_a_bar(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(T, "_is_terminal", lambda stream: True)
    T.train(cfg(1), tmp_path, progress=True, log=quiet, task=tiny_task())
    err = capsys.readouterr().err
    assert "\r" in err and "batch" in err and "epoch 1/1" not in err


def test_validation_split_chooses_the_reported_epoch(tmp_path):
    task = tiny_task()
    task = dataclasses.replace(task, x_val=task.x_train[-24:], y_val=task.y_train[-24:])
    s = T.train(cfg(3), tmp_path, progress=False, log=quiet, task=task)
    h, sel = s["history"], s["selected"]
    assert len(h["val_score"]) == len(h["val_loss"]) == 3
    e = sel["epoch"] - 1
    assert sel["val_loss"] == min(h["val_loss"]) and sel["n_val"] == 24
    assert sel["val_score"] == h["val_score"][e]
    assert sel["test_accuracy"] == h["test_score"][e] and sel["train_accuracy"] == h["train_score"][e]
    # selected.npz holds that epoch's parameters: they reproduce its validation score
    params, _, meta = T.load_checkpoint(tmp_path / "selected.npz", task.net)
    assert meta["epoch"] == sel["epoch"]
    assert T.evaluate(task, params, task.x_val, task.y_val)[1] == sel["val_score"]
    assert "selected" not in T.train(cfg(1), tmp_path / "b", progress=False, log=quiet, task=tiny_task())


def test_the_chosen_epochs_parameters_are_kept_when_it_is_not_the_last(tmp_path, monkeypatch):
    """selected.npz holds the chosen epoch's parameters, not the last epoch's: with the rule forced
    to choose epoch 1 of 3, the file is epoch 1's and differs from the final checkpoint, and its
    validation loss is epoch 1's (the tiny task's loss only falls, so the real rule always picks the last)."""
    task = tiny_task()
    task = dataclasses.replace(task, x_val=task.x_train[-24:], y_val=task.y_train[-24:])
    monkeypatch.setattr(T, "_selected_epoch", lambda task, h: 0 if h.get("val_loss") else None)
    s = T.train(cfg(3), tmp_path, progress=False, log=quiet, task=task)
    assert s["selected"]["epoch"] == 1
    sel, _, meta = T.load_checkpoint(tmp_path / "selected.npz", task.net)
    last, _, _ = T.load_checkpoint(tmp_path / "checkpoint.npz", task.net)
    assert meta["epoch"] == 1
    assert any(np.any(a[k] != b[k]) for a, b in zip(sel, last) for k in a)
    assert T.evaluate(task, sel, task.x_val, task.y_val)[0] == pytest.approx(s["history"]["val_loss"][0], rel=1e-6)


def test_epoch_selection_rule():
    """The lowest validation loss, ties going to the later epoch; not the best accuracy."""
    task = T.make_task("randman", seed=0, hidden=4, small=True)
    h = dict(val_score=[0.5, 0.99, 0.9, 0.9, 0.7], val_loss=[1.0, 0.4, 0.3, 0.3, 0.35])
    assert T._selected_epoch(task, h) == 3
    assert T._selected_epoch(task, dict(val_score=[], val_loss=[])) is None


def test_on_batch_sees_every_step_and_can_end_the_run(tmp_path):
    """on_batch is called after each step with the parameters just updated and the
    unclipped gradients; the last call's parameters are the checkpoint's; an exception it
    raises ends the run."""
    calls = []

    def watch(epoch, b, n, params, grads):
        calls.append((epoch, b, n, {f"L{l}.{k}": v.copy() for l, p in enumerate(params) for k, v in p.items()},
                      sorted(grads)))

    T.train(cfg(2), tmp_path / "a", progress=False, log=quiet, task=tiny_task(), on_batch=watch)
    assert [(e, b, n) for e, b, n, _, _ in calls] == [(e, b, 5) for e in range(2) for b in range(5)]
    assert {"L0.W", "L1.W"} <= set(calls[0][4]) <= set(calls[0][3])
    last = calls[-1][3]
    saved = {k[len("param/"):]: v for k, v in params_of(tmp_path / "a").items() if k.startswith("param/")}
    assert saved.keys() == last.keys()
    for k in saved:
        np.testing.assert_array_equal(last[k], saved[k], err_msg=k)

    class Stop(Exception):
        pass

    def stop(epoch, b, n, params, grads):
        if b == 2:
            raise Stop

    with pytest.raises(Stop):
        T.train(cfg(2), tmp_path / "b", progress=False, log=quiet, task=tiny_task(), on_batch=stop)
    with pytest.raises(TypeError, match="on_batch must be None or a callable"):
        T.train(cfg(1), tmp_path / "c", progress=False, log=quiet, task=tiny_task(), on_batch=3)
