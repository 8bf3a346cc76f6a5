"""Typical mistakes in exercise 15 (the min-max robustness objective) are caught and named
(the pattern of tests/test_exercises.py, in its own file so the exercise lists merge cleanly).
The solution passing and the stub failing are covered by tests/test_exercises.py, which
runs every exercise the checker discovers."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check = _load(ROOT / "exercises" / "check.py", "exercises_check_robust")

MISTAKES = [
    pytest.param("kl_partials", "dz = p * (logp - logq - kl[:, None])", "dz = p * (logp - logq)",
                 ["missing −KL"], id="ex15-R5-no-minus-kl"),
    pytest.param("kl_partials", "dz = p * (logp - logq - kl[:, None])", "dz = p * (logp - logq + 1)",
                 ["+1", "cancels"], id="ex15-R5-plus-one"),
    pytest.param("kl_partials", "dz_adv = q - p", "dz_adv = p - q", ["∂KL/∂z' has the wrong sign"],
                 id="ex15-R4-sign"),
    pytest.param("kl_partials", "kl = np.sum(p * (logp - logq), axis=1)\n    dz = p",
                 "kl = np.sum(q * (logq - logp), axis=1)\n    dz = p", ["KL(p‖q), not KL(q‖p)"],
                 id="ex15-kl-direction"),
    pytest.param("attack_step", "return np.clip(delta + step_size * np.sign(grad), -eps, eps)",
                 "return delta + step_size * np.sign(grad)", ["projected back into the ball"], id="ex15-no-projection"),
    pytest.param("attack_step", "return np.clip(delta + step_size * np.sign(grad), -eps, eps)",
                 "return np.clip(delta + step_size * grad, -eps, eps)", ["sign of the gradient"], id="ex15-no-sign"),
    pytest.param("attack_step", "return np.clip(delta + step_size * np.sign(grad), -eps, eps)",
                 "return np.clip(delta - step_size * np.sign(grad), -eps, eps)", ["ascends"], id="ex15-descends"),
    pytest.param("outer_logit_partials", "gz_adv = lam * (q - p) / B", "gz_adv = (q - p) / B",
                 ["missing λ"], id="ex15-R8-no-lambda"),
    pytest.param("outer_logit_partials", "gz = ((p - onehot) + lam * p * (logp - logq - kl[:, None])) / B",
                 "gz = (p - onehot) / B", ["missing the KL term"], id="ex15-R8-no-kl-in-clean"),
    pytest.param("outer_logit_partials", "gz_adv = lam * (q - p) / B\n    return",
                 "gz_adv = lam * (q - p)\n    return", ["divide by B"], id="ex15-R8-no-mean"),
    pytest.param("robust_gradient", "dparams = [{k: gc[k] + ga[k] for k in gc}",
                 "dparams = [{k: gc[k] + 0 * ga[k] for k in gc}", ["perturbed pass depends on θ"],
                 id="ex15-R9-no-perturbed-pass"),
    pytest.param("robust_gradient", "np.broadcast_to(g / T, tr[-1].v.shape)",
                 "np.broadcast_to(g, tr[-1].v.shape)", ["dv_t = g/T"], id="ex15-R1-no-1-over-T"),
    pytest.param("robust_gradient", "dx = g.x + g_adv.x", "dx = g.x", ["sum of both input gradients"],
                 id="ex15-dx-one-pass"),
    pytest.param("robust_gradient", "ddelta = g_adv.x.sum(axis=0)", "ddelta = g_adv.x",
                 ["sum over t", "(B, M)"], id="ex15-ddelta-not-summed"),
    pytest.param("robust_gradient", "ddelta = g_adv.x.sum(axis=0)", "ddelta = dx.sum(axis=0)",
                 ["perturbed pass only"], id="ex15-ddelta-both-passes"),
]


@pytest.mark.parametrize("function, old, new, words", MISTAKES)
def test_typical_mistake_is_caught_and_named(tmp_path, function, old, new, words):
    source = check.exercise_path("ex15", solution=True).read_text()
    assert source.count(old) == 1, f"the solution no longer contains {old!r}"
    path = tmp_path / "ex15_mistake.py"
    path.write_text(source.replace(old, new))
    results = {r.function: r for r in check.run("ex15", path)}
    r = results[function]
    assert not r.passed and not r.not_implemented, r.line()
    for word in words:
        assert word in r.hint, f"{word!r} not in the hint: {r.line()}"
    assert all(o.passed for name, o in results.items() if name != function), [o.line() for o in results.values()]
