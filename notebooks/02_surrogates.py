# %% [markdown]
# # 02 · Surrogate derivatives
#
# Notebook 01 showed that the true derivative of the spike, $dH/dx$ with
# $x = v - \theta$, gives every weight a zero gradient. Surrogate-gradient training
# keeps $H$ in the forward pass and uses a bump $\sigma'(x)$ in its place in the backward
# pass. This notebook draws the families that refsnn provides (`refsnn.surrogates`),
# shows what their one shape parameter does, and measures two consequences of it: how
# fast a small task learns, and how large the threshold gradient
# $\partial L/\partial\theta$ is.
#
# Sources: seed 001 §2–§3 (the straight-through pattern and the four families), seed 000 §2
# (its "fast sigmoid"), seed 004 (the sigmoid $g(x) = \mathrm{sigmoid}(\alpha x)$), all
# summarised in `docs/seeds.md`; how other libraries parametrise them is
# `docs/conventions.md` §2 and the table in `refsnn/surrogates.py`.

# %%
# %matplotlib inline
import numpy as np
import matplotlib.pyplot as plt

np.set_printoptions(precision=4, suppress=False, linewidth=100)
plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})

# %%
from scipy.integrate import trapezoid

from refsnn import LIFConfig, init_params, layer_backward, layer_forward, surrogate
from refsnn.losses import spike_count_cross_entropy
from refsnn.surrogates import SURROGATE_NAMES

# %% [markdown]
# ## 1. The families
#
# Every family except `straight_through` and `true` is a *unit-area density*: even,
# peaked at $x = 0$, non-negative, with $\int \sigma'(x)\,dx = 1$. Its primitive $F$
# (with $F' = \sigma'$) therefore rises from 0 to 1 with $F(0) = \tfrac12$: a smoothed
# step. refsnn calls $F$ the *smooth twin* of the spike; running the network with
# $s = F(v - \theta)$ (`LIFConfig(forward="smooth")`) makes the surrogate backward pass
# the exact gradient of the forward pass, which is how refsnn checks its adjoints against
# finite differences (notebook 03).
#
# | `surrogate(name, scale)` | `scale` | $\sigma'(x)$ | height $\sigma'(0)$ |
# |---|---|---|---|
# | `triangle` | half-width $a$ | $\max(0, 1 - \lvert x\rvert/a)/a$ | $1/a$ |
# | `sigmoid` | slope $k$ | $k\,S(kx)(1 - S(kx))$, $S$ the logistic | $k/4$ |
# | `boxcar` | half-width $a$ | $1/(2a)$ for $\lvert x\rvert < a$ | $1/(2a)$ |
# | `exponential` | slope $k$ | $(k/2)\,e^{-k\lvert x\rvert}$ (Laplace) | $k/2$ |
# | `arctan` | slope $k$ | $(k/2)/(1 + (\pi k x/2)^2)$ | $k/2$ |
# | `superspike` | slope $k$ | $(k/2)/(1 + k\lvert x\rvert)^2$ | $k/2$ |
#
# How the seeds' surrogates map onto these (their letters clash with the neuron's
# $\alpha, \beta, \gamma$, so refsnn calls the shape parameter `scale`):
#
# * seed 000's "fast sigmoid" $\frac1\alpha \max(0, 1 - \lvert u\rvert/\alpha)$ is a
#   triangle of half-width $\alpha$: `surrogate("triangle", α)`;
# * seed 001's sigmoid derivative $\beta\,\sigma(\beta x)(1 - \sigma(\beta x))$ is
#   `surrogate("sigmoid", β)`; its boxcar, constant on $[-\gamma, \gamma]$, is
#   `surrogate("boxcar", γ)`; its "back-to-back exponentials" are `exponential`;
# * seed 004's $g(x) = \mathrm{sigmoid}(\alpha x)$ is the primitive of
#   `surrogate("sigmoid", α)`.

# %%
families = ["triangle", "sigmoid", "boxcar", "exponential", "arctan", "superspike"]
xs = np.linspace(-3.0, 3.0, 6001)
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 3.6))
for name in families:
    sg = surrogate(name)                      # the family's default scale
    ax0.plot(xs, sg.derivative(xs), label=f"{name} ({sg.scale:g})")
    ax1.plot(xs, sg.primitive(xs), label=name)
