# %% [markdown]
# # 12 · Dendrites and regularisers
#
# (The seed sections cited below are summarised, in refsnn's symbols, in `docs/seeds.md`.)
#
# Two of seed 002's extensions of surrogate-gradient training ("训练具有复杂生物物理特性的神经元模型",
# "整合生物学约束"):
#
# 1. a **two-compartment neuron** whose dendritic branches compute a nonlinearity of their
#    own before the soma integrates them (`refsnn/neurons/dendrite.py`); the backward pass
#    needs a surrogate at the dendritic spike too. We derive its adjoints and show a task,
#    XOR, that one somatic compartment provably cannot solve and the dendrites can;
# 2. **regularisers** as loss terms with their partials (`refsnn/losses.py`): membrane
#    L1/L2, e-prop's firing-rate regulariser and weight decay, and the sparsity-vs-accuracy
#    trade-off they buy.
#
# Equations D1–D4, DB1–DB2 and DG1–DG3 are the labels of `refsnn/neurons/dendrite.py`;
# F1–F6 and B1–B5 those of `refsnn/neurons/lif.py`.

# %%
# %matplotlib inline
import time

import numpy as np
import matplotlib.pyplot as plt

plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})
T_START = time.perf_counter()

# %%
from refsnn import losses as L
from refsnn.checking import dendrite_family, reg_family
from refsnn.lif import LIFConfig, init_params, layer_backward, layer_forward
from refsnn.neurons import dendrite as D
from refsnn.neurons.network import flat_params, network_backward, network_forward, network_init, unflat_params
from refsnn.surrogates import surrogate
from refsnn.training import constraints, data, optim
from refsnn.training.tasks import READOUT_SCALE, _classifier, _layer_init

# %% [markdown]
# ## 1. The two-compartment neuron
#
# Each soma $n$ has $K$ branches. Branch $k$ integrates its own input with its own leak
# $\alpha_d$ and passes it through a nonlinearity $f_d$ with its own threshold $\theta_d$:
#
# $$ a_t = \alpha_d\, a_{t-1} + x_t W_d^\top \tag{D1, D2} $$
#
# $$ q_t = f_d(a_t - \theta_d) \tag{D3} $$
#
# $$ I^{ff}_{t,n} = \textstyle\sum_k c_{n,k}\, q_{t,n,k} + b_n \tag{D4} $$
#
# and the soma runs the LIF dynamics F1–F6 on $I^{ff}$ (refsnn calls the same
# `dynamics_forward` that `layer_forward` uses; the soma may have any reset, adaptation,
# synapse or recurrence). $f_d$ is a *dendritic spike*, $H(a - \theta_d)$ with its own
# surrogate $\sigma_d'$, or a smooth sigmoid.
#
# **Adjoints.** The soma's backward pass B1–B5 ends in $\delta I_t = \partial L/\partial I^{ff}_t$.
# D4 gives each branch output its share, and D2 is a leaky recursion like B2 without a reset:
#
# $$ \delta q_{t,n,k} = c_{n,k}\, \delta I_{t,n} \tag{DB1} $$
#
# $$ \delta a_t = \alpha_d\, \delta a_{t+1} + f_d'(a_t - \theta_d)\, \delta q_t \tag{DB2} $$
#
# The factor $f_d'$ is where seed 002 puts "a surrogate at the local nonlinearity": for a
# dendritic spike it is $\sigma_d'$ (the true derivative of $H$ is zero, and no gradient
# would reach $W_d$). The gradients are sums over $t$ and the batch:
# $\partial L/\partial W_d = \sum_t \delta a_t^\top x_t$, $\partial L/\partial \alpha_d = \sum_t \delta a_t\, a_{t-1}$,
# $\partial L/\partial \theta_d = -\sum_t f_d'\, \delta q_t$, $\partial L/\partial c = \sum_t \delta I_t\, q_t$ (DG1–DG3).
#
# The `dendrite` family of `refsnn gradcheck` checks all of them, on a network
# *input → dendritic layer → readout*, along both exact routes. One row's smooth-twin route:

# %%
prob = dendrite_family.make_dendrite_problem(dendrite_family.DendritePoint("spike", "subtract/attach"))
smooth = dendrite_family.check_smooth(prob)          # `refsnn gradcheck --family dendrite` runs both routes
worst = max(smooth, key=lambda r: r.max_rel_error)
print(f"smooth twin: {sum(r.n_checked for r in smooth)} entries, worst rel. error {worst.max_rel_error:.1e} "
      f"at {worst.name}{list(worst.worst_index)}")
dendrite_ok = all(r.passed for r in smooth)

# %% [markdown]
# ## 2. XOR: where one compartment is not enough
#
# Two input channels carry constant currents $x \in \{0, 1\}^2$ (plus a little noise) for
# $T = 12$ steps; the neuron should spike at least once iff exactly one channel is on.
#
# **One compartment cannot.** With constant input, a point LIF neuron (soft reset, no
# adaptation, from $v_{-1} = 0$) sees the constant current $I = x W^\top + b$. Before its
# first spike $v_t = I \sum_{j \le t} \alpha^j$, which increases with $I$; so "spikes at
# least once within $T$ steps" holds exactly when $I \ge I^*$ for some $I^*$. The set of
# inputs it fires for is a half-plane $\{x : x W^\top \ge I^* - b\}$, and no half-plane
# contains $(1,0)$ and $(0,1)$ but neither $(0,0)$ nor $(1,1)$: at most 3 of the 4
# patterns can be right.
#
# **Two branches can.** A branch with weights $(+1, -1)$ and one with $(-1, +1)$, each with
# a dendritic spike, detect "$x_1$ and not $x_2$" and "$x_2$ and not $x_1$"; the soma then
# fires if either branch does. We train both neurons with the same binary loss on the
# spike count $n$, `spike_count_logistic` ($\log(1 + e^{-z})$ with $z = g(2y - 1)(n - \kappa)$,
# on the `reg` gradcheck family too) and the same Adam steps.

# %%
T_XOR = 12


def xor_data(n, seed, noise=0.1):
    rng = np.random.default_rng(seed)
    pattern = rng.integers(0, 2, (n, 2))
    x = pattern + rng.normal(0.0, noise, (n, 2))
    return np.broadcast_to(x, (T_XOR, n, 2)).copy(), pattern[:, 0] ^ pattern[:, 1]


x_tr, y_tr = xor_data(256, 1)
x_te, y_te = xor_data(256, 2)
x_clean = np.broadcast_to(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), (T_XOR, 4, 2)).copy()
y_clean = np.array([0, 1, 1, 0])
soma = LIFConfig(2, 1, surrogate=surrogate("sigmoid", 4.0), detach_reset=True)


def fit(forward, backward, params, steps=200, lr=0.05):
    opt = optim.Adam(lr)
    state = optim.init_state(opt, params)
    for _ in range(steps):
        traj = forward(params, x_tr)
        soma_traj = traj.soma if isinstance(traj, D.DendriteTrajectory) else traj
        loss = L.spike_count_logistic(soma_traj, y_tr, threshold=0.5)
        grads = backward(traj, params, loss.ds)
        params, state = optim.step(opt, params, grads, state)
        params = constraints.project(params)           # α, θ in range (and α_d, see below)
        if "alpha_d" in params:
            params["alpha_d"] = np.clip(params["alpha_d"], 0.0, 1.0)
    return params


def accuracy(forward, params, x, y):
    counts = forward(params, x).s.sum(axis=0)[:, 0]
    return float(np.mean((counts >= 1) == y)), counts


