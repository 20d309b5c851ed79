"""Reducing ``lax`` ops: over axes, cumulative along one axis, over sliding windows.

Sums and products keep the operand's dtype (integers wrap, as in XLA);
narrow floats accumulate in float32 and are rounded once. ``reduce_max`` of
an empty axis is the dtype's lowest value (``-inf`` for floats), and NaN
propagates through max/min, as XLA's do. ``argmax``/``argmin`` return the
first NaN if there is one, else the first extreme.

``reduce`` and ``reduce_window`` take any binary ``computation`` and pytrees
of operands; it is called on whole arrays (kept axes, or every window at one
offset), so it must act elementwise, as lax's own ops do.

>>> import numpy as np
>>> reduce_sum(np.full(3, 100, np.int8), (0,))
array(44, dtype=int8)
>>> reduce_window(np.arange(5.0), -np.inf, np.maximum, (2,), (2,), 'SAME')
array([1., 3., 4.])
>>> cumsum(np.arange(4), reverse=True)
array([6, 6, 5, 3])
"""

from __future__ import annotations

import builtins
import operator

import numpy as np

from nnref import windows
from nnref.lax import _dtype_rules as rules
from nnref.lax._dtype_rules import BOOL, COMPLEX, FLOAT, INTEGER, NUMBER, SIGNED, UNSIGNED
from nnref.lax._shapes import pad
from nnref.tree_util import tree_flatten, tree_unflatten


def _axes(op, a, axes):
    axes = tuple(operator.index(d) for d in axes)
    if any(not 0 <= d < a.ndim for d in axes) or len(set(axes)) != len(axes):
        raise ValueError(
            f'nnref.lax.{op}: reduction axes {axes} must be distinct axes in [0, {a.ndim}) of '
            f'{a.dtype}{list(a.shape)}, as in jax.lax (no negative axes).'
        )
    return axes


def _lowest(dtype):
    """The identity of max: -inf, the smallest integer, or False."""
    kind = rules.kind(dtype)
    if kind in (FLOAT, COMPLEX):
        return -np.inf
    return False if kind == BOOL else np.iinfo(dtype).min


def _highest(dtype):
    kind = rules.kind(dtype)
    if kind in (FLOAT, COMPLEX):
        return np.inf
    return True if kind == BOOL else np.iinfo(dtype).max


def _reducer(name, accepted, reduce, doc):
    def op(operand, axes):
        (a,), dtype = rules.same_dtype(name, operand, accepted=accepted)
        axes = _axes(name, a, axes)
        work = rules.compute_dtype(dtype)
        with np.errstate(all='ignore'):
            y = reduce(a.astype(work, copy=False), axes, work)
        return np.asarray(y).astype(dtype, copy=False)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


_ORDERED = (BOOL, SIGNED, UNSIGNED, FLOAT)
_MAXABLE = _ORDERED + (COMPLEX,)  # complex numbers compare lexicographically, as in XLA
reduce_max = _reducer(
    'reduce_max',
    _MAXABLE,
    lambda a, ax, t: np.max(a, axis=ax, initial=_lowest(t)),
    'Maximum over ``axes`` (NaN propagates; empty gives the lowest value).',
)
reduce_min = _reducer(
    'reduce_min',
    _MAXABLE,
    lambda a, ax, t: np.min(a, axis=ax, initial=_highest(t)),
    'Minimum over ``axes`` (NaN propagates; empty gives the highest value).',
)
reduce_prod = _reducer(
    'reduce_prod', NUMBER, lambda a, ax, t: np.prod(a, axis=ax, dtype=t), 'Product over ``axes`` (integers wrap).'
)
_BITS = (BOOL,) + INTEGER
reduce_and = _reducer(
    'reduce_and',
    _BITS,
    lambda a, ax, t: np.bitwise_and.reduce(a, axis=ax),
    'Bitwise (logical, for bool) AND over ``axes``.',
)
reduce_or = _reducer(
    'reduce_or',
    _BITS,
    lambda a, ax, t: np.bitwise_or.reduce(a, axis=ax),
    'Bitwise (logical, for bool) OR over ``axes``.',
)
reduce_xor = _reducer(
    'reduce_xor',
    _BITS,
    lambda a, ax, t: np.bitwise_xor.reduce(a, axis=ax),
    'Bitwise (logical, for bool) XOR over ``axes``.',
)
_reduce_sum = _reducer('reduce_sum', NUMBER, lambda a, ax, t: np.sum(a, axis=ax, dtype=t), '')


