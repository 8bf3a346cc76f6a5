# %% [markdown]
# # 04 · Soft and hard reset
#
# After a spike the membrane is reset, either by subtracting an amount (soft reset) or
# by setting it to a value (hard reset). Both choices change how a gradient travels
# backward across a spike. This notebook writes the one-step Jacobian
# $\partial v_t/\partial v_{t-1}$ for each reset kind, reads it as a piecewise-linear system,
# plots how $\lvert\delta v_t\rvert$ decays or grows across spikes, and looks at a known
# pitfall of letting the gradient flow through the reset ("attached" reset): with a
# steep surrogate, the threshold becomes repelling.
#
# Sources: seed 000 §5 ("神经元动力学对梯度流的影响", summarised in `docs/seeds.md`),
# `refsnn/neurons/lif.py` (the reset table and its correction 2), `docs/conventions.md` §1
# (which libraries reset how), and Zenke's explanation in the SpyTorch issue tracker
# (fzenke/spytorch, issue 2).

# %%
# %matplotlib inline
import numpy as np
import matplotlib.pyplot as plt

np.set_printoptions(precision=4, suppress=False, linewidth=100)
plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})

# %%
from refsnn import LIFConfig, init_params, layer_backward, layer_forward, surrogate

# %% [markdown]
# ## 1. The reset kinds and their Jacobians
#
# refsnn writes every reset as one amount $r_t$ subtracted after a spike (F3–F4):
#
# $$ m_t = \alpha\, v_{t-1}, \qquad d_t = c_t - \beta\, u_{t-1} \tag{F3} $$
#
# $$ v_t = m_t + d_t - \tilde s_{t-1}\, r_t \tag{F4} $$
#
# | `reset` | $r_t$ | $r_m = \partial r/\partial m$ | F4 becomes |
# |---|---|---|---|
# | `subtract` (soft) | $\gamma$ | 0 | $v_t = m_t + d_t - s_{t-1}\gamma$ |
# | `hard_keep_input` | $m_t - v_r$ | 1 | $v_t = (1 - s_{t-1})\, m_t + s_{t-1} v_r + d_t$ |
# | `hard_drop_input` | $m_t + d_t - v_r$ | 1 | $v_t = (1 - s_{t-1})(m_t + d_t) + s_{t-1} v_r$ (seed 000) |
#
# $\tilde s$ is the spike as seen by the reset. *Attached* (`detach_reset=False`), it is
# $s_{t-1} = H(v_{t-1} - \theta)$ and the backward pass differentiates it with $\sigma'$.
# *Detached* (`detach_reset=True`), it has the same value but is treated as a constant.
#
# Without recurrence, the membrane depends on the previous membrane through $m_t$, and
# (attached) through $s_{t-1}$ in the reset term (with recurrent weights, $s_{t-1}$ also
# reaches $v_t$ through the input current $I_t$, and adaptation adds a path through
# $u$; neither is part of the reset):
#
# $$ \frac{\partial v_t}{\partial v_{t-1}}
#    = \alpha\,(1 - \tilde s_{t-1} r_m) - [\text{attached}]\; r_t\, \sigma'(v_{t-1} - \theta)
#    \tag{4.1} $$
#
# that is, per kind,
#
# $$ \text{soft:}\quad \alpha - [\text{att}]\;\gamma\,\sigma'(v_{t-1} - \theta) \tag{4.2} $$
#
# $$ \text{hard, keep input:}\quad \alpha(1 - s_{t-1}) - [\text{att}]\;(\alpha v_{t-1} - v_r)\,\sigma'(v_{t-1} - \theta) \tag{4.3} $$
#
# $$ \text{hard, drop input:}\quad \alpha(1 - s_{t-1}) - [\text{att}]\;(\alpha v_{t-1} + d_t - v_r)\,\sigma'(v_{t-1} - \theta) \tag{4.4} $$
#
# (4.4) is seed 000's hard-reset Jacobian
# $\alpha(1 - s_t) + (V_\text{reset} - \alpha v_t - I_t)\,\sigma'$ in refsnn's labels, with
# the seed's $I_t$ read as the whole drive $d_t$, adaptation included. (4.1) is the factor
# with which B2, after B1 has put in the reset term $-r_t\,\delta v_t$, carries
# $\delta v_t$ back to $\delta v_{t-1}$:
#
# $$ \delta s_{t-1} = a^s_{t-1} - [\text{att}]\; r_t\, \delta v_t + \dots \tag{B1} $$
#
# $$ \delta v_{t-1} = a^v_{t-1} + \alpha\, g^m_t\, \delta v_t + \sigma'(v_{t-1} - \theta)\, \delta s_{t-1} \tag{B2} $$
#
# with $g^m_t = 1 - \tilde s_{t-1} r_m$. The check: one neuron, a loss on its last
# membrane only, so that B1–B2 contain nothing else, and then
# $\delta v_{t-1} = (\partial v_t / \partial v_{t-1})\, \delta v_t$ at every step.

