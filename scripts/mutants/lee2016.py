"""Mutants of Lee et al. 2016's gradients (refsnn/learning/lee2016.py): L4, L2–L3, L5–L8."""

LR = "refsnn/learning/lee2016.py"

MUTANTS = [
    ("the seed's literal denominator μσ(n−1) + 1 with the signed μ (L4)",
     LR, "return 1.0 - mu * sigma * (n - 1)", "return 1.0 + mu * sigma * (n - 1)"),
    ("n instead of n − 1 in L4's denominator",
     LR, "return 1.0 - mu * sigma * (n - 1)", "return 1.0 - mu * sigma * n"),
    ("drop 1/V_th,i from the transfer gradient (L4)",
     LR, "return W / (v_th[:, None] * D)", "return W / D"),
    ("drop 1/V_th from the steady-state Jacobian (L3)",
     LR, "J[idx] = np.linalg.solve(_A(idx.size, c), W[idx] / v_th[idx, None])",
     "J[idx] = np.linalg.solve(_A(idx.size, c), W[idx])"),
    ("transposed lateral coupling: A = c I + (1 − c) 𝟏𝟏ᵀ (L3)",
     LR, "return (1.0 - c) * np.eye(n) + c * np.ones((n, n))", "return c * np.eye(n) + (1.0 - c) * np.ones((n, n))"),
    ("drop the factor 2 of the regulariser's gradient (L7)",
     LR, "2.0 * lam * e[:, None] * W", "lam * e[:, None] * W"),
    ("drop λ from the regulariser's gradient (L7)",
     LR, "2.0 * lam * e[:, None] * W", "2.0 * e[:, None] * W"),
    ("flip the sign of α² in the regulariser's exponent (L7)",
     LR, "np.exp(lam * (np.sum(W * W, axis=1) - alpha ** 2))", "np.exp(lam * (np.sum(W * W, axis=1) + alpha ** 2))"),
    ("drop the max's own derivative from ∂L/∂n (L8)",
     LR, "dn[np.arange(B)[has], jstar[has]] -= corr[has]", "pass"),
    ("flip the sign of the exact threshold gradient (∂a/∂V_th = −a/V_th)",
     LR, "g_th = -np.mean(da * counts[l], axis=0) / v_th", "g_th = np.mean(da * counts[l], axis=0) / v_th"),
    ("the seed's threshold update sign, V_th ← V_th − η_th δ â (L6)",
     LR, "g_th = -np.mean(delta * counts[l], axis=0)", "g_th = np.mean(delta * counts[l], axis=0)"),
    ("ḡ as the mean of g instead of its root mean square (L5)",
     LR, "return delta_raw * (g / np.sqrt(np.mean(g * g)))", "return delta_raw * (g / np.mean(g))"),
    ("backpropagate the raw error δa instead of δ (skips the layer's gain 1/(V_th D))",
     LR, "da = delta @ W                           # δa", "da = da @ W                           # δa"),
    ("swap the threshold rule's +ρN and −ρN_w (2.3.2)",
     LR, "np.where(spiked, N, -n_w)", "np.where(spiked, n_w, -N)"),
    ("scale the floored neuron's weights by V_old/V_floor (2.3.2)",
     LR, "1.0 + (v_old - v_new) / v_old", "v_old / v_floor"),
]

TESTS = ["tests/test_lee2016.py"]
