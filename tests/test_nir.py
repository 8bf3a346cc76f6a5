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
    with pytest.raises(NIRImportError, match="dt must be a positive finite number, got 0"):
        from_nir(g, dt=0)
    bad = nir.NIRGraph.from_list(nir.Input(input_type=np.array([2])), nir.Affine(np.eye(2), np.zeros(2)),
                                 nir.Delay(delay=np.ones(2)), nir.Output(output_type=np.array([2])))
    with pytest.raises(NIRImportError, match="is a Delay; expected Affine"):
        from_nir(bad, dt=1e-3)


# --- issue 22: recurrent and convolutional graphs, the exporters' conventions, export, nir-check ---------

def _snn_float64(net):
    import snntorch as snn
    net = net.double()
    for m in net.modules():
        if isinstance(m, (snn.Leaky, snn.RLeaky)):
            m.spike_grad = peers.float64_spike_grad("atan", 2.0)
    return net


def _run_snn(net, x, hidden):
    from snntorch import utils as su
    su.reset(net)
    spk, mem, hid = [], [], []
    for t in range(len(x)):
        o, m = net(x[t])
        spk.append(o.detach().numpy())
        mem.append(m.detach().numpy())
        hid.append(hidden.mem.detach().numpy().copy())
    return np.stack(spk), np.stack(mem), np.stack(hid)


def test_snntorch_rleaky_graph_reproduces_the_network_it_came_from():
    """snnTorch's RLeaky export is a loop lif → w_rec → lif (flattened by nirtorch): imported as refsnn's
    recurrent layer it reproduces the RLeaky network (reset_mechanism="zero", reset_delay=False: the graph's
    reset) exactly."""
    _need("snntorch")
    import snntorch as snn
    from snntorch.export_nir import export_to_nir
    f64, N = torch.float64, 5
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(4, N), snn.RLeaky(beta=torch.full((N,), 0.9, dtype=f64), threshold=torch.ones(N, dtype=f64),
                                          linear_features=N, init_hidden=True, reset_mechanism="zero",
                                          reset_delay=False),
        torch.nn.Linear(N, 3), snn.Leaky(beta=torch.full((3,), 0.8, dtype=f64), threshold=torch.ones(3, dtype=f64),
                                         init_hidden=True, output=True, reset_mechanism="zero", reset_delay=False))
    with torch.no_grad():
        net[0].weight.mul_(3)
        net[2].weight.mul_(3)
    graph = export_to_nir(net, torch.rand(4))
    assert {"1.lif", "1.w_rec"} <= set(graph.nodes) and ("1.w_rec", "1.lif") in graph.edges
    x = 2 * torch.rand(30, 2, 4, dtype=f64)
    spk, mem, hid = _run_snn(_snn_float64(net), x, net[1])
    model = from_nir(graph, convention="snntorch")
    assert model.net.layers[0].recurrent
    ours = model.forward(x.numpy())
    assert 0 < spk.sum() < spk.size and 0 < ours[0].s.sum()
    assert np.array_equal(ours[-1].s, spk)
    np.testing.assert_allclose(ours[0].membrane, hid, rtol=0, atol=1e-13)
    np.testing.assert_allclose(ours[-1].membrane, mem, rtol=0, atol=1e-13)


