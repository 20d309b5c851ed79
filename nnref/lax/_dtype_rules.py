"""The dtype rules of ``jax.lax``, as the ops of :mod:`nnref.lax` check them.

``jax.lax`` does not promote: a binary op needs operands of one dtype, and
each op accepts only some kinds of dtype (``exp`` takes floats and complex,
``bitwise_and`` bools and integers...). nnref mirrors that strictness, so a
model that JAX would reject fails here too, with a message that names the op
and the dtypes. Two details decide what "one dtype" means:

* **Python scalars are weak.** ``lax.add(x, 1.0)`` is fine for a float32
  ``x``: the scalar takes JAX's default dtype for its kind (bool, int32,
  float32, complex64) and then has to match. So ``lax.add(x, 1)`` on a float
  ``x`` is an error, as it is in JAX.
* **64-bit dtypes count as their 32-bit partners.** With ``jax_enable_x64``
  off (JAX's default), JAX turns float64 inputs into float32 before the op,
  so float32 and float64 operands agree there. nnref keeps the 64 bits (a
  float64 reference run must stay float64): operands that agree once 64-bit
  types are read as 32-bit ones are accepted and computed in the widest.

bfloat16, float16 and other sub-32-bit floats are computed in float32 and
rounded once, as XLA does on CPU.

>>> import numpy as np
>>> arrays, dtype = same_dtype('add', np.ones(2, np.float32), 1.0)
>>> dtype
dtype('float32')
>>> same_dtype('add', np.ones(2, np.float32), np.ones(2))[1]
dtype('float64')
>>> same_dtype('add', np.ones(2, np.float32), 1)
Traceback (most recent call last):
...
TypeError: nnref.lax.add requires arguments of the same dtype, as jax.lax.add does; got float32, int32 (Python scalars count as int32/float32). Convert one with lax.convert_element_type, or use nnref.numpy's promoting functions.
"""

from __future__ import annotations

import builtins

import ml_dtypes
import numpy as np

from nnref.tree_util import tree_flatten

#: The dtype a weakly typed Python scalar takes (JAX's defaults, x64 off).
_PYTHON_DEFAULTS = {
    builtins.bool: np.dtype(np.bool_),
    int: np.dtype(np.int32),
    float: np.dtype(np.float32),
    builtins.complex: np.dtype(np.complex64),
}
#: 64-bit dtypes and the 32-bit dtype JAX (x64 off) reads them as.
_NARROW = {
    np.dtype(np.float64): np.dtype(np.float32),
    np.dtype(np.int64): np.dtype(np.int32),
    np.dtype(np.uint64): np.dtype(np.uint32),
    np.dtype(np.complex128): np.dtype(np.complex64),
}
_WIDE = {narrow: wide for wide, narrow in _NARROW.items()}
FLOAT32 = np.dtype(np.float32)

# Kinds of dtype, as the ops name them in their accepted sets.
BOOL, SIGNED, UNSIGNED, FLOAT, COMPLEX = 'bool', 'signed integer', 'unsigned integer', 'float', 'complex'
INTEGER = (SIGNED, UNSIGNED)
NUMBER = (SIGNED, UNSIGNED, FLOAT, COMPLEX)
INEXACT = (FLOAT, COMPLEX)
ANY = (BOOL,) + NUMBER


def is_weak(x) -> bool:
    """A plain Python bool/int/float/complex (NumPy scalars subclass some of these)."""
    return type(x) in _PYTHON_DEFAULTS


def canonical(dtype) -> np.dtype:
    """The dtype JAX with x64 off computes in for an input of ``dtype``."""
    dtype = np.dtype(dtype)
    return _NARROW.get(dtype, dtype)


