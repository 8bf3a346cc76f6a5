"""Lines of user code to check ten peer networks against refsnn, before and after ``check``.

For each of the ten kinds of network of issue 23 this script holds the code a user writes:
the model (the same either way), *before*: the float64 conversion, the time loop, the loss,
the backward and the save into compare's .npz layout (plus a shared helper that writes the
npz and, for snnTorch, a surrogate subclass that keeps float64 spikes), and *after*: the
``refsnn.oracle.check`` call. It runs every snippet, requires each to PASS (so the counts
are of working code), and prints the table of docs/check.md. Lines are counted without
blank lines and comments. The worst relative errors are over the arrays both routes record
(loss, records, every gradient); check also records the per-step adjoints (dspikes/<l>,
dmembranes/<l>), reported in their own column.

    python scripts/count_check_lines.py
"""

import os
import sys
import tempfile
import textwrap
import warnings

warnings.filterwarnings("ignore")

PRELUDE = """
import json, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
import snntorch as snn
from snntorch import surrogate
from spikingjelly.activation_based import layer, neuron, functional as sjf, surrogate as sjs
import norse.torch as nt
from norse.torch.functional.lif import LIFParameters
from norse.torch.functional.lsnn import LSNNParameters
from refsnn.oracle import check
from refsnn.oracle.compare import compare
torch.manual_seed(1)
T, B = 12, 3
x = torch.rand(T, B, 4) * 2
y = torch.tensor([0, 2, 1])
def scaled(fc, g):
    with torch.no_grad():
        fc.weight.mul_(g); fc.bias.mul_(g)
    return fc
"""

# The shared code a user wrote once for the npz route (issue 23: a 31-line helper and a 13-line
# surrogate subclass; this is the shortest working version).
HELPER = """
def save_npz(path, preset, kwargs, x, layers, spikes, membranes, loss, target):
    arrays = {"preset": preset, "kwargs": json.dumps(kwargs), "x": x, "loss": "ce_count", "target": target,
              "loss_value": loss.item(), "spikes": spikes, "membranes": membranes, "grad/x": x.grad}
    for l, params in enumerate(layers):
        for name, p in params.items():
            arrays[f"param/{l}.{name}"] = p
            if p.grad is not None:
                arrays[f"grad/{l}.{name}"] = p.grad
    np.savez(path, **{k: v.detach().numpy() if torch.is_tensor(v) else np.asarray(v) for k, v in arrays.items()})
"""
SURROGATE = """
class ATan64(surrogate.ATan):          # snnTorch's atan; spikes keep the input's dtype
    @staticmethod
    def forward(ctx, v, alpha):
        return surrogate.ATan.forward(ctx, v, alpha).to(v.dtype)
"""

AFTER = """
rep = check(net, x, loss="ce_count", target=y)
"""

SNN_LAYERS = """
layers = [{"weight": net[i].weight, "bias": net[i].bias, "beta": net[i + 1].beta,
           "threshold": net[i + 1].threshold} for i in (0, 2)]
"""

