"""``nnjax.linear``: the seed's ``linen.linear`` import path.

The seed's dense, convolution and embedding layers, for seed code that imports
them from ``linen.linear``: it runs on ``nnjax`` importing from here. Nothing
is defined in this module: the implementations live in ``nnjax.layers`` (one
file per group of the API reference) and the typing aliases in
``shared_spec.type_aliases``, so every name here is the very object ``nnjax``
uses (``nnjax.linear.Dense is nnjax.Dense``).

>>> import nnjax
>>> from nnjax.linear import Dense
>>> Dense is nnjax.Dense
True
"""

from nnjax.dtypes import promote_dtype  # noqa: F401
from nnjax.layers.conv import Conv, ConvLocal, ConvTranspose, canonicalize_padding  # noqa: F401
from nnjax.layers.embedding import Embed, default_embed_init  # noqa: F401
from nnjax.layers.linear import Dense, default_kernel_init  # noqa: F401
from nnjax.layers.linear_general import DenseGeneral, Einsum  # noqa: F401
from shared_spec.type_aliases import (  # noqa: F401
    Array,
    ConvGeneralDilatedT,
    DotGeneralT,
    Dtype,
    Initializer,
    LaxPadding,
    PaddingLike,
    PrecisionLike,
    PRNGKey,
    PromoteDtypeFn,
    Shape,
)

__all__ = [
    'Array',
    'canonicalize_padding',
    'Conv',
    'ConvGeneralDilatedT',
    'ConvLocal',
    'ConvTranspose',
    'default_embed_init',
    'default_kernel_init',
    'Dense',
    'DenseGeneral',
    'DotGeneralT',
    'Dtype',
    'Einsum',
    'Embed',
    'Initializer',
    'LaxPadding',
    'PaddingLike',
    'PrecisionLike',
    'PRNGKey',
    'promote_dtype',
    'PromoteDtypeFn',
    'Shape',
]
