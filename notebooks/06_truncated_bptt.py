# %% [markdown]
# # 06 · Truncated BPTT
#
# Full BPTT stores the whole forward trajectory, so its memory grows with the sequence
# length $T$. Truncated BPTT (TBPTT) cuts the sequence into windows of $K$ steps and
# backpropagates inside each window only. Seed 000 §7 ("实际实现：截断BPTT", summarised in `docs/seeds.md`) states three
# rules for doing it correctly, and `refsnn.tbptt` implements them:
#
# 1. **Carry the state.** Window $n$ starts from the state the forward pass actually
#    reached at that time, computed by window $n-1$. Never from zero.
# 2. **Cut the gradient** at the window's start: the starting state is a constant in the
#    window's backward pass.
# 3. **Count each step's loss once.** Windows of length $K$ start every $K - O$ steps
#    (an overlap of $O$ steps gives each window some warm-up history); each window counts
#    the loss only on the steps that the previous window did not count.
#
# This notebook shows the windows, checks that $K \ge T$ gives exactly full BPTT, breaks
# rule 1 and rule 2 on purpose to see what goes wrong, and measures the price of
# truncation: the gradient's error as a function of $K$ and $O$.

# %%
# %matplotlib inline
import numpy as np
import matplotlib.pyplot as plt

np.set_printoptions(precision=4, suppress=False, linewidth=100)
plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})

# %%
import time

from refsnn import LIFConfig, Network, network_backward, network_forward, network_init, surrogate
from refsnn import tbptt

# %% [markdown]
# ## 1. Windows
#
# Window $n$ covers the steps $[t_n, t_n + K)$ with $t_n = n(K - O)$, and counts the loss
# on $[t_n + O, t_n + K)$, except the first window, which counts all of $[0, K)$ (seed 000
# names only the suffix rule, which would leave the first $O$ steps in no window's loss).
# The last window stops at $T$.

# %%
wins = tbptt.windows(T=20, K=8, O=3)
fig, ax = plt.subplots(figsize=(8, 2.4))
for n, (window, counted) in enumerate(wins):
    ax.barh(n, window.stop - window.start, left=window.start, color="lightgray", edgecolor="k")
    ax.barh(n, counted.stop - counted.start, left=counted.start, height=0.4, color="tab:blue")
    print(f"window {n}: steps [{window.start:2d}, {window.stop:2d}), loss counted on [{counted.start:2d}, {counted.stop:2d})")
ax.set(xlabel="step t", ylabel="window n", title="T = 20, K = 8, O = 3: window (gray), counted loss (blue)")
ax.invert_yaxis(); ax.set_xticks(range(0, 21, 2)); plt.tight_layout(); plt.show()

# %% [markdown]
# *Figure 1.* The windows of $T = 20$ steps with $K = 8$, $O = 3$, time running left to
# right: each gray bar is a window's steps, its blue part the steps whose loss it counts.
# Every step is counted by exactly one window.

# %% [markdown]
# ## 2. The network and the loss
#
# A hidden layer of 16 adaptive LIF neurons (synaptic current, recurrent weights,
# adaptation with $\rho = 0.97$, a memory of about 30 steps) feeds a non-spiking leaky
# readout of 2 units ($\alpha = 0.95$). The loss is seed 002's membrane loss with a
# time-varying target, $\tfrac12\sum_t \sum_{b,k} (v^\text{out}_t - y_t)^2 / B$
# (`tbptt.per_step_membrane_loss`): the readout should follow two sine waves.

# %%
rng = np.random.default_rng(0)
sg = surrogate("sigmoid", 4.0)
hidden = LIFConfig(3, 16, surrogate=sg, recurrent=True, adaptation=True, synapse=True)
readout = LIFConfig(16, 2, reset="none", spiking=False)
net = Network((hidden, readout))
params = network_init(net, rng, np.float64, [dict(b=0.05, lam=0.5, rho=0.97, beta=0.3),
                                             dict(alpha=0.95, w_scale=0.3)])
T, B = 300, 4
x = rng.normal(0.3, 1.0, (T, B, 3))
phase = np.linspace(0, 6 * np.pi, T)
y = 0.5 * np.stack([np.sin(phase), np.cos(phase)], axis=-1)[:, None, :] * np.ones((1, B, 1))   # (T, B, 2)
loss_fn = tbptt.per_step_membrane_loss(y)

