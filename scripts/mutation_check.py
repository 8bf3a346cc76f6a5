"""Drop or sign-flip single adjoint terms and report which tests fail.

Each mutant is applied to a copy of the repository in a temporary folder, and the
gradient tests are run there. A mutant that no test catches is a hole in the suite.
This is a developer tool; it prints a table and exits 1 if any mutant survives.

    python scripts/mutation_check.py [--area lif ...] [--tests tests/test_lif_grid.py ...]

The mutants of each area are in scripts/mutants/<area>.py, with the tests that must
catch them; ``--tests`` overrides those tests.
"""

from __future__ import annotations

import argparse
import os
import re
import runpy
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Mutant sets, one module per area in scripts/mutants/ (lif.py for the core layer). Each
# defines MUTANTS = [(name, file relative to the repo root, exact fragment, replacement)]
# and TESTS = [the test files that must catch them]. A new gradient path adds its own file.
MUTANT_DIR = Path(__file__).resolve().parent / "mutants"


def mutant_sets():
    """``{area: (MUTANTS, TESTS)}`` for every module in scripts/mutants/."""
    out = {}
    for path in sorted(MUTANT_DIR.glob("*.py")):
        ns = runpy.run_path(str(path))
        out[path.stem] = (ns["MUTANTS"], ns["TESTS"])
    return out


def run(tests, mutant=None):
    with tempfile.TemporaryDirectory() as tmp:
        dst = Path(tmp) / "repo"
        shutil.copytree(ROOT, dst, ignore=shutil.ignore_patterns(".git", ".hypothesis", "__pycache__", "*.egg-info"))
        if mutant:
            _, rel, old, new = mutant
            path = dst / rel
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
    sets = mutant_sets()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--area", action="append", choices=sorted(sets), help="only these areas (default all)")
    ap.add_argument("--tests", nargs="+", default=None, help="test files (default: each area's TESTS)")
    args = ap.parse_args()
    survivors = 0
    for area, (mutants, tests) in sets.items():
        if args.area and area not in args.area:
            continue
        tests = args.tests or tests
        print(f"## {area}: {len(mutants)} mutants, tests {' '.join(tests)}")
        code, failed = run(tests)
        print(f"unmutated: exit {code}, failing tests: {failed or 'none'}")
        if code != 0:
            return 1
        for m in mutants:
            code, failed = run(tests, m)
            survivors += code == 0
            print(f"- {m[0]}: {'SURVIVED' if code == 0 else 'caught'} by {len(failed)} test(s)")
            for t in failed:
                print(f"    {t}")
            sys.stdout.flush()
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
