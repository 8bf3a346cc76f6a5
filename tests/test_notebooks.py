"""The study notebooks (notebooks/*.ipynb) run top to bottom, fast, and are committed clean.

Each notebook is executed with nbclient in a fresh ``python3`` kernel whose working
directory is ``notebooks/``; any exception in any cell fails the test (the notebooks
end with a cell of ``assert`` statements, so a wrong number fails too). Each notebook's
budget is 60 s of wall time, kernel start included; the test prints the time (``-s``)
but does not assert it, since no test times anything.

Every figure a notebook draws must have every visible axis labelled. A hook installed
in the kernel before the first cell (:data:`AXES_HOOK`) inspects, after each cell, every
open matplotlib figure: each Axes that is drawn with a visible x (y) axis needs an
x (y) label, except an axis whose tick labels are hidden because it shares them with a
labelled sibling (``sharex=True``); a colorbar needs a label on its long axis. The
test fails naming the notebook, the cell that drew the figure, the figure and the axes.

The committed files must carry no outputs and no execution counts, so that their
git diffs show only source changes, and they must be exactly what
``notebooks/build.py`` writes from the jupytext percent sources ``notebooks/NN_*.py``:
the source is what is reviewed, and a notebook edited by hand would drift from it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from pathlib import Path

import pytest

nbclient = pytest.importorskip("nbclient")
import nbformat  # noqa: E402  (a dependency of nbclient)

ROOT = Path(__file__).resolve().parent.parent
NB_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NB_DIR.glob("*.ipynb"))
MAX_SECONDS = 60.0
CELL_TIMEOUT = 120


# Runs in the kernel before the notebook's first cell. It keeps every Figure the notebook
# creates (with the source of the cell that created it), whatever the backend does with
# it; the last injected cell inspects them all and prints the axes that lack a label.
AXES_HOOK = r"""
def _refsnn_axes_hook():
    import json
    import matplotlib.figure
    figures, current = [], [""]
    original_init = matplotlib.figure.Figure.__init__

    def recording_init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        figures.append((self, current[0]))    # kept alive: the inline backend closes figures

    matplotlib.figure.Figure.__init__ = recording_init

    def before_cell(info):
        current[0] = info.raw_cell

    def label_missing(ax, which):
        axis = ax.xaxis if which == "x" else ax.yaxis
        if not axis.get_visible():
            return False
        if (ax.get_xlabel() if which == "x" else ax.get_ylabel()).strip():
            return False
        kw = axis.get_tick_params()
        sides = ("labelbottom", "labeltop") if which == "x" else ("labelleft", "labelright")
        no_tick_labels = not any(kw.get(side, False) for side in sides)
        shared = (ax.get_shared_x_axes() if which == "x" else ax.get_shared_y_axes()).get_siblings(ax)
        if no_tick_labels and any(
                (o.get_xlabel() if which == "x" else o.get_ylabel()).strip() for o in shared if o is not ax):
            return False                      # inner axis of sharex/sharey, labelled outside
        return True

    def inspect(fig):
        out = []
        for i, ax in enumerate(fig.get_axes()):
            if not ax.axison or not ax.get_visible():
                continue
            cbar = getattr(ax, "_colorbar", None)
            which = (["y"] if cbar.orientation == "vertical" else ["x"]) if cbar is not None else ["x", "y"]
            for w in which:
                if label_missing(ax, w):
                    title = ax.get_title() or (fig._suptitle.get_text() if fig._suptitle else "")
                    kind = "colorbar axes" if cbar is not None else "axes"
                    out.append(f"{kind} {i} (title {title!r}) has no {w}-label")
        return out

    def report():
        problems = []
        for k, (fig, source) in enumerate(figures, 1):
            if fig.get_axes():
                problems += [[source, f"figure {k} of the notebook: {msg}"] for msg in inspect(fig)]
        print("REFSNN_AXES " + json.dumps(problems))

    get_ipython().events.register("pre_run_cell", before_cell)
    return report

