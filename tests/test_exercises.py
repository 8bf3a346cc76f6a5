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
    pytest.param("ex00", "count_ce_partial", "dn = (p - np.eye(K)[labels]) / B", "dn = (p - np.eye(K)[labels])",
                 ["1/B"], id="ex00-missing-1/B"),
    pytest.param("ex00", "count_ce_partial", "np.broadcast_to(dn, (T, B, K))", "np.broadcast_to(dn / T, (T, B, K))",
                 ["do not divide by T"], id="ex00-divided-by-T"),
    pytest.param("ex00", "count_ce_partial", "p = softmax(n, axis=1)",
                 "p = np.exp(n) / np.exp(n).sum(axis=1, keepdims=True)", ["overflows", "subtract the largest"],
                 id="ex00-softmax-overflow"),
    pytest.param("ex00", "train_step", "flat_g, _ = optim.clip_by_global_norm(flat_g, max_norm)",
                 "flat_g = dict(flat_g)", ["first differs from the reference at step", "not clipped"],
                 id="ex00-no-clipping"),
    pytest.param("ex00", "train_step", "optim.step(opt, flat_p, flat_g, opt_state)",
                 "optim.step(opt, flat_p, {k: -v for k, v in flat_g.items()}, opt_state)", ["uphill"],
                 id="ex00-gradient-ascent"),
    pytest.param("ex00", "gradients_with", "dW = dv.reshape(T * B, N).T @ x.reshape(T * B, -1)",
                 "dW = ds.reshape(T * B, N).T @ x.reshape(T * B, -1)", ["L0.W differs", "δI_t = δv_t"],
                 id="ex00-uses-ds"),
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
    # Mistakes that used to get only a generic "check Bx" hint (issue 11): each now names its term.
    pytest.param("ex03", "lif_backward",
                 'ds[t] = a_s[t] - p["gamma"] * dv_next + p["kappa"] * du_next',
                 'ds[t] = a_s[t] - p["gamma"] * dv[t] + p["kappa"] * du_next',
                 ["B1 is missing −γ δv_{t+1}", "If you wrote δv_t there, it is off by one"], id="ex03-b1-dv_t-zero"),
    pytest.param("ex03", "lif_backward", "        dv_next, du_next = dv[t], du[t]",
                 '        ds[t] = a_s[t] - p["gamma"] * dv[t] + p["kappa"] * du_next\n        dv_next, du_next = dv[t], du[t]',
                 ["δs_t first differs at t=6", "off by one: B1 uses δv_{t+1}", "not δv_t"], id="ex03-b1-off-by-one"),
    pytest.param("ex03", "lif_backward", "sg[t] * ds[t]", "sg[t] * a_s[t]",
                 ["B2 needs the *total* δs_t"], id="ex03-b2-direct-partial"),
    pytest.param("ex03", "lif_backward", 'du[t] = p["rho"] * du_next', 'du[t] = p["kappa"] * du_next',
                 ["B3 has the wrong coefficient", "ρ δu_{t+1}", "not κ"], id="ex03-b3-kappa-for-rho"),
    pytest.param("ex03", "lif_backward", '- p["gamma"] * dv_next', '- p["theta"] * dv_next',
                 ["B1 has the wrong coefficient", "with γ, not θ"], id="ex03-b1-theta-for-gamma"),
    pytest.param("ex03", "lif_backward", '+ p["kappa"] * du_next', '+ p["rho"] * du_next',
                 ["B1 has the wrong coefficient", "+κ δu_{t+1}, with κ, not ρ"], id="ex03-b1-rho-for-kappa"),
    pytest.param("ex03", "lif_backward", '+ p["alpha"] * dv_next', '+ p["rho"] * dv_next',
                 ["B2 has the wrong coefficient", "α δv_{t+1}, with α, not ρ"], id="ex03-b2-rho-for-alpha"),
    pytest.param("ex03", "lif_step_forward", '- p["beta"] * u_prev', '- p["kappa"] * u_prev',
                 ["F3 has the wrong coefficient", "with β, not κ"], id="ex03-f3-kappa-for-beta"),
    pytest.param("ex03", "lif_step_forward", '+ p["kappa"] * s_prev', '+ p["beta"] * s_prev',
                 ["F5 has the wrong coefficient", "with κ, not β"], id="ex03-f5-beta-for-kappa"),
    pytest.param("ex04", "hard_reset_step_backward", 'p["alpha"] * (1.0 - s) * dv_next',
                 'p["alpha"] * ((1.0 - s) if not detach else 1.0) * dv_next',
                 ["detached: dv first differs", "a detached reset still keeps B2's gate (1 − s_t)"],
                 id="ex04-detached-drops-b2-gate"),
    pytest.param("ex04", "hard_reset_step_backward", "dI = (1.0 - s_prev) * dv",
                 "dI = (1.0 - s_prev) * dv if not detach else dv",
                 ["detached: dI first differs", "a detached reset still keeps B4's gate"],
                 id="ex04-detached-drops-b4-gate"),
    pytest.param("ex04", "hard_reset_step_backward", 'r_next = p["alpha"] * v + I_next - p["v_reset"]',
                 'r_next = p["alpha"] * v + I_next', ["r_{t+1} is missing −v_r"], id="ex04-r-missing-v_reset"),
    pytest.param("ex04", "hard_reset_step_backward", 'r_next = p["alpha"] * v + I_next - p["v_reset"]',
                 'r_next = v + I_next - p["v_reset"]', ["r_{t+1} is missing the leak"], id="ex04-r-missing-alpha"),
    pytest.param("ex04", "hard_reset_step_backward", "ds = ds - r_next * dv_next",
                 "ds = ds - r_next * dv_next * (1.0 - s)", ["B1's reset term is not gated"], id="ex04-b1-gated"),
    pytest.param("ex04", "hard_reset_step_backward", 'dspike(v - p["theta"]) * ds   # B2',
                 'dspike(v - p["theta"]) * a_s   # B2', ["B2 needs the *total* δs_t"], id="ex04-b2-direct-partial"),
    pytest.param("ex04", "soft_reset_jacobian", 'jac = jac - p["gamma"] * dspike',
                 'jac = jac - p["gamma"] * p["alpha"] * dspike', ["without α"], id="ex04-soft-gamma-alpha"),
    pytest.param("ex04", "hard_reset_jacobian", '(p["v_reset"] - p["alpha"] * v_prev - d_t)',
                 '(p["v_reset"] - v_prev - d_t)', ["the reset term is missing α"], id="ex04-hard-reset-term-alpha"),
    pytest.param("ex04", "hard_reset_jacobian", 'jac = p["alpha"] * (1.0 - s_prev)', 'jac = p["alpha"] * s_prev',
                 ["the gate is inverted"], id="ex04-hard-gate-inverted"),
    pytest.param("ex06", "tbptt_gradient", "state = state_at(trajs, wins[n + 1][0].start - 1 - win.start)",
                 "state = None", ["rule 1", "from zero (state = None)"], id="ex06-zero-after-first"),
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
    pytest.param("ex02", "boxcar_surrogate", "np.abs(np.asarray(x, dtype=float)) < a, 0.5 / a",
                 "np.abs(np.asarray(x, dtype=float)) <= a, 0.5 / a", ["|x| = a exactly"], id="ex02-boxcar-edge"),
    pytest.param("ex02", "boxcar_surrogate", "< a, 0.5 / a, 0.0)", "< a, 1.0, 0.0)", ["area 2a"],
                 id="ex02-boxcar-height-1"),
    pytest.param("ex02", "exponential_surrogate", "return 0.5 * k * np.exp", "return k * np.exp",
                 ["k/2", "area is 2"], id="ex02-exponential-area"),
    pytest.param("ex02", "exponential_surrogate", "return 0.5 * k * np.exp(-k * np.abs(np.asarray(x, dtype=float)))",
                 "return 0.5 * k * np.exp(-k * np.asarray(x, dtype=float))", ["exp(−kx) overflows", "|x|"],
                 id="ex02-exponential-no-abs"),
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
    pytest.param("ex08", "leaky_peer_grads", 'd_threshold = np.sum(g["theta"] + gamma)', 'd_threshold = np.sum(g["theta"])',
                 ["reset_delay=True", "γ = θ"], id="ex08-threshold-misses-gamma"),
    pytest.param("ex08", "leaky_peer_grads", 'd_threshold = np.sum(g["theta"] + beta * gamma)',
                 'd_threshold = np.sum(g["theta"] + gamma)', ["reset_delay=False", "β ∂L/∂γ"],
                 id="ex08-no-delay-gamma-is-beta-theta"),
    pytest.param("ex08", "leaky_peer_grads", 'd_beta = np.sum(g["alpha"] + threshold * gamma)',
                 'd_beta = np.sum(g["alpha"])', ["reset_delay=False", "θ ∂L/∂γ"], id="ex08-beta-misses-gamma"),
    pytest.param("ex08", "leaky_peer_grads", '"beta": float(d_beta)', '"beta": g["alpha"]',
                 ["one number for the layer", "sum over the neurons"], id="ex08-beta-not-summed"),
    pytest.param("ex08", "first_spike_mismatch", "return tuple(int(i) for i in bad[0])",
                 "return tuple(int(i) for i in bad[-1])", ["not the first in time order"], id="ex08-last-mismatch"),
    pytest.param("ex08", "max_rel_error", "denom = np.maximum(np.abs(r), floor * np.abs(r).max())",
                 "denom = np.abs(r)", ["compared absolutely"], id="ex08-no-floor"),
    pytest.param("ex08", "max_rel_error", "denom = np.maximum(np.abs(r), floor * np.abs(r).max())",
                 "denom = np.maximum(np.abs(a), floor * np.abs(r).max())", ["reference |r_i|"], id="ex08-divides-by-a"),
    pytest.param("ex08", "max_rel_error", "return float((np.abs(a - r) / denom).max())",
                 "return float((np.abs(a - r) / denom).mean())", ["not the mean"], id="ex08-mean-not-max"),
    pytest.param("ex08", "max_rel_error", "denom = np.maximum(np.abs(r), floor * np.abs(r).max())",
                 "denom = np.maximum(np.abs(r), floor)", ["floor·max|r|, not floor"], id="ex08-absolute-floor"),
    pytest.param("ex08", "first_adjoint_step", "return int(bad[-1]) if bad.size else None",
                 "return int(bad[0]) if bad.size else None", ["reverse time", "LAST t"], id="ex08-first-in-forward-time"),
    pytest.param("ex08", "name_adjoint_term", "        if best is None or left < best[0]:",
                 "        left = -abs(float((rho * T).sum()))\n        if best is None or left < best[0]:",
                 ["residual LEFT", "not by the projection"], id="ex08-ranks-by-projection"),
    pytest.param("ex08", "name_adjoint_term", "            best = (left, name, e + dc)",
                 "            best = (left, name, dc)", ["add refsnn's coefficient e_k back"], id="ex08-forgets-e"),
    pytest.param("ex08", "name_adjoint_term",
                 "rho = np.asarray(lhs, dtype=np.float64) - sum(e * np.asarray(T, dtype=np.float64) for T, e in terms.values())",
                 "rho = np.asarray(lhs, dtype=np.float64)", ["not the left-hand side"], id="ex08-fits-lhs"),


    pytest.param("ex14", "transfer_gradient", "D = 1.0 - mu * sigma * (n - 1)", "D = 1.0 + mu * sigma * (n - 1)",
                 ["μ = -0.4", "μσ(n−1) + 1", "magnitude"], id="ex14-seed-sign"),
    pytest.param("ex14", "transfer_gradient", "D = 1.0 - mu * sigma * (n - 1)", "D = 1.0 - mu * sigma * n",
                 ["n − 1 *other* neurons"], id="ex14-n-not-n-minus-1"),
    pytest.param("ex14", "regulariser", "2.0 * lam * e[:, None] * W", "lam * e[:, None] * W",
                 ["grad", "factor 2"], id="ex14-missing-2"),
    pytest.param("ex14", "regulariser", "np.sum(W ** 2, axis=1)", "np.sum(W ** 2) + 0 * np.sum(W ** 2, axis=1)",
                 ["value", "per neuron"], id="ex14-sum-over-all-weights"),
    pytest.param("ex14", "threshold_regularisation", "np.where(spiked, N, -n_w)", "np.where(spiked, n_w, -N)",
                 ["swapped"], id="ex14-swapped"),
    pytest.param("ex14", "normalise_errors", "g_bar = np.sqrt(np.mean(g ** 2))", "g_bar = np.mean(g)",
                 ["root mean square"], id="ex14-l5-mean-not-rms"),
    pytest.param("ex14", "normalise_errors", "g = 1.0 / v_th", "g = v_th",
                 ["1/V_th"], id="ex14-l5-g-not-inverse"),
    pytest.param("ex14", "max_normalised_loss",
                 "dn[np.arange(B), j_star] -= np.sum(err * o, axis=1) / m[:, 0]", "pass",
                 ["winner", "function of the winner"], id="ex14-l8-no-max-term"),
    pytest.param("ex14", "max_normalised_loss", "    return value, dn / B\n", "    return value, dn\n",
                 ["divide ∂L/∂n by B"], id="ex14-l8-no-batch-mean"),
    pytest.param("ex14", "threshold_regularisation", "scale = np.where(low, 1.0 + (v_th - v_new) / v_th, 1.0)",
                 "scale = np.where(low, 1.0, 1.0)", ["weight scaling"], id="ex14-no-weight-scaling"),


    pytest.param("ex13", "trace_step", "new_v = a * eps_v + x_t", "new_v = eps_v + x_t",
                 ["the leak", "α ε^v_{t−1}"], id="ex13-no-leak"),
    pytest.param("ex13", "trace_step", 'new_v = a * eps_v + x_t[:, None, :] - params["beta"][:, None] * eps_u',
                 "new_v = a * eps_v + x_t[:, None, :]", ["the adaptation component", "−β ε^u_{t−1}"],
                 id="ex13-no-adaptation"),
    pytest.param("ex13", "trace_step", "q = sg_prev[..., None] * eps_v", "q = sg_t[..., None] * eps_v",
                 ["time index of σ'", "σ'_{t−1}"], id="ex13-sg-now"),
    pytest.param("ex13", "factorised_gradient", 'grad += np.einsum("bj,bji->ji", signal[t], e)',
                 'grad += np.einsum("bj,bji->ji", signal[t], eps_v)', ["L_t · e_t"], id="ex13-eps-not-e"),
    pytest.param("ex16", "jump_at_spike", "(current - theta)", "(current - 1.0)", ["J3–J4"],
                 id="ex16-theta-hardcoded"),
    pytest.param("ex16", "jump_at_spike", "(current * lam_v_plus + g) / (current - theta)",
                 "(current * lam_v_plus + g) / current", ["crossing's slope", "I − θ"], id="ex16-no-threshold-term"),
    pytest.param("ex16", "jump_at_spike", "lam_i_minus = lam_i_plus ", "lam_i_minus = 0 * lam_i_plus ",
                 ["J3", "continuous"], id="ex16-lambda-i-reset"),
    pytest.param("ex16", "jump_at_spike", "(current * lam_v_plus + g) / (current - theta)",
                 "(g) / (current - theta)", ["reset term I λ_V^+"], id="ex16-no-reset-term"),
    pytest.param("ex16", "arriving_gradient", "(lam_v_above - lam_i_above)", "(lam_v_above + lam_i_above)",
                 ["minus sign"], id="ex16-plus-lambda-i"),
    pytest.param("ex16", "weight_gradient", "+= -tau_s", "+= tau_s", ["the sign"], id="ex16-sign"),
]


