"""Pooling: reduce each window of a channels-last array with ``lax.reduce_window``.

Inputs are ``(*batch, *window_axes, features)``: the window slides over the
axes between the batch axes and the feature axis. With no batch axis (an
input of ``len(window_shape) + 1`` dimensions) one is added for the
reduction and removed again.

>>> import jax.numpy as jnp
>>> from nnjax.layers.pooling import avg_pool, max_pool
>>> x = jnp.arange(8.0).reshape(1, 4, 2, 1)
>>> max_pool(x, (2, 2), strides=(2, 2))[..., 0]
Array([[[3.],
        [7.]]], dtype=float32)
>>> avg_pool(x, (2, 1), padding='SAME', count_include_pad=False).shape
(1, 4, 2, 1)
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax.numpy as jnp
import numpy as np
from jax import lax

from shared_spec import layer_args
from shared_spec.windows import pool_geometry, pool_window


def _geometry(fn: str, inputs, window_shape, strides, padding):
    """``(inputs, geometry)``: the input as an array and the window arguments over all of its axes."""
    window = pool_window(window_shape, fn)
    inputs = jnp.asarray(layer_args.array_input(inputs, jnp.asarray, arg="inputs", layer=fn, min_ndim=len(window) + 1))
    return inputs, pool_geometry(fn, inputs.shape, window, strides, padding)


def pool(inputs, init, reduce_fn: Callable, window_shape: Sequence[int], strides, padding):
    """Fold ``reduce_fn`` over each window, starting from ``init`` (``lax.reduce_window``).

    Args:
      inputs: array of shape ``(*batch, *window_axes, features)``.
      init: the reduction's starting value (also what padded positions hold).
      reduce_fn: a binary function ``(T, T) -> T``, e.g. ``lax.max``.
      window_shape: the window's extent along each window axis.
      strides: one stride per window axis, or ``None`` for all ones.
      padding: ``'SAME'``, ``'VALID'`` or one ``(low, high)`` pair per window axis.

    Pooling is not differentiable in general, whatever ``reduce_fn`` is.

    >>> import jax.numpy as jnp
    >>> from jax import lax
    >>> pool(jnp.float32([[1], [5], [2]]), -jnp.inf, lax.max, (2,), None, 'VALID')
    Array([[5.],
           [5.]], dtype=float32)
    """
    return _pool("pool", inputs, init, reduce_fn, window_shape, strides, padding)


def _pool(fn: str, inputs, init, reduce_fn: Callable, window_shape, strides, padding):
    inputs, g = _geometry(fn, inputs, window_shape, strides, padding)
    if g.add_batch_axis:
        return lax.reduce_window(inputs[None], init, reduce_fn, g.window, g.strides, g.padding)[0]
    return lax.reduce_window(inputs, init, reduce_fn, g.window, g.strides, g.padding)


def avg_pool(inputs, window_shape: Sequence[int], strides=None, padding="VALID", count_include_pad: bool = True):
    """The mean over each window.

    Args:
      inputs: array of shape ``(*batch, *window_axes, features)``.
      window_shape: the window's extent along each window axis.
      strides: one stride per window axis (default all ones).
      padding: ``'SAME'``, ``'VALID'`` (default) or one ``(low, high)`` pair per axis.
      count_include_pad: divide by the full window size (default ``True``),
        padding included; with ``False`` divide by the number of real inputs
        in each window (then the result is at least float32, as in the seed
        system, which divides by a float32 count).

    >>> import jax.numpy as jnp
    >>> avg_pool(jnp.float32([[1], [3]]), (2,), padding=((0, 1),), count_include_pad=False)[:, 0]
    Array([2., 3.], dtype=float32)
    """
    inputs, g = _geometry("avg_pool", inputs, window_shape, strides, padding)
    window_shape, strides = g.window_shape, g.window_strides
    y = pool(inputs, 0.0, lax.add, window_shape, strides, padding)
    if count_include_pad:
        return y / int(np.prod(window_shape))
    # The count of real (unpadded) inputs per window: pool a ones array with the same geometry.
    count_shape = inputs.shape[:-1] + (1,)
    if len(count_shape) - 2 == len(window_shape):
        count_shape = (1,) + count_shape[1:]  # one batch entry serves them all
    return y / pool(jnp.ones(count_shape), 0.0, lax.add, window_shape, strides, padding)


def max_pool(inputs, window_shape: Sequence[int], strides=None, padding="VALID"):
    """The maximum over each window; padded positions never win (they hold ``-inf``).

    >>> import jax.numpy as jnp
    >>> max_pool(jnp.float32([[1], [5], [2]]), (2,), padding='SAME')[:, 0]
    Array([5., 5., 2.], dtype=float32)
    """
    return _pool("max_pool", inputs, -jnp.inf, lax.max, window_shape, strides, padding)


def min_pool(inputs, window_shape: Sequence[int], strides=None, padding="VALID"):
    """The minimum over each window; padded positions never win (they hold ``+inf``).

    >>> import jax.numpy as jnp
    >>> min_pool(jnp.float32([[1], [5], [2]]), (2,), padding='SAME')[:, 0]
    Array([1., 2., 2.], dtype=float32)
    """
    return _pool("min_pool", inputs, jnp.inf, lax.min, window_shape, strides, padding)
