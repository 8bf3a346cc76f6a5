r"""Exercise 02 — surrogate derivatives (notebook 02).

Fill in each function, then run::

    python exercises/check.py ex02

A surrogate derivative ``σ'(x)`` replaces ``dH/dx`` in the backward pass, where
``x = v − θ``. The forward pass keeps the Heaviside step H. Each surrogate here is a
*unit-area density*: it is even, it peaks at ``x = 0``, it is never negative, and

.. math::

    \int_{-\infty}^{\infty} σ'(x)\, dx = 1 .

Its primitive ``F`` (with ``F' = σ'``) rises from 0 to 1 and has ``F(0) = ½``. F is
the "smooth twin" of H: a network that spikes with ``s = F(v − θ)`` is
differentiable, and its exact gradient is what the surrogate backward pass
computes (see ``refsnn/surrogates.py``).

Every function takes an array ``x`` of any shape ``(...)`` and returns an array
of the same shape. It must return finite values for every finite ``x``, even
``|x| = 1e4``. A formula that overflows (``exp(1e4) = inf``, then ``inf/inf = nan``)
fails the check. That is snnTorch issue 427.
"""

import numpy as np


def sigmoid_surrogate(x, k):
    r"""Derivative of the logistic function with slope k.

    .. math::

        σ'(x) = k\, S(kx)\,(1 - S(kx)), \qquad S(z) = \frac{1}{1 + e^{-z}}

    Height ``k/4`` at 0, area 1. refsnn: ``surrogate("sigmoid", k)``; this is also
    seed 001's sigmoid and SpikingJelly's ``Sigmoid(alpha=k)``.

    Parameters
    ----------
    x : ndarray of float (...)
    k : float > 0
        Slope (an inverse width).

    Returns
    -------
    ndarray (...)
    """
    raise NotImplementedError


def sigmoid_primitive(x, k):
    r"""The primitive of :func:`sigmoid_surrogate`: the smooth-twin spike.

    .. math::

        F(x) = S(kx) = \frac{1}{1 + e^{-kx}}

    Parameters
    ----------
    x : ndarray of float (...)
    k : float > 0

    Returns
    -------
    ndarray (...)
        Values in [0, 1], with ``F(0) = ½``.
    """
    raise NotImplementedError


def triangle_surrogate(x, a):
    r"""The triangle of half-width a, scaled to unit area (seed 000's "fast sigmoid").

    .. math::

        σ'(x) = \frac{1}{a} \max\!\left(0,\; 1 - \frac{|x|}{a}\right)

    The triangle is zero for ``|x| ≥ a``, and its height is ``1/a``, so its area is
    ``½ · 2a · 1/a = 1``. refsnn: ``surrogate("triangle", a)``.

    Parameters
    ----------
    x : ndarray of float (...)
    a : float > 0
        Half-width.

    Returns
    -------
    ndarray (...)
    """
    raise NotImplementedError


def arctan_surrogate(x, k):
    r"""Derivative of the arctan spike (snnTorch's default ``atan``, SpikingJelly's ``ATan``).

    .. math::

        σ'(x) = \frac{k/2}{1 + (\tfrac{π}{2} k x)^2},
        \qquad F(x) = \frac12 + \frac1π \arctan\!\left(\tfrac{π}{2} k x\right)

    Height ``k/2`` at 0, area 1. refsnn: ``surrogate("arctan", k)``.

    Parameters
    ----------
    x : ndarray of float (...)
    k : float > 0
        Slope.

    Returns
    -------
    ndarray (...)
    """
    raise NotImplementedError


def boxcar_surrogate(x, a):
    r"""The boxcar (rectangle) of half-width a, scaled to unit area (seed 001's "盒式" gradient).

    .. math::

        σ'(x) = \begin{cases} \dfrac{1}{2a}, & |x| < a \\ 0, & |x| \ge a \end{cases}

    Constant on the window around the threshold, zero outside: width ``2a`` times
    height ``1/(2a)`` is area 1. At ``|x| = a`` exactly it is 0. refsnn:
    ``surrogate("boxcar", a)``; SpikingJelly's ``Rect(alpha)`` is ``a = 0.5/alpha``.

    Parameters
    ----------
    x : ndarray of float (...)
    a : float > 0
        Half-width.

    Returns
    -------
    ndarray (...)
    """
    raise NotImplementedError


def exponential_surrogate(x, k):
    r"""Back-to-back exponentials, the Laplace density (seed 001's exponential gradient).

    .. math::

        σ'(x) = \frac{k}{2}\, e^{-k|x|}

    A sharp peak of height ``k/2`` at 0, area 1. refsnn: ``surrogate("exponential", k)``;
    SpikingJelly's ``PiecewiseExp(alpha=k)``.

    Parameters
    ----------
    x : ndarray of float (...)
    k : float > 0
        Slope (an inverse width).

    Returns
    -------
    ndarray (...)
    """
    raise NotImplementedError
