"""Checks for exercise 00 (one training step, written by the learner).

References, all composed from refsnn: ``losses.spike_count_cross_entropy`` for the
loss partial; for the training step, ``network_forward`` → the partial →
``network_backward`` → ``optim.clip_by_global_norm`` on the trained entries →
``optim.step`` (Adam); for the gradients, ``network_backward``.

* ``count_ce_partial`` runs on a readout's spikes, once with counts large enough
  that an unshifted ``exp`` overflows.
* ``train_step`` trains a recurrent adaptive network for a few steps from the same
  start with the learner's step and with the reference step, and compares every
  parameter (trained or not) and every optimiser buffer after every step. While it is
  checked, the learner's ``count_ce_partial`` is replaced by the reference, so a
  mistake there does not fail this check too.
* ``gradients_with`` is checked twice: (a) with the reference B1–B3 loop as
  ``lif_backward``, its gradients must equal ``network_backward``'s; (b) with the
  learner's own ``lif_backward`` from exercise 03 (``ex03_bptt_by_hand.py`` next to the
  checked file, else ``exercises/ex03_bptt_by_hand.py``), a network is trained with it
  and with refsnn's backward pass for :data:`N_TRAIN` steps; the parameters must agree to
  :data:`RTOL_TRAIN` after every step, and otherwise the first step at which they part is
  reported.
"""

import functools
from pathlib import Path

import numpy as np

from refsnn import LIFConfig, Network, data, losses, network_backward, network_forward, network_init, optim
from refsnn.lif import Trajectory
from refsnn.network import flat_params, unflat_params
from refsnn.surrogates import surrogate

from .common import RTOL_REF, Fail, call, compare, diagnose, locate, nonfinite_hint, to_array, unpack
from .ex03 import _backward as _ex03_reference

TRAINED = ("W", "R", "b")
N_TRAIN = 6
# Training with a correct lif_backward differs from refsnn's only by summation order.
RTOL_TRAIN = 1e-10
SG = surrogate("sigmoid", 5.0)
EXERCISES = Path(__file__).resolve().parents[1]


def _batches(seed=0, n_steps=20, n_in=8, n_classes=3, batch=8, n=N_TRAIN):
    X, y = data.randman(n_classes=n_classes, n_units=n_in, n_steps=n_steps, n_samples_per_class=20,
                        seed=seed, dtype=np.float64)
    return list(data.batches(X, y, batch, rng=seed))[:n]


def _recurrent_net(n_in=8, n_classes=3):
    hidden = LIFConfig(n_in, 16, surrogate=SG, recurrent=True, adaptation=True, synapse=True)
    net = Network((hidden, LIFConfig(16, n_classes, surrogate=SG)))
    params = network_init(net, 1, per_layer=[dict(alpha=0.95, lam=0.8, rho=0.98, beta=0.05, w_scale=3.0),
                                             dict(alpha=0.95, w_scale=3.0, b=0.04)])
    return net, params


def _ex03_net(n_in=8, n_classes=3):
    """Exercise 03's neuron as the hidden layer: adaptive, attached soft reset, H(0) = 1."""
    hidden = LIFConfig(n_in, 16, surrogate=SG, adaptation=True)
    net = Network((hidden, LIFConfig(16, n_classes, surrogate=SG)))
    params = network_init(net, 2, per_layer=[dict(alpha=0.9, beta=0.1, rho=0.95, gamma=0.8, w_scale=3.0),
                                             dict(alpha=0.95, w_scale=3.0, b=0.04)])
    return net, params


def _trained(flat):
    return {k: v for k, v in flat.items() if k.split(".")[1] in TRAINED}


# ---------------------------------------------------------------------------
# count_ce_partial
# ---------------------------------------------------------------------------


def _reference_partial(s, labels):
    T, B, K = s.shape
    cfg = LIFConfig(1, K)
    traj = Trajectory(cfg, np.zeros((T, B, 1)), np.zeros_like(s), s, None, None,
                      {"v": np.zeros((B, K))}, np.zeros((B, K)), None)
    l = losses.spike_count_cross_entropy(traj, labels)
    return l.value, np.array(l.ds)


def _partial_cases():
    rng = np.random.default_rng(5)
    small = (rng.random((12, 5, 4)) < 0.3).astype(float)
    big = np.ones((900, 3, 4))                      # counts of 900: exp(900) overflows
    big[:, :, 1] = rng.random((900, 3)) < 0.5
    return [(small, rng.integers(0, 4, 5)), (big, np.array([1, 0, 3]))]


