# %% [markdown]
# # 17 · Losses and stability
#
# (The seed sections cited below are summarised, in refsnn's symbols, in `docs/seeds.md`.)
#
# refsnn's losses each come with their direct partials $a^s_t = \partial L/\partial s_t$ and
# $a^v_t = \partial L/\partial v_t$, which start the adjoint recursion B1–B2 of
# `refsnn.neurons.lif`. Notebooks 00, 09 and 10 use the count cross-entropy and the
# first-spike cross-entropy. This notebook derives the others, which are on
# `refsnn gradcheck`'s grid but were taught nowhere:
#
# 1. the low-pass decoder and `trace_mse` (seed 002 §2), with the spike-train MSE and a
#    van Rossum distance as special cases;
# 2. the spike-count L1 and L2 penalties (seed 002 §6);
# 3. seed 002 §4's own first-spike loss, "a first spike at a target time", beside the
#    cross-entropy variant that notebook 10 trains;
# 4. seed 000 §6 with spikes: the effective Jacobian that BPTT multiplies when the neuron
#    spikes and resets, and its growth.

# %%
# %matplotlib inline
import time

import numpy as np
import matplotlib.pyplot as plt

T_START = time.perf_counter()
np.set_printoptions(precision=4, suppress=False, linewidth=100)
plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})

# %%
from refsnn import (LIFConfig, Network, check_gradient, init_params, layer_backward, layer_forward,
                    network_backward, network_forward, network_init, surrogate)
from refsnn import losses as L
from refsnn.neurons import stability
from refsnn.neurons.lif import Trajectory
from refsnn.training import optim


def spikes_as_traj(s):
    """A trajectory that holds only spikes s (T, B, N): what a spike loss reads."""
    T, B, N = s.shape
    return Trajectory(LIFConfig(1, N), None, np.zeros_like(s), s, None, None, {}, np.zeros((B, N)))


# %% [markdown]
# ## 1. The low-pass decoder and `trace_mse`
#
# Seed 002 §2 decodes a spike train by a low-pass filter and fits the result to a target
# trajectory by mean squared error. With the filter $z_t = \eta z_{t-1} + q_t$ ($z_{-1}=0$,
# $q$ the spikes or the membrane) and $L = \frac{1}{2TBN}\sum_{t,b,n}(z_t - y_t)^2$, every
# $q_t$ reaches the loss through $z_t, z_{t+1}, \dots$ with weights $1, \eta, \eta^2, \dots$,
# so the partial is a backward filter of the error:
#
# $$\delta z_t = \frac{z_t - y_t}{TBN} + \eta\,\delta z_{t+1}\ (\delta z_T = 0), \qquad \frac{\partial L}{\partial q_t} = \delta z_t. \tag{17.1}$$
#
# The forward filter runs forward, its adjoint backward, with the same $\eta$. Two special
# cases: $\eta = 0$ gives the **spike-train MSE** $\frac{1}{2TBN}\sum(s_t - y_t)^2$, whose
# partial is the error itself; and a target $y$ that is itself a filtered spike train
# $s^*$ makes $L$ the (discrete, squared) **van Rossum distance** between $s$ and $s^*$,
# a distance between spike trains that tolerates small timing shifts.

# %%
rng = np.random.default_rng(0)
s_smooth = rng.uniform(0.05, 0.95, (12, 2, 3))        # spikes of the smooth twin, in (0, 1)
y = rng.uniform(0, 2, (12, 2, 3))
trace_ok = []
for eta in (0.0, 0.8):
    loss = L.trace_mse(spikes_as_traj(s_smooth), y, eta=eta)
    r = check_gradient(lambda a: L.trace_mse(spikes_as_traj(a), y, eta=eta).value, s_smooth, loss.ds,
                       eps=1e-4, order=4, rtol=1e-7)
    trace_ok.append(r.passed)
    print(f"η = {eta}: max rel. error of 17.1 against central differences {r.max_rel_error:.1e}")
