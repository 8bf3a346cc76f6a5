"""Argument checks shared by the package.

Every check raises an error that names the argument and says what was
expected. Nothing is clipped, cast or ignored silently.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "float_array",
    "real_scalar",
    "check_choice",
    "check_bool",
    "check_positive_int",
]


def float_array(name, a, shape=None, dtype=None, finite=True):
    """Return ``a`` as a floating-point ndarray after checking it.

    Parameters
    ----------
    name : str
        The argument's name, used in error messages.
    a : array_like
        The value to check. Integer and boolean arrays are rejected: refsnn
        never converts them silently.
    shape : tuple of (int or None), optional
        Expected shape; ``None`` entries match any length.
    dtype : numpy dtype, optional
        Required floating dtype (e.g. the dtype of the layer's parameters).
    finite : bool
        Reject NaN and inf.
    """
    arr = np.asarray(a)
    if arr.dtype not in (np.float32, np.float64):
        raise TypeError(
            f"{name} must be a floating-point array (float32 or float64), "
            f"got dtype {arr.dtype}; convert it explicitly, e.g. {name}.astype(np.float64)"
        )
    if dtype is not None and arr.dtype != np.dtype(dtype):
        raise TypeError(
            f"{name} has dtype {arr.dtype}, expected {np.dtype(dtype)} "
            "(the dtype of the layer's parameters)"
        )
    if shape is not None:
        ok = arr.ndim == len(shape) and all(
            want is None or want == got for want, got in zip(shape, arr.shape)
        )
        if not ok:
            want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{name} has shape {arr.shape}, expected {want}")
    if finite and not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(
            f"{name} contains NaN or inf (first at index {tuple(int(i) for i in bad)}); "
            "expected finite values"
        )
    return arr


def real_scalar(name, x, low=None, high=None, low_open=False, high_open=False):
    """Check a finite real scalar, optionally inside an interval."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(x).__name__}")
    x = float(x)
    if not np.isfinite(x):
        raise ValueError(f"{name} must be finite, got {x}")
    if low is not None and (x <= low if low_open else x < low):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {x}")
    if high is not None and (x >= high if high_open else x > high):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {x}")
    return x


def check_choice(name, value, choices):
    """Check that ``value`` is one of ``choices`` (strings)."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_positive_int(name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)
