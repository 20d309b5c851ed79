"""Shape ``lax`` ops: reshaping, broadcasting, padding, static and dynamic slicing, filling.

Static arguments (shapes, axes, static slice bounds) are Python ints, as in
lax. Dynamic indices (``dynamic_slice`` and friends) are integer scalars,
arrays included, and are *clamped* so the slice stays inside the operand, as
XLA does: a start of 5 for a slice of 3 out of 6 elements starts at 3. A
negative dynamic index first counts from the end.

>>> import numpy as np
>>> x = np.arange(6, dtype=np.float32)
>>> dynamic_slice(x, (5,), (3,))
array([3., 4., 5.], dtype=float32)
>>> pad(x[:3], np.float32(0), [(1, -1, 1)])
array([0., 0., 0., 1., 0.], dtype=float32)
>>> broadcast_in_dim(np.ones(3), (2, 3), (1,)).shape
(2, 3)
"""

from __future__ import annotations

import builtins
import operator

import numpy as np

from nnref.lax import _dtype_rules as rules
from nnref.lax._dtype_rules import INTEGER
from nnref.lax._elementwise import convert_element_type


def _ints(values) -> tuple:
    return tuple(operator.index(v) for v in values)


def _shape(shape) -> tuple:
    """A shape argument: a sequence of ints (a bare int is read as a 1-d shape)."""
    return (operator.index(shape),) if np.ndim(shape) == 0 and not isinstance(shape, (tuple, list)) else _ints(shape)


# ---------------------------------------------------------------------------
# reshaping and broadcasting
# ---------------------------------------------------------------------------


def reshape(operand, new_sizes, dimensions=None, *, out_sharding=None):
    """``operand`` in row-major order, reshaped; ``dimensions`` transposes it first.

    Sizes are given explicitly (no -1), as in lax.

    >>> import numpy as np
    >>> reshape(np.arange(6).reshape(2, 3), (3, 2), dimensions=(1, 0))
    array([[0, 3],
           [1, 4],
           [2, 5]])
    """
    del out_sharding  # one host array: nothing to shard
    a = rules.operand(operand)
    sizes = _shape(new_sizes)
    if any(s < 0 for s in sizes):
        raise TypeError(f'nnref.lax.reshape: new_sizes must all be non-negative (no -1, as in jax.lax), got {sizes}.')
    if int(np.prod(sizes)) != a.size:
        raise TypeError(f'nnref.lax.reshape: cannot reshape {a.shape} ({a.size} elements) to {sizes}.')
    if dimensions is not None:
        a = np.transpose(a, _ints(dimensions))
    return np.reshape(a, sizes)


def broadcast(operand, sizes, *, out_sharding=None):
    """``operand`` broadcast with new leading axes of ``sizes``.

    >>> import numpy as np
    >>> broadcast(np.arange(2), (3,)).shape
    (3, 2)
    """
    del out_sharding
    a = rules.operand(operand)
    return np.array(np.broadcast_to(a, _ints(sizes) + a.shape))


def broadcast_in_dim(operand, shape, broadcast_dimensions, *, out_sharding=None):
    """``operand`` broadcast to ``shape``, its axis ``i`` becoming axis ``broadcast_dimensions[i]``.

    Each operand axis has size 1 or the target size; the dimensions increase.

    >>> import numpy as np
    >>> broadcast_in_dim(np.array([1, 2]), (2, 3), (0,))
    array([[1, 1, 1],
           [2, 2, 2]])
    """
    del out_sharding
    a = rules.operand(operand)
    shape, dims = _shape(shape), _ints(broadcast_dimensions)
    ok = (
        len(dims) == a.ndim
        and all(0 <= d < len(shape) for d in dims)
        and all(d1 < d2 for d1, d2 in zip(dims, dims[1:]))
        and all(a.shape[i] in (1, shape[d]) for i, d in enumerate(dims))
    )
    if not ok:
        raise TypeError(
            f'nnref.lax.broadcast_in_dim: an operand of shape {a.shape} cannot broadcast to {shape} with '
            f'broadcast_dimensions={dims}: one increasing target axis per operand axis, whose size the '
            'operand axis matches or is 1.'
        )
    expanded = [1] * len(shape)
    for i, d in enumerate(dims):
        expanded[d] = a.shape[i]
    return np.array(np.broadcast_to(a.reshape(expanded), shape))


