r"""Lee, Delbruck & Pfeiffer (2016): the transfer-function gradient and the training recipe.

Seed 003, sections 2.2.2–2.4, on the event-driven layers of
:mod:`refsnn.neurons.lee2016`. Equation labels (L1)… are used by notebook 14.

Activities (2.2.2)
------------------

For input channel k and neuron i, the *normalised* traces are

.. math::

    x_k(t) = \sum_{t_p < t} e^{-(t - t_p)/τ_{mp}}, \qquad
    a_i(t) = \sum_{t_q < t} e^{-(t - t_q)/τ_{mp}}                           \tag{L1}

over the input events of k and the output spikes of i. Their contributions to the
membrane are ``w_ik x_k`` and ``V_th,i a_i`` (the seed folds ``w_k`` and ``V_th``
into ``x_k`` and ``a_i`` and calls them normalised; the gradient formula below is
only dimensionally right for the traces without them). Summing E1–E5 of
:mod:`refsnn.neurons.lee2016` over a sample (jumps are noise, the leak and the
clipping are neglected, ``V`` is bounded) gives, for every *active* neuron i,

.. math::

    0 = \sum_k w_{ik} x_k - V_{th,i}\, a_i + σ V_{th,i} \sum_{j \ne i} κ_{ij} a_j   \tag{L2}

where x and a may be read as traces or, integrated over the sample, as spike
counts; refsnn uses counts (``x̂`` = input counts, ``â`` = output counts).

*Correction C3* (see the neuron module): with ``−1 ≤ κ_ij ≤ 0`` the lateral term
must enter with ``+`` to inhibit. The seed writes ``− σ V_th,i Σ κ_ij a_j``.

The gradient (2.2.2 (3))
------------------------

Divide L2 by ``V_th,i`` and write ``z_i = Σ_k w_ik x_k / V_th,i`` and
``c = −σμ ≥ 0`` for uniform ``κ_ij = μ``: on the set S of n active neurons

.. math::

    a_i + c \sum_{j \ne i} a_j = z_i, \qquad A a = z, \quad A = (1 - c) I + c\,\mathbf 1 \mathbf 1^\top  \tag{L3}

so the exact derivative of the steady state is ``∂a/∂x_k = A^{-1} (w_{·k}/V_th)``
(:func:`steady_state_jacobian`). Seed 003's approximation assumes that all n
neurons of the circuit respond alike, ``∂a_j/∂x_k ≈ ∂a_i/∂x_k``; then row i of
L3 reads ``(1 + c(n − 1)) ∂a_i/∂x_k = w_ik / V_th,i``:

.. math::

    \frac{∂a_i}{∂x_k} \approx \frac{w_{ik}}{V_{th,i}\,(1 - μσ(n-1))}
                    = \frac{w_{ik}}{V_{th,i}\,(1 + |μ|σ(n-1))}            \tag{L4}

The approximation is *exact* when ``w_ik/V_th,i`` is the same for every i (the
perturbation is along ``𝟏``, an eigenvector of A with eigenvalue ``1 + c(n−1)``);
for differences between neurons (eigenvalue ``1 − c``) it underestimates the
response by the factor ``(1 − c)/(1 + c(n − 1))``. The seed writes the denominator
``μσ(n−1) + 1``: that is L4 with μ read as the *magnitude* |κ|; with the signed
``μ = −0.4, σ = 0.5, n = 100`` the literal formula gives ``−18.8``, a negative gain.
Without WTA (μ = 0) L4 is ``w_ik / V_th,i`` exactly.

Backpropagation (2.2.1, 2.2.3)
------------------------------

L4 makes each layer linear in its input activity, ``a_i = z_i/D`` with
``D = 1 + |μ|σ(n − 1)``. Write ``δa_i = ∂L/∂a_i`` (for the output layer from the
loss L8, for a hidden layer from the layer above, ``δa^{l}_k = Σ_i δ^{l+1}_i w^{l+1}_{ik}``).
The raw error is ``δ^{raw}_i = δa_i`` and the exact gradients of the linear model are
``∂L/∂w_ik = δa_i x_k/(V_th,i D)`` and ``∂L/∂V_th,i = −δa_i a_i/V_th,i``. The
normalised error (2.2.3 (2))

.. math::

    δ_i = \frac{g_i}{\bar g}\, δ^{raw}_i, \qquad g_i = \frac{1}{V_{th,i}}, \qquad
    \bar g = \sqrt{\tfrac1n \textstyle\sum_i g_i^2}                           \tag{L5}

keeps the per-neuron factor ``1/V_th,i`` of the exact gradient and replaces the
factor common to the layer, ``1/D``, by ``1/ḡ``. What it preserves: the weights
``(g_i/ḡ)²`` average to exactly 1 over the layer, so ``Σ_i δ_i² = Σ_i (g_i/ḡ)² (δ^{raw}_i)²``
is the raw error energy reweighted; it equals ``Σ_i (δ^{raw}_i)²`` in expectation when the
raw errors' sizes do not depend on the thresholds, and not otherwise (errors on the
low-threshold neurons gain energy). Seed 003 says L5 guarantees ``E Σ_i δ_i² = 1``; that
does not follow, since nothing fixes the scale of the raw errors (notebook 14 shows both).
The updates (2.2.3 (3)) are then

.. math::

    W \leftarrow W - η_w\, δ\, \hat x^\top, \qquad
    V_{th} \leftarrow V_{th} + η_{th}\, δ ⊙ \hat a, \qquad η_{th} = 0.1\, η_w   \tag{L6}

(batch means). *Sign correction*: the seed writes ``V_th ← V_th − η_th δ â``;
since ``∂a_i/∂V_th,i = −a_i/V_th,i < 0``, gradient descent raises the threshold of
a neuron whose error says "fire less" (δ > 0), hence ``+``.

Regularisers and loss (2.3–2.4)
-------------------------------

.. math::

    L_w(l, i) &= β\, e^{λ(\sum_k w_{ik}^2 - α^2)}, \qquad
    \frac{∂L_w}{∂w_{ik}} = 2 β λ\, w_{ik}\, e^{λ(\sum_k w_{ik}^2 - α^2)}    \tag{L7}\\
    L &= \tfrac12 |o - y|^2 + \textstyle\sum_{l\in\text{hidden}} \sum_i L_w(l, i), \qquad
    o_i = n_i / \max_j n_j                                                   \tag{L8}

With ``m = max_j n_j`` attained at ``j*``:
``∂L/∂n_i = (o_i − y_i)/m − [i = j*] Σ_j (o_j − y_j) o_j / m`` (the max is a function
of the counts too); when no output neuron spiked (m = 0) refsnn uses ``o = n = 0``
and ``∂L/∂n = −y`` (the same formula with m = 1). The exact derivative gives the
winner almost no gradient (``o_{j*} = 1`` whatever its count): a neuron that wins
for every input is never pushed down, and training drifts from one universal winner
to the next. Training therefore holds m constant (``through_max=False``,
``∂L/∂n_i = (o_i − y_i)/m``), the reading of "normalise by the max to simplify the
computation" that makes a wrong winner lose; the exact derivative is kept for the
gradient checks.

*Initialisation* (2.2.3 (1)): ``W ~ U[−α/√M, α/√M]``, ``V_th ~ U[α, 2α]``. The seed
says this gives ``E Σ_k w_k² = α²``; for that uniform distribution it is ``α²/3``
(``E w² = (α/√M)²/3``). refsnn keeps the seed's distribution and the ``α²`` of L7,
so at initialisation L7 is ``β e^{−2λα²/3}``, in its weak, L2-like branch.

*Threshold regularisation* (2.3.2): for a layer of N neurons receiving the same
input, of which ``N_w`` spiked in a sample, the spiking ones get ``+ρN`` and the
silent ones ``−ρN_w`` (summed over the samples of a batch). *Floor*: a threshold
that would fall below ``V_floor = V_th,init / 5`` keeps its value, and the neuron's
weights are multiplied by ``1 + |ΔV_th|/V_th`` instead (``ΔV_th`` the refused
decrease). The seed says only "proportionally"; this factor changes the ratio
``w/V_th`` of L4 as the lowered threshold would, to first order in ``ΔV_th``, and
stays positive even when the proposed threshold is ≤ 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._validate import check_bool, check_positive_int, float_array, real_scalar
from ..neurons.lee2016 import EventStream, LeeConfig, simulate

__all__ = ["wta_gain", "transfer_gradient", "steady_state", "steady_state_jacobian", "init_layer",
           "normalise_errors", "count_loss", "weight_regulariser", "threshold_regularisation",
           "threshold_change", "apply_threshold_floor", "lee_gradients", "LeeRecipe", "init_opt_state", "train_epoch", "predict", "accuracy", "spiking_response"]


def wta_gain(mu, sigma, n):
    """``D = 1 − μσ(n − 1)`` (L4's denominator; ``μ ≤ 0``, so D ≥ 1)."""
    mu = real_scalar("mu", mu, low=-1.0, high=0.0)
    sigma = real_scalar("sigma", sigma, low=0.0, high=1.0, high_open=True)
    n = check_positive_int("n", n)
    return 1.0 - mu * sigma * (n - 1)


def transfer_gradient(W, v_th, mu, sigma, n=None):
    """L4: ``∂a_i/∂x_k ≈ w_ik / (V_th,i (1 − μσ(n−1)))``, an (N, M) array.

    ``n`` is the number of neurons in the WTA circuit (default: all N rows).
    """
    W = float_array("W", W, (None, None)).astype(np.float64)
    v_th = float_array("v_th", v_th, (W.shape[0],)).astype(np.float64)
    D = wta_gain(mu, sigma, W.shape[0] if n is None else n)
    return W / (v_th[:, None] * D)


def _A(n, c):
    return (1.0 - c) * np.eye(n) + c * np.ones((n, n))


def steady_state(W, v_th, x, mu, sigma, max_iter=100):
    """Solve L2 for the activities ``a ≥ 0`` of one sample (``x`` (M,) input activity).

    Active-set iteration: solve L3 on the set S, drop neurons with ``a_i < 0``, add
    silent neurons whose drive ``z_i − c Σ_{j∈S} a_j`` is positive, until S is stable.
    Returns ``(a, active)``.
    """
    W = float_array("W", W, (None, None)).astype(np.float64)
    v_th = float_array("v_th", v_th, (W.shape[0],)).astype(np.float64)
    x = float_array("x", x, (W.shape[1],)).astype(np.float64)
    c = -real_scalar("mu", mu, low=-1.0, high=0.0) * real_scalar("sigma", sigma, low=0.0, high=1.0, high_open=True)
    z = W @ x / v_th
    active = z > 0
    for _ in range(max_iter):
        a = np.zeros_like(z)
        idx = np.flatnonzero(active)
        if idx.size:
            a[idx] = np.linalg.solve(_A(idx.size, c), z[idx])
        drive = z - c * (a.sum() - a)             # z_i − c Σ_{j≠i} a_j
        new = (a > 0) | (~active & (drive > 0))
        new &= ~(active & (a <= 0))
        if np.array_equal(new, active):
            return a, active
        active = new
    raise RuntimeError("steady_state: the active set did not settle")


def steady_state_jacobian(W, v_th, x, mu, sigma):
    """The exact ``∂a/∂x`` (N, M) of :func:`steady_state`: ``A_S^{-1} diag(1/V_th) W`` on S, 0 elsewhere."""
    a, active = steady_state(W, v_th, x, mu, sigma)
    W = np.asarray(W, dtype=np.float64)
    v_th = np.asarray(v_th, dtype=np.float64)
    c = -mu * sigma
    J = np.zeros_like(W)
    idx = np.flatnonzero(active)
    if idx.size:
        J[idx] = np.linalg.solve(_A(idx.size, c), W[idx] / v_th[idx, None])
    return J


def init_layer(rng, n, m, alpha):
    """2.2.3 (1): ``W ~ U[−α/√M, α/√M]`` (n, m), ``V_th ~ U[α, 2α]`` (n,)."""
    n, m = check_positive_int("n", n), check_positive_int("m", m)
    alpha = real_scalar("alpha", alpha, low=0.0, low_open=True)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    lim = alpha / np.sqrt(m)
    return {"W": rng.uniform(-lim, lim, (n, m)), "v_th": rng.uniform(alpha, 2 * alpha, n)}


def normalise_errors(delta_raw, v_th):
    """L5: ``δ_i = (g_i/ḡ) δ^{raw}_i``, ``g = 1/V_th``, ḡ the root mean square of g."""
    v_th = float_array("v_th", v_th, (None,)).astype(np.float64)
    delta_raw = float_array("delta_raw", delta_raw, (None, v_th.shape[0])).astype(np.float64)
    g = 1.0 / v_th
    return delta_raw * (g / np.sqrt(np.mean(g * g)))


def count_loss(n_out, y, through_max=True):
    """L8's data term: ``(½ mean_b |o_b − y_b|², ∂L/∂n)`` for counts ``n_out`` (B, K), targets ``y`` (B, K).

    ``through_max=False`` holds the normaliser ``max_j n_j`` constant in the derivative
    (``∂L/∂n_i = (o_i − y_i)/m``), the reading used for training (see the module docstring).
    """
    n = float_array("n_out", n_out, (None, None)).astype(np.float64)
    y = float_array("y", y, n.shape).astype(np.float64)
    B = n.shape[0]
    m = n.max(axis=1, keepdims=True)
    m_safe = np.where(m > 0, m, 1.0)
    o = n / m_safe
    err = o - y
    value = 0.5 * float(np.sum(err * err)) / B
    dn = err / m_safe
    if not through_max:
        return value, dn / B
    jstar = np.argmax(n, axis=1)
    has = m[:, 0] > 0
    corr = np.sum(err * o, axis=1) / m_safe[:, 0]
    dn[np.arange(B)[has], jstar[has]] -= corr[has]
    return value, dn / B


def weight_regulariser(W, alpha, beta, lam):
    """L7 summed over the neurons (rows) of ``W``: ``(value, ∂/∂W)``."""
    W = float_array("W", W, (None, None)).astype(np.float64)
    alpha = real_scalar("alpha", alpha, low=0.0, low_open=True)
    beta = real_scalar("beta", beta, low=0.0)
    lam = real_scalar("lam", lam, low=0.0)
    e = beta * np.exp(lam * (np.sum(W * W, axis=1) - alpha ** 2))
    return float(e.sum()), 2.0 * lam * e[:, None] * W


def apply_threshold_floor(v_old, v_new, W, v_floor):
    """2.3.2 (2): where ``v_new < v_floor`` keep ``v_old`` and scale the row of W by
    ``1 + (v_old − v_new)/v_old``. Returns new ``(v_th, W)``."""
    v_old = float_array("v_old", v_old, (None,)).astype(np.float64)
    v_new = float_array("v_new", v_new, v_old.shape).astype(np.float64)
    W = float_array("W", W, (v_old.shape[0], None)).astype(np.float64)
    v_floor = float_array("v_floor", v_floor, v_old.shape).astype(np.float64)
    low = v_new < v_floor
    scale = np.where(low, 1.0 + (v_old - v_new) / v_old, 1.0)
    return np.where(low, v_old, v_new), W * scale[:, None]


def threshold_regularisation(v_th, W, counts, rho, v_floor):
    """2.3.2: ``+ρN`` for neurons that spiked, ``−ρN_w`` for those that did not, per
    sample (``counts`` (B, N)), summed over the batch; then the floor. Returns ``(v_th, W)``."""
    v_th = float_array("v_th", v_th, (None,)).astype(np.float64)
    counts = float_array("counts", counts, (None, v_th.shape[0])).astype(np.float64)
    rho = real_scalar("rho", rho, low=0.0)
    return apply_threshold_floor(v_th, v_th + threshold_change(counts, rho), W, v_floor)


def threshold_change(counts, rho):
    """2.3.2 (1) summed over the batch: ``ρ Σ_b (N [n_bi > 0] − N_w,b [n_bi = 0])`` (N,)."""
    spiked = np.asarray(counts) > 0
    N = spiked.shape[1]
    n_w = spiked.sum(axis=1, keepdims=True)
    return rho * np.where(spiked, N, -n_w).sum(axis=0)


def lee_gradients(configs, params, x_hat, counts, y, beta=10.0, lam=0.01, alpha=None, normalise=True,
                  through_max=True, regulariser="exp"):
    """Backward pass of 2.2: the normalised errors and the updates' directions.

    ``x_hat`` (B, M) input counts, ``counts`` list of (B, N_l) spike counts per layer,
    ``y`` (B, K) targets. Returns ``(loss, grads, deltas)`` where ``grads[l]`` has
    ``"W"`` (the direction of L6's weight update, regulariser gradient L7 included
    for hidden layers) and ``"v_th"`` (``−δ ⊙ â`` averaged over the batch, so that
    ``V_th ← V_th − η_th grads["v_th"]`` is L6's threshold update).

    ``normalise=False`` uses the exact gradient of the linearised model,
    ``δ_i = δa_i/(V_th,i D)`` (L4), instead of L5. ``through_max`` as in :func:`count_loss`.

    ``regulariser`` (hidden layers with an ``alpha``): ``"exp"`` L7; ``"l2"`` the plain
    weight decay ``β λ Σ_k w_ik²`` with gradient ``2βλ w_ik`` (L7's small-norm limit without
    the factor ``e^{−λα²}``, the comparison seed 003 draws); ``"none"``. (Max-norm is a
    projection after the step: :class:`LeeRecipe`'s ``regulariser="maxnorm"``.)
    """
    if regulariser not in ("exp", "l2", "none"):
        raise ValueError(f"regulariser must be 'exp', 'l2' or 'none', got {regulariser!r}")
    L = len(configs)
    if alpha is None:
        alpha = [None] * L
    value, da = count_loss(counts[-1], y, through_max)
    B = x_hat.shape[0]
    da = da * B                                 # per-sample errors; batch means below
    grads, deltas = [None] * L, [None] * L
    for l in range(L - 1, -1, -1):
        W, v_th = params[l]["W"], params[l]["v_th"]
        cfg = configs[l]
        inp = x_hat if l == 0 else counts[l - 1]
        if normalise:
            delta = normalise_errors(da, v_th)               # L5
            g_th = -np.mean(delta * counts[l], axis=0)        # L6: V_th ← V_th + η_th δ ⊙ â
        else:
            D = wta_gain(cfg.mu, cfg.sigma, W.shape[0])
            delta = da / (v_th * D)                           # L4: δ_i = δa_i/(V_th,i D)
            g_th = -np.mean(da * counts[l], axis=0) / v_th    # ∂a_i/∂V_th,i = −a_i/V_th,i
        gW = delta.T @ inp / B                                # ∂L/∂w_ik = δ_i x̂_k
        if l < L - 1 and alpha[l] is not None and beta > 0 and regulariser != "none":
            if regulariser == "exp":
                reg, g_reg = weight_regulariser(W, alpha[l], beta, lam)          # L7
            else:
                reg, g_reg = beta * lam * float(np.sum(W * W)), 2.0 * beta * lam * W
            value += reg
            gW = gW + g_reg
        grads[l] = {"W": gW, "v_th": g_th}
        deltas[l] = delta
        da = delta @ W                           # δa of the layer below: Σ_i δ_i w_ik
    return value, grads, deltas


@dataclass
class LeeRecipe:
    """The training recipe's constants (defaults: seed 003's PI-MNIST values where given).

    ``eta_w`` η_w; η_th = ``eta_th_ratio`` · η_w (0.1); ``beta``, ``lam`` L7; ``rho``
    threshold regularisation; ``floor_ratio`` V_floor = V_th,init · 1/5; ``alpha`` per layer.

    ``regulariser``: ``"exp"`` (L7, the seed's), ``"l2"`` (plain weight decay
    ``2βλ w``), ``"maxnorm"`` (no penalty; after each step every hidden row with
    ``Σ_k w_ik² > α²`` is scaled back onto ``Σ_k w_ik² = α²``) or ``"none"``: the
    alternatives seed 003 sets L7 against. ``threshold_reg=False`` switches off the
    threshold regularisation of 2.3.2 (the floor still applies).

    ``optimizer``: ``"sgd"`` applies L6 as written (seed 003's SGD column); ``"adam"``
    feeds L6's two directions, ``grads["W"]`` and ``grads["v_th"]``, to Adam
    (:mod:`refsnn.training.optim`, A1–A4) with the learning rates η_w and η_th (the seed's
    Table 2 compares the two). Threshold regularisation and the floor act after the
    step, as with SGD.
    """

    alpha: tuple
    eta_w: float = 0.003
    eta_th_ratio: float = 0.1
    beta: float = 10.0
    lam: float = 0.01
    rho: float = 1e-4
    floor_ratio: float = 0.2
    batch_size: int = 16
    normalise: bool = True
    through_max: bool = False
    v_floor: list = field(default=None)
    optimizer: str = "sgd"
    regulariser: str = "exp"
    threshold_reg: bool = True

    def __post_init__(self):
        if self.regulariser not in ("exp", "l2", "maxnorm", "none"):
            raise ValueError(f"regulariser must be 'exp', 'l2', 'maxnorm' or 'none', got {self.regulariser!r}")
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer must be 'sgd' or 'adam', got {self.optimizer!r}")
        real_scalar("eta_w", self.eta_w, low=0.0, low_open=True)
        real_scalar("eta_th_ratio", self.eta_th_ratio, low=0.0)
        check_positive_int("batch_size", self.batch_size)
        check_bool("normalise", self.normalise)


def init_opt_state(recipe: LeeRecipe, params):
    """Adam's state for :func:`train_epoch` with ``recipe.optimizer == "adam"``."""
    from ..training import optim
    flat_w = {f"L{l}.W": p["W"] for l, p in enumerate(params)}
    flat_th = {f"L{l}.v_th": p["v_th"] for l, p in enumerate(params)}
    return {"W": optim.init_state(optim.Adam(lr=recipe.eta_w), flat_w),
            "v_th": optim.init_state(optim.Adam(lr=recipe.eta_w * recipe.eta_th_ratio), flat_th)}


def train_epoch(configs, params, recipe: LeeRecipe, stream: EventStream, y, rng, log_every=0, opt_state=None):
    """One epoch of event-driven training (2.4.2). ``y`` (S, K) targets.

    Per batch: simulate (E1–E6), threshold regularisation (2.3.2), backward (L4–L8),
    updates L6 (SGD, or Adam on L6's directions), floor. ``recipe.v_floor`` must hold
    the per-layer floors (set from the initial thresholds by the caller). Returns new
    params and the mean loss; with ``recipe.optimizer == "adam"`` pass ``opt_state``
    (:func:`init_opt_state`, or the one returned by the previous epoch) and get
    ``(params, loss, opt_state)``.
    """
    if recipe.v_floor is None or len(recipe.v_floor) != len(configs):
        raise ValueError("recipe.v_floor must hold one floor array per layer, e.g. "
                         "[p['v_th'] * recipe.floor_ratio for p in initial_params]")
    adam = recipe.optimizer == "adam"
    if adam and opt_state is None:
        raise ValueError("opt_state: recipe.optimizer is 'adam', so pass opt_state=init_opt_state(recipe, params) "
                         "(and the state returned by the previous epoch after that)")
    if not adam and opt_state is not None:
        raise ValueError("opt_state is only for recipe.optimizer == 'adam'; SGD keeps no state")
    if adam:
        from ..training import optim
        opt_state = dict(opt_state)               # the caller's dict is not modified
        opt_w, opt_th = optim.Adam(lr=recipe.eta_w), optim.Adam(lr=recipe.eta_w * recipe.eta_th_ratio)
    S = stream.batch
    order = rng.permutation(S)
    total, nb = 0.0, 0
    params = [dict(p) for p in params]
    for start in range(0, S, recipe.batch_size):
        idx = order[start:start + recipe.batch_size]
        sub = stream.take(idx)
        ev = simulate(configs, params, sub)
        cnt = [e.counts() for e in ev]
        x_hat = sub.input_counts()
        reg = "none" if recipe.regulariser == "maxnorm" else recipe.regulariser
        value, grads, _ = lee_gradients(configs, params, x_hat, cnt, y[idx], recipe.beta, recipe.lam,
                                        list(recipe.alpha), recipe.normalise, recipe.through_max, reg)
        total += value
        nb += 1
        if adam:                                  # A1–A4 on L6's directions
            new_w, opt_state["W"] = optim.step(opt_w, {f"L{l}.W": p["W"] for l, p in enumerate(params)},
                                               {f"L{l}.W": g["W"] for l, g in enumerate(grads)}, opt_state["W"])
            new_th, opt_state["v_th"] = optim.step(
                opt_th, {f"L{l}.v_th": p["v_th"] for l, p in enumerate(params)},
                {f"L{l}.v_th": g["v_th"] for l, g in enumerate(grads)}, opt_state["v_th"])
        for l, (p, g) in enumerate(zip(params, grads)):
            v_old = p["v_th"]
            if adam:
                W, v_new = new_w[f"L{l}.W"], new_th[f"L{l}.v_th"]
            else:                                 # L6 as written
                W = p["W"] - recipe.eta_w * g["W"]
                v_new = v_old - recipe.eta_th_ratio * recipe.eta_w * g["v_th"]
            if recipe.threshold_reg:
                v_new = v_new + threshold_change(cnt[l], recipe.rho)
            v_th, W = apply_threshold_floor(v_old, v_new, W, recipe.v_floor[l])
            if recipe.regulariser == "maxnorm" and l < len(params) - 1:
                sq = np.sum(W * W, axis=1, keepdims=True)
                W = W * np.where(sq > recipe.alpha[l] ** 2, recipe.alpha[l] / np.sqrt(np.maximum(sq, 1e-300)), 1.0)
            params[l] = {"W": W, "v_th": v_th}
    if adam:
        return params, total / max(nb, 1), opt_state
    return params, total / max(nb, 1)


def predict(configs, params, stream: EventStream, batch_size=128):
    """Output spike counts (S, K) of the event-driven network."""
    out = []
    for start in range(0, stream.batch, batch_size):
        sub = stream.take(np.arange(start, min(stream.batch, start + batch_size)))
        out.append(simulate(configs, params, sub)[-1].counts())
    return np.concatenate(out)


def accuracy(n_out, labels):
    """Fraction of samples whose most active output is the label (ties: lowest index; no spike: wrong)."""
    n_out = np.asarray(n_out)
    labels = np.asarray(labels)
    pred = np.argmax(n_out, axis=1)
    ok = (pred == labels) & (n_out.max(axis=1) > 0)
    return float(ok.mean())


def spiking_response(config: LeeConfig, W, v_th, rates, duration, eps=0.2, n_trials=200, rng=None):
    """Finite-difference ``Δn_i/Δx_k`` (N, M) of a simulated spiking layer, to compare with L4.

    Input channel j is a Poisson process of ``rates[j]`` events per unit time over
    ``duration``. For channel k the perturbed stream has rate ``rates[k]·(1 + eps)``
    and the base stream keeps each of its channel-k events with probability
    ``1/(1 + eps)`` (thinning), so the base is a subset of the perturbed stream
    (common random numbers). Column k is the mean change of the output counts over
    ``n_trials`` pairs divided by the mean number of added input events.
    """
    W = float_array("W", W, (None, None)).astype(np.float64)
    v_th = float_array("v_th", v_th, (W.shape[0],)).astype(np.float64)
    rates = float_array("rates", rates, (W.shape[1],)).astype(np.float64)
    rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    N, M = W.shape
    out = np.zeros((N, M))
    params = [{"W": W, "v_th": v_th}]
    for k in range(M):
        lam = rates * duration
        lam[k] *= 1.0 + eps
        streams = {"base": ([], []), "pert": ([], [])}
        added = 0
        for _ in range(n_trials):
            n = rng.poisson(lam)
            ch = np.repeat(np.arange(M), n)
            t = rng.uniform(0.0, duration, ch.size)
            keep = (ch != k) | (rng.random(ch.size) < 1.0 / (1.0 + eps))
            added += int((~keep).sum())
            o = np.argsort(t)
            for name, m in (("pert", np.ones_like(keep)), ("base", keep)):
                streams[name][0].append(t[o][m[o]])
                streams[name][1].append(ch[o][m[o]])
        counts = {}
        for name, (ts, cs) in streams.items():
            P = max(1, max(len(x) for x in ts))
            T = np.zeros((n_trials, P))
            C = np.zeros((n_trials, P), np.int64)
            V = np.zeros((n_trials, P), bool)
            for b, (x, c) in enumerate(zip(ts, cs)):
                T[b, :len(x)], C[b, :len(x)], V[b, :len(x)] = x, c, True
            counts[name] = simulate([config], params, EventStream(T, C, V, M, duration))[0].counts()
        out[:, k] = (counts["pert"] - counts["base"]).sum(axis=0) / max(added, 1)
    return out
