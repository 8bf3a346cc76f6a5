# %% [markdown]
# # 03 · BPTT by hand
#
# This notebook derives backpropagation through time for seed 000's adaptive LIF neuron
# (§4, "SNN中的梯度传播机制", summarised in `docs/seeds.md`): the adjoints $\delta v_t$, $\delta u_t$, $\delta s_t$ and the
# gradients of every parameter, in refsnn's notation, with equation labels matching
# `refsnn/neurons/lif.py`. Then it checks the derivation three ways: by unrolling $T = 2$ steps
# by hand against `layer_backward`, by central finite differences on the smooth twin
# (`refsnn.gradcheck`), and by the package's own verification route (`refsnn.verify`).

# %%
# %matplotlib inline
import numpy as np
import matplotlib.pyplot as plt

np.set_printoptions(precision=4, suppress=False, linewidth=100)
plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})

# %%
from dataclasses import replace

from refsnn import (LIFConfig, heaviside, init_params, layer_backward, layer_forward,
                    smooth_twin, surrogate)
from refsnn.gradcheck import check_gradients, format_results
from refsnn.verify import GridPoint, check_point

# %% [markdown]
# ## 1. The model and its time index
#
# Seed 000 writes the neuron as
#
# $$ v_{t+1} = \alpha v_t + w x_t - \beta u_t - \gamma s_t, \qquad
#    u_{t+1} = \rho u_t + \kappa s_t, \qquad s_t = H(v_t - \theta). $$
#
# refsnn numbers each state by the input step that produced it: the membrane after
# input $x_t$ is $v_t$, not $v_{t+1}$. With row vectors (`x @ W.T`, so a batch of $B$ rows
# goes through at once), a bias $b$, and no synaptic current or recurrence, the layer
# is, for $t = 0, \dots, T-1$:
#
# $$ I_t = x_t W^\top + b \tag{F1} $$
#
# $$ d_t = I_t - \beta\, u_{t-1} \tag{F3} $$
#
# $$ v_t = \alpha\, v_{t-1} + d_t - \gamma\, s_{t-1} \tag{F4} $$
#
# $$ u_t = \rho\, u_{t-1} + \kappa\, s_{t-1} \tag{F5} $$
#
# $$ s_t = H(v_t - \theta) \tag{F6} $$
#
# starting from $v_{-1}, u_{-1}$ (the argument `state0`) and $s_{-1} = H(v_{-1} - \theta)$.
# Without a synapse F2 is $c_t = I_t$. All of $\alpha, \beta, \gamma, \rho, \kappa, \theta, b$
# are per-neuron vectors.
#
# **The shift.** Renaming the seed's state index $k \to k - 1$ (the seed's $v_{t+1}$ is
# refsnn's $v_t$, and likewise for $u$ and $s$) turns the seed's update into F4 and F5
# with the *same* $x_t$. `refsnn/neurons/lif.py` states the same shift the other way round: keep
# the state labels and read the seed's $x_t$ as $x_{t+1}$. What the shift changes is which
# spikes a loss over "steps $0, \dots, T-1$" reads. The seed's $s_0, \dots, s_{T-1}$ are
# refsnn's $s_{-1}, \dots, s_{T-2}$: the first comes from the initial state alone, and the
# last input $x_{T-1}$ reaches no spike that the loss reads (with $T = 1$ the output does
# not depend on the input at all). refsnn's loss reads $s_0, \dots, s_{T-1}$, so every
# input counts, and a layer with $T = 1$ is a feed-forward layer.

# %%
rng = np.random.default_rng(3)
T, B, M, N = 8, 2, 3, 4
sg = surrogate("sigmoid", 4.0)
cfg = LIFConfig(M, N, surrogate=sg, adaptation=True)        # soft reset, attached
params = init_params(cfg, rng, w_scale=1.5, b=0.2,
                     alpha=rng.uniform(0.6, 0.95, N), theta=rng.uniform(0.5, 1.5, N),
                     gamma=rng.uniform(0.5, 1.5, N), beta=rng.uniform(0.05, 0.4, N),
                     rho=rng.uniform(0.6, 0.95, N), kappa=rng.uniform(0.3, 1.2, N))
x = rng.normal(0.6, 1.0, (T, B, M))
state0 = {"v": rng.normal(0.0, 0.4, (B, N)), "u": rng.normal(0.0, 0.4, (B, N))}

