"""``nnref.attention``: the seed's ``linen.attention`` import path.

The seed's attention layers, attention functions and masks, for seed code that
imports them from ``linen.attention``: it runs on ``nnref`` importing from
here. Nothing is defined in this module: the implementations live in
``nnref.layers`` (one file per group of the API reference) and the typing
aliases in ``shared_spec.type_aliases``, so every name here is the very object
``nnref`` uses (``nnref.attention.MultiHeadDotProductAttention is
nnref.MultiHeadDotProductAttention``).

>>> import nnref
>>> from nnref.attention import MultiHeadDotProductAttention
>>> MultiHeadDotProductAttention is nnref.MultiHeadDotProductAttention
True
"""

from nnref.layers.attention import (  # noqa: F401
    MultiHeadAttention,
    MultiHeadDotProductAttention,
    SelfAttention,
    combine_masks,
    dot_product_attention,
    dot_product_attention_weights,
    make_attention_mask,
    make_causal_mask,
)
from nnref.layers.linear import default_kernel_init  # noqa: F401
from shared_spec.type_aliases import (  # noqa: F401
    Array,
    DotGeneralT,
    Dtype,
    Initializer,
    PrecisionLike,
    PRNGKey,
    Shape,
)

__all__ = [
    'Array',
    'combine_masks',
    'default_kernel_init',
    'dot_product_attention',
    'dot_product_attention_weights',
    'DotGeneralT',
    'Dtype',
    'Initializer',
    'make_attention_mask',
    'make_causal_mask',
    'MultiHeadAttention',
    'MultiHeadDotProductAttention',
    'PrecisionLike',
    'PRNGKey',
    'SelfAttention',
    'Shape',
]
