"""Mutants that let subnormal floats into the adjoint loops (refsnn/losses.py,
refsnn/surrogates.py, the fused reverse loop of refsnn/neurons/lif_fused.py)."""

MUTANTS = [
    ("no flush in the spike-count softmax partials", "refsnn/losses.py",
     "    _flush_subnormal(grad_n, traj.s.dtype)", "    pass"),
    ("no flush in the membrane softmax partials", "refsnn/losses.py",
     "    _flush_subnormal(grad_m, traj.v.dtype)", "    pass"),
    ("no flush in σ'", "refsnn/surrogates.py",
     "            np.copyto(d, 0.0, where=d < np.finfo(arr.dtype).tiny)", "            pass"),
    ("flush at 1e-20 (changes gradients above 1e-30)", "refsnn/_numerics.py",
     "    tiny = np.finfo(a.dtype if dtype is None else dtype).tiny", "    tiny = 1e-20"),
    ("no flush of δv_t in the fused loop", "refsnn/neurons/lif_fused.py",
     "            flush_subnormal(dv_t, scratch=fbuf, mask=fmask)", "            pass"),
    ("no flush of δs_t in the fused loop", "refsnn/neurons/lif_fused.py",
     "            flush_subnormal(ds_t, scratch=fbuf, mask=fmask)", "            pass"),
    ("no flush in the in-place σ' (the fused loop's)", "refsnn/surrogates.py",
     "                np.copyto(x, 0.0, where=x < tiny)", "                pass"),
]

TESTS = ["tests/test_subnormals.py", "tests/test_surrogates.py"]
