r"""The event-driven LIF neuron of Lee, Delbruck & Pfeiffer (2016), with WTA inhibition.

Seed 003 (sections 2.1.1–2.1.2) is the spec; where it is wrong or ambiguous the
reading chosen here is stated in *Corrections* below. The learning rule built on
this simulator is :mod:`refsnn.learning.lee2016`.

Model (continuous time, no grid)
--------------------------------

An input is a list of events ``(t_p, k_p)``: at time ``t_p`` input channel ``k_p``
emits a spike. A layer of N neurons has weights ``W`` (N, M) (row vectors:
``w_i^{(p)} = W[i, k_p]``), thresholds ``V_th`` (N,) and a shared membrane time
constant ``τ_mp``. Between events the membrane only decays, so it is advanced from
event to event exactly. At event p, for every neuron i:

.. math::

    V^-_i(t_p) &= V_i(t_{p-1})\, e^{-(t_p - t_{p-1})/τ_{mp}}                 && \text{(E1) leak}\\
    w_{dyn,i}(t_p) &= \min\bigl(1, ((t_p - t_{ref,i})/T_{ref})^2\bigr)       && \text{(E2) dynamic weight}\\
    U_i(t_p) &= V^-_i(t_p) + w_{dyn,i}(t_p)\, W[i, k_p]                       && \text{(E1) input}\\
    s_i(t_p) &= [U_i(t_p) \ge V_{th,i}]                                      && \text{(E3) spike}\\
    V_i(t_p) &= \max\Bigl(-V_{th,i},\; U_i - V_{th,i} s_i
               + σ μ V_{th,i} \textstyle\sum_{j \ne i} s_j\Bigr)              && \text{(E3–E5) reset, WTA, bound}

and ``t_{ref,i} ← t_p`` for every neuron that spiked, and (in a WTA layer,
``μ ≠ 0``) for every neuron inhibited by another neuron's spike (E6: inhibited
neurons enter the refractory state through ``w_dyn``). Before the first spike
``t_ref = −∞`` (``w_dyn = 1``). ``T_ref = 0`` switches the refractory window off.

*WTA* (E5): every spike of neuron j subtracts ``σ |μ| V_th,i`` from every other
neuron i of the layer (``μ = κ_ij`` for all ``i ≠ j``, ``−1 ≤ μ ≤ 0``): the
inhibition is proportional to the *target's* threshold, as section 2.1.2 says.

*Layers.* In a stack, the spikes of layer l at ``t_p`` are the input of layer l+1
at the same instant (no delay): layer l+1 receives ``s^l(t_p) W^{l+1 ⊤}``. Every
membrane of the network changes only at input event times, so the whole network
is simulated exactly by one pass over the input events.

*Events are processed in lockstep across a batch*: sample b's p-th event is
processed together with sample b''s p-th event; each sample keeps its own clock
(``t_last``), so the result is exactly the per-sample event-driven simulation
(``tests/test_lee2016.py`` checks this against one sample at a time).

Corrections to seed 003 (what refsnn does and why)
--------------------------------------------------

C1. *Lower bound.* The seed writes the bound as ``V_th``; a bound at ``+V_th``
    would make every neuron fire at every event. With ``σ < 1`` keeping the
    membrane above ``−V_th`` (section 2.2.2), it is ``−V_th``: ``V ← max(V, −V_th)``,
    applied once at the end of each event.
C2. *Δt in w_dyn.* The seed writes ``Δ_t = t_out − t_p``, which is ≤ 0 after a spike;
    the elapsed time since the last output spike (or inhibition) is ``t_p − t_out``.
    Its extra condition "and w_dyn < 1" says that once recovered the weight stays 1,
    which ``min(1, ·)`` with ``t_ref`` moved only by spikes and inhibition expresses.
C3. *Sign of the inhibition.* With ``κ ≤ 0`` (the seed's range and Fig. 1's values
    −0.4, −1.0) inhibition enters the membrane as ``+σ κ V_th,i`` per spike of j;
    the seed's steady-state relation writes the lateral term with a minus sign,
    which with ``κ ≤ 0`` would excite. See :mod:`refsnn.learning.lee2016`.
C4. *One spike per event.* If ``U − V_th`` is still above threshold the neuron does
    not spike twice at the same instant; it is refractory (``w_dyn = 0`` at
    ``Δt = 0``) and fires again at a later event if still above threshold. The
    seed does not say; this is what makes the refractory mechanism well defined.
C5. *Ties.* A membrane exactly at threshold spikes (``U ≥ V_th``, refsnn's ``h0 = 1``).

Discretised twin (refsnn's time grid)
-------------------------------------

:func:`grid_simulate` runs the same equations on the grid ``t_n = n·dt``: the
events of ``((n−1)dt, n dt]`` are summed into one input of step n, E1 decays by
``e^{−dt/τ}`` and E2 is evaluated at ``t_n``. As ``dt → 0`` every bin holds at
most one event and each event is moved by less than ``dt``; the membrane error is
then first order in ``dt`` (the leak of a shift δ changes V by ``V δ/τ``; ``w_dyn``
by ``2 δ Δt/T_ref²``). ``tests/test_lee2016.py`` measures the order.

Without refractoriness, WTA and lower bound the twin *is* refsnn's LIF layer
(:mod:`refsnn.neurons.lif`, subtractive reset) under
:func:`refsnn_equivalent`: ``α = e^{−dt/τ}``, ``θ = V_th``, ``γ = α V_th``, ``b = 0``.
refsnn's ``v_t`` is the pre-reset membrane ``U`` and its reset is applied one
step later, after the leak, hence ``γ = α V_th``.

Exact spike-time gradients later (EventProp)
--------------------------------------------

:func:`simulate` with ``record=True`` keeps, per layer, the event list (times,
channels) and the pre- and post-event states ``V^-``, ``U``, ``V`` and ``w_dyn``
at every event: everything the adjoint of Wunderlich & Pehle (2021) needs, run
backward over the same list (the adjoint ``λ_V`` decays with ``e^{−Δt/τ}`` between
events and jumps at spikes by an amount that needs ``V̇`` just before the spike).
Note what this model implies: with synaptic *jumps* and no synaptic current,
threshold crossings happen only at input events, so spike times are locally
constant in ``W`` and ``V_th`` and their exact gradient is zero almost everywhere.
An EventProp extension therefore first adds a current-based synapse
(``τ_syn``) so that crossings fall between events; the per-event states stored here
are where its root finding (the crossing time inside ``(t_{p−1}, t_p)``) starts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import check_bool, check_positive_int, float_array, real_scalar
from .lif import LIFConfig

__all__ = ["LeeConfig", "EventStream", "LayerEvents", "simulate", "grid_simulate", "to_grid",
           "membrane_at", "membrane_trace", "grid_convergence", "refsnn_equivalent", "counts"]


@dataclass(frozen=True)
class LeeConfig:
    """One layer's constants: ``τ_mp``, ``T_ref``, WTA ``μ`` (= κ_ij) and ``σ``.

    ``mu = 0`` is a plain (non-WTA) layer. ``lower_bound=False`` removes E5's
    ``max(−V_th, ·)`` (only used to show the twin equals refsnn's LIF).
    """

    tau_mp: float = 20.0
    t_ref: float = 1.0
    mu: float = 0.0
    sigma: float = 0.5
    lower_bound: bool = True

    def __post_init__(self):
        real_scalar("tau_mp", self.tau_mp, low=0.0, low_open=True)
        real_scalar("t_ref", self.t_ref, low=0.0)
        real_scalar("mu", self.mu, low=-1.0, high=0.0)
        real_scalar("sigma", self.sigma, low=0.0, high=1.0, high_open=True)
        check_bool("lower_bound", self.lower_bound)


@dataclass
class EventStream:
    """A batch of event lists, padded to a common length P.

    ``times`` (B, P) float64, non-decreasing along each valid row; ``channels``
    (B, P) int64 in ``[0, n_channels)``; ``valid`` (B, P) bool, True for real events
    (padding entries are ignored). ``duration`` is the length of the recording.
    """

    times: np.ndarray
    channels: np.ndarray
    valid: np.ndarray
    n_channels: int
    duration: float

    def __post_init__(self):
        self.times = float_array("times", np.asarray(self.times, dtype=np.float64)
                                 if np.asarray(self.times).dtype.kind in "iu" else self.times, (None, None))
        self.times = self.times.astype(np.float64)
        B, P = self.times.shape
        ch = np.asarray(self.channels)
        if ch.dtype.kind not in "iu" or ch.shape != (B, P):
            raise ValueError(f"channels must be an integer array of shape {(B, P)}, got {ch.dtype} {ch.shape}")
        self.channels = ch.astype(np.int64)
        valid = np.asarray(self.valid)
        if valid.dtype != np.bool_ or valid.shape != (B, P):
            raise ValueError(f"valid must be a boolean array of shape {(B, P)}, got {valid.dtype} {valid.shape}")
        self.valid = valid
        self.n_channels = check_positive_int("n_channels", self.n_channels)
        self.duration = real_scalar("duration", self.duration, low=0.0)
        if np.any(valid & ((self.channels < 0) | (self.channels >= self.n_channels))):
            raise ValueError(f"channels of valid events must lie in [0, {self.n_channels})")
        t = np.where(valid, self.times, np.nan)
        if np.any(valid & (self.times < 0)) or np.any(valid & (self.times > self.duration)):
            raise ValueError(f"times of valid events must lie in [0, duration={self.duration}]")
        for b in range(B):
            tb = t[b][valid[b]]
            if np.any(np.diff(tb) < 0):
                raise ValueError(f"times of sample {b} must be non-decreasing (sort the events by time)")

    @property
    def batch(self):
        return self.times.shape[0]

    @classmethod
    def from_lists(cls, events, n_channels, duration):
        """From ``[[(t, k), ...], ...]``, one list per sample (sorted here by time)."""
        B = len(events)
        P = max([len(e) for e in events] + [1])
        times = np.zeros((B, P))
        ch = np.zeros((B, P), np.int64)
        valid = np.zeros((B, P), bool)
        for b, ev in enumerate(events):
            ev = sorted(ev, key=lambda e: e[0])
            for p, (t, k) in enumerate(ev):
                times[b, p], ch[b, p], valid[b, p] = t, k, True
        return cls(times, ch, valid, n_channels, duration)

    def take(self, idx):
        """The samples ``idx`` (an index array), trimmed to their longest event list."""
        idx = np.asarray(idx)
        v = self.valid[idx]
        P = max(1, int(v.sum(axis=1).max()))
        return EventStream(self.times[idx, :P], self.channels[idx, :P], v[:, :P], self.n_channels, self.duration)

    def first(self, n_events):
        """Only the first ``n_events`` events of every sample."""
        check_positive_int("n_events", n_events)
        valid = self.valid & (np.cumsum(self.valid, axis=1) <= n_events)
        return EventStream(self.times, self.channels, valid, self.n_channels, self.duration)

    def input_counts(self):
        """``(B, M)`` number of events per channel: the input activity of the first layer."""
        out = np.zeros((self.batch, self.n_channels))
        b = np.broadcast_to(np.arange(self.batch)[:, None], self.valid.shape)
        np.add.at(out, (b[self.valid], self.channels[self.valid]), 1.0)
        return out


@dataclass
class LayerEvents:
    """What :func:`simulate` keeps for one layer.

    ``spikes`` (B, P, N) bool: ``s_i(t_p)``. ``v_final`` (B, N): the membrane after
    the last event, at time ``t_final`` (B,). With ``record=True`` also the
    pre/post-event states (B, P, N): ``v_pre = V^-(t_p)`` (after the leak),
    ``u = U(t_p)`` (after the input), ``v_post = V(t_p)`` and ``w_dyn``.
    """

    spikes: np.ndarray
    v_final: np.ndarray
    t_final: np.ndarray
    v_pre: np.ndarray | None = None
    u: np.ndarray | None = None
    v_post: np.ndarray | None = None
    w_dyn: np.ndarray | None = None

    def counts(self):
        """``(B, N)`` spike counts: the layer's output activity."""
        return self.spikes.sum(axis=1).astype(np.float64)


def counts(layers_events):
    """Spike counts of every layer."""
    return [le.counts() for le in layers_events]


def _check_stack(configs, params, n_in):
    if not isinstance(configs, (list, tuple)) or not configs:
        raise TypeError("configs must be a non-empty list of LeeConfig, one per layer")
    if not isinstance(params, (list, tuple)) or len(params) != len(configs):
        raise ValueError(f"params must be a list of {len(configs)} dicts (one per layer) with keys 'W', 'v_th'")
    m = n_in
    out = []
    for l, (cfg, p) in enumerate(zip(configs, params)):
        if not isinstance(cfg, LeeConfig):
            raise TypeError(f"configs[{l}] must be a LeeConfig, got {type(cfg).__name__}")
        if not isinstance(p, dict) or set(p) != {"W", "v_th"}:
            raise ValueError(f"params[{l}] must be a dict with exactly the keys 'W' and 'v_th'")
        W = float_array(f"params[{l}]['W']", p["W"], (None, m)).astype(np.float64)
        v_th = float_array(f"params[{l}]['v_th']", p["v_th"], (W.shape[0],)).astype(np.float64)
        if np.any(v_th <= 0):
            raise ValueError(f"params[{l}]['v_th'] must be > 0 (thresholds), got min {v_th.min()}")
        out.append((cfg, W, v_th))
        m = W.shape[0]
    return out


def _w_dyn(cfg, t, t_ref):
    """E2: ``min(1, ((t − t_ref)/T_ref)²)``; 1 when ``T_ref = 0`` or before any spike."""
    if cfg.t_ref == 0.0:
        return np.ones_like(t_ref)
    with np.errstate(invalid="ignore"):
        r = (t[:, None] - t_ref) / cfg.t_ref
    return np.where(np.isfinite(r), np.minimum(1.0, r * r), 1.0)


def _event_step(cfg, v_th, v, t_ref, t, decay, drive, mask, rec=None):
    """E1–E6 for one layer at one event time (all arrays (B, N); ``t``, ``decay``, ``mask`` (B,)).

    Returns the spikes; ``v`` and ``t_ref`` are updated in place.
    """
    v *= decay[:, None]                               # E1, leak since the previous event
    v_pre = v.copy() if rec is not None else None
    wd = _w_dyn(cfg, t, t_ref)                        # E2
    v += wd * drive * mask[:, None]                   # E1, input
    u = v.copy() if rec is not None else None
    s = (v >= v_th) & mask[:, None]                   # E3 (C5: ties spike)
    v -= v_th * s                                     # E3, subtractive reset
    refr = s
    if cfg.mu != 0.0:
        others = s.sum(axis=1, keepdims=True) - s     # Σ_{j≠i} s_j
        v += cfg.sigma * cfg.mu * v_th * others       # E5, inhibition ∝ the target's V_th
        refr = s | (others > 0)                       # E6, inhibited neurons become refractory
    t_ref[refr] = np.broadcast_to(t[:, None], t_ref.shape)[refr]
    if cfg.lower_bound:
        np.maximum(v, -v_th, out=v)                   # E5, lower bound −V_th (C1)
    if rec is not None:
        rec.append((v_pre, u, v.copy(), wd))
    return s


def simulate(configs, params, stream: EventStream, record=False):
    """Exact event-driven simulation of a stack of layers (see the module docstring).

    Parameters
    ----------
    configs : list of LeeConfig, one per layer
    params : list of dict ``{"W": (N_l, M_l), "v_th": (N_l,)}``
    stream : EventStream
    record : bool
        Also keep the pre/post-event states (memory ``4·B·P·N`` floats per layer).

    Returns
    -------
    list of LayerEvents
    """
    if not isinstance(stream, EventStream):
        raise TypeError(f"stream must be an EventStream, got {type(stream).__name__}")
    check_bool("record", record)
    stack = _check_stack(configs, params, stream.n_channels)
    B, P = stream.times.shape
    v = [np.zeros((B, W.shape[0])) for _, W, _ in stack]
    t_ref = [np.full((B, W.shape[0]), -np.inf) for _, W, _ in stack]
    spikes = [np.zeros((B, P, W.shape[0]), bool) for _, W, _ in stack]
    recs = [[] if record else None for _ in stack]
    t_last = np.zeros(B)
    Wt0 = stack[0][1].T.copy()                          # (M, N): row k is channel k's weights
    for p in range(P):
        mask = stream.valid[:, p]
        t = np.where(mask, stream.times[:, p], t_last)
        decay = np.exp(-(t - t_last) / np.array([c.tau_mp for c, _, _ in stack])[:, None])  # (L, B)
        drive = Wt0[stream.channels[:, p]]
        for l, (cfg, W, v_th) in enumerate(stack):
            if l:
                drive = spikes[l - 1][:, p].astype(np.float64) @ W.T
            spikes[l][:, p] = _event_step(cfg, v_th, v[l], t_ref[l], t, decay[l], drive, mask, recs[l])
        t_last = t
    out = []
    for l in range(len(stack)):
        le = LayerEvents(spikes[l], v[l], t_last.copy())
        if record:
            arrs = [np.stack([r[i] for r in recs[l]], axis=1) if recs[l] else None for i in range(4)]
            le.v_pre, le.u, le.v_post, le.w_dyn = arrs
        out.append(le)
    return out


def membrane_at(layer_events: LayerEvents, stream: EventStream, tau_mp, t):
    """``V(t)`` (B, N) of a recorded layer at times ``t`` (B,), by E1 from the last event ≤ t."""
    if layer_events.v_post is None:
        raise ValueError("membrane_at needs simulate(..., record=True)")
    t = float_array("t", np.asarray(t, dtype=np.float64), (stream.batch,))
    B, P, N = layer_events.v_post.shape
    out = np.zeros((B, N))
    for b in range(B):
        idx = np.flatnonzero(stream.valid[b] & (stream.times[b] <= t[b]))
        if idx.size:
            p = idx[-1]
            out[b] = layer_events.v_post[b, p] * np.exp(-(t[b] - stream.times[b, p]) / tau_mp)
    return out


def membrane_trace(layer_events: LayerEvents, stream: EventStream, tau_mp, t, sample=0):
    """``V(t)`` (len(t), N) of one recorded sample at the times ``t`` (for plots): E1 from
    the last event at or before each time; 0 before the first event."""
    if layer_events.v_post is None:
        raise ValueError("membrane_trace needs simulate(..., record=True)")
    t = float_array("t", np.asarray(t, dtype=np.float64), (None,))
    ok = stream.valid[sample]
    times, v_post = stream.times[sample][ok], layer_events.v_post[sample][ok]
    idx = np.searchsorted(times, t, side="right") - 1
    out = np.zeros((t.size, v_post.shape[1]))
    has = idx >= 0
    out[has] = v_post[idx[has]] * np.exp(-(t[has] - times[idx[has]]) / tau_mp)[:, None]
    return out


def to_grid(stream: EventStream, dt, n_steps=None):
    """Bin the events on refsnn's grid: ``(T, B, M)`` event counts, step n covering
    ``((n−1)·dt, n·dt]`` (an event at ``t = 0`` goes to step 0), ``T = ceil(duration/dt) + 1``."""
    dt = real_scalar("dt", dt, low=0.0, low_open=True)
    T = int(np.ceil(stream.duration / dt - 1e-12)) + 1 if n_steps is None else check_positive_int("n_steps", n_steps)
    out = np.zeros((T, stream.batch, stream.n_channels))
    b = np.broadcast_to(np.arange(stream.batch)[:, None], stream.valid.shape)[stream.valid]
    steps = np.ceil(stream.times[stream.valid] / dt - 1e-12).astype(np.int64)
    if steps.size and steps.max() >= T:
        raise ValueError(f"n_steps={T} is too short for events up to t={stream.times[stream.valid].max()}")
    np.add.at(out, (steps, b, stream.channels[stream.valid]), 1.0)
    return out


def grid_simulate(configs, params, x, dt):
    """The discretised twin: E1–E6 on the grid ``t_n = n·dt`` (module docstring).

    ``x`` (T, B, M) is binned input (:func:`to_grid`). Returns the spikes of every
    layer, a list of ``(T, B, N_l)`` bool arrays, and the final membranes.
    """
    x = float_array("x", x, (None, None, None)).astype(np.float64)
    dt = real_scalar("dt", dt, low=0.0, low_open=True)
    T, B, M = x.shape
    stack = _check_stack(configs, params, M)
    v = [np.zeros((B, W.shape[0])) for _, W, _ in stack]
    t_ref = [np.full((B, W.shape[0]), -np.inf) for _, W, _ in stack]
    spikes = [np.zeros((T, B, W.shape[0]), bool) for _, W, _ in stack]
    mask = np.ones(B, bool)
    for n in range(T):
        t = np.full(B, n * dt)
        drive = x[n]
        for l, (cfg, W, v_th) in enumerate(stack):
            decay = np.full(B, np.exp(-dt / cfg.tau_mp) if n else 1.0)
            drive = (drive if l == 0 else spikes[l - 1][n].astype(np.float64)) @ W.T
            spikes[l][n] = _event_step(cfg, v_th, v[l], t_ref[l], t, decay, drive, mask)
    return spikes, v


def grid_convergence(config: LeeConfig, params, stream: EventStream, dts):
    """Mean ``|V_grid − V_exact|`` at ``t = duration`` for each grid step in ``dts`` (one layer).

    Returns ``(errors, same)``: ``same`` (B,) marks the samples whose spike counts agree
    with the event-driven ones at every dt; the errors average over those samples only
    (a membrane that passes within O(dt) of threshold spikes differently on a coarse grid).
    """
    ev, = simulate([config], [params], stream, record=True)
    v_exact = membrane_at(ev, stream, config.tau_mp, np.full(stream.batch, stream.duration))
    same = np.ones(stream.batch, bool)
    diffs = []
    for dt in dts:
        spikes, v = grid_simulate([config], [params], to_grid(stream, dt), dt)
        same &= np.all(spikes[0].sum(axis=0) == ev.counts(), axis=1)
        diffs.append(np.abs(v[0] - v_exact))
    return np.array([d[same].mean(axis=None) if same.any() else np.nan for d in diffs]), same


def refsnn_equivalent(config: LeeConfig, params, dt, surrogate=None):
    """refsnn's LIF layer that equals the twin when ``T_ref = 0``, ``μ = 0`` and no lower bound.

    Returns ``(LIFConfig, params)`` with ``α = e^{−dt/τ}``, ``θ = V_th``, ``γ = α V_th``,
    ``b = 0`` and the subtractive reset; feed it :func:`to_grid`'s input. ``surrogate``
    (a :class:`refsnn.surrogates.Surrogate`) is the σ' of the layer's backward pass.
    """
    if config.t_ref != 0.0 or config.mu != 0.0 or config.lower_bound:
        raise ValueError("refsnn's LIF layer has no refractory window, WTA or lower bound: "
                         "use LeeConfig(t_ref=0, mu=0, lower_bound=False)")
    (_, W, v_th), = _check_stack([config], [params], np.shape(params["W"])[1])
    a = float(np.exp(-dt / config.tau_mp))
    kw = {} if surrogate is None else {"surrogate": surrogate}
    cfg = LIFConfig(W.shape[1], W.shape[0], reset="subtract", h0=1.0, **kw)
    return cfg, {"W": W, "b": np.zeros(W.shape[0]), "alpha": np.full(W.shape[0], a), "theta": v_th,
                 "gamma": a * v_th}
