# %% [markdown]
# # 05 · Long-term dependencies
#
# Backpropagation through time multiplies the adjoint by one Jacobian per step. Over many
# steps the product shrinks or grows geometrically, at a rate set by the Jacobian's
# spectral radius $\rho(J)$, its largest eigenvalue in modulus. This notebook works
# through seed 000 §6, "长期依赖与梯度稳定性" (`docs/seeds.md`): a linear two-variable neuron
# (membrane $v$ and synaptic current $c$) coupled by a feedback weight $W$, and its
# critical coupling $W_\text{crit} = 1/(\tau_m\tau_s)$ at which gradients stop vanishing
# and start exploding.
#
# Seed 000 states that result without writing down the model it holds for. Section 2
# chooses one, derives $W_\text{crit}$ for it, and shows how the number changes under
# other, equally common, ways of writing "the same" neuron. Sections 3 and 4 find the
# critical coupling numerically, from the eigenvalues and from the adjoints of refsnn
# itself; section 5 adds spikes.

# %%
# %matplotlib inline
import numpy as np
import matplotlib.pyplot as plt

np.set_printoptions(precision=4, suppress=False, linewidth=100)
plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})

# %%
from refsnn import LIFConfig, init_params, layer_backward, layer_forward, surrogate

# %% [markdown]
# ## 1. One variable: the leak
#
# Without reset, synapse or recurrence, B2 reduces to
# $\delta v_{t-1} = \alpha\,\delta v_t + (\text{direct terms})$, so a gradient injected
# at step $t$ reaches step $t - k$ multiplied by
#
# $$ \alpha^k = e^{k \ln\alpha} \approx e^{-k\Delta/\tau_m}, \qquad \alpha = 1 - \Delta/\tau_m. \tag{5.1} $$
#
# The membrane time constant is also the gradient's memory: an input more than a few
# $\tau_m$ before the loss gets almost no credit. A non-spiking refsnn layer (a leaky
# integrator) shows it.

# %%
tau_m, tau_s, dt = 20.0, 5.0, 1.0
alpha, lam = 1 - dt / tau_m, 1 - dt / tau_s

T1 = 100
leaky = LIFConfig(1, 1, reset="none", spiking=False)
p_leaky = init_params(leaky, 0, W=np.ones((1, 1)), alpha=alpha)
traj = layer_forward(leaky, p_leaky, np.zeros((T1, 1, 1)))
a_v = np.zeros((T1, 1, 1))
a_v[-1] = 1.0                                                   # L = v_{T-1}
dv_leak = layer_backward(traj, p_leaky, dv=a_v).adjoints["dv"][:, 0, 0]
k = np.arange(T1)[::-1]                                         # steps back from T-1
print("max |δv_(T-1-k) - α^k| =", np.abs(dv_leak - alpha ** k).max())

