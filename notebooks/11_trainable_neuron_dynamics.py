# %% [markdown]
# # 11 · Trainable neuron dynamics
#
# (The seed sections cited below are summarised, in refsnn's symbols, in `docs/seeds.md`.)
#
# Seed 002 ("训练具有复杂生物物理特性的神经元模型") extends surrogate-gradient training from
# the weights to the neuron itself: a trainable post-spike reset ("复位偏移量 r"), a
# refractory period, and the threshold θ as a trainable parameter — intrinsic
# plasticity, which lets a neuron tune its own excitability. Each changes the
# computational graph and needs its gradient derived. This notebook
#
# 1. identifies the seed's reset offset $r$ in refsnn's model and its gradient (G3);
# 2. derives the refractory gate's gradient path through the past spikes (S5, B7 of
#    `refsnn/neurons/lif.py`) and checks it;
# 3. states the valid range of each trainable parameter and the projection that keeps it
#    there (`refsnn/training/constraints.py`; `refsnn train --train-dynamics`);
# 4. derives how the surrogate's gain and slope scale the θ-gradient, and checks it;
# 5. trains θ alone on a homeostasis task and shows the firing rates move as seed 002
#    describes.

# %%
# %matplotlib inline
import time

import numpy as np
import matplotlib.pyplot as plt

plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})
T_START = time.perf_counter()

# %%
from refsnn import losses as L
from refsnn.checking import grid_switches
from refsnn.checking.verify import check_network_smooth_twin, check_smooth_twin
from refsnn.lif import LIFConfig, init_params, layer_backward, layer_forward, smooth_twin
from refsnn.neurons.network import Network
from refsnn.surrogates import surrogate
from refsnn.training import constraints, optim

# %% [markdown]
# ## 1. The reset offset $r$ is $\gamma$ or $v_r$
#
# refsnn's membrane update (F4) is
#
# $$ v_t = m_t + d_t - \tilde s_{t-1}\, r_t, \qquad m_t = \alpha v_{t-1}, $$
#
# with the reset amount $r_t$ set by the reset kind: $r_t = \gamma$ for the soft reset,
# $r_t = m_t - v_r$ (or $m_t + d_t - v_r$) for a hard reset to the potential $v_r$. The seed's
# "trainable post-spike reset potential" is $v_r$, and its "reset offset $r$" is this $r_t$;
# its free parameter is $\gamma$ (soft) or $v_r$ (hard). An extra additive offset $r'$ on
# top of $\gamma$ would give $r_t = \gamma + r'$, the same function with a redundant
# parameter, so refsnn adds none. Since $\partial r_t/\partial\gamma = 1$ and
# $\partial r_t/\partial v_r = -1$, both gradients are one formula (G3):
#
# $$ \frac{\partial L}{\partial \gamma} = -\sum_t \delta v_t\, \tilde s_{t-1}, \qquad
#    \frac{\partial L}{\partial v_r} = +\sum_t \delta v_t\, \tilde s_{t-1}. \tag{11.1} $$
#
# Only steps that follow a spike contribute. Both are on the core gradcheck grid; here one
# layer of each kind against central differences on the smooth twin:

# %%
rng = np.random.default_rng(0)
x_r = rng.normal(0.7, 1.0, (8, 2, 3))
reset_ok = True
for reset in ("subtract", "hard_keep_input"):
    cfg = LIFConfig(3, 4, surrogate=surrogate("sigmoid", 4.0), reset=reset)
    p = init_params(cfg, rng, w_scale=1.5, v_reset=0.1)
    y = rng.normal(size=(2, 4))

    def loss(trajs, y=y):
        l = L.membrane_rate_loss(trajs[0], y)
        return l.value, [l.ds], [l.dv]

    state0 = [{"v": rng.normal(0.0, 0.4, (2, 4))}]
    res = check_network_smooth_twin(Network((cfg,)), [p], x_r, state0, loss)
    name = "L0.gamma" if reset == "subtract" else "L0.v_reset"
    r = next(r for r in res if r.name == name)
    print(f"{reset:16s} {name}: max rel. error {r.max_rel_error:.1e}; all entries pass: {all(q.passed for q in res)}")
    reset_ok = reset_ok and all(q.passed for q in res)

