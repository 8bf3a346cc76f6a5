r"""An optional compiled form of the LIF layer's two time loops (the ``fast`` extra, numba).

Why it exists. The NumPy loops (the forward loop of :mod:`refsnn.neurons.lif` and the
fused reverse loop of :mod:`refsnn.neurons.lif_fused`) make one NumPy call per term and
step: F4–F6 are four calls a step, B1, B2 and the sums of G2, G3, G5 nine more. Each
call streams a (B, N) slice, and the (T, B, N) arrays it reads and writes are too large
for the cache, so a step of a 64 × 256 layer moves its slice through memory four to nine
times where one pass would do. ``benchmarks/bench_peers.py`` measures what is left:
with NumPy alone refsnn stays 1.6–1.9× the memory floor (the five matrix products plus
the passes over the stored trajectory that any BPTT must make) and behind a JAX
``lax.scan`` loop, which XLA fuses into one pass a step. No rearrangement of NumPy
calls removes passes (the README's speed section lists the ones measured); a compiled
loop does.

What it computes. *Exactly* what the NumPy loops compute, bit for bit: each line below
is the same floating-point operation, on the same operands, in the same order, as the
NumPy call it replaces (numba keeps IEEE semantics: no fast-math, no fused multiply-add
contraction; σ' is computed only for the families whose in-place kernel has no
transcendental function, since numba's ``exp`` is not NumPy's), and the sums over the
batch after the loops stay in NumPy. So installing the extra changes no result, only
the time: ``tests/test_lif_compiled.py`` holds every output of both loops to
``np.array_equal`` against the NumPy loops, in both dtypes, for every switch this module
covers, and checks that the compiled loops were really taken.

What it covers (:func:`covers`): the layer of the peers' presets and of refsnn's
defaults — a spiking layer with the Heaviside forward, a subtractive reset or none
(detached or attached), either ``init_spike``, shared or per-neuron parameters, without
adaptation, synapse, recurrence, adaptive threshold, refractory gate or reset overrides,
a surrogate whose in-place kernel is rational or piecewise (arctan, superspike, triangle,
boxcar) in its safe range, and layers of at least :data:`MIN_ELEMENTS` elements.
Everything else runs the NumPy loops, as it does without the extra.

The two loops, per element (b, n), in the symbols of :mod:`refsnn.neurons.lif`::

    forward,  t = 0 … T−1:   v_t = (α v_{t−1} + I_t) − s_{t−1} γ        (F4; γ-term only if reset)
                             s_t = H(v_t − θ)                           (F6, as v_t > θ or v_t ≥ θ)
    reverse,  t = T−1 … 0:   δs_t = a^s_t − γ δv_{t+1}                  (B1; attached reset only)
                             δv_t = (α δv_{t+1} + a^v_t) + σ'_t δs_t    (B2)
                             Σθ_t += σ'_t δs_t,  Σα_t += δv_t v_{t−1},  Σγ_t += δv_t s_{t−1}
                                                                        (G5, G2, G3, per (b, n))
                             Σb_t += δv_t       (G1's bias sum Σ_t δI_t, δI_t = δv_t, when wanted)

with σ'_t = σ'(|v_t − θ|) by the surrogate's in-place formula, zeroed below the dtype's
smallest normal number (a no-op where none can occur), and δc_t = δI_t = δv_t (B4, B5).
The reverse loop reads s_{t−1} nowhere: G3's s_{t−1} is H(v_{t−1} − θ), recomputed from
the v_{t−1} it reads for G2 with the forward loop's own comparison (the same value; one
pass over a (T, B, N) array fewer).
The step t = −1 (S1) and the batch sums stay in
:func:`refsnn.neurons.lif_fused.backward_fused`. A layer narrower than :data:`NARROW`
neurons is looped over as one row of B·N elements a step (its parameters repeated B
times), so that its inner loop is long enough to vectorise; the operations per element
are the same.

The third loop is e-prop's chunk recursion (:func:`recursion`, used by
:func:`refsnn.learning.eprop._linear_chunk`): ``R_{t−1} = R_t A_t`` per (b, n), a
(rows × S)(S × S) product summed over r in the order ``einsum`` sums it, and with it
``M_t = Φ_t a_t``; so e-prop's
gradients too are bitwise the same with the extra and without it. It keeps Φ_t (R's
first S rows) only for the step it is at, where M_t uses it, and writes λ_t (R's last
row) for every t: the NumPy loop's R of K + 1 (S + 1) × S blocks becomes λ's K + 1
rows and two blocks in cache.

Each switch (the surrogate family, an attached reset, δs in place, a^v given, the sums
wanted, the reset kind, H(0)) is a constant of its own compiled variant, so that every
inner loop is branch-free and vectorises: a loop testing them at run time measured 3–5×
slower. A variant is compiled when first used in a process (about a second, each dtype)
and kept for the process; nothing is cached on disk (numba's on-disk cache is a pickle,
and refsnn never unpickles). ``REFSNN_COMPILED=0`` in the environment, or
:func:`disabled`, turns the extra off without uninstalling it.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np

# Layers smaller than this many elements (T·B·N) run the NumPy loops: a loop of a few
# thousand elements takes well under a millisecond either way, and the small networks of
# the tests, notebooks and exercises would each pay the compile. The 10 output neurons of
# the benchmark network (T·B·N = 64,000) are above it: their NumPy loops are a hundred
# steps of ~1 µs calls, most of a millisecond.
MIN_ELEMENTS = 1 << 12

# The surrogate families whose in-place σ' this module reproduces bit for bit (no
# transcendental function: numba's exp is not NumPy's, and may differ in the last bit).
FAMILIES = {"arctan": 0, "superspike": 1, "triangle": 2, "boxcar": 3}

_state = {"enabled": os.environ.get("REFSNN_COMPILED", "1") != "0", "kernels": None, "tried": False,
          "compiled": {}}


def available() -> bool:
    """Whether the extra is installed and enabled (numba imports; ``REFSNN_COMPILED`` ≠ 0)."""
    if not _state["enabled"]:
        return False
    if not _state["tried"]:
        _state["tried"] = True
        try:
            _state["kernels"] = _build()
        except ImportError:
            _state["kernels"] = None
    return _state["kernels"] is not None


@contextlib.contextmanager
def disabled():
    """Run the NumPy loops inside the block even when the extra is installed."""
    old = _state["enabled"]
    _state["enabled"] = False
    try:
        yield
    finally:
        _state["enabled"] = old


def covers(cfg, T, B, N, s_reset=None, gate=None, s_threshold=None) -> bool:
    """Whether the compiled loops implement this layer (see the module docstring)."""
    sur = cfg.surrogate
    return (T * B * N >= MIN_ELEMENTS and cfg.spiking and cfg.forward == "heaviside"
            and cfg.reset in ("subtract", "none") and not cfg.adaptation and not cfg.synapse
            and not cfg.recurrent and not cfg.adaptive_threshold and not cfg.refractory
            and s_reset is None and gate is None and s_threshold is None
            and sur.name in FAMILIES and sur._inplace_safe() and available())


# A layer narrower than this runs its loops over one row of B·N elements per step, not B
# rows of N: an inner loop of 10 elements (the benchmark's output layer) barely
# vectorises. Its reverse loop took 0.21–0.27 ms as 64 rows of 10 and 0.11–0.17 ms as
# one row of 640 (float32 and float64, one run).
NARROW = 64


def _layout(B, N, *arrays):
    """``(R, C)``: the kernels see each (…, B, N) array as (…, R, C), R·C = B·N; (B, N)
    itself, or (1, B·N) for a narrow layer (views only: every array must be contiguous)."""
    if N >= NARROW or not all(a.flags.c_contiguous for a in arrays):
        return B, N
    return 1, B * N


def _per_neuron(x, N, dtype, R=None, C=None):
    """An (N,) or shared () parameter as a contiguous (C,) array of the dtype: the loops
    index it by column; every entry is the value the NumPy loops use for that neuron
    (repeated B times when a row holds the whole batch)."""
    row = np.broadcast_to(np.asarray(x, dtype), (N,))
    if C is not None and C != N:
        row = np.tile(row, C // N)
    return np.array(row, order="C")   # (a writable copy: numba compiles read-only arrays separately)


def _kernel(kind, *flags):
    """The compiled loop ``kind`` ("forward" or "backward") for these switches, compiled
    on first use and kept for the process. The switches are baked in as constants, so
    each variant's inner loop is branch-free and vectorises (a loop testing them at run
    time measured 3–5× slower)."""
    key = (kind,) + flags
    k = _state["compiled"].get(key)
    if k is None:
        if not available():
            raise RuntimeError("the compiled loops are off: numba is not installed (pip install -e '.[fast]') "
                               "or REFSNN_COMPILED=0 / lif_compiled.disabled(); callers check available() first")
        k = _state["compiled"][key] = _state["kernels"][kind](*flags)
    return k


def forward(cfg, p, I_ff, v0, s_init, v, s):
    """F4–F6 for t = 0 … T−1 into ``v`` and ``s`` (see the module docstring)."""
    dtype = I_ff.dtype
    T, B, N = I_ff.shape
    reset = cfg.reset == "subtract"
    I_ff, v0, s_init = (np.ascontiguousarray(a, dtype) for a in (I_ff, v0, s_init))
    R, C = _layout(B, N, v, s)
    _kernel("forward", reset, cfg.h0 == 1.0)(
        I_ff.reshape(T, R, C), v0.reshape(R, C), s_init.reshape(R, C),
        _per_neuron(p["alpha"], N, dtype, R, C), _per_neuron(p["gamma"] if reset else 0.0, N, dtype, R, C),
        _per_neuron(p["theta"], N, dtype, R, C), dtype.type(1), dtype.type(0), v.reshape(T, R, C), s.reshape(T, R, C))


def _sigma_constants(sur, dtype):
    """``(family, c1, c2)``: the constants of the surrogate's in-place kernel
    (:mod:`refsnn.surrogates`), as NumPy rounds them to the dtype."""
    k, g = sur.scale, sur.gain
    one = np.dtype(dtype).type
    if sur.name == "arctan":                 # g (k/2) / (1 + (k π/2 · y)²)
        return FAMILIES["arctan"], one(k * (0.5 * np.pi)), one(g * (0.5 * k))
    if sur.name == "superspike":             # g (k/2) / (1 + k y)²
        return FAMILIES["superspike"], one(k), one(g * (0.5 * k))
    if sur.name == "triangle":               # max(0, a − y) · g/a²
        return FAMILIES["triangle"], one(k), one(g / (k * k))
    return FAMILIES["boxcar"], one(k), one(g * (0.5 / k))      # [y < a] · g/(2a)


def backward(cfg, p, traj, a_s, a_v, ds_, dv_, acc):
    """B1, B2 and the running sums of G2, G3 and G5 for t = T−1 … 0 into ``ds_``, ``dv_``
    and ``acc`` (a dict of (B, N) running sums, added to, with the keys of the sums
    wanted: ``theta`` Σ σ'_t δs_t, ``alpha`` Σ δv_t v_{t−1}, ``reset`` Σ δv_t s_{t−1},
    ``dI`` Σ δv_t, the bias gradient's Σ_t δI_t, read here while δv_t is in a register
    instead of in a pass over δI after the loop).
    ``ds_`` may be ``a_s`` itself (written in place: with a detached reset or none,
    δs_t = a^s_t and nothing is written)."""
    v = np.ascontiguousarray(traj.v)
    dtype = v.dtype
    T, B, N = v.shape
    fam, c1, c2 = _sigma_constants(cfg.surrogate, dtype)
    attached = cfg.reset == "subtract" and not cfg.detach_reset
    inplace = ds_ is a_s               # δs_t written over a^s_t (with a detached reset: nothing written)
    has_av = a_v is not None
    a_s = a_s if inplace else np.ascontiguousarray(a_s)
    a_v = np.ascontiguousarray(a_v) if has_av else a_s[:1]
    v0, s0 = (np.ascontiguousarray(a, dtype) for a in (traj.state0["v"], traj.s_init))
    scratch = np.zeros((B, N), dtype)
    sums = [acc.get(k, scratch) for k in ("theta", "alpha", "reset", "dI")]
    R, C = _layout(B, N, a_s, ds_, dv_, *sums)
    sum_reset = "reset" in acc
    _kernel("backward", fam, attached, inplace, has_av, "alpha" in acc, sum_reset, sum_reset and cfg.h0 == 1.0,
            "dI" in acc)(
        v.reshape(T, R, C), v0.reshape(R, C), s0.reshape(R, C), a_s.reshape(T, R, C),
        a_v.reshape(-1, R, C), _per_neuron(p["alpha"], N, dtype, R, C),
        _per_neuron(p["gamma"] if cfg.reset == "subtract" else 0.0, N, dtype, R, C),
        _per_neuron(p["theta"], N, dtype, R, C), c1, c2, dtype.type(np.finfo(dtype).tiny), dtype.type(1),
        dtype.type(0), ds_.reshape(T, R, C), dv_.reshape(T, R, C), *(a.reshape(R, C) for a in sums))


def recursion(lam, A, w, a=None):
    """e-prop's chunk recursion (:func:`refsnn.learning.eprop._linear_chunk`) for
    t = K−1 … 0: ``λ_{t−1} = λ_t A_t + w_{t−1}`` from ``λ_{K−1} = w_{K−1}``, into ``lam``
    (K + 1, S, B, N) (``lam[K]`` gets ``λ_0 A_0``, the t = 0 product), and with ``a``
    (K, S, B, N) also ``Φ_{t−1} = Φ_t A_t`` from ``Φ_{K−1} = I``. ``A`` is (K, S, S, B, N),
    ``w`` (K, S, B, N); all C-contiguous.

    Each entry of a product is a sum over r = 0 … S−1 in order (``einsum`` adds
    0 + Σ_r in order of r), so every λ_t and Φ_t is bit for bit the row of ``R_t`` that the
    NumPy loop there computes. Unlike that loop, this one keeps Φ_t only for the step it
    is at (two (S, S, B, N) buffers, in cache), and at that step computes what the chunk
    needs of it, ``M[t, b, n, o] = Σ_s Φ_t[o, s] a_t[s]`` (summed over s in order from 0,
    as ``einsum("tosbj,tsbj->tobj")`` does). It writes λ_t for every t, but not K copies
    of Φ_t. With ``a``, S is a constant of the compiled variant, so that each entry's sum
    over r is one unrolled expression in registers and the loop over (b, n) around it
    vectorises (0.60 of the previous loop's time in float64 and 0.65 in float32, a chunk of
    128 steps, S = 5, B·N = 512, one A/B run); each S then compiles once (~2.5 s). Without
    ``a`` (λ alone: a run's last chunk) one variant serves every S.

    Returns ``(Φ_{−1}, M)``: (S, S, B, N) and (K, B, N, S), or ``(None, None)`` without ``a``."""
    K1, S = lam.shape[:2]
    lead = lam.shape[2:]
    Mn = int(np.prod(lead))
    with_phi = a is not None
    dtype = lam.dtype
    Mo = np.empty((K1 - 1,) + lead + (S,) if with_phi else (1, 1, 1), dtype)
    Phi = np.empty((2, S, S) + lead if with_phi else (2, 1, 1, 1), dtype)
    a = a.reshape(K1 - 1, S, Mn) if with_phi else w.reshape(K1 - 1, S, Mn)
    _kernel("recursion", with_phi, S if with_phi else 0)(lam.reshape(K1, S, Mn), A.reshape(K1 - 1, S, S, Mn), w.reshape(K1 - 1, S, Mn),
                                      dtype.type(0), dtype.type(1), a, Mo.reshape(Mo.shape[0], -1, Mo.shape[-1]),
                                      Phi.reshape(2, Phi.shape[1], Phi.shape[2], -1))
    return (Phi[(K1 - 1) % 2], Mo) if with_phi else (None, None)


def _build():
    """The kernel factories (numba's ``njit``; compiled on first call, no disk cache): the
    layer's forward and reverse loops and e-prop's chunk recursion."""
    import numba

    jit = numba.njit(cache=False, fastmath=False, nogil=True, error_model="numpy")

    def make_forward(reset, geq):
        @jit
        def fwd(I, v0, s0, alpha, gamma, theta, one, zero, v, s):
            T, B, N = I.shape
            for t in range(T):
                vp = v0 if t == 0 else v[t - 1]
                sp = s0 if t == 0 else s[t - 1]
                vt, st, It = v[t], s[t], I[t]
                for b in range(B):
                    for n in range(N):
                        x = alpha[n] * vp[b, n]                       # (F4) α v_{t−1}
                        x = x + It[b, n]                              #      + I_t
                        if reset:
                            x = x - sp[b, n] * gamma[n]               #      − s_{t−1} γ
                        vt[b, n] = x
                        if geq:                                       # (F6) s_t = H(v_t − θ)
                            st[b, n] = one if x >= theta[n] else zero
                        else:
                            st[b, n] = one if x > theta[n] else zero
        return fwd

    def make_backward(fam, attached, inplace, has_av, sum_alpha, sum_reset, geq, sum_dI):
        @jit
        def bwd(v, v0, s0, a_s, a_v, alpha, gamma, theta, c1, c2, tiny, one, zero, ds_, dv_, acc, acc_a, acc_r,
                acc_d):
            T, B, N = v.shape
            for t in range(T - 1, -1, -1):
                nxt = t + 1 < T
                vt, at, dvt = v[t], a_s[t], dv_[t]
                dst = at if inplace else ds_[t]   # (in place one array: the compiler then sees
                #                                   a read and a write of the same index)
                dvn = dv_[t + 1] if nxt else dv_[t]
                avt = a_v[t] if has_av else a_v[0]
                vp = v0 if t == 0 else v[t - 1]
                for b in range(B):
                    for n in range(N):
                        y = abs(vt[b, n] - theta[n])                  # σ'_t at |v_t − θ|:
                        if fam == 0:                                  # arctan
                            y = y * c1
                            y = y * y
                            y = y + one
                            sg = c2 / y
                        elif fam == 1:                                # superspike
                            y = y * c1
                            y = y + one
                            y = y * y
                            sg = c2 / y
                        elif fam == 2:                                # triangle
                            y = c1 - y
                            y = max(y, zero)
                            sg = y * c2
                        else:                                         # boxcar
                            y = one if y < c1 else zero
                            sg = y * c2
                        sg = zero if sg < tiny else sg                # the subnormal flush (a no-op
                        #                                               where none can occur)
                        if nxt:
                            if attached:
                                d = at[b, n] - gamma[n] * dvn[b, n]   # (B1) a^s_t − γ δv_{t+1}
                            else:
                                d = at[b, n]                          # (B1) a^s_t
                            w = alpha[n] * dvn[b, n]                  # (B2) α δv_{t+1}
                            if has_av:
                                w = w + avt[b, n]                     #      + a^v_t
                        else:
                            d = at[b, n]
                            w = avt[b, n] if has_av else zero
                        if attached or not inplace:       # (detached, in place: δs_t = a^s_t already)
                            dst[b, n] = d
                        sd = sg * d                                   # σ'_t δs_t
                        w = w + sd
                        dvt[b, n] = w                                 # (B2)
                        if sum_dI:
                            acc_d[b, n] = acc_d[b, n] + w             # (G1) Σ_t δI_t, δI_t = δv_t
                        acc[b, n] = acc[b, n] + sd                    # (G5) Σ_t σ'_t δs_t
                        if sum_alpha:
                            acc_a[b, n] = acc_a[b, n] + w * vp[b, n]  # (G2) Σ_t δv_t v_{t−1}
                        if sum_reset:
                            if t == 0:
                                sp = s0[b, n]                         # s_{−1}
                            elif geq:                                 # s_{t−1} = H(v_{t−1} − θ) (F6),
                                sp = one if vp[b, n] >= theta[n] else zero   # as the forward loop
                            else:                                     # computed it (no pass over s)
                                sp = one if vp[b, n] > theta[n] else zero
                            acc_r[b, n] = acc_r[b, n] + w * sp        # (G3) Σ_t δv_t s_{t−1}
        return bwd

    def make_recursion(with_phi, S):
        @jit
        def rec(lam, A, w, zero, one, a, Mo, Phi):
            K1, S_, M = lam.shape          # S_ = S, as the outer loops' bound: S there too would unroll
            Sc = S if S else S_            # them (~10 s a compile); Sc bounds each sum (0: not a constant)
            K = K1 - 1
            lam[K - 1] = w[K - 1]                                          # λ_{K−1} = w_{K−1}
            if with_phi:
                for o in range(S_):
                    for q in range(S_):
                        for m in range(M):
                            Phi[0, o, q, m] = one if o == q else zero      # Φ_{K−1} = I
            for t in range(K - 1, -1, -1):
                At = A[t]
                if with_phi:
                    Pt, Pp = Phi[(K - 1 - t) % 2], Phi[(K - t) % 2]      # Φ_t, and Φ_{t−1} to come
                    at, Mt = a[t], Mo[t]
                    for o in range(S_):                                    # M_t = Φ_t a_t
                        for m in range(M):
                            x = zero + Pt[o, 0, m] * at[0, m]             # Σ_s Φ_t[o, s] a_t[s],
                            for q in range(1, Sc):                         # s in order, from 0
                                x = x + Pt[o, q, m] * at[q, m]
                            Mt[m, o] = x
                    for o in range(S_):                                    # Φ_{t−1} = Φ_t A_t
                        for q in range(S_):
                            out = Pp[o, q]
                            for m in range(M):
                                x = zero + Pt[o, 0, m] * At[0, q, m]      # Σ_r Φ_t[o, r] A_t[r, q],
                                for r in range(1, Sc):                     # r in order, from 0
                                    x = x + Pt[o, r, m] * At[r, q, m]
                                out[m] = x
                prev = t - 1 if t else K
                lt, lp = lam[t], lam[prev]                                 # λ_{t−1} = λ_t A_t
                for q in range(S_):
                    out = lp[q]
                    for m in range(M):
                        x = zero + lt[0, m] * At[0, q, m]                 # Σ_r λ_t[r] A_t[r, q],
                        for r in range(1, Sc):                             # r in order, from 0
                            x = x + lt[r, m] * At[r, q, m]
                        out[m] = x
                if t:
                    wt = w[t - 1]
                    for q in range(S_):
                        for m in range(M):
                            lp[q, m] = lp[q, m] + wt[q, m]                 # λ_{t−1} ∋ w_{t−1}
        return rec

    return {"forward": make_forward, "backward": make_backward, "recursion": make_recursion}
