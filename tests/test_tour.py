"""The main job, `refsnn tour`, end to end: it must run, learn, and pass its gradient check."""

import json

from refsnn.tour import run_tour


def test_tour_runs_learns_and_passes_its_gradient_check(tmp_path):
    lines = []
    code = run_tour(str(tmp_path), progress=False, log=lines.append)
    assert code == 0, "\n".join(lines)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["test_accuracy"] > 0.8                    # chance is 0.1
    assert all(r["passed"] for r in summary["gradcheck"])
    assert sum(r["n_checked"] for r in summary["gradcheck"]) > 300
    for name in ("curves.png", "traces.png", "report.txt", "checkpoint.npz"):
        assert (tmp_path / name).exists(), name
