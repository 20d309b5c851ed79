"""lax ops that only speak to autodiff or the compiler, and so are identities on nnref.

nnref computes no gradients, compiles nothing and holds one host array per
value, so ``stop_gradient``, ``optimization_barrier`` and
``with_sharding_constraint`` return their (pytree) argument's values.
``stop_gradient`` copies, so the result never aliases the input.

>>> import numpy as np
>>> stop_gradient({'w': np.ones(2, np.float32)})
{'w': array([1., 1.], dtype=float32)}
"""

from __future__ import annotations

import numpy as np

from nnref.lax._dtype_rules import operand as _array
from nnref.tree_util import tree_map


def stop_gradient(x):
    """A copy of the pytree ``x``; gradients through it are zero in JAX, and nnref takes none.

    >>> stop_gradient(2.0)
    array(2., dtype=float32)
    """
    return tree_map(lambda leaf: np.array(_array(leaf)), x)


def optimization_barrier(operand, /):
    """``operand`` itself (a pytree): the barrier only constrains XLA's scheduling.

    >>> optimization_barrier((1, 2))
    (array(1, dtype=int32), array(2, dtype=int32))
    """
    return tree_map(_array, operand)


def with_sharding_constraint(x, shardings):
    """``x`` itself: nnref has a single host copy of every array, which any sharding describes.

    >>> import numpy as np
    >>> with_sharding_constraint(np.zeros(2), None)
    array([0., 0.])
    """
    del shardings
    return tree_map(_array, x)
