"""Quantizing to fp8 with delayed scaling.

An fp8 number has few bits (e4m3: 3 mantissa bits, largest finite 448;
e5m2: 2 bits, largest 57344), so a tensor is divided by a *scale* before
the cast and multiplied by it after: ``x ~ scale * fp8(x / scale)``. A good
scale maps the tensor's largest magnitude (its *amax*) to the format's
largest finite value.

*Delayed scaling* avoids a reduction over the tensor before every cast: each
step keeps a short history of past amaxes, takes the scale from that history
(``scale = max(history) / fp8_max``), quantizes with it, and then records the
current amax for the next steps. A history of zeros (the initial state)
keeps the previous scale.

>>> import jax.numpy as jnp
>>> x = jnp.array([0.5, -3.0, 100.0])
>>> scale, history = jnp.ones((1,)), jnp.array([896.0, 0.0, 0.0])
>>> qx, new_scale, new_history = quantize_dequantize_update(
...     x, jnp.float8_e4m3fn, scale, history, jnp.float32)
>>> new_scale, new_history      # 896 / 448 = 2; 100 is recorded at the front
(Array([2.], dtype=float32), Array([100.,   0., 896.], dtype=float32))
>>> qx                           # 100 / 2 = 50 -> 48 in e4m3 (3 mantissa bits)
Array([ 0.5, -3. , 96. ], dtype=float32)
"""

import jax.numpy as jnp
import numpy as np
from jax import lax

from nnjax.fp8.meta_dtype import fp32_max_grad, is_max_grad, to_float32

__all__ = [
    'FP8_DTYPES',
    'get_fp8_max',
    'quantize',
    'dequantize',
    'qdq',
    'compute_scale',
    'compute_amax_history',
    'update_fp8_meta',
    'quantize_dequantize_update',
]

#: The fp8 formats supported: OCP e4m3/e5m2 and the NANOO (``fnuz``) variants
#: some AMD GPUs use (no negative zero, no infinities, different bias).
FP8_DTYPES = tuple(np.dtype(t) for t in (jnp.float8_e4m3fn, jnp.float8_e5m2, jnp.float8_e4m3fnuz, jnp.float8_e5m2fnuz))


class _Fp8DtypeError(ValueError, AssertionError):
    """An unsupported fp8 dtype (an ``AssertionError`` too, as in the seed)."""


def get_fp8_max(fp8_dtype, out_dtype):
    """The largest finite value of ``fp8_dtype``, as a scalar of ``out_dtype``.

    >>> import jax.numpy as jnp
    >>> get_fp8_max(jnp.float8_e4m3fn, jnp.float32), get_fp8_max(jnp.float8_e5m2fnuz, jnp.float32)
    (Array(448., dtype=float32), Array(57344., dtype=float32))
    """
    try:
        ok = np.dtype(fp8_dtype) in FP8_DTYPES
    except TypeError:
        ok = False
    if not ok:
        raise _Fp8DtypeError(
            f'get_fp8_max: {fp8_dtype!r} is not an fp8 dtype; use one of {[d.name for d in FP8_DTYPES]}.'
        )
    return jnp.asarray(jnp.finfo(fp8_dtype).max, dtype=out_dtype)


def quantize(x, q_dtype, scale, compute_dtype):
    """``x / scale`` clipped to the finite range of ``q_dtype``, cast to it.

    The division and clipping happen in ``compute_dtype`` (the bounds are
    cast to it, so bfloat16 inputs stay in bfloat16). Clipping first makes
    out-of-range values saturate instead of becoming NaN/inf.

    >>> import jax.numpy as jnp
    >>> quantize(jnp.array([1.0, 1000.0]), jnp.float8_e4m3fn, jnp.ones(1), jnp.float32)
    Array([1, 448], dtype=float8_e4m3fn)
    """
    bound = get_fp8_max(q_dtype, compute_dtype)
    scaled = x / jnp.broadcast_to(scale.astype(compute_dtype), x.shape)
    return jnp.clip(scaled, -bound, bound).astype(q_dtype)


