"""Pooling, computed step by step in NumPy: summarise each window of an array by one number.

A pooling function slides a window over the axes between the batch axes and
the feature axis of a channels-last array, ``(*batch, *window_axes,
features)``, and reduces what each window covers: its maximum
(``max_pool``), minimum (``min_pool``), mean (``avg_pool``), or any binary
fold (``pool``). Each feature is pooled on its own. The window moves by
``strides``; ``padding`` adds positions at the edges first:

* ``'VALID'``: no padding, only windows that fit (``(n - k) // s + 1``);
* ``'SAME'``: enough padding that ``ceil(n / s)`` windows fit, split evenly
  with the odd one at the end;
* explicit ``(low, high)`` pairs, one per window axis.

Padded positions hold the reduction's neutral value (``-inf`` for a maximum,
``0`` for a sum), so they never change the result. The rules above, shared
with nnjax, are in :mod:`shared_spec.windows`; the folding over windows is
:func:`nnref.windows.reduce_window`.

>>> import numpy as np
>>> from nnref.layers.pooling import avg_pool, max_pool
>>> image = np.arange(16.0, dtype=np.float32).reshape(1, 4, 4, 1)
>>> max_pool(image, (2, 2), strides=(2, 2))[0, :, :, 0]     # the largest of each 2x2 block
array([[ 5.,  7.],
       [13., 15.]], dtype=float32)
>>> avg_pool(image, (2, 2), strides=(2, 2))[0, :, :, 0]     # the mean of each 2x2 block
array([[ 2.5,  4.5],
       [10.5, 12.5]], dtype=float32)
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from nnref import numpy as _rnp
from nnref import windows as _windows
from nnref.dtypes import bfloat16, result_type
from shared_spec import layer_args
from shared_spec.windows import pool_geometry, pool_window


def _read(fn: str, inputs, window_shape):
    """``(x, window)``: the input as an array and the window as a tuple, checked in the order nnjax checks."""
    window = pool_window(window_shape, fn)
    x = layer_args.array_input(inputs, _rnp.asarray, arg="inputs", layer=fn, min_ndim=len(window) + 1)
    return np.asarray(x), window


def _reduce(fn: str, inputs, init, reduce_fn: Callable, window_shape, strides, padding) -> np.ndarray:
    """Check the arguments, then fold ``reduce_fn`` over each window starting from ``init``."""
    x, window = _read(fn, inputs, window_shape)
    geometry = pool_geometry(fn, x.shape, window, strides, padding)
    # The fold runs over every axis; batch and feature axes get windows of 1.
    if geometry.add_batch_axis:
        x = x[np.newaxis]
    y = _windows.reduce_window(x, init, reduce_fn, geometry.window, geometry.strides, geometry.padding)
    return y[0] if geometry.add_batch_axis else y


def pool(inputs, init, reduce_fn: Callable, window_shape: Sequence[int], strides, padding):
    """The general pooling: ``reduce_fn`` folded over each window, from ``init``.

    For a window covering ``v_1, ..., v_k`` the result is
    ``reduce_fn(... reduce_fn(reduce_fn(init, v_1), v_2) ..., v_k)``; padded
    positions hold ``init``, so ``init`` should be the fold's neutral value.

    Args:
      inputs: ``(*batch, *window_axes, features)``.
      init: the starting value of each window's fold.
      reduce_fn: a binary function of two arrays, e.g. ``np.maximum``.
      window_shape: the window's extent along each window axis.
      strides: one stride per window axis, or ``None`` for all ones.
      padding: ``'SAME'``, ``'VALID'`` or one ``(low, high)`` pair per window axis.

    >>> import numpy as np
    >>> x = np.float32([[2], [7], [1], [8]])                  # one feature, 4 steps
    >>> pool(x, 0.0, np.add, (2,), (2,), 'VALID')[:, 0]        # sums of (2, 7) and (1, 8)
    array([9., 9.], dtype=float32)
    """
    return _reduce("pool", inputs, init, reduce_fn, window_shape, strides, padding)


def _window_sums(x: np.ndarray, window_shape, strides, padding) -> np.ndarray:
    """Each window's sum; half precision is summed in float32 (as XLA sums it) and rounded once."""
    dtype = x.dtype
    wide = np.float32 if dtype in (np.dtype(np.float16), bfloat16) else dtype
    return pool(x.astype(wide), 0, np.add, window_shape, strides, padding).astype(dtype)


def avg_pool(inputs, window_shape: Sequence[int], strides=None, padding="VALID", count_include_pad: bool = True):
    """The mean of each window: its sum divided by how many values it counts.

    ``count_include_pad`` chooses the divisor where a window overlaps the
    padding: ``True`` (default) always divides by the window's size, as if
    the padding held real zeros; ``False`` divides by the number of real
    input values in the window, found by pooling an array of ones the same
    way (the result is then at least float32, the dtype of that count).

    Args:
      inputs: ``(*batch, *window_axes, features)``.
      window_shape: the window's extent along each window axis.
      strides: one stride per window axis (default all ones).
      padding: ``'SAME'``, ``'VALID'`` (default) or one ``(low, high)`` pair per axis.
      count_include_pad: whether padded positions count in the divisor.

    >>> import numpy as np
    >>> x = np.float32([[4], [8]])
    >>> avg_pool(x, (2,), padding=((1, 0),))[:, 0]                           # (0 + 4) / 2, (4 + 8) / 2
    array([2., 6.], dtype=float32)
    >>> avg_pool(x, (2,), padding=((1, 0),), count_include_pad=False)[:, 0]  # 4 / 1, (4 + 8) / 2
    array([4., 6.], dtype=float32)
    """
    x, window = _read("avg_pool", inputs, window_shape)
    pool_geometry("avg_pool", x.shape, window, strides, padding)  # strides and padding checked before any work
    sums = _window_sums(x, window, strides, padding)
    if count_include_pad:
        return (sums / int(np.prod(window))).astype(sums.dtype)
    # Count the real inputs of each window: pool ones laid out like one example of x.
    ones_shape = x.shape[:-1] + (1,)
    if len(ones_shape) - 2 == len(window):
        ones_shape = (1,) + ones_shape[1:]  # the counts are the same for every batch entry
    counts = pool(np.ones(ones_shape, np.float32), 0, np.add, window, strides, padding)
    dtype = result_type(sums, counts)
    return (sums.astype(dtype) / counts.astype(dtype)).astype(dtype)


def max_pool(inputs, window_shape: Sequence[int], strides=None, padding="VALID"):
    """The largest value of each window (padding holds ``-inf``, so it never wins).

    >>> import numpy as np
    >>> max_pool(np.float32([[3], [9], [4]]), (2,), padding='SAME')[:, 0]   # windows (3, 9), (9, 4), (4, pad)
    array([9., 9., 4.], dtype=float32)
    """
    return _reduce("max_pool", inputs, -np.inf, np.maximum, window_shape, strides, padding)


def min_pool(inputs, window_shape: Sequence[int], strides=None, padding="VALID"):
    """The smallest value of each window (padding holds ``+inf``, so it never wins).

    >>> import numpy as np
    >>> min_pool(np.float32([[3], [9], [4]]), (2,), padding='SAME')[:, 0]   # windows (3, 9), (9, 4), (4, pad)
    array([3., 4., 4.], dtype=float32)
    """
    return _reduce("min_pool", inputs, np.inf, np.minimum, window_shape, strides, padding)
