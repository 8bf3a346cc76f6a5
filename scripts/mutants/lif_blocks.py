"""Mutants of the blocked σ'(v − θ) of refsnn/neurons/lif.py (only active past _SG_BLOCK elements)."""

LIF = "refsnn/neurons/lif.py"

MUTANTS = [
    ("every block reads the first block's membranes", LIF,
     "out[i:i + step] = sur.derivative(v[i:i + step] - (theta[i:i + step] if per_step else theta))",
     "out[i:i + step] = sur.derivative(v[0:len(out[i:i + step])] - (theta[0:len(out[i:i + step])] if per_step else theta))"),
    ("the blocks after the first are not computed", LIF,
     "for i in range(0, v.shape[0], step):",
     "for i in range(0, min(step, v.shape[0]), step):"),
    ("blocks shifted by one step", LIF,
     "out[i:i + step] = sur.derivative(v[i:i + step] - (theta[i:i + step] if per_step else theta))",
     "out[i:i + step] = sur.derivative(v[max(0, i - 1):max(0, i - 1) + len(out[i:i + step])] - (theta[i:i + step] if per_step else theta))"),
]

# test_blocking exercises the default (fused) path; test_lif_fused holds the readable loop, whose
# blocks these mutants change, to the fused one past the threshold.
TESTS = ["tests/test_blocking.py", "tests/test_lif_fused.py"]