def dequantize(x, dq_dtype, scale):
    """``x`` cast to ``dq_dtype`` and multiplied by ``scale`` (broadcast).

    >>> import jax.numpy as jnp
    >>> dequantize(jnp.array([3.0], jnp.float8_e4m3fn), jnp.float32, jnp.array([0.5]))
    Array([1.5], dtype=float32)
    """
    return x.astype(dq_dtype) * jnp.broadcast_to(scale.astype(dq_dtype), x.shape)


def qdq(x, q_dtype, scale, compute_dtype):
    """Quantize then dequantize: ``x`` rounded to what ``q_dtype`` can hold.

    The result has ``x``'s dtype.

    >>> import jax.numpy as jnp
    >>> qdq(jnp.array([1.1, 17.0]), jnp.float8_e4m3fn, jnp.ones(1), jnp.float32)
    Array([ 1.125, 16.   ], dtype=float32)
    """
    return dequantize(quantize(x, q_dtype, scale, compute_dtype), x.dtype, scale)


def compute_scale(amax, scale, fp8_max, margin=0):
    """The scale that maps ``amax`` to ``fp8_max / 2**margin``.

    Computed as the reciprocal of ``(fp8_max / amax) / 2**margin`` (the
    multiplier convention of NVIDIA Transformer Engine, whose update rule this
    is). Where ``amax`` is zero or not finite there is nothing to learn from,
    and the old ``scale`` is kept (as ``1 / (1 / scale)``).

    >>> import jax.numpy as jnp
    >>> compute_scale(jnp.array([896.0, 0.0]), jnp.array([1.0, 3.0]), 448.0)
    Array([2., 3.], dtype=float32)
    """
    inverse_old = 1.0 / scale
    inverse_new = (fp8_max / amax) / (2**margin)
    inverse_new = jnp.where(amax > 0.0, inverse_new, inverse_old)
    inverse_new = jnp.where(jnp.isfinite(amax), inverse_new, inverse_old)
    return 1.0 / inverse_new


def compute_amax_history(x, amax_history):
    """``amax_history`` with ``max(|x|)`` written at index 0.

    The history is rolled one place towards the front first, so the former
    entry 0 moves to the end and the former entry 1 is dropped (the seed's
    order; only the maximum of the history is ever used, so the order
    matters only for which entry ages out).

    >>> import jax.numpy as jnp
    >>> compute_amax_history(jnp.array([-7.0, 2.0]), jnp.array([1.0, 2.0, 3.0]))
    Array([7., 3., 1.], dtype=float32)
    """
    amax = jnp.max(jnp.abs(x)).astype(amax_history.dtype)
    return jnp.roll(amax_history, shift=-1, axis=0).at[0].set(amax)


def update_fp8_meta(x, q_dtype, scale, amax_history):
    """``(new_scale, new_history)`` for quantizing ``x`` to ``q_dtype``.

    The new scale comes from the history *before* ``x`` is recorded (delayed
    scaling); ``x``'s amax is then added to the history. When both ``scale``
    and ``amax_history`` have the ``fp32_max_grad`` dtype, the math runs in
    float32 and the results get that dtype back.

    >>> import jax.numpy as jnp
    >>> update_fp8_meta(jnp.array([5.0]), jnp.float8_e4m3fn, jnp.ones(1), jnp.array([224.0, 0.0]))
    (Array([0.5], dtype=float32), Array([  5., 224.], dtype=float32))
    """
    max_grad = is_max_grad(scale) and is_max_grad(amax_history)
    if max_grad:
        scale, amax_history = to_float32(scale), to_float32(amax_history)
    fp8_max = get_fp8_max(q_dtype, jnp.float32)
    new_scale = compute_scale(jnp.max(amax_history, axis=0), scale, fp8_max)
    new_history = compute_amax_history(x, amax_history)
    if max_grad:
        new_scale = lax.convert_element_type(new_scale, fp32_max_grad)
        new_history = lax.convert_element_type(new_history, fp32_max_grad)
    return new_scale, new_history


def quantize_dequantize_update(x, q_dtype, scale, amax_history, compute_dtype):
    """``(qdq(x), new_scale, new_history)``: one delayed-scaling step.

    ``x`` is rounded with the *new* scale (see :func:`update_fp8_meta`).
    """
    new_scale, new_history = update_fp8_meta(x, q_dtype, scale, amax_history)
    return (qdq(x, q_dtype, to_float32(new_scale), compute_dtype), new_scale, new_history)
