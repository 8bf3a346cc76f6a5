"""Checks for exercise 05 (Jacobian, spectral radius, critical coupling).

Reference Jacobian: refsnn itself. Take a layer with a synapse, no reset, and
recurrent weights ``R = diag(w)``, whose spike is the straight-through smooth
twin ``s = v − θ + ½``. Then ``I_t = w (v_{t−1} − θ + ½)``, and the one-step map
``(v_{t−1}, c_{t−1}) → (v_t, c_t)`` of ``layer_forward`` is exactly the affine map
of the exercise. Its central differences are J up to round-off, because the
stencil of an affine map is exact. The spectral radius is compared with NumPy's
eigenvalues. The critical coupling is found by bisection on ``ρ(J_refsnn(w)) = 1``.
"""

import numpy as np

from refsnn.lif import LIFConfig, layer_forward
from refsnn.surrogates import surrogate

from .common import RTOL_REF, Fail, call, compare, diagnose, locate, nonfinite_hint, to_array


def refsnn_jacobian(alpha, lam, w):
    """``∂(v_t, c_t)/∂(v_{t−1}, c_{t−1})`` of refsnn's layer, one neuron per broadcast element."""
    alpha, lam, w = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (alpha, lam, w)))
    shape = alpha.shape
    n = max(1, alpha.size)
    cfg = LIFConfig(1, n, surrogate=surrogate("straight_through"), forward="smooth", reset="none",
                    synapse=True, recurrent=True)
    P = {"W": np.zeros((n, 1)), "b": np.zeros(n), "R": np.diag(w.reshape(-1)),
         "alpha": alpha.reshape(-1).copy(), "theta": np.ones(n), "lam": lam.reshape(-1).copy()}
    x = np.zeros((1, 1, 1))
    z0 = {"v": np.full((1, n), 0.3), "c": np.full((1, n), -0.2)}
    J = np.empty((n, 2, 2))
    for j, key in enumerate(("v", "c")):
        hi = {k: a.copy() for k, a in z0.items()}
        lo = {k: a.copy() for k, a in z0.items()}
        hi[key] += 0.5
        lo[key] -= 0.5
        thi, tlo = layer_forward(cfg, P, x, hi), layer_forward(cfg, P, x, lo)
        J[:, 0, j] = thi.v[0, 0] - tlo.v[0, 0]      # (f(z + ½e) − f(z − ½e)) / 1
        J[:, 1, j] = thi.c[0, 0] - tlo.c[0, 0]
    return J.reshape(shape + (2, 2))


def _rho(J):
    return np.abs(np.linalg.eigvals(J)).max(axis=-1)


def refsnn_critical_coupling(tau_m, tau_s, dt):
    """Bisection for ρ(J_refsnn(α, λ, w)) = 1 on 0 < w ≤ 1 (ρ < 1 at w = 0, ρ ≥ 1 at w = 1)."""
    tau_m, tau_s = np.broadcast_arrays(np.asarray(tau_m, float), np.asarray(tau_s, float))
    alpha, lam = np.exp(-dt / tau_m), np.exp(-dt / tau_s)
    lo, hi = np.zeros(alpha.shape), np.ones(alpha.shape)
    assert np.all(_rho(refsnn_jacobian(alpha, lam, hi)) >= 1.0)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        above = _rho(refsnn_jacobian(alpha, lam, mid)) >= 1.0
        hi, lo = np.where(above, mid, hi), np.where(above, lo, mid)
        if np.all(hi - lo <= 1e-15 * np.maximum(hi, 1e-300)):
            break
    return 0.5 * (lo + hi)


# ---------------------------------------------------------------------------


def check_jacobian_linear(fn):
    rng = np.random.default_rng(8)
    cases = [
        (0.9, 0.8, 0.05),
        (rng.uniform(0.5, 1.0, 5), rng.uniform(0.2, 1.0, 5), rng.normal(0.0, 0.3, 5)),
        (rng.uniform(0.5, 1.0, (3, 1)), rng.uniform(0.2, 1.0, 4), -0.4),
    ]
    worst = 0.0
    for alpha, lam, w in cases:
        shape = np.broadcast_shapes(np.shape(alpha), np.shape(lam), np.shape(w))
        got = to_array(call(fn, alpha, lam, w), "J", shape + (2, 2), "(*S, 2, 2)")
        want = refsnn_jacobian(alpha, lam, w)
        err, idx = compare(got, want)
        if err > RTOL_REF:
            a, l, ww = np.broadcast_arrays(*(np.asarray(q, float) for q in (alpha, lam, w)))

            def mat(m00, m01, m10, m11):
                return {"J": np.stack([np.stack([m00, m01], -1), np.stack([m10, m11], -1)], -2)}

            hint = nonfinite_hint(got, "J") or diagnose({"J": got}, [
                ("that is Jᵀ, the matrix of the adjoint recursion. J[i, j] = ∂z_t[i]/∂z_{t−1}[j], rows (v_t, c_t)",
                 lambda: mat(a + ww, ww, l, l)),
                ("∂v_t/∂v_{t−1} = α + w: c_t enters v_t in the same step (F4 adds c_t), and c_t holds w v_{t−1}",
                 lambda: mat(a, l, ww, l)),
                ("that is the system where c_{t−1} drives v_t; in refsnn F4 adds c_t, the current of the same step",
                 lambda: mat(a, np.ones_like(a), ww, l)),
                ("∂v_t/∂c_{t−1} = λ: c_{t−1} reaches v_t through c_t = λ c_{t−1} + …",
                 lambda: mat(a + ww, np.ones_like(a), ww, l)),
            ]) or "substitute c_t = λ c_{t−1} + w v_{t−1} into v_t = α v_{t−1} + c_t, then differentiate"
            raise Fail(hint, err, locate("J", idx))
        worst = max(worst, err)
    return worst, ""


