r"""Exercise 16 — EventProp: the jump conditions of the adjoint at a spike (notebook 16).

Fill in each function, then run::

    python exercises/check.py ex16

The labels are those of ``refsnn/neurons/eventprop.py``. A layer of N neurons has
``τ_m V̇ = −V + I``, ``τ_s İ = −I``, a jump ``I_i += W_ij`` at each input spike of channel j,
and a spike with the reset ``V = 0`` when V reaches θ. Backward in time the multipliers
``λ_V``, ``λ_I`` decay (A3–A4); at events they jump or pass unchanged. Arrays are (B, N):
B samples, one entry per neuron; every neuron of the arrays is taken at one of its own
spikes, at the time ``t_e``.
"""

import numpy as np


def arriving_gradient(dl_dt, W_above, lam_v_above, lam_i_above):
    r"""J4's sum (and G2): the gradient arriving at the spikes of this layer.

    .. math::

        g_{b,i} = \frac{∂l}{∂t_{b,i}} + \sum_j W^{above}_{ji}\,(λ_{V,j} - λ_{I,j})(t_e)

    Parameters
    ----------
    dl_dt : ndarray (B, N)
        The loss's direct partial ∂l/∂t of each spike.
    W_above : ndarray (N_above, N)
        The weights of the layer above (row j: the synapses of neuron j above).
    lam_v_above, lam_i_above : ndarray (B, N_above)
        The multipliers of the layer above at the spike time.

    Returns
    -------
    ndarray (B, N)
    """
    raise NotImplementedError


def jump_at_spike(lam_v_plus, lam_i_plus, current, g, theta):
    r"""J3–J4: the multipliers just before a spike from those just after it.

    .. math::

        λ_I^- = λ_I^+, \qquad (I - θ)\, λ_V^- = I\, λ_V^+ + g

    where ``I = I(t_e)`` is the synaptic current at the spike (``I − θ = τ_m V̇^-``, the
    threshold crossing's slope; ``I = τ_m V̇^+`` after the reset to 0) and ``g`` the
    arriving gradient.

    Parameters
    ----------
    lam_v_plus, lam_i_plus : ndarray (B, N)
    current : ndarray (B, N)
        ``I(t_e)`` (> θ at every spike).
    g : ndarray (B, N)
    theta : float

    Returns
    -------
    lam_v_minus, lam_i_minus : ndarray (B, N)
    """
    raise NotImplementedError


def weight_gradient(lam_i_at_inputs, channels, n_in, tau_s):
    r"""G1: ``dℒ/dW_ij = −τ_s Σ_{input spikes of j} λ_{I,i}(t^{in})``, summed over the batch.

    Parameters
    ----------
    lam_i_at_inputs : ndarray (B, P, N)
        ``λ_I`` of every neuron at each of the P input events of each sample.
    channels : int ndarray (B, P)
        The input channel j of each event.
    n_in : int
        M, the number of input channels.
    tau_s : float

    Returns
    -------
    ndarray (N, M)
    """
    raise NotImplementedError
