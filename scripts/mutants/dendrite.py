"""Mutants of the two-compartment neuron's adjoints (refsnn/neurons/dendrite.py, DB1-DB2, DG1-DG3)."""

DEN = "refsnn/neurons/dendrite.py"

MUTANTS = [
    ("drop the dendritic surrogate f_d' (DB2: δa = α_d δa_{t+1} + δq)",
     DEN,
     'fprime = cfg.derivative(traj.a - p["theta_d"])',
     'fprime = np.ones_like(traj.a)'),
    ("use the soma's surrogate σ' at the dendrite instead of σ_d' (DB2)",
     DEN,
     'fprime = cfg.derivative(traj.a - p["theta_d"])',
     'fprime = cfg.soma.surrogate.derivative(traj.a - p["theta_d"])'),
    ("drop the branch leak α_d δa_{t+1} (DB2)",
     DEN,
     'nxt = p["alpha_d"] * nxt + drive[t]',
     'nxt = drive[t]'),
    ("drop the coupling c in δq = c δI (DB1)",
     DEN,
     'dq = p["c"] * dI[..., None]',
     'dq = dI[..., None] + 0 * p["c"]'),
    ("flip the sign of ∂L/∂θ_d (DG3)",
     DEN,
     '"theta_d": -np.einsum("tbnk,tbnk->nk", fprime, dq),',
     '"theta_d": np.einsum("tbnk,tbnk->nk", fprime, dq),'),
    ("∂L/∂α_d with a_t instead of a_{t−1} (DG3)",
     DEN,
     '"alpha_d": np.einsum("tbnk,tbnk->nk", da_, a_prev),',
     '"alpha_d": np.einsum("tbnk,tbnk->nk", da_, traj.a),'),
    ("drop α_d in the initial state's gradient δa_{−1} = α_d δa_0",
     DEN,
     'da_init = p["alpha_d"] * da_[0]',
     'da_init = da_[0]'),
    ("drop the direct branch partial a^a_t (DB2)",
     DEN,
     '        drive = drive + a_a',
     '        drive = drive'),
]

TESTS = ["tests/test_dendrite.py"]
