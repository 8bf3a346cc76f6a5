"""Mutants of the fused reverse loop (refsnn/neurons/lif_fused.py), the default path of
layer_backward: the same terms as scripts/mutants/lif.py, plus the blocking of σ'."""

F = "refsnn/neurons/lif_fused.py"

MUTANTS = [
    ("drop −r_{t+1}·δv_{t+1} (reset path, B1)",
     F, "np.subtract(a_s_t, np.multiply(r_at(t + 1), dv_n, out=buf), out=ds_t)", "np.copyto(ds_t, a_s_t)"),
    ("drop κ·δu_{t+1} (B1)",
     F, 'ds_t += np.multiply(rows["kappa"], du_n, out=buf)', "pass"),
    ("flip the recurrent term δI_{t+1} R (B1)",
     F, 'ds_t += dc_n @ p["R"]', 'ds_t -= dc_n @ p["R"]'),
    ("drop the gate g^m_{t+1} in α g^m δv_{t+1} (B2)",
     F, "g_m_n = 1.0 - sr_at(t + 1) * r_m", "g_m_n = 1.0 + 0 * sr_at(t + 1)"),
    ("σ' of the wrong step inside a block (blocking offset, B2)",
     F, "sg_t = sg_blk[t - sg_lo]", "sg_t = sg_blk[max(t - sg_lo - 1, 0)]"),
    ("flip −β·δv_{t+1} (B3)",
     F, 'du_t -= np.multiply(rows["beta"], dv_n, out=buf)', 'du_t += np.multiply(rows["beta"], dv_n, out=buf)'),
    ("drop λ·δc_{t+1} (B4)",
     F, 'dc_t += np.multiply(rows["lam"], dc_n, out=buf)', "pass"),
    ("drop the gate g^m_t of ∂L/∂α (G2)",
     F, "g_m_t = 1.0 - sr_at(t) * r_m", "g_m_t = 1.0 + 0 * sr_at(t)"),
    ("drop the initial step's σ'δs_{-1} from ∂L/∂θ (G5)",
     F, "- sg_init_ds.sum(axis=0)", "- 0 * sg_init_ds.sum(axis=0)"),
    ("wrt: the θ sum skipped when it is wanted (G5)",
     F, '                if want["theta"]:', '                if not want["theta"]:'),
    ("wrt: the reset sum skipped when it is wanted (G3)",
     F, 'reset_sum = cfg.reset != "none" and want["reset"]', 'reset_sum = cfg.reset != "none" and not want["reset"]'),
    ("α's sum pairs δv_t with v_t, not v_{t−1} (G2)",
     F, 'acc["alpha"] += np.multiply(dv_t, prev(v, v0, t), out=buf)', 'acc["alpha"] += np.multiply(dv_t, v[t], out=buf)'),
    ("the reset's sum pairs δv_t with s̃_t, not s̃_{t−1} (G3)",
     F, 'acc["reset"] += np.multiply(dv_t, sr_at(t), out=buf)', 'acc["reset"] += np.multiply(dv_t, sr_at(t + 1), out=buf)'),
    ("wrt: the dynamics' gradients ignore wrt",
     "refsnn/neurons/lif.py", "    names = [k for k in dynamics_param_names(cfg) if need is None or k in need]",
     "    names = list(dynamics_param_names(cfg))"),
    ("the plain G sums pair X_t with Y_t, not Y_{t−1} (G2–G4)",
     F, "out += _dot_tb(X[1:], Y[:-1])", "out += _dot_tb(X[1:], Y[1:])"),
    ("the plain G sums drop step 0's X_0 Y_{−1} (G2–G4)",
     F, "out = _dot_tb(X[:1], Y0[None])", "out = 0 * _dot_tb(X[:1], Y0[None])"),
    ("scratch: the fused loop writes δs over a caller's ds",
     "refsnn/neurons/lif.py", "a_s_scratch=ds is None or ds_scratch)", "a_s_scratch=True)"),
    ("scratch: network_backward lends the caller's ds of the top layer",
     "refsnn/neurons/network.py", "ds_scratch=from_above is not None)", "ds_scratch=True)"),
]

TESTS = ["tests/test_lif_grid.py", "tests/test_surrogate_mode.py", "tests/test_lif_fused.py"]
