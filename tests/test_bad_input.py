"""Bad input gets a clear error that names the argument; nothing is clipped or ignored.

Project rule: every invalid argument raises ValueError or TypeError, and the message
names the argument and says what was expected. Each case below checks both the error
type and (with a regex) that the message names the offending argument.

Also checked here:
* no global mutable state: init_params is reproducible from an integer seed, and a
  Generator passed in is the only random state that moves;
* layer_forward / layer_backward (and the losses) never mutate their input arrays.

"""

import re

import numpy as np
import pytest

from refsnn import losses
from refsnn.lif import (
    LIFConfig,
    init_params,
    layer_backward,
    layer_forward,
    param_names,
    state_names,
    zero_state,
)
from refsnn.network import Network, network_init
from refsnn.surrogates import Surrogate, heaviside, surrogate

T, B, M, N = 4, 2, 3, 2


def named(arg):
    """Regex: the message starts with the argument's name (e.g. "params['W'] has shape")."""
    return "^" + re.escape(arg) + r"(?![\w])"


def mentions(arg):
    """Regex: the argument's name appears anywhere in the message as a whole word."""
    return r"(?<![\w'])" + re.escape(arg) + r"(?![\w])"


# A layer with every optional part, so that every parameter and state kind exists.
FULL = dict(recurrent=True, adaptation=True, synapse=True)


def cfg_full(reset="subtract", **kw):
    return LIFConfig(M, N, reset=reset, **{**FULL, **kw})


def setup(config=None, dtype=np.float64, seed=0):
    config = config or cfg_full()
    rng = np.random.default_rng(seed)
    params = init_params(config, rng, dtype)
    x = rng.standard_normal((T, B, config.n_in)).astype(dtype)
    state0 = {k: rng.standard_normal((B, config.n)).astype(dtype) for k in state_names(config)}
    return config, params, x, state0


def with_entry(d, key, value):
    out = dict(d)
    out[key] = value
    return out


# ---------------------------------------------------------------------------
# Wrong shapes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape",
    [(T, B, M + 1), (T, B, M - 1), (B, M), (T, B, M, 1), (M,), (), (0, B, M), (T, 0, M)],
    ids=str,
)
def test_x_wrong_shape(shape):
    config, params, _, _ = setup()
    with pytest.raises(ValueError, match=named("x")):
        layer_forward(config, params, np.zeros(shape))


@pytest.mark.parametrize("key", ["v", "u", "c"])
@pytest.mark.parametrize(
    "shape", [(B, N + 1), (B + 1, N), (N,), (1, N), (T, B, N), ()], ids=str
)
def test_state0_entry_wrong_shape(key, shape):
    # (1, N) and (N,) would broadcast: they must still be rejected.
    config, params, x, state0 = setup()
    with pytest.raises(ValueError, match=named(f"state0[{key!r}]")):
        layer_forward(config, params, x, with_entry(state0, key, np.zeros(shape)))


def _bad_param_shapes(name):
    good = (N, M) if name == "W" else (N, N) if name == "R" else (N,)
    bad = [tuple(reversed(good)) if good[0] != good[-1] else good + (1,), good[:-1] + (good[-1] + 1,)]
    if len(good) == 1:
        bad += [(1,), (N, 1), (1, N)]      # () is a shared parameter (lif's S2), accepted below
    else:
        bad += [()]
    return [b for b in bad if b != good]


PARAM_SHAPE_CASES = [
    (reset, name, shape)
    for reset in ("subtract", "hard_keep_input")
    for name in param_names(cfg_full(reset))
    if reset == "subtract" or name == "v_reset"
    for shape in _bad_param_shapes(name)
]


@pytest.mark.parametrize("reset,name,shape", PARAM_SHAPE_CASES, ids=str)
def test_params_entry_wrong_shape(reset, name, shape):
    # (1,) vectors would broadcast: they must still be rejected (a 0-d array is a shared parameter).
    config, params, x, _ = setup(cfg_full(reset))
    bad = with_entry(params, name, np.full(shape, 0.5))
    with pytest.raises(ValueError, match=named(f"params[{name!r}]")):
        layer_forward(config, bad, x)


@pytest.mark.parametrize("arg", ["ds", "dv"])
@pytest.mark.parametrize(
    "shape", [(T - 1, B, N), (T + 1, B, N), (T, B, N + 1), (B, N), (1, B, N), (T, 1, N), ()],
    ids=str,
)
def test_layer_backward_direct_partials_wrong_shape(arg, shape):
    config, params, x, state0 = setup()
    traj = layer_forward(config, params, x, state0)
    with pytest.raises(ValueError, match=named(arg)):
        layer_backward(traj, params, **{arg: np.zeros(shape)})


@pytest.mark.parametrize("shape", [(T - 1, B, N), (T, B, N + 1), (B, N), (1, B, N)], ids=str)
def test_s_reset_wrong_shape(shape):
    config, params, x, _ = setup()
    with pytest.raises(ValueError, match=named("s_reset")):
        layer_forward(config, params, x, s_reset=np.zeros(shape))


@pytest.fixture
def traj():
    config, params, x, state0 = setup(LIFConfig(M, N))
    return layer_forward(config, params, x, state0)


@pytest.mark.parametrize("shape", [(T, B, N + 1), (T - 1, B, N), (B, N), (1, B, N), (N,)], ids=str)
def test_trace_mse_target_wrong_shape(traj, shape):
    with pytest.raises(ValueError, match=named("target")):
        losses.trace_mse(traj, np.zeros(shape))


@pytest.mark.parametrize("shape", [(N,), (B,), (T, B), (B, N + 1), (T, B, N, 1), (1, N), ()], ids=str)
def test_membrane_rate_loss_y_wrong_shape(traj, shape):
    with pytest.raises(ValueError, match=named("y")):
        losses.membrane_rate_loss(traj, np.zeros(shape))


@pytest.mark.parametrize("shape", [(B + 1,), (B - 1,), (B, 1), (1, B), ()], ids=str)
def test_labels_wrong_shape(traj, shape):
    with pytest.raises(ValueError, match=named("labels")):
        losses.spike_count_cross_entropy(traj, np.zeros(shape, dtype=np.int64))


# ---------------------------------------------------------------------------
# NaN and inf
# ---------------------------------------------------------------------------

NONFINITE = [np.nan, np.inf, -np.inf]
NF_IDS = ["nan", "inf", "-inf"]