def test_snntorch_conv_graph_reproduces_the_network_it_came_from():
    """Conv2d → Leaky (per-neuron (C, H, W) parameters) → AvgPool2d → Flatten → Affine → Leaky, exported by
    snnTorch, runs on refsnn's convolution (C1) and LIF dynamics; spikes identical, membranes to 1e-13."""
    _need("snntorch")
    import snntorch as snn
    from snntorch.export_nir import export_to_nir
    f64 = torch.float64
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3, padding=1),
        snn.Leaky(beta=torch.full((4, 6, 6), 0.9, dtype=f64), threshold=torch.ones((4, 6, 6), dtype=f64),
                  init_hidden=True, reset_mechanism="zero", reset_delay=False),
        torch.nn.AvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(36, 3),
        snn.Leaky(beta=torch.full((3,), 0.8, dtype=f64), threshold=torch.ones(3, dtype=f64), init_hidden=True,
                  output=True, reset_mechanism="zero", reset_delay=False))
    with torch.no_grad():
        net[0].weight.mul_(3)
        net[4].weight.mul_(12)
    graph = export_to_nir(net, torch.rand(1, 2, 6, 6), ignore_dims=[0])
    assert [type(graph.nodes[k]).__name__ for k in "012345"] == ["Conv2d", "LIF", "AvgPool2d", "Flatten", "Affine",
                                                                  "LIF"]
    x = 2 * torch.rand(25, 2, 2, 6, 6, dtype=f64)
    spk, mem, hid = _run_snn(_snn_float64(net), x, net[1])
    model = from_nir(graph, convention="snntorch")
    assert model.net is None and model.input_shape == (2, 6, 6)
    ours = model.forward(x.numpy())
    assert 0 < spk.sum() < spk.size and 0 < ours[0].s.sum() < ours[0].s.size
    assert np.array_equal(ours[-1].s, spk)
    np.testing.assert_allclose(ours[0].membrane.reshape(hid.shape), hid, rtol=0, atol=1e-13)
    np.testing.assert_allclose(ours[-1].membrane, mem, rtol=0, atol=1e-13)


def test_norse_graph_with_the_norse_convention_reproduces_the_norse_network():
    """Norse writes τ = dt/τ⁻¹ and its LIFCell current jumps by its input; convention="norse" reads both, so
    the graph reproduces the float64 Norse network it was exported from (not only Norse's re-import)."""
    _need("norse")
    import norse.torch as nt
    from norse.torch.functional.lif import LIFParameters
    f64 = torch.float64
    torch.manual_seed(1)
    t = lambda v: torch.tensor(v, dtype=f64)  # noqa: E731
    p = LIFParameters(tau_syn_inv=t(200.0), tau_mem_inv=t(100.0), v_th=t(1.0), v_leak=t(0.0), v_reset=t(0.0))
    model = nt.SequentialState(torch.nn.Linear(4, 6), nt.LIFCell(p), torch.nn.Linear(6, 3), nt.LIFCell(p)).double()
    with torch.no_grad():
        model[0].weight.mul_(3)
        model[2].weight.mul_(4)
        model[2].bias.add_(1.0)
    x = 20 * torch.rand(60, 2, 4, dtype=f64)
    graph = nt.to_nir(model, x[0])
    state, spk, mem = None, [], []
    for k in range(len(x)):
        out, state = model(x[k], state)
        spk.append(out.detach().numpy())
        mem.append(state[3].v.detach().numpy())
    spk, mem = np.stack(spk), np.stack(mem)
    ours = from_nir(graph, convention="norse").forward(x.numpy())
    assert 0 < spk.sum() < spk.size
    assert np.array_equal(ours[-1].s, spk)
    np.testing.assert_allclose(ours[-1].membrane, mem, rtol=0, atol=1e-13)
    # read as NIR defines it, the same graph has τ = 1e-5 < dt: refused, not silently wrong
    with pytest.raises(NIRImportError, match="forward Euler needs dt < τ"):
        from_nir(graph, dt=1e-3)


def _refsnn_net(kind):
    from refsnn.neurons.lif import LIFConfig
    from refsnn.neurons.network import Network, network_init
    from refsnn.surrogates import surrogate
    sg = surrogate("superspike", 1.0, gain=2.0)
    kw = dict(surrogate=sg, h0=0.0, reset="hard_keep_input", init_spike="zero", membrane_view="post_reset")
    cfgs = [LIFConfig(4, 6, recurrent=(kind == "recurrent"), synapse=(kind == "synapse"), **kw),
            LIFConfig(6, 5, **kw), LIFConfig(5, 3, reset="none", spiking=False)]
    net = Network(tuple(cfgs))
    rng = np.random.default_rng(3)
    params = network_init(net, rng)
    for l, p in enumerate(params):
        p["W"] = rng.normal(0.5, 1.0, p["W"].shape)
        p["alpha"] = rng.uniform(0.7, 0.95, p["alpha"].shape)
        if "v_reset" in p:
            p["v_reset"] = p["alpha"] * rng.uniform(-0.3, 0.2, p["alpha"].shape)
            p["theta"] = rng.uniform(0.8, 1.2, p["alpha"].shape)
        if "lam" in p:
            p["lam"] = rng.uniform(0.5, 0.9, p["lam"].shape)
        if "R" in p:
            p["R"] = rng.normal(0, 0.5, p["R"].shape)
    return net, params


