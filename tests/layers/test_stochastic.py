"""Dropout on both backends: the mask, the deterministic switch, edge rates, streams and misuse."""

import importlib

import numpy as np
import pytest

from shared_spec import errors
from shared_spec.tolerances import assert_close


def Dropout(nn):
    return importlib.import_module(f"{nn.__name__}.layers.stochastic").Dropout


def _np(x):
    return np.asarray(x)


def _x(nn, shape=(4, 5), dtype=np.float32, seed=0):
    return nn.numpy.asarray(np.random.default_rng(seed).standard_normal(shape).astype(dtype))


def _expected(nn, key, rate, x, mask_shape):
    """What the layer must return for an explicit key: the documented formula."""
    keep = 1.0 - rate
    mask = np.broadcast_to(_np(nn.random.bernoulli(key, keep, mask_shape)), np.shape(x))
    x = _np(x)
    return np.where(mask, x / np.asarray(keep, x.dtype), np.zeros_like(x))


def test_deterministic_from_the_constructor_or_the_call(nn):
    x = _x(nn)
    assert_close(Dropout(nn)(0.5, deterministic=True).apply({}, x), x, family="exact")
    assert_close(Dropout(nn)(0.5).apply({}, x, deterministic=True), x, family="exact")


def test_deterministic_given_twice_or_never_raises(nn):
    x = _x(nn)
    with pytest.raises(ValueError, match='"deterministic" was passed to the constructor and at call time'):
        Dropout(nn)(0.5, deterministic=True).apply({}, x, deterministic=True)
    with pytest.raises(ValueError, match='"deterministic" must be passed'):
        Dropout(nn)(0.5).apply({}, x)


def test_deterministic_returns_the_inputs_and_needs_no_key(nn):
    x = _x(nn)
    y = Dropout(nn)(0.9, deterministic=True).apply({}, x)
    if nn.BACKEND == 'nnjax':
        assert y is x  # immutable arrays pass straight through
    else:
        # nnref hands the model a private copy of each NumPy argument (so that
        # `x += ...` in model code cannot change the caller's array); Dropout
        # returns that copy unchanged.
        assert np.array_equal(y, x) and y.dtype == x.dtype and not np.shares_memory(y, x)


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.9])
def test_mask_is_bernoulli_keep_prob_and_kept_values_are_rescaled(nn, rate):
    x = _x(nn, (6, 7))
    key = nn.random.PRNGKey(11)
    y = Dropout(nn)(rate, deterministic=False).apply({}, x, rng=key)
    assert_close(y, _expected(nn, key, rate, x, (6, 7)), family="elementwise")


def test_key_comes_from_make_rng_of_the_dropout_stream(nn):
    x = _x(nn)
    key = nn.random.PRNGKey(3)
    layer = Dropout(nn)(0.5, deterministic=False)

    class KeyProbe(nn.Module):
        # A root module's first make_rng: the key Dropout must draw its mask from.
        def __call__(self):
            return self.make_rng("dropout")

    mask_key = KeyProbe().apply({}, rngs={"dropout": key})
    assert_close(layer.apply({}, x, rngs={"dropout": key}), layer.apply({}, x, rng=mask_key), family="exact")


def test_rng_collection_names_the_stream(nn):
    x = _x(nn)
    layer = Dropout(nn)(0.5, deterministic=False, rng_collection="noise")
    a = _np(layer.apply({}, x, rngs={"noise": nn.random.PRNGKey(0)}))
    b = _np(layer.apply({}, x, rngs={"noise": nn.random.PRNGKey(1)}))
    assert not np.array_equal(a == 0, b == 0)


def test_missing_stream_is_an_rng_error(nn):
    with pytest.raises(errors.InvalidRngError):
        Dropout(nn)(0.5, deterministic=False).apply({}, _x(nn))


def test_rate_zero_is_identity_without_a_key(nn):
    x = _x(nn)
    assert_close(Dropout(nn)(0.0).apply({}, x, deterministic=False), x, family="exact")


def test_rate_one_gives_zeros_without_a_key(nn):
    x = _x(nn)
    y = _np(Dropout(nn)(1.0).apply({}, x, deterministic=False))
    assert y.dtype == np.float32
    assert_close(y, np.zeros((4, 5), np.float32), family="exact")


