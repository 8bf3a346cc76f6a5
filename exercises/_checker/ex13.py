"""Checks for exercise 13 (eligibility traces and the exact factorisation).

Reference: ``trace_step`` is compared with the recursion E3 of
``refsnn/learning/eprop.py`` for the attached soft reset without a synapse (written
out below, with each typical mistake as a switch). ``factorised_gradient`` is compared
with BPTT: refsnn's ``layer_backward`` gives the W gradient (G1) and its adjoints,
from which ``refsnn.learning.eprop.learning_signal`` builds the signal L_t that goes
with a trace carrying the reset and the adaptation. The factorisation
``Σ_t L_t e_t`` must then equal BPTT's gradient. While ``factorised_gradient`` is
checked, the learner's ``trace_step`` is replaced by the reference, so a mistake in
one function does not fail the other.
"""

import numpy as np

from refsnn.learning import eprop
from refsnn.lif import LIFConfig, layer_backward, layer_forward
from refsnn.surrogates import surrogate

from .common import RTOL_REF, Fail, call, compare, diagnose, locate, nonfinite_hint, to_array, unpack

B, N, M, T = 2, 3, 4, 12
SG = surrogate("sigmoid", 4.0)
AXES = "bji"


def _params(rng):
    return dict(alpha=rng.uniform(0.6, 0.95, N), beta=rng.uniform(0.15, 0.45, N),
                gamma=rng.uniform(0.5, 1.5, N), rho=rng.uniform(0.6, 0.95, N),
                kappa=rng.uniform(0.3, 1.2, N), theta=rng.uniform(0.5, 1.2, N))


def _step(ev, eu, x, sgp, sgt, p, drop=(), flip=(), sg_now=False, new_v_in_u=False, e_old=False,
          e_prev_sg=False, unit_leak=False):
    """E3 for one step, with one typical mistake switched on (none: the reference)."""
    c = {k: 0.0 if k in drop else -1.0 if k in flip else 1.0 for k in ("alpha", "x", "beta", "gamma", "rho", "kappa")}
    col = lambda k: p[k][:, None]                                            # noqa: E731
    q = (sgt if sg_now else sgp)[..., None] * ev
    new_v = (c["alpha"] * (1.0 if unit_leak else col("alpha")) * ev + c["x"] * x[:, None, :] - c["beta"] * col("beta") * eu
             - c["gamma"] * col("gamma") * q)
    src = (sgt if sg_now else sgp)[..., None] * new_v if new_v_in_u else q
    new_u = c["rho"] * col("rho") * eu + c["kappa"] * col("kappa") * src
    e = (sgp if e_prev_sg else sgt)[..., None] * (ev if e_old else new_v)
    return new_v, new_u, e


_STEP_MUTANTS = [
    ("the leak: ε^v_t starts with α ε^v_{t−1} (the membrane's own decay, ∂v_t/∂v_{t−1})", dict(drop=("alpha",))),
    ("the leak: ε^v_{t−1} decays by the membrane's factor, α ε^v_{t−1}, not ε^v_{t−1}", dict(unit_leak=True)),
    ("the input term: ε^v_t gains x_{i,t} (∂v_t/∂W_ji = x_{i,t})", dict(drop=("x",))),
    ("the adaptation component: ε^v_t has −β ε^u_{t−1} (u_{t−1} enters v_t with −β)", dict(drop=("beta",))),
    ("the sign of the adaptation component: it is −β ε^u_{t−1}", dict(flip=("beta",))),
    ("the reset component: ε^v_t has −γ σ'_{t−1} ε^v_{t−1} (the attached reset −γ s_{t−1} depends on "
     "v_{t−1} through the spike)", dict(drop=("gamma",))),
    ("the sign of the reset component: it is −γ σ'_{t−1} ε^v_{t−1}", dict(flip=("gamma",))),
    ("the adaptation's leak: ε^u_t starts with ρ ε^u_{t−1}", dict(drop=("rho",))),
    ("the adaptation's source: ε^u_t gains κ σ'_{t−1} ε^v_{t−1} (u_t = ρ u_{t−1} + κ s_{t−1})",
     dict(drop=("kappa",))),
    ("the time index of σ' in the reset and adaptation terms: the spike that resets v_t and feeds u_t is "
     "s_{t−1}, so its derivative is σ'_{t−1} = sg_prev, not sg_t", dict(sg_now=True)),
    ("ε^u_t must use the previous ε^v_{t−1}, not the ε^v_t just computed: update both from the old values",
     dict(new_v_in_u=True)),
    ("the trace is e_t = σ'_t ε^v_t with the *new* ε^v_t", dict(e_old=True)),
    ("the trace is e_t = σ'_t ε^v_t: σ' of the current step (sg_t)", dict(e_prev_sg=True)),
]


def _step_data(seed):
    rng = np.random.default_rng(seed)
    p = _params(rng)
    ev = rng.normal(0, 1, (B, N, M))
    eu = rng.normal(0, 1, (B, N, M))
    x = rng.normal(0.5, 1, (B, M))
    sgp = rng.uniform(0.1, 1.0, (B, N))
    sgt = rng.uniform(0.1, 1.0, (B, N))
    return ev, eu, x, sgp, sgt, p


