"""``refsnn compare`` explains: planted bugs in a user's own PyTorch code (tests/planted_bugs.py)
are each named first, with the right half, step and fitted value; no category is blamed for
a bug of another kind, and correct networks PASS with exit 0 and no cause."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from refsnn import cli
from refsnn.oracle import compare as C, diagnose as D, presets as P

torch = pytest.importorskip("torch")
import planted_bugs as PB  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def reports():
    """Every planted bug's file and report, computed once."""
    out = {}
    for bug in PB.BUGS:
        d = PB.user_file(bug)
        out[bug] = (d, C.compare(d))
    return out


PLANTED = [b for b, v in PB.BUGS.items() if v[3] is not None]
CORRECT = [b for b, v in PB.BUGS.items() if v[3] is None]

#: bug -> (half, first forward step or None, first adjoint step in grad/x or None)
WHERE = {"slope20": ("backward", None, 9), "slope50": ("backward", None, 9), "atan_gain2": ("backward", None, 9),
         "reset_attached": ("backward", None, 8), "record_minus": ("forward", 0, 9),
         "beta_clamp": ("forward", 1, 9), "leak_bwd": ("backward", None, 8), "reset_amount": ("forward", 1, 9),
         "threshold": ("forward", 0, 9), "input_late": ("forward", 0, 9), "float32": ("backward", None, 9),
         "detached_mem": ("backward", None, 6), "loss_sum": ("forward", None, 9),
         "weight_grad_mean": ("backward", None, None), "sj_detach": ("backward", None, 9),
         "sj_record_charged": ("forward", 1, 9), "sj_reset_sign": ("backward", None, 9),
         "sj_tau": ("forward", 0, 9)}


@pytest.mark.parametrize("bug", PLANTED)
def test_planted_cause_is_named_first(reports, bug):
    d, rep = reports[bug]
    want = PB.BUGS[bug][3]
    assert not rep.passed and rep.exit_code == 1
    diag = rep.diagnosis
    top = diag.causes[0]
    assert top.category == want, (bug, C.format_report(rep))
    assert top.agrees or top.forward_agrees, C.format_report(rep)
    half, t_fwd, t_adj = WHERE[bug]
    assert diag.half == half
    if half == "forward":
        assert "gradient path" not in rep.explanation
        if t_fwd is not None:
            assert diag.first_forward["t"] == t_fwd
    gx = [a for a in diag.first_adjoint if a["entry"] == "grad/x"]
    assert (gx[0]["t"] if gx else None) == t_adj


FITTED = {
    "slope20": lambda f: abs(f["scale"] - 20.0) < 1e-6 and abs(f["peak_factor"] - 1.0) < 1e-6,
    "slope50": lambda f: abs(f["scale"] - 50.0) < 1e-6,
    "beta_clamp": lambda f: abs(f["value"] - 0.85) < 1e-9,
    "reset_amount": lambda f: abs(f["factor"] - 0.9) < 1e-9,
    "threshold": lambda f: abs(f["factor"] - 1.1) < 1e-9 and f["reset_at_file_theta"],
    "input_late": lambda f: f["shift"] == 1,
    "record_minus": lambda f: f["c"] == 1.0 and f["attached"],
    "loss_sum": lambda f: abs(f["factor"] - 3.0) < 1e-9,
    "weight_grad_mean": lambda f: abs(f["factor"] - 1 / 3) < 1e-12,
    "sj_tau": lambda f: abs(f["value"] - 2.5) < 1e-9,
    "leak_bwd": lambda f: f["term"] == "B2.leak" and abs(f["coefficient"] - 1 / 0.9) < 1e-9,
    "detached_mem": lambda f: f["term"] == "B2.leak" and f["steps"] == [6] and abs(f["coefficient"]) < 1e-6,
    "sj_reset_sign": lambda f: f["term"] == "B2.reset" and abs(f["coefficient"] + 1) < 1e-9,
    "reset_attached": lambda f: f["term"] == "B2.reset" and abs(f["coefficient"] - 1) < 1e-9,
}


@pytest.mark.parametrize("bug", sorted(FITTED))
def test_fitted_values(reports, bug):
    top = reports[bug][1].diagnosis.causes[0]
    assert FITTED[bug](top.fitted), (bug, top.cause, top.fitted)


@pytest.mark.parametrize("category", sorted({v[3] for v in PB.BUGS.values() if v[3]}))
def test_category_not_blamed_for_other_bugs_or_correct_networks(reports, category):
    for bug, (d, rep) in reports.items():
        want = PB.BUGS[bug][3]
        if want is None:
            assert rep.passed and rep.exit_code == 0 and rep.diagnosis is None, bug
        elif want != category:
            assert rep.diagnosis.causes[0].category != category, (bug, rep.diagnosis.causes[0].cause)


@pytest.mark.parametrize("bug", CORRECT)
def test_correct_networks_pass_with_exit_0(tmp_path, capsys, reports, bug):
    d, _ = reports[bug]
    np.savez(tmp_path / "ok.npz", **d)
    assert cli.main(["compare", str(tmp_path / "ok.npz"), "--json"]) == 0
    verdict = json.loads(capsys.readouterr().out)["verdict"]
    assert verdict == {"half": "none", "causes": []}


