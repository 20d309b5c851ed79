"""Conv, ConvLocal and ConvTranspose on both backends: shapes, padding modes, and what each field means.

Every numeric claim is checked against an independent formulation (a direct
sum, a zero-stuffed input, a wrapped input, a per-group split, the adjoint of
``Conv``) rather than against a stored number.
"""

import functools
import importlib
import math
from types import SimpleNamespace

import ml_dtypes
import numpy as np
import pytest

from shared_spec.tolerances import assert_close


def flat_normal_init(nn):
    """Normal draws whose random kernel has one shape whatever the parameter's shape.

    Every new parameter shape would cost nnjax a compile of its threefry
    kernel; slicing one fixed-size draw keeps these tests cheap. The default
    initializers are tested in ``test_conv_parameter_names_shapes_and_defaults``,
    the KAT and the conformance tests.
    """

    def init(key, shape, dtype=np.float32):
        size = math.prod(shape)
        flat = nn.random.normal(key, (4096,), dtype)[:size].reshape(shape)
        return (flat / math.sqrt(max(math.prod(shape[:-1]), 1))).astype(dtype)

    return init


def conv_layers(nn, default_init=False):
    module = importlib.import_module(f"{nn.__name__}.layers.conv")
    if default_init:
        return module
    return SimpleNamespace(
        **{
            name: functools.partial(getattr(module, name), kernel_init=flat_normal_init(nn))
            for name in ("Conv", "ConvLocal", "ConvTranspose")
        }
    )


def normal(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def run(nn, layer, x, variables=None, key=0):
    """``(variables, output)`` as NumPy, initializing from ``PRNGKey(key)`` unless variables are given."""
    if variables is None:
        variables = layer.init(nn.random.PRNGKey(key), x)
    y = layer.apply(variables, x)
    return {c: {k: np.asarray(v) for k, v in vs.items()} for c, vs in variables.items()}, np.asarray(y)


def params(**arrays):
    return {"params": {k: np.asarray(v, np.float32) for k, v in arrays.items()}}


# ------------------------------------------------------------------------ Conv


def test_conv_parameter_names_shapes_and_defaults(nn):
    layers = conv_layers(nn, default_init=True)
    layer = layers.Conv(features=4, kernel_size=(3, 3))
    variables, y = run(nn, layer, normal((2, 6, 6, 2)))
    assert {k: v.shape for k, v in variables["params"].items()} == {"kernel": (3, 3, 2, 4), "bias": (4,)}
    assert variables["params"]["kernel"].dtype == np.float32
    assert np.all(variables["params"]["bias"] == 0)
    assert y.shape == (2, 6, 6, 4)  # 'SAME' by default
    # lecun_normal: truncated normal with variance 1 / fan_in, fan_in = 3 * 3 * 2
    kernel = variables["params"]["kernel"]
    assert 0.5 / math.sqrt(18) < kernel.std() < 1.5 / math.sqrt(18)
    assert np.abs(kernel).max() <= 2 / 0.87962566 / math.sqrt(18) + 1e-6
    assert layers.ConvTranspose(3, 2).strides is None and layers.ConvTranspose(3, 2).padding == "SAME"
    assert (layers.Conv(3, 2).strides, layers.Conv(3, 2).input_dilation, layers.Conv(3, 2).kernel_dilation) == (1, 1, 1)


def test_conv_is_the_windowed_dot_product(nn):
    x, w, b = normal((2, 7, 3), 1), normal((3, 3, 4), 2), normal((4,), 3)
    layer = conv_layers(nn).Conv(features=4, kernel_size=(3,), strides=2, padding="VALID")
    _, y = run(nn, layer, x, params(kernel=w, bias=b))
    xd, wd = x.astype(np.float64), w.astype(np.float64)
    expected = np.stack([sum(xd[:, 2 * i + k] @ wd[k] for k in range(3)) for i in range(3)], axis=1) + b
    assert_close(y, expected.astype(np.float32), family="conv")


@pytest.mark.parametrize(
    "padding, kernel, stride, expected",
    [
        ("SAME", 3, 2, 4),
        ("SAME", 4, 1, 7),
        ("VALID", 3, 2, 3),
        ("VALID", 4, 1, 4),
        ("CIRCULAR", 3, 2, 4),
        ("CIRCULAR", 4, 1, 7),
        ("CAUSAL", 3, 2, 4),
        ("CAUSAL", 2, 1, 7),
        (1, 3, 1, 7),
        ([(2, 0)], 3, 1, 7),
        ([(0, 3)], 3, 2, 4),
    ],
)
def test_conv_output_length_for_each_padding_mode(nn, padding, kernel, stride, expected):
    layer = conv_layers(nn).Conv(features=2, kernel_size=kernel, strides=stride, padding=padding)
    _, y = run(nn, layer, normal((1, 7, 3)))
    assert y.shape == (1, expected, 2)


def test_conv_circular_is_valid_on_the_wrapped_input(nn):
    Conv = conv_layers(nn).Conv
    x = normal((2, 5, 6, 3))
    variables, y = run(nn, Conv(4, (3, 2), kernel_dilation=(1, 2), padding="CIRCULAR"), x)
    # dilated kernel spans 3 and 3: wrap (1, 1) on both axes
    wrapped = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="wrap")
    _, y_valid = run(nn, Conv(4, (3, 2), kernel_dilation=(1, 2), padding="VALID"), wrapped, variables)
    assert y.shape == (2, 5, 6, 4)
    assert_close(y, y_valid, family="conv")