def full_bptt(x, params, loss_fn):
    trajs = network_forward(net, params, x)
    value, ds, dv = loss_fn(trajs, slice(0, len(x)), slice(0, len(x)))
    return value, network_backward(trajs, params, ds, dv).params, trajs

def relative_error(grads, reference):
    # ‖g - g_ref‖ / ‖g_ref‖ over every parameter of every layer.
    num = sum(np.sum((g[k] - r[k]) ** 2) for g, r in zip(grads, reference) for k in r)
    den = sum(np.sum(r[k] ** 2) for r in reference for k in r)
    return float(np.sqrt(num / den))

def _flat(grads, keys):
    return np.concatenate([g[k].ravel() for g, ks in zip(grads, keys) for k in ks])

def cosine_and_norm(grads, reference):
    # cos(g, g_ref) = <g, g_ref> / (‖g‖ ‖g_ref‖) and ‖g‖ / ‖g_ref‖, over every parameter of every layer.
    keys = [sorted(r) for r in reference]
    a, b = _flat(grads, keys), _flat(reference, keys)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))), float(np.linalg.norm(a) / np.linalg.norm(b))

full_value, full_grads, full_trajs = full_bptt(x, params, loss_fn)
print(f"full BPTT: loss {full_value:.4f}, hidden firing rate {full_trajs[0].s.mean():.3f} per step")

# %% [markdown]
# ## 3. $K \ge T$ is full BPTT
#
# With one window, the rules change nothing: the window starts from the initial state,
# counts every step, and backpropagates through all of them.

# %%
one_window = {K: tbptt.tbptt_gradients(net, params, x, loss_fn, K=K, O=0) for K in (T, T + 7)}
for K, res in one_window.items():
    print(f"K = {K}: {res.n_windows} window, loss {res.value:.12f} (full {full_value:.12f}),"
          f" gradient relative error {relative_error(res.grads, full_grads):.1e}")

# %% [markdown]
# ## 4. Breaking rule 1: starting every window from zero
#
# If each window starts from the zero state, the forward pass itself is wrong: after every
# window boundary the adaptation current, the synaptic currents and the membranes start
# over, and within a window of $K = 25$ steps the network does not get back to where it
# should be.
# The loss that such a run reports is not the loss of the sequence, and its gradient is
# the gradient of a different computation. (Both gradients below are far from full BPTT
# with $K = 25$; section 6 is about the carried one's error, which comes from the cut
# alone. The zero-state error mixes the cut with a wrong forward pass.)

# %%
K = 25

def windows_from_zero(x, params, K, O=0):
    value, grads, readout_v = 0.0, None, []
    for window, counted in tbptt.windows(len(x), K, O):
        v, g, trajs = tbptt.window_gradient(net, params, x[window], None, loss_fn, window, counted)  # state0=None: zeros
        value += v
        grads = g if grads is None else [{k: a[k] + b[k] for k in a} for a, b in zip(grads, g)]
        lo = counted.start - window.start
        readout_v.append(trajs[1].v[lo:])
    return value, grads, np.concatenate(readout_v)

carried = tbptt.tbptt_gradients(net, params, x, loss_fn, K=K, O=0)
zero_value, zero_grads, zero_readout = windows_from_zero(x, params, K)
print(f"loss: full {full_value:.6f}, carried state {carried.value:.6f}, zero state {zero_value:.6f}")
cos_carried, norm_carried = cosine_and_norm(carried.grads, full_grads)
cos_zero, norm_zero = cosine_and_norm(zero_grads, full_grads)
print(f"vs full BPTT: carried  cosine {cos_carried:.3f}, relative norm {norm_carried:.3f},"
      f" relative L2 error {relative_error(carried.grads, full_grads):.3f}")
print(f"              zero     cosine {cos_zero:.3f}, relative norm {norm_zero:.3f},"
      f" relative L2 error {relative_error(zero_grads, full_grads):.3f}")
print("largest deviation of the readout from the true forward pass, zero state:",
      np.abs(zero_readout - full_trajs[1].v).max())

