"""Issue 18's faults, one test each: no hang, no overwrite, no traceback on untrusted input.

Files the CLI opens (refsnn compare's .npz, a checkpoint, the outputs of refsnn train)
must be regular files; an .npz is read through refsnn._npz.read_npz, which checks every
member's header and declared shape, and their total against a cap, before decompressing
anything; a fresh training run never replaces a checkpoint it did not write.
"""

import io
import json
import os
import signal
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from refsnn import cli
from refsnn import train as T
from refsnn._npz import HEADER_LIMIT, NpzError, read_npz
from refsnn.learning import eprop
from refsnn.neurons import dendrite as D
from refsnn.neurons.lif import LIFConfig
from refsnn.oracle import compare as C

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "refsnn" / "oracle" / "fixtures" / "snntorch_ok.npz"


@contextmanager
def no_hang(seconds=30):
    """Fail instead of hanging forever (a FIFO opened for reading blocks until a writer comes)."""
    def alarm(*_):
        raise TimeoutError(f"hung for {seconds} s")
    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _compare(capsys, *argv):
    code = cli.main(["compare", *map(str, argv)])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, out.err


def _fake_member(shape, descr="<f8", data=b"\0" * 24, header_pad=0):
    """An .npy member whose header declares ``shape`` but which holds only ``data``."""
    head = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode() + b" " * header_pad
    head += b" " * (-(len(head) + 13) % 64) + b"\n"
    return b"\x93NUMPY\x02\x00" + len(head).to_bytes(4, "little") + head + data


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


# ------------------------------------------------------------------ 1. a FIFO never hangs

def test_compare_refuses_a_fifo_without_opening_it(tmp_path, capsys):
    fifo = tmp_path / "p.npz"
    os.mkfifo(fifo)
    with no_hang():
        code, err = _compare(capsys, fifo)
    assert code == 2 and "is a FIFO (named pipe), not a regular .npz file" in err


