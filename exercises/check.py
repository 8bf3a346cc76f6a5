"""Check an exercise: ``python exercises/check.py ex03`` (or ``3``, or ``all``).

By default it checks your file, ``exercises/exNN_*.py``. ``--file path.py`` checks
another file, and ``--solution`` checks the worked solution in ``exercises/solutions/``.
It prints one line per function: PASS or FAIL, the worst relative error against the
reference and where it is, and a hint. The exit status is 0 if every function
passes and 1 otherwise.

From Python::

    import check
    results = check.run("ex03", "exercises/ex03_bptt_by_hand.py")   # or a module object
    for r in results: print(r.line())
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from _checker.common import Result, run_checks  # noqa: E402

def _discover():
    """``{"ex03": "ex03_bptt_by_hand", ...}``: every stub ``exNN_*.py`` that has a checker
    ``_checker/exNN.py`` (adding an exercise needs no edit here)."""
    found = {}
    for path in sorted(HERE.glob("ex[0-9][0-9]_*.py")):
        key = path.name[:4]
        if (HERE / "_checker" / f"{key}.py").is_file():
            found[key] = path.stem
    return found


EXERCISES = _discover()

__all__ = ["EXERCISES", "Result", "resolve", "exercise_path", "load", "run", "main"]


def resolve(exercise: str) -> str:
    """``"ex03"`` from ``"ex03"``, ``"3"``, ``"03"`` or ``"ex03_bptt_by_hand"``."""
    key = str(exercise).strip().lower()
    key = Path(key).stem if key.endswith(".py") else key
    if key.isdigit():
        key = f"ex{int(key):02d}"
    key = key[:4]
    if key not in EXERCISES:
        raise ValueError(f"unknown exercise {exercise!r}; expected one of {', '.join(EXERCISES)} (or 'all')")
    return key


def exercise_path(exercise: str, solution: bool = False) -> Path:
    """The stub (your file) or, with ``solution=True``, the worked solution."""
    key = resolve(exercise)
    folder = HERE / "solutions" if solution else HERE
    return folder / f"{EXERCISES[key]}.py"


def load(path) -> ModuleType:
    """Import a Python file as a fresh module (never cached, so edits are seen)."""
    path = Path(path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    name = f"_learner_{path.stem}_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(exercise: str, module=None) -> list[Result]:
    """Check one exercise. ``module`` is a module object, a path, or None (your file)."""
    key = resolve(exercise)
    spec = importlib.import_module(f"_checker.{key}")
    checks = spec.CHECKS
    if module is None or isinstance(module, (str, Path)):
        path = exercise_path(key) if module is None else Path(module)
        try:
            module = load(path)
        except Exception as e:  # a syntax error or a failing import in the learner's file
            where = f" (line {e.lineno})" if isinstance(e, SyntaxError) else ""
            return [Result(key, name, False, hint=f"could not import {path}: {type(e).__name__}: {e}{where}")
                    for name, _ in checks]
    if hasattr(spec, "checks"):          # checks that need the learner's module itself
        checks = spec.checks(module)
    return run_checks(key, module, checks)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python exercises/check.py",
        description="Check an exercise against refsnn and central differences.")
    parser.add_argument("exercise", help="ex00 … ex14 (or 0 … 14), or 'all'")
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--file", help="check this file instead of exercises/exNN_*.py")
    src.add_argument("--solution", action="store_true", help="check the worked solution")
    args = parser.parse_args(argv)
    try:
        keys = list(EXERCISES) if args.exercise.lower() == "all" else [resolve(args.exercise)]
    except ValueError as e:
        parser.error(str(e))
    if args.file and len(keys) > 1:
        parser.error("--file checks one exercise; name it (e.g. ex03)")
    results = []
    for key in keys:
        target = args.file or exercise_path(key, solution=args.solution)
        print(f"== {key}: {target}")
        res = run(key, target)
        for r in res:
            print(r.line())
        results += res
    n_pass = sum(r.passed for r in results)
    print(f"{n_pass}/{len(results)} functions pass")
    return 0 if results and n_pass == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
