"""Mutants of the refractory gate's gradient (refsnn/neurons/lif.py, S5 and B7), as taught in
notebook 11 and exercise 11. The lif-switches tests (core's) and exercise 11's checker,
whose reference is refsnn's attached gate, must catch them."""

LIF = "refsnn/neurons/lif.py"

MUTANTS = [
    ("drop the refractory gate's gradient path B7 (δs_t += Σ_k ∂s_{t+k}/∂s_t δs_{t+k})",
     LIF, "ds_t += ds_gate[t + 1]                   # (B7)", "pass  # (B7)"),
    ("flip the sign of B7's ∂s_t/∂s_{t−k} = −ŝ_t Π_{j≠k}(1 − s_{t−j})",
     LIF, "ds_gate[t - k + 1] -= np.multiply(pbuf, ds_t, out=pbuf)",
     "ds_gate[t - k + 1] += np.multiply(pbuf, ds_t, out=pbuf)"),
    ("drop ŝ_t from B7's ∂s_t/∂s_{t−k}",
     LIF, "pbuf *= traj.s_free[t]", "pass"),
    ("drop the gate G_t from ∂s_t/∂v_t = σ'(v_t − A_t) G_t (S5)",
     LIF, "sg *= traj.gate                  # (S5)", "pass                  # (S5)"),
]

TESTS = ["tests/test_lif_switches.py", "tests/test_exercises.py"]
