"""Tensor contractions (``dot_general``, ``einsum``) in NumPy, rounded as XLA rounds them.

XLA multiplies bfloat16/float16 operands and accumulates the products in
float32, rounding once at the end. NumPy would accumulate in the narrow type
(and its ``einsum`` does not know ml_dtypes' bfloat16 at all), so narrow
floats are widened to float32 for the contraction and the result is cast
back. float32 and float64 are contracted in their own type.

>>> import numpy as np
>>> a = np.arange(6, dtype=np.float32).reshape(2, 3)
>>> dot_general(a, a, (((1,), (1,)), ((), ())))
array([[ 5., 14.],
       [14., 50.]], dtype=float32)
>>> einsum('ij,ij->i', a, a)
array([ 5., 50.], dtype=float32)
"""

from __future__ import annotations

import string

import numpy as np

from nnref.dtypes import bfloat16, result_type
from shared_spec import einsum_plan

_NARROW_FLOATS = (np.dtype(np.float16), bfloat16)
_LETTERS = string.ascii_letters


def _work_dtype(*dtypes) -> np.dtype:
    """The dtype to accumulate in: the widest of ``dtypes``, float32 at least for narrow floats."""
    dtype = result_type(*dtypes)
    return np.dtype(np.float32) if dtype in _NARROW_FLOATS else dtype


def einsum(subscripts: str, a, b, preferred_element_type=None) -> np.ndarray:
    """``np.einsum`` of two operands with JAX's dtype promotion and XLA's accumulation.

    The result has the promoted dtype of ``a`` and ``b`` (JAX's lattice), or
    ``preferred_element_type`` when given.
    """
    a, b = np.asarray(a), np.asarray(b)
    out_dtype = result_type(a, b) if preferred_element_type is None else np.dtype(preferred_element_type)
    work = _work_dtype(a.dtype, b.dtype, out_dtype)
    y = np.einsum(subscripts, a.astype(work, copy=False), b.astype(work, copy=False), optimize=True)
    return np.asarray(y).astype(out_dtype, copy=False)


def dot_general(lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None) -> np.ndarray:
    """``jax.lax.dot_general`` in NumPy.

    ``dimension_numbers = ((lhs_contract, rhs_contract), (lhs_batch, rhs_batch))``.
    The result's axes are the batch axes, then lhs's free axes, then rhs's
    free axes, each in their original order. ``precision`` is accepted for
    API parity: NumPy always computes at the full precision of the dtype.
    """
    del precision
    lhs, rhs = np.asarray(lhs), np.asarray(rhs)
    (lhs_contract, rhs_contract), (lhs_batch, rhs_batch) = dimension_numbers
    lhs_contract, rhs_contract = tuple(lhs_contract), tuple(rhs_contract)
    lhs_batch, rhs_batch = tuple(lhs_batch), tuple(rhs_batch)
    if len(lhs_contract) != len(rhs_contract) or len(lhs_batch) != len(rhs_batch):
        raise TypeError(
            f"dot_general: contracting dimensions {dimension_numbers[0]} and batch dimensions "
            f"{dimension_numbers[1]} must pair one lhs axis with one rhs axis."
        )
    if lhs.ndim + rhs.ndim > len(_LETTERS):
        raise ValueError(f"dot_general supports at most {len(_LETTERS)} axes in total.")
    lhs_letters = list(_LETTERS[: lhs.ndim])
    fresh = iter(_LETTERS[lhs.ndim :])
    rhs_letters = [None] * rhs.ndim
    for l_ax, r_ax in zip(lhs_contract + lhs_batch, rhs_contract + rhs_batch):
        if lhs.shape[l_ax] != rhs.shape[r_ax]:
            raise TypeError(
                f"dot_general: lhs axis {l_ax} (size {lhs.shape[l_ax]}) and rhs axis {r_ax} "
                f"(size {rhs.shape[r_ax]}) are paired but differ in size."
            )
        rhs_letters[r_ax] = lhs_letters[l_ax]
    rhs_letters = [c if c is not None else next(fresh) for c in rhs_letters]
    lhs_free = [c for i, c in enumerate(lhs_letters) if i not in lhs_contract + lhs_batch]
    rhs_free = [c for i, c in enumerate(rhs_letters) if i not in rhs_contract + rhs_batch]
    out = [lhs_letters[i] for i in lhs_batch] + lhs_free + rhs_free
    subscripts = f"{''.join(lhs_letters)},{''.join(rhs_letters)}->{''.join(out)}"
    return einsum(subscripts, lhs, rhs, preferred_element_type)


def einsum_via_dot_general(
    subscripts: str, lhs, rhs, dot_general, precision=None, preferred_element_type=None
) -> np.ndarray:
    """A two-operand einsum computed by one call of ``dot_general`` (``shared_spec.einsum_plan``).

    >>> import numpy as np
    >>> a = np.arange(6, dtype=np.float32).reshape(2, 3)
    >>> einsum_via_dot_general('ij,kj->ik', a, a, dot_general)
    array([[ 5., 14.],
           [14., 50.]], dtype=float32)
    """
    lhs, rhs = np.asarray(lhs), np.asarray(rhs)
    p = einsum_plan.plan(subscripts, lhs.ndim, rhs.ndim)
    if p.lhs_sum_axes:
        lhs = np.sum(lhs, axis=p.lhs_sum_axes, dtype=lhs.dtype)
    if p.rhs_sum_axes:
        rhs = np.sum(rhs, axis=p.rhs_sum_axes, dtype=rhs.dtype)
    operands = (rhs, lhs) if p.swap else (lhs, rhs)
    kwargs = {} if preferred_element_type is None else {"preferred_element_type": preferred_element_type}
    y = np.asarray(dot_general(*operands, p.dimension_numbers, precision, **kwargs))
    return y if p.transpose is None else np.transpose(y, p.transpose)
