"""Mutants of seed 002 §9's min-max objective (refsnn/learning/robust.py, R4–R9)."""

ROBUST = "refsnn/learning/robust.py"

MUTANTS = [
    ("R5: drop −KL from the clean logits' partial",
     ROBUST,
     "dz = p * (logp - logq - kl[:, None])          # R5",
     "dz = p * (logp - logq)          # R5"),
    ("R4: flip the sign of the perturbed logits' partial",
     ROBUST,
     "dz_adv = q - p                                # R4",
     "dz_adv = p - q                                # R4"),
    ("R8: λ missing from the perturbed partial",
     ROBUST,
     "gz_adv = lam * dkl_adv / B",
     "gz_adv = dkl_adv / B"),
    ("R9: the perturbed pass left out of the parameter gradient",
     ROBUST,
     "dparams = [{k: gc[k] + ga[k] for k in gc}",
     "dparams = [{k: gc[k] + 0 * ga[k] for k in gc}"),
    ("R9: ∂J/∂x without the perturbed pass",
     ROBUST,
     "g.x + dx_adv,",
     "g.x + 0 * dx_adv,"),
    ("R1: the mean readout's partial without 1/T",
     ROBUST,
     "return None, np.ascontiguousarray(full / T)",
     "return None, np.ascontiguousarray(full)"),
]

TESTS = ["tests/test_robust.py"]
