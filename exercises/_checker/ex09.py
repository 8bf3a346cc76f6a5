"""Checks for exercise 09 (spiking convolution: kernel gradient C3, input gradient C4).

Reference: :mod:`refsnn.neurons.conv` (``kernel_gradient`` gathers the patches from the
formula's index, ``input_gradient`` is col2im of δI W). The current C1 is linear in W
and x, so ``L = Σ δI · I(W, x)`` has exactly the gradients C3 and C4, and central
differences of it (``refsnn.neurons.conv.conv_current``) check them to rounding.
Geometries: stride 1 and 2, padding 0 to 2, kernels 3 (larger than stride 2) and the
non-square leftovers (an input row no window reads).

Typical mistakes are recognised by re-running a loop form of C3/C4 with one change
(the padding offset shifted by ±1 or dropped, the stride dropped, r and q swapped, the
kernel flipped, a sum over t or b left out, overlapping windows overwriting).
"""

import numpy as np

from refsnn.gradcheck import check_gradient
from refsnn.neurons.conv import ConvLIFConfig, conv_current, input_gradient, kernel_gradient

from .common import Fail, call, compare, diagnose, locate, nonfinite_hint, to_array, RTOL_REF

# (H, kernel, stride, padding)
CASES = [(5, 3, 1, 1), (7, 3, 2, 1), (6, 3, 2, 0), (5, 3, 1, 2), (6, 3, 1, 0)]


def _problem(H, k, s, p, seed):
    rng = np.random.default_rng(seed)
    cfg = ConvLIFConfig(2, H, H, 3, k, s, p)
    T, B = 3, 2
    x = rng.normal(size=(T, B, 2, H, H))
    W = rng.normal(size=(3, 2, k, k))
    dI = rng.normal(size=(T, B, 3) + cfg.out_shape)
    return cfg, x, W, dI


def _loop(dI, x_or_W, shape, k, s, p, what, offset=0, use_pad=True, use_stride=True, swap=False, flip=False,
          t_only=False, b_only=False, overwrite=False):
    """C3 (what="W") or C4 (what="x") as loops, with one typical mistake switched on."""
    T, B, K, Ho, Wo = dI.shape
    H, Wd = (x_or_W.shape[-2:] if what == "W" else shape[-2:])     # the input grid
    out = np.zeros(shape)
    pp = p if use_pad else 0
    ss = s if use_stride else 1
    for r in range(k):
        for q in range(k):
            rr, qq = (q, r) if swap else (r, q)
            if flip:
                rr, qq = k - 1 - rr, k - 1 - qq
            for i in range(Ho):
                a = ss * i + r - pp + offset
                if not 0 <= a < H:
                    continue
                for j in range(Wo):
                    e = ss * j + q - pp + offset
                    if not 0 <= e < Wd:
                        continue
                    d = dI[:, :, :, i, j]
                    if what == "W":
                        xs = x_or_W[:, :, :, a, e]
                        if t_only:
                            d, xs = d[-1:], xs[-1:]
                        if b_only:
                            d, xs = d[:, :1], xs[:, :1]
                        out[:, :, rr, qq] += np.einsum("tbk,tbc->kc", d, xs)
                    else:
                        val = np.einsum("tbk,kc->tbc", d, x_or_W[:, :, rr, qq])
                        if overwrite:
                            out[:, :, :, a, e] = val
                        else:
                            out[:, :, :, a, e] += val
    return out


_SHARED = [
    ("padding offset off by one: the input row is s·i + r − p, here s·i + r − p − 1", dict(offset=-1)),
    ("padding offset off by one: the input row is s·i + r − p, here s·i + r − p + 1", dict(offset=1)),
    ("the padding p is missing from the index: the input row is s·i + r − p, not s·i + r", dict(use_pad=False)),
    ("the stride is missing from the index: the input row is s·i + r − p, not i + r − p", dict(use_stride=False)),
    ("r and q are swapped: W[k, c, r, q] has the row offset r first", dict(swap=True)),
]
_W_MUTANTS = _SHARED + [
    ("the sum over time t is missing: C3 sums δI·x over every step (only the last is here)", dict(t_only=True)),
    ("the sum over the batch b is missing: C3 sums over every batch row", dict(b_only=True)),
]
_X_MUTANTS = _SHARED + [
    ("the kernel is flipped: in C4 (the im2col transpose) W[k, c, r, q] multiplies δI at the same (r, q); "
     "the 180° flip appears only when C4 is written as a correlation of the dilated δI", dict(flip=True)),
    ("overlapping windows must add (kernel > stride): use += when spreading δI back", dict(overwrite=True)),
]


def _check(fn, what):
    worst = 0.0
    for n, (H, k, s, p) in enumerate(CASES):
        cfg, x, W, dI = _problem(H, k, s, p, 90 + n)
        T, B = x.shape[:2]
        flat_dI = dI.reshape(T, B, -1)
        if what == "W":
            want = kernel_gradient(cfg, flat_dI, x)[0]
            got = to_array(call(fn, dI, x, k, s, p), "dW", want.shape, "(K, C, kh, kw)")
            mutants = [(h, lambda kw=kw: {"dW": _loop(dI, x, want.shape, k, s, p, "W", **kw)}) for h, kw in _W_MUTANTS]
            name, axes = "dW", "kcrq"
        else:
            want = input_gradient(cfg, flat_dI, W, x.shape)
            got = to_array(call(fn, dI, W, x.shape, s, p), "dx", want.shape, "(T, B, C, H, W)")
            mutants = [(h, lambda kw=kw: {"dx": _loop(dI, W, want.shape, k, s, p, "x", **kw)}) for h, kw in _X_MUTANTS]
            name, axes = "dx", "tbcae"
        err, idx = compare(got, want)
        geom = f"(H={H}, kernel={k}, stride={s}, padding={p})"
        if err > RTOL_REF:
            hint = nonfinite_hint(got, name) or diagnose({name: got}, mutants) or \
                (f"check {'C3' if what == 'W' else 'C4'}: {name} first differs for {geom}")
            if geom not in hint:
                hint += f" [geometry {geom}]"
            raise Fail(hint, err, locate(name, idx, axes))
        # Central differences of L = Σ δI · I(W, x): the gradient is exact.
        if what == "W":
            fd = check_gradient(lambda w: float(np.sum(flat_dI * conv_current(cfg, w, np.zeros(3), x))),
                                W.copy(), got, name="dW", eps=0.1, rtol=1e-9, floor=1e-4, order=4)
        else:
            fd = check_gradient(lambda a: float(np.sum(flat_dI * conv_current(cfg, W, np.zeros(3), a))),
                                x.copy(), got, name="dx", eps=0.1, rtol=1e-9, floor=1e-4, order=4)
        if not fd.passed:
            raise Fail(f"{name} disagrees with central differences of Σ δI·I ({fd}) for {geom}",
                       fd.max_rel_error, locate(name, fd.worst_index, axes))
        worst = max(worst, err)
    return worst, ""


def check_kernel_gradient(fn):
    return _check(fn, "W")


def check_input_gradient(fn):
    return _check(fn, "x")


CHECKS = [
    ("kernel_gradient", check_kernel_gradient),
    ("input_gradient", check_input_gradient),
]
