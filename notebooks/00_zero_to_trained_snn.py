# %% [markdown]
# # 00 · From zero to a trained recurrent SNN
#
# In one sitting (about 25 minutes of reading; the notebook runs in about half a minute)
# you will encode a data set as spikes, build a leaky integrate-and-fire (LIF) neuron one
# part at a time (the plain neuron, then recurrence, adaptation and a synaptic current),
# stack such neurons into a recurrent network, derive the gradient of its loss, run the forward and
# backward passes with refsnn, check one gradient against finite differences, and train
# the network with Adam and gradient clipping until it classifies held-out samples.
# Every gradient here is refsnn's hand-written backward pass; the later notebooks derive
# it (03), explain why it is a *surrogate* gradient (01, 02) and where it goes wrong
# (04–06).
#
# Sources: seed 000 §4 (the adaptive LIF neuron and BPTT) and seed 002 §1–§2 (spike-count
# classification; Adam, clipping and regularisers for recurrent SNNs), summarised in
# `docs/seeds.md`. Equation labels F1–F6 (forward) and B1–B5 (adjoints) are those of
# `refsnn/neurons/lif.py`; labels (0.k) are local to this notebook.

# %%
# %matplotlib inline
import time

import numpy as np
import matplotlib.pyplot as plt

np.set_printoptions(precision=4, suppress=False, linewidth=100)
plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})
START = time.perf_counter()

# %%
from refsnn import (LIFConfig, Network, layer_forward, network_backward, network_forward, network_init,
                    smooth_twin, surrogate)
from refsnn import data, losses, optim
from refsnn.gradcheck import numerical_gradient, rel_error
from refsnn.network import flat_params, unflat_params

# %% [markdown]
# ## 1. Data: the random-manifold task as spikes
#
# `refsnn.data.randman` generates Zenke & Vogels' random-manifold task: each of $M = 20$
# input neurons fires exactly **one** spike per sample, at a time that is a smooth random
# function of a hidden coordinate, one function per class. Spike counts carry no
# information (every input fires once); the class is in the *timing* alone, so the
# network has to integrate over time. We take 4 classes, $T = 50$ steps and 200 samples
# per class, and keep a quarter of them for testing. Inputs come sample-major,
# $(N_\text{samples}, T, M)$; `data.batches` serves them time-major, $(T, B, M)$, which is
# what every refsnn layer takes.

# %%
N_CLASSES, T_STEPS, M_IN = 4, 50, 20
X, y = data.randman(n_classes=N_CLASSES, n_units=M_IN, n_steps=T_STEPS, n_samples_per_class=200,
                    seed=2, dtype=np.float64)
x_train, x_test, y_train, y_test = data.train_test_split(X, y, 0.25, seed=0)
print("train", x_train.shape, "test", x_test.shape, "spikes per input per sample:", X.sum(axis=1).max())

fig, axes = plt.subplots(1, N_CLASSES, figsize=(12, 2.6), sharey=True)
for c, ax in enumerate(axes):
    t_sp, m_sp = np.nonzero(x_train[np.flatnonzero(y_train == c)[0]])
    ax.scatter(t_sp, m_sp, s=8, color=f"C{c}")
    ax.set(title=f"class {c}", xlabel="time step t", xlim=(-1, T_STEPS))
    ax.set_ylabel("input neuron m")
plt.tight_layout(); plt.show()