fig, ax = plt.subplots(figsize=(11, 3.2))
ax.plot(full_trajs[1].v[:, 0, 0], "k", lw=1.5, label="full forward pass (= carried state)")
ax.plot(zero_readout[:, 0, 0], "tab:red", lw=1, label="each window from zero")
ax.plot(y[:, 0, 0], "gray", ls=":", label="target")
for t0 in range(0, T, K):
    ax.axvline(t0, color="gray", lw=0.5)
ax.set(xlabel="step t", ylabel="readout $v_t$ (unit 0, trial 0)", title=f"forward drift, K = {K}")
ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0)); plt.show()    # outside: the target fills the axes

# %% [markdown]
# *Figure 2.* The readout membrane of unit 0 in trial 0 over time: the true forward pass
# (black, which TBPTT with a carried state reproduces exactly), the forward pass when each
# window of $K = 25$ steps restarts from zero (red), and the target (dotted). Grey lines
# mark the window starts; at each, the zero-state run restarts from zero and jumps away
# (by up to 0.64), and it does not rejoin the true pass before the next start: from the
# first boundary on, the largest deviation over units and trials stays above 0.05 at every
# step.
#
# **Which gradient is closer to full BPTT?** The relative L2 error
# $\|g - g_\text{full}\| / \|g_\text{full}\|$ mixes two things: the direction of $g$ and its
# length. Truncation mostly *shortens* the gradient (credit past a window's start is
# dropped) while keeping its direction; a shortened gradient scores a large L2 error even
# though a descent step along it is a good one, and a gradient of a wrong computation can
# score a smaller one. So we report the two separately: the **cosine similarity**
# $\langle g, g_\text{full}\rangle / (\|g\|\,\|g_\text{full}\|)$, which says whether a step along $g$
# goes the right way, and the **relative norm** $\|g\| / \|g_\text{full}\|$. By cosine, the carried
# state is clearly the better gradient (printed above; asserted in section 7), though its
# relative L2 error is the larger one. Adam normalises the step length, so for training
# the direction is what matters; section 6b trains with both.


# %% [markdown]
# ## 5. Breaking rule 2: carrying the state without cutting the gradient
#
# If the starting state of window $n$ keeps its dependence on the parameters (in an
# autograd framework: the state is carried but not detached), window $n$'s backward pass
# runs through every earlier window back to $t = 0$. The gradient is then exact (the sum
# over windows is the full BPTT gradient), but window $n$ must keep the whole history
# $[0, t_n + K)$: memory grows with $T$ as in full BPTT, and since every window repeats
# the backward pass over the whole prefix, the time grows like $T^2/(2(K - O))$.
#
# Below, `no_cut` does exactly that with refsnn's functions: for each window, forward and
# backward over the whole prefix, with the loss counted on the window's steps only. The
# memory is the size of the trajectory arrays that one backward pass needs.

# %%
def stored_bytes(trajs):
    return sum(a.nbytes for tr in trajs for a in (tr.x, tr.v, tr.s, tr.u, tr.c) if a is not None)

# Each method returns (gradients, bytes kept for one backward pass).
def full_method(x, loss_fn, K):
    _, grads, trajs = full_bptt(x, params, loss_fn)
    return grads, stored_bytes(trajs)

def tbptt_method(x, loss_fn, K):
    res = tbptt.tbptt_gradients(net, params, x, loss_fn, K=K, O=0)
    return res.grads, stored_bytes(network_forward(net, params, x[:K]))       # one window

def no_cut_method(x, loss_fn, K):
    grads, peak = None, 0
    for window, counted in tbptt.windows(len(x), K, 0):
        prefix = slice(0, window.stop)                                      # back to t = 0
        trajs = network_forward(net, params, x[prefix])
        _, ds, dv = loss_fn(trajs, prefix, counted)                         # this window's steps only
        g = network_backward(trajs, params, ds, dv).params
        grads = g if grads is None else [{k: a[k] + b[k] for k in a} for a, b in zip(grads, g)]
        peak = max(peak, stored_bytes(trajs))
    return grads, peak