_refsnn_axes_report = _refsnn_axes_hook()
"""
AXES_REPORT = "_refsnn_axes_report()"


def _ids(path):
    return path.stem


def test_the_notebooks_exist():
    names = [p.name for p in NOTEBOOKS]
    assert len(names) >= 7, f"expected the seven study notebooks in {NB_DIR}, found {names}"
    assert names == sorted(names) and all(n[:2].isdigit() for n in names), names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: cell {i} has outputs; clear them before committing"
            assert cell.execution_count is None, f"{path.name}: cell {i} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_last_code_cell_asserts(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{path.name} has no code cells"
    assert "assert" in code[-1].source, f"{path.name}: the last code cell must check its results with assert"


def _load_builder():
    spec = importlib.util.spec_from_file_location("_nb_build", NB_DIR / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _content(nb):
    # What the generator controls; independent of the nbformat version's JSON layout.
    return nb.metadata, [(c.cell_type, c.get("id"), c.source) for c in nb.cells]


def test_generated_by_build_script():
    """Every notebook equals what notebooks/build.py writes from its source, and nothing else is there."""
    pytest.importorskip("jupytext")
    built = _load_builder().build_all()
    assert sorted(built) == [p.name for p in NOTEBOOKS], "run `python notebooks/build.py`"
    for name, nb in built.items():
        on_disk = nbformat.read(NB_DIR / name, as_version=4)
        assert _content(on_disk) == _content(nb), (
            f"{name} differs from its source notebooks/{Path(name).stem}.py; "
            "regenerate it with `python notebooks/build.py`"
        )
    # Byte for byte, as `python notebooks/build.py --check` compares them (the one rebuild
    # command is `python notebooks/build.py`).
    builder = _load_builder()
    for name, nb in built.items():
        text = nbformat.writes(nb) + "\n"
        assert (NB_DIR / name).read_text(encoding="utf-8") == text, (
            f"{name} is not byte-identical to what notebooks/build.py writes; run `python notebooks/build.py`")
    assert builder.main(["--check"]) == 0
    sources = {p.stem for p in builder.sources()}
    assert sources == {p.stem for p in NOTEBOOKS}, "every notebook needs a source NN_name.py and vice versa"


def _execute(nb, monkeypatch):
    """Run ``nb`` with the axes hook; return its wall time and the unlabelled axes found.

    Each finding reads ``"cell C, figure K of the notebook: axes A (title ...) has no
    y-label"``, C being the index of the cell (markdown included) that drew figure K.
    """
    # The kernel inherits this environment: headless plotting, the working tree's
    # refsnn first on the path, and one BLAS thread (the machine has 2 cores).
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(var, "1")
    index = {c.source: i for i, c in enumerate(nb.cells)}
    nb.cells.insert(0, nbformat.v4.new_code_cell(AXES_HOOK))
    nb.cells.append(nbformat.v4.new_code_cell(AXES_REPORT))
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(NB_DIR)}},
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.get("name") == "stdout")
    line = next((l for l in text.splitlines() if l.startswith("REFSNN_AXES ")), None)
    assert line is not None, f"the axes-label hook did not report ({nb.cells[-1].outputs})"
    found = json.loads(line[len("REFSNN_AXES "):])
    return seconds, [f"cell {index.get(src, '?')}, {msg}" for src, msg in found]


def test_axes_hook_names_the_cell_figure_and_axis(monkeypatch):
    """The label check itself: an unlabelled y axis is found, a labelled one, a shared
    inner axis and an axis turned off are not, whatever the backend does with figures."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# a notebook"),
        nbformat.v4.new_code_cell("%matplotlib inline\nimport matplotlib.pyplot as plt"),
        nbformat.v4.new_code_cell(
            "fig, ax = plt.subplots(2, 2, sharex=True)\n"
            "for a in ax.flat: a.set_ylabel('v')\n"
            "ax[1, 0].set_xlabel('t'); ax[1, 1].set_xlabel('t'); ax[0, 1].set_ylabel('')\n"
            "ax[0, 1].set_title('no y'); plt.show()"),
        nbformat.v4.new_code_cell("fig, ax = plt.subplots(); ax.axis('off'); plt.show()"),
        nbformat.v4.new_code_cell("plt.figure(); plt.imshow([[0, 1]]); plt.colorbar(); plt.xlabel('n');"
                                  " plt.ylabel('t'); plt.close('all')"),
    ]
    _, problems = _execute(nb, monkeypatch)
    assert problems == [
        "cell 2, figure 1 of the notebook: axes 1 (title 'no y') has no y-label",
        "cell 4, figure 3 of the notebook: colorbar axes 1 (title '') has no y-label",
    ], problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_runs(path, monkeypatch):
    nb = nbformat.read(path, as_version=4)
    seconds, problems = _execute(nb, monkeypatch)
    # No test times anything (wall time depends on the machine's load): the time is
    # printed (pytest -s) for the notebooks' stated budget of MAX_SECONDS, and a cell that
    # hangs still fails through nbclient's CELL_TIMEOUT.
    print(f"{path.name}: {seconds:.1f} s (budget {MAX_SECONDS:.0f} s)")
    assert not problems, (
        f"{path.name}: every axis of every figure needs a label (ax.set_xlabel / ax.set_ylabel, "
        "cbar.set_label):\n  " + "\n  ".join(f"{path.name}, {p}" for p in problems))


def test_notebooks_cite_the_package_docs_not_the_seed_files():
    """The seeds and shared/conventions.md are not in the repository: a notebook cites
    docs/seeds.md and docs/conventions.md, which summarise them."""
    import re
    for src in sorted(NB_DIR.glob("[0-9][0-9]_*.py")):
        text = src.read_text(encoding="utf-8")
        bad = re.findall(r"[\w./]*shared/[\w./]*|[\w./]*seeds/[\w./]*|(?<!docs/)conventions\.md", text)
        assert not bad, f"{src.name} cites {bad}; cite docs/seeds.md or docs/conventions.md instead"
        if "seed 0" in text.lower():
            assert "docs/seeds.md" in text, f"{src.name} cites a seed but not docs/seeds.md"
