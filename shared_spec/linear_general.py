"""The DenseGeneral and Einsum contract: axis arithmetic, parameter shapes, and the checks of their fields.

DenseGeneral contracts the input axes ``axis`` with a kernel whose leading
axes are the ``batch_dims`` (kept, one kernel slice per batch entry); Einsum
names its axes with letters. Which shapes the parameters take, which
``dimension_numbers`` the contraction uses and which field values are
refused is decided here once; each backend only does the contraction.

>>> p = dense_general_plan((4, 5, 6), axis=(-2, -1), batch_dims=(), features=(2, 3))
>>> p.kernel_shape, p.bias_shape, p.bias_broadcast_shape
((5, 6, 2, 3), (2, 3), (1, 2, 3))
>>> p.dimension_numbers
(((1, 2), (0, 1)), ((), ()))
"""

from __future__ import annotations

import math
import string
from collections.abc import Iterable
from typing import Callable, NamedTuple

__all__ = [
    'as_tuple',
    'DenseGeneralPlan',
    'dense_general_plan',
    'check_einsum_str',
    'einsum_bias_shapes',
    'resolve_dot_general',
]


def as_tuple(x) -> tuple:
    """An int as a 1-tuple, an iterable as a tuple.

    >>> as_tuple(-1), as_tuple([0, 1])
    ((-1,), (0, 1))
    """
    return tuple(x) if isinstance(x, Iterable) else (x,)


def _normalize_axes(field: str, axes: tuple, ndim: int) -> tuple:
    """Non-negative, sorted axes (the seed contracts in sorted axis order)."""
    for ax in axes:
        if not -ndim <= ax < ndim:
            raise ValueError(
                f'DenseGeneral: `{field}` {axes} names axis {ax}, out of range for an input of '
                f'rank {ndim}; use axes in [-{ndim}, {ndim}).'
            )
    return tuple(sorted(ax % ndim for ax in axes))


class DenseGeneralPlan(NamedTuple):
    axis: tuple  # contracted input axes, sorted, >= 0
    batch_dims: tuple  # input axes kept as the kernel's leading axes
    kernel_shape: tuple  # batch sizes + contracted sizes + features
    bias_shape: tuple  # batch sizes + features
    flat_kernel_shape: tuple  # the 2-D matrix the kernel initializer draws (true fan-in, fan-out)
    dimension_numbers: tuple  # for dot_general(inputs, kernel, ...)
    bias_broadcast_shape: tuple  # the bias reshaped to broadcast over the output


def dense_general_plan(shape, axis, batch_dims, features: tuple) -> DenseGeneralPlan:
    """Checks ``axis``/``batch_dims`` against an input of ``shape`` and derives every shape DenseGeneral needs.

    The output's axes are the batch axes, then the input's free axes, then
    ``features``; the bias covers the batch axes and the features.

    >>> p = dense_general_plan((3, 2, 5), axis=-1, batch_dims=(0,), features=(4,))
    >>> p.kernel_shape, p.flat_kernel_shape, p.bias_broadcast_shape
    ((3, 5, 4), (15, 4), (3, 1, 4))
    >>> dense_general_plan((3, 2, 5), axis=-1, batch_dims=(1,), features=(4,))
    Traceback (most recent call last):
    ...
    ValueError: DenseGeneral: `batch_dims` (1,) must be the leading axes 0..k-1 of the input; move batch axes to the front (e.g. with transpose).
    """
    batch = as_tuple(batch_dims)
    if batch and set(batch) != set(range(max(batch) + 1)):
        raise ValueError(
            f'DenseGeneral: `batch_dims` {batch} must be the leading axes '
            f'0..k-1 of the input; move batch axes to the front (e.g. with transpose).'
        )
    ndim = len(shape)
    contracted = _normalize_axes('axis', as_tuple(axis), ndim)
    batch = _normalize_axes('batch_dims', batch, ndim)
    if set(contracted) & set(batch):
        raise ValueError(
            f'DenseGeneral: `axis` {axis} and `batch_dims` {batch_dims} overlap; '
            f'an input axis is either contracted or a batch axis.'
        )
    n_batch, n_axis = len(batch), len(contracted)
    batch_shape = tuple(shape[ax] for ax in batch)
    kernel_shape = batch_shape + tuple(shape[ax] for ax in contracted) + features
    flat = (math.prod(kernel_shape[: n_batch + n_axis]), math.prod(kernel_shape[n_batch + n_axis :]))
    kernel_contract = tuple(range(n_batch, n_batch + n_axis))
    dimension_numbers = ((contracted, kernel_contract), (batch, tuple(range(n_batch))))
    free = tuple(ax for ax in range(ndim) if ax not in contracted)
    broadcast = tuple(shape[ax] if ax in batch else 1 for ax in free) + features
    return DenseGeneralPlan(contracted, batch, kernel_shape, batch_shape + features, flat, dimension_numbers, broadcast)


