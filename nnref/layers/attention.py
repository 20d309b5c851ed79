"""Dot-product attention: the function, its masks, and the multi-head layer built on it.

Attention lets every query position gather information from the key/value
positions, weighted by how well query and key match. For one head, with
``d`` the depth of a query or key vector::

    logits[q, k]  = (query[q] / sqrt(d)) . key[k]        similarity of q and k
    weights[q, :] = softmax(logits[q, :])               a distribution over the keys
    output[q]     = sum_k weights[q, k] * value[k]      the mix of values q asked for

Dividing by ``sqrt(d)`` keeps the logits of random unit-variance vectors
at unit variance, so the softmax is not saturated from the start. A mask
removes pairs (a decoder may not look ahead); dropout thins the weights.
The multi-head layer projects its inputs into several heads, attends in
each, and projects the heads back. Shapes and option conflicts are
checked by :mod:`shared_spec.attention`, which nnjax follows too.

>>> import nnref as nn
>>> from nnref.layers.attention import MultiHeadDotProductAttention, make_causal_mask
>>> self_attention = MultiHeadDotProductAttention(num_heads=2, qkv_features=8)
>>> tokens = nn.random.normal(nn.random.PRNGKey(1), (2, 5, 6))  # 2 sequences of 5 tokens
>>> variables = self_attention.init(nn.random.PRNGKey(0), tokens)
>>> list(variables['params'])  # three input projections and one output projection
['query', 'key', 'value', 'out']
>>> causal = make_causal_mask(nn.numpy.ones((2, 5)))  # token i sees tokens 0..i
>>> self_attention.apply(variables, tokens, mask=causal).shape  # one updated vector per token
(2, 5, 6)
"""

from __future__ import annotations

from typing import Any, Callable

import ml_dtypes
import numpy as np

from nnref import initializers
from nnref import random as _random
from nnref.activation import softmax
from nnref.dtypes import promote_dtype, result_type
from nnref.layers import _contract
from nnref.layers.linear_general import DenseGeneral, default_kernel_init
from nnref.merge_param import merge_param
from nnref.module import Module, compact, nowrap
from shared_spec import attention as attn_spec

_FLOAT32 = np.dtype(np.float32)


def _einsum_for(precision, einsum_dot_general, einsum) -> Callable:
    """The two-operand einsum to use: a given ``einsum``, else NumPy's (optionally through ``einsum_dot_general``)."""
    attn_spec.check_einsum_choice(precision, einsum_dot_general, einsum)
    if einsum_dot_general:  # (with a given einsum too, the check above has refused)

        def through_dot_general(subscripts, a, b):
            return _contract.einsum_via_dot_general(subscripts, a, b, einsum_dot_general, precision)

        return through_dot_general
    return einsum or _contract.einsum


