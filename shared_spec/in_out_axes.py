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
"""

from __future__ import annotations

import dataclasses
from typing import Any, Generic, Optional, TypeVar, Union

__all__ = ['In', 'Out', 'axis_of', 'Axis', 'InOutAxis']

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
