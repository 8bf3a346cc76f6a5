"""Every surrogate that docs/conventions.md lists for snnTorch, SpikingJelly and Norse is a preset option,
matched against the real library in float64 (σ' on a grid, and a whole network's gradients), and the
preset reference in docs/presets.md is generated from the registry and current."""

from pathlib import Path

import numpy as np
import pytest

from refsnn.oracle import peers, presets as P
from refsnn.oracle.compare import rel_error

TOL = 1e-12
DOC = Path(__file__).resolve().parent.parent / "docs" / "presets.md"


def test_the_reference_in_docs_is_generated_and_current():
    text = DOC.read_text(encoding="utf-8")
    i, j = text.index(P.REFERENCE_BEGIN), text.index(P.REFERENCE_END)
    assert text[i + len(P.REFERENCE_BEGIN):j].strip() == P.reference_table().strip(), (
        "docs/presets.md's reference is stale: run python -c \"from refsnn.oracle import presets; "
        "presets.write_reference('docs/presets.md')\"")
    for name, pre in P.PRESETS.items():
        assert f"### `{name}`" in text
        for arg in pre.defaults:
            assert f"| `{arg}` |" in text


def test_every_argument_has_a_peer_name():
    for pre in P.PRESETS.values():
        assert set(pre.defaults) <= set(P.PEER_ARGS[pre.name.split(".")[0]]), pre.name


def _sg(preset, **kw):
    layers = [{"weight": np.ones((2, 2))}]
    if preset.startswith("snntorch"):
        kw.setdefault("beta", 0.9)
    return P.build(preset, layers, **kw).net.layers[0].surrogate


def _grid():
    x = np.linspace(-3.0, 3.0, 601)
    return x


def _peer_grad(fn, x):
    torch = pytest.importorskip("torch")
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    fn(xt).sum().backward()
    return xt.grad.numpy()


SNN = [("atan", dict(alpha=2.0)), ("atan", dict(alpha=5.0)), ("fast_sigmoid", dict(slope=25.0)),
       ("fast_sigmoid", dict(slope=3.0)), ("sigmoid", dict(slope=25.0)), ("sigmoid", dict(slope=4.0))]


@pytest.mark.parametrize("name,kw", SNN, ids=[f"{n}{kw}" for n, kw in SNN])
def test_snntorch_surrogates_match_in_float64(name, kw):
    if peers.available("snntorch"):
        pytest.skip(peers.available("snntorch"))
    from snntorch import surrogate as sgm
    x = _grid()
    fn = {"atan": lambda: sgm.atan(alpha=kw.get("alpha")), "fast_sigmoid": lambda: sgm.fast_sigmoid(slope=kw.get("slope")),
          "sigmoid": lambda: sgm.sigmoid(slope=kw.get("slope"))}[name]()
    theirs = _peer_grad(fn, x)
    ours = _sg("snntorch.Leaky", spike_grad=name, **kw).derivative(x)
    assert np.max(np.abs(theirs - ours)) <= TOL * np.max(np.abs(theirs))


SJ = [("Sigmoid", None), ("Sigmoid", 2.5), ("ATan", None), ("ATan", 3.0), ("PiecewiseQuadratic", None),
      ("PiecewiseQuadratic", 2.0), ("PiecewiseExp", None), ("PiecewiseExp", 3.0), ("Rect", None), ("Rect", 2.0),
      ("SuperSpike", None), ("SuperSpike", 0.5)]


@pytest.mark.parametrize("name,alpha", SJ, ids=[f"{n}-{a}" for n, a in SJ])
def test_spikingjelly_surrogates_match_in_float64(name, alpha):
    if peers.available("spikingjelly"):
        pytest.skip(peers.available("spikingjelly"))
    from spikingjelly.activation_based import surrogate as sjs
    x = _grid()
    cls = getattr(sjs, name)
    theirs = _peer_grad(cls() if alpha is None else cls(alpha=alpha), x)   # None: SpikingJelly's default α
    ours = _sg("spikingjelly.LIFNode", surrogate_function=name, alpha=alpha).derivative(x)
    assert np.max(np.abs(theirs - ours)) <= TOL * np.max(np.abs(theirs))
    assert np.count_nonzero(theirs) > 40        # the grid covers the support