@pytest.mark.parametrize("bad", NONFINITE, ids=NF_IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_x_nonfinite(bad, dtype):
    config, params, x, _ = setup(dtype=dtype)
    x = x.copy()
    x[T - 1, B - 1, M - 1] = bad
    with pytest.raises(ValueError, match=named("x")):
        layer_forward(config, params, x)


@pytest.mark.parametrize("bad", NONFINITE, ids=NF_IDS)
@pytest.mark.parametrize("key", ["v", "u", "c"])
def test_state0_nonfinite(key, bad):
    config, params, x, state0 = setup()
    v = state0[key].copy()
    v[-1, -1] = bad
    with pytest.raises(ValueError, match=named(f"state0[{key!r}]")):
        layer_forward(config, params, x, with_entry(state0, key, v))


PARAM_KIND_CASES = [
    (reset, name)
    for reset in ("subtract", "hard_drop_input")
    for name in param_names(cfg_full(reset))
    if reset == "subtract" or name == "v_reset"
]


@pytest.mark.parametrize("bad", NONFINITE, ids=NF_IDS)
@pytest.mark.parametrize("reset,name", PARAM_KIND_CASES, ids=str)
def test_params_nonfinite_forward(reset, name, bad):
    config, params, x, _ = setup(cfg_full(reset))
    v = params[name].copy()
    v.flat[-1] = bad
    with pytest.raises(ValueError, match=named(f"params[{name!r}]")):
        layer_forward(config, with_entry(params, name, v), x)


@pytest.mark.parametrize("reset,name", PARAM_KIND_CASES, ids=str)
def test_params_nonfinite_backward(reset, name):
    config, params, x, _ = setup(cfg_full(reset))
    traj = layer_forward(config, params, x)
    v = params[name].copy()
    v.flat[0] = np.nan
    with pytest.raises(ValueError, match=named(f"params[{name!r}]")):
        layer_backward(traj, with_entry(params, name, v))


@pytest.mark.parametrize("bad", NONFINITE, ids=NF_IDS)
@pytest.mark.parametrize("arg", ["ds", "dv"])
def test_direct_partials_nonfinite(arg, bad):
    config, params, x, _ = setup()
    traj = layer_forward(config, params, x)
    a = np.zeros((T, B, N))
    a[1, 0, 1] = bad
    with pytest.raises(ValueError, match=named(arg)):
        layer_backward(traj, params, **{arg: a})


@pytest.mark.parametrize("bad", NONFINITE, ids=NF_IDS)
def test_s_reset_nonfinite(bad):
    config, params, x, _ = setup()
    sr = np.zeros((T, B, N))
    sr[0, 0, 0] = bad
    with pytest.raises(ValueError, match=named("s_reset")):
        layer_forward(config, params, x, s_reset=sr)


@pytest.mark.parametrize("bad", NONFINITE, ids=NF_IDS)
def test_loss_targets_nonfinite(traj, bad):
    target = np.zeros((T, B, N))
    target[0, 0, 0] = bad
    with pytest.raises(ValueError, match=named("target")):
        losses.trace_mse(traj, target)
    y = np.zeros((B, N))
    y[-1, -1] = bad
    with pytest.raises(ValueError, match=named("y")):
        losses.membrane_rate_loss(traj, y)


@pytest.mark.parametrize("name", ["alpha", "theta", "gamma", "W"])
@pytest.mark.parametrize("bad", NONFINITE, ids=NF_IDS)
def test_init_params_nonfinite_value(name, bad):
    # init_params names its keyword argument
    with pytest.raises(ValueError, match=named(name)):
        init_params(LIFConfig(M, N), 0, **{name: np.full((N, M) if name == "W" else (N,), bad)})


# ---------------------------------------------------------------------------
# Ranges of α and θ (and the decay factors)
# ---------------------------------------------------------------------------

ALPHA_BAD = [0.0, -0.5, -1e-300, 1.0000001, 2.0]
THETA_BAD = [0.0, -0.0, -1.0, -1e-300]


@pytest.mark.parametrize("value", ALPHA_BAD, ids=repr)
def test_alpha_outside_unit_interval(value):
    config, params, x, _ = setup()
    alpha = params["alpha"].copy()
    alpha[-1] = value                      # one bad neuron is enough
    with pytest.raises(ValueError, match=named("params['alpha']")):
        layer_forward(config, with_entry(params, "alpha", alpha), x)
    with pytest.raises(ValueError, match=mentions("params['alpha']")):
        init_params(config, 0, alpha=value)


@pytest.mark.parametrize("value", [1.0, 1e-300, 0.5])
def test_alpha_edges_accepted(value):
    config, params, x, _ = setup()
    layer_forward(config, with_entry(params, "alpha", np.full(N, value)), x)


@pytest.mark.parametrize("value", THETA_BAD, ids=repr)
def test_theta_not_positive(value):
    config, params, x, _ = setup()
    theta = params["theta"].copy()
    theta[0] = value
    with pytest.raises(ValueError, match=named("params['theta']")):
        layer_forward(config, with_entry(params, "theta", theta), x)
    with pytest.raises(ValueError, match=mentions("params['theta']")):
        init_params(config, 0, theta=value)


@pytest.mark.parametrize("name", ["rho", "lam"])
@pytest.mark.parametrize("value", [-0.1, 1.0000001])
def test_decay_factors_outside_unit_interval(name, value):
    config, params, x, _ = setup()
    with pytest.raises(ValueError, match=named(f"params[{name!r}]")):
        layer_forward(config, with_entry(params, name, np.full(N, value)), x)


def test_alpha_range_checked_in_backward_too():
    config, params, x, _ = setup()
    traj = layer_forward(config, params, x)
    with pytest.raises(ValueError, match=named("params['alpha']")):
        layer_backward(traj, with_entry(params, "alpha", np.zeros(N)))


# ---------------------------------------------------------------------------
# Unknown names
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["foo", "Sigmoid", "fast_sigmoid", "", " triangle"])
def test_unknown_surrogate_name(name):
    with pytest.raises(ValueError, match=mentions("`name`")):
        surrogate(name)
    with pytest.raises(ValueError, match=mentions("`name`")):
        Surrogate(name, 1.0)


@pytest.mark.parametrize("name", [None, 3, b"sigmoid"])
def test_surrogate_name_not_str(name):
    with pytest.raises(TypeError, match=mentions("`name`")):
        surrogate(name)


@pytest.mark.parametrize("sg", ["sigmoid", None, 5.0])
def test_lifconfig_surrogate_not_a_surrogate(sg):
    with pytest.raises(TypeError, match=named("surrogate")):
        LIFConfig(M, N, surrogate=sg)


@pytest.mark.parametrize("reset", ["hard", "soft", "Subtract", "", None, 0])
def test_unknown_reset(reset):
    with pytest.raises(ValueError, match=named("reset")):
        LIFConfig(M, N, reset=reset)


@pytest.mark.parametrize("forward", ["step", "Heaviside", "", None])
def test_unknown_forward(forward):
    with pytest.raises(ValueError, match=named("forward")):
        LIFConfig(M, N, forward=forward)


# ---------------------------------------------------------------------------
# Integer and bool arrays where floats are needed
# ---------------------------------------------------------------------------

NONFLOAT = [np.int64, np.int32, np.uint8, np.bool_]
NONFLOAT_IDS = ["int64", "int32", "uint8", "bool"]


@pytest.mark.parametrize("dt", NONFLOAT, ids=NONFLOAT_IDS)
def test_x_not_float(dt):
    config, params, _, _ = setup()
    with pytest.raises(TypeError, match=named("x")):
        layer_forward(config, params, np.ones((T, B, M), dtype=dt))


def test_x_python_ints_rejected():
    config, params, _, _ = setup()
    with pytest.raises(TypeError, match=named("x")):
        layer_forward(config, params, [[[1, 0, 1]] * B] * T)


@pytest.mark.parametrize("dt", NONFLOAT, ids=NONFLOAT_IDS)
@pytest.mark.parametrize("name", ["W", "b", "R", "alpha", "theta", "gamma", "beta", "rho", "kappa", "lam"])
def test_params_entry_not_float(name, dt):
    config, params, x, _ = setup()
    bad = with_entry(params, name, np.ones(params[name].shape, dtype=dt))
    # If W itself is not float the layer has no float dtype; either way W or the entry is named.
    with pytest.raises(TypeError, match=named(f"params[{name!r}]")):
        layer_forward(config, bad, x)


@pytest.mark.parametrize("dt", NONFLOAT, ids=NONFLOAT_IDS)
@pytest.mark.parametrize("key", ["v", "u", "c"])
def test_state0_not_float(key, dt):
    config, params, x, state0 = setup()
    with pytest.raises(TypeError, match=named(f"state0[{key!r}]")):
        layer_forward(config, params, x, with_entry(state0, key, np.zeros((B, N), dtype=dt)))


@pytest.mark.parametrize("dt", NONFLOAT, ids=NONFLOAT_IDS)
@pytest.mark.parametrize("arg", ["ds", "dv"])
def test_direct_partials_not_float(arg, dt):
    config, params, x, _ = setup()
    traj = layer_forward(config, params, x)
    with pytest.raises(TypeError, match=named(arg)):
        layer_backward(traj, params, **{arg: np.zeros((T, B, N), dtype=dt)})


@pytest.mark.parametrize("dt", NONFLOAT, ids=NONFLOAT_IDS)
def test_s_reset_not_float(dt):
    config, params, x, _ = setup()
    with pytest.raises(TypeError, match=named("s_reset")):
        layer_forward(config, params, x, s_reset=np.zeros((T, B, N), dtype=dt))


