"""The attention contract: shapes attention accepts, option conflicts, head sizes, which inputs serve as keys.

Both backends' ``dot_product_attention``, masks and multi-head modules
refuse the same arguments with the same messages and agree on the derived
sizes (heads, dropout shape, decode cache) through these functions; the
softmax, the einsums and the random draws are their own.

>>> from types import SimpleNamespace as Fields
>>> head_sizes(Fields(num_heads=4, qkv_features=None, out_features=None), in_features=32)
(32, 32, 8)
>>> dropout_shape((2, 4, 5, 5), key_ndim=4, broadcast=True)  # one mask shared by batch and heads
(1, 1, 5, 5)
"""

from __future__ import annotations

import inspect
import warnings

from shared_spec import layer_args

__all__ = [
    'check_qkv',
    'check_einsum_choice',
    'check_einsum_pair',
    'check_dropout_rng',
    'dropout_shape',
    'check_mask_ranks',
    'resolve_inputs',
    'head_sizes',
    'projection_fields',
    'output_projection_fields',
    'warn_self_attention',
    'check_decode_query',
    'accepted_kwargs',
]


def check_qkv(fn: str, query, key, value=None) -> None:
    """Shapes ``[batch..., length, heads, depth]`` that agree where attention needs them to.

    >>> import numpy as np
    >>> check_qkv('dot_product_attention', np.ones((2, 3, 4, 8)), np.ones((2, 5, 4, 6)))
    Traceback (most recent call last):
    ...
    ValueError: dot_product_attention: query and key depths differ: (2, 3, 4, 8) vs (2, 5, 4, 6).
    """
    arrays = (query, key) if value is None else (query, key, value)
    if len({a.ndim for a in arrays}) != 1 or query.ndim < 3:
        raise ValueError(
            f'{fn}: query, key (and value) must have the same rank >= 3, '
            f'[batch..., length, num_heads, depth]; got shapes {[a.shape for a in arrays]}.'
        )
    if len({a.shape[:-3] for a in arrays}) != 1:
        raise ValueError(f'{fn}: batch dimensions differ: {[a.shape for a in arrays]}.')
    if len({a.shape[-2] for a in arrays}) != 1:
        raise ValueError(f'{fn}: numbers of heads (axis -2) differ: {[a.shape for a in arrays]}.')
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(f'{fn}: query and key depths differ: {query.shape} vs {key.shape}.')
    if value is not None and key.shape[-3] != value.shape[-3]:
        raise ValueError(f'{fn}: key and value lengths differ: {key.shape} vs {value.shape}.')


def check_einsum_choice(precision, einsum_dot_general, einsum) -> None:
    """A replacement ``einsum`` excludes ``precision`` and ``einsum_dot_general`` (it decides both).

    >>> check_einsum_choice('highest', None, max)
    Traceback (most recent call last):
    ...
    ValueError: precision/einsum_dot_general and einsum are mutually exclusive. Please specify only one of them.
    """
    if (precision or einsum_dot_general) and einsum:
        raise ValueError(
            'precision/einsum_dot_general and einsum are mutually exclusive. Please specify only one of them.'
        )


def check_einsum_pair(qk_einsum, av_einsum, precision, einsum_dot_general) -> None:
    """``dot_product_attention``'s two einsums come together, and exclude ``precision``/``einsum_dot_general``.

    >>> check_einsum_pair(max, None, None, None)
    Traceback (most recent call last):
    ...
    ValueError: qk_attn_weights_einsum and attn_weights_value_einsum must be specified together; pass both (or neither, for the default einsum).
    """
    if (qk_einsum is None) != (av_einsum is None):
        raise ValueError(
            'qk_attn_weights_einsum and attn_weights_value_einsum must be specified together; '
            'pass both (or neither, for the default einsum).'
        )
    if (precision or einsum_dot_general) and (qk_einsum or av_einsum):
        raise ValueError(
            'precision/einsum_dot_general and qk_attn_weights_einsum/attn_weights_value_einsum are '
            'mutually exclusive. Please specify only one of them.'
        )


