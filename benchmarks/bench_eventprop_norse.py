"""EventProp against Norse's adjoint LIF, as dt → 0.

Norse's ``LIFAdjointFunction`` (norse.torch.functional.adjoint.lif_adjoint) steps the same
current-based LIF neuron (τ_m V̇ = −V + I, τ_s İ = −I, a jump of W at an input spike, reset to
0 at θ) forward on a grid with Euler steps, and its backward applies EventProp's adjoint on that
grid: λ_V, λ_I decay as A1 (Euler), and at a step where the neuron spiked, λ_V jumps by the
factor V̇⁺/V̇⁻ = I/(I − θ) and gains ∂L/∂z / V̇⁻ (J4, with its ∂L/∂z read as the spike's ∂l/∂t).
Its weight gradient is Σ_n λ_I(n) x_nᵀ.

So it computes refsnn's J4 and G1 up to constants: with ∂L/∂z = ∂l/∂t at the spike's step, its
λ is τ_m times refsnn's (its output term divides by V̇⁻ = (I − θ)/τ_m, refsnn's by I − θ), and
refsnn's G1 is −τ_s Σ λ_I. Hence **dℒ/dW (refsnn) = −(τ_s/τ_m) · Norse's gradient**, in the
limit dt → 0 where the grid forward becomes the exact one. This script measures that limit for
one layer (5 inputs with two spikes each, 4 neurons, loss Σ r_i t over every output spike),
for each root finder's time constants: the cosine, and the relative error of −(τ_s/τ_m)·Norse
against refsnn's exact gradient (G1). It needs the ``peer`` extra (torch, norse).

    OMP_NUM_THREADS=1 python benchmarks/bench_eventprop_norse.py [--dts 0.5 0.1 0.02 0.005]

It prints numbers and asserts nothing (tests/test_eventprop.py checks one point of it).
"""

from __future__ import annotations

import argparse

import numpy as np

from refsnn.neurons import eventprop as E


def problem(tau_m, tau_s, seed=4, M=5, N=4):
    cfg = E.EventPropConfig(tau_m=tau_m, tau_s=tau_s, theta=1.0, t_end=40.0)
    rng = np.random.default_rng(seed)
    W = rng.normal(0.9 * tau_m / 10.0, 0.4 * tau_m / 10.0, (N, M))
    t_in = rng.uniform(0, 20, (1, M, 2))
    r = rng.normal(size=N)
    return cfg, W, t_in, r


def exact(cfg, W, t_in, r):
    """refsnn's exact gradient of Σ_i r_i Σ_spikes t (G1) and the spike counts."""
    rec = E.layer_forward(cfg, W, t_in)
    g_out = np.where(np.isfinite(rec.times), r[None, :, None], 0.0)
    gW, _ = E.layer_backward(cfg, W, rec, g_out)
    return gW, np.isfinite(rec.times).sum(axis=2)[0]


def norse_gradient(cfg, W, t_in, r, dt):
    """Norse's adjoint gradient on the grid of step dt: ∂L/∂z = r_i at every step where neuron i spiked."""
    import torch
    from norse.torch.functional.adjoint.lif_adjoint import LIFAdjointFunction
    from norse.torch.functional.lif import LIFParameters

    f64 = dict(dtype=torch.float64)
    T = int(round(cfg.t_end / dt))
    M = W.shape[1]
    N = W.shape[0]
    x = np.zeros((T, 1, M))
    for j in range(M):
        for t in t_in[0, j]:
            x[int(np.floor(t / dt)), 0, j] += 1.0          # Norse adds the jump at the end of the step
    p = LIFParameters(tau_syn_inv=torch.tensor(1 / cfg.tau_s, **f64), tau_mem_inv=torch.tensor(1 / cfg.tau_m, **f64),
                      v_leak=torch.tensor(0.0, **f64), v_th=torch.tensor(cfg.theta, **f64),
                      v_reset=torch.tensor(0.0, **f64))
    Wt = torch.tensor(W, requires_grad=True, **f64)
    R0 = torch.zeros(N, N, **f64)
    z = v = i = torch.zeros(1, N, **f64)
    rt, xs = torch.tensor(r, **f64), torch.tensor(x, **f64)
    loss, counts = 0.0, np.zeros(N)
    for n in range(T):
        z, v, i = LIFAdjointFunction.apply(xs[n], z, v, i, Wt, R0, p, dt)
        loss = loss + (z * rt).sum()
        counts += z.detach().numpy()[0]
    loss.backward()
    return Wt.grad.numpy(), counts


def compare(tau_m, tau_s, dt):
    cfg, W, t_in, r = problem(tau_m, tau_s)
    gW, n_exact = exact(cfg, W, t_in, r)
    gN, n_grid = norse_gradient(cfg, W, t_in, r, dt)
    pred = -(tau_s / tau_m) * gN
    return dict(cos=float(np.sum(pred * gW) / (np.linalg.norm(pred) * np.linalg.norm(gW))),
                rel=float(np.linalg.norm(pred - gW) / np.linalg.norm(gW)),
                same_counts=bool(np.array_equal(n_exact, n_grid)), spikes=int(n_exact.sum()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dts", type=float, nargs="+", default=[0.5, 0.1, 0.02, 0.005])
    args = ap.parse_args()
    print(f"{'τ_m/τ_s':>8} {'dt':>7} {'spikes':>6} {'same counts':>11} {'cos':>8} {'rel err of −(τ_s/τ_m)·Norse':>28}")
    for tau_m, tau_s in ((10.0, 5.0), (5.0, 5.0), (20.0, 5.0)):
        for dt in args.dts:
            c = compare(tau_m, tau_s, dt)
            print(f"{tau_m:>4g}/{tau_s:<3g} {dt:7g} {c['spikes']:6d} {str(c['same_counts']):>11} {c['cos']:+8.5f} "
                  f"{c['rel']:28.3e}", flush=True)


if __name__ == "__main__":
    main()
