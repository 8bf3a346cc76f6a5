"""Forward+backward time of a 100-256-10 LIF network against its bare matrix products.

The issue's requirement: report forward+backward time for a 100-256-10 feed-forward
network (batch 64, T = 100), with its ratio to the bare matrix products of the same shapes
timed in the same run. Target: a ratio of at most 2.5, in float32 and in float64.

What is timed (all with ``time.perf_counter``, after a warm-up):

* ``fwd``      ``network_forward`` + ``spike_count_cross_entropy`` on the last layer.
* ``bwd``      ``network_backward`` with the loss's ``ds`` on the last layer (every
               parameter gradient: W, b, α, θ, γ of both layers).
* ``fwd+bwd``  the two above, back to back, timed as one call.
* ``matmul``   the five matrix products any BPTT of this network must do, on arrays of
               the same shapes and dtype (TB = T*B rows)::

                   forward   x (TB,100) @ W1.T        s1 (TB,256) @ W2.T
                   backward  dI2.T @ s1  (dW2)        dI2 (TB,10) @ W2   (ds1)
                             dI1.T @ x   (dW1)

               The input gradient dI1 @ W1 is not among them: the input is data, and
               refsnn computes ∂L/∂x of the first layer only when it is read.

Each is timed at two activities: ``low`` (Bernoulli(0.2) input, the default initialisation) and
``high`` (Bernoulli(0.3) input, weights ×3: the input statistics of snnTorch's own
benchmark, hidden and output rates near 0.2, where the softmax of the spike counts gives
float32 partials near e^-100 — the subnormal trap that the losses and σ' flush).

``ratio`` = fwd+bwd / matmul. The measurements are interleaved round-robin (one of each
per round), so slow drifts of the machine hit all of them alike. Each is reported as the
best and the median over ``--repeats`` rounds; the ratio uses the best times.

This is a script, not a test: it prints numbers and asserts nothing about time.

    python benchmarks/bench_fwd_bwd.py [--repeats 7] [--batch 64] [--steps 100]
                                       [--dtypes float32 float64] [--threads N]
                                       [--activity low high] [--json] [--profile]

``--threads N`` sets OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and MKL_NUM_THREADS
before NumPy is imported (without threadpoolctl there is no other portable way).
On a shared or busy machine, ``--threads 1`` gives far steadier numbers: a
multi-threaded BLAS call stalls whenever one of its threads is descheduled.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import ctypes
import gc
import io
import json
import os
import platform
import pstats
import statistics
import sys
import time


if __name__ == "__main__":            # --threads before NumPy (and its BLAS) is loaded
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _threads import preset_threads
    preset_threads(sys.argv[1:], default=None)

import numpy as np  # noqa: E402

try:  # run from a checkout without installing
    import refsnn  # noqa: F401
except ImportError:  # pragma: no cover
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

import refsnn  # noqa: E402
from refsnn import losses  # noqa: E402
from refsnn.lif import LIFConfig  # noqa: E402
from refsnn.network import Network, network_backward, network_forward, network_init  # noqa: E402

SIZES = (100, 256, 10)
TARGET_RATIO = 2.5
ACTIVITY = {"low": (0.2, 1.0), "high": (0.3, 3.0)}    # input rate, weight scale


# ---------------------------------------------------------------------------
# Environment
# ---------------------------------------------------------------------------


def _blas_summary():
    """Name, version and configuration of NumPy's BLAS, from ``np.show_config``."""
    try:
        cfg = np.show_config(mode="dicts")  # NumPy >= 1.26
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        out = {k: blas.get(k) for k in ("name", "version", "openblas configuration") if blas.get(k)}
        simd = cfg.get("SIMD Extensions", {})
        if simd:
            out["simd found"] = simd.get("found")
        return out
    except TypeError:  # older NumPy: show_config() only prints
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            np.show_config()
        lines = [l.strip() for l in buf.getvalue().splitlines()]
        keep = [l for l in lines if any(w in l.lower() for w in ("blas", "mkl", "libraries"))]
        return {"show_config": keep[:6]}


def _threadpools():
    """BLAS thread pools: threadpoolctl if it is installed, else a ctypes probe of OpenBLAS."""
    try:
        from threadpoolctl import threadpool_info

        return [
            {k: d.get(k) for k in ("user_api", "internal_api", "num_threads", "version", "architecture")}
            for d in threadpool_info()
        ]
    except ImportError:
        pass
    pools = []
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1]
                if path.endswith(".so") or ".so." in path:
                    if "blas" in os.path.basename(path).lower() or "mkl_rt" in path:
                        libs.add(path)
    except OSError:
        return pools
    for path in sorted(libs):
        entry = {"library": os.path.basename(path)}
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for pre in ("", "scipy_"):
            for suf in ("", "64_", "_64"):
                name = f"{pre}openblas_get_num_threads{suf}"
                if hasattr(lib, name):
                    fn = getattr(lib, name)
                    fn.restype = ctypes.c_int
                    entry["num_threads"] = fn()
                    conf = getattr(lib, f"{pre}openblas_get_config{suf}", None)
                    if conf is not None:
                        conf.restype = ctypes.c_char_p
                        entry["config"] = conf().decode(errors="replace").strip()
                    break
            if "num_threads" in entry:
                break
        if hasattr(lib, "MKL_Get_Max_Threads"):
            lib.MKL_Get_Max_Threads.restype = ctypes.c_int
            entry["num_threads"] = lib.MKL_Get_Max_Threads()
        pools.append(entry)
    return pools