def dot_product_attention_weights(
    query,
    key,
    bias=None,
    mask=None,
    broadcast_dropout: bool = True,
    dropout_rng=None,
    dropout_rate: float = 0.0,
    deterministic: bool = False,
    dtype=None,
    precision=None,
    module=None,
    force_fp32_for_softmax: bool = False,
    einsum_dot_general: Callable | None = None,
    einsum: Callable | None = None,
):
    """The attention weights ``softmax(q k^T / sqrt(d) + bias)`` of every head, masked, then dropped out.

    Shapes: ``query [batch..., q_len, heads, d]`` and ``key [batch...,
    kv_len, heads, d]`` give weights ``[batch..., heads, q_len, kv_len]``.
    The steps:

    1. scale the queries by ``1 / sqrt(d)`` (the square root is rounded to
       float32 first, as the seed does, except in a float64 run);
    2. ``logits = einsum('...qhd,...khd->...hqk', query, key)``, plus ``bias``;
    3. where ``mask`` is False, replace the logit by the most negative finite
       number of its dtype, so its weight underflows to 0 (``-inf`` would
       give NaN for a row that is masked entirely);
    4. softmax over the keys, in float32 if ``force_fp32_for_softmax`` (the
       weights then stay float32); otherwise in the computation dtype;
    5. if ``module`` is given, sow the weights in its 'intermediates' as
       ``attention_weights`` (before dropout);
    6. dropout, unless ``deterministic`` or ``dropout_rate == 0``: keep each
       weight with probability ``p = 1 - rate`` (one draw per query/key pair
       shared by batch and heads when ``broadcast_dropout``) and divide the
       kept ones by ``p``.

    ``einsum`` replaces step 2's einsum (called exactly as above) and
    excludes ``precision``/``einsum_dot_general``; ``einsum_dot_general``
    computes the default einsum's contraction instead.

    Two identical keys: the query cannot tell them apart, half the weight each.

    >>> import numpy as np
    >>> q = np.ones((1, 2, 1, 4), np.float32)
    >>> dot_product_attention_weights(q, q)[0, 0]
    array([[0.5, 0.5],
           [0.5, 0.5]], dtype=float32)
    """
    einsum = _einsum_for(precision, einsum_dot_general, einsum)
    query, key = promote_dtype(query, key, dtype=dtype)
    dtype = query.dtype  # the promoted dtype: the steps below compute in it
    attn_spec.check_qkv("dot_product_attention_weights", query, key)

    # 1. scale
    depth_dtype = np.float64 if dtype == np.float64 else np.float32
    query = query / np.sqrt(np.asarray(query.shape[-1], depth_dtype)).astype(dtype)
    # 2. similarities, plus bias
    logits = einsum("...qhd,...khd->...hqk", query, key)
    if bias is not None:
        bias = np.asarray(bias)
        common = result_type(logits, bias)
        logits = logits.astype(common) + bias.astype(common)
    # 3. mask
    if mask is not None:
        most_negative = np.asarray(ml_dtypes.finfo(logits.dtype).min, logits.dtype)
        logits = np.where(np.asarray(mask), logits, most_negative)
    # 4. softmax over the keys
    if force_fp32_for_softmax and dtype != _FLOAT32:
        weights = softmax(logits.astype(_FLOAT32))
    else:
        weights = softmax(logits).astype(dtype)
    # 5. sow
    if module is not None:
        module.sow("intermediates", "attention_weights", weights)
    # 6. dropout
    if not deterministic and dropout_rate > 0.0:
        attn_spec.check_dropout_rng(dropout_rng, dropout_rate)
        keep_prob = 1.0 - dropout_rate  # p, the chance that a weight survives
        keep = _random.bernoulli(
            dropout_rng, keep_prob, attn_spec.dropout_shape(weights.shape, key.ndim, broadcast_dropout)
        )
        weights = weights * (keep.astype(dtype) / np.asarray(keep_prob, dtype))
    return weights


def dot_product_attention(
    query,
    key,
    value,
    bias=None,
    mask=None,
    broadcast_dropout: bool = True,
    dropout_rng=None,
    dropout_rate: float = 0.0,
    deterministic: bool = False,
    dtype=None,
    precision=None,
    module=None,
    force_fp32_for_softmax: bool = False,
    einsum_dot_general: Callable | None = None,
    qk_attn_weights_einsum: Callable | None = None,
    attn_weights_value_einsum: Callable | None = None,
):
    """``output[q] = sum_k weights[q, k] * value[k]`` for every head, with the weights above.

    ``value`` is ``[batch..., kv_len, heads, d_v]`` and the result
    ``[batch..., q_len, heads, d_v]``; batch axes are optional.
    ``qk_attn_weights_einsum`` and ``attn_weights_value_einsum`` (both or
    neither) replace the two einsums. ``precision`` is kept for nnjax's API.

    With equal logits every query gets the plain mean of the values (0, 1, 2):

    >>> import numpy as np
    >>> q = np.ones((2, 3, 1, 4), np.float32)
    >>> v = np.broadcast_to(np.arange(3, dtype=np.float32).reshape(1, 3, 1, 1), (2, 3, 1, 4))
    >>> dot_product_attention(q, q, v)[0, :, 0, 0]
    array([1., 1., 1.], dtype=float32)
    """
    attn_spec.check_einsum_pair(qk_attn_weights_einsum, attn_weights_value_einsum, precision, einsum_dot_general)
    query, key, value = promote_dtype(query, key, value, dtype=dtype)
    attn_spec.check_qkv("dot_product_attention", query, key, value)
    weights = dot_product_attention_weights(
        query,
        key,
        bias=bias,
        mask=mask,
        broadcast_dropout=broadcast_dropout,
        dropout_rng=dropout_rng,
        dropout_rate=dropout_rate,
        deterministic=deterministic,
        dtype=query.dtype,
        precision=precision,
        module=module,
        force_fp32_for_softmax=force_fp32_for_softmax,
        einsum_dot_general=einsum_dot_general,
        einsum=qk_attn_weights_einsum,
    )
    mix = _einsum_for(precision, einsum_dot_general, attn_weights_value_einsum)
    return mix("...hqk,...khd->...qhd", weights, value)


# -- masks: 1 where a query may attend to a key, 0 where not -----------------------------