methods = {"full BPTT": full_method, "TBPTT, K = 25": tbptt_method, "no cut, K = 25": no_cut_method}
lengths = [100, 200, 400]
rng_long = np.random.default_rng(1)
x_long = rng_long.normal(0.3, 1.0, (max(lengths), B, 3))
y_long = 0.5 * np.sin(np.linspace(0, 16 * np.pi, max(lengths)))[:, None, None] * np.ones((1, B, 2))
loss_long = tbptt.per_step_membrane_loss(y_long)
costs = {name: [] for name in methods}
memory = {name: [] for name in methods}
nocut_errors = []
for length in lengths:
    grads = {}
    for name, method in methods.items():
        start = time.perf_counter()
        grads[name], nbytes = method(x_long[:length], loss_long, K)
        costs[name].append(time.perf_counter() - start)
        memory[name].append(nbytes)
    nocut_errors.append(relative_error(grads["no cut, K = 25"], grads["full BPTT"]))
print("no cut vs full BPTT, relative gradient error for each T:", ["%.1e" % e for e in nocut_errors])

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(12, 3.6))
for name in costs:
    ax0.loglog(lengths, memory[name], "o-", label=name)
    ax1.loglog(lengths, costs[name], "o-", label=name)
ax0.set(xlabel="T", ylabel="bytes kept for one backward pass", title="memory")
ax1.set(xlabel="T", ylabel="seconds", title="time (this machine, one run)")
ax0.legend(); ax1.legend(); plt.tight_layout(); plt.show()
for name in costs:
    print(f"{name:15s} memory {memory[name]} bytes")

# %% [markdown]
# *Figure 3.* Memory (left) and time (right) of one gradient against the sequence length $T$.
# Memory: full BPTT and the uncut version grow linearly with $T$ (their two lines
# coincide); TBPTT stays at one window. Time: the seconds are this machine's, measured
# once, and are shown, not checked. What is asserted is the work, counted in time steps
# processed by forward and backward passes: $T$ for full BPTT and TBPTT (the same steps,
# only grouped differently), $\sum_n \min(t_n + K, T)$ for the uncut version, which grows
# quadratically.
#
# ## 6. The price of truncation
#
# Rules 1–3 make the forward pass and the loss exact, but the gradient is not: credit
# that would flow past a window's start is dropped. How much is dropped depends on how
# fast gradients decay through the network (notebook 05). Here the readout forgets with
# $\alpha = 0.95$ (about 20 steps) and the adaptation with $\rho = 0.97$ (about 30). The
# loss at a step near the start of a window loses the credit of its last few tens of
# steps; when the errors keep their sign over long stretches, as they do here, the
# dropped fraction falls far more slowly than the $e^{-K/30}$ that a memory of 30 steps
# alone would suggest (at $K = 200$ the error is still 0.15, where $e^{-200/30}$ is about
# 0.001). Nor does it
# fall monotonically: windows whose boundaries sit at different phases of the target
# drop credit of different signs, which may partly cancel. An overlap $O$ helps at fixed
# $K$, because every counted step then has at least $O$ steps of history inside its
# window, at the cost of more windows.

# %%
Ks = [2, 5, 10, 20, 50, 100, 200, 300]
err_K = [relative_error(tbptt.tbptt_gradients(net, params, x, loss_fn, K=K_, O=0).grads, full_grads) for K_ in Ks]
Os = [0, 5, 10, 15, 19]
err_O = [relative_error(tbptt.tbptt_gradients(net, params, x, loss_fn, K=20, O=O).grads, full_grads) for O in Os]

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(12, 3.6))
ax0.semilogx(Ks, err_K, "o-")
ax0.set(xlabel="window length K (O = 0)", ylabel="relative gradient error", title=f"truncation error, T = {T}")
ax1.plot(Os, err_O, "o-")
ax1.set(xlabel="overlap O (K = 20)", ylabel="relative gradient error", title="overlap")
plt.tight_layout(); plt.show()
for K_, e in zip(Ks, err_K):
    print(f"K = {K_:3d}: relative error {e:.4f}")

# %% [markdown]
# *Figure 4.* The relative L2 error of carried-state TBPTT against full BPTT, as a function
# of the window length $K$ (left, no overlap) and of the overlap $O$ at $K = 20$ (right). It
# is 0 at $K = T$ and falls, not monotonically, as $K$ grows; each larger overlap lowers it.
#
# ## 6b. Training with each gradient
#
# Gradient quality matters through training. We train the weights and biases ($W$, $R$,
# $b$) with Adam (learning rate 0.01) from the same start, with three gradients: TBPTT
# with the carried state, windows started from zero, and the uncut version (the exact
# gradient, at quadratic cost), each for the same **compute budget**: 20 passes' worth of
# time steps, forward and backward, over the $T = 300$-step sequence. A carried-state or
# zero-state gradient costs $T$ steps; the uncut one costs $\sum_n (t_n + K)$, here
# $25 + 50 + \dots + 300 = 1950$ steps, so it gets 3 updates where the others get 20. Every
# run is scored on the *true* loss, the full forward pass's.