@pytest.mark.parametrize("dims", [(0,), (1,), (-1,), (0, 2), (-3, -1)])
def test_broadcast_dims_share_the_mask(nn, dims):
    shape = (3, 4, 5)
    x = nn.numpy.ones(shape)
    key = nn.random.PRNGKey(5)
    y = _np(Dropout(nn)(0.5, broadcast_dims=dims, deterministic=False).apply({}, x, rng=key))
    axes = tuple(d % 3 for d in dims)
    mask_shape = tuple(1 if i in axes else s for i, s in enumerate(shape))
    assert_close(y, _expected(nn, key, 0.5, _np(x), mask_shape), family="exact")
    for axis in axes:
        assert (np.diff(y, axis=axis) == 0).all()


def test_each_dropout_and_each_call_draws_a_new_mask(nn):
    D = Dropout(nn)

    class Twice(nn.Module):
        def setup(self):
            self.drop = D(0.5, deterministic=False)

        def __call__(self, x):
            return self.drop(x), self.drop(x), self.drop(x)

    x = nn.numpy.ones((8, 8))
    a, b, c = (_np(v) for v in Twice().apply({}, x, rngs={"dropout": nn.random.PRNGKey(0)}))
    # The layer's counter advances on every call: three different masks.
    assert not np.array_equal(a, b) and not np.array_equal(b, c)


def test_two_dropout_layers_get_different_masks(nn):
    D = Dropout(nn)

    class Two(nn.Module):
        @nn.compact
        def __call__(self, x):
            return D(0.5, deterministic=False)(x), D(0.5, deterministic=False)(x)

    a, b = (_np(v) for v in Two().apply({}, nn.numpy.ones((8, 8)), rngs={"dropout": nn.random.PRNGKey(0)}))
    assert not np.array_equal(a, b)


def test_dtype_is_kept(nn):
    x = nn.numpy.ones(
        (3, 4), nn.numpy.bfloat16 if nn.__name__ == "nnjax" else importlib.import_module("nnref.dtypes").bfloat16
    )
    y = Dropout(nn)(0.3, deterministic=False).apply({}, x, rngs={"dropout": nn.random.PRNGKey(0)})
    assert _np(y).dtype == _np(x).dtype
    kept = _np(y).astype(np.float32)[_np(y).astype(np.float32) != 0]
    # 1/0.7 computed in bfloat16, as the seed system does.
    assert_close(kept, np.full(kept.shape, 1 / 0.7, np.float32), family="elementwise", dtype="bfloat16")


def test_float64_on_nnref_uses_the_float32_mask():
    import nnref as nn

    x32 = _x(nn)
    x64 = x32.astype(np.float64)
    layer = Dropout(nn)(0.4, deterministic=False)
    y32 = layer.apply({}, x32, rngs={"dropout": nn.random.PRNGKey(9)})
    y64 = layer.apply({}, x64, rngs={"dropout": nn.random.PRNGKey(9)})
    assert y64.dtype == np.float64
    assert_close(y64 == 0, y32 == 0, family="exact")
    assert_close(y32, y64, family="elementwise", dtype="float32")


@pytest.mark.parametrize("rate", [-0.1, 1.5])
def test_rate_outside_unit_interval_raises(nn, rate):
    with pytest.raises(ValueError, match="Dropout: rate"):
        Dropout(nn)(rate).apply({}, _x(nn), deterministic=True)


def test_broadcast_dim_out_of_range_raises(nn):
    with pytest.raises(ValueError, match="Dropout: broadcast_dims"):
        Dropout(nn)(0.5, broadcast_dims=(2,)).apply({}, _x(nn), deterministic=False, rng=nn.random.PRNGKey(0))


def test_integer_inputs_raise_unless_deterministic(nn):
    ids = nn.numpy.asarray(np.arange(6, dtype=np.int32))
    assert_close(Dropout(nn)(0.5).apply({}, ids, deterministic=True), np.arange(6, dtype=np.int32), family="exact")
    # rate 1 needs no rescaling: zeros of the input's dtype, as in the seed system.
    assert_close(Dropout(nn)(1.0).apply({}, ids, deterministic=False), np.zeros(6, np.int32), family="exact")
    with pytest.raises(TypeError, match="Dropout: inputs must be floating"):
        Dropout(nn)(0.5).apply({}, ids, deterministic=False, rng=nn.random.PRNGKey(0))
