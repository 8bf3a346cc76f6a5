"""refsnn: a NumPy reference for surrogate-gradient BPTT in spiking neural networks.

The folders show the architecture:

=============  =============================================================
``neurons/``   neuron models, each with its forward loop and its adjoints in one file
               (``lif``: the adaptive LIF layer, F1–F6 and B1–B5; ``network``: stacks)
``learning/``  learning rules that drive the adjoints (``tbptt``: truncated BPTT; ``eprop``,
               ``three_factor``, ``rules``: online learning; ``lee2016``: seed 003)
``checking/``  ``gradcheck`` (central differences, relative error with a floor) and
               ``verify`` (the verification grid along the two exact routes)
``training/``  ``optim``, ``data`` (the offline tasks) and ``train`` (the loop)
``oracle/``    matching the peer libraries' conventions: ``presets`` (``refsnn.presets``),
               ``compare`` (``refsnn.compare``, the ``refsnn compare`` command), ``nir``
``surrogates`` the spike function, surrogate derivatives and their primitives
``losses``     losses with their direct partials ∂L/∂s_t, ∂L/∂v_t
``cli``        the ``refsnn`` command
=============  =============================================================

The first-wave module names stay importable: ``refsnn.lif`` is ``refsnn.neurons.lif``,
``refsnn.verify`` is ``refsnn.checking.verify``, and so on (see ``_MOVED``).
"""

import importlib as _importlib
import sys as _sys

from . import _memory

_memory.apply_default()      # keep freed memory for the next step's arrays (see refsnn._memory)

from .checking.gradcheck import check_gradient, check_gradients, numerical_gradient, rel_error
from .neurons.lif import (
    LIFConfig,
    init_params,
    layer_backward,
    layer_forward,
    piecewise_linear,
    smooth_twin,
    zero_state,
)
from .neurons.network import Network, network_backward, network_forward, network_init
from .surrogates import SURROGATE_NAMES, Surrogate, heaviside, surrogate

__version__ = "0.1.0"

# Old flat name -> the module's home. Each old name is the *same* module object, so
# ``refsnn.lif._SG_BLOCK`` and ``refsnn.neurons.lif._SG_BLOCK`` are one attribute.
_MOVED = {
    "lif": "neurons.lif",
    "network": "neurons.network",
    "tbptt": "learning.tbptt",
    "gradcheck": "checking.gradcheck",
    "verify": "checking.verify",
    "optim": "training.optim",
    "data": "training.data",
    "train": "training.train",
    "presets": "oracle.presets",
    "compare": "oracle.compare",
    "nir": "oracle.nir",
}
for _old, _new in _MOVED.items():
    _mod = _importlib.import_module(f"{__name__}.{_new}")
    _sys.modules[f"{__name__}.{_old}"] = _mod
    globals()[_old] = _mod
del _old, _new, _mod
