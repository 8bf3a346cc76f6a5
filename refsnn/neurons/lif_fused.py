r"""The fast path of :func:`refsnn.neurons.lif.layer_backward`: B1–B7 and G2–G6 fused into one reverse loop.

The readable reverse loop of :mod:`refsnn.neurons.lif` is the reference. It computes the
per-step coefficients (σ'(v_t − θ), the gates g^m_t, g^d_t, the reset amounts r_t) and
the parameter gradients G2–G5 as whole-trajectory array expressions, before and after
its time loop. Each of those expressions streams all T·B·N elements through memory,
and with T = 100, B = 64, N = 256 one such pass costs about as much as thirty steps of
the time loop. This module evaluates *the same equations* in the same reverse loop,
one step at a time, on (B, N) slices that stay in the processor's cache:

for t = T−1, ..., 0, −1 (the numbers are those of :mod:`refsnn.neurons.lif`)::

    σ'_t = σ'(v_t − θ)                                                 (for B2, G5)
    (B1) δs_t = a^s_t − [attached] r_{t+1} δv_{t+1} + κ δu_{t+1} + δI_{t+1} R
    (B2) δv_t = a^v_t + α g^m_{t+1} δv_{t+1} + σ'_t δs_t
    (B3) δu_t = ρ δu_{t+1} − β g^d_{t+1} δv_{t+1}
    (B4) δc_t = g^d_t δv_t + λ δc_{t+1}                (δc_{−1} = λ δc_0)
    (B5) δI_t = δc_t
    (G2, G3, G5 accumulated over t into (B, N) sums)
         Σ g^m_t δv_t v_{t−1},  Σ δv_t s̃_{t−1},  Σ g^d_t δv_t u_{t−1}  (r_d = 1),  Σ σ'_t δs_t
    (G1's bias sum, when layer_backward wants ∂L/∂b: δI_t is at hand here, so the pass
     over the stored δI that summing it after the loop would take is saved)
         Σ δI_t

and after the loop the batch sums of those accumulators, the other plain products

         Σ δv_t u_{t−1} (r_d = 0),  Σ δu_t u_{t−1},  Σ δu_t s_{t−1},  Σ δc_t c_{t−1}

as one einsum over (T, B) each (it reads the two stored arrays once, where a product and
a sum inside the loop would be two calls a step), and ∂L/∂R = Σ δI_t^T s_{t−1}
(layer_backward adds the projection's G1 over the stored δI, as for the readable loop).
(G2's and G3's sums are accumulated in the loop, not by einsums, so that the compiled
loop below can add the same products in the same order.) Only the order of the
floating-point additions of the G sums differs from the readable loop, so the two agree
to rounding:
``tests/test_lif_fused.py`` holds them to 1e-13 relative over the whole verification grid,
in both dtypes, and at sizes past the readable loop's blocking threshold.

Three things make it cheaper than the readable loop beyond the fusing: σ' is evaluated
in place in the layer's dtype (:meth:`refsnn.surrogates.Surrogate.derivative_inplace`,
tested against :meth:`~refsnn.surrogates.Surrogate.derivative`); a parameter whose
entries are all equal enters the loop as a scalar (a ufunc then reads one array, not
two); and the sums of parameters not asked for (``wrt``) are not accumulated. With an
exponential-tail σ' (sigmoid, exponential) δs_t and δv_t are flushed of subnormals at
each step, as in the readable loop (see :mod:`refsnn._numerics`).

What it cannot do is fuse the terms: each is one NumPy call over a (B, N) slice, and at
B·N = 16,384 a call costs 5–15 µs streaming its two or three operands, so the cost is per
element and per term, not per call; seven to sixteen calls a step remain (a soft reset
without adaptation, to every switch). Writing the recursion δv_t = (α − γσ'_t) δv_{t+1} +
σ'_t a^s_t with coefficients computed a block at a time, as the hardening issue suggests,
halves the calls but not the passes over the data (it needs δs_t and Σ σ'δs after all),
and a time-parallel scan makes log₂T rounds of passes over the whole (T, B, N) arrays:
``python benchmarks/bench_scan.py`` times the bare recursion at T = 100, B = 64, N = 256,
where the scan takes 7.0x (float32) and 10.4x (float64) the time of this loop's two calls
a step, and ``scipy.signal.lfilter`` (constant coefficients only) 46x and 17x. (A
compiled loop was tried and measured, and is not part of refsnn; see the README's
benchmarks.)

It covers every configuration of :class:`~refsnn.neurons.lif.LIFConfig`: every reset kind,
detached or attached, adaptation, synapse, recurrence, both forward modes, any surrogate,
and the switches S1–S5 (``init_spike="zero"``: no σ' term at t = −1; shared 0-d
parameters: a scalar in the loop, the gradient summed over the neurons by the caller; the
adaptive threshold: σ'_t = σ'(v_t − θ − β_a a_t), B1's δa_{t+1}, B6 and G6 (β_a's sum in
the loop, ρ_a's after it); the post-reset view: P1–P2 applied to the partials before
either loop and G7 added after, by :func:`refsnn.neurons.lif._dynamics_backward`; the
refractory gate: σ'_t times G_t in the σ' blocks, and with an attached gate B7's terms
gathered in a ring of n_ref + 1 (B, N) rows instead of a (T + 1, B, N) array). So
``refsnn compare``, the presets and every peer-matched network run here.
``tests/test_lif_fused.py`` holds each switch and every preset to the readable loop at
sizes past SG_BLOCK, in both dtypes. :func:`covers` lists the fields implemented; a field
added to LIFConfig later takes the readable loop until this loop implements it.
:func:`refsnn.neurons.lif.layer_backward` and :func:`~refsnn.neurons.lif.dynamics_backward`
use it unless called with ``path="readable"``. Every speed device (the blocking, the
in-place σ', the scalar parameters, the subnormal flush, the scratch δs, the einsum sums)
lives here; the readable loop has none of them.
"""