def seed_readout(traj):
    # The seed's s_0 .. s_{T-1}, in refsnn's labels s_{-1} .. s_{T-2}.
    return np.concatenate([traj.s_init[None], traj.s[:-1]])

x_late = x.copy()
x_late[-1] += 1.0                     # change only the last input
traj, traj_late = layer_forward(cfg, params, x, state0), layer_forward(cfg, params, x_late, state0)
print("seed's readout changed by the last input:  ", not np.array_equal(seed_readout(traj), seed_readout(traj_late)))
print("refsnn's last membrane changed by it:       ", not np.array_equal(traj.v[-1], traj_late.v[-1]))
print("spikes in this trajectory:", int(traj.s.sum()), "of", traj.s.size)

# %% [markdown]
# ## 2. Unrolling and the chain rule
#
# Unrolled over time, the layer is a deep feed-forward graph with shared parameters.
# Each quantity of step $t$ feeds these later ones:
#
# | quantity | feeds | local partial |
# |---|---|---|
# | $v_t$ | $s_t$ (F6), $v_{t+1}$ (F4), the loss | $\sigma'(v_t - \theta)$, $\alpha$, $a^v_t$ |
# | $s_t$ | $v_{t+1}$ (F4), $u_{t+1}$ (F5), the loss | $-\gamma$, $\kappa$, $a^s_t$ |
# | $u_t$ | $v_{t+1}$ (through $d_{t+1}$, F3–F4), $u_{t+1}$ (F5) | $-\beta$, $\rho$ |
#
# Here $a^v_t = \partial L/\partial v_t|_\text{direct}$ and
# $a^s_t = \partial L/\partial s_t|_\text{direct}$ are the loss's own partials, and
# $\sigma'$ stands in for $dH/dx$ (notebooks 01 and 02). Write
# $\delta q_t = dL/dq_t$ for the *total* derivative of the loss with respect to $q_t$,
# through everything $q_t$ influences. The chain rule says: the direct partial, plus, for
# each quantity that $q_t$ feeds, that quantity's total derivative times the local
# partial.
#
# $$ \delta s_t = a^s_t - \gamma\, \delta v_{t+1} + \kappa\, \delta u_{t+1} \tag{B1} $$
#
# $$ \delta v_t = a^v_t + \alpha\, \delta v_{t+1} + \sigma'(v_t - \theta)\, \delta s_t \tag{B2} $$
#
# $$ \delta u_t = \rho\, \delta u_{t+1} - \beta\, \delta v_{t+1} \tag{B3} $$
#
# All adjoints at $t = T$ are zero, and the recursion runs for $t = T-1, \dots, 0, -1$, with
# $a_{-1} = 0$ (no loss reads the initial state). Within a step, B1 comes first, since
# B2 needs $\delta s_t$. These are seed 000's three recursions, in refsnn's labels, plus the
# direct membrane term $a^v_t$ that a membrane loss needs (the seed omits it). In
# `refsnn/neurons/lif.py`, B1–B3 carry more terms (the reset gates of a hard reset, the recurrent
# path), which vanish for this layer; B4–B5 reduce to $\delta I_t = \delta v_t$, because
# $v_t$ contains $I_t$ with coefficient 1.
#
# **Parameters.** A parameter used at every step collects one term per step, and per
# batch row (the fan-in rule):
#
# $$ \frac{\partial L}{\partial W} = \sum_t \delta I_t^\top x_t, \quad
#    \frac{\partial L}{\partial b} = \sum_t \delta I_t, \quad
#    \frac{\partial L}{\partial x_t} = \delta I_t\, W, \qquad \delta I_t = \delta v_t \tag{G1} $$
#
# $$ \frac{\partial L}{\partial \alpha} = \sum_t \delta v_t\, v_{t-1}, \qquad
#    \frac{\partial L}{\partial \beta} = -\sum_t \delta v_t\, u_{t-1} \tag{G2} $$
#
# $$ \frac{\partial L}{\partial \gamma} = -\sum_t \delta v_t\, s_{t-1} \tag{G3} $$
#
# $$ \frac{\partial L}{\partial \rho} = \sum_t \delta u_t\, u_{t-1}, \qquad
#    \frac{\partial L}{\partial \kappa} = \sum_t \delta u_t\, s_{t-1} \tag{G4} $$
#
# $$ \frac{\partial L}{\partial \theta} = -\sum_{t=-1}^{T-1} \sigma'(v_t - \theta)\, \delta s_t \tag{G5} $$
#
# and the initial state's gradients are $\delta v_{-1}$ and $\delta u_{-1}$. Sums over $t$
# run over $0, \dots, T-1$ unless marked, and products of per-neuron vectors are
# element-wise. In the row orientation, $\delta I_t$ is $(B, N)$, $x_t$ is $(B, M)$, and
# $\delta I_t^\top x_t$ is $(N, M)$, the shape of $W$; the matrix product sums the batch.
#
# Seed 000's $\partial L/\partial w = \sum_t \delta^v_{t+1} x_t$ is G1 after the renaming of
# section 1: its $\delta^v_{t+1}$ is refsnn's $\delta v_t$.

