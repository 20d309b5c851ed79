"""Dot-product attention: the functions, the masks and the multi-head modules.

>>> import nnref as nn
>>> from nnref.layers.attention import MultiHeadDotProductAttention, make_causal_mask
>>> layer = MultiHeadDotProductAttention(num_heads=2, qkv_features=8)
>>> x = nn.random.normal(nn.random.PRNGKey(1), (3, 5, 6))
>>> variables = layer.init(nn.random.PRNGKey(0), x)
>>> sorted(variables['params'])
['key', 'out', 'query', 'value']
>>> mask = make_causal_mask(nn.numpy.ones((3, 5)))
>>> layer.apply(variables, x, mask=mask).shape
(3, 5, 6)
"""

from __future__ import annotations

import inspect
import warnings
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
from shared_spec import layer_args

_FLOAT32 = np.dtype(np.float32)


def _check_qkv(fn: str, query, key, value=None) -> None:
    """Shapes ``[batch..., length, heads, depth]`` that agree where attention needs them to."""
    arrays = (query, key) if value is None else (query, key, value)
    if len({a.ndim for a in arrays}) != 1 or query.ndim < 3:
        raise ValueError(
            f"{fn}: query, key (and value) must have the same rank >= 3, "
            f"[batch..., length, num_heads, depth]; got shapes {[a.shape for a in arrays]}."
        )
    if len({a.shape[:-3] for a in arrays}) != 1:
        raise ValueError(f"{fn}: batch dimensions differ: {[a.shape for a in arrays]}.")
    if len({a.shape[-2] for a in arrays}) != 1:
        raise ValueError(f"{fn}: numbers of heads (axis -2) differ: {[a.shape for a in arrays]}.")
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(f"{fn}: query and key depths differ: {query.shape} vs {key.shape}.")
    if value is not None and key.shape[-3] != value.shape[-3]:
        raise ValueError(f"{fn}: key and value lengths differ: {key.shape} vs {value.shape}.")