@pytest.mark.parametrize("key, function, old, new, words", MISTAKES)
def test_typical_mistake_is_caught_and_named(tmp_path, key, function, old, new, words):
    source = check.exercise_path(key, solution=True).read_text()
    assert source.count(old) == 1, f"the solution no longer contains {old!r}"
    path = tmp_path / f"{key}_mistake.py"
    path.write_text(source.replace(old, new))
    if key == "ex00":      # its last check trains with the exercise-03 file found next to it
        (tmp_path / "ex03_bptt_by_hand.py").write_text(check.exercise_path("ex03", solution=True).read_text())
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


# ---------------------------------------------------------------------------
# ex00 part 2: the learner's own exercise-03 lif_backward, plugged into training
# ---------------------------------------------------------------------------

EX03_SOL = EXERCISES_DIR / "solutions" / "ex03_bptt_by_hand.py"


def _ex00_with_ex03(tmp_path, ex03_source):
    """ex00's solution next to an ex03 file, as a learner's exercises/ folder holds them."""
    (tmp_path / "ex00_training_step.py").write_text(check.exercise_path("ex00", solution=True).read_text())
    (tmp_path / "ex03_bptt_by_hand.py").write_text(ex03_source)
    return _results("ex00", tmp_path / "ex00_training_step.py")["gradients_with"]