# %% [markdown]
# *Figure 1.* One training sample of each class: a dot is the single spike of input
# neuron $m$, at step $t$ (time runs left to right). The classes differ only in when each
# input fires.
#
# ## 2. One neuron, built up one part at a time
#
# ### 2.1 The plain LIF neuron
#
# A leaky integrate-and-fire neuron keeps one number, its membrane potential $v$. At each
# step $t = 0, \dots, T-1$ it forgets part of it, adds its input current, and fires a
# spike when $v$ reaches the threshold $\theta$:
#
# $$ I_t = x_t W^\top + b \tag{F1, feed-forward part} $$
# $$ v_t = \alpha v_{t-1} + I_t - \gamma s_{t-1} \tag{F4, soft reset} $$
# $$ s_t = H(v_t - \theta) \tag{F6} $$
#
# - $x_t$ are the input spikes, $W$ the input weights and $b$ a bias (row vectors: a batch of
#   $B$ rows at once);
# - $\alpha = e^{-1/\tau_m}$ is the **leak**: with no input, $v$ decays by the factor $\alpha$
#   per step, so a membrane time constant of $\tau_m = 20$ steps gives $\alpha \approx 0.95$;
# - $\theta$ is the **threshold** and $H$ the Heaviside step: $s_t = 1$ if $v_t \ge \theta$,
#   else 0;
# - $\gamma$ is the **reset amount**: the step after a spike, $\gamma$ is subtracted from the
#   membrane (a *soft* reset). Here $\theta = \gamma = 1$, so a neuron that crossed the
#   threshold keeps only what it had above it.
#
# Below, one neuron gets the same input current $I = 0.1$ at every step ($x_t = 1$,
# $W = 0.1$): $v$ rises towards $I / (1 - \alpha) = 2 > \theta$, crosses $\theta$, fires, drops
# by $\gamma$ and climbs again: a regular spike train.
#
# ### 2.2 to 2.4 Three parts added one at a time
#
# - **Recurrence** adds the layer's own spikes of the previous step to the input current,
#   $I_t = x_t W^\top + s_{t-1} R^\top + b$ (F1). For a single neuron, $R$ is a self-weight;
#   $R > 0$ makes each spike push the next one sooner.
# - **Adaptation** adds a slow current $u$ that every spike raises by $\kappa$ and that lowers
#   the membrane by $\beta u$: $u_t = \rho u_{t-1} + \kappa s_{t-1}$ (F5) and
#   $v_t = \alpha v_{t-1} + I_t - \beta u_{t-1} - \gamma s_{t-1}$ (F3, F4). A neuron that has
#   fired a lot fires less: its spikes space out.
# - **A synaptic current** $c$ low-pass filters the input before the membrane sees it:
#   $c_t = \lambda c_{t-1} + I_t$ (F2), and $c_t$ takes the place of $I_t$ in F4. A constant
#   $I$ makes $c$ settle at $I / (1 - \lambda)$; below, $W$ is scaled by $(1 - \lambda)$ so that
#   it settles at the same current as before. The input then needs a few steps to build up,
#   so the first spike comes later.
#
# Each part is a switch of `LIFConfig` (`recurrent`, `adaptation`, `synapse`) with its own
# parameter arrays; the full neuron, all four equations F1–F6 together, is the one that
# `refsnn/neurons/lif.py` derives.

# %%
T_DEMO = 60
x_demo = np.ones((T_DEMO, 1, 1))                          # x_t = 1 at every step
ALPHA = np.exp(-1 / 20)
one = dict(W=np.array([[0.1]]), b=np.zeros(1), alpha=np.array([ALPHA]), theta=np.ones(1), gamma=np.ones(1))
variants = {
    "plain LIF (2.1)": (dict(), dict()),
    "+ recurrence, R = 0.3 (2.2)": (dict(recurrent=True), dict(R=np.array([[0.3]]))),
    "+ adaptation, β = 0.02, κ = 1 (2.3)": (dict(adaptation=True),
                                           dict(beta=np.array([0.02]), rho=np.array([np.exp(-1 / 50)]),
                                                kappa=np.ones(1))),
    # W scaled by (1 − λ): c_t then settles at the same current 0.1 as I_t above
    "+ synaptic current, λ = e^(−1/5) (2.4)": (dict(synapse=True),
                                              dict(lam=np.array([np.exp(-1 / 5)]),
                                                   W=np.array([[0.1 * (1 - np.exp(-1 / 5))]]))),
}
demo = {}
fig, axes = plt.subplots(len(variants), 1, figsize=(10, 7.2), sharex=True)
for ax, (name, (switches, extra)) in zip(axes, variants.items()):
    traj = layer_forward(LIFConfig(1, 1, **switches), {**one, **extra}, x_demo)
    demo[name] = traj
    ax.plot(traj.v[:, 0, 0], color="C0", lw=1.2, label="membrane $v_t$")
    ax.axhline(1.0, color="gray", ls="--", lw=1, label=r"threshold $\theta$")
    t_sp = np.flatnonzero(traj.s[:, 0, 0])
    ax.plot(t_sp, np.full(len(t_sp), 1.25), "|", color="C3", ms=10, mew=2, label="spike $s_t = 1$")
    ax.set(ylabel="$v_t$", ylim=(-0.2, 1.45), title=f"{name}: {len(t_sp)} spikes, first at t = {t_sp[0]}")
