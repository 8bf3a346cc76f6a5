# %% [markdown]
# # 09 · Spiking convolution
#
# (The seed sections cited below are summarised, in refsnn's symbols, in `docs/seeds.md`.)
#
# Seed 002 ("用于视觉任务的脉冲卷积网络") puts LIF neurons behind a convolution and reads
# the kernel gradient as a sum of three factors: the postsynaptic error, the presynaptic
# eligibility trace that the leak makes, and the sampling pattern that stride and
# padding set. This notebook derives that gradient for refsnn's convolutional layer
# (`refsnn/neurons/conv.py`, equations C1–C6 there), checks it, shows that its two
# readings give the same numbers, derives the input gradient as a transposed
# convolution, and trains a small spiking CNN on the 8×8 digits.

# %%
# %matplotlib inline
import time

import numpy as np
import matplotlib.pyplot as plt

np.set_printoptions(precision=4, suppress=False, linewidth=100)
plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})

# %%
from refsnn import losses, surrogate
from refsnn.checking import conv_grid
from refsnn.checking.gradcheck import check_gradients
from refsnn.neurons.conv import (ConvLIFConfig, ConvNetwork, conv_backward, conv_current, conv_forward,
                                 conv_init_params, convnet_backward, convnet_forward, convnet_init,
                                 eligibility_kernel_gradient, im2col, input_gradient)
from refsnn.neurons.lif import LIFConfig
from refsnn.neurons.network import Network, flat_params, unflat_params
from refsnn.training import data, optim

# %% [markdown]
# ## 1. The layer
#
# The input is $x_{t,c,a,b}$: step $t$, channel $c$, row $a$, column $b$ (and a batch
# index, left out here). Output channel $k$ has one LIF neuron at every position
# $(i, j)$ of an $H_o \times W_o$ grid. With stride $s$, zero padding $p$ and a kernel
# $W_{k,c,r,q}$ of size $k_h \times k_w$, its input current is
#
# $$ I_{t,k,i,j} = \sum_{c,r,q} W_{k,c,r,q}\, x_{t,c,\,si+r-p,\,sj+q-p} + b_k \tag{C1} $$
#
# ($x = 0$ at indices in the padding), and $H_o = \lfloor (H + 2p - k_h)/s \rfloor + 1$.
# The current drives the LIF dynamics F2–F6 of `refsnn/neurons/lif.py` unchanged; the
# layer only replaces F1. The neuron parameters $\alpha, \theta, \gamma, \dots$ are per
# channel, shared by every position, as the kernel is.
#
# **im2col.** Copy every patch the kernel sees into a row: $X^{col}_{(t,i,j),(c,r,q)} =
# x_{t,c,si+r-p,sj+q-p}$. Then C1 is one matrix product for all steps and positions,
# $I = X^{col} (W^{mat})^\top + b$. No recurrence enters the current, so nothing in it
# has to wait for the time loop.

# %%
cfg = ConvLIFConfig(in_channels=2, height=7, width=7, out_channels=3, kernel_size=3, stride=2, padding=1,
                    surrogate=surrogate("sigmoid", 4.0))
rng = np.random.default_rng(0)
T, B = 6, 2
params = conv_init_params(cfg, rng, w_scale=2.0, b=0.3, alpha=np.array([0.7, 0.85, 0.95]))
x = rng.normal(0.5, 1.0, (T, B, cfg.in_channels, cfg.height, cfg.width))
cols = im2col(x.reshape(T * B, 2, 7, 7), cfg.kernel_size, cfg.stride, cfg.padding)
print("output grid", cfg.out_shape, "| patches", cols.shape, "(T·B, H_o, W_o, C, k_h, k_w)")