def test_ex00_training_with_a_correct_ex03_matches_refsnn_to_1e_10(tmp_path):
    r = _ex00_with_ex03(tmp_path, EX03_SOL.read_text())
    assert r.passed and r.max_rel_error <= 1e-10, r.line()


@pytest.mark.parametrize("old, new", [
    ('du[t] = p["rho"] * du_next - p["beta"] * dv_next', 'du[t] = p["rho"] * du_next + p["beta"] * dv_next'),
    ("for t in range(T - 1, -1, -1):", "for t in range(T - 1, 0, -1):"),
], ids=["beta-sign", "skips-t0"])
def test_ex00_training_with_a_wrong_ex03_reports_the_first_diverging_step(tmp_path, old, new):
    source = EX03_SOL.read_text()
    assert source.count(old) == 1
    r = _ex00_with_ex03(tmp_path, source.replace(old, new))
    assert not r.passed and not r.not_implemented, r.line()
    assert "first differs from training with refsnn's at step 1 of 6" in r.hint, r.line()
    assert "python exercises/check.py ex03" in r.hint and "after step 1" in r.where, r.line()


def test_ex00_with_an_unfinished_ex03_says_so(tmp_path):
    r = _ex00_with_ex03(tmp_path, (EXERCISES_DIR / "ex03_bptt_by_hand.py").read_text())
    assert not r.passed and "not implemented yet; do exercise 03 first" in r.hint, r.line()