def environment():
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        affinity = None
    env = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
           if k in os.environ}
    try:
        load = os.getloadavg()
    except (AttributeError, OSError):  # not on Unix
        load = None
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "refsnn": f"{getattr(refsnn, '__version__', '?')} ({os.path.dirname(refsnn.__file__)})",
        "loadavg_before": load,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": affinity,
        "blas": _blas_summary(),
        "threadpools": _threadpools(),
        "thread_env": env,
    }


# ---------------------------------------------------------------------------
# Problem
# ---------------------------------------------------------------------------


class Problem:
    """The network, parameters, input spikes and labels for one dtype and activity."""

    def __init__(self, batch, steps, dtype, activity="low", seed=0, surrogate_name="triangle"):
        rate, w_scale = ACTIVITY[activity]
        self.dtype = np.dtype(dtype)
        sg = refsnn.surrogate(surrogate_name)
        self.net = Network(tuple(LIFConfig(a, b, surrogate=sg) for a, b in zip(SIZES[:-1], SIZES[1:])))
        self.params = network_init(self.net, seed, self.dtype)
        for p in self.params:
            p["W"] *= self.dtype.type(w_scale)
        rng = np.random.default_rng(0)
        self.x = (rng.random((steps, batch, SIZES[0])) < rate).astype(self.dtype)
        self.labels = rng.integers(0, SIZES[-1], size=batch)
        self.n_layers = len(self.net.layers)

    # The three things we time.
    def forward(self):
        trajs = network_forward(self.net, self.params, self.x)
        loss = losses.spike_count_cross_entropy(trajs[-1], self.labels)
        return trajs, loss

    def backward(self, trajs, loss):
        ds = [None] * (self.n_layers - 1) + [loss.ds]
        return network_backward(trajs, self.params, ds=ds)

    def step(self):
        trajs, loss = self.forward()
        return self.backward(trajs, loss)

    def matmul_operands(self):
        """Arrays of the shapes (and, from one real run, the values) that the products use."""
        trajs, loss = self.forward()
        grads = self.backward(trajs, loss)
        T, B, _ = self.x.shape
        W1, W2 = self.params[0]["W"], self.params[1]["W"]
        x = self.x.reshape(T * B, -1)
        s1 = trajs[0].s.reshape(T * B, -1)
        dI1 = grads.layers[0].adjoints["dc"].reshape(T * B, -1)
        dI2 = grads.layers[1].adjoints["dc"].reshape(T * B, -1)
        ops = dict(x=x, s1=s1, dI1=dI1, dI2=dI2, W1=W1, W2=W2)
        # Contiguous copies: the benchmark must not time views the library does not see.
        return {k: np.ascontiguousarray(v) for k, v in ops.items()}, float(loss.value)


def bare_matmuls(o):
    """The matrix products of one forward+backward pass (see the module docstring)."""
    x, s1, dI1, dI2, W1, W2 = o["x"], o["s1"], o["dI1"], o["dI2"], o["W1"], o["W2"]
    x @ W1.T        # forward, layer 1: I1
    s1 @ W2.T       # forward, layer 2: I2
    dI2.T @ s1      # dW2
    dI2 @ W2        # ds1 (from above)
    dI1.T @ x       # dW1


def matmul_flops(T, B):
    M, N, K = SIZES
    TB = T * B
    return 2 * TB * (2 * M * N + 3 * N * K)


# ---------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------


def interleaved(fns, repeats, warmup):
    """Time each of ``fns`` (name -> callable) ``repeats`` times, round-robin; seconds."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {k: [] for k in fns}
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            for k, fn in fns.items():
                t0 = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t0)
    finally:
        if was_enabled:
            gc.enable()
    return times


def _consistent(best):
    """fwd+bwd timed as one call should be close to fwd and bwd timed apart, and above the matmuls."""
    parts = best["fwd"] + best["bwd"]
    return abs(best["fwd+bwd"] - parts) <= 0.25 * parts and best["fwd+bwd"] >= best["matmul"]


def _without_flush(fn):
    """``fn`` run with the reverse loops' per-step subnormal flush turned off."""
    from refsnn.neurons import lif, lif_fused

    def run():
        saved = lif.flush_subnormal, lif_fused.flush_subnormal
        lif.flush_subnormal = lif_fused.flush_subnormal = lambda a, *_, **__: a
        try:
            return fn()
        finally:
            lif.flush_subnormal, lif_fused.flush_subnormal = saved
    return run