# C1 written as the loop of its definition, against the single product.
I = conv_current(cfg, params["W"], params["b"], x).reshape(T, B, 3, *cfg.out_shape)
I_loop = np.zeros_like(I)
for k in range(3):
    for i in range(cfg.out_shape[0]):
        for j in range(cfg.out_shape[1]):
            for c in range(2):
                for r in range(3):
                    for q in range(3):
                        a, b_ = 2 * i + r - 1, 2 * j + q - 1
                        if 0 <= a < 7 and 0 <= b_ < 7:
                            I_loop[:, :, k, i, j] += params["W"][k, c, r, q] * x[:, :, c, a, b_]
    I_loop[:, :, k] += params["b"][k]
print("max |im2col − loop| =", np.abs(I - I_loop).max())

# %% [markdown]
# ## 2. The kernel gradient
#
# The LIF recursions B1–B5 give $\delta I_{t,k,i,j} = dL/dI_{t,k,i,j}$. By C1 the weight
# $W_{k,c,r,q}$ enters every current of channel $k$, at every step and position, with
# coefficient $x_{t,c,si+r-p,sj+q-p}$. A shared weight's gradient is the sum over
# every place it is used:
#
# $$ \frac{\partial L}{\partial W_{k,c,r,q}} = \sum_t \sum_{i,j} \delta I_{t,k,i,j}\;
#    x_{t,c,\,si+r-p,\,sj+q-p}, \qquad \frac{\partial L}{\partial b_k} = \sum_{t,i,j} \delta I_{t,k,i,j} \tag{C3} $$
#
# In im2col form it is again one product, $(\delta I)^\top X^{col}$.
#
# **The three-factor reading.** Take the soft reset, no adaptation and no synapse. Let
# $e_t = a^v_t + \sigma'(v_t - \theta)\,\delta s_t$ be the error that reaches the membrane
# *at* step $t$ (C5). Then B2 reads $\delta v_t = \alpha_k\,\delta v_{t+1} + e_t$, so
# $\delta I_t = \delta v_t = \sum_{t' \ge t} \alpha_k^{t'-t} e_{t'}$. Put this into C3 and
# swap the two time sums:
#
# $$ \frac{\partial L}{\partial W_{k,c,r,q}} = \sum_{t'} \sum_{i,j}
#    \underbrace{e_{t',k,i,j}}_{\text{postsynaptic error}}\;
#    \underbrace{\varepsilon^k_{t',c,\,si+r-p,\,sj+q-p}}_{\text{eligibility trace, sampled}},
#    \qquad \varepsilon^k_t = \alpha_k\,\varepsilon^k_{t-1} + x_t . \tag{C6} $$
#
# The trace $\varepsilon^k$ is the input low-pass filtered by the *postsynaptic* channel's
# leak: what the input has left on the membrane by step $t'$. The third factor is the
# index map $(i, j, r, q) \mapsto (si + r - p,\, sj + q - p)$, zero in the padding; it is
# the same in C3 and C6. With a synapse the trace is filtered twice (λ, then α), for
# the same reason. `eligibility_kernel_gradient` evaluates C6 as loops over that
# index map; `conv_backward` evaluates C3 as one product.

# %%
g_loss = rng.normal(size=(T, B, cfg.n))          # a^s: a loss linear in the spikes
a_v = rng.normal(size=(T, B, cfg.n))             # a^v: ... and in the membranes
traj = conv_forward(cfg, params, x)
grads = conv_backward(traj, params, ds=g_loss, dv=a_v)
dW_c3 = grads.params["W"]
dW_c6 = eligibility_kernel_gradient(traj, params, grads.adjoints)
print("spike rate of the conv layer:", traj.s.mean().round(3))
print("max |C3 − C6| / max |C3| =", np.abs(dW_c3 - dW_c6).max() / np.abs(dW_c3).max())
print("dW[0, 0] by C3:\n", dW_c3[0, 0], "\nby C6:\n", dW_c6[0, 0])

