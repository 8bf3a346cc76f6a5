"""The convolutional LIF layer (refsnn.neurons.conv): im2col, the kernel gradient C3,
the transposed-convolution input gradient C4, pooling, the three-factor reading C6,
both exact routes on grid rows, and PyTorch's conv2d autograd in surrogate mode.
"""

import numpy as np
import pytest

from refsnn.checking import conv_grid
from refsnn.checking.gradcheck import check_gradients
from refsnn.neurons.conv import (ConvLIFConfig, ConvNetwork, col2im, conv_backward, conv_current, conv_forward,
                                 conv_init_params, convnet_backward, convnet_forward, convnet_init,
                                 eligibility_kernel_gradient, im2col, input_gradient, kernel_gradient,
                                 pool_backward, pool_forward)
from refsnn.neurons.lif import LIFConfig
from refsnn.neurons.network import Network
from refsnn.surrogates import surrogate

# (H, kernel, stride, padding): stride 1 and 2 and 3, padding 0..2, kernel larger than,
# equal to and smaller than the stride, odd and even kernels, non-square leftovers.
GEOMETRIES = [(5, 3, 1, 0), (5, 3, 1, 1), (6, 3, 2, 1), (7, 4, 2, 2), (6, 2, 2, 0), (7, 3, 3, 1),
              (5, 2, 3, 1), (4, 1, 1, 0)]


def _cfg(H, k, s, p, C=2, K=3, **kw):
    return ConvLIFConfig(C, H, H, K, k, s, p, **kw)


@pytest.mark.parametrize("H, k, s, p", GEOMETRIES)
def test_col2im_is_the_adjoint_of_im2col(H, k, s, p):
    """<im2col(x), c> = <x, col2im(c)>: col2im is exactly the transpose, so C4 is C1's adjoint."""
    rng = np.random.default_rng(H * 100 + k * 10 + s + p)
    x = rng.normal(size=(3, 2, H, H))
    cols = im2col(x, (k, k), s, p)
    c = rng.normal(size=cols.shape)
    np.testing.assert_allclose(np.sum(cols * c), np.sum(x * col2im(c, x.shape, (k, k), s, p)), rtol=1e-12)


@pytest.mark.parametrize("H, k, s, p", GEOMETRIES)
def test_kernel_and_input_gradients_are_exact_derivatives_of_the_current(H, k, s, p):
    """C1 is linear in W, b and x, so L = Σ δI · I(W, b, x) has exactly the gradients C3 and C4;
    central differences (4th order) agree to rounding. A padding or stride offset in either
    gradient moves entries and fails here."""
    cfg = _cfg(H, k, s, p)
    rng = np.random.default_rng(7 + H + k + s + p)
    T, B = 2, 2
    W = rng.normal(size=(cfg.out_channels, cfg.in_channels, k, k))
    b = rng.normal(size=cfg.out_channels)
    x = rng.normal(size=(T, B, cfg.in_channels, H, H))
    dI = rng.normal(size=(T, B, cfg.n))

    def f(d):
        return float(np.sum(dI * conv_current(cfg, d["W"], d["b"], d["x"])))

    dW, db = kernel_gradient(cfg, dI, x)
    dx = input_gradient(cfg, dI, W, x.shape)
    res = check_gradients(f, {"W": W, "b": b, "x": x}, {"W": dW, "b": db, "x": dx}, eps=0.1, order=4,
                          rtol=1e-9, floor=1e-4)
    assert all(r.passed for r in res), "\n".join(map(str, res))


def test_input_positions_no_window_reads_get_zero_gradient():
    """H = 6, k = 2, s = 3, p = 0: rows/columns 2 and 5 are read by no window."""
    cfg = ConvLIFConfig(1, 6, 6, 1, 2, 3, 0)
    dI = np.ones((1, 1, cfg.n))
    dx = input_gradient(cfg, dI, np.ones((1, 1, 2, 2)), (1, 1, 1, 6, 6))[0, 0, 0]
    assert np.all(dx[[2, 5]] == 0) and np.all(dx[:, [2, 5]] == 0) and np.all(dx[:2, :2] == 1)


@pytest.mark.parametrize("pool, P, H", [("sum", 2, 6), ("avg", 2, 6), ("avg", 3, 9), ("none", 1, 6)])
def test_pool_backward_is_the_adjoint_of_pool_forward(pool, P, H):
    cfg = ConvLIFConfig(1, H, H, 2, 3, 1, 1, pool=pool, pool_size=P)
    rng = np.random.default_rng(P)
    s = rng.normal(size=(2, 3, cfg.n))
    dz = rng.normal(size=(2, 3, cfg.n_out))
    np.testing.assert_allclose(np.sum(pool_forward(cfg, s) * dz), np.sum(s * pool_backward(cfg, dz)), rtol=1e-12)
    if pool == "avg":   # the window mean, not the sum
        z = pool_forward(cfg, np.ones((1, 1, cfg.n)))
        np.testing.assert_allclose(z, 1.0)