point_fwd = lambda p, x: layer_forward(soma, p, x)                            # noqa: E731
point_bwd = lambda tr, p, ds: layer_backward(tr, p, ds).params                # noqa: E731
p_point = fit(point_fwd, point_bwd, init_params(soma, 0, alpha=0.8))

dcfg = D.DendriteConfig(2, 1, 4, soma, branch="spike", dendrite_surrogate=surrogate("sigmoid", 4.0))
dend_fwd = lambda p, x: D.dendrite_forward(dcfg, p, x)                         # noqa: E731
dend_bwd = lambda tr, p, ds: D.dendrite_backward(tr, p, ds).params             # noqa: E731
p_dend = fit(dend_fwd, dend_bwd, D.init_dendrite_params(dcfg, 0, w_scale=1.5, alpha_d=0.5, alpha=0.8))

acc_point, counts_point = accuracy(point_fwd, p_point, x_clean, y_clean)
acc_dend, counts_dend = accuracy(dend_fwd, p_dend, x_clean, y_clean)
test_point = accuracy(point_fwd, p_point, x_te, y_te)[0]
test_dend = accuracy(dend_fwd, p_dend, x_te, y_te)[0]
print(f"point neuron:      {acc_point:.2f} of the 4 patterns, test accuracy {test_point:.3f}")
print(f"dendritic neuron:  {acc_dend:.2f} of the 4 patterns, test accuracy {test_dend:.3f}")

# %%
tr = D.dendrite_forward(dcfg, p_dend, x_clean)
fig, ax = plt.subplots(1, 3, figsize=(12, 3.2))
labels = ["(0,0)", "(1,0)", "(0,1)", "(1,1)"]
ax[0].bar(np.arange(4) - 0.2, counts_point, 0.4, label="point neuron")
ax[0].bar(np.arange(4) + 0.2, counts_dend, 0.4, label="dendritic neuron")
ax[0].set(xticks=range(4), xticklabels=labels, xlabel="input pattern", ylabel="soma spike count",
          title="XOR: spike counts per pattern")
ax[0].legend()
for i, pat in enumerate([1, 2]):
    ax[1 + i].imshow(tr.q[:, pat, 0, :].T, aspect="auto", cmap="Greys", origin="lower",
                     extent=(-0.5, T_XOR - 0.5, -0.5, dcfg.n_branch - 0.5))
    ax[1 + i].set(xlabel="time step t", ylabel="branch k", title=f"dendritic spikes q_t, input {labels[pat]}",
                  yticks=range(dcfg.n_branch))                        # branches are whole numbers
fig.tight_layout()

# %% [markdown]
# *Left:* the trained point neuron fires for the wrong set of patterns on at least one of
# the four (a half-plane can hold only three); the dendritic neuron fires for exactly
# $(1,0)$ and $(0,1)$. *Middle and right:* which branches carry a dendritic spike (black)
# at each step for the two "exactly one" patterns: different branches detect the two
# patterns, and the soma ORs them.
#
# ## 3. Regularisers: loss terms with their partials
#
# Each regulariser is added to the task loss; its direct partial enters the adjoint
# recursion where the lif docstring says ($a^v$ in B2 for the membrane, $a^s$ in B1 for
# the spikes):
#
# | term | value | direct partial |
# |---|---|---|
# | membrane L1 | $(\lambda/B)\sum_{t,b,k}\lvert v_{t,b,k}\rvert$ | $a^v_t = \lambda\,\mathrm{sign}(v_t)/B$ |
# | membrane L2 | $(\lambda/B)\sum_{t,b,k} v_{t,b,k}^2$ | $a^v_t = 2\lambda v_t/B$ |
# | firing rate (e-prop) | $\lambda \sum_k (f_k - f_0)^2$, $f_k = \frac{1}{TB}\sum_{t,b} s_{t,b,k}$ | $a^s_t = 2\lambda (f_k - f_0)/(TB)$ |
# | weight decay | $(\lambda/2)\sum_i p_i^2$ | $\partial L/\partial p = \lambda p$ |
#
# The rate $f_k$ is one number per neuron, averaged over time *and* batch, so the partial
# carries $1/(TB)$ and is the same at every step and in every batch row. Every row
# is on the `reg` gradcheck family (`refsnn gradcheck --family reg` runs both routes); here
# the smooth-twin route of three of them:

# %%
reg_ok = {}
for reg in ("membrane_l1", "membrane_l2", "rate"):     # the smooth-twin route of each row
    res = reg_family.check_smooth_twin(reg_family.make_reg_problem(reg_family.RegPoint(reg, "subtract/attach")))
    reg_ok[reg] = all(r.passed for r in res)
    print(f"{reg:12s} smooth twin: worst rel. error {max(r.max_rel_error for r in res):.1e}")

# %% [markdown]
# **Weight decay: loss term or AdamW?** As a loss term the gradient becomes $g + \lambda p$.
# With SGD that *is* `SGD(weight_decay=λ)` (S1 of `refsnn/training/optim.py`), step for
# step. Adam, however, divides the summed gradient by $\sqrt{\hat v}$, so the decay of a
# parameter with large gradients is shrunk; AdamW (A4) applies $-\eta\lambda p$ outside the
# moments. The two differ after one step:

# %%
rng = np.random.default_rng(0)
p0 = {"W": rng.normal(size=(3, 4))}
g0 = {"W": rng.normal(size=(3, 4))}
lam_wd, lr = 0.05, 0.01
st = optim.init_state(optim.SGD(lr), p0)
sgd_term = optim.step(optim.SGD(lr), p0, {"W": g0["W"] + L.weight_decay(p0, lam_wd).grads["W"]}, st)[0]
sgd_wd = optim.step(optim.SGD(lr, weight_decay=lam_wd), p0, g0, st)[0]
st = optim.init_state(optim.Adam(lr), p0)
adam_term = optim.step(optim.Adam(lr), p0, {"W": g0["W"] + L.weight_decay(p0, lam_wd).grads["W"]}, st)[0]
adamw = optim.step(optim.Adam(lr, weight_decay=lam_wd), p0, g0, st)[0]
print("SGD: loss term vs weight_decay   max |diff| =", np.max(np.abs(sgd_term["W"] - sgd_wd["W"])))
print("Adam: loss term vs AdamW          max |diff| =", np.max(np.abs(adam_term["W"] - adamw["W"])))

# %% [markdown]
# ## 4. The sparsity-vs-accuracy trade-off
#
# A Randman classifier (4 classes, 20 input units, $T = 30$, 24 hidden LIF neurons, a
# leaky-integrator readout, cross-entropy on the max-over-time membrane) trained with the
# rate regulariser at target $f_0 = 0$ — then $\lambda\sum_k f_k^2$ penalises activity — for
# a range of strengths $\lambda$. Each run is 8 epochs of Adam on 450 samples.

# %%
X, y = data.randman(n_classes=4, n_units=20, n_steps=30, dim_manifold=1, n_samples_per_class=150,
                    alpha=2.0, n_spikes=1, seed=0)
xr_tr, xr_te, yr_tr, yr_te = data.train_test_split(X.astype(np.float64), y, 0.25, 0)
net = _classifier(20, 24, 4)
trained = ("W", "b")