def bench_dtype(dtype, activity, batch, steps, repeats, warmup, surrogate_name="triangle", compare_flush=False):
    prob = Problem(batch, steps, dtype, activity, surrogate_name=surrogate_name)
    ops, loss_value = prob.matmul_operands()
    saved = prob.forward()  # a fixed trajectory, so that "bwd" times the backward pass alone
    fns = {"fwd": prob.forward, "bwd": lambda: prob.backward(*saved), "fwd+bwd": prob.step,
           "matmul": lambda: bare_matmuls(ops)}
    if compare_flush:
        fns["bwd, no flush"] = _without_flush(lambda: prob.backward(*saved))
    raw = interleaved(fns, repeats, warmup)
    best = {k: min(v) * 1e3 for k, v in raw.items()}
    med = {k: statistics.median(v) * 1e3 for k, v in raw.items()}
    spikes = [float(t.s.mean()) for t in saved[0]]
    return {
        "dtype": np.dtype(dtype).name, "activity": activity,
        "batch": batch, "steps": steps, "repeats": repeats, "loss": loss_value,
        "spike_rate": {"input": float(prob.x.mean()), **{f"layer{i + 1}": r for i, r in enumerate(spikes)}},
        "best_ms": best, "median_ms": med,
        "ratio": best["fwd+bwd"] / best["matmul"], "consistent": _consistent(best),
        "ratio_median": med["fwd+bwd"] / med["matmul"],
        "matmul_gflops": matmul_flops(steps, batch) / (best["matmul"] * 1e-3) / 1e9,
        "times_ms": {k: [t * 1e3 for t in v] for k, v in raw.items()},
    }


def profile_backward(dtype, batch, steps, top=15):
    """cProfile of one backward pass (and one forward pass), top entries by internal time."""
    prob = Problem(batch, steps, dtype)
    prob.step()  # warm-up
    out = {}
    trajs, loss = prob.forward()
    for name, fn in (("backward", lambda: prob.backward(trajs, loss)), ("forward", prob.forward)):
        pr = cProfile.Profile()
        pr.enable()
        fn()
        pr.disable()
        buf = io.StringIO()
        pstats.Stats(pr, stream=buf).strip_dirs().sort_stats("tottime").print_stats(top)
        out[name] = buf.getvalue()
    return out


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------


