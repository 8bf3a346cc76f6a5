"""Learning rules for the training loop: full BPTT, truncated BPTT and e-prop.

``refsnn train --rule {bptt,tbptt,eprop}`` picks one. The rules differ in what they
store and in which loss they can use:

=========  ====================================  ===============================  ==================
rule       gradient                              memory                           loss
=========  ====================================  ===============================  ==================
bptt       exact (surrogate) gradient            the whole trajectory, ∝ T        the task's loss
tbptt      windows of K steps, state carried     one window, ∝ K                  local in time
eprop      eligibility traces × L̂_t (online)     state + traces, flat in T        local in time
=========  ====================================  ===============================  ==================

TBPTT and e-prop need ``∂L/∂y_t`` at step t, so they train on a loss that is local in
time: the regression task's per-step MSE (the task's own loss), and for classification
the per-step softmax cross-entropy of the readout membrane averaged over time (the
task's max-over-time cross-entropy is not local: its argmax is known only at the end).
Evaluation always uses the task's own loss and score.

e-prop's hidden-layer gradient is exact only without recurrence (see
:mod:`refsnn.learning.eprop`); on the recurrent regression task it is an
approximation, and :func:`refsnn.learning.eprop.alignment` measures how good.
"""

from __future__ import annotations

import numpy as np

from .._validate import check_positive_int
from . import eprop, tbptt
from ..neurons.network import network_backward, network_forward

__all__ = ["RULES", "FEEDBACK", "check_rule", "local_loss", "rule_gradients", "feedback_matrix", "online_score"]

RULES = ("bptt", "tbptt", "eprop")
FEEDBACK = ("symmetric", "random")


def local_loss(kind, y, T):
    """The per-step loss ``(t, y_t) -> (value, ∂L/∂y_t)`` used by TBPTT and e-prop.

    ``kind`` is ``"regression"`` (``y`` ``(T, B, K)``: the task's MSE, mean over time) or
    ``"classification"`` (``y`` integer labels ``(B,)``: per-step cross-entropy / T).
    """
    if kind == "regression":
        return eprop.step_mse(y, scale=1.0 / T)
    if kind == "classification":
        return eprop.step_cross_entropy(y, scale=1.0 / T)
    raise ValueError(f"rules tbptt and eprop support task kinds 'regression' and 'classification', got {kind!r}")


def _tbptt_loss(step_loss, n_layers):
    """TBPTT's ``loss_fn`` from a per-step loss; ``loss_fn.y_max`` keeps the running
    max over t of the readout membrane (the classifier's score, without a full trajectory)."""
    def loss_fn(trajs, window, counted):
        out = trajs[-1]
        m = out.v.max(axis=0)
        loss_fn.y_max = m if loss_fn.y_max is None else np.maximum(loss_fn.y_max, m)
        dv = np.zeros_like(out.v)
        value = 0.0
        for t in range(counted.start, counted.stop):
            val, g = step_loss(t, out.v[t - window.start])
            value += val
            dv[t - window.start] = g
        ds = [None] * n_layers
        dvs = [None] * n_layers
        dvs[-1] = dv
        return value, ds, dvs

    loss_fn.y_max = None
    return loss_fn


def rule_gradients(rule, task, params, x, y, loss_fn=None, window=50, feedback="symmetric", wrt=None):
    """One batch's loss value, per-layer gradients and readout ``max_t y_t`` (or None).

    ``x`` is ``(T, B, M)`` time-major; ``loss_fn(trajs) -> (value, ds, dv)`` is the task's
    loss (rule ``bptt`` only). ``feedback`` is ``"symmetric"`` or a fixed matrix B.
    ``wrt`` (rule ``bptt``): the parameter names wanted, as for network_backward (the
    others are then not computed); the other rules return all they compute.
    Returns ``(value, grads, trajs_or_None, y_max_or_None)``.
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {', '.join(RULES)}; got {rule!r}")
    net = task.net
    if rule == "bptt":
        trajs = network_forward(net, params, x)
        value, ds, dv = loss_fn(trajs)
        return value, network_backward(trajs, params, ds, dv, wrt=wrt).params, trajs, None
    step_loss = local_loss(task.kind, y, x.shape[0])
    if rule == "tbptt":
        loss_fn = _tbptt_loss(step_loss, len(net.layers))
        res = tbptt.tbptt_gradients(net, params, x, loss_fn, K=window, O=0)
        return res.value, res.grads, None, loss_fn.y_max
    res = eprop.eprop_gradients(net, params, x, step_loss, feedback=feedback, track_max=True)
    return res.value, res.grads, None, res.y_max


def check_rule(rule, task, window=50, feedback="symmetric", train_dynamics=""):
    """Refuse a rule that cannot train ``task`` (ValueError naming the argument).

    ``train_dynamics`` names neuron parameters trained besides W, b, R (if the training
    loop offers that): e-prop's traces cover only W, b and R, so it refuses them."""
    if rule not in RULES:
        raise ValueError(f"rule must be one of {', '.join(RULES)}; got {rule!r}")
    if feedback not in FEEDBACK:
        raise ValueError(f"feedback must be one of {', '.join(FEEDBACK)}; got {feedback!r}")
    check_positive_int("window (TBPTT's K)", window)   # at most 2**63 − 1, as every array index
    if rule != "bptt" and task.kind not in ("regression", "classification"):
        raise ValueError(f"rules tbptt and eprop need a loss local in time; task kind {task.kind!r} has none here")
    if rule == "eprop":
        eprop._two_layers(task.net)
        if train_dynamics:
            raise ValueError(f"e-prop's eligibility traces cover W, b and R only; training {train_dynamics!r} "
                             "needs rule bptt or tbptt")


def feedback_matrix(cfg, task, params):
    """e-prop's B for a run: ``"symmetric"``, or a fixed random matrix drawn from the run's
    seed with the readout's initial weight scale ``w_scale/sqrt(N)`` (so both feedbacks start
    at one size; it depends only on the run's configuration, so a resumed run draws the same B)."""
    if cfg.rule != "eprop" or cfg.feedback == "symmetric":
        return "symmetric"
    init = task.init[-1] if task.init else {}
    scale = float(init.get("w_scale", 1.0)) / np.sqrt(task.net.layers[0].n)
    return eprop.random_feedback(task.net, np.random.default_rng([cfg.seed, 2**21]), scale,
                                 params[0]["W"].dtype)


def online_score(task, y_max, y):
    """The batch score without a stored trajectory: a classifier's max-over-time readout."""
    if task.kind == "classification":
        return float(np.sum(np.argmax(y_max, axis=1) == y))
    return 0.0   # regression reports no running training score