def test_conv_causal_output_only_sees_the_past(nn):
    layer = conv_layers(nn).Conv(features=2, kernel_size=3, kernel_dilation=2, padding="CAUSAL")
    x = normal((1, 9, 2))
    variables, y = run(nn, layer, x)
    x_later = x.copy()
    x_later[:, 6:] += 1.0
    _, y_later = run(nn, layer, x_later, variables)
    assert y.shape == (1, 9, 2)
    assert_close(y_later[:, :6], y[:, :6], family="exact")
    assert not np.allclose(y_later[:, 6:], y[:, 6:])


def test_conv_causal_rejects_more_than_one_spatial_axis(nn):
    with pytest.raises(ValueError, match="CAUSAL"):
        conv_layers(nn).Conv(2, (3, 3), padding="CAUSAL").init(nn.random.PRNGKey(0), np.ones((1, 4, 4, 1)))


def test_conv_invalid_padding_is_rejected(nn):
    with pytest.raises(ValueError, match="padding"):
        conv_layers(nn).Conv(2, (3, 3), padding=[(1, 1, 1), 2]).init(nn.random.PRNGKey(0), np.ones((1, 4, 4, 1)))
    with pytest.raises(ValueError, match="padding"):
        conv_layers(nn).Conv(2, (3,), padding="REFLECTIVE").init(nn.random.PRNGKey(0), np.ones((1, 4, 1)))


def test_conv_input_dilation_is_convolution_of_the_zero_stuffed_input(nn):
    Conv = conv_layers(nn).Conv
    x = normal((1, 4, 2))
    variables, y = run(nn, Conv(3, (2,), input_dilation=3, padding=[(1, 0)]), x)
    stuffed = np.zeros((1, 11, 2), np.float32)
    stuffed[:, 1::3] = x
    _, expected = run(nn, Conv(3, (2,), padding="VALID"), stuffed, variables)
    assert y.shape == (1, 10, 3)
    assert_close(y, expected, family="conv")


@pytest.mark.parametrize("padding", ["SAME", "VALID", "CIRCULAR"])
def test_conv_input_dilation_needs_explicit_padding(nn, padding):
    # As in the seed system: XLA resolves padding names only for undilated inputs.
    for cls in (conv_layers(nn).Conv, conv_layers(nn).ConvLocal):
        with pytest.raises(ValueError, match="input_dilation"):
            cls(3, (2,), input_dilation=2, padding=padding).init(nn.random.PRNGKey(0), np.ones((1, 4, 2)))


def test_conv_kernel_dilation_is_a_zero_stuffed_kernel(nn):
    Conv = conv_layers(nn).Conv
    x = normal((2, 8, 3))
    variables, y = run(nn, Conv(2, (3,), kernel_dilation=2, padding="SAME"), x)
    kernel = variables["params"]["kernel"]
    stuffed = np.zeros((5, 3, 2), np.float32)
    stuffed[::2] = kernel
    _, expected = run(nn, Conv(2, (5,), padding="SAME"), x, params(kernel=stuffed, bias=variables["params"]["bias"]))
    assert_close(y, expected, family="conv")


