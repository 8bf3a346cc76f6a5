"""Every loss's returned partial against central differences of its own value.

A loss returns its value and its direct partials (``ds``, ``dv`` on a trajectory, or
``∂L/∂y_t`` for e-prop's per-step losses, or ``∂L/∂S``, ``∂L/∂V`` for compare's
losses). The adjoint tests feed that partial to both sides of their comparison, so a
partial that is wrong by a constant factor (``scale·g`` instead of ``(scale/B)·g``)
cancels there. Here each partial is compared with the derivative of the loss's *own
value*, entry by entry, with a second-order central difference written out below (no
refsnn code on the reference side).

The losses are smooth in the arrays they read (spikes enter as real numbers), except
where noted: ``membrane_cross_entropy(reduce="max")`` is read with its argmax held
(``at``), ``membrane_l1`` away from v = 0. In float64 with h = 1e-6 the central
difference's truncation error is O(h²·f''') ≈ 1e-12 and its round-off ≈ 1e-16·|f|/h ≈
1e-10·|f|; entries are compared to 1e-6 relative of max(|exact|, 1e-3·max|exact|) —
a wrong factor of B = 3 (or any wrong term) is off by far more.
"""

import dataclasses

import numpy as np
import pytest

from refsnn import losses as L
from refsnn.learning import eprop
from refsnn.neurons.lif import LIFConfig, init_params, layer_forward
from refsnn.oracle import compare as C

T, B, N = 5, 3, 4
H = 1e-6
RTOL = 1e-6


def _traj(seed=0, n=N):
    """A float64 trajectory whose s and v are then replaced by random reals (losses read only s, v)."""
    rng = np.random.default_rng(seed)
    cfg = LIFConfig(2, n)
    p = init_params(cfg, rng, np.float64)
    tr = layer_forward(cfg, p, rng.normal(size=(T, B, 2)))
    return dataclasses.replace(tr, s=rng.uniform(0.05, 0.95, (T, B, n)),
                               v=rng.uniform(0.2, 1.5, (T, B, n)) * rng.choice((-1.0, 1.0), (T, B, n)))


def central_differences(value_of, x):
    """``∂ value_of / ∂x`` entry by entry: (f(x + h e_i) − f(x − h e_i)) / 2h."""
    out = np.empty_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += H
        xm[i] -= H
        out[i] = (value_of(xp) - value_of(xm)) / (2 * H)
    return out


def assert_partial(exact, numeric, what):
    exact = np.asarray(exact, np.float64)
    scale = max(float(np.abs(exact).max()), 1e-300)
    err = np.abs(exact - numeric) / np.maximum(np.abs(exact), 1e-3 * scale)
    i = np.unravel_index(int(np.argmax(err)), err.shape)
    assert err.max() <= RTOL, f"{what}: entry {i} is {exact[i]!r}, central differences give {numeric[i]!r}"


LABELS = np.array([0, 3, 1])

# name -> (loss(traj) -> Loss, which variables it reads)
TRAJECTORY_LOSSES = {
    "spike_count_cross_entropy": (lambda tr: L.spike_count_cross_entropy(tr, LABELS), "s"),
    "trace_mse on s": (lambda tr: L.trace_mse(tr, np.full((T, B, N), 0.3), eta=0.8), "s"),
    "trace_mse on v": (lambda tr: L.trace_mse(tr, np.full((T, B, N), 0.3), eta=0.8, on="v"), "v"),
    "membrane_cross_entropy max (argmax held)": (
        lambda tr: L.membrane_cross_entropy(tr, LABELS, at=np.argmax(_traj().v, axis=0)), "v"),
    "membrane_cross_entropy mean": (lambda tr: L.membrane_cross_entropy(tr, LABELS, reduce="mean"), "v"),
    "membrane_rate_loss (B, N)": (lambda tr: L.membrane_rate_loss(tr, np.full((B, N), 0.4)), "v"),
    "membrane_rate_loss (T, B, N)": (lambda tr: L.membrane_rate_loss(tr, np.full((T, B, N), 0.4)), "v"),
    "spike_count_l1": (lambda tr: L.spike_count_l1(tr, 0.7), "s"),
    "spike_count_l2": (lambda tr: L.spike_count_l2(tr, 0.7), "s"),
    "first_spike_cross_entropy": (lambda tr: L.first_spike_cross_entropy(tr, LABELS, tau=0.6), "s"),
    "membrane_l1": (lambda tr: L.membrane_l1(tr, 0.7), "v"),
    "membrane_l2": (lambda tr: L.membrane_l2(tr, 0.7), "v"),
    "firing_rate_regularizer": (lambda tr: L.firing_rate_regularizer(tr, 0.2, 0.7), "s"),
    "first_spike_time_mse": (lambda tr: L.first_spike_time_mse(tr, np.tile([[1.0, 2.5, 0.0, 4.0]], (B, 1))[:, :N]),
                             "s"),
    "first_spike_likelihood": (lambda tr: L.first_spike_likelihood(tr, np.tile([[1, 2, 0, 3]], (B, 1))[:, :N]
                                                                     % T), "s"),
    "combine (ce + l2 + membrane_l2)": (
        lambda tr: L.combine(L.spike_count_cross_entropy(tr, LABELS), L.spike_count_l2(tr, 0.3),
                             L.membrane_l2(tr, 0.2)), "sv"),
}


