"""DenseGeneral and Einsum: parameter shapes, initialization, numerics and misuse, on both backends."""

import importlib

import numpy as np
import pytest

from shared_spec.tolerances import assert_close


def lg(nn):
    return importlib.import_module(f"{nn.__name__}.layers.linear_general")


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _params(variables):
    return {k: np.asarray(v) for k, v in variables["params"].items()}


def _arange_init(calls):
    """An initializer that records the shape it is asked for and returns 0, 1, 2, ... in it."""

    def init(key, shape, dtype=np.float32):
        calls.append(tuple(shape))
        return np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape).astype(dtype)

    return init


# -- DenseGeneral --------------------------------------------------------------------


@pytest.mark.parametrize(
    "features, axis, batch_dims, in_shape, kernel, bias, out",
    [
        ((4, 5), -1, (), (1, 3), (3, 4, 5), (4, 5), (1, 4, 5)),
        # Axes are contracted in sorted order, whatever order they are given in.
        ((4, 5), (-1, 1), (), (1, 3, 6, 7), (3, 7, 4, 5), (4, 5), (1, 6, 4, 5)),
        ((4, 5), (1, -1), (), (1, 3, 6, 7), (3, 7, 4, 5), (4, 5), (1, 6, 4, 5)),
        (2, -1, (0,), (3, 4, 5), (3, 5, 2), (3, 2), (3, 4, 2)),
        ((2, 1), (2,), (0, 1), (3, 4, 5, 6), (3, 4, 5, 2, 1), (3, 4, 2, 1), (3, 4, 6, 2, 1)),
    ],
)
def test_dense_general_shapes(nn, features, axis, batch_dims, in_shape, kernel, bias, out):
    layer = lg(nn).DenseGeneral(features=features, axis=axis, batch_dims=batch_dims)
    x = nn.numpy.asarray(_x(in_shape))
    variables = layer.init(nn.random.PRNGKey(0), x)
    params = _params(variables)
    assert params["kernel"].shape == kernel
    assert params["bias"].shape == bias
    assert params["kernel"].dtype == np.float32
    assert layer.apply(variables, x).shape == out


def test_dense_general_kernel_drawn_as_flat_matrix(nn):
    # The initializer sees (prod(batch + contracted), prod(features)); the draw is reshaped.
    calls = []
    layer = lg(nn).DenseGeneral(
        features=(2, 3), axis=(1, 2), batch_dims=(0,), kernel_init=_arange_init(calls), bias_init=_arange_init(calls)
    )
    variables = layer.init(nn.random.PRNGKey(0), nn.numpy.ones((4, 5, 6, 7)))
    assert calls == [(4 * 5 * 6, 2 * 3), (4 * 2 * 3,)]
    params = _params(variables)
    assert_close(params["kernel"], np.arange(4 * 5 * 6 * 6, dtype=np.float32).reshape(4, 5, 6, 2, 3), family="exact")
    assert_close(params["bias"], np.arange(24, dtype=np.float32).reshape(4, 2, 3), family="exact")


def test_dense_general_defaults_match_dense(nn):
    # features=int, axis=-1 is Dense: same kernel from the same key, same output.
    x = nn.numpy.asarray(_x((3, 4)))
    dg = lg(nn).DenseGeneral(features=5)
    variables = dg.init(nn.random.PRNGKey(7), x)
    dense = nn.Dense(features=5)
    dense_vars = dense.init(nn.random.PRNGKey(7), x)
    assert_close(np.asarray(variables["params"]["kernel"]), np.asarray(dense_vars["params"]["kernel"]), family="exact")
    assert_close(np.asarray(dg.apply(variables, x)), np.asarray(dense.apply(dense_vars, x)), family="matmul")


