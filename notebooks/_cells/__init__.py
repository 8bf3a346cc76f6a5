"""Cell lists of the study notebooks, one module per notebook (see ../_build.py)."""

import textwrap


def md(text):
    """A markdown cell; the source is dedented and stripped of blank edge lines."""
    return ("markdown", textwrap.dedent(text).strip("\n"))


def code(text):
    """A code cell; the source is dedented and stripped of blank edge lines."""
    return ("code", textwrap.dedent(text).strip("\n"))


SETUP = code(
    """
    %matplotlib inline
    import numpy as np
    import matplotlib.pyplot as plt

    np.set_printoptions(precision=4, suppress=False, linewidth=100)
    plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})
    """
)
