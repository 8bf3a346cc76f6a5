# %% [markdown]
# # 16 · EventProp: the exact gradient that the surrogate gradient approximates
#
# Seed 001 (summarised in `docs/seeds.md`) calls the surrogate gradient a useful lie: the spike is a step, its derivative
# is zero almost everywhere, and BPTT replaces it by a bump. Notebooks 02–06 checked that
# refsnn's surrogate adjoints are the exact derivatives of their *smooth twins*. They could not
# say how far the lie is from the truth, because a network on a time grid has no useful truth:
# its spike *steps* do not move when a weight moves a little.
#
# In continuous time the truth exists. A spike *time* moves smoothly with the weights (until a
# spike appears or disappears), and the adjoint method computes its gradient exactly
# (Wunderlich & Pehle 2021, "EventProp"). This notebook
#
# 1. simulates the current-based LIF network exactly, event by event (`refsnn/neurons/eventprop.py`);
# 2. derives the adjoint from the Lagrangian: ODEs between events, jumps at spikes, the weight gradient;
# 3. checks it against central differences of the exact forward;
# 4. measures the lie: surrogate-gradient BPTT on the same network discretised with step dt,
#    against the exact gradient, as dt → 0;
# 5. trains a small Yin-Yang classifier with the exact gradient of a first-spike-time loss.
#
# Equation labels (M, R, A, J, G) are those of the module's docstring.

# %%
# %matplotlib inline
import time

import matplotlib.pyplot as plt
import numpy as np

from refsnn.checking import eventprop_grid as G
from refsnn.checking import eventprop_lie as LIE
from refsnn.neurons import eventprop as E
from refsnn.training import optim
from refsnn.training.data import yin_yang_splits

plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})

# %% [markdown]
# ## 1. The model and its exact spike times
#
# Each neuron has a membrane $V$ and a synaptic current $I$:
#
# $$ \tau_m \dot V = -V + I, \qquad \tau_s \dot I = -I \tag{M1} $$
#
# An input spike of channel $j$ makes $I_i$ jump by $W_{ij}$ (M2). When $V_i$ reaches $\theta$ the
# neuron spikes and $V_i$ is reset to 0 (M3). Between events M1 is solved in closed form (M4–M5),
# so the simulator jumps from event to event. The spike time is the first root of
# $V(t) = \theta$ after the last event. $V$ is a sum of two exponentials, so it has at most one
# extremum between events. That gives a bracket on which $V$ is monotone (R1–R2). For
# $\tau_m = 2\tau_s$, with $x = e^{-t/\tau_m}$, M5 becomes the quadratic
# $(V_0 + I_0)x - I_0x^2 = \theta$ (R3). For $\tau_m = \tau_s$ the root is a Lambert W (R4). For
# other ratios it is found by bisection (R5). A Newton polish (R6) then makes every spike time exact
# to a few ulps.
#
# One input jump $W = 5$ at $t = 0$ with $\tau_m = 10$, $\tau_s = 5$: $V = 5(x - x^2)$, and
# $5x^2 - 5x + 1 = 0$ gives $x = (5 + \sqrt5)/10$, $t = -10 \ln x$.

# %%
cfg = E.EventPropConfig(tau_m=10.0, tau_s=5.0, theta=1.0, t_end=40.0)
rec = E.layer_forward(cfg, np.array([[5.0]]), np.array([[[0.0]]]))
t_hand = -10 * np.log((5 + np.sqrt(5)) / 10)
print(f"spike time: simulator {rec.times[0, 0, 0]:.15f}, by hand {t_hand:.15f}")

# A neuron with three inputs that fires twice: its membrane between events, by M4–M5.
W3 = np.array([[3.0, 2.5, 1.5]])
t3 = np.array([[[1.0], [4.0], [9.0]]])
rec3 = E.layer_forward(cfg, W3, t3)
spikes3 = rec3.times[0, 0][np.isfinite(rec3.times[0, 0])]
marks = sorted([(t, "in", j) for j, t in enumerate(t3[0, :, 0])] + [(t, "spike", None) for t in spikes3])
ts, vs = [], []
V, I, t0 = 0.0, 0.0, 0.0
for t, kind, j in marks + [(25.0, "end", None)]:
    grid = np.linspace(0, t - t0, 100)
    ts.append(t0 + grid)
    vs.append(E.advance(cfg, V, I, grid)[0])
    V, I = E.advance(cfg, V, I, t - t0)
    t0 = t
    if kind == "in":
        I += W3[0, j]
    elif kind == "spike":
        V = 0.0
