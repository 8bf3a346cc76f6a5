# %% [markdown]
# # 01 · The gradient problem
#
# A spiking neuron fires when its membrane potential $v_t$ reaches the threshold $\theta$:
#
# $$ s_t = H(v_t - \theta) \tag{F6} $$
#
# (equation F6 of `refsnn/neurons/lif.py`; the other equations of the model are in notebook 03).
# Gradient descent needs the derivative of the loss with respect to every weight, and
# every path from a weight to a loss on spikes passes through $\partial s_t / \partial v_t$.
# This notebook shows what the true derivative of $H$ contributes to that product
# (nothing), first on the step function itself and then on a small classification task,
# and what a *surrogate derivative* contributes instead.
#
# Source: seed 000 §1, "根本挑战：脉冲的不可微性" (the fundamental challenge), and seed 001 §1
# (both summarised in `docs/seeds.md`). Throughout, $x = v - \theta$ is the distance of the
# membrane from the threshold.

# %%
# %matplotlib inline
import numpy as np
import matplotlib.pyplot as plt

np.set_printoptions(precision=4, suppress=False, linewidth=100)
plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})

# %%
from scipy.integrate import trapezoid

from refsnn import LIFConfig, heaviside, init_params, layer_backward, layer_forward, surrogate
from refsnn.losses import membrane_rate_loss, spike_count_cross_entropy

# %% [markdown]
# ## 1. The step and its derivative
#
# $$
# H(x) = \begin{cases} 1 & x > 0 \\ h_0 & x = 0 \\ 0 & x < 0 \end{cases}
# \tag{1.1}
# $$
#
# `refsnn.heaviside(x, h0)` takes the value at the jump as an argument: $h_0 = 1$ means
# that a membrane exactly at threshold fires (the seeds, SpikingJelly), $h_0 = 0$ that it
# does not (snnTorch, Norse, SpyTorch, e-prop). `LIFConfig(h0=...)` selects it.
#
# The derivative is $dH/dx = 0$ for every $x \neq 0$, and at $x = 0$ there is none.
# "Zero almost everywhere" is not a technicality here: a membrane computed in floating
# point practically never lands on $\theta$ exactly, so the derivative that a program
# evaluates is 0.
#
# In the sense of distributions, $H' = \delta$, the Dirac delta: the limit of ever
# narrower and taller bumps of area 1. The logistic function $S(kx) = 1/(1 + e^{-kx})$
# tends to $H$ as the slope $k$ grows, and its derivative
# $k\,S(kx)\,(1 - S(kx))$ has area 1 and height $k/4$, which grows without bound.
# refsnn's `surrogate("sigmoid", k)` is exactly this pair: `.primitive` is $S(kx)$ and
# `.derivative` is its derivative.

# %%
xs = np.linspace(-2.0, 2.0, 2001)
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.4))
ax0.plot(xs, heaviside(xs), "k", lw=2.5, label="$H(x)$")
ax1.plot(xs, np.zeros_like(xs), "k", lw=2.5, label="$dH/dx$ ($x \\neq 0$)")
for k in (2.0, 8.0, 32.0):
    sg = surrogate("sigmoid", k)
    ax0.plot(xs, sg.primitive(xs), label=f"$S({k:g}x)$")
    ax1.plot(xs, sg.derivative(xs), label=f"slope {k:g}: height {sg.height:g}")
ax0.set(xlabel="$x = v - \\theta$", ylabel="spike $s$", title="the step and smooth approximations")
ax1.set(xlabel="$x = v - \\theta$", ylabel="$ds/dx$", title="their derivatives (area 1 each)")
ax0.legend(); ax1.legend()
plt.tight_layout(); plt.show()

# Area and height of the bumps: the area tends to 1 (the rest lies outside [-2, 2]),
# the height k/4 grows.
for k in (2.0, 8.0, 32.0):
    sg = surrogate("sigmoid", k)
    area = trapezoid(sg.derivative(xs), xs)
    print(f"k = {k:4g}: area on [-2, 2] = {area:.4f}, height = {sg.height:g} = k/4")

