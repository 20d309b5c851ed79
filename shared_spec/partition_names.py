"""The per-dimension mesh-axis names of a ``Partitioned`` box, and how lifted transforms edit them.

``nn.Partitioned(value, names)`` records, for dimension ``i`` of ``value``,
the mesh axis (or axes, or ``None``) it is sharded over. When a lifted
``vmap``/``scan`` stacks such a variable it calls ``add_axis(index,
metadata_params)``, and ``remove_axis`` when it unstacks; the new dimension's
name is ``metadata_params[PARTITION_NAME]``. Both backends' ``meta`` and
``spmd`` boxes apply the rules here, so the names after any transform are
the same in ``nnjax`` and ``nnref``:

* :func:`check_names` -- ``names`` is a sequence (a bare string is an error);
* :func:`axis_name` -- ``metadata_params`` must name the new axis;
* :func:`names_with_axis` -- insert at ``index``, padding short names with ``None``;
* :func:`names_without_axis` -- delete at ``index``, which must hold that name.

>>> names_with_axis(('data', None), 0, 'layers')
('layers', 'data', None)
>>> names_without_axis(('layers', 'data', None), 0, 'layers')
('data', None)
"""

from __future__ import annotations

from typing import Any

from shared_spec import errors

__all__ = ['PARTITION_NAME', 'check_names', 'axis_name', 'names_with_axis', 'names_without_axis']

#: The key of ``metadata_params`` (the dict a lifted ``vmap``/``scan`` passes to
#: ``AxisMetadata.add_axis``) that names the mesh axis of the new axis.
PARTITION_NAME = 'partition_name'


def check_names(names: Any, what: str) -> tuple:
    """``names`` as a tuple, one entry per dimension; a string or a non-sequence is a ``TypeError``.

    >>> check_names([None, 'model'], 'Partitioned')
    (None, 'model')
    >>> check_names('model', 'Partitioned')
    Traceback (most recent call last):
    ...
    TypeError: Partitioned: names must be a sequence with one axis name (or None) per dimension, got the string 'model'. Fix: write ('model',) for a 1-d value.
    """
    if isinstance(names, str):
        raise TypeError(
            f'{what}: names must be a sequence with one axis name (or None) '
            f'per dimension, got the string {names!r}. Fix: write ({names!r},) '
            'for a 1-d value.'
        )
    try:
        return tuple(names)
    except TypeError:
        raise TypeError(
            f'{what}: names must be a sequence with one axis name (or None) '
            f'per dimension, e.g. (None, "model"); got {names!r}.'
        ) from None


def axis_name(params: dict, box: Any) -> Any:
    """``params[PARTITION_NAME]`` (``None`` is allowed: the new axis is not sharded).

    A missing key is ``PartitioningUnspecifiedError`` about ``box``.

    >>> axis_name({PARTITION_NAME: 'layers'}, None)
    'layers'
    >>> axis_name({}, 'box')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shared_spec.errors.PartitioningUnspecifiedError: Trying to transform a Partitioned variable but ...
    """
    if PARTITION_NAME not in params:
        raise errors.PartitioningUnspecifiedError(box)
    return params[PARTITION_NAME]


def names_with_axis(names: tuple, index: int, name: Any) -> tuple:
    """``names`` with ``name`` inserted at ``index``; names shorter than ``index`` are padded with ``None`` first.

    >>> names_with_axis(('a', 'b'), 1, None), names_with_axis(('a', 'b'), 3, 'c')
    (('a', None, 'b'), ('a', 'b', None, 'c'))
    """
    names = list(names)
    while len(names) < index:
        names.append(None)
    names.insert(index, name)
    return tuple(names)


def names_without_axis(names: tuple, index: int, name: Any) -> tuple:
    """``names`` without entry ``index``, which must be ``name`` (the axis the transform added).

    >>> names_without_axis(('a', 'b'), 0, 'b')
    Traceback (most recent call last):
    ...
    ValueError: remove_axis(0): axis 0 of names=('a', 'b') is 'a', but the transform removes the axis it added as 'b'. Fix: pass the same metadata_params (partition_name) and axis to the transform that adds and removes this axis.
    """
    present = -len(names) <= index < len(names)
    if not present or names[index] != name:
        found = repr(names[index]) if present else '<no such axis>'
        raise ValueError(
            f'remove_axis({index}): axis {index} of names={names} is '
            f'{found}, but the transform removes the axis it added as '
            f'{name!r}. Fix: pass the same metadata_params '
            f'({PARTITION_NAME}) and axis to the transform that adds and '
            'removes this axis.'
        )
    names = list(names)
    del names[index]
    return tuple(names)
