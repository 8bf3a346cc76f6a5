"""Unusable checkpoints, divergence and the train command's up-front checks (exit 2 / 3)."""

import json
import os
import shutil
import sys
import zipfile

import numpy as np
import pytest

from refsnn import cli
from refsnn import train as T
from refsnn.learning import rules as R   # the BPTT rule calls network_backward


def _train(out, *extra, epochs=1):
    return cli.main(["train", "--task", "randman", "--small", "--epochs", str(epochs), "--hidden", "6",
                     "--batch-size", "200", "--out", str(out), "--no-progress", *extra])


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    out = tmp_path_factory.mktemp("good")
    assert _train(out) == 0
    return out


def _arrays(path):
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _rewrite(path, arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _meta_edit(fn):
    def edit(path):
        a = _arrays(path)
        meta = json.loads(str(a["meta"]))
        a["meta"] = np.array(json.dumps(fn(meta)))
        _rewrite(path, a)
    return edit


def _array_edit(key, fn):
    def edit(path):
        a = _arrays(path)
        a[key] = fn(a[key])
        _rewrite(path, a)
    return edit


def _truncate(path):
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 2])


def _flip_crc(path):
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("param/L0.W.npy")
    data = bytearray(open(path, "rb").read())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + info.compress_size - 3] ^= 0xFF        # a byte of the array's data
    open(path, "wb").write(bytes(data))


def _npy(path):
    with open(path, "wb") as f:
        np.save(f, np.zeros(3))


def _no_t(path):
    a = _arrays(path)
    del a["opt/t"]
    _rewrite(path, a)


CORRUPTIONS = {
    "truncated": _truncate,
    "crc flip": _flip_crc,
    "npy file": _npy,
    "meta not a dict": _meta_edit(lambda m: [1, 2]),
    "meta lacks history": _meta_edit(lambda m: {k: v for k, v in m.items() if k != "history"}),
    "meta batch=-5": _meta_edit(lambda m: dict(m, batch=-5)),
    "meta batch past the epoch": _meta_edit(lambda m: dict(m, batch=10**6)),
    "meta epoch a string": _meta_edit(lambda m: dict(m, epoch="1")),
    "param wrong shape": _array_edit("param/L0.W", lambda w: w.T.copy()),
    "param wrong dtype": _array_edit("param/L0.W", lambda w: w.astype(np.float64)),
    "param NaN": _array_edit("param/L1.b", lambda b: np.full_like(b, np.nan)),
    "Adam step missing": _no_t,
    "Adam moment negative": _array_edit("opt/v/L0.W", lambda v: -np.ones_like(v)),
    "Adam moment wrong shape": _array_edit("opt/m/L0.W", lambda m: m[:1]),
}


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_resume_from_a_corrupt_checkpoint_exits_2_and_keeps_it(kind, good, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(good, out)
    ckpt = out / "checkpoint.npz"
    CORRUPTIONS[kind](ckpt)
    before = ckpt.read_bytes()
    if kind != "meta batch past the epoch":        # that one needs the data: train() refuses it
        with pytest.raises(T.CheckpointError):
            T.load_checkpoint(str(ckpt), T.make_task("randman", 0, 6, True).net)
    assert _train(out, "--resume", epochs=2) == 2
    err = capsys.readouterr().err
    assert "refsnn train: error: checkpoint" in err and "Traceback" not in err
    assert ckpt.read_bytes() == before                       # the old checkpoint is intact


def test_save_checkpoint_refuses_what_load_refuses(good, tmp_path):
    task = T.make_task("randman", 0, 6, True)
    params, opt_state, meta = T.load_checkpoint(str(good / "checkpoint.npz"), task.net)
    path = tmp_path / "c.npz"
    T.save_checkpoint(str(path), params, opt_state, meta)
    before = path.read_bytes()
    bad_params = [dict(p) for p in params]
    bad_params[0]["W"] = np.full_like(bad_params[0]["W"], np.nan)
    for args in [(bad_params, opt_state, meta), (params, {}, meta), (params, opt_state, dict(meta, batch=-5)),
                 (params, opt_state, [meta])]:
        with pytest.raises(T.CheckpointError):
            T.save_checkpoint(str(path), *args)
    assert path.read_bytes() == before
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".checkpoint-")]


