"""docs/diagnosis.md's recording snippet runs, and the file it writes PASSes with every
per-layer record and per-step gradient compared (exit 0)."""

from pathlib import Path

import numpy as np
import pytest

from refsnn import cli
from refsnn.oracle import compare as C, peers

ROOT = Path(__file__).resolve().parent.parent


def test_recording_snippet_writes_a_file_that_passes(tmp_path, monkeypatch, capsys):
    pytest.importorskip("torch")
    if peers.available("snntorch"):
        pytest.skip(peers.available("snntorch"))
    text = (ROOT / "docs" / "diagnosis.md").read_text()
    code = text.split("<!-- record-snippet -->", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/diagnosis.md snippet", "exec"), {})
    assert cli.main(["compare", "mynet.npz"]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    for name in ("dmembranes/0", "dspikes/1", "membranes/1", "spikes/0"):
        assert name in out
    d = C.load("mynet.npz")
    assert np.any(d["dmembranes/0"]) and d["spikes/1"].sum() > 0
    # the same file with one step's membrane gradient of layer 0 changed: named, with its step
    d["dmembranes/0"] = d["dmembranes/0"].copy()
    d["dmembranes/0"][4] *= 1.5
    rep = C.compare(d)
    assert not rep.passed and rep.diagnosis.half == "backward"
    assert any(a["entry"] == "dmembranes/0" and a["t"] == 4 for a in rep.diagnosis.first_adjoint)