from __future__ import annotations

import numpy as np

from .._numerics import EXPONENTIAL_TAILS, flush_subnormal
from . import lif_compiled

# Elements per block of σ'(v − θ) (see the loop): 256 KiB in float32, 512 KiB in float64,
# within a core's L2 cache. Of 2^14 ... 2^17, 2^16 was the fastest in both dtypes (the
# float32 reverse loop of a 64 x 256 layer 8% faster than at 2^14, float64 5%).
SG_BLOCK = 1 << 16


# The LIFConfig fields this loop implements (all of them). A field added later is outside
# it until the loop implements it: such a configuration takes the readable loop, so a new
# switch can never be silently ignored here.
_COVERED = {"forward", "h0", "reset", "detach_reset", "adaptation", "synapse", "recurrent", "recurrent_delay",
            "spiking", "surrogate", "n_in", "n", "init_spike", "adaptive_threshold", "detach_threshold",
            "membrane_view", "refractory", "detach_refractory"}


def _dot_tb(X, Y):
    """Σ over (T, B) of X ⊙ Y for (T, B, N) arrays: one read of each and no (T, B, N)
    temporary (an einsum), where a product and a sum would write and read one."""
    N = X.shape[-1]
    return np.einsum("in,in->n", X.reshape(-1, N), Y.reshape(-1, N))


def covers(cfg, p=None):
    """Whether :func:`backward_fused` implements ``cfg``: every field of :class:`LIFConfig`
    it knows (all of them today, shared 0-d parameters included; ``p`` is accepted for
    the callers that pass it and not needed)."""
    import dataclasses

    for f in dataclasses.fields(cfg):
        if f.name in _COVERED:
            continue
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if getattr(cfg, f.name) != default:
            return False
    return True