axes[0].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
axes[-1].set_xlabel("time step t")
plt.tight_layout(); plt.show()
n_spk = {k: int(t.s.sum()) for k, t in demo.items()}
first = {k: int(np.flatnonzero(t.s[:, 0, 0])[0]) for k, t in demo.items()}

# %% [markdown]
# *Figure 2.* One neuron under the same constant input, with each part added to the plain
# neuron on its own. The membrane (blue) rises to the threshold (dashed), the neuron
# fires (red bar), and the next step the soft reset subtracts $\gamma = 1$. Recurrence
# ($R > 0$) starts each climb from higher up: more spikes. Adaptation lengthens the climb
# as $u$ accumulates: fewer spikes, each interval longer than the one before. The synaptic
# current (settling at the same value) delays the first spike while $c$ builds up. The
# final cell asserts each of these three statements.
#
# ## 3. The network
#
# Two layers. The **hidden layer** has $N = 64$ neurons with all four parts: recurrent
# weights $R$ between them, adaptation and a synaptic current. The **readout** is a layer
# of 4 plain LIF neurons, one per class; its spike counts $n_k = \sum_t s_{t,k}$ are the
# network's logits. Time constants: 20 steps for the membranes ($\alpha = e^{-1/20}$),
# 5 for the hidden synapse ($\lambda = e^{-1/5}$), 50 for the adaptation
# ($\rho = e^{-1/50}$); $\theta = \gamma = 1$ everywhere.
#
# `network_init` draws every weight matrix from a Gaussian with standard deviation
# `w_scale`$/\sqrt{\text{fan-in}}$ (recurrent weights: `r_scale`$/\sqrt{N}$, default 0.5).
# `w_scale` sets how hard the input drives a layer at the start: the cell below prints the
# hidden layer's initial firing rate for `w_scale = 1` and `3`. Too small, and a layer
# stays silent with its membranes far below $\theta$, where the surrogate derivative is
# small, so little gradient flows; too large, and its neurons fire at nearly every step,
# with their membranes far above $\theta$, where the surrogate derivative is small too. We
# take 3, which keeps the hidden layer between the two (a fifth of its steps are spikes).
#
# The backward pass replaces $H'$, which is zero almost everywhere, by the sigmoid
# surrogate derivative $\sigma'(x) = k\,S(kx)(1 - S(kx))$ with slope $k = 5$ (notebooks 01
# and 02 explain why).

# %%
sg = surrogate("sigmoid", 5.0)
hidden = LIFConfig(M_IN, 64, surrogate=sg, recurrent=True, adaptation=True, synapse=True)
readout = LIFConfig(64, N_CLASSES, surrogate=sg)
net = Network((hidden, readout))
LAM, RHO = np.exp(-1 / 5), np.exp(-1 / 50)


def init(w_scale):
    return network_init(net, rng=0, per_layer=[
        dict(alpha=ALPHA, lam=LAM, rho=RHO, beta=0.05, kappa=1.0, w_scale=w_scale),
        dict(alpha=ALPHA, w_scale=3.0, b=0.04),   # a small bias: the readout fires from the start
    ])


x_probe = np.ascontiguousarray(x_train[:64].transpose(1, 0, 2))
rate = {w: float(network_forward(net, init(w), x_probe)[0].s.mean()) for w in (1.0, 3.0)}
print("hidden firing rate at the start (spikes per neuron per step):",
      {f"w_scale={w:g}": round(r, 3) for w, r in rate.items()})
params = init(3.0)
for l, p in enumerate(params):
    print(f"layer {l}:", {k: v.shape for k, v in p.items()})

