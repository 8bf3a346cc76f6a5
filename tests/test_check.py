"""refsnn.oracle.check: one call from a live peer network to a verdict (issue 23).

Every supported neuron class: check reproduces the real library to 1e-12 (every gradient,
the input gradient, the spikes exactly, the membranes) and leaves the network exactly as
it was. A planted bug in a hand-written neuron is found with its cause named; networks
check cannot read are refused with the module named.
"""

import json
import math

import numpy as np
import pytest

from refsnn.oracle.peers import available

for _m in ("torch", "snntorch", "spikingjelly", "norse"):
    if available(_m):
        pytest.skip(available(_m), allow_module_level=True)

import torch  # noqa: E402
import snntorch as snn  # noqa: E402
from snntorch import surrogate  # noqa: E402
from spikingjelly.activation_based import layer as sjl, neuron as sjn, surrogate as sjs  # noqa: E402
import norse.torch as nt  # noqa: E402
from norse.torch.functional.lif import LIFParameters  # noqa: E402
from norse.torch.functional.lsnn import LSNNParameters  # noqa: E402

from refsnn.oracle import Custom, check  # noqa: E402
from refsnn.oracle.check import CheckError, record  # noqa: E402
from refsnn.oracle.compare import format_report  # noqa: E402

T, B = 12, 3


def _lin(n_in, n_out, gain=3.0, cls=torch.nn.Linear):
    fc = cls(n_in, n_out)
    with torch.no_grad():
        fc.weight.mul_(gain)
        fc.bias.mul_(gain)
    return fc