def check_spectral_radius(fn):
    rng = np.random.default_rng(9)
    cases = [
        np.array([[0.5, 10.0], [0.0, 0.5]]),                    # non-normal: ‖J‖₂ ≈ 10, ρ = 0.5
        np.array([[-0.95, 0.0], [0.0, 0.5]]),                   # the dominant eigenvalue is negative
        np.array([[0.6, -0.7], [0.7, 0.6]]),                    # complex pair, |μ| = √0.85
        rng.normal(0.0, 0.6, (4, 2, 2)),
        refsnn_jacobian(rng.uniform(0.5, 1.0, (2, 3)), 0.8, rng.normal(0.0, 0.2, 3)),
        rng.normal(0.0, 0.5, (2, 3, 3)),
    ]
    worst = 0.0
    for i, J in enumerate(cases):
        got = to_array(call(fn, J), "ρ", J.shape[:-2], "the leading shape of J")
        want = _rho(J)
        err, idx = compare(got, want)
        if err > RTOL_REF:
            eig = np.linalg.eigvals(J)
            hint = nonfinite_hint(got, "ρ") or diagnose({"r": got}, [
                ("that is the spectral norm ‖J‖₂ (the largest singular value); ρ is the largest |eigenvalue|",
                 lambda: {"r": np.linalg.norm(J, 2, axis=(-2, -1)) if J.ndim > 2 else np.linalg.norm(J, 2)}),
                ("take the modulus: eigenvalues can be negative or complex, ρ = max |μ_i|",
                 lambda: {"r": eig.real.max(axis=-1)}),
                ("take the modulus of the complex eigenvalue, not its real part: ρ = max |μ_i|",
                 lambda: {"r": np.abs(eig.real).max(axis=-1)}),
                ("the diagonal entries are the eigenvalues only of a triangular matrix",
                 lambda: {"r": np.abs(np.diagonal(J, axis1=-2, axis2=-1)).max(axis=-1)}),
                ("that is the Frobenius norm; ρ is the largest |eigenvalue|",
                 lambda: {"r": np.sqrt((J ** 2).sum(axis=(-2, -1)))}),
            ]) or "ρ(J) = max_i |μ_i| over the eigenvalues μ_i of each matrix (np.linalg.eigvals)"
            raise Fail(hint, err, f"case {i}, matrix {idx}")
        worst = max(worst, err)
    return worst, ""


def check_critical_coupling(fn):
    cases = [(20.0, 5.0, 1.0), (10.0, 10.0, 1.0), (2.0, 3.0, 1.0), (20.0, 5.0, 0.1),
             (np.array([4.0, 50.0, 1.5]), np.array([2.0, 8.0, 30.0]), 1.0)]
    worst = 0.0
    for tm, ts, dt in cases:
        shape = np.broadcast_shapes(np.shape(tm), np.shape(ts))
        got = to_array(call(fn, tm, ts, dt), "w_crit", shape)
        want = refsnn_critical_coupling(tm, ts, dt)
        err, idx = compare(got, want, floor=1e-12)
        if err > 1e-9:
            a, l = np.exp(-dt / np.asarray(tm)), np.exp(-dt / np.asarray(ts))
            hint = nonfinite_hint(got, "w_crit") or diagnose({"w": got}, [
                ("that is the dt → 0 limit, dt²/(τ_m τ_s) (seed 000's W_crit = 1/(τ_m τ_s) in per-step units; "
                 "forward-Euler decays 1 − dt/τ give it too). Solve det(I − J) = 0 exactly, with "
                 "α = e^{−dt/τ_m} and λ = e^{−dt/τ_s}",
                 lambda: {"w": dt ** 2 / (np.asarray(tm) * np.asarray(ts)) + 0 * a}),
                ("that is seed 000's continuous-time W_crit = 1/(τ_m τ_s), which ignores dt. The per-step "
                 "coupling solves det(I − J) = 0 with α = e^{−dt/τ_m}, λ = e^{−dt/τ_s}",
                 lambda: {"w": 1 / (np.asarray(tm) * np.asarray(ts)) + 0 * a}),
                ("(1 + α)(1 + λ) is where an eigenvalue crosses −1 (at w = −(1+α)(1+λ)); the positive critical "
                 "coupling has an eigenvalue at +1", lambda: {"w": (1 + a) * (1 + l)}),
                ("w_crit > 0: an eigenvalue at +1, det(I − J) = 0", lambda: {"w": -(1 - a) * (1 - l)}),
            ]) or "set det(I − J) = 0 with J from jacobian_linear and solve for w"
            raise Fail(hint, err, f"τ_m = {tm}, τ_s = {ts}, dt = {dt}" + (f" at {idx}" if idx else ""))
        worst = max(worst, err)
    return worst, ""


CHECKS = [
    ("jacobian_linear", check_jacobian_linear),
    ("spectral_radius", check_spectral_radius),
    ("critical_coupling", check_critical_coupling),
]
