"""Mutants of the blocked σ'_t of the fused loop (refsnn/neurons/lif_fused.py; only active
past SG_BLOCK elements)."""

F = "refsnn/neurons/lif_fused.py"

MUTANTS = [
    ("every block reads the first block's membranes", F,
     "sg_blk = np.subtract(v[sg_lo:t + 1], theta, out=sg_buf[:n_blk])",
     "sg_blk = np.subtract(v[0:n_blk], theta, out=sg_buf[:n_blk])"),
    ("the refractory gate of a block read from the first steps (blocking offset, S5)", F,
     "sg_blk *= traj.gate[sg_lo:t + 1]", "sg_blk *= traj.gate[:n_blk]"),
    ("blocks shifted by one step", F,
     "sg_blk = np.subtract(v[sg_lo:t + 1], theta, out=sg_buf[:n_blk])",
     "sg_blk = np.subtract(v[max(0, sg_lo - 1):max(0, sg_lo - 1) + n_blk], theta, out=sg_buf[:n_blk])"),
]

# test_blocking exercises the default (fused) path against unblocked per-sample runs;
# test_lif_fused holds it to the readable loop (which does not block) past the threshold.
TESTS = ["tests/test_blocking.py", "tests/test_lif_fused.py"]