class SnnLoop(torch.nn.Module):
    """The snnTorch tutorials' form: Linear layers over the whole sequence, a loop over the neurons."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = _lin(4, 6), _lin(6, 3)
        self.lif1 = snn.Leaky(beta=0.9, spike_grad=surrogate.fast_sigmoid(slope=10.0))
        self.lif2 = snn.Leaky(beta=0.9, spike_grad=surrogate.fast_sigmoid(slope=10.0))

    def forward(self, x):
        mem1, mem2 = self.lif1.reset_mem(), self.lif2.reset_mem()
        cur1 = self.fc1(x)
        spk1_rec = []
        for t in range(x.shape[0]):
            spk1, mem1 = self.lif1(cur1[t], mem1)
            spk1_rec.append(spk1)
        cur2 = self.fc2(torch.stack(spk1_rec))
        out = []
        for t in range(x.shape[0]):
            spk2, mem2 = self.lif2(cur2[t], mem2)
            out.append(spk2)
        return torch.stack(out)


class SynLoop(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = _lin(4, 6), _lin(6, 3)
        self.syn1 = snn.Synaptic(alpha=0.8, beta=0.9, learn_alpha=True)
        self.syn2 = snn.Synaptic(alpha=0.7, beta=0.85, learn_beta=True)

    def forward(self, x):
        syn1, mem1 = self.syn1.reset_mem()
        syn2, mem2 = self.syn2.reset_mem()
        for t in range(x.shape[0]):
            s1, syn1, mem1 = self.syn1(self.fc1(x[t]), syn1, mem1)
            s2, syn2, mem2 = self.syn2(self.fc2(s1), syn2, mem2)
        return s2


def make(kind):
    torch.manual_seed(1)
    if kind == "snntorch.Leaky (Sequential)":
        return torch.nn.Sequential(_lin(4, 6), snn.Leaky(beta=0.9, init_hidden=True, learn_beta=True),
                                   _lin(6, 3), snn.Leaky(beta=0.8, init_hidden=True, learn_threshold=True))
    if kind == "snntorch.Leaky (time loop)":
        return SnnLoop()
    if kind == "snntorch.Leaky (sigmoid surrogate)":
        return torch.nn.Sequential(_lin(4, 6), snn.Leaky(beta=0.9, init_hidden=True, spike_grad=surrogate.sigmoid(slope=5.0)),
                                   _lin(6, 3), snn.Leaky(beta=0.8, init_hidden=True, spike_grad=surrogate.sigmoid(slope=5.0)))
    if kind == "snntorch.Synaptic":
        return SynLoop()
    if kind == "snntorch.RLeaky":
        return torch.nn.Sequential(_lin(4, 6), snn.RLeaky(beta=0.9, linear_features=6, init_hidden=True),
                                   _lin(6, 3), snn.RLeaky(beta=0.9, linear_features=3, init_hidden=True))
    if kind == "spikingjelly.LIFNode":
        return torch.nn.Sequential(_lin(4, 6, 6.0, sjl.Linear), sjn.LIFNode(tau=2.0, step_mode="m"),
                                   _lin(6, 3, 6.0, sjl.Linear), sjn.LIFNode(tau=2.0, step_mode="m"))
    if kind == "spikingjelly.ParametricLIFNode":
        return torch.nn.Sequential(_lin(4, 6, 8.0), sjn.ParametricLIFNode(init_tau=3.0, step_mode="m", detach_reset=True,
                                                                       surrogate_function=sjs.ATan(alpha=2.0)),
                                   _lin(6, 3, 8.0), sjn.ParametricLIFNode(init_tau=3.0, step_mode="m", detach_reset=True,
                                                                       surrogate_function=sjs.ATan(alpha=2.0)))
    if kind == "spikingjelly.IFNode":
        return torch.nn.Sequential(_lin(4, 6, 2.0), sjn.IFNode(v_reset=None, step_mode="m"),
                                   _lin(6, 3, 2.0), sjn.IFNode(v_reset=None, step_mode="m"))
    if kind == "norse.LIFCell":
        return nt.SequentialState(_lin(4, 6, 30.0), nt.LIFCell(), _lin(6, 3, 30.0), nt.LIFCell())
    if kind == "norse.LIFBoxCell":
        return nt.SequentialState(_lin(4, 6, 30.0), nt.LIFBoxCell(), _lin(6, 3, 30.0), nt.LIFBoxCell())
    if kind == "norse.LIFRecurrentCell":
        return nt.SequentialState(nt.LIFRecurrentCell(4, 6, p=LIFParameters(v_th=torch.tensor(0.3))),
                                  nt.LIFRecurrentCell(6, 3, p=LIFParameters(v_th=torch.tensor(0.3))))
    if kind == "norse.LSNNCell":
        return nt.SequentialState(_lin(4, 5, 30.0), nt.LSNNCell(p=LSNNParameters(tau_adapt_inv=torch.tensor(20.0))))
    raise KeyError(kind)


KINDS = ["snntorch.Leaky (Sequential)", "snntorch.Leaky (time loop)", "snntorch.Leaky (sigmoid surrogate)",
         "snntorch.Synaptic", "snntorch.RLeaky",
         "spikingjelly.LIFNode", "spikingjelly.ParametricLIFNode", "spikingjelly.IFNode", "norse.LIFCell",
         "norse.LIFBoxCell", "norse.LIFRecurrentCell", "norse.LSNNCell"]


def _x(n=4, scale=2.0):
    g = torch.Generator().manual_seed(2)
    return torch.rand(T, B, n, generator=g) * scale


def _user_run(net, kind, x):
    """What a user did before calling check: a float32 run and a backward (states, .grad set)."""
    if kind.startswith("norse"):
        state = None
        for t in range(x.shape[0]):
            out, state = net(x[t], state)
        out.sum().backward()
    elif kind.startswith("spikingjelly"):
        net(x).sum().backward()
    elif "Sequential" in kind or kind == "snntorch.RLeaky":
        for t in range(x.shape[0]):
            out = net(x[t])
        out.sum().backward()
    else:
        net(x).sum().backward()


def _snapshot(net):
    snap = {}
    for name, m in net.named_modules():
        for k, v in list(m._parameters.items()) + list(m._buffers.items()):
            if v is not None:
                snap[f"{name}.{k}"] = (v, v.detach().clone(), v.dtype, v.requires_grad,
                                       None if not v.is_leaf or v.grad is None else v.grad.clone())
        for attr in ("spike_grad", "surrogate_function", "p", "mem", "syn", "spk", "v"):
            if attr in vars(m) or attr in getattr(m, "_memories", {}):
                val = getattr(m, attr)
                snap[f"{name}:{attr}"] = (val, val.detach().clone() if torch.is_tensor(val) else None)
        snap[f"{name}:hooks"] = (dict(m._forward_hooks), dict(m._forward_pre_hooks), m.training)
        if "step_mode" in vars(m):
            snap[f"{name}:step_mode"] = m.step_mode
    return snap


def _same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        va, vb = a[k], b[k]
        if isinstance(va, tuple) and len(va) == 5:
            assert va[0] is vb[0], k
            assert torch.equal(va[1], vb[1]) and va[2] == vb[2] and va[3] == vb[3], k
            assert (va[4] is None) == (vb[4] is None) and (va[4] is None or torch.equal(va[4], vb[4])), k
        elif isinstance(va, tuple) and len(va) == 2:
            assert va[0] is vb[0], k                         # the same object (surrogate, LIFParameters, state)
            if va[1] is not None:
                assert torch.equal(va[1], vb[1]), k
        else:
            assert va == vb, k


def _worst(rep):
    """The worst relative error over the arrays compare checks (loss, records, every gradient), and
    over the per-step adjoints (dspikes/<l>, dmembranes/<l>) a 100× looser bar: they are
    compared entry by entry at every step, where the gradients are sums over steps and
    entries; measured worst 3.8e-12 (SpikingJelly, python scripts/count_check_lines.py)."""
    step = [a.max_rel for a in rep.arrays if a.name.startswith(("dspikes/", "dmembranes/"))]
    assert max(step, default=0.0) <= 1e-10, format_report(rep)
    return max(a.max_rel for a in rep.arrays if not a.name.startswith(("dspikes/", "dmembranes/")))


@pytest.mark.parametrize("kind", KINDS)
def test_check_reproduces_the_peer_and_leaves_the_network_unchanged(kind):
    net = make(kind)
    x = _x()
    _user_run(net, kind, x)
    calls = []
    handles = [m.register_forward_hook(lambda *a: calls.append(1)) for m in net.modules()]
    before = _snapshot(net)
    rep = check(net, x)
    after = _snapshot(net)
    assert rep.passed, format_report(rep)
    assert _worst(rep) <= 1e-12, format_report(rep)
    names = {a.name for a in rep.arrays}
    assert {"spikes", "membranes", "grad/x", "loss_value"} <= names
    assert sum(n.startswith("grad/0.") for n in names) >= 2
    assert rep.preset == kind.split(" ")[0]
    d, _ = record(net, x, records=True)
    rates = [d[f"spikes/{l}"].mean() for l in range(2 if kind != "norse.LSNNCell" else 1)]
    assert all(0.05 < r < 0.95 for r in rates), rates      # every layer spikes, and not always
    _same(before, after)
    assert calls == []                                       # the user's hooks did not run on check's copy
    assert any("hooks" in n for n in rep.notes)
    assert f"read: {1 if kind == 'norse.LSNNCell' else 2} layer(s) of {rep.preset}" in rep.notes[0]
    for h in handles:                                        # SpikingJelly's default surrogate is one shared module
        h.remove()


def test_other_network_forms():
    """SpikingJelly in single-step mode (check steps the Sequential), a Flatten in front, and a
    tutorial loop that feeds the same (B, n) input at every step (read as its (T, B, n) sequence)."""
    torch.manual_seed(4)
    single = torch.nn.Sequential(_lin(4, 6, 6.0), sjn.LIFNode(step_mode="s"), _lin(6, 3, 6.0), sjn.LIFNode(step_mode="s"))
    flat = torch.nn.Sequential(torch.nn.Flatten(2), _lin(4, 6, 2.0), sjn.IFNode(step_mode="m"))

    class Static(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.lif = _lin(4, 6), snn.Leaky(beta=0.8)

        def forward(self, x):                            # x: (B, n), the same at each of 10 steps
            mem = self.lif.reset_mem()
            for _ in range(10):
                spk, mem = self.lif(self.fc(x), mem)
            return spk

    class NorseLoop(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.cell = _lin(4, 6, 30.0), nt.LIFCell()

        def forward(self, x):
            state, out = None, []
            for t in range(x.shape[0]):
                z, state = self.cell(self.fc(x[t]), state)
                out.append(z)
            return torch.stack(out)

    for net, x, shape in ((single, _x(), (T, B, 4)), (flat, _x().reshape(T, B, 2, 2), (T, B, 4)),
                          (Static(), _x()[0], (10, B, 4)), (NorseLoop(), _x(), (T, B, 4))):
        rep = check(net, x)
        assert rep.passed and _worst(rep) <= 1e-12 and tuple(rep.shape) == shape, format_report(rep)


# ---------------------------------------------------------------------------------------
# Hand-written neurons: Custom
# ---------------------------------------------------------------------------------------

class ATanSpike(torch.autograd.Function):
    """A user's own spike: Heaviside forward, snnTorch's atan surrogate backward (α/2)/(1 + (π α v/2)²)."""

    gain = 1.0

    @staticmethod
    def forward(ctx, v, alpha):
        ctx.save_for_backward(v)
        ctx.alpha = alpha
        return (v > 0).to(v.dtype)

    @staticmethod
    def backward(ctx, g):
        (v,) = ctx.saved_tensors
        a = ctx.alpha
        return ATanSpike.gain * g * (a / 2) / (1 + (math.pi / 2 * a * v) ** 2), None


def leaky_step(detach_reset=True):
    """One time step of a two-layer snnTorch-style Leaky network written by hand, as snnTorch
    computes it: U_t = β U_{t−1} + W x_t + b − R_t θ with the reset R_t = H(U_{t−1} − θ)
    recomputed from the membrane (and detached), S_t = H(U_t − θ); U_{−1} = 0, R_0 = 0."""

    def step(params, x_t, state):
        mems = state if state is not None else [None for _ in params]
        inp, records, new = x_t, [], []
        for p, u in zip(params, mems):
            if u is None:
                u, r = 0.0, 0.0
            else:
                r = ATanSpike.apply(u - p["threshold"], 2.0)
                r = r.detach() if detach_reset else r
            u = p["beta"] * u + inp @ p["weight"].T + p["bias"] - r * p["threshold"]
            s = ATanSpike.apply(u - p["threshold"], 2.0)
            records.append((s, u))
            new.append(u)
            inp = s
        return records, new

    return step


def _custom_params():
    torch.manual_seed(3)
    W1, W2 = torch.randn(6, 4) * 1.5, torch.randn(3, 6) * 1.5
    return [{"weight": W1, "bias": torch.full((6,), 0.2), "beta": torch.tensor(0.9), "threshold": torch.tensor(1.0)},
            {"weight": W2, "bias": torch.full((3,), 0.2), "beta": torch.tensor(0.8), "threshold": torch.tensor(1.0)}]


def test_custom_step_function_is_recorded_like_a_peer():
    params = _custom_params()
    kept = [{k: v.clone() for k, v in p.items()} for p in params]
    rep = check(leaky_step(), _x(), peer=Custom("snntorch.Leaky", params, spike_grad="atan", alpha=2.0))
    assert rep.passed and _worst(rep) <= 1e-12, format_report(rep)
    for p, q in zip(params, kept):                     # the user's tensors are untouched
        for k in p:
            assert torch.equal(p[k], q[k]) and p[k].grad is None and p[k].dtype == torch.float32


@pytest.mark.parametrize("bug, cause", [
    ("reset attached", "detach vs attach"),
    ("surrogate twice too tall", "surrogate gain × 2"),
])
def test_a_planted_bug_in_a_custom_step_is_found_with_its_cause(bug, cause, monkeypatch):
    step = leaky_step(detach_reset=(bug != "reset attached"))
    if bug == "surrogate twice too tall":
        monkeypatch.setattr(ATanSpike, "gain", 2.0)
    rep = check(step, _x(), peer=Custom("snntorch.Leaky", _custom_params(), spike_grad="atan", alpha=2.0))
    text = format_report(rep)
    assert not rep.passed, text
    assert all(a.passed for a in rep.arrays if a.name in ("spikes", "membranes", "loss_value")), text
    agree = [label for label, ok, _ in rep.variants if ok]
    assert len(agree) == 1 and agree[0].startswith(cause), text
    assert cause in rep.explanation
    if bug == "surrogate twice too tall":                    # the diagnosis names the adjoint term
        assert "B2" in text


# ---------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------

def test_named_losses_and_a_callable_loss():
    net = make("norse.LIFCell")
    x = _x()
    y = torch.tensor([0, 2, 1])
    for loss, target in (("ce_count", y), ("ce_max_membrane", y), ("mse_count", torch.ones(B, 3))):
        rep = check(net, x, loss=loss, target=target)
        assert rep.passed and _worst(rep) <= 1e-12 and rep.loss == loss, format_report(rep)

    def my_loss(spikes, membranes):                   # any differentiable function of the last layer's records
        return (spikes.sum(0) - 2.0).pow(2).mean() + torch.nn.functional.softplus(membranes).mean()

    rep = check(net, x, loss=my_loss)
    assert rep.passed and _worst(rep) <= 1e-12, format_report(rep)
    # the callable is checked through its partials: the recorded gradients are the loss's own
    cp = make("norse.LIFCell").double()
    for c in (cp[1], cp[3]):
        c.p = LIFParameters(**{k: v.double() if torch.is_tensor(v) else v for k, v in c.p._asdict().items()})
    state, S, V = None, [], []
    for t in range(T):
        z, state = cp(x.double()[t], state)
        S.append(z)
        V.append(state[3].v)
    my_loss(torch.stack(S), torch.stack(V)).backward()
    d, _ = record(net, x, loss=my_loss)
    for name, w in (("0.weight", cp[0].weight), ("1.bias", cp[2].bias)):
        np.testing.assert_allclose(d[f"grad/{name}"], w.grad.numpy(), rtol=1e-12, atol=1e-14)
    assert np.abs(d["grad/0.weight"]).max() > 1e-3


def test_a_loss_that_needs_a_target_says_so():
    with pytest.raises(CheckError, match="needs target"):
        check(make("norse.LIFCell"), _x(), loss="ce_count")
    with pytest.raises(CheckError, match="loss must be one of"):
        check(make("norse.LIFCell"), _x(), loss="hinge")


# ---------------------------------------------------------------------------------------
# Networks check cannot read are refused, naming the module
# ---------------------------------------------------------------------------------------

class Doubled(torch.nn.Module):
    """Feeds 2·spikes to the second layer: not a Linear → neuron stack of the preset."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = _lin(4, 6), _lin(6, 3)
        self.lif1, self.lif2 = snn.Leaky(beta=0.9), snn.Leaky(beta=0.9)

    def forward(self, x):
        m1, m2 = self.lif1.reset_mem(), self.lif2.reset_mem()
        for t in range(x.shape[0]):
            s1, m1 = self.lif1(self.fc1(x[t]), m1)
            s2, m2 = self.lif2(self.fc2(2 * s1), m2)
        return s2