# %% [markdown]
# ## 4. The loss and its partial $(p - y)/B$
#
# With logits $n_{b,k}$ (the spike count of readout neuron $k$ for sample $b$) and
# $p_{b,k} = e^{n_{b,k}} / \sum_j e^{n_{b,j}}$, the spike-count cross-entropy averaged over a
# batch of $B$ samples with labels $y_b$ is
#
# $$ L = -\frac{1}{B} \sum_b \log p_{b, y_b} = \frac1B \sum_b \Big( \log \sum_j e^{n_{b,j}} - n_{b,y_b} \Big). \tag{0.1} $$
#
# Differentiate one term with respect to $n_{b,k}$: $\partial \log\sum_j e^{n_{b,j}} / \partial n_{b,k}
# = e^{n_{b,k}}/\sum_j e^{n_{b,j}} = p_{b,k}$, and $\partial n_{b,y_b}/\partial n_{b,k} = [k = y_b]$. So
#
# $$ \frac{\partial L}{\partial n_{b,k}} = \frac{p_{b,k} - [k = y_b]}{B}, \quad\text{i.e.}\quad
#    \frac{\partial L}{\partial n} = \frac{p - \mathrm{onehot}(y)}{B}. \tag{0.2} $$
#
# The count is a sum over steps, $n = \sum_t s_t$, so $\partial n / \partial s_t = 1$ for
# every $t$, and the loss's direct partial on the readout's spikes is the same at every step:
#
# $$ a^s_t = \frac{\partial L}{\partial s_t}\Big|_\text{direct} = \frac{p - \mathrm{onehot}(y)}{B}
#    \quad (t = 0, \dots, T-1). \tag{0.3} $$
#
# This is the $a^s_t$ that enters the adjoint recursion B1 of the readout. We compute (0.3)
# from scratch and compare it with `refsnn.losses.spike_count_cross_entropy`; then check
# (0.2) by central differences of (0.1) in the counts. `scipy.special.log_softmax`
# subtracts the largest count before exponentiating, so large counts do not overflow.

# %%
from scipy.special import log_softmax, softmax

x0, y0 = next(data.batches(x_train, y_train, 16, rng=0))
trajs = network_forward(net, params, x0)
counts = trajs[-1].s.sum(axis=0)                        # n, (B, K)
B = len(y0)
p_soft = softmax(counts, axis=1)
a_s_mine = (p_soft - np.eye(N_CLASSES)[y0]) / B         # (0.2)
loss = losses.spike_count_cross_entropy(trajs[-1], y0)
print("loss", loss.value, "  same partial at every step:", np.ptp(loss.ds, axis=0).max() == 0)
partial_err = np.abs(loss.ds[0] - a_s_mine).max()
ce = lambda n: -log_softmax(n, axis=1)[np.arange(B), y0].mean()     # (0.1)
fd_err = rel_error(numerical_gradient(ce, counts, eps=1e-2, order=4), a_s_mine, floor=1e-4)[0]
print(f"(0.3) vs refsnn: max |difference| {partial_err:.1e};  (0.2) vs central differences: {fd_err:.1e}")

# %% [markdown]
# ## 5. Forward, backward, and one gradient checked
#
# `network_forward` runs F1–F6 layer by layer and returns each layer's trajectory
# (`v, s, u, c`, each $(T, B, N)$). `network_backward` runs the adjoint recursions B1–B5
# backwards in time, top layer first: the readout's input gradient becomes the hidden
# layer's direct spike partial. Only the readout gets a loss partial, so `ds` is
# `[None, loss.ds]`.
#
# A surrogate gradient is not the derivative of the loss, so finite differences of the
# spiking network cannot check it. They can check the same backward code on the **smooth
# twin**, where the forward spike $H$ is replaced by the surrogate's primitive $S(kx)$:
# there $\sigma'$ *is* the derivative of the forward pass, and the two must agree to
# about $10^{-7}$. We check the gradient of one recurrent weight $R_{3,5}$ of the hidden
# layer.

# %%
grads = network_backward(trajs, params, ds=[None, loss.ds])
print("gradient arrays:", {k: v.shape for k, v in flat_params(grads.params).items() if k.endswith(("W", "R"))})

twin = Network(tuple(smooth_twin(c) for c in net.layers))
twin_loss = lambda ps: losses.spike_count_cross_entropy(network_forward(twin, ps, x0)[-1], y0)
tl = twin_loss(params)
twin_grads = network_backward(network_forward(twin, params, x0), params, ds=[None, tl.ds])