def test_conv_feature_groups_convolve_each_group_separately(nn):
    Conv = conv_layers(nn).Conv
    x = normal((2, 5, 5, 6))
    variables, y = run(nn, Conv(4, (3, 3), feature_group_count=2), x)
    kernel, bias = variables["params"]["kernel"], variables["params"]["bias"]
    assert kernel.shape == (3, 3, 3, 4)
    halves = [
        run(
            nn,
            Conv(2, (3, 3)),
            x[..., 3 * g : 3 * g + 3],
            params(kernel=kernel[..., 2 * g : 2 * g + 2], bias=bias[2 * g : 2 * g + 2]),
        )[1]
        for g in range(2)
    ]
    assert_close(y, np.concatenate(halves, axis=-1), family="conv")


def test_conv_feature_groups_must_divide_the_features(nn):
    with pytest.raises(ValueError, match="feature_group_count"):
        conv_layers(nn).Conv(4, (3,), feature_group_count=2).init(nn.random.PRNGKey(0), np.ones((1, 5, 3)))


def test_conv_without_bias_has_only_a_kernel(nn):
    variables, _ = run(nn, conv_layers(nn).Conv(3, (2,), use_bias=False), normal((1, 4, 2)))
    assert sorted(variables["params"]) == ["kernel"]


def test_conv_unbatched_and_multi_batch_inputs(nn):
    layer = conv_layers(nn).Conv(3, (2, 2), strides=(1, 2))
    x = normal((2, 3, 4, 5, 2))
    variables, y = run(nn, layer, x)
    assert y.shape == (2, 3, 4, 3, 3)
    _, y_flat = run(nn, layer, x.reshape(6, 4, 5, 2), variables)
    assert_close(y, y_flat.reshape(y.shape), family="exact")
    _, y_single = run(nn, layer, x[1, 2], variables)
    assert y_single.shape == (4, 3, 3)
    assert_close(y_single, y[1, 2], family="conv")


def test_conv_too_few_input_dimensions_is_an_error(nn):
    with pytest.raises(ValueError, match="dimensions"):
        conv_layers(nn).Conv(3, (2, 2)).init(nn.random.PRNGKey(0), np.ones((4, 4)))


def test_conv_mask_multiplies_the_kernel_and_leaves_params_intact(nn):
    Conv = conv_layers(nn).Conv
    mask = np.tril(np.ones((3, 2, 4), np.float32))
    x = normal((2, 6, 2))
    variables, y = run(nn, Conv(4, (3,), mask=mask, padding="VALID"), x)
    kernel = variables["params"]["kernel"]
    assert np.count_nonzero(kernel * (1 - mask)) > 0  # the stored parameter is not masked
    _, expected = run(
        nn, Conv(4, (3,), padding="VALID"), x, params(kernel=kernel * mask, bias=variables["params"]["bias"])
    )
    assert_close(y, expected, family="conv")
    _, again = run(nn, Conv(4, (3,), mask=mask, padding="VALID"), x, variables)
    assert_close(again, y, family="exact")


def test_conv_mask_of_the_wrong_shape_is_rejected(nn):
    with pytest.raises(ValueError, match="mask"):
        conv_layers(nn).Conv(4, (3,), mask=np.ones((3, 4), np.float32)).init(nn.random.PRNGKey(0), np.ones((1, 5, 2)))


def test_conv_dtype_and_param_dtype(nn):
    Conv = conv_layers(nn).Conv
    bf16 = ml_dtypes.bfloat16
    x = normal((1, 6, 3))
    variables, y = run(nn, Conv(2, (3,), param_dtype=bf16), x)
    assert variables["params"]["kernel"].dtype == bf16
    assert y.dtype == np.float32  # float32 inputs promote with bfloat16 params
    variables32, y32 = run(nn, Conv(2, (3,)), x)
    _, y16 = run(nn, Conv(2, (3,), dtype=bf16), x, variables32)
    assert y16.dtype == bf16
    assert_close(y16, y32.astype(bf16), family="conv")


def test_conv_three_spatial_axes(nn):
    layer = conv_layers(nn).Conv(2, (2, 3, 2), strides=(2, 1, 1), padding="VALID")
    x, w = normal((1, 4, 5, 3, 2)), normal((2, 3, 2, 2, 2), 1)
    _, y = run(nn, layer, x, params(kernel=w, bias=np.zeros(2)))
    assert y.shape == (1, 2, 3, 2, 2)
    expected = np.einsum("nabcI,abcIo->no", x[:, 2:4, 1:4, 1:3].astype(np.float64), w.astype(np.float64))
    assert_close(y[:, 1, 1, 1], expected.astype(np.float32), family="conv")


