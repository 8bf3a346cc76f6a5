# %% [markdown]
# # 13 · BPTT, e-prop and the three-factor rule
#
# (The seed sections cited below are summarised, in refsnn's symbols, in `docs/seeds.md`.)
#
# BPTT computes the exact (surrogate) gradient, but it runs backwards in time over a
# stored trajectory: its memory grows with $T$ and it cannot learn while the network
# runs. Seed 002 names two online alternatives: **e-prop** (eligibility traces carried
# forward in time) and the **three-factor rule** $\Delta w_i \propto -e\,\varphi(u)\,x_i$
# of neuromorphic on-chip learning. This notebook shows exactly where each one *is*
# BPTT, and measures by how much it departs elsewhere.
#
# Everything is in `refsnn.neurons.lif`'s symbols (F1–F6, B1–B5, G1): $x_t$ drives
# $v_t$, the reset of step $t$ uses the previous spike $\tilde s_{t-1} r_t$, the gates
# are $g^m_t = 1 - \tilde s_{t-1} r_m$, $g^d_t = 1 - \tilde s_{t-1} r_d$, and
# $\sigma'_t = \sigma'(v_t - \theta)$. The derivation is the docstring of
# `refsnn.learning.eprop`; here are its results.
#
# **The factorisation.** A weight enters only the input current, with presynaptic
# signal $p_{i,t}$ ($x_{i,t}$ for $W$, $s_{i,t-1}$ for $R$, 1 for $b$). Split neuron
# $j$'s own spike into an *external* copy (loss, layer above, recurrent weights) and an
# *internal* copy (its own reset, adaptation current and, with lif's adaptive threshold,
# threshold). Then, exactly,
#
# $$\frac{dL}{dW_{ji}} = \sum_t \Big(L_{j,t}\, e_{ji,t} + a^v_{j,t}\, \varepsilon^v_{ji,t}\Big), \qquad e_{ji,t} = \sigma'_{j,t}\, \varepsilon^v_{ji,t} \tag{13.1}$$
#
# where the *learning signal* $L_{j,t}$ is the total derivative of $L$ with respect to
# the external copy, and the *eligibility vector* $\varepsilon_{ji,t}$ the derivative of
# the neuron's state through its own dynamics, computed forward ($\varepsilon_{-1} = 0$):
#
# $$\begin{aligned}
# \varepsilon^c_t &= \lambda\,\varepsilon^c_{t-1} + p_t\\
# \varepsilon^v_t &= \alpha\, g^m_t\, \varepsilon^v_{t-1} + g^d_t\,(\varepsilon^c_t - \beta\,\varepsilon^u_{t-1}) - [\text{reset own, attached}]\; r_t\,\sigma'_{t-1}\,\varepsilon^v_{t-1}\\
# \varepsilon^u_t &= \rho\,\varepsilon^u_{t-1} + [\text{adaptation own}]\;\kappa\,\sigma'_{t-1}\,\varepsilon^v_{t-1}
# \end{aligned} \tag{13.2}$$
#
# The signal is BPTT's spike adjoint (B1) minus the paths the trace took over:
#
# $$L_t = \delta s_t + [\text{reset own, attached}]\; r_{t+1}\,\delta v_{t+1} - [\text{adaptation own}]\;\kappa\,\delta u_{t+1}. \tag{13.3}$$
#
# Any split is exact. With nothing own, $L_t = \delta s_t$ and the trace holds every
# spike fixed; with everything own, $L_t = a^s_t + (\delta I_{t+1} R)_j$, only the paths
# that leave the neuron (Bellec et al. 2020's split has the adaptation own and the reset
# in the signal; refsnn's `eprop.BELLEC_OWN`). The adaptive threshold $A_t = \theta + \beta_a a_t$
# adds one more component, $\varepsilon^a_t = \rho_a \varepsilon^a_{t-1} + [\text{own}]\,\sigma'_{t-1}(\varepsilon^v_{t-1} - \beta_a \varepsilon^a_{t-1})$,
# and $e_t = \sigma'_t(\varepsilon^v_t - \beta_a\varepsilon^a_t)$ (see the module docstring).
#
# **e-prop** replaces $L_t$ by what is known at time $t$: the readout error sent back
# through fixed weights, $\hat L_{j,t} = \sum_k B_{jk}\,\partial L/\partial y_{k,t}$
# ($B = W_\text{out}^\top$: symmetric; $B$ random: random e-prop), and pairs it with
# the trace filtered by the readout's own dynamics,
#
# $$\bar e^c_t = \lambda_o\, \bar e^c_{t-1} + e_t, \qquad \bar e_t = \alpha_o\,\bar e_{t-1} + \bar e^c_t, \qquad \Delta W \propto -\sum_t \hat L_t\, \bar e_t. \tag{13.4}$$
#
# It is the exact gradient when the hidden layer is not recurrent, is the only hidden
# layer, the loss reads only the readout membrane, and the trace owns every own path of
# the spike (the reset when attached); with Bellec's trace, the reset must be detached.