def print_report(env, results, profiles):
    print(f"refsnn fwd+bwd benchmark: {'-'.join(map(str, SIZES))} LIF network (soft reset, "
          f"{env.get('surrogate', 'triangle')} surrogate{', reverse-loop flush OFF' if env.get('no_flush') else ''}), "
          f"batch {results[0]['batch']}, T = {results[0]['steps']}")
    print(f"python {env['python']}, numpy {env['numpy']}, {env['platform']}")
    print(f"cpu_count {env['cpu_count']} (affinity {env['cpu_affinity']}), processor {env['processor']}")
    blas = env["blas"]
    print("BLAS: " + "; ".join(f"{k}: {v}" for k, v in blas.items()))
    if env["threadpools"]:
        for p in env["threadpools"]:
            print("threadpool: " + ", ".join(f"{k}={v}" for k, v in p.items() if v is not None))
    else:
        print("threadpool: (no information; install threadpoolctl for details)")
    if env["thread_env"]:
        print("thread env: " + ", ".join(f"{k}={v}" for k, v in env["thread_env"].items()))
    print(f"refsnn {env['refsnn']}")
    load, ncpu = env["loadavg_before"], env["cpu_affinity"] or env["cpu_count"] or 1
    if load is not None:
        busy = load[0] > 0.5 * ncpu
        print(f"load average before the run: {load[0]:.2f} on {ncpu} CPUs"
              + ("  ** WARNING: the machine is busy; timings (matmuls most of all) are unreliable **"
                 if busy else ""))
    r0 = results[0]
    print(f"best / median of {r0['repeats']} interleaved rounds after warm-up; times in ms; "
          f"ratio = (fwd+bwd) / matmul, target <= {TARGET_RATIO:g}")
    print()
    head = (f"{'dtype':<8} {'activity':<8} {'':<6} {'fwd':>8} {'bwd':>8} {'fwd+bwd':>8} "
            f"{'matmul':>8} {'ratio':>6}")
    print(head)
    print("-" * len(head))
    for r in results:
        for label, d, ratio in (("best", r["best_ms"], r["ratio"]), ("median", r["median_ms"], r["ratio_median"])):
            first = label == "best"
            print(f"{r['dtype'] if first else '':<8} {r['activity'] if first else '':<8} "
                  f"{label:<6} {d['fwd']:8.2f} {d['bwd']:8.2f} "
                  f"{d['fwd+bwd']:8.2f} {d['matmul']:8.2f} {ratio:6.2f}")
    if "bwd, no flush" in r0["best_ms"]:
        print()
        for r in results:
            b = r["best_ms"]
            print(f"{r['dtype']} {r['activity']}: backward {b['bwd']:.2f} ms with the reverse loops' "
                  f"subnormal flush, {b['bwd, no flush']:.2f} ms without (without / with = "
                  f"{b['bwd, no flush'] / b['bwd']:.2f}, same run)")
    print()
    for r in results:
        b = r["best_ms"]
        parts = b["fwd"] + b["bwd"]
        if not r["consistent"]:
            print(f"** WARNING ({r['dtype']} {r['activity']}): inconsistent timings (fwd+bwd "
                  f"{b['fwd+bwd']:.1f} ms vs fwd + bwd {parts:.1f} ms, matmul {b['matmul']:.1f} ms): the "
                  "machine is too noisy for this ratio; try --threads 1 and more --repeats **")
    busy = load is not None and load[0] > 0.5 * ncpu
    for r in results:
        verdict = ("meets" if r["ratio"] <= TARGET_RATIO else "misses") + " the target"
        if busy or not r["consistent"]:
            verdict += "; UNRELIABLE, see the warnings above"
        rates = ", ".join(f"{k} {v:.3f}" for k, v in r["spike_rate"].items())
        print(f"{r['dtype']} {r['activity']}: ratio {r['ratio']:.2f} {verdict}")
        print(f"    matmuls {r['matmul_gflops']:.1f} GFLOP/s; spike rates {rates}; loss {r['loss']:.4f}")
    if profiles:
        print()
        print("cProfile sees Python-level calls only: NumPy operators (a * b, a @ b, v[t] = ...) are not")
        print("calls, so their time is booked to the calling function's own tottime (layer_forward/backward).")
    for name, text in profiles.items():
        print()
        print(f"--- cProfile: {name} ---")
        print(text.strip())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=7, help="timed rounds per measurement (default 7)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed rounds first (default 2)")
    ap.add_argument("--batch", type=int, default=64, help="batch size B (default 64)")
    ap.add_argument("--steps", type=int, default=100, help="time steps T (default 100)")
    ap.add_argument("--dtypes", nargs="+", default=["float32", "float64"], choices=["float32", "float64"])
    ap.add_argument("--activity", nargs="+", default=["low", "high"], choices=sorted(ACTIVITY),
                    help="low: Bernoulli(0.2) input; high: Bernoulli(0.3), weights x3 (default both)")
    ap.add_argument("--surrogate", default="triangle", choices=refsnn.surrogates.SURROGATE_NAMES,
                    help="the surrogate of both layers (default triangle, its default scale)")
    ap.add_argument("--no-flush", action="store_true",
                    help="turn off the reverse loops' per-step subnormal flush (sigmoid, exponential) "
                         "to measure what it saves; the losses and sigma' still flush")
    ap.add_argument("--compare-flush", action="store_true",
                    help="also time the backward pass without that flush, interleaved in the same run")
    ap.add_argument("--threads", type=int, default=None,
                    help="BLAS/OpenMP threads (sets *_NUM_THREADS before NumPy loads; default: BLAS default)")
    ap.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    ap.add_argument("--profile", action="store_true",
                    help="also cProfile one backward and one forward pass (first dtype), top 15 by tottime")
    args = ap.parse_args(argv)
    for name in ("repeats", "batch", "steps"):
        if getattr(args, name) < 1:
            ap.error(f"--{name} must be >= 1")
    if args.warmup < 0:
        ap.error("--warmup must be >= 0")
    if args.threads is not None and args.threads < 1:
        ap.error("--threads must be >= 1")

    env = environment()
    env["surrogate"], env["no_flush"] = args.surrogate, args.no_flush
    if args.no_flush:
        from refsnn.neurons import lif, lif_fused
        lif.flush_subnormal = lif_fused.flush_subnormal = lambda a, *_, **__: a
    results = [bench_dtype(dt, act, args.batch, args.steps, args.repeats, args.warmup, args.surrogate,
                           args.compare_flush)
               for dt in args.dtypes for act in args.activity]
    profiles = {}
    if args.profile:
        dt = args.dtypes[0]
        profiles = {f"{k} ({dt})": v for k, v in profile_backward(dt, args.batch, args.steps).items()}
    if args.json:
        print(json.dumps({"environment": env, "results": results, "profiles": profiles}, indent=2))
    else:
        print_report(env, results, profiles)


if __name__ == "__main__":
    main()
