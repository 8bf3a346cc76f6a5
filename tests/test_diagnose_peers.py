"""The per-step entries' definitions (compare's docstring) against the real peers: every
layer's spikes and membranes, and the ``retain_grad`` gradients of the spike and membrane
state tensors of each step, recorded from snnTorch, SpikingJelly and Norse, agree with
refsnn's counterparts to 1e-9 (``refsnn compare`` exits 0). A wrong definition (δv for a
post-reset state, B1's reset term in snnTorch's spike gradient) would fail here."""

import json

import numpy as np
import pytest

from refsnn.oracle import compare as C, peers

torch = pytest.importorskip("torch")


def _np(t):
    return t.detach().numpy().astype(np.float64)


def _layers_linear(sizes, gain, seed):
    torch.manual_seed(seed)
    fcs = []
    for l in range(len(sizes) - 1):
        fc = torch.nn.Linear(sizes[l], sizes[l + 1]).double()
        with torch.no_grad():
            fc.weight.mul_(gain)
            fc.bias.mul_(gain)
        fcs.append(fc)
    return fcs


def _file(preset, kwargs, x, xt, fcs, extra_params, rec, rng):
    S, V = rec["spikes"][-1], rec["membranes"][-1]
    G_s, G_v = rng.normal(size=tuple(S.shape)), rng.normal(size=tuple(V.shape))
    loss = (S * torch.as_tensor(G_s)).sum() + (V * torch.as_tensor(G_v)).sum()
    loss.backward()
    d = {"preset": np.str_(preset), "kwargs": np.str_(json.dumps(kwargs)), "x": x, "loss": np.str_("linear"),
         "probe_s": G_s, "probe_v": G_v, "loss_value": np.float64(loss.item()), "grad/x": _np(xt.grad)}
    for l, fc in enumerate(fcs):
        d[f"param/{l}.weight"], d[f"param/{l}.bias"] = _np(fc.weight), _np(fc.bias)
        d[f"grad/{l}.weight"], d[f"grad/{l}.bias"] = _np(fc.weight.grad), _np(fc.bias.grad)
        for k, p in extra_params[l].items():
            d[f"param/{l}.{k}"] = _np(p)
            if p.grad is not None:
                d[f"grad/{l}.{k}"] = _np(p.grad)
        d[f"spikes/{l}"] = _np(rec["spikes"][l])
        d[f"membranes/{l}"] = _np(rec["membranes"][l])
        g = lambda ts: np.stack([_np(t.grad) if t.grad is not None else np.zeros(tuple(t.shape)) for t in ts])  # noqa
        d[f"dspikes/{l}"] = g(rec["spk_t"][l])
        d[f"dmembranes/{l}"] = g(rec["mem_t"][l])
    return d


def _run_snntorch(reset_delay, seed=0, T=10, B=3, sizes=(4, 6, 3)):
    import snntorch as snn
    rng = np.random.default_rng(seed)
    x = rng.normal(0.3, 1.0, (T, B, sizes[0])) * (1.0 if reset_delay else 0.6)
    xt = torch.tensor(x, requires_grad=True)
    fcs = _layers_linear(sizes, 3.0 if reset_delay else 1.5, seed)
    extra, rec = [], {"spikes": [], "membranes": [], "spk_t": [], "mem_t": []}
    inp = xt
    for fc in fcs:
        lif = snn.Leaky(beta=torch.tensor(0.9, dtype=torch.float64), threshold=torch.tensor(1.0, dtype=torch.float64),
                        spike_grad=peers.float64_spike_grad("atan", 2.0), learn_beta=True, learn_threshold=True,
                        reset_delay=reset_delay)
        extra.append({"beta": lif.beta, "threshold": lif.threshold})
        mem = lif.reset_mem()
        spk_t, mem_t = [], []
        for t in range(T):
            spk, mem = lif(fc(inp[t]), mem)
            spk.retain_grad()
            mem.retain_grad()
            spk_t.append(spk)
            mem_t.append(mem)
        inp = torch.stack(spk_t)
        rec["spikes"].append(inp)
        rec["membranes"].append(torch.stack(mem_t))
        rec["spk_t"].append(spk_t)
        rec["mem_t"].append(mem_t)
    return _file("snntorch.Leaky", {"reset_delay": reset_delay}, x, xt, fcs, extra, rec, rng)