# %%
rng = np.random.default_rng(0)
T = 50
x = (0.16 + 0.05 * rng.standard_normal(T)).reshape(T, 1, 1)     # input current, (T, B=1, M=1)
RESETS = ("subtract", "hard_keep_input", "hard_drop_input")

def run(sg, reset, detach, alpha=0.95, theta=1.0):
    cfg = LIFConfig(1, 1, surrogate=sg, reset=reset, detach_reset=detach)
    params = init_params(cfg, 0, W=np.ones((1, 1)), alpha=alpha, theta=theta)   # γ = θ, v_r = 0
    traj = layer_forward(cfg, params, x)
    a_v = np.zeros((T, 1, 1))
    a_v[-1] = 1.0                                       # L = v_{T-1}
    grads = layer_backward(traj, params, dv=a_v)
    return cfg, params, traj, grads.adjoints["dv"][:, 0, 0]

def jacobian(cfg, params, traj):
    # (4.1) for t = 1..T-1, from the stored trajectory.
    p = {k: float(v[0]) for k, v in params.items() if k != "W"}
    v, s, theta = traj.v[:, 0, 0], traj.s[:, 0, 0], p["theta"]
    v_prev, s_prev = v[:-1], s[:-1]
    sgp = cfg.surrogate.derivative(v_prev - theta)
    d = x[1:, 0, 0]                                    # the drive: no adaptation or synapse here
    m = p["alpha"] * v_prev
    if cfg.reset == "subtract":
        r, r_m = p["gamma"], 0.0
    elif cfg.reset == "hard_keep_input":
        r, r_m = m - p["v_reset"], 1.0
    else:
        r, r_m = m + d - p["v_reset"], 1.0
    attached = 0.0 if cfg.detach_reset else 1.0
    return p["alpha"] * (1 - s_prev * r_m) - attached * r * sgp

from refsnn.neurons import stability

worst = pkg_gap = 0.0
for reset in RESETS:
    for detach in (False, True):
        cfg, params, traj, dv = run(surrogate("triangle", 1.0), reset, detach)
        J = jacobian(cfg, params, traj)
        # the package's J1 (refsnn.neurons.stability, which adds recurrence) is this same (4.1)
        pkg_gap = max(pkg_gap, np.abs(stability.step_jacobians(traj, params)[1:, 0, 0, 0] - J).max())
        err = np.abs(dv[:-1] - J * dv[1:]).max()
        worst = max(worst, err)
        print(f"{reset:16s} detach={detach!s:5s}: max |δv_(t-1) - J_t δv_t| = {err:.1e}")