# %% [markdown]
# The figure shows the two time factors of C6 for one synapse of one batch row: output
# neuron $(k, i, j) = (2, 2, 2)$ reads input pixel $(c, a, b) = (0, 3, 3)$ through the kernel
# tap $(r, q) = (0, 0)$, because $s i + r - p = 2 \cdot 2 + 0 - 1 = 3$ (the sampling
# pattern). The product of the two factors, summed over time, is this synapse's share of
# $\partial L/\partial W_{2,0,0,0}$.

# %%
alpha_k = params["alpha"][2]
xs = x[:, 0, 0, 3, 3]
eps_trace = np.zeros(T)
acc = 0.0
for t in range(T):
    acc = alpha_k * acc + xs[t]
    eps_trace[t] = acc
dv = traj.grid(grads.adjoints["dv"])[:, 0, 2, 2, 2]
e = dv - alpha_k * np.append(dv[1:], 0.0)
fig, ax = plt.subplots(1, 3, figsize=(12, 3))
ax[0].stem(np.arange(T), xs)
ax[0].set(xlabel="step t", ylabel="input $x_{t,0,3,3}$", title="presynaptic input")
ax[1].plot(np.arange(T), eps_trace, "o-", label=r"trace $\varepsilon^k_t$ ($\alpha_k$ = %.2f)" % alpha_k)
ax[1].plot(np.arange(T), e, "s-", label="error $e_t$ (C5)")
ax[1].set(xlabel="step t", ylabel="value", title="the two time factors")
ax[1].legend(fontsize=8)
ax[2].bar(np.arange(T), e * eps_trace)
ax[2].set(xlabel="step t", ylabel=r"$e_t\,\varepsilon_t$", title="their product, step by step")
fig.suptitle("One synapse of C6: the sum of the right panel is its share of ∂L/∂W[2,0,0,0]", fontsize=10)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 3. The input gradient is the transposed convolution
#
# $x_{t,c,a,b}$ enters every current whose window covers $(a, b)$, i.e. every
# $(i, r)$ with $si + r - p = a$ and $(j, q)$ with $sj + q - p = b$:
#
# $$ \frac{\partial L}{\partial x_{t,c,a,b}} = \sum_k \sum_{\substack{i,r:\,si+r-p=a\\ j,q:\,sj+q-p=b}}
#    \delta I_{t,k,i,j}\, W_{k,c,r,q}. \tag{C4} $$
#
# In im2col form: spread each $\delta I$ over the patch it read ($G^{col} = \delta I\,W^{mat}$),
# then add the patches back onto the grid (col2im, the transpose of im2col; where windows
# overlap, kernel > stride, the parts add). Substituting $r = a + p - si$ shows the other
# reading: C4 is a stride-1 correlation of $\delta I$ *dilated* by $s$ ($s-1$ zeros between
# entries), zero-padded, with the kernel rotated by 180° and its channel axes swapped — a
# transposed convolution. The padding is $k - 1 - p$ before (top, left) and
# $k - 1 - p + e$ after (bottom, right), where $e = (H + 2p - k) \bmod s$ counts the input
# rows past the last window, which no window reads (their gradient is zero). Counting
# rows shows why: the dilated $\delta I$ has $(H_o - 1)s + 1 = H + 2p - k - e + 1$ rows, and a
# stride-1 correlation with a $k$-row kernel returns $H$ rows only if the two paddings add
# up to $2(k - 1 - p) + e$. With $e = 0$ (this layer: $H = 7$, $p = 1$, $k = 3$, $s = 2$)
# the padding is symmetric; an $8 \times 8$ input has $e = 1$, and a symmetric
# $k - 1 - p$ would return $7 \times 7$. Below, that correlation is computed with the
# layer's own forward current `conv_current` on the dilated $\delta I$, for both sizes.