# %%
# The unrolled graph of three steps, t-1, t, t+1: nodes are the quantities of each step,
# every edge carries its local partial (the Jacobian factor of the chain rule).
fig, ax = plt.subplots(figsize=(11, 5.2))
rows = {"L": 4.0, "s": 3.0, "v": 2.0, "u": 1.0, "x": 0.0}
steps = ["t-1", "t", "t+1"]
col = {k: 3.2 * i for i, k in enumerate(steps)}
names = {"L": "L", "s": "s", "v": "v", "u": "u", "x": "x"}
pos = {}
for k in steps:
    for q, y in rows.items():
        dx = {"L": 0.9, "x": -0.9}.get(q, 0.0)
        pos[q, k] = (col[k] + dx, 0.3 if q == "x" else y)
        label = "$L_{%s}$" % k if q == "L" else "$%s_{%s}$" % (q, k)
        ax.text(*pos[q, k], label, ha="center", va="center", fontsize=12,
                bbox=dict(boxstyle="circle,pad=0.3", fc="white", ec="k"))
edges = []           # (from, to, factor, label offset along the edge)
for i, k in enumerate(steps):
    edges += [(("x", k), ("v", k), "$W^\\top$"), (("v", k), ("s", k), "$\\sigma'(v_{%s}-\\theta)$" % k),
              (("s", k), ("L", k), "$a^s_{%s}$" % k), (("v", k), ("L", k), "$a^v_{%s}$" % k)]
    if i + 1 < len(steps):
        n = steps[i + 1]
        edges += [(("v", k), ("v", n), "$\\alpha$"), (("s", k), ("v", n), "$-\\gamma$"),
                  (("s", k), ("u", n), "$\\kappa$"), (("u", k), ("v", n), "$-\\beta$"),
                  (("u", k), ("u", n), "$\\rho$")]
for a, b, factor in edges:
    (x0, y0), (x1, y1) = pos[a], pos[b]
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                arrowprops=dict(arrowstyle="-|>", color="tab:blue", shrinkA=14, shrinkB=14, lw=1.2))
    frac = 0.5 if a[1] == b[1] else 0.3
    ax.text(x0 + frac * (x1 - x0), y0 + frac * (y1 - y0), factor, fontsize=10, color="tab:red",
            ha="center", va="center", bbox=dict(fc="white", ec="none", pad=0.5))
ax.set_xlim(-1.4, 7.8); ax.set_ylim(-0.6, 4.6); ax.axis("off")
ax.set_title("three steps of the unrolled layer; each edge carries its Jacobian factor")
plt.tight_layout(); plt.show()
n_edges = len(edges)

# %% [markdown]
# *Figure 1.* The layer unrolled over three steps, time running left to right. A node
# is one quantity of one step; an edge from $q$ to $r$ means that $r$ is computed from $q$
# (F3–F6), and its red label is the local partial $\partial r / \partial q$. The backward
# pass walks the edges against their direction: the total derivative of a node is its
# direct partial plus, over its outgoing edges, the edge's factor times the total
# derivative at the edge's head. Read off at $s_t$: $\delta s_t = a^s_t - \gamma\,\delta v_{t+1}
# + \kappa\,\delta u_{t+1}$ (B1); at $v_t$: B2; at $u_t$: B3. The two edges that leave $s_t$
# for step $t+1$ are why a spike's effect on the loss needs the adjoints of the *next*
# step.