def _weights_einsum(precision, einsum_dot_general, einsum) -> Callable:
    """The einsum attention uses: the given one, else NumPy's (through ``einsum_dot_general`` if given)."""
    if (precision or einsum_dot_general) and einsum:
        raise ValueError(
            "precision/einsum_dot_general and einsum are mutually exclusive. Please specify only one of them."
        )
    if einsum:
        return einsum
    if einsum_dot_general:
        return lambda subscripts, a, b: _contract.einsum_via_dot_general(
            subscripts, a, b, einsum_dot_general, precision
        )
    return lambda subscripts, a, b: _contract.einsum(subscripts, a, b)


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
    drawn with ``bernoulli(dropout_rng, 1 - rate)`` over ``[q_length,
    kv_length]`` shared by batch and heads if ``broadcast_dropout``, else over
    the full shape, and rescales kept weights by ``1 / (1 - rate)``. With
    ``module``, the weights (before dropout) are sown into its
    'intermediates' collection as ``attention_weights``.

    ``force_fp32_for_softmax`` computes the softmax in float32 (the weights
    then stay float32). ``einsum_dot_general`` replaces the ``dot_general``
    inside the default einsum; ``einsum`` replaces the einsum itself (called
    as ``einsum('...qhd,...khd->...hqk', query, key)``) and excludes both
    ``precision`` and ``einsum_dot_general``.

    >>> import numpy as np
    >>> q = np.ones((1, 2, 1, 4), np.float32)
    >>> dot_product_attention_weights(q, q).shape
    (1, 1, 2, 2)
    """
    einsum = _weights_einsum(precision, einsum_dot_general, einsum)
    query, key = promote_dtype(query, key, dtype=dtype)
    dtype = query.dtype
    _check_qkv("dot_product_attention_weights", query, key)
    # sqrt(depth) is rounded to float32 first, as the seed does, except in a float64 run.
    scale_dtype = np.float64 if dtype == np.float64 else np.float32
    query = query / np.sqrt(np.asarray(query.shape[-1], scale_dtype)).astype(dtype)
    weights = einsum("...qhd,...khd->...hqk", query, key)
    if bias is not None:
        bias = np.asarray(bias)
        weights = weights.astype(result_type(weights, bias)) + bias.astype(result_type(weights, bias))
    if mask is not None:
        big_neg = np.asarray(ml_dtypes.finfo(weights.dtype).min, weights.dtype)
        weights = np.where(np.asarray(mask), weights, big_neg)
    if force_fp32_for_softmax and dtype != _FLOAT32:
        weights = softmax(weights.astype(_FLOAT32))
    else:
        weights = softmax(weights).astype(dtype)
    if module is not None:
        module.sow("intermediates", "attention_weights", weights)
    if not deterministic and dropout_rate > 0.0:
        if dropout_rng is None:
            raise ValueError(
                "dot_product_attention_weights: dropout is on (deterministic=False, "
                f"dropout_rate={dropout_rate}) but `dropout_rng` is None; pass a key, or "
                "deterministic=True."
            )
        keep_prob = 1.0 - dropout_rate
        if broadcast_dropout:
            # One mask per (query, key) pair, shared by every batch entry and head.
            dropout_shape = (1,) * (key.ndim - 2) + weights.shape[-2:]
        else:
            dropout_shape = weights.shape
        keep = _random.bernoulli(dropout_rng, keep_prob, dropout_shape)
        multiplier = keep.astype(dtype) / np.asarray(keep_prob, dtype)
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
    ``[batch..., q_length, num_heads, v_depth]``. The arrays need no batch
    axes. ``precision`` is accepted for API parity with nnjax.

    >>> import numpy as np
    >>> q = np.ones((2, 3, 1, 4), np.float32)
    >>> v = np.arange(3, dtype=np.float32).reshape(1, 3, 1, 1) * np.ones((2, 3, 1, 4), np.float32)
    >>> dot_product_attention(q, q, v)[0, :, 0, 0]  # equal logits: the mean of the values
    array([1., 1., 1.], dtype=float32)
    """
    if (qk_attn_weights_einsum is None) != (attn_weights_value_einsum is None):
        raise ValueError(
            "qk_attn_weights_einsum and attn_weights_value_einsum must be specified together; "
            "pass both (or neither, for the default einsum)."
        )
    if (precision or einsum_dot_general) and (qk_attn_weights_einsum or attn_weights_value_einsum):
        raise ValueError(
            "precision/einsum_dot_general and qk_attn_weights_einsum/attn_weights_value_einsum are "
            "mutually exclusive. Please specify only one of them."
        )
    query, key, value = promote_dtype(query, key, value, dtype=dtype)
    dtype = query.dtype
    _check_qkv("dot_product_attention", query, key, value)
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
    query_input, key_input, pairwise_fn: Callable = np.multiply, extra_batch_dims: int = 0, dtype=np.float32
):
    """A ``[batch..., 1, len_q, len_kv]`` mask from ``pairwise_fn(query_input[..., :, None], key_input[..., None, :])``.

    ``extra_batch_dims`` leading singleton axes are added in front.

    >>> make_attention_mask(np.array([1, 1, 0]), np.array([1, 0]))[0]
    array([[1., 0.],
           [1., 0.],
           [0., 0.]], dtype=float32)
    """
    mask = pairwise_fn(np.expand_dims(np.asarray(query_input), -1), np.expand_dims(np.asarray(key_input), -2))
    mask = np.expand_dims(mask, -3)
    mask = np.expand_dims(mask, tuple(range(extra_batch_dims)))
    return np.asarray(mask).astype(dtype)


def make_causal_mask(x, extra_batch_dims: int = 0, dtype=np.float32):
    """A ``[batch..., 1, len, len]`` mask letting position ``i`` attend to positions ``<= i``.

    Only the shape of ``x`` (``[batch..., len]``) is used.

    >>> make_causal_mask(np.ones((1, 3)))[0, 0]
    array([[1., 0., 0.],
           [1., 1., 0.],
           [1., 1., 1.]], dtype=float32)
    """
    shape = np.shape(x)
    idxs = np.broadcast_to(np.arange(shape[-1], dtype=np.int32), shape)
    return make_attention_mask(idxs, idxs, np.greater_equal, extra_batch_dims=extra_batch_dims, dtype=dtype)