@pytest.mark.parametrize("kind", ["plain", "recurrent", "synapse"])
@pytest.mark.parametrize("method", ["euler", "exp"])
def test_refsnn_network_round_trips_through_nir(kind, method, tmp_path):
    from refsnn.neurons.network import network_forward
    from refsnn.oracle.nir import to_nir
    net, params = _refsnn_net(kind)
    x = np.random.default_rng(0).uniform(0, 1.5, (40, 3, 4))
    ref = network_forward(net, params, x)
    graph = to_nir(net, params, dt=1e-3, method=method)
    nir.write(tmp_path / "net.nir", graph)
    back = from_nir(nir.read(tmp_path / "net.nir"), dt=1e-3, method=method)
    ours = back.forward(x)
    assert ref[0].s.sum() > 0 and ref[1].s.sum() > 0
    for a, b in zip(ref, ours):
        assert np.array_equal(a.s, b.s)
        np.testing.assert_allclose(b.membrane, a.membrane, rtol=1e-12, atol=1e-12)
    for p, q in zip(params, back.params):
        for k in p:
            np.testing.assert_allclose(q[k], p[k], rtol=1e-12, atol=1e-14)


def test_export_refuses_what_nir_cannot_say():
    from refsnn.neurons.lif import LIFConfig
    from refsnn.neurons.network import Network, network_init
    from refsnn.oracle.nir import NIRExportError, to_nir
    net = Network((LIFConfig(3, 2, reset="subtract"),))
    with pytest.raises(NIRExportError, match="layer 0: reset='subtract' has no NIR node"):
        to_nir(net, network_init(net, np.random.default_rng(0)), dt=1e-3)
    net = Network((LIFConfig(3, 2, reset="hard_keep_input", adaptation=True),))
    with pytest.raises(NIRExportError, match="adaptation=True"):
        to_nir(net, network_init(net, np.random.default_rng(0)), dt=1e-3)


# --- issue 18, item 10: bad inputs of from_nir -----------------------------------------------------------

def _lif_graph(**over):
    W = over.pop("W", np.eye(2))
    b = over.pop("b", np.zeros(2))
    lif = dict(tau=np.full(2, 0.02), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2), v_reset=np.zeros(2))
    g = nir.NIRGraph.from_list(nir.Input(input_type=np.array([2])), nir.Affine(np.eye(2), np.zeros(2)),
                               nir.LIF(**lif), nir.Output(output_type=np.array([2])))
    aff, neuron = [v for v in g.nodes.values() if isinstance(v, (nir.Affine, nir.LIF))]
    aff.weight, aff.bias = W, b          # set after construction: the probe's malformed nodes
    for k, v in over.items():
        setattr(neuron, k, v)
    return g


def test_item10_bias_of_the_wrong_length_is_named():
    with pytest.raises(NIRImportError, match=r"bias has shape \(3,\), expected \(2,\)"):
        from_nir(_lif_graph(b=np.zeros(3)), dt=1e-3)


@pytest.mark.parametrize("field", ["r", "v_reset", "tau", "v_threshold"])
def test_item10_wrong_shape_neuron_field_is_named(field):
    with pytest.raises(NIRImportError, match=rf"node '\w+': {field} has shape \(3,\), expected a scalar or"):
        from_nir(_lif_graph(**{field: np.ones(3)}), dt=1e-3)


def test_item10_one_dimensional_weight_is_named():
    with pytest.raises(NIRImportError, match=r"weight must be 2-D \(out, in\), got shape \(2,\)"):
        from_nir(_lif_graph(W=np.ones(2)), dt=1e-3)


def test_item10_dt_numpy_float32_is_accepted_and_huge_dt_is_named():
    g = _lif_graph()
    a = from_nir(g, dt=np.float32(1e-4)).forward(np.ones((5, 1, 2)))
    b = from_nir(g, dt=float(np.float32(1e-4))).forward(np.ones((5, 1, 2)))
    np.testing.assert_array_equal(a[0].v, b[0].v)
    with pytest.raises(NIRImportError, match="dt must be a positive finite number, got 1000"):
        from_nir(g, dt=10 ** 400)
    with pytest.raises(NIRImportError, match="dt must be a positive number, got True"):
        from_nir(g, dt=True)


