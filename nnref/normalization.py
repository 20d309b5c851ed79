"""``nnref.normalization``: the seed's ``linen.normalization`` import path.

The seed's normalization layers, for seed code that imports them from
``linen.normalization``: it runs on ``nnref`` importing from here. Nothing is
defined in this module: the implementations live in ``nnref.layers`` (one file
per group of the API reference) and the typing aliases in
``shared_spec.type_aliases``, so every name here is the very object ``nnref``
uses (``nnref.normalization.LayerNorm is nnref.LayerNorm``).

>>> import nnref
>>> from nnref.normalization import LayerNorm
>>> LayerNorm is nnref.LayerNorm
True
"""

from nnref.dtypes import canonicalize_dtype  # noqa: F401
from nnref.layers.normalization import (  # noqa: F401
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
