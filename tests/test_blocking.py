"""Fast paths at sizes past their blocking thresholds, against an unblocked computation.

The fused reverse loop (``refsnn.neurons.lif_fused``) evaluates σ'(v_t − θ) a few steps
at a time once T·B·N exceeds ``lif_fused.SG_BLOCK`` elements. The samples of a batch are independent, so
for a loss that is a sum over samples the batch gradient is the sum of the per-sample
gradients; with B = 1 each per-sample run stays below the threshold (one block). The
comparison therefore checks every block of the batched run against unblocked runs.
"""

import numpy as np

from refsnn.neurons import lif_fused
from refsnn.lif import LIFConfig
from refsnn.network import Network, network_backward, network_forward, network_init
from refsnn.surrogates import surrogate

THRESHOLD = lif_fused.SG_BLOCK


def test_surrogate_derivative_blocks_match_unblocked_per_sample_runs():
    T, B, M, N = 2100, 4, 3, 16
    assert T * B * N > 2 * THRESHOLD and T * N < THRESHOLD   # ≥ 3 blocks batched, 1 per sample
    rng = np.random.default_rng(7)
    cfg = LIFConfig(M, N, surrogate=surrogate("sigmoid", 4.0), adaptation=True, synapse=True, recurrent=True)
    net = Network((cfg,))
    params = network_init(net, rng, np.float64, [dict(w_scale=1.5, b=0.2, r_scale=0.5)])
    x = rng.normal(0.4, 1.0, (T, B, M))
    a_s = rng.normal(size=(T, B, N))            # direct partials of L = Σ a_s·s + a_v·v
    a_v = rng.normal(size=(T, B, N))
    trajs = network_forward(net, params, x)
    assert 0 < trajs[0].s.mean() < 0.5
    full = network_backward(trajs, params, [a_s], [a_v])
    total = {k: np.zeros_like(v) for k, v in full.params[0].items()}
    for b in range(B):
        tr = network_forward(net, params, x[:, b:b + 1])
        g = network_backward(tr, params, [a_s[:, b:b + 1]], [a_v[:, b:b + 1]])
        for k in total:
            total[k] += g.params[0][k]
        np.testing.assert_allclose(full.x[:, b:b + 1], g.x, rtol=1e-10, atol=1e-12)
    for k in total:
        np.testing.assert_allclose(full.params[0][k], total[k], rtol=1e-10, atol=1e-10, err_msg=k)