def make_attention_mask(
    query_input, key_input, pairwise_fn: Callable = np.multiply, extra_batch_dims: int = 0, dtype=np.float32
):
    """``mask[..., 0, q, k] = pairwise_fn(query_input[..., q], key_input[..., k])``, shape ``[batch..., 1, len_q, len_kv]``.

    The axis of length 1 stands for the heads (one mask for all of them).
    With the default ``multiply`` and 0/1 padding flags as inputs, a pair is
    allowed when both positions are real tokens. ``extra_batch_dims`` adds
    that many leading axes of length 1.

    >>> import numpy as np
    >>> make_attention_mask(np.array([1, 0]), np.array([1, 1, 0]))[0]  # query 1 and key 2 are padding
    array([[1., 1., 0.],
           [0., 0., 0.]], dtype=float32)
    """
    rows = np.expand_dims(np.asarray(query_input), -1)  # [..., len_q, 1]
    columns = np.expand_dims(np.asarray(key_input), -2)  # [..., 1, len_kv]
    pairs = pairwise_fn(rows, columns)
    mask = np.expand_dims(pairs, -3)
    mask = np.expand_dims(mask, tuple(range(extra_batch_dims)))
    return np.asarray(mask).astype(dtype)


def make_causal_mask(x, extra_batch_dims: int = 0, dtype=np.float32):
    """The mask of a decoder: position ``q`` may attend to keys ``k <= q`` (the past and itself).

    Built as ``make_attention_mask(positions, positions, greater_equal)``;
    only ``x``'s shape ``[batch..., len]`` matters.

    >>> import numpy as np
    >>> make_causal_mask(np.ones((1, 4)))[0, 0]  # the lower triangle, diagonal included
    array([[1., 0., 0., 0.],
           [1., 1., 0., 0.],
           [1., 1., 1., 0.],
           [1., 1., 1., 1.]], dtype=float32)
    """
    shape = np.shape(x)
    positions = np.broadcast_to(np.arange(shape[-1], dtype=np.int32), shape)
    return make_attention_mask(positions, positions, np.greater_equal, extra_batch_dims=extra_batch_dims, dtype=dtype)


def combine_masks(*masks, dtype=np.float32):
    """A pair is allowed when every given mask allows it: the logical AND of the non-None masks (None if none).

    >>> import numpy as np
    >>> combine_masks(None, np.array([1, 1, 0]), np.array([True, False, True]))
    array([1., 0., 0.], dtype=float32)
    """
    given = [np.asarray(m) for m in masks if m is not None]
    if not given:
        return None  # no mask given: every pair is allowed
    attn_spec.check_mask_ranks(m.ndim for m in given)
    allowed = given[0]
    for m in given[1:]:
        allowed = np.logical_and(allowed, m)
    return allowed.astype(dtype)


# -- the multi-head layer ------------------------------------------------------------------


def _write_at(cache: np.ndarray, update: np.ndarray, index: int) -> np.ndarray:
    """A copy of ``cache`` with ``update`` written from position ``index`` of the length axis (-3).

    ``index`` is clamped so that the update fits, as ``lax.dynamic_update_slice`` does.
    """
    start = int(np.clip(index, 0, cache.shape[-3] - update.shape[-3]))
    written = np.array(cache, copy=True)
    written[..., start : start + update.shape[-3], :, :] = update
    return written