def test_every_trajectory_loss_is_listed():
    """A new loss in refsnn.losses must be added to this test (the ones that take a trajectory)."""
    import inspect
    names = {n for n, f in vars(L).items() if inspect.isfunction(f) and f.__module__ == L.__name__
             and not n.startswith("_") and "traj" in inspect.signature(f).parameters}
    covered = {k.split(" ")[0] for k in TRAJECTORY_LOSSES} | {"spike_count_logistic"}
    assert names <= covered, names - covered


@pytest.mark.parametrize("name", list(TRAJECTORY_LOSSES))
def test_trajectory_loss_partials_are_derivatives_of_the_value(name):
    fn, reads = TRAJECTORY_LOSSES[name]
    tr = _traj()
    out = fn(tr)
    for var in reads:
        exact = out.ds if var == "s" else out.dv
        assert exact is not None, (name, var)
        numeric = central_differences(lambda a: fn(dataclasses.replace(tr, **{var: a})).value, getattr(tr, var))
        assert_partial(exact, numeric, f"{name}: d{var}")
    for var in "sv":
        if var not in reads:
            assert (out.ds if var == "s" else out.dv) is None, (name, var)


def test_spike_count_logistic_partial():
    tr = _traj(n=1)
    labels = np.array([1, 0, 1])
    fn = lambda t: L.spike_count_logistic(t, labels, threshold=2.0, gain=1.5)   # noqa: E731
    numeric = central_differences(lambda a: fn(dataclasses.replace(tr, s=a)).value, tr.s)
    assert_partial(fn(tr).ds, numeric, "spike_count_logistic: ds")


def test_weight_decay_partial():
    rng = np.random.default_rng(1)
    params = {"W": rng.normal(size=(3, 2)), "b": rng.normal(size=3)}
    out = L.weight_decay(params, 0.3, keys=["W"])
    for k in params:
        numeric = central_differences(lambda a: L.weight_decay(dict(params, **{k: a}), 0.3, keys=["W"]).value,
                                      params[k])
        assert_partial(out.grads[k], numeric, f"weight_decay: {k}") if k == "W" else \
            np.testing.assert_array_equal(out.grads[k], numeric)


# e-prop's per-step readout losses: (value, ∂L/∂y_t) at one step t.

def _readout(seed=2, K=3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(T, B, K))


@pytest.mark.parametrize("scale", [1.0, 0.2])
def test_eprop_step_cross_entropy_partial(scale):
    """Its partial must be (scale/B)·(p − onehot); ``scale·g`` (the B dropped) fails here."""
    y = _readout()
    loss = eprop.step_cross_entropy(np.array([0, 2, 1]), scale=scale)
    for t in (0, T - 1):
        value, g = loss(t, y[t])
        numeric = central_differences(lambda a: loss(t, a)[0], y[t])
        assert_partial(g, numeric, f"step_cross_entropy(scale={scale}) at t={t}")


@pytest.mark.parametrize("scale", [1.0, 0.2])
def test_eprop_step_mse_partial(scale):
    y = _readout()
    loss = eprop.step_mse(_readout(seed=5), scale=scale)
    value, g = loss(1, y[1])
    assert_partial(g, central_differences(lambda a: loss(1, a)[0], y[1]), f"step_mse(scale={scale})")


# compare's losses on the last layer's records: (value, ∂L/∂S, ∂L/∂V).

COMPARE_DATA = {
    "linear": {"probe_s": np.linspace(-1, 1, T * B * N).reshape(T, B, N),
               "probe_v": np.linspace(2, -1, T * B * N).reshape(T, B, N)},
    "ce_count": {"target": LABELS},
    "ce_max_membrane": {"target": LABELS},
    "mse_membrane": {"target": np.full((T, B, N), 0.3)},
    "mse_count": {"target": np.full((B, N), 1.2)},
}


@pytest.mark.parametrize("name", list(C.LOSSES))
def test_compare_loss_partials(name):
    tr = _traj(3)
    S, V = tr.s, tr.v
    fn = C.LOSSES[name][0]
    data = COMPARE_DATA[name]
    value, aS, aV = fn(S, V, data)
    if aS is not None:
        assert_partial(aS, central_differences(lambda a: fn(a, V, data)[0], S), f"{name}: dS")
    if aV is not None:   # (ce_max_membrane: random V has no ties, so the argmax is fixed for h = 1e-6)
        assert_partial(aV, central_differences(lambda a: fn(S, a, data)[0], V), f"{name}: dV")
    assert aS is not None or aV is not None
