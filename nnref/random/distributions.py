"""Samplers on top of threefry keys, consuming keys exactly as ``jax.random``.

Each sampler draws the same words from the same counters as JAX and turns
them into numbers by the same steps, so integer, boolean and ``uniform``
results are bit-identical to JAX, and so are ``normal`` and (except in
float16) ``truncated_normal``: their float32 ``log1p``/``erf`` are evaluated
the way XLA evaluates them (:mod:`nnref.random.xla_math`).

Dtypes. Without an explicit dtype, results are float32 / int32, JAX's
defaults. Asking for float64 (or int64/uint64) computes in 64 bits from
64-bit words, which is what JAX does with ``jax_enable_x64``; JAX in its
default mode would silently hand back float32 instead. float16 and bfloat16
draw 16 (or 8) bits as JAX does. Python scalars and lists given as ``p`` or
``logits`` count as float32 (JAX's weak typing); NumPy arrays keep their
dtype.

>>> import numpy as np
>>> from nnref.random.keys import PRNGKey
>>> uniform(PRNGKey(0), (3,))
array([0.947667  , 0.9785799 , 0.33229148], dtype=float32)
>>> randint(PRNGKey(0), (5,), 0, 10)
array([9, 0, 2, 3, 1], dtype=int32)
>>> permutation(PRNGKey(0), 5)
array([0, 1, 4, 3, 2], dtype=int32)
"""

import math
from collections.abc import Sequence

import numpy as np
import scipy.special

from nnref.random.dtypes import finfo, is_floating, nextafter_toward, uint_dtype
from nnref.random.erfinv import erfinv
from nnref.random.fma import fma
from nnref.random.keys import _bits_from_data, _canonical_shape, _normalize_key, _split_data
from nnref.random.xla_math import erf as xla_erf

__all__ = [
    "uniform",
    "normal",
    "truncated_normal",
    "bernoulli",
    "randint",
    "gumbel",
    "categorical",
    "permutation",
    "choice",
]

_INDEX_DTYPE = np.dtype(np.int32)  # JAX's default integer dtype


def _single_key(key, name):
    data, _ = _normalize_key(key, name, allow_batched=False)
    return data


def _float_dtype(dtype, name):
    dtype = np.dtype(np.float32 if dtype is None else dtype)
    if not is_floating(dtype):
        raise ValueError(f"dtype argument to `{name}` must be a float dtype, got {dtype}")
    return dtype


def _as_float_param(x):
    """Probabilities/logits as a float array, float32 for Python values."""
    if isinstance(x, (np.ndarray, np.generic)):
        return np.asarray(x)
    arr = np.asarray(x)
    # Python floats and lists are weakly typed in JAX: float32 by default.
    if arr.dtype == np.float64:
        arr = arr.astype(np.float32)
    return arr


def _check_param_shape(name, shape, *param_shapes):
    if np.broadcast_shapes(shape, *param_shapes) != tuple(shape):
        raise ValueError(f"{name} parameter shapes {param_shapes} must broadcast to the shape argument {shape}")


