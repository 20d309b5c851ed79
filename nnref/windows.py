"""Sliding windows: the arithmetic that convolution and pooling share.

XLA's ConvGeneralDilated and ReduceWindow both slide a window, possibly
dilated, with strides over an input that is first dilated and padded. Written
out in NumPy, one step per function:

* :func:`padtype_to_pads` (the rule shared with nnjax, from
  :mod:`shared_spec.windows`) turns ``'SAME'`` / ``'VALID'`` into explicit
  ``(low, high)`` pairs, with XLA's rule for odd totals (the extra element
  goes high);
* :func:`dilate` puts ``d - 1`` zeros between neighbours along an axis;
* :func:`pad` pads each axis with a constant, or crops where a pad is
  negative (XLA allows negative padding);
* :func:`window_views` yields, per window offset, the strided view of the
  input that this offset of every window sees;
* :func:`patches` stacks those views into an im2col array;
* :func:`reduce_window` folds the views with a binary function.

>>> import numpy as np
>>> padtype_to_pads((5,), (3,), (2,), 'SAME')
[(1, 1)]
>>> dilate(np.arange(1, 4), (2,), axes=(0,))
array([1, 0, 2, 0, 3])
>>> reduce_window(np.arange(5.0), -np.inf, np.maximum, (2,), (2,), 'VALID')
array([1., 3.])
"""

from __future__ import annotations

import itertools
from typing import Callable, Iterator, Sequence

import numpy as np

# The shape rules (how a padding name becomes pairs, how many windows fit) are shared with nnjax.
from shared_spec.windows import dilated_size, padtype_to_pads, window_count  # noqa: F401  (re-exported)

Pads = list  # of (low, high) pairs, one per axis


def dilate(x: np.ndarray, dilation: Sequence[int], axes: Sequence[int]) -> np.ndarray:
    """``x`` with ``d - 1`` zeros inserted between neighbours along each of ``axes``."""
    if all(d == 1 for d in dilation):
        return x
    shape = list(x.shape)
    index = [slice(None)] * x.ndim
    for axis, d in zip(axes, dilation):
        shape[axis] = dilated_size(x.shape[axis], d)
        index[axis] = slice(None, None, d)
    out = np.zeros(shape, dtype=x.dtype)
    out[tuple(index)] = x
    return out


def pad(x: np.ndarray, pads: Pads, axes: Sequence[int], value=0) -> np.ndarray:
    """``x`` padded with ``value`` by ``pads[i]`` along ``axes[i]``; negative pads crop."""
    crop = [slice(None)] * x.ndim
    widths = [(0, 0)] * x.ndim
    for axis, (low, high) in zip(axes, pads):
        crop[axis] = slice(max(-low, 0), x.shape[axis] - max(-high, 0))
        widths[axis] = (max(low, 0), max(high, 0))
    x = x[tuple(crop)]
    if any(w != (0, 0) for w in widths):
        x = np.pad(x, widths, mode="constant", constant_values=np.asarray(value, dtype=x.dtype))
    return x


def window_views(
    x: np.ndarray, window_shape: Sequence[int], strides: Sequence[int], dilation: Sequence[int], axes: Sequence[int]
) -> Iterator[tuple]:
    """``(offset, view)`` for every offset of the window, in row-major order.

    ``view[..., i, ...]`` is the element that offset ``offset`` of window
    ``i`` covers, so a window operation is a fold over the views.
    """
    counts = [window_count(x.shape[a], k, s, d) for a, k, s, d in zip(axes, window_shape, strides, dilation)]
    for offset in itertools.product(*(range(k) for k in window_shape)):
        index = [slice(None)] * x.ndim
        for axis, o, s, d, count in zip(axes, offset, strides, dilation, counts):
            start = o * d
            index[axis] = slice(start, start + (count - 1) * s + 1, s) if count else slice(0, 0)
        yield offset, x[tuple(index)]


def patches(x: np.ndarray, window_shape: Sequence[int], strides: Sequence[int], dilation: Sequence[int]) -> np.ndarray:
    """im2col of a channels-last ``(N, *spatial, C)`` array: ``(N, *out, prod(window), C)``.

    The window axis runs over offsets in row-major order of ``window_shape``.
    """
    axes = tuple(range(1, x.ndim - 1))
    views = [view for _, view in window_views(x, window_shape, strides, dilation, axes)]
    return np.stack(views, axis=-2)


def reduce_window(
    x: np.ndarray, init, reduce_fn: Callable, window_shape: Sequence[int], strides: Sequence[int], padding
) -> np.ndarray:
    """XLA's ReduceWindow over every axis of ``x``: fold ``reduce_fn`` over each window.

    ``padding`` is ``'SAME'``, ``'VALID'`` or one ``(low, high)`` pair per axis;
    padded positions hold ``init``, so they never change a max or a sum.
    """
    axes = tuple(range(x.ndim))
    if isinstance(padding, str):
        padding = padtype_to_pads(x.shape, window_shape, strides, padding)
    x = pad(x, [tuple(p) for p in padding], axes, value=init)
    ones = (1,) * x.ndim
    acc = None
    for _, view in window_views(x, window_shape, strides, ones, axes):
        acc = np.full(view.shape, init, dtype=x.dtype) if acc is None else acc
        acc = np.asarray(reduce_fn(acc, view), dtype=x.dtype)
    return acc
