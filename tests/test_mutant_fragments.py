"""Every mutant of scripts/mutants/ still names code that exists, exactly once.

A fragment that the code no longer contains makes scripts/mutation_check.py stop on that
area, so the mutants would silently stop guarding the adjoints they were written for.
"""

import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
AREAS = sorted((ROOT / "scripts" / "mutants").glob("*.py"))


@pytest.mark.parametrize("area", AREAS, ids=lambda p: p.stem)
def test_every_fragment_occurs_once(area):
    ns = runpy.run_path(str(area))
    assert ns["MUTANTS"] and ns["TESTS"]
    for name, rel, old, new in ns["MUTANTS"]:
        count = (ROOT / rel).read_text().count(old)
        assert count == 1, f"{area.stem}: mutant {name!r}: fragment found {count} times in {rel}"
        assert old != new, name
    for t in ns["TESTS"]:                 # a file, or file::test
        assert (ROOT / t.split("::")[0]).exists(), t
