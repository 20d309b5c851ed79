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

from nnref import numpy as _rnp
from nnref import windows
from nnref.dtypes import bfloat16, result_type
from shared_spec import layer_args


def _checked(fn: str, inputs, window_shape, strides, padding):
    """``inputs`` as an array, ``window_shape`` and ``strides`` as tuples of positive ints; refuses empty outputs.

    Reads shapes only (O(rank)); ``fn`` names the public function in messages.
    """
    window_shape = layer_args.kernel_dims(window_shape, field="window_shape", layer=fn, per="window axis")
    rank = len(window_shape)
    inputs = np.asarray(layer_args.array_input(inputs, _rnp.asarray, arg="inputs", layer=fn, min_ndim=rank + 1))
    strides = layer_args.window_dims(strides or None, rank, field="strides", layer=fn)
    spatial = inputs.shape[inputs.ndim - rank - 1 : -1]
    if isinstance(padding, str):
        pads = ((0, 0),) * rank if padding.upper() == "VALID" else None
    else:
        try:
            pads = tuple((int(lo), int(hi)) for lo, hi in padding)
        except (TypeError, ValueError):
            raise ValueError(
                f"{fn}: padding={padding!r} is invalid; expected 'SAME', 'VALID' or one (low, high) "
                f"pair of ints per window axis ({rank})."
            ) from None
        if len(pads) != rank:
            raise ValueError(
                f"{fn}: padding={padding!r} is invalid; expected 'SAME', 'VALID' or one (low, high) "
                f"pair of ints per window axis ({rank})."
            )
    if pads is not None:
        out = layer_args.padded_output_dims(spatial, window_shape, strides, pads)
        layer_args.non_empty_output(out, field="window_shape", value=window_shape, layer=fn, in_shape=spatial)
    return inputs, window_shape, strides


def _window_args(inputs, window_shape: Sequence[int], strides, padding, fn: str = "pool"):
    """Window, strides and padding over every axis of ``inputs`` (one batch axis added if absent)."""
    inputs, window_shape, strides = _checked(fn, inputs, window_shape, strides, padding)
    rank = len(window_shape)
    batch_ndim = inputs.ndim - (rank + 1)
    squeeze = batch_ndim == 0
    if squeeze:
        inputs, batch_ndim = inputs[None], 1
    edge = (1,) * batch_ndim
    if not isinstance(padding, str):
        padding = ((0, 0),) * batch_ndim + tuple((int(lo), int(hi)) for lo, hi in padding) + ((0, 0),)
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
    return _pool("pool", inputs, init, reduce_fn, window_shape, strides, padding)


def _pool(fn: str, inputs, init, reduce_fn: Callable, window_shape, strides, padding):
    x, dims, steps, padding, squeeze = _window_args(inputs, window_shape, strides, padding, fn)
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
    inputs, window_shape, strides = _checked("avg_pool", inputs, window_shape, strides, padding)
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
    return _pool("max_pool", inputs, -np.inf, np.maximum, window_shape, strides, padding)


def min_pool(inputs, window_shape: Sequence[int], strides=None, padding="VALID"):
    """The minimum over each window; padded positions never win (they hold ``+inf``).

    >>> import numpy as np
    >>> min_pool(np.float32([[1], [5], [2]]), (2,), padding='SAME')[:, 0]
    array([1., 2., 2.], dtype=float32)
    """
    return _pool("min_pool", inputs, np.inf, np.minimum, window_shape, strides, padding)
