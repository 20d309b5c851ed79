"""How a two-operand einsum becomes one ``dot_general`` call (the plan both backends follow).

A layer given a custom ``dot_general`` (e.g. ``Einsum(dot_general=...)``)
computes its einsum as: sum out the letters only one operand has (and the
output drops), call ``dot_general`` once with the shared-and-kept letters as
batch axes (in output order) and the shared-and-dropped ones contracted, then
transpose to the output order. As in ``jnp.einsum``, the operands are passed
as ``(rhs, lhs)`` when that order already yields the output layout.

>>> p = plan('...qhd,...khd->...hqk', 4, 4)
>>> p.swap, p.dimension_numbers, p.transpose
(False, (((3,), (3,)), ((0, 2), (0, 2))), None)
>>> plan('ij,jk->ki', 2, 2).swap
True
"""

from __future__ import annotations

import string
from typing import NamedTuple


class EinsumPlan(NamedTuple):
    lhs_sum_axes: tuple  # axes of lhs to sum out before the contraction
    rhs_sum_axes: tuple
    swap: bool  # call dot_general(rhs, lhs, ...) instead of (lhs, rhs, ...)
    dimension_numbers: tuple  # for the operands in call order
    transpose: tuple | None  # permutation of dot_general's result, None if already in order


def _spell(subscripts: str, lhs_ndim: int, rhs_ndim: int) -> tuple:
    subscripts = subscripts.replace(" ", "")
    if "->" not in subscripts:
        raise ValueError(f"einsum: {subscripts!r} must name its output explicitly ('...->...').")
    operands, out = subscripts.split("->")
    terms = operands.split(",")
    if len(terms) != 2:
        raise ValueError(f"einsum with a custom dot_general takes exactly two operands, got {subscripts!r}.")
    counts = [ndim - (len(t) - 3) if "..." in t else 0 for t, ndim in zip(terms, (lhs_ndim, rhs_ndim))]
    if min(counts) < 0:
        raise ValueError(f"einsum: {subscripts!r} has more subscripts than operand axes.")
    n = max(counts)
    letters = "".join([c for c in string.ascii_letters if c not in subscripts][:n])
    lhs, rhs = (t.replace("...", letters[n - c :]) for t, c in zip(terms, counts))
    for term, ndim in ((lhs, lhs_ndim), (rhs, rhs_ndim)):
        if len(term) != ndim:
            raise ValueError(f"einsum: {subscripts!r} gives subscripts {term!r} to an operand of rank {ndim}.")
        if len(set(term)) != len(term):
            raise ValueError(f"einsum with a custom dot_general: repeated subscripts in {term!r} are not supported.")
    return lhs, rhs, out.replace("...", letters)


def plan(subscripts: str, lhs_ndim: int, rhs_ndim: int) -> EinsumPlan:
    """The :class:`EinsumPlan` of ``subscripts`` for operands of the given ranks."""
    lhs, rhs, out = _spell(subscripts, lhs_ndim, rhs_ndim)
    lhs_sum = tuple(i for i, c in enumerate(lhs) if c not in rhs and c not in out)
    rhs_sum = tuple(i for i, c in enumerate(rhs) if c not in lhs and c not in out)
    lhs = "".join(c for i, c in enumerate(lhs) if i not in lhs_sum)
    rhs = "".join(c for i, c in enumerate(rhs) if i not in rhs_sum)
    batch = [c for c in out if c in lhs and c in rhs]
    contracted = [c for c in lhs if c in rhs and c not in out]
    lhs_free = "".join(c for c in lhs if c not in batch and c not in contracted)
    rhs_free = "".join(c for c in rhs if c not in batch and c not in contracted)

    def dims(a, b):
        return (
            (tuple(a.index(c) for c in contracted), tuple(b.index(c) for c in contracted)),
            (tuple(a.index(c) for c in batch), tuple(b.index(c) for c in batch)),
        )

    names = "".join(batch) + rhs_free + lhs_free
    if names == out:
        return EinsumPlan(lhs_sum, rhs_sum, True, dims(rhs, lhs), None)
    names = "".join(batch) + lhs_free + rhs_free
    perm = None if names == out else tuple(names.index(c) for c in out)
    return EinsumPlan(lhs_sum, rhs_sum, False, dims(lhs, rhs), perm)
