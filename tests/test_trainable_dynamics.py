"""Trainable neuron dynamics: the projection of refsnn.training.constraints, training θ, α
and γ in `refsnn train`, and the surrogate gain's exact scaling of the θ-gradient (G5)."""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refsnn import train as T
from refsnn.lif import LIFConfig, init_params, layer_backward, layer_forward
from refsnn.surrogates import surrogate
from refsnn.training import constraints as C

N = 5


def _layer(draw_values):
    return {"W": np.zeros((N, 2)), "b": draw_values(), "alpha": draw_values(), "theta": draw_values(),
            "gamma": draw_values(), "v_reset": draw_values(), "beta": draw_values(), "rho": draw_values(),
            "kappa": draw_values(), "lam": draw_values()}


@settings(max_examples=60)
@given(st.integers(0, 2**31 - 1), st.floats(0.1, 10.0))
def test_projection_lands_in_range_and_is_idempotent(seed, spread):
    rng = np.random.default_rng(seed)
    p = _layer(lambda: rng.normal(0.0, spread, N))
    q = C.project(p)
    assert C.in_range(q)
    assert np.all((q["alpha"] >= C.ALPHA_MIN) & (q["alpha"] <= 1)) and np.all(q["theta"] >= C.THETA_MIN)
    assert np.all(q["gamma"] >= 0) and np.all(q["v_reset"] <= q["theta"] - C.RESET_MARGIN)
    assert np.all((q["rho"] >= 0) & (q["rho"] <= 1)) and np.all((q["lam"] >= 0) & (q["lam"] <= 1))
    assert np.all(q["beta"] >= 0) and np.all(q["kappa"] >= 0)
    r = C.project(q)
    for k in q:
        np.testing.assert_array_equal(r[k], q[k], err_msg=k)
    np.testing.assert_array_equal(q["b"], p["b"])           # unconstrained entries pass through
    # Box rows are Euclidean projections: inside entries unchanged, outside ones at the bound.
    inside = (p["alpha"] >= C.ALPHA_MIN) & (p["alpha"] <= 1)
    np.testing.assert_array_equal(q["alpha"][inside], p["alpha"][inside])
    np.testing.assert_array_equal(q["alpha"][~inside], np.clip(p["alpha"], C.ALPHA_MIN, 1)[~inside])


@settings(max_examples=40)
@given(st.integers(0, 2**31 - 1), st.sampled_from([np.float32, np.float64]))
def test_projection_is_a_no_op_inside_the_range(seed, dtype):
    rng = np.random.default_rng(seed)
    p = {"W": rng.normal(size=(N, 2)), "b": rng.normal(size=N), "alpha": rng.uniform(C.ALPHA_MIN, 1, N),
         "theta": rng.uniform(0.01, 3, N), "gamma": rng.uniform(0, 2, N), "beta": rng.uniform(0, 1, N),
         "rho": rng.uniform(0, 1, N), "kappa": rng.uniform(0, 2, N), "lam": rng.uniform(0, 1, N)}
    p["v_reset"] = p["theta"] - C.RESET_MARGIN - rng.uniform(0, 2, N)
    p = {k: v.astype(dtype) for k, v in p.items()}
    assert C.in_range(p)
    q = C.project(p)
    for k in p:
        assert q[k].dtype == p[k].dtype
        np.testing.assert_array_equal(q[k], p[k], err_msg=k)


def test_parse_trainable_and_bad_names():
    assert C.parse_trainable("theta, alpha") == ("alpha", "theta")
    assert C.parse_trainable("") == ()
    with pytest.raises(ValueError, match="unknown parameters \\['W'\\]"):
        C.parse_trainable("W,theta")
    with pytest.raises(ValueError, match="v_reset but no theta"):
        C.project({"v_reset": np.zeros(2)})


def _tiny_task():
    task = T.make_task("randman", seed=0, hidden=12, small=True)
    return dataclasses.replace(task, x_train=task.x_train[:64], y_train=task.y_train[:64],
                               x_test=task.x_test[:16], y_test=task.y_test[:16])