def kind(dtype) -> str:
    """One of BOOL, SIGNED, UNSIGNED, FLOAT, COMPLEX (ml_dtypes floats included)."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return BOOL
    simple = {'i': SIGNED, 'u': UNSIGNED, 'f': FLOAT, 'c': COMPLEX}.get(dtype.kind)
    if simple is not None:
        return simple
    try:  # ml_dtypes' extension types have kind 'V'
        ml_dtypes.finfo(dtype)
        return FLOAT
    except ValueError:
        return SIGNED if ml_dtypes.iinfo(dtype).min < 0 else UNSIGNED


def is_narrow_float(dtype) -> bool:
    """bfloat16, float16, the float8s: types XLA computes in float32."""
    dtype = np.dtype(dtype)
    return kind(dtype) == FLOAT and dtype.itemsize < 4


def requested_dtype(dtype, like=None) -> np.dtype:
    """A ``dtype``/``new_dtype`` argument read as JAX reads it.

    Python's ``float``/``int``/``complex`` mean JAX's defaults (float32,
    int32, complex64), or their 64-bit forms when ``like`` (the operand) is
    64-bit, so a float64 reference run is not narrowed by them.
    """
    if dtype in _PYTHON_DEFAULTS:
        out = _PYTHON_DEFAULTS[dtype]
        if like is not None and np.dtype(like) in _NARROW:
            out = _WIDE.get(out, out)
        return out
    return np.dtype(dtype)


def operand(x) -> np.ndarray:
    """``x`` as an array; Python scalars take their weak default dtype.

    Python lists and tuples are refused, as lax refuses them (NumPy would
    quietly make a 64-bit array of them).
    """
    if is_weak(x):
        return np.asarray(x, dtype=_PYTHON_DEFAULTS[type(x)])
    if isinstance(x, (list, tuple)):
        raise TypeError(
            f'nnref.lax ops take arrays and scalars, not a Python {type(x).__name__} (nor does '
            'jax.lax); make an array of it with nnref.numpy.asarray first.'
        )
    return np.asarray(x)


def check_kind(op: str, dtype, accepted) -> None:
    """TypeError unless ``dtype`` is of one of the ``accepted`` kinds."""
    if kind(dtype) in accepted:
        return
    raise TypeError(
        f'nnref.lax.{op} does not accept dtype {np.dtype(dtype)}, as jax.lax.{op} does not; '
        f'it accepts {", ".join(accepted)} dtypes.'
    )


def same_dtype(op: str, *xs, accepted=ANY) -> tuple[list, np.dtype]:
    """``(arrays, dtype)``: the operands of a lax op that needs equal dtypes.

    Raises TypeError when they disagree (after reading Python scalars and
    64-bit types as JAX does) or are of a kind ``op`` does not take. The
    arrays come back in the common dtype: the widest typed operand's, or the
    scalars' default when every operand is a Python scalar.
    """
    arrays = [operand(x) for x in xs]
    if len({canonical(a.dtype) for a in arrays}) > 1:
        scalars = any(is_weak(x) for x in xs)
        note = ' (Python scalars count as int32/float32)' if scalars else ''
        raise TypeError(
            f'nnref.lax.{op} requires arguments of the same dtype, as jax.lax.{op} does; got '
            f'{", ".join(str(a.dtype) for a in arrays)}{note}. Convert one with lax.convert_element_type, '
            "or use nnref.numpy's promoting functions."
        )
    typed = [a.dtype for x, a in zip(xs, arrays) if not is_weak(x)]
    dtype = max(typed, key=lambda d: d.itemsize) if typed else arrays[0].dtype
    check_kind(op, dtype, accepted)
    # A Python number converts straight to the result dtype: 0.1 in a float64 op is float64(0.1).
    return [
        np.asarray(x, dtype=dtype) if is_weak(x) else a.astype(dtype, copy=False) for x, a in zip(xs, arrays)
    ], dtype


def compute_dtype(dtype) -> np.dtype:
    """The dtype to compute ``dtype`` values in: float32 for narrow floats."""
    return FLOAT32 if is_narrow_float(dtype) else np.dtype(dtype)


def leaf_type(x) -> tuple:
    """``(shape, dtype read as JAX reads it)``; a Python scalar's dtype is None (weak)."""
    if is_weak(x):
        return (), None
    a = np.asarray(x)
    return a.shape, canonical(a.dtype)


def _describe(leaf_t) -> str:
    shape, dtype = leaf_t
    return f'{"weak scalar" if dtype is None else dtype.name}[{",".join(map(str, shape))}]'


def check_same_types(what: str, before, after, before_name: str, after_name: str) -> None:
    """TypeError unless two pytrees have one structure, shapes and dtypes (JAX's loop/branch rule).

    dtypes are compared as JAX (x64 off) reads them, so a float32 carry that
    becomes float64 in a float64 run is accepted; Python scalars match any
    dtype, as JAX promotes weakly typed carries.
    """
    leaves_a, tree_a = tree_flatten(before)
    leaves_b, tree_b = tree_flatten(after)
    if tree_a != tree_b:
        raise TypeError(
            f'{what}: {before_name} and {after_name} must have the same tree structure, as in jax.lax; '
            f'got {tree_a} and {tree_b}.'
        )
    for i, (a, b) in enumerate(zip(leaves_a, leaves_b)):
        ta, tb = leaf_type(a), leaf_type(b)
        dtypes_agree = ta[1] is None or tb[1] is None or ta[1] == tb[1]
        if ta[0] != tb[0] or not dtypes_agree:
            raise TypeError(
                f'{what}: {before_name} and {after_name} must have equal types, as in jax.lax; leaf {i} '
                f'is {_describe(ta)} in the {before_name} but {_describe(tb)} in the {after_name}.'
            )