def test_norse_super_matches_in_float64():
    if peers.available("norse"):
        pytest.skip(peers.available("norse"))
    import torch
    from norse.torch.functional.threshold import threshold
    x = _grid()
    theirs = _peer_grad(lambda t: threshold(t, "super", torch.tensor(100.0)), x)
    ours = _sg("norse.LIFCell", method="super").derivative(x)
    assert np.max(np.abs(theirs - ours)) <= TOL * np.max(np.abs(theirs))


def test_triangular_is_refused_with_the_reason():
    with pytest.raises(P.PresetError, match="triangular' is not mapped: its backward is \\+k for x < 0"):
        _sg("snntorch.Leaky", spike_grad="triangular")
    with pytest.raises(P.PresetError, match="spike_grad must be one of"):
        _sg("snntorch.Leaky", spike_grad="nosuch")


NETWORK = [
    ("snntorch.Leaky", dict(beta=0.9, spike_grad="sigmoid", slope=5.0)),
    ("spikingjelly.LIFNode", dict(w_gain=6.0, x_scale=2.0, surrogate_function="ATan")),
    ("spikingjelly.LIFNode", dict(w_gain=6.0, x_scale=2.0, surrogate_function="PiecewiseQuadratic")),
    ("spikingjelly.LIFNode", dict(w_gain=6.0, x_scale=2.0, surrogate_function="PiecewiseExp", alpha=2.0)),
    ("spikingjelly.LIFNode", dict(w_gain=6.0, x_scale=2.0, surrogate_function="Rect", alpha=0.5)),
    ("spikingjelly.IFNode", dict(w_gain=2.0, surrogate_function="SuperSpike", alpha=2.0)),
]


@pytest.mark.parametrize("preset,kw", NETWORK, ids=[f"{p}-{kw.get('spike_grad', kw.get('surrogate_function'))}"
                                                    for p, kw in NETWORK])
def test_network_gradients_with_each_new_surrogate_match(preset, kw):
    if peers.available(preset.split(".")[0]):
        pytest.skip(peers.available(preset.split(".")[0]))
    res = peers.run_peer(preset, **kw)
    args = {k: v for k, v in res.kwargs.items() if k not in ("seed", "T", "B", "sizes", "x_scale", "w_gain")}
    net = P.build(res.preset, res.layers, **args)
    run = net.forward(res.x)
    g = net.backward(run, [None, res.probe_s], [None, res.probe_v])
    assert 0 < res.spikes.sum() < res.spikes.size
    assert np.array_equal(run.spikes[-1], res.spikes)
    worst = {"membranes": rel_error(res.membranes, run.membranes[-1], 1e-3)[0]}
    worst.update({k: rel_error(v, g[k], 1e-3)[0] for k, v in res.grads.items()})
    assert max(worst.values()) <= TOL, worst


def test_norse_lsnn_stack_matches_norse():
    """Stacked LSNNCells: each layer adds its input after its spike test, so it sees the layer below one step
    late; the preset delays every layer's input by one step (input_delay) and matches Norse in float64."""
    if peers.available("norse"):
        pytest.skip(peers.available("norse"))
    res = peers.run_peer("norse.LSNNCell", w_gain=30.0, beta=0.5, tau_adapt_inv=50.0, sizes=(4, 6, 3), T=14)
    assert len(res.layers) == 2
    args = {k: v for k, v in res.kwargs.items() if k not in ("seed", "T", "B", "sizes", "x_scale", "w_gain")}
    net = P.build(res.preset, res.layers, **args)
    run = net.forward(res.x)
    g = net.backward(run, [None, res.probe_s], [None, res.probe_v])
    assert 0 < res.spikes.sum() < res.spikes.size and run.spikes[0].sum() > 0
    assert np.array_equal(run.spikes[-1], res.spikes)
    worst = {"membranes": rel_error(res.membranes, run.membranes[-1], 1e-3)[0]}
    worst.update({k: rel_error(v, g[k], 1e-3)[0] for k, v in res.grads.items()})
    assert max(worst.values()) <= TOL, worst
    # without the delay between layers the same weights give other spikes: the delay is what Norse does
    flat = P.build(res.preset, res.layers, **args)
    flat.layers[1].input_delay = 0
    assert not np.array_equal(flat.forward(res.x).spikes[-1], res.spikes)
