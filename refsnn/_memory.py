"""Keeping freed memory in the process, so that the time loops' arrays are not faulted in again.

A forward and backward pass of a 100-256-10 network (batch 64, T = 100) allocates about
six (T, B, N) arrays of 6.5 MB (float32) or 13 MB (float64) and frees them when the
step ends. With glibc's default settings the heap's free top is then returned to the
operating system (its *trim threshold* rises only to twice the largest freed block), so
the next step gets fresh pages, and every 4 KiB page costs a page fault when it is first
written: 2,400–3,800 faults a step (``resource.getrusage``), at 2.8 µs each on the
machine refsnn is benchmarked on, 7–11 ms a step. ``python benchmarks/bench_memory.py``
times one step both ways in one run: with this setting 0 faults a step, and the step
1.29x faster in float32 and 1.17x in float64.

:func:`keep_freed_memory` sets three glibc parameters (``mallopt``; the same as the
environment variables ``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_MMAP_MAX_`` and
``MALLOC_TRIM_THRESHOLD_``):

* ``M_MMAP_MAX`` = 0: no block comes from its own ``mmap``; every block comes from the
  heap, so a freed block is reused by the next step's block of the same size.
  (``M_MMAP_THRESHOLD`` = 32 MiB, glibc's largest, is set too, for the C libraries
  that ignore the first.) Before, a (T, B, N) array above 32 MiB (float64, B = 64,
  N = 256: T above 256) was mapped afresh at every step and its pages were faulted in
  and zeroed by the kernel every time: 2,549 faults a step at T = 1600, and a step
  1.17x slower per time step than at T = 100 in the same run; with the heap reused, 0
  faults and 1.01x (``python benchmarks/bench_tscaling.py``).
* ``M_TRIM_THRESHOLD`` = 2 GiB − 1 (the largest ``mallopt`` takes): the heap keeps up to
  that much freed memory for reuse before it gives it back.

What a process keeps is therefore the memory of its largest step (its peak, which the
next step needs again; ``bench_tscaling.py`` prints it: about 1 GiB for a float64
100-256-10 network at B = 64, T = 1600, 67 MiB at T = 100), up to 2 GiB; the operating
system gets it back when the process ends. ``import refsnn`` calls it once, unless the
environment variable ``REFSNN_KEEP_FREED_MEMORY`` is ``0``; it does nothing where the C
library is not glibc, and it changes no value that any computation returns. The setting
is the process's: a PyTorch library timed in the same process
(``benchmarks/bench_peers.py``) runs with it too.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

MMAP_THRESHOLD = 32 << 20
MMAP_MAX = 0
TRIM_THRESHOLD = 2 ** 31 - 1
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_MMAP_MAX = -1, -3, -4     # glibc's malloc.h
ENV = "REFSNN_KEEP_FREED_MEMORY"

state = {"applied": False, "reason": "not called"}


def _glibc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "gnu_get_libc_version") and hasattr(libc, "mallopt") else None


def keep_freed_memory(mmap_threshold=MMAP_THRESHOLD, trim_threshold=TRIM_THRESHOLD, mmap_max=MMAP_MAX):
    """Set glibc's mmap threshold, mmap count and trim threshold (see the module
    docstring); return whether they were set. ``state["reason"]`` says why not, if not."""
    for name, val in (("mmap_threshold", mmap_threshold), ("trim_threshold", trim_threshold)):
        if isinstance(val, bool) or not isinstance(val, int) or not 0 < val < 2 ** 31:
            raise ValueError(f"{name} must be an int in [1, 2**31), got {val!r}")
    if isinstance(mmap_max, bool) or not isinstance(mmap_max, int) or not 0 <= mmap_max < 2 ** 31:
        raise ValueError(f"mmap_max must be an int in [0, 2**31), got {mmap_max!r}")
    libc = _glibc()
    if libc is None:
        state.update(applied=False, reason="the C library is not glibc")
        return False
    ok = (libc.mallopt(_M_MMAP_THRESHOLD, mmap_threshold) == 1 and libc.mallopt(_M_MMAP_MAX, mmap_max) == 1
          and libc.mallopt(_M_TRIM_THRESHOLD, trim_threshold) == 1)
    state.update(applied=ok, reason="set" if ok else "mallopt refused the values")
    return ok


def apply_default():
    """What ``import refsnn`` does: :func:`keep_freed_memory` unless ``REFSNN_KEEP_FREED_MEMORY=0``."""
    if os.environ.get(ENV, "1").strip() == "0":
        state.update(applied=False, reason=f"{ENV}=0")
        return False
    return keep_freed_memory()