# %% [markdown]
# ## 2. A refractory period and its gradient path
#
# refsnn's refractory period (S5, `LIFConfig(refractory=n_ref)`) gates the spike:
#
# $$ \hat s_t = f(v_t - \theta), \qquad G_t = \prod_{k=1}^{n_{ref}} (1 - s_{t-k}), \qquad s_t = \hat s_t\, G_t . $$
#
# With binary spikes $G_t = 0$ exactly when the neuron spiked in one of the previous
# $n_{ref}$ steps. The gate brings two derivatives:
#
# $$ \frac{\partial s_t}{\partial v_t} = \sigma'(v_t - \theta)\, G_t, \qquad
#    \frac{\partial s_t}{\partial s_{t-k}} = -\hat s_t \prod_{j \ne k} (1 - s_{t-j}) \quad (1 \le k \le n_{ref}). \tag{11.2} $$
#
# The first only multiplies $\sigma'$ by $G_t$ wherever it appears (B2, G5). The second is a
# new path *backwards in time through the spikes that set the gate*: the adjoint of a spike
# collects, from every later spike it gated,
#
# $$ \delta s_t \mathrel{+}= -\sum_{k=1}^{n_{ref}} \hat s_{t+k} \prod_{j \ne k}(1 - s_{t+k-j})\; \delta s_{t+k}. \tag{B7} $$
#
# With binary spikes a term is nonzero only when the neuron *wanted* to fire at $t+k$
# ($\hat s_{t+k} = 1$) and no spike other than $s_t$ lies in that step's window: then $s_t$
# alone decides whether $s_{t+k}$ happens, and $\delta s_{t+k}$ flows back to $s_t$ with a minus
# sign — firing at $t$ blocks the spike at $t+k$. (This holds whether or not $s_t$ itself
# fired: the derivative asks what a spike at $t$ *would* change.) `detach_refractory=True` (the
# default, as e-prop) drops B7; `False` keeps it.
#
# A single neuron without reset, recurrence or adaptation isolates B7: there
# $\delta s_t = a^s_t$ (the loss's direct partial) plus B7, nothing else. The difference of
# refsnn's attached and detached adjoints must be (B7) evaluated on refsnn's own $\delta s$:

# %%
n_ref = 2
cfg_ref = LIFConfig(1, 1, surrogate=surrogate("sigmoid", 4.0), reset="none", refractory=n_ref)
cfg_att = LIFConfig(1, 1, surrogate=surrogate("sigmoid", 4.0), reset="none", refractory=n_ref,
                    detach_refractory=False)
p1 = init_params(cfg_ref, 0, W=np.array([[1.0]]), alpha=0.6, theta=1.0)
T_ref = 24
x1 = (0.55 + 0.5 * np.sin(np.arange(T_ref) / 1.5)).reshape(T_ref, 1, 1)
a_s = np.random.default_rng(1).normal(size=(T_ref, 1, 1))
tr_att = layer_forward(cfg_att, p1, x1)
ds_att = layer_backward(tr_att, p1, ds=a_s).adjoints["ds"]
ds_det = layer_backward(layer_forward(cfg_ref, p1, x1), p1, ds=a_s).adjoints["ds"]


def b7(ds, s, s_hat, s_init, n_ref):
    """(B7) for t = 0..T−1 from the total adjoints ds, by the formula above."""
    T = len(s)
    past = lambda i: s_init if i == -1 else (s[i] if i >= 0 else 0.0)   # noqa: E731
    out = np.zeros_like(ds)
    for t in range(T):
        for k in range(1, n_ref + 1):
            if t + k < T:
                prod = np.prod([1.0 - past(t + k - j) for j in range(1, n_ref + 1) if j != k], axis=0)
                out[t] -= s_hat[t + k] * prod * ds[t + k]
    return out


b7_hand = b7(ds_att, tr_att.s, tr_att.s_free, tr_att.s_init, n_ref)
print("detached δs − a^s: max |.| =", np.max(np.abs(ds_det - a_s)))
print("attached δs − a^s − B7 by hand: max |.| =", np.max(np.abs(ds_att - a_s - b7_hand)))
print("steps where B7 is nonzero:", np.flatnonzero(b7_hand[:, 0, 0]))

