"""Logical axis names -> mesh axes: the rule arithmetic both backends must share.

Model code names each array dimension by meaning (``'batch'``, ``'embed'``);
*rules* -- ``(logical_name, mesh_axes)`` pairs in order of precedence --
say which mesh axes shard it. ``nnjax.spmd`` turns the result into a
``jax.sharding.PartitionSpec`` and a sharding constraint; ``nnref.spmd``
computes the same spec and constrains nothing. Deciding it here once keeps
the two from drifting apart (which dimension a rule wins, what a repeated
name or an unmatched one does).

A rule places its logical dimension if that dimension is present, no
earlier rule placed it, and none of the rule's mesh axes is used by another
dimension yet. What happens to a dimension that no rule placed is the
caller's :class:`RulesFallback`.

>>> rules = (('batch', 'X'), ('features', 'X'), ('heads', 'Y'), ('batch', 'Z'))
>>> place(('batch', 'length', 'heads', 'features'), rules)
['X', UNASSIGNED, 'Y', UNASSIGNED]
>>> mesh_axes(('batch', 'length', 'heads', 'features'), rules)
['X', None, 'Y', None]
"""

from __future__ import annotations

import enum

__all__ = [
    'UNASSIGNED',
    'RulesFallback',
    'place',
    'mesh_axes',
    'apply_fallback',
    'check_rules',
    'unmatched_error',
    'is_logical_names',
    'freeze_rules',
    'SPMD_API',
]

#: The public names both backends' ``spmd`` modules share (nnjax adds device-only ones).
SPMD_API = (
    'LogicallyPartitioned',
    'with_logical_partitioning',
    'logical_axis_rules',
    'set_logical_axis_rules',
    'get_logical_axis_rules',
    'logical_to_mesh_axes',
    'logical_to_mesh',
    'with_logical_constraint',
    'RulesFallback',
)


