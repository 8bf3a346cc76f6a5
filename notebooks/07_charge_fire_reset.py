# %% [markdown]
# # 07 · Charge, fire, reset
#
# Seed 004 (notes on Yu Zhaofei's lecture on SNN learning, summarised in `docs/seeds.md`) writes the neuron in three
# steps, the form that SpikingJelly uses. This notebook maps it onto refsnn's equations
# F1–F6, implements seed 004's form in a few lines of NumPy **as a check only**, and
# asserts that refsnn, with the mapped parameters, produces identical spike trains and
# membranes, and the same gradients.
#
# **Charge**, with time constant $\tau$:
#
# $$ H_t = f(V_{t-1}, X_t), \qquad
#    \text{LIF: } H_t = \Big(1 - \frac1\tau\Big) V_{t-1} + \frac1\tau X_t, \qquad
#    \text{IF: } H_t = V_{t-1} + \frac1\tau X_t \tag{7.1} $$
#
# **Fire**, with $\Theta(0) = 1$:
#
# $$ S_t = \Theta(H_t - V_\text{th}) \tag{7.2} $$
#
# **Reset**, hard or soft:
#
# $$ \text{hard: } V_t = S_t V_\text{reset} + (1 - S_t) H_t, \qquad
#    \text{soft: } V_t = H_t - S_t V_\text{th} \tag{7.3} $$
#
# The seed prints the soft reset as $V_t = V_t - S_t V_\text{th}$; the right-hand side must
# be $H_t$ (as in SpikingJelly; `docs/conventions.md` §1), since $V_t$ is what is being
# defined.

# %%
# %matplotlib inline
import numpy as np
import matplotlib.pyplot as plt

np.set_printoptions(precision=4, suppress=False, linewidth=100)
plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})

# %%
from refsnn import LIFConfig, init_params, layer_backward, layer_forward, surrogate
from refsnn.gradcheck import check_gradient


