"""The differentiation rules that put fp8 quantization into a dot product.

Two recipes, both with delayed scaling (see ``nnjax.fp8.scaling``):

* *Fake quantization* (``in_qdq``, ``out_qdq``, ``dot_general_with_precision``):
  the operands are rounded to fp8 and back (quantize-dequantize), and the
  product is computed in the compute dtype. XLA can pattern-match this into an
  fp8 matmul on hardware that has one.
* *Direct quantization* (``fp8_scaled_dot_general``, built from ``in_q``,
  ``out_dq`` and a quantized dot): the operands are cast to fp8, multiplied
  as fp8 with a wider accumulator, and the product is rescaled.

In both, the operands use e4m3 and the output gradient e5m2 (wider range,
fewer digits: gradients span more orders of magnitude). The scales and amax
histories go in as arguments, and their *cotangents* are their updated
values: ``jax.grad`` of the loss with respect to them returns what the next
step should use, so a train step overwrites them with their "gradient".
Derivatives with respect to the data pass straight through the rounding.

>>> import jax, jax.numpy as jnp
>>> x = jnp.array([1.1, -2.0])
>>> scale, history = jnp.ones((1,)), jnp.zeros((4,))
>>> loss = lambda x, s, h: (in_qdq(jnp.float32, jnp.float8_e4m3fn, x, s, h) ** 2).sum()
>>> dx, ds, dh = jax.grad(loss, argnums=(0, 1, 2))(x, scale, history)
>>> dx            # 2 * qdq(x): the rounding itself is treated as identity
Array([ 2.25, -4.  ], dtype=float32)
>>> ds, dh        # the new scale and the history with max|x| recorded
(Array([1.], dtype=float32), Array([2., 0., 0., 0.], dtype=float32))
"""

import warnings
from functools import partial

import jax.numpy as jnp
from jax import custom_jvp, custom_vjp, lax

from nnjax.fp8.meta_dtype import to_float32
from nnjax.fp8.scaling import dequantize, quantize, quantize_dequantize_update, update_fp8_meta

__all__ = [
    'in_qdq',
    'out_qdq',
    'in_q',
    'out_dq',
    'quantized_dot',
    'fp8_scaled_dot_general',
    'dot_general_with_precision',
    'dot_general_transpose_lhs',
    'dot_general_transpose_rhs',
]


# --- fake quantization -------------------------------------------------------


@partial(custom_vjp, nondiff_argnums=(0, 1))
def in_qdq(compute_dtype, q_dtype, inp, scale, amax_history):
    """``inp`` rounded to ``q_dtype`` with a delayed scale (forward only).

    Its VJP passes the cotangent of ``inp`` through unchanged and returns the
    updated scale and amax history as the cotangents of ``scale`` and
    ``amax_history``.
    """
    qin, _, _ = quantize_dequantize_update(inp, q_dtype, scale, amax_history, compute_dtype)
    return qin


def _in_qdq_fwd(compute_dtype, q_dtype, inp, scale, amax_history):
    qin, new_scale, new_history = quantize_dequantize_update(inp, q_dtype, scale, amax_history, compute_dtype)
    return qin, (new_scale, new_history)


def _in_qdq_bwd(compute_dtype, q_dtype, residuals, g):
    new_scale, new_history = residuals
    return g, new_scale, new_history


in_qdq.defvjp(_in_qdq_fwd, _in_qdq_bwd)


@partial(custom_vjp, nondiff_argnums=(0, 1))
def out_qdq(compute_dtype, q_dtype, out, scale, amax_history):
    """Identity on ``out``; its VJP rounds the incoming *gradient* to ``q_dtype``.

    The cotangents of ``scale`` and ``amax_history`` are their updated values,
    computed from the gradient.
    """
    return out


def _out_qdq_fwd(compute_dtype, q_dtype, out, scale, amax_history):
    return out, (scale, amax_history)


def _out_qdq_bwd(compute_dtype, q_dtype, residuals, g):
    scale, amax_history = residuals
    return quantize_dequantize_update(g, q_dtype, scale, amax_history, compute_dtype)