# %% [markdown]
# ## 3. Two steps by hand
#
# $T = 2$, one batch row, $M = 2$ inputs, $N = 3$ neurons, in surrogate mode: Heaviside
# spikes forward, the triangle surrogate of half-width 1 (seed 000's "fast sigmoid" with
# its $\alpha = 1$) backward. The initial membrane of neuron 0 is above threshold, so
# $s_{-1}$ has a spike and the reset enters the very first step. Every line below is one
# equation, labelled; the arrays are `(1, 3)` rows, so the products are per neuron.

# %%
sg2 = surrogate("triangle", 1.0)
cfg2 = LIFConfig(2, 3, surrogate=sg2, adaptation=True)
p2 = init_params(cfg2, 0, W=np.array([[0.9, 0.3], [0.5, -0.4], [0.2, 0.7]]), b=np.array([0.1, 0.0, -0.1]),
                 alpha=0.8, theta=1.0, gamma=0.9, beta=0.3, rho=0.7, kappa=0.5)
x2 = np.array([[[1.0, 0.5]], [[0.6, 1.2]]])                     # (T=2, B=1, M=2)
st2 = {"v": np.array([[1.2, 0.6, 0.4]]), "u": np.array([[0.3, 0.0, 0.1]])}
a_s = np.array([[[0.5, -1.0, 0.3]], [[-0.2, 0.4, 1.0]]])       # ∂L/∂s_t|direct
a_v = np.array([[[0.1, 0.2, -0.3]], [[0.6, -0.5, 0.2]]])       # ∂L/∂v_t|direct

al, th, ga, be, rh, ka = (p2[k] for k in ("alpha", "theta", "gamma", "beta", "rho", "kappa"))
W, b = p2["W"], p2["b"]
d = sg2.derivative                                             # σ'

# Forward, t = -1, 0, 1.
v_m1, u_m1 = st2["v"], st2["u"]
s_m1 = heaviside(v_m1 - th)                                    # s_{-1}
v0 = al * v_m1 + (x2[0] @ W.T + b) - be * u_m1 - ga * s_m1     # (F1, F3, F4)
u0 = rh * u_m1 + ka * s_m1                                     # (F5)
s0 = heaviside(v0 - th)                                        # (F6)
v1 = al * v0 + (x2[1] @ W.T + b) - be * u0 - ga * s0           # (F1, F3, F4)
u1 = rh * u0 + ka * s0                                         # (F5)
s1 = heaviside(v1 - th)                                        # (F6)

# Backward, t = 1: nothing comes from t = 2.
ds1 = a_s[1]                                                   # (B1)
dv1 = a_v[1] + d(v1 - th) * ds1                                # (B2)
du1 = np.zeros_like(dv1)                                       # (B3): u_1 feeds nothing
# t = 0
ds0 = a_s[0] - ga * dv1 + ka * du1                             # (B1)
dv0 = a_v[0] + al * dv1 + d(v0 - th) * ds0                     # (B2)
du0 = rh * du1 - be * dv1                                      # (B3)
# t = -1: the initial state; no direct partials.
ds_m1 = -ga * dv0 + ka * du0                                   # (B1)
dv_m1 = al * dv0 + d(v_m1 - th) * ds_m1                        # (B2)
du_m1 = rh * du0 - be * dv0                                    # (B3)

by_hand = {
    "W": dv0.T @ x2[0] + dv1.T @ x2[1],                        # (G1), δI_t = δv_t
    "b": (dv0 + dv1).sum(0),
    "alpha": (dv0 * v_m1 + dv1 * v0).sum(0),                   # (G2)
    "beta": -(dv0 * u_m1 + dv1 * u0).sum(0),
    "gamma": -(dv0 * s_m1 + dv1 * s0).sum(0),                  # (G3)
    "rho": (du0 * u_m1 + du1 * u0).sum(0),                     # (G4)
    "kappa": (du0 * s_m1 + du1 * s0).sum(0),
    "theta": -(d(v_m1 - th) * ds_m1 + d(v0 - th) * ds0 + d(v1 - th) * ds1).sum(0),   # (G5)
}

traj2 = layer_forward(cfg2, p2, x2, st2)
g2 = layer_backward(traj2, p2, ds=a_s, dv=a_v)
print("spikes s_-1, s_0, s_1:", s_m1.ravel(), s0.ravel(), s1.ravel())
print("forward:  max |v by hand - refsnn| =", np.abs(np.stack([v0, v1]) - traj2.v).max())
for name, value in by_hand.items():
    print(f"d{name:6s} max |by hand - layer_backward| = {np.abs(value - g2.params[name]).max():.1e}")