ax0.set(xlabel="$x = v - \\theta$", ylabel="$\\sigma'(x)$", title="$\\sigma'(x)$ at the default scale")
ax1.set(xlabel="$x = v - \\theta$", ylabel="$F(x)$", title="the primitive $F(x)$: the smooth twin's spike")
ax0.legend(fontsize=8); ax1.legend(fontsize=8)
plt.tight_layout(); plt.show()

print(f"{'family':12s} {'scale':>6s} {'height':>8s} {'area on [-3,3]':>15s} {'F(0)':>5s}")
for name in families:
    sg = surrogate(name)
    area = trapezoid(sg.derivative(xs), xs)
    print(f"{name:12s} {sg.scale:6g} {sg.height:8.4f} {area:15.4f} {float(sg.primitive(0.0)):5.2f}")

# %% [markdown]
# *Figure 1.* The six surrogate families at their default scales, against $x = v - \theta$. Left: the derivatives $\sigma'(x)$, each of area 1 (the legend gives the scale). Right: their primitives $F(x)$, the smooth twin's spike, each rising from 0 to 1 through $F(0) = \tfrac12$.
#
# The areas fall short of 1 by the tails beyond $\lvert x\rvert = 3$ (the boxcar's 0.999
# is the trapezoid rule clipping its two corners). The arctan and SuperSpike bumps have
# heavy tails (they decay like $1/x^2$), so a membrane far from the threshold still
# receives some gradient from them.
#
# ## 2. Scale: width against height
#
# With the area fixed at 1, narrowing the bump raises it: the height is $1/a$ for a
# half-width $a$ and proportional to $k$ for a slope $k$. The primitive gets steeper in
# the same proportion and approaches the step $H$.

# %%
fig, axes = plt.subplots(2, 2, figsize=(11, 6))
for a in (0.25, 0.5, 1.0, 2.0):
    sg = surrogate("triangle", a)
    axes[0, 0].plot(xs, sg.derivative(xs), label=f"a = {a:g}, height {sg.height:g}")
    axes[1, 0].plot(xs, sg.primitive(xs), label=f"a = {a:g}")
for k in (1.0, 4.0, 16.0):
    sg = surrogate("sigmoid", k)
    axes[0, 1].plot(xs, sg.derivative(xs), label=f"k = {k:g}, height {sg.height:g}")
    axes[1, 1].plot(xs, sg.primitive(xs), label=f"k = {k:g}")
axes[0, 0].set_title("triangle: $\\sigma'$ for half-widths a")
axes[0, 1].set_title("sigmoid: $\\sigma'$ for slopes k")
axes[1, 0].set_title("triangle: primitive F"); axes[1, 1].set_title("sigmoid: primitive F")
for ax, ylabel in zip(axes.ravel(), ["$\\sigma'(x)$", "$\\sigma'(x)$", "$F(x)$", "$F(x)$"]):
    ax.set_xlabel("$x = v - \\theta$"); ax.set_ylabel(ylabel); ax.legend(fontsize=8)
plt.tight_layout(); plt.show()

# %% [markdown]
# *Figure 2.* The scale parameter of two families: the triangle's half-width $a$ (left) and the sigmoid's slope $k$ (right). Top: a narrower bump is taller, its area stays 1; bottom: its primitive is steeper.
#
# **Gain.** `surrogate(name, scale, gain=g)` multiplies both $\sigma'$ and $F$ by $g$: area
# and height become $g$ times larger. Some libraries fix the *height* instead of the area,
# and they correspond to a gain other than 1: snnTorch's `fast_sigmoid(slope=k)`,
# $1/(k\lvert x\rvert + 1)^2$, peaks at 1 and is `surrogate("superspike", k, gain=2/k)`;
# the e-prop pseudo-derivative $(\gamma/\theta)\max(0, 1 - \lvert x\rvert/\theta)$ is
# `surrogate("triangle", θ, gain=γ)` (the mapping table is in `refsnn/surrogates.py`).

