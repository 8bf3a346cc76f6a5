"""Time ``refsnn gradcheck`` (the whole grid, every registered family) two ways in one run.

The default (directional screening: one random direction per array, entry by entry
only where that fails) against ``--exhaustive`` (central differences entry by entry
everywhere, the first wave's method). Both use the same worker count; the printed
ratio is measured in this one run.

    python benchmarks/bench_gradcheck.py [--jobs 2] [--only-default]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time


def run(extra, jobs):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "refsnn", "gradcheck", "--jobs", str(jobs), *extra],
                          capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-300:]
    return elapsed, proc.returncode, summary


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only-default", action="store_true", help="skip the exhaustive run")
    args = ap.parse_args()
    t_dir, code_dir, s_dir = run([], args.jobs)
    print(f"directional (default): {t_dir:7.1f} s  exit {code_dir}  {s_dir}", flush=True)
    if args.only_default:
        return
    t_exh, code_exh, s_exh = run(["--exhaustive"], args.jobs)
    print(f"exhaustive:            {t_exh:7.1f} s  exit {code_exh}  {s_exh}")
    print(f"ratio exhaustive / directional: {t_exh / t_dir:.1f}x  (jobs = {args.jobs})")


if __name__ == "__main__":
    main()