def check_dropout_rng(dropout_rng, dropout_rate) -> None:
    """Dropout of the attention weights needs a key.

    >>> check_dropout_rng(None, 0.1)
    Traceback (most recent call last):
    ...
    ValueError: dot_product_attention_weights: dropout is on (deterministic=False, dropout_rate=0.1) but `dropout_rng` is None; pass a key, or deterministic=True.
    """
    if dropout_rng is None:
        raise ValueError(
            'dot_product_attention_weights: dropout is on (deterministic=False, '
            f'dropout_rate={dropout_rate}) but `dropout_rng` is None; pass a key, or '
            'deterministic=True.'
        )


def dropout_shape(weights_shape, key_ndim: int, broadcast: bool) -> tuple:
    """The shape the keep mask of the weights is drawn in: ``[q_length, kv_length]`` with 1s in front if ``broadcast``.

    >>> dropout_shape((2, 4, 5, 5), key_ndim=4, broadcast=False)
    (2, 4, 5, 5)
    """
    if not broadcast:
        return tuple(weights_shape)
    return (1,) * (key_ndim - 2) + tuple(weights_shape[-2:])


def check_mask_ranks(ranks) -> None:
    """``combine_masks`` combines masks of one rank only.

    >>> check_mask_ranks((3, 2))
    Traceback (most recent call last):
    ...
    ValueError: combine_masks: masks must have the same rank, got ranks (3, 2); add singleton axes (e.g. with expand_dims) so they line up.
    """
    ranks = tuple(ranks)
    if len(set(ranks)) != 1:
        raise ValueError(
            f'combine_masks: masks must have the same rank, got ranks {ranks}; '
            'add singleton axes (e.g. with expand_dims) so they line up.'
        )


def resolve_inputs(name: str, inputs_q, inputs_k, inputs_v, inputs_kv) -> tuple:
    """``(inputs_k, inputs_v)``: keys default to the queries and values to the keys; ``inputs_kv`` is deprecated.

    >>> resolve_inputs('MultiHeadDotProductAttention', 'q', None, None, None)
    ('q', 'q')
    >>> resolve_inputs('MultiHeadDotProductAttention', 'q', None, 'v', None)
    Traceback (most recent call last):
    ...
    ValueError: MultiHeadDotProductAttention: `inputs_v` is given without `inputs_k`; pass `inputs_k` too (or only `inputs_k`, which then serves as the values as well).
    """
    if inputs_kv is not None:
        if inputs_k is not None or inputs_v is not None:
            raise ValueError(
                f'{name}: pass either `inputs_kv` or `inputs_k`/`inputs_v`, not both; '
                '`inputs_kv` is deprecated, prefer `inputs_k` and `inputs_v`.'
            )
        warnings.warn(
            f'{name}: `inputs_kv` is deprecated; pass `inputs_k` (and `inputs_v`) instead.',
            DeprecationWarning,
            stacklevel=3,  # the caller of the layer
        )
        return inputs_kv, inputs_kv
    if inputs_k is None:
        if inputs_v is not None:
            raise ValueError(
                f'{name}: `inputs_v` is given without `inputs_k`; pass `inputs_k` too '
                '(or only `inputs_k`, which then serves as the values as well).'
            )
        inputs_k = inputs_q
    return inputs_k, inputs_k if inputs_v is None else inputs_v


def head_sizes(layer, in_features: int) -> tuple:
    """``(out_features, qkv_features, head_dim)`` of a multi-head ``layer``, after checking its fields.

    ``layer`` has ``num_heads``, ``qkv_features`` and ``out_features``; a
    None size defaults to ``in_features`` (the last axis of the queries).

    >>> from types import SimpleNamespace as Fields
    >>> head_sizes(Fields(num_heads=4, qkv_features=None, out_features=10), 32)
    (10, 32, 8)
    >>> head_sizes(Fields(num_heads=3, qkv_features=8, out_features=None), 6)
    Traceback (most recent call last):
    ...
    ValueError: SimpleNamespace: `qkv_features` (8) must be divisible by `num_heads` (3); change one of them.
    """
    num_heads = layer.num_heads
    layer_args.positive_int(num_heads, field='num_heads', layer=layer)
    layer_args.optional_positive_int(layer.out_features, field='out_features', layer=layer)
    layer_args.optional_positive_int(layer.qkv_features, field='qkv_features', layer=layer)
    features = layer.out_features or in_features
    qkv_features = layer.qkv_features or in_features
    if qkv_features % num_heads != 0:
        raise ValueError(
            f'{layer_args.where(layer)}: `qkv_features` ({qkv_features}) must be divisible by `num_heads` '
            f'({num_heads}); change one of them.'
        )
    return features, qkv_features, qkv_features // num_heads