# %% [markdown]
# ## 1. The mapping
#
# Two membranes appear in each step: $H_t$, the membrane after charging (compared with
# the threshold), and $V_t$, the membrane after the reset. refsnn stores one membrane per
# step, the one compared with the threshold, so
#
# $$ v_t \equiv H_t, \qquad s_t \equiv S_t, \qquad \theta = V_\text{th}. $$
#
# **Soft reset.** Put $V_{t-1} = H_{t-1} - V_\text{th} S_{t-1}$ into the LIF charge, with
# $a = 1 - 1/\tau$:
#
# $$ H_t = a H_{t-1} + \tfrac1\tau X_t - a V_\text{th}\, S_{t-1}. $$
#
# That is F4 with the subtractive reset, $v_t = \alpha v_{t-1} + I_t - \gamma s_{t-1}$, and
#
# $$ \alpha = a = 1 - \tfrac1\tau, \qquad \gamma = \alpha\,\theta, \qquad
#    I_t = x_t W^\top \text{ with } W = \tfrac1\tau \mathrm{Id},\; b = 0. \tag{7.4} $$
#
# ($\mathrm{Id}$ is the $N\times N$ identity: input line $i$ drives neuron $i$.) The
# subtracted amount is $\alpha\theta$, not $\theta$: the reset happens *before* the leak of
# the next step, so it decays along with the membrane.
#
# **Hard reset.** Put $V_{t-1} = S_{t-1} V_\text{reset} + (1 - S_{t-1}) H_{t-1}$ into the charge:
#
# $$ H_t = (1 - S_{t-1})\, a H_{t-1} + S_{t-1}\, a V_\text{reset} + \tfrac1\tau X_t. $$
#
# That is refsnn's `hard_keep_input`, $v_t = (1 - s_{t-1})\,\alpha v_{t-1} + s_{t-1} v_r + d_t$:
# the membrane is reset, and the new input is still added. So
#
# $$ \alpha = a, \qquad v_r = \alpha\, V_\text{reset}, \qquad W = \tfrac1\tau \mathrm{Id}. \tag{7.5} $$
#
# (Seed 000's hard reset, `hard_drop_input`, would discard the input of the step after a
# spike; it is a different neuron.)
#
# **Input scaling.** The LIF charge scales the input by $1/\tau$; refsnn puts any such
# factor into $W$. A library that writes $H = \beta V + X$ (snnTorch) maps to $W = \mathrm{Id}$
# instead. For the IF neuron of (7.1), $\alpha = 1$.
#
# **SpikingJelly's leak.** SpikingJelly's LIF code (with `decay_input=True`) charges
# $H_t = V_{t-1} + (X_t - (V_{t-1} - V_\text{reset}))/\tau$: the membrane leaks towards
# $V_\text{reset}$, not towards 0. That adds the constant $V_\text{reset}/\tau$, i.e. refsnn's
# bias $b = V_\text{reset}/\tau$. Seed 004's form is the case $V_\text{reset} = 0$ of the leak.
#
# **Time index and reset timing.** $X_t$ drives $H_t$, and refsnn's $x_t$ drives $v_t$:
# no shift is needed. (The shift that `docs/seeds.md` mentions under seed 000 §4 relates seed 004
# to seed 000, whose input $x_t$ reaches $v_{t+1}$; see notebook 03.) SpikingJelly resets
# within step $t$, refsnn applies the reset when it computes $v_{t+1}$; since $V_t$ is
# used only to compute $H_{t+1}$, the two are the same model, and they differ only in
# which membrane is recorded. $V_t$ is recovered from refsnn's trajectory as
# $v_t - \theta s_t$ (soft) or $s_t V_\text{reset} + (1 - s_t)\, v_t$ (hard).
#
# **Initial state.** The charge/fire/reset form starts from $V_{-1}$ ($V_\text{reset}$ for a
# hard reset, 0 for a soft one), with no spike. refsnn starts from $v_{-1}$ and derives
# $s_{-1} = H(v_{-1} - \theta)$ from it (correction 4 in `refsnn/neurons/lif.py`). Setting
# $v_{-1} = V_{-1}$ gives the same first step whenever $V_{-1} < V_\text{th}$: then
# $s_{-1} = 0$ and $\alpha v_{-1} = a V_{-1}$.
#
# **Spike at threshold and gradients.** $\Theta(0) = 1$ is refsnn's `h0=1.0` (the default).
# SpikingJelly's default `detach_reset=False` is refsnn's `detach_reset=False`, and its
# default surrogate `Sigmoid(alpha=4)` is `surrogate("sigmoid", 4.0)`.

# %% [markdown]
# ## 2. Seed 004's form in NumPy (a check, not a model)

# %%
def heaviside_h0_1(z):
    return (z >= 0).astype(z.dtype)                                   # Θ, with Θ(0) = 1

def charge_fire_reset(X, tau, V_th, V_reset, reset, V_init, neuron="LIF", leak_to_reset=False,
                      spike=heaviside_h0_1):
    # Seed 004's three steps over X (T, B, N); returns H, S, V, each (T, B, N).
    H_all, S_all, V_all = np.empty_like(X), np.empty_like(X), np.empty_like(X)
    V = V_init
    for t in range(len(X)):
        if neuron == "LIF":                                           # charge (7.1)
            H = (1 - 1 / tau) * V + X[t] / tau + (V_reset / tau if leak_to_reset else 0.0)
        else:
            H = V + X[t] / tau
        S = spike(H - V_th)                                           # fire (7.2)
        V = S * V_reset + (1 - S) * H if reset == "hard" else H - S * V_th   # reset (7.3)
        H_all[t], S_all[t], V_all[t] = H, S, V
    return H_all, S_all, V_all