def loss_of_R35(r):
    ps = [dict(p) for p in params]
    ps[0]["R"] = ps[0]["R"].copy()
    ps[0]["R"][3, 5] = r
    return twin_loss(ps).value


fd = numerical_gradient(loss_of_R35, np.array(params[0]["R"][3, 5]), eps=1e-4, order=4)
analytic = twin_grads.params[0]["R"][3, 5]
grad_err = abs(fd - analytic) / max(abs(analytic), 1e-8)
print(f"dL/dR[3,5]: backward {analytic:.10e}, central differences {float(fd):.10e}, rel. error {grad_err:.1e}")

# %% [markdown]
# ## 6. Training: Adam and gradient clipping
#
# One training step is: forward; loss and its partial (0.3); backward; then an update of
# the trained parameters. We train the weights $W$, $R$ and the biases $b$; the decay
# factors $\alpha, \lambda, \rho$ stay fixed (they must stay in $[0, 1]$, which a gradient
# step does not respect; refsnn refuses such values rather than clip them).
#
# **Clipping** (`refsnn.optim.clip_by_global_norm`, equations C1–C2 of `refsnn/training/optim.py`):
# if the global norm $\|g\| = (\sum_k \sum_i g_{k,i}^2)^{1/2}$ over all trained arrays exceeds
# $c$, every gradient is scaled by $c / \|g\|$. A recurrent spiking network produces
# gradients whose norm varies over orders of magnitude from batch to batch (notebook 05
# shows why; below, the largest norm is over 50 times the median). We use $c = 1$, which
# is *below* the median norm, so nearly every step is clipped (the count is printed after
# training). Clipping then is not a guard against a rare bad batch but a normalisation:
# every batch's gradient reaches Adam with norm at most 1, so the few batches whose norm is
# 50 times the median cannot inflate Adam's running mean of $g^2$ (below) and shrink the
# steps of every batch after them. (What happens with `MAX_NORM = 10`, which clips only
# the largest tenth of the norms? Change it and rerun the training cell.)
#
# **Adam** (`refsnn.optim.step` with `optim.Adam`, equations A1–A4): each parameter keeps
# running means of its gradient and squared gradient,
# $m \leftarrow \beta_1 m + (1-\beta_1) g$, $v \leftarrow \beta_2 v + (1-\beta_2) g^2$, corrects their
# bias towards zero at the start ($\hat m = m / (1-\beta_1^t)$, $\hat v = v/(1 - \beta_2^t)$), and
# steps $p \leftarrow p - \eta\, \hat m / (\sqrt{\hat v} + \varepsilon)$: about $\eta$ per step in
# every coordinate, whatever the gradient's scale. The optimiser works on flat dicts
# (`"L0.W"`, `"L1.b"`, ...), and returns new arrays.
#
# Activity regularisers (`losses.spike_count_l1`, `losses.spike_count_l2`) would add their
# own partials to `ds` through `losses.combine`; this network does not need them.

# %%
TRAINED = ("W", "R", "b")
opt = optim.Adam(lr=0.005)
MAX_NORM = 1.0


def trained(flat):
    return {k: v for k, v in flat.items() if k.split(".")[1] in TRAINED}


def train_step(params, opt_state, x, labels):
    trajs = network_forward(net, params, x)                                 # forward, F1–F6
    loss = losses.spike_count_cross_entropy(trajs[-1], labels)            # (0.1), (0.3)
    grads = network_backward(trajs, params, ds=[None, loss.ds])          # B1–B5, G1–G5
    g, norm = optim.clip_by_global_norm(trained(flat_params(grads.params)), MAX_NORM)   # C1–C2
    new, opt_state = optim.step(opt, trained(flat_params(params)), g, opt_state)        # A1–A4
    return unflat_params({**flat_params(params), **new}, len(params)), opt_state, loss.value, norm


def accuracy(params, X, y):
    """Fraction of samples whose correct readout neuron fires strictly the most."""
    n = network_forward(net, params, np.ascontiguousarray(X.transpose(1, 0, 2)))[-1].s.sum(axis=0)
    top = n.max(axis=1, keepdims=True)
    return float(np.mean((n[np.arange(len(y)), y] == top[:, 0]) & ((n == top).sum(axis=1) == 1)))


