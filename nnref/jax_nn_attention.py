"""``jax.nn.dot_product_attention`` in NumPy: scaled dot-product attention, functional.

Not Linen's ``nn.dot_product_attention`` (:mod:`nnref.layers.attention`,
``[batch..., length, heads, depth]`` with dropout): this is jax.nn's
function, for model code written against ``jax.nn``. Its semantics:

* ``query`` is ``[B, T, N, H]``, ``key`` and ``value`` ``[B, S, K, H]``
  (or all without the batch axis); ``N`` is a multiple of ``K`` and query
  head ``n`` attends with key/value head ``n // (N // K)`` (grouped-query
  attention);
* logits ``q k^T * scale`` (``scale`` defaults to ``1/sqrt(H)``) are
  computed in at least float32, ``bias`` (broadcastable to ``[B, N, T,
  S]``) is added, and every mask given (``mask``, ``is_causal``,
  ``local_window_size``, the sequence lengths) sets the logits it excludes
  to ``-0.7 * (float32 max)``;
* the softmax runs in float32 and the weights are cast to the key's dtype
  before they meet ``value``, as jax.nn does, except that a float64 call
  keeps float64 throughout (jax.nn rounds even a float64 softmax through
  float32; a reference should not);
* query positions at or beyond ``query_seq_lengths`` give zeros;
  ``return_residual`` also returns the logsumexp of the masked logits,
  ``[B, T, N]``.

``implementation`` may be ``None``, ``'xla'`` or ``'cudnn'``; all three
mean the same arithmetic here.

>>> import numpy as np
>>> q = np.ones((1, 3, 2, 4), np.float32)
>>> dot_product_attention(q, q, q, is_causal=True).shape
(1, 3, 2, 4)
"""

from __future__ import annotations

import math

import numpy as np

from nnref.activation import logsumexp, softmax
from nnref.dtypes import result_type
from nnref.lax._dtype_rules import canonical
from nnref.layers._contract import einsum

_FLOAT32 = np.dtype(np.float32)


def _ensure_4d(x):
    return None if x is None else x.reshape((1,) * (4 - x.ndim) + x.shape)


def _check(name, x, shape, dtype=None):
    """ValueError unless ``x`` has ``len(shape)`` axes, matching ``shape`` where it is not -1."""
    if x is None:
        return
    if x.ndim != len(shape) or any(s not in (-1, n) for s, n in zip(shape, x.shape)):
        raise ValueError(f'dot_product_attention: {name} shape should be {list(shape)} (-1: any), got {x.shape}.')
    # dtypes compare as JAX (x64 off) reads them: int64 lengths are int32 ones there.
    if dtype is not None and canonical(x.dtype) != canonical(dtype):
        raise ValueError(f'dot_product_attention: {name} dtype should be {dtype}, got {x.dtype}.')


def _mask(t, s, mask, is_causal, local_window_size, q_seqlen, kv_seqlen):
    """The combined boolean mask (broadcastable to ``[B, N, T, S]``), or None when nothing is masked."""
    combined = None

    def join(m):
        return m if combined is None else np.logical_and(combined, m)

    if mask is not None:
        combined = join(mask)
    q_pos, k_pos = np.arange(t)[:, None], np.arange(s)[None, :]
    if is_causal:
        combined = join((k_pos <= q_pos)[None, None])
    if local_window_size is not None:
        left, right = local_window_size
        combined = join(((q_pos <= k_pos + left) & (q_pos >= k_pos - right))[None, None])
    if q_seqlen is not None:
        combined = join((np.arange(t)[None, :, None] < q_seqlen[:, None, None])[:, None])
    if kv_seqlen is not None:
        combined = join((np.arange(s)[None, None, :] < kv_seqlen[:, None, None])[:, None])
    return combined


