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

MISTAKES_11 = [
    pytest.param("ex11", "refractory_gate_adjoint", "                if j != k:", "                if True:",
                 ["first differs at t=0", "(1 − s_t) itself", "Π_{j≠k}"], id="ex11-gate-product-keeps-k"),
    pytest.param("ex11", "refractory_gate_adjoint", "out[t] -= s_hat[t + k] * prod", "out[t] -= s[t + k] * prod",
                 ["ungated ŝ_{t+k}"], id="ex11-gated-spike"),
    pytest.param("ex11", "refractory_gate_adjoint", "out[t] -= s_hat", "out[t] += s_hat",
                 ["minus sign"], id="ex11-gate-sign"),
    pytest.param("ex11", "refractory_gate_adjoint", "        for k in range(1, n_ref + 1):\n            if t + k >= T:",
                 "        for k in range(1, n_ref):\n            if t + k >= T:",
                 ["1..n_ref"], id="ex11-gate-k-range"),
    pytest.param("ex11", "theta_gradient", "dspike(v - theta) * gate * ds", "dspike(v - theta) * ds",
                 ["σ' carries the gate"], id="ex11-theta-no-gate"),
    pytest.param("ex11", "theta_gradient", "return -np.sum(", "return np.sum(",
                 ["sign"], id="ex11-theta-sign"),
    pytest.param("ex11", "project_dynamics", '"alpha": (ALPHA_MIN, 1.0)', '"alpha": (0.0, 1.0)',
                 ["ALPHA_MIN"], id="ex11-alpha-bound"),
    pytest.param("ex11", "project_dynamics", 'out["theta"] - RESET_MARGIN', 'params["theta"] - RESET_MARGIN',
                 ["projected θ"], id="ex11-v-reset-unprojected-theta"),
]


@pytest.mark.parametrize("key, function, old, new, words", MISTAKES_11)
def test_typical_mistake_is_caught_and_named_11(tmp_path, key, function, old, new, words):
    test_typical_mistake_is_caught_and_named(tmp_path, key, function, old, new, words)
