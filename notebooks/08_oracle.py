# %% [markdown]
# # 08 · refsnn as an oracle
#
# A researcher trains a spiking network with snnTorch and wants to know whether its
# gradients are right. Finite differences cannot say: a surrogate gradient is not the
# gradient of any function. What can say is a second, independent implementation of the
# *same* convention, in float64, whose adjoints were derived by hand and checked along
# the exact routes (smooth twin, piecewise-linear regime). That is refsnn with a *preset*:
# the peer's neuron written as a refsnn layer, plus the chain rule from refsnn's parameters
# back to the peer's.
#
# This notebook needs no torch. It reads three runs of a small snnTorch 1.0 network
# (5-8-3, two `Linear` + `Leaky` layers, T = 25, batch 4, cross-entropy on spike counts)
# that `scripts/make_oracle_fixture.py` recorded with the real library and that ship with
# the package: one correct, one with a planted surrogate bug, one with snnTorch's float32
# spike trap.

# %%
# %matplotlib inline
import numpy as np
import matplotlib.pyplot as plt

np.set_printoptions(precision=4, suppress=False, linewidth=100)
plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})

# %%
from refsnn import compare, presets, surrogate
from refsnn.neurons.lif import layer_backward
from refsnn.oracle import fixture

# %% [markdown]
# ## 1. snnTorch's `Leaky` as a refsnn layer
#
# snnTorch 1.0's `Leaky` (default `reset_delay=True`, `reset_mechanism="subtract"`) computes,
# after a `Linear` layer $X_t = x_t W^\top + b$,
#
# $$ R_t = H(U_{t-1} - \theta) \ \text{(detached)}, \qquad
#    U_t = \beta\, U_{t-1} + X_t - \theta R_t, \qquad S_t = H(U_t - \theta),\ H(0) = 0, \tag{8.1} $$
#
# with $U_{-1} = 0$. Since $R_t = S_{t-1}$, this is refsnn's F4,
# $v_t = \alpha v_{t-1} + I_t - \gamma\,\tilde s_{t-1}$, with a detached reset, $H(0) = 0$, the
# initial spike $s_{-1} = 0$ (`init_spike="zero"`) and
#
# $$ v \equiv U,\quad \alpha_j = \beta,\quad \theta_j = \theta,\quad \gamma_j = \theta,\quad
#    W_\text{refsnn} = W,\quad b_\text{refsnn} = b. \tag{8.2} $$
#
# $\beta$ and $\theta$ are one number for the layer in snnTorch and per-neuron vectors in
# refsnn, and $\theta$ appears twice (threshold and reset amount). The chain rule of (8.2)
# gives the gradients in snnTorch's names:
#
# $$ \frac{\partial L}{\partial \beta} = \sum_j \frac{\partial L}{\partial \alpha_j}, \qquad
#    \frac{\partial L}{\partial \theta_\text{snnTorch}} = \sum_j \Big(\frac{\partial L}{\partial \theta_j}
#    + \frac{\partial L}{\partial \gamma_j}\Big). \tag{8.3} $$
#
# `presets.build("snntorch.Leaky", ...)` is (8.2) and `OracleNet.backward` applies (8.3)
# to refsnn's adjoints (G2, G3, G5 of `refsnn/neurons/lif.py`). The surrogate is snnTorch's
# `atan(alpha)`, $\sigma'(x) = \frac{\alpha/2}{1 + (\pi \alpha x / 2)^2}$, refsnn's `arctan(α)`.
# Every preset, with its equations and quirks, is listed in `docs/presets.md`.

# %% [markdown]
# ## 2. The recorded run: PASS
#
# The file holds what the README's snippet saves: the preset and its arguments, the input,
# every parameter in snnTorch's names and shapes (`param/0.weight` is the first `Linear`'s
# $(8, 5)$ weight), the loss and its target, and snnTorch's loss value, spikes and gradients.

# %%
data = compare.load(fixture("snntorch_ok"))
for k in sorted(data):
    print(f"{k:<18} {str(data[k].dtype):<8} {data[k].shape}")
print("spikes per output neuron:", data["spikes"].sum(axis=(0, 1)))

# %%
ok = compare.compare(fixture("snntorch_ok"))
print(compare.format_report(ok))

# %% [markdown]
# Every array agrees to a few units of the last place: snnTorch's gradients of this
# network are right, and the preset reproduces its convention exactly.
#
# ## 3. A planted bug: the surrogate's scale
#
# In the second run the researcher's code passed `alpha=4` to the surrogate, while the
# file, like the researcher, says `alpha=2`. The forward pass is unchanged (spikes and
# loss agree); every gradient is wrong. `refsnn compare` then switches the usual
# convention mismatches one at a time and reports which one makes the two agree.

# %%
bug = compare.compare(fixture("snntorch_scale_bug"))
print(compare.format_report(bug))

# %% [markdown]
# The search names the bug: with the surrogate's scale doubled (α from 2 to 4) refsnn
# reproduces every one of the researcher's gradients. The figure shows why nothing else
# could: α = 4 doubles the surrogate's height and halves its width (left), so every
# gradient is off by an amount that varies from entry to entry (right).

