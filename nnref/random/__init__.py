"""JAX's PRNG (threefry2x32, partitionable counters) in NumPy.

Names and signatures follow ``jax.random``; keys may be raw uint32 arrays of
shape ``(..., 2)`` (``PRNGKey``) or typed :class:`KeyArray` (``key``).

>>> from nnref import random
>>> k1, k2 = random.split(random.PRNGKey(0))
>>> random.normal(k1, (2,)).dtype
dtype('float32')
"""

from nnref.random.distributions import (
    bernoulli,
    categorical,
    choice,
    gumbel,
    normal,
    permutation,
    randint,
    truncated_normal,
    uniform,
)
from nnref.random.keys import KeyArray, PRNGKey, bits, fold_in, key, key_data, split, wrap_key_data

__all__ = [
    "KeyArray",
    "PRNGKey",
    "key",
    "key_data",
    "wrap_key_data",
    "split",
    "fold_in",
    "bits",
    "uniform",
    "normal",
    "truncated_normal",
    "bernoulli",
    "randint",
    "gumbel",
    "categorical",
    "permutation",
    "choice",
]
