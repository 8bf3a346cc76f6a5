"""Write the study notebooks from their cell lists.

    python notebooks/_build.py

Each notebook is a list ``CELLS`` of ``md(...)`` and ``code(...)`` cells, one module per
notebook in ``notebooks/_cells/``. The .ipynb files are generated from these lists with
nbformat, without outputs and with fixed cell ids, so that regenerating an unchanged
list rewrites the same bytes. Edit the cell lists, never the .ipynb files:
``tests/test_notebooks.py`` fails when the two disagree.

Equation labels F1–F6, B1–B5 and G1–G5 are those of ``refsnn/lif.py``; labels of the
form (n.k) are local to notebook n.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
from _cells import nb01, nb02, nb03, nb04, nb05, nb06, nb07  # noqa: E402

NOTEBOOKS = {
    "01_gradient_problem.ipynb": nb01.CELLS,
    "02_surrogates.ipynb": nb02.CELLS,
    "03_bptt_by_hand.ipynb": nb03.CELLS,
    "04_soft_vs_hard_reset.ipynb": nb04.CELLS,
    "05_long_term_dependencies.ipynb": nb05.CELLS,
    "06_truncated_bptt.ipynb": nb06.CELLS,
    "07_charge_fire_reset.ipynb": nb07.CELLS,
}

METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


EXERCISES = {
    "01": "ex01_gradient_problem",
    "02": "ex02_surrogates",
    "03": "ex03_bptt_by_hand",
    "04": "ex04_soft_vs_hard_reset",
    "05": "ex05_long_term_dependencies",
    "06": "ex06_truncated_bptt",
    "07": "ex07_charge_fire_reset",
}

# What a notebook's exercise does differently from the notebook, said where the learner meets it.
EXERCISE_NOTES = {
    "05": " The exercise's `critical_coupling` uses the exact decay factors "
          "α = e^{−dt/τ_m}, λ = e^{−dt/τ_s}, not the forward-Euler ones used above: its answer "
          "approaches dt²/(τ_m τ_s) for dt ≪ τ, but is exact for every dt.",
}


def exercise_cell(name):
    """The closing pointer from notebook NN to its exercise."""
    nn = name[:2]
    ex = EXERCISES[nn]
    return ("markdown",
            f"**Exercise.** Implement the stubs in `exercises/{ex}.py`, then run "
            f"`python exercises/check.py ex{nn}` from the repository's root. It prints PASS or FAIL "
            f"for each function, with the worst relative error and a hint. The solutions are in "
            f"`exercises/solutions/{ex}.py`.{EXERCISE_NOTES.get(nn, '')}")


def make(name, cells):
    """One notebook: cells in order, then the exercise pointer; no outputs, ids ``nb<NN>-<index>``."""
    nb = new_notebook(metadata=METADATA)
    for i, (kind, source) in enumerate(list(cells) + [exercise_cell(name)]):
        cell = new_markdown_cell(source) if kind == "markdown" else new_code_cell(source)
        cell.id = f"nb{name[:2]}-{i:02d}"
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def build_all():
    """``{file name: notebook}`` for every notebook."""
    return {name: make(name, cells) for name, cells in NOTEBOOKS.items()}


def main():
    for name, nb in build_all().items():
        nbformat.write(nb, HERE / name)
        print(f"wrote notebooks/{name} ({len(nb.cells)} cells)")


if __name__ == "__main__":
    main()
