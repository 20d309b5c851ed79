"""Dtype facts the samplers need, covering ml_dtypes' bfloat16 and float8.

NumPy alone does not know that bfloat16 is a float (its ``kind`` is ``'V'``),
so the samplers ask here instead of looking at ``dtype.kind``.

>>> import ml_dtypes, numpy as np
>>> is_floating(ml_dtypes.bfloat16), is_floating(np.int32)
(True, False)
>>> finfo(ml_dtypes.bfloat16).nmant
7
"""

import ml_dtypes
import numpy as np

__all__ = ["is_floating", "finfo", "uint_dtype", "nextafter_toward"]

_ML_FLOATS = frozenset(
    np.dtype(getattr(ml_dtypes, name))
    for name in ("bfloat16", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e4m3b11fnuz", "float8_e5m2", "float8_e5m2fnuz")
    if hasattr(ml_dtypes, name)
)

_UINTS = {8: np.dtype(np.uint8), 16: np.dtype(np.uint16), 32: np.dtype(np.uint32), 64: np.dtype(np.uint64)}


def is_floating(dtype):
    """True for real floating dtypes, including ml_dtypes' ones.

    >>> is_floating(np.float16), is_floating(np.complex64)
    (True, False)
    """
    dtype = np.dtype(dtype)
    return dtype.kind == "f" or dtype in _ML_FLOATS


def finfo(dtype):
    """``finfo`` that also knows bfloat16 and float8.

    >>> finfo(np.float32).bits
    32
    """
    return ml_dtypes.finfo(np.dtype(dtype))


def uint_dtype(bits):
    """The unsigned integer dtype with ``bits`` bits (8, 16, 32 or 64).

    >>> uint_dtype(16)
    dtype('uint16')
    """
    return _UINTS[bits]


def nextafter_toward(x, up):
    """The neighbour of each element of ``x`` toward +inf (``up``) or -inf.

    Works on the bit pattern, so it serves bfloat16 too, which
    ``np.nextafter`` does not. Infinities toward themselves and NaN stay.

    >>> nextafter_toward(np.float32(1.0), up=True) - np.float32(1.0)
    np.float32(1.1920929e-07)
    >>> nextafter_toward(np.float32(0.0), up=False)
    np.float32(-1e-45)
    """
    x = np.asarray(x)
    udt = uint_dtype(x.dtype.itemsize * 8)
    bits = np.atleast_1d(x).view(udt).copy()
    xf = np.atleast_1d(x).astype(np.float64)
    sign_bit = udt.type(1) << udt.type(x.dtype.itemsize * 8 - 1)
    zero = xf == 0
    # Away from zero is +1 on the magnitude bits; toward zero is -1.
    away = (xf > 0) if up else (xf < 0)
    toward = ~away & ~zero
    bits[away] += udt.type(1)
    bits[toward] -= udt.type(1)
    # From either zero the step lands on the smallest subnormal of that sign.
    bits[zero] = udt.type(1) if up else (sign_bit | udt.type(1))
    keep = np.isnan(xf) | (np.isinf(xf) & ((xf > 0) == up))
    bits[keep] = np.atleast_1d(x).view(udt)[keep]
    out = bits.view(x.dtype).reshape(x.shape)
    return out[()] if out.ndim == 0 else out