# %%
k = 25.0
fast_sigmoid = surrogate("superspike", k, gain=2 / k)
direct = 1.0 / (k * np.abs(xs) + 1.0) ** 2            # snnTorch's fast_sigmoid backward, as coded
print("height of snnTorch-style fast_sigmoid(25):", fast_sigmoid.height)
print("max |refsnn - direct formula|:", np.abs(fast_sigmoid.derivative(xs) - direct).max())

# %% [markdown]
# ## 3. The slope and learning
#
# The task of notebook 01 (two classes of input spike trains, one LIF layer of two
# neurons, cross-entropy of spike counts), trained with plain gradient descent at one
# learning rate, with sigmoid surrogates of slopes from 0.5 to 1000. The forward pass
# is the same for every slope; only the backward pass differs.
#
# A useful number is the *active fraction*: the share of membrane values $v_t$ (over
# steps, trials and neurons) that lie where $\sigma'$ is at least 1% of its peak. Only
# those entries pass any gradient to the weights.

# %%
rng = np.random.default_rng(1)
T, B, M, N = 40, 16, 20, 2
rates = rng.uniform(0.02, 0.3, (2, M))
labels = np.arange(B) % 2
x = (rng.random((T, B, M)) < rates[labels]).astype(float)     # (T, B, M) input spikes

def train(sg, steps=60, lr=0.01):
    cfg = LIFConfig(M, N, surrogate=sg)
    params = init_params(cfg, 0, w_scale=2.0, alpha=0.9)
    traj = layer_forward(cfg, params, x)
    sgv = sg.derivative(traj.v - params["theta"])
    active = float(np.mean(sgv >= 0.01 * sg.height))
    losses = []
    for _ in range(steps):
        traj = layer_forward(cfg, params, x)
        loss = spike_count_cross_entropy(traj, labels)
        grads = layer_backward(traj, params, ds=loss.ds)
        losses.append(loss.value)
        for name in ("W", "b"):
            params[name] = params[name] - lr * grads.params[name]
    return np.array(losses), active

slopes = [0.5, 2.0, 5.0, 20.0, 100.0, 1000.0]
runs = {k: train(surrogate("sigmoid", k)) for k in slopes}

plt.figure(figsize=(6.5, 3.6))
for k, (losses, active) in runs.items():
    plt.plot(losses, label=f"k = {k:g} (active {100 * active:.1f}%)")
plt.yscale("log"); plt.xlabel("gradient step"); plt.ylabel("loss")
plt.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))   # outside: the curves fill the axes
plt.title("sigmoid surrogate: slope k and learning"); plt.show()
for k, (losses, active) in runs.items():
    print(f"k = {k:6g}: active fraction {active:7.4f}, loss {losses[0]:.3f} -> {losses[-1]:.3f}")


# %% [markdown]
# *Figure 3.* The loss over gradient steps (log scale) on the two-class task, for sigmoid slopes from 0.5 to 1000; the legend gives each slope's active fraction. Moderate slopes learn; at $k = 1000$ almost no membrane is close enough to the threshold to pass a gradient, and the loss stalls.
#
# What the curves show on this task:
#
# * Moderate slopes (2 to 20) all learn it; the shape of the bump matters less than its
#   existence.
# * Steep bumps pass gradient only through the membranes that land close to $\theta$:
#   2% of them for $k = 100$, whose loss falls to about 0.35 within a few steps, stays
#   above 0.3 up to step 51, and is erratic (after step 40 it jumps above its starting
#   value: where and how high depends on the last bits of the gradients); and 0.1% for $k = 1000$ (half-width at half height 0.0018), whose loss stops
#   changing after two steps.
# * A very flat bump ($k = 0.5$) passes gradient from every membrane, including those far
#   below threshold that no small change would make fire. Here it still learns; its
#   gradient is the least faithful to what a spike would do, but it is never silent.
#
# ## 4. The threshold gradient scales with the height
#
# The threshold enters only through the spikes, $s_t = H(v_t - \theta)$, so its gradient
# (G5 of `refsnn/neurons/lif.py`) has one factor $\sigma'$ per step:
#
# $$
# \frac{\partial L}{\partial \theta} = -\sum_{t=-1}^{T-1} \sigma'(v_t - \theta)\,\delta s_t
# \tag{G5}
# $$
#
# A neuron sitting exactly at threshold, in a single step with $\delta s = a^s$, gets
# $\partial L/\partial \theta = -\sigma'(0)\,a^s = -\text{height}\cdot a^s$: ten times the
# height, ten times the gradient. The layer below has $T = 1$, no weights in use
# ($W = 0$), and bias $b = \theta$, so that $v_0 = b = \theta$ exactly (the initial state is 0).