# %% [markdown]
# ## 2. Two variables: the model and its critical coupling
#
# **Continuous time.** A membrane driven by a synaptic current, and a synaptic current
# driven back by the membrane with strength $W$:
#
# $$ \frac{dv}{dt} = -\frac{v}{\tau_m} + c, \qquad \frac{dc}{dt} = -\frac{c}{\tau_s} + W v.
#    \tag{5.2} $$
#
# (Equivalently $\tau_m\,dv/dt = -v + \tau_m c$.) The system matrix is
# $A = \begin{pmatrix} -1/\tau_m & 1 \\ W & -1/\tau_s \end{pmatrix}$, with trace
# $-(1/\tau_m + 1/\tau_s) < 0$ and determinant $1/(\tau_m\tau_s) - W$. A real $2\times2$
# system is stable iff its trace is negative and its determinant positive, so it loses
# stability when an eigenvalue crosses 0, at
#
# $$ W_\text{crit} = \frac{1}{\tau_m \tau_s}. \tag{5.3} $$
#
# Read as a loop gain: at steady state $v = \tau_m c$ and $c = \tau_s W v$, so a signal
# going round the loop returns multiplied by $W\tau_m\tau_s$, and (5.3) is the point where
# that gain reaches 1.
#
# **Forward Euler** with step $\Delta$, $\alpha = 1 - \Delta/\tau_m$ and
# $\lambda = 1 - \Delta/\tau_s$:
#
# $$ v_{t+1} = \alpha v_t + \Delta\, c_t, \qquad c_{t+1} = \lambda c_t + W\Delta\, v_t,
#    \qquad J = \begin{pmatrix} \alpha & \Delta \\ W\Delta & \lambda \end{pmatrix} = I + \Delta A.
#    \tag{5.4} $$
#
# The adjoint obeys $\delta_t = J^\top \delta_{t+1}$, so it grows or decays like
# $\rho(J)^k$. The characteristic polynomial is
# $p(z) = z^2 - (\alpha + \lambda) z + \alpha\lambda - W\Delta^2$, and
#
# $$ p(1) = (1 - \alpha)(1 - \lambda) - W\Delta^2 = \Delta^2\Big(\frac{1}{\tau_m\tau_s} - W\Big). \tag{5.5} $$
#
# So $J$ has the eigenvalue 1 exactly at $W = W_\text{crit}$, for every step size
# $\Delta$ (the eigenvalues of $J$ are $1 + \Delta\times$ those of $A$). That it is also the
# boundary of $\rho(J) < 1$ needs one more line: for $W \ge 0$ the eigenvalues are real
# (the discriminant is $(\alpha - \lambda)^2 + 4W\Delta^2 \ge 0$), the parabola's vertex
# $(\alpha + \lambda)/2$ lies below 1, so the larger root is below 1 iff $p(1) > 0$, i.e.
# $W < W_\text{crit}$; and the smaller root stays above $-1$ because
# $p(-1) = (1 + \alpha)(1 + \lambda) - W\Delta^2 > 0$ up to and beyond $W_\text{crit}$
# (for $0 \le \alpha, \lambda < 1$). Hence, for $0 \le W$:
# $\rho(J) < 1$ (vanishing) iff $W < W_\text{crit}$, $\rho(J) = 1$ at $W_\text{crit}$,
# and $\rho(J) > 1$ (exploding) above it.
#
# **Which model?** (5.3) holds for (5.2) and its Euler discretisation (5.4). It is not a
# property of "a membrane and a synapse" in general:
#
# * written as $\tau_m\,dv/dt = -v + c$, $\tau_s\,dc/dt = -c + Wv$ (both variables in units
#   of the membrane potential, a common normalisation), the loop gain is $W$ and the
#   critical coupling is $W_\text{crit} = 1$;
# * discretised exactly, with $\alpha = e^{-\Delta/\tau_m}$ and $\lambda = e^{-\Delta/\tau_s}$
#   in (5.4), $p(1) = 0$ at $W\Delta^2 = (1 - \alpha)(1 - \lambda)$, which is about 12% below
#   $\Delta^2/(\tau_m\tau_s)$ for $\Delta = 1$, $\tau_m = 20$, $\tau_s = 5$.
#
# Section 4 checks both numerically.

# %% [markdown]
# ## 3. Finding $W_\text{crit}$ numerically
#
# Two independent routes, each by bisection: (a) on $\rho(J) - 1$, from the eigenvalues;
# (b) on the measured growth rate of a backpropagated adjoint, $\delta_t = J^\top\delta_{t+1}$
# iterated for 3000 steps (renormalised every step so that nothing overflows; the rate
# is the mean log-growth over the last 2000 steps, after the transient).

# %%
W_crit = 1.0 / (tau_m * tau_s)

def J_euler(W, alpha=alpha, lam=lam, dt=dt):
    return np.array([[alpha, dt], [W * dt, lam]])                      # (5.4)

def spectral_radius(J):
    return float(np.abs(np.linalg.eigvals(J)).max())

def adjoint_growth_rate(J, steps=3000, burn_in=1000):
    # Mean log-growth per step of δ_t = J^T δ_{t+1}.
    delta = np.array([1.0, 0.0])
    total = 0.0
    for i in range(steps):
        delta = J.T @ delta
        norm = np.linalg.norm(delta)
        if i >= burn_in:
            total += np.log(norm)
        delta /= norm
    return total / (steps - burn_in)