# %%
def transposed_correlation(cfg, dI_grid, W):
    """C4 as a stride-1 correlation: dilate δI by s, pad k−1−p before and k−1−p+e after."""
    s, p, (k, _) = cfg.stride, cfg.padding, cfg.kernel_size
    T_, B_, K, ho, wo = dI_grid.shape
    e_h, e_w = (cfg.height + 2 * p - k) % s, (cfg.width + 2 * p - k) % s
    dil = np.zeros((T_, B_, K, (ho - 1) * s + 1 + e_h, (wo - 1) * s + 1 + e_w))
    dil[:, :, :, :(ho - 1) * s + 1:s, :(wo - 1) * s + 1:s] = dI_grid   # the e extra rows stay zero
    W_rot = np.ascontiguousarray(W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))  # rotate 180°, swap (k, c)
    # conv_current pads k−1−p on both sides; the e zero rows above make the "after" side k−1−p+e.
    cfg_t = ConvLIFConfig(K, dil.shape[3], dil.shape[4], W.shape[1], k, 1, k - 1 - p)
    return conv_current(cfg_t, W_rot, np.zeros(W.shape[1]), dil).reshape(
        T_, B_, W.shape[1], cfg.height, cfg.width)


dI = grads.dI
dx = grads.x
dx_corr = transposed_correlation(cfg, traj.grid(dI), params["W"])
print("7×7, e = 0: max |col2im route − dilated correlation| =", np.abs(dx - dx_corr).max())

# An 8×8 input: e = (8 + 2 − 3) mod 2 = 1, so one more row and column of padding after.
cfg8 = ConvLIFConfig(2, 8, 8, 3, 3, 2, 1)
dI8 = rng.normal(size=(T, B, 3, *cfg8.out_shape))
dx8 = input_gradient(cfg8, dI8.reshape(T, B, -1), params["W"], (T, B, 2, 8, 8))
dx8_corr = transposed_correlation(cfg8, dI8, params["W"])
print("8×8, e = 1: result", dx8_corr.shape[-2:], "| max |col2im − correlation| =", np.abs(dx8 - dx8_corr).max())

# %% [markdown]
# ## 4. Checks along the exact routes
#
# C1 is linear in $W$, $b$ and $x$, so $L = \sum \delta I \cdot I(W, b, x)$ has exactly the
# gradients C3 and C4 for any fixed $\delta I$; central differences check them to
# rounding. Then one row of `refsnn gradcheck --family conv` (a two-layer conv net with
# an even kernel larger than the stride, padding 2 and the hard reset) on the smooth
# twin, to rtol $10^{-7}$ (shortened to T = 2 here).

# %%
def f(d):
    return float(np.sum(dI * conv_current(cfg, d["W"], d["b"], d["x"])))

res = check_gradients(f, {"W": params["W"], "b": params["b"], "x": x},
                      {"W": dW_c3, "b": grads.params["b"], "x": dx}, eps=0.1, order=4, rtol=1e-9, floor=1e-4)
for r in res:
    print(r)
point = conv_grid.points()[3]
smooth = conv_grid.check_smooth_twin(conv_grid.make_problem(point, T=2))
print(point.name, "smooth twin: worst", max(r.max_rel_error for r in smooth), "over",
      sum(r.n_checked for r in smooth), "coordinates")

# %% [markdown]
# ## 5. A small spiking CNN on the 8×8 digits
#
# Latency-coded digits (`refsnn.data.digits`, every pixel spikes once, brighter first),
# a conv LIF layer with 4 channels (3×3, padding 1), sum pooling 2×2, and a leaky-integrator
# readout trained with the max-over-time membrane cross-entropy. A short run on a subset:
# `benchmarks/bench_conv_digits.py` is the full one.

# %%
X, y = data.digits(n_steps=10, seed=0)
x_tr, x_te, y_tr, y_te = data.train_test_split(X, y, 0.25, 0)
x_tr, y_tr = x_tr[:600], y_tr[:600]
sg = surrogate("sigmoid", 10.0)
conv = ConvLIFConfig(1, 8, 8, 4, 3, 1, 1, "sum", 2, surrogate=sg, synapse=True, detach_reset=True)
readout = LIFConfig(conv.n_out, 10, surrogate=sg, reset="none", spiking=False, synapse=True)
net = ConvNetwork((conv,), Network((readout,)))
alpha, lam = float(np.exp(-1 / 10)), float(np.exp(-1 / 3))
P = convnet_init(net, np.random.default_rng(1), np.float32, [dict(alpha=alpha, lam=lam, w_scale=3.0)],
                 [dict(alpha=alpha, lam=lam, w_scale=3 * (1 - alpha) * (1 - lam))])