# %% [markdown]
# *Figure 1.* Left: the Heaviside step $H(x)$ and the logistic $S(kx)$ for three slopes $k$, against $x = v - \theta$. Right: their derivatives. $H$'s is zero wherever it exists; the logistic's are bumps of area 1 and height $k/4$ around the threshold.
#
# Neither reading of the derivative gives a usable number: the pointwise derivative is 0,
# and the distributional one is 0 except for an infinite spike at a single point that the
# membrane never occupies.
#
# ## 2. The loss is a staircase in the weights
#
# A small task: two classes of input spike trains on $M = 20$ input lines, each class with
# its own firing probability per line; $B = 16$ trials of $T = 40$ steps; one layer of
# $N = 2$ LIF neurons; the loss is the cross-entropy of the softmax of the two spike
# counts (`refsnn.losses.spike_count_cross_entropy`), so the neuron with more spikes
# names the class. Arrays are time-major, `(T, B, M)`.

# %%
rng = np.random.default_rng(1)
T, B, M, N = 40, 16, 20, 2
rates = rng.uniform(0.02, 0.3, (2, M))                # P(spike per step) of each input, per class
labels = np.arange(B) % 2
x = (rng.random((T, B, M)) < rates[labels]).astype(float)   # input spikes (T, B, M)

def make_layer(sg):
    # refsnn's defaults: subtractive (soft) reset, attached, H(0) = 1.
    cfg = LIFConfig(M, N, surrogate=sg)
    return cfg, init_params(cfg, 0, w_scale=2.0, alpha=0.9)

def loss_of(cfg, params):
    return spike_count_cross_entropy(layer_forward(cfg, params, x), labels).value

cfg, params0 = make_layer(surrogate("true"))
print("initial loss", loss_of(cfg, params0))

# %% [markdown]
# Move one weight $W_{0j}$ through a range of values, keep everything else fixed, and
# record the loss. Every spike count is an integer, so the loss can only change where
# some membrane crosses the threshold; in between it is flat.

# %%
j = 3
w0 = params0["W"][0, j]
ws = w0 + np.linspace(-1.5, 1.5, 301)

def loss_at(w):
    p = {k: v.copy() for k, v in params0.items()}
    p["W"][0, j] = w
    return loss_of(cfg, p)

scan = np.array([loss_at(w) for w in ws])

# Central differences at random points, step 1e-6.
probe = rng.uniform(ws[0], ws[-1], 200)
eps = 1e-6
fd = np.array([(loss_at(w + eps) - loss_at(w - eps)) / (2 * eps) for w in probe])
n_zero = int(np.sum(fd == 0.0))
print(f"distinct loss values along the scan: {len(np.unique(scan))}")
print(f"central differences exactly 0: {n_zero} of {len(fd)}; largest |difference|: {np.abs(fd).max():.3g}")

# A central difference whose two points straddle a jump: locate one jump by bisection.
i = int(np.flatnonzero(np.diff(scan))[0])
lo, hi = ws[i], ws[i + 1]
for _ in range(60):
    mid = 0.5 * (lo + hi)
    lo, hi = (mid, hi) if loss_at(mid) == scan[i] else (lo, mid)
w_jump = 0.5 * (lo + hi)
fd_jump = (loss_at(w_jump + eps) - loss_at(w_jump - eps)) / (2 * eps)
print(f"at the jump near W_0j = {w_jump:.6f}: central difference = {fd_jump:.4g}")

plt.figure(figsize=(6, 3.2))
plt.step(ws, scan, where="mid")
plt.axvline(w0, color="gray", ls=":", label="initial $W_{0j}$")
plt.xlabel("$W_{0j}$"); plt.ylabel("loss"); plt.title("the loss along one weight: a staircase")
plt.legend(); plt.show()


