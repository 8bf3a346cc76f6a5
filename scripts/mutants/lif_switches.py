"""Mutants of the adjoint terms of lif's model switches (S1–S6 of refsnn/neurons/lif.py):
S1 the initial spike, S2 shared parameters, S3 the adaptive threshold (B1's δa term, B6,
G6), S4 the post-reset membrane view (P1, P2, G7), S5 the refractory gate (its factor on
σ', B7), S6 the recurrent delay (B1', G1')."""

LIF = "refsnn/neurons/lif.py"

MUTANTS = [
    # S1
    ("init_spike='zero' keeps the σ'(v_{-1} − A_{-1}) path of s_{-1} (S1, B2 and G5 at t = −1)",
     LIF, 'from_v0 = cfg.init_spike == "from_v0"', "from_v0 = True"),
    # S2
    ("a shared parameter's gradient is the mean, not the sum, over neurons (S2)",
     LIF, "grad = grad.sum()", "grad = grad.mean()"),
    # S3
    ("drop δa_{t+1} from δs_t (B1, F7's term)",
     LIF, "ds_t += da_n                         # (B1) + δa_{t+1}, from F7", "pass"),
    ("detach_threshold ignored: δa_{t+1} kept in δs_t (B1)",
     LIF, "if athr and not cfg.detach_threshold:", "if athr:"),
    ("flip sign of −β_a σ' δs_t (B6)",
     LIF, 'da_t -= np.multiply(p["beta_a"], np.multiply(sg[t] if now else sg_init, ds_t, out=buf), out=buf)',
     'da_t += np.multiply(p["beta_a"], np.multiply(sg[t] if now else sg_init, ds_t, out=buf), out=buf)'),
    ("drop ρ_a δa_{t+1} (B6)",
     LIF, 'np.multiply(p["rho_a"], da_n, out=da_t)', "da_t[...] = 0"),
    ("σ' at v − θ instead of v − A_t (B2, B6, G5, G6)",
     LIF, 'sg = _surrogate_derivative(cfg.surrogate, traj.v, p["theta"] + p["beta_a"] * traj.a if athr else p["theta"])',
     'sg = _surrogate_derivative(cfg.surrogate, traj.v, p["theta"])'),
    ("σ'(v_{-1} − θ) instead of σ'(v_{-1} − A_{-1}) at t = −1 (S3 with S1)",
     LIF, 'A_init = p["theta"] + p["beta_a"] * traj.state0["a"] if athr else p["theta"]\n        sg_init',
     'A_init = p["theta"]\n        sg_init'),
    ("drop the t = −1 term of ∂L/∂β_a (G6)",
     LIF, 'g["beta_a"] = g["beta_a"] - (sg_init * ds_init * traj.state0["a"]).sum(axis=0)',
     'g["beta_a"] = g["beta_a"]'),
    ("∂L/∂ρ_a with a_t instead of a_{t−1} (G6)",
     LIF, 'g["rho_a"] = _sum_tb(da_ * traj.prev("a"))', 'g["rho_a"] = _sum_tb(da_ * traj.a)'),
    # S4
    ("drop the (1 − s̃_t) gate of a post-reset loss on v_t (P1, hard_keep_input)",
     LIF, "a_v = (1.0 - sr) * b", "a_v = b"),
    ("drop −(γ/α) b_t from a^s_t (P2, subtract)",
     LIF, 'a_s = a_s - (p["gamma"] / p["alpha"]) * b', "a_s = a_s"),
    ("flip sign of −(v_t − v_r/α) b_t in a^s_t (P2, hard_keep_input)",
     LIF, 'a_s = a_s - (traj.v - p["v_reset"] / p["alpha"]) * b',
     'a_s = a_s + (traj.v - p["v_reset"] / p["alpha"]) * b'),
    ("P2 applied with a detached reset too",
     LIF, "attached = not cfg.detach_reset", "attached = True"),
    ("drop the post-reset term of ∂L/∂γ (G7)",
     LIF, 'g["gamma"] = -sb / p["alpha"]', 'g["gamma"] = 0 * sb'),
    ("drop the post-reset term of ∂L/∂α, subtract (G7)",
     LIF, 'g["alpha"] = sb * p["gamma"] / p["alpha"] ** 2', 'g["alpha"] = 0 * sb'),
    ("∂L/∂v_r's post-reset term without 1/α (G7)",
     LIF, 'g["v_reset"] = sb / p["alpha"]', 'g["v_reset"] = sb'),
    ("drop the post-reset term of ∂L/∂α, hard_keep_input (G7)",
     LIF, 'g["alpha"] = -sb * p["v_reset"] / p["alpha"] ** 2', 'g["alpha"] = 0 * sb'),
    # S5
    ("σ' without the refractory gate G_t (S5)",
     LIF, "sg *= traj.gate ", "pass "),
    ("drop the attached gate's terms from δs_t (B7)",
     LIF, "ds_t += ds_gate[t + 1]", "pass"),
    ("flip sign of −ŝ_t Π_{j≠k}(1 − s_{t−j}) δs_t (B7)",
     LIF, "ds_gate[t - k + 1] -= np.multiply(pbuf, ds_t, out=pbuf)",
     "ds_gate[t - k + 1] += np.multiply(pbuf, ds_t, out=pbuf)"),
    ("B7 with Π over all k (j = k not left out)",
     LIF, "out=pbuf, skip=k)", "out=pbuf, skip=None)"),
    ("B7 with the gated s_t instead of ŝ_t",
     LIF, "pbuf *= traj.s_free[t]", "pbuf *= traj.s[t]"),
    ("B7 without the path to s_{-1}",
     LIF, "if t - k >= -1:", "if t - k >= 0:"),
    # S6
    ("recurrent_delay=2: δI_{t+1} R instead of δI_{t+2} R (B1')",
     LIF, 'ds_t += dc_[t + 2] @ p["R"]', 'ds_t += dc_[t + 1] @ p["R"]'),
    ("recurrent_delay=2: the B1' term dropped at t = −1 (the path of s_{-1} to I_1)",
     LIF, "if cfg.recurrent and cfg.recurrent_delay == 2 and t + 2 < T:",
     "if cfg.recurrent and cfg.recurrent_delay == 2 and t + 2 < T and t >= 0:"),
    ("recurrent_delay=2: ∂L/∂R with s_{t−1} instead of s_{t−2} (G1')",
     LIF, "s_rec = (s_prev if cfg.recurrent_delay == 1 else traj.recurrent_spikes()) if cfg.recurrent else None",
     "s_rec = s_prev if cfg.recurrent else None"),
]

TESTS = ["tests/test_lif_switches.py",
         "tests/test_torch_peer.py::test_switch_rows_match_torch",
         "tests/test_torch_peer.py::test_sampled_switch_problems_match_torch"]
