"""Mutants of the adaptive-LIF adjoints of the readable reverse loop (refsnn/neurons/lif.py,
B1-B4 and G2-G5): test_lif_fused holds the readable loop to the fused one, and the gradient
checks hold the fused one to finite differences."""

LIF = "refsnn/neurons/lif.py"

MUTANTS = [
    ("drop −[attached] r_{t+1}·δv_{t+1} (reset path, B1)",
     LIF, "ds[t] -= attached * r[t + 1] * dv[t + 1]", "pass"),
    ("flip sign of −r_{t+1}·δv_{t+1} (B1)",
     LIF, "ds[t] -= attached * r[t + 1] * dv[t + 1]", "ds[t] += attached * r[t + 1] * dv[t + 1]"),
    ("soft reset amount 0 instead of γ (B1)",
     LIF, 'r = steps(np.broadcast_to(p["gamma"], (T, B, N)))', "r = steps(0.0)"),
    ("drop κ·δu_{t+1} (B1)",
     LIF, "ds[t] += kappa * du[t + 1]", "pass"),
    ("flip sign of the recurrent term δI_{t+1} R (B1)",
     LIF, "ds[t] += dI[t + lag] @ R", "ds[t] -= dI[t + lag] @ R"),
    ("drop the gate g^m_{t+1} of α g^m δv_{t+1} (B2)",
     LIF, "alpha * g_m[t + 1] * dv[t + 1]", "alpha * dv[t + 1]"),
    ("g^m_t instead of g^m_{t+1} (B2)",
     LIF, "alpha * g_m[t + 1] * dv[t + 1]", "alpha * g_m[t] * dv[t + 1]"),
    ("flip sign of −β g^d_{t+1} δv_{t+1} (B3)",
     LIF, "- beta * g_d[t + 1] * dv[t + 1]", "+ beta * g_d[t + 1] * dv[t + 1]"),
    ("drop λ·δc_{t+1} (B4)",
     LIF, "dc[t] = g_d[t] * dv[t] + lam * dc[t + 1]", "dc[t] = g_d[t] * dv[t]"),
    ("drop the gate g^d_t of δc_t (B4)",
     LIF, "dc[t] = g_d[t] * dv[t] + lam * dc[t + 1]", "dc[t] = dv[t] + lam * dc[t + 1]"),
    ("∂L/∂α with v_t instead of v_{t−1} (G2)",
     LIF, 'g["alpha"] = total(g_m * dv * steps(v_prev))', 'g["alpha"] = total(g_m * dv * steps(traj.v))'),
    ("∂L/∂γ with the wrong sign (G3)",
     LIF, 'g["gamma"] = -total(dv * steps(s_tilde))', 'g["gamma"] = total(dv * steps(s_tilde))'),
    ("∂L/∂κ with s_t instead of s_{t−1} (G4)",
     LIF, 'g["kappa"] = total(du * steps(s_prev))', 'g["kappa"] = total(du * steps(traj.s))'),
    ("a per-neuron parameter laid out as if shared (its first entry for all), fused loop", LIF,
     "    if a.ndim == 0 or (a == first).all():\n        return first",
     "    if True:\n        return first"),
]

# The readable loop is the reference of the fused default path: test_lif_fused compares them.
TESTS = ["tests/test_lif_grid.py", "tests/test_surrogate_mode.py", "tests/test_torch_peer.py",
         "tests/test_lif_fused.py"]