def test_dense_general_computes_tensordot_plus_bias(nn):
    x = _x((2, 3, 4, 5))
    layer = lg(nn).DenseGeneral(features=(3, 2), axis=(-3, -1), bias_init=nn.initializers.normal(1.0))
    variables = layer.init(nn.random.PRNGKey(1), nn.numpy.asarray(x))
    params = _params(variables)
    y = np.asarray(layer.apply(variables, nn.numpy.asarray(x)))
    want = np.tensordot(x.astype(np.float64), params["kernel"].astype(np.float64), axes=((1, 3), (0, 1)))
    want = want + params["bias"]
    assert_close(y, want.astype(np.float32), family="matmul")


def test_dense_general_batch_dims_are_per_example_kernels(nn):
    x = _x((3, 4, 5))
    layer = lg(nn).DenseGeneral(features=2, batch_dims=(0,), bias_init=nn.initializers.normal(1.0))
    variables = layer.init(nn.random.PRNGKey(2), nn.numpy.asarray(x))
    params = _params(variables)
    y = np.asarray(layer.apply(variables, nn.numpy.asarray(x)))
    want = np.stack([x[b] @ params["kernel"][b] + params["bias"][b] for b in range(3)])
    assert_close(y, want, family="matmul")


def test_dense_general_without_bias(nn):
    layer = lg(nn).DenseGeneral(features=3, use_bias=False)
    variables = layer.init(nn.random.PRNGKey(0), nn.numpy.ones((2, 4)))
    assert set(variables["params"]) == {"kernel"}


def test_dense_general_dtypes(nn):
    x = nn.numpy.ones((2, 4))
    layer = lg(nn).DenseGeneral(features=3, param_dtype=nn.numpy.bfloat16)
    variables = layer.init(nn.random.PRNGKey(0), x)
    assert np.asarray(variables["params"]["kernel"]).dtype == np.dtype(nn.numpy.bfloat16)
    # Promotion: float32 input with bfloat16 params computes in float32.
    assert np.asarray(layer.apply(variables, x)).dtype == np.float32
    layer16 = lg(nn).DenseGeneral(features=3, dtype=nn.numpy.float16)
    variables = layer16.init(nn.random.PRNGKey(0), x)
    assert np.asarray(variables["params"]["kernel"]).dtype == np.float32
    assert np.asarray(layer16.apply(variables, x)).dtype == np.float16


def test_dense_general_custom_dot_general(nn):
    calls = []

    def dot_general(lhs, rhs, dimension_numbers, precision=None):
        calls.append(dimension_numbers)
        return nn.numpy.tensordot(lhs, rhs, axes=dimension_numbers[0])

    layer = lg(nn).DenseGeneral(features=(2, 2), axis=(-2, -1), dot_general=dot_general)
    x = nn.numpy.ones((3, 4, 5))
    variables = layer.init(nn.random.PRNGKey(0), x)
    assert layer.apply(variables, x).shape == (3, 2, 2)
    assert calls[-1] == (((1, 2), (0, 1)), ((), ()))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(features=2, batch_dims=(1,)), "batch_dims"),
        (dict(features=2, axis=3), "axis"),
        (dict(features=2, axis=(0, -1), batch_dims=(0,)), "overlap"),
    ],
)
def test_dense_general_misuse(nn, kwargs, match):
    layer = lg(nn).DenseGeneral(**kwargs)
    with pytest.raises(ValueError, match=match):
        layer.init(nn.random.PRNGKey(0), nn.numpy.ones((2, 3, 4)))


# -- Einsum --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, eq, in_shape, bias, out",
    [
        ((5, 7), "...c,ce->...e", (2, 3, 5), (7,), (2, 3, 7)),
        # Kernel axes that survive into the output, in output order.
        ((6, 4, 7), "abcd,dbe->acbe", (3, 4, 5, 6), (4, 7), (3, 5, 4, 7)),
        ((6, 4, 7), "abcd,dbe->eacb", (3, 4, 5, 6), (7, 4), (7, 3, 5, 4)),
        # Ellipsis axes shared by input and kernel broadcast right-aligned.
        ((4, 6, 7), "...cd,...de->...ce", (3, 4, 5, 6), (4, 7), (3, 4, 5, 7)),
        ((5, 2), "abc,cd->ab", (3, 4, 5), (), (3, 4)),
    ],
)
def test_einsum_shapes(nn, shape, eq, in_shape, bias, out):
    layer = lg(nn).Einsum(shape, eq)
    x = nn.numpy.asarray(_x(in_shape))
    variables = layer.init(nn.random.PRNGKey(0), x)
    params = _params(variables)
    assert params["kernel"].shape == shape
    assert params["bias"].shape == bias
    assert layer.apply(variables, x).shape == out