keys = [k for k in flat_params(P) if k.endswith((".W", ".b"))]
opt = optim.Adam(lr=5e-3)
state = optim.init_state(opt, {k: flat_params(P)[k] for k in keys})


def accuracy(P, X, y):
    tr = convnet_forward(net, P, np.ascontiguousarray(X.transpose(1, 0, 2)).reshape(X.shape[1], len(X), 1, 8, 8))
    return float(np.mean(np.argmax(tr.dense[-1].v.max(axis=0), axis=1) == y))


acc0 = accuracy(P, x_te, y_te)
start = time.perf_counter()
history = []
for epoch in range(4):
    for xb, yb in data.batches(x_tr, y_tr, 50, np.random.default_rng(epoch)):
        tr = convnet_forward(net, P, xb.reshape(*xb.shape[:2], 1, 8, 8))
        l = losses.membrane_cross_entropy(tr.dense[-1], yb, "max")
        g = convnet_backward(tr, P, None, [None, l.dv], input_grad=False)
        flat = flat_params(P)
        gr, _ = optim.clip_by_global_norm({k: flat_params(g.params)[k] for k in keys}, 5.0)
        new, state = optim.step(opt, {k: flat[k] for k in keys}, gr, state)
        flat.update(new)
        P = unflat_params(flat, 2)
    history.append(accuracy(P, x_te, y_te))
print(f"test accuracy before {acc0:.3f}, after each epoch {np.round(history, 3)} "
      f"({time.perf_counter() - start:.1f} s)")

# %%
fig, ax = plt.subplots(1, 5, figsize=(12, 2.6))
for k in range(4):
    ax[k].imshow(P[0]["W"][k, 0], cmap="RdBu_r")
    ax[k].set(title=f"kernel {k}", xlabel="column offset q", ylabel="row offset r")
ax[4].plot(np.arange(5), [acc0] + history, "o-")
ax[4].set(xlabel="epoch", ylabel="test accuracy", title="training")
fig.suptitle("The trained 3×3 kernels (red positive, blue negative) and the test accuracy by epoch", fontsize=10)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 6. Checks

# %%
# 1. The im2col product is C1's definition.
assert np.abs(I - I_loop).max() < 1e-12
# 2. The two readings of the kernel gradient (C3 and C6) are the same numbers.
assert 0 < traj.s.mean() < 1
assert np.allclose(dW_c3, dW_c6, rtol=1e-10, atol=1e-12)
# 3. The input gradient (col2im) equals the dilated, padded, rotated correlation, also
#    where (H + 2p − k) is not divisible by s (8×8: one more row and column after).
assert np.allclose(dx, dx_corr, rtol=1e-12, atol=1e-12)
assert dx8_corr.shape[-2:] == (8, 8) and np.allclose(dx8, dx8_corr, rtol=1e-12, atol=1e-12)
# 4. Central differences: C3, C4 exactly; the grid row on the smooth twin to 1e-7.
assert all(r.passed for r in res)
assert all(r.passed for r in smooth)
# 5. The small CNN learns (10 classes: chance is 0.1).
assert history[-1] > 0.7 and history[-1] > acc0 + 0.4
print("all checks passed")

# %% [markdown]
# **Exercise.** Implement the stubs in `exercises/ex09_spiking_convolution.py`, then run `python exercises/check.py ex09` from the repository's root. It prints PASS or FAIL for each function, with the worst relative error and a hint. The solutions are in `exercises/solutions/ex09_spiking_convolution.py`.
