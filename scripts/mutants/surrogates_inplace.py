"""Mutants of the in-place surrogate kernels (refsnn/surrogates.py), which the fused
reverse loop evaluates σ' with: each folds the gain g into its last constant."""

F = "refsnn/surrogates.py"

MUTANTS = [
    ("triangle: the gain not folded in", F, "y *= g / (a * a)", "y *= 1 / (a * a)"),
    ("triangle: divided by a once, not a²", F, "y *= g / (a * a)", "y *= g / a"),
    ("arctan: the gain not folded in", F, "np.divide(g * (0.5 * k), y, out=y)     # g (k/2) / (1 + u^2)",
     "np.divide(0.5 * k, y, out=y)     # g (k/2) / (1 + u^2)"),
    ("sigmoid: the gain not folded in", F, "y *= g * k", "y *= k"),
    ("exponential: the gain not folded in", F, "y *= g * (0.5 * k)                 # g (k/2) exp(−k y)",
     "y *= 0.5 * k                 # g (k/2) exp(−k y)"),
]

TESTS = ["tests/test_surrogates.py"]
