"""``refsnn compare``: PASS on the peers' own files, FAIL naming a planted bug, exit 2 on bad input."""

import json
import pickle
import re
from pathlib import Path

import numpy as np
import pytest

from refsnn import cli
from refsnn.oracle import compare as C, peers, presets as P

ROOT = Path(__file__).resolve().parent.parent


def _layers(rng):
    return [{"weight": rng.normal(0, 1.2, (5, 3)), "bias": rng.uniform(0.2, 0.6, 5), "beta": np.asarray(0.9),
             "threshold": np.asarray(1.0)},
            {"weight": rng.normal(0, 1.0, (2, 5)), "bias": rng.uniform(0.3, 0.8, 2), "beta": np.asarray(0.85),
             "threshold": np.asarray(1.0)}]


def _self_consistent(loss="ce_count", preset="snntorch.Leaky", kwargs=None, seed=0):
    """An .npz dict whose 'user' arrays are refsnn's own (no torch needed)."""
    rng = np.random.default_rng(seed)
    layers = _layers(rng)
    kwargs = kwargs or {}
    x = rng.uniform(0, 2, (8, 3, 3))
    net = P.build(preset, layers, **kwargs)
    run = net.forward(x)
    S, V = run.spikes[-1], run.membranes[-1]
    data = {"target": rng.integers(0, 2, 3)} if loss == "ce_count" else {"probe_s": rng.normal(size=S.shape),
                                                                          "probe_v": rng.normal(size=V.shape)}
    value, aS, aV = C.LOSSES[loss][0](S, V, data)
    g = net.backward(run, [None, aS], [None, aV])
    d = {"preset": np.str_(preset), "kwargs": np.str_(json.dumps(kwargs)), "x": x, "loss": np.str_(loss),
         "loss_value": np.float64(value), "spikes": S, "membranes": V, **data}
    for l, lay in enumerate(layers):
        for k, v in lay.items():
            d[f"param/{l}.{k}"] = v
    for k, v in g.items():
        d[f"grad/{k}"] = v
    return d


def _run(tmp_path, d, *extra, capsys):
    path = tmp_path / "run.npz"
    np.savez(path, **d)
    code = cli.main(["compare", str(path), *extra])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_self_consistent_file_passes(tmp_path, capsys):
    code, out, _ = _run(tmp_path, _self_consistent(), capsys=capsys)
    assert code == 0, out
    assert "PASS: all" in out and "grad/0.weight" in out


def test_json_output(tmp_path, capsys):
    code, out, _ = _run(tmp_path, _self_consistent("linear"), "--json", capsys=capsys)
    rep = json.loads(out)
    assert code == 0 and rep["passed"] and rep["preset"] == "snntorch.Leaky"
    assert {a["name"] for a in rep["arrays"]} >= {"loss_value", "spikes", "membranes", "grad/1.beta"}


def test_a_wrong_gradient_fails_and_names_the_array(tmp_path, capsys):
    d = _self_consistent("linear")
    d["grad/1.weight"] = d["grad/1.weight"] * (1 + 1e-6)
    code, out, _ = _run(tmp_path, d, capsys=capsys)
    assert code == 1
    assert re.search(r"grad/1.weight\s+1.00e-06\s+FAIL", out), out
    # no convention switch explains it; the diagnosis names the one array's factor (docs/diagnosis.md)
    assert "the BACKWARD pass differs" in out
    assert "[weight-gradient scale] grad/1.weight alone is × 1.000001 refsnn's" in out


def test_spike_and_membrane_mismatches_are_located(tmp_path, capsys):
    d = _self_consistent("linear")
    s = d["spikes"].copy()
    s[5, 1, 0] = 1 - s[5, 1, 0]
    m = d["membranes"].copy()
    m[3:] += 1e-3
    d["spikes"], d["membranes"] = s, m
    code, out, _ = _run(tmp_path, d, capsys=capsys)
    assert code == 1
    assert "first mismatch at (t=5, batch=1, neuron=0)" in out
    assert "first diverging time step t=3" in out


def test_convention_search_names_the_detached_reset(tmp_path, capsys):
    # "user" arrays computed with detach_reset=True, declared as detach_reset=False
    d = _self_consistent_sj(True)
    d["kwargs"] = np.str_(json.dumps({"detach_reset": False}))
    code, out, _ = _run(tmp_path, d, capsys=capsys)
    assert code == 1
    assert re.search(r"AGREES\s+detach vs attach", out), out
    assert "agree with refsnn when one convention is switched: detach vs attach" in out


