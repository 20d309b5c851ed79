"""``nnjax.normalization``: the seed's ``linen.normalization`` import path.

The seed's normalization layers, for seed code that imports them from
``linen.normalization``: it runs on ``nnjax`` importing from here. Nothing is
defined in this module: the implementations live in ``nnjax.layers`` (one file
per group of the API reference) and the typing aliases in
``shared_spec.type_aliases``, so every name here is the very object ``nnjax``
uses (``nnjax.normalization.LayerNorm is nnjax.LayerNorm``).

>>> import nnjax
>>> from nnjax.normalization import LayerNorm
>>> LayerNorm is nnjax.LayerNorm
True
"""

from nnjax.dtypes import canonicalize_dtype  # noqa: F401
from nnjax.layers.normalization import (  # noqa: F401
    BatchNorm,
    GroupNorm,
    InstanceNorm,
    LayerNorm,
    RMSNorm,
    SpectralNorm,
    WeightNorm,
)
from shared_spec.type_aliases import (  # noqa: F401
    Array,
    Axes,
    Dtype,
    Initializer,
    PRNGKey,
    Shape,
)

__all__ = [
    'Array',
    'Axes',
    'BatchNorm',
    'canonicalize_dtype',
    'Dtype',
    'GroupNorm',
    'Initializer',
    'InstanceNorm',
    'LayerNorm',
    'PRNGKey',
    'RMSNorm',
    'Shape',
    'SpectralNorm',
    'WeightNorm',
]