print("dv_-1, du_-1:", np.abs(dv_m1 - g2.state0["v"]).max(), np.abs(du_m1 - g2.state0["u"]).max())
print("dx:         ", np.abs(np.stack([dv0 @ W, dv1 @ W]) - g2.x).max())

# %% [markdown]
# The differences are rounding: the two computations add the same terms in a different
# order (refsnn forms $m_t + d_t - \gamma s_{t-1}$ with $d_t = I_t - \beta u_{t-1}$).
#
# ## 4. Finite differences on the smooth twin
#
# A surrogate gradient is not the gradient of any function, so finite differences cannot
# check it. They can check the *same backward code* where it is exact: in the smooth twin
# (`smooth_twin(cfg)`, i.e. `forward="smooth"`) the spike is the surrogate's primitive,
# $s_t = F(v_t - \theta)$, and the backward pass's $\sigma' = F'$ is then its true
# derivative. `refsnn.gradcheck.check_gradients` perturbs one coordinate at a time,
# float64, with a fourth-order central stencil ($h = 2\times 10^{-4}$), and reports the
# worst relative error $|a - n| / \max(|a|, |n|, \text{floor})$.
#
# The loss is linear in the trajectory, $L = \sum a^s_t s_t + \sum a^v_t v_t$ with fixed
# random weights, so its direct partials are exactly $a^s$ and $a^v$. Every parameter,
# the input $x$ and the initial state are checked.

# %%
twin = smooth_twin(cfg)
a_s8 = rng.normal(size=(T, B, N))
a_v8 = rng.normal(size=(T, B, N))

def linear_loss(traj):
    return float(np.sum(a_s8 * traj.s) + np.sum(a_v8 * traj.v))

def gradients(config):
    tr = layer_forward(config, params, x, state0)
    g = layer_backward(tr, params, ds=a_s8, dv=a_v8)
    flat = dict(g.params, x=g.x)
    flat.update({f"state0.{k}": v for k, v in g.state0.items()})
    return flat

def loss_of_everything(flat):
    p = {k: flat[k] for k in params}
    s0 = {k: flat[f"state0.{k}"] for k in state0}
    return linear_loss(layer_forward(twin, p, flat["x"], s0))

point = dict(params, x=x)
point.update({f"state0.{k}": v for k, v in state0.items()})
results = check_gradients(loss_of_everything, point, gradients(twin), eps=2e-4, order=4, rtol=1e-7, floor=1e-4)
print(format_results(results))

# %% [markdown]
# Every array agrees to $10^{-9}$ relative or better. A check is only worth something if it
# can fail, so here is a plausible mistake: forgetting that the reset spike depends on
# the membrane, i.e. dropping $-\gamma\,\delta v_{t+1}$ from B1. That is exactly the
# *detached* reset (`detach_reset=True`, notebook 04), a legitimate choice for training
# but not the derivative of this forward pass.

# %%
wrong = check_gradients(loss_of_everything, point, gradients(replace(twin, detach_reset=True)),
                        eps=2e-4, order=4, rtol=1e-7, floor=1e-4)
print(format_results(wrong))

# %% [markdown]
# Every array fails, with relative errors of order 1, not $10^{-7}$. In the smooth twin
# every step "spikes" a little ($F$ is never exactly 0 or 1), so the missing reset path
# changes every adjoint, and through them every gradient.
#
# ## 5. The package's verification route
#
# `refsnn.verify` runs the same comparison for every configuration on its grid (reset
# kind × detaching × adaptation × synapse × recurrence × loss) on a two-layer network,
# along two exact routes: (a) the smooth twin, as above, and (b) the piecewise-linear
# regime (Heaviside spikes with the true, zero derivative), where the model between
# spikes is polynomial in its inputs and central differences agree wherever a
# perturbation flips no spike. This is the grid point of seed 000's neuron.

# %%
report = check_point(GridPoint(reset="subtract", detach=False, adaptation=True,
                               synapse=False, recurrent=False, loss="ce_count"))
print(f"{report.point.name}: passed={report.passed}")
print(f"  smooth twin:      worst relative error {report.smooth_max_rel:.2e} at {report.smooth_worst}")
print(f"  piecewise-linear: worst relative error {report.piecewise_max_rel:.2e} at {report.piecewise_worst}"
      f" ({report.piecewise_checked} coordinates checked, {report.piecewise_skipped} skipped)")