# %%
from refsnn import optim
from refsnn.network import flat_params, unflat_params

TRAINED = ("W", "R", "b")

def trained(flat):
    return {k: v for k, v in flat.items() if k.split(".")[1] in TRAINED}

def carried_gradient(p):
    return tbptt.tbptt_gradients(net, p, x, loss_fn, K=K, O=0).grads, T

def zero_state_gradient(p):
    return windows_from_zero(x, p, K)[1], T

def no_cut_gradient(p):
    grads, cost = None, 0
    for window, counted in tbptt.windows(T, K, 0):
        prefix = slice(0, window.stop)
        trajs = network_forward(net, p, x[prefix])
        _, ds, dv = loss_fn(trajs, prefix, counted)
        g = network_backward(trajs, p, ds, dv).params
        grads = g if grads is None else [{k: a[k] + b[k] for k in a} for a, b in zip(grads, g)]
        cost += window.stop
    return grads, cost

BUDGET = 20 * T
training = {}
for name, gradient in (("carried state", carried_gradient), ("zero state", zero_state_gradient),
                       ("no cut", no_cut_gradient)):
    p, opt = params, optim.Adam(lr=0.01)
    state, spent, curve = optim.init_state(opt, trained(flat_params(p))), 0, [(0, full_value)]
    while True:
        g, cost = gradient(p)
        if spent + cost > BUDGET:
            break
        spent += cost
        new, state = optim.step(opt, trained(flat_params(p)), trained(flat_params(g)), state)
        p = unflat_params({**flat_params(p), **new}, len(p))
        curve.append((spent, loss_fn(network_forward(net, p, x), slice(0, T), slice(0, T))[0]))
    training[name] = np.array(curve)
    print(f"{name:13s}: {len(curve) - 1:2d} updates, true loss {curve[0][1]:.2f} -> {curve[-1][1]:.2f}")

fig, ax = plt.subplots(figsize=(7, 3.4))
for name, curve in training.items():
    ax.plot(curve[:, 0] / T, curve[:, 1], "o-" if name == "no cut" else "-", ms=3, label=name)
ax.set(xlabel="compute spent (full-sequence passes, forward + backward)", ylabel="true loss (full forward pass)",
       title=f"Adam on W, R, b with TBPTT, K = {K}")
ax.legend(); plt.tight_layout(); plt.show()
final = {name: curve[-1, 1] for name, curve in training.items()}

# %% [markdown]
# *Figure 5.* The true sequence loss against the compute spent, for the three gradients.
# For this budget the carried state reaches the lowest loss; the zero-state gradient,
# which belongs to a different forward pass, comes second; the uncut gradient is exact,
# but each of its updates costs 6.5 times as much, and its 3 updates leave it last. So
# for what it costs, the order is carried state > zero state > no cut (asserted below).
# This order is a statement about this budget: the uncut gradient is the exact one, and
# by agreement with full BPTT alone it comes first (cosine 1), then the carried state,
# then the zero state.
#
# ## 7. Checks

# %%
# 1. The windows cover every step's loss exactly once.
counted_steps = np.concatenate([np.arange(20)[c] for _, c in wins])
assert np.array_equal(counted_steps, np.arange(20))
# 2. K >= T is full BPTT.
for K_, res in one_window.items():
    assert res.n_windows == 1
    assert abs(res.value - full_value) <= 1e-13 * abs(full_value)
    for g, r in zip(res.grads, full_grads):
        for name in r:
            assert np.allclose(g[name], r[name], rtol=1e-13, atol=1e-15), (K_, name)
# 3. Carried state: the window losses add up to the full loss; zero state: they do not.
assert abs(carried.value - full_value) <= 1e-12 * abs(full_value)
assert abs(zero_value - full_value) > 1e-3 * abs(full_value)
assert np.abs(zero_readout - full_trajs[1].v).max() > 0.1                # the forward pass drifts
for state, tr in zip(carried.final_state, full_trajs):                    # carrying does not
    assert np.allclose(state["v"], tr.v[-1], rtol=1e-12, atol=1e-14)
