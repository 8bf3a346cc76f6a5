"""Mutants of truncated BPTT (refsnn/learning/tbptt.py)."""

TB = "refsnn/learning/tbptt.py"

MUTANTS = [
    ("keep only the last window's gradient", TB,
     "grads = g if grads is None else [{k: a[k] + b[k] for k in a} for a, b in zip(grads, g)]",
     "grads = g"),
    ("count every window after the first twice", TB,
     "grads = g if grads is None else [{k: a[k] + b[k] for k in a} for a, b in zip(grads, g)]",
     "grads = g if grads is None else [{k: a[k] + 2 * b[k] for k in a} for a, b in zip(grads, g)]"),
    ("reset the carried state to zero", TB,
     "state = state_at(trajs, nxt - 1 - win.start)    # rule 1: carried, never reset",
     "state = None"),
    ("carry the state one step too late", TB,
     "state = state_at(trajs, nxt - 1 - win.start)    # rule 1: carried, never reset",
     "state = state_at(trajs, nxt - win.start)"),
    ("count the overlap twice", TB,
     "out.append((slice(t0, t1), slice(counted_until, t1)))",
     "out.append((slice(t0, t1), slice(t0, t1)))"),
]

TESTS = ["tests/test_tbptt.py"]