# η = 0: the partial is the error (s − y)/(TBN), the spike-train MSE
mse0 = L.trace_mse(spikes_as_traj(s_smooth), y, eta=0.0)
spike_train_mse_ok = np.allclose(mse0.ds, (s_smooth - y) / s_smooth.size, rtol=1e-13)
# van Rossum: target = the filtered target spike train; identical trains have distance 0
s_star = (rng.uniform(size=(40, 1, 1)) < 0.15).astype(float)
def low_pass(s, eta):
    z, out = 0.0, np.empty_like(s)
    for t in range(len(s)):
        z = eta * z + s[t]
        out[t] = z
    return z, out
vr_same = L.trace_mse(spikes_as_traj(s_star), low_pass(s_star, 0.9)[1], eta=0.9).value
s_shift = np.roll(s_star, 1, axis=0)
s_shift[0] = 0
s_far = np.roll(s_star, 6, axis=0)
s_far[:6] = 0
vr_shift = L.trace_mse(spikes_as_traj(s_shift), low_pass(s_star, 0.9)[1], eta=0.9).value
vr_far = L.trace_mse(spikes_as_traj(s_far), low_pass(s_star, 0.9)[1], eta=0.9).value
print(f"van Rossum (η = 0.9): same train {vr_same:.3f}, shifted by 1 step {vr_shift:.4f}, by 6 steps {vr_far:.4f}")

# %% [markdown]
# **Training with it.** A spiking network (20 frozen Poisson inputs, 40 hidden, 2 spiking
# outputs) learns to make its decoded output spikes follow two target trajectories:
# 200 Adam steps on $W$, $b$ with the partial 17.1 on the output spikes.

# %%
T_REG = 120
t_axis = np.arange(T_REG)
target = np.stack([1.5 + np.sin(2 * np.pi * t_axis / 60), 1.5 + np.cos(2 * np.pi * t_axis / 40)], axis=1)[:, None]
x_reg = (rng.uniform(size=(T_REG, 1, 20)) < 0.1).astype(float)
sg = surrogate("sigmoid", 5.0)
net_reg = Network((LIFConfig(20, 40, surrogate=sg), LIFConfig(40, 2, surrogate=sg)))
params = network_init(net_reg, 1, np.float64, [dict(w_scale=4.0, b=0.05), dict(w_scale=2.0, b=0.05)])
opt = optim.Adam(lr=1e-2)
keys = [(l, k) for l in range(2) for k in ("W", "b")]
state = optim.init_state(opt, {f"{l}{k}": params[l][k] for l, k in keys})
history = []
for step in range(200):
    trajs = network_forward(net_reg, params, x_reg)
    loss = L.trace_mse(trajs[-1], target, eta=0.9)
    history.append(loss.value)
    g = network_backward(trajs, params, [None, loss.ds], None, wrt={"W", "b"})
    new, state = optim.step(opt, {f"{l}{k}": params[l][k] for l, k in keys},
                            {f"{l}{k}": g.params[l][k] for l, k in keys}, state)
    for l, k in keys:
        params[l][k] = new[f"{l}{k}"]
z_out = low_pass(network_forward(net_reg, params, x_reg)[-1].s, 0.9)[1]
print(f"trace MSE: {history[0]:.3f} → {history[-1]:.3f}")

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 3.4))
for n, c in enumerate(("C0", "C1")):
    ax0.plot(t_axis, target[:, 0, n], c, ls="--", label=f"target {n}")
    ax0.plot(t_axis, z_out[:, 0, n], c, label=f"decoded output {n}")
ax0.set(xlabel="time step t", ylabel="z_t (filtered spikes, η = 0.9)", title="low-pass decoder after training")
ax0.set_ylim(0, 1.35 * max(z_out.max(), target.max()))       # room for the legend above the data
ax0.legend(loc="upper center", fontsize=8, ncol=4)
ax1.semilogy(history)
ax1.set(xlabel="Adam step", ylabel="trace MSE", title="training with the partial 17.1")
fig.tight_layout()

