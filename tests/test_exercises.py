"""The exercises' checker (exercises/check.py): it must pass every solution, fail every
untouched stub, and name the right term and time step for typical mistakes.

A "typical mistake" is the worked solution with one textual edit, which is what a
learner's file looks like when it has that mistake.
"""

import importlib.util
import inspect
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXERCISES_DIR = ROOT / "exercises"


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check = _load(EXERCISES_DIR / "check.py", "exercises_check")
KEYS = list(check.EXERCISES)


def _results(key, path):
    results = check.run(key, path)
    assert results, f"{key}: no checks ran"
    return {r.function: r for r in results}


def _report(results):
    return "\n".join(r.line() for r in results.values())


@pytest.mark.parametrize("key", KEYS)
def test_every_check_passes_on_the_solution(key):
    results = _results(key, check.exercise_path(key, solution=True))
    assert all(r.passed for r in results.values()), _report(results)
    assert all(r.max_rel_error <= 1e-7 for r in results.values()), _report(results)


@pytest.mark.parametrize("key", KEYS)
def test_every_check_fails_on_the_untouched_stub(key):
    results = _results(key, check.exercise_path(key))
    for r in results.values():
        assert not r.passed and r.not_implemented, r.line()
        assert "not implemented" in r.hint, r.line()


@pytest.mark.parametrize("key", KEYS)
def test_stub_and_solution_define_the_same_functions(key):
    """The solution has exactly the stub's functions with the same signatures, and the
    checker checks each of them; every stub function documents shapes and raises."""
    stub = check.load(check.exercise_path(key))
    sol = check.load(check.exercise_path(key, solution=True))

    def public(m):
        return {n: f for n, f in vars(m).items()
                if inspect.isfunction(f) and not n.startswith("_") and f.__module__ == m.__name__}

    fs, fsol = public(stub), public(sol)
    assert set(fs) == set(fsol)
    for name in fs:
        assert inspect.signature(fs[name]) == inspect.signature(fsol[name]), name
        doc = fs[name].__doc__ or ""
        assert "Returns" in doc and "Parameters" in doc, f"{key}.{name}: docstring lacks shapes"
        assert "raise NotImplementedError" in inspect.getsource(fs[name]), name
    assert set(_results(key, check.exercise_path(key))) == set(fs)


