"""pool, avg_pool, max_pool and min_pool on both backends, against hand-computed windows."""

import importlib

import ml_dtypes
import numpy as np
import pytest

from shared_spec.tolerances import assert_close


def pooling(nn):
    return importlib.import_module(f"{nn.__name__}.layers.pooling")


def grid(shape, dtype=np.float32):
    """Distinct values, so that a wrong window shows."""
    return (np.arange(np.prod(shape)) * 7 % 23 - 11).reshape(shape).astype(dtype)


def test_max_pool_2d_with_strides(nn):
    x = grid((1, 4, 5, 2))
    y = np.asarray(pooling(nn).max_pool(x, (2, 3), strides=(2, 1)))
    expected = np.stack(
        [np.stack([x[:, 2 * i : 2 * i + 2, j : j + 3].max(axis=(1, 2)) for j in range(3)], 1) for i in range(2)], 1
    )
    assert y.shape == (1, 2, 3, 2)
    assert_close(y, expected, family="exact")


def test_min_pool_is_negated_max_pool(nn):
    x = grid((2, 6, 3))
    p = pooling(nn)
    assert_close(
        np.asarray(p.min_pool(x, (3,), padding="SAME")),
        -np.asarray(p.max_pool(-x, (3,), padding="SAME")),
        family="exact",
    )


def test_default_strides_are_one_and_padding_valid(nn):
    y = np.asarray(pooling(nn).avg_pool(grid((2, 7, 1)), (3,)))
    assert y.shape == (2, 5, 1)


def test_avg_pool_same_padding_counts_padding_unless_told_not_to(nn):
    x = np.float32([1, 2, 3, 4]).reshape(1, 4, 1)
    p = pooling(nn)
    with_pad = np.asarray(p.avg_pool(x, (3,), padding="SAME"))[0, :, 0]
    without = np.asarray(p.avg_pool(x, (3,), padding="SAME", count_include_pad=False))[0, :, 0]
    assert_close(with_pad, np.float32([3, 6, 9, 7]) / 3, family="reduction")
    assert_close(without, np.float32([1.5, 2, 3, 3.5]), family="reduction")


def test_max_pool_padding_never_wins(nn):
    x = -np.ones((1, 3, 1), np.float32) * np.float32([[[5], [1], [7]]])
    y = np.asarray(pooling(nn).max_pool(x, (2,), padding=((1, 1),)))[0, :, 0]
    assert_close(y, np.float32([-5, -1, -1, -7]), family="exact")


def test_explicit_padding_pairs(nn):
    x = grid((2, 4, 3, 2))
    y = np.asarray(pooling(nn).avg_pool(x, (2, 2), strides=(1, 2), padding=((1, 0), (0, 1))))
    padded = np.pad(x, [(0, 0), (1, 0), (0, 1), (0, 0)])
    expected = np.stack(
        [np.stack([padded[:, i : i + 2, 2 * j : 2 * j + 2].mean(axis=(1, 2)) for j in range(2)], 1) for i in range(4)],
        1,
    )
    assert_close(y, expected, family="reduction")


def test_unbatched_and_multi_batch_inputs(nn):
    p = pooling(nn)
    x = grid((2, 3, 5, 4, 2))
    for fn in (p.max_pool, p.avg_pool):
        y = np.asarray(fn(x, (2, 2), strides=(1, 2), padding="SAME"))
        flat = np.asarray(fn(x.reshape(6, 5, 4, 2), (2, 2), strides=(1, 2), padding="SAME"))
        single = np.asarray(fn(x[1, 2], (2, 2), strides=(1, 2), padding="SAME"))
        assert y.shape == (2, 3, 5, 2, 2) and single.shape == (5, 2, 2)
        assert_close(y, flat.reshape(y.shape), family="exact")
        assert_close(single, y[1, 2], family="exact")
    # explicit pads with several batch axes, and count_include_pad=False without a batch axis
    y = np.asarray(p.avg_pool(x, (2, 1), padding=((1, 0), (0, 0)), count_include_pad=False))
    single = np.asarray(p.avg_pool(x[0, 1], (2, 1), padding=((1, 0), (0, 0)), count_include_pad=False))
    assert_close(single, y[0, 1], family="exact")
    assert_close(y[:, :, 0], x[:, :, 0], family="exact")  # the first window holds one real input


def test_pool_with_a_custom_reduction(nn):
    x = grid((2, 5, 3))
    p = pooling(nn)
    total = np.asarray(p.pool(x, 0.0, nn.numpy.add, (2,), (1,), "VALID"))
    assert_close(total, np.asarray(p.avg_pool(x, (2,))) * 2, family="reduction")
    product = np.asarray(p.pool(x, 1.0, nn.numpy.multiply, (2,), None, "VALID"))
    assert_close(product, x[:, :-1] * x[:, 1:], family="elementwise")


def test_one_dimensional_window_over_three_dimensional_input(nn):
    # (batch, length, features): the window slides over the length only.
    x = grid((3, 6, 2))
    y = np.asarray(pooling(nn).max_pool(x, (3,), strides=(3,)))
    assert_close(y, x.reshape(3, 2, 3, 2).max(axis=2), family="exact")


def test_dtypes(nn):
    p = pooling(nn)
    bf16 = ml_dtypes.bfloat16
    x = grid((1, 4, 2), bf16)
    assert np.asarray(p.max_pool(x, (2,))).dtype == bf16
    assert np.asarray(p.avg_pool(x, (2,))).dtype == bf16
    # The seed divides by a float32 count: the result is float32.
    assert np.asarray(p.avg_pool(x, (2,), count_include_pad=False)).dtype == np.float32
    assert_close(
        np.asarray(p.avg_pool(x, (2,))),
        np.asarray(p.avg_pool(x.astype(np.float32), (2,))).astype(bf16),
        family="reduction",
    )


def test_padding_of_the_wrong_length_is_rejected(nn):
    with pytest.raises(ValueError, match="padding"):
        pooling(nn).max_pool(grid((1, 4, 4, 1)), (2, 2), padding=((1, 1),))
    with pytest.raises(ValueError, match="strides"):
        pooling(nn).max_pool(grid((1, 4, 4, 1)), (2, 2), strides=(1,))
