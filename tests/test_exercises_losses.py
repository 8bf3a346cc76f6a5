"""Typical mistakes in exercise 17 (losses and stability) are caught and named (the pattern
of tests/test_exercises.py, in its own file so the exercise lists merge cleanly)."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check = _load(ROOT / "exercises" / "check.py", "exercises_check_losses")

MISTAKES = [
    pytest.param("trace_partial", "nxt = err[t] / err.size + eta * nxt", "nxt = err[t] / err.size",
                 ["η δz_{t+1}"], id="ex17-trace-no-recursion"),
    pytest.param("trace_partial", "nxt = err[t] / err.size + eta * nxt", "nxt = err[t] + eta * nxt",
                 ["1/(TBN)"], id="ex17-trace-no-mean"),
    pytest.param("trace_partial", "for t in range(T - 1, -1, -1):\n        nxt", "for t in range(T):\n        nxt",
                 ["backward in time"], id="ex17-trace-forward-adjoint"),
    pytest.param("first_spike_mse_partial", "S_prev = S[tau - 1] if tau else 1.0", "S_prev = S[tau]",
                 ["up to τ−1"], id="ex17-fst-S-off-by-one"),
    pytest.param("first_spike_mse_partial", "R = 1.0 + (1.0 - s[tau + 1]) * R", "R = 1.0 + R",
                 ["survival factor"], id="ex17-fst-no-survival"),
    pytest.param("first_spike_mse_partial", "ds[tau] = -(err / B) * S_prev * R", "ds[tau] = (err / B) * S_prev * R",
                 ["the sign"], id="ex17-fst-sign"),
    pytest.param("effective_jacobian", "J = params[\"R\"][None] * sg[:, None, :]",
                 "J = params[\"R\"][None] * sg[:, :, None]", ["R diag(σ')"], id="ex17-jac-sigma-side"),
    pytest.param("effective_jacobian", "J = params[\"R\"][None] * sg[:, None, :]",
                 "J = params[\"R\"].T[None] * sg[:, None, :]", ["not Rᵀ"], id="ex17-jac-transposed"),
    pytest.param("effective_jacobian", "    if attached:\n        J[:, idx, idx] -= params[\"gamma\"] * sg",
                 "    if False:\n        J[:, idx, idx] -= params[\"gamma\"] * sg", ["−γ σ'"], id="ex17-jac-no-reset-term"),
    pytest.param("effective_jacobian", "    if attached:\n        J[:, idx, idx] -= params[\"gamma\"] * sg",
                 "    if True:\n        J[:, idx, idx] -= params[\"gamma\"] * sg", ["detached"],
                 id="ex17-jac-reset-term-when-detached"),
]


@pytest.mark.parametrize("function, old, new, words", MISTAKES)
def test_typical_mistake_is_caught_and_named(tmp_path, function, old, new, words):
    source = check.exercise_path("ex17", solution=True).read_text()
    assert source.count(old) == 1, f"the solution no longer contains {old!r}"
    path = tmp_path / "ex17_mistake.py"
    path.write_text(source.replace(old, new))
    results = {r.function: r for r in check.run("ex17", path)}
    r = results[function]
    assert not r.passed and not r.not_implemented, r.line()
    for word in words:
        assert word in r.hint, f"{word!r} not in the hint: {r.line()}"
    assert all(o.passed for name, o in results.items() if name != function), [o.line() for o in results.values()]