class MyLeaky(snn.Leaky):
    pass


@pytest.mark.parametrize("build, match", [
    (lambda: torch.nn.Sequential(_lin(4, 6), snn.Alpha(alpha=0.9, beta=0.8, init_hidden=True)),
     r"module '1' \(snntorch.*Alpha\) is a snntorch module check cannot read\. Supported: snnTorch Leaky"),
    (lambda: torch.nn.Sequential(_lin(4, 6), MyLeaky(beta=0.9, init_hidden=True)),
     r"module '1' .*MyLeaky.* is a subclass of snntorch.*Leaky.*Custom"),
    (lambda: torch.nn.Sequential(_lin(4, 6), snn.Leaky(beta=0.9, init_hidden=True, spike_grad=lambda v: (v > 0).float())),
     r"1 \(Leaky\): spike_grad .* is not snnTorch's surrogate.atan"),
    (lambda: torch.nn.Sequential(_lin(4, 6), torch.nn.Dropout(0.1), snn.Leaky(beta=0.9, init_hidden=True)),
     r"module '1' \(torch.nn.modules.dropout.Dropout\) is not a layer check can read"),
    (lambda: torch.nn.Sequential(_lin(4, 6), snn.Leaky(beta=0.9)),
     r"nn.Sequential needs init_hidden=True"),
    (lambda: torch.nn.Sequential(_lin(4, 6), snn.Leaky(beta=0.9, init_hidden=True), _lin(6, 3),
                                 snn.Synaptic(alpha=0.8, beta=0.9, init_hidden=True)),
     r"the layers differ in neuron class \(1: snntorch.Leaky; 3: snntorch.Synaptic\)"),
    (lambda: torch.nn.Sequential(_lin(4, 6), snn.Leaky(beta=0.9, init_hidden=True), _lin(6, 3)),
     r"Linear '2' after the last neuron is not mapped"),
    (lambda: Doubled(), r"'fc2' \(layer 1\) does not receive the spikes of layer 0 unchanged"),
    (lambda: torch.nn.Sequential(_lin(4, 6), nt.LIFCell()), r"Norse cells need norse.torch.SequentialState"),
    (lambda: torch.nn.Sequential(torch.nn.ReLU()), r"module '0' \(torch.nn.modules.activation.ReLU\)"),
    (lambda: torch.nn.Sequential(_lin(4, 6), snn.Leaky(beta=0.9, init_hidden=True, output=True), _lin(6, 3),
                                 snn.Leaky(beta=0.9, init_hidden=True)),
     r"running a float64 copy of Sequential on x of shape \(12, 3, 4\) failed \(TypeError"),
])
def test_unreadable_networks_are_refused_naming_the_module(build, match):
    net = build()
    before = _snapshot(net)
    with pytest.raises(CheckError, match=match):
        check(net, _x())
    _same(before, _snapshot(net))


