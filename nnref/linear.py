"""``nnref.linear``: the seed's ``linen.linear`` import path.

The seed's dense, convolution and embedding layers, for seed code that imports
them from ``linen.linear``: it runs on ``nnref`` importing from here. Nothing
is defined in this module: the implementations live in ``nnref.layers`` (one
file per group of the API reference) and the typing aliases in
``shared_spec.type_aliases``, so every name here is the very object ``nnref``
uses (``nnref.linear.Dense is nnref.Dense``).

>>> import nnref
>>> from nnref.linear import Dense
>>> Dense is nnref.Dense
True
"""

from nnref.dtypes import promote_dtype  # noqa: F401
from nnref.layers.conv import Conv, ConvLocal, ConvTranspose, canonicalize_padding  # noqa: F401
from nnref.layers.embedding import Embed, default_embed_init  # noqa: F401
from nnref.layers.linear import Dense, default_kernel_init  # noqa: F401
from nnref.layers.linear_general import DenseGeneral, Einsum  # noqa: F401
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
