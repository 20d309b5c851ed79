"""Recurrent cells on both backends: parameter trees, carries, dtypes, errors, and the arithmetic.

The arithmetic is checked against hand-written float64 NumPy steps (the
equations of each cell's docstring) run on the cell's own parameters over a
few time steps. Shapes are kept to features/inputs of 3 and 4 so that JAX's
per-shape compilations are shared across tests.
"""

import importlib

import numpy as np
import pytest

from conformance.compare import to_backend, to_numpy
from shared_spec.tolerances import assert_close, assert_trees_close

FEATURES, IN_FEATURES, BATCH, STEPS = 3, 4, (2,), 3


def rec(nn):
    return importlib.import_module(f"{nn.__name__}.layers.recurrent")


def _inputs(steps=STEPS, batch=BATCH, in_features=IN_FEATURES, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).normal(size=(steps,) + batch + (in_features,)).astype(dtype)


def _unroll(nn, cell, variables, carry, xs):
    """Run ``cell`` over the leading axis of ``xs`` with a Python loop."""
    ys = []
    for x in xs:
        carry, y = cell.apply(variables, carry, nn.numpy.asarray(x))
        ys.append(np.asarray(y))
    return carry, np.stack(ys)


def _init(nn, cell, xs, seed=1):
    carry = cell.initialize_carry(nn.random.PRNGKey(0), xs.shape[1:])
    variables = cell.init(nn.random.PRNGKey(seed), carry, nn.numpy.asarray(xs[0]))
    return carry, variables


# ------------------------------------------------------------ float64 references


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def _p64(variables):
    return {
        name: {k: np.asarray(v, np.float64) for k, v in layer.items()}
        for name, layer in to_numpy(variables)["params"].items()
    }


def _lin(p, name, v):
    out = v @ p[name]["kernel"]
    return out + p[name]["bias"] if "bias" in p[name] else out


def lstm_step(p, carry, x):
    c, h = carry
    i = _sigmoid(_lin(p, "ii", x) + _lin(p, "hi", h))
    f = _sigmoid(_lin(p, "if", x) + _lin(p, "hf", h))
    g = np.tanh(_lin(p, "ig", x) + _lin(p, "hg", h))
    o = _sigmoid(_lin(p, "io", x) + _lin(p, "ho", h))
    c = f * c + i * g
    h = o * np.tanh(c)
    return (c, h), h


def gru_step(p, h, x):
    r = _sigmoid(_lin(p, "ir", x) + _lin(p, "hr", h))
    z = _sigmoid(_lin(p, "iz", x) + _lin(p, "hz", h))
    n = np.tanh(_lin(p, "in", x) + r * _lin(p, "hn", h))
    h = (1 - z) * n + z * h
    return h, h


def mgu_step(p, h, x, reset_gate):
    f = _sigmoid(_lin(p, "if", x) + _lin(p, "hf", h))
    hn = _lin(p, "hn", h)
    n = np.tanh(_lin(p, "in", x) + (f * hn if reset_gate else hn))
    h = (1 - f) * n + f * h
    return h, h


def simple_step(p, h, x, residual):
    pre = _lin(p, "i", x) + _lin(p, "h", h)
    h = np.tanh(pre + h if residual else pre)
    return h, h


def _reference_unroll(step, p, carry, xs):
    carry = (
        tuple(np.asarray(c, np.float64) for c in carry) if isinstance(carry, tuple) else np.asarray(carry, np.float64)
    )
    ys = []
    for x in xs.astype(np.float64):
        carry, y = step(p, carry, x)
        ys.append(y)
    return carry, np.stack(ys)