# %%
def theta_grad_at_threshold(sg, a_s=1.0):
    cfg = LIFConfig(1, 1, surrogate=sg, reset="none")
    params = init_params(cfg, 0, W=np.zeros((1, 1)), theta=1.0, b=1.0)
    traj = layer_forward(cfg, params, np.zeros((1, 1, 1)))          # v_0 = b = θ
    grads = layer_backward(traj, params, ds=np.full((1, 1, 1), a_s))
    return float(grads.params["theta"][0])

at_threshold = []
for name, scale in [("triangle", 1.0), ("triangle", 0.1), ("sigmoid", 4.0), ("sigmoid", 40.0),
                    ("exponential", 5.0), ("arctan", 2.0), ("superspike", 10.0), ("boxcar", 0.5)]:
    sg = surrogate(name, scale)
    g = theta_grad_at_threshold(sg)
    at_threshold.append((sg, g))
    print(f"{name:12s} scale {scale:5g}: height {sg.height:7.3f}, dL/dθ = {g:8.3f}")

# %% [markdown]
# For a *population* of neurons whose membranes are spread out, the picture depends on
# the width of the bump relative to the spread. Take 2000 neurons with membranes spread
# evenly over $[\theta - 1, \theta + 1]$ and the loss $L$ = mean spike, so
# $a^s = 1/2000$ per neuron. Summed over neurons,
# $-\sum_i \partial L/\partial\theta_i$ is the mean of $\sigma'(x_i)$:
#
# * a bump much wider than the spread is nearly flat over it, and the mean is close to the
#   height ($k/4$ for the sigmoid): **the gradient scales with the height**;
# * a bump much narrower than the spread samples the membrane density ($\tfrac12$ per unit
#   of $x$) times its area 1: **the gradient no longer depends on the slope**, but it
#   comes from fewer and fewer neurons, each with a larger share.

# %%
n_pop = 2000
x_pop = np.linspace(-1.0, 1.0, n_pop)                        # v - θ of each neuron

def population_theta_grad(sg):
    cfg = LIFConfig(1, n_pop, surrogate=sg, reset="none")
    params = init_params(cfg, 0, W=np.zeros((n_pop, 1)), theta=1.0, b=1.0 + x_pop)
    traj = layer_forward(cfg, params, np.zeros((1, 1, 1)))
    grads = layer_backward(traj, params, ds=np.full((1, 1, n_pop), 1.0 / n_pop))
    return grads.params["theta"]

ks = np.geomspace(0.05, 500.0, 25)
pop = np.array([-population_theta_grad(surrogate("sigmoid", k)).sum() for k in ks])
plt.figure(figsize=(6, 3.6))
plt.loglog(ks, pop, "o-", label="$-\\sum_i \\partial L/\\partial\\theta_i$")
plt.loglog(ks, ks / 4, "--", label="height $k/4$")
plt.axhline(0.5, color="gray", ls=":", label="density $\\times$ area = 1/2")
plt.xlabel("sigmoid slope $k$"); plt.ylabel("$-\\sum_i \\partial L/\\partial\\theta_i$")
plt.legend(); plt.title("threshold gradient of a population")
plt.show()

# %% [markdown]
# *Figure 4.* The summed threshold gradient of a population against the sigmoid slope $k$ (log–log). For wide bumps it follows the height $k/4$ (dashed); for narrow ones it levels off at density × area = 1/2 (dotted).
#
# **Gain and the reset.** Multiplying $\sigma'$ by a gain $g$ multiplies G5 by $g$ exactly
# when $\sigma'$ appears only once per path, as with `reset="none"` and no recurrence. With
# an attached reset, the adjoint $\delta s_t$ itself contains $\sigma'$ of later steps
# (B1 carries $-\gamma\,\delta v_{t+1}$, and $\delta v_{t+1}$ contains
# $\sigma'(v_{t+1} - \theta)$, B2), so the gradient is a polynomial in $g$, not a multiple
# of it. The same holds for the weights. Notebook 04 follows this up.