# %% [markdown]
# ## 2. The piecewise-linear view
#
# With the true derivative ($\sigma' = 0$) the attached term of (4.1) vanishes and the
# neuron is a *piecewise-linear* system: between spikes, $v_t = \alpha v_{t-1} + d_t$ is
# linear, and all nonlinearity sits in the spike events. The exact Jacobian is then
#
# * $\alpha$ at every step without a spike, for every reset kind;
# * across a spike: still $\alpha$ for the soft reset (it subtracts a constant), but
#   **0** for a hard reset, which sets the membrane to $v_r$ whatever it was.
#
# So a hard reset cuts the exact gradient at every spike: nothing before the last spike
# can influence what comes after it through the membrane. A gradient that crosses a hard
# reset must do so through the surrogate term $-r_t\,\sigma'$ of (4.3)–(4.4), which
# exists only when the reset is attached. The soft reset keeps the linear path $\alpha$
# open across spikes, and the surrogate term adds to it.
#
# ## 3. Gradient flow across spikes
#
# The neuron of section 1 (leak $\alpha = 0.95$, $\theta = 1$, $\gamma = 1$, $v_r = 0$)
# fires about every eight steps. The loss reads only its last membrane,
# $L = v_{T-1}$, and the plots show $\lvert\delta v_t\rvert$ from the adjoints
# (`LayerGradients.adjoints["dv"]`), on a log scale, for two surrogates: the triangle of
# half-width 1 (height $1 = 1/\theta$) and a steep sigmoid (slope 25, height 6.25). Dotted
# lines mark the spikes. Exact zeros are not drawn.

# %%
surrogates = {"triangle, height 1": surrogate("triangle", 1.0), "sigmoid k=25, height 6.25": surrogate("sigmoid", 25.0)}
flows = {}
fig, axes = plt.subplots(2, 3, figsize=(13, 6.5), sharex=True)
for row, (sg_name, sg) in enumerate(surrogates.items()):
    for col, reset in enumerate(RESETS):
        ax = axes[row, col]
        for detach, style in ((False, "-"), (True, "--")):
            cfg, params, traj, dv = run(sg, reset, detach)
            flows[sg_name, reset, detach] = (dv, traj.s[:, 0, 0])
            shown = np.where(dv == 0.0, np.nan, np.abs(dv))
            ax.semilogy(shown, style, marker=".", label="detached" if detach else "attached")
        for t_spike in np.flatnonzero(traj.s[:, 0, 0]):
            ax.axvline(t_spike, color="gray", ls=":", lw=0.8)
        ax.set_title(f"{reset}\n{sg_name}", fontsize=9)
        if row == 1:
            ax.set_xlabel("step t")
        ax.set_ylabel("$|\\delta v_t|$, loss $L = v_{T-1}$")
        ax.legend(fontsize=8)
plt.tight_layout(); plt.show()
steep = "sigmoid k=25, height 6.25"
for reset in RESETS:
    for detach in (False, True):
        a = np.abs(flows[steep, reset, detach][0])
        print(f"{steep}, {reset:15s} {'detached' if detach else 'attached'}: "
              f"|δv_0| = {a[0]:.3g}, peak {a.max():.3g} at t = {a.argmax()}")