def mapped_refsnn(N, tau, V_th, V_reset, reset, neuron="LIF", leak_to_reset=False,
                  sg=surrogate("sigmoid", 4.0), forward="heaviside"):
    # refsnn's layer with the parameters of (7.4) / (7.5).
    a = 1 - 1 / tau if neuron == "LIF" else 1.0
    values = dict(W=np.eye(N) / tau, alpha=a, theta=V_th, b=V_reset / tau if leak_to_reset else 0.0)
    if reset == "soft":
        cfg = LIFConfig(N, N, surrogate=sg, forward=forward, reset="subtract")
        values["gamma"] = a * V_th                                    # γ = αθ
    else:
        cfg = LIFConfig(N, N, surrogate=sg, forward=forward, reset="hard_keep_input")
        values["v_reset"] = a * V_reset                               # v_r = α V_reset
    return cfg, init_params(cfg, 0, **values)

def recorded_V(traj, V_th, V_reset, reset):
    # SpikingJelly's post-reset membrane, from refsnn's v ≡ H.
    v, s = traj.v, traj.s
    return v - V_th * s if reset == "soft" else s * V_reset + (1 - s) * v


# %% [markdown]
# ## 3. Identical spike trains and membranes
#
# Five variants, each on 200 steps of random input currents for 3 trials × 4 neurons,
# with $\tau = 2$, $V_\text{th} = 1$ and $V_\text{reset} = -0.2$ (nonzero, so that the
# $v_r = \alpha V_\text{reset}$ mapping is exercised).

# %%
rng = np.random.default_rng(0)
T, B, N = 200, 3, 4
tau, V_th, V_reset = 2.0, 1.0, -0.2
X = rng.uniform(-0.5, 3.0, (T, B, N))

variants = {
    "LIF, soft": dict(reset="soft"),
    "LIF, hard": dict(reset="hard"),
    "LIF, hard, leak to V_reset": dict(reset="hard", leak_to_reset=True),
    "IF, soft": dict(reset="soft", neuron="IF"),
    "IF, hard": dict(reset="hard", neuron="IF"),
}
comparison = {}
for name, kw in variants.items():
    V_init = np.full((B, N), V_reset if kw["reset"] == "hard" else 0.0)
    H, S, V = charge_fire_reset(X, tau, V_th, V_reset, V_init=V_init, **kw)
    cfg, params = mapped_refsnn(N, tau, V_th, V_reset, **kw)
    traj = layer_forward(cfg, params, X, {"v": V_init})
    comparison[name] = (H, S, V, traj)
    print(f"{name:28s}: {int(S.sum()):4d} spikes; spike trains identical: {np.array_equal(S, traj.s)};"
          f" max |H - v| = {np.abs(H - traj.v).max():.1e};"
          f" max |V - V(refsnn)| = {np.abs(V - recorded_V(traj, V_th, V_reset, kw['reset'])).max():.1e}")


# %% [markdown]
# The membranes agree to rounding: the two programs add the same terms in a different
# order ($a(H - V_\text{th}S)$ against $aH - \gamma S$), so they are equal as real numbers
# and differ by less than $10^{-14}$ as floats. The spike trains are identical.
#
# **Would a wrong mapping be caught?** Three plausible mistakes: subtracting $\theta$
# instead of $\alpha\theta$, resetting to $V_\text{reset}$ instead of $\alpha V_\text{reset}$,
# and forgetting the input's $1/\tau$.

# %%
def run_mapped(kw, **override):
    cfg, params = mapped_refsnn(N, tau, V_th, V_reset, **kw)
    params.update({k: np.full_like(params[k], v) if np.ndim(v) == 0 else v for k, v in override.items()})
    V_init = np.full((B, N), V_reset if kw["reset"] == "hard" else 0.0)
    return layer_forward(cfg, params, X, {"v": V_init})