def test_conv_under_jit(nn):
    if nn.__name__ != "nnjax":
        pytest.skip("jit is nnjax's")
    import jax

    for cls in (conv_layers(nn).Conv, conv_layers(nn).ConvLocal):
        layer = cls(3, (2,), strides=2, padding="CIRCULAR")
        x = normal((2, 6, 2))
        shapes = jax.eval_shape(layer.init, nn.random.PRNGKey(0), x)  # init traces (ConvLocal: eval_shape inside)
        variables = layer.init(nn.random.PRNGKey(0), x)
        assert jax.tree_util.tree_map(np.shape, variables) == jax.tree_util.tree_map(lambda s: s.shape, shapes)
        eager = layer.apply(variables, x)
        assert_close(np.asarray(jax.jit(layer.apply)(variables, x)), np.asarray(eager), family="conv")


# ------------------------------------------------------------------- ConvLocal


def test_conv_local_shapes_follow_the_output_grid(nn):
    ConvLocal = conv_layers(nn).ConvLocal
    variables, y = run(nn, ConvLocal(features=4, kernel_size=(3,), padding="VALID"), np.ones((1, 8, 3), np.float32))
    assert {k: v.shape for k, v in variables["params"].items()} == {"kernel": (6, 9, 4), "bias": (6, 4)}
    assert y.shape == (1, 6, 4)
    # Two spatial axes but inputs of rank 3: one unbatched (1, 8) image.
    variables, y = run(
        nn, ConvLocal(features=4, kernel_size=(3, 3), strides=2, padding="CIRCULAR"), np.ones((1, 8, 3), np.float32)
    )
    assert {k: v.shape for k, v in variables["params"].items()} == {"kernel": (1, 4, 27, 4), "bias": (1, 4, 4)}
    assert y.shape == (1, 4, 4)


def test_conv_local_with_a_repeated_kernel_is_conv(nn):
    layers = conv_layers(nn)
    x = normal((2, 5, 4, 2))
    variables, y = run(nn, layers.Conv(3, (2, 3), kernel_dilation=(2, 1), padding="SAME"), x)
    kernel, bias = variables["params"]["kernel"], variables["params"]["bias"]
    # The local kernel's patch axis is feature-major: entry c * taps + tap.
    local = np.transpose(kernel, (2, 0, 1, 3)).reshape(12, 3)
    local = np.broadcast_to(local, (5, 4, 12, 3))
    _, y_local = run(
        nn,
        layers.ConvLocal(3, (2, 3), kernel_dilation=(2, 1), padding="SAME"),
        x,
        params(kernel=local, bias=np.broadcast_to(bias, (5, 4, 3))),
    )
    assert_close(y_local, y, family="conv")


def test_conv_local_weights_are_unshared(nn):
    ConvLocal = conv_layers(nn).ConvLocal
    x = np.ones((1, 4, 1), np.float32)
    kernel = np.zeros((2, 3, 1), np.float32)
    kernel[0] = 1.0
    _, y = run(nn, ConvLocal(1, (3,), padding="VALID", use_bias=False), x, params(kernel=kernel))
    assert_close(y[0, :, 0], np.float32([3, 0]), family="exact")


def test_conv_local_rejects_feature_groups(nn):
    with pytest.raises(ValueError, match="feature_group_count"):
        conv_layers(nn).ConvLocal(2, (3,), feature_group_count=2).init(nn.random.PRNGKey(0), np.ones((1, 5, 2)))


# --------------------------------------------------------------- ConvTranspose


def test_conv_transpose_parameter_shapes(nn):
    ConvTranspose = conv_layers(nn).ConvTranspose
    variables, y = run(nn, ConvTranspose(features=4, kernel_size=(3,), padding="VALID"), np.ones((1, 8, 3), np.float32))
    assert {k: v.shape for k, v in variables["params"].items()} == {"kernel": (3, 3, 4), "bias": (4,)}
    assert y.shape == (1, 10, 4)
    variables, y = run(
        nn,
        ConvTranspose(4, (6, 6), strides=(2, 2), padding="CIRCULAR", transpose_kernel=True),
        np.ones((1, 15, 15, 3), np.float32),
    )
    assert variables["params"]["kernel"].shape == (6, 6, 4, 3)
    assert y.shape == (1, 30, 30, 4)