# %%
x = np.linspace(-1.5, 1.5, 601)
fig, ax = plt.subplots(1, 2, figsize=(10, 3.4))
for a, style in ((2.0, "-"), (4.0, "--")):
    ax[0].plot(x, surrogate("arctan", a).derivative(x), style, label=f"atan, α = {a:g}")
ax[0].set_xlabel("v − θ")
ax[0].set_ylabel("σ′(v − θ)")
ax[0].set_title("snnTorch's atan surrogate")
ax[0].legend()
names = [a.name for a in bug.arrays]
errs = [max(a.max_rel, 1e-17) for a in bug.arrays]
ax[1].barh(names, errs, color=["tab:red" if not a.passed else "tab:green" for a in bug.arrays])
ax[1].axvline(bug.rtol, color="k", lw=1, ls=":", label=f"rtol {bug.rtol:g}")
ax[1].set_xscale("log")
ax[1].set_xlabel("max relative error against refsnn")
ax[1].set_ylabel("array in the file")
ax[1].set_title("the planted bug, array by array")
ax[1].legend(loc="lower right")
fig.tight_layout()
plt.show()

# %% [markdown]
# *Figure.* Left: the surrogate derivative the researcher meant (α = 2, solid) and the one
# the code used (α = 4, dashed) against the distance of the membrane from threshold. Right:
# per array of the file, the worst relative error against refsnn (log scale; red FAIL,
# green PASS; dotted line the tolerance). The loss value and the spikes agree exactly, every
# gradient disagrees.
#
# ## 4. A trap, not a bug: float32 spikes
#
# snnTorch's stock surrogates return `(x > 0).float()`: the spikes are float32 even in a
# float64 network, so the gradient that reaches every spike is rounded to float32. The
# third run used the stock `atan` (and cast the spikes back with `.double()`).

# %%
f32 = compare.compare(fixture("snntorch_float32"))
print(compare.format_report(f32))

# %% [markdown]
# The errors stay below $10^{-6}$ (float32 rounding, carried through the backward pass),
# and the search names the cause. Subclassing the surrogate with a forward that keeps the input's dtype (the README
# snippet does) removes it.
#
# ## 5. The chain rule (8.3), by hand
#
# The preset's gradients are refsnn's own adjoints pushed through (8.3). Recomputing the
# layers' gradients with `layer_backward` and summing as in (8.3) gives the same numbers.

# %%
prob = compare.parse(data)
net = presets.build(prob.preset, prob.layers, **prob.kwargs)
run = net.forward(prob.x)
S = run.spikes[-1]
value, aS, aV = compare.LOSSES["ce_count"][0](S, run.membranes[-1], prob.loss_data)
peer_grads = net.backward(run, [None, aS], [None, aV])
# refsnn's own adjoints, layer by layer (the upper layer's input gradient feeds the lower's spikes)
g1 = layer_backward(run.trajs[1], net.layers[1].params(), aS, None)
g0 = layer_backward(run.trajs[0], net.layers[0].params(), g1.x, None)
by_hand = {}
for l, g in ((0, g0), (1, g1)):
    by_hand[f"{l}.beta"] = g.params["alpha"].sum()                                 # (8.3), left
    by_hand[f"{l}.threshold"] = (g.params["theta"] + g.params["gamma"]).sum()      # (8.3), right
    by_hand[f"{l}.weight"] = g.params["W"]
for k, v in by_hand.items():
    print(f"{k:<12} preset {np.ravel(peer_grads[k])[0]: .6e}   by hand {np.ravel(v)[0]: .6e}   "
          f"snnTorch {np.ravel(data['grad/' + k])[0] if 'grad/' + k in data else float('nan'): .6e}")

# %% [markdown]
# (The threshold is a buffer in this snnTorch network, so snnTorch reports no gradient for
# it; refsnn still computes one.)
#
# ## 6. Checks

# %%
# 1. The correct run agrees everywhere, in float64.
assert ok.passed and ok.rtol == 1e-9
assert all(a.max_rel < 1e-12 for a in ok.arrays)
assert 0 < data["spikes"].sum() < data["spikes"].size
# 2. The planted bug: spikes and loss agree, every gradient fails, and exactly one convention
#    switch (the surrogate scale × 2) reproduces the researcher's gradients.
assert not bug.passed
assert all(a.passed for a in bug.arrays if not a.name.startswith("grad/"))
assert all(not a.passed for a in bug.arrays if a.name.startswith("grad/"))
agreeing = [label for label, agrees, _ in bug.variants if agrees]
assert len(agreeing) == 1 and agreeing[0].startswith("surrogate scale × 2"), agreeing
# 3. The float32 trap: errors of float32 size, named as such.
assert not f32.passed and 1e-10 < max(a.max_rel for a in f32.arrays) < 1e-6
agreeing = [label for label, agrees, _ in f32.variants if agrees]
assert len(agreeing) == 1 and agreeing[0].startswith("float32 spikes"), agreeing
# 4. The chain rule (8.3) is what the preset computes.
for k, v in by_hand.items():
    assert np.allclose(peer_grads[k], v, rtol=1e-13, atol=0), k
print("all checks passed")

# %% [markdown]
# **Exercise.** Implement the stubs in `exercises/ex08_oracle.py`, then run `python exercises/check.py ex08` from the repository's root. It prints PASS or FAIL for each function, with the worst relative error and a hint. The solutions are in `exercises/solutions/ex08_oracle.py`.
