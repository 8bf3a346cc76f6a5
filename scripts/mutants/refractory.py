"""Mutants of the refractory gate's gradient (refsnn/neurons/lif.py, S5 and B7), as taught in
notebook 11 and exercise 11. The lif-switches tests (core's), the fused-against-readable tests
and exercise 11's checker, whose reference is refsnn's attached gate, must catch them."""

LIF = "refsnn/neurons/lif.py"

MUTANTS = [
    ("drop the refractory gate's gradient path B7 (δs_t += Σ_k ∂s_{t+k}/∂s_t δs_{t+k})",
     LIF, "ds[t] -= s_hat[t + k] * _gate_but(s_all, t + k, k, n_ref) * ds[t + k]", "pass"),
    ("flip the sign of B7's ∂s_t/∂s_{t−k} = −ŝ_t Π_{j≠k}(1 − s_{t−j})",
     LIF, "ds[t] -= s_hat[t + k] * _gate_but(s_all, t + k, k, n_ref) * ds[t + k]",
     "ds[t] += s_hat[t + k] * _gate_but(s_all, t + k, k, n_ref) * ds[t + k]"),
    ("drop ŝ_t from B7's ∂s_t/∂s_{t−k}",
     LIF, "ds[t] -= s_hat[t + k] * _gate_but(s_all, t + k, k, n_ref) * ds[t + k]",
     "ds[t] -= _gate_but(s_all, t + k, k, n_ref) * ds[t + k]"),
    ("drop the gate G_t from ∂s_t/∂v_t = σ'(v_t − A_t) G_t (S5)",
     LIF, "G = traj.gate if n_ref else 1.0", "G = 1.0"),
]

TESTS = ["tests/test_lif_switches.py", "tests/test_lif_fused.py", "tests/test_exercises.py"]
