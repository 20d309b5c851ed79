"""Elementwise ``lax`` ops: arithmetic, math functions, comparisons, bits, selection, casts.

Each op checks its operands as ``jax.lax`` does (see
:mod:`nnref.lax._dtype_rules`: equal dtypes, Python scalars weak, the kinds
of dtype the op accepts) and then computes with NumPy or SciPy. Where XLA
defines a result that C and NumPy leave open, the XLA result is written out:
integer division rounds toward zero and ``x / 0`` is ``-1`` (all bits set),
shifts by at least the bit width give 0 (or the sign, arithmetically), and
float-to-integer conversion truncates, saturates and sends NaN to 0.

>>> import numpy as np
>>> div(np.array([7, -7], np.int32), np.array([2, 2], np.int32))
array([ 3, -3], dtype=int32)
>>> round(np.array([0.5, -2.5], np.float32))
array([ 1., -3.], dtype=float32)
>>> convert_element_type(np.array([1.7, np.nan, 3e9], np.float32), np.int32)
array([         1,          0, 2147483647], dtype=int32)
"""

from __future__ import annotations

import builtins
import enum

import numpy as np
import scipy.special

from nnref.lax import _dtype_rules as rules
from nnref.lax._dtype_rules import ANY, BOOL, COMPLEX, FLOAT, INEXACT, INTEGER, NUMBER, SIGNED, UNSIGNED


def _compute(fn, dtype, *arrays, out_dtype=None):
    """``fn`` on ``arrays`` in the compute dtype of ``dtype``, cast to ``out_dtype`` (default ``dtype``)."""
    work = rules.compute_dtype(dtype)
    with np.errstate(all='ignore'):  # XLA never warns; inf/nan results are the answer
        y = fn(*(a.astype(work, copy=False) for a in arrays))
    return np.asarray(y).astype(dtype if out_dtype is None else out_dtype, copy=False)


# ---------------------------------------------------------------------------
# unary math: one NumPy/SciPy function each
# ---------------------------------------------------------------------------


def _unary(name, fn, accepted, doc, accuracy=False, out_dtype=None):
    """A lax unary op ``name(x)`` (with jax's keyword-only ``accuracy`` where it has one)."""

    def apply(x):
        (a,), dtype = rules.same_dtype(name, x, accepted=accepted)
        return _compute(fn, dtype, a, out_dtype=None if out_dtype is None else out_dtype(dtype))

    if accuracy:

        def op(x, *, accuracy=None):
            del accuracy  # NumPy computes each function to its own (full) accuracy
            return apply(x)
    else:

        def op(x):
            return apply(x)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


def _real_part_dtype(dtype):
    return (
        np.dtype(np.float32) if dtype == np.complex64 else (np.dtype(np.float64) if dtype == np.complex128 else dtype)
    )


def _complex_dtype(dtype):
    return np.dtype(np.complex128) if dtype in (np.float64, np.complex128) else np.dtype(np.complex64)


def _rsqrt(x):
    return 1 / np.sqrt(x)


def _logistic(x):
    if np.iscomplexobj(x):
        return 1 / (1 + np.exp(-x))
    return scipy.special.expit(x)  # branches on the sign of x: no overflow


def _sign(x):
    if np.iscomplexobj(x):
        magnitude = np.abs(x)
        return np.where(magnitude == 0, 0, x / np.where(magnitude == 0, 1, magnitude))
    return np.sign(x)