# %%
rng_g = np.random.default_rng(5)
x_g = rng_g.normal(0.4, 0.6, (20, 3, 4))
a_s_g = rng_g.normal(0.0, 1.0, (20, 3, 2))

def theta_grad_with_gain(gain, reset):
    cfg = LIFConfig(4, 2, surrogate=surrogate("sigmoid", 4.0, gain=gain), reset=reset)
    params = init_params(cfg, 3, w_scale=1.5)
    traj = layer_forward(cfg, params, x_g)
    return layer_backward(traj, params, ds=a_s_g).params["theta"]

gains = [0.5, 1.0, 2.0, 4.0]
for reset in ("none", "subtract"):
    ratios = np.array([theta_grad_with_gain(g, reset) / g for g in gains])
    print(f"reset={reset:9s} (dL/dθ)/gain for gains {gains}:")
    print(ratios)

# %% [markdown]
# With `reset="none"` the rows are identical (the gradient is proportional to the gain);
# with the attached subtractive reset they are not.
#
# A practical consequence: if $\theta$ is trained with the same learning rate as the
# weights, its step size grows with the surrogate's height. Changing the slope without
# changing the learning rate changes how fast the thresholds move.
#
# ## 5. The straight-through estimator: the general pattern, and its bias
#
# Seed 001 §2 names what a surrogate gradient is an instance of: the **straight-through
# estimator** (直通估计器, STE). Whenever a computation contains a step $y = q(z)$ whose
# derivative is useless (a threshold, a rounding, a binarisation, a sample), keep $q$ in
# the forward pass and give the backward pass a chosen stand-in $\widehat{q'}(z)$:
#
# $$ \text{forward: } y = q(z), \qquad \text{backward: } \frac{\partial L}{\partial z}
#    := \frac{\partial L}{\partial y}\, \widehat{q'}(z). \tag{2.1} $$
#
# In its original form (quantised and binary networks) $\widehat{q'} \equiv 1$: the
# gradient passes "straight through" the step as if it were the identity. refsnn has this
# as `surrogate("straight_through")` ($\sigma' = 1$; its primitive, the smooth twin's spike,
# is $x + \tfrac12$). Every surrogate of section 1 is the same pattern with a bump in place
# of the 1.
#
# **Its bias, on a small example.** One neuron, one step, no reset: $s = H(w z - \theta)$ for
# inputs $z \sim \mathcal N(\mu, \sigma_z^2)$, $\mu = 1$, $\sigma_z = 0.5$, $\theta = 1$. The
# firing rate $r(w) = P(wz \ge \theta) = 1 - \Phi((\theta/w - \mu)/\sigma_z)$ is a smooth
# function of $w > 0$, with the exact derivative
#
# $$ r'(w) = \varphi\!\Big(\frac{\theta/w - \mu}{\sigma_z}\Big) \frac{\theta}{\sigma_z w^2}. \tag{2.2} $$
#
# A surrogate estimates it from samples as the mean of $\sigma'(w z_i - \theta)\, z_i$ (B2 and
# G1 of `layer_backward`, with the loss $L = \frac1N \sum_i s_i$). With $\sigma' = 1$ that is
# the mean of $z_i$, about $\mu = 1$, **whatever $w$ is**: far below threshold, where no
# sample is near firing and $r' \approx 0$, the STE still reports a gradient of 1. A
# surrogate bump concentrates the estimate on the samples near the threshold, and a
# narrow one approaches (2.2).

# %%
from scipy.stats import norm

MU, SD, THETA, N_SAMPLES = 1.0, 0.5, 1.0, 200_000
z_ste = np.random.default_rng(7).normal(MU, SD, (1, N_SAMPLES, 1))     # T = 1 step, B = N samples

def exact_rate_gradient(w):                                              # (2.2)
    return norm.pdf((THETA / w - MU) / SD) * THETA / (SD * w ** 2)

def estimated_rate_gradient(w, sg):
    cfg = LIFConfig(1, 1, surrogate=sg, reset="none")
    params = init_params(cfg, 0, W=np.array([[w]]), theta=THETA)
    traj = layer_forward(cfg, params, z_ste)
    a_s = np.full_like(traj.s, 1.0 / N_SAMPLES)                          # L = mean of the spikes
    return float(layer_backward(traj, params, ds=a_s).params["W"][0, 0])

