"""The `refsnn gradcheck` command: JSON rows, exit codes, bad arguments."""

import json
import subprocess
import sys

import pytest

from refsnn import cli, verify


def test_gradcheck_json_subset(capsys):
    names = {"hard_drop_input/attach/adapt/syn/rec/membrane", "subtract/detach/rec/ce_count"}
    args = ["gradcheck", "--json"] + [a for n in sorted(names) for a in ("--only", n)]
    code = cli.main(args)
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["n_configurations"] == 2 == len(out["rows"])
    assert {r["point"] for r in out["rows"]} == names
    for row in out["rows"]:
        assert row["passed"] and row["smooth_max_rel"] <= 1e-7 and row["piecewise_max_rel"] <= 1e-7


def test_gradcheck_fails_when_a_row_fails(capsys):
    # An impossible tolerance makes every row fail: the exit status must say so.
    code = cli.main(["gradcheck", "--only", "none/attach/l1", "--rtol", "1e-300"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL" in out


def test_grid_has_every_configuration():
    g = verify.grid()
    assert len(g) == 4 * 2 * 2 * 2 * 2 * 5 == len(set(g))


@pytest.mark.parametrize("args", [["gradcheck", "--reset", "bogus"], ["gradcheck", "--seed", "x"], ["nope"], [],
                                  ["gradcheck", "--only", "no/such/row"], ["gradcheck", "--rtol", "2"]])
def test_bad_arguments_exit_2(args):
    proc = subprocess.run([sys.executable, "-m", "refsnn.cli", *args], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "usage" in proc.stderr or "error" in proc.stderr


def test_gradcheck_json_rows_carry_their_family_and_row_name(capsys):
    """The README names rows ``family:point``; each JSON row says its family and that name."""
    from refsnn.checking import families as F
    conv = [n for f, _, n in F.rows(["conv"])][0]
    code = cli.main(["gradcheck", "--json", "--jobs", "1", "--only", "subtract/attach/ce_count", "--only", conv])
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert code == 0
    assert [(r["family"], r["name"]) for r in rows] == [("lif", "subtract/attach/ce_count"), ("conv", conv)]
    assert rows[1]["name"] == f"conv:{rows[1]['point']}"
