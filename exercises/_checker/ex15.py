"""Checks for exercise 15 (the min-max robustness objective, seed 002 §9).

Each function is checked on its own, with inputs from refsnn, so that one wrong
function cannot make another fail:

* ``kl_partials`` against :func:`refsnn.learning.robust.kl_divergence` (R3–R5), and the
  partials against central differences of the learner's own KL;
* ``attack_step`` against R6's step;
* ``outer_logit_partials`` against R8 built from refsnn's KL and cross-entropy;
* ``robust_gradient`` against :func:`refsnn.learning.robust.robust_loss` (R9) on a small
  network with a non-spiking readout, given refsnn's logit partials.

A wrong answer is diagnosed by re-computing the reference with one typical mistake
and naming the mistake whose output matches.
"""

import numpy as np
from scipy.special import log_softmax

from refsnn import LIFConfig, Network, network_backward, network_forward, network_init, surrogate
from refsnn.gradcheck import check_gradient
from refsnn.learning import robust as R

from .common import (FD_EPS, FD_ORDER, FLOOR, RTOL_FD, RTOL_REF, Fail, call, compare, diagnose, locate,
                     nonfinite_hint, to_array, unpack)

B, K, T, M, H = 4, 3, 5, 3, 6


def _logits(seed=15):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 1.5, (B, K)), rng.normal(0, 1.5, (B, K)), rng.integers(0, K, B)


def _kl_variants(z, za):
    logp, logq = log_softmax(z, axis=1), log_softmax(za, axis=1)
    p, q = np.exp(logp), np.exp(logq)
    kl = np.sum(p * (logp - logq), axis=1)
    r = (logp - logq)
    return [
        ("∂KL/∂z is missing −KL: p_k(log p_k − log q_k − KL); it is what remains of −p_k Σ_j p_j(log p_j − log q_j) "
         "from ∂p_j/∂z_k = p_j([j=k] − p_k)", {"dz": p * r}),
        ("∂KL/∂z keeps the +1 of ∂KL/∂p_j = log p_j − log q_j + 1; it cancels, since Σ_j ∂p_j/∂z_k = 0: "
         "the partial is p_k(log p_k − log q_k − KL)", {"dz": p * (r + 1)}),
        ("∂KL/∂z has the wrong sign: it is +p_k(log p_k − log q_k − KL)", {"dz": -p * (r - kl[:, None])}),
        ("∂KL/∂z' has the wrong sign: it is q − p (the perturbed softmax minus the clean one)", {"dz_adv": p - q}),
        ("∂KL/∂z' is q − p with q = softmax(z'), the perturbed softmax (not p(log p − log q − KL))",
         {"dz_adv": p * (r - kl[:, None])}),
        ("the KL is Σ_k p_k (log p_k − log q_k), with the clean p in front (KL(p‖q), not KL(q‖p))",
         {"kl": np.sum(q * (logq - logp), axis=1)}),
    ]


def check_kl_partials(fn):
    z, za, _ = _logits()
    ref = dict(zip(("kl", "dz", "dz_adv"), R.kl_divergence(z, za)))
    out = unpack(call(fn, z, za), ["kl", "dz", "dz_adv"])
    got = {"kl": to_array(out[0], "kl", (B,), "(B,)"), "dz": to_array(out[1], "dz", (B, K), "(B, K)"),
           "dz_adv": to_array(out[2], "dz_adv", (B, K), "(B, K)")}
    worst = 0.0
    for k in ("kl", "dz_adv", "dz"):
        err, idx = compare(got[k], ref[k])
        if err > RTOL_REF:
            hint = nonfinite_hint(got[k], k) or diagnose(
                {k: got[k]}, [(h, lambda d=d, k=k: {k: d[k]}) for h, d in _kl_variants(z, za) if k in d])
            raise Fail(hint or {"kl": "check KL = Σ_k p_k (log p_k − log q_k)",
                                "dz_adv": "check ∂KL/∂z' = q − p (R4)",
                                "dz": "check ∂KL/∂z = p_k(log p_k − log q_k − KL) (R5)"}[k], err, locate(k, idx, "bk"))
        worst = max(worst, err)
    for name, arg in (("dz", 0), ("dz_adv", 1)):
        def f(a, arg=arg):
            args = [z, za]
            args[arg] = a
            return float(np.sum(call(fn, *args)[0]))
        fd = check_gradient(f, (z, za)[arg].copy(), got[name], name=name, eps=FD_EPS, rtol=RTOL_FD,
                            floor=FLOOR, order=FD_ORDER)
        if not fd.passed:
            raise Fail(f"{name} disagrees with central differences of your KL ({fd})", fd.max_rel_error,
                       locate(name, fd.worst_index))
    return worst, ""