EPOCHS = 8
opt_state = optim.init_state(opt, trained(flat_params(params)))
rng = np.random.default_rng(0)
step_loss, step_norm, train_acc, test_acc = [], [], [accuracy(params, x_train, y_train)], [accuracy(params, x_test, y_test)]
initial_params = params
for epoch in range(EPOCHS):
    for xb, yb in data.batches(x_train, y_train, 32, rng=rng):
        params, opt_state, value, norm = train_step(params, opt_state, xb, yb)
        step_loss.append(value); step_norm.append(norm)
    train_acc.append(accuracy(params, x_train, y_train)); test_acc.append(accuracy(params, x_test, y_test))
    print(f"epoch {epoch + 1}: mean loss {np.mean(step_loss[-19:]):.3f}, "
          f"train accuracy {train_acc[-1]:.3f}, test accuracy {test_acc[-1]:.3f}")
clipped = np.mean(np.array(step_norm) > MAX_NORM)
print(f"gradient norm: median {np.median(step_norm):.2f}, largest {max(step_norm):.1f}; "
      f"clipped in {clipped:.0%} of {len(step_norm)} steps")

# %%
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 3.4))
ax0.plot(step_loss, lw=1)
ax0.set(xlabel="training step", ylabel="cross-entropy L (0.1)", title="loss per mini-batch")
ax1.plot(range(EPOCHS + 1), train_acc, "o-", label="train")
ax1.plot(range(EPOCHS + 1), test_acc, "s-", label="test")
ax1.axhline(1 / N_CLASSES, color="gray", ls=":", label="chance")
ax1.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02), title="accuracy after each epoch")
ax1.legend(); plt.tight_layout(); plt.show()

# %% [markdown]
# *Figure 3.* Left: the loss of every mini-batch. It starts far above chance level
# $\log 4 \approx 1.39$, because the untrained readout's counts differ by many spikes, often
# in favour of a wrong class, and falls towards zero. Right: accuracy on the
# training and on the held-out test samples after each epoch; a sample counts as correct
# only if its class's readout neuron fires strictly more spikes than every other.
#
# ## 7. What the trained network does
#
# Run one test sample of each class and look inside: the hidden layer's spikes and the
# readout's membranes and spikes over time.

# %%
pick = [int(np.flatnonzero(y_test == c)[0]) for c in range(N_CLASSES)]
xs = np.ascontiguousarray(x_test[pick].transpose(1, 0, 2))
tr = network_forward(net, params, xs)
fig, axes = plt.subplots(2, N_CLASSES, figsize=(13, 5.2), sharex=True)
for b, c in enumerate(range(N_CLASSES)):
    t_sp, n_sp = np.nonzero(tr[0].s[:, b])
    axes[0, b].scatter(t_sp, n_sp, s=3, color="k")
    axes[0, b].set(title=f"test sample of class {c}", ylabel="hidden neuron")
    for k in range(N_CLASSES):
        axes[1, b].plot(np.cumsum(tr[1].s[:, b, k]), color=f"C{k}", lw=2.4 if k == c else 0.9,
                        label=f"readout {k}" + (" (true class)" if k == c else ""))
    axes[1, b].set(xlabel="time step t", ylabel="readout spikes so far")
    axes[1, b].legend(fontsize=7, loc="upper left")
plt.tight_layout(); plt.show()
v_max = float(tr[1].v.max())
winner = tr[1].s.sum(axis=0).argmax(axis=1)                 # (B,): the readout with the most spikes
print(f"largest readout membrane {v_max:.1f} (θ = 1); most spikes per sample: {winner}, classes: {list(range(N_CLASSES))}")

