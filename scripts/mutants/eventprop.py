"""Mutants of EventProp's adjoint (refsnn/neurons/eventprop.py): A3–A4, J3–J4, G1–G2, in the
event loop and in the single-spike fast path."""

EP = "refsnn/neurons/eventprop.py"

MUTANTS = [
    ("A3: λ_V does not decay between events",
     EP, "return lV * em, lI_new", "return lV, lI_new"),
    ("A4: drop λ_V's drive of λ_I (τ_m ≠ τ_s)",
     EP, "lI_new = lI * es + lV * cfg.tau_m / (cfg.tau_m - cfg.tau_s) * (em - es)", "lI_new = lI * es"),
    ("A4: drop λ_V's drive of λ_I (τ_m = τ_s)",
     EP, "lI_new = es * (lI + lV * d / cfg.tau_s)", "lI_new = es * lI"),
    ("A4: λ_I decays with τ_m instead of τ_s",
     EP, "lI_new = lI * es + lV", "lI_new = lI * em + lV"),
    ("A4: the drive's prefactor τ_s/(τ_s − τ_m) of the forward instead of τ_m/(τ_m − τ_s)",
     EP, "lV * cfg.tau_m / (cfg.tau_m - cfg.tau_s) * (em - es)", "lV * cfg.tau_s / (cfg.tau_s - cfg.tau_m) * (es - em)"),
    ("J4: drop the reset term I λ_V^+",
     EP, "lV[m] = (Is * lV[m] + g_out[:, :, k][m]) / (Is - th)", "lV[m] = (g_out[:, :, k][m]) / (Is - th)"),
    ("J4: drop the arriving gradient g (∂l/∂t + the layer above)",
     EP, "lV[m] = (Is * lV[m] + g_out[:, :, k][m]) / (Is - th)", "lV[m] = (Is * lV[m]) / (Is - th)"),
    ("J4: the crossing's time derivative τ_m V̇^- = I − θ replaced by I (no threshold term)",
     EP, "lV[m] = (Is * lV[m] + g_out[:, :, k][m]) / (Is - th)", "lV[m] = (Is * lV[m] + g_out[:, :, k][m]) / Is"),
    ("J4: λ_V^+ passes the spike unchanged (no jump at all)",
     EP, "lV[m] = (Is * lV[m] + g_out[:, :, k][m]) / (Is - th)", "lV[m] = lV[m] + g_out[:, :, k][m] / (Is - th)"),
    ("J3: λ_I reset to 0 at the neuron's own spike",
     EP, "lV[m] = (Is * lV[m] + g_out[:, :, k][m]) / (Is - th)",
     "lV[m] = (Is * lV[m] + g_out[:, :, k][m]) / (Is - th); lI[m] = 0.0"),
    ("G1: sign of the weight gradient",
     EP, "-cfg.tau_s * lI[v])", "cfg.tau_s * lI[v])"),
    ("G1: drop τ_s",
     EP, "-cfg.tau_s * lI[v])", "-lI[v])"),
    ("G2: drop λ_I from the input-time gradient",
     EP, "np.sum((lV - lI) * WT[ch_p], axis=1)", "np.sum(lV * WT[ch_p], axis=1)"),
    ("G2: λ_V + λ_I instead of λ_V − λ_I",
     EP, "np.sum((lV - lI) * WT[ch_p], axis=1)", "np.sum((lV + lI) * WT[ch_p], axis=1)"),
    ("fast path J4: no threshold term in the crossing's time derivative",
     EP, "g_out[:, :, 0] / (Is - cfg.theta)", "g_out[:, :, 0] / Is"),
    ("fast path G1: sign",
     EP, "-cfg.tau_s * lI[valid]", "cfg.tau_s * lI[valid]"),
    ("fast path G2: drop λ_I",
     EP, "np.sum((lV - lI) * W.T[ch], axis=2)", "np.sum(lV * W.T[ch], axis=2)"),
    ("fast path A3–A4: λ at the input events taken at the spike (no propagation)",
     EP, "D = np.where(before, ts[:, None, :] - np.where(valid, te, 0.0)[:, :, None], 0.0)", "D = np.zeros(before.shape)"),
]

# The adjoint's central-difference checks (the event loop: multi-spike layers; the fast path: the
# first-spike readout; τ_m = τ_s for A4's second form) and the fast paths against the event loop.
TESTS = ["tests/test_eventprop.py::test_adjoint_matches_central_differences[quadratic/all_spikes]",
         "tests/test_eventprop.py::test_adjoint_matches_central_differences[quadratic/first_spike]",
         "tests/test_eventprop.py::test_adjoint_matches_central_differences[lambert/first_spike]",
         "tests/test_eventprop.py::test_fast_paths_equal_the_event_loop"]
