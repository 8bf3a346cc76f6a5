"""The training rules (refsnn.learning.rules): TBPTT and e-prop in the training loop."""

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest

from refsnn.learning import eprop, rules
from refsnn.neurons.network import network_backward, network_forward, network_init
from refsnn.training import train as T


def _task(name, hidden=10, n=6, steps=None):
    task = T.make_task(name, seed=0, hidden=hidden, small=True)
    sl = slice(0, n)
    x_tr, y_tr = task.x_train[sl], task.y_train[sl]
    if steps:
        x_tr = x_tr[:, :steps]
        y_tr = y_tr[:, :steps] if task.kind == "regression" else y_tr
    return dataclasses.replace(task, x_train=x_tr, y_train=y_tr, x_test=x_tr, y_test=y_tr)


def _batch(task):
    params = network_init(task.net, np.random.default_rng(0), np.float64, task.init)
    x = np.moveaxis(task.x_train, 0, 1).astype(np.float64)
    y = np.moveaxis(task.y_train, 0, 1) if task.kind == "regression" else task.y_train
    return params, x, y


def _rel(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def test_regression_local_loss_is_the_tasks_loss():
    """TBPTT and e-prop train on the regression task's own loss: per-step MSE, mean over
    time. With one window TBPTT is BPTT exactly."""
    task = _task("regression", steps=60)
    params, x, y = _batch(task)
    loss_fn = lambda tr: T._loss(task, tr, y)               # noqa: E731
    v_b, g_b, _, _ = rules.rule_gradients("bptt", task, params, x, y, loss_fn)
    v_t, g_t, _, _ = rules.rule_gradients("tbptt", task, params, x, y, window=len(x))
    assert v_t == pytest.approx(v_b, rel=1e-12)
    for a, b in zip(g_t, g_b):
        for k in ("W", "b", "R"):
            if k in b:
                assert _rel(a[k], b[k]) <= 1e-12, k
    v_e, g_e, _, _ = rules.rule_gradients("eprop", task, params, x, y)
    assert v_e == pytest.approx(v_b, rel=1e-12)
    # the readout's gradient is exact under e-prop; the recurrent hidden layer's is not
    for k in ("W", "b"):
        assert _rel(g_e[1][k], g_b[1][k]) <= 1e-12
    assert _rel(g_e[0]["W"], g_b[0]["W"]) > 1e-6


def test_classification_local_loss_and_tbptt_windows():
    """Randman (non-recurrent hidden layer): TBPTT with one window equals BPTT of the
    per-step cross-entropy, and e-prop equals it too (an exact configuration)."""
    task = _task("randman", n=5)
    params, x, y = _batch(task)
    step = rules.local_loss("classification", y, len(x))
    trajs = network_forward(task.net, params, x)
    dv = np.stack([step(t, trajs[1].v[t])[1] for t in range(len(x))])
    ref = network_backward(trajs, params, None, [None, dv]).params
    _, g_t, _, ymax_t = rules.rule_gradients("tbptt", task, params, x, y, window=len(x))
    _, g_e, _, ymax_e = rules.rule_gradients("eprop", task, params, x, y)
    for g in (g_t, g_e):
        for l in range(2):
            for k in ("W", "b"):
                assert _rel(g[l][k], ref[l][k]) <= 1e-12, (l, k)
    np.testing.assert_allclose(ymax_e, trajs[1].v.max(axis=0), rtol=1e-13)
    _, _, _, ymax_w = rules.rule_gradients("tbptt", task, params, x, y, window=7)
    np.testing.assert_allclose(ymax_w, trajs[1].v.max(axis=0), rtol=1e-13)
    np.testing.assert_allclose(ymax_t, ymax_w, rtol=1e-13)


@pytest.mark.parametrize("rule", ["tbptt", "eprop"])
def test_train_with_a_rule_lowers_the_loss(tmp_path, rule):
    task = _task("regression", hidden=12, n=2, steps=80)
    cfg = T.RunConfig(task="regression", epochs=6, lr=5e-3, batch_size=2, clip=1.0, seed=0, hidden=12,
                      small=True, rule=rule, window=20)
    s = T.train(cfg, str(tmp_path), progress=False, log=lambda *a: None, task=task)
    h = s["history"]["train_loss"]
    assert h[-1] < h[0]
    assert s["run"]["rule"] == rule


def test_random_feedback_is_fixed_by_the_seed():
    task = _task("regression", hidden=8, n=2, steps=20)
    params, _, _ = _batch(task)
    cfg = T.RunConfig(task="regression", epochs=1, lr=1e-3, batch_size=2, clip=1.0, seed=4, hidden=8,
                      small=True, rule="eprop", feedback="random")
    B1 = rules.feedback_matrix(cfg, task, params)
    B2 = rules.feedback_matrix(cfg, task, [{k: v + 1 for k, v in p.items()} for p in params])
    np.testing.assert_array_equal(B1, B2)         # not read off the (trained) parameters
    assert B1.shape == (8, 2)
    assert rules.feedback_matrix(dataclasses.replace(cfg, feedback="symmetric"), task, params) == "symmetric"


def test_check_rule_refuses_bad_values():
    task = _task("regression", hidden=8, n=2, steps=20)
    with pytest.raises(ValueError, match="rule"):
        rules.check_rule("rtrl", task)
    with pytest.raises(ValueError, match="feedback"):
        rules.check_rule("eprop", task, feedback="transpose")
    with pytest.raises(ValueError, match="window"):
        rules.check_rule("tbptt", task, window=0)
    deep = dataclasses.replace(task, net=type(task.net)((task.net.layers[0],)))
    with pytest.raises(ValueError, match="non-spiking"):
        rules.check_rule("eprop", deep)


def _cli(*args):
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    return subprocess.run([sys.executable, "-m", "refsnn", *args], capture_output=True, text=True, env=env)


@pytest.mark.parametrize("args, needle", [
    (["train", "--task", "regression", "--rule", "rtrl"], "invalid choice"),
    (["train", "--task", "regression", "--rule", "tbptt", "--window", "0"], "positive integer"),
    (["train", "--task", "regression", "--rule", "eprop", "--feedback", "transposed"], "invalid choice"),
])
def test_cli_bad_rule_arguments_exit_2(args, needle):
    proc = _cli(*args)
    assert proc.returncode == 2 and needle in proc.stderr