def bisect(f, lo, hi, iters=50):
    # The root of an increasing f on [lo, hi] with f(lo) < 0 < f(hi).
    assert f(lo) < 0 < f(hi)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if f(mid) < 0 else (lo, mid)
    return 0.5 * (lo + hi)

W_eig = bisect(lambda W: spectral_radius(J_euler(W)) - 1.0, 0.0, 10 * W_crit)
W_adj = bisect(lambda W: adjoint_growth_rate(J_euler(W)), 0.0, 10 * W_crit, iters=30)
print(f"W_crit = 1/(τ_m τ_s)    = {W_crit:.10f}")
print(f"bisection on ρ(J) - 1   = {W_eig:.10f}")
print(f"bisection on the adjoint's growth rate = {W_adj:.10f}")

ratios = np.linspace(0.0, 2.0, 201)
rho = [spectral_radius(J_euler(r * W_crit)) for r in ratios]
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(12, 3.8))
ax0.plot(ratios, rho)
ax0.axhline(1.0, color="k", lw=0.8); ax0.axvline(1.0, color="gray", ls=":")
ax0.set(xlabel="$W / W_{crit}$", ylabel="$\\rho(J)$", title="spectral radius of the Euler Jacobian (5.4)")
adjoint_norms = {}                                                     # r -> ||δ|| by steps back
for r in (0.5, 1.0, 1.5):
    J = J_euler(r * W_crit)
    delta, norms = np.array([1.0, 0.0]), []
    for _ in range(300):
        norms.append(np.linalg.norm(delta))
        delta = J.T @ delta
    adjoint_norms[r] = np.array(norms)
    ax1.semilogy(np.arange(300), norms[::-1], label=f"W = {r:g} W_crit")   # δ_t, t = 0..299
ax1.set(xlabel="step t (the adjoint starts at t = 299)", ylabel="$\\|\\delta_t\\|$",
        title="a backpropagated adjoint")
ax1.legend(); plt.tight_layout(); plt.show()

# %% [markdown]
# *Figure 1.* Left: the spectral radius of the Euler Jacobian (5.4) against the coupling
# $W / W_{crit}$; it crosses 1 at $W = W_{crit}$. Right: the norm of an adjoint started at
# the last step, $t = 299$, and propagated backwards by $J^\top$, plotted at each step $t$
# it reaches (time runs left to right, as in every figure; the backward pass runs from
# right to left). Below $W_{crit}$ it shrinks exponentially towards early steps, above it
# grows, and at $W_{crit}$ it does neither.
#
# The two normalisations of section 2, by the same bisection on $\rho(J) - 1$:

# %%
# Exact exponential decay factors in (5.4).
a_exp, l_exp = np.exp(-dt / tau_m), np.exp(-dt / tau_s)
W_exp = bisect(lambda W: spectral_radius(J_euler(W, a_exp, l_exp)) - 1.0, 0.0, 10 * W_crit)
print(f"exact decay: W_crit = {W_exp:.6f} = {W_exp / W_crit:.4f} x 1/(τ_m τ_s);"
      f" (1-α)(1-λ)/Δ² = {(1 - a_exp) * (1 - l_exp) / dt**2:.6f}")

# τ_m dv/dt = -v + c, τ_s dc/dt = -c + W v, forward Euler.
def J_normalised(W):
    return np.array([[alpha, dt / tau_m], [W * dt / tau_s, lam]])

W_norm = bisect(lambda W: spectral_radius(J_normalised(W)) - 1.0, 0.0, 10.0)
print(f"τ dv/dt = -v + c form: W_crit = {W_norm:.10f}")

