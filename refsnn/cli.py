"""The ``refsnn`` command.

``refsnn tour``       the main job: train a small adaptive-LIF network on Randman,
                      check its gradients against finite differences on the smooth
                      twin, print a report and write figures (under 3 minutes).
``refsnn train``      train on a task (randman, yinyang, regression, digits) with a
                      progress bar; writes a checkpoint, figures and summary.json.
``refsnn gradcheck``  run the verification grid (:mod:`refsnn.verify`): one row per
                      configuration with the worst relative error of each route.
``refsnn compare``    check a peer network's gradients saved in an .npz against refsnn
                      (:mod:`refsnn.oracle.compare`): PASS/FAIL per array, and which
                      convention mismatch explains a disagreement.
``refsnn check``      the same for a saved network: a ``torch.save``d state dict of an
                      ``nn.Sequential`` (read with ``weights_only=True``, never
                      unpickled) plus its stated preset and arguments, or a NIR graph
                      (:mod:`refsnn.oracle.check`).
``refsnn audit``      reproduce the known bugs of the installed peers (snnTorch, Norse,
                      SpikingJelly) and print each one's status and measured error.
``refsnn nir-check``  run a NIR graph in refsnn and name the first node whose output
                      differs from a recording (:mod:`refsnn.oracle.nir`).

Exit status: 0 on success, 1 if a check fails, 2 for bad arguments (and for a
checkpoint that does not fit the run or cannot be used), 3 when training diverges
(the last good checkpoint, if one was written, is kept), 130 after Ctrl-C (a checkpoint is saved).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial

from ._validate import MAX_INT
from .checking import verify
from .neurons.lif import RESET_KINDS
from .losses import LOSS_NAMES

from .training.tasks import task_names


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _bounded_positive_int(text):
    """A positive integer that fits an array index (at most 2**63 − 1)."""
    value = _positive_int(text)
    if value > MAX_INT:
        raise argparse.ArgumentTypeError(f"expected a positive integer <= {MAX_INT}, got one of "
                                         f"{len(str(value))} digits")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {value}")
    return value


def _nonnegative_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return value


def _parser():
    p = argparse.ArgumentParser(prog="refsnn", description="A NumPy reference for surrogate-gradient BPTT.")
    sub = p.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("train", help="train a spiking network on a generated task")
    tr.add_argument("--task", required=True, choices=task_names())
    tr.add_argument("--out", default=None, help="output folder (default runs/<task>)")
    tr.add_argument("--epochs", type=_positive_int, help="number of epochs (default: the task's)")
    tr.add_argument("--lr", type=_positive_float, help="Adam learning rate (default: the task's)")
    tr.add_argument("--batch-size", type=_positive_int, help="batch size (default: the task's)")
    tr.add_argument("--clip", type=_positive_float, help="global gradient-norm clip (default: the task's)")
    tr.add_argument("--hidden", type=_positive_int, default=None,
                    help="hidden neurons (default: the task's, 256 for randman and 128 for the others)")
    tr.add_argument("--seed", type=_nonnegative_int, default=0, help="seed of data, weights and batch order")
    tr.add_argument("--small", action="store_true", help="a quick version of the task (fewer samples)")
    tr.add_argument("--train-dynamics", default="", metavar="NAMES",
                    help="also train these per-neuron parameters, comma-separated, each projected into its "
                         "valid range after every step: some of alpha, theta, gamma, v_reset, beta, rho, "
                         "kappa, lam (default: only W, b, R)")
    tr.add_argument("--rule", choices=("bptt", "tbptt", "eprop"), default="bptt",
                    help="gradient: full BPTT (default), truncated BPTT (--window) or e-prop (online)")
    tr.add_argument("--window", type=_bounded_positive_int, default=50, help="TBPTT's window K (default 50)")
    tr.add_argument("--feedback", choices=("symmetric", "random"), default="symmetric",
                    help="e-prop's feedback weights: W_out^T (default) or fixed random")
    tr.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.npz")
    tr.add_argument("--overwrite", action="store_true",
                    help="replace a checkpoint already in --out (a fresh run refuses one otherwise)")
    tr.add_argument("--no-progress", action="store_true", help="no progress bar")
    to = sub.add_parser("tour", help="the main job: train on Randman, check gradients, write a report")
    to.add_argument("--out", default="refsnn-tour", help="output folder (default refsnn-tour)")
    to.add_argument("--seed", type=_nonnegative_int, default=0)
    to.add_argument("--no-progress", action="store_true", help="no progress bar")
    g = sub.add_parser("gradcheck", help="check every adjoint gradient against finite differences")
    g.add_argument("--json", action="store_true", help="print the rows as JSON")
    g.add_argument("--seed", type=_nonnegative_int, default=0, help="seed of the random problems (default 0)")
    g.add_argument("--family", action="append", metavar="NAME",
                   help="only the rows of this family, e.g. lif (repeatable; default all)")
    g.add_argument("--reset", choices=RESET_KINDS, action="append",
                   help="only these reset kinds (repeatable; default all)")
    g.add_argument("--loss", choices=LOSS_NAMES, action="append",
                   help="only these losses (repeatable; default all)")
    g.add_argument("--only", action="append", metavar="NAME",
                   help="only the configuration with this row name, e.g. subtract/attach/adapt/membrane "
                        "(repeatable)")
    g.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                   help="worker processes (default: all cores)")
    g.add_argument("--exhaustive", action="store_true",
                   help="differentiate entry by entry everywhere (default: one random direction per "
                        "array, entry by entry only where it fails)")
    g.add_argument("--rtol", type=float, default=verify.RTOL,
                   help=f"relative tolerance of both routes (default {verify.RTOL:g})")
    c = sub.add_parser("compare", help="check a peer network's gradients (an .npz) against refsnn in float64")
    c.add_argument("file", help="the .npz written from your PyTorch code (see the README)")
    c.add_argument("--json", action="store_true", help="print the report as JSON")
    c.add_argument("--rtol", type=float, default=None,
                   help="relative tolerance (default 1e-9 for float64 arrays, 1e-4 for float32)")
    c.add_argument("--max-mib", type=_positive_float, default=None,
                   help="largest total array size read from the file, in MiB (default 256); checked from "
                        "the arrays' headers before anything is decompressed")
    k = sub.add_parser("check", help="check a saved peer network (a state dict plus its stated architecture) "
                                     "against refsnn in float64")
    k.add_argument("file", help="torch.save(net.state_dict(), file) of an nn.Sequential(Linear, neuron, Linear, "
                                "neuron, ...) (Norse: SequentialState), read with weights_only=True; or a NIR graph "
                                "(.nir, built with snnTorch's NIR import)")
    k.add_argument("--preset", default=None, help="for a state dict: the neuron class, as a preset name "
                                                  "(refsnn.oracle.presets), e.g. snntorch.Leaky")
    k.add_argument("--kwargs", default="{}", help="the neuron's constructor arguments as JSON, in the preset's "
                                                  "names (docs/presets.md), e.g. '{\"spike_grad\": \"atan\"}'")
    k.add_argument("--x", default=None, help="an .npz with the input 'x' (T, B, n_in); default: uniform [0, 3) "
                                             "from --seed")
    k.add_argument("--T", type=int, default=20, help="time steps of the generated input (default 20)")
    k.add_argument("--B", type=int, default=4, help="batch of the generated input (default 4)")
    k.add_argument("--seed", type=int, default=0, help="seed of the input and the linear loss's probes")
    k.add_argument("--json", action="store_true", help="print the report as JSON")
    a = sub.add_parser("audit", help="reproduce the known bugs of the installed peer libraries "
                                     "(present/absent, measured error)")
    a.add_argument("--json", action="store_true", help="print the findings as JSON")
    a.add_argument("--only", action="append", metavar="KEY",
                   help="only this reproducer (e.g. snntorch-427) or library (e.g. norse); repeatable")
    n = sub.add_parser("nir-check", help="run a NIR graph in refsnn and name the first node whose output "
                                         "differs from a recording (.npz)")
    n.add_argument("graph", help="the NIR graph (.nir, as nir.write writes it)")
    n.add_argument("recording", help="an .npz with 'input' (T, B, ...) and one entry per recorded node output")
    n.add_argument("--convention", choices=("nir", "snntorch", "norse"), default="nir",
                   help="how the exporter wrote its time constants (default nir; see refsnn.oracle.nir)")
    n.add_argument("--dt", type=_positive_float, default=None,
                   help="time step (required for --convention nir; default 1e-4 snntorch, 1e-3 norse)")
    n.add_argument("--method", choices=("euler", "exp"), default="euler", help="discretisation (default euler)")
    n.add_argument("--rtol", type=_positive_float, default=1e-9, help="relative tolerance (default 1e-9)")
    n.add_argument("--atol", type=_positive_float, default=1e-12, help="absolute tolerance (default 1e-12)")
    return p


def _run_check(check, point):
    return check(point)


def _set_directional(flag):
    verify.DIRECTIONAL = flag


def _gradcheck(args):
    if not (0 < args.rtol < 1):
        print(f"refsnn gradcheck: error: --rtol must lie in (0, 1), got {args.rtol}", file=sys.stderr)
        return 2
    if args.jobs < 1:
        print(f"refsnn gradcheck: error: --jobs must be >= 1, got {args.jobs}", file=sys.stderr)
        return 2
    from .checking import families as fam_registry
    try:
        all_rows = fam_registry.rows(args.family)
    except ValueError as exc:
        print(f"refsnn gradcheck: error: --family: {exc}", file=sys.stderr)
        return 2
    unknown = sorted(set(args.only or ()) - {name for _, _, name in all_rows})
    if unknown:
        print(f"refsnn gradcheck: error: --only names no configuration: {', '.join(unknown)} "
              "(row names look like subtract/attach/adapt/syn/rec/membrane, or family:point)", file=sys.stderr)
        return 2

    def wanted(family, pt, name):   # --reset and --loss select rows of the core family only
        if family == "lif" and ((args.reset and pt.reset not in args.reset)
                                or (args.loss and pt.loss not in args.loss)):
            return False
        if family != "lif" and (args.reset or args.loss) and not args.family:
            return False
        return not args.only or name in args.only

    selected = [r for r in all_rows if wanted(*r)]
    points = [pt for _, pt, _ in selected]
    names = [name for _, _, name in selected]
    fams = [fam for fam, _, _ in selected]
    checks = [partial(fam_registry.families()[fam].check, seed=args.seed, rtol=args.rtol) for fam, _, _ in selected]
    rows = []
    _set_directional(not args.exhaustive)
    start = time.perf_counter()
    if not args.json:
        print(f"{'configuration':<48} {'smooth twin':>11} {'piecewise':>11} {'checked':>8} "
              f"{'skipped':>8} {'spikes/layer':>12}  result")
    if args.jobs > 1 and len(points) > 1:
        pool = ProcessPoolExecutor(min(args.jobs, len(points)), initializer=_set_directional,
                                   initargs=(not args.exhaustive,))
        reports = pool.map(_run_check, checks, points, chunksize=1)
    else:
        pool, reports = None, map(_run_check, checks, points)
    for name, rep in zip(names, reports):
        rows.append(rep)
        if not args.json:
            print(f"{name:<48} {rep.smooth_max_rel:11.2e} {rep.piecewise_max_rel:11.2e} "
                  f"{rep.piecewise_checked:8d} {rep.piecewise_skipped:8d} {'/'.join(map(str, rep.n_spikes)):>12}  "
                  f"{'pass' if rep.passed else 'FAIL'}", flush=True)
    if pool is not None:
        pool.shutdown()
    failed = [r for r in rows if not r.passed]
    if args.json:
        json.dump({"rtol": args.rtol, "seed": args.seed, "n_configurations": len(rows),
                   "n_failed": len(failed),
                   "rows": [{**r.as_dict(), "name": name, "family": fam}     # name: "family:point"
                            for name, fam, r in zip(names, fams, rows)]},
                  sys.stdout, indent=1)
        print()
    else:
        print(f"{len(rows)} configurations, {len(rows) - len(failed)} passed, {len(failed)} failed "
              f"({time.perf_counter() - start:.1f} s)")
        for r in failed:
            print(f"FAIL {r.point.name}: smooth twin worst at {r.smooth_worst}, "
                  f"piecewise worst at {r.piecewise_worst}")
    return 1 if failed else 0


def _check_out(out, prog):
    """The output folder must be creatable and writable: checked before any work."""
    if out == "":
        return f"{prog}: error: --out must name a folder, got ''"
    if os.path.exists(out) and not os.path.isdir(out):
        return f"{prog}: error: --out {out!r} is a file, not a folder"
    try:
        os.makedirs(out, exist_ok=True)
        import tempfile
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as e:
        return f"{prog}: error: --out {out!r} is not a writable folder: {e.strerror or e}"
    return None


# Refuse runs whose arrays would not fit: bytes of the stored trajectories and adjoints
# of one batch plus the parameters, gradients and Adam moments.
def _memory_needed(task, batch_size):
    T = task.x_train.shape[1]
    total = 0
    for cfg in task.net.layers:
        per_step = batch_size * cfg.n * 12            # v, s, u, c, I and the adjoints, roughly
        weights = cfg.n * cfg.n_in + (cfg.n * cfg.n if cfg.recurrent else 0) + 12 * cfg.n
        total += 4 * (T * per_step + 5 * weights)     # float32; params, grads, 2 moments, copy
    return total


def _memory_limit():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 16 * 2**30


def _train(args):
    from .training.train import CheckpointError, RunConfig, TrainingDiverged, make_task, train
    from .training.tasks import default_hidden

    from .training.constraints import parse_trainable
    try:
        dynamics = ",".join(parse_trainable(args.train_dynamics))
    except ValueError as e:
        print(f"refsnn train: error: --train-dynamics: {e}", file=sys.stderr)
        return 2
    if args.resume and args.overwrite:
        print("refsnn train: error: --resume and --overwrite exclude each other (--resume continues the "
              "checkpoint in --out, --overwrite replaces it)", file=sys.stderr)
        return 2
    out = os.path.join("runs", args.task) if args.out is None else args.out
    err = _check_out(out, "refsnn train")
    if err:
        print(err, file=sys.stderr)
        return 2
    if args.hidden is None:
        args.hidden = default_hidden(args.task)
    try:
        task = make_task(args.task, args.seed, args.hidden, args.small)
    except ImportError as e:
        print(f"refsnn train: error: task {args.task!r} needs an optional dependency: {e}", file=sys.stderr)
        return 2
    except (ValueError, OverflowError, MemoryError) as e:
        if "hidden" in str(e) or isinstance(e, MemoryError):   # too many neurons even to build the network
            print(f"refsnn train: error: --hidden {args.hidden if args.hidden < 10**12 else f'~1e{len(str(args.hidden)) - 1}'}"
                  f" needs far more than this machine's {_memory_limit() / 2**30:.1f} GiB of memory ({e})",
                  file=sys.stderr)
        else:
            print(f"refsnn train: error: {e}", file=sys.stderr)
        return 2
    d = task.defaults
    cfg = RunConfig(task=args.task, epochs=args.epochs or d["epochs"], lr=args.lr or d["lr"],
                    batch_size=args.batch_size or d["batch_size"], clip=args.clip or d["clip"],
                    seed=args.seed, hidden=args.hidden, small=args.small, rule=args.rule, window=args.window,
                    feedback=args.feedback)
    need, have = _memory_needed(task, cfg.batch_size), _memory_limit()
    if need > have:
        gib = need // 2**30
        gib = f"{need / 2**30:.1f}" if gib < 10**15 else f"1e{len(str(gib)) - 1}"
        print(f"refsnn train: error: --hidden {args.hidden} with --batch-size {cfg.batch_size} needs about "
              f"{gib} GiB, more than this machine's {have / 2**30:.1f} GiB of memory; use a smaller --batch-size "
              "or --hidden", file=sys.stderr)
        return 2
    cfg.train_dynamics = dynamics
    from .learning.rules import check_rule
    try:
        check_rule(cfg.rule, task, cfg.window, cfg.feedback, train_dynamics=dynamics)
    except ValueError as e:
        print(f"refsnn train: error: --rule {cfg.rule}: {e}", file=sys.stderr)
        return 2
    try:
        summary = train(cfg, out, resume=args.resume, progress=not args.no_progress, task=task,
                        overwrite=args.overwrite)
    except CheckpointError as e:
        print(f"refsnn train: error: {e}", file=sys.stderr)
        return 2
    except TrainingDiverged as e:
        print(f"refsnn train: stopped: {e}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130
    key = "test_accuracy" if "test_accuracy" in summary else "nmse_after"
    print(f"{args.task}: {key} = {summary[key]:.4f}; wrote {out}/checkpoint.npz, curves.png, traces.png, "
          "summary.json")
    sel = summary.get("selected")
    if sel is not None:
        print(f"{args.task}: the validation split chose epoch {sel['epoch']} (validation score {sel['val_score']:.4f}, "
              f"{key} {sel[key]:.4f}); wrote {out}/selected.npz")
    return 0


def _tour(args):
    from .tour import run_tour

    err = _check_out(args.out, "refsnn tour")
    if err:
        print(err, file=sys.stderr)
        return 2
    from .training.train import CheckpointError, TrainingDiverged
    try:
        return run_tour(args.out, seed=args.seed, progress=not args.no_progress)
    except CheckpointError as e:
        print(f"refsnn tour: error: {e}", file=sys.stderr)
        return 2
    except TrainingDiverged as e:
        print(f"refsnn tour: stopped: {e}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.command == "gradcheck":
        return _gradcheck(args)
    if args.command == "train":
        return _train(args)
    if args.command == "tour":
        return _tour(args)
    if args.command == "compare":
        from .oracle.compare import main as compare_main
        max_bytes = None if args.max_mib is None else int(min(args.max_mib, 2.0**62 / 2**20) * 2**20)
        return compare_main(args.file, as_json=args.json, rtol=args.rtol, max_bytes=max_bytes)
    if args.command == "check":
        from .oracle.check import main as check_main
        return check_main(args.file, args.preset, args.kwargs, x=args.x, T=args.T, B=args.B, seed=args.seed,
                          as_json=args.json)
    if args.command == "audit":
        from .oracle.audit import main as audit_main
        return audit_main(as_json=args.json, only=args.only)
    if args.command == "nir-check":
        from .oracle.nir import main_check
        return main_check(args)
    return 2  # unreachable: argparse requires a known command


if __name__ == "__main__":
    sys.exit(main())