def broadcast_to_rank(x, rank):
    """``x`` with leading axes of size 1 added up to ``rank`` axes.

    >>> import numpy as np
    >>> broadcast_to_rank(np.ones(3), 3).shape
    (1, 1, 3)
    """
    a = rules.operand(x)
    return a.reshape((1,) * max(rank - a.ndim, 0) + a.shape)


def broadcast_shapes(*shapes):
    """The shape all of ``shapes`` broadcast to, by NumPy's rules.

    >>> broadcast_shapes((2, 1), (3,))
    (2, 3)
    """
    return tuple(np.broadcast_shapes(*(_shape(s) for s in shapes)))


def expand_dims(array, dimensions):
    """``array`` with size-1 axes inserted at ``dimensions`` (axes of the result).

    >>> import numpy as np
    >>> expand_dims(np.ones(2), (0, 2)).shape
    (1, 2, 1)
    """
    return np.expand_dims(rules.operand(array), _ints(dimensions))


def squeeze(array, dimensions):
    """``array`` without the axes ``dimensions``, each of which must have size 1.

    >>> import numpy as np
    >>> squeeze(np.ones((1, 2, 1)), (0, 2)).shape
    (2,)
    """
    a = rules.operand(array)
    dims = tuple(d % a.ndim for d in _ints(dimensions)) if a.ndim else _ints(dimensions)
    if any(a.shape[d] != 1 for d in dims):
        raise ValueError(
            f'nnref.lax.squeeze: cannot squeeze axes {tuple(dimensions)} of shape {a.shape}: '
            'each squeezed axis must have size 1.'
        )
    return np.squeeze(a, axis=dims)


def transpose(operand, permutation):
    """``operand`` with its axes permuted: result axis ``i`` is operand axis ``permutation[i]``.

    >>> import numpy as np
    >>> transpose(np.ones((2, 3, 4)), (2, 0, 1)).shape
    (4, 2, 3)
    """
    return np.transpose(rules.operand(operand), _ints(permutation))


def rev(operand, dimensions):
    """``operand`` reversed along ``dimensions``.

    >>> import numpy as np
    >>> rev(np.arange(3), (0,))
    array([2, 1, 0])
    """
    return np.flip(rules.operand(operand), axis=_ints(dimensions))


def collapse(operand, start_dimension, stop_dimension=None):
    """``operand`` with axes ``[start_dimension, stop_dimension)`` merged into one.

    >>> import numpy as np
    >>> collapse(np.ones((2, 3, 4)), 1).shape
    (2, 12)
    """
    a = rules.operand(operand)
    start = operator.index(start_dimension)
    stop = a.ndim if stop_dimension is None else operator.index(stop_dimension)
    start, stop = (start + a.ndim if start < 0 else start), (stop + a.ndim if stop < 0 else stop)
    if not 0 <= start <= stop <= a.ndim:
        raise ValueError(
            f'nnref.lax.collapse: axes [{start_dimension}, {stop_dimension}) are not a range of '
            f'the {a.ndim} axes of {a.shape}.'
        )
    return a.reshape(a.shape[:start] + (int(np.prod(a.shape[start:stop])),) + a.shape[stop:])


def concatenate(operands, dimension):
    """``operands`` (all of one dtype) joined along axis ``dimension``.

    >>> import numpy as np
    >>> concatenate([np.zeros(1, np.float32), np.ones(2, np.float32)], 0)
    array([0., 1., 1.], dtype=float32)
    """
    arrays, dtype = rules.same_dtype('concatenate', *operands)
    return np.concatenate(arrays, axis=operator.index(dimension)).astype(dtype, copy=False)


def split(operand, sizes, axis=0):
    """``operand`` cut along ``axis`` into pieces of ``sizes`` (which sum to the axis' length).

    >>> import numpy as np
    >>> [p.tolist() for p in split(np.arange(5), (2, 3))]
    [[0, 1], [2, 3, 4]]
    """
    a = rules.operand(operand)
    sizes = _ints(sizes)
    if sum(sizes) != a.shape[axis]:
        raise ValueError(f'nnref.lax.split: sizes {sizes} do not add up to the length {a.shape[axis]} of axis {axis}.')
    return list(np.split(a, np.cumsum(sizes)[:-1], axis=axis))


# ---------------------------------------------------------------------------
# padding and static slices
# ---------------------------------------------------------------------------