# %%
fig, ax = plt.subplots(2, 1, figsize=(9, 4.6), sharex=True)
t_ax = np.arange(T_ref)
ax[0].stem(t_ax, tr_att.s_free[:, 0, 0], linefmt="C1-", markerfmt="C1o", basefmt=" ", label="ŝ_t (ungated)")
ax[0].stem(t_ax, tr_att.s[:, 0, 0], linefmt="C0-", markerfmt="C0s", basefmt=" ", label="s_t = ŝ_t G_t")
ax[0].set(ylabel="spike", title=f"refractory gate, n_ref = {n_ref}: orange without a blue square was blocked")
ax[0].set_ylim(-0.1, 1.45)                     # head room: the legend sits above the stems
ax[0].legend(loc="upper center", ncol=2, fontsize=8)
ax[1].plot(t_ax, ds_det[:, 0, 0], "o-", label="δs_t, gate detached (= a^s_t)")
ax[1].plot(t_ax, ds_att[:, 0, 0], "s--", label="δs_t, gate attached (+ B7)")
ax[1].set(xlabel="time step t", ylabel="δs_t", title="the gate's gradient path (B7) adds to δs_t")
ax[1].legend(loc="upper center", bbox_to_anchor=(0.5, -0.32), ncol=2, fontsize=8)   # below the axes
fig.tight_layout()

# %% [markdown]
# *Top:* the ungated spikes $\hat s_t$ (orange) and the emitted ones $s_t$ (blue squares);
# every orange marker without a square is a spike blocked by the gate. *Bottom:* the
# adjoint of the spikes with the gate detached and attached; they differ by (B7) exactly at
# the steps $t$ followed, within $n_{ref}$ steps, by a would-be spike that only $s_t$ could
# have blocked; elsewhere the two coincide. The lif-switches gradcheck family
# checks the attached gate along both exact routes on two-layer networks; one row's smooth twin:

# %%
pt = next(q for q in grid_switches.points() if q.switch == "refrac_attached" and q.reset == "subtract")
refrac_smooth = check_smooth_twin(grid_switches.problem_for(pt, 0))   # gradcheck runs both routes
print(pt.name, "smooth twin passed:", all(r.passed for r in refrac_smooth),
      f"(worst rel. error {max(r.max_rel_error for r in refrac_smooth):.1e})")

# %% [markdown]
# ## 3. Valid ranges and the projection
#
# `refsnn train --train-dynamics theta,alpha,gamma` (or `RunConfig(train_dynamics=...)`)
# trains per-neuron dynamics alongside $W, b, R$. After every optimiser step each trained
# parameter is projected back into its valid set:
#
# | parameter | valid set | why |
# |---|---|---|
# | $\alpha$, ($\rho$, $\lambda$) | $[\alpha_{min}, 1]$ ($[0, 1]$) | a decay; $\alpha > 1$ grows without input; refsnn needs $\alpha > 0$ |
# | $\theta$ | $[\theta_{min}, \infty)$ | $\theta > 0$; a closed set needs a margin $\theta_{min} = 10^{-3}$ |
# | $\gamma$, $\beta$, $\kappa$ | $[0, \infty)$ | a reset lowers $v$; adaptation opposes firing |
# | $v_r$ | $(-\infty, \theta - 10^{-3}]$ | $v_r \ge \theta$ would spike on every step |
#
# For boxes, clipping each entry is the Euclidean projection: the nearest valid point,
# and the identity on valid points. ($v_r$'s bound uses the projected $\theta$.)

# %%
wild = {"W": np.zeros((3, 2)), "b": np.array([5.0, -5.0, 0.0]), "alpha": np.array([1.3, 0.5, -0.2]),
        "theta": np.array([-1.0, 0.8, 2.0]), "v_reset": np.array([0.0, 0.9, -0.5]), "gamma": np.array([-1.0, 1.0, 0.3])}
proj = constraints.project(wild)
for k in ("alpha", "theta", "v_reset", "gamma", "b"):
    print(f"{k:8s} {wild[k]} -> {proj[k]}")
again = constraints.project(proj)
proj_ok = constraints.in_range(proj) and all(np.array_equal(again[k], proj[k]) for k in proj)

# %% [markdown]
# ## 4. How the surrogate scales the θ-gradient
#
# θ enters only through $s_t = f(v_t - \theta)$, so (G5, with the gate of section 2)
#
# $$ \frac{\partial L}{\partial \theta} = -\sum_t \sigma'(v_t - \theta)\, G_t\, \delta s_t. \tag{11.3} $$
#
# **Gain.** Multiply the surrogate by a gain $g$ (`surrogate(name, k, gain=g)`). If $\delta s_t$
# does not itself contain $\sigma'$ — one layer whose spikes reach the loss only directly,
# $\delta s_t = a^s_t$ (no recurrence, no adaptation, a detached or no reset) — then (11.3)
# is exactly $g$ times its $g = 1$ value. With an attached reset, $\delta s_t$ carries
# $-\gamma\,\delta v_{t+1}$ and $\delta v_{t+1}$ carries $\sigma'$ again: the θ-gradient then grows
# faster than linearly in $g$ — the recursion's factor $\alpha - \gamma g \sigma'$ (B1 into B2) exceeds
# 1 in magnitude once $g\gamma\sigma' > 1 + \alpha$, and the adjoint explodes over the 50 steps below.
#
# **Slope.** For a slope-parametrised surrogate (sigmoid: $\sigma'_k(x) = k S(kx)(1 - S(kx))$,
# height $k/4$, width $\sim 1/k$) a neuron with $|v_t - \theta| \ll 1/k$ contributes $\approx k/4$
# per step, one far from threshold $\approx k e^{-k|v_t - \theta|}$: a steeper surrogate
# concentrates the θ-gradient on the neurons that are near threshold and starves the
# rest.

