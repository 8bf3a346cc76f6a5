"""NIR import (refsnn.nir): graphs that snnTorch and Norse export themselves, imported by refsnn,
reproduce each library's own simulation of that graph (its NIR import), in float64."""

import numpy as np
import pytest

from refsnn.oracle import peers

nir = pytest.importorskip("nir", reason="nir is not installed (pip install -e '.[nir]')")

from refsnn.oracle.nir import NIRImportError, from_nir  # noqa: E402


def _need(mod):
    global torch
    torch = pytest.importorskip("torch", reason="torch is not installed")
    reason = peers.available(mod)
    if reason:
        pytest.skip(reason)


def test_snntorch_exported_graph():
    _need("snntorch")
    import snntorch as snn
    from snntorch.export_nir import export_to_nir
    from snntorch.import_nir import import_from_nir
    f64 = torch.float64
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(4, 6), snn.Leaky(beta=torch.full((6,), 0.9, dtype=f64), threshold=torch.ones(6, dtype=f64),
                                         reset_mechanism="zero", init_hidden=True),
        torch.nn.Linear(6, 3), snn.Leaky(beta=torch.full((3,), 0.8, dtype=f64), threshold=torch.ones(3, dtype=f64),
                                         reset_mechanism="zero", init_hidden=True, output=True))
    with torch.no_grad():
        for m in net:
            if isinstance(m, torch.nn.Linear):
                m.weight.mul_(3)
    x = 2 * torch.rand(20, 2, 4, dtype=f64)
    graph = export_to_nir(net, x[0, 0].float())       # snnTorch traces the (float32) Linear layers
    assert {type(v).__name__ for v in graph.nodes.values()} >= {"Affine", "LIF"}
    # snnTorch's own simulation of the graph, with float64 spikes (docs/presets.md, float32 traps)
    back = import_from_nir(graph).double()
    # snnTorch's importer makes Leaky(beta = 1 − dt/τ, dt = 1e-4, reset_mechanism="zero", reset_delay=False)
    # with float32 buffers: rebuild β and θ in float64 from the same graph values, and keep spikes float64.
    for name, m in back.named_modules():
        if isinstance(m, snn.Leaky):
            assert m.reset_mechanism == "zero" and m.reset_delay is False
            node = graph.nodes[name]
            m.beta = torch.as_tensor(1 - 1e-4 / np.asarray(node.tau, np.float64))
            m.threshold = torch.as_tensor(np.asarray(node.v_threshold, np.float64))
            m.spike_grad = peers.float64_spike_grad("atan", 2.0)
    last = [m for m in back.modules() if isinstance(m, snn.Leaky)][-1]
    state, spikes, mems = None, [], []
    for t in range(len(x)):
        out, state = back(x[t], state)
        spikes.append(out.detach().numpy())
        mems.append(last.mem.detach().numpy().copy())
    spikes, mems = np.stack(spikes), np.stack(mems)
    ours = from_nir(graph, dt=1e-4, method="euler", detach_reset=False, membrane_view="post_reset").forward(x.numpy())
    assert 0 < spikes.sum() < spikes.size and ours[0].s.sum() > 0
    assert np.array_equal(ours[-1].s, spikes)
    np.testing.assert_allclose(ours[-1].membrane, mems, rtol=1e-12, atol=1e-12)


torch = None


def _norse_float64(module, graph):
    """Norse's from_nir builds float32 parameters (τ⁻¹ = 1/τ computed in float32); rebuild them in
    float64 from the graph, with the same formulas (docs/presets.md, float32 traps)."""
    f64 = lambda a: torch.as_tensor(np.asarray(a, np.float64))  # noqa: E731
    for name, m in module.named_children():
        node = graph.nodes.get(name)
        if isinstance(node, nir.CubaLIF):
            m.synapse.p = m.synapse.p._replace(tau_mem_inv=1 / f64(node.tau_syn), v_leak=f64(node.v_leak))
            m.lif.p = m.lif.p._replace(tau_mem_inv=1 / f64(node.tau_mem), v_th=f64(node.v_threshold),
                                       v_leak=f64(node.v_leak), v_reset=f64(0.0))
            m.w_in, m.r = f64(node.w_in), f64(node.r)