def pad(operand, padding_value, padding_config):
    """``operand`` padded with ``padding_value`` by ``(low, high, interior)`` per axis.

    ``interior`` values go between neighbours; a negative ``low`` or ``high``
    removes that many elements from that end instead (XLA's negative
    padding). ``padding_value`` is a scalar of the operand's dtype.

    >>> import numpy as np
    >>> pad(np.array([1, 2, 3], np.int32), np.int32(0), [(-1, 2, 1)])
    array([0, 2, 0, 3, 0, 0], dtype=int32)
    """
    (a, value), dtype = rules.same_dtype('pad', operand, padding_value)
    if value.shape != ():
        raise TypeError(f'nnref.lax.pad: padding_value must be a scalar, got shape {value.shape}.')
    config = [tuple(_ints(c)) for c in padding_config]
    if len(config) != a.ndim or any(len(c) != 3 or c[2] < 0 for c in config):
        raise ValueError(
            f'nnref.lax.pad: padding_config needs one (low, high, interior >= 0) per axis of '
            f'{a.shape}, got {padding_config}.'
        )
    for axis, (low, high, interior) in enumerate(config):
        n = a.shape[axis]
        dilated = n + max(n - 1, 0) * interior
        if dilated + low + high < 0:
            raise ValueError(f'nnref.lax.pad: padding {(low, high, interior)} leaves a negative size on axis {axis}.')
        if interior and n > 1:
            spread = np.full(a.shape[:axis] + (dilated,) + a.shape[axis + 1 :], value, dtype)
            index = [builtins.slice(None)] * a.ndim
            index[axis] = builtins.slice(None, None, interior + 1)
            spread[tuple(index)] = a
            a = spread
        # Pad the positive sides first, then crop: a crop may reach into the far side's padding.
        widths = [(0, 0)] * a.ndim
        widths[axis] = (max(low, 0), max(high, 0))
        a = np.pad(a, widths, mode='constant', constant_values=value)
        index = [builtins.slice(None)] * a.ndim
        index[axis] = builtins.slice(max(-low, 0), a.shape[axis] - max(-high, 0))
        a = a[tuple(index)]
    return np.array(a, dtype=dtype)


def slice(operand, start_indices, limit_indices, strides=None):  # noqa: A001 (lax's name)
    """``operand[start:limit:stride]`` on every axis, with in-range static bounds.

    >>> import numpy as np
    >>> slice(np.arange(10), (1,), (8,), (3,))
    array([1, 4, 7])
    """
    a = rules.operand(operand)
    starts, limits = _ints(start_indices), _ints(limit_indices)
    steps = (1,) * a.ndim if strides is None else _ints(strides)
    if (
        not (len(starts) == len(limits) == len(steps) == a.ndim)
        or any(not 0 <= s <= e <= n for s, e, n in zip(starts, limits, a.shape))
        or any(st < 1 for st in steps)
    ):
        raise ValueError(
            f'nnref.lax.slice: start {starts}, limit {limits} and strides {steps} must give '
            f'0 <= start <= limit <= size and strides >= 1 on each axis of {a.shape}.'
        )
    return a[tuple(builtins.slice(s, e, st) for s, e, st in zip(starts, limits, steps))]


def slice_in_dim(operand, start_index, limit_index, stride=1, axis=0):
    """``slice`` along one ``axis``; ``None`` bounds mean the ends, negative ones count from the end.

    >>> import numpy as np
    >>> slice_in_dim(np.arange(6), -3, None)
    array([3, 4, 5])
    """
    a = rules.operand(operand)
    axis = operator.index(axis) % a.ndim
    n = a.shape[axis]
    start = 0 if start_index is None else operator.index(start_index)
    limit = n if limit_index is None else operator.index(limit_index)
    start, limit = (start + n if start < 0 else start), (limit + n if limit < 0 else limit)
    starts, limits, strides = [0] * a.ndim, list(a.shape), [1] * a.ndim
    starts[axis], limits[axis], strides[axis] = start, limit, operator.index(stride)
    return slice(a, starts, limits, strides)