print("  spikes per layer:", report.n_spikes)

# %% [markdown]
# ## 5b. What $\delta v_t$ looks like in a trained network
#
# The same recursions in a network that has learnt something: a hidden layer of 24 of
# these neurons (adaptive, soft reset) feeding 3 spiking readout neurons, trained for 6
# epochs with Adam on a small random-manifold task (the set-up of notebook 00, smaller).
# The hidden layer's direct spike partial $a^s_t$ is the readout's input gradient (the
# layer above sees $s_t$ as its input), and B1–B3 carry it back in time.

# %%
from refsnn import Network, data, network_backward, network_forward, network_init, optim
from refsnn.losses import spike_count_cross_entropy
from refsnn.network import flat_params, unflat_params

Xh, yh = data.randman(n_classes=3, n_units=20, n_steps=40, n_samples_per_class=60, seed=2, dtype=np.float64)
sg_h = surrogate("sigmoid", 5.0)
net_h = Network((LIFConfig(20, 24, surrogate=sg_h, adaptation=True), LIFConfig(24, 3, surrogate=sg_h)))
params_h = network_init(net_h, 0, per_layer=[dict(alpha=0.95, beta=0.05, rho=0.98, w_scale=3.0),
                                             dict(alpha=0.95, w_scale=3.0, b=0.04)])
opt_h = optim.Adam(lr=0.01)
trained_keys = lambda flat: {k: v for k, v in flat.items() if k.split(".")[1] in ("W", "b")}
state_h = optim.init_state(opt_h, trained_keys(flat_params(params_h)))
losses_h = []
for epoch in range(6):
    for xb, yb in data.batches(Xh, yh, 30, rng=epoch):
        tr = network_forward(net_h, params_h, xb)
        l = spike_count_cross_entropy(tr[-1], yb)
        g = network_backward(tr, params_h, ds=[None, l.ds])
        gf, _ = optim.clip_by_global_norm(trained_keys(flat_params(g.params)), 1.0)
        new, state_h = optim.step(opt_h, trained_keys(flat_params(params_h)), gf, state_h)
        params_h = unflat_params({**flat_params(params_h), **new}, 2)
        losses_h.append(l.value)
print(f"training loss {np.mean(losses_h[:6]):.2f} -> {np.mean(losses_h[-6:]):.2f}")

# δv_t of the hidden layer for one sample of the trained network.
x1, y1 = np.ascontiguousarray(Xh[:1].transpose(1, 0, 2)), yh[:1]
tr1 = network_forward(net_h, params_h, x1)
g1 = network_backward(tr1, params_h, ds=[None, spike_count_cross_entropy(tr1[-1], y1).ds])
dv_h = g1.layers[0].adjoints["dv"][:, 0, :]                                   # (T, N)
near = sg_h.derivative(tr1[0].v[:, 0, :] - params_h[0]["theta"]) > 0.5 * sg_h.height
lim = np.abs(dv_h).max()
fig, ax = plt.subplots(figsize=(10, 3.8))
im = ax.imshow(dv_h.T, aspect="auto", origin="lower", cmap="RdBu_r", vmin=-lim, vmax=lim,
               extent=(-0.5, dv_h.shape[0] - 0.5, -0.5, dv_h.shape[1] - 0.5))
t_sp, n_sp = np.nonzero(tr1[0].s[:, 0, :])
ax.scatter(t_sp, n_sp, s=6, color="k", label="spike $s_t = 1$")
ax.set(xlabel="time step t", ylabel="hidden neuron n", title=f"$\\delta v_t$ of the trained hidden layer (one sample, class {y1[0]})")
cbar = fig.colorbar(im, ax=ax); cbar.set_label("$\\delta v_t = dL/dv_t$")
ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=8, borderaxespad=0.2)   # above: the image fills the axes
plt.tight_layout(); plt.show()
ratio_near = np.abs(dv_h[near]).mean() / np.abs(dv_h[~near]).mean()
print(f"mean |δv_t| where σ'(v_t - θ) > height/2: {np.abs(dv_h[near]).mean():.2e}, elsewhere "
      f"{np.abs(dv_h[~near]).mean():.2e} (ratio {ratio_near:.1f}); last step |δv_(T-1)| max {np.abs(dv_h[-1]).max():.2e}")

