"""``nnref.combinators``: the seed's ``linen.combinators`` import path.

The seed's layer combinators, for seed code that imports them from
``linen.combinators``: it runs on ``nnref`` importing from here. Nothing is
defined in this module: the implementations live in ``nnref.layers`` (one file
per group of the API reference) and the typing aliases in
``shared_spec.type_aliases``, so every name here is the very object ``nnref``
uses (``nnref.combinators.Sequential is nnref.Sequential``).

>>> import nnref
>>> from nnref.combinators import Sequential
>>> Sequential is nnref.Sequential
True
"""

from nnref.layers.combinators import Sequential  # noqa: F401

__all__ = ['Sequential']