def projection_fields(layer, head_dim: int) -> dict:
    """The DenseGeneral fields of the ``query``/``key``/``value`` projections: last axis to ``[num_heads, head_dim]``.

    >>> from types import SimpleNamespace as Fields
    >>> f = projection_fields(Fields(num_heads=2, dtype=None, param_dtype='float32', kernel_init=None,
    ...     bias_init=None, use_bias=True, precision=None, qkv_dot_general=None, qkv_dot_general_cls=None), 4)
    >>> f['features'], f['axis']
    ((2, 4), -1)
    """
    return {
        'features': (layer.num_heads, head_dim),
        'axis': -1,
        'dtype': layer.dtype,
        'param_dtype': layer.param_dtype,
        'kernel_init': layer.kernel_init,
        'bias_init': layer.bias_init,
        'use_bias': layer.use_bias,
        'precision': layer.precision,
        'dot_general': layer.qkv_dot_general,
        'dot_general_cls': layer.qkv_dot_general_cls,
    }


def output_projection_fields(layer, out_features: int) -> dict:
    """The DenseGeneral fields of the ``out`` projection: the heads ``(-2, -1)`` merged into ``out_features``.

    ``out_kernel_init``/``out_bias_init`` default to the projections' initializers.

    >>> from types import SimpleNamespace as Fields
    >>> f = output_projection_fields(Fields(dtype=None, param_dtype='float32', kernel_init='lecun',
    ...     out_kernel_init=None, bias_init='zeros', out_bias_init=None, use_bias=True, precision=None,
    ...     out_dot_general=None, out_dot_general_cls=None), 6)
    >>> f['features'], f['axis'], f['kernel_init']
    (6, (-2, -1), 'lecun')
    """
    return {
        'features': out_features,
        'axis': (-2, -1),
        'kernel_init': layer.out_kernel_init or layer.kernel_init,
        'bias_init': layer.out_bias_init or layer.bias_init,
        'use_bias': layer.use_bias,
        'dtype': layer.dtype,
        'param_dtype': layer.param_dtype,
        'precision': layer.precision,
        'dot_general': layer.out_dot_general,
        'dot_general_cls': layer.out_dot_general_cls,
    }


def warn_self_attention() -> None:
    """The deprecation warning every ``SelfAttention`` call gives (pointing at the caller of the layer)."""
    warnings.warn(
        'SelfAttention is deprecated; use MultiHeadDotProductAttention()(inputs_q) instead.',
        DeprecationWarning,
        stacklevel=3,
    )


def check_decode_query(name: str, cache_shape, query_shape) -> tuple:
    """Decoding reads one position at a time: the query must be ``[batch..., 1, heads, depth]`` of the cache.

    Returns ``(batch_dims, max_length)`` of the cache ``[batch..., max_length, heads, depth]``.

    >>> check_decode_query('MultiHeadDotProductAttention', (2, 8, 4, 3), (2, 1, 4, 3))
    ((2,), 8)
    """
    *batch_dims, max_length, num_heads, depth = tuple(cache_shape)
    expected = tuple(batch_dims) + (1, num_heads, depth)
    if expected != tuple(query_shape):
        raise ValueError(
            f'{name}: autoregressive cache shape error, expected query shape '
            f'{expected} but got {tuple(query_shape)}; decode one position at a time with the batch '
            'shape used at init.'
        )
    return tuple(batch_dims), max_length


def accepted_kwargs(fn, kwargs: dict) -> dict:
    """The entries of ``kwargs`` that ``fn``'s signature names (a custom ``attention_fn`` may take fewer).

    >>> accepted_kwargs(lambda q, k, v, mask=None: 0, {'mask': 1, 'dropout_rate': 0.1})
    {'mask': 1}
    """
    names = inspect.signature(fn).parameters
    return {k: v for k, v in kwargs.items() if k in names}