def test_item10_dangling_edge_is_named():
    g = _lif_graph()
    g.edges.append(("output", "ghost"))
    with pytest.raises(NIRImportError, match=r"edge \('output', 'ghost'\) names node 'ghost', which is not in"):
        from_nir(g, dt=1e-3)


def test_unsupported_loop_and_branches_are_named():
    g = _lif_graph()
    names = {type(v).__name__: k for k, v in g.nodes.items()}
    g.edges.append((names["LIF"], names["Affine"]))       # a loop through the feed-forward weight
    with pytest.raises(NIRImportError, match="feeds several nodes|recurrent loop"):
        from_nir(g, dt=1e-3)


# --- nir-check --------------------------------------------------------------------------------------------

def _check_files(tmp_path, corrupt=None):
    from refsnn.oracle.nir import to_nir
    net, params = _refsnn_net("recurrent")
    graph = to_nir(net, params, dt=1e-3)
    nir.write(tmp_path / "g.nir", graph)
    x = np.random.default_rng(0).uniform(0, 1.5, (30, 2, 4))
    rec = from_nir(graph, dt=1e-3).run(x)
    rec = {k: v for k, v in rec.items() if not k.endswith(".v")}
    if corrupt:
        rec[corrupt] = rec[corrupt].copy()
        rec[corrupt][7, 1, 0] += 1e-3
    np.savez(tmp_path / "rec.npz", input=x, **rec)
    return str(tmp_path / "g.nir"), str(tmp_path / "rec.npz")


def test_nir_check_names_the_first_node_that_differs(tmp_path, capsys):
    from refsnn.cli import main
    g, r = _check_files(tmp_path)
    assert main(["nir-check", g, r, "--dt", "1e-3"]) == 0
    assert "all 6 recorded node outputs agree" in capsys.readouterr().out
    g, r = _check_files(tmp_path, corrupt="1.affine")
    assert main(["nir-check", g, r, "--dt", "1e-3"]) == 1
    out = capsys.readouterr().out
    assert "first node that differs: '1.affine'" in out
    assert main(["nir-check", g, r]) == 2               # dt is required for convention nir
    assert "--dt" in capsys.readouterr().err
    assert main(["nir-check", str(tmp_path / "missing.nir"), r, "--dt", "1e-3"]) == 2
    assert "missing.nir" in capsys.readouterr().err