def _self_consistent_sj(detach):
    rng = np.random.default_rng(1)
    layers = [{"weight": rng.normal(0, 3, (5, 3)), "bias": rng.uniform(0, 1, 5)},
              {"weight": rng.normal(0, 3, (2, 5)), "bias": rng.uniform(1, 2, 2)}]
    x = rng.uniform(0, 2, (8, 3, 3))
    net = P.build("spikingjelly.LIFNode", layers, detach_reset=detach)
    run = net.forward(x)
    ps, pv = rng.normal(size=run.spikes[-1].shape), rng.normal(size=run.membranes[-1].shape)
    value, aS, aV = C.LOSSES["linear"][0](run.spikes[-1], run.membranes[-1], {"probe_s": ps, "probe_v": pv})
    g = net.backward(run, [None, aS], [None, aV])
    d = {"preset": np.str_("spikingjelly.LIFNode"), "x": x, "loss": np.str_("linear"), "probe_s": ps,
         "probe_v": pv, "loss_value": np.float64(value)}
    for l, lay in enumerate(layers):
        for k, v in lay.items():
            d[f"param/{l}.{k}"] = v
    d.update({f"grad/{k}": v for k, v in g.items()})
    return d


# --- bad input: exit 2 with a message naming what is wrong --------------------------------

BAD = [
    ("missing preset", lambda d: d.pop("preset"), "missing entry 'preset'"),
    ("unknown preset", lambda d: d.update(preset=np.str_("snntorch.Leakyy")), "unknown preset 'snntorch.Leakyy'"),
    ("missing x", lambda d: d.pop("x"), "missing entry 'x'"),
    ("x not 3-d", lambda d: d.update(x=d["x"][0]), r"entry 'x' has shape \(3, 3\); expected a non-empty \(T, B, n_in\)"),
    ("x wrong width", lambda d: d.update(x=d["x"][:, :, :2]), "entry 'x' has 2 input features but layer 0 takes 3"),
    ("no gradients", lambda d: [d.pop(k) for k in list(d) if k.startswith("grad/")], "no 'grad/<layer>.<name>'"),
    ("gradient of an unknown parameter", lambda d: d.update({"grad/0.tau": np.zeros(())}),
     "preset 'snntorch.Leaky' has no parameter '0.tau'"),
    ("gradient of the wrong shape", lambda d: d.update({"grad/0.weight": np.zeros((3, 5))}),
     r"entry 'grad/0.weight' has shape \(3, 5\), expected \(5, 3\)"),
    ("weight of the wrong shape", lambda d: d.update({"param/1.weight": np.zeros((2, 4))}),
     "layer 1 takes 4 inputs but layer 0 has 5"),
    ("missing weight", lambda d: d.pop("param/1.weight"), r"missing \['weight'\]"),
    ("unknown loss", lambda d: d.update(loss=np.str_("nll")), "unknown loss 'nll'"),
    ("labels out of range", lambda d: d.update(target=np.array([0, 1, 7])), r"labels outside \[0, 2\)"),
    ("float labels", lambda d: d.update(target=np.array([0.0, 1.0, 1.0])), "must be integer class labels"),
    ("spikes of the wrong shape", lambda d: d.update(spikes=d["spikes"][:-1]), "entry 'spikes' has shape"),
    ("NaN in a gradient", lambda d: d["grad/0.bias"].__setitem__(0, np.nan), "entry 'grad/0.bias' contains NaN"),
    ("preset given as a number", lambda d: d.update(preset=np.float64(1.0)), "entry 'preset' must be a string"),
    ("bad kwargs JSON", lambda d: d.update(kwargs=np.str_("{beta: 1")), "entry 'kwargs' is not valid JSON"),
    ("unknown preset argument", lambda d: d.update(kwargs=np.str_('{"tau": 2}')), r"takes no argument\(s\) \['tau'\]"),
    ("unexpected entry", lambda d: d.update(weights=np.zeros(3)), r"unexpected entries \['weights'\]"),
    ("a parameter the forward pass refuses", lambda d: d.update({"param/0.threshold": np.asarray(-1.0)}),
     "threshold must be > 0"),
]


