"""Exercise 09 · spiking convolution: the kernel gradient and the input gradient by hand.

A convolutional LIF layer computes, for every step t, output channel k and position (i, j),

    I[t, b, k, i, j] = Σ_{c,r,q} W[k, c, r, q] · x[t, b, c, s·i + r − p, s·j + q − p] + b_k      (C1)

with stride s, zero padding p (input indices outside the grid read 0) and a kernel of
size (kh, kw). Given the adjoint δI = dL/dI (from the LIF recursions B1–B5), write

    ∂L/∂W[k, c, r, q] = Σ_t Σ_b Σ_{i,j} δI[t, b, k, i, j] · x[t, b, c, s·i + r − p, s·j + q − p]   (C3)

    ∂L/∂x[t, b, c, a, e] = Σ_k Σ_{i,r: s·i+r−p=a} Σ_{j,q: s·j+q−p=e} δI[t, b, k, i, j] · W[k, c, r, q]  (C4)

(C4 is the transposed convolution). Plain loops are fine; the checker compares with
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
    T, B, K, Ho, Wo = dI.shape
    C, H, W = x.shape[2:]
    kh = kw = kernel_size
    dW = np.zeros((K, C, kh, kw))
    for r in range(kh):
        for q in range(kw):
            for i in range(Ho):
                a = stride * i + r - padding
                if a < 0 or a >= H:
                    continue
                for j in range(Wo):
                    e = stride * j + q - padding
                    if e < 0 or e >= W:
                        continue
                    dW[:, :, r, q] += np.einsum("tbk,tbc->kc", dI[:, :, :, i, j], x[:, :, :, a, e])
    return dW


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
    T, B, K, Ho, Wo = dI.shape
    kh, kw = W.shape[2:]
    H, Wd = x_shape[3], x_shape[4]
    dx = np.zeros(x_shape)
    for r in range(kh):
        for q in range(kw):
            for i in range(Ho):
                a = stride * i + r - padding
                if a < 0 or a >= H:
                    continue
                for j in range(Wo):
                    e = stride * j + q - padding
                    if e < 0 or e >= Wd:
                        continue
                    dx[:, :, :, a, e] += np.einsum("tbk,kc->tbc", dI[:, :, :, i, j], W[:, :, r, q])
    return dx
