"""Mutants of the regularisers' partials (refsnn/losses.py, the regulariser block)."""

LOSSES = "refsnn/losses.py"

MUTANTS = [
    ("membrane L1: drop the sign (dv = λ/B)",
     LOSSES,
     "(strength / B * np.sign(traj.v))",
     "(strength / B + 0 * traj.v)"),
    ("membrane L2: drop the factor 2 (dv = λ v/B)",
     LOSSES,
     "(2.0 * strength / B * traj.v)",
     "(strength / B * traj.v)"),
    ("rate regulariser: drop 1/(TB) from ∂L/∂s",
     LOSSES,
     "2.0 * strength * err / (T * B)",
     "2.0 * strength * err"),
    ("rate regulariser: flip the sign of (f − f₀) in ∂L/∂s",
     LOSSES,
     "2.0 * strength * err / (T * B)",
     "-2.0 * strength * err / (T * B)"),
    ("weight decay: gradient λ p/2 instead of λ p",
     LOSSES,
     "grads[k] = (strength * p).astype(p.dtype)",
     "grads[k] = (0.5 * strength * p).astype(p.dtype)"),
]

TESTS = ["tests/test_regularizers.py"]

MUTANTS += [
    ("count logistic: drop the label sign (2y − 1) in ∂L/∂s",
     LOSSES,
     "dn = -gain * sign * np.exp(-np.logaddexp(0.0, z)) / B",
     "dn = -gain * np.exp(-np.logaddexp(0.0, z)) / B"),
]
