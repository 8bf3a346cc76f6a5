r"""Exercise 07 — seed 004's charge / fire / reset form, and its map onto refsnn (notebook 07).

Fill in each function, then run::

    python exercises/check.py ex07

Seed 004 (SpikingJelly's form) splits one step of an LIF neuron into three parts.
``H_t`` is the membrane after charging and before the reset. ``V_t`` is the membrane
after the reset. ``X_t`` is the input current:

.. math::

    \text{charge:}\quad H_t &= \Big(1 - \frac1τ\Big) V_{t-1} + \frac1τ X_t\\
    \text{fire:}\quad   S_t &= Θ(H_t - V_{th}), \qquad Θ(0) = 1 \ (H_t ≥ V_{th} \text{ spikes})\\
    \text{reset:}\quad  V_t &= S_t V_{reset} + (1 - S_t) H_t \quad\text{(hard)}, \qquad
                        V_t = H_t - S_t V_{th} \quad\text{(soft)}

(The seed writes the soft reset as ``V_t = V_t − S_t V_th``; the H on the right is
what is meant.) Shapes: ``(B, N)`` is one step, with B batch rows and N neurons;
the parameters ``τ, V_th, V_reset`` are ``(N,)`` vectors or scalars.

refsnn's membrane v is seed 004's H: the value that is compared with the
threshold. Its reset acts one step later, through ``s_{t−1}`` (F4 in
``refsnn/neurons/lif.py``). :func:`map_to_refsnn` makes the two agree.
"""

import numpy as np


def charge(v_prev, x_t, tau):
    r"""The LIF charge: ``H_t = (1 − 1/τ) V_{t−1} + X_t / τ``.

    Parameters
    ----------
    v_prev : ndarray (B, N)
        ``V_{t−1}``, the membrane after the previous reset.
    x_t : ndarray (B, N)
        ``X_t``.
    tau : float or ndarray (N,)
        Membrane time constant, > 1 (in steps).

    Returns
    -------
    ndarray (B, N)
        ``H_t``.
    """
    raise NotImplementedError


def fire(h, v_th):
    r"""``S_t = Θ(H_t − V_th)`` with ``Θ(0) = 1``.

    Parameters
    ----------
    h : ndarray (B, N)
    v_th : float or ndarray (N,)

    Returns
    -------
    ndarray (B, N)
        Values in {0.0, 1.0}.
    """
    raise NotImplementedError


def reset_hard(h, s, v_reset):
    r"""``V_t = S_t V_reset + (1 − S_t) H_t``.

    Parameters
    ----------
    h, s : ndarray (B, N)
    v_reset : float or ndarray (N,)

    Returns
    -------
    ndarray (B, N)
    """
    raise NotImplementedError


def reset_soft(h, s, v_th):
    r"""``V_t = H_t − S_t V_th``.

    Parameters
    ----------
    h, s : ndarray (B, N)
    v_th : float or ndarray (N,)

    Returns
    -------
    ndarray (B, N)
    """
    raise NotImplementedError


def map_to_refsnn(tau, v_th, v_reset, reset, n):
    r"""refsnn settings under which ``layer_forward`` reproduces seed 004's neuron.

    Identify refsnn's ``v_t`` with ``H_t``, its ``s_t`` with ``S_t``, and the input
    ``x_t`` with ``X_t``, where ``x`` is ``(T, B, n)`` with one input per neuron.
    Substitute the reset into the next charge and write ``H_t`` in terms of
    ``H_{t−1}``, ``S_{t−1}`` and ``X_t``. Then read off refsnn's F1 and F4:

    .. math::

        v_t = α v_{t-1} + x_t W^\top + b - \tilde s_{t-1} r_t

    with ``r_t = γ`` (``reset="subtract"``) or ``r_t = α v_{t−1} − v_r``
    (``reset="hard_keep_input"``, which keeps the new input). The initial
    membrane ``V_{−1}`` maps unchanged to ``state0["v"]``, provided that it is below
    threshold.

    Parameters
    ----------
    tau, v_th, v_reset : float or ndarray (n,)
        Seed 004's τ (> 1), V_th (> 0) and V_reset.
    reset : {"soft", "hard"}
        Which reset seed 004 uses.
    n : int
        Number of neurons.

    Returns
    -------
    config_kwargs : dict
        Keyword arguments for ``refsnn.LIFConfig(n, n, **config_kwargs)``, at least
        ``"reset"`` and ``"h0"``.
    params : dict of ndarray
        A refsnn parameter dict for that config: ``"W"`` (n, n), ``"b"``, ``"alpha"``,
        ``"theta"`` (n,), plus ``"gamma"`` (soft) or ``"v_reset"`` (hard), each (n,).
    """
    raise NotImplementedError