# %%
# %matplotlib inline
import time

import numpy as np
import matplotlib.pyplot as plt

np.set_printoptions(precision=4, suppress=False, linewidth=100)
plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})

# %%
from refsnn import LIFConfig, Network, init_params, layer_backward, layer_forward, network_backward, network_forward, surrogate
from refsnn.learning import eprop
from refsnn.learning.three_factor import presynaptic_trace, three_factor_update
from refsnn.training import data, optim

# %% [markdown]
# ## 1. The factorisation is BPTT, for recurrent networks too
#
# A recurrent hidden layer of 8 adaptive LIF neurons with a synaptic current and the
# **attached** hard reset that drops the input (every term of 13.2 is active), under a
# loss on its spikes. For the three splits we build the signal 13.3 from
# `layer_backward`'s adjoints, run the trace 13.2 forward (`eprop.factorised_gradient`
# never stores the trajectory) and compare 13.1 with BPTT's G1.

# %%
rng = np.random.default_rng(0)
sg = surrogate("sigmoid", 4.0)
cfg = LIFConfig(3, 8, surrogate=sg, reset="hard_drop_input", adaptation=True, synapse=True, recurrent=True)
p = init_params(cfg, rng, w_scale=2.0, b=0.3)
T, B = 60, 2
x = rng.normal(0.5, 1.0, (T, B, 3))
traj = layer_forward(cfg, p, x)
a_s = rng.normal(0.0, 1.0, traj.s.shape)            # ∂L/∂s_t|direct of a loss on the spikes
bptt = layer_backward(traj, p, a_s)
print("spikes:", int(traj.s.sum()))
factor_err = {}
for own in [(), ("adaptation",), ("reset", "adaptation")]:
    L = eprop.learning_signal(traj, p, bptt, own)
    g = eprop.factorised_gradient(cfg, p, x, L, None, None, own)
    factor_err[own] = max(np.abs(g[k] - bptt.params[k]).max() / np.abs(bptt.params[k]).max() for k in g)
    print(f"own = {str(own):26s} max relative error over W, b, R: {factor_err[own]:.1e}")

# %% [markdown]
# ## 2. Learning signals and traces over time
#
# A non-recurrent hidden layer (10 LIF neurons, detached soft reset) drives a leaky
# readout of 2 units; the loss is the per-step squared error of the readout. Here
# e-prop is exact. Row 1: the exact learning signal of three neurons, BPTT's
# $L_t = \sum_k W_{kj}\,\delta c^\text{out}_{k,t}$, which looks into the future;
# row 2: e-prop's $\hat L_t = \sum_k W_{kj}\,\partial L/\partial y_{k,t}$, which does not;
# row 3: the traces $e_{ji,t}$ of one synapse per neuron, and their filtered
# $\bar e_{ji,t}$. The products $L\,e$ and $\hat L\,\bar e$ differ at every step but
# have the same sum over time.

# %%
hid = LIFConfig(4, 10, surrogate=sg, reset="subtract", detach_reset=True)
out = LIFConfig(10, 2, surrogate=sg, reset="none", spiking=False)
net = Network((hid, out))
params = [init_params(hid, rng, w_scale=2.5, b=0.2, alpha=0.9), init_params(out, rng, alpha=0.85)]
T2 = 80
x2 = (rng.random((T2, 1, 4)) < 0.3) * 1.0
y2 = 0.5 * np.sin(np.linspace(0, 3 * np.pi, T2))[:, None, None] * np.ones((1, 1, 2))
trajs = network_forward(net, params, x2)
err = trajs[1].v - y2                                       # ∂L/∂y_t of ½Σ(y − y*)²
g_bptt = network_backward(trajs, params, None, [None, err])
L_exact = g_bptt.layers[1].x                                # the readout's input gradient = L_t
res = eprop.eprop_gradients(net, params, x2, eprop.step_mse(y2), record=True)
ebar = np.zeros_like(res.record["e"])
for t in range(T2):                                         # 13.4 for the figure (α_o = 0.85, no synapse)
    ebar[t] = (0.85 * ebar[t - 1] if t else 0) + res.record["e"][t]
