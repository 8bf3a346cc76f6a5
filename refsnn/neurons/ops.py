r"""Operation counts: synaptic operations and multiply-accumulates, per sample, for every network kind.

Efficiency claims about spiking networks (seed 002 §3 on convolution, seed 003's Fig. 6:
"about one fifth of the operations of the ANN") are claims about these numbers. For one
layer with input ``x_t`` (T steps) and a set of synapses, each synapse joining an input
unit i to a target unit j:

.. math::

    \text{fan-out}(i) &= \#\{\text{synapses leaving } i\}                               && \text{(O1)}\\
    \text{SynOps} &= \sum_t \sum_i [x_{t,i} \ne 0]\ \text{fan-out}(i)                     && \text{(O2) events × fan-out}\\
    \text{MACs} &= T \sum_i \text{fan-out}(i) = T \cdot \#\text{synapses}                  && \text{(O3) clock-driven}\\
    \text{ANN MACs} &= \#\text{synapses}                                                  && \text{(O4) one pass, no time}

An event-driven machine does the work of O2: every nonzero input (a spike) is delivered
to each of its targets, one addition per delivery (an *accumulate*, AC, when the input
is a binary spike: the weight is added, nothing is multiplied). A clock-driven machine
multiplies every weight by its input at every step, O3. O4 is the same layer computed
once as an ANN layer, the baseline of seed 003's comparison: it counts every synapse the
layer has, so a recurrent layer's ``R`` counts once (an ANN with the same recurrent weights,
one pass), while the Lee layer's lateral WTA inhibition, which has no weight matrix, counts
none (an ANN layer has no such circuit). ``SynOps ≤ MACs`` always,
with equality when every input is nonzero at every step.

Synapses of each kind (``N`` targets, ``M`` inputs):

- dense LIF layer (:mod:`refsnn.neurons.lif`): feed-forward ``W`` (N, M), fan-out N for
  every input; with recurrence, ``R`` (N, N), whose inputs are the layer's own previous
  spikes ``s_{t−1}`` (``s_{−1}`` the initial spike state), fan-out N;
- convolutional layer (:mod:`refsnn.neurons.conv`): input unit ``(c, i, j)`` reaches output
  ``(k, o_i, o_j)`` iff ``0 ≤ i + p − o_i s < k_h`` and ``0 ≤ j + p − o_j s < k_w``, for
  every one of K kernels, so

  .. math::

      \text{fan-out}(c, i, j) = K\, n_h(i)\, n_w(j), \qquad
      n_h(i) = \#\{o \in [0, H_o) : 0 \le i + p - o s < k_h\}                             \qquad (O5)

  (the padding taps are not synapses: a zero pad is never an event and costs no MAC
  here, so ``#synapses = Σ fan-out`` is less than ``K H_o W_o C k_h k_w`` when p > 0).
  Sum or average pooling of the output spikes adds ``pool_ops``: one addition per spike
  (events) or per neuron and step (clock-driven), ``K H_o W_o`` for the ANN;
- two-compartment layer (:mod:`refsnn.neurons.dendrite`): ``W_d`` (N, K_b, M), fan-out
  ``N K_b`` for every input; the branch outputs ``q`` reach their soma through ``c``,
  fan-out 1 (``q`` is binary for dendritic spikes, a real number for sigmoid branches,
  whose events are its nonzero values); the soma's recurrence as for a dense layer;
- Lee 2016 layer (:mod:`refsnn.neurons.lee2016`): feed-forward fan-out N for every input
  event; with WTA inhibition (μ ≠ 0) every output spike also reaches the N − 1 other
  neurons of its layer. The simulator is event-driven, with no clock: its ``macs`` is
  ``None``; its ANN baseline counts the feed-forward synapses only.

The counts are per sample (totals divided by the batch size). Neuron-state updates
(leaks, resets) are not synaptic operations and are not counted; ``neuron_updates`` gives
``T · N`` for the time-stepped kinds (every neuron is updated at every step) for those who
want them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import check_instance

__all__ = ["OpCount", "dense_ops", "layer_ops", "network_ops", "conv_fan_out", "conv_layer_ops",
           "convnet_ops", "dendrite_ops", "lee_ops", "total"]


@dataclass
class OpCount:
    """One layer's counts per sample. ``binary``: every input was 0 or 1, so each SynOp is
    an accumulate (no multiplication)."""

    layer: str
    events: float
    synops: float
    macs: float | None
    ann_macs: float
    synapses: int
    neuron_updates: float = 0.0
    pool_ops: float = 0.0
    binary: bool = True


def _binary(*arrays):
    return all(a is None or bool(np.all((a == 0) | (a == 1))) for a in arrays)


def dense_ops(x, n_out, s_prev=None, name="dense"):
    """O1–O4 for a feed-forward matrix (N = ``n_out`` targets per input) on ``x`` (T, B, M),
    plus a recurrent matrix on the previous spikes ``s_prev`` (T, B, N) if given."""
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"x must be an input of shape (T, B, M), got shape {x.shape}")
    T, B, M = x.shape
    events = np.count_nonzero(x) / B
    synops = events * n_out                                            # O2
    synapses = M * n_out
    if s_prev is not None:
        rec = np.count_nonzero(s_prev) / B
        events += rec
        synops += rec * n_out                                          # recurrence: fan-out N
        synapses += n_out * n_out
    return OpCount(name, events, synops, T * synapses, synapses, synapses, T * n_out, 0.0, _binary(x, s_prev))


def layer_ops(traj, name="dense"):
    """Counts of one :class:`~refsnn.neurons.lif.Trajectory` (its input ``x`` and, if the
    layer is recurrent, its previous spikes)."""
    from .lif import Trajectory
    check_instance("traj", traj, Trajectory, "a refsnn.lif.Trajectory (from layer_forward/network_forward)")
    s_prev = traj.prev("s") if traj.config.recurrent else None
    return dense_ops(traj.x, traj.config.n, s_prev, name)


def network_ops(trajs):
    """One :class:`OpCount` per layer of a :class:`~refsnn.neurons.network.Network` run."""
    if not isinstance(trajs, (list, tuple)) or not trajs:
        raise TypeError("trajs must be the list of Trajectory that network_forward returns")
    return [layer_ops(tr, f"L{l}") for l, tr in enumerate(trajs)]


def _n_positions(size, pad, k, stride, n_out):
    """O5's n_h(i) for every input row i: the output rows whose window covers it."""
    o = np.arange(n_out)
    i = np.arange(size)[:, None]
    d = i + pad - o[None] * stride
    return ((d >= 0) & (d < k)).sum(axis=1)


