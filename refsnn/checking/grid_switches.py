"""Gradcheck family ``lif-switches``: the model switches of :mod:`refsnn.neurons.lif`.

Each switch (see "Switches" in the lif module docstring) is checked against every
reset kind × detach (``post_reset`` against the three kinds it allows; the variants
``athr_zero``, ``athr_detached``, ``refrac1_attached`` against two), with adaptation,
synapse and recurrence turned on in turn, on
the core grid's two-layer problems (:func:`refsnn.checking.verify.make_problem`, with
the switch's LIFConfig fields in every spiking layer) and along both exact routes
(:func:`refsnn.checking.verify.check_point`: the smooth twin to 1e-7, the
piecewise-linear regime exactly). Rows are named ``lif-switches:<switch>/<reset>/...``.

======================  ======================================================================
switch                  what the layers get
======================  ======================================================================
``init_zero``           ``init_spike="zero"``: s_{-1} = 0, no gradient path
``shared``              every per-neuron parameter as a 0-d (shared) array
``athr``                ``adaptive_threshold=True``: A_t = θ + β_a a_t, a_t = ρ_a a_{t−1} +
                        s_{t−1}
``athr_zero``           the adaptive threshold with s_{-1} = 0 and shared β_a, ρ_a (e-prop,
                        Norse)
``athr_detached``       the adaptive threshold with F7's spike detached (``detach_threshold``,
                        Norse's LSNNRecurrentCell) and s_{-1} = 0
``post_reset``          ``membrane_view="post_reset"``, with a membrane loss on every layer on
                        both routes (the probe), so that every layer's v⁺ is differentiated
``refrac``              ``refractory=2``, detached gate (the default)
``refrac_attached``     ``refractory=2, detach_refractory=False``: the gate's gradient path
``refrac1_attached``    the same with n_ref = 1
``rec_delay2``          ``recurrent=True, recurrent_delay=2``: F1' reads s_{t−2} (S6; every row
                        recurrent, whatever the cycled features say)
``all``                 every switch at once (s_{-1} = 0, adaptive threshold, post-reset view,
                        attached refractory gate, shared α, θ, β_a)
======================  ======================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .. import losses as L
from .families import Family
from . import verify

__all__ = ["FAMILY", "SwitchPoint", "SWITCHES", "points", "problem_for", "check"]

# Every per-neuron parameter that any layer may have.
_PER_NEURON = ("b", "alpha", "theta", "gamma", "v_reset", "beta", "rho", "kappa", "lam", "beta_a", "rho_a")

# switch -> (extra LIFConfig fields, names made shared, membrane loss on every layer on both routes)
SWITCHES = {
    "init_zero": (dict(init_spike="zero"), (), False),
    "shared": ({}, _PER_NEURON, False),
    "athr": (dict(adaptive_threshold=True), (), False),
    "athr_zero": (dict(adaptive_threshold=True, init_spike="zero"), ("beta_a", "rho_a"), False),
    "athr_detached": (dict(adaptive_threshold=True, detach_threshold=True, init_spike="zero"), (), False),
    "post_reset": (dict(membrane_view="post_reset"), (), True),
    "refrac": (dict(refractory=2), (), False),
    "refrac_attached": (dict(refractory=2, detach_refractory=False), (), False),
    "refrac1_attached": (dict(refractory=1, detach_refractory=False), (), False),
    "rec_delay2": (dict(recurrent_delay=2), (), False),
    "all": (dict(init_spike="zero", adaptive_threshold=True, membrane_view="post_reset", refractory=2,
                 detach_refractory=False), ("alpha", "theta", "beta_a"), True),
}


@dataclass(frozen=True)
class SwitchPoint:
    """One row: a switch on top of a core configuration (as :class:`verify.GridPoint`)."""

    switch: str
    reset: str
    detach: bool
    adaptation: bool
    synapse: bool
    recurrent: bool
    loss: str

    @property
    def name(self):
        flags = [self.switch, self.reset, "detach" if self.detach else "attach"]
        flags += [f for f, on in (("adapt", self.adaptation), ("syn", self.synapse),
                                  ("rec", self.recurrent)) if on]
        return "/".join(flags + [self.loss])


# (adaptation, synapse, recurrent) cycled over the rows of a switch, so that each
# feature meets every reset kind and both detach settings across the switches.
_FEATURES = ((True, False, True), (False, True, False), (True, True, False), (False, False, True))


def _rows(switch, resets=verify.RESET_KINDS, offset=0):
    out = []
    for i, reset in enumerate(resets):
        for j, detach in enumerate((False, True)):
            k = 2 * i + j + offset
            a, sy, rec = _FEATURES[k % len(_FEATURES)]
            out.append(SwitchPoint(switch, reset, detach, a, sy, rec, L.LOSS_NAMES[k % len(L.LOSS_NAMES)]))
    return out


def points():
    """The family's rows (each switch × reset kind × detach)."""
    return (_rows("init_zero") + _rows("shared", offset=1) + _rows("athr", offset=2)
            + _rows("athr_zero", resets=("subtract", "hard_drop_input"), offset=3)
            + _rows("athr_detached", resets=("subtract", "hard_keep_input"), offset=2)
            + _rows("post_reset", resets=_POST_RESETS, offset=4)
            + _rows("refrac", offset=5) + _rows("refrac_attached", offset=6)
            + _rows("refrac1_attached", resets=("subtract", "hard_drop_input"), offset=7)
            + _rows("all", resets=_POST_RESETS, offset=1)
            + [replace(r, recurrent=True) for r in _rows("rec_delay2", offset=2)])


# hard_drop_input has no post-reset membrane (lif's S4)
_POST_RESETS = ("subtract", "hard_keep_input", "none")


# The rows' problems are a little smaller than the core grid's (T=6, M=3, H=4, K=3), so that
# 60 rows cost about as much as 25 core rows.
SHAPE = dict(T=5, B=2, M=2, H=3, K=2)


def problem_for(point: SwitchPoint, seed=0, sg=None, **shape):
    """The verify problem of ``point``: the core problem with the switch applied."""
    extra, shared, probe = SWITCHES[point.switch]
    return verify.make_problem(point, seed, sg=sg, extra=extra, shared=shared, always_probe=probe,
                               **{**SHAPE, **shape})


def check(point: SwitchPoint, seed=0, rtol=verify.RTOL):
    return verify.check_point(point, seed, rtol, problem=problem_for(point, seed))


FAMILY = Family("lif-switches", points, check)