@pytest.mark.parametrize("family", ["triangle", "sigmoid", "straight_through", "true"])
@pytest.mark.parametrize(
    "value",
    [np.arange(3), np.array([True, False]), np.int64(0), 0, True, np.array([1 + 0j])],
    ids=["int-array", "bool-array", "np.int64", "int", "bool", "complex"],
)
def test_surrogate_input_not_float(family, value):
    sg = surrogate(family)
    with pytest.raises(TypeError, match=mentions("`x`")):
        sg.derivative(value)
    with pytest.raises(TypeError, match=mentions("`x`")):
        sg.primitive(value)


@pytest.mark.parametrize("value", [np.arange(3), np.array([True]), 0], ids=["int", "bool", "pyint"])
def test_heaviside_input_not_float(value):
    with pytest.raises(TypeError, match=mentions("`x`")):
        heaviside(value)


@pytest.mark.parametrize("dt", NONFLOAT, ids=NONFLOAT_IDS)
def test_loss_targets_not_float(traj, dt):
    with pytest.raises(TypeError, match=named("target")):
        losses.trace_mse(traj, np.zeros((T, B, N), dtype=dt))
    with pytest.raises(TypeError, match=named("y")):
        losses.membrane_rate_loss(traj, np.zeros((B, N), dtype=dt))


# ---------------------------------------------------------------------------
# Mismatched dtypes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("pdt,xdt", [(np.float32, np.float64), (np.float64, np.float32)], ids=["p32-x64", "p64-x32"])
def test_x_dtype_differs_from_params(pdt, xdt):
    config, params, x, _ = setup(dtype=pdt)
    with pytest.raises(TypeError, match=named("x")):
        layer_forward(config, params, x.astype(xdt))


@pytest.mark.parametrize("name", ["b", "R", "alpha", "theta", "gamma", "beta", "rho", "kappa", "lam"])
def test_params_mixed_dtypes(name):
    config, params, x, _ = setup(dtype=np.float32)
    bad = with_entry(params, name, params[name].astype(np.float64))
    with pytest.raises(TypeError, match=named(f"params[{name!r}]")):
        layer_forward(config, bad, x)


@pytest.mark.parametrize("key", ["v", "u", "c"])
def test_state0_dtype_differs_from_params(key):
    config, params, x, state0 = setup(dtype=np.float32)
    bad = with_entry(state0, key, state0[key].astype(np.float64))
    with pytest.raises(TypeError, match=named(f"state0[{key!r}]")):
        layer_forward(config, params, x, bad)


@pytest.mark.parametrize("arg", ["ds", "dv", "s_reset"])
def test_other_arrays_dtype_differs_from_params(arg):
    config, params, x, _ = setup(dtype=np.float64)
    a = np.zeros((T, B, N), dtype=np.float32)
    with pytest.raises(TypeError, match=named(arg)):
        if arg == "s_reset":
            layer_forward(config, params, x, s_reset=a)
        else:
            layer_backward(layer_forward(config, params, x), params, **{arg: a})


def test_backward_params_dtype_differs_from_trajectory():
    config, params, x, _ = setup(dtype=np.float64)
    traj = layer_forward(config, params, x)
    p32 = {k: v.astype(np.float32) for k, v in params.items()}
    with pytest.raises(TypeError, match=mentions("params")):
        layer_backward(traj, p32)


def test_float16_rejected():
    config, params, x, _ = setup()
    p16 = {k: v.astype(np.float16) for k, v in params.items()}
    with pytest.raises(TypeError, match=mentions("params['W']")):
        layer_forward(config, p16, x.astype(np.float16))


@pytest.mark.parametrize("dtype", [np.float16, np.int64, np.complex128, "float128"], ids=str)
def test_init_params_dtype(dtype):
    with pytest.raises(TypeError, match=named("dtype")):
        init_params(LIFConfig(M, N), 0, dtype=dtype)


@pytest.mark.parametrize("dtype", [np.int64, np.bool_, np.float16], ids=str)
def test_zero_state_dtype(dtype):
    with pytest.raises(TypeError, match=named("dtype")):
        zero_state(LIFConfig(M, N), B, dtype=dtype)


# ---------------------------------------------------------------------------
# Keys of params and state0, container types
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("drop", ["W", "b", "R", "alpha", "theta", "gamma", "beta", "rho", "kappa", "lam"])
def test_params_missing_key(drop):
    config, params, x, _ = setup()
    bad = {k: v for k, v in params.items() if k != drop}
    with pytest.raises(ValueError, match=named("params") + ".*" + re.escape(repr(drop))):
        layer_forward(config, bad, x)