ws = 0.3 + 0.35 * np.arange(8)                                         # 0.3, 0.65, 1.0, ..., 2.75
exact = exact_rate_gradient(ws)
estimators = {"straight-through": surrogate("straight_through"), "sigmoid k = 5": surrogate("sigmoid", 5.0),
              "sigmoid k = 25": surrogate("sigmoid", 25.0)}
estimates = {name: np.array([estimated_rate_gradient(w, sg) for w in ws]) for name, sg in estimators.items()}
i_far, i_at = 0, int(np.argmin(np.abs(ws - 1.0)))
for name, est in estimates.items():
    print(f"{name:17s}: at w = {ws[i_far]:.1f} {est[i_far]:.4f} (exact {exact[i_far]:.1e}); "
          f"at w = 1: {est[i_at]:.4f} (exact {exact[i_at]:.4f}, relative error {est[i_at] / exact[i_at] - 1:+.3f})")

plt.figure(figsize=(6.5, 3.6))
plt.plot(ws, exact, "k", lw=2.5, label="exact $r'(w)$ (2.2)")
for name, est in estimates.items():
    plt.plot(ws, est, "--" if name == "straight-through" else "-", label=name)
plt.xlabel("weight $w$"); plt.ylabel("$dr/dw$: exact and estimated")
plt.title("the bias of the straight-through estimator"); plt.legend(fontsize=8); plt.show()

# %% [markdown]
# *Figure 5.* The derivative of the firing rate with respect to the weight: exact (2.2)
# against the three estimates, each from the same 200 000 samples. The straight-through
# estimate is flat at $\bar z \approx 1$: within a factor 3 of the exact value only for
# $w$ from 0.65 to 1.35, where the rate changes fastest, and wrong by orders of magnitude
# far from the threshold ($w = 0.3$: about 1 against $1.7 \times 10^{-4}$). At $w = 1$ (a
# firing rate of one half) the sigmoid with $k = 5$ is biased low by about 18%, the one with
# $k = 25$ is within 1%. The bias is the price of the
# stand-in; a narrow bump pays less of it but, as section 3 showed, passes gradient
# through fewer neurons.
#
# ## 6. Checks

# %%
# 0. Figure 1's areas on [-3, 3]: short of 1 only by the tails beyond |x| = 3, F(3) - F(-3)
#    (the boxcar, which has no tails, by the trapezoid rule's two clipped corners, < 1e-3);
#    the arctan and SuperSpike tails decay like 1/x² (x² σ'(x) levels off).
for name in families:
    sg = surrogate(name)
    area = trapezoid(sg.derivative(xs), xs)
    tails = 1.0 - float(sg.primitive(3.0) - sg.primitive(-3.0))
    assert abs(area - (1.0 - tails)) < (1.1e-3 if name == "boxcar" else 1e-4), name
for name in ("arctan", "superspike"):
    sg = surrogate(name)
    far = np.array([100.0, 1000.0, 10000.0])
    tail = far ** 2 * sg.derivative(far)
    assert np.allclose(tail, tail[-1], rtol=0.03) and tail[-1] > 1e-3, (name, tail)
# 0b. Section 1's table and text: each family is even, non-negative, peaked at 0, with the
#     σ' of the table; F rises from 0 to 1; straight_through has σ' = 1 and F = x + 1/2;
#     seed 004's g(x) = sigmoid(αx) is the sigmoid family's primitive.
S_log = lambda z: 1.0 / (1.0 + np.exp(-z))
table_formula = {
    "triangle": lambda x, a: np.maximum(0.0, 1.0 - np.abs(x) / a) / a,
    "sigmoid": lambda x, k: k * S_log(k * x) * (1.0 - S_log(k * x)),
    "boxcar": lambda x, a: np.where(np.abs(x) < a, 1.0 / (2.0 * a), 0.0),
    "exponential": lambda x, k: k / 2.0 * np.exp(-k * np.abs(x)),
    "arctan": lambda x, k: (k / 2.0) / (1.0 + (np.pi * k * x / 2.0) ** 2),
    "superspike": lambda x, k: (k / 2.0) / (1.0 + k * np.abs(x)) ** 2,
}
grid = np.linspace(-3.0, 3.0, 6001) + 1e-4                  # off the boxcar's edges
for name in families:
    for scale in (0.5, 1.0, 3.0):
        sg = surrogate(name, scale)
        d = sg.derivative(grid)
        assert np.allclose(d, table_formula[name](grid, scale), rtol=1e-12, atol=1e-15), (name, scale)
        assert np.allclose(sg.derivative(-grid), d, rtol=1e-14, atol=0) and np.all(d >= 0), name
        assert np.all(d <= float(sg.derivative(0.0))) and np.isclose(float(sg.derivative(0.0)), sg.height), name
        assert float(sg.primitive(-400.0)) < 1e-2 and float(sg.primitive(400.0)) > 0.99, name