# %% [markdown]
# ## 4. The same loop in refsnn
#
# refsnn's layer with a synaptic current and recurrent weights has this loop: F1 feeds
# the previous spike back into the input current, F2 filters it, F4 integrates it.
# Making the spike linear turns it into a linear system: with the straight-through
# surrogate the smooth twin's spike is $F(x) = x + \tfrac12$, and with $\theta = \tfrac12$
# that is $s_t = v_t$. For one neuron with self-coupling $R$, no reset and no external
# input:
#
# $$ c_t = \lambda c_{t-1} + R\, s_{t-1} \quad\text{(F1, F2)}, \qquad
#    v_t = \alpha v_{t-1} + c_t \quad\text{(F4)}, $$
#
# so, because $v_t$ reads the *new* current $c_t$,
#
# $$ \begin{pmatrix} v_t \\ c_t \end{pmatrix} =
#    \underbrace{\begin{pmatrix} \alpha + R & \lambda \\ R & \lambda \end{pmatrix}}_{J_R}
#    \begin{pmatrix} v_{t-1} \\ c_{t-1} \end{pmatrix}, \qquad
#    p_R(1) = (1 - \alpha)(1 - \lambda) - R. \tag{5.6} $$
#
# $J_R$ is a different matrix from (5.4), with a different spectral radius, but the
# eigenvalue 1 is crossed at the same point: $R_\text{crit} = (1-\alpha)(1-\lambda)
# = W_\text{crit}\Delta^2$. (The crossing is the loop gain reaching 1, and the loop gain
# does not depend on the order of the updates within a step.) Below, the adjoint
# $\delta v_t$ comes from `layer_backward` with the loss $L = v_{T-1}$; its decay rate is
# the slope of $\log\lvert\delta v_t\rvert$ over the first 200 of $T = 400$ steps, far
# from the loss.

# %%
T = 400
linear = LIFConfig(1, 1, surrogate=surrogate("straight_through"), forward="smooth",
                   reset="none", synapse=True, recurrent=True)

def refsnn_adjoint(R):
    params = init_params(linear, 0, W=np.zeros((1, 1)), R=np.full((1, 1), R),
                         alpha=alpha, lam=lam, theta=0.5)          # s = v - θ + 1/2 = v
    traj = layer_forward(linear, params, np.zeros((T, 1, 1)))
    a_v = np.zeros((T, 1, 1))
    a_v[-1] = 1.0
    return layer_backward(traj, params, dv=a_v).adjoints["dv"][:, 0, 0]

def refsnn_growth_rate(R):
    dv = np.abs(refsnn_adjoint(R))
    steps_back = T - 1 - np.arange(T)
    return np.polyfit(steps_back[:200], np.log(dv[:200]), 1)[0]       # log-growth per step back

def J_R(R):
    return np.array([[alpha + R, lam], [R, lam]])                      # (5.6)

R_crit = (1 - alpha) * (1 - lam)
for r in (0.5, 1.0, 1.5):
    R = r * R_crit
    print(f"R = {r:g} R_crit: measured rate {refsnn_growth_rate(R):+.6f},"
          f" log ρ(J_R) = {np.log(spectral_radius(J_R(R))):+.6f},"
          f" log ρ(J_Euler) = {np.log(spectral_radius(J_euler(R / dt**2))):+.6f}")
R_found = bisect(refsnn_growth_rate, 0.0, 10 * R_crit, iters=40)
print(f"bisection on refsnn's adjoint: R_crit = {R_found:.10f}; (1-α)(1-λ) = {R_crit:.10f}")

# %% [markdown]
# ## 5. With spikes
#
# With Heaviside spikes and a surrogate, the spike's slope in the backward pass is
# $\sigma'(v_{t-1} - \theta)$ instead of 1, so the loop gain of step $t$ is
# $R\,\sigma'(v_{t-1} - \theta)$ and changes from step to step. Without a reset (and with
# $R \ge 0$) every entry of the backward recursion is non-negative and grows with
# $\sigma'$: in the pair $(\delta v_t, \delta c_{t+1})$, B2, B1 and B4 read
#
# $$ \delta v_{t-1} = (\alpha + R\sigma'_{t-1})\,\delta v_t + \lambda R \sigma'_{t-1}\,\delta c_{t+1},
#    \qquad \delta c_t = \delta v_t + \lambda\,\delta c_{t+1}. $$
#
# So the spiking adjoint is squeezed, entry by entry, between the linear loop with gain
# 0 (pure leak) and the linear loop with $\sigma'$ at its peak, gain $R\cdot$height. If
# $R\cdot\text{height} < (1 - \alpha)(1 - \lambda)$, the gradient must vanish, whatever
# the spikes do. Above that, it may or may not explode, depending on how much time the
# membrane spends near the threshold. (An attached reset adds the negative term
# $-\gamma\sigma'$ of notebook 04, and the squeeze no longer applies.)

