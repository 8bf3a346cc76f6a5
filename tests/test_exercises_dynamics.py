"""Typical mistakes in exercises 11 and 12 are caught and named (the pattern of
tests/test_exercises.py, kept in its own file so the exercise lists merge cleanly)."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check = _load(ROOT / "exercises" / "check.py", "exercises_check_dynamics")

MISTAKES = [
    pytest.param("ex12", "branch_backward", "sg[t] * dq[t]", "dq[t]",
                 ["δa first differs at t=6", "DB2", "dendritic surrogate"], id="ex12-no-dendritic-surrogate"),
    pytest.param("ex12", "branch_backward", 'nxt = p["alpha_d"] * nxt + sg[t] * dq[t]', "nxt = sg[t] * dq[t]",
                 ["δa first differs at t=5", "branch leak α_d"], id="ex12-no-branch-leak"),
    pytest.param("ex12", "branch_backward", 'sg = dspike_d(a - p["theta_d"])', "sg = dspike_d(a)",
                 ["σ_d' takes a_t − θ_d"], id="ex12-surrogate-at-a"),
    pytest.param("ex12", "branch_backward", 'dq = p["c"] * dI[..., None]', 'dq = dI[..., None] + 0 * p["c"]',
                 ["DB1", "coupling"], id="ex12-no-coupling"),
    pytest.param("ex12", "branch_backward", "np.sum(da * a_prev, axis=(0, 1))", "np.sum(da * a, axis=(0, 1))",
                 ["α_d", "a_{t−1}", "off by one"], id="ex12-alpha-index"),
    pytest.param("ex12", "branch_backward", "dtheta_d = -np.sum", "dtheta_d = np.sum",
                 ["sign of ∂L/∂θ_d"], id="ex12-theta-sign"),
    pytest.param("ex12", "rate_regularizer", "/ (T * B), s.shape)", ", s.shape)",
                 ["1/(TB)"], id="ex12-rate-normalisation"),
    pytest.param("ex12", "rate_regularizer", "f = s.sum(axis=(0, 1)) / (T * B)",
                 "f = s.sum(axis=0) / T", ["one number per neuron", "not one per trial"], id="ex12-per-trial-rate"),
    pytest.param("ex12", "membrane_l1", "dv = strength * np.sign(v) / B", "dv = strength / B + 0 * v",
                 ["sign(v)"], id="ex12-l1-sign"),
]


@pytest.mark.parametrize("key, function, old, new, words", MISTAKES)
def test_typical_mistake_is_caught_and_named(tmp_path, key, function, old, new, words):
    source = check.exercise_path(key, solution=True).read_text()
    assert source.count(old) == 1, f"the solution no longer contains {old!r}"
    path = tmp_path / f"{key}_mistake.py"
    path.write_text(source.replace(old, new))
    results = {r.function: r for r in check.run(key, path)}
    r = results[function]
    assert not r.passed and not r.not_implemented, r.line()
    for word in words:
        assert word in r.hint, f"{word!r} not in the hint: {r.line()}"
    assert all(o.passed for name, o in results.items() if name != function), [o.line() for o in results.values()]