class _Unassigned:
    """Marks a logical dimension that no rule has placed (falsy, like ``None``)."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self):
        return 'UNASSIGNED'

    def __bool__(self):
        return False


UNASSIGNED = _Unassigned()


class RulesFallback(enum.Enum):
    """What a logical sharding constraint does with a dimension no rule places.

    >>> RulesFallback('no_constraint')
    <RulesFallback.NO_CONSTRAINT: 'no_constraint'>
    """

    AXIS_IS_UNSHARDED = 'axis_is_unsharded'  # that dimension is replicated
    RAISE_ERROR = 'raise_error'  # ValueError naming the axis names
    NO_CONSTRAINT = 'no_constraint'  # the array gets no constraint at all


def _axes_used(assignment) -> frozenset:
    """Mesh axis names in one dimension's assignment (a name, nested tuples of them, ...).

    ``None``, the unconstrained marker and ``UNASSIGNED`` use no mesh axis.
    """
    if isinstance(assignment, str):
        return frozenset([assignment])
    if isinstance(assignment, (tuple, list)):
        return frozenset().union(*[_axes_used(a) for a in assignment])
    return frozenset()


def check_rules(rules) -> None:
    """Rules must be a tuple or list of pairs (the seed raises ``ValueError`` otherwise).

    >>> check_rules({'batch': 'data'})
    Traceback (most recent call last):
    ...
    ValueError: Unknown axis rule specification type dict: rules must be a tuple or list of (logical_name, mesh_axes) pairs.
    """
    if not isinstance(rules, (tuple, list)):
        raise ValueError(
            f'Unknown axis rule specification type {type(rules).__name__}: '
            'rules must be a tuple or list of (logical_name, mesh_axes) pairs.'
        )


def place(array_dim_names, rules) -> list | None:
    """Per dimension: the mesh axes a rule gave it, the entry itself if it is
    not a logical name (``None``, unconstrained), or ``UNASSIGNED``.

    ``None`` names give ``None``. A logical name used for two dimensions is a
    ``ValueError``; a bare string (not a sequence of names) a ``TypeError``.

    >>> place(('embed', None, 'mlp'), (('mlp', 'model'), ('embed', 'model')))
    [UNASSIGNED, None, 'model']
    >>> place(('embed', 'embed'), ())
    Traceback (most recent call last):
    ...
    ValueError: Unsupported: Dimensions ('embed',) occur more than once in array names ('embed', 'embed'); a logical name can shard only one dimension. Fix: give each dimension its own logical name.
    """
    if array_dim_names is None:
        return None
    if isinstance(array_dim_names, str) or not hasattr(array_dim_names, '__iter__'):
        raise TypeError(
            'logical_to_mesh_axes: array_dim_names must be a sequence with one '
            f'logical name (or None) per dimension, got {array_dim_names!r}. '
            f'Fix: write ({array_dim_names!r},) for one dimension, or wrap '
            'logical specs in PartitionSpec when mapping a tree.'
        )
    names = tuple(array_dim_names)
    repeated = []
    for i, name in enumerate(names):
        if isinstance(name, str) and name in names[:i] and name not in repeated:
            repeated.append(name)
    if repeated:
        raise ValueError(
            f'Unsupported: Dimensions {tuple(repeated)} occur more than once in array '
            f'names {names}; a logical name can shard only one '
            'dimension. Fix: give each dimension its own logical name.'
        )
    check_rules(rules)
    placed = [UNASSIGNED if isinstance(name, str) else name for name in names]
    for logical, mesh in rules:
        if logical not in names:
            continue
        dim = names.index(logical)
        if placed[dim] is not UNASSIGNED:
            continue  # an earlier rule (or a non-logical entry) decided this dimension
        in_use = frozenset().union(*[_axes_used(p) for p in placed])
        if _axes_used(mesh).isdisjoint(in_use):
            placed[dim] = mesh
    return placed


def mesh_axes(array_dim_names, rules) -> list | None:
    """:func:`place` with unplaced dimensions unsharded (``None``): the entries of the mesh spec.

    >>> mesh_axes(('batch', 'embed'), (('batch', ('data', 'fsdp')),))
    [('data', 'fsdp'), None]
    """
    placed = place(array_dim_names, rules)
    if placed is None:
        return None
    return [None if p is UNASSIGNED else p for p in placed]


def unmatched_error(array_dim_names, rules) -> ValueError:
    """The error ``RulesFallback.RAISE_ERROR`` raises (the seed's wording first).

    >>> unmatched_error(('batch', 'mlp'), (('batch', 'data'),))
    ValueError("Axis names ('batch', 'mlp') did not match a rule: no rule placed ['mlp'] (rules: (('batch', 'data'),)). Fix: add a rule for each logical name, or use RulesFallback.AXIS_IS_UNSHARDED / NO_CONSTRAINT.")
    """
    placed = place(array_dim_names, rules)
    missing = [n for n, p in zip(tuple(array_dim_names), placed) if p is UNASSIGNED]
    return ValueError(
        f'Axis names {tuple(array_dim_names)} did not match a rule: no rule placed '
        f'{missing} (rules: {tuple(rules)}). Fix: add a rule for each logical name, '
        'or use RulesFallback.AXIS_IS_UNSHARDED / NO_CONSTRAINT.'
    )


def apply_fallback(array_dim_names, rules, fallback) -> list | None | _Unassigned:
    """The mesh entries a constraint should use, or ``UNASSIGNED`` for "no constraint".

    ``None`` names give ``None`` (constrain nothing either way). With
    ``AXIS_IS_UNSHARDED`` unplaced dimensions are ``None``; with
    ``RAISE_ERROR`` they raise ``ValueError``; with ``NO_CONSTRAINT`` the
    whole array is left alone (``UNASSIGNED`` is returned).

    >>> rules = (('batch', 'data'),)
    >>> apply_fallback(('batch', 'mlp'), rules, RulesFallback.AXIS_IS_UNSHARDED)
    ['data', None]
    >>> apply_fallback(('batch', 'mlp'), rules, RulesFallback.NO_CONSTRAINT)
    UNASSIGNED
    >>> apply_fallback(('batch',), rules, RulesFallback.NO_CONSTRAINT)
    ['data']
    """
    placed = place(array_dim_names, rules)
    if placed is None:
        return None
    fallback = RulesFallback(fallback)
    if fallback is not RulesFallback.AXIS_IS_UNSHARDED and any(p is UNASSIGNED for p in placed):
        if fallback is RulesFallback.RAISE_ERROR:
            raise unmatched_error(array_dim_names, rules)
        return UNASSIGNED
    return [None if p is UNASSIGNED else p for p in placed]


def is_logical_names(x, unconstrained) -> bool:
    """Whether ``x`` is one array's logical names: ``None``, or a tuple of names, ``None`` and ``unconstrained``.

    Tree maps over specs stop at such tuples instead of descending into them.

    >>> marker = object()
    >>> is_logical_names(('embed', None, marker), marker), is_logical_names(('embed', 3), marker)
    (True, False)
    """
    return x is None or (isinstance(x, tuple) and all(e is None or isinstance(e, str) or e is unconstrained for e in x))


def freeze_rules(rules):
    """Rules as a tuple of tuples (hashable, so a box can keep them as static data); ``None`` and tuples stay.

    >>> freeze_rules([['batch', 'data']]), freeze_rules(None)
    ((('batch', 'data'),), None)
    """
    if rules is not None and not isinstance(rules, tuple):
        return tuple(tuple(r) for r in rules)
    return rules