def _partial_mutants(s, labels):
    T, B, K = s.shape
    value, a_s = _reference_partial(s, labels)
    onehot = np.broadcast_to(np.eye(K)[labels], (T, B, K))
    last = np.zeros_like(a_s)
    last[-1] = a_s[-1]
    p = a_s * B + onehot
    return [
        ("a_s is missing the 1/B of the batch mean: (p − onehot(y))/B", lambda: {"a_s": a_s * B}),
        ("the sign is wrong: ∂L/∂n = (p − onehot(y))/B, not (onehot(y) − p)/B", lambda: {"a_s": -a_s}),
        ("subtract onehot(y): ∂(−n_{b,y_b})/∂n_{b,k} = −[k = y_b], so a_s = (p − onehot(y))/B",
         lambda: {"a_s": p / B}),
        ("a_s belongs at every step: n = Σ_t s_t, so ∂n/∂s_t = 1 for every t, not only the last",
         lambda: {"a_s": last}),
        ("do not divide by T: n is a sum over steps, not a mean, so ∂n/∂s_t = 1",
         lambda: {"a_s": a_s / T}),
    ]


def check_count_ce_partial(fn):
    worst, where = 0.0, ""
    for case, (s, labels) in enumerate(_partial_cases()):
        T, B, K = s.shape
        want_value, want = _reference_partial(s, labels)
        out = unpack(call(fn, s, labels), ("value", "a_s"))
        try:
            value = float(out[0])
        except (TypeError, ValueError):
            raise Fail(f"value must be a number, got {type(out[0]).__name__}") from None
        a_s = to_array(out[1], "a_s", (T, B, K), "(T, B, K)")
        bad = nonfinite_hint(a_s, "a_s") or (None if np.isfinite(value) else f"value is {value}")
        if bad:
            raise Fail(f"{bad} with spike counts up to {int(s.sum(0).max())}: exp(n) overflows; subtract "
                       "the largest count of each row before exponentiating (softmax is unchanged by a shift)")
        err, idx = compare(a_s, want)
        if err > RTOL_REF:
            hint = diagnose({"a_s": a_s}, _partial_mutants(s, labels)) or \
                "check (0.3): a_s_t = (softmax(n) − onehot(y))/B with n = Σ_t s_t, the same at every t"
            raise Fail(hint, err, locate("a_s", idx, "tbk"))
        verr = abs(value - want_value) / max(1.0, abs(want_value))
        if verr > RTOL_REF:
            if np.isclose(value, want_value * B, rtol=1e-9):
                hint = "the value sums over the batch: (0.1) averages, −(1/B) Σ_b log p_{b,y_b}"
            elif np.isclose(value, -want_value, rtol=1e-9):
                hint = "the value has the wrong sign: L = −(1/B) Σ_b log p_{b,y_b} ≥ 0"
            else:
                hint = f"check (0.1): the value is {value:.6g}, expected {want_value:.6g}"
            raise Fail(hint, verr, "value")
        if err > worst or not where:
            worst, where = max(err, verr), f"case {case}"
    return worst, ""


# ---------------------------------------------------------------------------
# train_step
# ---------------------------------------------------------------------------


def _reference_step(net, params, opt, state, x, labels, max_norm, gradients=None, clip=True,
                    clip_all=False, negate=False, sgd=False):
    """The reference step; the keywords switch on one typical mistake."""
    trajs = network_forward(net, params, x)
    value, a_s = _reference_partial(trajs[-1].s, labels)
    ds = [None] * (len(params) - 1) + [a_s]
    grads = network_backward(trajs, params, ds=ds).params if gradients is None else gradients(trajs, params, a_s)
    flat_g = flat_params(grads)
    if clip_all:
        flat_g, _ = optim.clip_by_global_norm(flat_g, max_norm)
    flat_g = _trained(flat_g)
    if clip and not clip_all:
        flat_g, _ = optim.clip_by_global_norm(flat_g, max_norm)
    if negate:
        flat_g = {k: -v for k, v in flat_g.items()}
    o = optim.SGD(lr=opt.lr) if sgd else opt
    new, state = optim.step(o, _trained(flat_params(params)), flat_g, state if not sgd else
                            optim.init_state(o, _trained(flat_params(params))))
    return unflat_params({**flat_params(params), **new}, len(params)), state, value


_STEP_MUTANTS = [
    ("the gradients are not clipped: call optim.clip_by_global_norm(grads, max_norm) before optim.step",
     dict(clip=False)),
    ("clip the *trained* gradients only: the global norm C1 runs over the W, R and b entries that "
     "the optimiser updates, not over every parameter", dict(clip_all=True)),
    ("the step goes uphill: optim.step subtracts the gradient itself, so pass ∂L/∂p, not −∂L/∂p",
     dict(negate=True)),
    ("this is plain SGD: use optim.step(opt, ...) with the Adam optimiser and state you were given",
     dict(sgd=True)),
]


