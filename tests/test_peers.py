"""Every preset against the real peer library, in float64.

Spikes must be identical, and the last layer's membrane record and every gradient (in the
peer's names, through the preset's parameter map) must agree to 1e-12 relative
(:func:`refsnn.oracle.compare.rel_error`, element-wise; entries below 1e-3 of an array's
largest are compared absolutely, to 1e-15 of it: summation order alone moves every entry by a
few ulp of the largest, about 1e-16 of it, so a smaller floor would measure rounding, not a
convention). The peers run through
:mod:`refsnn.oracle.peers`, which keeps their float32 traps out; the traps themselves are
pinned by the tests at the end. e-prop and the SpyTorch tutorial have no library: they are
checked against torch autograd on their published equations, written out below.

Install the peers with ``scripts/install_peers.sh`` (the README's test command does it);
without them these tests skip and say why.
"""

import math

import numpy as np
import pytest

from refsnn.oracle import peers, presets as P
from refsnn.oracle.compare import rel_error

TOL = 1e-12
FLOOR = 1e-3

torch = pytest.importorskip("torch", reason="torch is not installed (pip install -e '.[peer]')")


def _skip_unless(module):
    reason = peers.available(module)
    if reason:
        pytest.skip(reason)


# (preset, runner options): each chosen so that both layers spike, some but not always.
CASES = [
    ("snntorch.Leaky", dict(beta=0.9)),
    ("snntorch.Leaky", dict(beta=0.9, reset_mechanism="zero")),
    ("snntorch.Leaky", dict(beta=0.9, reset_mechanism="none")),
    ("snntorch.Leaky", dict(beta=0.8, spike_grad="fast_sigmoid", slope=5.0)),
    ("snntorch.Leaky", dict(beta=0.9, reset_mechanism="zero", reset_delay=False, spike_grad="fast_sigmoid", slope=5.0)),
    ("snntorch.Leaky", dict(beta=0.9, reset_delay=False, x_scale=0.3, w_gain=1.5)),
    ("snntorch.Synaptic", dict(beta=0.9, alpha_syn=0.7)),
    ("snntorch.Synaptic", dict(beta=0.9, alpha_syn=0.7, reset_mechanism="zero")),
    ("snntorch.RLeaky", dict(beta=0.9)),
    ("snntorch.RLeaky", dict(beta=0.9, reset_mechanism="zero")),
    ("snntorch.RLeaky", dict(beta=0.9, all_to_all=False, V=0.5)),
    ("spikingjelly.LIFNode", dict(w_gain=6.0, x_scale=2.0)),
    ("spikingjelly.LIFNode", dict(w_gain=6.0, x_scale=2.0, tau=3.0, v_reset=None)),
    ("spikingjelly.LIFNode", dict(w_gain=3.0, x_scale=2.0, v_reset=-0.2, decay_input=False)),
    ("spikingjelly.LIFNode", dict(w_gain=6.0, x_scale=2.0, detach_reset=True, surrogate_function="ATan", alpha=2.0)),
    ("spikingjelly.LIFNode", dict(w_gain=6.0, x_scale=2.0, v_reset=None, detach_reset=True)),
    ("spikingjelly.ParametricLIFNode", dict(w_gain=6.0, x_scale=2.0, init_tau=2.5)),
    ("spikingjelly.ParametricLIFNode", dict(w_gain=3.0, x_scale=2.0, init_tau=2.5, v_reset=None, decay_input=False)),
    ("spikingjelly.IFNode", dict(w_gain=2.0)),
    ("spikingjelly.IFNode", dict(w_gain=2.0, v_reset=None, detach_reset=True)),
    ("norse.LIFCell", dict(w_gain=30.0)),
    ("norse.LIFCell", dict(w_gain=30.0, v_reset=-0.3, tau_syn_inv=300.0)),
    ("norse.LIFBoxCell", dict(w_gain=40.0)),
    ("norse.LIFRecurrentCell", dict(x_scale=20.0)),
]


def _ids(case):
    name, kw = case
    return name + "[" + ",".join(f"{k}={v}" for k, v in kw.items()) + "]"


def _refsnn_side(res):
    kw = {k: v for k, v in res.kwargs.items() if k not in ("seed", "T", "B", "sizes", "x_scale", "w_gain")}
    net = P.build(res.preset, res.layers, **kw)
    run = net.forward(res.x)
    n = len(net.layers)
    g = net.backward(run, [None] * (n - 1) + [res.probe_s], [None] * (n - 1) + [res.probe_v])
    return run, g


def measure(preset, **kw):
    """Worst relative error of every array against the real library (and the spike count)."""
    res = peers.run_peer(preset, **kw)
    run, g = _refsnn_side(res)
    worst = {"membranes": rel_error(res.membranes, run.membranes[-1], FLOOR)[0]}
    for k, v in res.grads.items():
        worst[f"grad/{k}"] = rel_error(v, g[k], FLOOR)[0]
    return res, run, worst


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_preset_matches_peer(case):
    preset, kw = case
    _skip_unless(preset.split(".")[0])
    res, run, worst = measure(preset, **kw)
    n_spk = int(res.spikes.sum())
    assert 0 < n_spk < res.spikes.size, f"the case must spike sometimes ({n_spk} spikes)"
    assert np.array_equal(run.spikes[-1], res.spikes), "spike trains differ"
    bad = {k: v for k, v in worst.items() if not v <= TOL}
    assert not bad, f"worst relative errors above {TOL}: {bad}"
