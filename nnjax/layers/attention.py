"""Dot-product attention: the functions, the masks and the multi-head modules.

>>> import jax, jax.numpy as jnp
>>> from nnjax.layers.attention import MultiHeadDotProductAttention, make_causal_mask
>>> layer = MultiHeadDotProductAttention(num_heads=2, qkv_features=8)
>>> x = jax.random.normal(jax.random.PRNGKey(1), (3, 5, 6))
>>> variables = layer.init(jax.random.PRNGKey(0), x)
>>> sorted(variables['params'])
['key', 'out', 'query', 'value']
>>> mask = make_causal_mask(jnp.ones((3, 5)))
>>> layer.apply(variables, x, mask=mask).shape
(3, 5, 6)
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
from jax import lax

from nnjax import initializers
from nnjax.dtypes import promote_dtype
from nnjax.layers.linear_general import DenseGeneral, default_kernel_init
from nnjax.merge_param import merge_param
from nnjax.module import Module, compact, nowrap
from shared_spec import attention as attn_spec


def _weights_einsum(precision, einsum_dot_general, einsum) -> Callable:
    """The einsum attention uses: the given one, else ``jnp.einsum`` with ``precision``/``einsum_dot_general``."""
    attn_spec.check_einsum_choice(precision, einsum_dot_general, einsum)
    if einsum:
        return einsum
    return functools.partial(jnp.einsum, precision=precision, _dot_general=einsum_dot_general or lax.dot_general)


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
    """Attention weights ``softmax(q k^T / sqrt(depth) + bias)``, masked and dropped out.

    ``query`` is ``[batch..., q_length, num_heads, depth]``, ``key``
    ``[batch..., kv_length, num_heads, depth]``; the weights are
    ``[batch..., num_heads, q_length, kv_length]``. ``bias`` and ``mask``
    broadcast to that shape; where ``mask`` is False the logit becomes the
    dtype's most negative finite value. Dropout (unless ``deterministic`` or
    ``dropout_rate == 0``) keeps each weight with probability ``1 - rate``,
    drawn with ``jax.random.bernoulli(dropout_rng, 1 - rate)`` over
    ``[q_length, kv_length]`` shared by batch and heads if
    ``broadcast_dropout``, else over the full shape, and rescales kept weights
    by ``1 / (1 - rate)``. With ``module``, the weights (before dropout) are
    sown into its 'intermediates' collection as ``attention_weights``.

    ``force_fp32_for_softmax`` computes the softmax in float32 (the weights
    then stay float32). ``einsum_dot_general`` replaces the ``dot_general``
    inside the default einsum; ``einsum`` replaces the einsum itself (called
    as ``einsum('...qhd,...khd->...hqk', query, key)``) and excludes both
    ``precision`` and ``einsum_dot_general``.

    >>> import jax.numpy as jnp
    >>> q = jnp.ones((1, 2, 1, 4))
    >>> dot_product_attention_weights(q, q).shape
    (1, 1, 2, 2)
    """
    einsum = _weights_einsum(precision, einsum_dot_general, einsum)
    query, key = promote_dtype(query, key, dtype=dtype)
    dtype = query.dtype
    attn_spec.check_qkv("dot_product_attention_weights", query, key)
    query = query / jnp.sqrt(query.shape[-1]).astype(dtype)
    weights = einsum("...qhd,...khd->...hqk", query, key)
    if bias is not None:
        weights = weights + bias
    if mask is not None:
        weights = jnp.where(mask, weights, jnp.finfo(weights.dtype).min)
    if force_fp32_for_softmax and dtype != jnp.float32:
        weights = jax.nn.softmax(weights.astype(jnp.float32))
    else:
        weights = jax.nn.softmax(weights).astype(dtype)
    if module is not None:
        module.sow("intermediates", "attention_weights", weights)
    if not deterministic and dropout_rate > 0.0:
        attn_spec.check_dropout_rng(dropout_rng, dropout_rate)
        keep_prob = 1.0 - dropout_rate
        dropout_shape = attn_spec.dropout_shape(weights.shape, key.ndim, broadcast_dropout)
        keep = jax.random.bernoulli(dropout_rng, keep_prob, dropout_shape)
        multiplier = keep.astype(dtype) / jnp.asarray(keep_prob, dtype=dtype)
        weights = weights * multiplier
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
    """Attention ``weights @ value`` with the weights of :func:`dot_product_attention_weights`.

    ``value`` is ``[batch..., kv_length, num_heads, v_depth]``; the result is
    ``[batch..., q_length, num_heads, v_depth]``. The arrays need no batch axes.

    >>> import jax.numpy as jnp
    >>> q = jnp.ones((2, 3, 1, 4))
    >>> v = jnp.arange(3.0).reshape(1, 3, 1, 1) * jnp.ones((2, 3, 1, 4))
    >>> dot_product_attention(q, q, v)[0, :, 0, 0]  # equal logits: the mean of the values
    Array([1., 1., 1.], dtype=float32)
    """
    attn_spec.check_einsum_pair(qk_attn_weights_einsum, attn_weights_value_einsum, precision, einsum_dot_general)
    query, key, value = promote_dtype(query, key, value, dtype=dtype)
    dtype = query.dtype
    attn_spec.check_qkv("dot_product_attention", query, key, value)
    weights = dot_product_attention_weights(
        query,
        key,
        bias,
        mask,
        broadcast_dropout,
        dropout_rng,
        dropout_rate,
        deterministic,
        dtype,
        precision,
        module,
        force_fp32_for_softmax,
        einsum_dot_general=einsum_dot_general,
        einsum=qk_attn_weights_einsum,
    )
    einsum = _weights_einsum(precision, einsum_dot_general, attn_weights_value_einsum)
    return einsum("...hqk,...khd->...qhd", weights, value)


# -- masks ---------------------------------------------------------------------------


def make_attention_mask(
    query_input, key_input, pairwise_fn: Callable = jnp.multiply, extra_batch_dims: int = 0, dtype=jnp.float32
):
    """A ``[batch..., 1, len_q, len_kv]`` mask from ``pairwise_fn(query_input[..., :, None], key_input[..., None, :])``.

    ``extra_batch_dims`` leading singleton axes are added in front.

    >>> import jax.numpy as jnp
    >>> make_attention_mask(jnp.array([1, 1, 0]), jnp.array([1, 0]))[0]
    Array([[1., 0.],
           [1., 0.],
           [0., 0.]], dtype=float32)
    """
    mask = pairwise_fn(jnp.expand_dims(query_input, -1), jnp.expand_dims(key_input, -2))
    mask = jnp.expand_dims(mask, -3)
    mask = jnp.expand_dims(mask, tuple(range(extra_batch_dims)))
    return mask.astype(dtype)


def make_causal_mask(x, extra_batch_dims: int = 0, dtype=jnp.float32):
    """A ``[batch..., 1, len, len]`` mask letting position ``i`` attend to positions ``<= i``.

    Only the shape of ``x`` (``[batch..., len]``) is used.

    >>> import jax.numpy as jnp
    >>> make_causal_mask(jnp.ones((1, 3)))[0, 0]
    Array([[1., 0., 0.],
           [1., 1., 0.],
           [1., 1., 1.]], dtype=float32)
    """
    shape = jnp.shape(x)
    idxs = jnp.broadcast_to(jnp.arange(shape[-1], dtype=jnp.int32), shape)
    return make_attention_mask(idxs, idxs, jnp.greater_equal, extra_batch_dims=extra_batch_dims, dtype=dtype)


def combine_masks(*masks, dtype=jnp.float32):
    """The logical AND of the masks that are not None, as ``dtype``; None if all are None.

    >>> import jax.numpy as jnp
    >>> combine_masks(None, jnp.array([1, 1, 0]), jnp.array([True, False, True]))
    Array([1., 0., 0.], dtype=float32)
    """
    masks = [m for m in masks if m is not None]
    if not masks:
        return None
    attn_spec.check_mask_ranks(jnp.ndim(m) for m in masks)
    mask = masks[0]
    for other in masks[1:]:
        mask = jnp.logical_and(mask, other)
    return jnp.asarray(mask).astype(dtype)


# -- modules ---------------------------------------------------------------------------


class MultiHeadDotProductAttention(Module):
    """Multi-head dot-product attention.

    Projects ``inputs_q``, ``inputs_k`` and ``inputs_v`` with ``DenseGeneral``
    submodules ``query``, ``key``, ``value`` to ``[batch..., length,
    num_heads, qkv_features // num_heads]``, applies ``attention_fn`` and
    projects the heads back with ``out`` (a ``DenseGeneral`` over the last two
    axes) to ``out_features`` (default: the input features).

    Call as ``layer(inputs_q, inputs_k=None, inputs_v=None, *, mask=None,
    deterministic=None, dropout_rng=None, sow_weights=False)``: ``inputs_k``
    defaults to ``inputs_q`` and ``inputs_v`` to ``inputs_k``. Dropout draws
    from the 'dropout' stream unless ``dropout_rng`` is given. With
    ``decode=True`` the layer keeps ``cached_key``, ``cached_value`` and
    ``cache_index`` in the 'cache' collection: ``init`` with the full-length
    input creates them, then each ``apply(..., mutable=['cache'])`` with a
    length-1 query attends to every position decoded so far.

    Attributes:
      num_heads: number of heads; ``qkv_features`` must be divisible by it.
      dtype: the computation dtype (default: promoted from inputs and params).
      param_dtype: the dtype of the parameters (default float32).
      qkv_features: size of the query/key/value projections (default: the
        last axis of ``inputs_q``).
      out_features: size of the output (default: the last axis of ``inputs_q``).
      broadcast_dropout: share the dropout mask across batch and heads.
      dropout_rate: dropout rate of the attention weights.
      deterministic: disables dropout; may instead be given at call time.
      precision: numerical precision of the computation (``jax.lax.Precision``).
      kernel_init: initializer of the projection kernels (default ``lecun_normal()``).
      out_kernel_init: initializer of the ``out`` kernel (default ``kernel_init``).
      bias_init: initializer of the projection biases (default zeros).
      out_bias_init: initializer of the ``out`` bias (default ``bias_init``).
      use_bias: whether the projections have biases.
      attention_fn: ``dot_product_attention`` or a function with its signature
        (keyword arguments it does not take are not passed).
      decode: whether to keep and use an autoregressive cache.
      normalize_qk: apply ``LayerNorm`` (no bias) to the projected queries and
        keys, as submodules ``query_ln`` and ``key_ln``.
      force_fp32_for_softmax: compute the softmax in float32.
      qkv_dot_general: optional ``dot_general`` of the q/k/v projections.
      out_dot_general: optional ``dot_general`` of the output projection.
      qkv_dot_general_cls: optional ``dot_general_cls`` of the q/k/v projections
        (instantiated inside each ``DenseGeneral``).
      out_dot_general_cls: optional ``dot_general_cls`` of the output projection.
      qk_attn_weights_einsum_cls: optional factory called with no arguments at
        each call; the result is passed as ``qk_attn_weights_einsum`` to
        ``attention_fn`` (a Module becomes an auto-named submodule).
      attn_weights_value_einsum_cls: likewise for ``attn_weights_value_einsum``.

    >>> import jax, jax.numpy as jnp
    >>> layer = MultiHeadDotProductAttention(num_heads=2, qkv_features=4, out_features=3)
    >>> q, kv = jnp.ones((1, 2, 5)), jnp.ones((1, 7, 6))
    >>> variables = layer.init(jax.random.PRNGKey(0), q, kv)
    >>> variables['params']['key']['kernel'].shape, variables['params']['out']['kernel'].shape
    ((6, 2, 2), (2, 2, 3))
    >>> layer.apply(variables, q, kv).shape
    (1, 2, 3)
    """

    num_heads: int
    dtype: Any = None
    param_dtype: Any = jnp.float32
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
        name = type(self).__name__
        inputs_k, inputs_v = attn_spec.resolve_inputs(name, inputs_q, inputs_k, inputs_v, inputs_kv)
        features, _, head_dim = attn_spec.head_sizes(self, jnp.shape(inputs_q)[-1])

        def projection(proj_name):
            return DenseGeneral(**attn_spec.projection_fields(self, head_dim), name=proj_name)

        query = projection("query")(inputs_q)
        key = projection("key")(inputs_k)
        value = projection("value")(inputs_v)

        if self.normalize_qk:
            from nnjax.layers.normalization import LayerNorm  # the normalization family's module

            query = LayerNorm(name="query_ln", use_bias=False, dtype=self.dtype, param_dtype=self.param_dtype)(query)
            key = LayerNorm(name="key_ln", use_bias=False, dtype=self.dtype, param_dtype=self.param_dtype)(key)

        if self.decode:
            key, value, mask = self._decode_step(query, key, value, mask)

        if self.dropout_rate > 0.0:
            # `deterministic` is only needed when there is dropout to switch off.
            m_deterministic = merge_param("deterministic", self.deterministic, deterministic, layer=name)
            if not m_deterministic and dropout_rng is None:
                dropout_rng = self.make_rng("dropout")
        else:
            m_deterministic = True

        # Optional einsum factories (e.g. quantized einsums), built per call like the seed.
        qk_attn_weights_einsum = self.qk_attn_weights_einsum_cls() if self.qk_attn_weights_einsum_cls else None
        attn_weights_value_einsum = self.attn_weights_value_einsum_cls() if self.attn_weights_value_einsum_cls else None
        attn_kwargs = dict(
            mask=mask,
            dropout_rng=dropout_rng,
            dropout_rate=self.dropout_rate,
            broadcast_dropout=self.broadcast_dropout,
            deterministic=m_deterministic,
            dtype=self.dtype,
            precision=self.precision,
            force_fp32_for_softmax=self.force_fp32_for_softmax,
            qk_attn_weights_einsum=qk_attn_weights_einsum,
            attn_weights_value_einsum=attn_weights_value_einsum,
        )
        attn_kwargs = attn_spec.accepted_kwargs(self.attention_fn, attn_kwargs)
        if sow_weights:
            attn_kwargs["module"] = self
        x = self.attention_fn(query, key, value, **attn_kwargs)

        return DenseGeneral(**attn_spec.output_projection_fields(self, features), name="out")(x)

    @nowrap
    def _decode_step(self, query, key, value, mask):
        """Write this step's key/value into the cache; attend to every position cached so far."""
        initialized = self.has_variable("cache", "cached_key")
        cached_key = self.variable("cache", "cached_key", jnp.zeros, key.shape, key.dtype)
        cached_value = self.variable("cache", "cached_value", jnp.zeros, value.shape, value.dtype)
        cache_index = self.variable("cache", "cache_index", lambda: jnp.array(0, dtype=jnp.int32))
        if not initialized:
            return key, value, mask  # init: the cache is created, attention runs on the full input
        batch_dims, max_length = attn_spec.check_decode_query(type(self).__name__, cached_key.value.shape, query.shape)
        index = cache_index.value
        zero = jnp.array(0, dtype=index.dtype)
        start = (zero,) * len(batch_dims) + (index, zero, zero)
        key = lax.dynamic_update_slice(cached_key.value, key, start)
        value = lax.dynamic_update_slice(cached_value.value, value, start)
        cached_key.value = key
        cached_value.value = value
        cache_index.value = index + 1
        # The single query may only see positions already written, not the zeros after them.
        seen = jnp.broadcast_to(jnp.arange(max_length) <= index, tuple(batch_dims) + (1, 1, max_length))
        return key, value, combine_masks(mask, seen)


class MultiHeadAttention(MultiHeadDotProductAttention):
    """``MultiHeadDotProductAttention`` under another class name (auto-named ``MultiHeadAttention_{i}``).

    >>> import jax, jax.numpy as jnp
    >>> x = jnp.ones((1, 3, 4))
    >>> variables = MultiHeadAttention(num_heads=2).init(jax.random.PRNGKey(0), x)
    >>> variables['params']['query']['kernel'].shape
    (4, 2, 2)
    """


class SelfAttention(MultiHeadDotProductAttention):
    """Self-attention: ``MultiHeadDotProductAttention`` with keys and values from ``inputs_q``.

    Deprecated in the seed system (it warns with ``DeprecationWarning``) in
    favour of ``MultiHeadDotProductAttention()(inputs_q)``.

    >>> import warnings
    >>> import jax, jax.numpy as jnp
    >>> x = jnp.ones((1, 3, 4))
    >>> with warnings.catch_warnings():
    ...   warnings.simplefilter('ignore', DeprecationWarning)
    ...   variables = SelfAttention(num_heads=2).init(jax.random.PRNGKey(0), x)
    ...   y = SelfAttention(num_heads=2).apply(variables, x)
    >>> y.shape
    (1, 3, 4)
    """

    @compact
    def __call__(
        self, inputs_q, mask=None, deterministic: bool | None = None, dropout_rng=None, sow_weights: bool = False
    ):
        attn_spec.warn_self_attention()
        return super().__call__(
            inputs_q, mask=mask, deterministic=deterministic, dropout_rng=dropout_rng, sow_weights=sow_weights
        )