out_qdq.defvjp(_out_qdq_fwd, _out_qdq_bwd)


@partial(custom_jvp, nondiff_argnums=(2, 3, 4))
def dot_general_with_precision(lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None):
    """``lax.dot_general`` at DEFAULT precision forward, HIGHEST for derivatives.

    The forward product of already-rounded operands loses nothing at the
    default (possibly fp8/tf32) precision, while gradients need the full one.
    ``precision`` and ``preferred_element_type`` are fixed by this rule;
    passing either warns and has no effect.
    """
    if precision is not None or preferred_element_type is not None:
        warnings.warn(
            'dot_general_with_precision fixes the precision (DEFAULT forward, '
            'HIGHEST for derivatives) and the result dtype; the precision/'
            'preferred_element_type given are ignored.',
            stacklevel=2,
        )
    return lax.dot_general(lhs, rhs, dimension_numbers, precision=lax.Precision.DEFAULT)


@dot_general_with_precision.defjvp
def _dot_general_with_precision_jvp(dimension_numbers, precision, preferred_element_type, primals, tangents):
    lhs, rhs = primals
    lhs_dot, rhs_dot = tangents
    out = lax.dot_general(lhs, rhs, dimension_numbers, precision=lax.Precision.DEFAULT)
    highest = partial(lax.dot_general, dimension_numbers=dimension_numbers, precision=lax.Precision.HIGHEST)
    return out, highest(lhs_dot, rhs) + highest(lhs, rhs_dot)


# --- direct quantization -----------------------------------------------------


@partial(custom_vjp, nondiff_argnums=(0, 1))
def in_q(compute_dtype, q_dtype, inp, scale, amax_history):
    """``(fp8(inp / new_scale), new_scale)`` with a delayed scale.

    No derivative flows to ``inp`` through here (the quantized dot takes the
    unquantized operand separately for that); the cotangents of ``scale`` and
    ``amax_history`` are their updated values.
    """
    new_scale, _ = update_fp8_meta(inp, q_dtype, scale, amax_history)
    qin = quantize(inp, q_dtype, to_float32(new_scale), compute_dtype)
    return qin, new_scale


def _in_q_fwd(compute_dtype, q_dtype, inp, scale, amax_history):
    new_scale, new_history = update_fp8_meta(inp, q_dtype, scale, amax_history)
    qin = quantize(inp, q_dtype, to_float32(new_scale), compute_dtype)
    return (qin, new_scale), (new_scale, new_history)


def _in_q_bwd(compute_dtype, q_dtype, residuals, _):
    new_scale, new_history = residuals
    return None, new_scale, new_history


in_q.defvjp(_in_q_fwd, _in_q_bwd)


@partial(custom_vjp, nondiff_argnums=(0,))
def out_dq(dq_type, lhs_scale, rhs_scale, out):
    """``out`` as ``dq_type`` times ``lhs_scale * rhs_scale``.

    Its VJP hands the cotangent to ``out`` unscaled (the quantized dot's own
    rule rescales) and gives the scales no cotangent.
    """
    return dequantize(out, dq_type, to_float32(lhs_scale) * to_float32(rhs_scale))


def _out_dq_fwd(dq_type, lhs_scale, rhs_scale, out):
    return out_dq(dq_type, lhs_scale, rhs_scale, out), None


def _out_dq_bwd(dq_type, _, g):
    return None, None, g


out_dq.defvjp(_out_dq_fwd, _out_dq_bwd)