def check_einsum_str(einsum_str: str) -> str:
    """Einsum's equation without spaces; it must name its output and exactly two operands.

    >>> check_einsum_str('ab, bc -> ac')
    'ab,bc->ac'
    >>> check_einsum_str('ab,bc')
    Traceback (most recent call last):
    ...
    ValueError: Einsum: `einsum_str` 'ab,bc' must be explicit and include '->'.
    """
    einsum_str = einsum_str.replace(' ', '')
    if '->' not in einsum_str:
        raise ValueError(f"Einsum: `einsum_str` {einsum_str!r} must be explicit and include '->'.")
    if einsum_str.count(',') != 1:
        raise ValueError(
            f"Einsum: `einsum_str` {einsum_str!r} must have exactly two operands (the input "
            f"and the kernel), so exactly one ',', not {einsum_str.count(',')}."
        )
    return einsum_str


def _spelt_terms(einsum_str: str, lhs_ndim: int, rhs_ndim: int) -> tuple:
    """``(lhs, rhs, out)`` subscripts with each ``...`` spelt out in unused letters, right-aligned as in NumPy."""
    operands, out = einsum_str.split('->')
    terms = operands.split(',')
    ndims = (lhs_ndim, rhs_ndim)
    counts = [ndim - (len(t) - 3) if '...' in t else 0 for t, ndim in zip(terms, ndims)]
    if any(c < 0 for c in counts):
        raise ValueError(f'Einsum: `einsum_str` {einsum_str!r} has more subscripts than operand axes.')
    n = max(counts)
    letters = ''.join([c for c in string.ascii_letters if c not in einsum_str][:n])
    spelt = [t.replace('...', letters[n - c :]) for t, c in zip(terms, counts)]
    for term, ndim in zip(spelt, ndims):
        if len(term) != ndim:
            raise ValueError(
                f'Einsum: `einsum_str` {einsum_str!r} gives subscripts {term!r} to an operand '
                f'of rank {ndim}; use one letter per axis.'
            )
    return spelt[0], spelt[1], out.replace('...', letters)


def einsum_bias_shapes(einsum_str: str, lhs_ndim: int, kernel_shape) -> tuple:
    """``(bias_shape, broadcast_shape)`` of Einsum's bias: the kernel axes that reach the output, in output order.

    The bias is declared in ``bias_shape`` and reshaped to
    ``broadcast_shape`` (1 for output axes the kernel does not have).

    >>> einsum_bias_shapes('abc,cde->abde', 3, (5, 6, 7))
    ([6, 7], [1, 1, 6, 7])
    >>> einsum_bias_shapes('...d,dd->...d', 2, (4, 4))
    Traceback (most recent call last):
    ...
    ValueError: Einsum: the kernel subscripts 'dd' of `einsum_str` repeat a letter; use a distinct letter per kernel axis.
    """
    _, rhs, out = _spelt_terms(einsum_str, lhs_ndim, len(kernel_shape))
    if len(set(rhs)) != len(rhs):
        raise ValueError(
            f'Einsum: the kernel subscripts {rhs!r} of `einsum_str` repeat a letter; '
            f'use a distinct letter per kernel axis.'
        )
    bias_shape = [kernel_shape[rhs.index(c)] for c in out if c in rhs]
    broadcast_shape = [kernel_shape[rhs.index(c)] if c in rhs else 1 for c in out]
    return bias_shape, broadcast_shape


def resolve_dot_general(dot_general_cls, dot_general, default: Callable) -> Callable:
    """The contraction a layer uses: ``dot_general_cls()`` (built now), else ``dot_general``, else ``default``.

    Building the class at call time makes a Module instance a submodule of the
    calling layer, under its auto-name.

    >>> resolve_dot_general(None, None, max) is max, resolve_dot_general(None, min, max) is min
    (True, True)
    """
    if dot_general_cls is not None:
        return dot_general_cls()
    if dot_general is not None:
        return dot_general
    return default
