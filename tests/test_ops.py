"""Operation counts (refsnn.neurons.ops, O1–O5), derived by hand on tiny networks.

Every expected number below is counted by hand in the comment beside it; the brute-force
tests count synapse by synapse with explicit loops, independently of the vectorised
formulas."""

import numpy as np
import pytest

from refsnn import LIFConfig, Network, network_forward, network_init, surrogate
from refsnn.neurons import ops
from refsnn.neurons.conv import ConvLIFConfig, ConvNetwork, conv_forward, conv_init_params, convnet_forward, convnet_init
from refsnn.neurons.dendrite import DendriteConfig, dendrite_forward, init_dendrite_params
from refsnn.neurons.lee2016 import EventStream, LeeConfig, LayerEvents, simulate


def test_dense_counts_by_hand():
    # T = 2, B = 1, M = 3 inputs, N = 2 targets. Nonzero inputs: step 0 has 2, step 1 has 1.
    x = np.array([[[1.0, 0.0, 1.0]], [[0.0, 0.0, 1.0]]])
    c = ops.dense_ops(x, 2)
    assert c.events == 3                # 2 + 1 nonzero inputs
    assert c.synops == 6                # 3 events × fan-out 2
    assert c.synapses == 6              # W is 2 × 3
    assert c.macs == 12                 # T = 2 steps × 6 synapses
    assert c.ann_macs == 6              # every synapse once
    assert c.binary


def test_recurrent_counts_by_hand_and_per_sample():
    # B = 2: sample 0 has 1 input event, sample 1 has 3; previous spikes: 1 and 1.
    x = np.zeros((2, 2, 2))
    x[0, 0, 0] = 1
    x[:, 1, :] = [[1, 1], [0, 1]]
    s_prev = np.zeros((2, 2, 3))
    s_prev[1, 0, 2] = 1
    s_prev[0, 1, 0] = 1
    c = ops.dense_ops(x, 3, s_prev)
    assert c.events == (4 + 2) / 2      # (1 + 3 inputs + 2 recurrent spikes) per sample
    assert c.synops == (4 * 3 + 2 * 3) / 2   # every event has fan-out N = 3
    assert c.synapses == 2 * 3 + 3 * 3       # W (3 × 2) and R (3 × 3)
    assert c.macs == 2 * 15


def test_network_counts_read_the_real_spikes():
    sg = surrogate("sigmoid", 4.0)
    net = Network((LIFConfig(4, 5, surrogate=sg, recurrent=True), LIFConfig(5, 3, surrogate=sg)))
    params = network_init(net, 0, np.float64, [dict(w_scale=3.0, b=0.5), dict(w_scale=3.0)])
    x = (np.random.default_rng(1).random((7, 2, 4)) < 0.4).astype(float)
    trajs = network_forward(net, params, x)
    c0, c1 = ops.network_ops(trajs)
    s = trajs[0].s
    # brute force: walk every synapse at every step, count the deliveries of nonzero inputs
    n = 0
    for t in range(7):
        for b in range(2):
            for i in range(4):
                for j in range(5):
                    n += x[t, b, i] != 0
            prev = trajs[0].s_init[b] if t == 0 else s[t - 1, b]
            for i in range(5):
                for j in range(5):
                    n += prev[i] != 0
    assert c0.synops == n / 2
    assert c1.synops == s.sum() * 3 / 2 and c1.events == s.sum() / 2
    assert c0.macs == 7 * (4 * 5 + 5 * 5) and c1.macs == 7 * 15
    assert ops.total([c0, c1])["ann_macs"] == 45 + 15


def test_conv_fan_out_by_hand():
    # 3 × 3 input, 2 × 2 kernel, stride 1, no padding: 2 × 2 outputs; a corner is in 1
    # window, an edge middle in 2, the centre in 4 (times K = 1 kernel).
    cfg = ConvLIFConfig(1, 3, 3, 1, kernel_size=2)
    assert ops.conv_fan_out(cfg).tolist() == [[1, 2, 1], [2, 4, 2], [1, 2, 1]]
    # 4 × 4 input, 3 × 3 kernel, stride 2, padding 1: outputs at padded offsets 0 and 2,
    # covering input rows {0, 1} (row −1 is a pad) and {1, 2, 3}; row 1 is in both.
    cfg = ConvLIFConfig(1, 4, 4, 2, kernel_size=3, stride=2, padding=1)
    nh = np.array([1, 2, 1, 1])
    assert ops.conv_fan_out(cfg).tolist() == (2 * np.outer(nh, nh)).tolist()
    # Σ fan-out = real taps = 2 kernels × (2·2 + 2·3 + 3·2 + 3·3 = 25) < 2 × 4 windows × 9
    assert ops.conv_fan_out(cfg).sum() == 2 * 25