abs = _unary(
    'abs',
    np.abs,
    (SIGNED, FLOAT, COMPLEX),
    'Absolute value ``|x|``; complex gives its real dtype.',
    out_dtype=_real_part_dtype,
)
neg = _unary('neg', np.negative, NUMBER, 'Negation ``-x`` (unsigned integers wrap).')
sign = _unary(
    'sign', _sign, NUMBER, '-1, 0 or 1 by the sign of ``x`` (signed zeros and NaN kept); ``x/|x|`` for complex.'
)
floor = _unary('floor', np.floor, (FLOAT,), 'Round down to an integer value.')
ceil = _unary('ceil', np.ceil, (FLOAT,), 'Round up to an integer value.')
is_finite = _unary(
    'is_finite',
    np.isfinite,
    (FLOAT,),
    'True where ``x`` is neither infinite nor NaN.',
    out_dtype=lambda _: np.dtype(np.bool_),
)
exp = _unary('exp', np.exp, INEXACT, '``e ** x``.', accuracy=True)
exp2 = _unary('exp2', np.exp2, INEXACT, '``2 ** x``.', accuracy=True)
log = _unary('log', np.log, INEXACT, 'Natural logarithm.', accuracy=True)
log1p = _unary('log1p', np.log1p, INEXACT, '``log(1 + x)``, accurate near 0.', accuracy=True)
expm1 = _unary('expm1', np.expm1, INEXACT, '``exp(x) - 1``, accurate near 0.', accuracy=True)
tanh = _unary('tanh', np.tanh, INEXACT, 'Hyperbolic tangent.', accuracy=True)
logistic = _unary('logistic', _logistic, INEXACT, 'The logistic sigmoid ``1 / (1 + exp(-x))``.', accuracy=True)
sin = _unary('sin', np.sin, INEXACT, 'Sine.', accuracy=True)
cos = _unary('cos', np.cos, INEXACT, 'Cosine.', accuracy=True)
tan = _unary('tan', np.tan, INEXACT, 'Tangent.', accuracy=True)
sqrt = _unary('sqrt', np.sqrt, INEXACT, 'Square root (NaN below 0).', accuracy=True)
rsqrt = _unary('rsqrt', _rsqrt, INEXACT, 'Reciprocal square root ``1 / sqrt(x)``.', accuracy=True)
cbrt = _unary('cbrt', np.cbrt, (FLOAT,), 'Cube root (defined for negative ``x``).', accuracy=True)
asin = _unary('asin', np.arcsin, INEXACT, 'Inverse sine.')
acos = _unary('acos', np.arccos, INEXACT, 'Inverse cosine.')
atan = _unary('atan', np.arctan, INEXACT, 'Inverse tangent.')
sinh = _unary('sinh', np.sinh, INEXACT, 'Hyperbolic sine.')
cosh = _unary('cosh', np.cosh, INEXACT, 'Hyperbolic cosine.')
asinh = _unary('asinh', np.arcsinh, INEXACT, 'Inverse hyperbolic sine.')
acosh = _unary('acosh', np.arccosh, INEXACT, 'Inverse hyperbolic cosine.')
atanh = _unary('atanh', np.arctanh, INEXACT, 'Inverse hyperbolic tangent.')
erf = _unary('erf', scipy.special.erf, (FLOAT,), 'The error function.')
erfc = _unary('erfc', scipy.special.erfc, (FLOAT,), '``1 - erf(x)``, accurate where erf is near 1.')
erf_inv = _unary('erf_inv', scipy.special.erfinv, (FLOAT,), 'Inverse of ``erf`` on (-1, 1); +-inf at +-1.')
lgamma = _unary('lgamma', scipy.special.gammaln, (FLOAT,), '``log |Gamma(x)|``.')
digamma = _unary('digamma', scipy.special.psi, (FLOAT,), 'The digamma function ``d/dx log Gamma(x)``.')
square = _unary('square', np.square, NUMBER, '``x * x``.')
bitwise_not = _unary('bitwise_not', np.invert, (BOOL, SIGNED, UNSIGNED), 'Bitwise (logical, for bool) NOT.')
real = _unary('real', np.real, (COMPLEX,), 'Real part of a complex ``x``.', out_dtype=_real_part_dtype)
imag = _unary('imag', np.imag, (COMPLEX,), 'Imaginary part of a complex ``x``.', out_dtype=_real_part_dtype)
_conj = _unary('conj', np.conj, INEXACT, '', out_dtype=_complex_dtype)


def _check_complex_part(op, *xs):
    """lax builds complex numbers from float32/float64 only (no half-precision parts)."""
    for x in xs:
        a = rules.operand(x)
        if rules.kind(a.dtype) == FLOAT and a.dtype.itemsize < 4:
            raise TypeError(
                f'nnref.lax.{op} does not accept dtype {a.dtype}, as jax.lax.{op} does not; '
                'complex parts are float32 or float64.'
            )


def conj(x):
    """Complex conjugate; a float32/float64 ``x`` gives a complex result.

    >>> import numpy as np
    >>> conj(np.array([1 + 2j], np.complex64))
    array([1.-2.j], dtype=complex64)
    """
    _check_complex_part('conj', x)
    return _conj(x)


class RoundingMethod(enum.IntEnum):
    """How :func:`round` breaks ties: ``AWAY_FROM_ZERO`` (lax's default) or ``TO_NEAREST_EVEN``."""

    AWAY_FROM_ZERO = 0
    TO_NEAREST_EVEN = 1


