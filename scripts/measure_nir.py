"""NIR round trips, measured: spike mismatches and the worst membrane error of refsnn's import against the
network each graph came from (snnTorch Leaky / RLeaky / Conv2d, Norse LIFCell) and refsnn → NIR → refsnn.

    python scripts/measure_nir.py

Every peer network runs in float64 with float64 spikes (refsnn.oracle.peers.float64_spike_grad)."""

import warnings

import numpy as np
import torch

warnings.simplefilter("ignore")

from refsnn.neurons.lif import LIFConfig  # noqa: E402
from refsnn.neurons.network import Network, network_forward, network_init  # noqa: E402
from refsnn.oracle import peers  # noqa: E402
from refsnn.oracle.nir import from_nir, to_nir  # noqa: E402
from refsnn.surrogates import surrogate  # noqa: E402

F64 = torch.float64


def row(name, ours, spk, mem, hidden=None):
    mism = int(np.sum(ours[-1].s != spk))
    err = float(np.max(np.abs(ours[-1].membrane - mem)))
    extra = ""
    if hidden is not None:
        extra = f", hidden layer membrane {np.max(np.abs(ours[0].membrane.reshape(hidden.shape) - hidden)):.1e}"
    print(f"{name:<42} spikes {int(spk.sum()):>4}, mismatches {mism}, worst membrane error {err:.1e}{extra}")


def snn_case(kind):
    import contextlib
    import io

    import snntorch as snn
    from snntorch import utils as su
    from snntorch.export_nir import export_to_nir
    torch.manual_seed(0)
    lk = dict(init_hidden=True, reset_mechanism="zero", reset_delay=False)
    out_layer = snn.Leaky(beta=torch.full((3,), 0.8, dtype=F64), threshold=torch.ones(3, dtype=F64), output=True, **lk)
    if kind == "Leaky":
        net = torch.nn.Sequential(torch.nn.Linear(4, 6), snn.Leaky(beta=torch.full((6,), 0.9, dtype=F64),
                                                                   threshold=torch.ones(6, dtype=F64), **lk),
                                  torch.nn.Linear(6, 3), out_layer)
        sample, x = torch.rand(4), 2 * torch.rand(30, 2, 4, dtype=F64)
    elif kind == "RLeaky":
        net = torch.nn.Sequential(torch.nn.Linear(4, 5), snn.RLeaky(beta=torch.full((5,), 0.9, dtype=F64),
                                                                    threshold=torch.ones(5, dtype=F64),
                                                                    linear_features=5, **lk),
                                  torch.nn.Linear(5, 3), out_layer)
        sample, x = torch.rand(4), 2 * torch.rand(30, 2, 4, dtype=F64)
    else:
        net = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, padding=1),
                                  snn.Leaky(beta=torch.full((4, 6, 6), 0.9, dtype=F64),
                                            threshold=torch.ones((4, 6, 6), dtype=F64), **lk),
                                  torch.nn.AvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(36, 3), out_layer)
        sample, x = torch.rand(1, 2, 6, 6), 2 * torch.rand(25, 2, 2, 6, 6, dtype=F64)
    with torch.no_grad():
        for m in net:
            if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
                m.weight.mul_(12.0 if kind == "Conv2d" and isinstance(m, torch.nn.Linear) else 3.0)
    with contextlib.redirect_stdout(io.StringIO()):
        g = export_to_nir(net, sample, ignore_dims=[0] if kind == "Conv2d" else [])
    net = net.double()
    for m in net.modules():
        if isinstance(m, (snn.Leaky, snn.RLeaky)):
            m.spike_grad = peers.float64_spike_grad("atan", 2.0)
    su.reset(net)
    spk, mem, hid = [], [], []
    for t in range(len(x)):
        o, m = net(x[t])
        spk.append(o.detach().numpy())
        mem.append(m.detach().numpy())
        hid.append(net[1].mem.detach().numpy().copy())
    ours = from_nir(g, convention="snntorch").forward(x.numpy())
    row(f"snnTorch {kind} → NIR → refsnn", ours, np.stack(spk), np.stack(mem), np.stack(hid))


def norse_case():
    import norse.torch as nt
    from norse.torch.functional.lif import LIFParameters
    torch.manual_seed(1)
    t = lambda v: torch.tensor(v, dtype=F64)  # noqa: E731
    p = LIFParameters(tau_syn_inv=t(200.0), tau_mem_inv=t(100.0), v_th=t(1.0), v_leak=t(0.0), v_reset=t(0.0))
    model = nt.SequentialState(torch.nn.Linear(4, 6), nt.LIFCell(p), torch.nn.Linear(6, 3), nt.LIFCell(p)).double()
    with torch.no_grad():
        model[0].weight.mul_(3)
        model[2].weight.mul_(4)
        model[2].bias.add_(1.0)
    x = 20 * torch.rand(60, 2, 4, dtype=F64)
    g = nt.to_nir(model, x[0])
    state, spk, mem, hid = None, [], [], []
    for k in range(len(x)):
        out, state = model(x[k], state)
        spk.append(out.detach().numpy())
        mem.append(state[3].v.detach().numpy())
        hid.append(state[1].v.detach().numpy())
    row("Norse LIFCell → NIR → refsnn (norse)", from_nir(g, convention="norse").forward(x.numpy()),
        np.stack(spk), np.stack(mem), np.stack(hid))
    ours = from_nir(g, dt=1e-3, method="exp").forward(x.numpy())
    row("  same graph read as NIR defines it (exp)", ours, np.stack(spk), np.stack(mem))


def refsnn_case(kind, method):
    sg = surrogate("superspike", 1.0, gain=2.0)
    kw = dict(surrogate=sg, h0=0.0, reset="hard_keep_input", init_spike="zero", membrane_view="post_reset")
    net = Network((LIFConfig(4, 6, recurrent=kind == "recurrent", synapse=kind == "synapse", **kw),
                   LIFConfig(6, 5, **kw), LIFConfig(5, 3, reset="none", spiking=False)))
    rng = np.random.default_rng(3)
    params = network_init(net, rng)
    for p in params:
        p["W"] = rng.normal(0.5, 1.0, p["W"].shape)
        p["alpha"] = rng.uniform(0.7, 0.95, p["alpha"].shape)
        if "v_reset" in p:
            p["v_reset"] = p["alpha"] * rng.uniform(-0.3, 0.2, p["alpha"].shape)
    x = np.random.default_rng(0).uniform(0, 1.5, (40, 3, 4))
    ref = network_forward(net, params, x)
    ours = from_nir(to_nir(net, params, dt=1e-3, method=method), dt=1e-3, method=method).forward(x)
    mism = sum(int(np.sum(a.s != b.s)) for a, b in zip(ref, ours))
    err = max(float(np.max(np.abs(a.membrane - b.membrane))) for a, b in zip(ref, ours))
    print(f"{'refsnn ' + kind + ' → NIR → refsnn (' + method + ')':<42} spikes {int(sum(a.s.sum() for a in ref[:2])):>4}, "
          f"mismatches {mism}, worst membrane error {err:.1e}")


if __name__ == "__main__":
    for k in ("Leaky", "RLeaky", "Conv2d"):
        snn_case(k)
    norse_case()
    for kind in ("plain", "recurrent", "synapse"):
        for method in ("euler", "exp"):
            refsnn_case(kind, method)