def _transpose_operand(
    g, other, dimension_numbers, own_ndim, other_ndim, own_is_lhs, precision, preferred_element_type
):
    """The cotangent of one ``dot_general`` operand, given ``g`` and the other.

    ``g`` is laid out as (batch, lhs free, rhs free). Contracting ``g``'s
    dims that belong to the other operand's free dims with those free dims
    gives (batch, own free dims, own contracted dims in the order of the
    other operand's sorted contracted axes); a transpose restores the
    operand's own axis order.
    """
    (lc, rc), (lb, rb) = dimension_numbers
    own_c, other_c = (lc, rc) if own_is_lhs else (rc, lc)
    own_b, other_b = (lb, rb) if own_is_lhs else (rb, lb)
    own_free = [d for d in range(own_ndim) if d not in own_c and d not in own_b]
    other_free = [d for d in range(other_ndim) if d not in other_c and d not in other_b]
    nb = len(own_b)
    lhs_free_n = len(own_free) if own_is_lhs else len(other_free)
    g_other_free = (
        range(nb + lhs_free_n, nb + lhs_free_n + len(other_free)) if own_is_lhs else range(nb, nb + len(other_free))
    )
    dims = ((tuple(g_other_free), tuple(other_free)), (tuple(range(nb)), tuple(other_b)))
    result = lax.dot_general(g, other, dims, precision=precision, preferred_element_type=preferred_element_type)
    # Position, in ``result``, of each axis of the operand.
    sorted_other_c = sorted(other_c)
    position = {}
    for i, d in enumerate(own_b):
        position[d] = i
    for j, d in enumerate(own_free):
        position[d] = nb + j
    for d_own, d_other in zip(own_c, other_c):
        position[d_own] = nb + len(own_free) + sorted_other_c.index(d_other)
    return lax.transpose(result, tuple(position[d] for d in range(own_ndim)))


def dot_general_transpose_lhs(g, x, y, *, dimension_numbers, precision, preferred_element_type=None):
    """Cotangent of ``x`` in ``lax.dot_general(x, y, dimension_numbers)``.

    >>> import jax.numpy as jnp
    >>> dot_general_transpose_lhs(jnp.ones((2, 3)), jnp.zeros((2, 4)),
    ...     jnp.ones((4, 3)), dimension_numbers=(((1,), (0,)), ((), ())),
    ...     precision=None).shape
    (2, 4)
    """
    return _transpose_operand(
        g, y, dimension_numbers, jnp.ndim(x), jnp.ndim(y), True, precision, preferred_element_type
    )


def dot_general_transpose_rhs(g, x, y, *, dimension_numbers, precision, preferred_element_type=None):
    """Cotangent of ``y`` in ``lax.dot_general(x, y, dimension_numbers)``."""
    return _transpose_operand(
        g, x, dimension_numbers, jnp.ndim(y), jnp.ndim(x), False, precision, preferred_element_type
    )


@partial(custom_vjp, nondiff_argnums=(8, 9))
def quantized_dot(
    lhs,
    q_lhs,
    lhs_scale,
    rhs,
    q_rhs,
    rhs_scale,
    out_grad_scale,
    out_grad_amax_history,
    dimension_numbers,
    preferred_element_type=None,
):
    """The fp8 product ``q_lhs . q_rhs`` (not yet rescaled).

    Its VJP quantizes the output gradient to e5m2 with the delayed
    ``out_grad_scale``, multiplies it with the *quantized* other operand, and
    rescales: the cotangents of ``lhs`` and ``rhs`` are the (dequantized)
    derivatives, those of ``out_grad_scale`` and ``out_grad_amax_history``
    their updated values; the quantized operands and their scales get none.
    """
    return lax.dot_general(
        q_lhs, q_rhs, dimension_numbers, preferred_element_type=preferred_element_type, precision=lax.Precision.DEFAULT
    )


def _quantized_dot_fwd(
    lhs,
    q_lhs,
    lhs_scale,
    rhs,
    q_rhs,
    rhs_scale,
    out_grad_scale,
    out_grad_amax_history,
    dimension_numbers,
    preferred_element_type,
):
    out = quantized_dot(
        lhs,
        q_lhs,
        lhs_scale,
        rhs,
        q_rhs,
        rhs_scale,
        out_grad_scale,
        out_grad_amax_history,
        dimension_numbers,
        preferred_element_type,
    )
    return out, (lhs, q_lhs, lhs_scale, rhs, q_rhs, rhs_scale, out_grad_scale, out_grad_amax_history)