class MultiHeadDotProductAttention(Module):
    """Multi-head attention (https://arxiv.org/abs/1706.03762): several attentions side by side.

    With ``h = num_heads`` and ``d = qkv_features // h``, a call runs:

    1. three projections (``DenseGeneral`` submodules ``query``, ``key``,
       ``value``) map each input's last axis to ``[h, d]``;
    2. optionally (``normalize_qk``) LayerNorm without bias on the projected
       queries and keys (submodules ``query_ln``, ``key_ln``);
    3. with ``decode``, the new key/value are written into a cache (below);
    4. ``attention_fn`` (default :func:`dot_product_attention`) in every
       head at once, each head free to look for something different;
    5. the ``out`` projection maps ``[h, d]`` back to ``out_features``.

    The call takes ``inputs_q`` and optionally ``inputs_k``, ``inputs_v``,
    then keywords ``mask``, ``deterministic``, ``dropout_rng`` and
    ``sow_weights`` (sow the weights, see above). Keys come
    from ``inputs_q`` when ``inputs_k`` is not given (self-attention) and
    values from the keys' input. Dropout on the weights draws its key from
    the 'dropout' stream unless ``dropout_rng`` is given.

    Decoding (``decode=True``) produces a sequence one token per call. ``init``
    with a full-length input creates ``cached_key``, ``cached_value`` (zeros)
    and ``cache_index`` (0) in the 'cache' collection; each later
    ``apply(..., mutable=['cache'])`` with one query position writes its key
    and value at ``cache_index``, advances the index, and attends to the
    positions written so far (the zeros beyond them are masked).

    Attributes:
      num_heads: ``h``; must divide ``qkv_features``.
      dtype: the computation dtype (None: promoted from inputs and parameters).
      param_dtype: the parameters' dtype (default float32).
      qkv_features: ``h * d`` (None: the last axis of ``inputs_q``).
      out_features: the output size (None: the last axis of ``inputs_q``).
      broadcast_dropout: one dropout decision per query/key pair, shared by
        batch and heads.
      dropout_rate: the dropout rate of the weights.
      deterministic: no dropout; a field or a call argument.
      precision: kept for nnjax's API.
      kernel_init: projection kernels (default ``lecun_normal()``);
        out_kernel_init: the ``out`` kernel (default ``kernel_init``).
      bias_init: projection biases (default zeros); out_bias_init: the
        ``out`` bias (default ``bias_init``).
      use_bias: biases in the projections.
      attention_fn: a function with :func:`dot_product_attention`'s
        signature; keyword arguments it does not name are not passed.
      decode: keep and use the cache described above.
      normalize_qk: step 2.
      force_fp32_for_softmax: the softmax in float32.
      qkv_dot_general, out_dot_general: contractions for the projections.
      qkv_dot_general_cls, out_dot_general_cls: classes built in each
        projection to serve as its ``dot_general``.
      qk_attn_weights_einsum_cls, attn_weights_value_einsum_cls: factories
        called at each call; their results go to ``attention_fn`` as
        ``qk_attn_weights_einsum`` / ``attn_weights_value_einsum`` (a Module
        becomes an auto-named submodule).

    Queries of 2 tokens reading from 7 tokens with 4 features, in 3 heads of depth 2:

    >>> import nnref as nn
    >>> cross = MultiHeadDotProductAttention(num_heads=3, qkv_features=6, out_features=5)
    >>> q, kv = nn.numpy.ones((1, 2, 5)), nn.numpy.ones((1, 7, 4))
    >>> params = cross.init(nn.random.PRNGKey(0), q, kv)['params']
    >>> params['key']['kernel'].shape, params['out']['kernel'].shape  # (4 -> 3 x 2), (3 x 2 -> 5)
    ((4, 3, 2), (3, 2, 5))
    >>> cross.apply({'params': params}, q, kv).shape  # one output per query
    (1, 2, 5)
    """

    num_heads: int
    dtype: Any = None
    param_dtype: Any = np.float32
    qkv_features: int | None = None
    out_features: int | None = None
    broadcast_dropout: bool = True
    dropout_rate: float = 0.0
    deterministic: bool | None = None
    precision: Any = None
    kernel_init: Callable = default_kernel_init
    out_kernel_init: Callable | None = None
    bias_init: Callable = initializers.zeros_init()
    out_bias_init: Callable | None = None
    use_bias: bool = True
    attention_fn: Callable = dot_product_attention
    decode: bool = False
    normalize_qk: bool = False
    force_fp32_for_softmax: bool = False
    qkv_dot_general: Callable | None = None
    out_dot_general: Callable | None = None
    qkv_dot_general_cls: Any = None
    out_dot_general_cls: Any = None
    qk_attn_weights_einsum_cls: Callable | None = None
    attn_weights_value_einsum_cls: Callable | None = None

    @compact
    def __call__(
        self,
        inputs_q,
        inputs_k=None,
        inputs_v=None,
        *,
        inputs_kv=None,
        mask=None,
        deterministic: bool | None = None,
        dropout_rng=None,
        sow_weights: bool = False,
    ):
        layer = type(self).__name__
        inputs_q = np.asarray(inputs_q)
        inputs_k, inputs_v = attn_spec.resolve_inputs(layer, inputs_q, inputs_k, inputs_v, inputs_kv)
        inputs_k, inputs_v = np.asarray(inputs_k), np.asarray(inputs_v)
        out_features, _, depth = attn_spec.head_sizes(self, inputs_q.shape[-1])

        # 1. project each input to [..., length, heads, depth]
        def project(role):
            return DenseGeneral(**attn_spec.projection_fields(self, depth), name=role)

        q = project("query")(inputs_q)
        k = project("key")(inputs_k)
        v = project("value")(inputs_v)

        if self.normalize_qk:  # 2. LayerNorm on the projected queries and keys
            from nnref.layers.normalization import LayerNorm  # the normalization family's module

            q = LayerNorm(name="query_ln", use_bias=False, dtype=self.dtype, param_dtype=self.param_dtype)(q)
            k = LayerNorm(name="key_ln", use_bias=False, dtype=self.dtype, param_dtype=self.param_dtype)(k)

        if self.decode:  # 3. the decoding cache
            k, v, mask = self._decode_step(q, k, v, mask)

        # Whether to drop: asked only when there is a rate to apply.
        no_dropout = True
        if self.dropout_rate > 0.0:
            no_dropout = merge_param("deterministic", self.deterministic, deterministic, layer=layer)
            if not no_dropout and dropout_rng is None:
                dropout_rng = self.make_rng("dropout")  # the next key of the 'dropout' stream

        # 4. attention in every head; the einsum factories are built per call, as in the seed.
        options = {
            "mask": mask,
            "dropout_rng": dropout_rng,
            "dropout_rate": self.dropout_rate,
            "broadcast_dropout": self.broadcast_dropout,
            "deterministic": no_dropout,
            "dtype": self.dtype,
            "precision": self.precision,
            "force_fp32_for_softmax": self.force_fp32_for_softmax,
            "qk_attn_weights_einsum": self.qk_attn_weights_einsum_cls() if self.qk_attn_weights_einsum_cls else None,
            "attn_weights_value_einsum": (
                self.attn_weights_value_einsum_cls() if self.attn_weights_value_einsum_cls else None
            ),
        }
        options = attn_spec.accepted_kwargs(self.attention_fn, options)
        if sow_weights:  # attention_fn sows the weights into this layer's 'intermediates'
            options["module"] = self
        heads = self.attention_fn(q, k, v, **options)

        # 5. merge the heads back into features
        merge = DenseGeneral(**attn_spec.output_projection_fields(self, out_features), name="out")
        return merge(heads)

    @nowrap
    def _decode_step(self, query, key, value, mask):
        """Append this position's key/value to the cache; return the whole cache and the mask of written positions."""
        had_cache = self.has_variable("cache", "cached_key")
        cached_key = self.variable("cache", "cached_key", np.zeros, key.shape, key.dtype)
        cached_value = self.variable("cache", "cached_value", np.zeros, value.shape, value.dtype)
        cache_index = self.variable("cache", "cache_index", lambda: np.array(0, dtype=np.int32))
        if not had_cache:
            return key, value, mask  # init: only create the cache; attend over the full input
        batch_dims, max_length = attn_spec.check_decode_query(
            type(self).__name__, np.shape(cached_key.value), query.shape
        )
        position = np.asarray(cache_index.value)
        all_keys = _write_at(cached_key.value, key, int(position))
        all_values = _write_at(cached_value.value, value, int(position))
        cached_key.value, cached_value.value = all_keys, all_values
        cache_index.value = (position + np.int32(1)).astype(position.dtype)
        # Keys beyond `position` are still zeros: the one query may not see them.
        written = np.arange(max_length) <= position
        written = np.broadcast_to(written, batch_dims + (1, 1, max_length))
        return all_keys, all_values, combine_masks(mask, written)


