"""Drop or sign-flip single adjoint terms of refsnn/neurons/lif.py and report which tests fail.

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

# (name, exact line fragment in refsnn/neurons/lif.py, replacement)
MUTANTS = [
    ("drop −γ·δv_{t+1} (soft reset path, B1)",
     'r_n = gamma_b if cfg.reset == "subtract" else r[t + 1]',
     'r_n = 0 * gamma_b if cfg.reset == "subtract" else r[t + 1]'),
    ("flip sign of −r_{t+1}·δv_{t+1} (reset path of every kind, B1)",
     "np.subtract(a_s_t, np.multiply(r_n, dv_n, out=buf), out=ds_t)",
     "np.add(a_s_t, np.multiply(r_n, dv_n, out=buf), out=ds_t)"),
    ("drop κ·δu_{t+1} (B1)",
     'ds_t += np.multiply(p["kappa"], du_n, out=buf)', "pass"),
    ("flip sign of κ·δu_{t+1} (B1)",
     'ds_t += np.multiply(p["kappa"], du_n, out=buf)', 'ds_t -= np.multiply(p["kappa"], du_n, out=buf)'),
    ("drop the (1 − s_t) gate of the hard reset in δv (B2)",
     "alpha_b if alpha_gm is None else alpha_gm[t + 1]", "alpha_b"),
    ("drop the recurrent term δI_{t+1} R (B1)",
     'ds_t += dc_n @ p["R"]', "pass"),
    ("flip sign of the recurrent term (B1)",
     'ds_t += dc_n @ p["R"]', 'ds_t -= dc_n @ p["R"]'),
    ("flip sign of −β·g^d·δv_{t+1} (B3)",
     'du_t -= np.multiply(p["beta"] if beta_gd is None else beta_gd[t + 1], dv_n, out=buf)',
     'du_t += np.multiply(p["beta"] if beta_gd is None else beta_gd[t + 1], dv_n, out=buf)'),
    ("drop λ·δc_{t+1} (B4)",
     'dc_t += np.multiply(p["lam"], dc_n, out=buf)', "pass"),
]

DEFAULT_TESTS = ["tests/test_lif_grid.py", "tests/test_surrogate_mode.py", "tests/test_torch_peer.py"]


def run(tests, mutant=None):
    with tempfile.TemporaryDirectory() as tmp:
        dst = Path(tmp) / "repo"
        shutil.copytree(ROOT, dst, ignore=shutil.ignore_patterns(".git", ".hypothesis", "__pycache__", "*.egg-info"))
        if mutant:
            _, old, new = mutant
            path = dst / "refsnn" / "neurons" / "lif.py"
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
