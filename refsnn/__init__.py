"""refsnn: a NumPy reference for surrogate-gradient BPTT in spiking neural networks.

Modules
-------
surrogates  spike function, surrogate derivatives and their primitives
lif         the adaptive LIF layer: forward loop (F1–F6), adjoint recursions (B1–B5)
network     stacks of layers with a spiking or leaky-integrator readout
losses      losses with their direct partials ∂L/∂s_t, ∂L/∂v_t
gradcheck   central differences in float64, relative error with a floor
verify      the verification grid along the two exact routes
"""

from .gradcheck import check_gradient, check_gradients, numerical_gradient, rel_error
from .lif import (
    LIFConfig,
    init_params,
    layer_backward,
    layer_forward,
    piecewise_linear,
    smooth_twin,
    zero_state,
)
from .network import Network, network_backward, network_forward, network_init
from .surrogates import SURROGATE_NAMES, Surrogate, heaviside, surrogate

__version__ = "0.1.0"