# %% [markdown]
# *Figure 1.* $\lvert\delta v_t\rvert$ over the steps $t$ for the loss $L = v_{T-1}$, for each reset kind (columns) and two surrogates (rows), attached (solid) and detached (dashed); dotted vertical lines mark the spikes, and steps where $\delta v_t = 0$ are not drawn.
#
# What the six panels show:
#
# * **Soft, detached**: $\lvert\delta v_t\rvert = \alpha^{T-1-t}$, a straight line on
#   the log scale, the spikes leave no trace (4.2 with the attached term off).
# * **Hard, detached**: the gradient stops dead at the last spike before $T - 1$
#   (4.3–4.4 give $\alpha(1 - s) = 0$ there), exactly as in the piecewise-linear view.
# * **Attached, triangle of height $1/\theta$**: below threshold the soft-reset factor
#   (4.2) is $\alpha - \gamma\sigma'(v - \theta) = \theta - v - 0.05$ here, close to
#   $\alpha$ just after a reset and close to 0 just below the threshold. Every approach
#   to the threshold multiplies the gradient by a small number, so it vanishes in steps,
#   one per spike, far faster than $\alpha^k$. The hard resets, whose attached terms
#   in (4.3)–(4.4) are of the same kind, behave alike.
# * **Attached, steep sigmoid**: between spikes the membrane is far from the threshold,
#   $\sigma' \approx 0$, and the factor is $\alpha$. At the steps close to the threshold,
#   $\gamma\sigma' \gg \alpha$ and the factor is large and negative, so the gradient
#   jumps at every spike, by factors of several, with a change of sign. How far it gets
#   depends on the reset (the numbers are printed below the figure and asserted at the
#   end). With the hard reset that drops the input, $\lvert\delta v_t\rvert$ peaks at about
#   $6 \times 10^3$ at $t = 17$, where the detached gradient is at most 1, and is still
#   about 19 at $t = 0$: a steep surrogate with an attached reset turns a leaky, stable
#   neuron into one whose gradient explodes. With the hard reset that keeps the input
#   the peak is about 30 and $\lvert\delta v_0\rvert \approx 4$. With the soft reset the jumps
#   partly cancel: the peak is about 5, and at $t = 0$ the attached gradient (0.035) is
#   *smaller* than the detached one ($\alpha^{49} \approx 0.081$).
#
# Which libraries detach (`docs/conventions.md` §1, "reset in the gradient"): snnTorch detaches the reset
# (unless `reset_delay=False`), as do SpyTorch and Norse's recurrent cells;
# SpikingJelly attaches by default (`detach_reset=False`), as do Rockpool and Norse's
# feed-forward cells. To compare gradients with one of them, set `detach_reset`
# accordingly; the two choices are different gradients, not different precisions.
#
# ## 4. Why attaching can make the threshold repelling
#
# In SpikingJelly's charge/fire/reset form (notebook 07), the soft reset is
# $V = H - \theta\,S$ with $S = \Theta(H - \theta)$, and attached, its local derivative is
#
# $$ \frac{dV}{dH} = 1 - \theta\,\sigma'(H - \theta). \tag{4.5} $$
#
# In refsnn's terms (notebook 07 derives the mapping $\gamma = \alpha\theta$), (4.2)
# becomes $\alpha\,(1 - \theta\sigma')$: the same factor, times the leak. Below, the
# integrate-and-fire (IF) neuron, $\alpha = 1$ and $\gamma = \theta$, where the two coincide.
# For every surrogate whose peak is $1/\theta$ (a triangle of half-width $\theta$, a
# sigmoid of slope $4/\theta$) the factor is exactly **0 at the threshold**: a membrane
# sitting at threshold passes nothing of the future's gradient back. For a peak above
# $1/\theta$ it is *negative* near the threshold, and below $-1$ once the peak exceeds
# $2/\theta$. Zenke's reading: the reset term enters with a negative sign, so the local
# gradient "feels" the reset before the spike happens, and with an un-normalised steep
# surrogate (he cites a sigmoid of slope 100) the threshold becomes repelling.

# %%
theta = 1.0
x_near = np.array([-0.5, -0.2, -0.1, -0.05, 0.0, 0.05, 0.1])
table = {
    "triangle a=θ (peak 1/θ)": surrogate("triangle", theta),
    "sigmoid k=4/θ (peak 1/θ)": surrogate("sigmoid", 4.0 / theta),
    "arctan k=2 (peak 1/θ)": surrogate("arctan", 2.0),
    "sigmoid k=100 (peak 25/θ)": surrogate("sigmoid", 100.0),
}
print("x = v - θ:" + "".join(f"{v:9.2f}" for v in x_near))
factors = {}
for name, sg in table.items():
    factors[name] = 1.0 - theta * sg.derivative(x_near)            # (4.5)
    print(f"{name:26s}" + "".join(f"{f:9.3f}" for f in factors[name]))

