"""Mutants of the seed's own first-spike losses (refsnn/losses.py, L5 and L6)."""

LOSSES = "refsnn/losses.py"

MUTANTS = [
    ("L5: sign of (t̂ − t*) flipped",
     LOSSES,
     "ds = (err / B) * first_spike_time_partial(s, S)",
     "ds = (-err / B) * first_spike_time_partial(s, S)"),
    ("L5: 1/B dropped",
     LOSSES,
     "ds = (err / B) * first_spike_time_partial(s, S)",
     "ds = err * first_spike_time_partial(s, S)"),
    ("L6: ∂P/∂s_{t*} = S_{t*} instead of S_{t*−1}",
     LOSSES,
     "dP[tau] = np.where(tau == t_star, S_before,",
     "dP[tau] = np.where(tau == t_star, S_before * (1 - s_star),"),
    ("L6: Q_τ missing from the early-spike partial",
     LOSSES,
     "np.where(tau < t_star, -s_star * S_prev * Q, 0.0))",
     "np.where(tau < t_star, -s_star * S_prev, 0.0))"),
    ("L6: nonzero partial after t*",
     LOSSES,
     "np.where(tau < t_star, -s_star * S_prev * Q, 0.0))",
     "np.where(tau < t_star, -s_star * S_prev * Q, -s_star))"),
    ("L6: ε dropped from the partial's denominator",
     LOSSES,
     "ds = -dP / (B * (P + eps))",
     "ds = -dP / (B * (P + 1e-300))"),
]

TESTS = ["tests/test_first_spike_target.py"]
