"""dtype rules of layers: JAX's promotion lattice, not NumPy's.

NumPy promotes ``int32 + float32`` to float64; JAX (and so the seed system)
gives float32: an integer joined with a float type is that float type, and
``float16 + bfloat16`` is float32. Layers compute in
``canonicalize_dtype(inputs, params..., dtype=self.dtype)``.

>>> import numpy as np
>>> result_type(np.int32, np.float32)
dtype('float32')
>>> canonicalize_dtype(np.ones(2, np.int32), None)
dtype('float32')
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

bfloat16 = np.dtype(ml_dtypes.bfloat16)

_FLOATS = [np.dtype(np.float16), bfloat16, np.dtype(np.float32), np.dtype(np.float64)]
_COMPLEX = [np.dtype(np.complex64), np.dtype(np.complex128)]


def _kind(dtype: np.dtype) -> str:
    if dtype == bfloat16:
        return "f"
    return {"b": "b", "u": "u", "i": "i", "f": "f", "c": "c"}[dtype.kind]


def _promote_pair(a: np.dtype, b: np.dtype) -> np.dtype:
    ka, kb = _kind(a), _kind(b)
    if a == b:
        return a
    order = "buifc"
    if order.index(ka) > order.index(kb):
        a, b, ka, kb = b, a, kb, ka
    if ka == "b":
        return b
    if kb in "ui":
        if ka == kb:
            return a if a.itemsize >= b.itemsize else b
        # unsigned a with signed b: the smallest signed type holding both
        size = max(b.itemsize, 2 * a.itemsize)
        return np.dtype(f"int{8 * size}") if size <= 8 else np.dtype(np.float64)
    if kb == "f":
        if ka in "ui":
            return b
        if {a, b} == {np.dtype(np.float16), bfloat16}:
            return np.dtype(np.float32)
        return max(a, b, key=_FLOATS.index)
    # kb == 'c'
    if ka == "c":
        return max(a, b, key=_COMPLEX.index)
    if ka == "f" and a == np.dtype(np.float64):
        return np.dtype(np.complex128)
    return b


def result_type(*dtypes_or_arrays) -> np.dtype:
    """The dtype JAX's lattice gives to an operation on these (no weak types)."""
    dtypes = [
        np.asarray(x).dtype if not isinstance(x, (type, np.dtype, str)) else np.dtype(x) for x in dtypes_or_arrays
    ]
    out = dtypes[0]
    for dtype in dtypes[1:]:
        out = _promote_pair(out, dtype)
    return out


def canonicalize_dtype(*args, dtype=None, inexact: bool = True) -> np.dtype:
    """The computation dtype of a layer: ``dtype`` if given, else the promoted dtype of ``args``.

    ``None`` entries (a missing bias) are skipped; with ``inexact`` an integer
    result is promoted to float32.
    """
    if dtype is None:
        present = [x for x in args if x is not None]
        dtype = result_type(*present)
        if inexact and _kind(dtype) not in "fc":
            dtype = _promote_pair(np.dtype(np.float32), dtype)
    dtype = np.dtype(dtype)
    if inexact and _kind(dtype) not in "fc":
        raise ValueError(f"Dtype must be inexact (a float or complex type): {dtype}")
    return dtype


def promote_dtype(*args, dtype=None, inexact: bool = True) -> list:
    """``args`` cast to their common computation dtype (``None`` stays ``None``)."""
    dtype = canonicalize_dtype(*args, dtype=dtype, inexact=inexact)
    return [None if x is None else np.asarray(x, dtype=dtype) for x in args]
