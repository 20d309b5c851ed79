"""``nnref.pooling``: the seed's ``linen.pooling`` import path.

The seed's pooling functions, for seed code that imports them from
``linen.pooling``: it runs on ``nnref`` importing from here. Nothing is defined
in this module: the implementations live in ``nnref.layers`` (one file per
group of the API reference) and the typing aliases in
``shared_spec.type_aliases``, so every name here is the very object ``nnref``
uses (``nnref.pooling.max_pool is nnref.max_pool``).

>>> import nnref
>>> from nnref.pooling import max_pool
>>> max_pool is nnref.max_pool
True
"""

from nnref.layers.pooling import avg_pool, max_pool, min_pool, pool  # noqa: F401

__all__ = ['avg_pool', 'max_pool', 'min_pool', 'pool']
