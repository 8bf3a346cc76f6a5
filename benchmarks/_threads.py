"""``--threads N`` applied before NumPy (and its BLAS) is loaded: the benchmarks import this first.

A multi-threaded BLAS call stalls whenever one of its threads is descheduled, so on a shared
machine the timings are steadier with one thread.

The environment variables do not bind every library: JAX 0.10's XLA CPU client ignores the
``XLA_FLAGS`` thread settings and sizes its intra-op pool from the CPUs the process may run on
(measured: a float64 ``x @ W.T`` of the bench's shape took 19 ms of CPU time in 10 ms of wall
time with only the flags set). So on Linux the process is also pinned to ``N`` of its CPUs
(``os.sched_setaffinity``), before any library starts its threads: ``--threads 1`` then means
one core for every system timed, JAX included.
"""

import argparse
import os


def preset_threads(argv, default=1):
    """Set the BLAS (and, for one thread, JAX/XLA) thread counts from ``--threads`` in ``argv``;
    ``default=None`` leaves them alone when the flag is absent. Returns the count (or None)."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--threads", type=int, default=default)
    ns, _ = pre.parse_known_args(argv)
    if ns.threads is not None and ns.threads >= 1:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(ns.threads)
        if ns.threads == 1:     # JAX (if installed): XLA's CPU backend on one thread too
            os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
                                       " intra_op_parallelism_threads=1").strip()
        if hasattr(os, "sched_setaffinity"):
            cpus = sorted(os.sched_getaffinity(0))
            os.sched_setaffinity(0, cpus[:ns.threads])
    return ns.threads
