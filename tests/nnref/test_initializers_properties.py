"""Properties of nnref.initializers that need no JAX: shapes, dtypes,
constants, fan computation, variances, orthogonality and errors."""

import ml_dtypes
import numpy as np
import pytest

from nnref import initializers as init
from nnref import random
from nnref.initializers import _compute_fans

KEY = random.PRNGKey(0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, ml_dtypes.bfloat16])
def test_constant_initializers(dtype):
    assert np.array_equal(init.zeros(KEY, (2, 3), dtype), np.zeros((2, 3), dtype))
    assert np.array_equal(init.ones(KEY, (2, 3), dtype), np.ones((2, 3), dtype))
    assert init.zeros_init()(KEY, (4,), dtype).dtype == np.dtype(dtype)
    assert init.ones_init()(KEY, (4,), dtype).dtype == np.dtype(dtype)
    c = init.constant(-7, dtype)(KEY, (2, 2))
    assert c.dtype == np.dtype(dtype) and np.all(c.astype(np.float64) == -7)


def test_default_dtype_is_float32_and_builder_dtype_is_default():
    assert init.normal()(KEY, (3,)).dtype == np.float32
    assert init.normal(dtype=np.float64)(KEY, (3,)).dtype == np.float64
    assert init.lecun_normal(dtype=np.float16)(KEY, (3, 3)).dtype == np.float16


@pytest.mark.parametrize(
    "shape, kwargs, fans",
    [
        ((4, 5), {}, (4, 5)),
        ((3, 3, 16, 32), {}, (144, 288)),  # conv HWIO
        ((2, 3, 4), dict(batch_axis=0), (3, 4)),
        ((6, 2, 5), dict(in_axis=0, out_axis=(1, 2)), (6, 10)),
    ],
)
def test_fans(shape, kwargs, fans):
    assert _compute_fans(shape, **kwargs) == fans


def test_fans_need_two_dims_with_default_axes():
    with pytest.raises(ValueError):
        _compute_fans((5,))


@pytest.mark.parametrize("mode, n", [("fan_in", 100), ("fan_out", 400), ("fan_avg", 250), ("fan_geo_avg", 200)])
@pytest.mark.parametrize("distribution", ["truncated_normal", "normal", "uniform"])
def test_variance_scaling_variance(mode, n, distribution):
    w = init.variance_scaling(2.0, mode, distribution)(KEY, (100, 400))
    assert w.shape == (100, 400) and w.dtype == np.float32
    assert abs(w.astype(np.float64).var() / (2.0 / n) - 1) < 0.03
    if distribution == "truncated_normal":
        assert np.abs(w).max() < 2 * np.sqrt(2.0 / n) / 0.87962566103423978
    if distribution == "uniform":
        assert np.abs(w).max() <= np.sqrt(3 * 2.0 / n)


def test_variance_scaling_errors():
    with pytest.raises(ValueError):
        init.variance_scaling(1.0, "fan_middle", "normal")(KEY, (2, 2))
    with pytest.raises(ValueError):
        init.variance_scaling(1.0, "fan_in", "cauchy")(KEY, (2, 2))


@pytest.mark.parametrize(
    "name, scale, mode, dist",
    [
        ("glorot_uniform", 1.0, "fan_avg", "uniform"),
        ("xavier_uniform", 1.0, "fan_avg", "uniform"),
        ("glorot_normal", 1.0, "fan_avg", "truncated_normal"),
        ("xavier_normal", 1.0, "fan_avg", "truncated_normal"),
        ("lecun_uniform", 1.0, "fan_in", "uniform"),
        ("lecun_normal", 1.0, "fan_in", "truncated_normal"),
        ("he_uniform", 2.0, "fan_in", "uniform"),
        ("kaiming_uniform", 2.0, "fan_in", "uniform"),
        ("he_normal", 2.0, "fan_in", "truncated_normal"),
        ("kaiming_normal", 2.0, "fan_in", "truncated_normal"),
    ],
)
def test_named_variance_scalings(name, scale, mode, dist):
    ours = getattr(init, name)()(KEY, (5, 7))
    spelled_out = init.variance_scaling(scale, mode, dist)(KEY, (5, 7))
    assert np.array_equal(ours, spelled_out)


def test_complex_variance_scaling():
    w = init.variance_scaling(1.0, "fan_in", "uniform", dtype=np.complex64)(KEY, (50, 50))
    assert w.dtype == np.complex64 and np.abs(w).max() <= np.sqrt(2 / 50) + 1e-6
    t = init.variance_scaling(1.0, "fan_in", "truncated_normal", dtype=np.complex64)(KEY, (50, 50))
    assert t.dtype == np.complex64 and abs(np.mean(np.abs(t) ** 2) * 50 - 1) < 0.1


def test_simple_distributions():
    u = init.uniform(3.0)(KEY, (10_000,))
    assert u.min() >= 0 and u.max() < 3.0
    n = init.normal(2.0)(KEY, (50_000,))
    assert abs(n.std() - 2.0) < 0.05
    t = init.truncated_normal(2.0, lower=-1.0, upper=1.0)(KEY, (10_000,))
    assert np.abs(t).max() < 2.0


@pytest.mark.parametrize(
    "shape, column_axis",
    [
        ((6, 4), -1),
        ((4, 6), -1),
        ((5, 5), -1),
        ((3, 3, 4, 8), -1),
        ((8, 3, 2), 0),
    ],
)
def test_orthogonal_is_orthogonal(shape, column_axis):
    w = init.orthogonal(scale=2.0, column_axis=column_axis)(KEY, shape)
    assert w.shape == shape and w.dtype == np.float32
    cols = np.moveaxis(w, column_axis, -1).reshape(-1, shape[column_axis]).astype(np.float64)
    gram = cols.T @ cols if cols.shape[0] >= cols.shape[1] else cols @ cols.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(gram.shape[0]), atol=1e-5)


def test_orthogonal_errors_and_empty():
    with pytest.raises(ValueError):
        init.orthogonal()(KEY, (5,))
    assert init.orthogonal()(KEY, (0, 3)).shape == (0, 3)


@pytest.mark.parametrize("shape", [(3, 4, 4), (3, 5, 2, 3), (3, 3, 3, 2, 2)])
def test_delta_orthogonal_structure(shape):
    w = init.delta_orthogonal()(KEY, shape)
    centre = tuple((k - 1) // 2 for k in shape[:-2])
    m = w[centre].astype(np.float64)
    np.testing.assert_allclose(m @ m.T, np.eye(shape[-2]), atol=1e-5)
    rest = w.copy()
    rest[centre] = 0
    assert not rest.any()


def test_delta_orthogonal_errors():
    with pytest.raises(ValueError):
        init.delta_orthogonal()(KEY, (3, 3))
    with pytest.raises(ValueError):
        init.delta_orthogonal()(KEY, (3, 5, 2))