ste_sg = surrogate("straight_through")
assert np.all(ste_sg.derivative(xs) == 1.0) and np.allclose(ste_sg.primitive(xs), xs + 0.5, rtol=0, atol=1e-15)
assert np.allclose(surrogate("sigmoid", 3.0).primitive(xs), S_log(3.0 * xs), rtol=1e-12, atol=1e-15)
# 1. Unit area, F(0) = 1/2, F' = σ' (central differences), height as in the table.
expected_height = {"triangle": lambda s: 1 / s, "sigmoid": lambda s: s / 4, "boxcar": lambda s: 1 / (2 * s),
                   "exponential": lambda s: s / 2, "arctan": lambda s: s / 2, "superspike": lambda s: s / 2}
wide = np.linspace(-400.0, 400.0, 800001)
for name in families:
    for scale in (0.5, 1.0, 3.0):
        sg = surrogate(name, scale)
        assert abs(trapezoid(sg.derivative(wide), wide) - 1.0) < 5e-3, (name, scale)
        assert float(sg.primitive(0.0)) == 0.5
        h = 1e-6
        pts = np.linspace(-2.0, 2.0, 41) + 0.013          # avoid the kinks at 0 and ±a
        fd = (sg.primitive(pts + h) - sg.primitive(pts - h)) / (2 * h)
        assert np.allclose(fd, sg.derivative(pts), rtol=1e-6, atol=1e-6), (name, scale)
        assert np.isclose(sg.height, expected_height[name](scale), rtol=1e-15)
# 2. snnTorch-style fast_sigmoid as a superspike with gain 2/k (height 1); the gain g
#    multiplies σ', F and the height by g; the e-prop pseudo-derivative is a triangle with gain γ.
assert np.allclose(fast_sigmoid.derivative(xs), direct, rtol=1e-14, atol=0)
assert fast_sigmoid.height == 1.0
for name in families:
    plain, scaled = surrogate(name), surrogate(name, gain=3.0)
    assert np.allclose(scaled.derivative(xs), 3.0 * plain.derivative(xs), rtol=1e-14, atol=0), name
    assert np.allclose(scaled.primitive(xs), 3.0 * plain.primitive(xs), rtol=1e-14, atol=1e-15), name
    assert np.isclose(scaled.height, 3.0 * plain.height, rtol=1e-15), name
eprop_theta, eprop_gamma = 0.7, 0.3
assert np.allclose(surrogate("triangle", eprop_theta, gain=eprop_gamma).derivative(xs),
                   eprop_gamma / eprop_theta * np.maximum(0.0, 1.0 - np.abs(xs) / eprop_theta), rtol=1e-12, atol=1e-15)
# 3. Slope and learning: moderate slopes (2 to 20) learn, and so does the flat k = 0.5,
#    which passes gradient from every membrane (active fraction 1);
for k in (0.5, 2.0, 5.0, 20.0):
    assert runs[k][0][-1] < 0.1 * runs[k][0][0], k
