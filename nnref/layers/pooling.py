"""Pooling: reduce each window of a channels-last array (XLA's ReduceWindow, in NumPy).

Inputs are ``(*batch, *window_axes, features)``: the window slides over the
axes between the batch axes and the feature axis. With no batch axis (an
input of ``len(window_shape) + 1`` dimensions) one is added for the
reduction and removed again.

>>> import numpy as np
>>> from nnref.layers.pooling import avg_pool, max_pool
>>> x = np.arange(8.0, dtype=np.float32).reshape(1, 4, 2, 1)
>>> max_pool(x, (2, 2), strides=(2, 2))[..., 0]
array([[[3.],
        [7.]]], dtype=float32)
>>> avg_pool(x, (2, 1), padding='SAME', count_include_pad=False).shape
(1, 4, 2, 1)
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from nnref import windows
from nnref.dtypes import bfloat16, result_type


def _window_args(inputs: np.ndarray, window_shape: Sequence[int], strides, padding):
    """Window, strides and padding over every axis of ``inputs`` (one batch axis added if absent)."""
    window_shape = tuple(int(k) for k in window_shape)
    rank = len(window_shape)
    batch_ndim = inputs.ndim - (rank + 1)
    if batch_ndim < 0:
        raise ValueError(f"pool: inputs of shape {inputs.shape} need at least {rank + 1} dimensions (the "
                         f"{rank} axes of window_shape and a feature axis); pass (*batch, *window_axes, features).")
    strides = tuple(int(s) for s in strides) if strides else (1,) * rank
    if len(strides) != rank:
        raise ValueError(f"pool: strides {strides} must have one entry per window axis ({rank}).")
    squeeze = batch_ndim == 0
    if squeeze:
        inputs, batch_ndim = inputs[None], 1
    edge = (1,) * batch_ndim
    if not isinstance(padding, str):
        padding = tuple(tuple(int(v) for v in p) for p in padding)
        if len(padding) != rank or any(len(p) != 2 for p in padding):
            raise ValueError(f"pool: padding {padding} must be 'SAME', 'VALID' or one (low, high) pair per window "
                             f"axis ({rank}).")
        padding = ((0, 0),) * batch_ndim + padding + ((0, 0),)
    return inputs, edge + window_shape + (1,), edge + strides + (1,), padding, squeeze


def pool(inputs, init, reduce_fn: Callable, window_shape: Sequence[int], strides, padding):
    """Fold ``reduce_fn`` over each window, starting from ``init``.

    Args:
      inputs: array of shape ``(*batch, *window_axes, features)``.
      init: the reduction's starting value (also what padded positions hold).
      reduce_fn: a binary function ``(T, T) -> T``, e.g. ``np.maximum``.
      window_shape: the window's extent along each window axis.
      strides: one stride per window axis, or ``None`` for all ones.
      padding: ``'SAME'``, ``'VALID'`` or one ``(low, high)`` pair per window axis.

    >>> import numpy as np
    >>> pool(np.float32([[1], [5], [2]]), -np.inf, np.maximum, (2,), None, 'VALID')
    array([[5.],
           [5.]], dtype=float32)
    """
    x, dims, steps, padding, squeeze = _window_args(np.asarray(inputs), window_shape, strides, padding)
    y = windows.reduce_window(x, init, reduce_fn, dims, steps, padding)
    return y[0] if squeeze else y


def _sum_pool(inputs: np.ndarray, window_shape, strides, padding) -> np.ndarray:
    # Half-precision sums accumulate in float32, as XLA's do, and round once.
    dtype = inputs.dtype
    wide = np.float32 if dtype in (np.dtype(np.float16), bfloat16) else dtype
    return pool(inputs.astype(wide), 0, np.add, window_shape, strides, padding).astype(dtype)


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

    >>> import numpy as np
    >>> avg_pool(np.float32([[1], [3]]), (2,), padding=((0, 1),), count_include_pad=False)[:, 0]
    array([2., 3.], dtype=float32)
    """
    inputs = np.asarray(inputs)
    y = _sum_pool(inputs, window_shape, strides, padding)
    if count_include_pad:
        return (y / int(np.prod(window_shape))).astype(y.dtype)
    # The count of real (unpadded) inputs per window: pool a ones array with the same geometry.
    count_shape = inputs.shape[:-1] + (1,)
    if len(count_shape) - 2 == len(window_shape):
        count_shape = (1,) + count_shape[1:]  # one batch entry serves them all
    counts = pool(np.ones(count_shape, np.float32), 0, np.add, window_shape, strides, padding)
    dtype = result_type(y, counts)
    return (y.astype(dtype) / counts.astype(dtype)).astype(dtype)


def max_pool(inputs, window_shape: Sequence[int], strides=None, padding="VALID"):
    """The maximum over each window; padded positions never win (they hold ``-inf``).

    >>> import numpy as np
    >>> max_pool(np.float32([[1], [5], [2]]), (2,), padding='SAME')[:, 0]
    array([5., 5., 2.], dtype=float32)
    """
    return pool(inputs, -np.inf, np.maximum, window_shape, strides, padding)


def min_pool(inputs, window_shape: Sequence[int], strides=None, padding="VALID"):
    """The minimum over each window; padded positions never win (they hold ``+inf``).

    >>> import numpy as np
    >>> min_pool(np.float32([[1], [5], [2]]), (2,), padding='SAME')[:, 0]
    array([1., 2., 2.], dtype=float32)
    """
    return pool(inputs, np.inf, np.minimum, window_shape, strides, padding)