NETS = {
    "snnTorch Leaky, nn.Sequential": ("""
net = nn.Sequential(scaled(nn.Linear(4, 6), 3), snn.Leaky(beta=0.9, init_hidden=True, learn_beta=True),
                    scaled(nn.Linear(6, 3), 3), snn.Leaky(beta=0.8, init_hidden=True))
""", """
net = net.double()
for m in (net[1], net[3]):
    m.spike_grad = lambda v: ATan64.apply(v, 2.0)
    m.reset_mem()
x64 = x.double().requires_grad_()
spk, mem = [], []
for t in range(T):
    spk.append(net(x64[t]))
    mem.append(net[3].mem)
spikes, membranes = torch.stack(spk), torch.stack(mem)
loss = F.cross_entropy(spikes.sum(0), y)
loss.backward()
""" + SNN_LAYERS + """
save_npz("run.npz", "snntorch.Leaky", {"spike_grad": "atan", "alpha": 2.0}, x64, layers, spikes, membranes, loss, y)
rep = compare("run.npz")
""", True),
    "snnTorch Leaky, module with a time loop": ("""
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = scaled(nn.Linear(4, 6), 3), scaled(nn.Linear(6, 3), 3)
        self.lif1, self.lif2 = snn.Leaky(beta=0.9), snn.Leaky(beta=0.9)
    def forward(self, x):
        mem1, mem2 = self.lif1.reset_mem(), self.lif2.reset_mem()
        spk_rec, mem_rec = [], []
        for t in range(x.shape[0]):
            spk1, mem1 = self.lif1(self.fc1(x[t]), mem1)
            spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            spk_rec.append(spk2)
            mem_rec.append(mem2)
        return torch.stack(spk_rec), torch.stack(mem_rec)
net = Net()
""", """
net = net.double()
for m in (net.lif1, net.lif2):
    m.spike_grad = lambda v: ATan64.apply(v, 2.0)
x64 = x.double().requires_grad_()
spikes, membranes = net(x64)
loss = F.cross_entropy(spikes.sum(0), y)
loss.backward()
layers = [{"weight": fc.weight, "bias": fc.bias, "beta": lif.beta, "threshold": lif.threshold}
          for fc, lif in ((net.fc1, net.lif1), (net.fc2, net.lif2))]
save_npz("run.npz", "snntorch.Leaky", {"spike_grad": "atan", "alpha": 2.0}, x64, layers, spikes, membranes, loss, y)
rep = compare("run.npz")
""", True),
    "snnTorch Synaptic": ("""
net = nn.Sequential(scaled(nn.Linear(4, 6), 3), snn.Synaptic(alpha=0.8, beta=0.9, init_hidden=True),
                    scaled(nn.Linear(6, 3), 3), snn.Synaptic(alpha=0.7, beta=0.85, init_hidden=True))
""", """
net = net.double()
for m in (net[1], net[3]):
    m.spike_grad = lambda v: ATan64.apply(v, 2.0)
    m.reset_mem()
x64 = x.double().requires_grad_()
spk, mem = [], []
for t in range(T):
    spk.append(net(x64[t]))
    mem.append(net[3].mem)
spikes, membranes = torch.stack(spk), torch.stack(mem)
loss = F.cross_entropy(spikes.sum(0), y)
loss.backward()
layers = [{"weight": net[i].weight, "bias": net[i].bias, "alpha": net[i + 1].alpha, "beta": net[i + 1].beta,
           "threshold": net[i + 1].threshold} for i in (0, 2)]
save_npz("run.npz", "snntorch.Synaptic", {"spike_grad": "atan", "alpha": 2.0}, x64, layers, spikes, membranes, loss, y)
rep = compare("run.npz")
""", True),
    "snnTorch RLeaky": ("""
net = nn.Sequential(scaled(nn.Linear(4, 6), 3), snn.RLeaky(beta=0.9, linear_features=6, init_hidden=True),
                    scaled(nn.Linear(6, 3), 3), snn.RLeaky(beta=0.9, linear_features=3, init_hidden=True))
""", """
net = net.double()
for m in (net[1], net[3]):
    m.spike_grad = lambda v: ATan64.apply(v, 2.0)
    m.reset_mem()
x64 = x.double().requires_grad_()
spk, mem = [], []
for t in range(T):
    spk.append(net(x64[t]))
    mem.append(net[3].mem)
spikes, membranes = torch.stack(spk), torch.stack(mem)
loss = F.cross_entropy(spikes.sum(0), y)
loss.backward()
layers = [{"weight": net[i].weight, "bias": net[i].bias, "beta": net[i + 1].beta, "threshold": net[i + 1].threshold,
           "recurrent.weight": net[i + 1].recurrent.weight, "recurrent.bias": net[i + 1].recurrent.bias}
          for i in (0, 2)]
save_npz("run.npz", "snntorch.RLeaky", {"spike_grad": "atan", "alpha": 2.0}, x64, layers, spikes, membranes, loss, y)
rep = compare("run.npz")
""", True),
    "SpikingJelly LIFNode": ("""
net = nn.Sequential(scaled(layer.Linear(4, 6), 6), neuron.LIFNode(tau=2.0, step_mode="m"),
                    scaled(layer.Linear(6, 3), 6), neuron.LIFNode(tau=2.0, step_mode="m"))
""", """
net = net.double()
net[3].store_v_seq = True
sjf.reset_net(net)
x64 = x.double().requires_grad_()
spikes = net(x64)
membranes = net[3].v_seq
loss = F.cross_entropy(spikes.sum(0), y)
loss.backward()
layers = [{"weight": net[i].weight, "bias": net[i].bias} for i in (0, 2)]
save_npz("run.npz", "spikingjelly.LIFNode", {"tau": 2.0}, x64, layers, spikes, membranes, loss, y)
rep = compare("run.npz")
""", False),
    "SpikingJelly ParametricLIFNode": ("""
net = nn.Sequential(scaled(nn.Linear(4, 6), 8), neuron.ParametricLIFNode(init_tau=3.0, step_mode="m"),
                    scaled(nn.Linear(6, 3), 8), neuron.ParametricLIFNode(init_tau=3.0, step_mode="m"))
""", """
net = net.double()
net[3].store_v_seq = True
sjf.reset_net(net)
x64 = x.double().requires_grad_()
spikes = net(x64)
membranes = net[3].v_seq
loss = F.cross_entropy(spikes.sum(0), y)
loss.backward()
layers = [{"weight": net[i].weight, "bias": net[i].bias, "w": net[i + 1].w} for i in (0, 2)]
save_npz("run.npz", "spikingjelly.ParametricLIFNode", {}, x64, layers, spikes, membranes, loss, y)
rep = compare("run.npz")
""", False),
    "SpikingJelly IFNode": ("""
net = nn.Sequential(scaled(nn.Linear(4, 6), 2), neuron.IFNode(v_reset=None, step_mode="m"),
                    scaled(nn.Linear(6, 3), 2), neuron.IFNode(v_reset=None, step_mode="m"))
""", """
net = net.double()
net[3].store_v_seq = True
sjf.reset_net(net)
x64 = x.double().requires_grad_()
spikes = net(x64)
membranes = net[3].v_seq
loss = F.cross_entropy(spikes.sum(0), y)
loss.backward()
layers = [{"weight": net[i].weight, "bias": net[i].bias} for i in (0, 2)]
save_npz("run.npz", "spikingjelly.IFNode", {"v_reset": None}, x64, layers, spikes, membranes, loss, y)
rep = compare("run.npz")
""", False),
    "Norse LIFCell, SequentialState": ("""
net = nt.SequentialState(scaled(nn.Linear(4, 6), 30), nt.LIFCell(), scaled(nn.Linear(6, 3), 30), nt.LIFCell())
""", """
net = net.double()
for c in (net[1], net[3]):
    c.p = LIFParameters(**{k: v.double() if torch.is_tensor(v) else v for k, v in c.p._asdict().items()})
x64 = x.double().requires_grad_()
state, spk, mem = None, [], []
for t in range(T):
    z, state = net(x64[t], state)
    spk.append(z)
    mem.append(state[3].v)
spikes, membranes = torch.stack(spk), torch.stack(mem)
loss = F.cross_entropy(spikes.sum(0), y)
loss.backward()
layers = [{"weight": net[i].weight, "bias": net[i].bias} for i in (0, 2)]
save_npz("run.npz", "norse.LIFCell", {}, x64, layers, spikes, membranes, loss, y)
rep = compare("run.npz")
""", False),
    "Norse LIFRecurrentCell": ("""
net = nt.SequentialState(nt.LIFRecurrentCell(4, 6, p=LIFParameters(v_th=torch.tensor(0.3))),
                         nt.LIFRecurrentCell(6, 3, p=LIFParameters(v_th=torch.tensor(0.3))))
""", """
net = net.double()
for c in (net[0], net[1]):
    c.p = LIFParameters(**{k: v.double() if torch.is_tensor(v) else v for k, v in c.p._asdict().items()})
x64 = x.double().requires_grad_()
state, spk, mem = None, [], []
for t in range(T):
    z, state = net(x64[t], state)
    spk.append(z)
    mem.append(state[1].v)
spikes, membranes = torch.stack(spk), torch.stack(mem)
loss = F.cross_entropy(spikes.sum(0), y)
loss.backward()
layers = [{"input_weights": c.input_weights, "recurrent_weights": c.recurrent_weights, "v_th": c.p.v_th}
          for c in (net[0], net[1])]
save_npz("run.npz", "norse.LIFRecurrentCell", {}, x64, layers, spikes, membranes, loss, y)
rep = compare("run.npz")
""", False),
    "Norse LSNNCell": ("""
net = nt.SequentialState(scaled(nn.Linear(4, 5), 30), nt.LSNNCell(p=LSNNParameters(tau_adapt_inv=torch.tensor(20.0))))
""", """
net = net.double()
c = net[1]
c.p = LSNNParameters(**{k: v.double() if torch.is_tensor(v) else v for k, v in c.p._asdict().items()})
x64 = x.double().requires_grad_()
state, spk, mem = None, [], []
for t in range(T):
    z, state = net(x64[t], state)
    spk.append(z)
    mem.append(state[1].v)
spikes, membranes = torch.stack(spk), torch.stack(mem)
loss = F.cross_entropy(spikes.sum(0), y[:3] % 5)
loss.backward()
layers = [{"weight": net[0].weight, "bias": net[0].bias,
           **{k: getattr(c.p, k) for k in ("tau_syn_inv", "tau_mem_inv", "tau_adapt_inv", "v_th", "v_reset", "beta")}}]
save_npz("run.npz", "norse.LSNNCell", {}, x64, layers, spikes, membranes, loss, y[:3] % 5)
rep = compare("run.npz")
""", False),
}


