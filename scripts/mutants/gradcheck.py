"""Mutants of the finite-difference stencils and the directional screen (refsnn/checking/gradcheck.py)."""

GC = "refsnn/checking/gradcheck.py"

MUTANTS = [
    ("order 6: wrong weight of d_1 (15 → 16)", GC,
     "out[idx] = (15.0 * d1 - 6.0 * diff(2) + diff(3)) / 10.0",
     "out[idx] = (16.0 * d1 - 6.0 * diff(2) + diff(3)) / 10.0"),
    ("order 6: wrong weight of d_2 (6 → 5)", GC,
     "out[idx] = (15.0 * d1 - 6.0 * diff(2) + diff(3)) / 10.0",
     "out[idx] = (15.0 * d1 - 5.0 * diff(2) + diff(3)) / 10.0"),
    ("order 6: drop d_3", GC,
     "out[idx] = (15.0 * d1 - 6.0 * diff(2) + diff(3)) / 10.0",
     "out[idx] = (15.0 * d1 - 6.0 * diff(2)) / 10.0"),
    ("order 4: wrong divisor", GC,
     "out[idx] = (4.0 * d1 - diff(2)) / 3.0",
     "out[idx] = (4.0 * d1 - diff(2)) / 3.1"),
    ("directional order 6: wrong weight", GC,
     "6: (1.5, -0.6, 0.1)}", "6: (1.5, -0.6, 0.11)}"),
    ("directional order 4: wrong weight", GC,
     "4: (4.0 / 3.0, -1.0 / 3.0)", "4: (4.0 / 3.0, -1.1 / 3.0)"),
    ("directional screen that passes every group", GC,
     "if err <= screen * rtol / math.sqrt(G.size):", "if err <= 1e9 * screen * rtol / math.sqrt(G.size):"),
    ("directional weights dropped (large entries swamp small ones)", GC,
     "w = floor / np.maximum(np.abs(a_flat[G]), floor)", "w = np.ones(G.size)"),
    ("directional: inadmissible single entries counted as checked", GC,
     "                n_skip += 1\n", "                n_checked += 1\n"),
]

TESTS = ["tests/test_gradcheck.py"]