# %% [markdown]
# **A case where this can be computed exactly.** Drive an IF neuron ($\alpha = 1$,
# $\gamma = \theta = 1$, soft reset) with a constant bias $b$ for $T = 40$ steps. Its spike
# count $n$ is about $Tb/\theta$: a staircase in $b$ whose average slope is $T/\theta = 40$.
# The surrogate gradient $dn/db$ comes from B1–B2 with $a^s_t = 1$ and G1
# ($\partial L/\partial b = \sum_t \delta v_t$). With the reset attached, B2 reads
# $\delta v_t = \sigma'_t + (1 - \theta\sigma'_t)\,\delta v_{t+1}$ with
# $\sigma'_t = \sigma'(v_t - \theta)$, so the error $e_t = \delta v_t - 1/\theta$ obeys
# $e_t = (1 - \theta\sigma'_t)\, e_{t+1}$, starting from $e_T = -1/\theta$:
#
# $$ \frac{dn}{db}\Big|_\text{attached} = \frac1\theta \sum_{t=0}^{T-1}
#    \Big[1 - \prod_{k=t}^{T-1} (1 - \theta\,\sigma'_k)\Big]. \tag{4.6} $$
#
# Detached, $\delta v_t = \sigma'_t + \delta v_{t+1}$, and
#
# $$ \frac{dn}{db}\Big|_\text{detached} = \sum_{k=0}^{T-1} (k + 1)\, \sigma'_k. \tag{4.7} $$
#
# So the attached gradient is the slope $T/\theta$ plus the error $\sum_t e_t$, which
# stays small when the factors $1 - \theta\sigma'_k$ shrink $e$ quickly: near the
# threshold, which the membrane passes at every spike, $0 < \theta\sigma' < 2$ is enough,
# and a peak of exactly $1/\theta$ sets $e$ (nearly) to zero each time. The detached
# gradient counts every near-threshold step once for every later step and overshoots.
# With a peak above $2/\theta$, the products in (4.6) explode with alternating signs.

# %%
T_if = 40
b_values = np.linspace(0.05, 0.3, 26) + 0.0013           # off the exact multiples of 1/T
n_b = len(b_values)
if_surrogates = {"triangle a=1 (peak 1)": surrogate("triangle", 1.0),
                 "sigmoid k=100 (peak 25)": surrogate("sigmoid", 100.0)}

def if_layer(sg, detach, b=b_values):
    cfg = LIFConfig(1, len(b), surrogate=sg, detach_reset=detach)    # soft reset
    params = init_params(cfg, 0, W=np.zeros((len(b), 1)), alpha=1.0, theta=1.0, gamma=1.0, b=b)
    return cfg, params

def count_and_slope(sg, detach, b=b_values):
    cfg, params = if_layer(sg, detach, b)
    traj = layer_forward(cfg, params, np.zeros((T_if, 1, 1)))
    grads = layer_backward(traj, params, ds=np.ones((T_if, 1, len(b))))    # L = n = Σ_t s_t
    return traj, grads.params["b"]

slopes, closed = {}, {}
for name, sg in if_surrogates.items():
    for detach in (False, True):
        traj, dn_db = count_and_slope(sg, detach)
        sgp = sg.derivative(traj.v[:, 0, :] - 1.0)                     # σ'_k, (T, n_b)
        if detach:
            closed[name, detach] = ((np.arange(T_if) + 1)[:, None] * sgp).sum(0)            # (4.7)
        else:
            tail = np.cumprod((1.0 - sgp)[::-1], axis=0)[::-1]                              # Π_{k>=t}
            closed[name, detach] = (1.0 - tail).sum(0)                                      # (4.6)
        slopes[name, detach] = dn_db
counts = traj.s[:, 0, :].sum(0)

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(12, 3.8))
ax0.step(b_values, counts, where="mid", label="spike count n")
ax0.plot(b_values, T_if * b_values, "--", label="$Tb/\\theta$")
ax0.set(xlabel="bias b", ylabel="n", title="IF neuron: spike count"); ax0.legend()
for (name, detach), dn_db in slopes.items():
    ax1.plot(b_values, dn_db, "o-", ms=3, label=f"{name}, {'detached' if detach else 'attached'}")
ax1.axhline(T_if, color="k", ls="--", lw=1, label="$T/\\theta$ = 40")
ax1.set_yscale("symlog", linthresh=10)
ax1.set(xlabel="bias b", ylabel="surrogate dn/db", title="surrogate gradients of the count")
ax1.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))     # outside: the curves fill the axes
plt.tight_layout(); plt.show()
for (name, detach), dn_db in slopes.items():
    print(f"{name:24s} {'detached' if detach else 'attached':8s}: dn/db from {dn_db.min():10.3g} to {dn_db.max():10.3g}")


