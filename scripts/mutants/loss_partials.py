"""Mutants of the losses' direct partials (refsnn/losses.py, e-prop's per-step losses, compare's
losses): a partial that is wrong by a constant factor cancels in the adjoint tests, which feed the
same partial to both sides; tests/test_loss_partials.py checks each against its own value."""

LS = "refsnn/losses.py"
EP = "refsnn/learning/eprop.py"
CP = "refsnn/oracle/compare.py"

MUTANTS = [
    ("e-prop step_cross_entropy: scale·g instead of (scale/B)·g", EP,
     "(scale * value, (scale / B) * g.astype(Y.dtype))", "(scale * value, scale * g.astype(Y.dtype))"),
    ("e-prop step_mse: the partial without its scale", EP,
     "float(np.sum(err ** 2)) / B, (scale / B) * err)", "float(np.sum(err ** 2)) / B, err / B)"),
    ("spike_count_cross_entropy: the partial not divided by B", LS,
     "    grad_n /= B\n", "    pass\n"),
    ("trace_mse: the trace's leak η dropped from the adjoint", LS,
     "dz_next = err[t] / err.size + eta * dz_next", "dz_next = err[t] / err.size"),
    ("spike_count_l2: 2λn/B without the 2", LS,
     "ds = np.broadcast_to(2.0 * strength * n / B, traj.s.shape)", "ds = np.broadcast_to(strength * n / B, traj.s.shape)"),
    ("firing_rate_regularizer: partial over B only (T dropped)", LS,
     "ds = np.broadcast_to(2.0 * strength * err / (T * B), traj.s.shape)",
     "ds = np.broadcast_to(2.0 * strength * err / B, traj.s.shape)"),
    ("membrane_cross_entropy mean: partial not divided by T", LS,
     "dv = np.broadcast_to(grad_m / T, traj.membrane.shape)", "dv = np.broadcast_to(grad_m, traj.membrane.shape)"),
    ("compare mse_count: the partial's factor 2 dropped", CP,
     "np.broadcast_to(2.0 * diff / diff.size, S.shape)", "np.broadcast_to(diff / diff.size, S.shape)"),
]

TESTS = ["tests/test_loss_partials.py"]
