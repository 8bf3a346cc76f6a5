"""Drop or sign-flip single adjoint terms of refsnn/lif.py and report which tests fail.

Each mutant is applied to a copy of the repository in a temporary folder, and the
gradient tests are run there. A mutant that no test catches is a hole in the suite.
This is a developer tool; it prints a table and exits 1 if any mutant survives.

    python scripts/mutation_check.py [--tests tests/test_lif_grid.py ...]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (name, exact line fragment in refsnn/lif.py, replacement)
MUTANTS = [
    ("drop −γ·δv_{t+1} (soft reset path, B1)",
     'r = np.broadcast_to(p["gamma"], (T, B, N))', 'r = np.zeros((T, B, N), dtype)'),
    ("flip sign of −r·δv_{t+1} (reset path, B1)",
     "ds_t = ds_t - r[t + 1] * dv_n", "ds_t = ds_t + r[t + 1] * dv_n"),
    ("drop κ·δu_{t+1} (B1)",
     'ds_t = ds_t + p["kappa"] * du_n', "ds_t = ds_t"),
    ("flip sign of κ·δu_{t+1} (B1)",
     'ds_t = ds_t + p["kappa"] * du_n', 'ds_t = ds_t - p["kappa"] * du_n'),
    ("drop the (1 − s_t) gate of the hard reset in δv (B2)",
     'alpha_gm = p["alpha"] * g_m', 'alpha_gm = p["alpha"] * np.ones_like(g_m)'),
    ("drop the recurrent term δI_{t+1} R (B1)",
     'ds_t = ds_t + dc_n @ p["R"]', "ds_t = ds_t"),
    ("flip sign of the recurrent term (B1)",
     'ds_t = ds_t + dc_n @ p["R"]', 'ds_t = ds_t - dc_n @ p["R"]'),
    ("flip sign of −β·g^d·δv_{t+1} (B3)",
     'du_t = p["rho"] * du_n - beta_gd[t + 1] * dv_n', 'du_t = p["rho"] * du_n + beta_gd[t + 1] * dv_n'),
    ("drop λ·δc_{t+1} (B4)",
     'dc_t = dc_t + p["lam"] * dc_n', "dc_t = dc_t"),
]

DEFAULT_TESTS = ["tests/test_lif_grid.py", "tests/test_surrogate_mode.py", "tests/test_torch_peer.py"]


def run(tests, mutant=None):
    with tempfile.TemporaryDirectory() as tmp:
        dst = Path(tmp) / "repo"
        shutil.copytree(ROOT, dst, ignore=shutil.ignore_patterns(".git", ".hypothesis", "__pycache__", "*.egg-info"))
        if mutant:
            _, old, new = mutant
            path = dst / "refsnn" / "lif.py"
            src = path.read_text()
            if src.count(old) != 1:
                raise SystemExit(f"mutant {mutant[0]!r}: fragment found {src.count(old)} times, expected once")
            path.write_text(src.replace(old, new))
        env = dict(os.environ, PYTHONPATH=str(dst))
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--tb=no", "-rf", *tests],
            cwd=dst, env=env, capture_output=True, text=True)
    failed = sorted({re.sub(r"\[.*", "", line.split()[1]) for line in proc.stdout.splitlines()
                     if line.startswith("FAILED")})
    return proc.returncode, failed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tests", nargs="+", default=DEFAULT_TESTS)
    args = ap.parse_args()
    code, failed = run(args.tests)
    print(f"unmutated: exit {code}, failing tests: {failed or 'none'}")
    if code != 0:
        return 1
    survivors = 0
    for m in MUTANTS:
        code, failed = run(args.tests, m)
        survivors += code == 0
        print(f"- {m[0]}: {'SURVIVED' if code == 0 else 'caught'} by {len(failed)} test(s)")
        for t in failed:
            print(f"    {t}")
        sys.stdout.flush()
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