@pytest.mark.parametrize("what,mutate,message", BAD, ids=[b[0] for b in BAD])
def test_bad_input_exits_2_naming_the_problem(tmp_path, capsys, what, mutate, message):
    d = _self_consistent()
    mutate(d)
    code, out, err = _run(tmp_path, d, capsys=capsys)
    assert code == 2, out + err
    assert re.search(message, err), err
    assert "Traceback" not in err


def test_pickled_npz_is_refused(tmp_path, capsys):
    d = _self_consistent()
    d["kwargs"] = np.array([{"beta": 0.9}], dtype=object)       # an object array: needs pickle
    path = tmp_path / "pickled.npz"
    np.savez(path, **d)
    assert cli.main(["compare", str(path)]) == 2
    err = capsys.readouterr().err
    assert "entry 'kwargs' holds pickled Python objects; refsnn never unpickles" in err


def test_not_an_npz(tmp_path, capsys):
    path = tmp_path / "x.npz"
    path.write_bytes(pickle.dumps({"a": 1}))
    assert cli.main(["compare", str(path)]) == 2
    assert "is a pickle; refsnn never unpickles" in capsys.readouterr().err
    path.write_bytes(b"not an archive at all")
    assert cli.main(["compare", str(path)]) == 2
    assert "is not a readable .npz archive" in capsys.readouterr().err
    assert cli.main(["compare", str(tmp_path / "nope.npz")]) == 2
    assert "no such file" in capsys.readouterr().err
    np.save(tmp_path / "one.npy", np.zeros(3))
    assert cli.main(["compare", str(tmp_path / "one.npy")]) == 2
    assert "single .npy array" in capsys.readouterr().err
    assert cli.main(["compare", str(path), "--rtol", "2"]) == 2


# --- the real peers -----------------------------------------------------------------------

def _peer_npz(res, path, kwargs=None):
    d = {"preset": np.str_(res.preset), "kwargs": np.str_(json.dumps(kwargs if kwargs is not None else {
        k: v for k, v in res.kwargs.items() if k not in ("x_scale", "w_gain")})), "x": res.x,
         "loss": np.str_("linear"), "probe_s": res.probe_s, "probe_v": res.probe_v,
         "loss_value": np.float64(res.loss), "spikes": res.spikes, "membranes": res.membranes}
    for l, lay in enumerate(res.layers):
        d.update({f"param/{l}.{k}": v for k, v in lay.items()})
    d.update({f"grad/{k}": v for k, v in res.grads.items()})
    np.savez(path, **d)
    return path


PEER_FILES = [("snntorch.Leaky", dict(beta=0.9)), ("spikingjelly.LIFNode", dict(w_gain=6.0, x_scale=2.0)),
              ("norse.LIFCell", dict(w_gain=30.0))]


@pytest.mark.parametrize("preset,kw", PEER_FILES, ids=[p for p, _ in PEER_FILES])
def test_compare_passes_on_each_peers_file(tmp_path, capsys, preset, kw):
    pytest.importorskip("torch")
    reason = peers.available(preset.split(".")[0])
    if reason:
        pytest.skip(reason)
    path = _peer_npz(peers.run_peer(preset, **kw), tmp_path / "peer.npz")
    assert cli.main(["compare", str(path)]) == 0
    out = capsys.readouterr().out
    assert "PASS: all" in out and "FAIL" not in out


def test_planted_surrogate_scale_bug_is_named(tmp_path, capsys):
    pytest.importorskip("torch")
    if peers.available("snntorch"):
        pytest.skip(peers.available("snntorch"))
    res = peers.run_peer("snntorch.Leaky", beta=0.9, alpha=4.0)      # the code used atan(alpha=4) ...
    path = _peer_npz(res, tmp_path / "bug.npz", kwargs={"alpha": 2.0})  # ... but declares alpha=2
    assert cli.main(["compare", str(path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL:" in out
    assert re.search(r"AGREES\s+surrogate scale × 2: its width/slope parameter \(refsnn arctan scale 2 → 4\)", out)


def test_readme_snippet_writes_a_file_that_passes(tmp_path, capsys, monkeypatch):
    pytest.importorskip("torch")
    if peers.available("snntorch"):
        pytest.skip(peers.available("snntorch"))
    text = (ROOT / "README.md").read_text()
    code = text.split("<!-- compare-snippet -->", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md snippet", "exec"), {})
    assert cli.main(["compare", "mynet.npz"]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "PASS: all" in out and "grad/1.beta" in out