def _quantized_dot_bwd(dimension_numbers, preferred_element_type, residuals, g):
    (lhs, q_lhs, lhs_scale, rhs, q_rhs, rhs_scale, grad_scale, grad_history) = residuals
    new_grad_scale, new_grad_history = update_fp8_meta(g, jnp.float8_e5m2, grad_scale, grad_history)
    grad_scale_f32 = to_float32(new_grad_scale)
    q_g = quantize(g, jnp.float8_e5m2, grad_scale_f32, preferred_element_type)
    common = dict(
        dimension_numbers=dimension_numbers,
        precision=lax.Precision.HIGHEST,
        preferred_element_type=preferred_element_type,
    )
    grad_lhs = dequantize(
        dot_general_transpose_lhs(q_g, lhs, q_rhs, **common),
        preferred_element_type,
        to_float32(rhs_scale) * grad_scale_f32,
    )
    grad_rhs = dequantize(
        dot_general_transpose_rhs(q_g, q_lhs, rhs, **common),
        preferred_element_type,
        to_float32(lhs_scale) * grad_scale_f32,
    )
    return (grad_lhs, None, None, grad_rhs, None, None, new_grad_scale, new_grad_history)


quantized_dot.defvjp(_quantized_dot_fwd, _quantized_dot_bwd)


def fp8_scaled_dot_general(
    lhs,
    rhs,
    dimension_numbers,
    precision=None,
    preferred_element_type=None,
    *,
    lhs_scale=None,
    rhs_scale=None,
    grad_scale=None,
    lhs_amax_history=None,
    rhs_amax_history=None,
    grad_amax_history=None,
    quantize_compute_type=jnp.float32,
):
    """``lax.dot_general`` computed in fp8 (direct quantization).

    Both operands are quantized to e4m3 with their delayed scales, multiplied
    with accumulation in ``preferred_element_type``, and rescaled by the
    product of the two scales. The output gradient is quantized to e5m2 with
    ``grad_scale``. The six scale/history arrays are required; their
    cotangents are their updated values. ``precision`` is fixed by the
    recipe; passing one warns and has no effect.

    >>> import jax.numpy as jnp
    >>> s, h = jnp.ones((1,)), jnp.zeros((8,))
    >>> fp8_scaled_dot_general(jnp.ones((2, 3)), jnp.full((3, 1), 0.5),
    ...     (((1,), (0,)), ((), ())), preferred_element_type=jnp.float32,
    ...     lhs_scale=s, rhs_scale=s, grad_scale=s, lhs_amax_history=h,
    ...     rhs_amax_history=h, grad_amax_history=h)
    Array([[1.5],
           [1.5]], dtype=float32)
    """
    meta = dict(
        lhs_scale=lhs_scale,
        rhs_scale=rhs_scale,
        grad_scale=grad_scale,
        lhs_amax_history=lhs_amax_history,
        rhs_amax_history=rhs_amax_history,
        grad_amax_history=grad_amax_history,
    )
    missing = sorted(k for k, v in meta.items() if v is None)
    if missing:
        raise TypeError(
            f'fp8_scaled_dot_general: missing {", ".join(missing)}; pass the '
            'scale (shape (1,)) and amax history of each operand and of the '
            'output gradient, e.g. from an Fp8DotGeneralBase module.'
        )
    if precision is not None:
        warnings.warn(
            'fp8_scaled_dot_general fixes the precision of its products; the precision given is ignored.', stacklevel=2
        )
    q_lhs, new_lhs_scale = in_q(quantize_compute_type, jnp.float8_e4m3fn, lhs, lhs_scale, lhs_amax_history)
    q_rhs, new_rhs_scale = in_q(quantize_compute_type, jnp.float8_e4m3fn, rhs, rhs_scale, rhs_amax_history)
    out = quantized_dot(
        lhs,
        q_lhs,
        new_lhs_scale,
        rhs,
        q_rhs,
        new_rhs_scale,
        grad_scale,
        grad_amax_history,
        dimension_numbers,
        preferred_element_type,
    )
    return out_dq(preferred_element_type, new_lhs_scale, new_rhs_scale, out)