fig, ax = plt.subplots(figsize=(7, 3))
ax.plot(np.concatenate(ts), np.concatenate(vs))
ax.axhline(cfg.theta, color="k", ls=":", label="θ")
for t in spikes3:
    ax.axvline(t, color="C3", alpha=0.5)
ax.set_xlabel("time t (τ_s = 5)")
ax.set_ylabel("membrane V(t)")
ax.set_title(f"exact spikes at {np.round(spikes3, 4)} (red); inputs at 1, 4, 9")
ax.legend()
plt.show()

# %% [markdown]
# ## 2. The adjoint, from the Lagrangian
#
# Let the loss $\mathcal L = l(\{t_k\})$ depend on spike times. Adding zero does not change it:
#
# $$ \mathcal L = l + \sum_k \int_{t_k}^{t_{k+1}} \big[\lambda_V(\tau_m\dot V + V - I)
#    + \lambda_I(\tau_s \dot I + I)\big]\,dt \tag{16.1} $$
#
# The sum runs over the intervals between events, and there is one pair $\lambda_V, \lambda_I$ per
# neuron. Differentiate with respect to a parameter $p$ (write $\delta X = \partial X/\partial p$
# at fixed $t$), and integrate $\lambda\tau\,\delta\dot X$ by parts on each interval. Choose the
# multipliers so that the integrands multiplying $\delta V$ and $\delta I$ vanish:
#
# $$ \tau_m \dot\lambda_V = \lambda_V, \qquad \tau_s\dot\lambda_I = \lambda_I - \lambda_V \tag{A1} $$
#
# Backward in time this is a decay (A3–A4), the mirror image of M1. What remains are the boundary
# terms $[\tau_m\lambda_V\delta V + \tau_s\lambda_I\delta I]^{t_e^-}_{t_e^+}$ at every event. At a
# spike the event time itself moves with $p$. The threshold condition $V(t_e^-) = \theta$ then gives
# $\delta V^- + \dot V^-\delta t_e = 0$:
#
# $$ \delta t_e = -\delta V^-/\dot V^-, \qquad \tau_m\dot V^- = I - \theta \tag{J1} $$
#
# The reset gives $\delta V^+ = -\dot V^+\delta t_e$ with $\tau_m \dot V^+ = I$. In the layer
# above, the jump of $I_j$ moves with the spike. Collect the terms in $\delta V^-$ and in
# $\delta I^-$ and set them to zero. (At an *input* event nothing crosses a threshold, so
# $\lambda_V$ and $\lambda_I$ are continuous there: J2.) At the neuron's own spike this gives the jumps:
#
# $$ \lambda_I^- = \lambda_I^+ \tag{J3} $$
#
# $$ (I - \theta)\,\lambda_V^- = I\,\lambda_V^+ + \underbrace{\frac{\partial l}{\partial t_e}
#    + \sum_j W_{ji}(\lambda_{V,j} - \lambda_{I,j})}_{g_e} \tag{J4} $$
#
# Only the term of the weight's own jump is left over:
#
# $$ \frac{d\mathcal L}{dW_{ij}} = -\tau_s \sum_{t^{in}\ \text{of}\ j} \lambda_{I,i}(t^{in}),
#    \qquad \frac{d\mathcal L}{dt^{in}} = \sum_i W_{ij}(\lambda_{V,i} - \lambda_{I,i}) \tag{G1–G2} $$
#
# The factor $1/(I - \theta)$ in J4 is the threshold crossing's time derivative. A membrane that
# crosses slowly moves its spike a lot.

# %% [markdown]
# ## 3. The check: central differences of the exact forward
#
# Perturb every weight and every input spike time, rerun the exact forward, and difference the loss.
# An entry is skipped if a perturbation adds or removes a spike; there the loss jumps.
# `refsnn gradcheck --family eventprop` runs the same check on larger problems, for all three root
# finders and two losses.