def index_in_dim(operand, index, axis=0, keepdims=True):
    """Entry ``index`` (negative counts from the end) of ``axis``; ``keepdims`` keeps that axis.

    >>> import numpy as np
    >>> index_in_dim(np.arange(6).reshape(2, 3), -1, axis=1, keepdims=False)
    array([2, 5])
    """
    a = rules.operand(operand)
    axis = operator.index(axis) % a.ndim
    n, i = a.shape[axis], operator.index(index)
    if not -n <= i < n:
        raise IndexError(f'index {i} is out of bounds for axis {axis} with size {n}')
    i = i + n if i < 0 else i
    out = slice_in_dim(a, i, i + 1, 1, axis)
    return out if keepdims else np.squeeze(out, axis=axis)


# ---------------------------------------------------------------------------
# dynamic slices: clamped starts
# ---------------------------------------------------------------------------


def _start_indices(op, start_indices, ndim):
    """The start indices as Python ints, checked to be integer scalars."""
    starts = list(start_indices)  # a sequence of scalars or a 1-d integer array
    if len(starts) != ndim:
        raise TypeError(f'nnref.lax.{op}: needs one start index per axis ({ndim}), got {len(starts)}.')
    out = []
    for s in starts:
        a = rules.operand(s)
        if a.shape != () or rules.kind(a.dtype) not in INTEGER:
            raise TypeError(
                f'nnref.lax.{op}: start indices must be integer scalars, as in jax.lax; got {a.dtype}{list(a.shape)}.'
            )
        out.append(int(a))
    return out


def _clamped(starts, sizes, shape, allow_negative_indices):
    allow = allow_negative_indices
    allow = [bool(allow)] * len(shape) if np.ndim(allow) == 0 else [bool(v) for v in allow]
    out = []
    for start, size, n, negative_ok in zip(starts, sizes, shape, allow):
        if negative_ok and start < 0:
            start += n
        out.append(min(max(start, 0), n - size))
    return out


def dynamic_slice(operand, start_indices, slice_sizes, *, allow_negative_indices=True):
    """The ``slice_sizes`` block at ``start_indices``, starts clamped into range.

    >>> import numpy as np
    >>> dynamic_slice(np.arange(6), (np.int32(-2),), (3,))
    array([3, 4, 5])
    """
    a = rules.operand(operand)
    sizes = _ints(slice_sizes)
    if len(sizes) != a.ndim or any(not 0 <= s <= n for s, n in zip(sizes, a.shape)):
        raise TypeError(f'nnref.lax.dynamic_slice: slice_sizes {sizes} must fit the operand shape {a.shape}.')
    starts = _clamped(_start_indices('dynamic_slice', start_indices, a.ndim), sizes, a.shape, allow_negative_indices)
    return np.array(a[tuple(builtins.slice(s, s + n) for s, n in zip(starts, sizes))])


def dynamic_slice_in_dim(operand, start_index, slice_size, axis=0, *, allow_negative_indices=True):
    """``dynamic_slice`` of ``slice_size`` entries along one ``axis``.

    >>> import numpy as np
    >>> dynamic_slice_in_dim(np.arange(6), 4, 3)
    array([3, 4, 5])
    """
    a = rules.operand(operand)
    axis = operator.index(axis) % a.ndim
    starts, sizes = [0] * a.ndim, list(a.shape)
    starts[axis], sizes[axis] = start_index, operator.index(slice_size)
    return dynamic_slice(a, starts, sizes, allow_negative_indices=allow_negative_indices)


def dynamic_index_in_dim(operand, index, axis=0, keepdims=True, *, allow_negative_indices=True):
    """Entry ``index`` (clamped) of ``axis``; ``keepdims`` keeps that axis.

    >>> import numpy as np
    >>> dynamic_index_in_dim(np.arange(6).reshape(3, 2), 9, keepdims=False)
    array([4, 5])
    """
    a = rules.operand(operand)
    out = dynamic_slice_in_dim(a, index, 1, axis, allow_negative_indices=allow_negative_indices)
    return out if keepdims else np.squeeze(out, axis=operator.index(axis) % a.ndim)