CASES = {
    "LSTMCell": (dict(), lstm_step),
    "OptimizedLSTMCell": (dict(), lstm_step),
    "GRUCell": (dict(), gru_step),
    "MGUCell": (dict(), lambda p, h, x: mgu_step(p, h, x, True)),
    "MGUCell-no-reset": (dict(reset_gate=False), lambda p, h, x: mgu_step(p, h, x, False)),
    "SimpleCell": (dict(), lambda p, h, x: simple_step(p, h, x, False)),
    "SimpleCell-residual": (dict(residual=True), lambda p, h, x: simple_step(p, h, x, True)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_cells_match_handwritten_numpy_steps(nn, case):
    kwargs, step = CASES[case]
    cls = getattr(rec(nn), case.split("-")[0])
    xs = _inputs()
    cell = cls(FEATURES, **kwargs)
    carry, variables = _init(nn, cell, xs)
    # Non-zero biases and a non-zero start, so every term of the equations counts.
    variables = {
        "params": {
            name: {k: (np.asarray(v) + 0.1 * (k == "bias")).astype(np.float32) for k, v in layer.items()}
            for name, layer in to_numpy(variables)["params"].items()
        }
    }
    carry = (
        tuple(np.full(np.shape(c), 0.3, np.float32) for c in carry)
        if isinstance(carry, tuple)
        else np.full(np.shape(carry), 0.3, np.float32)
    )
    got_carry, got_ys = _unroll(nn, cell, to_backend(nn, variables), to_backend(nn, carry), xs)
    want_carry, want_ys = _reference_unroll(step, _p64(variables), carry, xs)
    assert got_ys.dtype == np.float32
    assert_close(got_ys, want_ys, family="matmul", dtype="float32", err_msg=f"{case} outputs")
    got_parts = to_numpy(got_carry) if isinstance(got_carry, tuple) else (np.asarray(got_carry),)
    want_parts = want_carry if isinstance(want_carry, tuple) else (want_carry,)
    assert len(got_parts) == len(want_parts)
    for got, want in zip(got_parts, want_parts):
        assert_close(got, want, family="matmul", dtype="float32", err_msg=f"{case} final carry")


# ------------------------------------------------------------ parameter trees


def _shapes(variables):
    return {name: {k: tuple(np.shape(v)) for k, v in layer.items()} for name, layer in variables["params"].items()}


def test_lstm_parameter_names_and_shapes(nn):
    xs = _inputs()
    _, variables = _init(nn, rec(nn).LSTMCell(FEATURES), xs)
    i, f = IN_FEATURES, FEATURES
    want = {
        **{f"i{g}": {"kernel": (i, f)} for g in "ifgo"},
        **{f"h{g}": {"kernel": (f, f), "bias": (f,)} for g in "ifgo"},
    }
    assert _shapes(variables) == want
    assert list(variables["params"]) == ["ii", "hi", "if", "hf", "ig", "hg", "io", "ho"]


def test_optimized_lstm_has_lstm_parameters_and_outputs(nn):
    xs = _inputs()
    carry, plain = _init(nn, rec(nn).LSTMCell(FEATURES), xs)
    _, fused = _init(nn, rec(nn).OptimizedLSTMCell(FEATURES), xs)
    # Same names, same keys: the very same draws.
    assert_trees_close(to_numpy(fused), to_numpy(plain), family="exact")
    c1, y1 = _unroll(nn, rec(nn).LSTMCell(FEATURES), plain, carry, xs)
    c2, y2 = _unroll(nn, rec(nn).OptimizedLSTMCell(FEATURES), plain, carry, xs)
    assert_close(y2, y1, family="matmul")
    assert_trees_close(to_numpy(c2), to_numpy(c1), family="matmul")


def test_gru_parameter_names_and_shapes(nn):
    xs = _inputs()
    _, variables = _init(nn, rec(nn).GRUCell(FEATURES), xs)
    i, f = IN_FEATURES, FEATURES
    assert _shapes(variables) == {
        "ir": {"kernel": (i, f), "bias": (f,)},
        "hr": {"kernel": (f, f)},
        "iz": {"kernel": (i, f), "bias": (f,)},
        "hz": {"kernel": (f, f)},
        "in": {"kernel": (i, f), "bias": (f,)},
        "hn": {"kernel": (f, f), "bias": (f,)},
    }
    assert list(variables["params"]) == ["ir", "hr", "iz", "hz", "in", "hn"]


@pytest.mark.parametrize("reset_gate", [True, False])
def test_mgu_parameters_and_bias_inits(nn, reset_gate):
    xs = _inputs()
    _, variables = _init(nn, rec(nn).MGUCell(FEATURES, reset_gate=reset_gate), xs)
    i, f = IN_FEATURES, FEATURES
    want = {
        "if": {"kernel": (i, f), "bias": (f,)},
        "hf": {"kernel": (f, f)},
        "hn": {"kernel": (f, f), "bias": (f,)} if reset_gate else {"kernel": (f, f)},
        "in": {"kernel": (i, f), "bias": (f,)},
    }
    assert _shapes(variables) == want
    params = to_numpy(variables)["params"]
    # The forget bias starts at one (open gate), the candidate biases at zero.
    assert_close(params["if"]["bias"], np.ones(f, np.float32), family="exact")
    assert_close(params["in"]["bias"], np.zeros(f, np.float32), family="exact")


def test_simple_cell_parameters(nn):
    xs = _inputs()
    _, variables = _init(nn, rec(nn).SimpleCell(FEATURES), xs)
    assert _shapes(variables) == {
        "i": {"kernel": (IN_FEATURES, FEATURES), "bias": (FEATURES,)},
        "h": {"kernel": (FEATURES, FEATURES)},
    }


def test_recurrent_kernels_are_orthogonal(nn):
    xs = _inputs()
    _, variables = _init(nn, rec(nn).GRUCell(FEATURES), xs)
    w = np.asarray(variables["params"]["hr"]["kernel"], np.float64)
    assert_close(w.T @ w, np.eye(FEATURES), family="matmul", dtype="float32")


# ------------------------------------------------------------ carries


@pytest.mark.parametrize("name", ["LSTMCell", "OptimizedLSTMCell", "GRUCell", "MGUCell", "SimpleCell"])
@pytest.mark.parametrize("input_shape", [(4,), (2, 4), (2, 5, 4)])
def test_initialize_carry_shapes_and_zeros(nn, name, input_shape):
    cell = getattr(rec(nn), name)(FEATURES)
    carry = cell.initialize_carry(nn.random.PRNGKey(0), input_shape)
    parts = carry if isinstance(carry, tuple) else (carry,)
    assert len(parts) == (2 if "LSTM" in name else 1)
    for part in parts:
        assert_close(np.asarray(part), np.zeros(input_shape[:-1] + (FEATURES,), np.float32), family="exact")
    assert cell.num_feature_axes == 1


def test_carry_init_keys_follow_the_seed(nn):
    normal = nn.initializers.normal(1.0)
    key = nn.random.PRNGKey(7)
    shape = (2, FEATURES)
    # The LSTM splits the key in two, c from the first half, h from the second.
    c, h = rec(nn).LSTMCell(FEATURES, carry_init=normal).initialize_carry(key, (2, IN_FEATURES))
    k_c, k_h = nn.random.split(key)
    assert_close(np.asarray(c), np.asarray(normal(k_c, shape)), family="exact")
    assert_close(np.asarray(h), np.asarray(normal(k_h, shape)), family="exact")
    # The single-state cells use the key as given.
    h = rec(nn).GRUCell(FEATURES, carry_init=normal).initialize_carry(key, (2, IN_FEATURES))
    assert_close(np.asarray(h), np.asarray(normal(key, shape)), family="exact")


def test_carry_dtype_is_param_dtype(nn):
    carry = (
        rec(nn)
        .LSTMCell(FEATURES, param_dtype=nn.numpy.bfloat16)
        .initialize_carry(nn.random.PRNGKey(0), (2, IN_FEATURES))
    )
    assert [np.asarray(c).dtype.name for c in carry] == ["bfloat16", "bfloat16"]


def test_input_with_several_batch_axes(nn):
    xs = _inputs(batch=(2, 1))
    cell = rec(nn).GRUCell(FEATURES)
    carry, variables = _init(nn, cell, xs)
    carry, ys = _unroll(nn, cell, variables, carry, xs)
    assert ys.shape == (STEPS, 2, 1, FEATURES) and np.shape(carry) == (2, 1, FEATURES)


# ------------------------------------------------------------ fields change the numbers


def test_gate_and_activation_functions_are_used(nn):
    xs = _inputs()
    ones = lambda v: nn.numpy.ones_like(v)  # noqa: E731  every gate fully open
    cell = rec(nn).LSTMCell(FEATURES, gate_fn=ones)
    carry, variables = _init(nn, cell, xs)
    (c, h), y = cell.apply(variables, carry, nn.numpy.asarray(xs[0]))
    p = _p64(variables)
    g = np.tanh(_lin(p, "ig", xs[0].astype(np.float64)) + _lin(p, "hg", np.zeros((2, FEATURES))))
    # With i = f = o = 1: c' = c + g and h' = tanh(c').
    assert_close(np.asarray(c), g, family="matmul", dtype="float32")
    assert_close(np.asarray(h), np.tanh(g), family="matmul", dtype="float32")

    relu_cell = rec(nn).SimpleCell(FEATURES, activation_fn=nn.relu)
    carry, variables = _init(nn, relu_cell, xs)
    x = np.concatenate([xs[0], -xs[0]])  # both signs of every pre-activation
    carry = nn.numpy.zeros((4, FEATURES))
    _, y = relu_cell.apply(variables, carry, nn.numpy.asarray(x))
    p = _p64(variables)
    assert_close(np.asarray(y), np.maximum(_lin(p, "i", x.astype(np.float64)), 0), family="matmul", dtype="float32")


def test_simple_cell_residual_adds_the_old_state(nn):
    zeros = nn.initializers.zeros_init()
    x = nn.numpy.asarray(_inputs()[0])
    h0 = nn.numpy.asarray(np.full((2, FEATURES), 0.5, np.float32))
    for residual, want in ((False, 0.0), (True, np.tanh(0.5))):
        cell = rec(nn).SimpleCell(FEATURES, residual=residual, kernel_init=zeros, recurrent_kernel_init=zeros)
        variables = cell.init(nn.random.PRNGKey(0), h0, x)
        _, y = cell.apply(variables, h0, x)
        assert_close(np.asarray(y), np.full((2, FEATURES), want, np.float32), family="transcendental")


@pytest.mark.parametrize("name", ["LSTMCell", "GRUCell", "MGUCell", "SimpleCell"])
def test_low_precision_dtype_follows_jax_promotion(nn, name):
    cls = getattr(rec(nn), name)
    xs = _inputs()
    bf16 = nn.numpy.bfloat16
    # bfloat16 computation, float32 params and carry: a carry update that mixes in
    # the old float32 state (c, or h in GRU/MGU) promotes back to float32; the
    # simple cell never mixes it in, so it stays bfloat16.
    cell = cls(FEATURES, dtype=bf16)
    carry, variables = _init(nn, cell, xs)
    new_carry, y = cell.apply(variables, carry, nn.numpy.asarray(xs[0]))
    want = "bfloat16" if name == "SimpleCell" else "float32"
    assert np.asarray(y).dtype.name == want
    assert all(np.asarray(p).dtype.name == want for p in (new_carry if isinstance(new_carry, tuple) else (new_carry,)))
    # Everything bfloat16: the cell stays in bfloat16 (a Python 1 in (1 - z) must not widen it).
    # (JAX's orthogonal initializer has no bfloat16 QR on CPU, so another recurrent init.)
    cell = cls(FEATURES, dtype=bf16, param_dtype=bf16, recurrent_kernel_init=nn.initializers.lecun_normal())
    xs16 = xs.astype(bf16)
    carry, variables = _init(nn, cell, xs16)
    assert {np.asarray(v).dtype.name for layer in variables["params"].values() for v in layer.values()} == {"bfloat16"}
    new_carry, y = cell.apply(variables, carry, nn.numpy.asarray(xs16[0]))
    assert np.asarray(y).dtype.name == "bfloat16"
    assert all(
        np.asarray(p).dtype.name == "bfloat16" for p in (new_carry if isinstance(new_carry, tuple) else (new_carry,))
    )


# ------------------------------------------------------------ misuse


def test_lstm_rejects_a_bare_array_carry(nn):
    cell = rec(nn).LSTMCell(FEATURES)
    x = nn.numpy.asarray(_inputs()[0])
    with pytest.raises(TypeError, match=r"LSTMCell: carry must be the pair \(c, h\)"):
        cell.init(nn.random.PRNGKey(0), nn.numpy.zeros((2, FEATURES)), x)


def test_gru_rejects_a_pair_carry(nn):
    cell = rec(nn).GRUCell(FEATURES)
    x = nn.numpy.asarray(_inputs()[0])
    carry = (nn.numpy.zeros((2, FEATURES)), nn.numpy.zeros((2, FEATURES)))
    with pytest.raises(TypeError, match="GRUCell: carry must be one array"):
        cell.init(nn.random.PRNGKey(0), carry, x)


def test_carry_size_must_match_features(nn):
    cell = rec(nn).GRUCell(FEATURES)
    x = nn.numpy.asarray(_inputs()[0])
    with pytest.raises(ValueError, match="features=3 needs a last axis of 3"):
        cell.init(nn.random.PRNGKey(0), nn.numpy.zeros((2, FEATURES + 1)), x)


def test_initialize_carry_needs_the_feature_axis(nn):
    with pytest.raises(ValueError, match=r"initialize_carry: input_shape \(\) has fewer than the 1 feature axes"):
        rec(nn).LSTMCell(FEATURES).initialize_carry(nn.random.PRNGKey(0), ())


def test_base_class_requires_its_methods(nn):
    class Incomplete(rec(nn).RNNCellBase):
        @nn.compact
        def __call__(self, carry, x):
            return carry, x

    with pytest.raises(TypeError, match="does not define initialize_carry"):
        Incomplete().initialize_carry(nn.random.PRNGKey(0), (2, 3))
    with pytest.raises(TypeError, match="does not define the num_feature_axes property"):
        Incomplete().num_feature_axes  # noqa: B018


# ------------------------------------------------------------ ConvLSTMCell


def _conv_same(x, kernel, bias):
    """Stride-1 'SAME' convolution, channels last, in float64: pad (k-1)//2 low, the rest high."""
    window = kernel.shape[:-2]
    pads = [(0, 0)] + [((k - 1) // 2, k - 1 - (k - 1) // 2) for k in window] + [(0, 0)]
    patches = np.lib.stride_tricks.sliding_window_view(np.pad(x, pads), window, axis=tuple(range(1, 1 + len(window))))
    # patches: (batch, *spatial, channels, *window)
    letters = "ijk"[: len(window)]
    out = np.einsum(f"...c{letters},{letters}cf->...f", patches, kernel)
    return out if bias is None else out + bias


def conv_lstm_step(p, carry, x):
    c, h = carry
    gates = _conv_same(x, p["ih"]["kernel"], p["ih"].get("bias")) + _conv_same(
        h, p["hh"]["kernel"], p["hh"].get("bias")
    )
    i, g, f, o = np.split(gates, 4, axis=-1)
    c = _sigmoid(f + 1) * c + _sigmoid(i) * np.tanh(g)
    h = _sigmoid(o) * np.tanh(c)
    return (c, h), h


@pytest.mark.parametrize("kernel_size,spatial", [((3,), (5,)), ((2, 2), (3, 4))])
@pytest.mark.parametrize("use_bias", [True, False])
def test_conv_lstm_matches_handwritten_numpy_steps(nn, kernel_size, spatial, use_bias):
    features, channels = 2, 3
    xs = np.random.default_rng(3).normal(size=(STEPS, 2) + spatial + (channels,)).astype(np.float32)
    cell = rec(nn).ConvLSTMCell(features, kernel_size=kernel_size, use_bias=use_bias)
    carry, variables = _init(nn, cell, xs)
    assert _shapes(variables) == {
        "ih": {"kernel": kernel_size + (channels, 4 * features), **({"bias": (4 * features,)} if use_bias else {})},
        "hh": {"kernel": kernel_size + (features, 4 * features), **({"bias": (4 * features,)} if use_bias else {})},
    }
    params = {
        name: {k: (np.asarray(v) + 0.1 * (k == "bias")).astype(np.float32) for k, v in layer.items()}
        for name, layer in to_numpy(variables)["params"].items()
    }
    carry = tuple(np.full(np.shape(c), 0.3, np.float32) for c in carry)
    got_carry, got_ys = _unroll(nn, cell, to_backend(nn, {"params": params}), to_backend(nn, carry), xs)
    want_carry, want_ys = _reference_unroll(conv_lstm_step, _p64({"params": params}), carry, xs)
    assert got_ys.shape == (STEPS, 2) + spatial + (features,)
    assert_close(got_ys, want_ys, family="conv", dtype="float32")
    for got, want in zip(to_numpy(got_carry), want_carry):
        assert_close(got, want, family="conv", dtype="float32")


@pytest.mark.parametrize("input_shape", [(5, 5, 3), (2, 5, 5, 3), (2, 1, 5, 5, 3)])
def test_conv_lstm_carry_shapes(nn, input_shape):
    cell = rec(nn).ConvLSTMCell(4, kernel_size=(3, 3))
    assert cell.num_feature_axes == 3
    c, h = cell.initialize_carry(nn.random.PRNGKey(0), input_shape)
    assert np.shape(c) == np.shape(h) == input_shape[:-1] + (4,)
    assert rec(nn).ConvLSTMCell(4, kernel_size=(3,)).num_feature_axes == 2
    with pytest.raises(ValueError, match="fewer than the 3 feature axes"):
        cell.initialize_carry(nn.random.PRNGKey(0), (5, 3))


def test_conv_lstm_unbatched_and_bfloat16(nn):
    cell = rec(nn).ConvLSTMCell(2, kernel_size=(3,), dtype=nn.numpy.bfloat16, param_dtype=nn.numpy.bfloat16)
    x = nn.numpy.asarray(np.ones((5, 3), np.float32)).astype(nn.numpy.bfloat16)
    carry = cell.initialize_carry(nn.random.PRNGKey(0), x.shape)
    variables = cell.init(nn.random.PRNGKey(1), carry, x)
    (c, h), y = cell.apply(variables, carry, x)
    # The forget-gate + 1 is a weak constant: everything stays bfloat16.
    assert [np.asarray(a).dtype.name for a in (c, h, y)] == ["bfloat16"] * 3
    assert np.shape(y) == (5, 2)
