"""Embed on both backends: parameter, lookup, attend, dtypes and misuse."""

import importlib

import numpy as np
import pytest

from shared_spec.tolerances import assert_close


def Embed(nn):
    return importlib.import_module(f"{nn.__name__}.layers.embedding").Embed


def _np(x):
    return np.asarray(x)


def _ids(nn, values, dtype=np.int32):
    return nn.numpy.asarray(np.asarray(values, dtype=dtype))


def test_parameter_name_shape_and_dtype(nn):
    layer = Embed(nn)(num_embeddings=7, features=3)
    variables = layer.init(nn.random.PRNGKey(0), _ids(nn, [1, 2]))
    assert list(variables) == ["params"]
    assert list(variables["params"]) == ["embedding"]
    table = _np(variables["params"]["embedding"])
    assert table.shape == (7, 3)
    assert table.dtype == np.float32


def test_default_init_is_variance_scaling_fan_in_normal_over_rows(nn):
    # A custom initializer spelled as the default must give the same table.
    init = nn.initializers.variance_scaling(1.0, "fan_in", "normal", out_axis=0)
    ids = _ids(nn, [0])
    default = Embed(nn)(num_embeddings=5, features=4).init(nn.random.PRNGKey(3), ids)
    explicit = Embed(nn)(num_embeddings=5, features=4, embedding_init=init).init(nn.random.PRNGKey(3), ids)
    assert_close(default["params"]["embedding"], explicit["params"]["embedding"], family="exact")


def test_embedding_init_gets_shape_and_param_dtype(nn):
    seen = {}

    def init(key, shape, dtype):
        seen["shape"], seen["dtype"] = tuple(shape), np.dtype(dtype)
        return nn.numpy.ones(shape, dtype)

    Embed(nn)(num_embeddings=4, features=2, param_dtype=np.float16, embedding_init=init).init(
        nn.random.PRNGKey(0), _ids(nn, [0])
    )
    assert seen == {"shape": (4, 2), "dtype": np.dtype(np.float16)}


@pytest.mark.parametrize("batch_shape", [(), (3,), (2, 3), (2, 1, 2)])
def test_lookup_returns_rows_with_features_appended(nn, batch_shape):
    layer = Embed(nn)(num_embeddings=6, features=3)
    ids = np.arange(int(np.prod(batch_shape, dtype=int))).reshape(batch_shape) % 6
    variables = layer.init(nn.random.PRNGKey(1), _ids(nn, ids))
    out = _np(layer.apply(variables, _ids(nn, ids)))
    assert out.shape == batch_shape + (3,)
    assert_close(out, _np(variables["params"]["embedding"])[ids], family="exact")


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.uint8, np.uint32])
def test_any_integer_dtype_is_accepted(nn, dtype):
    layer = Embed(nn)(num_embeddings=4, features=2)
    variables = layer.init(nn.random.PRNGKey(0), _ids(nn, [0]))
    out = _np(layer.apply(variables, _ids(nn, [3, 1], dtype)))
    assert_close(out, _np(variables["params"]["embedding"])[[3, 1]], family="exact")


@pytest.mark.parametrize("dtype", [np.float32, np.bool_])
def test_non_integer_inputs_raise(nn, dtype):
    layer = Embed(nn)(num_embeddings=4, features=2)
    with pytest.raises(ValueError, match="Embed.*integer"):
        layer.init(nn.random.PRNGKey(0), nn.numpy.asarray(np.zeros(2, dtype)))


def test_negative_ids_count_from_the_end_and_out_of_range_ids_read_nan(nn):
    layer = Embed(nn)(num_embeddings=4, features=2)
    variables = layer.init(nn.random.PRNGKey(0), _ids(nn, [0]))
    table = _np(variables["params"]["embedding"])
    out = _np(layer.apply(variables, _ids(nn, [-1, -4, 4, -5, 2])))
    assert_close(out[:2], table[[3, 0]], family="exact")
    assert np.isnan(out[2:4]).all()
    assert_close(out[4], table[2], family="exact")


def test_single_row_table_reads_row_for_zero_and_nan_otherwise(nn):
    layer = Embed(nn)(num_embeddings=1, features=3)
    variables = layer.init(nn.random.PRNGKey(0), _ids(nn, [0]))
    out = _np(layer.apply(variables, _ids(nn, [[0, 1], [-1, 0]])))
    assert out.shape == (2, 2, 3) and out.dtype == np.float32
    row = _np(variables["params"]["embedding"])[0]
    assert_close(out[0, 0], row, family="exact")
    assert_close(out[1, 1], row, family="exact")
    assert np.isnan(out[0, 1]).all() and np.isnan(out[1, 0]).all()


def test_dtype_sets_the_output_dtype_and_param_dtype_the_table(nn):
    layer = Embed(nn)(num_embeddings=5, features=2, dtype=np.float16, param_dtype=np.float32)
    variables = layer.init(nn.random.PRNGKey(0), _ids(nn, [0]))
    out = _np(layer.apply(variables, _ids(nn, [1, 4])))
    assert _np(variables["params"]["embedding"]).dtype == np.float32
    assert out.dtype == np.float16
    assert_close(out, _np(variables["params"]["embedding"])[[1, 4]].astype(np.float16), family="exact")


def test_attend_is_query_times_table_transposed(nn):
    layer = Embed(nn)(num_embeddings=6, features=3)
    variables = layer.init(nn.random.PRNGKey(2), _ids(nn, [0]))
    query = np.random.default_rng(0).standard_normal((2, 4, 3)).astype(np.float32)
    scores = _np(layer.apply(variables, nn.numpy.asarray(query), method=layer.attend))
    table = _np(variables["params"]["embedding"]).astype(np.float64)
    assert scores.shape == (2, 4, 6) and scores.dtype == np.float32
    assert_close(scores, query.astype(np.float64) @ table.T, family="matmul", dtype="float32")


def test_attend_alone_creates_the_table(nn):
    # The table is made in setup, so attend needs no prior __call__.
    layer = Embed(nn)(num_embeddings=6, features=3)
    by_call = layer.init(nn.random.PRNGKey(2), _ids(nn, [0]))
    by_attend = layer.init(nn.random.PRNGKey(2), nn.numpy.ones((1, 3)), method=layer.attend)
    assert_close(by_attend["params"]["embedding"], by_call["params"]["embedding"], family="exact")


def test_attend_promotes_query_and_table(nn):
    layer = Embed(nn)(num_embeddings=3, features=2, param_dtype=np.float16)
    variables = layer.init(nn.random.PRNGKey(0), _ids(nn, [0]))
    scores = layer.apply(variables, nn.numpy.ones((1, 2), np.float32), method=layer.attend)
    assert _np(scores).dtype == np.float32


def test_autonamed_inside_a_compact_parent(nn):
    E = Embed(nn)

    class Model(nn.Module):
        @nn.compact
        def __call__(self, ids):
            return E(num_embeddings=4, features=2)(ids) + E(num_embeddings=4, features=2)(ids)

    variables = Model().init(nn.random.PRNGKey(0), _ids(nn, [1]))
    assert sorted(variables["params"]) == ["Embed_0", "Embed_1"]
    # Two children draw different tables from their own keys.
    assert not np.array_equal(
        _np(variables["params"]["Embed_0"]["embedding"]), _np(variables["params"]["Embed_1"]["embedding"])
    )
