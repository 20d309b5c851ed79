"""``nnref.pooling``: the pooling functions under the seed's ``linen.pooling`` import path.

Seed code written as ``from flax.linen.pooling import max_pool`` runs here
with only the package name changed. Nothing is defined in this module: it
re-exports the functions of :mod:`nnref.layers.pooling`, so that
``nnref.pooling.max_pool is nnref.max_pool``.

>>> import nnref
>>> from nnref.pooling import avg_pool
>>> avg_pool is nnref.avg_pool
True
"""

from nnref.layers.pooling import avg_pool, max_pool, min_pool, pool

__all__ = ["avg_pool", "max_pool", "min_pool", "pool"]
