"""Recorded logical axis names (the T5X-style ``nn.partitioning`` API): the bookkeeping both backends share.

Before boxed metadata, large-model code kept each variable's logical axis
names in a *sibling collection*: the names of ``params/Dense_0/kernel``
live in ``params_axes/Dense_0/kernel_axes``. This module holds the rules
about those records that ``nnjax.partitioning`` and ``nnref.partitioning``
must apply identically:

* naming: collection ``'<col>_axes'``, key ``'<name>_axes'``, and the
  suffix dropped again when the records are read back as a tree of specs;
* a record sown twice must agree with the first one;
* ``scan_with_axes`` / ``vmap_with_axes`` insert the new axis's name into
  every record at the stacked position on the way out, and check and
  remove it on the way in;
* the argument plans of those two wrappers (which ``*_axes`` collections
  are broadcast, which get a name inserted, at which position).

>>> axes_collection('params'), axes_key('kernel'), strip_axes_suffix('kernel_axes')
('params_axes', 'kernel_axes', 'kernel')
>>> insert_axis_name(('embed', 'mlp'), 0, 'layers')
('layers', 'embed', 'mlp')
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple

from shared_spec.collection_filters import union_filters
from shared_spec.in_out_axes import axis_of

__all__ = [
    'SUFFIX',
    'axes_collection',
    'axes_key',
    'strip_axes_suffix',
    'as_names',
    'check_resown',
    'insert_axis_name',
    'remove_axis_name',
    'nest_records',
    'AxisInsertion',
    'scan_plan',
    'vmap_plan',
    'no_module_error',
    'PARTITIONING_API',
]

#: The public names of a backend's ``partitioning`` module (the seed's ``linen.partitioning``).
PARTITIONING_API = (
    'AxisMetadata',
    'PartitionedVariable',
    'RulesFallback',
    'ScanIn',
    'ScanOut',
    'axis_rules',
    'get_axis_rules',
    'set_axis_rules',
    'get_axis_names',
    'logical_to_mesh',
    'logical_to_mesh_axes',
    'with_sharding_constraint',
    'param_with_axes',
    'variable_with_axes',
    'scan_with_axes',
    'vmap_with_axes',
    'remat',
)

SUFFIX = '_axes'


def axes_collection(collection: str) -> str:
    """The collection that holds the records of ``collection``'s variables.

    >>> axes_collection('cache')
    'cache_axes'
    """
    return collection + SUFFIX


def axes_key(name: str) -> str:
    """The key of variable ``name``'s record inside its ``*_axes`` collection.

    >>> axes_key('embedding')
    'embedding_axes'
    """
    return name + SUFFIX


def strip_axes_suffix(key: str) -> str:
    """A record's key back to its variable's name (a key without the suffix is kept).

    >>> strip_axes_suffix('wi_axes'), strip_axes_suffix('wi')
    ('wi', 'wi')
    """
    return key[: -len(SUFFIX)] if key.endswith(SUFFIX) else key


def as_names(axes):
    """``axes=`` as given by the user, with a list turned into a tuple (records must be hashable).

    >>> as_names(['embed', 'mlp']), as_names(None)
    (('embed', 'mlp'), None)
    """
    return tuple(axes) if isinstance(axes, list) else axes


def check_resown(old, new, record_type: type):
    """The ``sow`` reduction of records: the new one is kept; a different earlier one is an error.

    >>> check_resown(None, ('a',), tuple)
    ('a',)
    >>> check_resown(('a',), ('b',), tuple)
    Traceback (most recent call last):
    ...
    ValueError: If axis names are sown twice, expected them to match. Got ('a',) and ('b',). Fix: declare the variable with the same axes= every time.
    """
    if not isinstance(new, record_type):
        raise TypeError(f'Expected newly sown value to be an AxisMetadata, got {type(new).__name__}.')
    if isinstance(old, record_type) and old != new:
        raise ValueError(
            f'If axis names are sown twice, expected them to match. Got {old} and {new}. '
            'Fix: declare the variable with the same axes= every time.'
        )
    return new


def insert_axis_name(names, pos: int, axis_name: str):
    """``names`` with ``axis_name`` inserted at ``pos`` (``None`` -- no names -- stays ``None``).

    >>> insert_axis_name(('embed', 'kv'), 1, 'heads'), insert_axis_name(None, 0, 'layers')
    (('embed', 'heads', 'kv'), None)
    """
    if names is None:
        return None
    names = list(names)
    names.insert(pos, axis_name)
    return tuple(names)


def remove_axis_name(names, pos: int, axis_name: str, axis_col: str):
    """The inverse of :func:`insert_axis_name`, checking that ``axis_name`` is where it was put.

    >>> remove_axis_name(('layers', 'embed'), 0, 'layers', 'params_axes')
    ('embed',)
    >>> remove_axis_name(('embed', 'layers'), 0, 'layers', 'params_axes')
    Traceback (most recent call last):
    ...
    ValueError: Expected axis layers at position 0 in axis metadata ['embed', 'layers']. Fix: pass the params_axes collection that this transform produced.
    """
    if names is None:
        return None
    names = list(names)
    if names[pos] != axis_name:
        raise ValueError(
            f'Expected axis {axis_name} at position {pos} in axis metadata {names}. '
            f'Fix: pass the {axis_col} collection that this transform produced.'
        )
    del names[pos]
    return tuple(names)


def nest_records(records: Mapping, leaf: Callable) -> dict:
    """A ``*_axes`` collection as plain nested dicts shaped like its variables.

    Each record's key loses its suffix and the record becomes ``leaf(record)``.

    >>> nest_records({'Dense_0': {'kernel_axes': ('embed', 'mlp')}}, list)
    {'Dense_0': {'kernel': ['embed', 'mlp']}}
    """
    result = {}
    for key, value in records.items():
        if isinstance(value, Mapping):
            result[key] = nest_records(value, leaf)
        else:
            result[strip_axes_suffix(key)] = leaf(value)
    return result


class AxisInsertion(NamedTuple):
    """One ``*_axes`` collection whose records gain ``axis_name`` at position ``pos``."""

    axes_col: str
    pos: Any
    axis_name: str


def scan_plan(variable_axes: Mapping, variable_broadcast, axes_collections, axis_name: str):
    """``scan_with_axes``' arguments as ``(variable_broadcast, insertions)``.

    The ``*_axes`` collections are broadcast (one record serves every step);
    each of ``axes_collections`` stacked by ``variable_axes`` gets
    ``axis_name`` at its stacked position (``nn.broadcast``-free ``In``/``Out``
    markers give their axis).

    >>> scan_plan({'params': 0}, False, ('params',), 'layers')
    (('params_axes',), [AxisInsertion(axes_col='params_axes', pos=0, axis_name='layers')])
    """
    broadcast = union_filters(variable_broadcast, tuple(axes_collection(c) for c in axes_collections))
    insertions = [
        AxisInsertion(axes_collection(c), axis_of(variable_axes[c]), axis_name)
        for c in axes_collections
        if c in variable_axes
    ]
    return broadcast, insertions


def vmap_plan(variable_axes: Mapping, partitioning_axis_names: Mapping):
    """``vmap_with_axes``' arguments as ``(variable_axes, insertions)``.

    Every collection named in ``partitioning_axis_names`` has its ``*_axes``
    collection broadcast (axis ``None``) and gains that name at its own
    ``variable_axes`` position.

    >>> axes, ins = vmap_plan({'params': 1}, {'params': 'heads'})
    >>> axes, ins
    ({'params': 1, 'params_axes': None}, [AxisInsertion(axes_col='params_axes', pos=1, axis_name='heads')])
    """
    variable_axes = dict(variable_axes)
    for col in partitioning_axis_names:
        variable_axes[axes_collection(col)] = None
    insertions = [
        AxisInsertion(axes_collection(col), axis_of(axis), partitioning_axis_names[col])
        for col, axis in variable_axes.items()
        if col in partitioning_axis_names
    ]
    return variable_axes, insertions


def no_module_error(what: str) -> ValueError:
    """The error of a partitioning helper called with no module bound and none given.

    >>> no_module_error('param_with_axes')
    ValueError('param_with_axes needs a Module: call it inside a compact method or setup(), or pass module=.')
    """
    return ValueError(f'{what} needs a Module: call it inside a compact method or setup(), or pass module=.')