def _uniform(data, shape, dtype, minval, maxval):
    info = finfo(dtype)
    nbits, nmant = info.bits, info.nmant
    # Very short mantissas (bfloat16, float8) still draw at least 8 bits.
    rng_bits = 8 if nmant < 8 else nbits
    udt = uint_dtype(nbits)
    words = _bits_from_data(data, rng_bits, shape).astype(udt)
    # Random mantissa under the exponent of 1.0 gives a float in [1, 2).
    one = np.array(1.0, dtype).view(udt)
    mant = (words >> udt.type(rng_bits - nmant)) | one
    floats = mant.view(dtype) - np.array(1.0, dtype)
    lo = np.asarray(minval).astype(dtype)
    hi = np.asarray(maxval).astype(dtype)
    _check_param_shape("uniform", shape, lo.shape, hi.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        # XLA fuses this multiply-add into one FMA (one rounding).
        scaled = fma(floats, (hi - lo).astype(dtype), lo)
        # Rounding may land just below minval; clamp as JAX does.
        out = np.maximum(lo, scaled).astype(dtype)
    return np.broadcast_to(out, shape).copy()


def uniform(key, shape=(), dtype=np.float32, minval=0.0, maxval=1.0):
    """Uniform floats in ``[minval, maxval)``.

    >>> from nnref.random.keys import key
    >>> x = uniform(key(1), (1000,), minval=-2.0, maxval=3.0)
    >>> bool(x.min() >= -2.0 and x.max() < 3.0)
    True
    """
    data = _single_key(key, "uniform")
    dtype = _float_dtype(dtype, "uniform")
    shape = _canonical_shape(shape, "uniform")
    return _uniform(data, shape, dtype, minval, maxval)


def _normal_real(data, shape, dtype):
    lo = nextafter_toward(np.array(-1.0, dtype), up=True)
    u = _uniform(data, shape, dtype, lo, np.array(1.0, dtype))
    with np.errstate(over="ignore", invalid="ignore"):
        return (np.array(np.sqrt(2), dtype) * erfinv(u, dtype)).astype(dtype)


def normal(key, shape=(), dtype=np.float32):
    """Standard normal draws: ``sqrt(2) * erfinv(u)``, u uniform in (-1, 1).

    Complex dtypes draw the real and imaginary parts from the two halves of
    a split and scale by ``1/sqrt(2)``, as JAX does.

    >>> from nnref.random.keys import PRNGKey
    >>> normal(PRNGKey(0), (2, 2)).shape
    (2, 2)
    """
    data = _single_key(key, "normal")
    dtype = np.dtype(np.float32 if dtype is None else dtype)
    shape = _canonical_shape(shape, "normal")
    if dtype.kind == "c":
        real = np.finfo(dtype).dtype
        k_re, k_im = _split_data(data, (2,))
        re = _normal_real(k_re, shape, real).astype(dtype)
        im = _normal_real(k_im, shape, real).astype(dtype)
        return ((re + 1j * im) / np.array(np.sqrt(2), dtype)).astype(dtype)
    if not is_floating(dtype):
        raise ValueError(f"dtype argument to `normal` must be a float or complex dtype, got {dtype}")
    return _normal_real(data, shape, dtype)


def _erf(x, dtype):
    if dtype == np.float64:
        return scipy.special.erf(x.astype(np.float64))
    # XLA's float32 approximation (half precision goes through float32 too):
    # SciPy's erf differs in the last bit, which moves every truncated draw.
    return np.asarray(xla_erf(x.astype(np.float32))).astype(dtype)


def truncated_normal(key, lower, upper, shape=None, dtype=np.float32):
    """Standard normal draws conditioned on ``lower < x < upper``.

    A uniform draw between ``erf(lower/sqrt2)`` and ``erf(upper/sqrt2)`` is
    mapped back through ``sqrt(2) * erfinv``, then clipped to the open
    interval to absorb rounding. float32 and bfloat16 draws are JAX's bit for
    bit (erf and erfinv evaluated as XLA does); float16 ones are not (XLA
    keeps intermediate float16 values in float32 inside its fused kernel),
    and agree within the 'prng_normal' tolerance.

    >>> from nnref.random.keys import PRNGKey
    >>> x = truncated_normal(PRNGKey(0), -2.0, 2.0, (10000,))
    >>> bool(x.min() > -2.0 and x.max() < 2.0)
    True
    """
    data = _single_key(key, "truncated_normal")
    dtype = _float_dtype(dtype, "truncated_normal")
    lower = np.asarray(lower).astype(dtype)
    upper = np.asarray(upper).astype(dtype)
    if shape is None:
        shape = np.broadcast_shapes(lower.shape, upper.shape)
    else:
        shape = _canonical_shape(shape, "truncated_normal")
        _check_param_shape("truncated_normal", shape, lower.shape, upper.shape)
    sqrt2 = np.array(np.sqrt(2), dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        # XLA rewrites the division by the constant sqrt(2) as a product
        # with its rounded reciprocal; the last bit of erf's argument moves.
        inv_sqrt2 = (np.array(1, dtype) / sqrt2).astype(dtype)
        a = _erf((lower * inv_sqrt2).astype(dtype), dtype)
        b = _erf((upper * inv_sqrt2).astype(dtype), dtype)
        u = _uniform(data, shape, dtype, a, b)
        out = (sqrt2 * erfinv(u, dtype)).astype(dtype)
        low_edge = nextafter_toward(lower, up=True)
        high_edge = nextafter_toward(upper, up=False)
        out = np.minimum(np.maximum(out, low_edge), high_edge).astype(dtype)
    return np.broadcast_to(out, shape).copy()


def bernoulli(key, p=0.5, shape=None, mode="low"):
    """Booleans that are True with probability ``p``: ``uniform < p``.

    ``mode="high"`` adds a second uniform below the resolution of the first,
    for tiny ``p``, as in JAX.

    >>> from nnref.random.keys import PRNGKey
    >>> bernoulli(PRNGKey(0), 0.5, (4,)).dtype
    dtype('bool')
    """
    if mode not in ("high", "low"):
        raise ValueError(f"got mode={mode!r}, expected 'high' or 'low'")
    data = _single_key(key, "bernoulli")
    p = _as_float_param(p)
    if not is_floating(p.dtype):
        raise TypeError(f"bernoulli probability `p` must have a floating dtype, got {p.dtype}")
    if shape is None:
        shape = p.shape
    else:
        shape = _canonical_shape(shape, "bernoulli")
        _check_param_shape("bernoulli", shape, p.shape)
    dtype = p.dtype
    if mode == "high":
        both = _uniform(data, (2, *shape), dtype, 0.0, 1.0)
        u1 = both[0]
        u2 = (both[1] * np.array(2.0 ** -finfo(dtype).nmant, dtype)).astype(dtype)
        return u2 < (p - u1).astype(dtype)
    return _uniform(data, shape, dtype, 0.0, 1.0) < p


def _rem(a, n):
    """Unsigned remainder with XLA's convention that ``a % 0 == a``."""
    a, n = np.broadcast_arrays(np.asarray(a), np.asarray(n))
    safe = np.where(n == 0, n.dtype.type(1), n)
    return np.where(n == 0, a, a % safe).astype(a.dtype)


def _randint_core(data, shape, minval, maxval, dtype):
    info = np.iinfo(dtype)
    nbits = info.bits
    udt = uint_dtype(nbits)
    minval = np.asarray(minval, dtype=object if _is_big(minval) else None)
    maxval = np.asarray(maxval, dtype=object if _is_big(maxval) else None)
    _check_param_shape("randint", shape, minval.shape, maxval.shape)
    # A maxval above the dtype's range (randint(k, s, 0, 256, uint8)) means
    # "up to and including the dtype's max", handled by widening the span.
    out_of_range = _int_compare_gt(maxval, info.max)
    lo = _clip_to(minval, info).astype(dtype)
    hi = _clip_to(maxval, info).astype(dtype)
    k1, k2 = _split_data(data, (2,))
    higher = _bits_from_data(k1, nbits, shape)
    lower = _bits_from_data(k2, nbits, shape)
    with np.errstate(over="ignore"):
        # Wrapping subtraction then reinterpreting gives the unsigned span.
        span = np.asarray(hi.astype(udt) - lo.astype(udt), dtype=udt)
        span = np.where(hi <= lo, udt.type(1), span).astype(udt)
        widen = out_of_range & (hi > lo)
        # Widening may wrap the span to 0: then every value is legal.
        span = np.where(widen, span + udt.type(1), span).astype(udt)
        # (a*b) % n from (a % n)*(b % n) with b = 2**nbits % n; the products
        # wrap in nbits exactly as in JAX.
        half = np.full_like(span, udt.type(1) << udt.type(nbits // 2))
        mult = _rem(half, span)
        mult = _rem(mult * mult, span)
        offset = _rem(higher, span) * mult + _rem(lower, span)
        offset = _rem(offset, span)
        out = lo + offset.astype(dtype)
    return np.broadcast_to(np.asarray(out, dtype=dtype), shape).copy()


def _is_big(v):
    return isinstance(v, int) and not -(2**63) <= v < 2**63


def _int_compare_gt(v, bound):
    if v.dtype == object:
        return np.vectorize(lambda e: int(e) > bound, otypes=[bool])(v)
    return v > bound


def _clip_to(v, info):
    if v.dtype == object:
        return np.vectorize(lambda e: min(max(int(e), info.min), info.max), otypes=[object])(v)
    if not np.issubdtype(v.dtype, np.integer):
        v = v.astype(np.int64)  # float bounds truncate, as JAX's astype(int)
    if v.dtype == np.uint64:
        return (
            np.minimum(v, np.uint64(info.max))
            if info.min >= 0
            else np.where(v > np.uint64(info.max), info.max, v.astype(np.int64))
        )
    return np.clip(v.astype(np.int64), max(info.min, -(2**63)), min(info.max, 2**63 - 1))


def randint(key, shape, minval, maxval, dtype=np.int32):
    """Uniform integers in ``[minval, maxval)``.

    Two independent words per value (from the two halves of a split) are
    reduced modulo the span, as in JAX; dtypes narrower than 32 bits sample
    in int32 first.

    >>> from nnref.random.keys import PRNGKey
    >>> x = randint(PRNGKey(3), (1000,), -5, 5, np.int8)
    >>> x.dtype, int(x.min()), int(x.max())
    (dtype('int8'), -5, 4)
    """
    data = _single_key(key, "randint")
    dtype = np.dtype(np.int32 if dtype is None else dtype)
    if dtype.kind not in "iu":
        raise TypeError(f"randint only accepts integer dtypes, got {dtype}")
    shape = _canonical_shape(shape, "randint")
    info = np.iinfo(dtype)
    if info.bits < 32:
        # Narrow dtypes sample in int32 with bounds clipped to their range.
        lo = np.clip(np.asarray(minval).astype(np.int64), info.min, info.max)
        hi = np.clip(np.asarray(maxval).astype(np.int64), info.min, info.max + 1)
        return _randint_core(data, shape, lo, hi, np.dtype(np.int32)).astype(dtype)
    return _randint_core(data, shape, minval, maxval, dtype)


def _log(x, dtype, log=np.log):
    """``log`` rounded once to ``dtype``, computed in float64.

    XLA's float32 log is not correctly rounded and NumPy's differs from it
    more often than a correctly rounded one does (about 14% against 23% of
    values, each by an ulp).
    """
    if dtype == np.float64:
        return log(x)
    return log(np.asarray(x).astype(np.float64)).astype(dtype)


def _gumbel(data, shape, dtype, mode):
    info = finfo(dtype)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if dtype == np.float32 and mode == "highest":
            return _gumbel_highest(data, shape)
        if mode in ("high", "highest"):
            both = _uniform(data, (2, *shape), dtype, 0.0, 1.0)
            high, low = both[0], both[1]
            # Fill the low end of (0, 1) with a second, finer uniform.
            fine = (high + np.array(2.0**-info.nmant, dtype) * low + np.array(info.tiny, dtype)).astype(dtype)
            x = np.where(high >= np.array(0.5, dtype), high, fine)
            inner = _log(-x, dtype, np.log1p)
            return (-_log(-inner, dtype)).astype(dtype)
        u = _uniform(data, shape, dtype, np.array(info.tiny, dtype), 1.0)
        return (-_log(-_log(u, dtype), dtype)).astype(dtype)


def _clz32(x):
    """Leading zero count of uint32 values (32 for zero)."""
    x = x.astype(np.uint64)
    n = np.full(x.shape, 32, dtype=np.uint32)
    nz = x != 0
    n[nz] = 31 - np.floor(np.log2(x[nz].astype(np.float64))).astype(np.uint32)
    return n


def _u64_to_unit_float32(hi, lo):
    """Read (hi, lo) as a 64-bit fraction in (0, 1) and round down to float32."""
    hiclz, loclz = _clz32(hi), _clz32(lo)
    all_in_lo = hiclz == 32
    with np.errstate(over="ignore"):
        shifted_lo = np.where(
            all_in_lo, lo << (loclz % 32), (lo.astype(np.uint64) >> (32 - hiclz).astype(np.uint64)).astype(np.uint32)
        )
        mantissa = ((hi << (hiclz % 32)) * (~all_in_lo)) | shifted_lo
        mantissa = (mantissa >> np.uint32(32 - 23 - 1)) & np.uint32((1 << 23) - 1)
        lead = np.where(all_in_lo, 32 + loclz, hiclz).astype(np.int64)
        exp = ((126 - lead) << 23).astype(np.uint32) & np.uint32((1 << 30) - (1 << 22))
    return (exp | mantissa).view(np.float32)


def _gumbel_highest(data, shape):
    words = _bits_from_data(data, 32, (2, *shape))
    neg = ~words
    # 1 - x in 64-bit fixed point: complement, plus one with carry.
    carry = (neg[1] == np.uint32(0xFFFFFFFF)).astype(np.uint32)
    neg = np.stack([neg[0] + carry, neg[1] + np.uint32(1)])
    flip = words[0] < np.uint32(1 << 31)
    chosen = np.where(flip, words, neg)
    x = _u64_to_unit_float32(chosen[0], chosen[1])
    # log1p near 0 and log near 1 keep every bit of the 64-bit draw.
    f32 = np.dtype(np.float32)
    return np.where(flip, -_log(-_log(-x, f32, np.log1p), f32), -_log(-_log(x, f32), f32)).astype(np.float32)


def gumbel(key, shape=(), dtype=np.float32, mode=None):
    """Standard Gumbel draws ``-log(-log(u))``.

    ``mode`` is "low" (default), "high" or "highest" (float32 only), as in
    JAX: more bits for the far tail.

    >>> from nnref.random.keys import PRNGKey
    >>> gumbel(PRNGKey(0), (3,)).dtype
    dtype('float32')
    """
    data = _single_key(key, "gumbel")
    dtype = _float_dtype(dtype, "gumbel")
    shape = _canonical_shape(shape, "gumbel")
    mode = "low" if mode is None else mode
    if mode not in ("highest", "high", "low"):
        raise ValueError(f"Must provide valid mode for gumbel got: {mode}")
    return _gumbel(data, shape, dtype, mode)


def _top_k_indices(values, k):
    """Indices of the k largest along the last axis; ties to the lower index."""
    order = np.argsort(-values, axis=-1, kind="stable")
    return order[..., :k]


def categorical(key, logits, axis=-1, shape=None, replace=True, mode=None):
    """Category indices drawn with softmax(logits) probabilities.

    Gumbel-max: the argmax of ``logits + gumbel`` (top-k without
    replacement), with the Gumbel noise drawn over the whole output.

    >>> from nnref.random.keys import PRNGKey
    >>> categorical(PRNGKey(0), np.log(np.array([0.2, 0.8], np.float32)), shape=(5,))
    array([1, 1, 1, 1, 0], dtype=int32)
    """
    data = _single_key(key, "categorical")
    logits = _as_float_param(logits)
    dtype = _float_dtype(logits.dtype, "categorical")
    ndim = logits.ndim
    if ndim == 0:
        raise ValueError("categorical needs logits with at least one axis")
    axis = int(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of bounds for logits of rank {ndim}")
    batch_shape = tuple(np.delete(logits.shape, axis))
    if shape is None:
        shape = batch_shape
    else:
        shape = _canonical_shape(shape, "categorical")
        _check_param_shape("categorical", shape, batch_shape)
    prefix = shape[: len(shape) - len(batch_shape)]
    if replace:
        neg_axis = axis - ndim if axis >= 0 else axis
        noise_shape = list(shape[len(shape) - len(batch_shape) :])
        noise_shape.insert(neg_axis % ndim, logits.shape[neg_axis])
        g = _gumbel(data, (*prefix, *noise_shape), dtype, mode or "low")
        scores = g + logits.reshape((1,) * len(prefix) + logits.shape)
        return np.argmax(scores, axis=neg_axis).astype(_INDEX_DTYPE)
    scores = logits + _gumbel(data, logits.shape, dtype, mode or "low")
    k = math.prod(prefix)
    if k > logits.shape[axis]:
        raise ValueError(
            f"Number of samples without replacement ({k}) cannot exceed number of categories ({logits.shape[axis]})."
        )
    idx = _top_k_indices(np.moveaxis(scores, axis, -1), k)
    return np.moveaxis(idx, -1, 0).reshape(shape).astype(_INDEX_DTYPE)


def _shuffle(data, x, axis):
    # Repeated stable sorts by fresh random 32-bit keys; enough rounds that
    # colliding keys are unlikely to leave a bias (3 * log(n) / log(2**32-1)).
    n_rounds = int(np.ceil(3 * np.log(max(1, x.size)) / np.log(2**32 - 1)))
    for _ in range(n_rounds):
        data, sub = _split_data(data, (2,))
        sort_keys = _bits_from_data(sub, 32, x.shape)
        order = np.argsort(sort_keys, axis=axis, kind="stable")
        x = np.take_along_axis(x, order, axis=axis)
    return x


def permutation(key, x, axis=0, independent=False):
    """A random permutation of ``arange(x)`` or of ``x`` along ``axis``.

    ``independent=True`` shuffles every slice along ``axis`` separately.

    >>> from nnref.random.keys import PRNGKey
    >>> sorted(permutation(PRNGKey(1), np.arange(4) * 10).tolist())
    [0, 10, 20, 30]
    """
    data = _single_key(key, "permutation")
    arr = np.asarray(x)
    if arr.ndim == 0:
        if not np.issubdtype(arr.dtype, np.integer):
            raise TypeError("x must be an integer or at least 1-dimensional")
        return _shuffle(data, np.arange(int(arr), dtype=_INDEX_DTYPE), 0)
    axis = _normalize_axis(axis, arr.ndim)
    if independent or arr.ndim == 1:
        return _shuffle(data, arr, axis)
    ind = _shuffle(data, np.arange(arr.shape[axis], dtype=_INDEX_DTYPE), 0)
    return np.take(arr, ind, axis=axis)


def _normalize_axis(axis, ndim):
    axis = int(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of bounds for array of rank {ndim}")
    return axis % ndim


def choice(key, a, shape=(), replace=True, p=None, axis=0, mode=None):
    """Random samples from ``a`` (or ``arange(a)``) along ``axis``.

    Uniform with replacement is ``randint``; without, a permutation prefix.
    With ``p``: inverse CDF by ``searchsorted`` (with replacement) or
    Gumbel top-k (without), as in JAX.

    >>> from nnref.random.keys import PRNGKey
    >>> choice(PRNGKey(0), 10, (3,), replace=False).shape
    (3,)
    """
    data = _single_key(key, "choice")
    if not isinstance(shape, Sequence):
        raise TypeError(f"shape argument of choice must be a sequence, got {shape}")
    shape = _canonical_shape(shape, "choice")
    arr = np.asarray(a)
    if arr.ndim == 0:
        if not np.issubdtype(arr.dtype, np.integer):
            raise TypeError("a must be an integer or at least 1-dimensional")
        n_inputs = int(arr)
        if isinstance(a, int):
            arr = arr.astype(_INDEX_DTYPE)
    else:
        axis = _normalize_axis(axis, arr.ndim)
        n_inputs = arr.shape[axis]
    n_draws = math.prod(shape)
    if n_draws == 0:
        return np.zeros(shape, dtype=arr.dtype)
    if n_inputs <= 0:
        raise ValueError("a must be greater than 0 unless no samples are taken")
    if not replace and n_draws > n_inputs:
        raise ValueError(
            f"Cannot take a larger sample (size {n_draws}) than population (size {n_inputs}) when 'replace=False'"
        )
    if p is None:
        if replace:
            ind = _randint_core(data, shape, 0, n_inputs, _INDEX_DTYPE)
            result = ind if arr.ndim == 0 else np.take(arr, ind, axis=axis)
        else:
            source = np.arange(n_inputs, dtype=_INDEX_DTYPE) if arr.ndim == 0 else arr
            ind = _shuffle(data, np.arange(n_inputs, dtype=_INDEX_DTYPE), 0)
            picked = ind[:n_draws]
            result = np.take(source, picked, axis=0 if arr.ndim == 0 else axis)
    else:
        p_arr = _as_float_param(p)
        if not is_floating(p_arr.dtype):
            p_arr = p_arr.astype(np.float32)  # JAX promotes integers to float
        if p_arr.shape != (n_inputs,):
            raise ValueError(
                f"p must be None or a 1D vector with the same size "
                f"as a.shape[axis]. p has shape {p_arr.shape} and "
                f"a.shape[axis] is {n_inputs}."
            )
        dtype = p_arr.dtype
        if replace:
            cdf = np.cumsum(p_arr, dtype=dtype)
            u = _uniform(data, shape, dtype, 0.0, 1.0)
            r = (cdf[-1] * (np.array(1.0, dtype) - u)).astype(dtype)
            ind = np.searchsorted(cdf, r, side="left").astype(_INDEX_DTYPE)
        else:
            with np.errstate(divide="ignore"):
                g = (_gumbel(data, (n_inputs,), dtype, mode or "low") + np.log(p_arr)).astype(dtype)
            ind = _top_k_indices(g, n_draws).astype(_INDEX_DTYPE)
        result = ind if arr.ndim == 0 else np.take(arr, ind, axis=axis)
    out_shape = shape if arr.ndim == 0 else (arr.shape[:axis] + shape + arr.shape[axis + 1 :])
    return result.reshape(out_shape)
