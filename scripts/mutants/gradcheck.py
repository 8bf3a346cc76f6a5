"""Mutants of the finite-difference stencils and the directional screen (refsnn/checking/gradcheck.py),
and of verify.check_route, the finite-difference step every gradcheck family shares."""

GC = "refsnn/checking/gradcheck.py"
VF = "refsnn/checking/verify.py"

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
    ("directional screen threshold screen·rtol·√G instead of screen·rtol/√G", GC,
     "if err <= screen * rtol / math.sqrt(G.size):", "if err <= screen * rtol * math.sqrt(G.size):"),
    ("directional weights dropped (large entries swamp small ones)", GC,
     "w = floor / np.maximum(np.abs(a_flat[G]), floor)", "w = np.ones(G.size)"),
    ("directional: inadmissible single entries counted as checked", GC,
     "                n_skip += 1\n", "                n_checked += 1\n"),
    ("check_route: --exhaustive ignored (always directional)", VF,
     "    if _directional(directional):\n", "    if True:\n"),
    ("check_route: never directional (the default screen lost)", VF,
     "    if _directional(directional):\n", "    if False:\n"),
    ("check_route --exhaustive: the flip scan stops at ±eps (±2eps flips missed)", VF,
     "for k in range(1, len(_STENCIL[order]) + 1) for s in (1, -1))",
     "for k in range(1, 2) for s in (1, -1))"),
    ("check_route --exhaustive: a flipping entry is not skipped", VF,
     "mask[idx] = False", "pass"),
    ("check_route directional: the smooth route's masks dropped", VF,
     "seed=seed, with_ok=with_ok, masks=masks)", "seed=seed, with_ok=with_ok)"),
    ("spikes_unchanged: every perturbation admissible", VF,
     "return all(np.array_equal(s0, s) for s0, s in zip(nominal, spikes))", "return True"),
]

TESTS = ["tests/test_gradcheck.py", "tests/test_gradcheck_routes.py"]