# %% [markdown]
# *Figure 4.* Top: raster of the 64 hidden neurons for one test sample per class (a dot
# is a spike of neuron $n$ at step $t$). Bottom: each readout neuron's spike count so far,
# $\sum_{t' \le t} s_{t',k}$, for the same samples; the count at the last step is the logit
# $n_k$. The readout neuron of the sample's class (thick line) ends with the most spikes
# in each of these four samples. The readout's membranes are not plotted: the trained
# readout is driven so hard that its membranes rise far above $\theta = 1$ (the largest
# value is printed above), a neuron fires at almost every step, and the soft reset of
# $\gamma = 1$ per step cannot pull $v$ back below threshold, so a plot of $v_t$ would show no
# crossings or resets, only how far above $\theta$ each membrane sits.
#
# ## 8. Where to go next
#
# | notebook | what it teaches |
# |---|---|
# | 01 the gradient problem | why $H' = 0$ stops gradient descent, and what a surrogate restores |
# | 02 surrogates | the surrogate family, its scale, the smooth twin, the straight-through estimator |
# | 03 BPTT by hand | the adjoints B1–B5 and gradients G1–G5 derived and checked: what `network_backward` did above |
# | 04 soft vs hard reset | how the reset and its detaching change the gradient |
# | 05 long-term dependencies | exploding and vanishing $\delta v$, spectral radius, critical coupling |
# | 06 truncated BPTT | cutting the backward pass into windows, and carrying the state |
# | 07 charge, fire, reset | the three-step neuron of seed 004 mapped onto refsnn |
# | 08 refsnn as an oracle | checking a PyTorch (snnTorch, SpikingJelly, Norse) network's gradients against refsnn |
# | 09–12 applications (seed 002) | classification, sequence regression and the losses of seed 002 |
# | 13 online learning and e-prop | forward-in-time learning rules and how they approximate BPTT |
# | 14 Lee et al. 2016 | training SNNs with membrane potentials as signals (seed 003) |
#
# The README's learning path gives each notebook's exercise and time.

# %% [markdown]
# ## 9. Checks

# %%
elapsed = time.perf_counter() - START
print(f"final test accuracy {test_acc[-1]:.3f}, train accuracy {train_acc[-1]:.3f}; "
      f"notebook ran in {elapsed:.1f} s")
# 1. The partial (0.3): ours equals refsnn's, at every step, and central differences of (0.1).
assert partial_err < 1e-15 and np.ptp(loss.ds, axis=0).max() == 0 and fd_err < 1e-7
# 2. One gradient of the backward pass, on the smooth twin, against central differences.
assert grad_err < 1e-7, grad_err
# 3. Training worked: the loss fell, and the network classifies held-out samples.
# (the last epoch's mean mini-batch loss below a quarter of chance; it fluctuates by ~0.1
# from epoch to epoch, and with the BLAS's thread count, so no tighter bound is claimed)
assert np.mean(step_loss[:19]) > np.log(N_CLASSES) > 4 * np.mean(step_loss[-19:])
assert max(step_norm) > 50 * np.median(step_norm) and np.median(step_norm) > MAX_NORM and clipped > 0.5
assert test_acc[0] < 0.5                          # the untrained network is near chance
assert test_acc[-1] >= 0.90, test_acc             # the stated accuracy: at least 90% on test
# 5. Section 2: recurrence adds spikes, adaptation removes them and lengthens each interval,
#    the synaptic current (settling at the same value) delays the first spike.
names = list(variants)
assert n_spk[names[1]] > n_spk[names[0]] > n_spk[names[2]], n_spk
assert np.all(np.diff(np.diff(np.flatnonzero(demo[names[2]].s[:, 0, 0]))) > 0)
assert first[names[3]] > first[names[0]], first
# 6. Section 3: w_scale = 3 makes the hidden layer fire more at the start than w_scale = 1,
#    and not at most of its steps.
assert 0 < rate[1.0] < rate[3.0] and 0.15 < rate[3.0] < 0.25, rate    # "a fifth"
# 7. Figure 4: the true class's readout has the most spikes in each sample, and the
#    readout's membranes sit far above θ.
assert list(winner) == list(range(N_CLASSES)) and v_max > 5, (winner, v_max)
# 4. Only W, R and b moved; the decays stayed where they were set.
for l in range(2):
    for k in params[l]:
        moved = not np.array_equal(params[l][k], initial_params[l][k])
        assert moved == (k in TRAINED), (l, k)
print("all checks passed")

# %% [markdown]
# **Exercise.** Implement the stubs in `exercises/ex00_training_step.py`: the loss
# partial (0.3), the training step of section 6, and a gradient function that uses *your*
# `lif_backward` from exercise 03. Then run `python exercises/check.py ex00` from the
# repository's root. The checker trains a network with your step and with the reference
# step and compares every parameter after every step. The solutions are in
# `exercises/solutions/ex00_training_step.py`.