def dot_product_attention(
    query,
    key,
    value,
    bias=None,
    mask=None,
    *,
    scale=None,
    is_causal=False,
    query_seq_lengths=None,
    key_value_seq_lengths=None,
    local_window_size=None,
    implementation=None,
    return_residual=False,
):
    """``softmax(q k^T * scale + bias, masked) v`` per head, with jax.nn's shapes and options.

    See the module docstring for the shapes, masks and dtypes.

    >>> import numpy as np
    >>> q = np.zeros((1, 2, 1, 2), np.float32)
    >>> v = np.array([[[[1.0, 0.0]], [[0.0, 1.0]]]], np.float32)
    >>> dot_product_attention(q, q, v)[0, :, 0]           # equal logits: the mean of the values
    array([[0.5, 0.5],
           [0.5, 0.5]], dtype=float32)
    >>> dot_product_attention(q, q, v, is_causal=True)[0, :, 0]
    array([[1. , 0. ],
           [0.5, 0.5]], dtype=float32)
    """
    if implementation not in (None, 'xla', 'cudnn'):
        raise ValueError(
            f'dot_product_attention: unsupported implementation {implementation!r}; use None, \'xla\' or \'cudnn\'.'
        )
    query, key, value = np.asarray(query), np.asarray(key), np.asarray(value)
    output_shape = query.shape
    q, k, v = _ensure_4d(query), _ensure_4d(key), _ensure_4d(value)
    bias = _ensure_4d(None if bias is None else np.asarray(bias))
    mask = _ensure_4d(None if mask is None else np.asarray(mask))
    q_seqlen = None if query_seq_lengths is None else np.asarray(query_seq_lengths)
    kv_seqlen = None if key_value_seq_lengths is None else np.asarray(key_value_seq_lengths)
    if isinstance(local_window_size, int):
        local_window_size = (local_window_size, local_window_size)

    b, s, kv_heads, h = k.shape
    _check('value', v, (b, s, kv_heads, h), k.dtype)
    _check('query', q, (b, -1, -1, h), k.dtype)
    _check('mask', mask, (-1,) * 4, np.dtype(bool))
    _check('bias', bias, (-1,) * 4)
    _check('query_seq_lengths', q_seqlen, (b,), np.dtype(np.int32))
    _check('key_value_seq_lengths', kv_seqlen, (b,), np.dtype(np.int32))
    t, n = q.shape[1], q.shape[2]
    if n % kv_heads:
        raise ValueError(
            f'dot_product_attention: the number of query heads must be a multiple of key/value '
            f'heads, got {n} vs {kv_heads}.'
        )
    for name, extra in (('bias', bias), ('mask', mask)):
        if extra is not None and extra.shape[1] not in (1, n):
            raise ValueError(f'dot_product_attention: {name} has {extra.shape[1]} heads; it needs 1 or {n}.')

    # Query head i uses key/value head i // group, as jax.nn's grouping reshape does.
    group = n // kv_heads
    k, v = np.repeat(k, group, axis=2), np.repeat(v, group, axis=2)
    logits_dtype = result_type(q.dtype, _FLOAT32)
    logits = einsum('btnh,bsnh->bnts', q, k, preferred_element_type=logits_dtype)
    logits = logits * np.asarray(1.0 / math.sqrt(h) if scale is None else scale, logits_dtype)
    if bias is not None:
        logits = (logits + bias).astype(logits_dtype)
    combined = _mask(t, s, mask, is_causal, local_window_size, q_seqlen, kv_seqlen)
    if combined is not None:
        large_negative = -0.7 * min(float(np.finfo(logits_dtype).max), float(np.finfo(np.float32).max))
        logits = np.where(combined, logits, np.asarray(large_negative, logits_dtype))

    softmax_dtype = result_type(logits_dtype, _FLOAT32)  # float32, or float64 in a float64 run
    logits = logits.astype(softmax_dtype)
    weights = softmax(logits, axis=-1).astype(k.dtype)
    encoded = einsum('bnts,bsnh->btnh', weights, v)
    if q_seqlen is not None:
        valid = np.arange(t)[None, :] < q_seqlen[:, None]
        encoded = encoded * valid[:, :, None, None].astype(encoded.dtype)
    encoded = encoded.reshape(output_shape)
    if not return_residual:
        return encoded
    residual = np.transpose(logsumexp(logits, axis=-1).astype(k.dtype), (0, 2, 1))  # [B, N, T] -> [B, T, N]
    return encoded, residual.reshape(output_shape[:-1])