# Exercises 09 (spiking convolution) and 10 (first-spike time): typical mistakes.
MISTAKES_09_10 = [
    pytest.param("ex09", "kernel_gradient",
                 "a = stride * i + r - padding\n                if a < 0 or a >= H:\n                    continue\n"
                 "                for j in range(Wo):\n                    e = stride * j + q - padding\n"
                 "                    if e < 0 or e >= W:",
                 "a = stride * i + r - padding - 1\n                if a < 0 or a >= H:\n                    continue\n"
                 "                for j in range(Wo):\n                    e = stride * j + q - padding - 1\n"
                 "                    if e < 0 or e >= W:",
                 ["padding offset off by one", "s·i + r − p − 1"], id="ex09-padding-offset"),
    pytest.param("ex09", "kernel_gradient",
                 'dW[:, :, r, q] += np.einsum("tbk,tbc->kc", dI[:, :, :, i, j], x[:, :, :, a, e])',
                 'dW[:, :, r, q] += np.einsum("bk,bc->kc", dI[-1, :, :, i, j], x[-1, :, :, a, e])',
                 ["sum over time"], id="ex09-no-time-sum"),
    pytest.param("ex09", "input_gradient",
                 'dx[:, :, :, a, e] += np.einsum("tbk,kc->tbc", dI[:, :, :, i, j], W[:, :, r, q])',
                 'dx[:, :, :, a, e] = np.einsum("tbk,kc->tbc", dI[:, :, :, i, j], W[:, :, r, q])',
                 ["overlapping windows must add"], id="ex09-overwrite"),
    pytest.param("ex09", "input_gradient",
                 'dx[:, :, :, a, e] += np.einsum("tbk,kc->tbc", dI[:, :, :, i, j], W[:, :, r, q])',
                 'dx[:, :, :, a, e] += np.einsum("tbk,kc->tbc", dI[:, :, :, i, j], W[:, :, kh - 1 - r, kw - 1 - q])',
                 ["kernel is flipped"], id="ex09-flipped"),
    pytest.param("ex10", "first_spike_loss",
                 "S_prev = S[t - 1] if t > 0 else np.ones((B, N))", "S_prev = S[t]",
                 ["off by one", "S_{t−1}"], id="ex10-survival-index"),
    pytest.param("ex10", "first_spike_loss",
                 "R = 1.0 + (1.0 - s[t + 1]) * R", "R = 1.0 + R",
                 ["survival factor"], id="ex10-R-factor"),
    pytest.param("ex10", "first_spike_loss",
                 "g = -(p - onehot) / (B * tau)", "g = -(p - onehot) / B",
                 ["1/τ"], id="ex10-no-tau"),
    pytest.param("ex10", "first_spike_loss",
                 "R = 1.0 + (1.0 - s[t + 1]) * R", "R = 1.0 + (1.0 - s[t]) * R",
                 ["index shift in the R recursion", "not s_t"], id="ex10-R-index-early"),
    pytest.param("ex10", "first_spike_loss",
                 "R = 1.0 + (1.0 - s[t + 1]) * R", "R = 1.0 + ((1.0 - s[t + 2]) * R if t + 2 < T else R)",
                 ["index shift in the R recursion", "not s_{t+2}"], id="ex10-R-index-late"),
    pytest.param("ex10", "soft_first_spike_time",
                 "S = np.cumprod(1.0 - s, axis=0)\n    return S.sum(axis=0), S",
                 "S = np.cumprod(1.0 - s, axis=0)\n    return 1.0 + S[:-1].sum(axis=0), S",
                 ["t_f + 1"], id="ex10-t-hat-off-by-one"),
]


