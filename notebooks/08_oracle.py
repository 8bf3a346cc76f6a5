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
# ## 7. Where and why: the diagnosis
#
# Saying *that* a gradient differs is half the job. When something disagrees, `refsnn compare`
# also says **where** and **why** (docs/diagnosis.md):
#
# 1. it compares the **forward** recording first (loss, spikes, membranes of every layer
#    saved) and, if that differs, blames the forward pass at its first diverging step: a
#    forward difference changes every gradient after it, so the gradient path is never
#    blamed then;
# 2. otherwise it names the **first diverging adjoint step**, the *last* t at which
#    $\partial L/\partial x_t$ (or a recorded per-step adjoint) differs: adjoints run backwards;
# 3. it ranks **causes**: convention switches, values *fitted* to your arrays (surrogate
#    scale and gain, β, θ, the reset amount, an input shift, ...) and, with per-step
#    adjoints recorded, the **adjoint term** of B1–B5 that your backward gets wrong.
#
# Three planted bugs show the three routes. Each "user" network is a one-layer snnTorch
# `Leaky` with a `fast_sigmoid` surrogate of slope 25 declared in the file
# ($\sigma'(x) = 1/(25|x| + 1)^2$), T = 30 steps, a linear probe loss; the file holds the
# layer's records (`spikes/0`, `membranes/0`) and the per-step gradients PyTorch's
# `retain_grad()` gives on the spike and membrane tensors (`dspikes/0`, `dmembranes/0`).
# The first two users' arrays are computed by refsnn itself with the bug in (a parameter,
# a preset argument); the third user wrote the forward and backward passes by hand.

# %%
import json
from refsnn.oracle import diagnose

rng = np.random.default_rng(7)
T7, B7, M7, N7 = 30, 4, 4, 6
layer7 = {"weight": rng.normal(0, 1.5, (N7, M7)), "bias": rng.uniform(0.1, 0.4, N7),
          "beta": np.asarray(0.9), "threshold": np.asarray(1.0)}
x7 = rng.uniform(0, 1.2, (T7, B7, M7))
probe_s, probe_v = rng.normal(size=(T7, B7, N7)), rng.normal(size=(T7, B7, N7))
declared = {"spike_grad": "fast_sigmoid", "slope": 25.0}


def user_file(layer, kwargs):
    """What a user running `layer` with the preset arguments `kwargs` saves, declaring `layer7`, `declared`."""
    d = {"preset": np.str_("snntorch.Leaky"), "kwargs": np.str_(json.dumps(kwargs)), "x": x7,
         "loss": np.str_("linear"), "probe_s": probe_s, "probe_v": probe_v, "grad/0.weight": np.zeros((N7, M7))}
    d.update({f"param/0.{k}": v for k, v in layer.items()})
    ref = diagnose.simulate(compare.parse(d))            # refsnn's run of the user's network
    d.update({f"param/0.{k}": v for k, v in layer7.items()})
    d["kwargs"] = np.str_(json.dumps(declared))
    d.update({f"grad/{k}": v for k, v in ref["grads"].items()})
    d.update({"loss_value": np.float64(ref["loss_value"]), "spikes/0": ref["spikes"][0],
              "membranes/0": ref["membranes"][0], "dspikes/0": ref["dspikes"][0], "dmembranes/0": ref["dmembranes"][0]})
    return d


# %% [markdown]
# **A forward bug.** The user's code clamps β to 0.85 (the file says 0.9).

# %%
beta_file = user_file({**layer7, "beta": np.asarray(0.85)}, declared)
beta_bug = compare.compare(beta_file)
print("\n".join(compare.format_report(beta_bug).splitlines()[-9:]))

# %% [markdown]
# The membranes differ from t = 1 on (at t = 0 the leak multiplies the initial 0), so the
# report blames the forward pass there, not a gradient. With the user's spikes held as the
# reset spikes, refsnn's membranes are a polynomial in β: the least-squares fit recovers
# β = 0.85, and with it every array agrees.
#
# **A surrogate bug.** The user's custom `fast_sigmoid` backward uses slope 20.

