"""The per-layer entries of ``refsnn compare`` (spikes/<l>, membranes/<l>, dspikes/<l>,
dmembranes/<l>): accepted when well formed, refused with a message naming the entry."""

import numpy as np
import pytest

from refsnn.oracle import compare as C

from test_compare import _self_consistent


def _with_layers(d):
    d = dict(d)
    T, B, _ = d["x"].shape
    d["spikes/0"] = np.zeros((T, B, 5))
    d["membranes/0"] = np.zeros((T, B, 5))
    d["dspikes/1"] = np.zeros((T, B, 2))
    d["dmembranes/1"] = np.zeros((T, B, 2), np.float32)
    return d


def test_per_layer_entries_are_parsed():
    prob = C.parse(_with_layers(_self_consistent("linear")))
    assert sorted(prob.layer_spikes) == [0] and sorted(prob.dmembranes) == [1]
    assert prob.dmembranes[1].dtype == np.float64 and prob.dspikes[1].shape[2] == 2


@pytest.mark.parametrize("key, value, message", [
    ("dmembranes/x", np.zeros((8, 3, 2)), "look like 'dmembranes/<layer>'"),
    ("dspikes/0", np.zeros((8, 3)), "expected (T, B, N_l)"),
    ("membranes/0", np.zeros((7, 3, 5)), "expected (T, B, N_l)"),
    ("spikes/0", np.zeros((8, 3, 5), bool), "must be a real array"),
    ("dmembranes/0", np.full((8, 3, 5), np.nan), "NaN or inf"),
    ("dmembranes/2", np.zeros((8, 3, 5)), "has 2 layer(s)"),
    ("dspikes/0", np.zeros((8, 3, 4)), "layer 0 has 5 neurons"),
])
def test_bad_per_layer_entries_name_the_entry(key, value, message):
    d = _self_consistent("linear")
    d[key] = value
    with pytest.raises(C.BadInput, match=None) as exc:
        C.compare(d)
    assert message in str(exc.value) and key.partition("/")[0] in str(exc.value)