# %%
checks = {}
for point in G.points()[:2]:              # R3's two rows; the family runs all six
    problem = G.make_problem(point, 0, B=1, M=3, K_in=2, N1=4, N2=2)
    grads, g_in, recs = problem.gradients()
    res = G.fd_check(problem, grads, g_in, eps=(1e-3, 3e-3, 1e-4))
    checks[point.name] = res
    print(f"{point.name:<24}", "  ".join(f"{n}: {w:.1e} ({c} checked, {s} skipped)" for n, w, _, c, s in res))

# %% [markdown]
# ## 4. The lie, measured
#
# The same network on refsnn's grid (`E.grid_twin`) is refsnn's LIF layer with a synapse:
# $\lambda = e^{-dt/\tau_s}$, $\alpha = e^{-dt/\tau_m}$, weights $W\,dt/\tau_m$, and a reset to 0.
# Its first-spike loss is the same function, with the spike time read off the grid. Its BPTT
# gradient uses a surrogate $\sigma'$. The plots compare it with EventProp's exact gradient as
# $dt \to 0$. The forward losses converge, so what is left at small $dt$ is the surrogate.

# %%
dts = (0.5, 0.1, 0.02)
rows = LIE.surrogate_vs_exact(dts, scales={"triangle": (0.5, 1.0, 2.0), "sigmoid": (2.5, 5.0, 10.0)})
fig, ax = plt.subplots(1, 2, figsize=(10, 3.5))
for fam, k in sorted({(r[0], r[1]) for r in rows}):
    rr = [r for r in rows if r[0] == fam and r[1] == k]
    ax[0].semilogx([r[2] for r in rr], [r[3] for r in rr], marker="o", label=f"{fam}, scale {k:g}")
    ax[1].loglog([r[2] for r in rr], [r[5] for r in rr], marker="o")
ax[0].set_xlabel("dt")
ax[0].set_ylabel("cosine(surrogate, exact)")
ax[1].set_xlabel("dt")
ax[1].set_ylabel("‖g_surrogate‖ / ‖g_exact‖")
ax[0].legend(fontsize=7)
plt.tight_layout()
plt.show()
for r in rows:
    print(f"{r[0]:<9} {r[1]:5g} dt={r[2]:5g}: cosine {r[3]:.3f}, rel err {r[4]:.3g}, norm ratio {r[5]:.3g}, "
          f"loss gap {r[6]:.1e}")

# %% [markdown]
# The forward losses agree more and more closely as $dt$ shrinks. The gradients do not.
#
# - With a surrogate at or above its default width (triangle 1 and 2, sigmoid 2.5 and 5), the
#   surrogate gradient's norm grows as $dt \to 0$ to more than four times its value at the coarsest step,
#   and its cosine with the exact gradient falls. BPTT sums $\sigma'$ over every step the membrane
#   spends inside the surrogate's window, including subthreshold excursions that never become
#   spikes, and the number of such steps grows like $1/dt$.
# - With the narrowest scales (triangle 0.5, sigmoid 10) the cosine stays near 0.92–0.95 and the
#   norm stays within a factor of 2 over this range.
#
# The size of the lie depends on the scale more than on the family. In this range it never
# reaches zero. `benchmarks/bench_eventprop_lie.py` prints the table for six families at three
# scales, down to $dt = 0.01$.

# %% [markdown]
# ## 5. Training with the exact gradient: a small Yin-Yang
#
# Each point $(x, y, 1-x, 1-y)$ becomes four input spike times $10\,x$, plus a bias spike at 2. The
# class is the output neuron that fires first. The loss is the cross-entropy of
# softmax$(-t/\tau_0)$ (`E.first_spike_loss`). The hidden and output neurons fire at most once
# (`max_spikes`), as in time-to-first-spike networks. Training uses the exact gradient plus one
# addition. A silent neuron has no gradient, and a silent wrong-class neuron costs the loss
# nothing, so the exact gradient walks wrong neurons into silence; their shared weights fall and
# the label neurons follow (`benchmarks/bench_eventprop_yinyang.py` logs this collapse). So the
# loss adds a push $-\nu \sum_j W_{kj} n_j$ for every output neuron $k$ silent in a sample ($n_j$:
# hidden neuron $j$'s spike count there), as Göltz et al. 2021 require every output neuron to fire.
# Here it is a small run: 600 points, 30 hidden neurons, 6 epochs.

