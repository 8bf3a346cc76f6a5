"""Mutants of refsnn's counterparts of the per-step entries (refsnn/oracle/diagnose.py,
record_adjoints): δv⁺_t = b_t + α δv_{t+1} for a post-reset state, and the spike gradient
without B1's reset path where the recorded spike is not the reset's. Caught by the real
peers' retain_grad recordings and by the planted bugs."""

D = "refsnn/oracle/diagnose.py"

MUTANTS = [
    ("post-reset state: δv⁺_t without the leak α (b_t + δv_{t+1})",
     D, "            M[:-1] = alpha * a[\"dv\"][1:]\n            if a[\"a_v\"] is not None and _post(cfg):",
     "            M[:-1] = a[\"dv\"][1:]\n            if a[\"a_v\"] is not None and _post(cfg):"),
    ("post-reset state: the loss's direct partial b_t left out of δv⁺_t",
     D, "            if a[\"a_v\"] is not None and _post(cfg):\n                M += a[\"a_v\"]",
     "            if a[\"a_v\"] is not None and _post(cfg):\n                M += 0.0"),
    ("post-reset state: δv_t (the charged membrane's adjoint) taken for δv⁺_t",
     D, "        if state_post and cfg.spiking:\n            alpha", "        if False:\n            alpha"),
    ("spike gradient: B1's reset path kept where the recorded spike is not the reset's (SpikingJelly)",
     D, "            out.append((_post(c), recomputed, not (recomputed or prob.preset.startswith(\"spikingjelly.\"))))",
     "            out.append((_post(c), recomputed, not recomputed))"),
    ("spike gradient, post-reset: the P2 part −ρ_t b_t not removed",
     D, "                    b = a[\"a_v\"] if a[\"a_v\"] is not None else 0.0", "                    b = 0.0"),
]

TESTS = ["tests/test_diagnose_peers.py"]
