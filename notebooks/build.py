"""Write the study notebooks (.ipynb) from their plain-text sources.

    python notebooks/build.py            # rewrite every notebook
    python notebooks/build.py --check    # exit 1 if any .ipynb differs from its source

Each notebook ``NN_name.ipynb`` has a source ``NN_name.py`` in jupytext's percent format
(``# %%`` code cells, ``# %% [markdown]`` prose cells). Edit the ``.py`` file, never the
``.ipynb``; it opens directly in JupyterLab with the jupytext extension. The .ipynb files
are written without outputs, with fixed cell ids (``nb<NN>-<index>``) and one kernel
spec, so an unchanged source rewrites the same bytes; ``tests/test_notebooks.py``
fails when the two disagree.

Equation labels F1–F6, B1–B5 and G1–G5 are those of ``refsnn/neurons/lif.py``; labels of
the form (n.k) are local to notebook n.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jupytext
import nbformat

HERE = Path(__file__).resolve().parent

METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


def sources():
    """The notebook sources, ``NN_*.py``, in order."""
    return sorted(p for p in HERE.glob("[0-9][0-9]_*.py"))


def build(src: Path):
    """The notebook of one source: its cells, no outputs, fixed ids and metadata."""
    nb = jupytext.read(src, fmt="py:percent")
    out = nbformat.v4.new_notebook(metadata=METADATA)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            new = nbformat.v4.new_markdown_cell(cell.source)
        else:
            new = nbformat.v4.new_code_cell(cell.source)
        new.id = f"nb{src.name[:2]}-{i:02d}"
        out.cells.append(new)
    nbformat.validate(out)
    return out


def build_all():
    """``{notebook file name: notebook}`` for every source."""
    return {src.with_suffix(".ipynb").name: build(src) for src in sources()}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    check = "--check" in argv
    stale = []
    for name, nb in build_all().items():
        path = HERE / name
        text = nbformat.writes(nb) + "\n"
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
            continue
        path.write_text(text, encoding="utf-8")
        print(f"wrote notebooks/{name} ({len(nb.cells)} cells)")
    for name in stale:
        print(f"notebooks/{name} is out of date: run `python notebooks/build.py`")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