# %% [markdown]
# *Figure 1.* Left: the two decoded outputs (solid) against their targets (dashed). Right:
# the loss over training.
#
# ## 2. Spike-count penalties: L1 and L2
#
# With counts $n_{b,k} = \sum_t s_{t,b,k}$ and $\partial n/\partial s_t = 1$:
#
# $$L_1 = \frac{\lambda}{B}\sum_{b,k} n_{b,k},\ \ a^s_t = \frac{\lambda}{B}; \qquad L_2 = \frac{\lambda}{B}\sum_{b,k} n_{b,k}^2,\ \ a^s_t = \frac{2\lambda\, n_{b,k}}{B}. \tag{17.2}$$
#
# L1 pushes every spike down equally, whoever fires it; L2 pushes each neuron in proportion
# to its own count, so it flattens the activity, silencing the busiest neurons first and
# hardly touching the quiet ones.

# %%
cfg_h = LIFConfig(5, 30, surrogate=sg, recurrent=True)
p_h = init_params(cfg_h, 2, w_scale=3.0, b=rng.uniform(-0.2, 0.6, 30))
tr_h = layer_forward(cfg_h, p_h, rng.normal(0.3, 1.0, (50, 4, 5)))
counts = tr_h.s.sum(axis=0)
l1, l2 = L.spike_count_l1(tr_h, 0.1), L.spike_count_l2(tr_h, 0.1)
l1_ok = np.all(l1.ds == 0.1 / 4)
l2_ok = np.allclose(l2.ds, 2 * 0.1 * counts / 4)
fig, ax = plt.subplots(figsize=(5.5, 3.4))
ax.plot(counts.ravel(), l1.ds[0].ravel(), "o", ms=4, label="L1: λ/B")
ax.plot(counts.ravel(), l2.ds[0].ravel(), "s", ms=4, label="L2: 2λn/B")
ax.set(xlabel="spike count n of the neuron in the trial", ylabel="partial a^s_t (any step t)",
       title="spike-count penalties, λ = 0.1, B = 4")
ax.legend()
fig.tight_layout()

# %% [markdown]
# *Figure 2.* The same partial at every step of a trial; L2's grows with the count.
#
# ## 3. Seed 002 §4's first-spike loss: a first spike at a target time
#
# The seed's temporal loss "maximises the probability of the first spike at a given time
# $t_f$" and claims that its gradient is concentrated at $t_f$ and before, zero after.
# Notebook 10 trains a *different* loss, a cross-entropy over the soft first-spike times
# (L3 of `refsnn.losses`). All of them read the spikes through the survival product
# $S_t = \prod_{\tau\le t}(1 - s_\tau)$ and the soft first-spike time
# $\hat t = \sum_t S_t$ (L2; $\hat t = t_f$ on binary spikes), whose partial is
# $\partial\hat t/\partial s_\tau = -S_{\tau-1}R_\tau$ with
# $R_\tau = 1 + (1-s_{\tau+1})R_{\tau+1}$ (L4). refsnn implements two readings of the seed's
# loss (`refsnn.losses`, L5 and L6):
#
# $$L_5 = \frac{1}{2B}\sum_{b,k}(\hat t_{b,k} - t^*_{b,k})^2, \qquad a^s_\tau = -\frac{\hat t - t^*}{B}\,S_{\tau-1}R_\tau, \tag{17.3}$$
#
# the first-spike time regressed onto a target step, and the seed's literal probability
#
# $$P = S_{t^*-1}\, s_{t^*}, \qquad L_6 = -\frac1B\sum_{b,k}\log(P + \varepsilon), \qquad \frac{\partial P}{\partial s_\tau} = \begin{cases} S_{t^*-1} & \tau = t^* \\ -s_{t^*}S_{\tau-1}Q_\tau & \tau < t^* \\ 0 & \tau > t^*\end{cases} \tag{17.4}$$
#
# with $Q_\tau = \prod_{\tau<\tau'<t^*}(1-s_{\tau'})$. Both are on `refsnn gradcheck`
# (family `first_spike_target`, both exact routes); below, their partials against central
# differences on smooth spikes, then their profiles on one binary spike train.

