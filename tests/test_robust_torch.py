"""Seed 002 §9's min-max objective in surrogate mode against PyTorch autograd.

The gradient checks of ``refsnn gradcheck --family robust`` run on the exact routes
(smooth twin, piecewise-linear regime). In surrogate mode (Heaviside forward, surrogate
backward) the check is an independent autograd twin: tests/test_torch_peer.py's
``twin_layer`` (which calls nothing in refsnn) runs the network at x and at x + δ, the
logits (R1), the cross-entropy and the KL are written in torch, and autograd
differentiates everything. refsnn's R9 (``robust_loss``) must agree at every entry of
every parameter, the input, δ and every initial state."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from test_torch_peer import ATOL, RTOL, twin_layer  # noqa: E402

from refsnn.checking import robust_family as F  # noqa: E402
from refsnn.checking import verify  # noqa: E402
from refsnn.learning import robust as R  # noqa: E402


def _twin(problem, lam):
    def leaf(a):
        return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=True)

    x, delta = leaf(problem.x), leaf(problem.delta)
    P = [{k: leaf(a) for k, a in p.items()} for p in problem.params]
    S = [{k: leaf(a) for k, a in st.items()} for st in problem.state0]

    def logits(inp):
        for cfg, p, st in zip(problem.net.layers, P, S):
            v, s = twin_layer(cfg, p, inp, st)
            inp = s
        return v.mean(0) if problem.point.readout == "mean" else s.sum(0)

    z, z_adv = logits(x), logits(x + delta[None])
    logp, logq = torch.log_softmax(z, 1), torch.log_softmax(z_adv, 1)
    y = torch.as_tensor(problem.labels)
    ce = -logp[torch.arange(len(y)), y]
    kl = (logp.exp() * (logp - logq)).sum(1)
    value = (ce + lam * kl).mean()
    leaves = {"x": x, "delta": delta}
    for l, (p, st) in enumerate(zip(P, S)):
        leaves.update({f"L{l}.{k}": t for k, t in p.items()})
        leaves.update({f"L{l}.state.{k}": t for k, t in st.items()})
    g = torch.autograd.grad(value, list(leaves.values()), allow_unused=True)
    return float(value.detach()), {k: (np.zeros(t.shape) if gk is None else gk.numpy())
                                   for (k, t), gk in zip(leaves.items(), g)}


@pytest.mark.parametrize("point", F.points(), ids=lambda p: p.name)
def test_robust_loss_matches_torch_in_surrogate_mode(point):
    problem = F.make_problem(point)
    # a larger δ than the grid's: on Heaviside spikes the outputs differ (KL > 0) only
    # where δ flips a hidden spike
    problem.delta = 5.0 * problem.delta
    res = R.robust_loss(problem.net, problem.params, problem.x, problem.labels, problem.delta, F.LAM,
                        point.readout, problem.state0)
    mine = {**verify._flatten(res.params, res.x, res.state0), "delta": res.delta}
    value, ref = _twin(problem, F.LAM)
    assert res.value == pytest.approx(value, rel=1e-12)
    assert res.kl > 0 and sum(int(tr.s.sum()) for tr in res.trajs + res.trajs_adv if tr.config.spiking) > 0
    assert set(mine) == set(ref)
    for k in ref:
        a, b = mine[k], ref[k]
        bad = np.abs(a - b) > np.maximum(RTOL * np.maximum(np.abs(a), np.abs(b)), ATOL)
        assert not bad.any(), f"{k}: max |Δ| {np.abs(a - b).max():.2e}"
