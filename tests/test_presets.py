"""The presets' parameter maps: both exact routes (family ``presets``) and argument checks.

``refsnn gradcheck --family presets`` runs all 21 points; the tests run six of them (shared
scalars with a same-step reset and a post-reset view, one-to-one recurrence with a
hard reset, a logistic time constant, a detached view, Norse's τ⁻¹ and recurrence, and
the SpyTorch time shifts). Together with tests/test_peers.py, which checks every preset
against the real library, they catch every mutant in scripts/mutants/oracle.py.
"""

import json

import numpy as np
import pytest

from refsnn.checking import families
from refsnn.oracle import family, presets as P

FAST = [
    "snntorch.Leaky/subtract/no_delay",
    "snntorch.RLeaky/one_to_one/zero",
    "spikingjelly.ParametricLIFNode/soft",
    "spikingjelly.LIFNode/hard/detach",
    "norse.LIFRecurrentCell/recurrent",
    "spytorch.tutorial/tutorial",
]


def test_family_is_registered_and_covers_every_preset():
    fams = families.families()
    assert "presets" in fams
    names = {pt.preset for pt in fams["presets"].points()}
    assert names == set(P.PRESETS)
    assert {pt.name for pt in family.points()} >= set(FAST)


@pytest.mark.parametrize("name", FAST)
def test_parameter_map_both_routes(name):
    pt = next(p for p in family.points() if p.name == name)
    rep = family.check_point(pt)
    assert rep.passed, (rep.smooth_max_rel, rep.smooth_worst, rep.piecewise_max_rel, rep.piecewise_worst)
    assert all(n > 0 for n in rep.n_spikes), f"every spiking layer must spike: {rep.n_spikes}"
    assert rep.piecewise_checked > 0


def _leaky_layers():
    return [{"weight": np.ones((2, 3)), "bias": np.zeros(2)}]


def test_unknown_preset_and_arguments_are_named():
    with pytest.raises(P.PresetError, match="unknown preset 'snntorch.Lif'"):
        P.build("snntorch.Lif", _leaky_layers(), beta=0.9)
    with pytest.raises(P.PresetError, match=r"takes no argument\(s\) \['tau'\]"):
        P.build("snntorch.Leaky", _leaky_layers(), beta=0.9, tau=2.0)
    with pytest.raises(P.PresetError, match="reset_mechanism must be one of"):
        P.build("snntorch.Leaky", _leaky_layers(), beta=0.9, reset_mechanism="soft")
    with pytest.raises(P.PresetError, match="beta must lie in"):
        P.build("snntorch.Leaky", _leaky_layers(), beta=1.5)
    with pytest.raises(P.PresetError, match=r"missing \['weight'\]"):
        P.build("snntorch.Leaky", [{"bias": np.zeros(2)}], beta=0.9)
    with pytest.raises(P.PresetError, match=r"bias of layer 0 weight has shape \(3,\)"):
        P.build("snntorch.Leaky", [{"weight": np.ones((2, 3)), "bias": np.zeros(3)}], beta=0.9)
    with pytest.raises(P.PresetError, match="layer 1 takes 4 inputs but layer 0 has 2"):
        P.build("snntorch.Leaky", _leaky_layers() + [{"weight": np.ones((2, 4))}], beta=0.9)
    with pytest.raises(P.PresetError, match="v_reset .* must lie below v_threshold"):
        P.build("spikingjelly.LIFNode", _leaky_layers(), v_reset=1.0)
    with pytest.raises(P.PresetError, match="v_leak must be 0"):
        P.build("norse.LIFCell", _leaky_layers(), v_leak=0.1)


def test_scalar_parameters_stay_scalar_and_sum_their_gradient():
    rng = np.random.default_rng(0)
    layer = {"weight": rng.normal(0, 2, (3, 2)), "bias": np.full(3, 0.3), "beta": np.asarray(0.8),
             "threshold": np.array([0.7, 0.9, 1.1])}
    x = rng.normal(0.5, 1, (6, 2, 2))
    a_s, a_v = rng.normal(size=(6, 2, 3)), rng.normal(size=(6, 2, 3))
    shared = P.build("snntorch.Leaky", [layer])
    g = shared.backward(shared.forward(x), [a_s], [a_v])
    per_neuron = P.build("snntorch.Leaky", [{**layer, "beta": np.full(3, 0.8)}])
    g3 = per_neuron.backward(per_neuron.forward(x), [a_s], [a_v])
    assert g["0.beta"].shape == () and g3["0.beta"].shape == (3,)
    assert g["0.beta"] == pytest.approx(g3["0.beta"].sum(), rel=1e-14)
    assert np.any(g3["0.beta"] != 0)


def test_table_lists_every_preset():
    t = P.table()
    for name in P.PRESETS:
        assert f"| {name} |" in t


def test_docs_list_every_preset():
    from pathlib import Path
    doc = (Path(__file__).resolve().parent.parent / "docs" / "presets.md").read_text()
    assert P.table() in doc, "docs/presets.md's table is out of date: paste refsnn.presets.table() into it"
