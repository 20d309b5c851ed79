"""``nnref.lax``: the part of ``jax.lax`` that model code commonly uses, in NumPy.

Same names, signatures and semantics as ``jax.lax``, computed eagerly on
NumPy arrays, so model code written with ``jax.lax`` runs on nnref when its
``lax`` is bound to this module (as ``nnjax.debug.compare`` does):

* elementwise math, comparisons, bitwise ops, ``select``/``clamp``, casts
  (:mod:`nnref.lax._elementwise`);
* shapes: reshape, broadcast, pad, static and dynamic slices, iota, full
  (:mod:`nnref.lax._shapes`);
* reductions, cumulative ops, ``reduce``, ``reduce_window``, argmax/argmin
  (:mod:`nnref.lax._reductions`); ``sort``, ``top_k`` (:mod:`nnref.lax._sorting`);
* ``dot_general`` and friends, ``Precision`` (:mod:`nnref.lax._dot`);
  convolutions (:mod:`nnref.lax._convolution`);
* control flow run eagerly: ``fori_loop``, ``while_loop``, ``scan``,
  ``map``, ``associative_scan``, ``cond``, ``switch``
  (:mod:`nnref.lax._control_flow`);
* ``stop_gradient`` and the compiler-only identities (:mod:`nnref.lax._identities`).

Dtype rules are lax's, not NumPy's: binary ops need operands of one dtype
(Python numbers are weak), each op takes only the kinds of dtype lax takes,
and a mismatch raises TypeError naming the op and the dtypes. One deliberate
difference: 64-bit dtypes count as their 32-bit partners (as under JAX's
default ``jax_enable_x64=False``, which reads float64 input as float32), but
keep their 64 bits, so a float64 reference run stays float64.

Any other ``jax.lax`` name raises AttributeError saying so: write that piece
with ``nnref.numpy``, or ask for it to be added.

>>> import numpy as np
>>> from nnref import lax
>>> x = np.array([[1.0, -2.0], [3.0, 4.0]], np.float32)
>>> lax.reduce_max(lax.abs(x), (1,))
array([2., 4.], dtype=float32)
>>> lax.add(x, np.ones(2, np.int32))
Traceback (most recent call last):
...
TypeError: nnref.lax.add requires arguments of the same dtype, as jax.lax.add does; got float32, int32. Convert one with lax.convert_element_type, or use nnref.numpy's promoting functions.
>>> lax.psum
Traceback (most recent call last):
...
AttributeError: nnref.lax has no `psum`: the NumPy reference implements the subset of jax.lax that model code commonly uses (elementwise math, comparisons, casts, shapes and slicing, reductions, sorting, dot_general, convolutions, reduce_window, control flow). Write `psum` with nnref.numpy, or open an issue to add it.
"""

from nnref.lax._control_flow import associative_scan, cond, fori_loop, map, scan, switch, while_loop  # noqa: A004
from nnref.lax._convolution import (
    ConvDimensionNumbers,
    conv,
    conv_dimension_numbers,
    conv_general_dilated,
    conv_general_dilated_local,
    conv_transpose,
    conv_with_general_padding,
    padtype_to_pads,
)
from nnref.lax._dot import DotAlgorithmPreset, Precision, batch_matmul, dot, dot_general
from nnref.lax._elementwise import (  # noqa: A004 (lax shadows abs, max, min, pow, round, complex)
    RoundingMethod,
    abs,
    acos,
    acosh,
    add,
    asin,
    asinh,
    atan,
    atan2,
    atanh,
    bitcast_convert_type,
    bitwise_and,
    bitwise_not,
    bitwise_or,
    bitwise_xor,
    cbrt,
    ceil,
    clamp,
    complex,
    conj,
    convert_element_type,
    cos,
    cosh,
    digamma,
    div,
    eq,
    erf,
    erf_inv,
    erfc,
    exp,
    exp2,
    expm1,
    floor,
    ge,
    gt,
    imag,
    integer_pow,
    is_finite,
    le,
    lgamma,
    log,
    log1p,
    logistic,
    lt,
    max,
    min,
    mul,
    ne,
    neg,
    nextafter,
    pow,
    real,
    reciprocal,
    rem,
    round,
    rsqrt,
    select,
    select_n,
    shift_left,
    shift_right_arithmetic,
    shift_right_logical,
    sign,
    sin,
    sinh,
    sqrt,
    square,
    sub,
    tan,
    tanh,
)
from nnref.lax._identities import optimization_barrier, stop_gradient, with_sharding_constraint
from nnref.lax._reductions import (
    argmax,
    argmin,
    cumlogsumexp,
    cummax,
    cummin,
    cumprod,
    cumsum,
    reduce,
    reduce_and,
    reduce_max,
    reduce_min,
    reduce_or,
    reduce_prod,
    reduce_sum,
    reduce_window,
    reduce_xor,
)
from nnref.lax._shapes import (  # noqa: A004 (lax's slice)
    broadcast,
    broadcast_in_dim,
    broadcast_shapes,
    broadcast_to_rank,
    broadcasted_iota,
    collapse,
    concatenate,
    dynamic_index_in_dim,
    dynamic_slice,
    dynamic_slice_in_dim,
    dynamic_update_index_in_dim,
    dynamic_update_slice,
    dynamic_update_slice_in_dim,
    expand_dims,
    full,
    full_like,
    index_in_dim,
    iota,
    pad,
    reshape,
    rev,
    slice,
    slice_in_dim,
    split,
    squeeze,
    transpose,
)
from nnref.lax._sorting import sort, sort_key_val, top_k

#: Every public name, for ``dir()`` and for the error message's readers.
__all__ = sorted(name for name in list(globals()) if not name.startswith('_'))

_AREAS = (
    'elementwise math, comparisons, casts, shapes and slicing, reductions, sorting, dot_general, '
    'convolutions, reduce_window, control flow'
)


def __getattr__(name):
    """Any name this module lacks: an AttributeError that says what nnref.lax covers."""
    if name.startswith('__'):  # Python's own protocol lookups (__path__, __wrapped__...)
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    raise AttributeError(
        f'nnref.lax has no `{name}`: the NumPy reference implements the subset of jax.lax that model code '
        f'commonly uses ({_AREAS}). Write `{name}` with nnref.numpy, or open an issue to add it.'
    )