def backward_fused(traj, p, a_s, a_v, need=None, a_s_scratch=False, dI_sum=False):
    """``(grads, dstate0, adjoints, ds_init, dI, dI_total)`` as the readable loop computes
    them (the gradients of the dynamics' parameters, ∂L/∂R included; not W, b, x), and with
    ``dI_sum=True`` ``dI_total`` = Σ_t Σ_b δI_t per neuron (the bias gradient of G1, summed
    in the loop while δI_t is at hand, as a running (B, N) sum like G5's; else None).

    ``traj`` is a :class:`refsnn.neurons.lif.Trajectory`, ``p`` its checked parameters,
    ``a_s`` the (T, B, N) direct partial ∂L/∂s_t (an array), ``a_v`` that of ∂L/∂v_t
    or None (zero); with ``membrane_view="post_reset"`` both are already mapped by P1–P2
    (the caller adds G7). ``need`` (a set of names, default all) restricts ``grads`` to
    those parameters: the sums of the others are not computed (a frozen θ saves one NumPy
    call a step, a frozen α or β under a hard reset two; the plain sums of α, γ, ρ, κ, λ,
    ρ_a are einsums after the loop). ``a_s_scratch=True`` writes δs_t over ``a_s[t]`` (B1
    reads a^s_t only to compute δs_t), so that ``adjoints["ds"]`` is ``a_s``.
    """
    from refsnn.neurons.lif import _refractory_gate, _rows   # (lif imports this module)

    cfg = traj.config
    dtype = traj.v.dtype
    T, B, N = traj.v.shape
    r_m, r_d = cfg.reset_partials
    spiking = cfg.spiking
    attached = spiking and cfg.reset != "none" and not cfg.detach_reset
    adapt, syn, rec = cfg.adaptation, cfg.synapse, cfg.recurrent
    athr = cfg.adaptive_threshold
    a_attached = athr and not cfg.detach_threshold          # B1's δa_{t+1} term
    from_v0 = spiking and cfg.init_spike == "from_v0"       # S1: a σ' term at t = −1
    n_ref = cfg.refractory if spiking else 0
    gate_attached = n_ref and not cfg.detach_refractory     # S5: B7
    sur = cfg.surrogate

    v, s = traj.v, traj.s
    v0 = traj.state0["v"]
    s0 = traj.s_init
    u, u0 = (traj.u, traj.state0["u"]) if adapt else (None, None)
    c, c0 = (traj.c, traj.state0["c"]) if syn else (None, None)
    a, a0 = (traj.a, traj.state0["a"]) if athr else (None, None)
    s_reset = traj.s_reset

    def prev(arr, first, t):           # X_{t-1} for t >= 0, without copying the trajectory
        return first if t == 0 else arr[t - 1]

    def sr_at(t):                      # s̃_{t-1}, the spikes of the reset term F4
        return s_reset[t] if s_reset is not None else prev(s, s0, t)

    # d_t (the drive of F3) is needed only for r_t when r_d = 1 (hard_drop_input).
    drive = None
    lag = cfg.recurrent_delay                          # F1 reads s_{t−lag} (S6: 2)
    s_prev_all = traj.recurrent_spikes() if rec else None   # s_{t−lag} for ∂L/∂R (G1) and the drive
    if r_d:
        if syn:
            drive = c
        else:
            drive = traj.I_ff
            if rec:
                drive = drive + s_prev_all @ p["R"].T

    def r_at(t):                       # r_t of F4 (the reset table)
        if cfg.reset == "subtract":
            return rows["gamma"]
        m = p["alpha"] * prev(v, v0, t)
        if r_d:
            d = drive[t] - p["beta"] * prev(u, u0, t) if adapt else drive[t]
            return m + d - p["v_reset"]
        return m - p["v_reset"]

    # Per-neuron vectors laid out once for the loop: scalars where all entries are equal
    # (shared 0-d parameters included), else contiguous (B, N) rows (lif._rows).
    rows = {k: _rows(p[k], B, N) for k in
            ("alpha", "theta", "gamma", "kappa", "rho", "beta", "lam", "beta_a", "rho_a") if k in p}
    theta = rows.get("theta")
    xbuf = np.empty((B, N), dtype)     # v_t − A_t
    dv_ = np.empty((T, B, N), dtype)
    ds_ = a_s if a_s_scratch else np.empty((T, B, N), dtype)
    du_ = np.empty((T, B, N), dtype) if adapt else None
    da_ = np.empty((T, B, N), dtype) if athr else None
    dc_ = np.empty((T, B, N), dtype) if syn or r_d else dv_
    zero = np.zeros((B, N), dtype)
    buf = np.empty((B, N), dtype)
    buf2 = np.empty((B, N), dtype)
    want = {k: need is None or k in need
            for k in ("alpha", "theta", "beta", "rho", "kappa", "lam", "R", "beta_a", "rho_a")}
    want["reset"] = need is None or bool({"gamma", "v_reset"} & set(need))
    acc = {k: np.zeros((B, N), dtype) for k in ("alpha", "theta", "beta", "beta_a", "reset")}
    if dI_sum:
        acc["dI"] = np.zeros((B, N), dtype)
    reset_sum = cfg.reset != "none" and want["reset"]

    def lagged(X, Y, Y0):              # Σ_t Σ_b X_t ⊙ Y_{t−1}, with Y_{−1} = Y0
        out = _dot_tb(X[:1], Y0[None])
        if T > 1:
            out += _dot_tb(X[1:], Y[:-1])
        return out

    # σ'_t = σ'(v_t − A_t) G_t (A_t = θ, or θ + β_a a_t; G_t the refractory gate, S5) is
    # evaluated a block of steps at a time (the newest first), so that a small layer pays
    # the call overhead of the surrogate once per block, not per step, and a block of a
    # large layer still fits in the cache. The values are elementwise and do not depend
    # on the blocking.
    # With an exponential-tail σ' (sigmoid, exponential), σ'·δs is often subnormal (in
    # float32 2% of a layer's δv at high activity); δv would carry it for a score of
    # steps, each multiply of it ~100x slower: flush δs_t and δv_t (three NumPy calls
    # each a step). `bench_fwd_bwd.py --surrogate sigmoid --activity high --compare-flush`:
    # the float32 backward 1.71x faster with it; in float64, where only a few entries
    # reach subnormals, the flush costs 11% (0.89 in the same run), the price of none.
    flush = spiking and sur.name in EXPONENTIAL_TAILS
    fbuf, fmask = (np.empty((B, N), dtype), np.empty((B, N), bool)) if flush else (None, None)
    step = max(1, SG_BLOCK // (B * N))
    sg_lo, sg_blk = T, None            # sg_blk[t − sg_lo] = σ'_t for sg_lo <= t < old sg_lo
    sg_buf = np.empty((min(step, T), B, N), dtype) if spiking else None
    sg_tmp = np.empty_like(sg_buf) if spiking and (sur.name == "sigmoid" or athr) else None
    sg_init_ds = zero                  # σ'_{−1} δs_{−1} (zero with init_spike="zero")
    # (B7) the attached gate's terms Σ_k ∂s_{t+k}/∂s_t δs_{t+k}, gathered as each δs_{t+k}
    # is known, in a ring of n_ref + 1 rows: spike index i (−1..T−1) lives in row
    # i mod (n_ref + 1); row t is read at step t and zeroed, then steps t−1, ... reuse it.
    ring = np.zeros((n_ref + 1, B, N), dtype) if gate_attached else None
    pbuf = np.empty((B, N), dtype) if gate_attached else None

    dv_n = du_n = dc_n = da_n = zero   # δv_{t+1}, δu_{t+1}, δc_{t+1}, δa_{t+1}
    top = T - 1
    if lif_compiled.covers(cfg, T, B, N, s_reset):
        # Steps T−1 … 0 of this loop compiled, the same operations bit for bit (the `fast`
        # extra, refsnn.neurons.lif_compiled); step −1 and the sums below stay here.
        lif_compiled.backward(cfg, p, traj, a_s, a_v, ds_, dv_,
                              {k: acc[k] for k, w in (("theta", want["theta"]), ("alpha", want["alpha"]),
                                                      ("reset", reset_sum), ("dI", dI_sum)) if w})
        dv_n = dc_n = dv_[0]
        top = -1
    for t in range(top, -2, -1):
        nxt, now = t + 1 < T, t >= 0
        ds_t = ds_[t] if now else np.empty((B, N), dtype)
        dv_t = dv_[t] if now else np.empty((B, N), dtype)
        # (B1) δs_t = a^s_t − [attached] r_{t+1} δv_{t+1} + κ δu_{t+1} + δI_{t+1} R (+ δa_{t+1})
        a_s_t = a_s[t] if now else zero
        if nxt and attached:
            np.subtract(a_s_t, np.multiply(r_at(t + 1), dv_n, out=buf), out=ds_t)
        elif ds_ is not a_s or not now:
            np.copyto(ds_t, a_s_t)
        if nxt and spiking:
            if adapt:
                ds_t += np.multiply(rows["kappa"], du_n, out=buf)
            if rec and lag == 1:
                ds_t += dc_n @ p["R"]
            if a_attached:
                ds_t += da_n
        if spiking and rec and lag == 2 and t + 2 < T:
            ds_t += dc_[t + 2] @ p["R"]                               # (B1') δI_{t+2} R (S6)
        if gate_attached:
            slot = ring[t % (n_ref + 1)]
            ds_t += slot                                              # (B7) from G_{t+1..t+n_ref}
            slot[...] = 0
            if now:                                                   # push δs_t to s_{t−k}
                for k in range(1, n_ref + 1):
                    if t - k >= -1:
                        # ∂s_t/∂s_{t−k} = −ŝ_t Π_{j≠k} (1 − s_{t−j})
                        _refractory_gate(s, s0, t, n_ref, out=pbuf, skip=k)
                        pbuf *= traj.s_free[t]
                        ring[(t - k) % (n_ref + 1)] -= np.multiply(pbuf, ds_t, out=pbuf)
        if flush:                      # (a^s from the layer above may hold subnormals too)
            flush_subnormal(ds_t, scratch=fbuf, mask=fmask)
        # (B2) δv_t = a^v_t + α g^m_{t+1} δv_{t+1} + σ'_t δs_t
        if nxt:
            if r_m:
                g_m_n = 1.0 - sr_at(t + 1) * r_m
                np.multiply(np.multiply(rows["alpha"], g_m_n, out=buf2), dv_n, out=dv_t)
            else:
                np.multiply(rows["alpha"], dv_n, out=dv_t)
            if a_v is not None and now:
                dv_t += a_v[t]
        elif a_v is not None and now:
            np.copyto(dv_t, a_v[t])
        else:
            dv_t[...] = 0
        sg_ds = None                   # σ'_t δs_t, in buf
        if spiking and (now or from_v0):
            if not now:                # σ'_{−1} = σ'(v_{−1} − A_{−1}); s_{−1} has no gate
                np.subtract(v0, theta, out=xbuf)
                if athr:
                    xbuf -= np.multiply(rows["beta_a"], a0, out=buf)
                sg_t = sur.derivative_inplace(xbuf)
            else:
                if t < sg_lo:
                    sg_lo = max(0, t + 1 - step)
                    n_blk = t + 1 - sg_lo
                    sg_blk = np.subtract(v[sg_lo:t + 1], theta, out=sg_buf[:n_blk])
                    if athr:
                        sg_blk -= np.multiply(rows["beta_a"], a[sg_lo:t + 1], out=sg_tmp[:n_blk])
                    sur.derivative_inplace(sg_blk, None if sg_tmp is None else sg_tmp[:n_blk])
                    if n_ref:
                        sg_blk *= traj.gate[sg_lo:t + 1]
                sg_t = sg_blk[t - sg_lo]
            sg_ds = np.multiply(sg_t, ds_t, out=buf)                  # σ'_t δs_t
            dv_t += sg_ds
        if flush:
            flush_subnormal(dv_t, scratch=fbuf, mask=fmask)
        if sg_ds is not None:
            if not now:
                sg_init_ds = sg_ds.copy()
            else:
                if want["theta"]:
                    acc["theta"] += sg_ds                             # (G5)
                if athr and want["beta_a"]:
                    acc["beta_a"] += np.multiply(sg_ds, a[t], out=buf2)   # (G6)
        # (B6) δa_t = ρ_a δa_{t+1} − β_a σ'_t δs_t
        if athr:
            da_t = da_[t] if now else np.empty((B, N), dtype)
            if nxt:
                np.multiply(rows["rho_a"], da_n, out=da_t)
            else:
                da_t[...] = 0
            if sg_ds is not None:
                da_t -= np.multiply(rows["beta_a"], sg_ds, out=buf2)
        # (B3) δu_t = ρ δu_{t+1} − β g^d_{t+1} δv_{t+1}
        if adapt:
            du_t = du_[t] if now else np.empty((B, N), dtype)
            if nxt:
                np.multiply(rows["rho"], du_n, out=du_t)
                if r_d:
                    bg = np.multiply(rows["beta"], 1.0 - sr_at(t + 1) * r_d, out=buf2)
                    du_t -= np.multiply(bg, dv_n, out=buf)
                else:
                    du_t -= np.multiply(rows["beta"], dv_n, out=buf)
            else:
                du_t[...] = 0
        # (B4) δc_t = g^d_t δv_t + λ δc_{t+1}; (B5) δI_t = δc_t
        if now:
            dc_t = dc_[t]
            if r_d:
                g_d_t = 1.0 - sr_at(t) * r_d
                np.multiply(g_d_t, dv_t, out=dc_t)
            elif dc_ is not dv_:
                np.copyto(dc_t, dv_t)
            if syn and nxt:
                dc_t += np.multiply(rows["lam"], dc_n, out=buf)
            if dI_sum:                                                # (G1) Σ_t δI_t, for ∂L/∂b
                acc["dI"] += dc_t
            # The sums of α and of the reset (G2, G3) and those with a gate g^d_t (hard
            # resets) are accumulated here, at step t, per (b, n) (the compiled loop adds the
            # same products in the same order); the other plain products Σ_t X_t Y_{t−1}
            # are summed after the loop (`lagged`).
            if want["alpha"]:                                         # (G2) g^m_t δv_t v_{t−1}
                if r_m:
                    g_m_t = 1.0 - sr_at(t) * r_m
                    acc["alpha"] += np.multiply(np.multiply(g_m_t, dv_t, out=buf), prev(v, v0, t), out=buf)
                else:
                    acc["alpha"] += np.multiply(dv_t, prev(v, v0, t), out=buf)
            if reset_sum:                                             # (G3) δv_t s̃_{t−1}
                acc["reset"] += np.multiply(dv_t, sr_at(t), out=buf)
            if adapt and want["beta"] and r_d:
                acc["beta"] += np.multiply(np.multiply(g_d_t, dv_t, out=buf), prev(u, u0, t), out=buf)
        else:
            dc_t = rows["lam"] * dc_n if syn else None
        dv_n, dc_n = dv_t, dc_t
        if adapt:
            du_n = du_t
        if athr:
            da_n = da_t
    ds_init = ds_t
    dstate0 = {"v": dv_n}
    if adapt:
        dstate0["u"] = du_n
    if syn:
        dstate0["c"] = dc_n
    if athr:
        dstate0["a"] = da_n

    dI2 = dc_.reshape(T * B, N)                                       # (B5)
    g = {}
    if rec and want["R"]:                                             # (G1)
        g["R"] = dI2.T @ s_prev_all.reshape(T * B, N)
    if want["alpha"]:                                                 # (G2)
        g["alpha"] = acc["alpha"].sum(axis=0)
    if reset_sum:                                                     # (G3) Σ_t δv_t s̃_{t−1}
        g_r = acc["reset"].sum(axis=0)
        g["gamma" if cfg.reset == "subtract" else "v_reset"] = -g_r if cfg.reset == "subtract" else g_r
    if adapt:
        if want["beta"]:
            g["beta"] = -(acc["beta"].sum(axis=0) if r_d else lagged(dv_, u, u0))
        if want["rho"]:
            g["rho"] = lagged(du_, u, u0)                             # (G4)
        if want["kappa"]:
            g["kappa"] = lagged(du_, s, s0)
    if syn and want["lam"]:
        g["lam"] = lagged(dc_, c, c0)
    if spiking and want["theta"]:                                     # (G5)
        g["theta"] = -acc["theta"].sum(axis=0) - sg_init_ds.sum(axis=0)
    if athr:                                                          # (G6)
        if want["beta_a"]:
            g["beta_a"] = -acc["beta_a"].sum(axis=0) - (sg_init_ds * a0).sum(axis=0)
        if want["rho_a"]:
            g["rho_a"] = lagged(da_, a, a0)
    if need is not None:
        g = {k: v for k, v in g.items() if k in need}
    adjoints = {"dv": dv_, "ds": ds_, "dc": dc_}
    if adapt:
        adjoints["du"] = du_
    if athr:
        adjoints["da"] = da_
    return g, dstate0, adjoints, ds_init, dc_, acc["dI"].sum(axis=0) if dI_sum else None