def reduce_sum(operand, axes, *, out_sharding=None):
    """Sum over ``axes`` (non-negative axis numbers); integers wrap.

    >>> import numpy as np
    >>> reduce_sum(np.ones((2, 3), np.float32), (1,))
    array([3., 3.], dtype=float32)
    """
    del out_sharding  # one host array: nothing to shard
    return _reduce_sum(operand, axes)


def _arg_extreme(name, pick):
    def op(operand, axis, index_dtype):
        (a,), _ = rules.same_dtype(name, operand, accepted=_ORDERED)
        axis = operator.index(axis)
        if not 0 <= axis < a.ndim or a.shape[axis] == 0:
            raise ValueError(f'nnref.lax.{name}: axis {axis} must be a non-empty axis of {a.shape}.')
        index_dtype = rules.requested_dtype(index_dtype)
        rules.check_kind(name, index_dtype, INTEGER)
        # NumPy's argmax/argmin already return the first NaN, then the first extreme.
        return np.asarray(pick(a.astype(rules.compute_dtype(a.dtype), copy=False), axis=axis)).astype(index_dtype)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = (
        f'Index of the {"largest" if pick is np.argmax else "smallest"} entry along ``axis`` '
        '(the first NaN if any, else the first extreme), as ``index_dtype``.'
    )
    return op


argmax = _arg_extreme('argmax', np.argmax)
argmin = _arg_extreme('argmin', np.argmin)


def reduce(operands, init_values, computation, dimensions, out_sharding=None):
    """Fold ``computation`` over ``dimensions``, starting from ``init_values``.

    ``operands`` and ``init_values`` are matching pytrees (e.g. a value and
    an index for an argmax); ``computation(accumulated, next)`` takes and
    returns such pytrees.

    >>> import numpy as np
    >>> reduce(np.arange(6.0).reshape(2, 3), 0.0, np.add, (1,))
    array([ 3., 12.])
    """
    del out_sharding
    leaves, tree = tree_flatten(operands)
    inits, init_tree = tree_flatten(init_values)
    if tree != init_tree:
        raise TypeError(
            f'nnref.lax.reduce: operands and init_values must have one tree structure, got {tree} and {init_tree}.'
        )
    arrays = [rules.operand(x) for x in leaves]
    dims = _axes('reduce', arrays[0], dimensions)
    kept = [d for d in range(arrays[0].ndim) if d not in dims]
    # Reduced axes first, flattened into one: the fold runs over that axis.
    moved = [np.transpose(a, dims + tuple(kept)).reshape((-1,) + tuple(a.shape[d] for d in kept)) for a in arrays]
    acc = [np.full(m.shape[1:], init, dtype=a.dtype) for m, init, a in zip(moved, inits, arrays)]
    with np.errstate(all='ignore'):
        for k in range(moved[0].shape[0]):
            out = computation(tree_unflatten(tree, acc), tree_unflatten(tree, [m[k] for m in moved]))
            acc = [np.asarray(v).astype(a.dtype, copy=False) for v, a in zip(tree_flatten(out)[0], arrays)]
    return tree_unflatten(tree, acc)


# ---------------------------------------------------------------------------
# cumulative ops
# ---------------------------------------------------------------------------


def _cumulative(name, accepted, accumulate, doc):
    def op(operand, axis=0, reverse=False):
        (a,), dtype = rules.same_dtype(name, operand, accepted=accepted)
        axis = operator.index(axis) % max(a.ndim, 1)
        work = rules.compute_dtype(dtype)
        a = a.astype(work, copy=False)
        if reverse:
            a = np.flip(a, axis)
        with np.errstate(all='ignore'):
            y = accumulate(a, axis, work)
        if reverse:
            y = np.flip(y, axis)
        return np.ascontiguousarray(y).astype(dtype, copy=False)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


cumsum = _cumulative(
    'cumsum',
    NUMBER,
    lambda a, ax, t: np.cumsum(a, axis=ax, dtype=t),
    'Running sum along ``axis`` (from the end with ``reverse``).',
)
cumprod = _cumulative(
    'cumprod',
    NUMBER,
    lambda a, ax, t: np.cumprod(a, axis=ax, dtype=t),
    'Running product along ``axis`` (from the end with ``reverse``).',
)
cummax = _cumulative(
    'cummax',
    NUMBER,
    lambda a, ax, t: np.maximum.accumulate(a, axis=ax),
    'Running maximum along ``axis``; a NaN stays for the rest of the run.',
)
cummin = _cumulative(
    'cummin',
    NUMBER,
    lambda a, ax, t: np.minimum.accumulate(a, axis=ax),
    'Running minimum along ``axis``; a NaN stays for the rest of the run.',
)
cumlogsumexp = _cumulative(
    'cumlogsumexp',
    (FLOAT,),
    lambda a, ax, t: np.logaddexp.accumulate(a, axis=ax),
    'Running ``log(sum(exp(x)))`` along ``axis``, without overflow.',
)