def conv_fan_out(cfg):
    """O5: fan-out (H, W) of every input position (the same for each input channel)."""
    kh, kw = cfg.kernel_size
    ho, wo = cfg.out_shape
    nh = _n_positions(cfg.height, cfg.padding, kh, cfg.stride, ho)
    nw = _n_positions(cfg.width, cfg.padding, kw, cfg.stride, wo)
    return cfg.out_channels * np.outer(nh, nw)


def conv_layer_ops(traj, name="conv"):
    """Counts of one :class:`~refsnn.neurons.conv.ConvTrajectory`, pooling included."""
    from .conv import ConvTrajectory
    check_instance("traj", traj, ConvTrajectory, "a refsnn ConvTrajectory (from conv_forward)")
    cfg = traj.config
    x = np.asarray(traj.x)
    T, B = x.shape[:2]
    fan = conv_fan_out(cfg)
    active = (x != 0).sum(axis=(0, 1, 2))                    # (H, W): events per position, all channels
    synops = float(np.sum(active * fan)) / B
    synapses = int(cfg.in_channels * fan.sum())
    pool_ev = pool_clock = pool_ann = 0.0
    if cfg.pool != "none":
        pool_ev = np.count_nonzero(traj.s) / B
        pool_clock = T * cfg.n
        pool_ann = cfg.n
    return OpCount(name, np.count_nonzero(x) / B, synops + pool_ev, T * synapses + pool_clock,
                   synapses + pool_ann, synapses, T * cfg.n, pool_ev, _binary(x))