# %% [markdown]
# *Figure 2.* An IF neuron driven by a bias $b$ for $T = 40$ steps. Left: its spike count $n$, a staircase under the line $Tb/\theta$. Right: the surrogate gradient $dn/db$ for two surrogates, attached and detached (symmetric log scale); the dashed line is the slope $T/\theta$ of the staircase's trend.
#
# With a surrogate of peak $1/\theta$, the attached gradient sits at the slope of the
# staircase, $\approx 40$, and the detached one is more than ten times larger. With the
# steep sigmoid, the attached gradient takes either sign and absurd sizes. For a loss that
# wants *more* spikes, a negative $dn/db$ tells gradient descent to lower the bias: the
# neuron is pushed away from the threshold it should cross.
#
# **Seeing it in training.** Minimise $L = \tfrac12 (n - n^*)^2$ over $b$ for a target of
# $n^* = 8$ spikes, starting from $b = 0.1$, with *sign* gradient descent
# ($b \leftarrow b - 0.005\,\mathrm{sign}(\partial L/\partial b)$) so that only the
# direction of the gradient matters, not its size.

# %%
def sign_descent(sg, detach, target=8, b0=0.1, steps=40, step_size=0.005):
    b = np.array([b0])
    history = []
    for _ in range(steps):
        cfg, params = if_layer(sg, detach, b)
        traj = layer_forward(cfg, params, np.zeros((T_if, 1, 1)))
        n = traj.s.sum()
        grads = layer_backward(traj, params, ds=np.full((T_if, 1, 1), n - target))   # a^s = n - n*
        history.append(int(n))
        b = b - step_size * np.sign(grads.params["b"])
    return np.array(history)

descent = {(name, detach): sign_descent(sg, detach)
           for name, sg in if_surrogates.items() for detach in (False, True)}
plt.figure(figsize=(6.5, 3.6))
for ((name, detach), hist), style in zip(descent.items(), ("-", "--", "-", ":")):
    plt.plot(hist, style, lw=2.5 if style == ":" else 1.5, label=f"{name}, {'detached' if detach else 'attached'}")
plt.axhline(8, color="k", ls="--", lw=1)
plt.xlabel("sign-gradient step"); plt.ylabel("spike count n"); plt.legend(fontsize=8)
plt.title("reaching n* = 8 spikes"); plt.show()
for key, hist in descent.items():
    print(key, "final count", hist[-1])

# %% [markdown]
# *Figure 3.* The spike count over 40 steps of sign-gradient descent on $b$ towards $n^* = 8$ (dashed), for the four gradients of Figure 2.
#
# Three of the four runs climb to 8 spikes, along the same path (their gradients have
# the same sign at every step, so sign descent cannot tell them apart). The attached
# reset with the steep sigmoid stays where it started, at 3 spikes for all 40 steps: its
# gradient points the wrong way, the bias steps down, the next gradient points up, and
# the bias swings back and forth within a step or two of its start.
# The usual remedies are to detach the reset, or to keep the surrogate's peak at or
# below $1/\theta$, where the factor (4.5) stays in $[0, 1]$. Mind the defaults: for
# $\theta = 1$, refsnn's default triangle, boxcar and arctan peak at 1, but its default
# sigmoid (1.25), exponential (2.5) and SuperSpike (5) peak higher.
#
# ## 5. Checks