def check_trace_step(fn):
    worst = 0.0
    names = ("eps_v", "eps_u", "e")
    for seed in (0, 1, 2):
        args = _step_data(seed)
        out = unpack(call(fn, *args), list(names))
        got = {k: to_array(v, k, (B, N, M), "(B, N, M)") for k, v in zip(names, out)}
        want = dict(zip(names, _step(*args)))
        for k in names:
            h = nonfinite_hint(got[k], k)
            if h:
                raise Fail(h)
        errs = {k: compare(got[k], want[k]) for k in names}
        name, (err, idx) = max(errs.items(), key=lambda kv: kv[1][0])
        if err > RTOL_REF:
            hint = diagnose(got, [(h, (lambda kw=kw: dict(zip(names, _step(*args, **kw)))))
                                  for h, kw in _STEP_MUTANTS])
            if hint is None:
                hint = (f"{name} is wrong; ε^v_t = α ε^v_{{t−1}} + x_t − β ε^u_{{t−1}} − γ σ'_{{t−1}} ε^v_{{t−1}}, "
                        f"ε^u_t = ρ ε^u_{{t−1}} + κ σ'_{{t−1}} ε^v_{{t−1}}, e_t = σ'_t ε^v_t")
            else:
                hint = "check " + hint
            raise Fail(hint, err, locate(name, idx, AXES))
        worst = max(worst, err)
    return worst, ""


# ---------------------------------------------------------------------------


def _layer(seed=5):
    rng = np.random.default_rng(seed)
    p = _params(rng)
    cfg = LIFConfig(M, N, surrogate=SG, adaptation=True)            # soft reset, attached, no synapse
    P = dict(p, W=rng.normal(0, 2.0, (N, M)) / np.sqrt(M), b=np.full(N, 0.3))
    x = rng.normal(0.6, 1.0, (T, B, M))
    state0 = {"v": rng.normal(0.3, 0.5, (B, N)), "u": rng.normal(0.0, 0.4, (B, N))}
    traj = layer_forward(cfg, P, x, state0)
    a_s = rng.normal(0, 1, (T, B, N))
    g = layer_backward(traj, P, a_s)
    signal = eprop.learning_signal(traj, P, g, eprop.OWN_PATHS)
    return p, x, traj, state0, signal, g.params["W"]


def _factor_variant(x, v, v0, signal, p, step=_step, freeze_sg=False, shift=0, no_sg=False, **kw):
    ev = np.zeros((B, N, M))
    eu = np.zeros((B, N, M))
    grad = np.zeros((N, M))
    sgp = SG.derivative(v0 - p["theta"])
    for t in range(T):
        sgt = SG.derivative(v[t] - p["theta"])
        ev, eu, e = step(ev, eu, x[t], sgp, sgt, p, **kw)
        ts = t + shift
        if 0 <= ts < T:
            grad += np.einsum("bj,bji->ji", signal[ts], ev if no_sg else e)
        if not freeze_sg:
            sgp = sgt
    return {"grad": grad}


_FACTOR_MUTANTS = [
    ("sg_prev must advance every step: after step t it is σ'(v_t − θ)", dict(freeze_sg=True)),
    ("pair L_t with e_t of the same step (not L_{t+1})", dict(shift=1)),
    ("pair L_t with e_t of the same step (not L_{t−1})", dict(shift=-1)),
    ("the gradient sums L_t · e_t, the trace (with σ'_t), not L_t · ε^v_t", dict(no_sg=True)),
]


def make_check_factorised(module):
    def check_factorised_gradient(fn):
        p, x, traj, state0, signal, want = _layer()
        if traj.s.sum() == 0:
            raise RuntimeError("checker problem has no spikes")
        saved = getattr(module, "trace_step", None)
        if module is not None:
            module.trace_step = lambda *a: _step(*a)        # isolate from the learner's trace_step
        try:
            out = call(fn, x, traj.v, state0["v"], signal, p, SG)
        finally:
            if module is not None:
                module.trace_step = saved
        got = to_array(out, "the gradient", (N, M), "(N, M)")
        h = nonfinite_hint(got, "the gradient")
        if h:
            raise Fail(h)
        err, idx = compare(got, want)
        if err > RTOL_REF:
            hint = diagnose({"grad": got}, [(h, (lambda kw=kw: _factor_variant(x, traj.v, state0["v"], signal,
                                                                                 p, **kw)))
                                            for h, kw in _FACTOR_MUTANTS])
            if hint is None:
                hint = diagnose({"grad": got}, [(h, (lambda kw=kw: _factor_variant(x, traj.v, state0["v"], signal,
                                                                                     p, **kw)))
                                                for h, kw in _STEP_MUTANTS])
                hint = None if hint is None else "the trace inside the loop: check " + hint
            if hint is None:
                hint = ("the factorisation Σ_t Σ_b L_t e_t does not equal BPTT's gradient: start from "
                        "ε = 0, σ'_{−1} = σ'(v_init − θ), call trace_step once per step and add "
                        "einsum('bj,bji->ji', L_t, e_t)")
            raise Fail(hint, err, locate("dL/dW", idx, "ji"))
        return err, ""
    return check_factorised_gradient


def checks(module):
    """The checks; ``factorised_gradient``'s swaps in the reference ``trace_step``."""
    return [("trace_step", check_trace_step), ("factorised_gradient", make_check_factorised(module))]


CHECKS = checks(None)
