"""The study notebooks (notebooks/*.ipynb) run top to bottom, fast, and are committed clean.

Each notebook is executed with nbclient in a fresh ``python3`` kernel whose working
directory is ``notebooks/``; any exception in any cell fails the test (the notebooks
end with a cell of ``assert`` statements, so a wrong number fails too). The wall time
of one notebook, kernel start included, must stay under 60 s.

The committed files must carry no outputs and no execution counts, so that their
git diffs show only source changes, and they must be exactly what
``notebooks/build.py`` writes from the jupytext percent sources ``notebooks/NN_*.py``:
the source is what is reviewed, and a notebook edited by hand would drift from it.
"""

from __future__ import annotations

import importlib.util
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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_runs(path, monkeypatch):
    # The kernel inherits this environment: headless plotting, the working tree's
    # refsnn first on the path, and one BLAS thread (the machine has 2 cores).
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(var, "1")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(NB_DIR)}},
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    print(f"{path.name}: {seconds:.1f} s")
    assert seconds < MAX_SECONDS, f"{path.name} took {seconds:.1f} s (limit {MAX_SECONDS:.0f} s)"