def _round_away_from_zero(x):
    whole = np.trunc(x)
    # x - trunc(x) is exact, so the tie test sees the true fraction.
    return np.where(np.abs(x - whole) >= 0.5, whole + np.sign(x), whole)


def round(x, rounding_method=RoundingMethod.AWAY_FROM_ZERO):  # noqa: A001 (lax's name)
    """Round to the nearest integer value; ties as ``rounding_method`` says.

    >>> import numpy as np
    >>> round(np.array([0.5, 1.5, 2.5], np.float32), RoundingMethod.TO_NEAREST_EVEN)
    array([0., 2., 2.], dtype=float32)
    """
    method = RoundingMethod(rounding_method)
    fn = np.rint if method == RoundingMethod.TO_NEAREST_EVEN else _round_away_from_zero
    (a,), dtype = rules.same_dtype('round', x, accepted=(FLOAT,))
    return _compute(fn, dtype, a)


# ---------------------------------------------------------------------------
# binary arithmetic
# ---------------------------------------------------------------------------


def _binary(name, fn, accepted, doc, out_dtype=None):
    """A lax binary op ``name(x, y)`` on operands of one dtype."""

    def op(x, y):
        (a, b), dtype = rules.same_dtype(name, x, y, accepted=accepted)
        return _compute(fn, dtype, a, b, out_dtype=None if out_dtype is None else out_dtype(dtype))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


def _int_div(x, y):
    """C-style division (toward zero) with XLA's answers for ``/ 0`` and ``MIN / -1``."""
    zero = y == 0
    safe_y = np.where(zero, 1, y)
    if x.dtype.kind == 'i':
        overflow = (x == np.iinfo(x.dtype).min) & (y == -1)
        safe_y = np.where(overflow, 1, safe_y)  # MIN / -1 wraps to MIN: dividing by 1 gives that
    quotient = x // safe_y
    # floor division rounds down; step back toward zero where the signs differ
    inexact = quotient * safe_y != x
    quotient = np.where(inexact & ((x < 0) != (safe_y < 0)), quotient + 1, quotient)
    all_bits = np.array(-1).astype(x.dtype)  # -1 signed, the maximum unsigned
    return np.where(zero, all_bits, quotient).astype(x.dtype, copy=False)


def _div(x, y):
    if x.dtype.kind in 'iu':
        return _int_div(x, y)
    return np.true_divide(x, y)


def _rem(x, y):
    if x.dtype.kind in 'iu':
        # x - trunc(x / y) * y; x % 0 is x in XLA
        return np.where(y == 0, x, x - _int_div(x, y) * np.where(y == 0, 1, y)).astype(x.dtype, copy=False)
    return np.fmod(x, y)  # the sign of the dividend, as C's fmod


add = _binary('add', np.add, NUMBER, '``x + y`` (integers wrap).')
sub = _binary('sub', np.subtract, NUMBER, '``x - y`` (integers wrap).')
div = _binary('div', _div, NUMBER, '``x / y``; integers round toward zero, and ``x / 0`` is -1 (all bits set).')
rem = _binary(
    'rem',
    _rem,
    (SIGNED, UNSIGNED, FLOAT),
    'Remainder with the sign of ``x`` (C fmod); ``x rem 0`` is ``x`` for integers.',
)
max = _binary('max', np.maximum, ANY, 'Elementwise maximum; NaN wins.')  # noqa: A001 (lax's name)
min = _binary('min', np.minimum, ANY, 'Elementwise minimum; NaN wins.')  # noqa: A001 (lax's name)
atan2 = _binary(
    'atan2', np.arctan2, (FLOAT,), '``atan2(x, y)``: the angle of ``x / y`` in [-pi, pi], its quadrant from both signs.'
)
_nextafter = _binary('nextafter', np.nextafter, (FLOAT,), '')


def nextafter(x1, x2):
    """The next representable value after ``x1`` in the direction of ``x2``.

    >>> import numpy as np
    >>> nextafter(np.float32(1), np.float32(2)) - 1 == np.finfo(np.float32).eps
    np.True_
    """
    return _nextafter(x1, x2)


def mul(x, y, *, out_dtype=None):
    """``x * y``; with ``out_dtype`` the operands are converted to it first.

    >>> import numpy as np
    >>> mul(np.array([3], np.int32), np.array([4], np.int32), out_dtype=np.float32)
    array([12.], dtype=float32)
    """
    (a, b), dtype = rules.same_dtype('mul', x, y, accepted=NUMBER)
    if out_dtype is not None:
        dtype = rules.requested_dtype(out_dtype, like=dtype)
        a, b = convert_element_type(a, dtype), convert_element_type(b, dtype)
    return _compute(np.multiply, dtype, a, b)


