r"""Trainable neuron dynamics: which parameters train, their valid ranges, and the projection.

Seed 002 ("训练具有复杂生物物理特性的神经元模型", "整合生物学约束") asks for a trainable
post-spike reset ("可训练的脉冲后复位电位 … 复位偏移量 r"), trainable thresholds θ
(intrinsic plasticity), and training of the leak α alongside the weights.

The reset offset r is not a new parameter
-----------------------------------------

F4 of :mod:`refsnn.neurons.lif` is ``v_t = m_t + d_t − s̃_{t−1} r_t``: the reset offset
the seed names r *is* the lif docstring's reset amount ``r_t``, and each reset kind
fixes what of it is free:

* soft reset (``subtract``): ``r_t = γ``, a per-neuron constant; training r is training γ;
* hard reset (``hard_*``): ``r_t = m_t (+ d_t) − v_r``, i.e. the membrane is set to the
  reset potential ``v_r`` (the seed's "复位电位"); r is then state-dependent and its one
  free parameter is ``v_r``.

Both already have their gradient, G3: ``∂L/∂γ = −Σ_t δv_t s̃_{t−1}`` and
``∂L/∂v_r = Σ_t δv_t s̃_{t−1}`` (the two are one formula, because ``∂r/∂γ = 1`` and
``∂r/∂v_r = −1``). A separate additive offset on top of γ would be ``γ + r'``, the same
function with a redundant parameter, so refsnn adds none: "a trainable reset" means
training ``gamma`` or ``v_reset``, and both are on the core gradcheck grid (every
row checks every parameter). With a detached reset (``detach_reset=True``) these
gradients are still exact for the detached model: detaching removes the path *through*
``s̃`` (B1's reset term), not the value of ``s̃`` in G3.

Valid ranges and the projection
-------------------------------

After each optimiser step, :func:`project` maps every trained per-neuron parameter
back into its valid set:

=========  ==========================  ============================================
parameter  valid set                   why
=========  ==========================  ============================================
α          [α_min, 1], α_min = 1e-3    a leak: α > 1 makes v grow without input;
                                       lif requires α > 0, so [0, 1] gets a margin
θ          [θ_min, ∞), θ_min = 1e-3    θ > 0; a closed set needs a margin
γ          [0, ∞)                      a reset lowers the membrane (γ < 0 raises it)
v_r        (−∞, θ − m], m = 1e-3       v_r ≥ θ would spike again on every step
β, κ       [0, ∞)                      adaptation opposes firing (β, κ < 0 excites)
ρ, λ       [0, 1]                      decays, as α
W, b, R    unconstrained
=========  ==========================  ============================================

For every parameter but ``v_r`` the set is a box, and elementwise clipping is the
Euclidean projection onto it: the nearest point of the set, and the identity inside it.
``v_r``'s bound depends on θ; :func:`project` clips θ first and then ``v_r`` to
``θ − m`` with the projected θ. That is the Euclidean projection in ``v_r`` for the
given θ (not of the pair (θ, v_r) jointly), and like every row it is idempotent and
the identity on the valid set (``tests/test_trainable_dynamics.py`` checks both).

Projected gradient descent with these sets is the standard way to keep a trained
decay in range; refsnn does not reparametrise (e.g. α = sigmoid(a)), because then the
gradient the oracle reports would no longer be the one of the model's parameters.

How the surrogate scales the θ-gradient
---------------------------------------

G5 reads ``∂L/∂θ = −Σ_t σ'(v_t − θ) δs_t`` (with a refractory period σ' carries the gate
G_t, lif's S5; with an adaptive threshold v_t − θ is v_t − A_t). If the surrogate is multiplied by a gain
g (``surrogate(name, scale, gain=g)``) and δs_t does not itself depend on σ' — one
layer whose spikes reach the loss only directly (``δs_t = a^s_t``: no recurrence, no
adaptation, a detached or no reset) — then ``∂L/∂θ`` is exactly g times the gain-1
value. Otherwise δs_t carries further factors of σ' (through the reset path
``−r δv_{t+1}``, recurrence, or the layers above), and the θ-gradient grows faster than
linearly in g. The slope k of a slope-parametrised surrogate (sigmoid: height k/4)
scales the contribution of a neuron with ``|v_t − θ| ≪ 1/k`` by about k and suppresses
those far from threshold: a steeper surrogate concentrates the θ-gradient on the
neurons near threshold, and a silent neuron far below it gets almost none (Adam rescales
each parameter's step by its own gradient size and so hides the scale, SGD does not).
Notebook 11 shows both numerically and trains θ alone towards a target rate.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DYNAMICS_PARAMS", "ALPHA_MIN", "THETA_MIN", "RESET_MARGIN", "RANGES", "project", "in_range",
           "parse_trainable"]

# Per-neuron parameters that `refsnn train --train-dynamics` may train, in lif.param_names order.
DYNAMICS_PARAMS = ("alpha", "theta", "gamma", "v_reset", "beta", "rho", "kappa", "lam")
ALPHA_MIN = 1e-3
THETA_MIN = 1e-3
RESET_MARGIN = 1e-3

# (low, high) of each box; None is unbounded. v_reset's upper bound is θ − RESET_MARGIN.
RANGES = {
    "alpha": (ALPHA_MIN, 1.0),
    "theta": (THETA_MIN, None),
    "gamma": (0.0, None),
    "v_reset": (None, "theta - RESET_MARGIN"),
    "beta": (0.0, None),
    "rho": (0.0, 1.0),
    "kappa": (0.0, None),
    "lam": (0.0, 1.0),
}


def _clip(a, low, high):
    out = a
    if low is not None:
        out = np.maximum(out, np.asarray(low, dtype=a.dtype))
    if high is not None:
        out = np.minimum(out, np.asarray(high, dtype=a.dtype))
    return out.astype(a.dtype, copy=False)


def project(params: dict) -> dict:
    """One layer's parameters with every constrained entry projected into its valid set.

    Returns a new dict (new arrays for the projected entries; the others are the same
    objects); the input is not modified. Keys that are not per-neuron dynamics (W, b,
    R) pass through.
    """
    if not isinstance(params, dict):
        raise TypeError(f"params must be one layer's dict of arrays, got {type(params).__name__}")
    out = dict(params)
    for name, (low, high) in RANGES.items():
        if name in out and name != "v_reset":
            out[name] = _clip(np.asarray(out[name]), low, high)
    if "v_reset" in out:
        if "theta" not in out:
            raise ValueError("params has v_reset but no theta; v_reset's bound is theta − RESET_MARGIN")
        out["v_reset"] = _clip(np.asarray(out["v_reset"]), None, out["theta"] - RESET_MARGIN)
    return out


def in_range(params: dict) -> bool:
    """True if every constrained entry of one layer's ``params`` lies in its valid set."""
    proj = project(params)
    return all(np.array_equal(proj[k], params[k]) for k in proj)


def parse_trainable(spec) -> tuple:
    """``"theta,alpha"`` (or a sequence of names) -> ``("alpha", "theta")`` in canonical order.

    The empty string means none. Unknown names are an error naming the allowed ones.
    """
    if isinstance(spec, str):
        names = [s.strip() for s in spec.split(",") if s.strip()]
    elif isinstance(spec, (list, tuple)):
        names = list(spec)
    else:
        raise TypeError(f"train_dynamics must be a comma-separated string of names, got {type(spec).__name__}")
    unknown = sorted(set(names) - set(DYNAMICS_PARAMS))
    if unknown:
        raise ValueError(f"train_dynamics: unknown parameters {unknown}; expected some of "
                         f"{', '.join(DYNAMICS_PARAMS)}")
    return tuple(n for n in DYNAMICS_PARAMS if n in names)
