"""How far is the surrogate gradient from the true one? EventProp against BPTT as dt → 0.

Seed 001 calls the surrogate gradient a useful lie. For the current-based LIF network of
:mod:`refsnn.neurons.eventprop` the truth exists: EventProp's G1 is the exact gradient of
the loss of exact spike times. :func:`surrogate_vs_exact` discretises the same network
on refsnn's grid (:func:`refsnn.neurons.eventprop.grid_twin`: refsnn's LIF layer with a
synapse, ``λ = e^{−dt/τ_s}``, ``α = e^{−dt/τ_m}``, weights ``W dt/τ_m``, reset to 0), trains
nothing, and compares the surrogate-gradient BPTT gradient of the *same* loss with the
exact one, for each surrogate and step dt:

* the loss: the first-spike cross-entropy of softmax(−t/τ_0). Continuous: t is the exact
  first spike time (:func:`eventprop.first_spike_loss`, α = 0). Grid: t = dt·t̂ with t̂ refsnn's
  soft first-spike time in steps (:func:`refsnn.losses.first_spike_cross_entropy` with
  temperature τ_0/dt), which equals ``dt`` times the first spike step for Heaviside spikes;
* the gradient: ``dℒ/dW = dℒ/dW_grid · dt/τ_m`` (the chain rule through ``W_grid = W dt/τ_m``),
  both layers' weights flattened into one vector;
* the numbers: the cosine between the two vectors and the relative error
  ``‖g_sur − g_exact‖ / ‖g_exact‖``. ``loss_gap`` is ``|ℒ_grid − ℒ_exact|``: the forward passes
  themselves converge (first order in dt), so what remains at small dt is the lie of σ'.

``benchmarks/bench_eventprop_lie.py`` prints the table; notebook 16 draws it.
"""

from __future__ import annotations

import numpy as np

from .. import losses as L
from ..neurons import eventprop as E
from ..neurons.network import network_backward, network_forward
from ..surrogates import surrogate

__all__ = ["lie_problem", "surrogate_vs_exact", "SURROGATE_SCALES", "TAU0"]

TAU0 = 2.0
# Each family at half, once and twice its default scale (width for triangle/boxcar, steepness otherwise).
SURROGATE_SCALES = {"triangle": (0.5, 1.0, 2.0), "sigmoid": (2.5, 5.0, 10.0), "boxcar": (0.25, 0.5, 1.0),
                    "exponential": (2.5, 5.0, 10.0), "arctan": (1.0, 2.0, 4.0), "superspike": (5.0, 10.0, 20.0)}


def lie_problem(seed=0, B=8, M=4, N1=12, N2=3):
    """A two-layer network in which every output neuron fires in every sample."""
    rng = np.random.default_rng(seed)
    cfg = E.EventPropConfig(10.0, 5.0, 1.0, 30.0)
    for _ in range(100):
        t_in = rng.uniform(0.0, 10.0, (B, M, 1))
        Ws = [rng.normal(1.5, 1.0, (N1, M)), rng.normal(0.6, 0.5, (N2, N1))]
        recs = E.forward(cfg, Ws, t_in)
        if np.isfinite(E.first_spike_times(recs[-1])).all():
            return cfg, Ws, t_in, rng.integers(0, N2, B)
    raise RuntimeError("no draw with every output neuron firing")


def exact(cfg, Ws, t_in, labels, tau0=TAU0):
    """``(ℒ, flat dℒ/dW)`` by EventProp."""
    recs = E.forward(cfg, Ws, t_in, max_spikes_last=1)
    val, g = E.first_spike_loss(E.first_spike_times(recs[-1]), labels, tau0)
    grads, _ = E.backward(cfg, Ws, recs, E.grad_first_spike(recs[-1], g))
    return val, np.concatenate([g.ravel() for g in grads])


def grid(cfg, Ws, t_in, labels, dt, sur, tau0=TAU0):
    """``(ℒ, flat dℒ/dW)`` by refsnn's surrogate-gradient BPTT on the grid twin."""
    net, params, x = E.grid_twin(cfg, Ws, t_in, dt, surrogate=sur)
    trajs = network_forward(net, params, x)
    loss = L.first_spike_cross_entropy(trajs[-1], labels, tau0 / dt)
    g = network_backward(trajs, params, ds=[None] * (len(Ws) - 1) + [loss.ds], wrt={"W"})
    return loss.value, np.concatenate([gl.params["W"].ravel() * dt / cfg.tau_m for gl in g.layers])


def surrogate_vs_exact(dts, scales=None, seed=0, tau0=TAU0, problem=None):
    """Rows ``(family, scale, dt, cosine, relative error, norm ratio ‖g_sur‖/‖g_exact‖, loss_gap)`` over ``scales``
    (default :data:`SURROGATE_SCALES`) and the steps ``dts``."""
    cfg, Ws, t_in, labels = problem or lie_problem(seed)
    val_e, g_e = exact(cfg, Ws, t_in, labels, tau0)
    rows = []
    for fam, ks in (scales or SURROGATE_SCALES).items():
        for k in ks:
            sur = surrogate(fam, k)
            for dt in dts:
                val_g, g_s = grid(cfg, Ws, t_in, labels, dt, sur, tau0)
                cos = float(g_s @ g_e / (np.linalg.norm(g_s) * np.linalg.norm(g_e) + 1e-300))
                rel = float(np.linalg.norm(g_s - g_e) / np.linalg.norm(g_e))
                ratio = float(np.linalg.norm(g_s) / np.linalg.norm(g_e))
                rows.append((fam, k, float(dt), cos, rel, ratio, abs(val_g - val_e)))
    return rows