def test_nested_recurrent_subgraph_equals_its_flattened_form():
    """snnTorch writes RLeaky as a nested graph {input → lif ⇄ w_rec, lif → output}; nirtorch flattens it.
    Both forms import to the same recurrent layer, and the loop's weight is R = k W_rec."""
    rng = np.random.default_rng(0)
    N = 4
    lif = lambda: nir.LIF(tau=np.full(N, 0.02), r=np.full(N, 20.0), v_leak=np.zeros(N),  # noqa: E731
                          v_threshold=np.ones(N), v_reset=np.zeros(N))
    W, Wr = rng.normal(1.0, 1.0, (N, 3)), rng.normal(0, 0.5, (N, N))
    sub = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([N])), "lif": lif(), "w_rec": nir.Linear(Wr),
                              "output": nir.Output(output_type=np.array([N]))},
                       edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")])
    nested = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([3])), "fc": nir.Affine(W, np.zeros(N)),
                                 "rec": sub, "output": nir.Output(output_type=np.array([N]))},
                          edges=[("input", "fc"), ("fc", "rec"), ("rec", "output")])
    flat = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([3])), "fc": nir.Affine(W, np.zeros(N)),
                               "lif": lif(), "w_rec": nir.Linear(Wr), "output": nir.Output(output_type=np.array([N]))},
                        edges=[("input", "fc"), ("fc", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")])
    x = rng.uniform(0, 2, (30, 2, 3))
    a, b = from_nir(nested, dt=1e-3), from_nir(flat, dt=1e-3)
    assert a.layers == [("fc", "rec.lif")] and b.layers == [("fc", "lif")]
    np.testing.assert_allclose(a.params[0]["R"], (1e-3 / 0.02) * 20.0 * Wr, rtol=1e-15)
    ta, tb = a.forward(x)[0], b.forward(x)[0]
    assert 0 < ta.s.sum() < ta.s.size
    assert np.array_equal(ta.s, tb.s) and np.array_equal(ta.v, tb.v)


def test_sum_pooling_and_membrane_records():
    """SumPool2d adds the spikes of each window; run() names every node's output and each neuron's membrane."""
    C = 2
    conv = nir.Conv2d(input_shape=None, weight=np.ones((C, 1, 1, 1)), stride=1, padding=0, dilation=1, groups=1,
                      bias=np.zeros(C))
    g = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([1, 4, 4])), "conv": conv,
                            "if": nir.IF(r=np.ones((C, 4, 4)), v_threshold=np.full((C, 4, 4), 0.5)),
                            "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                                                  padding=np.array([0, 0])),
                            "output": nir.Output(output_type=np.array([C, 2, 2]))},
                     edges=[("input", "conv"), ("conv", "if"), ("if", "pool"), ("pool", "output")])
    x = np.zeros((3, 1, 1, 4, 4))
    x[0, 0, 0, :2, :2] = 1.0           # one window fully driven at step 0
    out = from_nir(g, convention="norse").run(x)      # norse IF: v ← v + R x, so one step crosses 0.5
    assert set(out) == {"conv", "if", "if.v", "pool"}
    assert out["pool"].shape == (3, 1, C, 2, 2)
    assert out["pool"][0, 0, :, 0, 0].tolist() == [4.0, 4.0] and out["pool"].sum() == 8.0
    np.testing.assert_array_equal(out["if"][0, 0, 0], (x[0, 0, 0] > 0).astype(float))   # the driven window fires
    assert not out["if.v"][0].any()      # fired neurons read post-reset (v_reset = 0), the others got no input


def test_nir_check_refuses_bad_files(tmp_path, capsys):
    import os
    import zipfile
    from refsnn.cli import main
    g, r = _check_files(tmp_path)
    fifo = tmp_path / "p.npz"
    os.mkfifo(fifo)
    assert main(["nir-check", g, str(fifo), "--dt", "1e-3"]) == 2          # no hang on a FIFO
    assert "is not a regular file" in capsys.readouterr().err
    big = tmp_path / "big.npz"
    with zipfile.ZipFile(big, "w") as z:                                      # a header declaring 8 TB
        hdr = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }"
        hdr = hdr + " " * (63 - len(hdr) % 64) + "\n"
        z.writestr("input.npy", b"\x93NUMPY\x01\x00" + len(hdr).to_bytes(2, "little") + hdr.encode())
    assert main(["nir-check", g, str(big), "--dt", "1e-3"]) == 2
    assert "declare more than 1 GiB" in capsys.readouterr().err
    obj = tmp_path / "obj.npz"
    np.savez(obj, input=np.array([{"a": 1}], dtype=object))
    assert main(["nir-check", g, str(obj), "--dt", "1e-3"]) == 2
    assert "expected numbers" in capsys.readouterr().err
    assert main(["nir-check", r, r, "--dt", "1e-3"]) == 2                   # an npz is not a graph
    assert "is not a NIR graph file" in capsys.readouterr().err