def lines(code):
    return sum(1 for ln in textwrap.dedent(code).splitlines() if ln.strip() and not ln.strip().startswith("#"))


def run(code):
    env = {}
    exec(compile(PRELUDE + HELPER + SURROGATE + code, "<snippet>", "exec"), env)
    rep = env["rep"]
    step = ("dspikes/", "dmembranes/")
    worst = max(a.max_rel for a in rep.arrays if not a.name.startswith(step))
    worst_step = max((a.max_rel for a in rep.arrays if a.name.startswith(step)), default=float("nan"))
    return rep.passed, worst, worst_step


def main():
    here = os.getcwd()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            for kind, (model, before, snn_sg) in NETS.items():
                ok_b, w_b, _ = run(model + before)
                ok_a, w_a, w_s = run(model + AFTER)
                if not (ok_b and ok_a):
                    print(f"{kind}: before PASS={ok_b} ({w_b:.1e}), after PASS={ok_a} ({w_a:.1e})", file=sys.stderr)
                    return 1
                rows.append((kind, lines(model), lines(before), lines(AFTER), w_s, w_b, w_a))
        finally:
            os.chdir(here)
    h, s = lines(HELPER), lines(SURROGATE)
    print("| network | model | before: check code | after: check code | worst rel. error before / after "
          "| after: per-step adjoints |")
    print("|---|---|---|---|---|---|")
    for kind, m, b, a, w_s, w_b, w_a in rows:
        print(f"| {kind} | {m} | {b} | {a} | {w_b:.1e} / {w_a:.1e} | {w_s:.1e} |")
    tb, ta = sum(r[2] for r in rows), sum(r[3] for r in rows)
    print(f"| **all ten** | | **{tb} + {h} (npz helper) + {s} (float64 snnTorch surrogate) = {tb + h + s}** | "
          f"**{ta}** | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