@pytest.mark.parametrize(
    "padding, kernel, stride, expected",
    [
        ("SAME", 3, 2, 10),
        ("SAME", 2, 3, 15),
        ("VALID", 3, 2, 11),
        ("VALID", 2, 3, 15),
        ("VALID", 4, 1, 8),
        ("CIRCULAR", 3, 2, 10),
        ("CIRCULAR", 5, 3, 15),
        (1, 3, 2, 9),
        ([(0, 2)], 3, 2, 9),
    ],
)
def test_conv_transpose_output_length(nn, padding, kernel, stride, expected):
    layer = conv_layers(nn).ConvTranspose(features=2, kernel_size=kernel, strides=stride, padding=padding)
    _, y = run(nn, layer, normal((1, 5, 3)))
    assert y.shape == (1, expected, 2)


@pytest.mark.parametrize(
    "padding, size, kernel, stride, dilation",
    [
        ("SAME", 6, (3, 2), (2, 2), (1, 1)),
        ("SAME", 6, (4, 1), (3, 1), (1, 2)),
        ("VALID", 7, (3, 3), (2, 2), (1, 1)),
        ("VALID", 5, (2, 3), (2, 1), (2, 1)),
        ("CIRCULAR", 6, (3, 4), (2, 3), (1, 1)),
        ("CIRCULAR", 6, (2, 3), (1, 2), (2, 1)),
    ],
)
def test_conv_transpose_with_transposed_kernel_is_the_adjoint_of_conv(nn, padding, size, kernel, stride, dilation):
    layers = conv_layers(nn)
    x = normal((2, size, size, 3), 1)
    conv = layers.Conv(4, kernel, strides=stride, kernel_dilation=dilation, padding=padding, use_bias=False)
    variables, y = run(nn, conv, x)
    g = normal(y.shape, 2)
    transpose = layers.ConvTranspose(
        3, kernel, strides=stride, kernel_dilation=dilation, padding=padding, use_bias=False, transpose_kernel=True
    )
    _, xt = run(nn, transpose, g, variables)
    assert xt.shape == x.shape
    lhs = np.sum(y.astype(np.float64) * g)
    rhs = np.sum(x.astype(np.float64) * xt)
    assert_close(np.float32(lhs / np.abs(lhs).max()), np.float32(rhs / np.abs(lhs).max()), family="conv")


def test_conv_transpose_is_stride_dilated_convolution(nn):
    # Without transpose_kernel the kernel is used as is on the stride-dilated input.
    layers = conv_layers(nn)
    x = normal((1, 4, 2))
    variables, y = run(nn, layers.ConvTranspose(3, (3,), strides=2, padding="VALID"), x)
    stuffed = np.zeros((1, 7, 2), np.float32)
    stuffed[:, ::2] = x
    _, expected = run(nn, layers.Conv(3, (3,), padding=[(2, 2)]), stuffed, variables)
    assert y.shape == (1, 9, 3)
    assert_close(y, expected, family="conv")


def test_conv_transpose_unbatched_multi_batch_and_mask(nn):
    ConvTranspose = conv_layers(nn).ConvTranspose
    mask = np.zeros((2, 3, 2), np.float32)
    mask[0] = 1.0
    layer = ConvTranspose(2, 2, strides=2, mask=mask)
    x = normal((2, 2, 3, 3))
    variables, y = run(nn, layer, x)
    assert y.shape == (2, 2, 6, 2)
    _, y_single = run(nn, layer, x[1, 0], variables)
    assert_close(y_single, y[1, 0], family="conv")
    # 'SAME' pads the stride-dilated input by one low, so even outputs see only tap 1, which the mask removes.
    assert_close(y[..., 0::2, :], np.broadcast_to(variables["params"]["bias"], y[..., 0::2, :].shape), family="exact")
    with pytest.raises(ValueError, match="mask"):
        ConvTranspose(2, 2, mask=np.ones((2, 2, 3), np.float32)).init(nn.random.PRNGKey(0), x)


def test_conv_transpose_rejects_causal_padding(nn):
    with pytest.raises(ValueError, match="padding"):
        conv_layers(nn).ConvTranspose(2, 3, padding="CAUSAL").init(nn.random.PRNGKey(0), np.ones((1, 4, 1)))