def train_sparse(lam, epochs=8, lr=1e-2):
    params = network_init(net, np.random.default_rng(1), np.float64, [_layer_init(3.0), _layer_init(READOUT_SCALE)])
    keep = lambda flat: {k: v for k, v in flat.items() if k.split(".")[1] in trained}   # noqa: E731
    opt = optim.Adam(lr)
    state = optim.init_state(opt, keep(flat_params(params)))
    for epoch in range(epochs):
        for xb, yb in data.batches(xr_tr, yr_tr, 50, np.random.default_rng(epoch)):
            trajs = network_forward(net, params, xb)
            task = L.membrane_cross_entropy(trajs[-1], yb)
            reg = L.firing_rate_regularizer(trajs[0], 0.0, lam)
            g = network_backward(trajs, params, [reg.ds, None], [None, task.dv])
            grads, _ = optim.clip_by_global_norm(keep(flat_params(g.params)), 5.0)
            new, state = optim.step(opt, keep(flat_params(params)), grads, state)
            params = unflat_params({**flat_params(params), **new}, 2)
    trajs = network_forward(net, params, np.moveaxis(xr_te, 0, 1))
    return float(np.mean(np.argmax(trajs[-1].v.max(axis=0), axis=1) == yr_te)), float(trajs[0].s.mean())


strengths = [0.0, 100.0, 1000.0, 3000.0, 30000.0]
results = [train_sparse(lam) for lam in strengths]
for lam, (acc, rate) in zip(strengths, results):
    print(f"λ = {lam:7.0f}: hidden rate {rate:.4f} spikes/step, test accuracy {acc:.3f}")

# %%
acc_s = np.array([r[0] for r in results])
rate_s = np.array([r[1] for r in results])
fig, ax = plt.subplots(figsize=(6, 3.6))
ax.semilogx(rate_s, acc_s, "o-")
for lam, r, a in zip(strengths, rate_s, acc_s):
    right = r == rate_s.max()                          # the rightmost label goes to the left of its point
    ax.annotate(f"λ={lam:g}", (r, a), textcoords="offset points", xytext=(-6 if right else 4, -12 if right else 4),
                ha="right" if right else "left", fontsize=8)
ax.axhline(0.25, color="grey", ls="--", label="chance (4 classes)")
ax.set(xlabel="mean hidden firing rate (spikes per neuron per step, log scale)", ylabel="test accuracy",
       title="sparsity vs accuracy (Randman, rate regulariser)")
ax.legend()
fig.tight_layout()

# %% [markdown]
# Read the plot from right to left: a moderate penalty cuts the hidden rate by an order of
# magnitude at no cost in accuracy (here it even helps: the unregularised network fires
# far more than the task needs); past about $10^{-3}$ spikes per neuron per step there are
# too few spikes left to carry the class, and accuracy falls towards chance.
#
# ## 5. Checks

# %%
elapsed = time.perf_counter() - T_START
assert dendrite_ok and all(reg_ok.values()), reg_ok
# XOR: a point neuron is right on at most 3 of the 4 patterns (the half-plane argument of
# section 2), and the trained dendritic neuron on all 4 and on the noisy test set.
assert acc_point <= 0.75 and test_point < 0.85, (acc_point, test_point)
assert acc_dend == 1.0 and test_dend >= 0.97, (acc_dend, test_dend)
# Weight decay: the loss term equals SGD's coupled decay, and differs from AdamW.
assert np.allclose(sgd_term["W"], sgd_wd["W"], rtol=1e-15, atol=1e-15)
assert np.max(np.abs(adam_term["W"] - adamw["W"])) > 1e-4
# Trade-off: stronger regularisation gives fewer spikes; a moderate one keeps the accuracy
# of the unregularised network, the strongest falls near chance.
assert np.all(np.diff(rate_s) < 0), rate_s
assert rate_s[1] < 0.2 * rate_s[0] and acc_s[1] >= acc_s[0] - 0.03, (rate_s, acc_s)
assert acc_s[-1] < 0.5 and acc_s[-1] < acc_s[1] - 0.3, acc_s
print(f"all checks passed in {elapsed:.0f} s")

# %% [markdown]
# **Exercise.** Implement the stubs in `exercises/ex12_dendrites_and_regularisers.py`, then run
# `python exercises/check.py ex12`; it compares your dendritic adjoint and rate regulariser
# with refsnn's and names the term that differs (for instance a missing dendritic
# surrogate or the rate's $1/(TB)$).