def test_peer_argument():
    with pytest.raises(CheckError, match="peer='norse.LIFCell' but the network's neurons are snntorch.Leaky"):
        check(make("snntorch.Leaky (Sequential)"), _x(), peer="norse.LIFCell")
    with pytest.raises(CheckError, match="net must be a torch.nn.Module"):
        check(lambda p, x, s: None, _x())
    with pytest.raises(CheckError, match="unknown preset 'snntorch.Lapicque'"):
        check(leaky_step(), _x(), peer=Custom("snntorch.Lapicque", _custom_params()))
    with pytest.raises(CheckError, match=r"records\[0\] at step 0 must be a \(spikes_t, membranes_t\) pair"):
        check(lambda p, x, s: ([x, x], None), _x(), peer=Custom("snntorch.Leaky", _custom_params()))


# ---------------------------------------------------------------------------------------
# The command: a state dict plus the stated architecture, never unpickling
# ---------------------------------------------------------------------------------------

def _cli(argv, capsys):
    from refsnn.cli import main

    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("kind, preset, kwargs", [
    ("snntorch.Leaky (Sequential)", "snntorch.Leaky", '{"spike_grad": "atan", "alpha": 2.0}'),
    ("snntorch.RLeaky", "snntorch.RLeaky", '{}'),
    ("spikingjelly.LIFNode", "spikingjelly.LIFNode", '{"tau": 2.0}'),
    ("spikingjelly.ParametricLIFNode", "spikingjelly.ParametricLIFNode",
     '{"surrogate_function": "ATan", "alpha": 2.0, "detach_reset": true}'),
    ("norse.LIFCell", "norse.LIFCell", '{}'),
])
def test_command_checks_a_saved_state_dict(kind, preset, kwargs, tmp_path, capsys):
    path = str(tmp_path / "net.pt")
    torch.save(make(kind).state_dict(), path)
    code, out, err = _cli(["check", path, "--preset", preset, "--kwargs", kwargs, "--T", "12", "--B", "3"], capsys)
    assert code == 0, out + err
    assert out.startswith(f"refsnn check {path}: preset {preset}") and "PASS: all" in out
    np.savez(tmp_path / "x.npz", x=np.asarray(_x(), np.float64))
    code, out, err = _cli(["check", path, "--preset", preset, "--kwargs", kwargs, "--x", str(tmp_path / "x.npz"),
                           "--json"], capsys)
    rep = json.loads(out)
    assert code == 0 and rep["passed"] and rep["shape_TBM"] == [T, B, 4] and rep["preset"] == preset