# %%
slope_bug = compare.compare(user_file(layer7, {"spike_grad": "fast_sigmoid", "slope": 20.0}))
print("\n".join(compare.format_report(slope_bug).splitlines()[-8:]))
print("fitted:", slope_bug.diagnosis.causes[0].fitted)

# %% [markdown]
# The forward agrees (σ′ is backward-only). The fit moves the surrogate's width *and* height
# separately: refsnn writes snnTorch's fast sigmoid as `superspike(k, gain = 2/k)`, so slope
# 20 is scale × 0.8 with gain × 1.25 — the peak σ′(0) = 1 unchanged, which is what a user who
# edited only the slope gets. A single "scale × 2" switch could never match it.
#
# **An adjoint bug.** The third user wrote the layer's forward and backward by hand (as a
# custom autograd Function does) and forgot the leak factor β in the membrane adjoint:
# B2's $\alpha\,\delta v_{t+1}$ became $\delta v_{t+1}$.

# %%
W7, b7 = layer7["weight"], layer7["bias"]
beta7, th7, k7 = 0.9, 1.0, 25.0
# the user's forward: U_t = β U_{t−1} + I_t − θ S_{t−1}, S_t = H(U_t − θ)
U, S = np.zeros((T7, B7, N7)), np.zeros((T7, B7, N7))
u_prev, s_prev = np.zeros((B7, N7)), np.zeros((B7, N7))
for t in range(T7):
    U[t] = beta7 * u_prev + x7[t] @ W7.T + b7 - th7 * s_prev
    S[t] = (U[t] > th7).astype(float)
    u_prev, s_prev = U[t], S[t]
sg = 1.0 / (k7 * np.abs(U - th7) + 1.0) ** 2                 # σ'(U − θ), the fast sigmoid
# the user's backward (detached reset): δS_t = a^s_t, δU_t = a^v_t + δU_{t+1} + σ'_t δS_t   <- β missing
dU, dS = np.zeros_like(U), probe_s.copy()
nxt = np.zeros((B7, N7))
for t in range(T7 - 1, -1, -1):
    dU[t] = probe_v[t] + nxt + sg[t] * dS[t]
    nxt = dU[t]
U_prev = np.concatenate([np.zeros((1, B7, N7)), U[:-1]])
S_prev = np.concatenate([np.zeros((1, B7, N7)), S[:-1]])
hand = {"preset": np.str_("snntorch.Leaky"), "kwargs": np.str_(json.dumps(declared)), "x": x7,
        "loss": np.str_("linear"), "probe_s": probe_s, "probe_v": probe_v,
        "loss_value": np.float64((probe_s * S).sum() + (probe_v * U).sum()),
        "spikes/0": S, "membranes/0": U, "dspikes/0": dS, "dmembranes/0": dU,
        "grad/0.weight": np.einsum("tbn,tbm->nm", dU, x7), "grad/0.bias": dU.sum(axis=(0, 1)),
        "grad/0.beta": np.float64((dU * U_prev).sum()),
        "grad/0.threshold": np.float64(-(sg * dS).sum() - (dU * S_prev).sum()), "grad/x": dU @ W7}
hand.update({f"param/0.{k}": v for k, v in layer7.items()})
leak_bug = compare.compare(hand)
print("\n".join(compare.format_report(leak_bug).splitlines()[-8:]))

# %% [markdown]
# Why it can name the term: the diagnosis checks B2 *locally*, step by step, with the
# user's own adjoints on the right-hand side,
#
# $$ \rho_t = \delta v_t - \big(a^v_t + \alpha\,\delta v_{t+1} + \sigma'(v_t - \theta)\,\delta s_t\big), $$
#
# so an error at one step does not propagate into the test of the others. If one term k
# carries a wrong coefficient c, then $\rho_t = (c - 1)\,T_k(t)$ exactly, and the
# least-squares refit of that term alone leaves nothing, while any other term j leaves
# $\|\rho\| \sin\angle(T_j, T_k)$. Here $\rho_t = (1/\alpha - 1)\,\alpha\,\delta v_{t+1}$ at
# every step. Comparing the user's δv with refsnn's instead, the first error would be
# carried back through every earlier step and mixed with the other terms.

