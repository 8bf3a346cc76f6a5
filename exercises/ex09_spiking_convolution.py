"""Exercise 09 · spiking convolution: the kernel gradient and the input gradient by hand.

A convolutional LIF layer computes, for every step t, output channel k and position (i, j),

    I[t, b, k, i, j] = Σ_{c,r,q} W[k, c, r, q] · x[t, b, c, s·i + r − p, s·j + q − p] + b_k      (C1)

with stride s, zero padding p (input indices outside the grid read 0) and a kernel of
size (kh, kw). Given the adjoint δI = dL/dI (from the LIF recursions B1–B5), write

    ∂L/∂W[k, c, r, q] = Σ_t Σ_b Σ_{i,j} δI[t, b, k, i, j] · x[t, b, c, s·i + r − p, s·j + q − p]   (C3)

    ∂L/∂x[t, b, c, a, e] = Σ_k Σ_{i,r: s·i+r−p=a} Σ_{j,q: s·j+q−p=e} δI[t, b, k, i, j] · W[k, c, r, q]  (C4)

(C4 is the transposed convolution). Plain loops are fine. Check with ``python exercises/check.py ex09``; it compares with
refsnn.neurons.conv and with central differences.
"""

import numpy as np


def kernel_gradient(dI, x, kernel_size, stride, padding):
    """∂L/∂W of C3.

    Parameters
    ----------
    dI : ndarray (T, B, K, H_o, W_o)
        δI, the adjoint of the input current.
    x : ndarray (T, B, C, H, W)
        The layer's input.
    kernel_size : int
        kh = kw.
    stride, padding : int
        s and p.

    Returns
    -------
    dW : ndarray (K, C, kh, kw)
    """
    # TODO: loop over the kernel offsets (r, q) and the output positions (i, j); the input
    # row read is a = s·i + r − p (skip it if it lies in the padding).
    raise NotImplementedError


def input_gradient(dI, W, x_shape, stride, padding):
    """∂L/∂x of C4, the transposed convolution of δI with W.

    Parameters
    ----------
    dI : ndarray (T, B, K, H_o, W_o)
    W : ndarray (K, C, kh, kw)
    x_shape : tuple (T, B, C, H, W)
    stride, padding : int

    Returns
    -------
    dx : ndarray (T, B, C, H, W)
    """
    # TODO: every δI[..., i, j] goes back to each input position its window read,
    # weighted by W[:, :, r, q]; where windows overlap (kernel > stride) the parts add.
    raise NotImplementedError
