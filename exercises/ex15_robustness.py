r"""Exercise 15 — the min-max robustness objective (notebook 15, seed 002 §9).

Fill in each function, then run::

    python exercises/check.py ex15

Symbols (``refsnn/learning/robust.py``, R1–R10): the logits are the readout's mean
membrane ``z = (1/T) Σ_t v_t`` (R1); ``p = softmax(z(x))``, ``q = softmax(z(x + δ))``
(R2) and ``KL(p ‖ q) = Σ_k p_k (log p_k − log q_k)`` (R3). The outer loss is

    J = (1/B) Σ_b [ −log p_{b,y_b} + λ KL(p_b ‖ q_b) ]                         (R7)

with δ the result of the attack, held constant (exact by R10). Shapes: B trials,
K classes, T steps, M inputs.
"""

import numpy as np  # noqa: F401  (you will need it)


def kl_partials(z, z_adv):
    r"""R3–R5 for every trial.

    .. math::

        \frac{∂\,KL}{∂z'_j} = q_j - p_j, \qquad
        \frac{∂\,KL}{∂z_k} = p_k\,(\log p_k - \log q_k - KL)

    Parameters
    ----------
    z, z_adv : ndarray (B, K)
        Clean and perturbed logits.

    Returns
    -------
    kl : ndarray (B,)
    dz, dz_adv : ndarray (B, K)
        ∂KL_b/∂z_b and ∂KL_b/∂z'_b.
    """
    # TODO: your code here
    raise NotImplementedError


def attack_step(delta, grad, eps, step_size):
    r"""One projected sign-gradient *ascent* step of R6 in the ℓ∞ ball of radius ε:
    ``clip(δ + η sign(∇), −ε, ε)``.

    Parameters
    ----------
    delta, grad : ndarray (B, M)
        The current δ and ∇_δ of the objective being maximised.
    eps, step_size : float

    Returns
    -------
    ndarray (B, M)
    """
    # TODO: your code here
    raise NotImplementedError


def outer_logit_partials(z, z_adv, labels, lam):
    r"""R8: the partials of J (R7) in the clean and the perturbed logits.

    .. math::

        \frac{∂J}{∂z} = \frac{1}{B}\big[(p - e_y) + λ\,p(\log p - \log q - KL)\big], \qquad
        \frac{∂J}{∂z'} = \frac{λ}{B}(q - p)

    Parameters
    ----------
    z, z_adv : ndarray (B, K)
    labels : int ndarray (B,)
    lam : float

    Returns
    -------
    value : float
        J.
    gz, gz_adv : ndarray (B, K)
    """
    # TODO: your code here
    raise NotImplementedError


def robust_gradient(net, params, x, delta, gz, gz_adv):
    r"""R9: the parameter, input and δ gradients of J, given its logit partials R8.

    Run ``refsnn.network_forward`` at ``x`` and at ``x + δ`` (δ is (B, M), added at every
    step), give each readout the direct partial of R1 (``dv_t = g/T`` on the last layer,
    nothing elsewhere), run ``refsnn.network_backward`` on both, and combine.

    Parameters
    ----------
    net : refsnn.Network
        Its last layer is a non-spiking readout.
    params : list of dict
    x : ndarray (T, B, M)
    delta : ndarray (B, M)
    gz, gz_adv : ndarray (B, K)
        ∂J/∂z and ∂J/∂z'.

    Returns
    -------
    dparams : list of dict
        ∂J/∂θ for every parameter of every layer (the same keys as ``params``).
    dx : ndarray (T, B, M)
        ∂J/∂x.
    ddelta : ndarray (B, M)
        ∂J/∂δ.
    """
    # TODO: your code here
    raise NotImplementedError