# %%
dU_next = np.concatenate([dU[1:], np.zeros((1, B7, N7))])
rho = dU - (probe_v + beta7 * dU_next + sg * dS)
fits = {}
for name, term in (("leak α δv_{t+1}", beta7 * dU_next), ("surrogate σ' δs_t", sg * dS), ("direct a^v_t", probe_v)):
    c = 1.0 + (rho * term).sum() / (term * term).sum()
    fits[name] = (c, np.linalg.norm(rho - (c - 1) * term) / np.linalg.norm(dU), term)
    print(f"{name:<18} refitted coefficient {c:9.6f}   residual left {fits[name][1]:.1e}")
c_fit = fits["leak α δv_{t+1}"][0]

mem_ref = diagnose.simulate(compare.parse(user_file(layer7, declared)))["membranes"][0]
mem_err = np.abs(beta_file["membranes/0"] - mem_ref).reshape(T7, -1).max(axis=1)
fig, ax = plt.subplots(1, 2, figsize=(10, 3.4))
ax[0].semilogy(np.arange(T7), mem_err + 1e-17, "o-")
ax[0].set_xlabel("time step t")
ax[0].set_ylabel("max |membrane − refsnn's|")
ax[0].set_title("forward bug (β = 0.85): where it starts")
ax[1].plot(np.arange(T7), np.abs(rho).reshape(T7, -1).sum(axis=1), "o-", label="|ρ_t|, B2's local residual")
ax[1].plot(np.arange(T7), np.abs((c_fit - 1) * fits["leak α δv_{t+1}"][2]).reshape(T7, -1).sum(axis=1), "x--",
           label="|(c − 1) α δv_{t+1}|, c refitted")
ax[1].set_xlabel("time step t")
ax[1].set_ylabel("sum over batch and neurons")
ax[1].set_title("adjoint bug: the residual is the leak term")
ax[1].legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# *Figure.* Left: the forward bug's largest membrane difference per step (log scale; 10⁻¹⁷
# stands for 0): zero at t = 0, nonzero from t = 1 on, where the report puts it. Right: the
# hand-written backward's local B2 residual per step (circles) and the refitted leak term
# (crosses): they coincide at every step, so the leak term alone explains the difference.
#
# ## 8. Checks

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
# 5. The forward bug is blamed on the forward pass, from t = 1, and β = 0.85 is fitted.
d = beta_bug.diagnosis
assert d.half == "forward" and d.first_forward["t"] == 1 and d.first_forward["quantity"] == "membranes"
assert d.causes[0].category == "parameter value" and d.causes[0].fitted["value"] == 0.85 and d.causes[0].agrees
assert "gradient path" not in beta_bug.explanation
assert mem_err[0] == 0 and mem_err[1] > 1e-3
# 6. The surrogate bug: the forward agrees; slope 20 is fitted, the peak unchanged.
d = slope_bug.diagnosis
assert d.half == "backward" and d.causes[0].category == "surrogate shape/scale" and d.causes[0].agrees
assert abs(d.causes[0].fitted["scale"] - 20.0) < 1e-9 and abs(d.causes[0].fitted["peak_factor"] - 1) < 1e-9
# 7. The adjoint bug: B2's leak term, scaled by 1/β; refitted alone it leaves no residual, the others do.
d = leak_bug.diagnosis
assert d.half == "backward" and d.causes[0].category == "adjoint term" and d.causes[0].agrees
assert d.causes[0].fitted["term"] == "B2.leak" and abs(d.causes[0].fitted["coefficient"] - 1 / beta7) < 1e-9
assert abs(c_fit - 1 / beta7) < 1e-9 and fits["leak α δv_{t+1}"][1] < 1e-12
assert min(f[1] for k, f in fits.items() if not k.startswith("leak")) > 1e-3
print("all checks passed")

# %% [markdown]
# **Exercise.** Implement the stubs in `exercises/ex08_oracle.py`, then run `python exercises/check.py ex08` from the repository's root. It prints PASS or FAIL for each function, with the worst relative error and a hint. The solutions are in `exercises/solutions/ex08_oracle.py`.