@pytest.mark.parametrize("key, function, old, new, words", MISTAKES_09_10)
def test_typical_mistake_is_caught_and_named_09_10(tmp_path, key, function, old, new, words):
    test_typical_mistake_is_caught_and_named(tmp_path, key, function, old, new, words)


def test_exercises_readme_lists_every_exercise():
    """exercises/README.md's table has a row for every exercise file, in order (ex11 and ex12 were missing)."""
    import re
    root = Path(__file__).resolve().parent.parent / "exercises"
    files = sorted(p.name for p in root.glob("ex[0-9][0-9]_*.py"))
    rows = re.findall(r"^\| `(ex\d\d_\w+\.py)` \|", (root / "README.md").read_text(), flags=re.M)
    assert rows == files, f"exercises/README.md table rows {rows} != exercise files {files}"


def test_ex10_first_spike_loss_is_checked_in_isolation(tmp_path):
    """A learner's first_spike_loss that calls their (wrong) soft_first_spike_time still PASSes;
    only soft_first_spike_time FAILs, with its own hint."""
    src = check.exercise_path("ex10", solution=True).read_text()
    old_S = "    S = np.cumprod(1.0 - s, axis=0)                # L2, written out again (checked on its own)\n" \
            "    t_hat = S.sum(axis=0)\n"
    assert src.count(old_S) == 1
    src = src.replace(old_S, "    t_hat, S = soft_first_spike_time(s)\n")
    old_t = "S = np.cumprod(1.0 - s, axis=0)\n    return S.sum(axis=0), S"
    assert src.count(old_t) == 1
    src = src.replace(old_t, "S = np.cumprod(1.0 - s, axis=0)\n    return 1.0 + S[:-1].sum(axis=0), S")
    path = tmp_path / "ex10_first_spike_time.py"
    path.write_text(src)
    res = _results("ex10", path)
    assert not res["soft_first_spike_time"].passed and "t_f + 1" in res["soft_first_spike_time"].hint
    assert res["first_spike_loss"].passed, res["first_spike_loss"].line()