# %%
rng = np.random.default_rng(3)
T_h, B_h, M_h, N_h = 50, 8, 20, 40
x_h = (rng.random((T_h, B_h, M_h)) < 0.1).astype(float)       # Poisson-like input, 0.1 spikes/step
drive = np.linspace(0.02, 1.2, N_h)                             # neurons from silent to busy


def layer(k=5.0, gain=1.0, reset="subtract", detach=True):
    return LIFConfig(M_h, N_h, surrogate=surrogate("sigmoid", k, gain=gain), reset=reset, detach_reset=detach)


p_h = init_params(layer(), rng, alpha=0.9, theta=1.0)
p_h["W"] = np.abs(p_h["W"]) * drive[:, None]
F0 = 0.05


def theta_grad(cfg, params):
    traj = layer_forward(cfg, params, x_h)
    reg = L.firing_rate_regularizer(traj, F0, 1.0)
    return layer_backward(traj, params, ds=reg.ds).params["theta"]


g1 = theta_grad(layer(), p_h)
gain_ratio = {g: theta_grad(layer(gain=g), p_h) / g1 for g in (0.5, 3.0)}
att1 = theta_grad(layer(detach=False), p_h)
att3 = theta_grad(layer(gain=3.0, detach=False), p_h)
print("detached reset: ∂L/∂θ(g)/∂L/∂θ(1) for g = 0.5, 3:",
      [f"{np.min(r):.12f}..{np.max(r):.12f}" for r in gain_ratio.values()])
print("attached reset: max |∂L/∂θ(3) − 3 ∂L/∂θ(1)| / max |∂L/∂θ(1)| =",
      f"{np.max(np.abs(att3 - 3 * att1)) / np.max(np.abs(att1)):.2e}")

f_init = layer_forward(layer(), p_h, x_h).s.mean(axis=(0, 1))
slopes = (2.0, 5.0, 20.0)
g_by_k = {k: np.abs(theta_grad(layer(k=k), p_h)) for k in slopes}
fig, ax = plt.subplots(figsize=(6.5, 3.6))
# Marker and size differ per slope, hollow for the larger ones, so that where the three
# gradients coincide (high rates) every slope's point stays visible.
styles = {2.0: dict(marker="o", ms=9, mfc="none", mew=1.4), 5.0: dict(marker="s", ms=6, mfc="none", mew=1.2),
          20.0: dict(marker="x", ms=4, mew=1.2)}
for k in slopes:
    ax.semilogy(f_init, g_by_k[k] + 1e-300, ls="none", label=f"sigmoid slope k = {k:g}", **styles[k])
ax.set(xlabel="neuron's initial firing rate (spikes/step)", ylabel="|∂L/∂θ_j| (log scale)",
       title="rate regulariser's θ-gradient at initialisation")
ax.legend()
fig.tight_layout()

# %% [markdown]
# Each dot is one neuron. With a shallow surrogate ($k = 2$) every neuron gets a θ-gradient
# of similar size; with a steep one ($k = 20$) the nearly silent neurons on the left — the
# ones the regulariser most needs to excite — get gradients many orders of magnitude
# smaller. (Adam divides each parameter's step by its own gradient scale, so it hides the
# scale but not a gradient that underflows; SGD's steps are proportional to it.)
#
# ## 5. Intrinsic plasticity: training θ sets the firing rates
#
# Seed 002: a trainable threshold lets a neuron "adjust its excitability to maintain
# homeostasis". We freeze the weights of the layer above and train *only* θ with the
# firing-rate regulariser $\lambda\sum_j (f_j - f_0)^2$, target $f_0 = 0.05$ spikes per step, by
# Adam with the projection $\theta \ge \theta_{min}$. The derivation predicts the direction:
# $\partial L/\partial \theta_j = -2\lambda (f_j - f_0)/(TB) \sum_{t,b}\sigma'_{t,b,j}$, negative
# where the neuron fires too much, so gradient descent *raises* θ for busy neurons and
# *lowers* it for quiet ones.

