"""The adjoints of refsnn.lif against finite differences, along the two exact routes.

Each example draws a grid point (reset kind × detach × adaptation × synapse ×
recurrence × loss), a seed, shapes and a smooth surrogate, builds a two-layer
problem (refsnn.verify.make_problem) and checks every parameter of both layers,
the input and every initial state:

(a) smooth twin: spike = the surrogate's primitive; rtol 1e-7;
(b) piecewise-linear: Heaviside with the true zero derivative, plus a membrane
    probe; rtol 1e-7 on every coordinate whose perturbation flips no spike.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refsnn import verify
from refsnn.surrogates import surrogate

GRID = verify.grid()

points = st.sampled_from(GRID)
seeds = st.integers(0, 2**31 - 1)
# Families whose primitive is smooth (C^∞), so the 4th-order stencil's error
# estimate holds; the kinked families are checked in surrogate mode by the peer test.
smooth_sg = st.builds(
    surrogate,
    st.sampled_from(["sigmoid", "arctan"]),
    st.floats(1.0, 8.0),
)
dims = st.integers(1, 3)


def _report(results):
    return "\n".join(str(r) for r in results if not r.passed)


@settings(max_examples=30)
@given(points, seeds, smooth_sg, st.integers(1, 6), st.integers(1, 3), dims, dims, dims)
def test_smooth_twin_matches_central_differences(point, seed, sg, T, B, M, H, K):
    problem = verify.make_problem(point, seed, sg=sg, T=T, B=B, M=M, H=H, K=K)
    results = verify.check_smooth_twin(problem)
    assert all(r.passed for r in results), f"{point.name}\n" + _report(results)


@settings(max_examples=30)
@given(points, seeds, st.integers(1, 6), st.integers(1, 3), dims, dims, dims)
def test_piecewise_linear_matches_central_differences(point, seed, T, B, M, H, K):
    problem = verify.make_problem(point, seed, T=T, B=B, M=M, H=H, K=K)
    results = verify.check_piecewise(problem)
    assert all(r.passed for r in results), f"{point.name}\n" + _report(results)
    assert sum(r.n_checked for r in results) > 0


@pytest.mark.parametrize("reset", ["subtract", "hard_keep_input", "hard_drop_input", "none"])
@pytest.mark.parametrize("detach", [False, True])
def test_every_reset_and_detach_with_all_features(reset, detach):
    """Deterministic coverage of each reset kind × detach with every feature on, both routes."""
    point = verify.GridPoint(reset, detach, True, True, True, "trace_mse")
    rep = verify.check_point(point, seed=3)
    assert rep.passed, rep
    assert all(n > 0 for n in rep.n_spikes), rep.n_spikes   # every spiking layer fires


def test_piecewise_route_is_not_vacuous():
    """Spikes happen and reset the membrane in the piecewise problems, and the
    checked gradients are not all zero (the membrane probe makes them bite)."""
    point = verify.GridPoint("hard_drop_input", False, True, True, True, "ce_count")
    problem = verify.make_problem(point, seed=0)
    results = verify.check_piecewise(problem)
    assert all(r.passed for r in results)
    assert max(abs(r.analytic) for r in results) > 1e-2
    rep = verify.check_point(point, seed=0)
    assert all(n > 0 for n in rep.n_spikes)


def test_smooth_twin_detects_a_wrong_gradient(monkeypatch):
    """The route fails when the adjoint is wrong: scale one gradient by (1 + 1e-6)."""
    point = verify.GridPoint("subtract", False, True, False, True, "ce_count")
    problem = verify.make_problem(point, seed=1)
    real_backward = verify.network_backward

    def wrong(*args, **kwargs):
        g = real_backward(*args, **kwargs)
        g.params[0]["alpha"] = g.params[0]["alpha"] * (1 + 1e-6)
        return g

    monkeypatch.setattr(verify, "network_backward", wrong)
    results = verify.check_smooth_twin(problem)
    failed = [r.name for r in results if not r.passed]
    assert failed == ["L0.alpha"]