def _run(step, net, params, opt, batches, max_norm, **kw):
    """Parameters (flat) and states after each step, and the loss values."""
    state = optim.init_state(opt, _trained(flat_params(params)))
    out = []
    for x, labels in batches:
        params, state, value = step(net, params, opt, state, x, labels, max_norm, **kw)
        out.append((flat_params(params), dict(state), float(value)))
    return out


def _first_difference(got, want, rtol):
    """``(step, key, err, index)`` of the first step at which a parameter or buffer differs."""
    worst = 0.0
    for k, ((gp, gs, gv), (wp, ws, wv)) in enumerate(zip(got, want), 1):
        for name, g, w in [(n, gp.get(n), wp[n]) for n in wp] + [(n, gs.get(n), ws[n]) for n in ws if n != "t"]:
            if g is None:
                raise Fail(f"after step {k} the {'parameter' if name in wp else 'optimiser state'} {name!r} is missing")
            g = np.asarray(g, dtype=np.float64)
            if g.shape != np.shape(w):
                raise Fail(f"after step {k}, {name} has shape {g.shape}, expected {np.shape(w)}")
            err, idx = compare(g, w)
            if err > rtol or not np.all(np.isfinite(g)):
                return k, name, err, idx, worst
            worst = max(worst, err)
        verr = abs(gv - wv) / max(1.0, abs(wv))
        if verr > rtol:
            return k, "loss value", verr, (), worst
        worst = max(worst, verr)
    return None, None, 0.0, (), worst


def make_check_train_step(module):
    def check_train_step(fn):
        net, params = _recurrent_net()
        batches = _batches()
        opt = optim.Adam(lr=0.01)
        max_norm = 0.5
        want = _run(_reference_step, net, params, opt, batches, max_norm)
        original = getattr(module, "count_ce_partial", None) if module is not None else None
        if module is not None:
            module.count_ce_partial = _reference_partial     # isolate from count_ce_partial's check
        try:
            def learner(net_, params_, opt_, state_, x_, labels_, max_norm_):
                out = unpack(call(fn, net_, params_, opt_, state_, x_, labels_, max_norm_),
                             ("new_params", "new_opt_state", "value"))
                if not isinstance(out[0], (list, tuple)) or len(out[0]) != len(params_):
                    raise Fail(f"new_params must be a list of {len(params_)} per-layer dicts, "
                               f"got {type(out[0]).__name__}")
                if not isinstance(out[1], dict):
                    raise Fail(f"new_opt_state must be the dict that optim.step returns, got {type(out[1]).__name__}")
                return list(out[0]), out[1], out[2]
            got = _run(learner, net, params, opt, batches, max_norm)
        finally:
            if module is not None and original is not None:
                module.count_ce_partial = original
        k, name, err, idx, worst = _first_difference(got, want, RTOL_REF)
        if k is None:
            return worst, ""
        hint = None
        for h, kw in _STEP_MUTANTS:
            try:
                mutant = _run(_reference_step, net, params, opt, batches, max_norm, **kw)
            except Exception:
                continue
            if _first_difference(got, mutant, RTOL_REF)[0] is None:
                hint = h
                break
        if hint is None and name.split(".")[-1] not in TRAINED and name in flat_params(params):
            hint = f"{name} must not change: only {', '.join(TRAINED)} are trained"
        if hint is None:
            hint = ("check the order: forward (network_forward), partial (0.3) on the readout, "
                    "network_backward, clip the trained gradients, optim.step")
        raise Fail(f"training first differs from the reference at step {k} ({name}): {hint}", err,
                   locate(name, idx) + f" after step {k}")
    return check_train_step


# ---------------------------------------------------------------------------
# gradients_with
# ---------------------------------------------------------------------------


def _reference_lif_backward(v, a_s, a_v, params, dspike):
    out = _ex03_reference(v, a_s, a_v, params, dspike)
    return out["dv"], out["du"], out["ds"]


def _grad_mutants(trajs, params, a_s):
    ref = network_backward(trajs, params, ds=[None, a_s])
    g0 = ref.layers[0]
    dv, ds, x = g0.adjoints["dv"], g0.adjoints["ds"], trajs[0].x
    shifted = np.zeros_like(x)
    shifted[1:] = x[:-1]
    top = {f"L1.{k}": ref.params[1][k] for k in ("W", "b")}

    def with_(dW, db):
        return {"L0.W": dW, "L0.b": db, **top}
    return [
        ("the hidden gradient uses δs_t; with the soft reset and no synapse δI_t = δv_t (B4, B5)",
         lambda: with_(np.einsum("tbn,tbm->nm", ds, x), ds.sum((0, 1)))),
        ("off by one: pair δv_t with x_t, the input of the same step (G1), not x_{t−1}",
         lambda: with_(np.einsum("tbn,tbm->nm", dv, shifted), dv.sum((0, 1)))),
        ("∂L/∂b sums over the batch and over t, do not average: the 1/B is already in a_s",
         lambda: with_(ref.params[0]["W"], dv.mean(axis=1).sum(0))),
    ]