# %% [markdown]
# *Figure 2.* The loss as a function of one weight $W_{0j}$, everything else fixed: a staircase, flat between the values at which a spike appears or disappears (dotted: the initial weight).
#
# On the flat pieces a finite difference reads exactly 0; on the rare step that
# straddles a jump it reads (jump height)/(2 × 10⁻⁶), a huge number that says nothing
# about which way to go. The slope that would help, the trend of the staircase, is
# invisible to a derivative.
#
# ## 3. Gradient descent with the true derivative
#
# refsnn's backward pass (`layer_backward`) puts $\sigma'(v_t - \theta)$ wherever the chain
# rule asks for $\partial s_t / \partial v_t$. `surrogate("true")` makes $\sigma'$ the true
# derivative: 0. For this layer (soft reset $\gamma$, attached; no adaptation, synapse or
# recurrence) the adjoint recursions of `refsnn/neurons/lif.py` reduce to
#
# $$ \delta s_t = a^s_t - \gamma\,\delta v_{t+1} \tag{B1} $$
#
# $$ \delta v_t = a^v_t + \alpha\,\delta v_{t+1} + \sigma'(v_t - \theta)\,\delta s_t \tag{B2} $$
#
# $$ \frac{\partial L}{\partial W} = \sum_t \delta I_t^\top x_t, \qquad \delta I_t = \delta v_t \tag{G1} $$
#
# with $\delta v_T = 0$, where $a^s_t = \partial L/\partial s_t|_\text{direct}$ and
# $a^v_t = \partial L/\partial v_t|_\text{direct}$ are the loss's own partials. The
# cross-entropy of spike counts reads only spikes, so $a^v = 0$. With $\sigma' = 0$,
# B2 gives $\delta v_{T-1} = 0$, then $\delta v_{T-2} = 0$, and so on: every $\delta v_t$
# is exactly zero, and so is $\partial L/\partial W$. Not small: zero.
#
# Plain gradient descent, $W \leftarrow W - \eta\, \partial L/\partial W$, then leaves the
# weights where they are, bit for bit. The same loop with a sigmoid surrogate
# (slope 5) learns the task.

# %%
def train(sg, steps=40, lr=0.01):
    cfg, params = make_layer(sg)
    W_start = params["W"].copy()
    losses = []
    for _ in range(steps):
        traj = layer_forward(cfg, params, x)                   # F1-F6
        loss = spike_count_cross_entropy(traj, labels)         # value and a^s
        grads = layer_backward(traj, params, ds=loss.ds)       # B1-B5, G1-G5
        losses.append(loss.value)
        for k in ("W", "b"):
            params[k] = params[k] - lr * grads.params[k]
    traj = layer_forward(cfg, params, x)
    accuracy = float(np.mean(traj.s.sum(axis=0).argmax(axis=1) == labels))
    return dict(W_start=W_start, params=params, losses=np.array(losses), grads=grads, accuracy=accuracy)

true_run = train(surrogate("true"))
sig_run = train(surrogate("sigmoid", 5.0))

print("true derivative: W unchanged bit for bit:", np.array_equal(true_run["W_start"], true_run["params"]["W"]))
print("                 every adjoint δv_t exactly 0:", not np.any(true_run["grads"].adjoints["dv"]))
print(f"                 loss {true_run['losses'][0]:.4f} -> {true_run['losses'][-1]:.4f}, accuracy {true_run['accuracy']:.2f}")
print(f"sigmoid slope 5: loss {sig_run['losses'][0]:.4f} -> {sig_run['losses'][-1]:.4f}, accuracy {sig_run['accuracy']:.2f}")
print("                 largest weight change:", np.abs(sig_run["params"]["W"] - sig_run["W_start"]).max())

plt.figure(figsize=(6, 3.2))
plt.plot(true_run["losses"], label="true derivative (σ' = 0)")
plt.plot(sig_run["losses"], label="sigmoid surrogate, slope 5")
plt.xlabel("gradient step"); plt.ylabel("loss"); plt.yscale("log")
plt.legend(loc="center right"); plt.show()             # the empty region between the two curves

# %% [markdown]
# *Figure 3.* The loss over gradient steps (log scale) with the true derivative ($\sigma' = 0$: the weights never move, the line is flat) and with the sigmoid surrogate of slope 5, which learns.
#
# The surrogate does not change the forward pass: the spikes are still Heaviside
# steps, counted as integers. It changes only the number that the backward pass uses
# for $\partial s_t/\partial v_t$: a bump of area 1 around the threshold, so that a
# membrane *near* the threshold tells its weights which way would make it fire (or not).
# Notebook 02 compares the shapes of that bump.
#
# ## 4. The true derivative is not zero everywhere
#
# The zero above comes from the loss reading only spikes. If the loss reads the membrane
# directly ($a^v \neq 0$; e.g. seed 002's membrane loss
# $\tfrac12 \sum_t (v_t - y)^2$, `refsnn.losses.membrane_rate_loss`), B2 carries $a^v$
# backward along the leak $\alpha$, and the weights get a nonzero gradient even with
# $\sigma' = 0$. (The reset path of B1 still contributes nothing: it enters $\delta v$ only
# multiplied by $\sigma'$.) That is the exact gradient of the dynamics
# between spikes, where the model is linear in its inputs; `refsnn.verify` uses it as one
# of its two exact checks. What the true derivative can never do is tell a weight how to
# change a *spike*.