def _brute_conv_synapses(cfg):
    kh, kw = cfg.kernel_size
    ho, wo = cfg.out_shape
    fan = np.zeros((cfg.height, cfg.width), int)
    for k in range(cfg.out_channels):
        for oi in range(ho):
            for oj in range(wo):
                for a in range(kh):
                    for b in range(kw):
                        i, j = oi * cfg.stride - cfg.padding + a, oj * cfg.stride - cfg.padding + b
                        if 0 <= i < cfg.height and 0 <= j < cfg.width:
                            fan[i, j] += 1
    return fan


@pytest.mark.parametrize("h, k, s, p", [(5, 3, 1, 1), (8, 3, 2, 1), (7, 2, 3, 0), (6, 4, 2, 2)])
def test_conv_fan_out_matches_a_window_by_window_count(h, k, s, p):
    cfg = ConvLIFConfig(2, h, h, 3, kernel_size=k, stride=s, padding=p)
    assert np.array_equal(ops.conv_fan_out(cfg), _brute_conv_synapses(cfg))


def test_conv_layer_and_convnet_counts():
    cfg = ConvLIFConfig(1, 4, 4, 2, kernel_size=3, padding=1, pool="sum", pool_size=2,
                        surrogate=surrogate("sigmoid", 4.0))
    params = conv_init_params(cfg, 0, w_scale=3.0, b=0.6)
    x = np.zeros((2, 1, 1, 4, 4))
    x[0, 0, 0, 0, 0] = 1           # a corner: 2 × 2 windows of a padded 3 × 3 kernel
    x[1, 0, 0, 1, 2] = 1           # an inner pixel: 3 × 3 windows
    tr = conv_forward(cfg, params, x)
    c = ops.conv_layer_ops(tr)
    spikes = tr.s.sum()
    assert c.synops == 2 * (4 + 9) + spikes        # 2 kernels × window counts, + one add per pooled spike
    assert c.pool_ops == spikes
    assert c.synapses == 2 * 10 ** 2               # 2 kernels × Σ_i n(i) Σ_j n(j), n = (2, 3, 3, 2)
    assert c.macs == 2 * (200 + 32)                # T × (synapses + one pool add per neuron)
    assert c.ann_macs == 200 + 32
    net = ConvNetwork((cfg,), Network((LIFConfig(8, 3, surrogate=surrogate("sigmoid", 4.0)),)))
    p = convnet_init(net, 0, conv_kw=[dict(w_scale=3.0, b=0.6)])
    ctr = convnet_forward(net, p, x)
    cs = ops.convnet_ops(ctr)
    assert [c.layer for c in cs] == ["conv0", "dense0"]
    # the dense layer's events are the nonzero pooled sums (a sum of 2 spikes is one event
    # carrying the value 2, so not binary), each with fan-out 3
    assert cs[1].synops == np.count_nonzero(ctr.convs[0].z) * 3


def test_dendrite_counts_by_hand():
    soma = LIFConfig(1, 2, surrogate=surrogate("sigmoid", 4.0))
    cfg = DendriteConfig(3, 2, 2, soma)               # M = 3, N = 2 somas, K_b = 2 branches
    p = init_dendrite_params(cfg, 0, w_scale=3.0)
    x = np.zeros((3, 1, 3))
    x[0, 0] = [1, 1, 0]
    x[2, 0, 2] = 1
    tr = dendrite_forward(cfg, p, x)
    c = ops.dendrite_ops(tr)
    q = np.count_nonzero(tr.q)
    assert c.synops == 3 * 4 + q                      # 3 input events × N·K_b = 4, + q events × 1
    assert c.synapses == 3 * 4 + 4                    # W_d (2, 2, 3) and c (2, 2)
    assert c.macs == 3 * 16


def test_lee_counts_by_hand():
    # 2 channels → 3 neurons (WTA) → 2 neurons; a sample with 4 input events.
    cfgs = [LeeConfig(mu=-0.4), LeeConfig()]
    params = [dict(W=np.full((3, 2), 0.6), v_th=np.ones(3)), dict(W=np.full((2, 3), 1.2), v_th=np.ones(2))]
    stream = EventStream.from_lists([[(0.1, 0), (0.2, 1), (0.3, 0), (5.0, 1)]], 2, 10.0)
    le = simulate(cfgs, params, stream)
    c0, c1 = ops.lee_ops(cfgs, params, stream, le)
    n0, n1 = le[0].spikes.sum(), le[1].spikes.sum()
    assert n0 > 0
    assert c0.synops == 4 * 3 + n0 * 2                # events × N, + WTA: each spike × (3 − 1)
    assert c1.synops == n0 * 2                        # layer 0's spikes × N₁ = 2, no WTA
    assert c0.ann_macs == 6 and c1.ann_macs == 6 and c0.macs is None
    assert ops.total([c0, c1])["macs"] is None


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="x must be"):
        ops.dense_ops(np.zeros((2, 3)), 2)
    with pytest.raises(TypeError, match="traj must be"):
        ops.layer_ops("nope")
    with pytest.raises(TypeError, match="trajs must be"):
        ops.network_ops([])