def convnet_ops(trajs):
    """Counts of every layer of a :class:`~refsnn.neurons.conv.ConvNetwork` run."""
    from .conv import ConvNetTrajectory
    check_instance("trajs", trajs, ConvNetTrajectory, "a ConvNetTrajectory (from convnet_forward)")
    convs = [conv_layer_ops(tr, f"conv{l}") for l, tr in enumerate(trajs.convs)]
    dense = [layer_ops(tr, f"dense{l}") for l, tr in enumerate(trajs.dense)]
    return convs + dense


def dendrite_ops(traj, name="dendrite"):
    """Counts of a :class:`~refsnn.neurons.dendrite.DendriteTrajectory`: input → branches
    (fan-out N·K_b), branches → soma (fan-out 1), and the soma's recurrence."""
    from .dendrite import DendriteTrajectory
    check_instance("traj", traj, DendriteTrajectory, "a DendriteTrajectory (from dendrite_forward)")
    cfg = traj.config
    N, Kb = cfg.n, cfg.n_branch
    ff = dense_ops(traj.x, N * Kb, None, name)
    T, B = traj.q.shape[:2]
    q_ev = np.count_nonzero(traj.q) / B
    events, synops, synapses = ff.events + q_ev, ff.synops + q_ev, ff.synapses + N * Kb
    binary = ff.binary and _binary(traj.q)
    if cfg.soma.recurrent:
        rec = np.count_nonzero(traj.soma.prev("s")) / B
        events, synops, synapses = events + rec, synops + rec * N, synapses + N * N
    return OpCount(name, events, synops, T * synapses, synapses, synapses, T * N * (Kb + 1), 0.0, binary)


def lee_ops(configs, params, stream, layers_events, fan_out=None):
    """Counts of a Lee 2016 run (:func:`refsnn.neurons.lee2016.simulate`): input events ×
    N₁, layer l's spikes × N_{l+1}, and with WTA (μ ≠ 0) every spike × (N_l − 1).

    ``fan_out``: None (every layer dense), or one entry per layer, None (dense) or an (M_l,)
    array of each input's structural fan-out (a convolution's O5, a pooling's 1), so that
    SynOps = Σ_k events_k fan-out_k and #synapses = Σ_k fan-out_k
    (:func:`refsnn.learning.lee2016_conv.ops`)."""
    from .lee2016 import EventStream
    check_instance("stream", stream, EventStream, "a refsnn.neurons.lee2016.EventStream")
    if len(configs) != len(params) or len(layers_events) != len(params):
        raise ValueError("configs, params and layers_events must have one entry per layer")
    if fan_out is None:
        fan_out = [None] * len(params)
    if len(fan_out) != len(params):
        raise ValueError(f"fan_out must have one entry per layer ({len(params)}), got {len(fan_out)}")
    B = stream.batch
    out = []
    per_input = stream.input_counts().sum(axis=0) / B       # events per input channel
    for l, (cfg, p, le, fan) in enumerate(zip(configs, params, layers_events, fan_out)):
        N, M = p["W"].shape
        events = float(per_input.sum())
        spikes = float(le.spikes.sum()) / B
        if fan is None:
            synops, synapses = events * N, N * M
        else:
            fan = np.asarray(fan)
            if fan.shape != (M,):
                raise ValueError(f"fan_out[{l}] must have shape ({M},), got {fan.shape}")
            synops, synapses = float(per_input @ fan), int(fan.sum())
        ann = synapses
        if cfg.mu != 0:
            synops += spikes * (N - 1)                       # WTA: every other neuron of the layer
            synapses += N * (N - 1)
        out.append(OpCount(f"L{l}", events, synops, None, ann, synapses, 0.0, 0.0, True))
        per_input = le.spikes.sum(axis=(0, 1)) / B
    return out


def total(counts):
    """The per-sample sums over layers: ``{"events", "synops", "macs", "ann_macs"}``
    (``macs`` None if any layer has no clock-driven count)."""
    macs = None if any(c.macs is None for c in counts) else float(sum(c.macs for c in counts))
    return dict(events=float(sum(c.events for c in counts)), synops=float(sum(c.synops for c in counts)),
                macs=macs, ann_macs=float(sum(c.ann_macs for c in counts)))