# %%
traj = layer_forward(cfg, params0, x)
membrane = membrane_rate_loss(traj, np.full((B, N), 0.5))        # a^v = (v_t - y)/B, no a^s
g_membrane = layer_backward(traj, params0, ds=membrane.ds, dv=membrane.dv)
counts = spike_count_cross_entropy(traj, labels)
g_counts = layer_backward(traj, params0, ds=counts.ds)
print("|dL/dW| with the true derivative, membrane loss:   ", np.abs(g_membrane.params["W"]).max())
print("|dL/dW| with the true derivative, spike-count loss:", np.abs(g_counts.params["W"]).max())

# Is it exact? Central differences of the membrane loss in a few weights (step 1e-7, small
# enough that no spike flips) against the backward pass.
def membrane_loss_at(i, jj, w):
    p = {k: v.copy() for k, v in params0.items()}
    p["W"][i, jj] = w
    return membrane_rate_loss(layer_forward(cfg, p, x), np.full((B, N), 0.5)).value

fd_membrane = np.array([(membrane_loss_at(i, jj, params0["W"][i, jj] + 1e-7)
                         - membrane_loss_at(i, jj, params0["W"][i, jj] - 1e-7)) / 2e-7
                        for i, jj in [(0, 3), (1, 7), (0, 12)]])
bp_membrane = np.array([g_membrane.params["W"][i, jj] for i, jj in [(0, 3), (1, 7), (0, 12)]])
print("central differences:", fd_membrane)
print("backward pass:      ", bp_membrane)

# %% [markdown]
# ## 5. Checks
#
# The claims of this notebook, as assertions.

# %%
# 1. The sigmoid bumps: the area on [-2, 2] is S(2k) - S(-2k) -> 1, the height is k/4;
#    on the whole line (Figure 1's "area 1 each") the area is 1.
xs_wide = np.linspace(-60.0, 60.0, 240001)
for k in (2.0, 8.0, 32.0):
    sg = surrogate("sigmoid", k)
    area = trapezoid(sg.derivative(xs), xs)
    assert abs(area - (sg.primitive(2.0) - sg.primitive(-2.0))) < 1e-5, k
    assert abs(trapezoid(sg.derivative(xs_wide), xs_wide) - 1.0) < 1e-6, k
    assert sg.height == k / 4
# 1b. "A membrane computed in floating point practically never lands on θ exactly":
#     none of the T·B·N membranes of the initial layer does.
assert not np.any(layer_forward(cfg, params0, x).v == params0["theta"])
# 2. The loss along a weight is a staircase: most central differences are exactly 0.
assert n_zero >= 0.9 * len(fd), n_zero
assert len(np.unique(scan)) > 3
assert abs(fd_jump) > 1e4          # a jump of the loss divided by 2e-6
assert np.isclose(fd_jump * 2 * eps, scan[i + 1] - scan[i], rtol=1e-9)   # "(jump height)/(2 × 10⁻⁶)"
# 3. True derivative: every adjoint is zero, the gradient is zero, the weights never move.
assert not np.any(true_run["grads"].adjoints["dv"])
assert not np.any(true_run["grads"].params["W"])
assert np.array_equal(true_run["W_start"], true_run["params"]["W"])
assert np.all(true_run["losses"] == true_run["losses"][0])
# 4. Surrogate: the weights move and the loss drops to a small fraction.
assert not np.array_equal(sig_run["W_start"], sig_run["params"]["W"])
assert sig_run["losses"][-1] < 0.1 * sig_run["losses"][0]
assert sig_run["accuracy"] == 1.0
# 5. With the true derivative a membrane loss still has a gradient, a spike loss has none.
assert np.abs(g_membrane.params["W"]).max() > 1e-3
assert not np.any(g_counts.params["W"])
# 6. ... and that membrane-loss gradient is exact: it matches central differences.
assert np.allclose(bp_membrane, fd_membrane, rtol=1e-5, atol=1e-6), (bp_membrane, fd_membrane)
print("all checks passed")

# %% [markdown]
# **Exercise.** Implement the stubs in `exercises/ex01_gradient_problem.py`, then run `python exercises/check.py ex01` from the repository's root. It prints PASS or FAIL for each function, with the worst relative error and a hint. The solutions are in `exercises/solutions/ex01_gradient_problem.py`.