# 3b. Cosine similarity to full BPTT orders the carried state above the zero state,
#     although the relative L2 error says the opposite; the uncut gradient is exact.
cos_nocut, norm_nocut = cosine_and_norm(no_cut_gradient(params)[0], full_grads)
assert abs(cos_nocut - 1) < 1e-12 and abs(norm_nocut - 1) < 1e-12
assert 1 > cos_carried > 0.98 > 0.95 > cos_zero > 0.9, (cos_carried, cos_zero)
assert relative_error(carried.grads, full_grads) > relative_error(zero_grads, full_grads)
assert norm_carried < norm_zero < 1                                       # truncation shortens
# 3c. Training for the same compute budget: true loss carried state < zero state < no cut.
assert [len(training[n]) - 1 for n in ("carried state", "zero state", "no cut")] == [20, 20, 3]
assert final["carried state"] < final["zero state"] < final["no cut"] < full_value, final
# 4. No cut: the exact gradient, with memory growing like T; TBPTT's memory stays flat.
assert max(nocut_errors) < 1e-12
assert memory["TBPTT, K = 25"] == [memory["TBPTT, K = 25"][0]] * len(lengths)
for name in ("full BPTT", "no cut, K = 25"):
    assert np.allclose(np.array(memory[name]) / np.array(lengths), memory[name][0] / lengths[0]), name
# 4b. Work in time steps: linear for TBPTT, quadratic without the cut.
work_no_cut = [sum(w.stop for w, _ in tbptt.windows(L_, 25, 0)) for L_ in lengths]
assert work_no_cut[-1] / work_no_cut[-2] > 3.5 and work_no_cut[1] / work_no_cut[0] > 3.5
# 5. Truncation error: zero at K = T, large for short windows, smaller for long ones;
#    an overlap helps at K = 20.
assert err_K[-1] < 1e-13 and err_K[0] > 0.5
assert err_K[Ks.index(200)] < 0.5 * err_K[Ks.index(20)] < err_K[0]
assert err_O[-1] < err_O[0]
# 6. The claims of the text around the figures.
#    The hidden adaptation's memory is about 30 steps, the readout's about 20.
assert np.allclose(params[0]["rho"], 0.97) and 25 < 1 / (1 - 0.97) < 40
assert np.allclose(params[1]["alpha"], 0.95) and np.isclose(1 / (1 - 0.95), 20)
#    Figure 2: the zero-state readout jumps away (by up to 0.64) and does not rejoin.
dev = np.abs(zero_readout - full_trajs[1].v).max(axis=(1, 2))
assert not np.any(dev[:K]) and dev[K:].min() > 0.05 and 0.63 < dev.max() < 0.65
#    Figure 3: the memory lines of full BPTT and the uncut version coincide; TBPTT's work is T.
assert memory["full BPTT"] == memory["no cut, K = 25"]
assert all(sum(w.stop - w.start for w, _ in tbptt.windows(L_, 25, 0)) == L_ for L_ in lengths)
#    Section 6: far slower than e^(-K/30); not monotonic (K = 100 worse than K = 50);
#    each larger overlap helps at K = 20.
assert abs(err_K[Ks.index(200)] - 0.15) < 0.01 and err_K[Ks.index(200)] > 100 * np.exp(-200 / 30)
assert err_K[Ks.index(100)] > err_K[Ks.index(50)]
assert np.all(np.diff(err_O) < 0), err_O
#    Section 6b: the uncut gradient costs 25 + 50 + ... + 300 = 1950 steps, 6.5 times T.
assert no_cut_gradient(params)[1] == 1950 == 6.5 * T
#    Truncation keeps the direction and shortens the gradient (section 4's reading).
assert cos_carried > 0.98 and norm_carried < 0.6
print("all checks passed")

# %% [markdown]
# **Exercise.** Implement the stubs in `exercises/ex06_truncated_bptt.py`, then run `python exercises/check.py ex06` from the repository's root. It prints PASS or FAIL for each function, with the worst relative error and a hint. The solutions are in `exercises/solutions/ex06_truncated_bptt.py`.