def test_train_refuses_a_fifo_checkpoint_or_output(tmp_path, capsys):
    base = ["train", "--task", "randman", "--small", "--hidden", "4", "--epochs", "1", "--no-progress"]
    out = tmp_path / "resume"
    out.mkdir()
    os.mkfifo(out / "checkpoint.npz")
    with no_hang():
        assert cli.main(base + ["--out", str(out), "--resume"]) == 2
    assert "is a FIFO" in capsys.readouterr().err
    out = tmp_path / "fresh"
    out.mkdir()
    os.mkfifo(out / "summary.json")
    with no_hang():
        assert cli.main(base + ["--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "summary.json is a FIFO" in err and "Traceback" not in err


# ------------------------------------------------------------------ 2. no overwrite, no deletion

def _train(out, *extra, epochs=1):
    return cli.main(["train", "--task", "randman", "--small", "--epochs", str(epochs), "--hidden", "6",
                     "--batch-size", "200", "--out", str(out), "--no-progress", *extra])


def test_a_fresh_run_never_replaces_a_checkpoint_it_did_not_write(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    ckpt = out / "checkpoint.npz"
    ckpt.write_bytes(b"another run's checkpoint")
    (out / ".checkpoint-notes.npz").write_bytes(b"the user's file")
    assert _train(out) == 2
    err = capsys.readouterr().err
    assert "already holds a checkpoint" in err
    assert "--resume" in err and "--out" in err and "--overwrite" in err
    assert ckpt.read_bytes() == b"another run's checkpoint"
    assert _train(out, "--resume", "--overwrite") == 2
    assert "exclude each other" in capsys.readouterr().err
    assert _train(out, "--overwrite") == 0                     # explicit: replaced
    capsys.readouterr()
    assert ckpt.read_bytes() != b"another run's checkpoint"
    T.load_checkpoint(str(ckpt), T.make_task("randman", 0, 6, True).net)
    assert (out / ".checkpoint-notes.npz").read_bytes() == b"the user's file"
    with pytest.raises(T.CheckpointError, match="already holds a checkpoint"):   # the API refuses too
        T.train(T.RunConfig("randman", 1, 1e-3, 200, 1.0, 0, 6, small=True), out, progress=False)


def test_a_fresh_run_never_replaces_a_chosen_epochs_checkpoint_it_did_not_write(tmp_path, capsys):
    """selected.npz (the checkpoint of the epoch the validation split chose) is guarded like checkpoint.npz."""
    out = tmp_path / "run"
    out.mkdir()
    sel = out / "selected.npz"
    sel.write_bytes(b"another run's chosen epoch")
    assert _train(out) == 2
    assert "already holds a checkpoint" in capsys.readouterr().err
    assert sel.read_bytes() == b"another run's chosen epoch"


# ------------------------------------------------------------------ 3. lr at float32's maximum: exit 3

def test_lr_beyond_float32_is_a_divergence_with_a_summary(tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(out, "--lr", "1e39") == 3
    err = capsys.readouterr().err
    assert "stopped:" in err and "non-finite" in err and "Traceback" not in err
    assert "no checkpoint was written" in err and "last good checkpoint" not in err
    summary = json.loads((out / "summary.json").read_text())
    assert "diverged" in summary and not (out / "checkpoint.npz").exists()


def test_the_kept_checkpoint_is_named_only_when_there_is_one(tmp_path, monkeypatch, capsys):
    real = T._loss
    calls = {"n": 0}

    def diverging(task, trajs, y, at=None):
        calls["n"] += 1
        value, ds, dv = real(task, trajs, y, at)
        return (np.inf if calls["n"] >= 5 else value), ds, dv   # batch 5 of 16 (1600 samples, batch 100)

    monkeypatch.setattr(T, "_loss", diverging)
    assert _train(tmp_path / "a", "--batch-size", "100", epochs=2) == 3
    err = capsys.readouterr().err
    assert "epoch 1" in err and "no checkpoint was written" in err
    calls["n"] = -20                                           # the 25th call: epoch 2, after epoch 1's checkpoint
    assert _train(tmp_path / "b", "--batch-size", "100", epochs=3) == 3
    err = capsys.readouterr().err
    assert "at epoch 2" in err and "the last good checkpoint" in err and "checkpoint.npz, epoch 1) is kept" in err


# ------------------------------------------------------------------ 4, 5. declared shapes and the size cap

def test_a_member_declaring_a_huge_shape_is_refused_before_reading(tmp_path, capsys):
    path = _zip(tmp_path / "big.npz", {"x.npy": _fake_member((10**12,))})
    code, err = _compare(capsys, path)
    assert code == 2 and "entry 'x' declares shape (1000000000000,)" in err and "nothing was decompressed" in err
    # a checkpoint too: refused as unusable, not a MemoryError
    with pytest.raises(T.CheckpointError, match="declares shape"):
        T.load_checkpoint(str(path), T.make_task("randman", 0, 6, True).net)


def test_the_total_size_is_capped_before_decompression(tmp_path, capsys):
    path = tmp_path / "zeros.npz"
    np.savez_compressed(path, a=np.zeros(300_000), b=np.zeros(300_000))   # 4.8 MB of arrays in ~10 kB
    assert path.stat().st_size < 50_000
    with pytest.raises(C.BadInput, match=r"entry 'b' declares .*4\.578 MiB with the entries before it\), above the "
                                         r"limit of 4 MiB"):
        C.load(str(path), max_bytes=4 * 2**20)
    assert set(C.load(str(path), max_bytes=5 * 2**20)) == {"a", "b"}
    code, err = _compare(capsys, path, "--max-mib", "1")
    assert code == 2 and "above the limit of 1 MiB" in err
    # a 480 MB member in a file of a few hundred bytes: the default cap (256 MiB) refuses it
    bomb = _zip(tmp_path / "bomb.npz", {"x.npy": _fake_member((60_000_000,))})
    code, err = _compare(capsys, bomb)
    assert code == 2 and "457.8 MiB" in err and "256 MiB" in err


def test_declared_shape_must_match_the_member(tmp_path):
    path = _zip(tmp_path / "short.npz", {"x.npy": _fake_member((5,))})     # 24 bytes for 5 float64
    with pytest.raises(NpzError, match=r"declares shape \(5,\) of float64 \(40 bytes of data\) but its member "
                                       r"holds 24; the file is damaged"):
        read_npz(path, 2**20)


def test_an_oversized_header_is_named_as_such_not_as_pickle(tmp_path, capsys):
    path = _zip(tmp_path / "hdr.npz", {"x.npy": _fake_member((3,), header_pad=HEADER_LIMIT + 100)})
    code, err = _compare(capsys, path)
    assert code == 2 and "header of" in err and "above NumPy's safe limit of 10000" in err
    assert "pickle" not in err


def test_object_members_and_non_npy_members_are_refused(tmp_path):
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(NpzError, match="holds pickled Python objects; refsnn never unpickles"):
        read_npz(_zip(tmp_path / "obj.npz", {"k.npy": buf.getvalue()}), 2**20)
    with pytest.raises(NpzError, match="is not an .npy array"):
        read_npz(_zip(tmp_path / "txt.npz", {"notes.txt": b"hello"}), 2**20)


def test_the_fixture_reads_the_same_as_numpy(tmp_path):
    ours = read_npz(FIXTURE, 2**30)
    with np.load(FIXTURE, allow_pickle=False) as z:
        assert sorted(ours) == sorted(z.files)
        for k in z.files:
            assert ours[k].dtype == z[k].dtype
            np.testing.assert_array_equal(ours[k], z[k])


# ------------------------------------------------------------------ 6. --window 10**30

def test_window_beyond_int64_is_a_clean_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["train", "--task", "randman", "--small", "--rule", "tbptt", "--window", str(10**30),
                  "--out", str(tmp_path), "--no-progress"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "argument --window: expected a positive integer <= 9223372036854775807" in err


# ------------------------------------------------------------------ 7. compare blames the right entry

def _fixture():
    with np.load(FIXTURE, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _compare_dict(tmp_path, capsys, d):
    path = tmp_path / "f.npz"
    np.savez(path, **d)
    return _compare(capsys, path)


def test_compare_blames_the_parameter_whose_gradient_disagrees(tmp_path, capsys):
    d = _fixture()
    d["param/0.weight"] = d["param/0.weight"][:, :4]           # (8, 4); x has 5 features, grad is (8, 5)
    code, err = _compare_dict(tmp_path, capsys, d)
    assert code == 2
    assert "entry 'param/0.weight' has shape (8, 4) but 'grad/0.weight' has shape (8, 5)" in err
    del d["grad/0.weight"]                                    # without the gradient: both are named
    code, err = _compare_dict(tmp_path, capsys, d)
    assert code == 2 and "entry 'x' has 5 input features but layer 0 takes 4" in err and "'param/0.weight' (8, 4)" in err


@pytest.mark.parametrize("kwargs,message", [
    ({"threshold": "one"}, "argument 'threshold' of preset 'snntorch.Leaky' must be a number"),
    ({"reset_delay": 1}, "argument 'reset_delay' of preset 'snntorch.Leaky' must be true or false"),
    ({"spike_grad": 3}, "argument 'spike_grad' of preset 'snntorch.Leaky' must be a string"),
    ({"beta": [[0.9]]}, "argument 'beta' of preset 'snntorch.Leaky' must be a number, a flat list"),
    ({"alpha": float("inf")}, "argument 'alpha' of preset 'snntorch.Leaky' must be a number"),
])
def test_compare_checks_kwargs_types_against_the_presets_defaults(tmp_path, capsys, kwargs, message):
    d = _fixture()
    d["kwargs"] = np.str_(json.dumps(kwargs))
    code, err = _compare_dict(tmp_path, capsys, d)
    assert code == 2 and message in err, err


def test_compare_refuses_deeply_nested_kwargs_and_a_gradient_without_its_parameter(tmp_path, capsys):
    d = _fixture()
    d["kwargs"] = np.str_('{"a":' * 100_000 + "1" + "}" * 100_000)
    code, err = _compare_dict(tmp_path, capsys, d)
    assert code == 2 and "entry 'kwargs' is nested too deeply" in err
    d = _fixture()
    del d["param/0.bias"]
    code, err = _compare_dict(tmp_path, capsys, d)
    assert code == 2 and "entry 'grad/0.bias' has no parameter 'param/0.bias'" in err


# ------------------------------------------------------------------ 8. e-prop's step losses check their labels

def test_step_cross_entropy_checks_labels():
    y = np.zeros((2, 2))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\).*got 7"):
        eprop.step_cross_entropy(np.array([7, 1]))(0, y)
    with pytest.raises(ValueError, match="labels must be class indices >= 0, got -1"):
        eprop.step_cross_entropy(np.array([-1, 1]))
    with pytest.raises(ValueError, match=r"labels has shape \(1,\), expected \(2,\)"):
        eprop.step_cross_entropy(np.array([1]))(0, y)
    with pytest.raises(TypeError, match="labels must be a 1-d integer array"):
        eprop.step_cross_entropy(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="target has 3 time steps, but the input has more"):
        eprop.step_mse(np.zeros((3, 2, 2)))(3, y)


def test_eprop_with_an_input_longer_than_its_target_names_the_target():
    net = eprop.Network((LIFConfig(3, 4), LIFConfig(4, 2, spiking=False, reset="none")))
    from refsnn.neurons.network import network_init
    params = network_init(net, np.random.default_rng(0))
    x = np.random.default_rng(1).uniform(0, 1, (6, 2, 3))
    with pytest.raises(ValueError, match="target has 4 time steps"):
        eprop.eprop_gradients(net, params, x, eprop.step_mse(np.zeros((4, 2, 2))))
    with pytest.raises(FloatingPointError, match="overflowed"):             # 9. a feedback matrix of 1e308
        eprop.eprop_gradients(net, params, x, eprop.step_mse(np.ones((6, 2, 2))), feedback=np.full((4, 2), 1e308))


# ------------------------------------------------------------------ 9. no silent inf/NaN

def test_dendrite_forward_with_huge_branch_weights_raises():
    cfg = D.DendriteConfig(3, 4, 2, LIFConfig(3, 4))
    p = D.init_dendrite_params(cfg, np.random.default_rng(0))
    p["W_d"] = np.full_like(p["W_d"], 1e308)
    with pytest.raises(FloatingPointError, match="dendrite_forward: the branch potential a overflowed"):
        D.dendrite_forward(cfg, p, np.ones((5, 2, 3)))


def test_alignment_of_zero_vectors_is_an_error_not_nan():
    z = [{"W": np.zeros(3)}]
    with pytest.raises(ValueError, match="reference is zero"):
        eprop.alignment([{"W": np.ones(3)}], z)
    with pytest.raises(ValueError, match="grads is zero"):
        eprop.alignment(z, [{"W": np.ones(3)}])
    big = eprop.alignment([{"W": np.array([1e300, 0.0])}], [{"W": np.array([1e300, 1e300])}])
    assert big["cosine"] == pytest.approx(2 ** -0.5) and big["rel_diff"] == pytest.approx(2 ** -0.5)


def test_network_init_per_layer_checked_and_empty_means_defaults():
    from refsnn.neurons.network import Network, network_init
    net = Network((LIFConfig(3, 4), LIFConfig(4, 2)))
    a, b = network_init(net, 0, per_layer=[]), network_init(net, 0)
    assert all(np.array_equal(a[l][k], b[l][k]) for l in range(2) for k in a[l])
    with pytest.raises(TypeError, match="per_layer must be a list of one dict"):
        network_init(net, 0, per_layer=np.ones(2))
