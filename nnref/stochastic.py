"""``nnref.stochastic``: the seed's ``linen.stochastic`` import path.

The seed's the dropout layer, for seed code that imports them from
``linen.stochastic``: it runs on ``nnref`` importing from here. Nothing is
defined in this module: the implementations live in ``nnref.layers`` (one file
per group of the API reference) and the typing aliases in
``shared_spec.type_aliases``, so every name here is the very object ``nnref``
uses (``nnref.stochastic.Dropout is nnref.Dropout``).

>>> import nnref
>>> from nnref.stochastic import Dropout
>>> Dropout is nnref.Dropout
True
"""

from nnref.layers.stochastic import Dropout  # noqa: F401
from shared_spec.type_aliases import (  # noqa: F401
    PRNGKey,
)

__all__ = ['Dropout', 'PRNGKey']
