"""Mutants that let subnormal floats into the adjoint loops (refsnn/losses.py, refsnn/surrogates.py)."""

MUTANTS = [
    ("no flush in the spike-count softmax partials", "refsnn/losses.py",
     "    _flush_subnormal(grad_n, traj.s.dtype)", "    pass"),
    ("no flush in the membrane softmax partials", "refsnn/losses.py",
     "    _flush_subnormal(grad_m, traj.v.dtype)", "    pass"),
    ("no flush in σ'", "refsnn/surrogates.py",
     "            np.copyto(d, 0.0, where=d < np.finfo(arr.dtype).tiny)", "            pass"),
    ("flush at 1e-20 (changes gradients above 1e-30)", "refsnn/losses.py",
     "    tiny = np.finfo(dtype).tiny", "    tiny = 1e-20"),
]

TESTS = ["tests/test_subnormals.py"]