# %%
cfg_ip = layer(k=5.0)
theta_param = {"theta": p_h["theta"].copy()}
opt = optim.Adam(0.03)
state = optim.init_state(opt, theta_param)
rng_ip = np.random.default_rng(4)
for step in range(200):
    xb = (rng_ip.random((T_h, B_h, M_h)) < 0.1).astype(float)
    params = {**p_h, **theta_param}
    traj = layer_forward(cfg_ip, params, xb)
    reg = L.firing_rate_regularizer(traj, F0, 1.0)
    g = layer_backward(traj, params, ds=reg.ds).params
    theta_param, state = optim.step(opt, theta_param, {"theta": g["theta"]}, state)
    theta_param = {"theta": constraints.project({**params, **theta_param})["theta"]}
f_after = layer_forward(cfg_ip, {**p_h, **theta_param}, x_h).s.mean(axis=(0, 1))
d_theta = theta_param["theta"] - p_h["theta"]
err_before, err_after = np.mean(np.abs(f_init - F0)), np.mean(np.abs(f_after - F0))
corr = np.corrcoef(d_theta, f_init - F0)[0, 1]
print(f"mean |f − f0|: {err_before:.3f} before, {err_after:.3f} after; corr(Δθ, f_init − f0) = {corr:.3f}")

# %%
fig, ax = plt.subplots(1, 2, figsize=(11, 3.6))
ax[0].plot(f_init, "o", label="before (θ = 1)")
ax[0].plot(f_after, "s", label="after training θ")
ax[0].axhline(F0, color="k", ls="--", label="target f₀")
ax[0].set(xlabel="neuron j (weaker to stronger input)", ylabel="firing rate (spikes/step)",
          title="rates move to the target")
ax[0].legend()
ax[1].plot(f_init - F0, d_theta, "o")
ax[1].axhline(0, color="k", lw=0.8)
ax[1].axvline(0, color="k", lw=0.8)
ax[1].set(xlabel="initial rate − f₀", ylabel="Δθ after training", title="busy neurons raise θ, quiet ones lower it")
fig.tight_layout()

# %% [markdown]
# *Left:* each neuron's rate before and after training θ alone: the spread of initial rates
# (set by how strongly each neuron is driven) collapses onto the target. *Right:* the change
# of each threshold against how far the neuron started from the target: the sign is the
# one the derivation predicts.
#
# ## 6. Checks

# %%
elapsed = time.perf_counter() - T_START
assert reset_ok and proj_ok
# Refractory: detached, δs = a^s; attached, the difference is exactly (B7); B7 is not vacuous.
assert np.max(np.abs(ds_det - a_s)) < 1e-15
assert np.max(np.abs(ds_att - a_s - b7_hand)) < 1e-12
assert 2 <= np.count_nonzero(b7_hand) < T_ref and np.any(tr_att.s_free * (1 - tr_att.gate) > 0)
assert all(r.passed for r in refrac_smooth)
# Gain: exactly g× with δs = a^s; not with an attached reset.
assert all(np.allclose(r, g, rtol=1e-12) for g, r in gain_ratio.items())
assert np.max(np.abs(att3 - 3.0 * att1)) > 1e-3 * np.max(np.abs(att1))
# Slope: the quietest neuron's θ-gradient shrinks by orders of magnitude from k = 2 to 20,
# while a neuron near the target keeps a gradient of the same order.
quiet = np.argmin(f_init)
assert g_by_k[20.0][quiet] < 1e-3 * g_by_k[2.0][quiet]
# Intrinsic plasticity: the rates approach f0 and θ moves with the sign of f_init − f0.
assert err_after < 0.2 * err_before, (err_before, err_after)
assert corr > 0.9 and np.all(np.sign(d_theta[np.abs(f_init - F0) > 0.02]) ==
                             np.sign((f_init - F0)[np.abs(f_init - F0) > 0.02]))
assert np.all(theta_param["theta"] >= constraints.THETA_MIN)
print(f"all checks passed in {elapsed:.0f} s")

# %% [markdown]
# **Exercise.** Implement the stubs in `exercises/ex11_trainable_neuron_dynamics.py`, then run
# `python exercises/check.py ex11`; it compares your refractory-gate adjoint (B7), θ-gradient
# and projection with refsnn's and names the term that differs (for instance the gate's
# path through the past spikes, or the gate factor on σ').