def test_einsum_computes_einsum_plus_bias(nn):
    x = _x((3, 4, 5, 6))
    eq = "abcd,dbe->acbe"
    layer = lg(nn).Einsum((6, 4, 7), eq, bias_init=nn.initializers.normal(1.0))
    variables = layer.init(nn.random.PRNGKey(3), nn.numpy.asarray(x))
    params = _params(variables)
    y = np.asarray(layer.apply(variables, nn.numpy.asarray(x)))
    want = np.einsum(eq, x.astype(np.float64), params["kernel"].astype(np.float64))
    want = want + params["bias"].reshape(1, 1, 4, 7)
    assert_close(y, want.astype(np.float32), family="matmul")


def test_einsum_str_at_call_time(nn):
    x = nn.numpy.asarray(_x((2, 5)))
    field = lg(nn).Einsum((5, 3), "ab,bc->ac")
    call = lg(nn).Einsum((5, 3))
    variables = field.init(nn.random.PRNGKey(0), x)
    assert_close(
        np.asarray(call.apply(variables, x, "ab,bc->ac")), np.asarray(field.apply(variables, x)), family="exact"
    )
    assert_close(
        np.asarray(call.apply(variables, x, einsum_str="a b, b c -> a c")),
        np.asarray(field.apply(variables, x)),
        family="exact",
    )


def test_einsum_without_bias(nn):
    variables = lg(nn).Einsum((5, 3), "ab,bc->ac", use_bias=False).init(nn.random.PRNGKey(0), nn.numpy.ones((2, 5)))
    assert set(variables["params"]) == {"kernel"}


@pytest.mark.parametrize(
    "field, call, match",
    [
        ("ab,bc->ac", "ab,bc->ac", "Einsum: .*einsum_str.*just once"),
        (None, None, "Einsum: .*einsum_str.*must be passed"),
        ("ab,bc", None, "->"),
        ("ab,bc,cd->ad", None, "two operands"),
        ("ab,bcd->ac", None, "rank"),
    ],
)
def test_einsum_misuse(nn, field, call, match):
    layer = lg(nn).Einsum((5, 3), field)
    with pytest.raises(ValueError, match=match):
        layer.init(nn.random.PRNGKey(0), nn.numpy.ones((2, 5)), call)


def test_dense_general_keeps_partitioning_boxes_of_its_initializers(nn):
    # The kernel is drawn as a matrix and reshaped; the box (with the names of
    # the final shape) must survive, as attention projections rely on it.
    names = ('embed', 'heads', 'kv')
    layer = nn.DenseGeneral(
        (4, 8),
        kernel_init=nn.with_logical_partitioning(nn.initializers.lecun_normal(), names),
        bias_init=nn.with_partitioning(nn.initializers.zeros_init(), ('heads', 'kv')),
    )
    variables = layer.init(nn.random.PRNGKey(0), _x((2, 16)))
    kernel, bias = variables['params']['kernel'], variables['params']['bias']
    assert isinstance(kernel, nn.LogicallyPartitioned) and kernel.names == names
    assert kernel.value.shape == (16, 4, 8)
    assert isinstance(bias, nn.Partitioned) and bias.value.shape == (4, 8)
    plain = nn.DenseGeneral((4, 8)).init(nn.random.PRNGKey(0), _x((2, 16)))
    np.testing.assert_array_equal(np.asarray(kernel.value), np.asarray(plain['params']['kernel']))
    assert layer.apply(variables, _x((2, 16))).shape == (2, 4, 8)