# %%
t_start = time.time()
sp = yin_yang_splits(sizes=(600, 300, 300))
enc = {k: (E.encode_yin_yang(x, 0.0, 10.0, 2.0), y) for k, (x, y) in sp.items()}
cfg_y = E.EventPropConfig(10.0, 5.0, 1.0, 30.0)
rng = np.random.default_rng(0)
params = {"W1": rng.normal(1.5, 1.5, (30, 5)), "W2": rng.normal(0.5, 0.4, (3, 30))}
opt = optim.Adam(lr=0.003)
state = optim.init_state(opt, params)


def accuracy(params, t_in, y):
    recs = E.forward(cfg_y, [params["W1"], params["W2"]], t_in, max_spikes=[1, 1])
    tf = E.first_spike_times(recs[1])
    pred = np.where(np.isfinite(tf).any(axis=1), np.argmin(tf, axis=1), -1)
    return float(np.mean(pred == y))


history = [accuracy(params, *enc["test"])]
(xt, yt) = enc["train"]
for epoch in range(6):
    order = rng.permutation(len(yt))
    for i in range(0, len(yt), 50):
        idx = order[i:i + 50]
        Ws = [params["W1"], params["W2"]]
        recs = E.forward(cfg_y, Ws, xt[idx], max_spikes=[1, 1])
        tf = E.first_spike_times(recs[1])
        _, g = E.first_spike_loss(tf, yt[idx], 1.0, 0.003, 10.0, t_silent=cfg_y.t_end)
        (g1, g2), _ = E.backward(cfg_y, Ws, recs, E.grad_first_spike(recs[1], g))
        silent = ~np.isfinite(tf)                        # −ν Σ_j W_kj n_j, every silent output neuron
        g2 -= 1.0 * silent.T.astype(float) @ recs[0].counts / len(idx)
        params, state = optim.step(opt, params, {"W1": g1, "W2": g2}, state)
    history.append(accuracy(params, *enc["test"]))
train_seconds = time.time() - t_start
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(range(len(history)), history, marker="o")
ax.axhline(1 / 3, color="k", ls=":", label="chance")
ax.set_xlabel("epoch")
ax.set_ylabel("test accuracy (300 points)")
ax.legend()
plt.show()
print(f"test accuracy by epoch: {np.round(history, 3)}; {train_seconds:.1f} s")

# %% [markdown]
# The full run (5000 training points, 120 hidden neurons, three seeds) is
# `benchmarks/bench_eventprop_yinyang.py`. The README reports its accuracy.
#
# ## 6. Checks

# %%
# 1. The exact spike time R3, by hand.
assert abs(rec.times[0, 0, 0] - t_hand) < 1e-13
assert len(spikes3) == 2
# 2. The adjoint against central differences of the exact forward, every weight and input time.
for name, res in checks.items():
    for arr, worst, where, checked, skipped in res:
        assert checked > 0 and worst <= 1e-9, (name, arr, worst)
# 3. The grid's forward converges (the loss gap shrinks with dt). The wide surrogates' gradients
#    grow as dt → 0 and turn away from the exact one; the narrowest stay close.
by = {(f, k): [r for r in rows if (r[0], r[1]) == (f, k)] for f, k in {(r[0], r[1]) for r in rows}}
for rr in by.values():
    assert rr[-1][6] < rr[0][6]
for key in [("triangle", 1.0), ("triangle", 2.0), ("sigmoid", 2.5), ("sigmoid", 5.0)]:
    assert by[key][-1][5] > 4 * by[key][0][5] and by[key][-1][3] < by[key][0][3] - 0.3, key
for key in [("triangle", 0.5), ("sigmoid", 10.0)]:
    assert by[key][-1][3] > 0.9 and 0.5 < by[key][-1][5] < 2, key
# 4. The exact gradient trains: well above chance (1/3) after 6 epochs.
assert history[-1] > 0.6 and history[-1] > history[0] + 0.15
print("all checks passed")

# %% [markdown]
# **Exercise.** Write the jump conditions in `exercises/ex16_eventprop.py`: the arriving
# gradient (J4's sum), the jumps J3–J4 at a spike, and the weight gradient G1. Then run
# `python exercises/check.py ex16`. The checker also runs your jumps inside refsnn's adjoint
# pass, and it names the term that differs. The solution is in `exercises/solutions/ex16_eventprop.py`.
