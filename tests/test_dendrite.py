"""The two-compartment neuron (refsnn.neurons.dendrite): its gradcheck rows along both exact
routes, an independent PyTorch autograd twin in surrogate mode, and argument checks.

The torch twin re-implements D1–D4 and the soma's F1–F6 from the module docstrings (not
from refsnn's code); its spikes, somatic and dendritic, are autograd Functions with a
Heaviside forward and the surrogate derivative backward, so autograd produces the
surrogate gradient with no hand-written adjoint.
"""

import math

import numpy as np
import pytest

from refsnn.checking import dendrite_family as F
from refsnn.checking import families
from refsnn.lif import LIFConfig
from refsnn.neurons import dendrite as D
from refsnn.surrogates import surrogate


@pytest.mark.parametrize("point", [F.DendritePoint("spike", "hard_drop_input/detach/adapt/syn/rec"),
                                   F.DendritePoint("sigmoid", "subtract/attach")],
                         ids=lambda p: p.name)
def test_dendrite_rows_pass_both_routes(point):
    rep = F.check(point, seed=1)
    assert rep.passed, rep
    assert rep.piecewise_checked > 0 and all(n > 0 for n in rep.n_spikes), rep


def test_dendrite_family_is_on_the_grid():
    names = {row for _, _, row in families.rows(["dendrite"])}
    assert {f"dendrite:{b}/subtract/attach" for b in D.BRANCH_KINDS} <= names


def test_smooth_route_catches_a_wrong_dendritic_derivative(monkeypatch):
    """The route is not vacuous: σ_d' scaled by 1.001 fails it."""
    prob = F.make_dendrite_problem(F.DendritePoint("spike", "subtract/attach"), seed=2)
    orig = D.DendriteConfig.derivative
    monkeypatch.setattr(D.DendriteConfig, "derivative", lambda self, z: 1.001 * orig(self, z))
    assert not all(r.passed for r in F.check_smooth(prob))


def test_bad_arguments_are_named():
    soma = LIFConfig(1, 3)
    with pytest.raises(ValueError, match="soma.n"):
        D.DendriteConfig(2, 4, 2, soma)
    with pytest.raises(ValueError, match="branch"):
        D.DendriteConfig(2, 3, 2, soma, branch="relu")
    cfg = D.DendriteConfig(2, 3, 2, soma)
    p = D.init_dendrite_params(cfg, 0)
    with pytest.raises(ValueError, match="alpha_d"):
        D.dendrite_forward(cfg, {**p, "alpha_d": np.full((3, 2), 1.5)}, np.zeros((4, 1, 2)))
    with pytest.raises(ValueError, match="W_d"):
        D.dendrite_forward(cfg, {**p, "W_d": np.zeros((3, 2))}, np.zeros((4, 1, 2)))
    with pytest.raises(ValueError, match="missing"):
        D.dendrite_forward(cfg, {k: v for k, v in p.items() if k != "c"}, np.zeros((4, 1, 2)))


# ---------------------------------------------------------------------------- torch twin

torch = pytest.importorskip("torch")


def _sg(x, name, scale, gain):
    if name == "sigmoid":
        y = x.abs()
        return gain * scale * torch.sigmoid(scale * y) * torch.sigmoid(-scale * y)
    if name == "arctan":
        return gain * 0.5 * scale / (1.0 + (0.5 * math.pi * scale * x) ** 2)
    raise ValueError(name)


class Spike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, h0, name, scale, gain):
        ctx.save_for_backward(x)
        ctx.sg = (name, scale, gain)
        return (x > 0).to(x.dtype) + h0 * (x == 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * _sg(x, *ctx.sg), None, None, None, None


def _twin(prob, p):
    """The network of a dendrite row in torch: D1–D4, the soma F1–F6, the readout, the loss."""
    dc, rc = prob.dcfg, prob.rcfg
    soma = dc.soma
    x = p["x"]
    T = x.shape[0]

    def spike(z, sg):
        return Spike.apply(z, 1.0, sg.name, sg.scale, sg.gain)

    a_prev = p["D.state.a"]
    v_prev, u_prev, c_prev = p["D.state.v"], p.get("D.state.u"), p.get("D.state.c")
    s_prev = spike(v_prev - p["D.theta"], soma.surrogate)
    rv_prev, rc_prev = p["R.state.v"], p.get("R.state.c")
    loss = 0.0
    for t in range(T):
        a = p["D.alpha_d"] * a_prev + torch.einsum("bm,nkm->bnk", x[t], p["D.W_d"])          # D1, D2
        if dc.branch == "sigmoid":
            q = torch.sigmoid(dc.dendrite_slope * (a - p["D.theta_d"]))                         # D3
        else:
            q = spike(a - p["D.theta_d"], dc.dendrite_surrogate)
        I = (q * p["D.c"]).sum(-1) + p["D.b"]                                                    # D4
        if soma.recurrent:
            I = I + s_prev @ p["D.R"].T
        c = p["D.lam"] * c_prev + I if soma.synapse else I
        m = p["D.alpha"] * v_prev
        d = c - p["D.beta"] * u_prev if soma.adaptation else c
        sr = s_prev.detach() if soma.detach_reset else s_prev
        if soma.reset == "subtract":
            v = m + d - sr * p["D.gamma"]
        elif soma.reset == "hard_keep_input":
            v = (1 - sr) * m + sr * p["D.v_reset"] + d
        else:
            v = (1 - sr) * (m + d) + sr * p["D.v_reset"]
        if soma.adaptation:
            u_prev = p["D.rho"] * u_prev + p["D.kappa"] * s_prev
        s = spike(v - p["D.theta"], soma.surrogate)
        rI = s @ p["R.W"].T + p["R.b"]                                                            # readout
        rcur = p["R.lam"] * rc_prev + rI if rc.synapse else rI
        rv = p["R.alpha"] * rv_prev + rcur
        B = x.shape[1]
        loss = loss + 0.5 * ((rv - torch.as_tensor(prob.y)) ** 2).sum() / B + F.L1_STRENGTH * s.sum() / B
        a_prev, v_prev, s_prev, c_prev, rv_prev, rc_prev = a, v, s, c, rv, rcur
    return loss


@pytest.mark.parametrize("point", F.points(), ids=lambda p: p.name)
@pytest.mark.parametrize("seed", [0, 7])
def test_surrogate_mode_matches_torch_autograd(point, seed):
    prob = F.make_dendrite_problem(point, seed)
    value, grads, dtr = F._adjoint(prob, prob.dcfg, probe=False)
    assert dtr.s.sum() > 0 and 0 < dtr.q.mean() < 1
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in prob.params.items()}
    loss = _twin(prob, tp)
    loss.backward()
    assert loss.item() == pytest.approx(value, rel=1e-12)
    for k, t in tp.items():
        np.testing.assert_allclose(grads[k], t.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=k)