eprop_err = max(np.abs(res.grads[l][k] - g_bptt.params[l][k]).max() / np.abs(g_bptt.params[l][k]).max()
                for l in range(2) for k in ("W", "b"))
print(f"e-prop vs BPTT, non-recurrent: max relative error {eprop_err:.1e}")

neurons = [int(j) for j in np.argsort(-trajs[0].s[:, 0].sum(0))[:3]]
fig, ax = plt.subplots(3, 3, figsize=(11, 6.5), sharex=True)
t_ax = np.arange(T2)
for c, j in enumerate(neurons):
    i = int(np.argmax(x2[:, 0].sum(0)))
    ax[0, c].plot(t_ax, L_exact[:, 0, j], color="tab:blue")
    ax[0, c].set(title=f"neuron {j}", ylabel="BPTT signal $L_t$")
    ax[1, c].plot(t_ax, res.record["signal"][:, 0, j], color="tab:orange")
    ax[1, c].set(ylabel=r"e-prop signal $\hat L_t$")
    ax[2, c].plot(t_ax, res.record["e"][:, 0, j, i], color="tab:green", label="$e_{ji,t}$")
    ax[2, c].plot(t_ax, ebar[:, 0, j, i], color="k", lw=1, label=r"$\bar e_{ji,t}$")
    ax[2, c].set(xlabel="time step t", ylabel=f"traces, input {i}")
    ax[2, c].legend(fontsize=8)
fig.suptitle("Learning signals (rows 1-2) and eligibility traces (row 3) of three hidden neurons")
plt.tight_layout(); plt.show()

# %% [markdown]
# *What to see:* BPTT's signal (row 1) rises before the errors it anticipates, e-prop's
# (row 2) follows the error as it happens; the filtered trace (black, row 3) is the
# trace smeared forward by the readout's leak, which is how e-prop recovers what the
# signal no longer looks ahead for.
#
# ## 3. Where e-prop departs: recurrence, and Bellec's trace with an attached reset

# %%
def eprop_vs_bptt(reset, detach, recurrent, own, seed=1):
    r = np.random.default_rng(seed)
    h = LIFConfig(4, 12, surrogate=sg, reset=reset, detach_reset=detach, adaptation=True, synapse=True,
                  recurrent=recurrent)
    o = LIFConfig(12, 2, surrogate=sg, reset="none", spiking=False, synapse=True)
    n = Network((h, o))
    ps = [init_params(h, r, w_scale=2.0, b=0.3), init_params(o, r, alpha=0.8, lam=0.6)]
    xs = r.normal(0.5, 1.0, (50, 3, 4))
    ys = r.normal(0.0, 1.0, (50, 3, 2))
    tr = network_forward(n, ps, xs)
    ref = network_backward(tr, ps, None, [None, (tr[1].v - ys) / 3]).params
    got = eprop.eprop_gradients(n, ps, xs, eprop.step_mse(ys), own=own).grads
    return eprop.alignment(got[:1], ref[:1])

cases = {}
for label, args in {"hard reset attached, own = reset+adaptation": ("hard_keep_input", False, False, eprop.OWN_PATHS),
                    "hard reset attached, Bellec's split (reset in signal)": ("hard_keep_input", False, False, eprop.BELLEC_OWN),
                    "hard reset detached, Bellec's split (reset in signal)": ("hard_keep_input", True, False, eprop.BELLEC_OWN),
                    "recurrent, own = reset+adaptation": ("subtract", False, True, eprop.OWN_PATHS)}.items():
    cases[label] = eprop_vs_bptt(*args)
    print(f"{label:50s} cosine {cases[label]['cosine']:.6f}   relative difference {cases[label]['rel_diff']:.2e}")