def test_cli_exit_status_and_one_line_per_function():
    cmd = [sys.executable, str(EXERCISES_DIR / "check.py")]
    ok = subprocess.run(cmd + ["ex05", "--solution"], capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert sum(line.startswith("PASS") for line in ok.stdout.splitlines()) == 3
    bad = subprocess.run(cmd + ["5"], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    fails = [line for line in bad.stdout.splitlines() if line.startswith("FAIL")]
    assert len(fails) == 3 and all("not implemented" in line for line in fails)
    other = subprocess.run(cmd + ["ex05", "--file", str(check.exercise_path("ex05", solution=True))],
                           capture_output=True, text=True, cwd=ROOT)
    assert other.returncode == 0, other.stdout + other.stderr
    unknown = subprocess.run(cmd + ["ex99"], capture_output=True, text=True, cwd=ROOT)
    assert unknown.returncode == 2 and "unknown exercise" in unknown.stderr


# ---------------------------------------------------------------------------
# Typical mistakes: (exercise, function, text in the solution, replacement, words the hint must contain)
# ---------------------------------------------------------------------------

MISTAKES = [
    pytest.param("ex03", "lif_backward",
                 'du[t] = p["rho"] * du_next - p["beta"] * dv_next',
                 'du[t] = p["rho"] * du_next + p["beta"] * dv_next',
                 ["δu_t first differs at t=5", "B3", "sign of the β term"], id="ex03-beta-sign"),
    pytest.param("ex03", "lif_backward",
                 'ds[t] = a_s[t] - p["gamma"] * dv_next + p["kappa"] * du_next',
                 'ds[t] = a_s[t] + p["gamma"] * dv_next + p["kappa"] * du_next',
                 ["δs_t first differs at t=5", "B1", "−γ δv_{t+1}"], id="ex03-gamma-sign"),
    pytest.param("ex03", "lif_backward",
                 'ds[t] = a_s[t] - p["gamma"] * dv_next + p["kappa"] * du_next',
                 'ds[t] = a_s[t] - p["gamma"] * dv_next',
                 ["δs_t first differs at t=4", "B1 is missing +κ δu_{t+1}"], id="ex03-missing-kappa"),
    pytest.param("ex03", "lif_backward",
                 "for t in range(T - 1, -1, -1):", "for t in range(T - 1, 0, -1):",
                 ["at t=0", "skips t = 0"], id="ex03-loop-off-by-one"),
    pytest.param("ex03", "lif_backward",
                 'sg = dspike(v - p["theta"])',
                 'sg = dspike(v - p["theta"]); sg = np.concatenate([sg[1:], 0 * sg[:1]])',
                 ["δv_t first differs at t=6", "off by one", "σ'"], id="ex03-sigma-time-shift"),
    pytest.param("ex03", "lif_step_forward",
                 's_t = (v_t - p["theta"] >= 0).astype(float)', 's_t = (v_t - p["theta"] > 0).astype(float)',
                 ["tie case", "H(0) = 1"], id="ex03-tie-rule"),
    pytest.param("ex03", "weight_gradient",
                 "dW += dI[t].T @ x[t]", "dW += dI[t].T @ x[t - 1] if t > 0 else 0",
                 ["off by one", "x_t"], id="ex03-g1-seed-index"),
    pytest.param("ex04", "hard_reset_step_backward",
                 "dI = (1.0 - s_prev) * dv", "dI = dv",
                 ["dI first differs at t=6", "B4", "(1 − s_{t−1})"], id="ex04-missing-gate"),
    pytest.param("ex04", "hard_reset_step_backward",
                 'p["alpha"] * (1.0 - s) * dv_next', 'p["alpha"] * (1.0 - s_prev) * dv_next',
                 ["dv first differs at t=5", "off by one", "(1 − s_t)"], id="ex04-gate-time-index"),
    pytest.param("ex04", "hard_reset_jacobian",
                 'jac = p["alpha"] * (1.0 - s_prev)', 'jac = p["alpha"] * np.ones_like(s_prev)',
                 ["attached", "α (1 − s_{t−1})"], id="ex04-ungated-leak"),
    pytest.param("ex04", "soft_reset_jacobian",
                 "    if not detach:\n        jac = jac - p", "    if True:\n        jac = jac - p",
                 ["detached", "= α only"], id="ex04-ignores-detach"),
    pytest.param("ex01", "surrogate_gradient_step",
                 "dv = ds * dspike(v - theta)", "dv = ds * dspike(v)",
                 ["σ' takes v − θ"], id="ex01-sigma-at-v"),
    pytest.param("ex02", "sigmoid_surrogate",
                 "e = np.exp(-k * np.abs(np.asarray(x, dtype=float)))",
                 "e = np.exp(-k * np.asarray(x, dtype=float))",
                 ["nan", "issue 427", "|x|"], id="ex02-sigmoid-overflow"),
    pytest.param("ex02", "triangle_surrogate",
                 "1.0 - np.abs(np.asarray(x, dtype=float)) / a) / a",
                 "1.0 - np.abs(np.asarray(x, dtype=float)) / a)",
                 ["area"], id="ex02-triangle-unit-area"),
    pytest.param("ex05", "jacobian_linear",
                 "J[..., 0, 1] = lam\n    J[..., 1, 0] = w", "J[..., 0, 1] = w\n    J[..., 1, 0] = lam",
                 ["Jᵀ"], id="ex05-transposed"),
    pytest.param("ex05", "spectral_radius",
                 "return np.abs(np.linalg.eigvals(np.asarray(J, dtype=float))).max(axis=-1)",
                 "return np.linalg.norm(J, 2, axis=(-2, -1))",
                 ["spectral norm"], id="ex05-norm-not-radius"),
    pytest.param("ex05", "critical_coupling",
                 "return (1.0 - alpha) * (1.0 - lam)", "return 1.0 / (np.asarray(tau_m) * tau_s)",
                 ["dt → 0 limit", "1/(τ_m τ_s)"], id="ex05-seed-formula"),
    pytest.param("ex06", "windows", "t0 += K - O", "t0 += K", ["window 1", "stride is K − O"],
                 id="ex06-stride"),
    pytest.param("ex06", "tbptt_gradient",
                 "value, ds, dv = loss_fn(trajs, win, counted)", "value, ds, dv = loss_fn(trajs, win, win)",
                 ["rule 3", "counted"], id="ex06-double-count"),
    pytest.param("ex06", "tbptt_gradient",
                 "state = state_at(trajs, wins[n + 1][0].start - 1 - win.start)",
                 "state = state_at(trajs, win.stop - 1 - win.start)",
                 ["rule 1", "t_{n+1} − 1"], id="ex06-carry-from-window-end"),
    pytest.param("ex07", "map_to_refsnn", 'params["gamma"] = a * v_th', 'params["gamma"] = v_th',
                 ["soft", "γ = (1 − 1/τ) V_th"], id="ex07-gamma"),
    pytest.param("ex07", "map_to_refsnn", 'kind = "hard_keep_input"', 'kind = "hard_drop_input"',
                 ["hard_keep_input"], id="ex07-reset-kind"),
    pytest.param("ex13", "trace_step", "new_v = a * eps_v + x_t", "new_v = eps_v + x_t",
                 ["the leak", "α ε^v_{t−1}"], id="ex13-no-leak"),
    pytest.param("ex13", "trace_step", 'new_v = a * eps_v + x_t[:, None, :] - params["beta"][:, None] * eps_u',
                 "new_v = a * eps_v + x_t[:, None, :]", ["the adaptation component", "−β ε^u_{t−1}"],
                 id="ex13-no-adaptation"),
    pytest.param("ex13", "trace_step", "q = sg_prev[..., None] * eps_v", "q = sg_t[..., None] * eps_v",
                 ["time index of σ'", "σ'_{t−1}"], id="ex13-sg-now"),
    pytest.param("ex13", "factorised_gradient", 'grad += np.einsum("bj,bji->ji", signal[t], e)',
                 'grad += np.einsum("bj,bji->ji", signal[t], eps_v)', ["L_t · e_t"], id="ex13-eps-not-e"),
]


@pytest.mark.parametrize("key, function, old, new, words", MISTAKES)
def test_typical_mistake_is_caught_and_named(tmp_path, key, function, old, new, words):
    source = check.exercise_path(key, solution=True).read_text()
    assert source.count(old) == 1, f"the solution no longer contains {old!r}"
    path = tmp_path / f"{key}_mistake.py"
    path.write_text(source.replace(old, new))
    results = _results(key, path)
    r = results[function]
    assert not r.passed and not r.not_implemented, r.line()
    for word in words:
        assert word in r.hint, f"{word!r} not in the hint: {r.line()}"
    others = [o for name, o in results.items() if name != function and not o.passed]
    # Only the edited function may fail (checks are isolated from each other).
    assert not others, _report(results)


def test_a_file_that_does_not_import_fails_every_function(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("def heaviside(x, h0=1.0):\n    return x >\n")
    results = _results("ex01", path)
    assert all(not r.passed and "could not import" in r.hint and "SyntaxError" in r.hint
               for r in results.values())


def test_an_exception_names_the_learners_line(tmp_path):
    source = check.exercise_path("ex03", solution=True).read_text()
    path = tmp_path / "ex03_raises.py"
    path.write_text(source.replace("    dW = np.zeros((dI.shape[2], x.shape[2]))",
                                   "    dW = np.zeros((dI.shape[2], x.shape[2]))\n    dW = dW @ dI"))
    r = _results("ex03", path)["weight_gradient"]
    assert not r.passed and "raised ValueError" in r.hint and "line" in r.hint and "dW @ dI" in r.hint


def test_seed004_written_out_agrees_with_refsnn_under_the_reference_map():
    """The premise of ex07's checks: seed 004's loop equals refsnn's layer under the map."""
    sys.path.insert(0, str(EXERCISES_DIR))
    from _checker import ex07
    from refsnn import LIFConfig, layer_forward

    tau, v_th, v_reset, X, V0 = ex07.problem()
    for reset in ("soft", "hard"):
        kw, P = ex07.reference_map(tau, v_th, v_reset, reset)
        traj = layer_forward(LIFConfig(ex07.N, ex07.N, **kw), P, X, {"v": V0})
        H, S, _ = ex07.seed004_loop(tau, v_th, v_reset, X, V0, reset)
        np.testing.assert_array_equal(traj.s, S)
        np.testing.assert_allclose(traj.v, H, rtol=1e-13, atol=1e-14)
        assert 0 < S.mean() < 1


def test_ex05_reference_jacobian_is_the_linearised_refsnn_layer():
    """The refsnn-derived Jacobian predicts how refsnn's own adjoints grow or decay."""
    sys.path.insert(0, str(EXERCISES_DIR))
    from _checker import ex05
    from refsnn import LIFConfig, layer_backward, layer_forward, surrogate

    alpha, lam = np.array([0.9, 0.9]), np.array([0.8, 0.8])
    w_crit = ex05.refsnn_critical_coupling(-1 / np.log(0.9), -1 / np.log(0.8), 1.0)
    np.testing.assert_allclose(w_crit, (1 - alpha) * (1 - lam), rtol=1e-12)
    w = w_crit * np.array([0.5, 1.5])                        # one stable, one unstable
    T = 400
    cfg = LIFConfig(1, 2, surrogate=surrogate("straight_through"), forward="smooth", reset="none",
                    synapse=True, recurrent=True)
    P = {"W": np.zeros((2, 1)), "b": np.zeros(2), "R": np.diag(w), "alpha": alpha,
         "theta": np.ones(2), "lam": lam}
    traj = layer_forward(cfg, P, np.zeros((T, 1, 1)))
    a_v = np.zeros((T, 1, 2))
    a_v[-1] = 1.0
    dv = layer_backward(traj, P, dv=a_v).adjoints["dv"][:, 0]
    rate = (np.abs(dv[0]) / np.abs(dv[T // 2])) ** (1 / (T // 2))
    rho = np.abs(np.linalg.eigvals(ex05.refsnn_jacobian(alpha, lam, w))).max(axis=-1)
    np.testing.assert_allclose(rate, rho, rtol=1e-3)
    assert rate[0] < 1 < rate[1]