# %%
rng = np.random.default_rng(0)
steps = np.arange(T)
drive = (0.007 + 0.008 * np.sin(2 * np.pi * steps / 60) + 0.002 * rng.standard_normal(T)).reshape(T, 1, 1)
sg = surrogate("sigmoid", 4.0)                                         # height 1
spiking = LIFConfig(1, 1, surrogate=sg, reset="none", synapse=True, recurrent=True)

def spiking_adjoint(R):
    params = init_params(spiking, 0, W=np.ones((1, 1)), R=np.full((1, 1), R), alpha=alpha, lam=lam, theta=1.0)
    traj = layer_forward(spiking, params, drive)
    a_v = np.zeros((T, 1, 1))
    a_v[-1] = 1.0
    return traj, layer_backward(traj, params, dv=a_v).adjoints["dv"][:, 0, 0]

squeeze = {}
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
for ax, mult in zip(axes, (0.5, 4.0)):
    R = mult * R_crit / sg.height
    traj, dv = spiking_adjoint(R)
    lower, upper = refsnn_adjoint(0.0), refsnn_adjoint(R * sg.height)
    squeeze[mult] = (lower, dv, upper)
    ax.semilogy(upper, "--", label="linear, gain R·height (upper bound)")
    ax.semilogy(dv, label=f"spiking ({int(traj.s.sum())} spikes)")
    ax.semilogy(lower, ":", label="linear, gain 0 (lower bound)")
    ax.set(title=f"R·height = {mult:g} (1-α)(1-λ)", xlabel="step t", ylabel="$\\delta v_t$, loss $v_{T-1}$")
    ax.legend(fontsize=8)
plt.tight_layout(); plt.show()

# %% [markdown]
# *Figure 2.* $\delta v_t$ of one recurrent spiking neuron against the step $t$, for the loss
# $v_{T-1}$, with its linear upper and lower bounds, for a weak (left) and a strong (right)
# self-coupling. On the left the upper bound itself decays, so the spiking gradient must. On the right
# the bound explodes (to about $10^{16}$ at $t = 0$), but the spiking gradient does not
# (about $10^{-5}$): the strong self-excitation locks the neuron into firing at every step
# from its first spike (step 84) on, its membrane soon far above the threshold where
# $\sigma' \approx 0$ (below 1% of the peak from step 100 on), and from there to the
# loss the gradient decays like the pure leak (within 1% of it). Only in the steps before,
# while the membrane approaches and crosses the threshold, does it rise above the leak.
# Saturation is the other way for a surrogate gradient to vanish: a neuron whose
# membrane never comes near $\theta$ passes nothing back, whether it is silent or
# firing at every step.
#
# ## 6. Checks

# %%
# 1. The leak: δv_(T-1-k) = α^k.
assert np.allclose(dv_leak, alpha ** k, rtol=1e-12, atol=0)
# 2. (5.5): p(1) = Δ²(1/(τ_m τ_s) - W), and J has the eigenvalue 1 at W_crit.
for W in (0.0, 0.3 * W_crit, W_crit, 2.0 * W_crit):
    J = J_euler(W)
    assert np.isclose(np.linalg.det(np.eye(2) - J), dt**2 * (1 / (tau_m * tau_s) - W), rtol=1e-12, atol=1e-15)
assert np.isclose(np.abs(np.linalg.eigvals(J_euler(W_crit)) - 1.0).min(), 0.0, atol=1e-12)
#    The eigenvalues of J are 1 + Δ × those of A (5.2).
for W in (0.3 * W_crit, 2.0 * W_crit):
    A = np.array([[-1 / tau_m, 1.0], [W, -1 / tau_s]])
    assert np.allclose(np.sort(np.linalg.eigvals(J_euler(W)).real), np.sort(1 + dt * np.linalg.eigvals(A).real), atol=1e-14)
