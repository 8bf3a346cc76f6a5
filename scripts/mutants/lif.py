"""Mutants of the adaptive-LIF adjoints (refsnn/neurons/lif.py, B1-B4)."""

LIF = "refsnn/neurons/lif.py"

MUTANTS = [
    ("drop −γ·δv_{t+1} (soft reset path, B1)",
     LIF,
     'r_n = gamma_b if cfg.reset == "subtract" else r[t + 1]',
     'r_n = 0 * gamma_b if cfg.reset == "subtract" else r[t + 1]'),
    ("flip sign of −r_{t+1}·δv_{t+1} (reset path of every kind, B1)",
     LIF,
     "np.subtract(a_s_t, np.multiply(r_n, dv_n, out=buf), out=ds_t)",
     "np.add(a_s_t, np.multiply(r_n, dv_n, out=buf), out=ds_t)"),
    ("drop κ·δu_{t+1} (B1)",
     LIF,
     'ds_t += np.multiply(p["kappa"], du_n, out=buf)', "pass"),
    ("flip sign of κ·δu_{t+1} (B1)",
     LIF,
     'ds_t += np.multiply(p["kappa"], du_n, out=buf)', 'ds_t -= np.multiply(p["kappa"], du_n, out=buf)'),
    ("drop the (1 − s_t) gate of the hard reset in δv (B2)",
     LIF,
     "alpha_b if alpha_gm is None else alpha_gm[t + 1]", "alpha_b"),
    ("drop the recurrent term δI_{t+1} R (B1)",
     LIF,
     'ds_t += dc_n @ p["R"]', "pass"),
    ("flip sign of the recurrent term (B1)",
     LIF,
     'ds_t += dc_n @ p["R"]', 'ds_t -= dc_n @ p["R"]'),
    ("flip sign of −β·g^d·δv_{t+1} (B3)",
     LIF,
     'du_t -= np.multiply(p["beta"] if beta_gd is None else beta_gd[t + 1], dv_n, out=buf)',
     'du_t += np.multiply(p["beta"] if beta_gd is None else beta_gd[t + 1], dv_n, out=buf)'),
    ("drop λ·δc_{t+1} (B4)",
     LIF,
     'dc_t += np.multiply(p["lam"], dc_n, out=buf)', "pass"),
    ("a per-neuron parameter laid out as if shared (its first entry for all)", LIF,
     "    if a.ndim == 0 or (a == first).all():\n        return first",
     "    if True:\n        return first"),
]

# The readable loop is the reference of the fused default path: test_lif_fused compares them.
TESTS = ["tests/test_lif_grid.py", "tests/test_surrogate_mode.py", "tests/test_torch_peer.py",
         "tests/test_lif_fused.py"]