def test_json_verdict_carries_the_diagnosis(tmp_path, capsys, reports):
    np.savez(tmp_path / "bug.npz", **reports["beta_clamp"][0])
    assert cli.main(["compare", str(tmp_path / "bug.npz"), "--json"]) == 1
    v = json.loads(capsys.readouterr().out)["verdict"]
    assert v["half"] == "forward"
    assert {k: v["first_forward"][k] for k in ("layer", "quantity", "t")} == {"layer": 0, "quantity": "membranes",
                                                                               "t": 1}
    top = v["causes"][0]
    assert top["rank"] == 1 and top["category"] == "parameter value" and top["fitted"]["value"] == 0.85
    assert top["forward_agrees"] and top["forward_residual"] < 1e-12
    assert any(a["entry"] == "grad/x" and a["t"] == 9 for a in v["first_adjoint"])
    assert {c["category"] for c in v["causes"]} <= set(D.CATEGORIES) | {c for c in (x["category"] for x in v["causes"])
                                                                       if "+" in c}


def test_text_report_names_the_step_and_the_term(reports):
    out = C.format_report(reports["detached_mem"][1])
    assert "first diverging adjoint step (reverse time): t=6 in grad/x" in out
    assert re.search(r"1\. \[adjoint term\] B2 \(layers 0, 1\): the leak term .* is missing at step 6", out), out


def test_without_per_step_records_the_step_is_still_named_and_recording_is_suggested():
    d = PB.user_file("leak_bwd", per_step=False)
    rep = C.compare(d)
    diag = rep.diagnosis
    assert diag.half == "backward" and diag.first_adjoint[0]["t"] == 8
    assert any("record per-step gradients" in n for n in diag.notes)


def _rleaky_from_v0():
    """A refsnn user who kept refsnn's default initial spike s_{-1} = f(v_{-1} − θ) (no torch):
    the arrays come from refsnn with that switch, declared as the snnTorch preset."""
    rng = np.random.default_rng(3)
    layers = [{"weight": rng.normal(0, 1.5, (5, 3)), "bias": rng.uniform(0.2, 0.6, 5),
               "recurrent.weight": rng.normal(0, 0.6, (5, 5)), "recurrent.bias": np.zeros(5),
               "beta": np.asarray(0.9), "threshold": np.asarray(1.0)}]
    x = rng.uniform(0, 2, (8, 3, 3))
    d = {"preset": np.str_("snntorch.RLeaky"), "kwargs": np.str_("{}"), "x": x, "loss": np.str_("linear"),
         "probe_s": rng.normal(size=(8, 3, 5)), "probe_v": rng.normal(size=(8, 3, 5))}
    for k, v in layers[0].items():
        d[f"param/0.{k}"] = v
    d["grad/0.weight"] = np.zeros((5, 3))
    prob = C.parse(d)
    ref = D.simulate(prob, D.Hypothesis("user", "", P.Overrides(from_v0=True)))
    d.update({f"grad/{k}": v for k, v in ref["grads"].items()})
    d.update({"loss_value": np.float64(ref["loss_value"]), "spikes": ref["spikes"][0], "membranes": ref["membranes"][0]})
    return d


def test_initial_spike_is_named_and_not_blamed_elsewhere(reports):
    rep = C.compare(_rleaky_from_v0())
    assert not rep.passed
    assert rep.diagnosis.causes[0].category == "initial spike", C.format_report(rep)
    for bug, (_, r) in reports.items():
        if r.diagnosis is not None:
            assert r.diagnosis.causes[0].category != "initial spike"


def test_docs_table_matches_what_compare_reports(reports):
    text = (ROOT / "docs" / "diagnosis.md").read_text()
    for bug, (d, rep) in reports.items():
        row = PB.table_row(bug, rep)
        assert row in text, f"docs/diagnosis.md lacks the row of {bug}:\n{row}"


# --- every preset: the term model of the local fits reproduces refsnn's B1–B5 exactly --------

from refsnn.oracle import family as F  # noqa: E402


def _self_file(point):
    """A file whose arrays are refsnn's own, with every layer's records and per-step adjoints."""
    for seed in range(20):                 # (snnTorch reset_delay=False: a run without its quirk)
        net, x, probes = F.make_net(point, seed)
        try:
            net.forward(x)
            break
        except P.PeerQuirkError:
            continue
    d = {"preset": np.str_(point.preset), "kwargs": np.str_(point.kwargs), "x": x, "loss": np.str_("linear"),
         "probe_v": probes[-1]}
    if net.net.layers[-1].spiking:
        d["probe_s"] = probes[-2]
    for l, lm in enumerate(net.layers):
        d.update({f"param/{l}.{k}": v for k, v in lm.peer.items()})
    d["grad/x"] = np.zeros_like(x)
    prob = C.parse(d)
    ref = D.simulate(prob)
    d.update({f"grad/{k}": v for k, v in ref["grads"].items()})
    d["loss_value"] = np.float64(ref["loss_value"])
    for l, c in enumerate(net.net.layers):
        d[f"membranes/{l}"], d[f"dmembranes/{l}"] = ref["membranes"][l], ref["dmembranes"][l]
        if c.spiking:
            d[f"spikes/{l}"], d[f"dspikes/{l}"] = ref["spikes"][l], ref["dspikes"][l]
    return d


@pytest.mark.parametrize("point", F.points(), ids=lambda p: p.name)
def test_local_equations_hold_on_refsnns_own_adjoints(point):
    """With refsnn's own adjoints plugged in, every recorded equation of every preset (pre- and
    post-reset states, subtract and hard resets, synapses, recurrence, adaptive thresholds,
    readouts, SpyTorch's shifted records) leaves no residual: the terms are B1–B5 exactly."""
    d = _self_file(point)
    rep = C.compare(d)
    assert rep.passed and rep.exit_code == 0
    prob = C.parse(d)
    ref = D.simulate(prob)
    terms = D.adjoint_terms(prob, ref, 1e-9)
    assert terms == [], terms