@pytest.mark.parametrize("H, k, s, p", GEOMETRIES[1:4])
@pytest.mark.parametrize("synapse", [False, True])
@pytest.mark.parametrize("reset, detach", [("subtract", False), ("none", False)])
def test_three_factor_reading_equals_the_kernel_gradient(H, k, s, p, synapse, reset, detach):
    """C6 (postsynaptic error × leak-made eligibility trace, sampled by stride and padding)
    is C3 reordered: the same numbers."""
    cfg = _cfg(H, k, s, p, surrogate=surrogate("sigmoid", 4.0), reset=reset, detach_reset=detach,
               synapse=synapse)
    rng = np.random.default_rng(H + 3 * k + s)
    T, B = 5, 2
    params = conv_init_params(cfg, rng, w_scale=2.0, alpha=rng.uniform(0.6, 0.95, 3),
                              theta=rng.uniform(0.5, 1.0, 3), b=0.3)
    x = rng.normal(0.5, 1.0, (T, B, cfg.in_channels, H, H))
    tr = conv_forward(cfg, params, x)
    assert 0 < tr.s.mean() < 1
    g = conv_backward(tr, params, ds=rng.normal(size=(T, B, cfg.n)), dv=rng.normal(size=(T, B, cfg.n)))
    np.testing.assert_allclose(eligibility_kernel_gradient(tr, params, g.adjoints), g.params["W"],
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("index", [3, 10])
def test_grid_rows_pass_both_exact_routes(index):
    """Rows of `refsnn gradcheck --family conv` (shortened to T = 2): an even kernel larger
    than the stride with padding 2 and the hard reset; the first-spike loss on a conv net.
    (The CLI runs every row at T = 3; torch covers the pooling kinds in surrogate mode.)"""
    point = conv_grid.points()[index]
    rep = conv_grid.check_point(point, T=2)
    assert rep.passed, rep
    assert rep.piecewise_checked > 0 and sum(rep.n_spikes) > 0


def test_per_channel_parameters_are_shared_over_positions():
    """The neuron parameters' gradients are the per-neuron gradients summed over each
    channel's positions: scaling a channel's θ moves every neuron of that channel."""
    cfg = _cfg(5, 3, 1, 1, surrogate=surrogate("sigmoid", 4.0), forward="smooth")
    rng = np.random.default_rng(3)
    params = conv_init_params(cfg, rng, w_scale=2.0, b=0.3)
    x = rng.normal(0.5, 1.0, (4, 2, 2, 5, 5))
    dv = rng.normal(size=(4, 2, cfg.n))

    def f(th):
        return float(np.sum(dv * conv_forward(cfg, {**params, "theta": th}, x).v))

    g = conv_backward(conv_forward(cfg, params, x), params, dv=dv).params["theta"]
    res = check_gradients(lambda d: f(d["t"]), {"t": params["theta"]}, {"t": g}, eps=2e-4, order=4,
                          rtol=1e-7, floor=1e-4)
    assert res[0].passed, res[0]


def test_bad_configuration_and_input_name_the_argument():
    with pytest.raises(ValueError, match="padding"):
        ConvLIFConfig(1, 5, 5, 2, 3, 1, -1)
    with pytest.raises(ValueError, match="pool_size"):
        ConvLIFConfig(1, 5, 5, 2, 3, 1, 0, pool="sum", pool_size=2)       # 3 × 3 output
    with pytest.raises(ValueError, match="kernel_size"):
        ConvLIFConfig(1, 3, 3, 2, 5, 1, 0)
    with pytest.raises(ValueError, match="stride"):
        ConvLIFConfig(1, 5, 5, 2, 3, 0, 0)
    cfg = ConvLIFConfig(1, 5, 5, 2, 3, 1, 0)
    p = conv_init_params(cfg, 0)
    with pytest.raises(ValueError, match="x has shape"):
        conv_forward(cfg, p, np.zeros((2, 1, 2, 5, 5)))
    with pytest.raises(ValueError, match=r"params\['W'\]"):
        conv_forward(cfg, {**p, "W": np.zeros((2, 1, 2, 2))}, np.zeros((2, 1, 1, 5, 5)))
    with pytest.raises(ValueError, match="n_in"):
        ConvNetwork((cfg,), Network((LIFConfig(10, 3),)))


# ---------------------------------------------------------------------------
# PyTorch autograd twin (surrogate mode: Heaviside forward, σ' backward)
# ---------------------------------------------------------------------------

TORCH_CASES = [  # (H, kernel, stride, padding, pool, P, reset, detach, synapse, loss)
    (6, 3, 2, 1, "none", 1, "subtract", False, False, "ce_count"),
    (7, 4, 2, 2, "avg", 2, "subtract", True, True, "ce_count"),
    (8, 3, 1, 1, "sum", 2, "subtract", False, True, "first_spike"),
    (7, 3, 3, 2, "none", 1, "none", False, False, "first_spike"),
    (9, 5, 2, 2, "avg", 1, "subtract", False, False, "ce_count"),
]


def _torch_twin(torch, net, params, x, state0, y, loss, k):
    import torch.nn.functional as F

    class Spike(torch.autograd.Function):
        @staticmethod
        def forward(ctx, u):
            ctx.save_for_backward(u)
            return (u >= 0).to(u.dtype)

        @staticmethod
        def backward(ctx, g):
            (u,) = ctx.saved_tensors
            sig = torch.sigmoid(k * u)
            return g * k * sig * (1 - sig)

    P = [{n: torch.tensor(v, requires_grad=True) for n, v in p.items()} for p in params]
    S0 = [{n: torch.tensor(v, requires_grad=True) for n, v in st.items()} for st in state0]
    X = torch.tensor(x, requires_grad=True)

    def lif(cfg, p, st, I):          # I: (T, B, ...) currents; per-channel params broadcast
        shape = (-1, 1, 1) if I.dim() == 5 else (-1,)
        a = p["alpha"].reshape(shape)
        th = p["theta"].reshape(shape)
        v = st["v"].reshape(I.shape[1:])
        c = st["c"].reshape(I.shape[1:]) if cfg.synapse else None
        s = Spike.apply(v - th)
        out = []
        for t in range(I.shape[0]):
            cur = I[t]
            if cfg.synapse:
                c = p["lam"].reshape(shape) * c + cur
                cur = c
            sr = s.detach() if cfg.detach_reset else s
            v = a * v + cur - (sr * p["gamma"].reshape(shape) if cfg.reset == "subtract" else 0)
            s = Spike.apply(v - th)
            out.append(s)
        return torch.stack(out)

    T, B = x.shape[:2]
    inp = X
    for l, cfg in enumerate(net.convs):
        I = torch.stack([F.conv2d(inp[t], P[l]["W"], P[l]["b"], stride=cfg.stride, padding=cfg.padding)
                         for t in range(T)])
        s = lif(cfg, P[l], S0[l], I)
        if cfg.pool != "none":
            s = torch.stack([F.avg_pool2d(s[t], cfg.pool_size) for t in range(T)])
            if cfg.pool == "sum":
                s = s * cfg.pool_size ** 2
        inp = s
    z = inp.reshape(T, B, -1)
    d = net.dense.layers[0]
    pd = P[len(net.convs)]
    s = lif(d, pd, S0[len(net.convs)], z @ pd["W"].T + pd["b"])
    if loss == "ce_count":
        logits = s.sum(0)
    else:
        logits = -torch.cumprod(1 - s, 0).sum(0) / 2.0
    L = F.cross_entropy(logits, torch.tensor(y))
    L.backward()
    return ([{n: t.grad.numpy() for n, t in p.items()} for p in P], X.grad.numpy(),
            [{n: t.grad.numpy() for n, t in st.items()} for st in S0])


@pytest.mark.parametrize("case", TORCH_CASES)
def test_surrogate_mode_matches_torch_conv2d_autograd(case):
    torch = pytest.importorskip("torch")
    from refsnn import losses as L

    H, k, s, p, pool, P, reset, detach, synapse, loss = case
    sg = surrogate("sigmoid", 4.0)
    conv = ConvLIFConfig(2, H, H, 3, k, s, p, pool, P, surrogate=sg, reset=reset, detach_reset=detach,
                         synapse=synapse)
    dense = LIFConfig(conv.n_out, 4, surrogate=sg, synapse=synapse)
    net = ConvNetwork((conv,), Network((dense,)))
    rng = np.random.default_rng(H + k)
    params = convnet_init(net, rng, conv_kw=[dict(w_scale=2.0, b=0.2, alpha=rng.uniform(0.7, 0.95, 3))],
                          dense_kw=[dict(w_scale=2.0, b=0.3)])
    T, B = 6, 3
    x = rng.normal(0.5, 1.0, (T, B, 2, H, H))
    state0 = [{n: rng.normal(0, 0.3, (B, c.n)) for n in (("v", "c") if synapse else ("v",))}
              for c in (conv.lif, dense)]
    y = rng.integers(0, 4, B)
    trajs = convnet_forward(net, params, x, state0)
    out = trajs.dense[-1]
    l = L.spike_count_cross_entropy(out, y) if loss == "ce_count" else L.first_spike_cross_entropy(out, y, 2.0)
    g = convnet_backward(trajs, params, [None, l.ds], [None, None])
    assert 0 < trajs.convs[0].s.mean() < 1 and out.s.sum() > 0
    tp, tx, ts = _torch_twin(torch, net, params, x, state0, y, loss, 4.0)
    for l_, (a, b) in enumerate(zip(g.params, tp)):
        for n in a:
            np.testing.assert_allclose(a[n], b[n], rtol=1e-10, atol=1e-12, err_msg=f"L{l_}.{n}")
    np.testing.assert_allclose(g.x, tx, rtol=1e-10, atol=1e-12, err_msg="x")
    for l_, (a, b) in enumerate(zip(g.state0, ts)):
        for n in a:
            np.testing.assert_allclose(a[n], b[n], rtol=1e-10, atol=1e-12, err_msg=f"L{l_}.state.{n}")