def pow(x, y):  # noqa: A001 (lax's name)
    """``x ** y`` for an inexact ``x``; ``y`` is an integer array or of ``x``'s dtype.

    >>> import numpy as np
    >>> pow(np.array([2.0, -2.0], np.float32), np.array([3, 3], np.int32))
    array([ 8., -8.], dtype=float32)
    """
    a, b = rules.operand(x), rules.operand(y)
    if (
        rules.kind(a.dtype) not in INEXACT
        or rules.kind(b.dtype) not in INTEGER + INEXACT
        or (rules.kind(b.dtype) in INEXACT and rules.canonical(a.dtype) != rules.canonical(b.dtype))
    ):
        raise TypeError(
            f'nnref.lax.pow takes an inexact (float or complex) x and a y that is an integer or of '
            f"x's dtype, as jax.lax.pow does; got {a.dtype} and {b.dtype}."
        )
    typed = [v.dtype for v, orig in ((a, x), (b, y)) if not rules.is_weak(orig) and rules.kind(v.dtype) in INEXACT]
    dtype = builtins.max(typed, key=lambda d: d.itemsize) if typed else a.dtype
    # An integer exponent is exact in the base's type for any exponent a model uses.
    return _compute(np.power, dtype, a.astype(dtype, copy=False), b.astype(dtype))


def integer_pow(x, y):
    """``x ** y`` for a Python int ``y`` (integers take only ``y >= 0``).

    >>> import numpy as np
    >>> integer_pow(np.array([2.0, 3.0], np.float32), -2)
    array([0.25      , 0.11111111], dtype=float32)
    """
    (a,), dtype = rules.same_dtype('integer_pow', x, accepted=NUMBER)
    y = int(y)
    if y < 0 and rules.kind(dtype) in INTEGER:
        raise TypeError(f'nnref.lax.integer_pow: integers cannot be raised to negative powers, got {dtype} ** {y}.')
    if y == 0:
        return np.ones(a.shape, dtype)
    if rules.kind(dtype) in INTEGER:
        return np.power(a, np.asarray(y, dtype)).astype(dtype)  # wraps as XLA's repeated products do
    return _compute(lambda v: np.power(v, np.asarray(y, v.dtype)), dtype, a)


def reciprocal(x):
    """``1 / x`` (``integer_pow(x, -1)``: integers are rejected).

    >>> import numpy as np
    >>> reciprocal(np.array([4.0], np.float32))
    array([0.25], dtype=float32)
    """
    return integer_pow(x, -1)


def complex(x, y):  # noqa: A001 (lax's name)
    """``x + 1j * y`` from two float arrays of one dtype.

    >>> import numpy as np
    >>> complex(np.float32(1), np.float32(2))
    array(1.+2.j, dtype=complex64)
    """
    (a, b), dtype = rules.same_dtype('complex', x, y, accepted=(FLOAT,))
    _check_complex_part('complex', a)
    out = _complex_dtype(dtype)
    return np.asarray(a.astype(out) + 1j * b.astype(out)).astype(out, copy=False)


# ---------------------------------------------------------------------------
# comparisons and bitwise ops
# ---------------------------------------------------------------------------


def _BOOL_OUT(_):
    return np.dtype(np.bool_)


_ORDERED = (BOOL, SIGNED, UNSIGNED, FLOAT)
eq = _binary('eq', np.equal, ANY, '``x == y``.', out_dtype=_BOOL_OUT)
ne = _binary('ne', np.not_equal, ANY, '``x != y`` (True where either is NaN).', out_dtype=_BOOL_OUT)
lt = _binary('lt', np.less, _ORDERED, '``x < y``.', out_dtype=_BOOL_OUT)
le = _binary('le', np.less_equal, _ORDERED, '``x <= y``.', out_dtype=_BOOL_OUT)
gt = _binary('gt', np.greater, _ORDERED, '``x > y``.', out_dtype=_BOOL_OUT)
ge = _binary('ge', np.greater_equal, _ORDERED, '``x >= y``.', out_dtype=_BOOL_OUT)
_BITS = (BOOL, SIGNED, UNSIGNED)
bitwise_and = _binary('bitwise_and', np.bitwise_and, _BITS, 'Bitwise (logical, for bool) AND.')
bitwise_or = _binary('bitwise_or', np.bitwise_or, _BITS, 'Bitwise (logical, for bool) OR.')
bitwise_xor = _binary('bitwise_xor', np.bitwise_xor, _BITS, 'Bitwise (logical, for bool) XOR.')