def _locate_ex03(module):
    here = Path(getattr(module, "__file__", "") or EXERCISES / "ex00_training_step.py")
    path = here.with_name("ex03_bptt_by_hand.py")
    return path if path.is_file() else EXERCISES / "ex03_bptt_by_hand.py"


def _load_ex03(module):
    import importlib.util
    path = _locate_ex03(module).resolve()
    try:
        spec = importlib.util.spec_from_file_location(f"_learner_ex03_{abs(hash(str(path)))}", path)
        ex03 = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(ex03)
        return path, ex03
    except Exception as e:
        raise Fail(f"could not import your exercise 03 ({path}): {type(e).__name__}: {e}") from None


def make_check_gradients_with(module):
    def check_gradients_with(fn):
        net, params = _ex03_net()
        x, labels = _batches()[0]
        trajs = network_forward(net, params, x)
        _, a_s = _reference_partial(trajs[-1].s, labels)
        # (a) Your assembly, with the reference B1–B3 as lif_backward.
        want = {k: v for k, v in flat_params(network_backward(trajs, params, ds=[None, a_s]).params).items()
                if k.split(".")[1] in ("W", "b")}
        out = call(fn, _reference_lif_backward, trajs, params, a_s)
        if not isinstance(out, (list, tuple)) or len(out) != 2 or not all(isinstance(d, dict) for d in out):
            raise Fail("must return a list of two dicts [{'W', 'b'} of the hidden layer, {'W', 'b'} of the readout]")
        got = {}
        for key, w in want.items():
            l, name = key.split(".")
            l = int(l[1:])
            if name not in out[l]:
                raise Fail(f"grads[{l}] has no {name!r}")
            got[key] = to_array(out[l][name], f"grads[{l}][{name!r}]", w.shape)
        for key in want:
            err, idx = compare(got[key], want[key])
            if err > RTOL_REF:
                hint = diagnose({key: got[key]}, _grad_mutants(trajs, params, a_s)) or (
                    "check G1 for the hidden layer: ∂L/∂W = Σ_t δv_tᵀ x_t, ∂L/∂b = Σ_t Σ_b δv_t, with δv from "
                    "lif_backward(v, a_s, 0, params, σ') and a_s the readout's input gradient layer_backward(...).x")
                raise Fail(f"with a correct lif_backward, {key} differs from refsnn's: {hint}", err, locate(key, idx))
        worst = max(compare(got[k], want[k])[0] for k in want)
        # (b) Train with *your* exercise 03 lif_backward, and with refsnn's backward pass.
        path, ex03 = _load_ex03(module)
        lif_backward = getattr(ex03, "lif_backward", None)
        if not callable(lif_backward):
            raise Fail(f"{path} has no function lif_backward")
        opt = optim.Adam(lr=0.01)
        batches = _batches(seed=3)
        ref = _run(_reference_step, net, params, opt, batches, 0.5)
        mine = functools.partial(fn, lif_backward)
        try:
            with np.errstate(all="ignore"):
                trained = _run(_reference_step, net, params, opt, batches, 0.5, gradients=mine)
        except NotImplementedError:
            raise Fail(f"your exercise 03 lif_backward ({path}) is not implemented yet; "
                       "do exercise 03 first (python exercises/check.py ex03)") from None
        except Fail:
            raise
        except Exception as e:
            raise Fail(f"training with your exercise 03 lif_backward ({path}) raised {type(e).__name__}: {e}") from None
        k, name, err, idx, worst_train = _first_difference(trained, ref, RTOL_TRAIN)
        if k is not None:
            raise Fail(f"training with your exercise 03 lif_backward ({path.name}) first differs from training "
                       f"with refsnn's at step {k} of {N_TRAIN} ({name}, rel. error {err:.1e} > {RTOL_TRAIN:g}); "
                       "your lif_backward is wrong: run python exercises/check.py ex03", err,
                       locate(name, idx) + f" after step {k}")
        return max(worst, worst_train), ""
    return check_gradients_with


def checks(module):
    """The checks; two need the module (to isolate ``train_step``, and to find exercise 03)."""
    return [("count_ce_partial", check_count_ce_partial),
            ("train_step", make_check_train_step(module)),
            ("gradients_with", make_check_gradients_with(module))]


CHECKS = checks(None)