class MultiHeadAttention(MultiHeadDotProductAttention):
    """:class:`MultiHeadDotProductAttention` under the seed's other name (auto-named ``MultiHeadAttention_0``, ...).

    >>> import nnref as nn
    >>> params = MultiHeadAttention(num_heads=3).init(nn.random.PRNGKey(0), nn.numpy.ones((1, 3, 6)))['params']
    >>> params['query']['kernel'].shape  # 6 features -> 3 heads of depth 2
    (6, 3, 2)
    """


class SelfAttention(MultiHeadDotProductAttention):
    """Self-attention only: keys and values come from ``inputs_q``. Deprecated, as in the seed.

    Each call warns with ``DeprecationWarning``; write
    ``MultiHeadDotProductAttention(...)(inputs_q)`` instead, which attends
    to itself when given one input.

    >>> import warnings  # to watch the deprecation happen
    >>> import nnref as nn
    >>> tokens = nn.numpy.ones((1, 3, 4))
    >>> with warnings.catch_warnings(record=True) as caught:
    ...   warnings.simplefilter('always')
    ...   old_style = SelfAttention(num_heads=2)
    ...   out = old_style.apply(old_style.init(nn.random.PRNGKey(0), tokens), tokens)
    >>> out.shape, caught[-1].category.__name__
    ((1, 3, 4), 'DeprecationWarning')
    """

    @compact
    def __call__(
        self, inputs_q, mask=None, deterministic: bool | None = None, dropout_rng=None, sow_weights: bool = False
    ):
        attn_spec.warn_self_attention()  # on every call, as the seed does
        return super().__call__(
            inputs_q, mask=mask, deterministic=deterministic, dropout_rng=dropout_rng, sow_weights=sow_weights
        )