mistakes = {
    "soft, γ = θ": ("LIF, soft", run_mapped(variants["LIF, soft"], gamma=V_th)),
    "hard, v_r = V_reset": ("LIF, hard", run_mapped(variants["LIF, hard"], v_reset=V_reset)),
    "soft, W = 1 (no 1/τ)": ("LIF, soft", run_mapped(variants["LIF, soft"], W=np.eye(N))),
}
for name, (ref, traj_wrong) in mistakes.items():
    H, S = comparison[ref][:2]
    print(f"{name:22s}: spikes differ at {int(np.sum(S != traj_wrong.s)):4d} of {S.size} entries,"
          f" max |H - v| = {np.abs(H - traj_wrong.v).max():.3f}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 3.6), sharey=True)
for ax, name in zip(axes, ("LIF, soft", "LIF, hard")):
    H, S, V, traj = comparison[name]
    steps = np.arange(40)
    ax.plot(steps, H[:40, 0, 0], "o-", ms=3, label="$H_t$ (seed 004)")
    ax.plot(steps, V[:40, 0, 0], "s--", ms=3, label="$V_t$ (seed 004)")
    ax.plot(steps, traj.v[:40, 0, 0], "k.", ms=4, label="$v_t$ (refsnn)")
    ax.axhline(V_th, color="gray", ls=":")
    for t_spike in np.flatnonzero(S[:40, 0, 0]):
        ax.axvline(t_spike, color="tab:red", lw=0.6, alpha=0.5)
    ax.set(title=name, xlabel="step t", ylabel="membrane", ylim=(-1.0, 2.0))
    ax.legend(fontsize=8, loc="lower left", ncol=3)                  # one row, below the data (min -0.2)
plt.tight_layout(); plt.show()

# %% [markdown]
# *Figure 1.* Seed 004's charged membrane $H_t$ and post-reset membrane $V_t$ against refsnn's $v_t$ over the first 40 steps, for the soft (left) and the hard (right) reset; red lines mark the spikes, the dotted line the threshold. refsnn's $v_t$ lies on $H_t$ at every step.
#
# ## 4. The gradients carry over too
#
# The mapping is an identity between two ways of computing the same numbers, so the
# gradients must agree as well. With smooth spikes (the surrogate's primitive $F$ in
# place of $\Theta$ in both programs), the charge/fire/reset form is differentiable, and
# finite differences of it (with respect to every input $X_t$) must equal refsnn's
# smooth-twin gradient `layer_backward(...).x`, with the reset attached as in
# SpikingJelly's default. The loss is $L = \sum c^S_t S_t + \sum c^H_t H_t$ with fixed
# random weights, so refsnn's direct partials are $a^s = c^S$ and $a^v = c^H$.
#
# The surrogate is a triangle of half-width 0.5: its primitive is exactly 0 below
# $\theta - 0.5$, so the smooth $s_{-1} = F(v_{-1} - \theta)$ that refsnn derives from the
# initial membrane is exactly 0, as the charge/fire/reset form assumes. (A sigmoid's
# primitive is never exactly 0, and the two forms would differ by a small initial reset.)
# A second-order central difference (step $10^{-5}$) then agrees with refsnn's gradient to
# better than $10^{-7}$ relative in every entry.

# %%
sg_tri = surrogate("triangle", 0.5)
T_g, B_g = 30, 2
X_g = rng.uniform(-0.5, 3.0, (T_g, B_g, N))
c_S, c_H = rng.normal(size=(T_g, B_g, N)), rng.normal(size=(T_g, B_g, N))
grad_checks = {}
for name in ("LIF, soft", "LIF, hard"):
    kw = variants[name]
    V_init = np.full((B_g, N), V_reset if kw["reset"] == "hard" else 0.0)

    def loss_cfr(X_, kw=kw, V_init=V_init):
        H, S, _ = charge_fire_reset(X_, tau, V_th, V_reset, V_init=V_init, spike=sg_tri.primitive, **kw)
        return float(np.sum(c_S * S) + np.sum(c_H * H))

    cfg, params = mapped_refsnn(N, tau, V_th, V_reset, sg=sg_tri, forward="smooth", **kw)
    traj = layer_forward(cfg, params, X_g, {"v": V_init})
    H_smooth = charge_fire_reset(X_g, tau, V_th, V_reset, V_init=V_init, spike=sg_tri.primitive, **kw)[0]
    grads = layer_backward(traj, params, ds=c_S, dv=c_H)
    result = check_gradient(loss_cfr, X_g, grads.x, name=f"dL/dX, {name}", eps=1e-5, rtol=1e-7, floor=1e-3)
    grad_checks[name] = (result, np.abs(H_smooth - traj.v).max())
    print(result)
    print(f"   smooth forward: max |H - v| = {grad_checks[name][1]:.1e}")

# %% [markdown]
# ## 5. Checks

# %%
# 1. Every variant: identical spikes, H = v and the recorded V, to rounding.
for name, (H, S, V, traj) in comparison.items():
    reset = variants[name]["reset"]
    assert S.sum() > 0.1 * S.size and S.sum() < 0.9 * S.size, name       # the resets are exercised
    assert np.array_equal(S, traj.s), name
    assert np.allclose(H, traj.v, rtol=0, atol=1e-12), name
    assert np.allclose(V, recorded_V(traj, V_th, V_reset, reset), rtol=0, atol=1e-12), name
    assert np.abs(H - traj.v).max() < 1e-14, name                         # "less than 1e-14"
# 2. Each wrong mapping changes the spike trains.
for name, (ref, traj_wrong) in mistakes.items():
    assert not np.array_equal(comparison[ref][1], traj_wrong.s), name
# 3. Smooth spikes: the same forward pass, and the same input gradient as finite differences.
for name, (result, forward_gap) in grad_checks.items():
    assert forward_gap < 1e-12, name
    assert result.passed and result.n_checked == X_g.size, str(result)
    assert result.max_rel_error < 1e-7, str(result)
# 4. The smooth s_{-1}: exactly 0 for the triangle of half-width 0.5 from both initial
#    membranes, never exactly 0 for a sigmoid.
for V0 in (0.0, V_reset):
    assert float(sg_tri.primitive(V0 - V_th)) == 0.0
    assert float(surrogate("sigmoid", 4.0).primitive(V0 - V_th)) > 0.0
# 5. SpikingJelly's leak towards V_reset, H = V + (X - (V - V_reset))/τ, is seed 004's LIF
#    charge plus the constant V_reset/τ (refsnn's bias b = V_reset/τ).
V_any, X_any = rng.normal(size=(B, N)), rng.normal(size=(B, N))
assert np.allclose(V_any + (X_any - (V_any - V_reset)) / tau,
                   (1 - 1 / tau) * V_any + X_any / tau + V_reset / tau, rtol=0, atol=1e-15)
# 6. SpikingJelly's defaults as recorded in refsnn's preset (checked against the library by
#    the oracle's tests): Θ(0) = 1 is refsnn's default h0, reset attached, Sigmoid(alpha=4).
from refsnn.oracle.presets import PRESETS, SJ_SURROGATES
sj = PRESETS["spikingjelly.LIFNode"].defaults       # alpha None: the surrogate class's own default
assert sj["detach_reset"] is False and sj["surrogate_function"] == "Sigmoid"
assert sj["alpha"] is None and SJ_SURROGATES["Sigmoid"] == 4.0
assert LIFConfig(1, 1).h0 == 1.0 and LIFConfig(1, 1).detach_reset is False
# 7. Figure 1's legend (a row at the bottom of the axes, from -1) covers no plotted point.
for name in ("LIF, soft", "LIF, hard"):
    H, S, V, traj = comparison[name]
    assert min(H[:40, 0, 0].min(), V[:40, 0, 0].min()) > -0.5, name
print("all checks passed")

# %% [markdown]
# **Exercise.** Implement the stubs in `exercises/ex07_charge_fire_reset.py`, then run `python exercises/check.py ex07` from the repository's root. It prints PASS or FAIL for each function, with the worst relative error and a hint. The solutions are in `exercises/solutions/ex07_charge_fire_reset.py`.
