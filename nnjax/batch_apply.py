"""``BatchApply``: run a function on inputs whose leading dimensions are merged into one.

``BatchApply(f, num_dims=2)(*args, **kwargs)`` reshapes every array
argument with at least ``num_dims`` dimensions from ``(d0, ..., dk-1, *rest)``
to ``(d0 * ... * dk-1, *rest)``, calls ``f``, and reshapes every output's
first dimension back to ``(d0, ..., dk-1)`` (taken from the first such
argument). Arguments with fewer dimensions pass unchanged. Useful to apply a
module written for ``[batch, features]`` to ``[time, batch, features]``.
It is a plain callable, not a Module; ``f`` may be a bound module method.
With no argument of ``num_dims`` or more dimensions it is a ``ValueError``.

>>> import jax.numpy as jnp
>>> import nnjax as nn
>>> a = jnp.ones((2, 3, 4))
>>> b = jnp.arange(4.0)
>>> def matvec(a, b):
...   assert a.ndim == 2  # f sees the merged (6, 4)
...   return a @ b
>>> nn.BatchApply(matvec)(a, b).shape
(2, 3)
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

from shared_spec import leading_dims


def ndim_at_least(x: Any, num_dims: int) -> bool:
    return jnp.ndim(x) >= num_dims


def arbitrary_mergeable_leaf(min_num_dims: int, args: tuple, kwargs: dict):
    """The first leaf of ``args`` then ``kwargs`` with at least ``min_num_dims`` dimensions, or None."""
    for leaf in jax.tree_util.tree_leaves((args, kwargs)):
        if ndim_at_least(leaf, min_num_dims):
            return leaf
    return None


def merge_leading_dims(x: Any, num_dims: int):
    """``x`` with its first ``num_dims`` dimensions merged into one (unchanged if it has fewer)."""
    if not ndim_at_least(x, num_dims):
        return x
    return x.reshape(leading_dims.merged_shape(x.shape, num_dims))


def split_leading_dim(x: Any, to_dim: tuple):
    """``x`` with its first dimension split into ``to_dim``."""
    return x.reshape(leading_dims.split_shape(x.shape, to_dim))


class BatchApply:
    """Merges the leading ``num_dims`` dimensions of the inputs around a call of ``f`` (see above)."""

    def __init__(self, f: Callable, num_dims: int = 2):
        self._f = f
        self.num_dims = num_dims

    def __call__(self, *args, **kwargs):
        example = arbitrary_mergeable_leaf(self.num_dims, args, kwargs)
        if example is None:
            raise leading_dims.no_mergeable_input_error(self.num_dims)
        leading = tuple(example.shape[: self.num_dims])
        merge = lambda x: merge_leading_dims(x, self.num_dims)  # noqa: E731
        outputs = self._f(*jax.tree_util.tree_map(merge, args), **jax.tree_util.tree_map(merge, kwargs))
        return jax.tree_util.tree_map(lambda y: split_leading_dim(y, leading), outputs)
