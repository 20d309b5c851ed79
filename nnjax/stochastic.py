"""``nnjax.stochastic``: the seed's ``linen.stochastic`` import path.

The seed's the dropout layer, for seed code that imports them from
``linen.stochastic``: it runs on ``nnjax`` importing from here. Nothing is
defined in this module: the implementations live in ``nnjax.layers`` (one file
per group of the API reference) and the typing aliases in
``shared_spec.type_aliases``, so every name here is the very object ``nnjax``
uses (``nnjax.stochastic.Dropout is nnjax.Dropout``).

>>> import nnjax
>>> from nnjax.stochastic import Dropout
>>> Dropout is nnjax.Dropout
True
"""

from nnjax.layers.stochastic import Dropout  # noqa: F401
from shared_spec.type_aliases import (  # noqa: F401
    PRNGKey,
)

__all__ = ['Dropout', 'PRNGKey']
