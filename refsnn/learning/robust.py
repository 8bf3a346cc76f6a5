r"""Seed 002 §9: the min-max robustness objective with a KL term, every gradient by hand.

What the seed says, and what it leaves open
-------------------------------------------
Seed 002 (§9, "前沿机器学习理论") proposes to combine the information-bottleneck (IB)
principle with a penalty on the *sensitivity of the representation to small input
perturbations*, which gives "a min-max problem involving information-theoretic
measures such as the KL divergence", and says that the surrogate gradient lets one
differentiate "the whole objective, the robustness penalty included" with respect to
the encoder's parameters. It writes no equation. Three points are ambiguous or wrong,
and refsnn settles them as follows:

(i) *Which KL.* The KL of the IB principle in its trainable (variational) form is
    ``KL(q(z|x) ‖ r(z))`` between an encoder's posterior and a prior: a compression
    term, with no perturbation in it and no max. The KL of a min-max robustness
    objective is between the model's outputs at ``x`` and at a perturbed ``x + δ``
    (the "TRADES" objective of Zhang et al. 2019). The seed's description (a penalty on
    sensitivity, a min-max) is the second; refsnn implements it and not the IB term.
(ii) *Whose distribution.* A spike representation ``Z`` is binary and deterministic
    here, so a KL between "representations" needs a distribution: refsnn takes the
    readout's softmax over classes (R2), the distribution the classifier reports.
(iii) *Differentiating the max.* The surrogate gradient does not differentiate the
    inner maximisation; nothing does in practice. What makes the outer gradient
    computable is Danskin's theorem, and with refsnn's sign-gradient attack the chain
    through δ is exactly zero almost everywhere (R10, checked on ``refsnn gradcheck``).

The objective
-------------
A network (``refsnn.neurons.network``) maps an input current ``x`` (T, B, M) to a
readout trajectory; its logits are

.. math::

    z_{b,k} = \frac{1}{T}\sum_t v^{out}_{t,b,k}\ \ (\text{readout}=\texttt{"mean"}),
    \qquad z_{b,k} = \sum_t s^{out}_{t,b,k}\ \ (\text{readout}=\texttt{"count"}),   \qquad (R1)

so a partial ``g = ∂J/∂z`` lands on the readout as ``a^v_t = g/T`` or ``a^s_t = g`` at
every step (the direct partials of lif's B1/B2). With ``z = z(x)`` and ``z' = z(x+δ)``,

.. math::

    p = \operatorname{softmax}(z), \qquad q = \operatorname{softmax}(z'),            \qquad (R2)

    \mathrm{KL}(p ‖ q) = \sum_k p_k (\log p_k - \log q_k).                           \qquad (R3)

*The partial in the perturbed logits.* ``log q_k = z'_k − log Σ_j e^{z'_j}``, so
``∂(−Σ_k p_k log q_k)/∂z'_j = −p_j + q_j Σ_k p_k``, and since ``Σ_k p_k = 1``

.. math::

    \frac{∂\,\mathrm{KL}}{∂z'_j} = q_j - p_j.                                         \qquad (R4)

*The partial in the clean logits.* ``∂p_j/∂z_k = p_j([j = k] − p_k)`` and
``∂KL/∂p_j = log p_j − log q_j + 1``; summing, the ``+1`` cancels (``Σ_j ∂p_j/∂z_k = 0``):

.. math::

    \frac{∂\,\mathrm{KL}}{∂z_k} = p_k \left(\log p_k - \log q_k - \mathrm{KL}\right).  \qquad (R5)

*The inner maximisation.* For each trial, in the ℓ∞ ball of radius ε,

.. math::

    δ^* = \arg\max_{\|δ\|_∞ \le ε} \mathrm{KL}(p(x) ‖ q(x + δ)),\qquad
    δ_{k+1} = Π_ε\big(δ_k + η\,\operatorname{sign} ∇_δ \mathrm{KL}(δ_k)\big),
    \quad Π_ε(δ) = \operatorname{clip}(δ, -ε, ε),                                     \qquad (R6)

K projected sign-gradient steps of size η. ``∇_δ KL`` is refsnn's own input gradient:
R4 enters the readout through R1, the network's backward pass (lif B1–B5) returns
``∂/∂x`` at ``x + δ``, which *is* ``∂/∂δ`` (``δ`` enters as ``x + δ``); a perturbation
shared over time (``δ`` of shape (B, M), added at every step) takes the sum over t.
**The start must not be δ = 0**: there ``q = p``, so R4 is zero, ``sign(0) = 0`` and the
iteration never moves (the KL is at its minimum). ``δ_0`` is a small random draw
(TRADES draws 0.001·N(0, 1)); refsnn draws it uniformly in ``[−ε₀, ε₀]``.
The clean distribution ``p`` is a constant of the inner problem.

*The outer loss.* With ``δ`` the result of R6 for each trial,

.. math::

    J(θ) = \frac{1}{B}\sum_b \Big[-\log p_{b,y_b} + λ\,\mathrm{KL}(p_b ‖ q_b)\Big],   \qquad (R7)

    \frac{∂J}{∂z} = \frac{1}{B}\Big[(p - e_y) + λ\, p\,(\log p - \log q - \mathrm{KL})\Big],
    \qquad \frac{∂J}{∂z'} = \frac{λ}{B}(q - p),                                      \qquad (R8)

(the cross-entropy's partial ``p − e_y`` plus λ times R5, and λ times R4). Both readouts
get their R1 partials, and both passes run backward through the same parameters, so

.. math::

    \frac{∂J}{∂θ} = \mathrm{bwd}_{x}(R8_z) + \mathrm{bwd}_{x+δ}(R8_{z'}), \quad
    \frac{∂J}{∂x} = \frac{∂J}{∂x}\Big|_{clean} + \frac{∂J}{∂x}\Big|_{pert}, \quad
    \frac{∂J}{∂δ} = \frac{∂J}{∂x}\Big|_{pert},                                        \qquad (R9)

for every parameter θ and every initial state (shared by the two passes).

*The chain through δ.* δ_K depends on θ (and x) through the attack, so the total
derivative is ``dJ/dθ = ∂J/∂θ + (∂J/∂δ)(dδ_K/dθ)``. Every step of R6 is
``clip(δ_k + η·sign(·), −ε, ε)`` with ``δ_0`` a constant draw: a sign and a clip of
piecewise-constant arguments are piecewise constant, so by induction δ_K is piecewise
constant in θ and

.. math::

    \frac{dδ_K}{dθ} = 0 \quad\text{wherever no component of any } ∇_δ\mathrm{KL}(δ_k)
    \text{ changes sign},\qquad \frac{dJ}{dθ} = \frac{∂J}{∂θ}\ \ (R9).                \qquad (R10)

So R9, which treats δ as a constant exactly as standard adversarial training does, is
the *exact* gradient of the implemented objective ``θ ↦ J(θ, δ_K(θ))`` away from the
(measure-zero) sign switches. It is also the gradient of the ideal objective
``max_δ J(θ, δ)`` when the attack finds the unique maximiser (Danskin's theorem); the
only gap is how well K steps solve R6. (An ℓ2 attack with normalised gradient steps
has ``dδ/dθ ≠ 0``; dropping that term would be an approximation, so refsnn offers only
the ℓ∞ sign steps.) ``refsnn gradcheck --family robust`` checks R4, R5, R8, R9 along
both exact routes with δ as an input, and R10 by finite differences of the whole
procedure (attack included) on the smooth twin, skipping the entries whose stencil
changes a sign of the inner gradient (as the piecewise route skips spike flips).

*The attack used to evaluate robustness* is the same R6 iteration with the cross-entropy
``−log q_{y}`` in place of the KL (``attack(..., objective="ce")``): the labels are
known at evaluation time, and both the plainly and the robustly trained network are
attacked identically (notebook 15).

No domain constraint is applied to ``x + δ`` (refsnn's inputs are currents, not
pixel intensities in [0, 1]); a caller who needs one projects ``x + δ`` itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import log_softmax

from .._validate import check_instance, check_positive_int, float_array, real_scalar
from ..neurons.network import Network, _network_forward, network_backward, network_forward

__all__ = ["READOUTS", "logits", "readout_partials", "kl_divergence", "cross_entropy", "attack",
           "RobustLoss", "robust_loss", "perturbed", "accuracy", "train", "robustness_curve"]

READOUTS = ("mean", "count")


def _readout(readout):
    if readout not in READOUTS:
        raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
    return readout


def logits(traj, readout="mean"):
    """R1: the logits ``z`` (B, K) of the readout trajectory ``traj``."""
    if _readout(readout) == "mean":
        return traj.membrane.mean(axis=0)
    if not traj.config.spiking:
        raise ValueError("readout='count' reads spikes, but the readout layer is non-spiking; use readout='mean'")
    return traj.s.sum(axis=0)


def readout_partials(traj, g, readout="mean"):
    """R1 backwards: ``(ds, dv)`` direct partials (T, B, K) of the readout for ``g = ∂J/∂z``."""
    T = traj.v.shape[0]
    g = np.asarray(g, dtype=traj.v.dtype)
    full = np.broadcast_to(g, traj.v.shape)
    if _readout(readout) == "mean":
        return None, np.ascontiguousarray(full / T)
    return np.ascontiguousarray(full), None


def kl_divergence(z, z_adv):
    """R3–R5 per trial: ``(kl (B,), ∂KL/∂z (B, K), ∂KL/∂z' (B, K))`` with ``p = softmax(z)``
    and ``q = softmax(z_adv)``."""
    z = float_array("z", z)
    z_adv = float_array("z_adv", z_adv, z.shape)
    if z.ndim != 2:
        raise ValueError(f"z must be logits of shape (B, K), got shape {z.shape}")
    logp, logq = log_softmax(z, axis=1), log_softmax(z_adv, axis=1)
    p, q = np.exp(logp), np.exp(logq)
    kl = np.sum(p * (logp - logq), axis=1)
    dz = p * (logp - logq - kl[:, None])          # R5
    dz_adv = q - p                                # R4
    return kl, dz, dz_adv


def cross_entropy(z, labels):
    """``(−log p_y (B,), ∂/∂z = p − e_y (B, K))`` for ``p = softmax(z)``."""
    z = float_array("z", z)
    B, K = z.shape
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer) or labels.shape != (B,) or np.any(labels < 0) \
            or np.any(labels >= K):
        raise ValueError(f"labels must be integer class indices in [0, {K}) of shape ({B},)")
    logp = log_softmax(z, axis=1)
    dz = np.exp(logp)
    dz[np.arange(B), labels] -= 1.0
    return -logp[np.arange(B), labels], dz


def perturbed(x, delta):
    """``x + δ``; a δ of shape (B, M) is added at every step of x (T, B, M)."""
    return x + delta if delta.ndim == 3 else x + delta[None]


def _delta_grad(dx, delta):
    """∂/∂δ from ∂/∂x at x + δ (R9): the sum over time for a δ shared over steps."""
    return dx if delta.ndim == 3 else dx.sum(axis=0)


def _check_delta(delta, x, name="delta"):
    delta = float_array(name, delta)
    if delta.shape not in (x.shape, x.shape[1:]):
        raise ValueError(f"{name} has shape {delta.shape}, expected {x.shape} (one value per step) or "
                         f"{x.shape[1:]} (shared over the {x.shape[0]} steps)")
    return delta


def _check_common(net, x):
    check_instance("net", net, Network, "a refsnn.network.Network")
    x = float_array("x", x)
    if x.ndim != 3:
        raise ValueError(f"x must be an input current of shape (T, B, M), got shape {x.shape}")
    return x


def attack(net, params, x, eps, steps=5, step_size=None, objective="kl", labels=None, readout="mean",
           shared=True, start=1e-3, rng=0, state0=None, p_clean=None, return_signs=False):
    """R6: K = ``steps`` projected sign-gradient steps on δ in the ℓ∞ ball of radius ``eps``.

    ``objective="kl"`` maximises ``KL(p(x) ‖ q(x+δ))`` (the clean ``p`` is computed once,
    or taken from ``p_clean``); ``"ce"`` maximises ``−log q_y`` (``labels`` needed), the
    evaluation attack. ``step_size`` defaults to ``2.5 ε / K``. ``shared``: δ of shape
    (B, M), the same at every step; otherwise (T, B, M). ``δ_0`` is uniform in
    ``[−start·ε, start·ε]`` from ``rng`` (an int seed or a Generator); ``start=0`` is
    allowed for the CE attack, and refused for the KL attack, whose gradient is zero at
    δ = 0 (see the module docstring). With ``return_signs`` the sign patterns of every
    step's gradient are returned too (R10's condition). Returns δ.
    """
    x = _check_common(net, x)
    eps = real_scalar("eps", eps, 0.0)
    steps = check_positive_int("steps", steps, high=10**6)
    step_size = 2.5 * eps / steps if step_size is None else real_scalar("step_size", step_size, 0.0)
    start = real_scalar("start", start, 0.0, 1.0)
    if objective not in ("kl", "ce"):
        raise ValueError(f"objective must be 'kl' or 'ce', got {objective!r}")
    if objective == "ce" and labels is None:
        raise ValueError("objective='ce' needs labels (the class of every trial)")
    if objective == "kl" and start == 0.0 and eps > 0:
        raise ValueError("start must be > 0 for objective='kl': at δ = 0 the KL's gradient is exactly zero, "
                         "so the sign-gradient steps would never move")
    _readout(readout)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    shape = x.shape[1:] if shared else x.shape
    delta = gen.uniform(-start * eps, start * eps, shape).astype(x.dtype)
    if objective == "kl" and p_clean is None:
        z = logits(network_forward(net, params, x, state0)[-1], readout)
        p_clean = np.exp(log_softmax(z, axis=1))
    signs = []
    for _ in range(steps):
        trajs = network_forward(net, params, perturbed(x, delta), state0)
        z_adv = logits(trajs[-1], readout)
        q = np.exp(log_softmax(z_adv, axis=1))
        if objective == "kl":
            g = q - p_clean                                   # R4
        else:
            g = cross_entropy(z_adv, labels)[1]
        ds, dv = readout_partials(trajs[-1], g, readout)
        n = len(trajs)
        grads = network_backward(trajs, params, [None] * (n - 1) + [ds], [None] * (n - 1) + [dv], wrt=set())
        sg = np.sign(_delta_grad(grads.x, delta))
        signs.append(sg)
        delta = np.clip(delta + step_size * sg, -eps, eps)   # R6
    return (delta, signs) if return_signs else delta


@dataclass
class RobustLoss:
    """R7's value and its parts, and R9's gradients (δ held constant; exact by R10).

    ``params``, ``state0``: per-layer gradient dicts; ``x``: ∂J/∂x (both passes);
    ``delta``: ∂J/∂δ; ``trajs``, ``trajs_adv``: the two forward passes."""

    value: float
    ce: float
    kl: float
    params: list
    state0: list
    x: np.ndarray
    delta: np.ndarray
    trajs: list
    trajs_adv: list


def robust_loss(net, params, x, labels, delta, lam=1.0, readout="mean", state0=None, extra=None,
                _forward=None, _backward=True):
    """R7 at a given δ and its gradients R8–R9.

    ``extra(trajs, trajs_adv) -> (value, ds_clean, dv_clean, ds_adv, dv_adv)``, optional,
    adds further direct partials (per-layer lists; the gradient checks use it for a
    membrane probe). ``λ = 0`` is plain training (the perturbed pass then contributes
    zero)."""
    x = _check_common(net, x)
    delta = _check_delta(delta, x)
    lam = real_scalar("lam", lam, 0.0)
    forward = _forward or (lambda xx: network_forward(net, params, xx, state0))
    trajs, trajs_adv = forward(x), forward(perturbed(x, delta))
    z, z_adv = logits(trajs[-1], readout), logits(trajs_adv[-1], readout)
    ce, dce = cross_entropy(z, labels)
    kl, dkl, dkl_adv = kl_divergence(z, z_adv)
    B = z.shape[0]
    value = float(np.mean(ce + lam * kl))
    gz = (dce + lam * dkl) / B                              # R8, clean logits
    gz_adv = lam * dkl_adv / B                              # R8, perturbed logits
    n = len(trajs)
    ds, dv = [None] * n, [None] * n
    ds_a, dv_a = [None] * n, [None] * n
    if not _backward:           # (finite differences read the value only)
        if extra is not None:
            value += extra(trajs, trajs_adv)[0]
        return RobustLoss(value, float(np.mean(ce)), float(np.mean(kl)), None, None, None, None, trajs, trajs_adv)
    ds[-1], dv[-1] = readout_partials(trajs[-1], gz, readout)
    ds_a[-1], dv_a[-1] = readout_partials(trajs_adv[-1], gz_adv, readout)
    if extra is not None:
        e_val, e_ds, e_dv, e_dsa, e_dva = extra(trajs, trajs_adv)
        value += e_val
        ds, dv = [_add(a, b) for a, b in zip(ds, e_ds)], [_add(a, b) for a, b in zip(dv, e_dv)]
        ds_a, dv_a = [_add(a, b) for a, b in zip(ds_a, e_dsa)], [_add(a, b) for a, b in zip(dv_a, e_dva)]
    g = network_backward(trajs, params, ds, dv)
    g_adv = network_backward(trajs_adv, params, ds_a, dv_a)
    dparams = [{k: gc[k] + ga[k] for k in gc} for gc, ga in zip(g.params, g_adv.params)]      # R9
    dstate = [{k: gc[k] + ga[k] for k in gc} for gc, ga in zip(g.state0, g_adv.state0)]
    dx_adv = g_adv.x
    return RobustLoss(value, float(np.mean(ce)), float(np.mean(kl)), dparams, dstate, g.x + dx_adv,
                      _delta_grad(dx_adv, delta), trajs, trajs_adv)


def _add(a, b):
    if a is None:
        return b
    return a if b is None else a + b


def accuracy(net, params, x, labels, readout="mean", delta=None, state0=None):
    """Fraction of trials whose largest logit (R1) is the label, at ``x`` or ``x + δ``."""
    x = _check_common(net, x)
    xx = x if delta is None else perturbed(x, _check_delta(delta, x))
    z = logits(network_forward(net, params, xx, state0)[-1], readout)
    return float(np.mean(np.argmax(z, axis=1) == np.asarray(labels)))


def _trusted_forward(net, params, state0, frozen=None):
    """A forward pass for finite differences (arguments already checked), with optional
    held reset spikes."""
    return lambda xx: _network_forward(net, params, xx, state0, frozen, trusted=True)


def train(net, params, X, y, lam=0.0, eps=0.1, steps=3, epochs=10, lr=3e-3, batch_size=50, seed=0,
          readout="mean", keys=("W", "b"), state0=None):
    """Minimise R7 over the parameters named in ``keys`` with Adam; ``lam = 0`` is plain
    cross-entropy training (no attack is run). Each batch: R6's KL attack (ε, K = ``steps``,
    shared over time), then R8–R9 at the attack's δ. ``X`` (T, N, M), ``y`` (N,).
    Returns the trained parameters and the mean R7 value of every epoch."""
    from ..neurons.network import flat_params, unflat_params
    from ..training import optim
    X = _check_common(net, X)
    lam = real_scalar("lam", lam, 0.0)
    epochs = check_positive_int("epochs", epochs, high=10**6)
    rng = np.random.default_rng(seed)
    opt = optim.Adam(lr=lr)
    n = len(net.layers)
    flat = flat_params(params)
    train_keys = [k for k in flat if k.split(".", 1)[1] in keys]
    state = optim.init_state(opt, {k: flat[k] for k in train_keys})
    history = []
    for _ in range(epochs):
        total, count = 0.0, 0
        order = rng.permutation(X.shape[1])
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            xb, yb = np.ascontiguousarray(X[:, idx]), y[idx]
            params = unflat_params(flat, n)
            if lam > 0:
                delta = attack(net, params, xb, eps, steps, readout=readout, rng=rng, state0=state0)
            else:
                delta = np.zeros(xb.shape[1:], xb.dtype)
            res = robust_loss(net, params, xb, yb, delta, lam, readout, state0)
            g = flat_params(res.params)
            new, state = optim.step(opt, {k: flat[k] for k in train_keys}, {k: g[k] for k in train_keys}, state)
            flat.update(new)
            total += res.value * len(yb)
            count += len(yb)
        history.append(total / count)
    return unflat_params(flat, n), history


def robustness_curve(net, params, x, labels, eps_list, steps=10, readout="mean", state0=None):
    """Accuracy under the evaluation attack (R6 on the cross-entropy, K = ``steps``, from
    δ_0 = 0, shared over time) for every ε of ``eps_list``; ε = 0 is the clean accuracy."""
    out = []
    for eps in eps_list:
        eps = real_scalar("eps", eps, 0.0)
        d = attack(net, params, x, eps, steps, objective="ce", labels=labels, readout=readout, start=0.0,
                   state0=state0) if eps > 0 else None
        out.append(accuracy(net, params, x, labels, readout, d, state0))
    return np.array(out)
