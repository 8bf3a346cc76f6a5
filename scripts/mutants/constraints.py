"""Mutants of the projection of trainable dynamics (refsnn/training/constraints.py) and of its use."""

CON = "refsnn/training/constraints.py"
TRAIN = "refsnn/training/train.py"

MUTANTS = [
    ("α's upper bound dropped (α may exceed 1)",
     CON, '"alpha": (ALPHA_MIN, 1.0),', '"alpha": (ALPHA_MIN, None),'),
    ("θ's lower bound dropped",
     CON, '"theta": (THETA_MIN, None),', '"theta": (None, None),'),
    ("v_reset not projected below θ",
     CON, 'out["v_reset"] = _clip(np.asarray(out["v_reset"]), None, out["theta"] - RESET_MARGIN)', 'pass'),
    ("the training loop does not project",
     TRAIN, "params = [constraints.project(p) for p in _merge(params, new)]", "params = _merge(params, new)"),
    ("the training loop ignores --train-dynamics",
     TRAIN, "keep = _TRAINABLE + constraints.parse_trainable(train_dynamics)", "keep = _TRAINABLE"),
]

TESTS = ["tests/test_trainable_dynamics.py"]