def check_attack_step(fn):
    rng = np.random.default_rng(7)
    eps, eta = 0.1, 0.04
    delta = rng.uniform(-eps, eps, (B, M))
    delta[0, 0], delta[1, 1] = 0.09, -0.08         # steps that the projection must clip
    grad = rng.normal(size=(B, M))
    grad[0, 0], grad[1, 1] = 1.0, -1.0
    ref = np.clip(delta + eta * np.sign(grad), -eps, eps)
    got = to_array(call(fn, delta, grad, eps, eta), "delta", (B, M), "(B, M)")
    err, idx = compare(got, ref)
    if err > RTOL_REF:
        hint = diagnose({"d": got}, [
            ("the step must be projected back into the ball: clip(δ + η sign(∇), −ε, ε)",
             lambda: {"d": delta + eta * np.sign(grad)}),
            ("the step follows the sign of the gradient, η sign(∇), not the gradient itself",
             lambda: {"d": np.clip(delta + eta * grad, -eps, eps)}),
            ("the attack ascends the objective (it maximises the KL): δ + η sign(∇), not δ − η sign(∇)",
             lambda: {"d": np.clip(delta - eta * np.sign(grad), -eps, eps)}),
            ("the step adds to the current δ: clip(δ + η sign(∇)), not clip(η sign(∇))",
             lambda: {"d": np.clip(eta * np.sign(grad), -eps, eps)}),
        ])
        raise Fail(hint or "check δ ← clip(δ + η sign(∇), −ε, ε) (R6)", err, locate("delta", idx, "bm"))
    return err, ""


def _outer_variants(z, za, y, lam):
    logp, logq = log_softmax(z, axis=1), log_softmax(za, axis=1)
    p, q = np.exp(logp), np.exp(logq)
    kl = np.sum(p * (logp - logq), axis=1)
    e = np.eye(K)[y]
    dkl = p * (logp - logq - kl[:, None])
    gz, ga = ((p - e) + lam * dkl) / B, lam * (q - p) / B
    return [
        ("the partials are means over the trials: divide by B", {"gz": gz * B, "gz_adv": ga * B}),
        ("∂J/∂z' is missing λ: the KL term is weighted by λ in both arguments", {"gz_adv": ga / lam}),
        ("∂J/∂z is missing the KL term: the clean logits enter the KL too, λ p(log p − log q − KL)/B",
         {"gz": (p - e) / B}),
        ("∂J/∂z is missing the cross-entropy's p − e_y", {"gz": lam * dkl / B}),
        ("the cross-entropy's partial is p − e_y, not e_y − p", {"gz": ((e - p) + lam * dkl) / B}),
        ("∂J/∂z' is λ(q − p)/B: the KL's partial in the perturbed logits is q − p", {"gz_adv": -ga}),
    ]


def check_outer_logit_partials(fn):
    z, za, y = _logits(16)
    lam = 1.7
    ce, dce = R.cross_entropy(z, y)
    kl, dkl, dkla = R.kl_divergence(z, za)
    ref = {"gz": (dce + lam * dkl) / B, "gz_adv": lam * dkla / B}
    value, gz, ga = unpack(call(fn, z, za, y, lam), ["value", "gz", "gz_adv"])
    got = {"gz": to_array(gz, "gz", (B, K), "(B, K)"), "gz_adv": to_array(ga, "gz_adv", (B, K), "(B, K)")}
    worst = 0.0
    for k in ("gz_adv", "gz"):
        err, idx = compare(got[k], ref[k])
        if err > RTOL_REF:
            hint = nonfinite_hint(got[k], k) or diagnose(
                {k: got[k]}, [(h, lambda d=d, k=k: {k: d[k]}) for h, d in _outer_variants(z, za, y, lam) if k in d])
            raise Fail(hint or "check R8", err, locate(k, idx, "bk"))
        worst = max(worst, err)
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise Fail(f"value must be a number, got {type(value).__name__}") from None
    want = float(np.mean(ce + lam * kl))
    v_err = compare(np.array(value), np.array(want))[0]
    if v_err > RTOL_REF:
        hint = ("the value is the mean over the trials, (1/B) Σ_b [...]" if abs(value - B * want) < 1e-9 * B * abs(want)
                else "check J = (1/B) Σ_b [−log p_{y_b} + λ KL(p_b ‖ q_b)] (R7)")
        raise Fail(hint, v_err, "value")
    return max(worst, v_err), ""


def _problem(seed=15):
    rng = np.random.default_rng(seed)
    sg = surrogate("sigmoid", 4.0)
    net = Network((LIFConfig(M, H, surrogate=sg, recurrent=True), LIFConfig(H, K, surrogate=sg, reset="none",
                                                                            spiking=False)))
    params = network_init(net, rng, np.float64, [dict(w_scale=2.5, b=0.3), dict(w_scale=2.0)])
    x = rng.normal(0.5, 1.0, (T, B, M))
    delta = rng.uniform(-0.3, 0.3, (B, M))
    labels, lam = rng.integers(0, K, B), 1.3
    z = R.logits(network_forward(net, params, x)[-1])
    za = R.logits(network_forward(net, params, x + delta[None])[-1])
    _, dce = R.cross_entropy(z, labels)
    _, dkl, dkla = R.kl_divergence(z, za)
    ref = R.robust_loss(net, params, x, labels, delta, lam)        # refsnn's R9 at R8's partials
    return net, params, x, delta, (dce + lam * dkl) / B, lam * dkla / B, ref


