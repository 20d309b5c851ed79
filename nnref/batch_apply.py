"""``BatchApply``: use a function written for one batch dimension on inputs with several.

A layer written for ``[batch, features]`` can serve ``[time, batch,
features]`` if the two leading dimensions are folded into one first. For
``BatchApply(f, num_dims=2)(*args, **kwargs)`` that takes three steps:

1. find the first array input (``args`` before ``kwargs``) with at least
   ``num_dims`` dimensions; its leading ``num_dims`` sizes ``(d0, d1)`` are
   remembered -- with no such input there is nothing to fold
   (``ValueError``);
2. reshape every input with at least ``num_dims`` dimensions from
   ``(d0, d1, *rest)`` to ``(d0 * d1, *rest)`` (others pass as they are)
   and call ``f``;
3. reshape every output's first dimension back into ``(d0, d1)``.

Reshaping a C-ordered array this way copies nothing and keeps each row in
place, so row ``i * d1 + j`` of the folded input is row ``(i, j)`` again
after step 3. ``BatchApply`` is a plain callable, not a Module; ``f`` may
be a bound module method. The shape arithmetic is shared with ``nnjax``
(:mod:`shared_spec.leading_dims`).

>>> import numpy as np
>>> import nnref as nn
>>> seq = np.arange(24.0).reshape(4, 3, 2)           # (time, batch, features)
>>> def row_sums(x):
...     print('f sees', x.shape)
...     return x.sum(-1)
>>> nn.BatchApply(row_sums)(seq).shape
f sees (12, 2)
(4, 3)
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from nnref import tree_util
from shared_spec import leading_dims


def ndim_at_least(x: Any, num_dims: int) -> bool:
    return np.ndim(x) >= num_dims


def arbitrary_mergeable_leaf(min_num_dims: int, args: tuple, kwargs: dict):
    """Step 1: the first leaf, in ``args`` then ``kwargs``, with ``min_num_dims`` or more dimensions (or None)."""
    return next((x for x in tree_util.tree_leaves((args, kwargs)) if ndim_at_least(x, min_num_dims)), None)


def merge_leading_dims(x: Any, num_dims: int):
    """Step 2 for one leaf: fold its first ``num_dims`` dimensions into one, if it has that many."""
    return x.reshape(leading_dims.merged_shape(x.shape, num_dims)) if ndim_at_least(x, num_dims) else x


def split_leading_dim(x: Any, to_dim: tuple):
    """Step 3 for one leaf: unfold its first dimension into ``to_dim``."""
    return x.reshape(leading_dims.split_shape(x.shape, to_dim))


class BatchApply:
    """Calls ``f`` with the leading ``num_dims`` dimensions of its inputs folded into one (see above)."""

    def __init__(self, f: Callable, num_dims: int = 2):
        self._f = f
        self.num_dims = num_dims

    def __call__(self, *args, **kwargs):
        first = arbitrary_mergeable_leaf(self.num_dims, args, kwargs)
        if first is None:
            raise leading_dims.no_mergeable_input_error(self.num_dims)
        unfold_to = tuple(first.shape[: self.num_dims])

        def fold(x):
            return merge_leading_dims(x, self.num_dims)

        folded_args = tree_util.tree_map(fold, args)
        folded_kwargs = tree_util.tree_map(fold, kwargs)
        outputs = self._f(*folded_args, **folded_kwargs)
        return tree_util.tree_map(lambda y: split_leading_dim(y, unfold_to), outputs)
