"""refsnn.oracle: refsnn as a gradient oracle for the peer libraries.

``presets`` (also ``refsnn.presets``) maps snnTorch, SpikingJelly, Norse, e-prop and SpyTorch
neurons onto refsnn networks; ``compare`` (also ``refsnn.compare``, the ``refsnn compare``
command) checks a saved peer run; ``family`` puts the presets' chain rules on the gradcheck
grid; ``peers`` runs the real libraries (needs torch and the peers); ``nir`` imports NIR
graphs (dense, recurrent, convolutional; each exporter's convention), exports refsnn networks
and checks a graph against a recording (``refsnn nir-check``); ``audit`` reproduces the peers'
known bugs on the installed versions (``refsnn audit``). :func:`check` (module
``refsnn.oracle.check``) checks a live PyTorch network in one call: it reads the network,
records the run and compares (torch is imported only then); :class:`Custom` declares the
preset a hand-written neuron follows. :func:`fixture` gives the path of a recorded run
shipped with the package.
"""

from pathlib import Path

from .check import CheckError, Custom, check

__all__ = ["check", "Custom", "CheckError", "fixture", "FIXTURES"]

FIXTURES = ("snntorch_ok", "snntorch_scale_bug", "snntorch_float32")


def fixture(name):
    """Path of a recorded snnTorch run (``scripts/make_oracle_fixture.py``): one of :data:`FIXTURES`."""
    if name not in FIXTURES:
        raise ValueError(f"unknown fixture {name!r}; expected one of {FIXTURES}")
    return str(Path(__file__).resolve().parent / "fixtures" / f"{name}.npz")