def test_train_updates_theta_alpha_gamma_and_keeps_them_in_range(tmp_path):
    cfg = T.RunConfig(task="randman", epochs=1, lr=5e-2, batch_size=16, clip=5.0, seed=1, hidden=12,
                      small=True, train_dynamics="theta,alpha,gamma")
    summary = T.train(cfg, tmp_path / "a", progress=False, log=lambda *a: None, task=_tiny_task())
    plain = dataclasses.replace(cfg, train_dynamics="")
    T.train(plain, tmp_path / "b", progress=False, log=lambda *a: None, task=_tiny_task())
    with np.load(tmp_path / "a" / "checkpoint.npz") as za, np.load(tmp_path / "b" / "checkpoint.npz") as zb:
        for k in ("param/L0.theta", "param/L0.alpha", "param/L0.gamma"):
            assert not np.array_equal(za[k], zb[k]), k            # trained in a, left at init in b
            assert np.all(np.isfinite(za[k]))
        # the untrained run keeps the task's initial values
        np.testing.assert_array_equal(zb["param/L0.theta"], np.ones(12, np.float32))
        assert np.all((za["param/L0.alpha"] >= C.ALPHA_MIN) & (za["param/L0.alpha"] <= 1))
        assert np.all(za["param/L0.theta"] >= C.THETA_MIN) and np.all(za["param/L0.gamma"] >= 0)
        assert "opt/m/L0.theta" in za.files and "opt/m/L0.theta" not in zb.files
    assert set(summary["dynamics"]) == {"L0.alpha", "L0.theta", "L0.gamma", "L1.alpha"}
    assert json.loads(json.dumps(summary))["run"]["train_dynamics"] == "theta,alpha,gamma"


def test_cli_rejects_unknown_dynamics(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "refsnn", "train", "--task", "randman", "--small",
                           "--train-dynamics", "theta,W", "--out", str(tmp_path), "--no-progress"],
                          capture_output=True, text=True, env={**os.environ})
    assert proc.returncode == 2 and "--train-dynamics" in proc.stderr and "Traceback" not in proc.stderr


def _theta_grad(sg, reset="none", detach=False, recurrent=False):
    rng = np.random.default_rng(4)
    cfg = LIFConfig(3, 4, surrogate=sg, reset=reset, detach_reset=detach, recurrent=recurrent)
    p = init_params(cfg, rng, w_scale=1.5)
    x = rng.normal(0.6, 1.0, (8, 2, 3))
    traj = layer_forward(cfg, p, x)
    a_s = rng.normal(size=traj.s.shape)
    return layer_backward(traj, p, ds=a_s).params["theta"]


@pytest.mark.parametrize("reset, detach", [("none", False), ("subtract", True), ("hard_keep_input", True)])
def test_surrogate_gain_scales_the_theta_gradient_exactly(reset, detach):
    """δs_t = a^s_t when no path runs through the spikes, so G5 is linear in σ': gain g gives g×."""
    base = _theta_grad(surrogate("sigmoid", 4.0), reset, detach)
    assert np.max(np.abs(base)) > 1e-3
    for g in (0.5, 3.0):
        np.testing.assert_allclose(_theta_grad(surrogate("sigmoid", 4.0, gain=g), reset, detach), g * base,
                                   rtol=1e-12, atol=1e-15)


def test_gain_scaling_is_not_linear_with_an_attached_reset():
    """With the reset attached δs_t carries −γ δv_{t+1}, itself σ'-weighted: no longer g×."""
    base = _theta_grad(surrogate("sigmoid", 4.0), "subtract", False)
    scaled = _theta_grad(surrogate("sigmoid", 4.0, gain=3.0), "subtract", False)
    assert np.max(np.abs(scaled - 3.0 * base)) > 1e-3 * np.max(np.abs(base))


def test_training_projects_after_every_step(tmp_path):
    """Adam's steps are ≈ lr in size: with lr = 0.5 an unprojected α leaves [α_min, 1] at once.
    The projected run ends with every α in range and some exactly on the bound 1."""
    cfg = T.RunConfig(task="randman", epochs=1, lr=0.5, batch_size=32, clip=5.0, seed=2, hidden=12,
                      small=True, schedule="constant", train_dynamics="alpha,theta")
    task = _tiny_task()
    T.train(cfg, tmp_path, progress=False, log=lambda *a: None, task=task)
    with np.load(tmp_path / "checkpoint.npz") as z:
        alpha = np.concatenate([z["param/L0.alpha"], z["param/L1.alpha"]])
        theta = z["param/L0.theta"]
    assert np.all((alpha >= C.ALPHA_MIN) & (alpha <= 1.0)) and np.any(alpha == 1.0), alpha
    assert np.all(theta >= C.THETA_MIN)


def test_trainable_family_names_the_reset_offset_rows():
    from refsnn.checking import families, trainable_family
    rows = {row: pt for _, pt, row in families.rows(["trainable"])}
    assert "trainable:reset_offset/subtract/detach" in rows and "trainable:reset_offset/hard_drop_input/attach" in rows
    rep = trainable_family.check(rows["trainable:reset_offset/subtract/detach"])
    assert rep.passed and rep.as_dict()["reset"] == "subtract"