# %%
# 0. The steep sigmoid with an attached reset: the numbers quoted under the figure.
peak = {r: np.abs(flows[steep, r, False][0]) for r in RESETS}
assert 6e3 < peak["hard_drop_input"].max() < 7e3 and peak["hard_drop_input"].argmax() == 17
assert 18 < peak["hard_drop_input"][0] < 20
assert 30 < peak["hard_keep_input"].max() < 40 and 4 < peak["hard_keep_input"][0] < 5
assert 5 < peak["subtract"].max() < 6
assert peak["subtract"][0] < 0.5 * np.abs(flows[steep, "subtract", True][0][0])    # attached < detached
assert abs(peak["subtract"][0] - 0.035) < 0.001 and abs(0.95 ** 49 - 0.081) < 0.001
assert np.abs(flows[steep, "hard_drop_input", True][0]).max() <= 1.0                 # "detached at most 1"
assert np.isclose(np.abs(flows[steep, "subtract", True][0][0]), 0.95 ** 49)              # α = 0.95 in run()
# 1. (4.1) is the factor that carries δv_t to δv_{t-1}, for every reset kind and both detach modes.
assert worst < 1e-13, worst
# 2. Detached soft reset: δv_t = α^(T-1-t) exactly (the spikes leave no trace).
dv_soft, _ = flows["triangle, height 1", "subtract", True]
assert np.allclose(dv_soft, 0.95 ** np.arange(T - 1, -1, -1), rtol=1e-12)
# 3. Detached hard reset: zero before the last spike that precedes T-1, nonzero after.
for reset in ("hard_keep_input", "hard_drop_input"):
    dv_h, s_h = flows["triangle, height 1", reset, True]
    last = np.flatnonzero(s_h[:-1])[-1]
    assert not np.any(dv_h[:last + 1]) and np.all(dv_h[last + 1:] != 0), reset
# 4. Attached + wide surrogate vanishes faster than α^k; attached + steep surrogate grows and flips sign.
dv_att, _ = flows["triangle, height 1", "subtract", False]
assert abs(dv_att[0]) < 1e-6 * abs(dv_soft[0])
dv_steep, _ = flows["sigmoid k=25, height 6.25", "subtract", False]
assert np.abs(dv_steep).max() > 1.0 and np.any(dv_steep < 0)
# 5. (4.5): zero at threshold for peak 1/θ, negative for a steep surrogate.
i0 = int(np.flatnonzero(x_near == 0.0)[0])
for name in ("triangle a=θ (peak 1/θ)", "sigmoid k=4/θ (peak 1/θ)", "arctan k=2 (peak 1/θ)"):
    assert factors[name][i0] == 0.0 and np.all(factors[name] >= 0.0), name
assert factors["sigmoid k=100 (peak 25/θ)"][i0] == -24.0
#    The factor stays in [0, 1] for a peak 1/θ; at the threshold it is 1 - θ·peak: negative for a
#    peak above 1/θ, below -1 for a peak above 2/θ.
for name in ("triangle a=θ (peak 1/θ)", "sigmoid k=4/θ (peak 1/θ)", "arctan k=2 (peak 1/θ)"):
    assert np.all(factors[name] <= 1.0), name
for k_sig, sign in ((4.4, "negative"), (8.4, "below -1")):
    at0 = 1.0 - theta * float(surrogate("sigmoid", k_sig / theta).derivative(0.0))
    assert (at0 < 0) if sign == "negative" else (at0 < -1), (k_sig, at0)
# 6. The closed forms (4.6) and (4.7) equal refsnn's gradients.
for key, dn_db in slopes.items():
    assert np.allclose(dn_db, closed[key], rtol=1e-10, atol=1e-10), key
# 7. n ≈ Tb/θ, a staircase under that line; peak 1/θ attached ≈ the staircase slope T/θ;
#    detached more than ten times larger; steep attached takes either sign and absurd sizes.
assert np.all(counts <= T_if * b_values) and np.all(T_if * b_values - counts < 1.0)
assert np.all(np.abs(slopes["triangle a=1 (peak 1)", False] - T_if) < 3.0)
assert np.all(slopes["triangle a=1 (peak 1)", True] > 10 * T_if)
assert np.any(slopes["sigmoid k=100 (peak 25)", False] < 0) and np.any(slopes["sigmoid k=100 (peak 25)", False] > 0)
assert np.abs(slopes["sigmoid k=100 (peak 25)", False]).max() > 1e4
assert np.all(slopes["sigmoid k=100 (peak 25)", True] > 0)
# 8. Sign descent: only the steep attached run fails to reach 8 spikes; the other three
#    follow the same path; the failing one stays at its initial count while its bias
#    swings down and up within a couple of steps of b0 = 0.1.
for key, hist in descent.items():
    if key == ("sigmoid k=100 (peak 25)", False):
        assert hist[-5:].max() < 8 and np.all(hist == hist[0]), hist
    else:
        assert np.all(hist[-5:] == 8), (key, hist)