# %% [markdown]
# *Figure 2.* $\delta v_t = dL/dv_t$ of the trained hidden layer for one sample: time runs
# left to right, one row per neuron, red where raising $v_t$ would raise the loss, blue
# where it would lower it; dots are the layer's spikes. The adjoints are largest where the
# membrane is close to the threshold, where $\sigma'$ lets the spike path of B2 in (on
# average about 2.5 times their size elsewhere, printed above and asserted); between those
# steps they are carried back by the leak $\alpha$ (B2) and the reset and adaptation paths
# (B1, B3). At the last step nothing is carried back: $\delta v_{T-1} =
# \sigma'(v_{T-1} - \theta)\, a^s_{T-1}$.

# %% [markdown]
# ## 6. Checks

# %%
# 1. Index shift: the seed's readout never sees the last input; refsnn's does. With T = 1 the
#    seed's readout (s_{-1}) does not depend on the input at all, refsnn's (s_0) does: a
#    feed-forward layer.
assert np.array_equal(seed_readout(traj), seed_readout(traj_late))
assert not np.array_equal(traj.v[-1], traj_late.v[-1])
one, one_late = layer_forward(cfg, params, x[:1], state0), layer_forward(cfg, params, x_late[-1:] + 5.0, state0)
assert np.array_equal(seed_readout(one)[:1], seed_readout(one_late)[:1])
assert not np.array_equal(one.s, one_late.s)
# 2. T = 2 by hand equals refsnn, forward and backward, up to rounding.
assert s_m1[0, 0] == 1 and s0.sum() + s1.sum() >= 2                  # resets do happen
assert np.allclose(np.stack([v0, v1]), traj2.v, rtol=0, atol=1e-15)
assert np.array_equal(np.stack([s0, s1]), traj2.s)
for name, value in by_hand.items():
    assert np.allclose(value, g2.params[name], rtol=1e-13, atol=1e-14), name
assert np.allclose(dv_m1, g2.state0["v"], rtol=1e-13, atol=1e-14)
assert np.allclose(du_m1, g2.state0["u"], rtol=1e-13, atol=1e-14)
assert np.allclose(np.stack([dv0 @ W, dv1 @ W]), g2.x, rtol=1e-13, atol=1e-14)
assert np.allclose(np.stack([ds0, ds1]), g2.adjoints["ds"], rtol=1e-13, atol=1e-14)
assert np.allclose(np.stack([du0, du1]), g2.adjoints["du"], rtol=1e-13, atol=1e-14)
# 3. Smooth twin: every array passes at rtol 1e-7; a missing reset term fails.
assert {r.name for r in results} == set(params) | {"x", "state0.v", "state0.u"}
assert all(r.passed for r in results), format_results(results)
assert max(r.max_rel_error for r in results) < 1e-9          # "10^-9 relative or better"
assert not any(r.passed for r in wrong), format_results(wrong)
assert min(r.max_rel_error for r in wrong) > 0.1              # "relative errors of order 1"
#    "In the smooth twin every step spikes a little": 0 < F(v - θ) < 1 everywhere.
twin_traj = layer_forward(twin, params, x, state0)
assert np.all((twin_traj.s > 0) & (twin_traj.s < 1))
# 4. The package's own route on this grid point.
assert report.passed and report.smooth_max_rel < 1e-7 and report.piecewise_max_rel < 1e-7
# 5. The figures: the graph has the 4 edges of each of 3 steps and the 5 between 2 pairs
#    of steps; in the trained network δv is largest near threshold, and at t = T-1 it is
#    B2 with nothing carried back.
assert n_edges == 3 * 4 + 2 * 5
assert np.mean(losses_h[-6:]) < 0.5 * np.mean(losses_h[:6])
assert 2 < ratio_near < 3, ratio_near                       # "about 2.5 times"
a_s_last = g1.layers[0].adjoints["ds"][-1, 0]
assert np.allclose(dv_h[-1], sg_h.derivative(tr1[0].v[-1, 0] - params_h[0]["theta"]) * a_s_last, rtol=1e-13, atol=0)
print("all checks passed")

# %% [markdown]
# **Exercise.** Implement the stubs in `exercises/ex03_bptt_by_hand.py`, then run `python exercises/check.py ex03` from the repository's root. It prints PASS or FAIL for each function, with the worst relative error and a hint. The solutions are in `exercises/solutions/ex03_bptt_by_hand.py`.
