"""The Dropout contract: which ``rate``/``broadcast_dims`` are valid, the mask's shape, the input dtype rule.

Both backends draw the keep mask over :func:`mask_shape` of the input (the
``broadcast_dims`` axes set to 1, so those axes share one mask value) and
refuse the same fields and inputs with the same messages; only the drawing
and the arithmetic are their own.

>>> axes = check_fields(0.5, (0, -1), 3)
>>> axes, mask_shape((4, 5, 6), axes)
([0, 2], (1, 5, 1))
"""

from __future__ import annotations

import numbers

__all__ = ['check_fields', 'mask_shape', 'check_floating']


def check_fields(rate, broadcast_dims, ndim: int) -> list:
    """Validates ``rate`` and ``broadcast_dims`` for an input of rank ``ndim``; returns the dims as axes >= 0.

    A ``rate`` that is not a real number (an array, a tracer) passes unchecked.

    >>> check_fields(1.5, (), 2)
    Traceback (most recent call last):
    ...
    ValueError: Dropout: rate must lie in [0, 1] (it is the drop probability), got 1.5. Fix: pass e.g. Dropout(rate=0.1).
    >>> check_fields(0.1, (2,), 2)
    Traceback (most recent call last):
    ...
    ValueError: Dropout: broadcast_dims entry 2 is out of range for inputs of rank 2. Fix: name axes in [-2, 2) that should share one mask value.
    """
    if isinstance(rate, numbers.Real) and not 0.0 <= rate <= 1.0:
        raise ValueError(
            f'Dropout: rate must lie in [0, 1] (it is the drop probability), got {rate}. Fix: pass e.g. Dropout(rate=0.1).'
        )
    axes = []
    for dim in broadcast_dims:
        if not -ndim <= dim < ndim:
            raise ValueError(
                f'Dropout: broadcast_dims entry {dim} is out of range for inputs of rank {ndim}. '
                f'Fix: name axes in [-{ndim}, {ndim}) that should share one mask value.'
            )
        axes.append(dim % ndim)
    return axes


def mask_shape(shape, axes) -> tuple:
    """The shape the keep mask is drawn in: ``shape`` with each of ``axes`` set to 1.

    >>> mask_shape((2, 3), [1])
    (2, 1)
    """
    return tuple(1 if axis in axes else size for axis, size in enumerate(shape))


def check_floating(is_floating: bool, dtype) -> None:
    """Refuses inputs that cannot carry the ``1 / (1 - rate)`` rescaling (the backend says whether ``dtype`` is a float).

    >>> check_floating(False, 'int32')
    Traceback (most recent call last):
    ...
    TypeError: Dropout: inputs must be floating point to be rescaled by 1/(1 - rate), got int32. Fix: cast them to a float dtype first, or pass deterministic=True.
    """
    if not is_floating:
        raise TypeError(
            f'Dropout: inputs must be floating point to be rescaled by 1/(1 - rate), got {dtype}. '
            'Fix: cast them to a float dtype first, or pass deterministic=True.'
        )