# %%
s_sm = rng.uniform(0.05, 0.95, (10, 2, 3))
t_target = rng.integers(0, 10, (2, 3))
fst_ok = []
for name, fn in (("L5 time MSE", lambda a: L.first_spike_time_mse(spikes_as_traj(a), t_target.astype(float))),
                 ("L6 likelihood", lambda a: L.first_spike_likelihood(spikes_as_traj(a), t_target, 1e-3))):
    loss = fn(s_sm)
    r = check_gradient(lambda a: fn(a).value, s_sm, loss.ds, eps=1e-5, order=4, rtol=1e-7,
                       floor=1e-4 * max(1.0, loss.value))
    fst_ok.append(r.passed)
    print(f"{name}: max rel. error {r.max_rel_error:.1e}")

# one neuron, binary spikes at steps 6 and 11 (t_f = 6); target step t* = 9
s_bin = np.zeros((16, 1, 1))
s_bin[[6, 11]] = 1.0
a_ce = L.first_spike_cross_entropy(spikes_as_traj(np.concatenate([s_bin, np.zeros((16, 1, 1))], 2)),
                                   np.array([1]), tau=2.0).ds[:, 0, 0]
a_l5 = L.first_spike_time_mse(spikes_as_traj(s_bin), np.array([[9.0]])).ds[:, 0, 0]
s_at = s_bin.copy()
s_at[9] = 1.0                                            # spikes at 6, 9, 11: early, and at t*
a_l6 = L.first_spike_likelihood(spikes_as_traj(s_at), np.array([[9]]), 1e-3).ds[:, 0, 0]
a_l6_silent = L.first_spike_likelihood(spikes_as_traj(s_bin), np.array([[9]]), 1e-3).ds[:, 0, 0]
fig, ax = plt.subplots(figsize=(7, 3.4))
steps = np.arange(16)
ax.plot(steps, a_ce / np.abs(a_ce).max(), "o-", ms=10, mfc="none", label="L3 cross-entropy (neuron 0, label 1)")
ax.plot(steps, a_l5 / np.abs(a_l5).max(), "s-", ms=4, label="L5 time MSE, t* = 9 (same shape as L3)")
ax.plot(steps, a_l6 / np.abs(a_l6).max(), "^-", label="L6 likelihood, t* = 9 (spikes at 6, 9, 11)")
ax.axvline(6, color="grey", ls=":", lw=1)
ax.axvline(9, color="k", ls="--", lw=0.8)
ax.set(xlabel="step τ (first spike t_f = 6, dotted; t* = 9, dashed)", ylabel="a^s_τ / max |a^s|",
       title="where each first-spike loss puts its partial")
ax.legend(fontsize=8)
fig.tight_layout()
print("L6 on the train with spikes at 6 and 11 only (early, silent at t*): every partial is",
      np.unique(a_l6_silent))

# %% [markdown]
# *Figure 3.* L3 and L5 are both a multiple of $\partial\hat t/\partial s_\tau$, so their
# normalised curves coincide (hollow and filled markers). All three partials vanish after
# the first spike (L3, L5) or after $t^*$
# (L6), the seed's claim. Before it they differ: L3 and L5 grow linearly with the
# distance to $t_f$ (a spike earlier would move $t_f$ further); L6 on binary spikes is
# nonzero only at the one spike that spoils the target. And when the neuron fires early
# *and* is silent at $t^*$ (printed above), $\partial P/\partial s_{t^*} = S_{t^*-1} = 0$
# and $\partial P/\partial s_\tau \propto s_{t^*} = 0$: L6's gradient is exactly zero. The
# seed's literal probability is a loss for a *stochastic* neuron, where $s_t$ is a spike
# probability (the smooth twin's reading); on the Heaviside forward pass, L5 is the loss
# that trains. Here it does: one layer of 4 LIF neurons driven by a clock (input channel
# i spikes once, at step 2i), each neuron asked to fire first at its own step.

