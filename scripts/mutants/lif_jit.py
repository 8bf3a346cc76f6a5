"""Mutants of the compiled loops (refsnn/neurons/lif_jit.py, the `fast` extra): one term of
F4, F6, B1, B2, B4, G2, G3, G5 or a surrogate density each. Needs numba installed (without
it the compiled loops never run, and every mutant would survive)."""

F = "refsnn/neurons/lif_jit.py"

MUTANTS = [
    ("flip the reset term s̃ r of F4 (forward)",
     F, "vt = (m + d) - sp * r\n", "vt = (m + d) + sp * r\n"),
    ("drop the drive of the hard reset amount r_d d (F4, forward)",
     F, "r = c_g * gamma[n] + c_h * ((r_m * m + r_d * d) - v_reset[n])",
     "r = c_g * gamma[n] + c_h * ((r_m * m) - v_reset[n])"),
    ("H(0) = 1 tie lost (F6, forward)",
     F, "s[t, b, n] = 1.0 if (vt > theta[n] or (ge and vt == theta[n])) else 0.0",
     "s[t, b, n] = 1.0 if vt > theta[n] else 0.0"),
    ("drop −r_{t+1}·δv_{t+1} (reset path, B1)",
     F, "dst = a_s[t, b, n] - att * r * dvn", "dst = a_s[t, b, n] - 0 * att * r * dvn"),
    ("drop d_{t+1} from r_{t+1} (hard_drop_input, B1)",
     F, "r = c_g * gamma[n] + c_h * ((r_m * m + r_d * I[tn, b, n]) - v_reset[n])",
     "r = c_g * gamma[n] + c_h * ((r_m * m) - v_reset[n])"),
    ("drop the gate g^m_{t+1} in α g^m δv_{t+1} (B2)",
     F, "dvt = (alpha[n] * (one - st * r_m)) * dvn                         # (B2)",
     "dvt = (alpha[n] * one) * dvn"),
    ("drop the loss partial a^v_t (B2)",
     F, "dvt = dvt + a_v[t, b, n]", "dvt = dvt"),
    ("spike recomputed without the H(0) tie (s̃_t in B2)",
     F, "st = one if (vt > theta[n] or (ge and vt == theta[n])) else zero  # s̃_t = s_t (F6)",
     "st = one if vt > theta[n] else zero"),
    ("drop the gate g^d_t of δI_t (B4)",
     F, "dc[t, b, n] = (one - sp * r_d) * dvt", "dc[t, b, n] = dvt"),
    ("drop the gate g^m_t of ∂L/∂α (G2)",
     F, "acc_a[b, n] += ((one - sp * r_m) * dvt) * vp", "acc_a[b, n] += dvt * vp"),
    ("flip ∂L/∂γ, ∂L/∂v_r (G3)",
     F, "acc_r[b, n] += dvt * sp", "acc_r[b, n] -= dvt * sp"),
    ("drop the initial step's σ'δs_{-1} from ∂L/∂θ (G5)",
     F, "- sgds_init.sum(axis=0)", "- 0 * sgds_init.sum(axis=0)"),
    ("drop σ'_{-1}δs_{-1} from δv_{-1} (B2 at t = −1)",
     F, "dv_init[b, n] = (alpha[n] * (one - st * r_m)) * dvn + x", "dv_init[b, n] = (alpha[n] * (one - st * r_m)) * dvn"),
    ("arctan density without the square (σ')",
     F, "return (0.5 * k) / (1.0 + u * u)", "return (0.5 * k) / (1.0 + u)"),
    ("triangle density divided by a once (σ')",
     F, "return (r / a) / a if r > 0.0 else 0.0", "return r / a if r > 0.0 else 0.0"),
    ("sigmoid density without the factor k (σ')",
     F, "return (k * e) / ((1.0 + e) * (1.0 + e))", "return e / ((1.0 + e) * (1.0 + e))"),
    ("surrogate gain lost (σ')",
     F, "d = density(abs(np.float64(x)), k) * gain", "d = density(abs(np.float64(x)), k)"),
    ("no flush of subnormal σ'",
     F, "return d if d >= tiny else 0.0\n", "return d\n"),
]

TESTS = ["tests/test_lif_jit.py", "tests/test_lif_fused.py", "tests/test_surrogate_mode.py"]