def _unsigned(dtype):
    return np.dtype(f'uint{8 * dtype.itemsize}')


def _signed(dtype):
    return np.dtype(f'int{8 * dtype.itemsize}')


def _shift_amounts(x, y):
    """``(amount, in_range)``: shift counts read as unsigned, as XLA reads them."""
    amount = y.view(_unsigned(y.dtype))
    return amount, amount < 8 * x.dtype.itemsize


def _shift_left(x, y):
    amount, ok = _shift_amounts(x, y)
    bits = x.view(_unsigned(x.dtype))
    shifted = np.left_shift(bits, np.where(ok, amount, 0).astype(bits.dtype))
    return np.where(ok, shifted, 0).astype(bits.dtype).view(x.dtype)


def _shift_right_logical(x, y):
    amount, ok = _shift_amounts(x, y)
    bits = x.view(_unsigned(x.dtype))
    shifted = np.right_shift(bits, np.where(ok, amount, 0).astype(bits.dtype))
    return np.where(ok, shifted, 0).astype(bits.dtype).view(x.dtype)


def _shift_right_arithmetic(x, y):
    amount, ok = _shift_amounts(x, y)
    signed = x.view(_signed(x.dtype))
    # shifting by width - 1 leaves only copies of the sign bit, as any larger shift does
    amount = np.where(ok, amount, 8 * x.dtype.itemsize - 1).astype(signed.dtype)
    return np.right_shift(signed, amount).view(x.dtype)


def _as_array_op(fn):
    return lambda x, y: fn(np.asarray(x), np.asarray(y))


shift_left = _binary(
    'shift_left',
    _as_array_op(_shift_left),
    INTEGER,
    '``x << y``; 0 where ``y`` is at least the bit width (or negative).',
)
shift_right_logical = _binary(
    'shift_right_logical',
    _as_array_op(_shift_right_logical),
    INTEGER,
    '``x >> y`` filling with zeros; 0 where ``y`` is out of range.',
)
shift_right_arithmetic = _binary(
    'shift_right_arithmetic', _as_array_op(_shift_right_arithmetic), INTEGER, '``x >> y`` filling with the sign bit.'
)


# ---------------------------------------------------------------------------
# selection
# ---------------------------------------------------------------------------


def select_n(which, *cases):
    """``cases[which]`` elementwise: ``which`` is bool (two cases at most) or an integer.

    ``which`` is a scalar or has the cases' shape; the cases share one shape
    and dtype. Out-of-range indices pick the nearest case (lax leaves them
    undefined).

    >>> import numpy as np
    >>> select_n(np.array([0, 2, 1], np.int32), np.zeros(3), np.ones(3), np.full(3, 2.0))
    array([0., 2., 1.])
    """
    if not cases:
        raise ValueError('nnref.lax.select_n needs at least one case.')
    arrays, dtype = rules.same_dtype('select_n', *cases)
    w = rules.operand(which)
    if rules.kind(w.dtype) not in (BOOL,) + INTEGER:
        raise TypeError(f'nnref.lax.select_n: `which` must be boolean or integer, as in jax.lax; got {w.dtype}.')
    if w.dtype == np.bool_ and len(cases) > 2:
        raise TypeError('nnref.lax.select_n: a boolean `which` cannot choose among more than 2 cases.')
    if len({a.shape for a in arrays}) != 1:
        raise TypeError(f'nnref.lax.select_n: cases must have the same shapes, got {[a.shape for a in arrays]}.')
    shape = arrays[0].shape
    if w.shape not in ((), shape):
        raise TypeError(
            f'nnref.lax.select_n: `which` must be scalar or have the same shape as cases, '
            f'got `which` shape {w.shape} but case shape {shape}.'
        )
    index = np.clip(w.astype(np.int64), 0, len(cases) - 1)
    out = arrays[0]
    for i, case in enumerate(arrays[1:], start=1):
        out = np.where(index == i, case, out)
    return np.array(out, dtype=dtype)


def select(pred, on_true, on_false):
    """``on_true`` where ``pred``, else ``on_false`` (``select_n(pred, on_false, on_true)``).

    >>> import numpy as np
    >>> select(np.array([True, False]), np.ones(2, np.float32), np.zeros(2, np.float32))
    array([1., 0.], dtype=float32)
    """
    return select_n(pred, on_false, on_true)


