"""``nnjax.pooling``: the seed's ``linen.pooling`` import path.

The seed's pooling functions, for seed code that imports them from
``linen.pooling``: it runs on ``nnjax`` importing from here. Nothing is defined
in this module: the implementations live in ``nnjax.layers`` (one file per
group of the API reference) and the typing aliases in
``shared_spec.type_aliases``, so every name here is the very object ``nnjax``
uses (``nnjax.pooling.max_pool is nnjax.max_pool``).

>>> import nnjax
>>> from nnjax.pooling import max_pool
>>> max_pool is nnjax.max_pool
True
"""

from nnjax.layers.pooling import avg_pool, max_pool, min_pool, pool  # noqa: F401

__all__ = ['avg_pool', 'max_pool', 'min_pool', 'pool']