# %%
T_F = 30
t_star = np.array([[6.0, 12.0, 18.0, 24.0]])
x_f = np.zeros((T_F, 1, 15))
x_f[2 * np.arange(15), 0, np.arange(15)] = 1.0
cfg_f = LIFConfig(15, 4, surrogate=surrogate("sigmoid", 5.0))
p_f = init_params(cfg_f, 3, w_scale=1.5, b=0.0)
opt = optim.Adam(lr=5e-2)
state = optim.init_state(opt, {"W": p_f["W"], "b": p_f["b"]})
err_hist = []
for step in range(150):
    tr = layer_forward(cfg_f, p_f, x_f)
    loss = L.first_spike_time_mse(tr, t_star)
    err_hist.append(np.abs(L.first_spike_times(tr) - t_star).mean())
    g = layer_backward(tr, p_f, ds=loss.ds, wrt={"W", "b"})
    new, state = optim.step(opt, {"W": p_f["W"], "b": p_f["b"]}, {"W": g.params["W"], "b": g.params["b"]}, state)
    p_f.update(new)
t_f_final = L.first_spike_times(layer_forward(cfg_f, p_f, x_f))
err_final = np.abs(t_f_final - t_star).mean()
print(f"mean |t_f − t*|: {err_hist[0]:.1f} steps → {err_final:.2f} steps; first spikes at {t_f_final[0]}, "
      f"targets {t_star[0].astype(int)}")

# %% [markdown]
# ## 4. Seed 000 §6 with spikes: the effective Jacobian
#
# Notebook 05 analyses a linear neuron: the adjoint is multiplied by $J^\top$ at every
# step and grows like $\rho(J)^T$. With spikes and a reset the Jacobian that the backward
# pass uses is (for a layer with membrane state only, `refsnn.neurons.stability`, J1)
#
# $$J_t = \frac{\partial v_t}{\partial v_{t-1}} = \mathrm{diag}(\alpha\, g^m_t) + \big(\mathrm{diag}(g^d_t)\,R - [\text{attached}]\,\mathrm{diag}(r_t)\big)\,\mathrm{diag}(\sigma'_{t-1}), \tag{17.5}$$
#
# with lif's gates $g^m_t = 1 - \tilde s_{t-1} r_m$, $g^d_t = 1 - \tilde s_{t-1} r_d$ and the
# reset amount $r_t$ ($\gamma$ for the soft reset). Its transposed product is exactly what
# `layer_backward` computes (checked below). Three departures from $\mathrm{diag}(\alpha)$:
# the **hard reset** zeroes a neuron's leak row at each of its spikes (the gradient through
# the membrane is cut); the **attached soft reset** puts $\alpha - \gamma\sigma'$ on the
# diagonal, whose modulus exceeds 1 when $\gamma\sigma'_{max} > 1 + \alpha$; the
# **recurrence** couples neurons through $R\,\sigma'$ near threshold. The per-step growth
# rate $\frac1T\log\|J_0^\top\cdots J_{T-1}^\top\|_2$ plays the role of $\log\rho(J)$.
# Below: a recurrent layer of 30 neurons, 80 steps, as the surrogate gets steeper
# (a sigmoid of slope $k$ has $\sigma'_{max} = k/4$).

# %%
N_S, T_S = 30, 80
x_s = rng.normal(0.25, 1.0, (T_S, 4, 5))
slopes = np.array([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0])
setups = {"soft reset, attached": dict(reset="subtract", detach_reset=False),
          "soft reset, detached": dict(reset="subtract", detach_reset=True),
          "hard reset (keep input)": dict(reset="hard_keep_input", detach_reset=False)}