def clamp(min, x, max):  # noqa: A002 (lax's names)
    """``x`` limited to ``[min, max]``; the bounds are scalars or of ``x``'s shape, all of one dtype.

    >>> import numpy as np
    >>> clamp(np.float32(0), np.array([-1.0, 0.5, 2.0], np.float32), np.float32(1))
    array([0. , 0.5, 1. ], dtype=float32)
    """
    (lo, a, hi), dtype = rules.same_dtype('clamp', min, x, max, accepted=_ORDERED)
    for name, bound in (('min', lo), ('max', hi)):
        if bound.shape not in ((), a.shape):
            raise TypeError(
                f'nnref.lax.clamp requires {name}.shape == operand.shape or {name}.shape == (), '
                f'got {name}.shape={bound.shape}, operand.shape={a.shape}.'
            )
    return _compute(lambda lo_, a_, hi_: np.minimum(np.maximum(a_, lo_), hi_), dtype, lo, a, hi)


# ---------------------------------------------------------------------------
# conversions
# ---------------------------------------------------------------------------


def _float_to_int(x, dtype):
    """Truncate toward zero, saturate at the type's bounds, NaN to 0: XLA's conversion."""
    info = np.iinfo(dtype)
    x = x.astype(np.float64) if x.dtype.itemsize < 8 else x
    whole = np.trunc(x)
    # Powers of two are exact in every float type, so these bounds compare exactly.
    over = whole >= 2.0 ** (8 * dtype.itemsize - (1 if info.min < 0 else 0))
    under = whole < float(info.min)
    bad = over | under | np.isnan(whole)
    out = np.where(bad, 0, whole).astype(dtype)
    out = np.where(over, info.max, out)
    return np.where(under, info.min, out).astype(dtype, copy=False)


def convert_element_type(operand, new_dtype):
    """``operand`` cast to ``new_dtype`` with XLA's conversion rules.

    Floats to integers truncate toward zero, saturate and send NaN to 0;
    complex to real keeps the real part; anything to bool is ``!= 0``.
    Python's ``float``/``int`` mean float32/int32, or float64/int64 for a
    64-bit operand.

    >>> import numpy as np
    >>> convert_element_type(np.array([-1.7, 300.0], np.float32), np.uint8)
    array([  0, 255], dtype=uint8)
    """
    a = rules.operand(operand)
    dtype = rules.requested_dtype(new_dtype, like=a.dtype)
    src, dst = rules.kind(a.dtype), rules.kind(dtype)
    if src == COMPLEX and dst != COMPLEX:
        a = np.real(a)
        src = FLOAT
    if dst == BOOL:
        return np.asarray(a != 0)
    if src == FLOAT and dst in INTEGER:
        return np.asarray(_float_to_int(a.astype(rules.compute_dtype(a.dtype), copy=False), dtype))
    with np.errstate(all='ignore'):
        return np.asarray(a.astype(dtype))


def bitcast_convert_type(operand, new_dtype):
    """The bits of ``operand`` read as ``new_dtype``.

    A narrower type adds a trailing axis (one entry per piece, in memory
    order); a wider one consumes a trailing axis of that many pieces.

    >>> import numpy as np
    >>> bitcast_convert_type(np.array([1.0], np.float32), np.int32)
    array([1065353216], dtype=int32)
    """
    a = np.ascontiguousarray(rules.operand(operand))
    dtype = rules.requested_dtype(new_dtype, like=a.dtype)
    if (
        BOOL in (rules.kind(a.dtype), rules.kind(dtype)) or COMPLEX in (rules.kind(a.dtype), rules.kind(dtype))
    ) and a.dtype != dtype:
        raise TypeError(
            f'nnref.lax.bitcast_convert_type does not convert bool or complex values to another type, '
            f'as jax.lax does not; got {a.dtype} -> {dtype}.'
        )
    size_in, size_out = a.dtype.itemsize, dtype.itemsize
    if size_in == size_out:
        return a.view(dtype)
    if size_out < size_in:
        return a.reshape(a.shape + (1,)).view(dtype).reshape(a.shape + (size_in // size_out,))
    ratio = size_out // size_in
    if a.ndim == 0 or a.shape[-1] != ratio:
        raise ValueError(
            f'nnref.lax.bitcast_convert_type: converting {a.dtype} to the wider {dtype} needs a last '
            f'axis of {ratio} pieces, got shape {a.shape}.'
        )
    return a.view(dtype).reshape(a.shape[:-1])