def _grad_variants(net, params, x, delta, gz, ga):
    def run(gz_, ga_, T_=T):
        tr, tra = network_forward(net, params, x), network_forward(net, params, x + delta[None])
        g = network_backward(tr, params, dv=[None, np.broadcast_to(gz_ / T_, tr[-1].v.shape)])
        gad = network_backward(tra, params, dv=[None, np.broadcast_to(ga_ / T_, tra[-1].v.shape)])
        return g, gad

    def flat(dp):
        return {f"{l}.{k}": v for l, p in enumerate(dp) for k, v in p.items()}

    g, ga_ = run(gz, ga)
    g1, ga1 = run(gz, ga, 1)
    clean_only = flat(g.params)
    no_T = flat([{k: a[k] + b[k] for k in a} for a, b in zip(g1.params, ga1.params)])
    return g, ga_, [
        ("the perturbed pass depends on θ too: add its backward pass, ∂J/∂θ = bwd_x(∂J/∂z) + bwd_{x+δ}(∂J/∂z') (R9)",
         {"params": clean_only}),
        ("the readout's direct partial is dv_t = g/T at every step (z is the mean over T steps, R1)",
         {"params": no_T}),
    ], flat


def check_robust_gradient(fn):
    net, params, x, delta, gz, ga, ref = _problem()
    g, gad, variants, flat = _grad_variants(net, params, x, delta, gz, ga)
    ref_params = flat(ref.params)
    out = unpack(call(fn, net, params, x, delta, gz, ga), ["dparams", "dx", "ddelta"])
    dparams, dx, dd = out
    if not isinstance(dparams, (list, tuple)) or len(dparams) != len(params) or \
            not all(isinstance(d, dict) for d in dparams):
        raise Fail(f"dparams must be a list of {len(params)} dicts (one per layer), like params")
    got = {}
    for l, (d, p) in enumerate(zip(dparams, params)):
        missing = sorted(set(p) - set(d))
        if missing:
            raise Fail(f"dparams[{l}] is missing {missing}: return the gradient of every parameter")
        for k in p:
            got[f"{l}.{k}"] = to_array(d[k], f"dparams[{l}][{k!r}]", np.shape(p[k]))
    worst = 0.0
    for k, want in ref_params.items():
        err, idx = compare(got[k], want)
        if err > RTOL_REF:
            hint = nonfinite_hint(got[k], k) or next(
                (h for h, d in variants if all(compare(got[kk], d["params"][kk])[0] <= RTOL_REF for kk in got)), None)
            raise Fail(hint or "check R9: the sum of the two backward passes", err, locate(f"dparams.{k}", idx))
        worst = max(worst, err)
    dx = to_array(dx, "dx", x.shape, "(T, B, M)")
    err, idx = compare(dx, ref.x)
    if err > RTOL_REF:
        hint = ("x enters both passes (x and x + δ): ∂J/∂x is the sum of both input gradients"
                if compare(dx, g.x)[0] <= RTOL_REF or compare(dx, gad.x)[0] <= RTOL_REF else "check ∂J/∂x (R9)")
        raise Fail(hint, err, locate("dx", idx, "tbm"))
    worst = max(worst, err)
    if np.shape(dd) == x.shape:
        raise Fail("ddelta has shape (T, B, M): δ is shared over the steps, so ∂J/∂δ is the sum over t of the "
                   "perturbed pass's input gradient, shape (B, M)")
    dd = to_array(dd, "ddelta", (B, M), "(B, M)")
    err, idx = compare(dd, ref.delta)
    if err > RTOL_REF:
        hint = ("∂J/∂δ comes from the perturbed pass only (δ does not enter the clean one)"
                if compare(dd, (g.x + gad.x).sum(axis=0))[0] <= RTOL_REF else
                "∂J/∂δ is the sum over t of the perturbed pass's ∂/∂x" if compare(dd, gad.x.mean(axis=0))[0] <= RTOL_REF
                else "check ∂J/∂δ = Σ_t ∂J/∂x|_{x+δ} (R9)")
        raise Fail(hint, err, locate("ddelta", idx, "bm"))
    return max(worst, err), ""


CHECKS = [
    ("kl_partials", check_kl_partials),
    ("attack_step", check_attack_step),
    ("outer_logit_partials", check_outer_logit_partials),
    ("robust_gradient", check_robust_gradient),
]
