"""The registry of gradient-check families that ``refsnn gradcheck`` runs.

Every gradient path of the package has a place on the grid. A *family* is one kind of
path (the adaptive-LIF core, a convolution, a loss, a learning rule, a preset's
parameter map, ...). It lives in its own module, which defines a module-level
``FAMILY = Family(name, points, check)``:

- ``points()`` returns the family's grid points, frozen dataclasses with a ``name``
  property that is unique inside the family;
- ``check(point, seed, rtol)`` runs both exact routes on one point (smooth twin and
  piecewise-linear regime, see :mod:`refsnn.checking.verify`) and returns a
  :class:`refsnn.checking.verify.PointReport`. The finite differences of both routes go
  through :func:`refsnn.checking.verify.check_route`: one random direction per array, and
  entry by entry only where it fails (``refsnn gradcheck --exhaustive``: entry by entry
  everywhere).

Adding a family is one line in ``FAMILY_MODULES``; ``refsnn gradcheck`` and its tests
pick it up from there. A family's rows are named ``"<family>:<point name>"``, except the
core family ``lif``, whose rows keep their first-wave names (``subtract/attach/ce_count``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

__all__ = ["Family", "FAMILY_MODULES", "families", "rows", "row_name"]

# Modules that define FAMILY, in the order gradcheck prints them.
FAMILY_MODULES = (
    "refsnn.checking.verify",
    "refsnn.checking.grid_switches",
    "refsnn.oracle.family",
    "refsnn.checking.conv_grid",
    "refsnn.checking.first_spike_grid",
    "refsnn.checking.reg_family",
    "refsnn.checking.dendrite_family",
    "refsnn.checking.trainable_family",
    "refsnn.checking.lee2016",
    "refsnn.checking.eprop_grid",
    "refsnn.checking.robust_family",
    "refsnn.checking.first_spike_target_family",
    "refsnn.checking.eventprop_grid",
)


@dataclass(frozen=True)
class Family:
    name: str
    points: Callable[[], list]
    check: Callable  # (point, seed=0, rtol=RTOL) -> PointReport


def families() -> dict:
    """``{name: Family}`` for every registered module, in FAMILY_MODULES order."""
    out = {}
    for mod_name in FAMILY_MODULES:
        fam = importlib.import_module(mod_name).FAMILY
        if fam.name in out:
            raise RuntimeError(f"two gradcheck families are named {fam.name!r}")
        out[fam.name] = fam
    return out


def row_name(family: str, point) -> str:
    return point.name if family == "lif" else f"{family}:{point.name}"


def rows(only_families=None):
    """``[(family_name, point, row_name)]`` over the selected families (default all)."""
    fams = families()
    if only_families:
        unknown = sorted(set(only_families) - set(fams))
        if unknown:
            raise ValueError(f"unknown gradcheck families {unknown}; expected some of {sorted(fams)}")
    out = []
    for name, fam in fams.items():
        if only_families and name not in only_families:
            continue
        out += [(name, pt, row_name(name, pt)) for pt in fam.points()]
    return out