def test_files_the_run_did_not_create_are_never_deleted(good, tmp_path):
    """Files named like a checkpoint's temporary may be the user's: neither a resumed nor a
    fresh run deletes them (save_checkpoint removes its own temporary on any exception)."""
    out = tmp_path / "run"
    shutil.copytree(good, out)
    (out / ".checkpoint-mine1.npz").write_bytes(b"user data 1")
    assert _train(out, "--resume", epochs=2) == 0
    (out / ".checkpoint-mine2.npz").write_bytes(b"user data 2")
    assert _train(out, "--overwrite") == 0
    assert (out / ".checkpoint-mine1.npz").read_bytes() == b"user data 1"
    assert (out / ".checkpoint-mine2.npz").read_bytes() == b"user data 2"


def _tiny_task():
    import dataclasses
    task = T.make_task("randman", seed=0, hidden=8, small=True)
    return dataclasses.replace(task, x_train=task.x_train[:80], y_train=task.y_train[:80],
                               x_test=task.x_test[:20], y_test=task.y_test[:20])


def _cfg(epochs=2):
    return T.RunConfig(task="randman", epochs=epochs, lr=3e-3, batch_size=16, clip=5.0, seed=1, hidden=8, small=True)


def test_history_of_an_interrupted_epoch_is_whole_after_resume(tmp_path, monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    full = T.train(_cfg(), a, progress=False, log=lambda *x: None, task=_tiny_task())
    real = R.network_backward
    calls = {"n": 0}

    def interrupt(*args, **kw):
        calls["n"] += 1
        if calls["n"] == 8:                 # epoch 2, batch 3 of 5
            raise KeyboardInterrupt
        return real(*args, **kw)

    monkeypatch.setattr(R, "network_backward", interrupt)
    with pytest.raises(KeyboardInterrupt):
        T.train(_cfg(), b, progress=False, log=lambda *x: None, task=_tiny_task())
    monkeypatch.setattr(R, "network_backward", real)
    resumed = T.train(_cfg(), b, resume=True, progress=False, log=lambda *x: None, task=_tiny_task())
    assert resumed["history"]["train_loss"] == full["history"]["train_loss"]
    assert resumed["history"]["train_score"] == full["history"]["train_score"]


@pytest.mark.parametrize("bad", [float("inf"), float("nan"), 1e7])
def test_divergence_stops_at_once_with_exit_3_keeping_the_last_good_checkpoint(bad, tmp_path, monkeypatch,
                                                                               capsys):
    real = T._loss
    calls = {"n": 0}

    def diverging(task, trajs, y, at=None):
        calls["n"] += 1
        value, ds, dv = real(task, trajs, y, at)
        return (bad if calls["n"] >= 12 else value), ds, dv   # epoch 2 (8 batches per epoch)

    monkeypatch.setattr(T, "_loss", diverging)
    out = tmp_path / "run"
    assert _train(out, epochs=3) == 3
    err = capsys.readouterr().err
    assert "diverged" in err and "epoch 2" in err and "Traceback" not in err
    assert calls["n"] == 12                                   # stopped at once
    with np.load(out / "checkpoint.npz", allow_pickle=False) as z:
        assert json.loads(str(z["meta"]))["epoch"] == 1       # the last good one
    text = (out / "summary.json").read_text()
    assert "Infinity" not in text and "NaN" not in text and "diverged" in json.loads(text)


def test_out_must_be_a_writable_folder(tmp_path, capsys):
    f = tmp_path / "a_file"
    f.write_text("x")
    for out in (str(f), str(f / "sub"), "", "/proc/refsnn-cannot-write-here"):
        assert cli.main(["train", "--task", "randman", "--small", "--out", out, "--no-progress"]) == 2, out
        err = capsys.readouterr().err
        assert "--out" in err and "Traceback" not in err
    assert cli.main(["tour", "--out", str(f)]) == 2


def test_negative_seed_exits_2():
    for cmd in (["train", "--task", "randman"], ["tour"], ["gradcheck"]):
        with pytest.raises(SystemExit) as e:
            cli.main(cmd + ["--seed", "-1"])
        assert e.value.code == 2


def test_absurd_sizes_are_refused_up_front_with_the_memory_needed(tmp_path, capsys):
    for hidden in ("10000000", str(10**400)):
        assert cli.main(["train", "--task", "randman", "--small", "--hidden", hidden, "--out",
                         str(tmp_path / "h"), "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert "GiB" in err and "--hidden" in err
    assert not (tmp_path / "h" / "checkpoint.npz").exists()


def test_digits_without_scikit_learn_names_the_extra(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    assert cli.main(["train", "--task", "digits", "--out", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "refsnn[digits]" in err and "Traceback" not in err