def combine_masks(*masks, dtype=np.float32):
    """The logical AND of the masks that are not None, as ``dtype``; None if all are None.

    >>> combine_masks(None, np.array([1, 1, 0]), np.array([True, False, True]))
    array([1., 0., 0.], dtype=float32)
    """
    masks = [np.asarray(m) for m in masks if m is not None]
    if not masks:
        return None
    if len({m.ndim for m in masks}) != 1:
        raise ValueError(
            f"combine_masks: masks must have the same rank, got ranks {tuple(m.ndim for m in masks)}; "
            "add singleton axes (e.g. with expand_dims) so they line up."
        )
    mask = masks[0]
    for other in masks[1:]:
        mask = np.logical_and(mask, other)
    return mask.astype(dtype)


# -- modules ---------------------------------------------------------------------------


def _update_slice(cache: np.ndarray, update: np.ndarray, index: int) -> np.ndarray:
    """``cache`` with ``update`` written at ``index`` along the length axis (-3).

    As ``lax.dynamic_update_slice``, the start is clamped so the update fits.
    """
    start = int(np.clip(index, 0, cache.shape[-3] - update.shape[-3]))
    out = np.array(cache, copy=True)
    out[..., start : start + update.shape[-3], :, :] = update
    return out


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
      precision: accepted for API parity with nnjax.
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

    >>> import nnref as nn
    >>> layer = MultiHeadDotProductAttention(num_heads=2, qkv_features=4, out_features=3)
    >>> q, kv = nn.numpy.ones((1, 2, 5)), nn.numpy.ones((1, 7, 6))
    >>> variables = layer.init(nn.random.PRNGKey(0), q, kv)
    >>> variables['params']['key']['kernel'].shape, variables['params']['out']['kernel'].shape
    ((6, 2, 2), (2, 2, 3))
    >>> layer.apply(variables, q, kv).shape
    (1, 2, 3)
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
        name = type(self).__name__
        inputs_q = np.asarray(inputs_q)
        if inputs_kv is not None:
            if inputs_k is not None or inputs_v is not None:
                raise ValueError(
                    f"{name}: pass either `inputs_kv` or `inputs_k`/`inputs_v`, not both; "
                    "`inputs_kv` is deprecated, prefer `inputs_k` and `inputs_v`."
                )
            warnings.warn(
                f"{name}: `inputs_kv` is deprecated; pass `inputs_k` (and `inputs_v`) instead.",
                DeprecationWarning,
                stacklevel=2,
            )
            inputs_k = inputs_v = inputs_kv
        else:
            if inputs_k is None:
                if inputs_v is not None:
                    raise ValueError(
                        f"{name}: `inputs_v` is given without `inputs_k`; pass `inputs_k` too "
                        "(or only `inputs_k`, which then serves as the values as well)."
                    )
                inputs_k = inputs_q
            if inputs_v is None:
                inputs_v = inputs_k
        inputs_k, inputs_v = np.asarray(inputs_k), np.asarray(inputs_v)

        layer_args.positive_int(self.num_heads, field="num_heads", layer=self)
        layer_args.optional_positive_int(self.out_features, field="out_features", layer=self)
        layer_args.optional_positive_int(self.qkv_features, field="qkv_features", layer=self)
        features = self.out_features or inputs_q.shape[-1]
        qkv_features = self.qkv_features or inputs_q.shape[-1]
        if qkv_features % self.num_heads != 0:
            raise ValueError(
                f"{layer_args.where(self)}: `qkv_features` ({qkv_features}) must be divisible by `num_heads` "
                f"({self.num_heads}); change one of them."
            )
        head_dim = qkv_features // self.num_heads

        def projection(proj_name):
            return DenseGeneral(
                features=(self.num_heads, head_dim),
                axis=-1,
                dtype=self.dtype,
                param_dtype=self.param_dtype,
                kernel_init=self.kernel_init,
                bias_init=self.bias_init,
                use_bias=self.use_bias,
                precision=self.precision,
                dot_general=self.qkv_dot_general,
                dot_general_cls=self.qkv_dot_general_cls,
                name=proj_name,
            )

        query = projection("query")(inputs_q)
        key = projection("key")(inputs_k)
        value = projection("value")(inputs_v)

        if self.normalize_qk:
            from nnref.layers.normalization import LayerNorm  # the normalization family's module

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
        accepted = inspect.signature(self.attention_fn).parameters
        attn_kwargs = {k: v for k, v in attn_kwargs.items() if k in accepted}
        if sow_weights:
            attn_kwargs["module"] = self
        x = self.attention_fn(query, key, value, **attn_kwargs)

        return DenseGeneral(
            features=features,
            axis=(-2, -1),
            kernel_init=self.out_kernel_init or self.kernel_init,
            bias_init=self.out_bias_init or self.bias_init,
            use_bias=self.use_bias,
            dtype=self.dtype,
            param_dtype=self.param_dtype,
            precision=self.precision,
            dot_general=self.out_dot_general,
            dot_general_cls=self.out_dot_general_cls,
            name="out",
        )(x)

    @nowrap
    def _decode_step(self, query, key, value, mask):
        """Write this step's key/value into the cache; attend to every position cached so far."""
        initialized = self.has_variable("cache", "cached_key")
        cached_key = self.variable("cache", "cached_key", np.zeros, key.shape, key.dtype)
        cached_value = self.variable("cache", "cached_value", np.zeros, value.shape, value.dtype)
        cache_index = self.variable("cache", "cache_index", lambda: np.array(0, dtype=np.int32))
        if not initialized:
            return key, value, mask  # init: the cache is created, attention runs on the full input
        *batch_dims, max_length, num_heads, depth = np.shape(cached_key.value)
        expected = tuple(batch_dims) + (1, num_heads, depth)
        if expected != query.shape:
            raise ValueError(
                f"{type(self).__name__}: autoregressive cache shape error, expected query shape "
                f"{expected} but got {query.shape}; decode one position at a time with the batch "
                "shape used at init."
            )
        index = np.asarray(cache_index.value)
        key = _update_slice(cached_key.value, key, int(index))
        value = _update_slice(cached_value.value, value, int(index))
        cached_key.value = key
        cached_value.value = value
        cache_index.value = (index + np.int32(1)).astype(index.dtype)
        # The single query may only see positions already written, not the zeros after them.
        seen = np.broadcast_to(np.arange(max_length) <= index, tuple(batch_dims) + (1, 1, max_length))
        return key, value, combine_masks(mask, seen)