# %% [markdown]
# ## 4. The three-factor rule
#
# For one step ($T = 1$) of a feed-forward layer, 13.2 gives $\varepsilon^v_0 = g^d_0 x_0$
# and 13.1 is $\partial L/\partial W_{ji} = \sum_b \underbrace{g^d_0\,\delta s_{j}}_{e}\;
# \underbrace{\sigma'(v_j - \theta_j)}_{\varphi(u)}\;x_i$: seed 002's three factors.
# Summed over time with the presynaptic activity replaced by its trace
# $\bar x_t = \alpha \bar x_{t-1} + x_t$ (plain LIF, shared α: then $\varepsilon^v_{ji,t} = \bar x_{i,t}$)
# and the error by $\hat L_t$, it is e-prop (unfiltered).

# %%
cfg1 = LIFConfig(4, 6, surrogate=sg, reset="subtract")
p1 = init_params(cfg1, rng, w_scale=2.0, b=0.5)
x1 = rng.normal(0.5, 1.0, (1, 5, 4))
tr1 = layer_forward(cfg1, p1, x1)
a1 = rng.normal(size=tr1.s.shape)
three = three_factor_update(a1[0], tr1.v[0], p1["theta"], x1[0], sg)
one_step_err = np.abs(three - layer_backward(tr1, p1, a1).params["W"]).max()
print(f"T = 1: three-factor vs BPTT, max abs difference {one_step_err:.1e}")

unf = eprop.eprop_gradients(net, params, x2, eprop.step_mse(y2), filtered=False, record=True)
xbar = presynaptic_trace(x2, 0.9)
summed = sum(three_factor_update(unf.record["signal"][t], trajs[0].v[t], params[0]["theta"], xbar[t], sg)
             for t in range(T2))
sum_err = np.abs(summed - unf.grads[0]["W"]).max() / np.abs(unf.grads[0]["W"]).max()
print(f"Σ_t three-factor with the presynaptic trace vs e-prop: max relative error {sum_err:.1e}")

# %% [markdown]
# ## 5. Gradient alignment over training
#
# A recurrent adaptive-LIF network (20 inputs, 32 hidden neurons, no synaptic current)
# learns to generate two target trajectories from frozen input spike patterns (the
# pattern-generation task of `refsnn train --task regression`). It is trained with
# symmetric e-prop (Adam); after every epoch we compare the hidden layer's gradient of
# symmetric and of random e-prop with BPTT's.
#
# How well e-prop aligns depends on how much of BPTT's gradient travels through the
# recurrent loop, which e-prop drops. With the task's own network (a synaptic current
# that integrates the recurrent input, $R$ at scale 0.3) that loop is strong: BPTT's
# hidden gradient is some 50 times e-prop's and nearly orthogonal to it
# (`benchmarks/bench_online.py` measures it). Here the loop is weaker.

# %%
X, Y = data.trajectory_regression(2, n_steps=100, n_inputs=20, n_outputs=2, seed=0, dtype=np.float64)
xr, yr = np.moveaxis(X, 0, 1), np.moveaxis(Y, 0, 1)                 # time-major (T, B, ·)
Tr = len(xr)
h = LIFConfig(20, 32, surrogate=surrogate("sigmoid", 10.0), recurrent=True, adaptation=True, synapse=False,
              detach_reset=True)
o = LIFConfig(32, 2, surrogate=surrogate("sigmoid", 10.0), reset="none", spiking=False, synapse=True)
rnet = Network((h, o))
a_, l_ = np.exp(-1 / 20), np.exp(-1 / 5)
rp = [init_params(h, 1, alpha=a_, w_scale=30 * (1 - l_), r_scale=0.3, beta=0.1, rho=np.exp(-1 / 100), kappa=0.5),
      init_params(o, 2, alpha=a_, lam=l_, w_scale=3 * (1 - a_) * (1 - l_))]
B_rand = eprop.random_feedback(rnet, 3, scale=3 * (1 - a_) * (1 - l_) / np.sqrt(32))
loss = eprop.step_mse(yr, scale=1 / Tr)

def bptt_grads(ps):
    tr = network_forward(rnet, ps, xr)
    return network_backward(tr, ps, None, [None, (tr[1].v - yr) / (yr.shape[1] * Tr)]).params