def test_command_refuses_what_it_cannot_read_safely(tmp_path, capsys):
    import pickle

    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"x": {1, 2}}))             # a pickle of objects, not tensors
    code, out, err = _cli(["check", str(evil), "--preset", "snntorch.Leaky"], capsys)
    assert code == 2 and "never unpickles" in err and "Traceback" not in err
    named = tmp_path / "named.pt"
    torch.save(SnnLoop().state_dict(), named)
    code, out, err = _cli(["check", str(named), "--preset", "snntorch.Leaky"], capsys)
    assert code == 2 and "keys must be an nn.Sequential's" in err
    seq = tmp_path / "seq.pt"
    torch.save(make("snntorch.Leaky (Sequential)").state_dict(), seq)
    for args, msg in ((["--kwargs", '{"reset_mechanism": "zero"}'],
                       "'1.reset_mechanism_val' is 0 (reset_mechanism='subtract') but the stated --kwargs build 1 "
                       "(reset_mechanism='zero')"),
                      (["--kwargs", '{"tau": 2}'], "--kwargs ['tau'] are not arguments of Leaky"),
                      (["--kwargs", "[1]"], "--kwargs must be a JSON object"),
                      (["--kwargs", '{"alpha": "x"}'], "--kwargs: alpha must be a number, got 'x'"),
                      (["--kwargs", '{"spike_grad": "triangle"}'], "spike_grad must be 'atan', 'fast_sigmoid' or 'sigmoid'"),
                      (["--kwargs", '{"reset_mechanism": "bogus"}'], "snntorch.Leaky cannot be built with them"),
                      (["--preset", "snntorch.Alpha"], "--preset 'snntorch.Alpha': the command builds"),
                      (["--T", "0"], "--T must be a positive integer")):
        argv = ["check", str(seq), "--preset", "snntorch.Leaky"] + args
        code, out, err = _cli(argv, capsys)
        assert code == 2 and msg in err and "Traceback" not in err, err
    code, out, err = _cli(["check", str(tmp_path / "none.pt"), "--preset", "snntorch.Leaky"], capsys)
    assert code == 2 and "no such file" in err
    for name, content in (("empty.pt", b""), ("text.pt", b"hello\n")):
        (tmp_path / name).write_bytes(content)
        code, out, err = _cli(["check", str(tmp_path / name), "--preset", "snntorch.Leaky"], capsys)
        assert code == 2 and "never unpickles" in err and "Traceback" not in err, err