# 3. Both numerical routes find W_crit = 1/(τ_m τ_s).
assert abs(W_eig - W_crit) < 1e-9 * W_crit
assert abs(W_adj - W_crit) < 1e-3 * W_crit
assert spectral_radius(J_euler(0.99 * W_crit)) < 1 < spectral_radius(J_euler(1.01 * W_crit))
# 4. Other normalisations, other numbers.
assert abs(W_exp - (1 - a_exp) * (1 - l_exp) / dt**2) < 1e-9 and 0.85 < W_exp / W_crit < 0.9
assert abs(W_norm - 1.0) < 1e-9
# 5. refsnn's adjoint: decay rate = log ρ(J_R), and the crossing at (1-α)(1-λ).
for r in (0.5, 1.5):
    assert abs(refsnn_growth_rate(r * R_crit) - np.log(spectral_radius(J_R(r * R_crit)))) < 1e-4
assert abs(R_found - R_crit) < 1e-6 * R_crit
# 6. Spikes: the adjoint is squeezed between gain 0 and gain R·height.
for mult, (lower, dv, upper) in squeeze.items():
    assert np.all(lower <= dv * (1 + 1e-12)) and np.all(dv <= upper * (1 + 1e-12)), mult
assert squeeze[0.5][1][0] < 1e-2                       # below the bound's threshold: vanishing
assert squeeze[0.5][2][0] < squeeze[0.5][2][-1]         # ... because the upper bound itself decays
# 7. Figure 2, right: the bound explodes, the spiking gradient does not; the neuron fires at
#    every step from step 84 on; σ' < 1% of the peak from step 100 on, where δv follows the
#    pure leak within 1%; before that it rises above the leak.
lower4, dv4, upper4 = squeeze[4.0]
traj4, _ = spiking_adjoint(4.0 * R_crit / sg.height)
s4, v4 = traj4.s[:, 0, 0], traj4.v[:, 0, 0]
first = int(np.flatnonzero(s4)[0])
assert first == 84 and np.all(s4[first:] == 1) and not np.any(s4[:first])
assert np.all(sg.derivative(v4[100:] - 1.0) < 0.01 * sg.height)
assert 1e15 < upper4[0] < 1e17 and 1e-6 < dv4[0] < 1e-4
assert np.all(np.abs(dv4[100:] / lower4[100:] - 1) < 0.01)
assert np.all(dv4[:first] > 2 * lower4[:first])
# 8. Section 2's argument: real eigenvalues for W >= 0, p(-1) > 0 beyond W_crit, so ρ(J) < 1
#    exactly below W_crit on the whole scan of Figure 1; the exact-decay crossing is about 12%
#    lower; J_R has another spectral radius than (5.4) but the same crossing.
for W in (0.0, 0.5 * W_crit, W_crit, 2.0 * W_crit):
    assert np.all(np.isreal(np.linalg.eigvals(J_euler(W))))
    assert (1 + alpha) * (1 + lam) - W * dt**2 > 0
rho_scan = np.array(rho)
assert np.all(rho_scan[ratios < 0.999] < 1) and np.all(rho_scan[ratios > 1.001] > 1)
assert 0.11 < 1 - W_exp / W_crit < 0.13
assert abs(spectral_radius(J_R(0.5 * R_crit)) - spectral_radius(J_euler(0.5 * R_crit / dt**2))) > 1e-4
# 9. Figure 1, right: below W_crit the adjoint shrinks towards early steps, above it grows,
#    at W_crit it levels off.
assert adjoint_norms[0.5][-1] < 1e-2 * adjoint_norms[0.5][0]
assert adjoint_norms[1.5][-1] > 1e2 * adjoint_norms[1.5][0]
assert np.allclose(adjoint_norms[1.0][200:], adjoint_norms[1.0][-1], rtol=1e-3)
print("all checks passed")

# %% [markdown]
# **Exercise.** Implement the stubs in `exercises/ex05_long_term_dependencies.py`, then run `python exercises/check.py ex05` from the repository's root. It prints PASS or FAIL for each function, with the worst relative error and a hint. The solutions are in `exercises/solutions/ex05_long_term_dependencies.py`. The exercise's `critical_coupling` uses the exact decay factors α = e^{−dt/τ_m}, λ = e^{−dt/τ_s}, not the forward-Euler ones used above: its answer approaches dt²/(τ_m τ_s) for dt ≪ τ, but is exact for every dt.
