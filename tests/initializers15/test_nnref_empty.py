"""``nn.numpy.empty``/``empty_like`` on nnref give zeros, as ``jax.numpy`` does."""

import ml_dtypes
import numpy as np
import pytest

from nnref import numpy as jnp


@pytest.mark.parametrize("dtype", [None, np.float64, np.int32, ml_dtypes.bfloat16, bool])
def test_empty_is_zeros(dtype):
    # Fill the allocator with garbage first: NumPy's empty would reuse it.
    for _ in range(3):
        np.full((64, 64), 7.5, np.float32)
    out = jnp.empty((64, 64), dtype=dtype)
    assert out.dtype == np.dtype(np.float32 if dtype is None else dtype)
    assert not np.asarray(out, dtype=np.float64).any()


def test_empty_like_is_zeros_and_keeps_dtype_and_shape():
    a = np.full((3, 5), 9, np.int16)
    out = jnp.empty_like(a)
    assert out.dtype == np.int16 and out.shape == (3, 5) and not out.any()
    assert jnp.empty_like([1.5, 2.5]).dtype == np.float32
    assert jnp.empty_like(a, shape=(2,), dtype=np.float32).tolist() == [0.0, 0.0]


def test_empty_of_a_shape_int():
    assert jnp.empty(4).tolist() == [0.0] * 4
