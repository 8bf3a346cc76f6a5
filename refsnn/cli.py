"""The ``refsnn`` command.

``refsnn gradcheck`` runs the verification grid (:mod:`refsnn.verify`) and prints
one row per configuration with the worst relative error of each route; ``--json``
prints the same rows as JSON. The exit status is 1 if any row fails, 2 for bad
arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial

from . import verify
from .lif import RESET_KINDS
from .losses import LOSS_NAMES


def _parser():
    p = argparse.ArgumentParser(prog="refsnn", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("gradcheck", help="check every adjoint gradient against finite differences")
    g.add_argument("--json", action="store_true", help="print the rows as JSON")
    g.add_argument("--seed", type=int, default=0, help="seed of the random problems (default 0)")
    g.add_argument("--reset", choices=RESET_KINDS, action="append",
                   help="only these reset kinds (repeatable; default all)")
    g.add_argument("--loss", choices=LOSS_NAMES, action="append",
                   help="only these losses (repeatable; default all)")
    g.add_argument("--only", action="append", metavar="NAME",
                   help="only the configuration with this row name, e.g. subtract/attach/adapt/membrane "
                        "(repeatable)")
    g.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                   help="worker processes (default: all cores)")
    g.add_argument("--rtol", type=float, default=verify.RTOL,
                   help=f"relative tolerance of both routes (default {verify.RTOL:g})")
    return p


def _gradcheck(args):
    if not (0 < args.rtol < 1):
        print(f"refsnn gradcheck: error: --rtol must lie in (0, 1), got {args.rtol}", file=sys.stderr)
        return 2
    if args.jobs < 1:
        print(f"refsnn gradcheck: error: --jobs must be >= 1, got {args.jobs}", file=sys.stderr)
        return 2
    grid = verify.grid()
    unknown = sorted(set(args.only or ()) - {pt.name for pt in grid})
    if unknown:
        print(f"refsnn gradcheck: error: --only names no configuration: {', '.join(unknown)} "
              "(row names look like subtract/attach/adapt/syn/rec/membrane)", file=sys.stderr)
        return 2
    points = [pt for pt in grid
              if (not args.reset or pt.reset in args.reset) and (not args.loss or pt.loss in args.loss)
              and (not args.only or pt.name in args.only)]
    rows = []
    start = time.perf_counter()
    if not args.json:
        print(f"{'configuration':<48} {'smooth twin':>11} {'piecewise':>11} {'checked':>8} "
              f"{'skipped':>8} {'spikes/layer':>12}  result")
    check = partial(verify.check_point, seed=args.seed, rtol=args.rtol)
    if args.jobs > 1 and len(points) > 1:
        pool = ProcessPoolExecutor(min(args.jobs, len(points)))
        reports = pool.map(check, points, chunksize=1)
    else:
        pool, reports = None, map(check, points)
    for pt, rep in zip(points, reports):
        rows.append(rep)
        if not args.json:
            print(f"{pt.name:<48} {rep.smooth_max_rel:11.2e} {rep.piecewise_max_rel:11.2e} "
                  f"{rep.piecewise_checked:8d} {rep.piecewise_skipped:8d} {'/'.join(map(str, rep.n_spikes)):>12}  "
                  f"{'pass' if rep.passed else 'FAIL'}", flush=True)
    if pool is not None:
        pool.shutdown()
    failed = [r for r in rows if not r.passed]
    if args.json:
        json.dump({"rtol": args.rtol, "seed": args.seed, "n_configurations": len(rows),
                   "n_failed": len(failed), "rows": [r.as_dict() for r in rows]}, sys.stdout, indent=1)
        print()
    else:
        print(f"{len(rows)} configurations, {len(rows) - len(failed)} passed, {len(failed)} failed "
              f"({time.perf_counter() - start:.1f} s)")
        for r in failed:
            print(f"FAIL {r.point.name}: smooth twin worst at {r.smooth_worst}, "
                  f"piecewise worst at {r.piecewise_worst}")
    return 1 if failed else 0


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.command == "gradcheck":
        return _gradcheck(args)
    return 2  # unreachable: argparse requires a known command


if __name__ == "__main__":
    sys.exit(main())