@pytest.mark.parametrize(
    "config,extra",
    [
        (LIFConfig(M, N), "R"),                           # not recurrent
        (LIFConfig(M, N), "beta"),                        # no adaptation
        (LIFConfig(M, N), "lam"),                         # no synapse
        (LIFConfig(M, N), "v_reset"),                     # soft reset
        (LIFConfig(M, N, reset="hard_keep_input"), "gamma"),
        (LIFConfig(M, N, reset="none"), "gamma"),
        (LIFConfig(M, N, spiking=False, reset="none"), "theta"),
        (LIFConfig(M, N), "weights"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_params_extra_key(config, extra):
    _, params, x, _ = setup(config)
    bad = with_entry(params, extra, np.full(N, 0.5))
    with pytest.raises(ValueError, match=named("params") + ".*" + re.escape(repr(extra))):
        layer_forward(config, bad, x)
    traj = layer_forward(config, params, x)
    with pytest.raises(ValueError, match=named("params")):
        layer_backward(traj, bad)


@pytest.mark.parametrize("params", [None, [], (), "W"], ids=repr)
def test_params_not_a_dict(params):
    config, _, x, _ = setup()
    with pytest.raises(TypeError, match=named("params")):
        layer_forward(config, params, x)


def test_params_entries_as_lists():
    config, params, x, _ = setup(LIFConfig(M, N))
    as_lists = {k: v.tolist() for k, v in params.items()}
    # Either accepted (converted) or rejected with a message naming params; not a bare TypeError.
    try:
        layer_forward(config, as_lists, x)
    except (TypeError, ValueError) as e:
        assert re.search(mentions("params"), str(e)), str(e)


@pytest.mark.parametrize(
    "config,state0_keys",
    [
        (LIFConfig(M, N), ()),
        (LIFConfig(M, N), ("v", "u")),
        (LIFConfig(M, N), ("V",)),
        (LIFConfig(M, N, adaptation=True), ("v",)),
        (LIFConfig(M, N, synapse=True), ("v", "u")),
        (cfg_full(), ("v", "u", "c", "s")),
    ],
    ids=lambda v: ",".join(v) if isinstance(v, tuple) else "",
)
def test_state0_wrong_keys(config, state0_keys):
    _, params, x, _ = setup(config)
    state0 = {k: np.zeros((B, N)) for k in state0_keys}
    with pytest.raises(ValueError, match=named("state0")):
        layer_forward(config, params, x, state0)


@pytest.mark.parametrize("state0", [[np.zeros((B, N))], np.zeros((B, N)), "v"], ids=["list", "array", "str"])
def test_state0_not_a_dict(state0):
    config, params, x, _ = setup(LIFConfig(M, N))
    with pytest.raises(TypeError, match=named("state0")):
        layer_forward(config, params, x, state0)


@pytest.mark.parametrize("name", ["foo", "weight", "sigma"])
def test_init_params_unknown_value(name):
    with pytest.raises(ValueError, match=mentions(repr(name))):
        init_params(LIFConfig(M, N), 0, **{name: 1.0})


@pytest.mark.parametrize(
    "name,value",
    [
        ("W", np.ones((N, M), dtype=np.int64)),
        ("W", np.ones((N, M), dtype=bool)),
        ("theta", np.array([1, 2])),
        ("alpha", True),
    ],
    ids=["W-int", "W-bool", "theta-int-array", "alpha-True"],
)
def test_init_params_value_not_float(name, value):
    with pytest.raises(TypeError, match=mentions(name)):
        init_params(LIFConfig(M, N), 0, **{name: value})


@pytest.mark.parametrize(
    "name,value", [("alpha", [0.9, 0.9, 0.9]), ("W", np.ones((M, M)))], ids=["alpha", "W"]
)
def test_init_params_value_wrong_shape(name, value):
    with pytest.raises(ValueError, match=mentions(name)):
        init_params(LIFConfig(M, N), 0, **{name: value})


# ---------------------------------------------------------------------------
# rng
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rng",
    [None, 1.5, "0", True, np.random.RandomState(0), np.random.PCG64(0), [0]],
    ids=["None", "float", "str", "bool", "RandomState", "BitGenerator", "list"],
)
def test_init_params_rng_not_a_generator(rng):
    with pytest.raises(TypeError, match=named("rng")):
        init_params(LIFConfig(M, N), rng)


def test_init_params_negative_seed():
    with pytest.raises(ValueError, match=mentions("rng")):
        init_params(LIFConfig(M, N), -1)


# ---------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("widths", [[(3, 4), (5, 2)], [(3, 4), (4, 4), (3, 2)]], ids=str)
def test_network_widths_do_not_chain(widths):
    layers = [LIFConfig(a, b) for a, b in widths]
    with pytest.raises(ValueError, match=r"layers\[\d+\]\.n_in"):
        Network(tuple(layers))


def test_network_non_spiking_hidden_layer():
    readout = LIFConfig(M, N, spiking=False, reset="none")
    with pytest.raises(ValueError, match=re.escape("layers[0]") + ".*non-spiking"):
        Network((readout, LIFConfig(N, N)))
    Network((LIFConfig(M, N), LIFConfig(N, N, spiking=False, reset="none")))  # readout last: fine


@pytest.mark.parametrize("layers", [(), []], ids=["tuple", "list"])
def test_network_empty(layers):
    with pytest.raises(ValueError, match=named("layers")):
        Network(layers)


def test_network_entry_not_a_config():
    with pytest.raises(TypeError, match=re.escape("layers[1]")):
        Network((LIFConfig(M, N), {"n_in": N, "n": N}))


def test_network_layers_not_a_sequence():
    with pytest.raises(TypeError, match=mentions("layers")):
        Network(LIFConfig(M, N))


def test_network_init_per_layer_length():
    net = Network((LIFConfig(M, N), LIFConfig(N, N)))
    with pytest.raises(ValueError, match=named("per_layer")):
        network_init(net, 0, per_layer=[{}])


# ---------------------------------------------------------------------------
# LIFConfig
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["detach_reset", "adaptation", "synapse", "recurrent", "spiking"])
@pytest.mark.parametrize("value", [0, 1, "True", None, 1.0, np.array(True)], ids=repr)
def test_lifconfig_flag_not_bool(flag, value):
    with pytest.raises(TypeError, match=named(flag)):
        LIFConfig(M, N, **{flag: value})


def test_lifconfig_numpy_bool_flag_accepted():
    assert LIFConfig(M, N, adaptation=np.True_).adaptation


@pytest.mark.parametrize("field", ["n_in", "n"])
@pytest.mark.parametrize("value", [0, -1, 2.0, True, "3", None], ids=repr)
def test_lifconfig_sizes(field, value):
    kw = {"n_in": M, "n": N, field: value}
    with pytest.raises(ValueError, match=named(field)):
        LIFConfig(**kw)


@pytest.mark.parametrize("reset", ["subtract", "hard_keep_input", "hard_drop_input"])
def test_non_spiking_needs_reset_none(reset):
    with pytest.raises(ValueError, match=r"spiking=False.*reset"):
        LIFConfig(M, N, spiking=False, reset=reset)


@pytest.mark.parametrize("flag", ["adaptation", "recurrent"])
def test_non_spiking_without_adaptation_or_recurrence(flag):
    with pytest.raises(ValueError, match=r"spiking=False.*" + flag):
        LIFConfig(M, N, spiking=False, reset="none", **{flag: True})


def test_smooth_forward_with_true_surrogate():
    with pytest.raises(ValueError, match=r"forward='smooth'"):
        LIFConfig(M, N, forward="smooth", surrogate=surrogate("true"))


@pytest.mark.parametrize("h0", [0.5, -1.0, 2.0, np.nan, True, False, None, "1"], ids=repr)
def test_h0_not_zero_or_one(h0):
    with pytest.raises(ValueError, match=named("h0")):
        LIFConfig(M, N, h0=h0)


@pytest.mark.parametrize("h0", [np.True_, np.False_], ids=repr)
def test_h0_numpy_bool(h0):
    with pytest.raises(ValueError, match=named("h0")):
        LIFConfig(M, N, h0=h0)


def test_h0_array():
    with pytest.raises(ValueError, match=named("h0")):
        LIFConfig(M, N, h0=np.array([1.0, 0.0]))


@pytest.mark.parametrize("h0", [0.5, True, np.True_, None], ids=repr)
def test_heaviside_h0(h0):
    with pytest.raises(ValueError, match=mentions("`h0`")):
        heaviside(np.zeros(2), h0)


# ---------------------------------------------------------------------------
# Wrong object types for config / traj
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("config", ["lif", None, {"n_in": M, "n": N}], ids=repr)
def test_layer_forward_config_not_lifconfig(config):
    _, params, x, _ = setup(LIFConfig(M, N))
    with pytest.raises(TypeError, match=named("config")):
        layer_forward(config, params, x)


@pytest.mark.parametrize("traj_", ["traj", None, np.zeros((T, B, N))], ids=["str", "None", "array"])
def test_layer_backward_traj_not_trajectory(traj_):
    _, params, _, _ = setup(LIFConfig(M, N))
    with pytest.raises(TypeError, match=named("traj")):
        layer_backward(traj_, params)


@pytest.mark.parametrize(
    "fn", [losses.spike_count_l1, losses.spike_count_l2],
)
def test_losses_traj_not_trajectory(fn):
    with pytest.raises(TypeError, match=named("traj")):
        fn(np.zeros((T, B, N)))


def test_ds_nonzero_for_non_spiking_layer():
    config, params, x, _ = setup(LIFConfig(M, N, spiking=False, reset="none"))
    traj = layer_forward(config, params, x)
    layer_backward(traj, params, ds=np.zeros((T, B, N)))          # zeros are fine
    with pytest.raises(ValueError, match=named("ds")):
        layer_backward(traj, params, ds=np.ones((T, B, N)))


# ---------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("labels", [[0, N], [-1, 0], [0, 10**6]], ids=str)
def test_labels_out_of_range(traj, labels):
    with pytest.raises(ValueError, match=named("labels")):
        losses.spike_count_cross_entropy(traj, np.array(labels))


@pytest.mark.parametrize(
    "labels",
    [np.array([0.0, 1.0]), np.array([True, False]), [0.0, 1.0], np.array([0.5, 1.0])],
    ids=["float", "bool", "pyfloat", "fractional"],
)
def test_labels_not_integer(traj, labels):
    with pytest.raises(TypeError, match=named("labels")):
        losses.spike_count_cross_entropy(traj, labels)


@pytest.mark.parametrize("eta", [-0.1, 1.0000001, 2.0, np.nan, np.inf], ids=repr)
def test_trace_mse_eta_out_of_range(traj, eta):
    with pytest.raises(ValueError, match=named("eta")):
        losses.trace_mse(traj, np.zeros((T, B, N)), eta=eta)


@pytest.mark.parametrize("eta", [True, "0.9", None, np.array([0.5])], ids=repr)
def test_trace_mse_eta_not_real(traj, eta):
    with pytest.raises(TypeError, match=named("eta")):
        losses.trace_mse(traj, np.zeros((T, B, N)), eta=eta)


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_trace_mse_eta_edges_accepted(traj, eta):
    losses.trace_mse(traj, np.zeros((T, B, N)), eta=eta)


@pytest.mark.parametrize("on", ["u", "S", "", None, "spikes", ["s"]], ids=repr)
def test_trace_mse_on(traj, on):
    with pytest.raises(ValueError, match=named("on")):
        losses.trace_mse(traj, np.zeros((T, B, N)), on=on)


@pytest.mark.parametrize("fn", [losses.spike_count_l1, losses.spike_count_l2])
@pytest.mark.parametrize("strength", [-1.0, np.nan])
def test_regulariser_strength(traj, fn, strength):
    with pytest.raises(ValueError, match=named("strength")):
        fn(traj, strength)


def test_spike_losses_on_non_spiking_layer():
    config, params, x, _ = setup(LIFConfig(M, N, spiking=False, reset="none"))
    traj = layer_forward(config, params, x)
    with pytest.raises(ValueError, match=r"non-spiking"):
        losses.spike_count_cross_entropy(traj, np.zeros(B, dtype=int))
    with pytest.raises(ValueError, match=r"non-spiking"):
        losses.trace_mse(traj, np.zeros((T, B, N)), on="s")


# ---------------------------------------------------------------------------
# No global mutable state
# ---------------------------------------------------------------------------

RNG_CONFIGS = [LIFConfig(M, N), cfg_full(), cfg_full("hard_drop_input")]


def _same(a, b):
    """Bit-for-bit equality of two arrays (dtype, shape and bytes)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _same_dict(d1, d2):
    return list(d1) == list(d2) and all(_same(d1[k], d2[k]) for k in d1)


@pytest.mark.parametrize("config", RNG_CONFIGS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_init_params_same_seed_same_params(config, dtype):
    p1 = init_params(config, 1234, dtype)
    np.random.default_rng(99).standard_normal(10)       # unrelated random activity in between
    np.random.seed(5)
    np.random.rand(3)
    p2 = init_params(config, 1234, dtype)
    assert _same_dict(p1, p2)
    p3 = init_params(config, 1235, dtype)
    assert not _same(p1["W"], p3["W"])


@pytest.mark.parametrize("config", RNG_CONFIGS)
def test_init_params_touches_only_the_given_generator(config):
    legacy_before = np.random.get_state()
    g = np.random.default_rng(7)
    other = np.random.default_rng(7)
    other_state = other.bit_generator.state
    p = init_params(config, g)
    # the given generator advanced ...
    assert g.bit_generator.state != np.random.default_rng(7).bit_generator.state
    # ... and nothing else did
    assert other.bit_generator.state == other_state
    legacy_after = np.random.get_state()
    assert legacy_before[0] == legacy_after[0]
    assert np.array_equal(legacy_before[1], legacy_after[1])
    assert legacy_before[2:] == legacy_after[2:]
    # a Generator gives the same draws as the equal integer seed
    assert _same_dict(p, init_params(config, 7))
    # and a second call continues from where the first stopped
    p_next = init_params(config, g)
    assert not _same(p["W"], p_next["W"])


def test_init_params_does_not_consume_legacy_global_rng():
    np.random.seed(3)
    expected = np.random.rand(5)
    np.random.seed(3)
    init_params(cfg_full(), 0)
    init_params(cfg_full(), np.random.default_rng(1))
    assert np.array_equal(np.random.rand(5), expected)


def test_layer_calls_are_reproducible():
    config, params, x, state0 = setup()
    ds = np.random.default_rng(1).standard_normal((T, B, N))
    tr1 = layer_forward(config, params, x, state0)
    g1 = layer_backward(tr1, params, ds=ds)
    tr2 = layer_forward(config, params, x, state0)
    g2 = layer_backward(tr2, params, ds=ds)
    assert _same(tr1.v, tr2.v) and _same(tr1.s, tr2.s)
    assert _same_dict(g1.params, g2.params) and _same(g1.x, g2.x)


def test_network_init_integer_seed_layers_independent():
    net = Network((LIFConfig(N, N), LIFConfig(N, N)))
    p = network_init(net, 0)
    assert not np.array_equal(p[0]["W"], p[1]["W"])


# ---------------------------------------------------------------------------
# Inputs are never mutated
# ---------------------------------------------------------------------------

MUTATION_CONFIGS = [
    LIFConfig(M, N),
    LIFConfig(M, N, reset="hard_keep_input", detach_reset=True),
    cfg_full("subtract"),
    cfg_full("hard_keep_input"),
    cfg_full("hard_drop_input"),
    cfg_full("hard_drop_input", detach_reset=True),
    cfg_full("none"),
    cfg_full("subtract", forward="smooth", surrogate=surrogate("sigmoid")),
    LIFConfig(M, N, spiking=False, reset="none", synapse=True),
]


def _deep_copy(d):
    return {k: np.array(v, copy=True) for k, v in d.items()}


@pytest.mark.parametrize("config", MUTATION_CONFIGS, ids=lambda c: f"{c.reset}-{c.spiking}-{c.forward}")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("with_s_reset", [False, True])
def test_layer_calls_do_not_mutate_inputs(config, dtype, with_s_reset):
    _, params, x, state0 = setup(config, dtype, seed=3)
    rng = np.random.default_rng(4)
    x = (rng.standard_normal(x.shape) * 3).astype(dtype)      # make spikes likely
    x[0, 0, 0] = -0.0                                          # bit-level check sees -0.0 vs 0.0
    ds = rng.standard_normal((T, B, N)).astype(dtype) if config.spiking else None
    dv = rng.standard_normal((T, B, N)).astype(dtype)
    s_reset = None
    if with_s_reset:
        s_reset = layer_forward(config, params, x, state0).s.copy()
        s_reset = np.concatenate([np.zeros_like(s_reset[:1]), s_reset[:-1]])

    x0, p0, st0, dv0 = x.copy(), _deep_copy(params), _deep_copy(state0), dv.copy()
    ds0 = None if ds is None else ds.copy()
    sr0 = None if s_reset is None else s_reset.copy()
    param_ids = {k: id(v) for k, v in params.items()}
    state_ids = {k: id(v) for k, v in state0.items()}

    traj = layer_forward(config, params, x, state0, s_reset)
    grads = layer_backward(traj, params, ds=ds, dv=dv)
    # and the same once more through the loss helpers reading the trajectory
    losses.membrane_rate_loss(traj, np.zeros((B, N), dtype))
    if config.spiking:
        losses.spike_count_cross_entropy(traj, np.zeros(B, dtype=int))
        losses.trace_mse(traj, np.zeros((T, B, N), dtype))

    assert _same(x, x0)
    assert _same(dv, dv0)
    assert ds is None or _same(ds, ds0)
    assert s_reset is None or _same(s_reset, sr0)
    assert _same_dict(params, p0), "params changed"
    assert _same_dict(state0, st0), "state0 changed"
    assert {k: id(v) for k, v in params.items()} == param_ids, "params dict rebound"
    assert {k: id(v) for k, v in state0.items()} == state_ids, "state0 dict rebound"
    # the gradients are new arrays, not views of the caller's data
    for out in [grads.x, *grads.params.values(), *grads.state0.values()]:
        for inp in [x, dv, *params.values(), *state0.values()] + ([] if ds is None else [ds]):
            assert not np.shares_memory(out, inp)


@pytest.mark.parametrize("config", MUTATION_CONFIGS[:7], ids=lambda c: c.reset)
def test_layer_calls_work_on_read_only_inputs(config):
    """Any in-place write to an input would raise on a read-only array."""
    _, params, x, state0 = setup(config)
    ds = np.ones((T, B, N))
    dv = np.ones((T, B, N))
    for a in [x, ds, dv, *params.values(), *state0.values()]:
        a.flags.writeable = False
    traj = layer_forward(config, params, x, state0)
    layer_backward(traj, params, ds=ds, dv=dv)


def test_loss_functions_do_not_mutate_targets(traj):
    target = np.random.default_rng(0).standard_normal((T, B, N))
    y = np.random.default_rng(1).standard_normal((B, N))
    labels = np.array([1, 0])
    t0, y0, l0 = target.copy(), y.copy(), labels.copy()
    s0, v0 = traj.s.copy(), traj.v.copy()
    losses.trace_mse(traj, target)
    losses.trace_mse(traj, target, on="v")
    losses.membrane_rate_loss(traj, y)
    losses.spike_count_cross_entropy(traj, labels)
    losses.spike_count_l1(traj)
    losses.spike_count_l2(traj)
    assert _same(target, t0) and _same(y, y0) and _same(labels, l0)
    assert _same(traj.s, s0) and _same(traj.v, v0)


# ---------------------------------------------------------------------------
# The model switches (refsnn.lif S1–S5): their fields and parameters
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", [n for n in param_names(cfg_full(adaptive_threshold=True)) if n not in ("W", "R")])
def test_shared_param_accepted_and_its_gradient_is_0d(name):
    config, params, x, state0 = setup(cfg_full(adaptive_threshold=True))
    shared = with_entry(params, name, np.array(params[name][0]))
    g = layer_backward(layer_forward(config, shared, x, state0), shared, ds=np.ones((T, B, N)))
    assert g.params[name].shape == ()
    assert all(g.params[k].shape == params[k].shape for k in params if k != name)


@pytest.mark.parametrize("shape", [(1,), (N, 1), (1, N), (N + 1,), (2, 2, 2)], ids=str)
def test_shared_param_wrong_shape_message(shape):
    config, params, x, _ = setup()
    with pytest.raises(ValueError, match=named("params['theta']") + r" has shape .*expected \(2,\) \(one value "
                       r"per neuron\) or \(\) \(a 0-d array: one value shared by all neurons\)"):
        layer_forward(config, with_entry(params, "theta", np.full(shape, 0.5)), x)


@pytest.mark.parametrize("name", ["W", "R"])
def test_weight_matrix_cannot_be_shared(name):
    config, params, x, _ = setup()
    with pytest.raises(ValueError, match=named(f"params[{name!r}]")):
        layer_forward(config, with_entry(params, name, np.array(0.5)), x)


def test_shared_param_range_checked():
    config, params, x, _ = setup()
    with pytest.raises(ValueError, match=named("params['alpha']")):
        layer_forward(config, with_entry(params, "alpha", np.array(1.5)), x)
    with pytest.raises(ValueError, match=named("params['theta']")):
        layer_forward(config, with_entry(params, "theta", np.array(0.0)), x)


def test_init_params_rejects_a_0d_weight_matrix():
    with pytest.raises(ValueError, match=named("W")):
        init_params(LIFConfig(M, N), 0, W=np.array(0.5))


@pytest.mark.parametrize("value", ["from_v", "Zero", "", None, 0, False])
def test_init_spike_unknown(value):
    with pytest.raises(ValueError, match=named("init_spike")):
        LIFConfig(M, N, init_spike=value)


@pytest.mark.parametrize("value", [1, 0, "yes", None])
def test_adaptive_threshold_not_bool(value):
    with pytest.raises(TypeError, match=named("adaptive_threshold")):
        LIFConfig(M, N, adaptive_threshold=value)


def test_adaptive_threshold_needs_a_spiking_layer():
    with pytest.raises(ValueError, match=mentions("adaptive_threshold=False")):
        LIFConfig(M, N, spiking=False, reset="none", adaptive_threshold=True)


def test_adaptive_threshold_rho_a_range_and_state():
    config, params, x, state0 = setup(cfg_full(adaptive_threshold=True))
    with pytest.raises(ValueError, match=named("params['rho_a']")):
        layer_forward(config, with_entry(params, "rho_a", np.full(N, 1.5)), x)
    st = {k: v for k, v in state0.items() if k != "a"}
    with pytest.raises(ValueError, match=named("state0") + ".*'a'"):
        layer_forward(config, params, x, st)
    with pytest.raises(ValueError, match=named("state0['a']")):
        layer_forward(config, params, x, with_entry(state0, "a", np.zeros((B, N + 1))))


@pytest.mark.parametrize("value", ["post", "pre", "", None, 1])
def test_membrane_view_unknown(value):
    with pytest.raises(ValueError, match=named("membrane_view")):
        LIFConfig(M, N, membrane_view=value)


def test_membrane_view_post_reset_not_expressible_with_hard_drop_input():
    with pytest.raises(ValueError, match=named("membrane_view='post_reset'") + ".*hard_drop_input"):
        LIFConfig(M, N, reset="hard_drop_input", membrane_view="post_reset")


def test_s_reset_rows_follow_the_membrane_view():
    config, params, x, _ = setup()
    with pytest.raises(ValueError, match=named("s_reset") + r" has shape \(5, 2, 2\), expected \(4, 2, 2\)$"):
        layer_forward(config, params, x, s_reset=np.zeros((T + 1, B, N)))
    post = cfg_full(membrane_view="post_reset")
    _, params, x, _ = setup(post)
    for rows in (T, T + 1):
        layer_forward(post, params, x, s_reset=np.zeros((rows, B, N)))
    with pytest.raises(ValueError, match=named("s_reset") + r" .*expected \(4, 2, 2\) or \(5, 2, 2\)"):
        layer_forward(post, params, x, s_reset=np.zeros((T + 2, B, N)))


@pytest.mark.parametrize("value", [-1, 1.0, 2.5, True, "2", None])
def test_refractory_not_a_count(value):
    with pytest.raises(ValueError, match=named("refractory")):
        LIFConfig(M, N, refractory=value)


def test_refractory_needs_a_spiking_layer():
    with pytest.raises(ValueError, match=mentions("refractory=0")):
        LIFConfig(M, N, spiking=False, reset="none", refractory=2)


@pytest.mark.parametrize("value", [0, 1, "yes", None])
def test_detach_refractory_not_bool(value):
    with pytest.raises(TypeError, match=named("detach_refractory")):
        LIFConfig(M, N, refractory=1, detach_refractory=value)


def test_gate_override_checked():
    config, params, x, _ = setup()
    with pytest.raises(ValueError, match=named("gate") + ".*refractory > 0"):
        layer_forward(config, params, x, gate=np.ones((T, B, N)))
    ref = cfg_full(refractory=2)
    _, params, x, _ = setup(ref)
    with pytest.raises(ValueError, match=named("gate") + " has shape"):
        layer_forward(ref, params, x, gate=np.ones((T + 1, B, N)))


@pytest.mark.parametrize("value", [1, "yes", None])
def test_detach_threshold_not_bool(value):
    with pytest.raises(TypeError, match=named("detach_threshold")):
        LIFConfig(M, N, adaptive_threshold=True, detach_threshold=value)


def test_detach_threshold_needs_adaptive_threshold():
    with pytest.raises(ValueError, match=named("detach_threshold=True") + ".*adaptive_threshold=True"):
        LIFConfig(M, N, detach_threshold=True)


def test_s_threshold_override_checked():
    config, params, x, _ = setup()
    with pytest.raises(ValueError, match=named("s_threshold") + ".*adaptive_threshold=True"):
        layer_forward(config, params, x, s_threshold=np.zeros((T, B, N)))
    athr = cfg_full(adaptive_threshold=True)
    _, params, x, _ = setup(athr)
    with pytest.raises(ValueError, match=named("s_threshold") + " has shape"):
        layer_forward(athr, params, x, s_threshold=np.zeros((T, B, N + 1)))


# ----------------------------------------------------------------------------
# The fault audit of issue 12: every case gets a clear TypeError/ValueError that
# names the argument (or a FloatingPointError naming the layer and step), promptly.
# ----------------------------------------------------------------------------

import signal  # noqa: E402

from refsnn import data, gradcheck, optim, tbptt, verify  # noqa: E402
from refsnn import train as TR  # noqa: E402
from refsnn.network import network_backward, network_forward, unflat_params  # noqa: E402


def _net1(**kw):
    return Network((LIFConfig(M, N, **kw),))


def _prompt(fn, seconds=10):
    """Run fn; a hang fails the test instead of stalling the suite."""
    def alarm(*_):
        raise TimeoutError("did not return promptly")
    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        return fn()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


_NET = _net1()
_P = network_init(_NET, 0)
_X = np.ones((T, B, M))
_TRAJS = network_forward(_NET, _P, _X)


@pytest.mark.parametrize("call, arg", [
    (lambda: network_forward("a", _P, _X), "net"),
    (lambda: network_init("a", 0), "net"),
    (lambda: network_backward("a", _P), "trajs"),
    (lambda: network_backward([1], _P), "trajs"),
    (lambda: init_params("a", 0), "config"),
    (lambda: zero_state("a", 2), "config"),
    (lambda: layer_forward("a", _P[0], _X), "config"),
    (lambda: tbptt.state_at("a", 0), "trajs"),
    (lambda: tbptt.tbptt_gradients("a", _P, _X, lambda *a: None, 2), "net"),
    (lambda: tbptt.tbptt_gradients(_NET, _P, _X, 3, 2), "loss_fn"),
    (lambda: tbptt.window_gradient(_NET, _P, _X, None, 3, slice(0, T), slice(0, T)), "loss_fn"),
    (lambda: verify.make_problem("a"), "point"),
    (lambda: verify.check_point("a"), "point"),
    (lambda: verify.check_smooth_twin("a"), "problem"),
    (lambda: verify.check_piecewise("a"), "problem"),
    (lambda: verify.check_network_smooth_twin("a", _P, _X, None, lambda t: 0), "net"),
    (lambda: verify.check_network_smooth_twin(_NET, _P, _X, None, 3), "loss"),
    (lambda: TR.train("a", "/tmp/never"), "cfg"),
    (lambda: TR.evaluate("a", _P, _X, None), "task"),
    (lambda: TR.load_checkpoint("/nonexistent.npz", "a"), "net"),
    (lambda: TR.make_task(3), "task"),
    (lambda: losses.spike_count_cross_entropy("a", [0]), "traj"),
    (lambda: gradcheck.numerical_gradient(3, np.ones(2)), "`f`"),
    (lambda: gradcheck.check_gradients(3, {"a": np.ones(2)}, {"a": np.ones(2)}), "`f`"),
    (lambda: unflat_params("a", 1), "flat"),
    (lambda: LIFConfig(M, N).spike("a"), "x"),
    (lambda: LIFConfig(M, N).spike([0.5, -0.5]), "x"),
    (lambda: LIFConfig(M, N).spike(np.array([1, -1])), "x"),
])
def test_wrong_type_objects_get_a_type_error_naming_the_argument(call, arg):
    with pytest.raises(TypeError, match=mentions(arg) if not arg.startswith("`") else re.escape(arg)):
        _prompt(call)


def test_train_refuses_a_wrong_task_object(tmp_path):
    cfg = TR.RunConfig(task="randman", epochs=1, lr=1e-3, batch_size=4, clip=1.0, seed=0, hidden=4)
    with pytest.raises(TypeError, match=mentions("task")):
        TR.train(cfg, tmp_path, task="randman", progress=False)
    with pytest.raises(TypeError, match=mentions("log")):
        TR.train(cfg, tmp_path, log=3, progress=False)


@pytest.mark.parametrize("call, arg", [
    (lambda: init_params(LIFConfig(M, N), 0, "float33"), "dtype"),
    (lambda: network_init(_NET, 0, "foo"), "dtype"),
    (lambda: data.randman(n_samples_per_class=2, dtype="x"), "dtype"),
    (lambda: data.yin_yang(3, dtype="float16"), "dtype"),
])
def test_bad_dtype_strings(call, arg):
    with pytest.raises((TypeError, ValueError), match=mentions(arg)):
        call()


@pytest.mark.parametrize("call, arg", [
    (lambda: tbptt.windows(2**64, 4, 1), "T"),
    (lambda: tbptt.windows(10**400, 4, 1), "T"),
    (lambda: tbptt.windows(2**62, 4, 1), "windows"),
    (lambda: unflat_params({}, 2**64), "n_layers"),
    (lambda: unflat_params({}, 10**400), "n_layers"),
    (lambda: LIFConfig(10**400, 3), "n_in"),
    (lambda: LIFConfig(3, 2**64), "n"),
    (lambda: data.yin_yang(10**400), "n_samples"),
    (lambda: data.randman(n_steps=10**400, n_samples_per_class=2), "n_steps"),
    (lambda: data.latency_encode(np.ones((2, 2)), 10**400), "n_steps"),
    (lambda: losses.spike_count_l1(_TRAJS[0], 10**400), "strength"),
    (lambda: surrogate("sigmoid", 10**400), "scale"),
    (lambda: gradcheck.numerical_gradient(lambda v: 0.0, np.ones(2), eps=10**400), "eps"),
    (lambda: zero_state(LIFConfig(M, N), 10**400), "batch"),
])
def test_huge_integers_are_value_errors_promptly(call, arg):
    with pytest.raises(ValueError, match=mentions(arg) if not arg == "eps" else "eps"):
        _prompt(call)


def test_unflat_params_of_nothing_still_works():
    assert unflat_params({}, 2) == [{}, {}]


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_yin_yang_small_sizes(n):
    points, labels = data.yin_yang(n, seed=n)
    assert points.shape == (n, 4) and labels.shape == (n,)
    assert np.all(data.yin_yang_label(points[:, 0], points[:, 1]) == labels)
    splits = data.yin_yang_splits(sizes=(n, 1, 1))
    assert len(splits["train"][1]) == n


@pytest.mark.parametrize("kw, arg", [
    (dict(r_big=1e308, r_small=1.0), "r_big"),
    (dict(r_big=float("inf")), "r_big"),
    (dict(r_small=1e-300), "r_small"),
    (dict(r_small=1e-200, r_big=1e-100), "r_small"),
    (dict(r_small=0.3, r_big=0.5), "r_small"),
    (dict(r_small=0.0), "r_small"),
    (dict(r_big=-1.0), "r_big"),
])
def test_yin_yang_radii_extremes(kw, arg):
    with pytest.raises(ValueError, match=mentions(arg)):
        _prompt(lambda: data.yin_yang(5, **kw))
    with pytest.raises(ValueError, match=mentions(arg)):
        data.yin_yang_label(0.1, 0.1, **kw)


def test_state_at_refuses_negative_out_of_range_and_fancy_indices():
    assert tbptt.state_at(_TRAJS, T - 1)[0]["v"].shape == (B, N)
    with pytest.raises(ValueError, match=mentions("local_t")):
        tbptt.state_at(_TRAJS, -1)
    with pytest.raises(ValueError, match=mentions("local_t")):
        tbptt.state_at(_TRAJS, T)
    for idx in ([0], slice(0, 1), 1.0, True, np.array([0])):
        with pytest.raises(TypeError, match=mentions("local_t")):
            tbptt.state_at(_TRAJS, idx)


def test_messages_name_the_argument_that_is_wrong():
    with pytest.raises(ValueError, match=named("H")):
        verify.make_problem(verify.grid()[0], H="a")
    with pytest.raises(ValueError, match=named("hidden")):
        TR.make_task("randman", hidden="a", small=True)
    with pytest.raises(ValueError, match=named("seed")):
        TR.make_task("randman", seed=-1, small=True)
    with pytest.raises(ValueError, match=named("eps")):
        _prompt(lambda: verify.check_smooth_twin(verify.make_problem(verify.grid()[0]), eps=1e136))
    with pytest.raises(ValueError, match=named("eps")):
        _prompt(lambda: verify.check_piecewise(verify.make_problem(verify.grid()[0]), eps=1.0))


@pytest.mark.parametrize("order", [1, 3, 5, 8, 4.0, "4", True, None])
def test_numerical_gradient_checks_order(order):
    with pytest.raises(ValueError, match="order"):
        gradcheck.numerical_gradient(lambda v: 0.0, np.ones(2), order=order)
    with pytest.raises(ValueError, match="order"):
        gradcheck.check_gradient(lambda v: 0.0, np.ones(2), np.zeros(2), order=order)


@pytest.mark.parametrize("eps", [0.0, -1e-3, float("nan"), float("inf"), 10**400, 1e308, "1e-3", None])
def test_numerical_gradient_checks_eps(eps):
    with pytest.raises(ValueError, match="eps"):
        gradcheck.numerical_gradient(lambda v: float(np.sum(v)), np.ones(2), eps=eps, order=6)


@pytest.mark.parametrize("field, value", [("reset", "soft"), ("detach", 1), ("adaptation", "yes"),
                                          ("synapse", None), ("recurrent", 0.0), ("loss", "xent")])
def test_grid_point_validates_its_fields(field, value):
    good = dict(reset="subtract", detach=False, adaptation=True, synapse=False, recurrent=True, loss="ce_count")
    with pytest.raises((TypeError, ValueError), match=re.escape(f"GridPoint.{field}")):
        verify.GridPoint(**{**good, field: value})


def test_global_norm_does_not_overflow_and_clipping_keeps_the_direction():
    g = {"a": np.full(4, 1e308), "b": np.array([-1e308, 3.0])}
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert optim.global_norm({"a": np.array([1e308, 1e308])}) == pytest.approx(np.sqrt(2) * 1e308)
        assert optim.global_norm(g) == np.inf              # √5·1e308 is past the float64 range
        clipped, norm = optim.clip_by_global_norm(g, 1.0)
    assert norm == np.inf
    np.testing.assert_allclose(clipped["a"], np.full(4, 1 / np.sqrt(5)), rtol=1e-15)
    np.testing.assert_allclose(clipped["b"], [-1 / np.sqrt(5), 3e-308 / np.sqrt(5)], rtol=1e-12)
    assert optim.global_norm(clipped) == pytest.approx(1.0, rel=1e-15)
    clipped, _ = optim.clip_by_global_norm({"w": np.array([1e308, -1e308], np.float64)}, 1e-3)
    np.testing.assert_allclose(clipped["w"], [1e-3 / np.sqrt(2), -1e-3 / np.sqrt(2)], rtol=1e-15)


def test_forward_overflow_names_the_layer_and_step():
    net = Network((LIFConfig(M, N), LIFConfig(N, N, reset="none", spiking=False)))
    p = network_init(net, 0)
    p[0]["W"][:] = 1e307                                     # finite, but the membrane overflows
    p[0]["alpha"][:] = 0.99
    p[0]["gamma"][:] = 0.0
    with pytest.raises(FloatingPointError, match=r"layer 0 .*step t = \d+"):
        network_forward(net, p, np.ones((50, B, M)))
    # float32, α = λ = ρ = 1 over 10,000 steps with large weights: the same clear error
    net32 = Network((LIFConfig(M, N, reset="none", synapse=True, adaptation=True),))
    p32 = network_init(net32, 0, np.float32, [dict(alpha=1.0, lam=1.0, rho=1.0, w_scale=1e33)])
    with pytest.raises(FloatingPointError, match=r"layer 0 .*step t = \d+.*float32"):
        network_forward(net32, p32, np.ones((10_000, 2, M), np.float32))


def test_backward_overflow_names_the_layer_and_step():
    net = Network((LIFConfig(M, N, surrogate=surrogate("sigmoid", 4.0), reset="none", spiking=False),))
    p = network_init(net, 0)
    p[0]["alpha"][:] = 0.99
    trajs = network_forward(net, p, np.ones((30, B, M)))
    dv = np.full((30, B, N), 1e307)                          # finite partials whose sum overflows
    with pytest.raises(FloatingPointError, match=r"layer 0 .*(step t = \d+|parameter gradients)"):
        network_backward(trajs, p, None, [dv])


def test_an_overflowing_input_gradient_names_the_layer():
    # Layer 1's ∂L/∂x = δI W overflows although δI and W are finite: network_backward must
    # not hand it to layer 0. Here the bound on δI and W cannot rule the overflow out, so
    # the product is read (refsnn.neurons.lif._InputGradient.finite_by_bound).
    net = Network((LIFConfig(M, 5), LIFConfig(5, 1, reset="none", spiking=False)))
    p = network_init(net, 0)
    p[1]["W"][:] = 1e300
    trajs = network_forward(net, p, np.ones((T, B, M)))
    dv = np.full((T, B, 1), 1e10)                            # δI ≈ 1e10, δI W ≈ 1e310: inf
    with pytest.raises(FloatingPointError, match=r"layer 1 .*∂L/∂x is not finite"):
        network_backward(trajs, p, None, [None, dv], wrt={"W"})   # (α's sum Σ δv v would overflow first)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_input_gradient_bound_is_an_upper_bound(dtype):
    from refsnn.neurons.lif import _InputGradient
    rng = np.random.default_rng(5)
    for _ in range(20):
        K, Mx = rng.integers(1, 8), rng.integers(8, 40)
        dI = (rng.standard_normal((50, K)) * 10.0 ** rng.uniform(-5, 5)).astype(dtype)
        W = (rng.standard_normal((K, Mx)) * 10.0 ** rng.uniform(-5, 5)).astype(dtype)
        g = _InputGradient(dI, W, (5, 10))
        assert g.finite_by_bound()
        x = g()
        assert x.shape == (5, 10, Mx) and np.isfinite(x).all()
        assert np.abs(x).max() <= np.abs(dI).sum(axis=1).max() * np.abs(W).max() * (1 + 1e-5)
    big = np.finfo(dtype).max
    W = np.ones((2, 9), dtype)
    assert not _InputGradient(np.full((4, 2), big / 3, dtype), W, (2, 2)).finite_by_bound()   # 2/3 max ≥ max/2
    assert _InputGradient(np.full((4, 2), big / 5, dtype), W, (2, 2)).finite_by_bound()       # 2/5 max < max/2
    assert not _InputGradient(np.full((4, 2), -big / 3, dtype), W, (2, 2)).finite_by_bound()  # |δI| of negatives
    assert not _InputGradient(np.full((4, 2), big / 3, dtype), -W, (2, 2)).finite_by_bound()  # |W| of negatives
    for bad in (np.inf, np.nan):
        dI = np.ones((4, 2), dtype)
        dI[3, 1] = bad
        assert not _InputGradient(dI, W, (2, 2)).finite_by_bound()
    assert not _InputGradient(np.ones((4, 9), dtype), W.T.copy(), (2, 2)).finite_by_bound()   # K ≥ M: not used


@pytest.mark.parametrize("kw", [dict(reset="none"), dict(reset="subtract"), dict(reset="hard_keep_input"),
                                dict(reset="hard_drop_input"), dict(reset="none", adaptation=True),
                                dict(reset="subtract", synapse=True), dict(reset="none", adaptive_threshold=True),
                                dict(reset="subtract", refractory=2)])
def test_forward_overflow_reports_the_first_step(kw):
    # network_forward reads only the last step unless it is not finite (an overflowed
    # state stays inf/NaN); the step it names must still be the first one, found by a
    # full scan here.
    from refsnn.neurons.lif import layer_forward
    net = Network((LIFConfig(M, N, **kw),))
    p = network_init(net, 0, np.float32, [dict(alpha=1.0)])
    p[0]["W"][:] = 3e36 / M                                  # the membrane grows by 3e36 a step
    p[0]["theta"][:] = np.finfo(np.float32).max              # (and no reset catches it first)
    x = np.ones((150, B, M), np.float32)
    with np.errstate(all="ignore"):
        tr = layer_forward(net.layers[0], p[0], x)
    states = [a for a in (tr.v, tr.u, tr.c, tr.a) if a is not None]
    bad = [a for a in states if not np.isfinite(a).all()]
    assert bad                                               # the premise: it overflows ...
    first = min(int(np.flatnonzero(~np.isfinite(a).reshape(150, -1).all(axis=1))[0]) for a in bad)
    for a in bad:                                            # ... and stays so
        t0 = int(np.flatnonzero(~np.isfinite(a).reshape(150, -1).all(axis=1))[0])
        assert not np.isfinite(a[t0:]).reshape(150 - t0, -1).all(axis=1).any()
    with pytest.raises(FloatingPointError, match=rf"layer 0 .*step t = {first}:"):
        network_forward(net, p, x)


@pytest.mark.parametrize("shape", [(100, 64, 256), (7, 5), (40, 64, 30)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_all_finite_finds_one_bad_entry_anywhere(shape, dtype):
    # Both ways of all_finite (the BLAS row sums for large contiguous arrays, NumPy's sum
    # otherwise) must see a single inf or NaN at any position, and must not mistake an
    # overflowing sum of finite entries for one.
    from refsnn._validate import all_finite

    a = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    assert all_finite(a) and all_finite(a[..., ::2])
    for bad in (np.inf, -np.inf, np.nan):
        for idx in (tuple(0 for _ in shape), tuple(n - 1 for n in shape), tuple(n // 2 for n in shape)):
            b = a.copy()
            b[idx] = bad
            assert not all_finite(b), (bad, idx)
    big = a.copy()
    big.reshape(-1)[:4] = np.finfo(dtype).max
    assert all_finite(big)
    big.reshape(-1)[-2:] = (np.inf, -np.inf)
    assert not all_finite(big)
