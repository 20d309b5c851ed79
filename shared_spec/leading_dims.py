"""``BatchApply``'s shape rules: merge the leading dimensions before the call, split them after.

``BatchApply(f, num_dims)`` turns every input with at least ``num_dims``
dimensions from ``(d0, ..., d{k-1}, *rest)`` into ``(d0 * ... * d{k-1},
*rest)``, calls ``f``, and splits every output's first dimension back into
``(d0, ..., d{k-1})`` -- the leading dimensions of the first such input.
Both backends' ``batch_apply`` compute the shapes here and only reshape
their own arrays.

>>> merged_shape((5, 3, 8), 2)
(15, 8)
>>> split_shape((15, 2), (5, 3))
(5, 3, 2)
"""

from __future__ import annotations

import math

__all__ = ['merged_shape', 'split_shape', 'no_mergeable_input_error']


def merged_shape(shape: tuple, num_dims: int) -> tuple:
    """``shape`` with its first ``num_dims`` entries multiplied into one (it must have that many).

    >>> merged_shape((2, 3, 4), 3), merged_shape((2, 3), 1)
    ((24,), (2, 3))
    """
    return (math.prod(shape[:num_dims]),) + tuple(shape[num_dims:])


def split_shape(shape: tuple, leading: tuple) -> tuple:
    """``shape`` with its first entry replaced by the dimensions ``leading``.

    >>> split_shape((6,), (2, 3))
    (2, 3)
    """
    return tuple(leading) + tuple(shape[1:])


def no_mergeable_input_error(num_dims: int) -> ValueError:
    """The error when no input has ``num_dims`` dimensions to merge.

    >>> no_mergeable_input_error(2)
    ValueError('BatchApply requires at least one input with ndim >= 2. Fix: pass an array with the dimensions to merge, or lower num_dims.')
    """
    return ValueError(
        f"BatchApply requires at least one input with ndim >= {num_dims}. "
        "Fix: pass an array with the dimensions to merge, or lower num_dims."
    )