def _run_spikingjelly(detach_reset, seed=0, T=10, B=3, sizes=(4, 6, 3)):
    from spikingjelly.activation_based import neuron, surrogate
    rng = np.random.default_rng(seed)
    x = rng.normal(0.3, 1.0, (T, B, sizes[0])) * 2.0
    xt = torch.tensor(x, requires_grad=True)
    fcs = _layers_linear(sizes, 6.0, seed)
    rec = {"spikes": [], "membranes": [], "spk_t": [], "mem_t": []}
    inp = xt
    for fc in fcs:
        node = neuron.LIFNode(tau=2.0, v_reset=None, detach_reset=detach_reset,
                              surrogate_function=surrogate.Sigmoid(alpha=4.0), step_mode="s").double()
        spk_t, mem_t = [], []
        for t in range(T):
            spk = node(fc(inp[t]))
            spk.retain_grad()
            node.v.retain_grad()            # the post-reset V_t, charged from at step t+1
            spk_t.append(spk)
            mem_t.append(node.v)
        inp = torch.stack(spk_t)
        rec["spikes"].append(inp)
        rec["membranes"].append(torch.stack(mem_t))
        rec["spk_t"].append(spk_t)
        rec["mem_t"].append(mem_t)
    kw = {"v_reset": None, "detach_reset": detach_reset}
    return _file("spikingjelly.LIFNode", kw, x, xt, fcs, [{}, {}], rec, rng)


def _run_norse(seed=0, T=10, B=3, sizes=(4, 6, 3)):
    import norse.torch as nt
    from norse.torch.functional.lif import LIFParameters
    rng = np.random.default_rng(seed)
    x = rng.normal(0.3, 1.0, (T, B, sizes[0]))
    xt = torch.tensor(x, requires_grad=True)
    fcs = _layers_linear(sizes, 30.0, seed)
    rec = {"spikes": [], "membranes": [], "spk_t": [], "mem_t": []}
    inp = xt
    extra = []
    f64 = lambda v: torch.tensor(float(v), dtype=torch.float64, requires_grad=True)  # noqa: E731
    for fc in fcs:
        pt = {"tau_syn_inv": f64(200.0), "tau_mem_inv": f64(100.0), "v_th": f64(1.0), "v_reset": f64(0.0)}
        cell = nt.LIFCell(p=LIFParameters(v_leak=torch.tensor(0.0, dtype=torch.float64), alpha=torch.tensor(100.0),
                                          **pt), dt=0.001)
        extra.append(pt)
        state, spk_t, mem_t = None, [], []
        for t in range(T):
            z, state = cell(fc(inp[t]), state)
            z.retain_grad()
            state.v.retain_grad()
            spk_t.append(z)
            mem_t.append(state.v)
        inp = torch.stack(spk_t)
        rec["spikes"].append(inp)
        rec["membranes"].append(torch.stack(mem_t))
        rec["spk_t"].append(spk_t)
        rec["mem_t"].append(mem_t)
    return _file("norse.LIFCell", {}, x, xt, fcs, extra, rec, rng)


RUNS = {"snntorch-reset_delay": lambda: _run_snntorch(True), "snntorch-same-step": lambda: _run_snntorch(False),
        "spikingjelly-attached": lambda: _run_spikingjelly(False),
        "spikingjelly-detached": lambda: _run_spikingjelly(True), "norse-LIFCell": _run_norse}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_per_step_records_of_the_real_peers_pass(name):
    lib = name.split("-")[0]
    if peers.available(lib):
        pytest.skip(peers.available(lib))
    d = RUNS[name]()
    assert np.any(d["dspikes/0"]) and np.any(d["dmembranes/1"])
    assert d["spikes/0"].sum() > 0 and d["spikes/1"].sum() > 0, "no spikes: the test would not see the reset terms"
    rep = C.compare(d)
    names = {a.name for a in rep.arrays}
    assert {"dmembranes/0", "dspikes/1", "membranes/0", "spikes/0"} <= names
    assert rep.passed, C.format_report(rep)
    worst = max(a.max_rel for a in rep.arrays if a.name.startswith(("dmembranes", "dspikes")))
    assert worst < 1e-9