def test_norse_exported_graph():
    _need("norse")
    import norse.torch as nt
    from norse.torch.functional.lif import LIFParameters
    torch.manual_seed(1)
    # Norse's exporter writes τ = dt/τ⁻¹ and its importer reads τ⁻¹ = 1/τ: the round trip turns
    # these τ⁻¹ = 0.2, 0.3 into 200, 300 (× 1/dt), a membrane decay of 0.8 per step at dt = 1e-3.
    p = LIFParameters(tau_syn_inv=torch.tensor(0.3), tau_mem_inv=torch.tensor(0.2), v_th=torch.tensor(1.0))
    model = nt.SequentialState(torch.nn.Linear(4, 6), nt.LIFCell(p), torch.nn.Linear(6, 3), nt.LIFCell(p))
    with torch.no_grad():
        model[0].weight.mul_(3)
        model[2].weight.mul_(4)
        model[2].bias.add_(1.0)
    x = 2 * torch.rand(30, 2, 4)
    graph = nt.to_nir(model, x[0])
    taus = [v.tau_mem for v in graph.nodes.values() if isinstance(v, nir.CubaLIF)]
    assert taus and np.allclose(np.asarray(taus[0], float), 1e-3 / 0.2)
    back = nt.from_nir(graph, dt=1e-3).double()
    _norse_float64(back, graph)
    xs = x.double()
    state, spikes, mems = None, [], []
    for t in range(len(xs)):
        out, state = back(xs[t], state)
        spikes.append(out.detach().numpy())
        mems.append(state.state["3"][0][1].v.detach().numpy())     # (current, LIFBox state) of node "3"
    spikes, mems = np.stack(spikes), np.stack(mems)
    ours = from_nir(graph, dt=1e-3, method="euler", detach_reset=False, membrane_view="post_reset").forward(xs.numpy())
    assert 0 < spikes.sum() < spikes.size and ours[0].s.sum() > 0
    assert np.array_equal(ours[-1].s, spikes)
    np.testing.assert_allclose(ours[-1].membrane, mems, rtol=1e-12, atol=1e-12)


def _li_graph(tau, r, W):
    return nir.NIRGraph.from_list(nir.Input(input_type=np.array([W.shape[1]])), nir.Affine(W, np.zeros(W.shape[0])),
                                  nir.LI(tau=tau, r=r, v_leak=np.zeros_like(tau)),
                                  nir.Output(output_type=np.array([W.shape[0]])))


def test_exact_exponential_decay_and_euler():
    """An LI node's impulse response: (1 − e^{−dt/τ}) R e^{−t dt/τ} (exp) and (dt/τ) R (1 − dt/τ)^t (euler)."""
    tau, r, dt = np.array([0.02, 0.05]), np.array([1.0, 2.0]), 1e-3
    g = _li_graph(tau, r, np.eye(2))
    x = np.zeros((40, 1, 2))
    x[0] = 1.0
    t = np.arange(40)[:, None]
    v_exp = from_nir(g, dt, "exp").forward(x)[-1].v[:, 0]
    np.testing.assert_allclose(v_exp, (1 - np.exp(-dt / tau)) * r * np.exp(-t * dt / tau), rtol=1e-13)
    v_eu = from_nir(g, dt, "euler").forward(x)[-1].v[:, 0]
    np.testing.assert_allclose(v_eu, dt / tau * r * (1 - dt / tau) ** t, rtol=1e-13)


def test_bad_graphs_are_named():
    g = _li_graph(np.array([0.02, 0.05]), np.ones(2), np.eye(2))
    with pytest.raises(NIRImportError, match="forward Euler needs dt < τ"):
        from_nir(g, dt=0.1, method="euler")
    with pytest.raises(NIRImportError, match="method must be one of"):
        from_nir(g, dt=1e-3, method="rk4")
    with pytest.raises(NIRImportError, match="dt must be a positive number"):
        from_nir(g, dt=0)
    bad = nir.NIRGraph.from_list(nir.Input(input_type=np.array([2])), nir.Affine(np.eye(2), np.zeros(2)),
                                 nir.Delay(delay=np.ones(2)), nir.Output(output_type=np.array([2])))
    with pytest.raises(NIRImportError, match="is a Delay; expected LIF, CubaLIF, IF or LI"):
        from_nir(bad, dt=1e-3)