def dynamic_update_slice(operand, update, start_indices, *, allow_negative_indices=True):
    """A copy of ``operand`` with ``update`` written at ``start_indices`` (clamped so it fits).

    >>> import numpy as np
    >>> dynamic_update_slice(np.zeros(4, np.float32), np.ones(2, np.float32), (3,))
    array([0., 0., 1., 1.], dtype=float32)
    """
    (a, u), dtype = rules.same_dtype('dynamic_update_slice', operand, update)
    if u.ndim != a.ndim or any(m > n for m, n in zip(u.shape, a.shape)):
        raise TypeError(
            f'nnref.lax.dynamic_update_slice: an update of shape {u.shape} does not fit an operand '
            f'of shape {a.shape} (same rank, no larger on any axis).'
        )
    starts = _clamped(
        _start_indices('dynamic_update_slice', start_indices, a.ndim), u.shape, a.shape, allow_negative_indices
    )
    out = np.array(a, dtype=dtype)
    out[tuple(builtins.slice(s, s + n) for s, n in zip(starts, u.shape))] = u
    return out


def dynamic_update_slice_in_dim(operand, update, start_index, axis, *, allow_negative_indices=True):
    """``dynamic_update_slice`` at ``start_index`` along one ``axis`` (0 elsewhere).

    >>> import numpy as np
    >>> dynamic_update_slice_in_dim(np.zeros((3, 2), np.int32), np.ones((1, 2), np.int32), 1, 0)[:, 0]
    array([0, 1, 0], dtype=int32)
    """
    a = rules.operand(operand)
    starts = [0] * a.ndim
    starts[operator.index(axis) % a.ndim] = start_index
    return dynamic_update_slice(operand, update, starts, allow_negative_indices=allow_negative_indices)


def dynamic_update_index_in_dim(operand, update, index, axis, *, allow_negative_indices=True):
    """Write ``update`` at entry ``index`` of ``axis``; ``update`` may lack that axis.

    >>> import numpy as np
    >>> dynamic_update_index_in_dim(np.zeros((3, 2), np.int32), np.ones(2, np.int32), -1, 0)[:, 0]
    array([0, 0, 1], dtype=int32)
    """
    a, u = rules.operand(operand), rules.operand(update)
    axis = operator.index(axis) % a.ndim
    if u.ndim == a.ndim - 1:
        update = np.expand_dims(u, axis)
    return dynamic_update_slice_in_dim(operand, update, index, axis, allow_negative_indices=allow_negative_indices)


# ---------------------------------------------------------------------------
# creation
# ---------------------------------------------------------------------------


def iota(dtype, size):
    """``[0, 1, ..., size - 1]`` in ``dtype`` (Python ``int``/``float`` mean int32/float32).

    >>> iota(int, 3)
    array([0, 1, 2], dtype=int32)
    """
    return np.arange(operator.index(size)).astype(rules.requested_dtype(dtype))


def broadcasted_iota(dtype, shape, dimension, *, out_sharding=None):
    """An array of ``shape`` whose entries count along axis ``dimension``.

    >>> broadcasted_iota(int, (2, 3), 1)
    array([[0, 1, 2],
           [0, 1, 2]], dtype=int32)
    """
    del out_sharding
    shape = _shape(shape)
    dimension = operator.index(dimension)
    return broadcast_in_dim(iota(dtype, shape[dimension]), shape, (dimension,))


def full(shape, fill_value, dtype=None, *, sharding=None):
    """An array of ``shape`` filled with the scalar ``fill_value``.

    Without ``dtype``, the fill value's dtype (a Python number's weak
    default); with it, the value converted as ``convert_element_type`` does.

    >>> full((2,), 1.0).dtype, full((2,), 2.7, int)
    (dtype('float32'), array([2, 2], dtype=int32))
    """
    del sharding
    # A Python number is read at full precision, so full(s, 0.1, float64) is float64(0.1).
    value = np.asarray(fill_value) if dtype is not None and rules.is_weak(fill_value) else rules.operand(fill_value)
    if value.shape != ():
        raise TypeError(f'nnref.lax.full: fill_value must be a scalar, got shape {value.shape}.')
    if dtype is not None:
        value = convert_element_type(value, rules.requested_dtype(dtype, like=rules.operand(fill_value).dtype))
    return np.full(_shape(shape), value, dtype=value.dtype)


def full_like(x, fill_value, dtype=None, shape=None, sharding=None):
    """``full`` with the dtype and shape of ``x`` unless ``dtype``/``shape`` are given.

    >>> import numpy as np
    >>> full_like(np.ones(2, np.int32), 2.7)
    array([2, 2], dtype=int32)
    """
    del sharding
    a = rules.operand(x)
    return full(a.shape if shape is None else shape, fill_value, a.dtype if dtype is None else dtype)