growth = {name: [] for name in setups}
j2_err = 0.0
for k in slopes:
    for name, kw in setups.items():
        cfg_s = LIFConfig(5, N_S, surrogate=surrogate("sigmoid", k), recurrent=True, **kw)
        p_s = init_params(cfg_s, 4, w_scale=3.0, r_scale=0.5, alpha=0.9, gamma=1.0, v_reset=0.0, b=0.2)
        tr_s = layer_forward(cfg_s, p_s, x_s)
        J = stability.step_jacobians(tr_s, p_s)
        growth[name].append(stability.growth_rate(J).mean())
        dv = np.zeros_like(tr_s.v)
        dv[-1] = 1.0
        ref = layer_backward(tr_s, p_s, dv=dv).state0["v"]
        mine = stability.adjoint_from_jacobians(J, dv[-1])
        j2_err = max(j2_err, np.abs(mine - ref).max() / max(1e-300, np.abs(ref).max()))
print(f"J2 against layer_backward: max rel. error {j2_err:.1e}")
for name, g in growth.items():
    print(f"{name:25s}" + " ".join(f"{v:+.3f}" for v in g))

fig, ax = plt.subplots(figsize=(6.5, 3.6))
for name, g in growth.items():
    ax.plot(slopes, g, "o-", label=name)
ax.axhline(np.log(0.9), color="grey", ls="--", lw=1, label="linear neuron: log α")
ax.set_xscale("log", base=2)
ax.set(xlabel="surrogate slope k (σ'_max = k/4)", ylabel="adjoint growth per step (log)",
       title="effective Jacobian with spikes (17.5), recurrent layer")
ax.legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# *Figure 4.* Above the dashed line the adjoint decays more slowly than a non-spiking
# neuron's (or grows, above 0); below it, faster. The attached soft reset's
# $-\gamma\sigma'$ term works both ways: with a shallow surrogate it only lowers the
# diagonal ($\alpha - \gamma\sigma' < \alpha$) and the adjoint decays *faster* than with the
# reset detached; with a steep one, $|\alpha - \gamma\sigma'|$ exceeds 1 at the steps near
# threshold and the adjoint decays more slowly than with the reset detached, and here
# more slowly than the linear neuron's $\log\alpha$. The detached reset keeps only the
# leak and the recurrent coupling $R\sigma'$ (without recurrence it would be exactly
# $\log\alpha$, the linear neuron of notebook 05); the hard reset cuts the leak at every
# spike, and its adjoint decays fastest at steep slopes.
#
# ## 5. Checks

# %%
elapsed = time.perf_counter() - T_START
assert all(trace_ok) and spike_train_mse_ok
assert vr_same == 0.0 and 0 < vr_shift < vr_far, (vr_shift, vr_far)
assert history[-1] < 0.3 * history[0], (history[0], history[-1])
assert l1_ok and l2_ok and counts.max() > counts.min()
assert all(fst_ok)
assert np.all(a_ce[7:] == 0) and np.all(a_l5[7:] == 0) and np.all(a_l6[10:] == 0)
assert np.all(a_l5[:6] > 0)                       # the spike is too early: every earlier step pushed away
assert np.count_nonzero(a_l6) == 1 and a_l6[6] > 0  # only the early spike is pushed, and only down
assert np.all(a_l6_silent == 0)                   # L6's gradient vanishes for early-and-silent-at-t*
assert err_hist[0] > 10 and err_final <= 0.5, (err_hist[0], err_final)
assert j2_err < 1e-10
att, det, hard = (np.array(growth[n]) for n in setups)
assert att[0] < det[0] and att[-1] > det[-1], (att, det)      # −γσ' speeds the decay, then slows it
assert att[-1] > np.log(0.9) > att[0], att                      # ... past the linear neuron's rate
assert hard[-1] < det[-1] and hard[-1] < att[-1], (hard, det, att)
print(f"all checks passed in {elapsed:.0f} s")

# %% [markdown]
# **Exercise.** Implement the stubs in `exercises/ex17_losses_and_stability.py`, then run
# `python exercises/check.py ex17`; it compares your decoder partial 17.1, first-spike
# partial 17.3 and Jacobian 17.5 with refsnn's and names the term that differs (for
# instance an adjoint filter run forward in time, $S_\tau$ for $S_{\tau-1}$, or $R^\top$ for $R$).