assert runs[0.5][1] == 1.0
#    k = 100: about 2% active, loss ~0.35 after a few steps, above 0.3 up to step 51, and
#    after step 40 above its start; k = 1000: about 0.1% active, the loss constant after two steps.
assert 0.015 < runs[100.0][1] < 0.025 and 0.0005 < runs[1000.0][1] < 0.0015
assert runs[100.0][0][3] < 0.4 and np.all(runs[100.0][0][3:52] > 0.3)
assert runs[100.0][0][40:].max() > runs[100.0][0][0]
assert np.all(runs[1000.0][0][2:] == runs[1000.0][0][2]) and runs[1000.0][0][-1] > 0.2
assert runs[1000.0][1] < 0.05 < runs[5.0][1]
#    The sigmoid's half-width at half height is 2 artanh(1/√2)/k: 0.0018 for k = 1000.
sg = surrogate("sigmoid", 1000.0)
hw = 2 * np.arctanh(1 / np.sqrt(2)) / 1000.0
assert np.isclose(sg.derivative(hw), sg.height / 2, rtol=1e-9) and round(hw, 4) == 0.0018
# 4. At threshold, dL/dθ = -height · a^s exactly.
for sg, g in at_threshold:
    assert g == -sg.height, (sg, g)
# 5. Population: wide bumps follow the height, narrow ones the density x area.
assert np.allclose(pop[ks < 0.2], ks[ks < 0.2] / 4, rtol=0.02)
assert np.allclose(pop[ks > 50.0], 0.5, rtol=0.03)
#    ... and a narrower bump takes its gradient from fewer neurons: the number holding 99% of
#    the sum falls as k grows.
def n_carrying(k):
    share = np.sort(-population_theta_grad(surrogate("sigmoid", k)))[::-1]
    return int(np.searchsorted(np.cumsum(share), 0.99 * share.sum()) + 1)
carrying = [n_carrying(k) for k in (1.0, 10.0, 100.0, 500.0)]
assert all(a > b for a, b in zip(carrying, carrying[1:])), carrying
# 6. Gain: exactly proportional without a reset, not with an attached reset.
r_none = np.array([theta_grad_with_gain(g, "none") / g for g in gains])
r_soft = np.array([theta_grad_with_gain(g, "subtract") / g for g in gains])
assert np.allclose(r_none, r_none[0], rtol=1e-12, atol=1e-15)
assert not np.allclose(r_soft, r_soft[0], rtol=1e-3)
#    "The same holds for the weights."
def w_grad_with_gain(gain, reset):
    cfg = LIFConfig(4, 2, surrogate=surrogate("sigmoid", 4.0, gain=gain), reset=reset)
    params = init_params(cfg, 3, w_scale=1.5)
    return layer_backward(layer_forward(cfg, params, x_g), params, ds=a_s_g).params["W"]
w_none = np.array([w_grad_with_gain(g, "none") / g for g in gains])
w_soft = np.array([w_grad_with_gain(g, "subtract") / g for g in gains])
assert np.allclose(w_none, w_none[0], rtol=1e-12, atol=1e-15)
assert not np.allclose(w_soft, w_soft[0], rtol=1e-3)
# 7. The straight-through estimator is the sample mean of the input at every w (σ' = 1),
#    biased by orders of magnitude far from threshold; a narrow sigmoid approaches (2.2).
ste = estimates["straight-through"]
assert np.allclose(ste, z_ste.mean(), rtol=1e-12)
assert ste[i_far] > 1e3 * exact[i_far]
assert abs(exact[i_far] - 1.7e-4) < 0.05e-4 and abs(ste[i_far] - 1.0) < 0.01   # "about 1 against 1.7e-4"
#    Within a factor 3 of the exact value only for w in 0.65..1.35, where the rate changes fastest.
near = (ste < 3 * exact) & (ste > exact / 3)
assert np.allclose(ws[near], [0.65, 1.0, 1.35]), ws[near]
assert np.isclose(ws[np.argmax(exact)], 0.65)
#    At w = 1, sigmoid k = 5 is about 18% low, k = 25 within 1%.
assert -0.20 < estimates["sigmoid k = 5"][i_at] / exact[i_at] - 1 < -0.15
assert abs(estimates["sigmoid k = 25"][i_at] / exact[i_at] - 1) < 0.01
print("all checks passed")

# %% [markdown]
# **Exercise.** Implement the stubs in `exercises/ex02_surrogates.py`, then run `python exercises/check.py ex02` from the repository's root. It prints PASS or FAIL for each function, with the worst relative error and a hint. The solutions are in `exercises/solutions/ex02_surrogates.py`.
