"""``In(axis)`` / ``Out(axis)``: a variable axis that applies on one side of a lifted transform only.

A lifted ``scan``/``vmap`` takes, per collection, the axis its variables are
stacked along. Wrapping the axis in :class:`In` says the collection is
lifted as an input only (read inside, not written back); :class:`Out`, as
an output only. The seed exports them as ``partitioning.ScanIn`` /
``ScanOut``; the metadata helpers of ``partitioning`` read ``.axis``
through either wrapper. Plain data, shared by both backends.

>>> In(0).axis, Out(1)
(0, Out(axis=1))
>>> axis_of(In(2)), axis_of(3)
(2, 3)

:func:`split_in_out` turns a ``variable_axes`` dict into the two sides a
transform needs: the collections lifted in (and their axes) and those
lifted out.

>>> sides = split_in_out({'params': In(0), 'stats': Out(1), 'cache': 2})
>>> sides.in_filters, sides.in_axes
(('params', 'cache'), (0, 2))
>>> sides.out_filters, sides.out_axes
(('stats', 'cache'), (1, 2))
"""

from __future__ import annotations

import dataclasses
from typing import Any, Generic, Mapping, NamedTuple, Optional, TypeVar, Union

__all__ = ['In', 'Out', 'axis_of', 'split_in_out', 'InOutSides', 'Axis', 'InOutAxis']

T = TypeVar('T')


@dataclasses.dataclass(frozen=True)
class In(Generic[T]):
    """The collection is lifted as an input only, along ``axis``."""

    axis: T


@dataclasses.dataclass(frozen=True)
class Out(Generic[T]):
    """The collection is lifted as an output only, along ``axis``."""

    axis: T


def axis_of(axis_or_marker: Any) -> Any:
    """The axis itself, whether or not it is wrapped in :class:`In` / :class:`Out`."""
    if isinstance(axis_or_marker, (In, Out)):
        return axis_or_marker.axis
    return axis_or_marker


Axis = Optional[int]
InOutAxis = Union[Axis, In[Axis], Out[Axis]]


class InOutSides(NamedTuple):
    """The two sides of a ``variable_axes`` dict (filters and axes in the dict's order)."""

    in_filters: tuple
    in_axes: tuple
    out_filters: tuple
    out_axes: tuple


def split_in_out(variable_axes: Mapping) -> InOutSides:
    """Which collections a lifted transform takes in, and which it hands back, with their axes.

    A plain axis puts its collection on both sides; ``In(axis)`` on the input
    side only (the body reads it, but nothing it writes there comes out, and
    the collection is immutable inside); ``Out(axis)`` on the output side only
    (the body starts without it and what it writes there is stacked and
    returned).
    """
    ins = [(key, axis_of(value)) for key, value in variable_axes.items() if not isinstance(value, Out)]
    outs = [(key, axis_of(value)) for key, value in variable_axes.items() if not isinstance(value, In)]
    return InOutSides(
        tuple(k for k, _ in ins), tuple(a for _, a in ins), tuple(k for k, _ in outs), tuple(a for _, a in outs)
    )