# ---------------------------------------------------------------------------
# sliding windows
# ---------------------------------------------------------------------------


def _window_input(a, init, window, strides, padding, base_dilation, window_dilation):
    """``a`` dilated by ``base_dilation`` and padded, holes and pads holding ``init``."""
    dilated_shape = [windows.dilated_size(n, d) for n, d in zip(a.shape, base_dilation)]
    if isinstance(padding, str):
        dilated_window = [windows.dilated_size(k, d) for k, d in zip(window, window_dilation)]
        padding = windows.padtype_to_pads(dilated_shape, dilated_window, strides, padding)
    config = [(int(lo), int(hi), d - 1) for (lo, hi), d in zip(padding, base_dilation)]
    return pad(a, init, config)


def _init_value(a, init):
    """``init`` in ``a``'s dtype, as lax converts it: any typed value, a Python number that fits the kind."""
    inexact = rules.kind(a.dtype) in (FLOAT, COMPLEX)
    if (isinstance(init, float) and not inexact) or (
        isinstance(init, builtins.complex) and rules.kind(a.dtype) != COMPLEX
    ):
        raise TypeError(
            f'nnref.lax.reduce_window: the init value {init!r} does not fit the operand dtype {a.dtype}, as in jax.lax.'
        )
    return np.asarray(init, a.dtype) if rules.is_weak(init) else np.asarray(init).astype(a.dtype)


def reduce_window(
    operand,
    init_value,
    computation,
    window_dimensions,
    window_strides=None,
    padding='VALID',
    base_dilation=None,
    window_dilation=None,
):
    """Fold ``computation`` over every window of ``window_dimensions`` (one per output element).

    ``padding`` is ``'VALID'``, ``'SAME'``, ``'SAME_LOWER'`` or one ``(low,
    high)`` pair per axis (negative pairs crop); padded positions and the
    holes of ``base_dilation`` hold ``init_value``, so they never change a
    max or a sum. ``window_dilation`` spaces the taps of each window.
    ``operand``/``init_value`` may be matching pytrees, ``computation``
    then taking and returning such pytrees.

    >>> import numpy as np
    >>> reduce_window(np.arange(1.0, 6.0), 0.0, np.add, (2,), (1,), 'VALID', window_dilation=(2,))
    array([4., 6., 8.])
    """
    leaves, tree = tree_flatten(operand)
    inits, init_tree = tree_flatten(init_value)
    if tree != init_tree:
        raise TypeError(
            f'nnref.lax.reduce_window: operand and init_value must have one tree structure, got {tree} and {init_tree}.'
        )
    arrays = [rules.operand(x) for x in leaves]
    ndim = arrays[0].ndim
    window = tuple(operator.index(k) for k in window_dimensions)
    strides = (1,) * ndim if window_strides is None else tuple(operator.index(s) for s in window_strides)
    base = (1,) * ndim if base_dilation is None else tuple(operator.index(d) for d in base_dilation)
    dilation = (1,) * ndim if window_dilation is None else tuple(operator.index(d) for d in window_dilation)
    if not len(window) == len(strides) == len(base) == len(dilation) == ndim:
        raise TypeError(
            f'nnref.lax.reduce_window: window, strides and dilations need one entry per axis of {arrays[0].shape}.'
        )
    inits = [_init_value(a, init) for a, init in zip(arrays, inits)]
    padded = [_window_input(a, init, window, strides, padding, base, dilation) for a, init in zip(arrays, inits)]
    axes = tuple(range(ndim))
    views = [list(windows.window_views(p, window, strides, dilation, axes)) for p in padded]
    acc = [np.full(v[0][1].shape, init, dtype=a.dtype) for v, init, a in zip(views, inits, arrays)]
    with np.errstate(all='ignore'):
        for offset in range(len(views[0])):
            step = tree_unflatten(tree, [v[offset][1] for v in views])
            out = computation(tree_unflatten(tree, acc), step)
            acc = [np.asarray(x).astype(a.dtype, copy=False) for x, a in zip(tree_flatten(out)[0], arrays)]
    return tree_unflatten(tree, acc)