def test_check_recording_of_a_norse_network_names_the_first_wrong_node():
    """A recording of the Norse network itself (every layer's Linear output, spikes and membrane):
    read with Norse's convention every node agrees; read as NIR defines it the first LIF node differs."""
    _need("norse")
    import norse.torch as nt
    from norse.torch.functional.lif import LIFParameters
    from refsnn.oracle.nir import check_recording
    f64 = torch.float64
    torch.manual_seed(2)
    t = lambda v: torch.tensor(v, dtype=f64)  # noqa: E731
    p = LIFParameters(tau_syn_inv=t(200.0), tau_mem_inv=t(100.0), v_th=t(1.0), v_leak=t(0.0), v_reset=t(0.0))
    model = nt.SequentialState(torch.nn.Linear(3, 5), nt.LIFCell(p), torch.nn.Linear(5, 2), nt.LIFCell(p)).double()
    with torch.no_grad():
        model[2].weight.mul_(4)
    x = 20 * torch.rand(40, 2, 3, dtype=f64)
    graph = nt.to_nir(model, x[0])
    rec = {k: [] for k in ("0", "1.v", "3", "3.v")}     # SequentialState returns the last layer's spikes only
    state = None
    for k in range(len(x)):
        out, state = model(x[k], state)
        rec["0"].append(model[0](x[k]).detach().numpy())
        rec["1.v"].append(state[1].v.detach().numpy())
        rec["3"].append(out.detach().numpy())
        rec["3.v"].append(state[3].v.detach().numpy())
    rec = {k: np.stack(v) for k, v in rec.items()}
    rec["input"] = x.numpy()
    checks, first = check_recording(from_nir(graph, convention="norse"), rec)
    assert first is None and {c.node for c in checks} == {"0", "1.v", "3", "3.v"}
    checks, first = check_recording(from_nir(graph, dt=1e-3, method="exp"), rec)
    assert first == "1.v"
    assert [c.ok for c in checks][:2] == [True, False]


def test_norse_box_if_and_li_exports_reproduce_the_norse_network():
    """LIFBoxCell → LIF, IAFCell → IF (v ← v + x, no dt) and LIBoxCell → LI, read with convention='norse'."""
    _need("norse")
    import norse.torch as nt
    from norse.torch.functional.iaf import IAFParameters
    from norse.torch.functional.leaky_integrator_box import LIBoxParameters
    from norse.torch.functional.lif_box import LIFBoxParameters
    f64 = torch.float64
    t = lambda v: torch.tensor(v, dtype=f64)  # noqa: E731
    torch.manual_seed(0)
    model = nt.SequentialState(
        torch.nn.Linear(3, 5), nt.LIFBoxCell(LIFBoxParameters(tau_mem_inv=t(100.0), v_leak=t(0.0), v_th=t(1.0),
                                                               v_reset=t(0.0))),
        torch.nn.Linear(5, 4), nt.IAFCell(IAFParameters(v_th=t(1.0), v_reset=t(0.0))),
        torch.nn.Linear(4, 2), nt.LIBoxCell(LIBoxParameters(tau_mem_inv=t(50.0), v_leak=t(0.0)))).double()
    with torch.no_grad():
        model[0].weight.mul_(20)
        model[2].weight.mul_(4)
        model[2].bias.add_(0.3)
    x = torch.rand(40, 2, 3, dtype=f64)
    graph = nt.to_nir(model, x[0])
    assert [type(graph.nodes[k]).__name__ for k in "135"] == ["LIF", "IF", "LI"]
    state, out, v1, v3 = None, [], [], []
    for k in range(len(x)):
        o, state = model(x[k], state)
        out.append(o.detach().numpy())
        v1.append(state[1].v.detach().numpy())
        v3.append(state[3].v.detach().numpy())
    ours = from_nir(graph, convention="norse").forward(x.numpy())
    assert ours[0].s.sum() > 0 and ours[1].s.sum() > 0
    np.testing.assert_allclose(ours[0].membrane, np.stack(v1), rtol=0, atol=1e-13)
    np.testing.assert_allclose(ours[1].membrane, np.stack(v3), rtol=0, atol=1e-13)
    np.testing.assert_allclose(ours[2].v, np.stack(out), rtol=0, atol=1e-13)


def test_export_names_bad_params():
    from refsnn.oracle.nir import NIRExportError, to_nir
    net, params = _refsnn_net("plain")
    bad = [dict(p) for p in params]
    del bad[1]["theta"]
    with pytest.raises(NIRExportError, match=r"params\[1\] lacks \['theta'\]"):
        to_nir(net, bad, dt=1e-3)
    bad = [dict(p) for p in params]
    bad[0]["W"] = bad[0]["W"][:, :2]
    with pytest.raises(NIRExportError, match=r"params\[0\]\['W'\] must be a finite \(6, 4\) array"):
        to_nir(net, bad, dt=1e-3)
    bad = [dict(p) for p in params]
    bad[0]["alpha"] = np.full(6, 1.5)
    with pytest.raises(NIRExportError, match="alpha must lie in"):
        to_nir(net, bad, dt=1e-3)