def test_refsnn_imports_without_torch_and_check_says_what_it_needs():
    import subprocess
    import sys

    code = ("import sys\n"
            "for m in ('torch', 'snntorch', 'spikingjelly', 'norse'): sys.modules[m] = None\n"
            "import refsnn, refsnn.oracle\n"
            "from refsnn.oracle import check, Custom, CheckError\n"
            "try:\n"
            "    check(object(), [[[0.0]]])\n"
            "except CheckError as e:\n"
            "    print('refused:', e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "refused: refsnn.oracle.check needs torch" in r.stdout


def test_readme_check_snippet_runs_and_passes(capsys):
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = text.split("<!-- check-snippet -->", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    env = {}
    exec(compile(code, "README.md check snippet", "exec"), env)
    assert env["report"].passed and "PASS: all" in capsys.readouterr().out


def test_command_checks_a_nir_graph_through_snntorchs_import(tmp_path, capsys):
    import nir
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(5)
    net = torch.nn.Sequential(_lin(4, 6), snn.Leaky(beta=torch.full((6,), 0.9), threshold=torch.ones(6), init_hidden=True),
                              _lin(6, 3), snn.Leaky(beta=torch.full((3,), 0.8), threshold=torch.ones(3), init_hidden=True,
                                                    output=True))
    path = str(tmp_path / "net.nir")
    nir.write(path, export_to_nir(net, torch.rand(4)))
    code, out, err = _cli(["check", path, "--T", "12", "--B", "3"], capsys)
    assert code == 0 and "preset snntorch.Leaky" in out and "PASS: all" in out, out + err
    code, out, err = _cli(["check", path, "--kwargs", '{"alpha": 2}'], capsys)
    assert code == 2 and "a NIR graph states its own parameters" in err


def test_the_float64_surrogate_swap_is_needed_and_restores_what_it_replaced(monkeypatch):
    import contextlib
    import importlib

    chk = importlib.import_module("refsnn.oracle.check")     # the module (refsnn.oracle.check is the function)

    net = make("snntorch.Leaky (Sequential)")
    mods = [(str(i), m) for i, m in enumerate(net) if isinstance(m, snn.Leaky)]
    before = [m.spike_grad for _, m in mods]
    with chk.float64_surrogates(mods):
        swapped = [m.spike_grad for _, m in mods]
        v = torch.tensor([0.3, -0.2], dtype=torch.float64)
        assert all(f is not g for f, g in zip(swapped, before)) and swapped[0](v).dtype == torch.float64
        assert before[0](v).dtype == torch.float32                     # snnTorch's stock forward
    assert [m.spike_grad for _, m in mods] == before                    # the same objects again
    # without the swap the stock float32 spikes (cast back to float64 so that the next Linear takes
    # them) round ∂L/∂s to float32: that costs digits, and compare names the cause

    @contextlib.contextmanager
    def float32_spikes(mods):
        saved = [(m, m.spike_grad) for _, m in mods]
        for m, f in saved:
            m.spike_grad = lambda v, f=f: f(v).double()
        yield
        for m, f in saved:
            m.spike_grad = f

    monkeypatch.setattr(chk, "float64_surrogates", float32_spikes)
    assert not check(net, _x(), search=False).passed
    rep = check(net, _x(), records=False)        # compare's "float32 spikes" variant models the gradients only
    assert not rep.passed and any(ok and label.startswith("float32 spikes") for label, ok, _ in rep.variants), \
        format_report(rep)
    assert max(a.max_rel for a in rep.arrays) > 1e-7


VARIANTS = {
    "RLeaky all_to_all=False": (lambda: torch.nn.Sequential(
        _lin(4, 6), snn.RLeaky(beta=0.9, all_to_all=False, V=0.5, learn_recurrent=True, init_hidden=True),
        _lin(6, 3), snn.RLeaky(beta=0.9, all_to_all=False, V=0.5, init_hidden=True)), '"all_to_all": false'),
    "RLeaky zero": (lambda: torch.nn.Sequential(
        _lin(4, 6), snn.RLeaky(beta=0.9, linear_features=6, reset_mechanism="zero", init_hidden=True),
        _lin(6, 3), snn.RLeaky(beta=0.9, linear_features=3, reset_mechanism="zero", init_hidden=True)), '"zero"'),
    "Synaptic zero": (lambda: torch.nn.Sequential(
        _lin(4, 6), snn.Synaptic(alpha=0.8, beta=0.9, reset_mechanism="zero", init_hidden=True),
        _lin(6, 3), snn.Synaptic(alpha=0.8, beta=0.9, reset_mechanism="zero", init_hidden=True)), '"zero"'),
    "Leaky zero, reset_delay=False": (lambda: torch.nn.Sequential(
        _lin(4, 6), snn.Leaky(beta=0.9, reset_mechanism="zero", reset_delay=False, init_hidden=True),
        _lin(6, 3), snn.Leaky(beta=0.9, reset_mechanism="zero", reset_delay=False, init_hidden=True)),
        '"reset_delay": false'),
    "Leaky per-neuron beta and threshold": (lambda: torch.nn.Sequential(
        _lin(4, 6), snn.Leaky(beta=torch.linspace(0.5, 1.0, 6), threshold=torch.linspace(0.5, 1.5, 6),
                              learn_beta=True, learn_threshold=True, init_hidden=True),
        _lin(6, 3), snn.Leaky(beta=0.9, init_hidden=True)), '"subtract"'),
    "SpikingJelly soft reset, decay_input=False": (lambda: torch.nn.Sequential(
        _lin(4, 6), sjn.LIFNode(tau=3.0, v_reset=None, decay_input=False, step_mode="m", surrogate_function=sjs.ATan()),
        _lin(6, 3), sjn.LIFNode(tau=3.0, v_reset=None, decay_input=False, step_mode="m",
                                surrogate_function=sjs.ATan())), '"v_reset": null'),
    "Norse per-neuron tau_mem_inv": (lambda: nt.SequentialState(
        _lin(4, 6, 30.0), nt.LIFCell(p=LIFParameters(tau_mem_inv=torch.linspace(50, 150, 6), v_th=torch.tensor(0.5))),
        _lin(6, 3, 30.0), nt.LIFCell()), '"dt": 0.001'),
    "Norse recurrent with autapses": (lambda: nt.SequentialState(
        nt.LIFRecurrentCell(4, 6, autapses=True, p=LIFParameters(v_th=torch.tensor(0.3)))), '"autapses": true'),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_check_reads_each_class_arguments(name):
    torch.manual_seed(0)
    build, read = VARIANTS[name]
    rep = check(build(), _x())
    assert rep.passed and _worst(rep) <= 1e-12, format_report(rep)
    assert read in rep.notes[0]


def test_a_peer_quirk_is_reported_not_hidden():
    """snnTorch Leaky(reset_delay=False) with a subtract reset is reproduced by no model once a
    post-reset membrane stays above θ: the report says so (docs/presets.md, Quirks)."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(_lin(4, 6), snn.Leaky(beta=0.9, reset_delay=False, init_hidden=True),
                              _lin(6, 3), snn.Leaky(beta=0.9, reset_delay=False, init_hidden=True))
    rep = check(net, _x())
    assert not rep.passed and "reset_delay=False quirk" in rep.explanation


def test_command_refuses_a_fifo_without_opening_it(tmp_path):
    """`refsnn check` on a named pipe: exit 2 naming it (opening it would block forever)."""
    import os
    import subprocess
    import sys
    fifo = tmp_path / "net.pt"
    os.mkfifo(fifo)
    r = subprocess.run([sys.executable, "-m", "refsnn", "check", str(fifo), "--preset", "snntorch.Leaky"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "FIFO" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_snntorchs_global_neuron_list_is_left_as_it_was(tmp_path):
    """snnTorch's SpikingNeuron.instances (walked by snntorch.utils.reset) holds after check and
    after a refused command exactly what it held before: no copies, no half-built neurons."""
    snn = pytest.importorskip("snntorch")
    import torch
    from snntorch._neurons.neurons import SpikingNeuron
    from refsnn.oracle import check as check_fn
    from refsnn.oracle.check import main
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), snn.Leaky(beta=0.9, init_hidden=True),
                              torch.nn.Linear(4, 2), snn.Leaky(beta=0.9, init_hidden=True))
    before = list(SpikingNeuron.instances)
    check_fn(net, torch.rand(6, 2, 3))
    assert SpikingNeuron.instances == before
    path = tmp_path / "net.pt"
    torch.save({k: v for k, v in net.state_dict().items()}, path)
    import io
    main(str(path), "snntorch.Leaky", '{"reset_mechanism": "no-such-reset"}', out=io.StringIO(), err=io.StringIO())
    assert SpikingNeuron.instances == before