class MultiHeadAttention(MultiHeadDotProductAttention):
    """``MultiHeadDotProductAttention`` under another class name (auto-named ``MultiHeadAttention_{i}``).

    >>> import nnref as nn
    >>> x = nn.numpy.ones((1, 3, 4))
    >>> variables = MultiHeadAttention(num_heads=2).init(nn.random.PRNGKey(0), x)
    >>> variables['params']['query']['kernel'].shape
    (4, 2, 2)
    """


class SelfAttention(MultiHeadDotProductAttention):
    """Self-attention: ``MultiHeadDotProductAttention`` with keys and values from ``inputs_q``.

    Deprecated in the seed system (it warns with ``DeprecationWarning``) in
    favour of ``MultiHeadDotProductAttention()(inputs_q)``.

    >>> import warnings
    >>> import nnref as nn
    >>> x = nn.numpy.ones((1, 3, 4))
    >>> with warnings.catch_warnings():
    ...   warnings.simplefilter('ignore', DeprecationWarning)
    ...   variables = SelfAttention(num_heads=2).init(nn.random.PRNGKey(0), x)
    ...   y = SelfAttention(num_heads=2).apply(variables, x)
    >>> y.shape
    (1, 3, 4)
    """

    @compact
    def __call__(
        self, inputs_q, mask=None, deterministic: bool | None = None, dropout_rng=None, sow_weights: bool = False
    ):
        warnings.warn(
            "SelfAttention is deprecated; use MultiHeadDotProductAttention()(inputs_q) instead.",
            DeprecationWarning,
            stacklevel=2,
        )
        return super().__call__(
            inputs_q, mask=mask, deterministic=deterministic, dropout_rng=dropout_rng, sow_weights=sow_weights
        )
