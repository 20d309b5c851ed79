"""``nnjax.combinators``: the seed's ``linen.combinators`` import path.

The seed's layer combinators, for seed code that imports them from
``linen.combinators``: it runs on ``nnjax`` importing from here. Nothing is
defined in this module: the implementations live in ``nnjax.layers`` (one file
per group of the API reference) and the typing aliases in
``shared_spec.type_aliases``, so every name here is the very object ``nnjax``
uses (``nnjax.combinators.Sequential is nnjax.Sequential``).

>>> import nnjax
>>> from nnjax.combinators import Sequential
>>> Sequential is nnjax.Sequential
True
"""

from nnjax.layers.combinators import Sequential  # noqa: F401

__all__ = ['Sequential']
