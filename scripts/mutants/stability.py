"""Mutants of the effective Jacobian J1 (refsnn/neurons/stability.py)."""

STAB = "refsnn/neurons/stability.py"

MUTANTS = [
    ("J1: the hard reset's gate g^m dropped from the leak term",
     STAB,
     "J[..., idx, idx] = alpha * g_m ",
     "J[..., idx, idx] = alpha * (g_m * 0 + 1) "),
    ("J1: the attached reset's −r σ' term dropped",
     STAB,
     "J[..., idx, idx] -= r * sg ",
     "J[..., idx, idx] -= 0 * r * sg "),
    ("J1: recurrence without the gate g^d",
     STAB,
     "J += g_d[..., :, None] * params[\"R\"] * sg[..., None, :]",
     "J += params[\"R\"] * sg[..., None, :]"),
    ("J1: recurrence transposed (R σ' on the wrong side)",
     STAB,
     "J += g_d[..., :, None] * params[\"R\"] * sg[..., None, :]",
     "J += g_d[..., :, None] * params[\"R\"].T * sg[..., None, :]"),
    ("J1: σ' at v_t instead of v_{t−1}",
     STAB,
     "sg = cfg.surrogate.derivative(v_prev - params[\"theta\"])",
     "sg = cfg.surrogate.derivative(traj.v - params[\"theta\"])"),
    ("growth rate: J P instead of Jᵀ P",
     STAB, '"bji,bjk->bik"', '"bij,bjk->bik"'),
]

TESTS = ["tests/test_stability.py"]