keys = ["L0.W", "L0.b", "L0.R", "L1.W", "L1.b"]
flat = lambda ps: {f"L{l}.{k}": ps[l][k] for l in range(2) for k in ("W", "b", "R") if k in ps[l]}   # noqa: E731
opt = optim.Adam(lr=2e-3)
state = optim.init_state(opt, flat(rp))
history = {"loss": [], "sym": [], "rand": [], "sym_rel": [], "rand_rel": []}
start = time.perf_counter()
for epoch in range(15):
    ref = bptt_grads(rp)
    sym = eprop.eprop_gradients(rnet, rp, xr, loss)
    rnd = eprop.eprop_gradients(rnet, rp, xr, loss, feedback=B_rand)
    history["loss"].append(sym.value)
    for key, res in (("sym", sym), ("rand", rnd)):
        al = eprop.alignment(res.grads[:1], ref[:1])
        history[key].append(al["cosine"])
        history[key + "_rel"].append(al["rel_diff"])
    new, state = optim.step(opt, flat(rp), flat(sym.grads), state)
    rp = [{**rp[l], **{k.split(".")[1]: v for k, v in new.items() if k.startswith(f"L{l}.")}} for l in range(2)]
elapsed = time.perf_counter() - start
print(f"15 epochs in {elapsed:.1f} s; loss {history['loss'][0]:.4f} -> {history['loss'][-1]:.4f}")
print(f"cosine to BPTT, symmetric: {history['sym'][0]:.3f} -> {history['sym'][-1]:.3f}; "
      f"random: {history['rand'][0]:.3f} -> {history['rand'][-1]:.3f}")
print(f"relative norm of the difference, ‖g − g_BPTT‖/‖g_BPTT‖, symmetric: {history['sym_rel'][0]:.3f} -> "
      f"{history['sym_rel'][-1]:.3f}; random: {history['rand_rel'][0]:.3f} -> {history['rand_rel'][-1]:.3f}")

fig, ax = plt.subplots(1, 2, figsize=(10, 3.2))
ax[0].plot(history["loss"])
ax[0].set(xlabel="epoch", ylabel="per-step MSE", title="training with symmetric e-prop")
ax[1].plot(history["sym"], label="symmetric e-prop")
ax[1].plot(history["rand"], label="random e-prop")
ax[1].set(xlabel="epoch", ylabel="cosine similarity to BPTT", title="alignment of the hidden-layer gradient")
ax[1].legend(loc="lower center", bbox_to_anchor=(0.5, 1.1), ncol=2, fontsize=8)   # above the axes, off both curves
plt.tight_layout(); plt.show()

# %% [markdown]
# *What to see:* the loss falls although the recurrent network's e-prop gradient is not
# BPTT's. Symmetric e-prop stays well aligned with BPTT (cosine near 0.9); random
# feedback starts orthogonal to it, fluctuates, and aligns somewhat better late in
# training than early (the readout weights drift towards the fixed feedback: feedback
# alignment), but stays far below symmetric feedback.

# %%
# 1. The factorisation is exact for every split, recurrent layer with attached hard reset.
assert max(factor_err.values()) <= 1e-12
# 2. e-prop is BPTT for a non-recurrent hidden layer with a leaky readout.
assert eprop_err <= 1e-12
# 3. Bellec's trace is exact only with the reset detached; recurrence departs.
assert cases["hard reset attached, own = reset+adaptation"]["rel_diff"] <= 1e-12
assert cases["hard reset detached, Bellec's split (reset in signal)"]["rel_diff"] <= 1e-12
assert cases["hard reset attached, Bellec's split (reset in signal)"]["rel_diff"] > 1e-4
assert cases["recurrent, own = reset+adaptation"]["rel_diff"] > 1e-4
assert 0.5 < cases["recurrent, own = reset+adaptation"]["cosine"] < 1
# 4. Three-factor rule: BPTT at T = 1, e-prop when summed with presynaptic traces.
assert one_step_err <= 1e-13 and sum_err <= 1e-12
# 5. Training with e-prop lowers the loss; symmetric e-prop stays aligned with BPTT, better
#    than random feedback, whose alignment grows as the network learns.
assert history["loss"][-1] < 0.7 * history["loss"][0]
assert min(history["sym"]) > 0.5
assert np.mean(history["sym"]) > np.mean(history["rand"])
assert np.mean(history["rand"][-5:]) > np.mean(history["rand"][:5])
print("all checks passed")

# %% [markdown]
# **Exercise.** Implement the stubs in `exercises/ex13_eprop.py`, then run `python exercises/check.py ex13` from the repository's root. It prints PASS or FAIL for each function, with the worst relative error and, for a wrong trace, the term that is wrong. The solutions are in `exercises/solutions/ex13_eprop.py`.
