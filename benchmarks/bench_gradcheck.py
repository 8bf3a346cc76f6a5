"""Time ``refsnn gradcheck`` with directional screening against ``--exhaustive``, in one run.

The default (one random direction per array, entry by entry only where that fails)
against ``--exhaustive`` (central differences entry by entry everywhere, the first
wave's method), on the same rows and worker count. CPU seconds (user + system of the
worker processes) are reported beside wall time: on a shared machine wall time
measures the load, CPU time the work; CPU seconds / jobs is the wall time on that many
free cores.

``--every N`` (default 8) times both methods on every N-th row of the grid (the
exhaustive run of all rows takes tens of minutes), then the default method on the
whole grid. ``--every 1`` times both on everything.

    python benchmarks/bench_gradcheck.py [--jobs 2] [--every 8]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time


def run(extra, jobs):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "refsnn", "gradcheck", "--jobs", str(jobs), *extra],
                          capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = proc.stdout.strip().splitlines()
    summary = lines[-1] if lines else proc.stderr[-300:]
    return wall, cpu, proc.returncode, summary


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--every", type=int, default=8)
    args = ap.parse_args()
    from refsnn.checking import families
    names = [name for _, _, name in families.rows()][::args.every]
    only = [a for n in names for a in ("--only", n)] if args.every > 1 else []
    rows = []
    for label, extra in ((f"directional, {len(names)} rows", only),
                         (f"exhaustive,  {len(names)} rows", ["--exhaustive", *only])):
        wall, cpu, code, summary = run(extra, args.jobs)
        rows.append(cpu)
        print(f"{label}: wall {wall:7.1f} s, CPU {cpu:7.1f} s, exit {code}: {summary}", flush=True)
    print(f"ratio exhaustive / directional (CPU, same {len(names)} rows): {rows[1] / rows[0]:.1f}x", flush=True)
    if args.every > 1:
        wall, cpu, code, summary = run([], args.jobs)
        print(f"directional, whole grid: wall {wall:7.1f} s, CPU {cpu:7.1f} s "
              f"(= {cpu / args.jobs:.0f} s on {args.jobs} free cores), exit {code}: {summary}")


if __name__ == "__main__":
    main()
