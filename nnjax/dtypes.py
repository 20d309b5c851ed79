"""dtype rules of layers: compute in ``dtype`` if given, else in the promoted dtype of the inputs.

>>> import jax.numpy as jnp
>>> canonicalize_dtype(jnp.ones(2, jnp.int32), None)
dtype('float32')
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def canonicalize_dtype(*args, dtype=None, inexact: bool = True):
    """The computation dtype: ``dtype``, or JAX's promotion of ``args`` (``None`` skipped).

    With ``inexact`` an integer result is promoted to at least float32.
    """
    if dtype is None:
        dtype = jnp.result_type(*[x for x in args if x is not None])
        if inexact and not jnp.issubdtype(dtype, jnp.inexact):
            dtype = jnp.promote_types(jnp.float32, dtype)
    if inexact and not jnp.issubdtype(dtype, jnp.inexact):
        raise ValueError(f"Dtype must be inexact (a float or complex type): {dtype}")
    return jnp.dtype(dtype)


def promote_dtype(*args, dtype=None, inexact: bool = True) -> list:
    """``args`` cast to their common computation dtype (``None`` stays ``None``)."""
    dtype = canonicalize_dtype(*args, dtype=dtype, inexact=inexact)
    return [x if x is None or _already(x, dtype) else jnp.asarray(x, dtype) for x in args]


def _already(x, dtype) -> bool:
    """``x`` is a JAX array (or tracer) of exactly ``dtype``, strongly typed: ``asarray`` would return it as is."""
    return isinstance(x, jax.Array) and x.dtype == dtype and not x.weak_type