climbers = [h for k, h in descent.items() if k != ("sigmoid k=100 (peak 25)", False)]
assert all(np.array_equal(h, climbers[0]) for h in climbers)
b_path = [0.1]
for _ in range(40):
    cfg_s, params_s = if_layer(if_surrogates["sigmoid k=100 (peak 25)"], False, np.array([b_path[-1]]))
    traj_s = layer_forward(cfg_s, params_s, np.zeros((T_if, 1, 1)))
    g_s = layer_backward(traj_s, params_s, ds=np.full((T_if, 1, 1), traj_s.s.sum() - 8))
    b_path.append(b_path[-1] - 0.005 * float(np.sign(g_s.params["b"][0])))
b_steps = np.sign(np.diff(b_path))
assert np.any(b_steps < 0) and np.any(b_steps > 0)                        # down and up
assert np.abs(np.array(b_path) - 0.1).max() <= 0.010 + 1e-12             # within two steps of b0
# 9. The set-ups quoted in the text: the neuron of section 3 fires about every eight steps;
#    the triangle's height is 1 = 1/θ, the sigmoid's 6.25; refsnn's default surrogates peak at
#    1 (triangle, boxcar, arctan), 1.25 (sigmoid), 2.5 (exponential), 5 (SuperSpike).
intervals = np.diff(np.flatnonzero(flows["triangle, height 1", "subtract", True][1]))
assert 7 <= intervals.mean() <= 9, intervals
assert [sg.height for sg in surrogates.values()] == [1.0, 6.25]
assert {n: surrogate(n).height for n in ("triangle", "boxcar", "arctan", "sigmoid", "exponential", "superspike")} \
    == {"triangle": 1.0, "boxcar": 1.0, "arctan": 1.0, "sigmoid": 1.25, "exponential": 2.5, "superspike": 5.0}
# 10. The piecewise-linear view (σ' = 0, attached): the exact Jacobian is α without a spike,
#     α across a spike for the soft reset and 0 for a hard one.
for reset in RESETS:
    cfg_t, params_t, traj_t, dv_t = run(surrogate("true"), reset, False)
    J_t, s_prev = jacobian(cfg_t, params_t, traj_t), traj_t.s[:-1, 0, 0]
    assert s_prev.sum() > 0 and np.all(J_t[s_prev == 0] == 0.95), reset
    assert np.all(J_t[s_prev == 1] == (0.95 if reset == "subtract" else 0.0)), reset
    assert np.allclose(dv_t[:-1], J_t * dv_t[1:], rtol=0, atol=1e-15), reset
# 11. Attached triangle of height 1/θ: below threshold (0 < v < θ) the soft factor is
#     θ - v - 0.05; the hard resets also vanish far faster than α^k.
cfg_a, params_a, traj_a, _ = run(surrogate("triangle", 1.0), "subtract", False)
J_a, v_prev = jacobian(cfg_a, params_a, traj_a), traj_a.v[:-1, 0, 0]
below = (v_prev > 0) & (v_prev < 1.0)
assert below.sum() > 10 and np.allclose(J_a[below], 1.0 - v_prev[below] - 0.05, rtol=0, atol=1e-14)
for reset in ("hard_keep_input", "hard_drop_input"):
    assert abs(flows["triangle, height 1", reset, False][0][0]) < 1e-6 * 0.95 ** 49, reset
# (4.1) by hand is the package's J1 (refsnn.neurons.stability.step_jacobians) for this layer.
assert pkg_gap < 1e-14, pkg_gap
print("all checks passed")

# %% [markdown]
# **Exercise.** Implement the stubs in `exercises/ex04_soft_vs_hard_reset.py`, then run `python exercises/check.py ex04` from the repository's root. It prints PASS or FAIL for each function, with the worst relative error and a hint. The solutions are in `exercises/solutions/ex04_soft_vs_hard_reset.py`.
