"""Sorting ``lax`` ops: ``sort`` (several operands, several keys), ``sort_key_val``, ``top_k``.

``sort`` orders floats as XLA's sort does: NaN after everything, ``-0.0``
equal to ``0.0``, ties kept in their original order (the sort is always
stable, which ``is_stable=False`` allows). ``top_k`` ranks by IEEE total
order instead, as XLA's TopK does: NaN above ``inf`` and ``0.0`` above
``-0.0``; equal values come lowest index first.

>>> import numpy as np
>>> sort(np.array([2.0, np.nan, -1.0], np.float32))
array([-1.,  2., nan], dtype=float32)
>>> values, indices = top_k(np.array([1, 5, 3, 5], np.int32), 2)
>>> values, indices
(array([5, 5], dtype=int32), array([1, 3], dtype=int32))
"""

from __future__ import annotations

import operator

import numpy as np

from nnref.lax import _dtype_rules as rules
from nnref.lax._dtype_rules import BOOL, FLOAT


def _sort_key(a):
    """An array NumPy sorts in lax's order: narrow floats widened (exactly)."""
    return a.astype(np.float32) if rules.is_narrow_float(a.dtype) else a


def sort(operand, dimension=-1, is_stable=True, num_keys=1):
    """Sort along ``dimension``; a sequence of operands is permuted together.

    With several operands, the first ``num_keys`` decide the order
    (lexicographically, the first one first) and the rest follow; the
    result is then a tuple.

    >>> import numpy as np
    >>> keys, values = sort((np.array([1, 1, 0]), np.array([2, 1, 5])), num_keys=1)
    >>> keys.tolist(), values.tolist()
    ([0, 1, 1], [5, 2, 1])
    """
    del is_stable  # always stable, which any sort may be
    single = not isinstance(operand, (tuple, list))
    arrays = [rules.operand(x) for x in ([operand] if single else operand)]
    num_keys = operator.index(num_keys)
    if not 1 <= num_keys <= len(arrays) or len({a.shape for a in arrays}) != 1:
        raise ValueError(
            f'nnref.lax.sort: needs operands of one shape and 1 <= num_keys <= {len(arrays)}, '
            f'got shapes {[a.shape for a in arrays]} and num_keys={num_keys}.'
        )
    axis = operator.index(dimension) % max(arrays[0].ndim, 1)
    # lexsort's last key is the primary one.
    keys = [_sort_key(a) for a in arrays[:num_keys]][::-1]
    order = np.lexsort(keys, axis=axis) if arrays[0].ndim else np.zeros((), np.intp)
    out = [np.take_along_axis(a, order, axis=axis) if a.ndim else a.copy() for a in arrays]
    return out[0] if single else tuple(out)


def sort_key_val(keys, values, dimension=-1, is_stable=True):
    """``(sorted keys, values in the keys' order)`` along ``dimension``.

    >>> import numpy as np
    >>> [a.tolist() for a in sort_key_val(np.array([3, 1, 2]), np.array([0, 1, 2]))]
    [[1, 2, 3], [1, 2, 0]]
    """
    return sort((keys, values), dimension=dimension, is_stable=is_stable, num_keys=1)


def _descending_rank(a):
    """An integer array whose ascending order is ``a``'s descending IEEE total order."""
    kind = rules.kind(a.dtype)
    if kind == FLOAT:
        bits = a.astype(np.float64).view(np.int64)
        bits = np.where(np.isnan(a.astype(np.float64)), np.int64(0x7FF8000000000000), bits)  # NaN on top
        # Flip the magnitude bits of negatives: the integer order is then the total order.
        key = np.where(bits < 0, bits ^ np.int64(0x7FFFFFFFFFFFFFFF), bits)
    elif kind == BOOL:
        key = a.astype(np.int8)
    else:
        key = a
    return ~key  # -key - 1 for signed, max - key for unsigned: reverses the order without overflow


def top_k(operand, k, *, axis=-1):
    """``[values, indices]`` of the ``k`` largest entries along ``axis``, largest first.

    Indices are int32; equal values come lowest index first.

    >>> import numpy as np
    >>> top_k(np.array([[1.0, 3.0, 2.0]], np.float32), 2)[1]
    array([[1, 2]], dtype=int32)
    """
    a = rules.operand(operand)
    axis = operator.index(axis) % max(a.ndim, 1)
    k = operator.index(k)
    if a.ndim == 0 or not 0 <= k <= a.shape[axis]:
        raise ValueError(f'nnref.lax.top_k: k={k} must be between 0 and the size of axis {axis} of {a.shape}.')
    order = np.argsort(_descending_rank(a), axis=axis, kind='stable')
    indices = np.take(order, np.arange(k), axis=axis)
    return [np.take_along_axis(a, indices, axis=axis), indices.astype(np.int32)]
